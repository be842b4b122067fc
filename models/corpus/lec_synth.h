/* lec_synth.h -- render a MIDI file to mono FLAC (22050 Hz) with fluidsynth.
 *
 * Runs `fluidsynth -n -i -q -r RATE -g GAIN -o synth.polyphony=512 -R 1 -C 1
 * -O float -T wav -F tmp.wav SOUNDFONT MIDI`
 * as a subprocess (posix_spawn, no shell; stderr captured for the log; killed
 * after cfg.timeout_s), downmixes to mono with libsndfile, trims the silence
 * after the last note-off + cfg.release_s, fades out the last 10 ms, scales
 * down if the peak exceeds full scale, and writes 16-bit FLAC (optionally
 * with fewer significant bits, cfg.bits) through a temporary file + rename.
 *
 * Alignment with the ground truth: fluidsynth's player starts the MIDI at
 * sample 0 of the output (no lead-in), so audio time = MIDI seconds. The
 * audible onset of a note comes a few ms after its MIDI time: fluidsynth
 * starts voices on its 64-sample render blocks (<= 2.9 ms at 22050 Hz) and
 * the piano samples have their own attack. test_synth detects note onsets in
 * the audio: +5..+12 ms after the ground truth with TimGM6mb (mean 7.7 ms at
 * 10% of the attack; first non-zero samples ~3 ms after), never before it,
 * identical at tempo 0.5 (no drift).
 *
 * Evaluation soundfonts: MuseScore General (file names containing
 * "musescore-general" / "MuseScore_General", also through symlinks) are
 * reserved for unseen-sound evaluation and refused unless
 * cfg.allow_eval_soundfont is set.
 *
 * Thread safety: a lec_synth belongs to one thread; several lec_synth objects
 * may render in parallel (each render is its own fluidsynth process). Not for
 * the audio callback.
 */
#ifndef LEC_SYNTH_H
#define LEC_SYNTH_H

#include <stddef.h>

#include "lec_error.h"

typedef struct lec_synth_config {
    const char *fluidsynth;   /* executable; default "fluidsynth" (searched in PATH) */
    int sample_rate_hz;       /* default 22050; the FLAC has this rate */
    double gain;              /* fluidsynth master gain, default 0.6 */
    double timeout_s;         /* kill fluidsynth after this, default 600 */
    double release_s;         /* audio kept after the last note-off, default 1.5 */
    int reverb, chorus;       /* fluidsynth effects, default 1, 1 */
    int allow_eval_soundfont; /* default 0: refuse MuseScore General */
    int bits;                 /* resolution kept in the 16-bit FLAC, 8..16, default 16;
                                 14 makes files ~30% smaller (noise floor -84 dBFS) */
} lec_synth_config;

void lec_synth_config_default(lec_synth_config *cfg);

typedef struct lec_synth_info {
    double duration_s;    /* length of the FLAC written */
    double last_off_s;    /* last note-off of the MIDI */
    double render_s;      /* wall time of fluidsynth */
    double peak;          /* peak |sample| before clipping protection (1 = full scale) */
    int scaled;           /* 1 if the audio was scaled down because peak > 0.999 */
} lec_synth_info;

typedef struct lec_synth lec_synth;

/* Checks the soundfont (exists, readable, RIFF sfbk / sf3, not reserved
 * unless allowed). Does not run fluidsynth yet. */
lec_synth *lec_synth_create(const lec_synth_config *cfg, const char *soundfont, lec_error *err);
void lec_synth_destroy(lec_synth *s); /* NULL-safe */

/* Render midi_path to flac_path (parent directory must exist). On failure
 * nothing is left at flac_path (an older file there survives) and the error
 * names the MIDI, the soundfont and fluidsynth's last stderr line. info may
 * be NULL. */
lec_status lec_synth_render(lec_synth *s, const char *midi_path, const char *flac_path,
                            lec_synth_info *info, lec_error *err);

/* stderr of the last fluidsynth run (NUL-terminated, at most 8 KiB, "" if none). */
const char *lec_synth_log(const lec_synth *s);

/* 1 if the path names a reserved evaluation soundfont. */
int lec_synth_is_eval_soundfont(const char *path);

#endif
