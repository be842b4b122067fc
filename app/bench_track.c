/* bench_track.c -- `lectern bench track`: the whole follower (spectrogram +
 * network + tracker) on one pinned core over a rendering, beside the
 * network-only cost (exactly the same batched forwards, alone) and the
 * tracker-only cost (the tracker replayed on the recorded network outputs),
 * all measured in the same run. Figure: the follower's real-time factor, and
 * the share of it the network takes. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "commands.h"
#include "eval_data.h"
#include "lec_follower.h"
#include "lec_model.h"
#include "lec_nn.h"
#include "lec_spec.h"
#include "lec_util.h"

#ifndef LEC_SOURCE_DIR
#define LEC_SOURCE_DIR "."
#endif
#define DEMO_BUNDLE LEC_SOURCE_DIR "/assets/BurgmullerJFF__O100__25EF-16"

static void help(FILE *out)
{
    fprintf(out,
            "usage: lectern bench track [--model M] [BUNDLE] [options]\n\n"
            "Cost of following, on one pinned core (OpenBLAS single-threaded), over one\n"
            "rendering of BUNDLE [%s]:\n"
            "  follower      lec_follower_process over the whole audio: spectrogram, network\n"
            "                (all of a frame's windows in one batched forward), tracker\n"
            "  network only  the same batched forwards (same windows, same inputs) alone\n"
            "  tracker only  the tracker replayed on the recorded network outputs\n"
            "Per-frame median / p99 / max and the real-time factor (audio s / processing s).\n"
            "Without --model: a randomly initialised network of the default architecture\n"
            "(the cost does not depend on the weights).\n\n"
            "options:\n"
            "  --audio NAME    rendering [the first]\n"
            "  --seconds S     follow only the first S seconds [all]\n"
            "  --net-every K   run the network on every K-th frame only [1]\n"
            "  --oracle        the network still runs on every window (its cost is real),\n"
            "                  but the tracker is fed the ground truth (lec_eval_oracle_softmax,\n"
            "                  half the mass as noise), so the windows per frame\n"
            "                  are those of a network that tracks. Without it an untrained\n"
            "                  network keeps the tracker searching: the worst case (main +\n"
            "                  second + 8 scan windows per frame)\n",
            DEMO_BUNDLE);
}

/* This thread's CPU time, s: immune to preemption by other processes on a
 * shared machine, unlike the wall clock the per-frame figures use. */
static double cpu_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct truth_obs {
    const lec_unroll *u;
    int rendering, B;
    float win_w;
} truth_obs;

static int truth_fn(void *user, const float *score, const float *spec, const float *x0, int n,
                    double t_end_s, float *probs)
{
    (void)score, (void)spec;
    const truth_obs *o = user;
    lec_eval_oracle_softmax(lec_unroll_truth_x(o->u, o->rendering, t_end_s), x0, n, o->win_w, o->B,
                            0.5f, probs);
    return 0;
}

typedef struct replay {
    const float *probs; /* recorded (sum n_f, B) */
    const int *n;       /* windows per frame */
    size_t frame, off;
    int B;
} replay;

static int replay_fn(void *user, const float *score, const float *spec, const float *x0, int n,
                     double t_end_s, float *probs)
{
    (void)score, (void)spec, (void)x0;
    replay *r = user;
    /* frames with windows arrive in order; skip silent ones (n = 0 recorded) */
    while (r->n[r->frame] == 0)
        r->frame++;
    if (r->n[r->frame] != n) {
        fprintf(stderr, "bench track: replay diverged at %.2f s (%d windows, recorded %d)\n",
                t_end_s, n, r->n[r->frame]);
        return -1;
    }
    memcpy(probs, r->probs + r->off, sizeof(float) * (size_t)n * (size_t)r->B);
    r->off += (size_t)n * (size_t)r->B;
    r->frame++;
    return 0;
}

static void print_stats(const char *what, double *v, size_t n, double audio_s, double ref_total)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += v[i];
    lec_bench_stats s = lec_bench_summarise(v, n);
    printf("  %-22s median %7.3f ms  p99 %7.3f ms  max %7.3f ms  total %7.3f s  %7.1fx real time",
           what, s.median * 1e3, s.p99 * 1e3, v[n ? n - 1 : 0] * 1e3, total,
           total > 0 ? audio_s / total : 0);
    if (ref_total > 0)
        printf("  (%4.1f%% of the follower)", 100.0 * total / ref_total);
    printf("\n");
}

int lec_bench_track(int argc, char **argv)
{
    if (lec_wants_help(argc, argv)) {
        help(stdout);
        return 0;
    }
    const char *model_path = NULL, *bundle = NULL, *audio_name = NULL;
    double seconds = 0;
    int use_oracle = 0, net_every = 1;
    for (int i = 1; i < argc; i++) {
        int has = i + 1 < argc;
        if (!strcmp(argv[i], "--model") && has)
            model_path = argv[++i];
        else if (!strcmp(argv[i], "--audio") && has)
            audio_name = argv[++i];
        else if (!strcmp(argv[i], "--net-every") && has)
            net_every = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--oracle"))
            use_oracle = 1;
        else if (!strcmp(argv[i], "--seconds") && has)
            seconds = atof(argv[++i]);
        else if (argv[i][0] == '-') {
            fprintf(stderr, "lectern bench track: unknown or incomplete option %s\n", argv[i]);
            return 2;
        } else
            bundle = argv[i];
    }
    if (!bundle)
        bundle = DEMO_BUNDLE;
    openblas_set_num_threads(1);
    int cpu = lec_bench_pin_cpu();
    lec_error err;
    int rc = 1;
    lec_follow_model *model = NULL;
    lec_piece *piece = NULL;
    lec_follower *f = NULL;
    lec_nn_ctx *ctx = NULL;
    float *audio = NULL, *spec = NULL, *score_in = NULL, *spec_in = NULL, *probs_rec = NULL;
    float *x0_rec = NULL, *ex = NULL;
    int *n_rec = NULL;
    truth_obs tobs = {0};
    lec_follow_out *out = NULL;
    double *t_all = NULL, *t_part = NULL;
    if (model_path) {
        model = lec_follow_model_load(model_path, &err);
    } else {
        model = lec_eval_default_model(&err);
    }
    if (!model) {
        fprintf(stderr, "lectern bench track: %s\n", err.msg);
        goto out;
    }
    piece = lec_piece_load(bundle, &err);
    if (!piece) {
        fprintf(stderr, "lectern bench track: %s\n", err.msg);
        goto out;
    }
    int r = -1;
    for (size_t i = 0; i < lec_piece_n_renderings(piece); i++)
        if (!audio_name || !strcmp(audio_name, lec_piece_renderings(piece)[i].name)) {
            r = (int)i;
            break;
        }
    if (r < 0) {
        fprintf(stderr, "lectern bench track: %s: no rendering%s%s\n", bundle,
                audio_name ? " named " : "", audio_name ? audio_name : "");
        goto out;
    }
    const lec_model_info *mi = lec_follow_model_info(model);
    char path[4096];
    lec_piece_path(piece, lec_piece_renderings(piece)[r].audio, path, sizeof path);
    size_t n = 0;
    audio = lec_eval_read_audio(path, mi->sample_rate, &n, &err);
    if (!audio) {
        fprintf(stderr, "lectern bench track: %s\n", err.msg);
        goto out;
    }
    if (seconds > 0 && (size_t)(seconds * mi->sample_rate) < n)
        n = (size_t)(seconds * mi->sample_rate);
    double audio_s = (double)n / mi->sample_rate;

    lec_follower_config fc;
    lec_follower_config_default(&fc);
    fc.model = model;
    fc.piece = piece;
    fc.net_every = net_every;
    lec_unroll_config ucfg;
    lec_follow_model_unroll_config(model, &ucfg);
    tobs.rendering = r;
    tobs.B = lec_follow_model_buckets(model);
    tobs.win_w = (float)mi->window_width_px;
    if (use_oracle) {
        /* the follower's own strip is made the same way: use one for the truth */
        tobs.u = lec_unroll_create(piece, &ucfg, &err);
        if (!tobs.u) {
            fprintf(stderr, "lectern bench track: %s\n", err.msg);
            goto out;
        }
        fc.unroll = tobs.u;
        fc.observer = truth_fn;
        fc.observer_user = &tobs;
        fc.observer_after_network = 1;
    }
    f = lec_follower_create(&fc, &err);
    if (!f) {
        fprintf(stderr, "lectern bench track: %s\n", err.msg);
        goto out;
    }
    const lec_nn_arch *a = lec_nn_net_arch(lec_follow_model_net(model));
    int B = lec_follow_model_buckets(model),
        maxw = lec_tracker_max_windows(lec_follower_tracker(f));
    size_t nf = lec_follower_max_frames(f, n);
    out = malloc(sizeof *out * (nf + 1));
    n_rec = calloc(nf + 1, sizeof *n_rec);
    x0_rec = malloc(sizeof(float) * (nf + 1) * (size_t)maxw);
    probs_rec = malloc(sizeof(float) * (nf + 1) * (size_t)maxw * (size_t)B);
    t_all = malloc(sizeof(double) * (nf + 1));
    t_part = malloc(sizeof(double) * (nf + 1));
    if (!out || !n_rec || !x0_rec || !probs_rec || !t_all || !t_part) {
        fprintf(stderr, "lectern bench track: out of memory\n");
        goto out;
    }
    if (use_oracle)
        printf("(--oracle: the tracker follows the ground truth; the network runs on its "
               "windows for the cost)\n");
    printf("bench track: %s, rendering %s, %.1f s of audio; model %s (%dx%d score, %dx%d "
           "spectrogram, %d buckets); one core%s\n",
           bundle, lec_piece_renderings(piece)[r].name, audio_s, lec_follow_model_name(model),
           a->score_h, a->score_w, a->spec_bands, a->spec_frames, B,
           cpu >= 0 ? " (pinned)" : " (not pinned)");

    /* ---- 1: the follower, frame by frame (record windows and outputs) */
    size_t k = 0, poff = 0;
    long total_windows = 0;
    double cpu0 = cpu_now_s();
    for (size_t i = 0; i < n;) {
        size_t used = 0;
        int got = lec_follower_process(f, audio + i, n - i, &used, out + k, 1, &err);
        if (got < 0) {
            fprintf(stderr, "lectern bench track: %s\n", err.msg);
            goto out;
        }
        i += used;
        if (got == 1) {
            const float *x0, *pr;
            int w = lec_follower_last_windows(f, &x0, &pr);
            n_rec[k] = w;
            memcpy(x0_rec + k * (size_t)maxw, x0, sizeof(float) * (size_t)w);
            memcpy(probs_rec + poff, pr, sizeof(float) * (size_t)w * (size_t)B);
            poff += (size_t)w * (size_t)B;
            total_windows += w;
            k++;
        }
    }
    nf = k;
    double cpu_follower = cpu_now_s() - cpu0;
    double follower_total = 0;
    for (size_t i = 0; i < nf; i++)
        follower_total += out[i].cost_s;
    size_t playing = 0, lost = 0;
    for (size_t i = 0; i < nf; i++) {
        playing += n_rec[i] > 0;
        lost += out[i].lost != 0;
    }
    printf("tracker searching (lost) in %.1f%% of the frames\n",
           100.0 * (double)lost / (double)(nf ? nf : 1));
    printf("%zu frames, %.2f windows per frame on average, %.2f in the %zu frames that ran the "
           "network\n\n",
           nf, (double)total_windows / (double)(nf ? nf : 1),
           (double)total_windows / (double)(playing ? playing : 1), playing);

    /* ---- 2: the network alone: the same batched forwards on the same inputs.
     * Inputs are rebuilt outside the timed region (offline spectrogram, which
     * equals the streaming one; score windows cut from the strip). */
    lec_spec_config sc;
    lec_follow_model_spec_config(model, &sc);
    size_t n_spec = 0;
    int bands = 0;
    if (lec_spec_compute(&sc, audio, n, &spec, &n_spec, &bands, &err)) {
        fprintf(stderr, "lectern bench track: %s\n", err.msg);
        goto out;
    }
    ctx = lec_nn_ctx_create(lec_follow_model_net(model), maxw, 0, &err);
    size_t exn = (size_t)a->spec_bands * (size_t)a->spec_frames,
           swn = (size_t)a->score_h * (size_t)a->score_w;
    score_in = malloc(sizeof(float) * swn * (size_t)maxw);
    spec_in = malloc(sizeof(float) * exn * (size_t)maxw);
    ex = malloc(sizeof(float) * exn);
    if (!ctx || !score_in || !spec_in || !ex) {
        fprintf(stderr, "lectern bench track: %s\n", ctx ? "out of memory" : err.msg);
        goto out;
    }
    size_t n_net = 0;
    double net_total = 0, cpu_net = 0;
    for (size_t i = 0; i < nf; i++) {
        int w = n_rec[i];
        if (w == 0)
            continue;
        for (int j = 0; j < a->spec_frames; j++) {
            long fr = (long)i - (a->spec_frames - 1 - j);
            for (int b = 0; b < a->spec_bands; b++)
                ex[(size_t)b * (size_t)a->spec_frames + (size_t)j] =
                    fr >= 0 && (size_t)fr < n_spec ? spec[(size_t)fr * (size_t)bands + (size_t)b]
                                                   : 0;
        }
        for (int q = 0; q < w; q++) {
            memcpy(spec_in + (size_t)q * exn, ex, sizeof(float) * exn);
            lec_unroll_window(lec_follower_unroll(f), (int)x0_rec[i * (size_t)maxw + (size_t)q],
                              a->score_w, score_in + (size_t)q * swn);
        }
        double t0 = lec_now_s(), c0 = cpu_now_s();
        if (lec_nn_forward(ctx, score_in, spec_in, w, LEC_NN_EVAL, 0, 0, &err)) {
            fprintf(stderr, "lectern bench track: %s\n", err.msg);
            goto out;
        }
        double dt = lec_now_s() - t0;
        cpu_net += cpu_now_s() - c0;
        t_part[n_net++] = dt;
        net_total += dt;
    }

    /* ---- 3: the tracker alone, replayed on the recorded outputs */
    lec_follower_config rc3 = fc;
    rc3.observer_after_network = 0;
    replay rp = {.probs = probs_rec, .n = n_rec, .B = B};
    rc3.observer = replay_fn;
    rc3.observer_user = &rp;
    lec_follower *g = lec_follower_create(&rc3, &err);
    if (!g) {
        fprintf(stderr, "lectern bench track: %s\n", err.msg);
        goto out;
    }
    lec_follow_out *o2 = malloc(sizeof *o2 * (nf + 1));
    size_t k2 = 0, same = 0;
    double track_total = 0;
    for (size_t i = 0; o2 && i < n;) {
        size_t used = 0;
        int got =
            lec_follower_process(g, audio + i, n - i, &used, o2 + k2, (int)(nf + 1 - k2), &err);
        if (got < 0)
            break;
        k2 += (size_t)got;
        i += used;
    }
    for (size_t i = 0; o2 && i < k2 && i < nf; i++) {
        same += o2[i].strip_x_px == out[i].strip_x_px;
        track_total += o2[i].cost_track_s;
    }
    lec_follower_destroy(g);

    printf("per frame (wall clock, one core):\n");
    for (size_t i = 0; i < nf; i++)
        t_all[i] = out[i].cost_s;
    print_stats("follower (all)", t_all, nf, audio_s, 0);
    for (size_t i = 0; i < nf; i++)
        t_all[i] = out[i].cost_spec_s;
    print_stats(" - spectrogram part", t_all, nf, audio_s, follower_total);
    for (size_t i = 0; i < nf; i++)
        t_all[i] = out[i].cost_net_s;
    print_stats(" - network part", t_all, nf, audio_s, follower_total);
    for (size_t i = 0; i < nf; i++)
        t_all[i] = out[i].cost_track_s;
    print_stats(" - tracker part", t_all, nf, audio_s, follower_total);
    printf("isolated, same run:\n");
    {
        /* network-only per frame: frames without windows cost 0 */
        for (size_t i = n_net; i < nf; i++)
            t_part[i] = 0;
        print_stats("network only", t_part, nf, audio_s, follower_total);
    }
    if (o2) {
        for (size_t i = 0; i < k2; i++)
            t_all[i] = o2[i].cost_track_s;
        print_stats("tracker only (replay)", t_all, k2, audio_s, follower_total);
    }
    free(o2);
    printf("  (replayed tracker reproduced %zu of %zu positions exactly)\n", same, nf);
    printf("\nFIGURE: follower %.1fx real time on one core (target >= 50x); the network alone "
           "%.1fx, i.e. %.0f%% of the follower's time; tracker %.0f%%.\n",
           follower_total > 0 ? audio_s / follower_total : 0,
           net_total > 0 ? audio_s / net_total : 0,
           follower_total > 0 ? 100 * net_total / follower_total : 0,
           follower_total > 0 ? 100 * track_total / follower_total : 0);
    printf("thread CPU time (no preemption): follower %.1fx real time (includes recording the "
           "outputs), network only %.1fx\n",
           cpu_follower > 0 ? audio_s / cpu_follower : 0, cpu_net > 0 ? audio_s / cpu_net : 0);
    printf("latency: a frame's position is reported when its processing ends, i.e. its "
           "processing time after its last sample (median above) plus the input buffering "
           "of a live device.\n");
    rc = 0;
out:
    lec_nn_ctx_destroy(ctx);
    lec_follower_destroy(f);
    lec_unroll_destroy((lec_unroll *)tobs.u);
    lec_piece_destroy(piece);
    lec_follow_model_destroy(model);
    free(audio);
    free(spec);
    free(score_in);
    free(spec_in);
    free(ex);
    free(probs_rec);
    free(x0_rec);
    free(n_rec);
    free(out);
    free(t_all);
    free(t_part);
    return rc;
}
