/* test_spec_config.c -- lec_spec_create and lec_spec_compute refuse bad
 * arguments with NULL/an error code and a message naming the problem; NULL
 * is safe everywhere it is documented to be. */
#include <string.h>

#include "lec_spec.h"
#include "lec_test.h"

/* create must fail and the message must contain `needle` */
static void expect_refused(const lec_spec_config *c, const char *needle)
{
    lec_error err;
    memset(&err, 0, sizeof err);
    lec_spec *s = lec_spec_create(c, &err);
    CHECKF(s == NULL, "accepted a config that should fail with '%s'", needle);
    lec_spec_destroy(s);
    CHECKF(err.code == LEC_EINVAL, "code %d for '%s'", err.code, needle);
    CHECKF(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
    /* offline entry point validates the same way and leaves outputs empty */
    float x[4] = {0};
    float *frames = (float *)1;
    size_t nf = 7;
    int nb = 7;
    CHECK(lec_spec_compute(c, x, 4, &frames, &nf, &nb, &err) == LEC_EINVAL);
    CHECK(frames == NULL && nf == 0 && nb == 0);
    /* a NULL error pointer is allowed */
    CHECK(lec_spec_create(c, NULL) == NULL);
}

int main(void)
{
    lec_spec_config d, c;
    lec_spec_config_default(&d);
    CHECK(d.sample_rate == 22050 && d.frame_size == 2048 && d.hop_size == 1102);
    CHECK(d.fmin_hz == 60.0f && d.fmax_hz == 6000.0f && d.bands_per_octave == 12);

    lec_error err;
    lec_spec *s = lec_spec_create(&d, &err);
    CHECK(s != NULL);
    CHECK(lec_spec_config_of(s) && memcmp(lec_spec_config_of(s), &d, sizeof d) == 0);
    CHECK(lec_spec_band_hz(s, -1) == 0.0f && lec_spec_band_hz(s, lec_spec_n_bands(s)) == 0.0f);
    CHECK(lec_spec_band_weights(s, lec_spec_n_bands(s), NULL, NULL) == 0);
    lec_spec_destroy(s);

    expect_refused(NULL, "NULL config");
    c = d; c.hop_size = 2049;          expect_refused(&c, "frame_size >= hop_size");
    c = d; c.hop_size = 0;             expect_refused(&c, "hop_size 0");
    c = d; c.hop_size = -5;            expect_refused(&c, "hop_size -5");
    c = d; c.frame_size = 0;           expect_refused(&c, "frame_size 0");
    c = d; c.frame_size = 1 << 24;     expect_refused(&c, "frame_size 16777216");
    c = d; c.sample_rate = 0;          expect_refused(&c, "sample_rate 0");
    c = d; c.sample_rate = -44100;     expect_refused(&c, "sample_rate -44100");
    c = d; c.fmax_hz = 12000.0f;       expect_refused(&c, "Nyquist");
    c = d; c.fmin_hz = 0.0f;           expect_refused(&c, "fmin_hz 0");
    c = d; c.fmin_hz = -10.0f;         expect_refused(&c, "fmin_hz -10");
    c = d; c.fmin_hz = 0.0f / 0.0f;    expect_refused(&c, "fmin_hz");
    c = d; c.fmax_hz = 50.0f;          expect_refused(&c, "above fmin_hz");
    c = d; c.fmax_hz = 1.0f / 0.0f;    expect_refused(&c, "fmax_hz");
    c = d; c.bands_per_octave = 0;     expect_refused(&c, "bands_per_octave 0");
    c = d; c.bands_per_octave = 1000;  expect_refused(&c, "bands_per_octave 1000");
    /* valid numbers but too coarse a spectrum for three distinct bins */
    c = d; c.frame_size = 64; c.hop_size = 32; c.fmin_hz = 100; c.fmax_hz = 400;
    expect_refused(&c, "needs 3");

    /* lec_spec_compute: NULL outputs, NULL signal with samples */
    float *frames;
    size_t nf;
    int nb;
    CHECK(lec_spec_compute(&d, NULL, 10, &frames, &nf, &nb, &err) == LEC_EINVAL);
    CHECK(strstr(err.msg, "NULL signal") != NULL);
    float x[8] = {0};
    CHECK(lec_spec_compute(&d, x, 8, NULL, &nf, &nb, &err) == LEC_EINVAL);
    CHECK(lec_spec_compute(&d, x, 8, &frames, NULL, &nb, &err) == LEC_EINVAL);

    /* NULL-safety of the object functions */
    lec_spec_destroy(NULL);
    lec_spec_reset(NULL);
    CHECK(lec_spec_n_bands(NULL) == 0 && lec_spec_config_of(NULL) == NULL);
    CHECK(lec_spec_max_frames(NULL, 100) == 0);
    CHECK(lec_spec_process(NULL, x, 8, NULL, 0) == 0);
    /* a NULL sample pointer: nothing stored, nothing crashes */
    s = lec_spec_create(&d, &err);
    CHECK(lec_spec_process(s, NULL, 8, NULL, 0) == 0);
    CHECK(lec_spec_max_frames(s, 0) == 0);
    /* no output buffer: samples are kept (as max_frames = 0), not lost */
    float hop[1102] = {0};
    CHECK(lec_spec_process(s, hop, 1102, NULL, 5) == 0);
    CHECK(lec_spec_max_frames(s, 0) == 1 && lec_spec_dropped_samples(s) == 0);
    lec_spec_destroy(s);

    /* the edge cases that ARE valid: hop == frame, fmax == Nyquist */
    c = d; c.hop_size = c.frame_size; c.fmax_hz = 11025.0f;
    s = lec_spec_create(&c, &err);
    CHECKF(s != NULL, "%s", err.msg);
    lec_spec_destroy(s);
    return lec_test_finish("test_spec_config");
}
