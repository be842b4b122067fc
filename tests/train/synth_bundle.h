/* synth_bundle.h -- tiny generated piece bundles for the training tests.
 *
 * One page (800 x 300 px, white) with two systems of one five-line staff
 * (staff space 8 px); 10 notes per system drawn as black 10 x 8 px boxes at
 * the staff position of their pitch (white keys E4..F5), evenly spaced;
 * one onset event per note, 0.5 s apart (first at 0.5 s), and an audio
 * rendering that plays each note as a decaying sine at its pitch
 * (22050 Hz, 16-bit FLAC via libsndfile). Pitches come from the seed, so
 * every bundle is a different "piece". */
#ifndef SYNTH_BUNDLE_H
#define SYNTH_BUNDLE_H

#include <stdint.h>

#define SYNTH_NOTES_PER_SYSTEM 10
#define SYNTH_SYSTEMS 2
#define SYNTH_IOI_S 0.5

/* Writes the bundle into dir (created). split: "train", "valid" or NULL (no
 * "split" key); soundfonts: n_renderings names (e.g. "Synth.sf2"), each
 * giving one rendering "r<k>" (same audio, slightly different gain).
 * Returns 0 on success. */
int synth_bundle_write(const char *dir, uint64_t seed, const char *split,
                       const char *const *soundfonts, int n_renderings);

#endif
