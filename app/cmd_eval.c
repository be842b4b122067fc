/* cmd_eval.c -- `lectern eval`: run the follower causally over every rendering
 * of some piece bundles and compute the figures of ../shared/docs/EVALUATION.md
 * (hmm/lec_metrics), per piece and overall, as a table and as JSON; optional
 * plots and jump tests. Pieces run in parallel (--jobs), one follower per
 * thread, the network shared read-only. */
#include <cairo.h>
#include <cblas.h>
#include <cjson/cJSON.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "eval_data.h"
#include "lec_follower.h"
#include "lec_metrics.h"
#include "lec_piece.h"
#include "lec_unroll.h"
#include "lec_util.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: lectern eval --model M BUNDLE... [options]\n\n"
            "Follows every selected rendering of each piece bundle causally (audio fed in\n"
            "order, as the live path feeds it) and reports the figures of EVALUATION.md:\n"
            "within_0.05s .. within_5s, median/mean error, median pixel error in staff\n"
            "spaces, followed_to_end, lost_time (and recovered_within_2s for jump tests),\n"
            "per piece and overall (total over onsets and mean over pieces), plus the cost\n"
            "(per-frame time, real-time factor on one core per follower).\n\n"
            "options:\n"
            "  --model M            model file (required)\n"
            "  --audio NAME|all     rendering to follow in each bundle [all]\n"
            "  --json OUT           write all figures as JSON\n"
            "  --plots DIR          one PNG per piece and rendering: true vs followed position\n"
            "  --jobs N             pieces followed in parallel, one core each [2]\n"
            "  --start page1|anywhere  where the performer may start [page1]\n"
            "  --net-every K        run the network on every K-th frame only [1]\n"
            "  --tracker K=V,...    tracker parameters (lec_tracker_config field names, e.g.\n"
            "                       p_hold=0.05,obs_weight=0.8; hmm/README.md explains them);\n"
            "                       global_obs=0|1 picks the observation mode (default:\n"
            "                       global for bucket-head models)\n"
            "  --dump DIR           per run: DIR/<run>.frames.csv (every frame's output) and\n"
            "                       DIR/<run>.events.csv (onset events with their errors)\n"
            "  --jumps              also run jump tests: each rendering cut after 8 whole notes\n"
            "                       (bars of 4/4) and spliced back 4 whole notes (20 ms\n"
            "                       crossfade); reported separately with recovered_within_2s\n"
            "  --jump-play WN, --jump-back WN   the jump's whole notes [8, 4]\n"
            "  --oracle [NOISE]     DIAGNOSTIC, not a figure of the follower: the network is\n"
            "                       replaced by the ground truth (a Gaussian bump of 1 bucket\n"
            "                       sd on the true position with 1 - NOISE of the mass [0.5]\n"
            "                       when it is in the window, flat otherwise), to measure the\n"
            "                       tracker and this evaluation chain alone. Without --model the\n"
            "                       default geometry (window, buckets, front-end) is used.\n");
}

typedef struct task {
    int piece, rendering, jump;
    char name[200];
    /* results */
    lec_status st;
    char msg[LEC_ERROR_MSG_MAX];
    lec_metrics_piece m;
    double *err_s, *px_ss;
    double *cost_s;
    size_t n_frames;
    double audio_s;
    double jump_s, jump_from_s, jump_to_s;
    lec_follow_costs costs;
    /* the network in the follower's own feed: of the windows run while someone
     * plays that hold the true position, how often the arg-max bucket is the
     * true one (or a neighbour) */
    int64_t net_in, net_hit, net_hit1;
} task;

typedef struct eval_ctx {
    const lec_follow_model *model;
    lec_piece **pieces;
    lec_unroll_config ucfg; /* the model's unrolling; each run unrolls its piece
                               (only the runs in progress hold a strip in memory) */
    task *tasks;
    int n_tasks;
    lec_follow_start start;
    int net_every;
    lec_tracker_config tracker;
    const char *tracker_spec;
    const char *plots, *dump;
    double jump_play, jump_back;
    int oracle;
    float oracle_noise;
    atomic_int next, done;
} eval_ctx;

/* --oracle: the true position at time t from the (possibly spliced) onset
 * events, moving linearly to the next event when it lies further right in the
 * same system, else towards the end of the current system (as
 * lec_unroll_truth_x); a soft-max over the buckets of each window from it. */
typedef struct oracle {
    const lec_onset_event *ev;
    size_t n;
    const lec_strip_geom *geom;
    int B;
    float win_w;
    float noise;
} oracle;

static float oracle_x(const oracle *o, double t)
{
    size_t lo = 0, hi = o->n; /* first event with t_s > t */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (o->ev[mid].t_s <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return o->ev[0].x_px;
    const lec_onset_event *a = &o->ev[lo - 1];
    if (lo == o->n)
        return a->x_px;
    const lec_onset_event *b = &o->ev[lo];
    float target =
        b->system == a->system && b->x_px > a->x_px ? b->x_px : o->geom->sys_end_px[a->system];
    double u = (t - a->t_s) / (b->t_s - a->t_s);
    if (!(u >= 0))
        u = 0;
    if (u > 1)
        u = 1;
    return a->x_px + (float)u * (target - a->x_px);
}

static int oracle_fn(void *user, const float *score, const float *spec, const float *x0, int n,
                     double t_end_s, float *probs)
{
    (void)score, (void)spec;
    const oracle *o = user;
    lec_eval_oracle_softmax(oracle_x(o, t_end_s), x0, n, o->win_w, o->B, o->noise, probs);
    return 0;
}

static void run_task(eval_ctx *c, task *t)
{
    lec_error err;
    lec_error_clear(&err);
    const lec_piece *p = c->pieces[t->piece];
    lec_unroll *u = NULL;
    const lec_piece_rendering *r = &lec_piece_renderings(p)[t->rendering];
    int sr = lec_follow_model_info(c->model)->sample_rate;
    float *audio = NULL, *s0 = NULL, *s1 = NULL;
    size_t n = 0, n_notes = 0, n_ev = 0;
    lec_gt_note *notes = NULL;
    lec_onset_event *ev = NULL;
    lec_eval_jump jmp = {0};
    lec_follower *f = NULL;
    lec_follow_out *out = NULL;
    lec_report *rep = NULL;
    lec_strip_geom geom;
    char path[4096];
    lec_piece_path(p, r->audio, path, sizeof path);
    lec_status st = LEC_OK;
    u = lec_unroll_create(p, &c->ucfg, &err);
    if (!u) {
        st = err.code;
        lec_error_prefix(&err, "%s: ", lec_piece_dir(p));
        goto done;
    }
    audio = lec_eval_read_audio(path, sr, &n, &err);
    if (!audio) {
        st = err.code;
        goto done;
    }
    if (t->jump) {
        st = lec_eval_make_jump(p, u, t->rendering, audio, n, sr, c->jump_play, c->jump_back, &jmp,
                                &err);
        if (st)
            goto done;
        free(audio);
        audio = jmp.audio;
        jmp.audio = NULL;
        n = jmp.n;
        notes = jmp.notes;
        jmp.notes = NULL;
        n_notes = jmp.n_notes;
        t->jump_s = jmp.jump_s;
        t->jump_from_s = jmp.from_s;
        t->jump_to_s = jmp.to_s;
    } else if ((st = lec_eval_truth_notes(p, u, t->rendering, &notes, &n_notes, &err))) {
        goto done;
    }
    if ((st = lec_eval_geom(u, &geom, &s0, &s1, &err)) ||
        (st = lec_metrics_events(notes, n_notes, &geom, &ev, &n_ev, &err)))
        goto done;

    lec_follower_config fc;
    lec_follower_config_default(&fc);
    fc.model = c->model;
    fc.piece = p;
    fc.unroll = u;
    fc.start = c->start;
    fc.net_every = c->net_every;
    fc.tracker = c->tracker;
    fc.global_obs = c->tracker.global_obs;
    oracle orc = {ev,
                  n_ev,
                  &geom,
                  lec_follow_model_buckets(c->model),
                  (float)lec_follow_model_info(c->model)->window_width_px,
                  c->oracle_noise};
    if (c->oracle) {
        fc.observer = oracle_fn;
        fc.observer_user = &orc;
    }
    f = lec_follower_create(&fc, &err);
    if (!f) {
        st = err.code;
        goto done;
    }
    size_t cap = lec_follower_max_frames(f, n) + 1;
    out = malloc(sizeof *out * cap);
    rep = malloc(sizeof *rep * (cap + 1));
    t->cost_s = malloc(sizeof(double) * cap);
    t->err_s = malloc(sizeof(double) * n_ev);
    t->px_ss = malloc(sizeof(double) * n_ev);
    if (!out || !rep || !t->cost_s || !t->err_s || !t->px_ss) {
        st = lec_error_set(&err, LEC_ENOMEM, "eval: out of memory");
        goto done;
    }
    /* the position shown before any audio is known at t = 0 (causal) */
    lec_follow_out init;
    lec_follower_position(f, &init);
    rep[0] = (lec_report){0.0, init.strip_x_px};
    size_t k = 0;
    /* chunks shorter than a hop: at most one frame a call, so that the frame's
     * windows can be read back for the network diagnostic */
    const size_t hop_chunk = (size_t)(sr / lec_follower_fps(f)) > 1 ? (size_t)(sr / lec_follower_fps(f)) - 1 : 1;
    const int B = lec_follow_model_buckets(c->model);
    const float win_w = (float)lec_follow_model_info(c->model)->window_width_px;
    for (size_t i = 0; i < n;) {
        size_t chunk = n - i < hop_chunk ? n - i : hop_chunk, used = 0;
        int got = lec_follower_process(f, audio + i, chunk, &used, out + k, (int)(cap - k), &err);
        if (got < 0) {
            st = err.code;
            goto done;
        }
        if (got == 1 && !c->oracle && out[k].activity >= 0.5f) {
            const float *wx0, *wp;
            const int nw = lec_follower_last_windows(f, &wx0, &wp);
            const float tx = oracle_x(&orc, out[k].t_end_s);
            for (int w = 0; w < nw; w++) {
                if (!(tx >= wx0[w] && tx < wx0[w] + win_w))
                    continue;
                const int tb = (int)((tx - wx0[w]) / win_w * (float)B);
                int am = 0;
                for (int b = 1; b < B; b++)
                    if (wp[(size_t)w * B + b] > wp[(size_t)w * B + am])
                        am = b;
                t->net_in++;
                t->net_hit += am == tb;
                t->net_hit1 += abs(am - tb) <= 1;
            }
        }
        k += (size_t)got;
        i += used;
    }
    for (size_t i = 0; i < k; i++) {
        rep[i + 1] = (lec_report){out[i].t_end_s, out[i].strip_x_px};
        t->cost_s[i] = out[i].cost_s;
    }
    t->n_frames = k;
    t->audio_s = (double)n / sr;
    lec_follower_costs(f, &t->costs);
    lec_metrics_input in = {.geom = geom,
                            .events = ev,
                            .n_events = n_ev,
                            .frames = rep,
                            .n_frames = k + 1,
                            .jumps_s = t->jump ? &t->jump_s : NULL,
                            .n_jumps = t->jump ? 1 : 0};
    if ((st = lec_metrics_piece_eval(&in, &t->m, t->err_s, t->px_ss, &err)))
        goto done;
    if (c->dump && !st) {
        char csv[4600];
        lec_atomic_file af;
        snprintf(csv, sizeof csv, "%s/%s.frames.csv", c->dump, t->name);
        if (!(st = lec_atomic_open(&af, csv, &err))) {
            fprintf(af.fp, "frame,t_end_s,strip_x_px,system,page,page_x_px,confidence,lost,"
                           "speed_px_s,activity,level_db,n_windows,cost_ms\n");
            for (size_t i = 0; i < k; i++)
                fprintf(af.fp, "%lld,%.5f,%.2f,%d,%d,%.2f,%.4f,%d,%.2f,%.3f,%.1f,%d,%.4f\n",
                        (long long)out[i].frame, out[i].t_end_s, (double)out[i].strip_x_px,
                        out[i].system, out[i].page, (double)out[i].page_x_px,
                        (double)out[i].confidence, out[i].lost, (double)out[i].speed_px_s,
                        (double)out[i].activity, (double)out[i].level_db, out[i].n_windows,
                        out[i].cost_s * 1e3);
            st = lec_atomic_commit(&af, &err);
        }
        snprintf(csv, sizeof csv, "%s/%s.events.csv", c->dump, t->name);
        if (!st && !(st = lec_atomic_open(&af, csv, &err))) {
            fprintf(af.fp, "event,t_s,x_px,system,n_notes,error_s,px_error_ss\n");
            for (size_t e = 0; e < n_ev; e++)
                fprintf(af.fp, "%zu,%.5f,%.2f,%d,%d,%.5f,%.3f\n", e, ev[e].t_s, (double)ev[e].x_px,
                        ev[e].system, ev[e].n_notes, t->err_s[e], t->px_ss[e]);
            st = lec_atomic_commit(&af, &err);
        }
    }
    if (c->plots && !st) {
        char png[4600], title[400];
        snprintf(png, sizeof png, "%s/%s.png", c->plots, t->name);
        snprintf(title, sizeof title, "%s: within_0.5s %.3f, median error %.3f s%s", t->name,
                 t->m.within[2], t->m.median_error_s,
                 t->jump ? (t->m.n_recovered ? ", jump recovered" : ", jump NOT recovered") : "");
        st = lec_eval_plot(png, title, &geom, ev, n_ev, out, k, t->jump ? &t->jump_s : NULL,
                           t->jump ? 1 : 0, &err);
    }
done:
    t->st = st;
    if (st)
        snprintf(t->msg, sizeof t->msg, "%s", err.msg);
    lec_follower_destroy(f);
    lec_unroll_destroy(u);
    lec_eval_jump_free(&jmp);
    free(audio);
    free(notes);
    free(ev);
    free(s0);
    free(s1);
    free(out);
    free(rep);
}

static void *worker(void *arg)
{
    eval_ctx *c = arg;
    for (;;) {
        int i = atomic_fetch_add(&c->next, 1);
        if (i >= c->n_tasks)
            break;
        run_task(c, &c->tasks[i]);
        atomic_fetch_add(&c->done, 1);
    }
    return NULL;
}

static void print_header(void)
{
    printf("%-60s %6s %6s %6s %6s %6s %6s %8s %7s %4s %6s %5s %6s\n", "piece / rendering", "events",
           "0.05s", "0.1s", "0.5s", "1s", "5s", "med_err", "px_ss", "end", "lost", "jump", "rtf");
}

static void print_row(const char *name, size_t n_ev, const double *w, double med, double px,
                      const char *end, double lost, const char *jump, double rtf)
{
    char r[16] = "-";
    if (isfinite(rtf))
        snprintf(r, sizeof r, "%.1f", rtf);
    printf("%-60.60s %6zu %6.3f %6.3f %6.3f %6.3f %6.3f %8.3f %7.2f %4s %6.3f %5s %6s\n", name,
           n_ev, w[0], w[1], w[2], w[3], w[4], med, px, end, lost, jump, r);
}

/* The network in the follower's feed: of n windows holding the truth, hit
 * with the arg-max bucket right, hit1 within +-1. */
static cJSON *network_json(int64_t n, int64_t hit, int64_t hit1)
{
    cJSON *nj = cJSON_CreateObject();
    cJSON_AddNumberToObject(nj, "windows_holding_truth", (double)n);
    cJSON_AddNumberToObject(nj, "bucket_accuracy", (double)hit / (double)n);
    cJSON_AddNumberToObject(nj, "within_1_bucket", (double)hit1 / (double)n);
    return nj;
}

/* Table and JSON for the tasks with jump == jumps. Returns the JSON object. */
static cJSON *report(eval_ctx *c, int jumps, int *n_failed)
{
    lec_error err;
    lec_metrics_total *tot = lec_metrics_total_create(&err);
    cJSON *arr = cJSON_CreateArray(), *o = cJSON_CreateObject();
    size_t nf_all = 0;
    double audio_all = 0;
    for (int i = 0; i < c->n_tasks; i++)
        if (c->tasks[i].jump == jumps && !c->tasks[i].st)
            nf_all += c->tasks[i].n_frames;
    double *cost_all = malloc(sizeof(double) * (nf_all ? nf_all : 1));
    size_t kk = 0;
    int any = 0;
    int64_t net_in = 0, net_hit = 0, net_hit1 = 0;
    for (int i = 0; i < c->n_tasks; i++) {
        task *t = &c->tasks[i];
        if (t->jump != jumps)
            continue;
        if (!any) {
            if (jumps)
                printf("\nJUMP TESTS (play %g whole notes, jump back %g, go on)\n", c->jump_play,
                       c->jump_back);
            else
                printf("\nFOLLOWING\n");
            print_header();
            any = 1;
        }
        if (t->st == LEC_EUNSUPPORTED && t->jump) {
            /* a piece too short for the jump is not a failure of the follower */
            printf("%-60.60s skipped: %s\n", t->name, t->msg);
            continue;
        }
        if (t->st) {
            printf("%-60.60s FAILED: %s\n", t->name, t->msg);
            (*n_failed)++;
            continue;
        }
        lec_cost_stats cs;
        lec_metrics_cost(t->cost_s, t->n_frames, t->audio_s, &cs, &err);
        char jb[16];
        snprintf(jb, sizeof jb, "%s", !t->jump ? "-" : t->m.n_recovered ? "yes" : "no");
        print_row(t->name, t->m.n_events, t->m.within, t->m.median_error_s, t->m.median_px_error_ss,
                  t->m.followed_to_end ? "yes" : "no", t->m.lost_time, jb, cs.rtf);
        if (tot)
            lec_metrics_total_add(tot, &t->m, t->err_s, t->px_ss, &err);
        memcpy(cost_all + kk, t->cost_s, sizeof(double) * t->n_frames);
        kk += t->n_frames;
        audio_all += t->audio_s;
        const lec_piece *p = c->pieces[t->piece];
        const lec_piece_rendering *r = &lec_piece_renderings(p)[t->rendering];
        cJSON *pj = lec_metrics_piece_json(&t->m, t->name);
        if (!pj)
            continue;
        cJSON_AddStringToObject(pj, "bundle", lec_piece_dir(p));
        cJSON_AddStringToObject(pj, "rendering", r->name);
        cJSON_AddStringToObject(pj, "soundfont", r->soundfont);
        cJSON_AddNumberToObject(pj, "tempo_factor", r->tempo_factor);
        cJSON_AddBoolToObject(pj, "humanized", r->humanized);
        cJSON_AddNumberToObject(pj, "audio_s", t->audio_s);
        if (t->jump) {
            cJSON *jj = cJSON_CreateObject();
            cJSON_AddNumberToObject(jj, "at_s", t->jump_s);
            cJSON_AddNumberToObject(jj, "cut_from_s", t->jump_from_s);
            cJSON_AddNumberToObject(jj, "resume_at_s", t->jump_to_s);
            cJSON_AddItemToObject(pj, "jump", jj);
        }
        if (t->net_in) {
            cJSON_AddItemToObject(pj, "network", network_json(t->net_in, t->net_hit, t->net_hit1));
        }
        net_in += t->net_in;
        net_hit += t->net_hit;
        net_hit1 += t->net_hit1;
        cJSON *cj = lec_metrics_cost_json(&cs);
        if (cj) {
            cJSON_AddNumberToObject(cj, "windows_per_frame",
                                    t->costs.frames ? (double)t->costs.windows / t->costs.frames
                                                    : 0);
            cJSON_AddNumberToObject(cj, "spectrogram_s", t->costs.spec_s);
            cJSON_AddNumberToObject(cj, "network_s", t->costs.net_s);
            cJSON_AddNumberToObject(cj, "tracker_s", t->costs.track_s);
            cJSON_AddItemToObject(pj, "cost", cj);
        }
        cJSON_AddItemToArray(arr, pj);
    }
    cJSON_AddItemToObject(o, "pieces", arr);
    if (tot) {
        lec_metrics_summary s;
        lec_metrics_total_summary(tot, &s);
        if (s.n_pieces) {
            static const char *dash = "-";
            print_row("TOTAL over onsets", s.n_events, s.within_total, s.median_error_s,
                      s.median_px_error_ss, "", s.lost_time, dash, NAN);
            char end[16];
            snprintf(end, sizeof end, "%.2f", s.followed_to_end);
            char jb[16];
            if (jumps)
                snprintf(jb, sizeof jb, "%.2f", s.recovered_within_2s);
            else
                snprintf(jb, sizeof jb, "-");
            print_row("MEAN over pieces", s.n_events, s.within_piece_mean, s.median_error_s,
                      s.median_px_error_ss, end, s.lost_time, jb, NAN);
            printf("(median errors are over all onsets; followed_to_end %.3f of %zu pieces%s)\n",
                   s.followed_to_end, s.n_pieces, "");
            if (jumps)
                printf("recovered_within_2s: %zu of %zu jumps = %.3f\n", s.n_recovered, s.n_jumps,
                       s.recovered_within_2s);
            cJSON_AddItemToObject(o, "summary", lec_metrics_summary_json(&s));
        }
        lec_metrics_total_destroy(tot);
    }
    if (net_in) {
        const int B = lec_follow_model_buckets(c->model);
        printf("network in the follower's feed: %lld windows held the true position while "
               "someone played; arg-max bucket right %.3f, within +-1 %.3f (chance %.3f / %.3f)\n",
               (long long)net_in, (double)net_hit / (double)net_in,
               (double)net_hit1 / (double)net_in, 1.0 / B, 3.0 / B);
        cJSON_AddItemToObject(o, "network", network_json(net_in, net_hit, net_hit1));
    }
    if (kk) {
        lec_cost_stats cs;
        if (!lec_metrics_cost(cost_all, kk, audio_all, &cs, &err)) {
            printf("cost: %zu frames, per frame median %.3f ms, p99 %.3f ms, max %.3f ms; "
                   "%.1fx real time per core\n",
                   cs.n, cs.median_s * 1e3, cs.p99_s * 1e3, cs.max_s * 1e3, cs.rtf);
            cJSON *cj = lec_metrics_cost_json(&cs);
            if (cj) {
                /* the position of a frame is out as soon as the frame is processed:
                 * latency from its last sample = its processing time (+ the audio
                 * buffering of a live input, not present here) */
                cJSON_AddNumberToObject(cj, "latency_median_ms", cs.median_s * 1e3);
                cJSON_AddNumberToObject(cj, "latency_p99_ms", cs.p99_s * 1e3);
                cJSON_AddItemToObject(o, "cost", cj);
            }
        }
    }
    free(cost_all);
    return o;
}

int lec_cmd_eval(int argc, char **argv)
{
    if (lec_wants_help(argc, argv)) {
        help(stdout);
        return 0;
    }
    const char *model_path = NULL, *audio = "all", *json = NULL, *plots = NULL;
    int jobs = 2, jumps = 0;
    double jump_play = 8, jump_back = 4;
    lec_follow_start start = LEC_FOLLOW_START_PAGE1;
    eval_ctx c;
    memset(&c, 0, sizeof c);
    c.oracle_noise = 0.5f;
    c.net_every = 1;
    const char **bundles = calloc((size_t)argc, sizeof *bundles);
    int nb = 0;
    if (!bundles)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--model") && has)
            model_path = argv[++i];
        else if (!strcmp(a, "--audio") && has)
            audio = argv[++i];
        else if (!strcmp(a, "--json") && has)
            json = argv[++i];
        else if (!strcmp(a, "--plots") && has)
            plots = argv[++i];
        else if (!strcmp(a, "--tracker") && has)
            c.tracker_spec = argv[++i];
        else if (!strcmp(a, "--dump") && has)
            c.dump = argv[++i];
        else if (!strcmp(a, "--jobs") && has)
            jobs = atoi(argv[++i]);
        else if (!strcmp(a, "--jumps"))
            jumps = 1;
        else if (!strcmp(a, "--net-every") && has)
            c.net_every = atoi(argv[++i]);
        else if (!strcmp(a, "--oracle")) {
            c.oracle = 1;
            char *end = NULL;
            if (has) {
                double v = strtod(argv[i + 1], &end);
                if (end && *end == 0 && v >= 0 && v <= 1) {
                    c.oracle_noise = (float)v;
                    i++;
                }
            }
        } else if (!strcmp(a, "--jump-play") && has)
            jump_play = atof(argv[++i]);
        else if (!strcmp(a, "--jump-back") && has)
            jump_back = atof(argv[++i]);
        else if (!strcmp(a, "--start") && has) {
            const char *s = argv[++i];
            if (!strcmp(s, "page1"))
                start = LEC_FOLLOW_START_PAGE1;
            else if (!strcmp(s, "anywhere"))
                start = LEC_FOLLOW_START_ANYWHERE;
            else {
                fprintf(stderr, "lectern eval: --start %s: expected page1 or anywhere\n", s);
                free(bundles);
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "lectern eval: unknown or incomplete option %s (see --help)\n", a);
            free(bundles);
            return 2;
        } else
            bundles[nb++] = a;
    }
    if ((!model_path && !c.oracle) || nb == 0 || c.net_every < 1 || c.net_every > 100 || jobs < 1 ||
        jobs > 64 || !(jump_play > 0) || !(jump_back > 0) || jump_back >= jump_play) {
        fprintf(stderr, "lectern eval: need --model M and at least one BUNDLE; --jobs 1..64; "
                        "0 < --jump-back < --jump-play (see --help)\n");
        free(bundles);
        return 2;
    }
    {
        lec_follower_config d;
        lec_follower_config_default(&d);
        c.tracker = d.tracker;
        c.tracker.global_obs = -1; /* automatic (lec_follower_config.global_obs) unless given */
        lec_error e2;
        if (c.tracker_spec && lec_eval_tracker_overrides(&c.tracker, c.tracker_spec, &e2)) {
            fprintf(stderr, "lectern eval: %s\n", e2.msg);
            free(bundles);
            return 2;
        }
    }
    /* one core per follower: OpenBLAS must not start threads of its own */
    openblas_set_num_threads(1);
    int rc = 0;
    lec_error err;
    c.start = start;
    c.plots = plots;
    c.jump_play = jump_play;
    c.jump_back = jump_back;
    lec_follow_model *model =
        model_path ? lec_follow_model_load(model_path, &err) : lec_eval_default_model(&err);
    c.pieces = calloc((size_t)nb, sizeof *c.pieces);
    c.tasks = NULL;
    if (!model) {
        fprintf(stderr, "lectern eval: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    c.model = model;
    if (c.dump && lec_mkdir_p(c.dump, &err)) {
        fprintf(stderr, "lectern eval: --dump %s: %s\n", c.dump, err.msg);
        rc = 1;
        goto out;
    }
    if (plots && lec_mkdir_p(plots, &err)) {
        fprintf(stderr, "lectern eval: --plots %s: %s\n", plots, err.msg);
        rc = 1;
        goto out;
    }
    /* load every bundle first: a bad one is reported before hours of work */
    int n_tasks = 0;
    lec_follow_model_unroll_config(model, &c.ucfg);
    for (int b = 0; b < nb; b++) {
        c.pieces[b] = lec_piece_load(bundles[b], &err);
        if (!c.pieces[b]) {
            fprintf(stderr, "lectern eval: %s\n", err.msg);
            rc = 1;
            goto out;
        }
        size_t nr = lec_piece_n_renderings(c.pieces[b]);
        const lec_piece_rendering *rr = lec_piece_renderings(c.pieces[b]);
        int sel = 0;
        for (size_t r = 0; r < nr; r++)
            sel += !strcmp(audio, "all") || !strcmp(audio, rr[r].name);
        if (nr == 0) {
            fprintf(stderr, "lectern eval: %s: the bundle has no audio renderings to follow\n",
                    bundles[b]);
            rc = 1;
            goto out;
        }
        if (sel == 0) {
            char have[1024] = "";
            for (size_t r = 0; r < nr; r++)
                snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", r ? ", " : "",
                         rr[r].name);
            fprintf(stderr, "lectern eval: %s: no rendering named %s (it has: %s)\n", bundles[b],
                    audio, have);
            rc = 1;
            goto out;
        }
        n_tasks += sel * (jumps ? 2 : 1);
    }
    c.tasks = calloc((size_t)n_tasks, sizeof *c.tasks);
    if (!c.tasks) {
        rc = 1;
        goto out;
    }
    for (int b = 0; b < nb; b++) {
        const lec_piece *p = c.pieces[b];
        const lec_piece_rendering *rr = lec_piece_renderings(p);
        /* the bundle directory's last component, trailing slashes ignored
         * ("DIR/piece/" names the run "piece", as "DIR/piece" does) */
        char base[512];
        {
            const char *d = lec_piece_dir(p);
            size_t e = strlen(d);
            while (e > 1 && d[e - 1] == '/')
                e--;
            size_t s = e;
            while (s > 0 && d[s - 1] != '/')
                s--;
            size_t n = e - s < sizeof base - 1 ? e - s : sizeof base - 1;
            memcpy(base, d + s, n);
            base[n] = 0;
        }
        for (int j = 0; j <= jumps; j++)
            for (size_t r = 0; r < lec_piece_n_renderings(p); r++) {
                if (strcmp(audio, "all") && strcmp(audio, rr[r].name))
                    continue;
                task *t = &c.tasks[c.n_tasks++];
                t->piece = b;
                t->rendering = (int)r;
                t->jump = j;
                snprintf(t->name, sizeof t->name, "%s__%s%s", base, rr[r].name, j ? "__jump" : "");
            }
    }
    if (jobs > c.n_tasks)
        jobs = c.n_tasks;
    pthread_t th[64];
    int started = 0;
    for (int i = 0; i < jobs; i++)
        if (pthread_create(&th[i], NULL, worker, &c) == 0)
            started++;
    if (started == 0)
        worker(&c); /* no threads: do it here */
    lec_progress prog;
    lec_progress_begin(&prog, "eval", c.n_tasks);
    while (atomic_load(&c.done) < c.n_tasks) {
        lec_progress_update(&prog, atomic_load(&c.done), NULL);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    lec_progress_end(&prog, NULL);

    const lec_model_info *mi = lec_follow_model_info(model);
    if (c.oracle)
        printf("ORACLE RUN (diagnostic): the network is replaced by the ground truth with "
               "%.2f noise; these are not figures of the follower\n",
               (double)c.oracle_noise);
    printf("model %s: %d buckets%s, %.2f frames/s (network on every %d); start: %s; %d job%s\n",
           lec_follow_model_name(model), lec_follow_model_buckets(model),
           lec_follow_model_outside_class(model) ? " + outside" : "", lec_follow_model_fps(model),
           c.net_every, start == LEC_FOLLOW_START_ANYWHERE ? "anywhere" : "page one", jobs,
           jobs > 1 ? "s" : "");
    int n_failed = 0;
    cJSON *root = cJSON_CreateObject();
    cJSON *cond = cJSON_CreateObject();
    cJSON_AddStringToObject(cond, "model", lec_follow_model_name(model));
    if (c.oracle)
        cJSON_AddNumberToObject(cond, "oracle_noise", c.oracle_noise);
    cJSON_AddBoolToObject(cond, "oracle", c.oracle);
    cJSON_AddNumberToObject(cond, "sample_rate", mi->sample_rate);
    cJSON_AddNumberToObject(cond, "hop_size", mi->hop_size);
    cJSON_AddNumberToObject(cond, "buckets", lec_follow_model_buckets(model));
    cJSON_AddBoolToObject(cond, "outside_class", lec_follow_model_outside_class(model));
    cJSON_AddStringToObject(cond, "start",
                            start == LEC_FOLLOW_START_ANYWHERE ? "anywhere" : "page1");
    cJSON_AddStringToObject(cond, "audio", audio);
    cJSON_AddNumberToObject(cond, "jobs", jobs);
    cJSON_AddNumberToObject(cond, "net_every", c.net_every);
    cJSON_AddStringToObject(cond, "tracker", c.tracker_spec ? c.tracker_spec : "");
    cJSON_AddItemToObject(root, "conditions", cond);
    cJSON_AddItemToObject(root, "following", report(&c, 0, &n_failed));
    if (jumps) {
        cJSON *jt = report(&c, 1, &n_failed);
        cJSON *jc = cJSON_CreateObject();
        cJSON_AddNumberToObject(jc, "play_whole_notes", jump_play);
        cJSON_AddNumberToObject(jc, "back_whole_notes", jump_back);
        cJSON_AddNumberToObject(jc, "crossfade_s", 0.020);
        cJSON_AddItemToObject(jt, "conditions", jc);
        cJSON_AddItemToObject(root, "jump_tests", jt);
    }
    if (n_failed) {
        fprintf(stderr, "lectern eval: %d of %d runs failed (see the table)\n", n_failed,
                c.n_tasks);
        rc = 1;
    }
    if (json) {
        char *txt = cJSON_Print(root);
        if (!txt || lec_write_file_atomic(json, txt, strlen(txt), &err)) {
            fprintf(stderr, "lectern eval: --json %s: %s\n", json, txt ? err.msg : "out of memory");
            rc = 1;
        } else {
            printf("wrote %s\n", json);
        }
        free(txt);
    }
    if (plots)
        printf("plots in %s/\n", plots);
    cJSON_Delete(root);
out:
    if (c.tasks)
        for (int i = 0; i < c.n_tasks; i++) {
            free(c.tasks[i].err_s);
            free(c.tasks[i].px_ss);
            free(c.tasks[i].cost_s);
        }
    free(c.tasks);
    for (int b = 0; b < nb; b++) {
        if (c.pieces)
            lec_piece_destroy(c.pieces[b]);
    }
    free(c.pieces);
    free(bundles);
    lec_follow_model_destroy(model);
    if (plots) {
        /* cairo's toy text API loaded fontconfig: free its caches for leak checkers */
        cairo_debug_reset_static_data();
        FcFini();
    }
    return rc;
}
