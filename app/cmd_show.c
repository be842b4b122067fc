/* lectern show -- a bundle's pages with a rendering's TRUE position (the
 * "oracle follower": ground truth replayed in real time), in a window or
 * rendered headless to PNG frames / a video. For checking bundles and their
 * ground truth by eye, and the vehicle of the viewer's tests.
 *
 * Threads (window mode): the main thread runs the viewer (SDL wants video on
 * the main thread); an oracle thread plays the follower's part: it publishes
 * a position every 20 ms through lec_view_publish and applies the user's
 * commands (lec_view_poll_command) by moving its clock. Headless mode has no
 * clock: frame k shows time start + k / fps. */
#include <SDL.h>
#include <SDL_image.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "lec_oracle.h"
#include "lec_piece.h"
#include "lec_unroll.h"
#include "lec_util.h"
#include "lec_view.h"

#define MAX_SHOTS 32

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lectern show BUNDLE [--rendering NAME] [--start S] [--until S]\n"
            "         [--size WxH] [--fps N] [--pages 1|2] [--fullscreen] [--hold]\n"
            "         [--headless [--record OUT.mp4|DIR] [--no-audio]]\n"
            "         [--screenshot-at T:FILE]...\n\n"
            "Shows the pages of a piece bundle with the true position of one of its\n"
            "renderings (ground truth, replayed in real time; silent) as a red bar on\n"
            "the current system. The window: space pause, Left/Right one system back/\n"
            "forward, Home restart, click a system to jump there, F fullscreen (stage\n"
            "mode), Q/Escape quit. It closes at the end of the rendering (--hold: stays).\n\n"
            "  --rendering NAME  which rendering (default: the first; names are listed\n"
            "                    on error)\n"
            "  --start S, --until S  time span in seconds (default: the whole rendering)\n"
            "  --size WxH        window / frame size in px (1280x800)\n"
            "  --fps N           frame rate: window cap (60) / recording (30)\n"
            "  --pages 1|2       pages side by side (default: 2 when the output is wide)\n"
            "  --headless        no window, no display needed: render offscreen\n"
            "  --record OUT      with --headless: OUT.mp4/.mkv/.mov/.webm = video through\n"
            "                    ffmpeg with the rendering's audio muxed in (--no-audio:\n"
            "                    without), anything else = a directory of PNG frames\n"
            "                    (frame-000000.png is time START, then one per 1/fps s)\n"
            "  --screenshot-at T:FILE  save the frame showing time T s as PNG FILE and\n"
            "                    print 'screenshot FILE t=SECONDS' (repeatable)\n");
}

typedef struct shot {
    double t;
    const char *path;
    int done;
} shot;

static volatile sig_atomic_t g_stop = 0;
static void on_sigint(int s)
{
    (void)s;
    g_stop = 1;
}

/* If the X server goes away, Xlib's I/O error handler prints its own line
 * and calls exit(1) from inside SDL: say what that means for the user. */
static volatile int g_window_running = 0;
static void on_exit_report(void)
{
    if (g_window_running)
        fprintf(stderr, "lectern show: the display went away (connection to the window "
                        "system lost); stopped\n");
}

/* --- the oracle follower thread --- */
typedef struct oracle_thread {
    lec_view *view;
    const lec_oracle *oracle;
    double start_s, end_s;
    atomic_int stop;
    atomic_int finished; /* the position reached end_s */
    atomic_int quit;     /* the user asked to quit */
} oracle_thread;

static void *oracle_main(void *arg)
{
    oracle_thread *ot = arg;
    double t = ot->start_s, last = lec_now_s();
    int paused = 0;
    int64_t frame = 0;
    while (!atomic_load(&ot->stop)) {
        lec_view_cmd c;
        while (lec_view_poll_command(ot->view, &c)) {
            switch (c.kind) {
            case LEC_VIEW_CMD_PAUSE_TOGGLE:
                paused = !paused;
                break;
            case LEC_VIEW_CMD_NUDGE:
                t = lec_oracle_nudge_s(ot->oracle, t, c.delta);
                break;
            case LEC_VIEW_CMD_RESTART:
                t = ot->start_s;
                break;
            case LEC_VIEW_CMD_SEEK:
                t = lec_oracle_seek_s(ot->oracle, t, c.system, c.page_x_px);
                break;
            case LEC_VIEW_CMD_RELOCALISE:
                break; /* the ground truth is never lost */
            case LEC_VIEW_CMD_QUIT:
                atomic_store(&ot->quit, 1);
                break;
            }
        }
        double now = lec_now_s();
        if (!paused)
            t += now - last;
        last = now;
        if (t < ot->start_s)
            t = ot->start_s;
        int fin = t >= ot->end_s;
        if (fin)
            t = ot->end_s;
        atomic_store(&ot->finished, fin);
        lec_view_pos pos;
        lec_oracle_position(ot->oracle, t, &pos);
        pos.frame = frame++;
        pos.flags = (paused ? LEC_VIEW_POS_PAUSED : 0u) | (fin ? LEC_VIEW_POS_FINISHED : 0u);
        lec_view_publish(ot->view, &pos);
        struct timespec ts = {0, 20 * 1000 * 1000}; /* 50 Hz, like a fast tracker */
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static int parse_size(const char *s, int *w, int *h)
{
    char x;
    return sscanf(s, "%d%c%d", w, &x, h) == 3 && (x == 'x' || x == 'X') && *w > 0 && *h > 0;
}

static int take_shots(shot *shots, int n, const lec_view_pos *drawn, lec_view *view,
                      int window)
{
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (shots[i].done || !drawn->valid || drawn->time_s + 1e-9 < shots[i].t)
            continue;
        lec_error err = {0};
        if (window && lec_view_window_screenshot(view, shots[i].path, &err) != LEC_OK) {
            fprintf(stderr, "lectern show: %s\n", err.msg);
            rc = 1;
        } else {
            printf("screenshot %s t=%.4f page=%d system=%d x=%.2f\n", shots[i].path,
                   drawn->time_s, drawn->page, drawn->system, drawn->page_x_px);
            fflush(stdout);
        }
        shots[i].done = 1;
    }
    return rc;
}

static int run_window(lec_view *view, const lec_oracle *oracle, double start_s, double end_s,
                      int hold, shot *shots, int n_shots)
{
    lec_error err = {0};
    if (lec_view_window_open(view, &err) != LEC_OK) {
        fprintf(stderr,
                "lectern show: %s\n"
                "  to render without a display use: --headless --record OUT.mp4|DIR\n",
                err.msg);
        return 1;
    }
    oracle_thread ot = {.view = view, .oracle = oracle, .start_s = start_s, .end_s = end_s};
    atomic_init(&ot.stop, 0);
    atomic_init(&ot.finished, 0);
    atomic_init(&ot.quit, 0);
    pthread_t th;
    if (pthread_create(&th, NULL, oracle_main, &ot) != 0) {
        fprintf(stderr, "lectern show: cannot start the follower thread\n");
        lec_view_window_close(view);
        return 1;
    }
    int rc = 0;
    double finished_at = 0;
    g_window_running = 1;
    atexit(on_exit_report);
    for (;;) {
        int quit = 0;
        if (lec_view_window_events(view, &quit, &err) != LEC_OK) {
            fprintf(stderr, "lectern show: %s\n", err.msg);
            rc = 1;
            break;
        }
        if (quit || g_stop)
            break;
        if (lec_view_window_visible(view)) {
            lec_view_pos drawn;
            if (lec_view_window_draw(view, &drawn, &err) != LEC_OK) {
                fprintf(stderr, "lectern show: %s; stopping\n", err.msg);
                rc = 1;
                break;
            }
            rc |= take_shots(shots, n_shots, &drawn, view, 1);
            /* end once the last position has been on screen for a moment */
            if (drawn.valid && (drawn.flags & LEC_VIEW_POS_FINISHED) && !hold) {
                if (finished_at == 0)
                    finished_at = lec_now_s();
                else if (lec_now_s() - finished_at > 0.3)
                    break;
            }
        } else if (atomic_load(&ot.finished) && !hold) {
            break; /* minimised to the end: nothing more to show */
        }
        lec_view_window_present(view);
    }
    g_window_running = 0;
    atomic_store(&ot.stop, 1);
    pthread_join(th, NULL);
    lec_view_window_close(view);
    for (int i = 0; i < n_shots; i++)
        if (!shots[i].done) {
            fprintf(stderr, "lectern show: no frame reached t=%g s for screenshot %s\n",
                    shots[i].t, shots[i].path);
            rc = 1;
        }
    return rc;
}

static int run_headless(lec_view *view, const lec_oracle *oracle, const lec_piece *piece, int ri,
                        double start_s, double end_s, const char *record, int no_audio, int w,
                        int h, double fps, shot *shots, int n_shots)
{
    lec_error err = {0};
    int rc = 0;
    /* still frames first: each is drawn from scratch at its time */
    for (int i = 0; i < n_shots; i++) {
        lec_view_pos pos;
        lec_oracle_position(oracle, shots[i].t, &pos);
        if (lec_view_render_png(view, &pos, w, h, 0, shots[i].path, &err) != LEC_OK) {
            fprintf(stderr, "lectern show: %s\n", err.msg);
            return 1;
        }
        printf("screenshot %s t=%.4f page=%d system=%d x=%.2f\n", shots[i].path, pos.time_s,
               pos.page, pos.system, pos.page_x_px);
    }
    if (!record)
        return 0;
    lec_view_record_config rc_cfg;
    lec_view_record_config_default(&rc_cfg);
    rc_cfg.width_px = w;
    rc_cfg.height_px = h;
    rc_cfg.fps = fps;
    char audio[4400];
    if (!no_audio) {
        lec_piece_path(piece, lec_piece_renderings(piece)[ri].audio, audio, sizeof audio);
        rc_cfg.audio_path = audio;
        rc_cfg.audio_offset_s = start_s;
    }
    signal(SIGPIPE, SIG_IGN); /* a dying ffmpeg is an error to report, not a kill */
    lec_view_record *rec = lec_view_record_create(view, record, &rc_cfg, &err);
    if (!rec) {
        fprintf(stderr, "lectern show: %s\n", err.msg);
        return 1;
    }
    int64_t n_frames = (int64_t)((end_s - start_s) * fps) + 1;
    lec_progress prog;
    lec_progress_begin(&prog, "rendering frames", n_frames);
    for (int64_t k = 0; k < n_frames && !g_stop; k++) {
        lec_view_pos pos;
        lec_oracle_position(oracle, start_s + (double)k / fps, &pos);
        pos.frame = k;
        if (k == n_frames - 1)
            pos.flags |= LEC_VIEW_POS_FINISHED;
        lec_view_publish(view, &pos);
        if (lec_view_record_frame(rec, &err) != LEC_OK) {
            fprintf(stderr, "lectern show: %s\n", err.msg);
            rc = 1;
            break;
        }
        lec_progress_update(&prog, k + 1, NULL);
    }
    lec_progress_end(&prog, NULL);
    if (g_stop) {
        fprintf(stderr, "lectern show: interrupted; %s\n",
                "frames written so far are kept (a video is completed)");
    }
    if (rc == 0 && lec_view_record_finish(rec, &err) != LEC_OK) {
        fprintf(stderr, "lectern show: %s\n", err.msg);
        rc = 1;
    }
    if (rc == 0)
        printf("wrote %lld frames (%dx%d, %g fps) to %s\n", (long long)lec_view_record_n_frames(rec),
               w, h, fps, record);
    lec_view_record_destroy(rec);
    return rc;
}

int lec_cmd_show(int argc, char **argv)
{
    if (lec_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *bundle = NULL, *rname = NULL, *record = NULL;
    double start_s = 0, until_s = -1, fps = 0;
    int w = 1280, h = 800, pages = 0, fullscreen = 0, headless = 0, hold = 0, no_audio = 0;
    shot shots[MAX_SHOTS];
    int n_shots = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int needs = strcmp(a, "--rendering") == 0 || strcmp(a, "--start") == 0 ||
                    strcmp(a, "--until") == 0 || strcmp(a, "--size") == 0 ||
                    strcmp(a, "--fps") == 0 || strcmp(a, "--pages") == 0 ||
                    strcmp(a, "--record") == 0 || strcmp(a, "--screenshot-at") == 0;
        if (needs && !v) {
            fprintf(stderr, "lectern show: %s needs a value\n", a);
            return 2;
        }
        char *end = NULL;
        if (strcmp(a, "--rendering") == 0) {
            rname = argv[++i];
        } else if (strcmp(a, "--start") == 0 || strcmp(a, "--until") == 0 ||
                   strcmp(a, "--fps") == 0) {
            double x = strtod(argv[++i], &end);
            if (!end || *end || !(x >= 0) || (strcmp(a, "--fps") == 0 && !(x > 0 && x <= 240))) {
                fprintf(stderr, "lectern show: bad value for %s: '%s'\n", a, v);
                return 2;
            }
            if (strcmp(a, "--start") == 0)
                start_s = x;
            else if (strcmp(a, "--until") == 0)
                until_s = x;
            else
                fps = x;
        } else if (strcmp(a, "--size") == 0) {
            if (!parse_size(argv[++i], &w, &h) || w < 16 || h < 16 || w > 16384 || h > 16384) {
                fprintf(stderr, "lectern show: bad --size '%s' (WxH, 16..16384 px)\n", v);
                return 2;
            }
        } else if (strcmp(a, "--pages") == 0) {
            pages = atoi(argv[++i]);
            if (pages != 1 && pages != 2) {
                fprintf(stderr, "lectern show: --pages must be 1 or 2\n");
                return 2;
            }
        } else if (strcmp(a, "--record") == 0) {
            record = argv[++i];
        } else if (strcmp(a, "--screenshot-at") == 0) {
            const char *spec = argv[++i];
            const char *colon = strchr(spec, ':');
            double t = colon ? strtod(spec, &end) : -1;
            if (!colon || end != colon || !(t >= 0) || !colon[1] || n_shots >= MAX_SHOTS) {
                fprintf(stderr,
                        "lectern show: bad --screenshot-at '%s' (T:FILE, T in seconds; at most "
                        "%d)\n",
                        spec, MAX_SHOTS);
                return 2;
            }
            shots[n_shots++] = (shot){t, colon + 1, 0};
        } else if (strcmp(a, "--fullscreen") == 0) {
            fullscreen = 1;
        } else if (strcmp(a, "--headless") == 0) {
            headless = 1;
        } else if (strcmp(a, "--hold") == 0) {
            hold = 1;
        } else if (strcmp(a, "--no-audio") == 0) {
            no_audio = 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "lectern show: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else if (!bundle) {
            bundle = a;
        } else {
            fprintf(stderr, "lectern show: unexpected argument %s\n", a);
            return 2;
        }
    }
    if (!bundle) {
        usage(stderr);
        return 2;
    }
    if (record && !headless) {
        fprintf(stderr, "lectern show: --record needs --headless\n");
        return 2;
    }
    if (headless && !record && n_shots == 0) {
        fprintf(stderr, "lectern show: --headless needs --record OUT or --screenshot-at T:FILE\n");
        return 2;
    }
    if (fps == 0)
        fps = headless ? 30 : 60;

    lec_error err = {0};
    int rc = 1;
    lec_piece *piece = NULL;
    lec_unroll *unroll = NULL;
    lec_oracle *oracle = NULL;
    lec_view *view = NULL;
    piece = lec_piece_load(bundle, &err);
    if (!piece) {
        fprintf(stderr, "lectern show: %s\n", err.msg);
        goto done;
    }
    int n_r = (int)lec_piece_n_renderings(piece), ri = 0;
    if (n_r == 0) {
        fprintf(stderr, "lectern show: %s has no renderings (no ground truth to show)\n", bundle);
        goto done;
    }
    if (rname) {
        ri = -1;
        for (int i = 0; i < n_r; i++)
            if (strcmp(lec_piece_renderings(piece)[i].name, rname) == 0)
                ri = i;
        if (ri < 0) {
            fprintf(stderr, "lectern show: %s has no rendering '%s'; it has:", bundle, rname);
            for (int i = 0; i < n_r; i++)
                fprintf(stderr, " %s", lec_piece_renderings(piece)[i].name);
            fprintf(stderr, "\n");
            goto done;
        }
    }
    lec_unroll_config ucfg;
    lec_unroll_config_default(&ucfg);
    unroll = lec_unroll_create(piece, &ucfg, &err);
    if (!unroll || !(oracle = lec_oracle_create(piece, unroll, ri, &err))) {
        fprintf(stderr, "lectern show: %s\n", err.msg);
        goto done;
    }
    double dur = lec_oracle_duration_s(oracle);
    double end_s = until_s >= 0 && until_s < dur ? until_s : dur;
    if (start_s >= end_s) {
        fprintf(stderr, "lectern show: --start %g is not before the end (%g s)\n", start_s, end_s);
        goto done;
    }
    lec_view_config vcfg;
    lec_view_config_default(&vcfg);
    vcfg.width_px = w;
    vcfg.height_px = h;
    vcfg.fullscreen = fullscreen;
    vcfg.pages_per_view = pages;
    vcfg.fps = fps;
    view = lec_view_create(piece, &vcfg, &err);
    if (!view) {
        fprintf(stderr, "lectern show: %s\n", err.msg);
        goto done;
    }
    signal(SIGINT, on_sigint);
    if (headless)
        rc = run_headless(view, oracle, piece, ri, start_s, end_s, record, no_audio, w, h, fps,
                          shots, n_shots);
    else
        rc = run_window(view, oracle, start_s, end_s, hold, shots, n_shots);
done:
    lec_view_destroy(view);
    lec_oracle_destroy(oracle);
    lec_unroll_destroy(unroll);
    lec_piece_destroy(piece);
    IMG_Quit();
    SDL_Quit();
    return rc;
}
