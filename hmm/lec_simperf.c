/* lec_simperf.c -- see lec_simperf.h. */
#include "lec_simperf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct lec_simperf {
    lec_simperf_config cfg;
    uint32_t rng;
    int confuse_left;
    float confuse_off_px; /* wrong place = truth + offset, held for the episode */
};

void lec_simperf_config_default(lec_simperf_config *c)
{
    c->win_w_px = 400;
    c->n_buckets = 40;
    c->nominal_speed_px_s = 100;
    c->fps = 20;
    c->spacing_var = 0.3f;
    c->peak_sigma_buckets = 1.0f;
    c->noise = 0.3f;
    c->p_confuse = 0.01f;
    c->confuse_frames = 6;
    c->flat_outside = 0;
    c->seed = 1;
}

lec_simperf *lec_simperf_create(const lec_simperf_config *c, lec_error *err)
{
    if (!c || !(c->win_w_px > 0) || c->n_buckets < 2 || !(c->nominal_speed_px_s > 0) ||
        !(c->fps > 0) || !(c->spacing_var >= 0 && c->spacing_var < 1) ||
        !(c->peak_sigma_buckets > 0) || !(c->noise >= 0 && c->noise <= 1) ||
        !(c->p_confuse >= 0 && c->p_confuse <= 1) || c->confuse_frames < 0) {
        lec_error_set(err, LEC_EINVAL, "synth: invalid configuration");
        return NULL;
    }
    lec_simperf *s = calloc(1, sizeof *s);
    if (!s) {
        lec_error_set(err, LEC_ENOMEM, "synth: out of memory");
        return NULL;
    }
    s->cfg = *c;
    s->rng = c->seed ? c->seed : 1;
    return s;
}

void lec_simperf_destroy(lec_simperf *s) { free(s); }

float lec_simperf_uniform(lec_simperf *s)
{
    uint32_t x = s->rng; /* xorshift32 */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s->rng = x;
    return (float)(x >> 8) * (1.0f / 16777216.0f);
}

float lec_simperf_step(const lec_simperf *s, float x, float tempo)
{
    /* engraving: two incommensurate periods (a "beat" of 61 px, a "bar" of 257 px) */
    float sp = 1.0f + s->cfg.spacing_var * (0.6f * sinf(x * 6.2831853f / 61.0f) +
                                            0.4f * sinf(x * 6.2831853f / 257.0f));
    return x + tempo * s->cfg.nominal_speed_px_s * sp / s->cfg.fps;
}

void lec_simperf_frame(lec_simperf *s, float x_true)
{
    (void)x_true;
    if (s->confuse_left > 0) {
        s->confuse_left--;
        return;
    }
    if (lec_simperf_uniform(s) < s->cfg.p_confuse) {
        s->confuse_left = s->cfg.confuse_frames;
        /* a similar passage 0.3 .. 1.5 windows away, either side */
        float d = (0.3f + 1.2f * lec_simperf_uniform(s)) * s->cfg.win_w_px;
        s->confuse_off_px = lec_simperf_uniform(s) < 0.5f ? -d : d;
    }
}

static void add_bump(const lec_simperf *s, float *p, float centre_b, float mass)
{
    int B = s->cfg.n_buckets;
    float sg = s->cfg.peak_sigma_buckets, sum = 0;
    for (int b = 0; b < B; b++) {
        float d = ((float)b + 0.5f - centre_b) / sg;
        sum += expf(-0.5f * d * d);
    }
    if (sum <= 0)
        return;
    for (int b = 0; b < B; b++) {
        float d = ((float)b + 0.5f - centre_b) / sg;
        p[b] += mass * expf(-0.5f * d * d) / sum;
    }
}

void lec_simperf_softmax(lec_simperf *s, float x0, float x_true, int playing, float *p)
{
    int B = s->cfg.n_buckets;
    float bw = s->cfg.win_w_px / (float)B;
    /* noise: exponential weights (a Dirichlet(1) sample) */
    float ns = 0;
    for (int b = 0; b < B; b++) {
        p[b] = -logf(1.0f - lec_simperf_uniform(s) * 0.999999f);
        ns += p[b];
    }
    float noise = playing ? s->cfg.noise : 1.0f;
    for (int b = 0; b < B; b++)
        p[b] *= noise / ns;
    if (!playing)
        return;
    float signal = 1.0f - noise;
    float rel = (x_true - x0) / bw;
    int inside = rel >= 0 && rel < (float)B;
    float xc = x_true + s->confuse_off_px;
    float relc = (xc - x0) / bw;
    int conf_in = s->confuse_left > 0 && relc >= 0 && relc < (float)B;
    if (conf_in && inside) {
        add_bump(s, p, relc, 0.65f * signal);
        add_bump(s, p, rel, 0.35f * signal);
    } else if (conf_in) {
        add_bump(s, p, relc, signal);
    } else if (inside) {
        add_bump(s, p, rel, signal);
    } else if (s->cfg.flat_outside) { /* not in the window: noise only */
        for (int b = 0; b < B; b++)
            p[b] += signal / (float)B;
    } else { /* not in the window: a confident peak somewhere anyway */
        add_bump(s, p, (float)B * lec_simperf_uniform(s), signal);
    }
}
