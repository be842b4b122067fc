/* follow_app.c -- see follow_app.h. */
#include "follow_app.h"

#include <SDL.h>
#include <SDL_image.h>
#include <cblas.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "eval_data.h"
#include "lec_util.h"

void fa_opts_default(fa_opts *o, const char *cmd)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->start = LEC_FOLLOW_START_PAGE1;
    o->w = 1280;
    o->h = 800;
    o->until_s = -1;
}

void fa_help_common(FILE *f)
{
    fprintf(f,
            "  --model M         model file (a trained .lnm)\n"
            "  --start page1|anywhere  where the performer may start [page1]\n"
            "  --size WxH        window / frame size in px [1280x800]\n"
            "  --fps N           frame rate: window cap [60] / recording [30]\n"
            "  --pages 1|2       pages side by side [2 when the output is wide]\n"
            "  --fullscreen      start in stage mode (F toggles it)\n"
            "  --hold            keep the window open at the end\n"
            "  --headless        no window, no display needed\n"
            "  --record OUT      with --headless: OUT.mp4/.mkv/.mov/.webm = video through ffmpeg\n"
            "                    (PNG frames in OUT.frames/ if ffmpeg is missing), anything\n"
            "                    else = a directory of PNG frames (frame-000000.png, ...)\n"
            "  --log FILE.csv    every follower frame: t_s,frame,system,page,page_x_px,\n"
            "                    strip_x_px,confidence,lost,tempo\n"
            "  --screenshot-at T:FILE  save the frame showing audio time T s as PNG FILE and\n"
            "                    print 'screenshot FILE t=T page=P system=S x=X lost=0|1'\n"
            "  --until S         stop after S seconds of audio\n"
            "  --oracle NAME     DIAGNOSTIC / tests: the network is replaced by the ground\n"
            "                    truth of the bundle's rendering NAME at each frame's audio\n"
            "                    time (half of the mass on the true bucket); everything else\n"
            "                    is the real path. Not a measure of the model.\n");
}

static int parse_size(const char *s, int *w, int *h)
{
    char x;
    return sscanf(s, "%d%c%d", w, &x, h) == 3 && (x == 'x' || x == 'X') && *w > 0 && *h > 0;
}

int fa_parse_opt(fa_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    static const char *with_value[] = {"--model", "--start", "--size", "--fps", "--pages",
                                       "--record", "--log", "--screenshot-at", "--until",
                                       "--oracle", "--device"};
    int needs = 0;
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
        needs |= strcmp(a, with_value[k]) == 0;
    if (needs && *i + 1 >= argc) {
        fprintf(stderr, "lectern %s: %s needs a value\n", o->cmd, a);
        return -1;
    }
    const char *v = needs ? argv[*i + 1] : NULL;
    char *end = NULL;
    if (strcmp(a, "--model") == 0) {
        o->model = v;
    } else if (strcmp(a, "--device") == 0) {
        o->device = v;
    } else if (strcmp(a, "--record") == 0) {
        o->record = v;
    } else if (strcmp(a, "--log") == 0) {
        o->log_path = v;
    } else if (strcmp(a, "--oracle") == 0) {
        o->oracle = v;
    } else if (strcmp(a, "--start") == 0) {
        if (strcmp(v, "page1") == 0)
            o->start = LEC_FOLLOW_START_PAGE1;
        else if (strcmp(v, "anywhere") == 0)
            o->start = LEC_FOLLOW_START_ANYWHERE;
        else {
            fprintf(stderr, "lectern %s: --start must be page1 or anywhere, not '%s'\n", o->cmd,
                    v);
            return -1;
        }
    } else if (strcmp(a, "--size") == 0) {
        if (!parse_size(v, &o->w, &o->h) || o->w < 16 || o->h < 16 || o->w > 16384 ||
            o->h > 16384) {
            fprintf(stderr, "lectern %s: bad --size '%s' (WxH, 16..16384 px)\n", o->cmd, v);
            return -1;
        }
    } else if (strcmp(a, "--fps") == 0 || strcmp(a, "--until") == 0) {
        double x = strtod(v, &end);
        int is_fps = a[2] == 'f';
        if (!end || *end || !(x >= 0) || (is_fps && !(x > 0 && x <= 240)) ||
            (!is_fps && !(x > 0))) {
            fprintf(stderr, "lectern %s: bad value for %s: '%s'\n", o->cmd, a, v);
            return -1;
        }
        if (is_fps)
            o->fps = x;
        else
            o->until_s = x;
    } else if (strcmp(a, "--pages") == 0) {
        o->pages = atoi(v);
        if (o->pages != 1 && o->pages != 2) {
            fprintf(stderr, "lectern %s: --pages must be 1 or 2\n", o->cmd);
            return -1;
        }
    } else if (strcmp(a, "--screenshot-at") == 0) {
        const char *colon = strchr(v, ':');
        double t = colon ? strtod(v, &end) : -1;
        if (!colon || end != colon || !(t >= 0) || !colon[1] || o->n_shots >= FA_MAX_SHOTS) {
            fprintf(stderr,
                    "lectern %s: bad --screenshot-at '%s' (T:FILE, T in seconds; at most %d)\n",
                    o->cmd, v, FA_MAX_SHOTS);
            return -1;
        }
        o->shots[o->n_shots++] = (fa_shot){t, colon + 1, 0};
    } else if (strcmp(a, "--fullscreen") == 0) {
        o->fullscreen = 1;
    } else if (strcmp(a, "--headless") == 0) {
        o->headless = 1;
    } else if (strcmp(a, "--hold") == 0) {
        o->hold = 1;
    } else {
        return 0;
    }
    *i += needs ? 2 : 1;
    return 1;
}

int fa_check_opts(fa_opts *o)
{
    if (o->record && !o->headless) {
        fprintf(stderr, "lectern %s: --record needs --headless\n", o->cmd);
        return -1;
    }
    if (o->headless && !o->record && !o->log_path && o->n_shots == 0) {
        fprintf(stderr,
                "lectern %s: --headless needs --record OUT, --log FILE or --screenshot-at "
                "T:FILE (something to show for it)\n",
                o->cmd);
        return -1;
    }
    if (o->fps == 0)
        o->fps = o->headless ? 30 : 60;
    return 0;
}

int fa_parse_cmdline(fa_opts *o, const char *cmd, int argc, char **argv, void (*usage)(FILE *),
                     const char **pos, int n_pos, const char *opt, const char **opt_value)
{
    fa_opts_default(o, cmd);
    int got = 0;
    for (int k = 0; k < n_pos; k++)
        pos[k] = NULL;
    for (int i = 1; i < argc;) {
        int k = fa_parse_opt(o, argc, argv, &i);
        if (k < 0)
            return 2;
        if (k > 0)
            continue;
        const char *a = argv[i++];
        if (opt && strcmp(a, opt) == 0 && i < argc) {
            *opt_value = argv[i++];
        } else if (a[0] == '-') {
            fprintf(stderr, "lectern %s: unknown option %s\n", cmd, a);
            usage(stderr);
            return 2;
        } else if (got < n_pos) {
            pos[got++] = a;
        } else if (n_pos == 0) {
            fprintf(stderr, "lectern %s: takes no arguments, got %s\n", cmd, a);
            usage(stderr);
            return 2;
        } else {
            fprintf(stderr, "lectern %s: unexpected argument %s\n", cmd, a);
            return 2;
        }
    }
    if (got < n_pos) {
        usage(stderr);
        return 2;
    }
    return -1;
}

int fa_find_rendering(const lec_piece *p, const char *name, const char *cmd)
{
    int n = (int)lec_piece_n_renderings(p);
    for (int i = 0; i < n; i++)
        if (strcmp(lec_piece_renderings(p)[i].name, name) == 0)
            return i;
    fprintf(stderr, "lectern %s: %s has no rendering '%s'; it has:", cmd, lec_piece_dir(p), name);
    for (int i = 0; i < n; i++)
        fprintf(stderr, " %s", lec_piece_renderings(p)[i].name);
    fprintf(stderr, "%s\n", n ? "" : " none");
    return -1;
}

static int oracle_fn(void *user, const float *score, const float *spec, const float *x0, int n,
                     double t_end_s, float *probs)
{
    (void)score, (void)spec;
    const fa_oracle *o = user;
    lec_eval_oracle_softmax(lec_unroll_truth_x(o->u, o->rendering, t_end_s), x0, n, o->win_w, o->B,
                            0.5f, probs);
    return 0;
}

int fa_load(fa_ctx *c, const fa_opts *o, size_t log_rows)
{
    memset(c, 0, sizeof *c);
    lec_error err = {0};
    if (!o->model && !o->allow_default_model) {
        fprintf(stderr, "lectern %s: --model M is required (a trained model file)\n", o->cmd);
        return -1;
    }
    c->piece = lec_piece_load(o->bundle, &err);
    if (!c->piece)
        goto fail;
    c->model = o->model ? lec_follow_model_load(o->model, &err) : lec_eval_default_model(&err);
    if (!c->model) {
        lec_error_prefix(&err, "cannot use the model: ");
        goto fail;
    }
    const lec_model_info *mi = lec_follow_model_info(c->model);
    c->sample_rate = mi->sample_rate;
    c->hop = (size_t)mi->hop_size;
    lec_unroll_config ucfg;
    lec_follow_model_unroll_config(c->model, &ucfg);
    c->unroll = lec_unroll_create(c->piece, &ucfg, &err);
    if (!c->unroll)
        goto fail;
    /* The network's GEMMs on the follower's own core: the other is left to
     * capture/playback and the window (2 cores is the target machine), and a
     * batch of a few windows is too small to gain from a second BLAS thread. */
    openblas_set_num_threads(1);
    lec_follower_config fc;
    lec_follower_config_default(&fc);
    fc.model = c->model;
    fc.piece = c->piece;
    fc.unroll = c->unroll;
    fc.start = o->start;
    if (o->oracle) {
        int r = fa_find_rendering(c->piece, o->oracle, o->cmd);
        if (r < 0)
            return -1;
        c->oracle = (fa_oracle){c->unroll, r, lec_follow_model_buckets(c->model),
                                (float)mi->window_width_px};
        if (lec_unroll_truth_x(c->unroll, r, 0) < 0) {
            fprintf(stderr, "lectern %s: --oracle %s: the rendering has no usable ground truth\n",
                    o->cmd, o->oracle);
            return -1;
        }
        fc.observer = oracle_fn;
        fc.observer_user = &c->oracle;
        fc.observer_after_network = o->oracle_after_network;
    }
    c->follower = lec_follower_create(&fc, &err);
    if (!c->follower)
        goto fail;
    lec_view_config vcfg;
    lec_view_config_default(&vcfg);
    vcfg.width_px = o->w;
    vcfg.height_px = o->h;
    vcfg.fullscreen = o->fullscreen;
    vcfg.pages_per_view = o->pages;
    vcfg.fps = o->fps;
    c->view = lec_view_create(c->piece, &vcfg, &err);
    if (!c->view)
        goto fail;
    return fa_log_alloc(c, o, log_rows);
fail:
    fprintf(stderr, "lectern %s: %s\n", o->cmd, err.msg);
    return -1;
}

int fa_log_alloc(fa_ctx *c, const fa_opts *o, size_t rows)
{
    if (!o->log_path || rows == 0)
        return 0;
    c->log.rows = malloc(sizeof *c->log.rows * rows);
    if (!c->log.rows) {
        fprintf(stderr, "lectern %s: out of memory for the log\n", o->cmd);
        return -1;
    }
    c->log.cap = rows;
    return 0;
}

void fa_unload(fa_ctx *c)
{
    lec_view_destroy(c->view);
    lec_follower_destroy(c->follower);
    lec_unroll_destroy(c->unroll);
    lec_follow_model_destroy(c->model);
    lec_piece_destroy(c->piece);
    free(c->log.rows);
    memset(c, 0, sizeof *c);
    IMG_Quit();
    SDL_Quit();
}

void fa_out_to_pos(const lec_follow_out *o, uint32_t flags, lec_view_pos *pos)
{
    memset(pos, 0, sizeof *pos);
    pos->valid = 1;
    pos->page = o->page;
    pos->system = o->system;
    pos->page_x_px = o->page_x_px;
    pos->sys_y0_px = o->sys_y0_px;
    pos->sys_y1_px = o->sys_y1_px;
    pos->confidence = o->confidence;
    pos->lost = o->lost;
    pos->tempo = o->tempo;
    pos->time_s = o->t_end_s;
    pos->frame = o->frame;
    pos->flags = flags;
}

int fa_feed(fa_ctx *c, const float *x, size_t n, lec_follow_out *last, lec_view *publish_to,
            uint32_t flags, lec_error *err)
{
    lec_follow_out outs[8];
    int total = 0;
    while (n > 0) {
        size_t used = 0;
        int got = lec_follower_process(c->follower, x, n, &used, outs, 8, err);
        if (got < 0)
            return -1;
        for (int i = 0; i < got; i++)
            fa_log_push(&c->log, &outs[i]);
        if (got > 0) {
            *last = outs[got - 1];
            if (publish_to) {
                lec_view_pos pos;
                fa_out_to_pos(last, flags, &pos);
                lec_view_publish(publish_to, &pos);
            }
        }
        total += got;
        x += used;
        n -= used;
    }
    return total;
}

unsigned fa_apply_command(lec_follower *f, const lec_view_cmd *cmd, int *paused)
{
    switch (cmd->kind) {
    case LEC_VIEW_CMD_PAUSE_TOGGLE:
        *paused = !*paused;
        return FA_ACT_PAUSE;
    case LEC_VIEW_CMD_NUDGE:
        lec_follower_nudge(f, cmd->delta);
        return 0;
    case LEC_VIEW_CMD_RESTART:
        lec_follower_restart(f);
        return FA_ACT_RESTART;
    case LEC_VIEW_CMD_RELOCALISE:
        lec_follower_relocalise(f);
        return 0;
    case LEC_VIEW_CMD_SEEK:
        /* a click outside every system is filtered by the viewer; a bad
         * system index is ignored rather than trusted */
        (void)lec_follower_seek(f, cmd->system, cmd->page_x_px, NULL);
        return 0;
    case LEC_VIEW_CMD_QUIT:
        return FA_ACT_QUIT;
    }
    return 0;
}

void fa_log_push(fa_log *l, const lec_follow_out *o)
{
    if (!l->rows)
        return;
    if (l->n >= l->cap) {
        l->dropped++;
        return;
    }
    l->rows[l->n++] = (fa_log_row){o->t_end_s,     o->frame,      o->system,     o->page,
                                   o->lost,        o->page_x_px,  o->strip_x_px, o->confidence,
                                   o->tempo};
}

int fa_log_write(const fa_log *l, const char *path, const char *cmd)
{
    lec_error err = {0};
    lec_atomic_file af;
    if (lec_atomic_open(&af, path, &err) != LEC_OK) {
        fprintf(stderr, "lectern %s: %s\n", cmd, err.msg);
        return -1;
    }
    fprintf(af.fp, "t_s,frame,system,page,page_x_px,strip_x_px,confidence,lost,tempo\n");
    for (size_t i = 0; i < l->n; i++) {
        const fa_log_row *r = &l->rows[i];
        fprintf(af.fp, "%.4f,%lld,%d,%d,%.2f,%.2f,%.4f,%d,%.3f\n", r->t_s, (long long)r->frame,
                r->system, r->page, (double)r->page_x_px, (double)r->strip_x_px,
                (double)r->confidence, r->lost, (double)r->tempo);
    }
    if (lec_atomic_commit(&af, &err) != LEC_OK) {
        fprintf(stderr, "lectern %s: %s\n", cmd, err.msg);
        return -1;
    }
    if (l->dropped)
        fprintf(stderr, "lectern %s: %s holds the first %zu frames (%llu more did not fit)\n",
                cmd, path, l->n, (unsigned long long)l->dropped);
    return 0;
}

static void announce(const char *path, const lec_view_pos *p)
{
    printf("screenshot %s t=%.4f page=%d system=%d x=%.2f lost=%d\n", path, p->time_s, p->page,
           p->system, (double)p->page_x_px, p->lost);
    fflush(stdout);
}

/* If the X server goes away, Xlib's I/O error handler prints its own line
 * and calls exit(1) from inside SDL: say what that means for the user. */
static volatile int g_window_running = 0;
static const char *g_window_cmd = "";
static void on_exit_report(void)
{
    if (g_window_running)
        fprintf(stderr,
                "lectern %s: the display went away (connection to the window system lost); "
                "stopped\n",
                g_window_cmd);
}

int fa_window_loop(fa_ctx *c, fa_opts *o, atomic_int *finished, atomic_int *failed,
                   volatile int *stop_flag)
{
    lec_error err = {0};
    int rc = 0;
    double finished_at = 0;
    static int atexit_done = 0;
    g_window_cmd = o->cmd;
    if (!atexit_done) {
        atexit(on_exit_report);
        atexit_done = 1;
    }
    g_window_running = 1;
    for (;;) {
        int quit = 0;
        if (lec_view_window_events(c->view, &quit, &err) != LEC_OK) {
            fprintf(stderr, "lectern %s: %s\n", o->cmd, err.msg);
            rc = 1;
            break;
        }
        if (quit || *stop_flag || atomic_load(failed))
            break;
        int fin = atomic_load(finished);
        if (lec_view_window_visible(c->view)) {
            lec_view_pos drawn;
            if (lec_view_window_draw(c->view, &drawn, &err) != LEC_OK) {
                fprintf(stderr, "lectern %s: %s; stopping\n", o->cmd, err.msg);
                rc = 1;
                break;
            }
            for (int i = 0; i < o->n_shots; i++) {
                fa_shot *s = &o->shots[i];
                if (s->done || !drawn.valid || drawn.time_s + 1e-9 < s->t)
                    continue;
                if (lec_view_window_screenshot(c->view, s->path, &err) != LEC_OK) {
                    fprintf(stderr, "lectern %s: %s\n", o->cmd, err.msg);
                    rc = 1;
                } else {
                    announce(s->path, &drawn);
                }
                s->done = 1;
            }
            /* end once the last position has been on screen for a moment */
            if (fin && !o->hold) {
                if (finished_at == 0)
                    finished_at = lec_now_s();
                else if (lec_now_s() - finished_at > 0.3)
                    break;
            }
        } else if (fin && !o->hold) {
            break; /* minimised to the end: nothing more to show */
        }
        lec_view_window_present(c->view);
    }
    g_window_running = 0;
    lec_view_window_close(c->view);
    return rc;
}

int fa_headless_shots(fa_ctx *c, fa_opts *o, const lec_view_pos *pos)
{
    int rc = 0;
    for (int i = 0; i < o->n_shots; i++) {
        fa_shot *s = &o->shots[i];
        if (s->done || !pos->valid || pos->time_s + 1e-9 < s->t)
            continue;
        lec_error err = {0};
        if (lec_view_render_png(c->view, pos, o->w, o->h, o->fullscreen, s->path, &err) !=
            LEC_OK) {
            fprintf(stderr, "lectern %s: %s\n", o->cmd, err.msg);
            rc = 1;
        } else {
            announce(s->path, pos);
        }
        s->done = 1;
    }
    return rc;
}

int fa_shots_missing(const fa_opts *o)
{
    int rc = 0;
    for (int i = 0; i < o->n_shots; i++)
        if (!o->shots[i].done) {
            fprintf(stderr, "lectern %s: no frame reached t=%g s for screenshot %s\n", o->cmd,
                    o->shots[i].t, o->shots[i].path);
            rc = 1;
        }
    return rc;
}

lec_view_record *fa_record_create(fa_ctx *c, const fa_opts *o, const char *path,
                                  const char *audio_path, lec_error *err)
{
    lec_view_record_config rcfg;
    lec_view_record_config_default(&rcfg);
    rcfg.width_px = o->w;
    rcfg.height_px = o->h;
    rcfg.fps = o->fps;
    if (audio_path)
        rcfg.audio_path = audio_path;
    signal(SIGPIPE, SIG_IGN); /* a dying ffmpeg is an error to report, not a kill */
    return lec_view_record_create(c->view, path, &rcfg, err);
}

int fa_record_finish(lec_view_record *rec, const fa_opts *o, int rc, const char *path,
                     double audio_s, double t0)
{
    if (!rec)
        return rc;
    lec_error err = {0};
    if (rc == 0 && lec_view_record_finish(rec, &err) != LEC_OK) {
        fprintf(stderr, "lectern %s: %s\n", o->cmd, err.msg);
        rc = 1;
    }
    if (rc == 0 && audio_s >= 0)
        printf("wrote %lld frames (%dx%d, %g fps, %.1f s of audio in %.1f s) to %s\n",
               (long long)lec_view_record_n_frames(rec), o->w, o->h, o->fps, audio_s,
               lec_now_s() - t0, path);
    else if (rc == 0)
        printf("wrote %lld frames (%dx%d, %g fps) to %s\n",
               (long long)lec_view_record_n_frames(rec), o->w, o->h, o->fps, path);
    lec_view_record_destroy(rec);
    return rc;
}

float *fa_read_audio(const char *path, int rate, size_t *n, const char *cmd)
{
    lec_error err = {0};
    float *x = lec_eval_read_audio(path, rate, n, &err);
    if (!x)
        fprintf(stderr, "lectern %s: %s\n", cmd, err.msg);
    else if (*n == 0) {
        fprintf(stderr, "lectern %s: %s: no audio samples\n", cmd, path);
        free(x);
        x = NULL;
    }
    return x;
}
