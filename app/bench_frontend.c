/* bench_frontend.c -- `lectern bench frontend`: what one spectrogram frame
 * costs when streaming, against the FFT it is built around.
 *
 * Per frame, interleaved so that both see the same cache, clock and
 * neighbours: (1) lec_spec_process() given exactly one hop of new samples,
 * i.e. ring copy + Hann window + FFTW r2c + magnitudes + filterbank + log,
 * one frame out; (2) fftwf_execute() of a bare r2c plan of the same size made
 * with the same flags (FFTW_ESTIMATE), on a copy of the same samples (the copy
 * is not timed); (3) the same with an FFTW_MEASURE plan, to show what our
 * choice of FFTW_ESTIMATE costs. The figure is the ratio (1)/(2) of medians.
 * The real-time factor is compute time / audio time: per frame, median frame
 * cost / hop duration; offline, lec_spec_compute over the whole signal / its
 * duration. Single-threaded, pinned to the CPU it starts on.
 */
#include <errno.h>
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "commands.h"
#include "lec_error.h"
#include "lec_spec.h"
#include "lec_util.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: lectern bench frontend [--seconds S] [--json OUT]\n\n"
            "Cost of the streaming spectrogram (engine/spec) per frame, beside a bare FFTW\n"
            "real FFT of the same size measured in the same run.\n\n"
            "For each frame of S seconds of generated piano-like audio (22050 Hz, frame 2048,\n"
            "hop 1102, Hann, 12 bands/octave 60-6000 Hz, log10(1+x): the default front end),\n"
            "interleaved:\n"
            "  spectrogram   lec_spec_process() fed one hop of samples -> one frame\n"
            "                (ring copy, window, FFTW r2c, magnitude, filterbank, log)\n"
            "  fft estimate  fftwf_execute() of an r2c plan of 2048 with FFTW_ESTIMATE,\n"
            "                the flags lec_spec uses: the baseline\n"
            "  fft measure   the same with an FFTW_MEASURE plan (what ESTIMATE gives up)\n"
            "Each is timed per call with CLOCK_MONOTONIC; median, p99 and mean are printed.\n"
            "The figure: spectrogram frame = R x a bare FFTW r2c (ratio of medians).\n"
            "Real-time factor = compute time / audio time (per frame: median / hop duration;\n"
            "offline: lec_spec_compute over the whole signal / its duration); smaller is\n"
            "better, 1 would just keep up. One thread, pinned to the CPU it starts on.\n\n"
            "options:\n"
            "  --seconds S  audio to process, 1..36000 (default 300: 6002 frames)\n"
            "  --json OUT   also write the figures to OUT as JSON\n");
}

/* S seconds of something piano-like at sr: a new chord every 0.3 s, three
 * partials per note with exponential decay, and a little noise. Only the
 * realism of "not silence, not a pure tone" matters: the cost is data-blind. */
static float *make_audio(size_t n, int sr)
{
    float *x = malloc(sizeof(float) * n);
    if (!x)
        return NULL;
    static const double midi[] = {48, 52, 55, 60, 64, 67, 72, 57, 62, 65, 69, 74};
    double hz[12];
    for (int k = 0; k < 12; k++)
        hz[k] = 440.0 * pow(2.0, (midi[k] - 69) / 12.0);
    const size_t seg = (size_t)(0.3 * sr);
    double ph[3][3] = {{0}};
    unsigned r = 1u;
    for (size_t i = 0; i < n; i++) {
        size_t chord = i / seg;
        double t = (double)(i % seg) / sr, env = exp(-4.0 * t);
        double v = 0;
        for (int k = 0; k < 3; k++) {
            double f = hz[(chord * 5 + (size_t)k * 3) % 12];
            for (int h = 0; h < 3; h++) {
                ph[k][h] += 2 * M_PI * f * (h + 1) / sr;
                if (ph[k][h] > 2 * M_PI)
                    ph[k][h] -= 2 * M_PI;
                v += env * 0.15 / (h + 1) * sin(ph[k][h]);
            }
        }
        r = r * 1664525u + 1013904223u;
        x[i] = (float)(v + 1e-3 * ((double)(r >> 8) / (1u << 24) - 0.5));
    }
    return x;
}

typedef struct {
    fftwf_plan plan;
    float *in;
    fftwf_complex *out;
} bare_fft;

static int bare_fft_init(bare_fft *b, int n, unsigned flags)
{
    b->in = fftwf_malloc(sizeof(float) * (size_t)n);
    b->out = fftwf_malloc(sizeof(fftwf_complex) * (size_t)(n / 2 + 1));
    if (!b->in || !b->out)
        return -1;
    lec_spec_fftw_lock();
    b->plan = fftwf_plan_dft_r2c_1d(n, b->in, b->out, flags);
    lec_spec_fftw_unlock();
    return b->plan ? 0 : -1;
}

static void bare_fft_free(bare_fft *b)
{
    if (b->plan) {
        lec_spec_fftw_lock();
        fftwf_destroy_plan(b->plan);
        lec_spec_fftw_unlock();
    }
    fftwf_free(b->in);
    fftwf_free(b->out);
}

static void json_stats(FILE *f, const char *name, const lec_bench_stats *s, const char *sep)
{
    fprintf(f, "  \"%s_us\": {\"median\": %.4f, \"p99\": %.4f, \"mean\": %.4f, \"min\": %.4f}%s\n",
            name, s->median * 1e6, s->p99 * 1e6, s->mean * 1e6, s->min * 1e6, sep);
}

int lec_bench_frontend(int argc, char **argv)
{
    double seconds = 300.0;
    const char *json = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            help(stdout);
            return 0;
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            seconds = strtod(argv[++i], &end);
            if (errno || *end || !(seconds >= 1.0 && seconds <= 36000.0)) {
                fprintf(stderr, "lectern bench frontend: --seconds '%s': want a number of "
                                "seconds from 1 to 36000\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            json = argv[++i];
        } else {
            fprintf(stderr, "lectern bench frontend: unexpected argument '%s'\n\n", argv[i]);
            help(stderr);
            return 2;
        }
    }

    lec_spec_config cfg;
    lec_spec_config_default(&cfg);
    const int N = cfg.frame_size, hop = cfg.hop_size;
    const size_t n = (size_t)(seconds * cfg.sample_rate);
    const size_t n_frames = n / (size_t)hop;
    const size_t warmup = 50;
    lec_error err;
    int status = 1;

    /* open the output first: a bad path should fail before minutes of work */
    lec_atomic_file af = {0};
    if (json && lec_atomic_open(&af, json, &err) != LEC_OK) {
        fprintf(stderr, "lectern bench frontend: %s\n", err.msg);
        return 1;
    }
    int cpu = lec_bench_pin_cpu();
    float *x = make_audio(n, cfg.sample_rate);
    double *t_spec = malloc(sizeof(double) * n_frames);
    double *t_est = malloc(sizeof(double) * n_frames);
    double *t_meas = malloc(sizeof(double) * n_frames);
    double *t_clock = malloc(sizeof(double) * n_frames);
    bare_fft est = {0}, meas = {0};
    lec_spec *s = lec_spec_create(&cfg, &err);
    float *frame = NULL, *offline = NULL;
    if (!s) {
        fprintf(stderr, "lectern bench frontend: %s\n", err.msg);
        goto out;
    }
    frame = malloc(sizeof(float) * (size_t)lec_spec_n_bands(s));
    if (!x || !t_spec || !t_est || !t_meas || !t_clock || !frame) {
        fprintf(stderr, "lectern bench frontend: out of memory for %.0f s of audio\n", seconds);
        goto out;
    }
    double tp = lec_now_s();
    int ok_est = bare_fft_init(&est, N, FFTW_ESTIMATE);
    double plan_est_s = lec_now_s() - tp;
    tp = lec_now_s();
    int ok_meas = bare_fft_init(&meas, N, FFTW_MEASURE);
    double plan_meas_s = lec_now_s() - tp;
    if (ok_est || ok_meas) {
        fprintf(stderr, "lectern bench frontend: FFTW could not plan an r2c of %d\n", N);
        goto out;
    }

    /* warm caches, branch predictors and the CPU clock on all three paths */
    for (size_t i = 0; i < warmup && i < n_frames; i++) {
        lec_spec_process(s, x + i * (size_t)hop, (size_t)hop, frame, 1);
        memcpy(est.in, x + (i * (size_t)hop) % (n - (size_t)N), sizeof(float) * (size_t)N);
        fftwf_execute(est.plan);
        memcpy(meas.in, est.in, sizeof(float) * (size_t)N);
        fftwf_execute(meas.plan);
    }
    lec_spec_reset(s);

    volatile float sink = 0;
    size_t produced = 0;
    for (size_t i = 0; i < n_frames; i++) {
        const float *chunk = x + i * (size_t)hop;
        double t0 = lec_now_s();
        size_t k = lec_spec_process(s, chunk, (size_t)hop, frame, 1);
        double t1 = lec_now_s();
        t_spec[i] = t1 - t0;
        produced += k;
        /* the bare FFT gets the samples the frame ended on (copy untimed) */
        size_t end = (i + 1) * (size_t)hop;
        const float *src = end >= (size_t)N ? x + end - N : x;
        memcpy(est.in, src, sizeof(float) * (size_t)N);
        memcpy(meas.in, src, sizeof(float) * (size_t)N);
        t0 = lec_now_s();
        fftwf_execute(est.plan);
        t1 = lec_now_s();
        t_est[i] = t1 - t0;
        t0 = lec_now_s();
        fftwf_execute(meas.plan);
        t1 = lec_now_s();
        t_meas[i] = t1 - t0;
        t0 = lec_now_s(); /* the timer's own cost, for scale */
        t1 = lec_now_s();
        t_clock[i] = t1 - t0;
        sink += frame[0] + est.out[7][0] + meas.out[7][1];
    }
    (void)sink;
    if (produced != n_frames) {
        fprintf(stderr, "lectern bench frontend: got %zu frames, expected %zu\n", produced,
                n_frames);
        goto out;
    }

    /* offline throughput over the same signal */
    size_t off_frames = 0;
    int off_bands = 0;
    double to = lec_now_s();
    if (lec_spec_compute(&cfg, x, n, &offline, &off_frames, &off_bands, &err) != LEC_OK) {
        fprintf(stderr, "lectern bench frontend: %s\n", err.msg);
        goto out;
    }
    double offline_s = lec_now_s() - to;

    lec_bench_stats ss = lec_bench_summarise(t_spec, n_frames);
    lec_bench_stats se = lec_bench_summarise(t_est, n_frames);
    lec_bench_stats sm = lec_bench_summarise(t_meas, n_frames);
    lec_bench_stats sc = lec_bench_summarise(t_clock, n_frames);
    const double hop_s = (double)hop / cfg.sample_rate;
    const double ratio = ss.median / se.median, ratio_p99 = ss.p99 / se.p99;
    const double rtf_frame = ss.median / hop_s, rtf_offline = offline_s / ((double)n / cfg.sample_rate);

    printf("lectern bench frontend: %d Hz, frame %d, hop %d (%.1f ms), %d bands; "
           "%.0f s of generated audio, %zu frames; ",
           cfg.sample_rate, N, hop, 1e3 * hop_s, lec_spec_n_bands(s), seconds, n_frames);
    if (cpu >= 0)
        printf("pinned to CPU %d\n", cpu);
    else
        printf("not pinned (sched_setaffinity failed)\n");
    printf("  %-34s %10s %10s %10s\n", "per frame, microseconds", "median", "p99", "mean");
    printf("  %-34s %10.2f %10.2f %10.2f\n", "spectrogram frame (lec_spec_process)",
           ss.median * 1e6, ss.p99 * 1e6, ss.mean * 1e6);
    printf("  %-34s %10.2f %10.2f %10.2f\n", "bare FFTW r2c 2048, FFTW_ESTIMATE", se.median * 1e6,
           se.p99 * 1e6, se.mean * 1e6);
    printf("  %-34s %10.2f %10.2f %10.2f\n", "bare FFTW r2c 2048, FFTW_MEASURE", sm.median * 1e6,
           sm.p99 * 1e6, sm.mean * 1e6);
    printf("  %-34s %10.3f\n", "(timer overhead per measurement)", sc.median * 1e6);
    printf("spectrogram frame = %.2fx a bare FFTW r2c of %d (median; p99 %.2fx)\n", ratio, N,
           ratio_p99);
    printf("FFTW_MEASURE would make the bare FFT %.2fx as fast as ESTIMATE (planning %.1f ms "
           "vs %.3f ms)\n",
           se.median / sm.median, plan_meas_s * 1e3, plan_est_s * 1e3);
    printf("real-time factor: streaming %.2e (median frame / %.1f ms hop: %.0fx faster than "
           "real time); offline %.2e (%.0f s in %.4f s)\n",
           rtf_frame, 1e3 * hop_s, 1.0 / rtf_frame, rtf_offline, seconds, offline_s);

    if (json) {
        FILE *f = af.fp;
        fprintf(f, "{\n  \"bench\": \"frontend\",\n");
        fprintf(f, "  \"config\": {\"sample_rate\": %d, \"frame_size\": %d, \"hop_size\": %d, "
                   "\"fmin_hz\": %g, \"fmax_hz\": %g, \"bands_per_octave\": %d, \"n_bands\": %d},\n",
                cfg.sample_rate, N, hop, (double)cfg.fmin_hz, (double)cfg.fmax_hz,
                cfg.bands_per_octave, lec_spec_n_bands(s));
        fprintf(f, "  \"seconds\": %g,\n  \"frames\": %zu,\n  \"cpu\": %d,\n", seconds, n_frames,
                cpu);
        json_stats(f, "spectrogram_frame", &ss, ",");
        json_stats(f, "fft_estimate", &se, ",");
        json_stats(f, "fft_measure", &sm, ",");
        json_stats(f, "timer_overhead", &sc, ",");
        fprintf(f, "  \"ratio_spectrogram_to_fft_median\": %.4f,\n", ratio);
        fprintf(f, "  \"ratio_spectrogram_to_fft_p99\": %.4f,\n", ratio_p99);
        fprintf(f, "  \"fft_estimate_to_measure_median\": %.4f,\n", se.median / sm.median);
        fprintf(f, "  \"plan_measure_ms\": %.3f,\n", plan_meas_s * 1e3);
        fprintf(f, "  \"rtf_streaming_median\": %.6g,\n", rtf_frame);
        fprintf(f, "  \"rtf_offline\": %.6g,\n  \"offline_s\": %.6f\n}\n", rtf_offline, offline_s);
        lec_status st = lec_atomic_commit(&af, &err); /* closes af.fp either way */
        if (st != LEC_OK) {
            fprintf(stderr, "lectern bench frontend: %s\n", err.msg);
            goto out;
        }
        printf("wrote %s\n", json);
    }
    status = 0;
out:
    if (af.fp) /* not committed: remove the temporary */
        lec_atomic_abort(&af);
    free(offline);
    free(frame);
    lec_spec_destroy(s);
    bare_fft_free(&est);
    bare_fft_free(&meas);
    free(t_spec);
    free(t_est);
    free(t_meas);
    free(t_clock);
    free(x);
    return status;
}
