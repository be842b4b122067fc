/* lec_simperf.h -- synthetic performances and synthetic network outputs, for the
 * tracker tests and `lectern bench track` (so that the tracker can be measured
 * without a trained network).
 *
 * The performance: a position x(t) on a strip that advances at
 * tempo * nominal_speed * spacing(x) px/s, where spacing(x) in
 * [1 - spacing_var, 1 + spacing_var] mimics engraving (short notes take more px
 * per second than long ones).
 * The "network": for a window [x0, x0 + win_w) it returns a soft-max over
 * n_buckets: a Gaussian bump (peak_sigma_buckets) on the true bucket plus
 * Dirichlet-like noise when the truth is in the window; when it is not, a
 * confident peak on a random bucket (a network that never says "not here") or,
 * with flat_outside, noise only; during a confusion episode (started with probability
 * p_confuse per frame, confuse_frames long) a second, stronger peak at a wrong
 * place near the truth; during silence, noise only.
 *
 * Thread safety: a lec_simperf belongs to one thread. Not for the audio path
 * (no allocation after create, but it is a test tool).
 */
#ifndef LEC_SIMPERF_H
#define LEC_SIMPERF_H

#include <stdint.h>

#include "lec_error.h"

typedef struct lec_simperf_config {
    float win_w_px;            /* 400 */
    int n_buckets;             /* 40 */
    float nominal_speed_px_s;  /* 100 */
    float fps;                 /* 20 */
    float spacing_var;         /* 0.3 */
    float peak_sigma_buckets;  /* 1.0 */
    float noise;               /* 0.3: share of the mass spread as noise */
    float p_confuse;           /* 0.01 per frame */
    int confuse_frames;        /* 6 */
    int flat_outside;          /* 1: a window without the truth gets noise only
                                  (a network that can say "not here"); 0: a
                                  confident peak at a random bucket (default) */
    uint32_t seed;             /* 1 */
} lec_simperf_config;

typedef struct lec_simperf lec_simperf;

void lec_simperf_config_default(lec_simperf_config *cfg);
lec_simperf *lec_simperf_create(const lec_simperf_config *cfg, lec_error *err);
void lec_simperf_destroy(lec_simperf *s); /* NULL-safe */

/* Next true position after one frame at the given tempo factor. */
float lec_simperf_step(const lec_simperf *s, float x_px, float tempo);
/* Start of a new frame: advances the confusion-episode state (call once per
 * frame, before lec_simperf_softmax for the frame's windows). */
void lec_simperf_frame(lec_simperf *s, float x_true_px);
/* Soft-max for window x0 given the true position; probs is (n_buckets). */
void lec_simperf_softmax(lec_simperf *s, float x0_px, float x_true_px, int playing, float *probs);
/* Uniform random number in [0, 1) from the synth's generator. */
float lec_simperf_uniform(lec_simperf *s);

#endif
