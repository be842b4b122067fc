/* bench_track.c -- `lectern bench track`: the whole follower (spectrogram +
 * network + tracker) on one pinned core over a rendering, beside the
 * network-only cost before and after the score-window cache (the same
 * windows and inputs through the full batched forward, and through the
 * spectrogram tower + cached head parts, alone), the follower without the
 * cache, and the tracker-only cost (the tracker replayed on the recorded
 * network outputs), all measured in the same run. Figure: the follower's
 * real-time factor, and the network's before/after ratio. */
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
#include "lec_nn_layers.h"
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
            "  --baseline-seconds S  the baselines without the cache (the follower without\n"
            "                  it, the full forward of the recorded windows) run on the\n"
            "                  first S seconds only [30]: with the global observation\n"
            "                  (bucket-head models) a frame evaluates every tile of the\n"
            "                  strip, and the full forward of all of them is ~100x dearer\n"
            "  --net-every K   run the network on every K-th frame only [1]\n"
            "  --oracle        the network still runs on every window (its cost is real),\n"
            "                  but the tracker is fed the ground truth (lec_eval_oracle_softmax,\n"
            "                  half the mass as noise), so the windows per frame\n"
            "                  are those of a network that tracks. Without it an untrained\n"
            "                  network keeps the tracker searching: the worst case (main +\n"
            "                  second + 8 scan windows per frame)\n"
            "  --grid PX       window-origin grid of the score-window cache [window width / 8]\n"
            "Random network of another shape (without --model; the default layers):\n"
            "  --window WxH    score window width x height, px [160x120]\n"
            "  --staff-space S px per staff space of the strip [5]; H / S staff spaces high\n"
            "  --buckets B     [32]\n"
            "  --score-layers L, --head-layers L, --bucket-head   as lec_nn_arch\n\n"
            "The follower runs with the score-window cache (hmm/FOLLOWER.md): per frame the\n"
            "spectrogram tower once and the head per window. \"network before\" is the\n"
            "full batched forward of the same windows (what the follower ran without the\n"
            "cache), \"network after\" the cached path alone; the follower is also run\n"
            "without the cache (same window grid) for its real-time factor.\n",
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

/* A random network of the default layers with another window (the cost does
 * not depend on the weights). */
static lec_follow_model *random_model(int win_w, int win_h, double ss, int buckets,
                                      const char *score_layers, const char *head_layers,
                                      int bucket_head, lec_error *err)
{
    lec_nn_arch a;
    lec_nn_arch_default(&a);
    lec_model_info info;
    lec_model_info_default(&info);
    if (win_w > 0)
        a.score_w = win_w, a.score_h = win_h;
    if (buckets > 0)
        a.n_out = buckets;
    if (score_layers)
        snprintf(a.score_layers, sizeof a.score_layers, "%s", score_layers);
    if (head_layers)
        snprintf(a.head_layers, sizeof a.head_layers, "%s", head_layers);
    a.bucket_head = bucket_head;
    info.window_width_px = a.score_w;
    info.window_height_px = a.score_h;
    info.buckets = a.n_out;
    if (ss > 0)
        info.staff_space_px = ss;
    char name[160];
    snprintf(name, sizeof name, "random weights, %dx%d window at %g px/staff space%s",
             a.score_w, a.score_h, info.staff_space_px, bucket_head ? ", bucket head" : "");
    return lec_eval_random_model(&a, &info, name, err);
}

static void cache_progress(void *user, int64_t done, int64_t total)
{
    lec_progress *p = user;
    p->total = total; /* known once the grid is laid out */
    lec_progress_update(p, done, NULL);
}

/* The rendering's audio through a follower, one frame per call (as live). */
static int run_follower(lec_follower *f, const float *audio, size_t n, lec_follow_out *out,
                        double *cpu, size_t *n_frames, lec_error *err)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t used = 0;
        double c0 = cpu_now_s();
        int got = lec_follower_process(f, audio + i, n - i, &used, out + k, 1, err);
        if (got < 0)
            return -1;
        if (got == 1)
            cpu[k] = cpu_now_s() - c0;
        i += used;
        k += (size_t)got;
    }
    *n_frames = k;
    return 0;
}

int lec_bench_track(int argc, char **argv)
{
    if (lec_wants_help(argc, argv)) {
        help(stdout);
        return 0;
    }
    const char *model_path = NULL, *bundle = NULL, *audio_name = NULL;
    const char *score_layers = NULL, *head_layers = NULL;
    double seconds = 0, staff_space = 0, base_seconds = 30;
    int use_oracle = 0, net_every = 1, grid = 0, win_w = 0, win_h = 0, buckets = 0;
    int bucket_head = 0;
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
        else if (!strcmp(argv[i], "--baseline-seconds") && has)
            base_seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--grid") && has)
            grid = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--window") && has) {
            if (sscanf(argv[++i], "%dx%d", &win_w, &win_h) != 2 || win_w < 1 || win_h < 1) {
                fprintf(stderr, "lectern bench track: --window %s: want WxH, e.g. 256x96\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--staff-space") && has)
            staff_space = atof(argv[++i]);
        else if (!strcmp(argv[i], "--buckets") && has)
            buckets = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--score-layers") && has)
            score_layers = argv[++i];
        else if (!strcmp(argv[i], "--head-layers") && has)
            head_layers = argv[++i];
        else if (!strcmp(argv[i], "--bucket-head"))
            bucket_head = 1;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "lectern bench track: unknown or incomplete option %s\n", argv[i]);
            return 2;
        } else
            bundle = argv[i];
    }
    if (model_path && (win_w || staff_space > 0 || buckets || score_layers || head_layers ||
                       bucket_head)) {
        fprintf(stderr, "lectern bench track: --window, --staff-space, --buckets, --*-layers "
                        "and --bucket-head describe a random network: not with --model\n");
        return 2;
    }
    if (!bundle)
        bundle = DEMO_BUNDLE;
    openblas_set_num_threads(1);
    int cpu = lec_bench_pin_cpu();
    lec_error err;
    int rc = 1;
    lec_follow_model *model = NULL;
    lec_piece *piece = NULL;
    lec_unroll *strip = NULL;
    lec_follow_cache *cache = NULL;
    lec_follower *f = NULL, *g = NULL, *h = NULL;
    lec_nn_ctx *ctx = NULL;
    float *audio = NULL, *spec = NULL, *score_in = NULL, *spec_in = NULL, *probs_rec = NULL;
    float *x0_rec = NULL, *ex = NULL, *emb = NULL, *part = NULL, *pr_full = NULL;
    float *pr_cache = NULL;
    const float **parts = NULL;
    int *n_rec = NULL;
    truth_obs tobs = {0};
    lec_follow_out *out = NULL, *o2 = NULL, *o3 = NULL;
    double *t_all = NULL, *t_full = NULL, *t_cached = NULL;
    double *c_follow = NULL, *c_nocache = NULL, *c_full = NULL, *c_cached = NULL;
    if (model_path)
        model = lec_follow_model_load(model_path, &err);
    else if (win_w || staff_space > 0 || buckets || score_layers || head_layers || bucket_head)
        model = random_model(win_w, win_h, staff_space, buckets, score_layers, head_layers,
                             bucket_head, &err);
    else
        model = lec_eval_default_model(&err);
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
    const lec_nn_net *net = lec_follow_model_net(model);
    const lec_nn_arch *a = lec_nn_net_arch(net);
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

    /* the strip, shared by the cache, the followers and the oracle */
    lec_unroll_config ucfg;
    lec_follow_model_unroll_config(model, &ucfg);
    strip = lec_unroll_create(piece, &ucfg, &err);
    if (!strip) {
        fprintf(stderr, "lectern bench track: %s\n", err.msg);
        goto out;
    }
    printf("bench track: %s, rendering %s, %.1f s of audio; model %s (%dx%d score, %dx%d "
           "spectrogram, %d buckets%s, %.1f MFLOP per full forward); one core%s\n",
           bundle, lec_piece_renderings(piece)[r].name, audio_s, lec_follow_model_name(model),
           a->score_h, a->score_w, a->spec_bands, a->spec_frames, lec_follow_model_buckets(model),
           a->bucket_head ? ", bucket head" : "", lec_nn_net_flops_forward(net) / 1e6,
           cpu >= 0 ? " (pinned)" : " (not pinned)");

    /* ---- 0: the score-window cache, built once per piece */
    if (grid <= 0)
        grid = (int)lround(a->score_w / 8.0) > 0 ? (int)lround(a->score_w / 8.0) : 1;
    {
        lec_progress pg;
        lec_progress_begin(&pg, "score-window cache", 0);
        double c0 = cpu_now_s();
        cache = lec_follow_cache_create(model, strip, grid, cache_progress, &pg, &err);
        double cpu_cache = cpu_now_s() - c0;
        lec_progress_end(&pg, NULL);
        if (!cache) {
            fprintf(stderr, "lectern bench track: %s\n", err.msg);
            goto out;
        }
        int no = lec_follow_cache_n_origins(cache);
        printf("score-window cache: strip %d px, grid %d px (window / %.0f), %d origins x %zu "
               "floats = %.2f MB; built in %.2f s wall, %.2f s CPU (%.2f ms per window), "
               "%.1f%% of the audio's duration\n",
               lec_unroll_width_px(strip), grid, (double)a->score_w / grid, no,
               lec_nn_head_part_floats(net), lec_follow_cache_bytes(cache) / 1048576.0,
               lec_follow_cache_build_s(cache), cpu_cache, 1e3 * cpu_cache / no,
               100.0 * cpu_cache / audio_s);
    }

    lec_follower_config fc;
    lec_follower_config_default(&fc);
    fc.model = model;
    fc.piece = piece;
    fc.unroll = strip;
    fc.net_every = net_every;
    fc.cache = cache;
    tobs.u = strip;
    tobs.rendering = r;
    tobs.B = lec_follow_model_buckets(model);
    tobs.win_w = (float)mi->window_width_px;
    if (use_oracle) {
        fc.observer = truth_fn;
        fc.observer_user = &tobs;
        fc.observer_after_network = 1;
    }
    f = lec_follower_create(&fc, &err);
    if (!f) {
        fprintf(stderr, "lectern bench track: %s\n", err.msg);
        goto out;
    }
    int B = lec_follow_model_buckets(model),
        maxw = lec_tracker_max_windows(lec_follower_tracker(f));
    size_t nf = lec_follower_max_frames(f, n);
    out = malloc(sizeof *out * (nf + 1));
    o2 = malloc(sizeof *o2 * (nf + 1));
    o3 = malloc(sizeof *o3 * (nf + 1));
    n_rec = calloc(nf + 1, sizeof *n_rec);
    x0_rec = malloc(sizeof(float) * (nf + 1) * (size_t)maxw);
    probs_rec = malloc(sizeof(float) * (nf + 1) * (size_t)maxw * (size_t)B);
    t_all = malloc(sizeof(double) * (nf + 1));
    t_full = calloc(nf + 1, sizeof(double));
    t_cached = calloc(nf + 1, sizeof(double));
    c_follow = calloc(nf + 1, sizeof(double));
    c_nocache = calloc(nf + 1, sizeof(double));
    c_full = calloc(nf + 1, sizeof(double));
    c_cached = calloc(nf + 1, sizeof(double));
    if (!out || !o2 || !o3 || !n_rec || !x0_rec || !probs_rec || !t_all || !t_full ||
        !t_cached || !c_follow || !c_nocache || !c_full || !c_cached) {
        fprintf(stderr, "lectern bench track: out of memory\n");
        goto out;
    }
    if (use_oracle)
        printf("(--oracle: the tracker follows the ground truth; the network runs on its "
               "windows for the cost)\n");

    /* ---- 1: the follower with the cache, frame by frame (record windows and outputs) */
    size_t k = 0, poff = 0;
    long total_windows = 0;
    for (size_t i = 0; i < n;) {
        size_t used = 0;
        double cf = cpu_now_s();
        int got = lec_follower_process(f, audio + i, n - i, &used, out + k, 1, &err);
        if (got < 0) {
            fprintf(stderr, "lectern bench track: %s\n", err.msg);
            goto out;
        }
        i += used;
        if (got == 1) {
            c_follow[k] = cpu_now_s() - cf; /* one call = one frame (max_out 1) */
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
    double cpu_follower = 0; /* the process calls only, not the recording */
    for (size_t i = 0; i < nf; i++)
        cpu_follower += c_follow[i];
    double follower_total = 0, net_part_total = 0, track_part_total = 0;
    for (size_t i = 0; i < nf; i++) {
        follower_total += out[i].cost_s;
        net_part_total += out[i].cost_net_s;
        track_part_total += out[i].cost_track_s;
    }
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

    /* ---- 2: the follower without the cache (full batched forward per frame, same grid) */
    lec_follower_config fc2 = fc;
    fc2.net_cache = 0;
    fc2.cache = NULL;
    fc2.window_grid_px = grid;
    g = lec_follower_create(&fc2, &err);
    size_t k2 = 0;
    /* the baselines on the first base_seconds only (ratios over the same frames) */
    size_t n_base = base_seconds > 0 && (size_t)(base_seconds * mi->sample_rate) < n
                        ? (size_t)(base_seconds * mi->sample_rate)
                        : n;
    double base_s = (double)n_base / mi->sample_rate;
    if (!g || run_follower(g, audio, n_base, o2, c_nocache, &k2, &err)) {
        fprintf(stderr, "lectern bench track: %s\n", err.msg);
        goto out;
    }
    double cpu_nocache = 0;
    for (size_t i = 0; i < k2; i++)
        cpu_nocache += c_nocache[i];
    double nocache_total = 0;
    size_t same_pos = 0;
    for (size_t i = 0; i < k2; i++) {
        nocache_total += o2[i].cost_s;
        same_pos += i < nf && o2[i].strip_x_px == out[i].strip_x_px;
    }

    /* ---- 3: the network alone on the recorded windows, before (full batched
     * forward) and after (spectrogram tower + cached head parts). Inputs are
     * rebuilt outside the timed region (offline spectrogram, which equals the
     * streaming one; score windows cut from the strip). */
    lec_spec_config sc;
    lec_follow_model_spec_config(model, &sc);
    size_t n_spec = 0;
    int bands = 0;
    if (lec_spec_compute(&sc, audio, n, &spec, &n_spec, &bands, &err)) {
        fprintf(stderr, "lectern bench track: %s\n", err.msg);
        goto out;
    }
    ctx = lec_nn_ctx_create(net, maxw, 0, &err);
    size_t exn = (size_t)a->spec_bands * (size_t)a->spec_frames,
           swn = (size_t)a->score_h * (size_t)a->score_w;
    score_in = malloc(sizeof(float) * swn * (size_t)maxw);
    spec_in = malloc(sizeof(float) * exn * (size_t)maxw);
    ex = malloc(sizeof(float) * exn);
    emb = malloc(sizeof(float) * lec_nn_spec_embed_floats(net));
    part = malloc(sizeof(float) * lec_nn_head_spec_part_floats(net));
    parts = malloc(sizeof *parts * (size_t)maxw);
    pr_full = malloc(sizeof(float) * (size_t)maxw * (size_t)a->n_out);
    pr_cache = malloc(sizeof(float) * (size_t)maxw * (size_t)a->n_out);
    if (!ctx || !score_in || !spec_in || !ex || !emb || !part || !parts || !pr_full ||
        !pr_cache) {
        fprintf(stderr, "lectern bench track: %s\n", ctx ? "out of memory" : err.msg);
        goto out;
    }
    double full_total = 0, cached_total = 0, cpu_full = 0, cpu_cached = 0, max_dp = 0;
    size_t nf_base = k2 < nf ? k2 : nf;
    for (size_t i = 0; i < nf_base; i++) {
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
            int x0 = (int)x0_rec[i * (size_t)maxw + (size_t)q];
            memcpy(spec_in + (size_t)q * exn, ex, sizeof(float) * exn);
            lec_unroll_window(strip, x0, a->score_w, score_in + (size_t)q * swn);
            parts[q] = lec_follow_cache_part(cache, x0);
        }
        double t0 = lec_now_s(), cc0 = cpu_now_s();
        if (lec_nn_forward(ctx, score_in, spec_in, w, LEC_NN_EVAL, 0, 0, &err)) {
            fprintf(stderr, "lectern bench track: %s\n", err.msg);
            goto out;
        }
        double t1 = lec_now_s(), cc1 = cpu_now_s();
        lec_nn_softmax(pr_full, lec_nn_ctx_logits(ctx), w, a->n_out);
        double t2 = lec_now_s(), cc2 = cpu_now_s();
        if (lec_nn_forward_spec_tower(ctx, ex, 1, emb, &err)) {
            fprintf(stderr, "lectern bench track: %s\n", err.msg);
            goto out;
        }
        lec_nn_head_spec_part(net, emb, part);
        if (lec_nn_forward_head_parts(ctx, parts, part, w, &err)) {
            fprintf(stderr, "lectern bench track: %s\n", err.msg);
            goto out;
        }
        double t3 = lec_now_s(), cc3 = cpu_now_s();
        t_full[i] = t1 - t0;
        t_cached[i] = t3 - t2;
        c_full[i] = cc1 - cc0;
        c_cached[i] = cc3 - cc2;
        full_total += t1 - t0;
        cached_total += t3 - t2;
        cpu_full += cc1 - cc0;
        cpu_cached += cc3 - cc2;
        lec_nn_softmax(pr_cache, lec_nn_ctx_logits(ctx), w, a->n_out);
        for (size_t q = 0; q < (size_t)w * (size_t)a->n_out; q++) {
            double d = fabs((double)pr_full[q] - (double)pr_cache[q]);
            max_dp = d > max_dp ? d : max_dp;
        }
    }

    /* ---- 4: the tracker alone, replayed on the recorded outputs */
    lec_follower_config rc3 = fc;
    rc3.observer_after_network = 0;
    replay rp = {.probs = probs_rec, .n = n_rec, .B = B};
    rc3.observer = replay_fn;
    rc3.observer_user = &rp;
    h = lec_follower_create(&rc3, &err);
    if (!h) {
        fprintf(stderr, "lectern bench track: %s\n", err.msg);
        goto out;
    }
    size_t k3 = 0, same = 0;
    for (size_t i = 0; i < n;) {
        size_t used = 0;
        int got = lec_follower_process(h, audio + i, n - i, &used, o3 + k3, (int)(nf + 1 - k3),
                                       &err);
        if (got < 0)
            break;
        k3 += (size_t)got;
        i += used;
    }
    for (size_t i = 0; i < k3 && i < nf; i++) {
        same += o3[i].strip_x_px == out[i].strip_x_px;
    }

    printf("per frame (wall clock, one core), the follower with the score-window cache:\n");
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
    for (size_t i = 0; i < k2; i++)
        t_all[i] = o2[i].cost_s;
    if (nf_base < nf)
        printf("baselines without the cache: the first %.1f s (%zu frames) only "
               "(--baseline-seconds); %% of the follower's time over those frames\n",
               base_s, nf_base);
    double follower_base = 0;
    for (size_t i = 0; i < nf_base; i++)
        follower_base += out[i].cost_s;
    print_stats("follower without cache", t_all, k2, base_s, follower_base);
    printf("isolated, same run, same windows and inputs (frames without windows cost 0):\n");
    print_stats("network before (full)", t_full, nf_base, base_s, follower_base);
    print_stats("network after (cache)", t_cached, nf_base, base_s, follower_base);
    for (size_t i = 0; i < k3; i++)
        t_all[i] = o3[i].cost_track_s;
    print_stats("tracker only (replay)", t_all, k3, audio_s, follower_total);
    printf("per frame (thread CPU time of this thread: immune to preemption by other "
           "processes;%s):\n",
           use_oracle ? " the follower's includes the --oracle observer" : "");
    print_stats("follower (all)", c_follow, nf, audio_s, 0);
    print_stats("follower without cache", c_nocache, k2, base_s, 0);
    print_stats("network before (full)", c_full, nf_base, base_s, 0);
    print_stats("network after (cache)", c_cached, nf_base, base_s, 0);
    printf("  (soft-max of the cached path vs the full forward: max |difference| %.2g over "
           "%ld windows; follower without the cache: %zu of %zu positions identical; "
           "replayed tracker reproduced %zu of %zu positions exactly%s)\n",
           max_dp, total_windows, same_pos, k2, same, nf,
           !use_oracle && lec_nn_net_arch(lec_follow_model_net(model))->bucket_head
               ? "; with the global observation the replay gets soft-max rows, not the "
                 "logits, so positions differ: it measures the tracker's cost"
               : "");
    printf("\nFIGURE: follower %.1fx real time on one core with the score-window cache "
           "(target >= 50x), %.1fx without it; network alone %.1fx -> %.1fx real time "
           "(%.1fx cheaper) with the cache; the network is %.0f%% of the follower's time, "
           "the tracker %.0f%%.\n",
           follower_total > 0 ? audio_s / follower_total : 0,
           nocache_total > 0 ? base_s / nocache_total : 0,
           full_total > 0 ? base_s / full_total : 0,
           cached_total > 0 ? base_s / cached_total : 0,
           cached_total > 0 ? full_total / cached_total : 0,
           follower_total > 0 ? 100 * net_part_total / follower_total : 0,
           follower_total > 0 ? 100 * track_part_total / follower_total : 0);
    printf("thread CPU time (no preemption): follower %.1fx real time with the cache, "
           "%.1fx without; network only %.1fx before, %.1fx "
           "after (%.1fx cheaper)\n",
           cpu_follower > 0 ? audio_s / cpu_follower : 0,
           cpu_nocache > 0 ? base_s / cpu_nocache : 0, cpu_full > 0 ? base_s / cpu_full : 0,
           cpu_cached > 0 ? base_s / cpu_cached : 0,
           cpu_cached > 0 ? cpu_full / cpu_cached : 0);
    printf("latency: a frame's position is reported when its processing ends, i.e. its "
           "processing time after its last sample (median above) plus the input buffering "
           "of a live device.\n");
    rc = 0;
out:
    lec_nn_ctx_destroy(ctx);
    lec_follower_destroy(f);
    lec_follower_destroy(g);
    lec_follower_destroy(h);
    lec_follow_cache_destroy(cache);
    lec_unroll_destroy(strip);
    lec_piece_destroy(piece);
    lec_follow_model_destroy(model);
    free(audio);
    free(spec);
    free(score_in);
    free(spec_in);
    free(ex);
    free(emb);
    free(part);
    free(parts);
    free(pr_full);
    free(pr_cache);
    free(probs_rec);
    free(x0_rec);
    free(n_rec);
    free(out);
    free(o2);
    free(o3);
    free(t_all);
    free(t_full);
    free(t_cached);
    free(c_follow);
    free(c_nocache);
    free(c_full);
    free(c_cached);
    return rc;
}
