/* lectern follow -- listen to the microphone and show the current position in
 * the score live.
 *
 * Threads:
 *   PortAudio's callback  capture: mixes to mono into a lock-free ring
 *                         (engine/audio/lec_source_capture.c), nothing else
 *   follower thread       drains the ring (lec_source_read, resampled to the
 *                         model's rate), runs the follower frame by frame,
 *                         publishes each position (lec_view_publish, a
 *                         seqlock: never waits) and applies the window's
 *                         commands (lec_view_poll_command, an SPSC queue)
 *   main thread           the window (fa_window_loop) or, headless, the
 *                         recording: renders the latest snapshot at the
 *                         frame rate and never blocks the follower.
 * Pause (space) keeps draining the device but feeds nothing, so the position
 * holds and the ring never overflows. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "follow_app.h"
#include "lec_devices.h"
#include "lec_source.h"
#include "lec_util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: lectern follow BUNDLE --model M [options]\n\n"
               "Listens to the audio input (a microphone near the piano) and shows the\n"
               "bundle's pages with the current position as a red bar on the current\n"
               "system, turning pages ahead of the music. Window keys: space pause/resume,\n"
               "Left/Right one system back/forward, Home restart (back to the start), R\n"
               "relocalise (search the whole score), click a system to move there, F\n"
               "fullscreen (stage mode), Q quit.\n\n"
               "options:\n"
               "  --device D        audio input device (index or part of its name; see\n"
               "                    `lectern devices`) [the default input]\n");
    fa_help_common(f);
    fprintf(f, "  (without --until it runs until Q, the window is closed or Ctrl-C)\n"
               "\nExit status: 0 ok, 1 error, 2 usage, %d no display / no audio device.\n",
            FA_EXIT_NO_ENV);
}

static volatile int g_stop = 0;
static void on_sigint(int s)
{
    (void)s;
    g_stop = 1;
}

typedef struct follow_thread {
    fa_ctx *c;
    lec_source *src;
    double until_s;
    atomic_int stop, finished, failed;
    lec_error err; /* written by the thread before it sets failed */
} follow_thread;

#define READ_MAX 2048 /* samples per read, ~93 ms at 22050 Hz */

static void *follow_main(void *arg)
{
    follow_thread *ft = arg;
    fa_ctx *c = ft->c;
    float buf[READ_MAX];
    lec_follow_out last;
    lec_follower_position(c->follower, &last);
    int paused = 0;
    const double sr = c->sample_rate;
    uint64_t until = ft->until_s > 0 ? (uint64_t)(ft->until_s * sr) : UINT64_MAX;
    while (!atomic_load(&ft->stop)) {
        lec_view_cmd cmd;
        int changed = 0;
        while (lec_view_poll_command(c->view, &cmd)) {
            unsigned act = fa_apply_command(c->follower, &cmd, &paused);
            if (act & FA_ACT_QUIT)
                atomic_store(&ft->stop, 1);
            changed = 1;
        }
        if (changed) { /* show a command's effect at once, even while paused */
            lec_follower_position(c->follower, &last);
            lec_view_pos pos;
            fa_out_to_pos(&last, paused ? LEC_VIEW_POS_PAUSED : 0u, &pos);
            lec_view_publish(c->view, &pos);
        }
        uint64_t have = lec_source_samples_read(ft->src);
        size_t want = until - have < READ_MAX ? (size_t)(until - have) : READ_MAX;
        if (want == 0) {
            atomic_store(&ft->finished, 1);
            lec_view_pos pos;
            fa_out_to_pos(&last, LEC_VIEW_POS_FINISHED, &pos);
            lec_view_publish(c->view, &pos);
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        size_t got = 0;
        if (lec_source_read(ft->src, buf, want, &got, 50, &ft->err) != LEC_OK) {
            atomic_store(&ft->failed, 1);
            break;
        }
        if (paused)
            continue; /* drained, not heard */
        if (fa_feed(c, buf, got, &last, c->view, 0, &ft->err) < 0) {
            atomic_store(&ft->failed, 1);
            return NULL;
        }
    }
    return NULL;
}

/* Headless: render the latest snapshot at the frame rate in real time. */
static int run_headless(fa_ctx *c, fa_opts *o, follow_thread *ft)
{
    lec_error err = {0};
    int rc = 0;
    lec_view_record *rec = NULL;
    if (o->record) {
        rec = fa_record_create(c, o, o->record, NULL, &err);
        if (!rec) {
            fprintf(stderr, "lectern %s: %s\n", o->cmd, err.msg);
            return 1;
        }
    }
    double t0 = lec_now_s();
    for (int64_t k = 0; !g_stop && !atomic_load(&ft->failed); k++) {
        double wait = t0 + (double)k / o->fps - lec_now_s();
        if (wait > 0) {
            struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
        }
        int fin = atomic_load(&ft->finished);
        lec_view_pos pos;
        if (lec_view_latest(c->view, &pos))
            rc |= fa_headless_shots(c, o, &pos);
        if (rec && lec_view_record_frame(rec, &err) != LEC_OK) {
            fprintf(stderr, "lectern %s: %s\n", o->cmd, err.msg);
            rc = 1;
            break;
        }
        if (fin)
            break;
    }
    return fa_record_finish(rec, o, rc, o->record, -1, 0);
}

int lec_cmd_follow(int argc, char **argv)
{
    if (lec_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    fa_opts o;
    int st = fa_parse_cmdline(&o, "follow", argc, argv, usage, &o.bundle, 1, NULL, NULL);
    if (st >= 0)
        return st;
    if (fa_check_opts(&o) != 0)
        return 2;
    fa_ctx c;
    lec_source *src = NULL;
    int rc = 1;
    /* room for the log: --until, else an hour (the rest is counted, not kept) */
    double log_s = o.until_s > 0 ? o.until_s : 3600.0;
    if (fa_load(&c, &o, (size_t)(log_s * 50.0) + 64) != 0)
        goto done;
    lec_error err = {0};
    lec_audio_silence_backend_logs();
    lec_source_config scfg;
    lec_source_config_default(&scfg);
    scfg.kind = LEC_SOURCE_CAPTURE;
    scfg.device = o.device;
    scfg.sample_rate = c.sample_rate;
    src = lec_source_create(&scfg, &err);
    if (!src) {
        fprintf(stderr,
                "lectern follow: %s\n  `lectern devices` lists the audio devices; --device D "
                "picks one\n",
                err.msg);
        rc = err.code == LEC_EDEVICE ? FA_EXIT_NO_ENV : 1;
        goto done;
    }
    if (!o.headless && lec_view_window_open(c.view, &err) != LEC_OK) {
        fprintf(stderr,
                "lectern follow: %s\n  to run without a display use: --headless --record "
                "OUT.mp4|DIR (or --log FILE.csv)\n",
                err.msg);
        rc = FA_EXIT_NO_ENV;
        goto done;
    }
    fprintf(stderr, "lectern follow: listening on '%s' (%.0f Hz, input latency %.0f ms)\n",
            lec_source_name(src), lec_source_input_rate_hz(src),
            lec_source_input_latency_s(src) * 1e3);
    follow_thread ft = {.c = &c, .src = src, .until_s = o.until_s};
    atomic_init(&ft.stop, 0);
    atomic_init(&ft.finished, 0);
    atomic_init(&ft.failed, 0);
    signal(SIGINT, on_sigint);
    pthread_t th;
    if (pthread_create(&th, NULL, follow_main, &ft) != 0) {
        fprintf(stderr, "lectern follow: cannot start the follower thread\n");
        lec_view_window_close(c.view);
        goto done;
    }
    if (o.headless)
        rc = run_headless(&c, &o, &ft);
    else
        rc = fa_window_loop(&c, &o, &ft.finished, &ft.failed, &g_stop);
    atomic_store(&ft.stop, 1);
    pthread_join(th, NULL);
    if (atomic_load(&ft.failed)) {
        fprintf(stderr, "lectern follow: %s\n", ft.err.msg);
        rc = 1;
    }
    if (lec_source_overflows(src))
        fprintf(stderr, "lectern follow: %llu samples were lost (the follower fell behind %llu "
                        "times)\n",
                (unsigned long long)lec_source_dropped_samples(src),
                (unsigned long long)lec_source_overflows(src));
    rc |= rc == 0 ? fa_shots_missing(&o) : 0;
    if (o.log_path && fa_log_write(&c.log, o.log_path, o.cmd) != 0)
        rc = 1;
done:
    lec_source_destroy(src);
    fa_unload(&c);
    return rc;
}
