/* test_source_file.c -- the file sources (LEC_SOURCE_FILE and _REALTIME) on
 * WAV/FLAC files generated here with libsndfile: length after resampling,
 * channel mixing, frequency preserved, chunking invariance, real-time pacing,
 * and clear errors for missing/empty/non-audio/truncated files. */
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lec_source.h"
#include "lec_test.h"
#include "lec_util.h"

static const double PI = 3.14159265358979323846;
static char dir[4096];

/* Write frames x channels samples from gen(frame, channel) to path. */
typedef double (*gen_fn)(long i, int c, int rate);
static int write_audio(const char *path, int format, int rate, int channels, long frames, gen_fn gen)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) {
        fprintf(stderr, "cannot write %s: %s\n", path, sf_strerror(NULL));
        return -1;
    }
    float *buf = malloc(sizeof(float) * (size_t)channels * (size_t)frames);
    for (long i = 0; i < frames; i++)
        for (int c = 0; c < channels; c++)
            buf[i * channels + c] = (float)gen(i, c, rate);
    sf_count_t w = sf_writef_float(sf, buf, frames);
    free(buf);
    sf_close(sf);
    return w == frames ? 0 : -1;
}

/* L: 0.6 sin(1 kHz), R: 0.2 (DC) -> mono 0.3 sin + 0.1 */
static double gen_stereo(long i, int c, int rate)
{
    return c == 0 ? 0.6 * sin(2 * PI * 1000.0 * i / rate) : 0.2;
}
/* 6 channels: 2 kHz at 0.6 on channels 0 and 3, silence elsewhere -> 0.2 sin */
static double gen_six(long i, int c, int rate)
{
    return (c == 0 || c == 3) ? 0.6 * sin(2 * PI * 2000.0 * i / rate) : 0.0;
}
static double gen_a440(long i, int c, int rate)
{
    (void)c;
    return 0.5 * sin(2 * PI * 440.0 * i / rate);
}
static double gen_noise(long i, int c, int rate)
{
    (void)c;
    (void)rate;
    uint32_t h = (uint32_t)i * 2654435761u;
    h ^= h >> 15;
    return ((double)(h & 0xffff) / 65535.0 - 0.5);
}

/* Read a whole source in chunks of `chunk` samples. */
static float *read_all(const char *path, lec_source_kind kind, size_t chunk, size_t *n,
                       lec_error *err, lec_status *st_out)
{
    lec_source_config cfg;
    lec_source_config_default(&cfg);
    cfg.kind = kind;
    cfg.path = path;
    *n = 0;
    lec_source *s = lec_source_create(&cfg, err);
    if (!s) {
        *st_out = err->code;
        return NULL;
    }
    size_t cap = 1 << 16;
    float *x = malloc(cap * sizeof(float));
    lec_status st = LEC_OK;
    while (!lec_source_finished(s)) {
        if (*n + chunk > cap) {
            cap *= 2;
            x = realloc(x, cap * sizeof(float));
        }
        size_t got = 0;
        st = lec_source_read(s, x + *n, chunk, &got, 1000, err);
        *n += got;
        if (st != LEC_OK)
            break;
    }
    *st_out = st;
    lec_source_destroy(s);
    return x;
}

/* Frequency from upward zero crossings of x - mean over [a, b), with linear
 * interpolation of each crossing instant: accurate to a fraction of a Hz. */
static double measure_hz(const float *x, size_t a, size_t b, double mean, int rate)
{
    double first = -1, last = -1;
    long count = 0;
    for (size_t i = a + 1; i < b; i++) {
        double y0 = x[i - 1] - mean, y1 = x[i] - mean;
        if (y0 < 0 && y1 >= 0) {
            double t = (double)(i - 1) + y0 / (y0 - y1);
            if (first < 0)
                first = t;
            else
                count++;
            last = t;
        }
    }
    return count > 0 ? count * (double)rate / (last - first) : 0;
}

static void stats(const float *x, size_t a, size_t b, double *mean, double *ac_rms)
{
    double s = 0, s2 = 0;
    for (size_t i = a; i < b; i++)
        s += x[i];
    *mean = s / (double)(b - a);
    for (size_t i = a; i < b; i++)
        s2 += (x[i] - *mean) * (x[i] - *mean);
    *ac_rms = sqrt(s2 / (double)(b - a));
}

static void test_stereo_44k(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/stereo44k.wav", dir);
    CHECK(write_audio(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 44100, gen_stereo) == 0);
    lec_error err;
    lec_status st;
    size_t n;
    float *x = read_all(path, LEC_SOURCE_FILE, 4096, &n, &err, &st);
    CHECKF(x && st == LEC_OK, "%s", err.msg);
    if (!x)
        return;
    CHECKF(labs((long)n - 22050) <= 2, "1 s at 44.1 kHz gave %zu samples at 22.05 kHz", n);
    double mean, rms;
    stats(x, 1000, n - 1000, &mean, &rms);
    CHECK_NEAR(mean, 0.1, 0.005);             /* (0 + 0.2) / 2 */
    CHECK_NEAR(rms, 0.3 / sqrt(2.0), 0.005);  /* 0.6 sin / 2 */
    CHECK_NEAR(measure_hz(x, 1000, n - 1000, mean, 22050), 1000.0, 1.0);

    /* Chunking must not change a single sample (resampler state carried). */
    size_t n2;
    float *y = read_all(path, LEC_SOURCE_FILE, 37, &n2, &err, &st);
    CHECK(y && n2 == n);
    if (y && n2 == n)
        CHECK(memcmp(x, y, n * sizeof(float)) == 0);
    free(y);
    free(x);

    /* Duration and position getters. */
    lec_source_config cfg;
    lec_source_config_default(&cfg);
    cfg.path = path;
    lec_source *s = lec_source_create(&cfg, &err);
    CHECK(s != NULL);
    if (s) {
        CHECK_NEAR(lec_source_duration_s(s), 1.0, 1e-12);
        CHECK(lec_source_input_channels(s) == 2);
        CHECK_NEAR(lec_source_input_rate_hz(s), 44100, 0);
        CHECK(lec_source_sample_rate_hz(s) == 22050);
        CHECK(lec_source_position_s(s) == 0.0);
        float buf[2205];
        size_t got;
        CHECK(lec_source_read(s, buf, 2205, &got, 0, &err) == LEC_OK && got == 2205);
        CHECK_NEAR(lec_source_position_s(s), 0.1, 1e-12);
        CHECK(!lec_source_finished(s));
        CHECK(lec_source_overflows(s) == 0);
        lec_source_destroy(s);
    }
}

static void test_six_96k(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/six96k.wav", dir);
    CHECK(write_audio(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 96000, 6, 48000, gen_six) == 0);
    lec_error err;
    lec_status st;
    size_t n;
    float *x = read_all(path, LEC_SOURCE_FILE, 1000, &n, &err, &st);
    CHECKF(x && st == LEC_OK, "%s", err.msg);
    if (!x)
        return;
    CHECKF(labs((long)n - 11025) <= 2, "0.5 s at 96 kHz gave %zu samples", n);
    double mean, rms;
    stats(x, 1000, n - 1000, &mean, &rms);
    CHECK_NEAR(mean, 0.0, 0.002);
    CHECK_NEAR(rms, 0.2 / sqrt(2.0), 0.004); /* 2 of 6 channels at 0.6 */
    CHECK_NEAR(measure_hz(x, 1000, n - 1000, mean, 22050), 2000.0, 1.0);
    free(x);
}

static void test_mono_22050_passthrough(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/mono22k.wav", dir);
    CHECK(write_audio(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 22050, 1, 10000, gen_noise) == 0);
    lec_error err;
    lec_status st;
    size_t n;
    float *x = read_all(path, LEC_SOURCE_FILE, 333, &n, &err, &st);
    CHECKF(x && st == LEC_OK, "%s", err.msg);
    if (!x)
        return;
    CHECK(n == 10000);
    int same = 1;
    for (long i = 0; i < (long)n && i < 10000; i++)
        same &= x[i] == (float)gen_noise(i, 0, 22050);
    CHECKF(same, "22050 Hz mono float WAV must come through bit for bit");
    free(x);
}

static void test_flac_48k(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/a440.flac", dir);
    CHECK(write_audio(path, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000, 1, 33600, gen_a440) == 0);
    lec_error err;
    lec_status st;
    size_t n;
    float *x = read_all(path, LEC_SOURCE_FILE, 4096, &n, &err, &st);
    CHECKF(x && st == LEC_OK, "%s", err.msg);
    if (!x)
        return;
    CHECKF(labs((long)n - 15435) <= 2, "0.7 s FLAC at 48 kHz gave %zu samples", n);
    double mean, rms;
    stats(x, 1000, n - 1000, &mean, &rms);
    CHECK_NEAR(rms, 0.5 / sqrt(2.0), 0.005);
    CHECK_NEAR(measure_hz(x, 1000, n - 1000, mean, 22050), 440.0, 0.5);
    free(x);
}

static void test_realtime(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/rt.wav", dir);
    CHECK(write_audio(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 1, 17640, gen_a440) == 0);
    lec_source_config cfg;
    lec_source_config_default(&cfg);
    cfg.kind = LEC_SOURCE_FILE_REALTIME;
    cfg.path = path;
    lec_error err;
    lec_source *s = lec_source_create(&cfg, &err);
    CHECKF(s != NULL, "%s", err.msg);
    if (!s)
        return;
    float buf[4096];
    double t_before = lec_now_s();
    size_t total = 0;
    int too_early = 0, reads = 0;
    while (!lec_source_finished(s)) {
        size_t got = 0;
        lec_status st = lec_source_read(s, buf, 4096, &got, 100, &err);
        CHECK(st == LEC_OK);
        if (st != LEC_OK)
            break;
        total += got;
        reads++;
        double allowed = (lec_now_s() - t_before) * 22050 + 1;
        too_early += (double)total > allowed;
    }
    double wall = lec_now_s() - t_before;
    CHECKF(too_early == 0, "%d reads delivered samples ahead of the clock", too_early);
    CHECKF(wall >= 0.38, "0.4 s replayed in %.3f s", wall);
    CHECKF(wall < 1.0, "0.4 s replayed in %.3f s", wall);
    CHECK(labs((long)total - 8820) <= 2);
    CHECK(reads > 5); /* it really trickled */
    lec_source_destroy(s);
}

static void expect_error(const char *path, lec_status code, const char *needle)
{
    lec_source_config cfg;
    lec_source_config_default(&cfg);
    cfg.path = path;
    lec_error err;
    memset(&err, 0, sizeof err);
    lec_source *s = lec_source_create(&cfg, &err);
    lec_status st = LEC_OK;
    if (s) {
        /* Some damage only shows while decoding: drain and expect the error. */
        float buf[4096];
        size_t got;
        while (!lec_source_finished(s) &&
               (st = lec_source_read(s, buf, 4096, &got, 0, &err)) == LEC_OK) {
        }
        lec_source_destroy(s);
    } else {
        st = err.code;
    }
    CHECKF(st == code, "%s: status %d (%s), expected %d: %s", path, (int)st, lec_status_str(st),
           (int)code, err.msg);
    CHECKF(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
    CHECKF(strstr(err.msg, needle) != NULL, "message lacks '%s': %s", needle, err.msg);
}

static void test_errors(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/missing.wav", dir);
    expect_error(path, LEC_EIO, "no such file");

    snprintf(path, sizeof path, "%s/empty.wav", dir);
    FILE *fp = fopen(path, "wb");
    fclose(fp);
    expect_error(path, LEC_EFORMAT, "empty");

    snprintf(path, sizeof path, "%s/text.wav", dir);
    fp = fopen(path, "w");
    fputs("this is not audio, just words in a file named .wav\n", fp);
    fclose(fp);
    expect_error(path, LEC_EFORMAT, "not an audio file");

    /* Truncated WAV: a 1 s file cut to 60% of its bytes. */
    snprintf(path, sizeof path, "%s/truncated.wav", dir);
    CHECK(write_audio(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 44100, gen_stereo) == 0);
    struct stat sb;
    stat(path, &sb);
    CHECK(truncate(path, sb.st_size * 6 / 10) == 0);
    expect_error(path, LEC_EFORMAT, "truncated");

    /* Truncated FLAC: only visible while decoding. */
    snprintf(path, sizeof path, "%s/truncated.flac", dir);
    CHECK(write_audio(path, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000, 1, 48000, gen_noise) == 0);
    stat(path, &sb);
    CHECK(truncate(path, sb.st_size / 2) == 0);
    expect_error(path, LEC_EFORMAT, "truncated");

    expect_error(dir, LEC_EIO, "directory");

    lec_source_config cfg;
    lec_source_config_default(&cfg);
    lec_error err;
    cfg.path = NULL;
    CHECK(lec_source_create(&cfg, &err) == NULL && err.code == LEC_EINVAL);
    cfg.path = path;
    cfg.sample_rate = 0;
    CHECK(lec_source_create(&cfg, &err) == NULL && err.code == LEC_EINVAL);
    lec_source_destroy(NULL);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s", lec_test_scratch_dir("test_source_file"));
    test_stereo_44k();
    test_six_96k();
    test_mono_22050_passthrough();
    test_flac_48k();
    test_realtime();
    test_errors();
    return lec_test_finish("test_source_file");
}
