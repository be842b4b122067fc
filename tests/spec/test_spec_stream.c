/* test_spec_stream.c -- streaming (lec_spec_process in chunks) gives
 * bit-identical frames to offline (lec_spec_compute), for chunks of 1 sample,
 * primes, random sizes, more than a frame, empty pushes; frame counts follow
 * the causal convention (frame i ends at sample (i+1)*hop); frames that did
 * not fit max_frames are kept and come out later; overflow of the pending
 * room is counted, not silent; reset restarts the stream. */
#include <stdlib.h>
#include <string.h>

#include "lec_spec.h"
#include "lec_test.h"

static unsigned rng_state = 2024u;
static unsigned rng(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

static float *make_signal(size_t n)
{
    float *x = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / 22050.0;
        x[i] = (float)(0.3 * sin(2 * 3.14159265358979 * (220.0 + 300.0 * t) * t) +
                       0.05 * ((double)rng() / (1u << 24) - 0.5));
    }
    return x;
}

/* Streams x through s in chunks given by next_chunk(); returns frames, which
 * must match ref (nf x nb) bit for bit. Also checks lec_spec_max_frames is
 * exactly what each call produces when it has room. */
typedef size_t (*chunk_fn)(size_t call);

static int stream_matches(lec_spec *s, const float *x, size_t n, const float *ref, size_t nf,
                          int nb, chunk_fn next_chunk, const char *what)
{
    lec_spec_reset(s);
    float *out = malloc(sizeof(float) * (nf + 1) * (size_t)nb);
    size_t got = 0, pos = 0, call = 0;
    int bound_ok = 1;
    while (pos < n) {
        size_t c = next_chunk(call++);
        if (c > n - pos)
            c = n - pos;
        size_t expect = lec_spec_max_frames(s, c);
        if (got + expect > nf + 1) {
            bound_ok = 0;
            break;
        }
        size_t k = lec_spec_process(s, x + pos, c, out + got * (size_t)nb, expect);
        bound_ok &= k == expect;
        got += k;
        pos += c;
    }
    int same = got == nf && memcmp(out, ref, sizeof(float) * nf * (size_t)nb) == 0;
    CHECKF(bound_ok, "%s: lec_spec_max_frames disagrees with what process produced", what);
    CHECKF(same, "%s: streaming gave %zu frames (offline %zu) or different values", what, got, nf);
    CHECK(lec_spec_frames_done(s) == nf && lec_spec_dropped_samples(s) == 0);
    free(out);
    return same;
}

static size_t chunk_one(size_t call) { (void)call; return 1; }
static size_t chunk_prime_small(size_t call) { static const size_t p[] = {2, 3, 5, 7, 11, 13}; return p[call % 6]; }
static size_t chunk_1009(size_t call) { (void)call; return 1009; }
static size_t chunk_1103(size_t call) { (void)call; return 1103; } /* hop + 1 */
static size_t chunk_4099(size_t call) { (void)call; return 4099; } /* > frame_size */
static size_t chunk_random(size_t call)
{
    (void)call;
    unsigned r = rng();
    switch (r % 4) {
    case 0: return 0; /* empty pushes are legal */
    case 1: return 1 + (r >> 4) % 16;
    case 2: return 1 + (r >> 4) % 2500;
    default: return 1 + (r >> 4) % 9000;
    }
}

int main(void)
{
    lec_spec_config c;
    lec_spec_config_default(&c);
    lec_error err;
    const size_t n = 3 * 22050 + 517; /* not a multiple of the hop */
    float *x = make_signal(n);

    float *ref = NULL;
    size_t nf = 0;
    int nb = 0;
    CHECK(lec_spec_compute(&c, x, n, &ref, &nf, &nb, &err) == LEC_OK);
    CHECK(nf == n / 1102); /* frames ending at or before the last sample */
    lec_spec *s = lec_spec_create(&c, &err);
    CHECK(s != NULL && nb == lec_spec_n_bands(s));
    if (!s || !ref)
        return lec_test_finish("test_spec_stream");

    stream_matches(s, x, n, ref, nf, nb, chunk_one, "1-sample chunks");
    stream_matches(s, x, n, ref, nf, nb, chunk_prime_small, "small prime chunks");
    stream_matches(s, x, n, ref, nf, nb, chunk_1009, "1009-sample chunks");
    stream_matches(s, x, n, ref, nf, nb, chunk_1103, "hop+1 chunks");
    stream_matches(s, x, n, ref, nf, nb, chunk_4099, "4099-sample chunks");
    for (int trial = 0; trial < 20; trial++)
        stream_matches(s, x, n, ref, nf, nb, chunk_random, "random chunks");

    /* frame count and timing convention: a frame exists once its last sample
     * (i+1)*hop - 1 has arrived, never before */
    {
        lec_spec_reset(s);
        float *out = malloc(sizeof(float) * nb * 4);
        CHECK(lec_spec_max_frames(s, 1101) == 0);
        CHECK(lec_spec_process(s, x, 1101, out, 4) == 0);
        CHECK(lec_spec_max_frames(s, 1) == 1);
        CHECK(lec_spec_process(s, x + 1101, 1, out, 4) == 1); /* sample 1101 ends frame 0 */
        CHECK(memcmp(out, ref, sizeof(float) * nb) == 0);
        CHECK(lec_spec_process(s, x + 1102, 1101, out, 4) == 0);
        CHECK(lec_spec_process(s, x + 2203, 1, out, 4) == 1); /* 2204 = 2*hop ends frame 1 */
        CHECK(memcmp(out, ref + nb, sizeof(float) * nb) == 0);
        CHECK(lec_spec_max_frames(s, 3 * 1102) == 3);
        free(out);
        size_t k;
        float *fr = NULL;
        int b2;
        CHECK(lec_spec_compute(&c, x, 1101, &fr, &k, &b2, &err) == LEC_OK && k == 0 && !fr);
        CHECK(lec_spec_compute(&c, x, 1102, &fr, &k, &b2, &err) == LEC_OK && k == 1);
        CHECK(fr && memcmp(fr, ref, sizeof(float) * nb) == 0); /* prefix gives same frame */
        free(fr);
        CHECK(lec_spec_compute(&c, NULL, 0, &fr, &k, &b2, &err) == LEC_OK && k == 0);
    }

    /* max_frames too small: the rest is kept and comes out later, unchanged */
    {
        lec_spec_reset(s);
        float *out = malloc(sizeof(float) * (nf + 1) * nb);
        size_t got = 0, pos = 0;
        while (pos < n) {
            /* ~2.7 frames per push, 2 taken: the backlog grows by ~0.7 frame
             * per push, ~17 frames in all, inside the one second of room */
            size_t cnk = n - pos < 3000 ? n - pos : 3000;
            got += lec_spec_process(s, x + pos, cnk, out + got * nb, 2);
            pos += cnk;
        }
        CHECK(got < nf); /* frames are pending now */
        size_t pending = lec_spec_max_frames(s, 0);
        CHECK(got + pending == nf);
        while (got < nf) {
            size_t k = lec_spec_process(s, NULL, 0, out + got * nb, 1);
            if (k == 0)
                break;
            got += k;
        }
        CHECK(got == nf && memcmp(out, ref, sizeof(float) * nf * nb) == 0);
        CHECK(lec_spec_dropped_samples(s) == 0);
        free(out);
    }

    /* no room at all: the pending capacity fills, the excess is counted */
    {
        lec_spec_reset(s);
        size_t cap = lec_spec_pending_capacity(s);
        CHECK(cap >= (size_t)c.sample_rate);
        size_t push = cap + 5000;
        float *z = calloc(push, sizeof(float));
        CHECK(lec_spec_process(s, z, push, NULL, 0) == 0);
        /* the ring held the (frame - hop) leading zeros plus frame + cap, so
         * it took cap + hop samples */
        CHECK(lec_spec_dropped_samples(s) == (unsigned long long)(push - cap - c.hop_size));
        /* and what it kept still comes out as frames */
        size_t ready = lec_spec_max_frames(s, 0);
        CHECK(ready == (cap + c.hop_size) / c.hop_size);
        float *out = malloc(sizeof(float) * ready * nb);
        CHECK(lec_spec_process(s, NULL, 0, out, ready) == ready);
        free(out);
        free(z);
        lec_spec_reset(s);
        CHECK(lec_spec_dropped_samples(s) == 0 && lec_spec_frames_done(s) == 0);
    }

    /* two streams do not share state */
    {
        lec_spec *s2 = lec_spec_create(&c, &err);
        float *o1 = malloc(sizeof(float) * (nf + 1) * nb), *o2 = malloc(sizeof(float) * (nf + 1) * nb);
        size_t g1 = 0, g2 = 0;
        lec_spec_reset(s);
        for (size_t pos = 0; pos < n; pos += 500) {
            size_t cnk = n - pos < 500 ? n - pos : 500;
            g1 += lec_spec_process(s, x + pos, cnk, o1 + g1 * nb, lec_spec_max_frames(s, cnk));
            g2 += lec_spec_process(s2, x + pos, cnk, o2 + g2 * nb, lec_spec_max_frames(s2, cnk));
        }
        CHECK(g1 == nf && g2 == nf && memcmp(o1, ref, sizeof(float) * nf * nb) == 0 &&
              memcmp(o2, ref, sizeof(float) * nf * nb) == 0);
        free(o1);
        free(o2);
        lec_spec_destroy(s2);
    }

    lec_spec_destroy(s);
    free(ref);
    free(x);
    return lec_test_finish("test_spec_stream");
}
