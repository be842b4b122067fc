/* bench_latency.c -- `lectern bench latency`: how long after an audio sample
 * enters the capture callback the position that includes it is on screen.
 *
 * The live path of `lectern follow`, with a synthetic callback driver in
 * place of the sound card (so the times a sample arrives are known exactly,
 * on any machine):
 *   driver thread    every period (P frames at the model's rate) writes the
 *                    next P samples of a rendering into the same lock-free
 *                    ring the PortAudio capture callback fills
 *                    (engine/audio/lec_ring.h) and notes the time: the
 *                    moment those samples "enter the capture callback";
 *   follower thread  as in cmd_follow.c: polls the ring (2 ms sleeps when
 *                    empty, as lec_source's capture read), runs the follower
 *                    and publishes each frame's position (lec_view_publish);
 *   main thread      the window: draws the latest snapshot and presents it
 *                    (frame-rate cap as `follow`); a frame's position counts
 *                    as drawn when a present returns showing it or a later
 *                    frame.
 * For each follower frame one sample, at a random offset within the frame's
 * hop, is followed; its latency splits exactly into
 *   hop        waiting for the rest of the frame's audio (the last period
 *              holding the frame's last sample);
 *   buffering  that period in the ring until the follower thread reads it;
 *   network    the follower's work until the frame's position is out
 *              (spectrogram, network, tracker; all frames of one read);
 *   render     from then until a present returns showing it: waiting for
 *              the render loop's next frame (wait; may be slightly negative
 *              when the snapshot is read just after the draw started), then
 *              drawing and presenting (draw).
 * Not included: the sound card's own input buffering before its callback
 * (PortAudio reports it per device: `lectern follow` prints it) and the
 * display's scan-out after the present.
 * Reported as ratios too: each part's share of the total and the total in
 * follower hops, so the figure travels across machines. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "commands.h"
#include "follow_app.h"
#include "lec_ring.h"
#include "lec_util.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: lectern bench latency [BUNDLE] [options]\n\n"
            "Latency from an audio sample entering the capture callback to the position\n"
            "that includes it being on screen (a present of the window), with a synthetic\n"
            "callback driver feeding a rendering of BUNDLE in real time through the capture\n"
            "ring, the follower on its thread and the window on the main thread: median\n"
            "and p99 in ms, split into hop / buffering / network / render.\n"
            "Needs a display (under CI: xvfb-run lectern bench latency).\n\n"
            "options:\n"
            "  BUNDLE            piece bundle with a rendering [the demo piece]\n"
            "  --model M         model file [models/lectern.lnm if present, else a random\n"
            "                    network of the default architecture: the same cost]\n"
            "  --seconds S       audio to play [10]\n"
            "  --period N        frames per callback period [256]\n"
            "  --fps N           the window's frame-rate cap [60]\n"
            "  --no-oracle       keep the network's own (untrained: lost, scanning) output;\n"
            "                    by default the network runs for its cost and the tracker is\n"
            "                    then fed the ground truth, so it tracks (1-3 windows per\n"
            "                    frame) as it does on stage\n");
}

typedef struct lat_run {
    fa_ctx *c;
    lec_ring *ring;
    const float *x;
    size_t n;      /* samples to play */
    size_t period; /* frames per driver period */
    double *t_in;  /* (n_blocks) time block b entered the ring */
    size_t n_blocks;
    double *t_read, *t_done; /* (n_frames) last sample read / position out */
    size_t n_frames;
    atomic_int driver_done, follower_done, stop, failed;
    lec_error err;
} lat_run;

static void sleep_until(double t)
{
    double now = lec_now_s();
    if (t <= now)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double tt = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec + (t - now);
    ts.tv_sec = (time_t)tt;
    ts.tv_nsec = (long)((tt - (double)ts.tv_sec) * 1e9);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

static void *driver_main(void *arg)
{
    lat_run *r = arg;
    double sr = r->c->sample_rate, t0 = lec_now_s() + 0.1;
    for (size_t b = 0; b < r->n_blocks && !atomic_load(&r->stop); b++) {
        size_t off = b * r->period, k = r->n - off < r->period ? r->n - off : r->period;
        /* a callback is called once its period has been recorded */
        sleep_until(t0 + (double)((b + 1) * r->period) / sr);
        r->t_in[b] = lec_now_s();
        lec_ring_write(r->ring, r->x + off, k);
    }
    atomic_store(&r->driver_done, 1);
    return NULL;
}

static void *follower_main(void *arg)
{
    lat_run *r = arg;
    fa_ctx *c = r->c;
    float buf[4096];
    lec_follow_out outs[8];
    for (;;) {
        int driver_done = atomic_load(&r->driver_done);
        size_t got = lec_ring_read(r->ring, buf, 4096);
        if (got == 0) {
            if (driver_done || atomic_load(&r->stop))
                break;
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        double t_read = lec_now_s();
        const float *x = buf;
        while (got > 0) {
            size_t used = 0;
            int k = lec_follower_process(c->follower, x, got, &used, outs, 8, &r->err);
            if (k < 0) {
                atomic_store(&r->failed, 1);
                atomic_store(&r->follower_done, 1);
                return NULL;
            }
            double t_done = lec_now_s();
            for (int i = 0; i < k; i++) {
                size_t f = (size_t)outs[i].frame;
                if (f < r->n_frames) {
                    r->t_read[f] = t_read;
                    r->t_done[f] = t_done;
                }
            }
            if (k > 0) {
                lec_view_pos pos;
                fa_out_to_pos(&outs[k - 1], 0, &pos);
                lec_view_publish(c->view, &pos);
            }
            x += used;
            got -= used;
        }
    }
    atomic_store(&r->follower_done, 1);
    return NULL;
}

static void report(const char *what, double *v, size_t n, double total_mean)
{
    double mean = 0;
    for (size_t i = 0; i < n; i++)
        mean += v[i];
    mean = n ? mean / (double)n : 0;
    lec_bench_stats s = lec_bench_summarise(v, n);
    printf("  %-10s median %7.2f ms  p99 %7.2f ms  mean %7.2f ms", what, s.median * 1e3,
           s.p99 * 1e3, mean * 1e3);
    if (total_mean > 0)
        printf("  (%4.1f%% of the total)", 100.0 * mean / total_mean);
    printf("\n");
}

int lec_bench_latency(int argc, char **argv)
{
    if (lec_wants_help(argc, argv)) {
        help(stdout);
        return 0;
    }
    fa_opts o;
    fa_opts_default(&o, "bench latency");
    o.w = 800;
    o.h = 600;
    double fps = 60; /* the render loop's cap, as `follow`'s window */
    o.allow_default_model = 1;
    o.oracle_after_network = 1;
    double seconds = 10;
    long period = 256;
    int no_oracle = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end = NULL;
        if (!strcmp(a, "--model") && i + 1 < argc) {
            o.model = argv[++i];
        } else if (!strcmp(a, "--seconds") && i + 1 < argc) {
            seconds = strtod(argv[++i], &end);
            if (*end || !(seconds >= 2 && seconds <= 3600)) {
                fprintf(stderr, "lectern bench latency: --seconds must be in [2, 3600]\n");
                return 2;
            }
        } else if (!strcmp(a, "--period") && i + 1 < argc) {
            period = strtol(argv[++i], &end, 10);
            if (*end || period < 16 || period > 8192) {
                fprintf(stderr, "lectern bench latency: --period must be in [16, 8192] frames\n");
                return 2;
            }
        } else if (!strcmp(a, "--fps") && i + 1 < argc) {
            fps = strtod(argv[++i], &end);
            if (*end || !(fps > 0 && fps <= 240)) {
                fprintf(stderr, "lectern bench latency: --fps must be in (0, 240]\n");
                return 2;
            }
        } else if (!strcmp(a, "--no-oracle")) {
            no_oracle = 1;
        } else if (a[0] != '-' && !o.bundle) {
            o.bundle = a;
        } else {
            fprintf(stderr, "lectern bench latency: bad argument %s\n", a);
            help(stderr);
            return 2;
        }
    }
    char bundle[4200], model[4200], where[8192];
    int have_demo = lec_demo_find(NULL, bundle, sizeof bundle, model, sizeof model, where,
                                  sizeof where) == 0;
    if (!o.bundle) {
        if (!have_demo) {
            fprintf(stderr, "lectern bench latency: no BUNDLE given and no demo piece in:%s\n",
                    where);
            return 2;
        }
        o.bundle = bundle;
    }
    FILE *probe = !o.model && have_demo ? fopen(model, "rb") : NULL;
    if (probe) {
        fclose(probe);
        o.model = model;
    }

    /* the rendering to play: the bundle's first */
    lec_error err = {0};
    lec_piece *p = lec_piece_load(o.bundle, &err);
    if (!p || lec_piece_n_renderings(p) == 0) {
        fprintf(stderr, "lectern bench latency: %s\n", p ? "the bundle has no rendering" : err.msg);
        lec_piece_destroy(p);
        return 1;
    }
    char rname[64], audio[4400];
    snprintf(rname, sizeof rname, "%s", lec_piece_renderings(p)[0].name);
    lec_piece_path(p, lec_piece_renderings(p)[0].audio, audio, sizeof audio);
    lec_piece_destroy(p);
    if (!no_oracle)
        o.oracle = rname;

    /* lec_view_window_present sleeps AFTER presenting to cap the frame rate;
     * its timestamp would include that sleep. So the view gets no cap and
     * this loop sleeps after taking the present's time (same loop shape as
     * `follow`: events, draw, present, sleep to the next 1/fps slot). */
    o.fps = 1000;
    fa_ctx c;
    lat_run r;
    memset(&r, 0, sizeof r);
    float *x = NULL;
    int rc = 1;
    if (fa_load(&c, &o, 0) != 0)
        goto out;
    size_t n = 0;
    x = fa_read_audio(audio, c.sample_rate, &n, o.cmd);
    if (!x)
        goto out;
    if ((double)n > seconds * c.sample_rate)
        n = (size_t)(seconds * c.sample_rate);
    r.c = &c;
    r.x = x;
    r.n = n;
    r.period = (size_t)period;
    r.n_blocks = (n + r.period - 1) / r.period;
    r.n_frames = n / c.hop + 1;
    r.t_in = calloc(r.n_blocks, sizeof(double));
    r.t_read = calloc(r.n_frames, sizeof(double));
    r.t_done = calloc(r.n_frames, sizeof(double));
    double *t_shown = calloc(r.n_frames * 2, sizeof(double));
    double *t_drawn = t_shown + r.n_frames; /* start of the draw that first showed it */
    r.ring = lec_ring_create((size_t)c.sample_rate * 2, &err);
    if (!r.t_in || !r.t_read || !r.t_done || !t_shown || !r.ring) {
        fprintf(stderr, "lectern bench latency: %s\n", r.ring ? "out of memory" : err.msg);
        free(t_shown);
        goto out;
    }
    if (lec_view_window_open(c.view, &err) != LEC_OK) {
        fprintf(stderr,
                "lectern bench latency: %s\n  the benchmark measures the window's present; "
                "under CI use: xvfb-run lectern bench latency\n",
                err.msg);
        free(t_shown);
        rc = FA_EXIT_NO_ENV;
        goto out;
    }
    const lec_model_info *mi = lec_follow_model_info(c.model);
    printf("bench latency: %s, %.1f s of '%s'; model %s; %s\n", o.bundle, (double)n / c.sample_rate,
           rname, lec_follow_model_name(c.model),
           no_oracle ? "network output as is" : "network run for its cost, tracker fed the truth");
    printf("  sample rate %d Hz, hop %d (%.1f ms), callback period %ld (%.1f ms), window %dx%d "
           "capped at %g fps\n",
           c.sample_rate, mi->hop_size, 1e3 * mi->hop_size / c.sample_rate, period,
           1e3 * (double)period / c.sample_rate, o.w, o.h, fps);
    atomic_init(&r.driver_done, 0);
    atomic_init(&r.follower_done, 0);
    atomic_init(&r.stop, 0);
    atomic_init(&r.failed, 0);
    pthread_t th_d, th_f;
    int have_f = pthread_create(&th_f, NULL, follower_main, &r) == 0;
    int have_d = have_f && pthread_create(&th_d, NULL, driver_main, &r) == 0;
    if (!have_d)
        atomic_store(&r.stop, 1);
    long long shown_upto = -1;
    double next_slot = 0;
    int quit = 0;
    while (have_d && !quit) {
        if (lec_view_window_events(c.view, &quit, &err) != LEC_OK) {
            fprintf(stderr, "lectern bench latency: %s\n", err.msg);
            break;
        }
        lec_view_pos drawn;
        double t_d = lec_now_s();
        if (lec_view_window_draw(c.view, &drawn, &err) != LEC_OK) {
            fprintf(stderr, "lectern bench latency: %s\n", err.msg);
            break;
        }
        int fin = atomic_load(&r.follower_done); /* before the present: all frames are out */
        lec_view_window_present(c.view);
        double t_p = lec_now_s();
        if (next_slot == 0 || t_p > next_slot + 1.0 / fps)
            next_slot = t_p;
        next_slot += 1.0 / fps;
        sleep_until(next_slot);
        if (drawn.valid)
            for (long long f = shown_upto + 1; f <= drawn.frame && f < (long long)r.n_frames; f++)
                t_shown[f] = t_p, t_drawn[f] = t_d;
        if (drawn.valid && drawn.frame > shown_upto)
            shown_upto = drawn.frame;
        if (fin && shown_upto >= lec_follower_frames_done(c.follower) - 1)
            break;
    }
    atomic_store(&r.stop, 1);
    if (have_d)
        pthread_join(th_d, NULL);
    if (have_f)
        pthread_join(th_f, NULL);
    lec_view_window_close(c.view);
    if (atomic_load(&r.failed)) {
        fprintf(stderr, "lectern bench latency: %s\n", r.err.msg);
        free(t_shown);
        goto out;
    }

    /* one sample per frame, at a pseudo-random offset in its hop; the first
     * second is left out (start-up: first frames, window mapping) */
    double *tot = malloc(sizeof(double) * r.n_frames * 7);
    if (!tot) {
        free(t_shown);
        goto out;
    }
    double *hop = tot + r.n_frames, *buf = hop + r.n_frames, *net = buf + r.n_frames,
           *ren = net + r.n_frames, *ren_wait = ren + r.n_frames, *ren_draw = ren_wait + r.n_frames;
    size_t m = 0, skip = (size_t)(lec_follow_model_fps(c.model));
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (size_t f = skip; f < r.n_frames; f++) {
        size_t last = (f + 1) * c.hop - 1;
        if (last >= n || t_shown[f] == 0 || r.t_done[f] == 0)
            continue;
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        size_t s = f * c.hop + (size_t)((rng >> 33) % c.hop);
        double t_s = r.t_in[s / r.period], t_last = r.t_in[last / r.period];
        hop[m] = t_last - t_s;
        buf[m] = r.t_read[f] - t_last;
        net[m] = r.t_done[f] - r.t_read[f];
        ren[m] = t_shown[f] - r.t_done[f];
        ren_wait[m] = t_drawn[f] - r.t_done[f];
        ren_draw[m] = t_shown[f] - t_drawn[f];
        tot[m] = t_shown[f] - t_s;
        m++;
    }
    if (m < 10) {
        fprintf(stderr, "lectern bench latency: only %zu frames measured\n", m);
        free(tot);
        free(t_shown);
        goto out;
    }
    double mean = 0;
    for (size_t i = 0; i < m; i++)
        mean += tot[i];
    mean /= (double)m;
    double hop_s = (double)c.hop / c.sample_rate;
    printf("latency of a sample from the capture callback to the present showing it (%zu frames):\n",
           m);
    report("hop", hop, m, mean);
    report("buffering", buf, m, mean);
    report("network", net, m, mean);
    report("render", ren, m, mean);
    report(" = wait", ren_wait, m, mean);
    report(" + draw", ren_draw, m, mean);
    lec_bench_stats s = lec_bench_summarise(tot, m);
    printf("  %-10s median %7.2f ms  p99 %7.2f ms  mean %7.2f ms  = %.2f / %.2f hops (median/p99)\n",
           "TOTAL", s.median * 1e3, s.p99 * 1e3, mean * 1e3, s.median / hop_s, s.p99 / hop_s);
    if (lec_ring_overflows(r.ring))
        printf("  (the ring overflowed %llu times: the follower fell behind)\n",
               (unsigned long long)lec_ring_overflows(r.ring));
    printf("(not included: the sound card's input buffer before its callback, the display's "
           "scan-out)\n");
    free(tot);
    free(t_shown);
    rc = 0;
out:
    lec_ring_destroy(r.ring);
    free(r.t_in);
    free(r.t_read);
    free(r.t_done);
    free(x);
    fa_unload(&c);
    return rc;
}
