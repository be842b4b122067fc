/* follow_fixture.h -- generated piece bundles and tiny models for the
 * follower tests: pages with single-staff systems and one note head per
 * onset event, a performance that plays every head once in order, and
 * renderings (mono FLAC at 22050 Hz: silence, then one decaying harmonic tone
 * per event) with their exact ground truth. */
#ifndef FOLLOW_FIXTURE_H
#define FOLLOW_FIXTURE_H

#include <stddef.h>

#include "lec_model.h"
#include "lec_nn.h"

#define FIX_SR 22050
#define FIX_HEADS_PER_SYSTEM 8
#define FIX_N_SYSTEMS 3 /* two on page 1, one on page 2 */
#define FIX_N_EVENTS (FIX_HEADS_PER_SYSTEM * FIX_N_SYSTEMS)
#define FIX_LEAD_S 1.0 /* silence before the first note */
#define FIX_IOI_S 0.5  /* inter-onset interval at tempo factor 1 */

typedef struct fix_opts {
    int n_renderings; /* 0..2 */
    double tempo[2];  /* tempo factor of each rendering */
} fix_opts;

/* Writes the bundle into dir (created). Returns 0, or -1 (message on stderr). */
int fix_write_bundle(const char *dir, const fix_opts *o);

/* An audio file (a rendering of the bundle) read whole, mono at the engine's
 * default rate (FIX_SR); *n samples. NULL (message on stderr) on failure. */
float *fix_read_audio(const char *path, size_t *n);

/* Time of event e in a rendering with tempo factor tf. */
double fix_event_time(int e, double tf);
/* MIDI pitch of event e. */
int fix_event_pitch(int e);

/* A tiny architecture that reads the unrolled strip of the fixture with the
 * default front-end: score 40 x 64 px (10 staff spaces at 4 px), spectrogram
 * fix_default_bands() x 8 frames, 16 buckets (+1 with outside). */
/* Bands of the engine/spec default front-end. */
int fix_default_bands(void);
void fix_tiny_arch(lec_nn_arch *a, int outside);
void fix_tiny_info(lec_model_info *info, const lec_nn_arch *a);
/* Saves a randomly initialised tiny model; extra metadata may be NULL. 0 ok. */
int fix_write_model(const char *path, int outside, uint64_t seed);

#endif
