/* lec_spec.h -- rolling log-filterbank spectrogram (the network's audio input).
 *
 * CONTRACT (header agreed before implementation; the implementer may extend
 * it but not change these semantics):
 *
 * Pipeline per frame: Hann window of frame_size samples -> real FFT (FFTW3,
 * plan made at create time) -> magnitude -> triangular filterbank with
 * bands_per_octave bands per octave between fmin_hz and fmax_hz (madmom's
 * LogarithmicFilterbank construction: log-spaced centre frequencies, mapped to
 * FFT bins, duplicate bins removed, each filter normalised to unit area) ->
 * log10(1 + x).
 *
 * Framing (causal, so that a frame is known as soon as its last sample is):
 * the stream is treated as preceded by (frame_size - hop_size) zeros, so frame
 * i covers input samples [(i+1)*hop - frame_size, (i+1)*hop) and ENDS at
 * sample (i+1)*hop, i.e. at time (i+1)*hop/sample_rate seconds. Offline
 * computation over a whole signal gives exactly the frames the streaming
 * computation gives for the same samples, however they are chunked.
 *
 * All parameters live in lec_spec_config; a model file carries them, so
 * nothing is hard-wired twice.
 */
#ifndef LEC_SPEC_H
#define LEC_SPEC_H

#include <stddef.h>

#include "lec_error.h"

typedef struct lec_spec_config {
    int sample_rate;       /* Hz; default 22050 */
    int frame_size;        /* samples; default 2048 */
    int hop_size;          /* samples; default 1102 (about 20 frames/s) */
    float fmin_hz;         /* default 60 */
    float fmax_hz;         /* default 6000 */
    int bands_per_octave;  /* default 12 */
} lec_spec_config;

typedef struct lec_spec lec_spec;

void lec_spec_config_default(lec_spec_config *cfg);

/* Validates cfg (clear message on nonsense) and makes the FFTW plan.
 * Thread safety: FFTW planning is not thread-safe; create/destroy from one
 * thread at a time (the implementation serialises planning internally). */
lec_spec *lec_spec_create(const lec_spec_config *cfg, lec_error *err);
void lec_spec_destroy(lec_spec *s);     /* NULL-safe */
void lec_spec_reset(lec_spec *s);       /* back to the start of a stream */

int lec_spec_n_bands(const lec_spec *s);          /* filterbank bands per frame */
const lec_spec_config *lec_spec_config_of(const lec_spec *s);
/* centre frequency of band b in Hz */
float lec_spec_band_hz(const lec_spec *s, int b);

/* Upper bound on the frames that n more samples can complete. */
size_t lec_spec_max_frames(const lec_spec *s, size_t n_samples);

/* Streaming: push n mono samples; writes each completed frame
 * (n_bands floats) to out, at most max_frames frames, and returns how many
 * were written. Samples beyond max_frames' worth are kept for later calls.
 * Never allocates, never blocks. One thread per lec_spec. */
size_t lec_spec_process(lec_spec *s, const float *samples, size_t n, float *out,
                        size_t max_frames);

/* Offline: all frames of a whole signal (frames ending at or before its last
 * sample), malloc'd, row-major (n_frames, n_bands). */
lec_status lec_spec_compute(const lec_spec_config *cfg, const float *x, size_t n,
                            float **frames, size_t *n_frames, int *n_bands, lec_error *err);

#endif
