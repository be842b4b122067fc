/* lectern replay -- play an audio file through the output device and follow
 * it at the same time, the highlight in sync with what is heard; or, with
 * --headless, render the frames the window would show in audio time (offline,
 * faster than real time) to a video with the audio muxed in, or PNG frames.
 *
 * Threads (window mode):
 *   PortAudio's callback  copies the preloaded audio to the device (playback.h)
 *   follower thread       feeds the follower the samples HEARD so far (the
 *                         playback clock: frames the callback has taken minus
 *                         the output latency), publishes each position
 *                         (lec_view_publish) and applies the window's
 *                         commands (lec_view_poll_command)
 *   main thread           the window (fa_window_loop): draws the latest
 *                         snapshot at the display rate, never waits for the
 *                         follower.
 * Headless mode has no clock and no device: frame k shows audio time k / fps,
 * with the follower fed exactly the samples up to that time. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "follow_app.h"
#include "lec_devices.h"
#include "lec_util.h"
#include "playback.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: lectern replay BUNDLE AUDIO --model M [options]\n\n"
               "Plays AUDIO (a file, or the name of one of the bundle's renderings) through\n"
               "the audio output and follows it at the same time: the window shows the\n"
               "bundle's pages with the followed position as a red bar, in sync with what\n"
               "is heard (the follower is fed from the playback clock, output latency\n"
               "compensated). Window keys: space pause (the audio too), Left/Right one\n"
               "system back/forward, Home restart from the beginning, R relocalise, click a\n"
               "system to move there, F fullscreen, Q quit.\n"
               "With --headless: no window and no audio device; the frames are rendered in\n"
               "audio time (faster than real time) to --record OUT.\n\n"
               "options:\n"
               "  --device D        audio output device (index or part of its name; see\n"
               "                    `lectern devices`) [the default output]\n");
    fa_help_common(f);
    fprintf(f, "\nExit status: 0 ok, 1 error, 2 usage, %d no display / no audio device.\n",
            FA_EXIT_NO_ENV);
}

static volatile int g_stop = 0;
static void on_sigint(int s)
{
    (void)s;
    g_stop = 1;
}

/* fa_feed, with a failure reported here (on the follower's thread). */
static int feed(fa_ctx *c, const float *x, size_t n, lec_follow_out *last, const char *cmd,
                lec_view *publish_to, uint32_t flags)
{
    lec_error err = {0};
    int got = fa_feed(c, x, n, last, publish_to, flags, &err);
    if (got < 0)
        fprintf(stderr, "lectern %s: %s\n", cmd, err.msg);
    return got;
}

/* --- headless: offline, in audio time --- */
static int run_headless(fa_ctx *c, fa_opts *o, const char *audio_path, const float *x, size_t n)
{
    lec_error err = {0};
    int rc = 0;
    const int sr = c->sample_rate;
    double end_s = (double)n / sr;
    if (o->until_s > 0 && o->until_s < end_s)
        end_s = o->until_s;
    lec_view_record *rec = NULL;
    char fallback[4200];
    const char *record = o->record;
    if (record) {
        rec = fa_record_create(c, o, record, audio_path, &err);
        if (!rec && err.code == LEC_EEXTERNAL && strstr(err.msg, "ffmpeg is not installed")) {
            /* no ffmpeg: the frames are still worth having */
            snprintf(fallback, sizeof fallback, "%s.frames", record);
            fprintf(stderr, "lectern %s: %s\nlectern %s: writing PNG frames to %s instead\n",
                    o->cmd, err.msg, o->cmd, fallback);
            record = fallback;
            rec = fa_record_create(c, o, record, audio_path, &err);
        }
        if (!rec) {
            fprintf(stderr, "lectern %s: %s\n", o->cmd, err.msg);
            return 1;
        }
    }
    lec_follow_out last;
    lec_follower_position(c->follower, &last);
    int64_t n_frames = (int64_t)(end_s * o->fps + 1e-9) + 1;
    size_t fed = 0;
    lec_progress prog;
    lec_progress_begin(&prog, "following and rendering", n_frames);
    double t0 = lec_now_s();
    for (int64_t k = 0; k < n_frames && !g_stop; k++) {
        double t = (double)k / o->fps;
        size_t target = (size_t)(t * sr + 0.5);
        target = target < n ? target : n;
        if (target > fed) {
            if (feed(c, x + fed, target - fed, &last, o->cmd, NULL, 0) < 0) {
                rc = 1;
                break;
            }
            fed = target;
        }
        lec_view_pos pos;
        fa_out_to_pos(&last, k == n_frames - 1 ? LEC_VIEW_POS_FINISHED : 0u, &pos);
        /* before the first frame of audio the follower's prior is shown at t */
        pos.time_s = t;
        lec_view_publish(c->view, &pos);
        if (rec && lec_view_record_frame(rec, &err) != LEC_OK) {
            fprintf(stderr, "lectern %s: %s\n", o->cmd, err.msg);
            rc = 1;
            break;
        }
        rc |= fa_headless_shots(c, o, &pos);
        lec_progress_update(&prog, k + 1, NULL);
    }
    lec_progress_end(&prog, NULL);
    if (g_stop)
        fprintf(stderr, "lectern %s: interrupted; frames written so far are kept\n", o->cmd);
    return fa_record_finish(rec, o, rc, record, end_s, t0);
}

/* --- window: the follower thread, fed from the playback clock --- */
typedef struct replay_thread {
    fa_ctx *c;
    const fa_opts *o;
    lec_playback *pb;
    const float *x; /* model-rate audio */
    size_t n;       /* samples to play (to --until) */
    double ratio;   /* model rate / device rate */
    atomic_int stop, finished, failed;
} replay_thread;

static void *replay_main(void *arg)
{
    replay_thread *rt = arg;
    fa_ctx *c = rt->c;
    size_t fed = 0;
    int paused = 0;
    lec_follow_out last;
    lec_follower_position(c->follower, &last);
    lec_view_pos pos;
    fa_out_to_pos(&last, 0, &pos);
    pos.time_s = 0;
    lec_view_publish(c->view, &pos);
    while (!atomic_load(&rt->stop)) {
        lec_view_cmd cmd;
        while (lec_view_poll_command(c->view, &cmd)) {
            unsigned act = fa_apply_command(c->follower, &cmd, &paused);
            if (act & FA_ACT_PAUSE)
                lec_playback_set_paused(rt->pb, paused);
            if (act & FA_ACT_RESTART) {
                /* the audio starts again: a new stream for the follower */
                lec_playback_seek(rt->pb, 0);
                lec_follower_reset(c->follower);
                fed = 0;
                atomic_store(&rt->finished, 0);
            }
            if (act & FA_ACT_QUIT)
                atomic_store(&rt->stop, 1);
            /* show the effect of a command at once, even while paused */
            lec_follower_position(c->follower, &last);
            fa_out_to_pos(&last, paused ? LEC_VIEW_POS_PAUSED : 0u, &pos);
            lec_view_publish(c->view, &pos);
        }
        int64_t heard = lec_playback_heard_frames(rt->pb);
        size_t target = (size_t)((double)heard * rt->ratio + 0.5);
        target = target < rt->n ? target : rt->n;
        int fin = target >= rt->n;
        uint32_t flags = (paused ? LEC_VIEW_POS_PAUSED : 0u) | (fin ? LEC_VIEW_POS_FINISHED : 0u);
        if (target > fed) {
            if (feed(c, rt->x + fed, target - fed, &last, rt->o->cmd, c->view, flags) < 0) {
                atomic_store(&rt->failed, 1);
                break;
            }
            fed = target;
        }
        if (fin && !atomic_load(&rt->finished)) {
            fa_out_to_pos(&last, flags, &pos);
            lec_view_publish(c->view, &pos);
            atomic_store(&rt->finished, 1);
        }
        struct timespec ts = {0, 2 * 1000 * 1000}; /* 2 ms: << the ~46 ms hop */
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static int run_window(fa_ctx *c, fa_opts *o, const char *audio_path, const float *x, size_t n)
{
    lec_error err = {0};
    lec_audio_silence_backend_logs();
    lec_playback *pb = lec_playback_create(o->device, c->sample_rate, &err);
    if (!pb) {
        fprintf(stderr,
                "lectern %s: %s\n"
                "  `lectern devices` lists the devices; without audio output use: --headless "
                "--record OUT.mp4|DIR\n",
                o->cmd, err.msg);
        return FA_EXIT_NO_ENV;
    }
    const int dev_rate = lec_playback_rate_hz(pb);
    float *xd = NULL; /* the audio at the device's rate, if it is not the model's */
    size_t nd = n;
    if (dev_rate != c->sample_rate) {
        xd = fa_read_audio(audio_path, dev_rate, &nd, o->cmd);
        if (!xd) {
            lec_playback_destroy(pb);
            return 1;
        }
    }
    size_t n_play = n;
    if (o->until_s > 0 && o->until_s * c->sample_rate < (double)n)
        n_play = (size_t)(o->until_s * c->sample_rate);
    if (lec_view_window_open(c->view, &err) != LEC_OK) {
        fprintf(stderr,
                "lectern %s: %s\n  to render without a display use: --headless --record "
                "OUT.mp4|DIR\n",
                o->cmd, err.msg);
        lec_playback_destroy(pb);
        free(xd);
        return FA_EXIT_NO_ENV;
    }
    replay_thread rt = {.c = c,
                        .o = o,
                        .pb = pb,
                        .x = x,
                        .n = n_play,
                        .ratio = (double)c->sample_rate / dev_rate};
    atomic_init(&rt.stop, 0);
    atomic_init(&rt.finished, 0);
    atomic_init(&rt.failed, 0);
    int rc = 1;
    pthread_t th;
    if (pthread_create(&th, NULL, replay_main, &rt) != 0) {
        fprintf(stderr, "lectern %s: cannot start the follower thread\n", o->cmd);
        lec_view_window_close(c->view);
        goto out;
    }
    size_t n_dev = xd ? nd : n;
    if (o->until_s > 0 && o->until_s * dev_rate < (double)n_dev)
        n_dev = (size_t)(o->until_s * dev_rate);
    if (lec_playback_start(pb, xd ? xd : x, n_dev, &err) != LEC_OK) {
        fprintf(stderr, "lectern %s: %s\n", o->cmd, err.msg);
        atomic_store(&rt.stop, 1);
        pthread_join(th, NULL);
        lec_view_window_close(c->view);
        rc = FA_EXIT_NO_ENV;
        goto out;
    }
    fprintf(stderr, "lectern %s: playing %s on '%s' (%d Hz, output latency %.0f ms)\n", o->cmd,
            audio_path, lec_playback_device_name(pb), dev_rate, lec_playback_latency_s(pb) * 1e3);
    rc = fa_window_loop(c, o, &rt.finished, &rt.failed, &g_stop);
    atomic_store(&rt.stop, 1);
    pthread_join(th, NULL);
    if (atomic_load(&rt.failed))
        rc = 1;
    if (lec_playback_underflows(pb))
        fprintf(stderr, "lectern %s: the audio output ran dry %llu times (gaps were heard)\n",
                o->cmd, (unsigned long long)lec_playback_underflows(pb));
out:
    lec_playback_destroy(pb);
    free(xd);
    return rc;
}

int lec_replay_run(fa_opts *o, const char *audio)
{
    /* audio "": the bundle's first rendering */
    if (fa_check_opts(o) != 0)
        return 2;
    fa_ctx c;
    int rc = 1;
    float *x = NULL;
    if (fa_load(&c, o, 0) != 0)
        goto done;
    /* AUDIO: a file, else the name of one of the bundle's renderings */
    char path[4400];
    snprintf(path, sizeof path, "%s", audio);
    if (!*audio || access(path, F_OK) != 0) {
        const lec_piece_rendering *r = lec_piece_renderings(c.piece);
        int found = 0;
        for (size_t i = 0; i < lec_piece_n_renderings(c.piece) && !found; i++)
            if (!*audio || strcmp(r[i].name, audio) == 0) {
                lec_piece_path(c.piece, r[i].audio, path, sizeof path);
                found = 1;
            }
        if (!found) {
            if (*audio)
                fprintf(stderr, "lectern %s: %s: no such audio file (nor a rendering of %s)\n",
                        o->cmd, audio, o->bundle);
            else
                fprintf(stderr, "lectern %s: %s has no rendering to play\n", o->cmd, o->bundle);
            goto done;
        }
    }
    size_t n = 0;
    x = fa_read_audio(path, c.sample_rate, &n, o->cmd);
    if (!x)
        goto done;
    if (fa_log_alloc(&c, o, n / c.hop + 64) != 0)
        goto done;
    signal(SIGINT, on_sigint);
    rc = o->headless ? run_headless(&c, o, path, x, n) : run_window(&c, o, path, x, n);
    rc |= rc == 0 ? fa_shots_missing(o) : 0;
    if (o->log_path && rc != FA_EXIT_NO_ENV && fa_log_write(&c.log, o->log_path, o->cmd) != 0)
        rc = 1;
done:
    free(x);
    fa_unload(&c);
    return rc;
}

int lec_cmd_replay(int argc, char **argv)
{
    if (lec_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    fa_opts o;
    const char *pos[2]; /* BUNDLE AUDIO */
    int st = fa_parse_cmdline(&o, "replay", argc, argv, usage, pos, 2, NULL, NULL);
    if (st >= 0)
        return st;
    o.bundle = pos[0];
    return lec_replay_run(&o, pos[1]);
}
