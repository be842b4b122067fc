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
 *
 * Implementation choices (beyond the contract):
 * - The window is madmom's np.hanning: the SYMMETRIC Hann of frame_size
 *   points, w[n] = 0.5 - 0.5 cos(2 pi n / (frame_size - 1)); so w[0] and
 *   w[frame_size-1] are 0.
 * - As madmom, the spectrum has frame_size/2 bins, 0 .. frame_size/2 - 1 (the
 *   Nyquist bin is dropped); bin k is k * sample_rate / frame_size Hz.
 * - Centre frequencies are fref * 2^(j / bands_per_octave), fref = 440 Hz,
 *   for every integer j with fmin_hz <= f <= fmax_hz (both ends included;
 *   madmom drops an fmax exactly on the grid); each maps to the nearest
 *   bin (a tie goes to the upper bin), duplicates are dropped, and each triple
 *   of consecutive bins (start, centre, stop) gives one triangle: weight
 *   (k - start)/(centre - start) rising on [start, centre), 1 - (k - centre)/
 *   (stop - centre) falling on [centre, stop), 0 at start and from stop on,
 *   then divided by its sum. Bands = distinct bins - 2.
 * - FFTW plans use FFTW_ESTIMATE: planning costs microseconds (test suites
 *   and tools create many lec_spec objects) and picks the same algorithm in
 *   every process, so training features and live features are bit-identical.
 *   `lectern bench frontend` measures what FFTW_MEASURE would gain.
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
 * Thread safety: FFTW planning is not thread-safe; the implementation
 * serialises planning internally (lec_spec_fftw_lock), so create/destroy of
 * different objects may run on several threads at once. Not for the audio
 * callback (allocates). */
lec_spec *lec_spec_create(const lec_spec_config *cfg, lec_error *err);
void lec_spec_destroy(lec_spec *s);     /* NULL-safe */
/* Back to the start of a stream (leading zeros, frame 0 next, counters 0).
 * Same thread as lec_spec_process; no allocation, clears the sample ring. */
void lec_spec_reset(lec_spec *s);

/* Getters: reentrant, any thread (read-only after create). */
int lec_spec_n_bands(const lec_spec *s);          /* filterbank bands per frame */
const lec_spec_config *lec_spec_config_of(const lec_spec *s);
/* centre frequency of band b in Hz: the frequency of the FFT bin where its
 * triangle peaks (as madmom's center_frequencies), not the log-spaced
 * frequency it was derived from; 0 if b is out of range. */
float lec_spec_band_hz(const lec_spec *s, int b);

/* Upper bound on the frames that n more samples can complete. It includes
 * frames already complete but not yet written (a previous call's max_frames
 * was too small), so an out buffer of lec_spec_max_frames(s, n) frames always
 * takes everything. */
size_t lec_spec_max_frames(const lec_spec *s, size_t n_samples);

/* Streaming: push n mono samples; writes each completed frame
 * (n_bands floats) to out, at most max_frames frames, and returns how many
 * were written. Samples beyond max_frames' worth are kept for later calls.
 * Never allocates, never blocks. One thread per lec_spec.
 *
 * Keeping samples needs memory sized at create time: besides the frame being
 * assembled, up to lec_spec_pending_capacity(s) samples (one second of audio,
 * at least one hop) wait for a later call (n = 0 is fine). Samples that would
 * overflow that are not stored; they are counted by lec_spec_dropped_samples()
 * instead of being silently lost. With max_frames >= lec_spec_max_frames(s, n)
 * nothing is ever dropped. */
size_t lec_spec_process(lec_spec *s, const float *samples, size_t n, float *out,
                        size_t max_frames);

/* Samples kept beyond the current frame (see lec_spec_process). */
size_t lec_spec_pending_capacity(const lec_spec *s);
/* Samples not stored since create/reset because the caller's max_frames left
 * no room (0 in correct use). */
unsigned long long lec_spec_dropped_samples(const lec_spec *s);
/* Frames written since create/reset; frame i ends at input sample (i+1)*hop. */
unsigned long long lec_spec_frames_done(const lec_spec *s);

/* Filterbank weights of band b, for inspection and plots: *first_bin is the
 * FFT bin (bin k is k*sample_rate/frame_size Hz) of weights[0]; returns the
 * number of weights (or 0 if b is out of range). The pointer stays valid
 * until lec_spec_destroy. */
int lec_spec_band_weights(const lec_spec *s, int b, int *first_bin, const float **weights);

/* FFTW's planner (fftwf_plan_*, fftwf_destroy_plan) is not thread-safe and
 * is process-global: other code in lectern that plans FFTW transforms takes
 * this same lock around planning so that it never races lec_spec_create. */
void lec_spec_fftw_lock(void);
void lec_spec_fftw_unlock(void);

/* Offline: all frames of a whole signal (frames ending at or before its last
 * sample, i.e. n / hop_size of them), malloc'd, row-major (n_frames,
 * n_bands); *frames is NULL when there are none. Any thread (it makes its own
 * lec_spec). */
lec_status lec_spec_compute(const lec_spec_config *cfg, const float *x, size_t n,
                            float **frames, size_t *n_frames, int *n_bands, lec_error *err);

#endif
