/* bench_nn.c -- `lectern bench nn`: the network's inference latency on one
 * core, its training throughput on two, and how that compares with (a) plain
 * cblas_sgemm on the network's own GEMM shapes (the roofline on this
 * machine) and (b) PyTorch training the same architecture, all in one run.
 */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "commands.h"
#include "lec_error.h"
#include "lec_model.h"
#include "lec_nn.h"
#include "lec_train.h"
#include "lec_util.h"

#ifndef LEC_SOURCE_DIR
#define LEC_SOURCE_DIR "."
#endif

static void help(FILE *out)
{
    lec_nn_arch a;
    lec_nn_arch_default(&a);
    fprintf(out,
            "usage: lectern bench nn [options]\n\n"
            "Speed of the multimodal network (engine/nn), on random inputs:\n"
            "  inference   one window (batch 1, EVAL mode) on one core, pinned: median, p99\n"
            "  training    samples/s of full steps (provider copy, forward, backward, AdamW)\n"
            "              with 2 threads, both ways lec_train can use them: split the batch\n"
            "              across 2 workers (default), or 1 worker whose OpenBLAS GEMMs use\n"
            "              2 threads; and 1 thread for reference\n"
            "  roofline    cblas_sgemm alone on exactly the GEMMs one training step makes\n"
            "              (same shapes and counts), run the same two ways; the better one\n"
            "              is the roofline. Figure: training GFLOP/s / roofline GFLOP/s,\n"
            "              FLOPs counted as 2 x multiply-adds of the conv/dense layers.\n"
            "              Training and roofline alternate in rounds and each keeps its best\n"
            "              round, so that other load on the machine hits both alike\n"
            "  pytorch     tests/nn/torch_bench.py trains the same architecture with 2\n"
            "              threads (python3-torch; skipped with a note when missing).\n"
            "              Figure: lectern samples/s / PyTorch samples/s\n\n"
            "options (default architecture in brackets):\n"
            "  --score HxW           score window [%dx%d]\n"
            "  --spec BxF            spectrogram bands x frames [%dx%d]\n"
            "  --buckets B           [%d]\n"
            "  --score-layers S      [%s]\n"
            "  --spec-layers S       [%s]\n"
            "  --head-layers S       [%s]\n"
            "  --bucket-head 0|1     one shared head per bucket (engine/nn/README.md) [%d]\n"
            "  --batch N             training batch [32]\n"
            "  --steps N             training steps per mode and round [10]\n"
            "  --rounds N            interleaved rounds; each figure keeps its best [5]\n"
            "  --runs N              timed inference windows [300]\n"
            "  --torch-steps N       PyTorch steps [6]; 0 skips PyTorch\n"
            "  --python PATH         interpreter with torch [/usr/bin/python3]\n",
            a.score_h, a.score_w, a.spec_bands, a.spec_frames, a.n_out, a.score_layers,
            a.spec_layers, a.head_layers, a.bucket_head);
}

static int parse_hw(const char *s, int *h, int *w)
{
    return sscanf(s, "%dx%d", h, w) == 2 && *h > 0 && *w > 0;
}

/* ---- training data: random, generated once; the provider only copies */
typedef struct data {
    float *score, *spec, *targets;
    size_t ss, sa, nt;
} data;

static lec_status provider(void *user, int64_t step, int n, float *score, float *spec,
                           float *targets, lec_error *err)
{
    (void)step, (void)err;
    const data *d = user;
    memcpy(score, d->score, sizeof(float) * d->ss * (size_t)n);
    memcpy(spec, d->spec, sizeof(float) * d->sa * (size_t)n);
    memcpy(targets, d->targets, sizeof(float) * d->nt * (size_t)n);
    return LEC_OK;
}

/* CPU seconds of all threads of the process: time-slicing by other
 * processes does not inflate it (wall time does) */
static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void unpin(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 0; i < n && i < CPU_SETSIZE; i++)
        CPU_SET(i, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static lec_train *make_trainer(const lec_nn_arch *a, int batch, int threads, int split,
                               lec_error *err)
{
    lec_nn_net *net = lec_nn_net_create(a, err);
    if (!net)
        return NULL;
    lec_nn_net_init(net, 1);
    lec_model_info info;
    lec_model_info_default(&info);
    info.buckets = a->n_out;
    lec_train_config cfg;
    lec_train_config_default(&cfg);
    cfg.batch = batch;
    cfg.threads = threads;
    cfg.split_batch = split;
    return lec_train_create(net, &info, &cfg, err);
}

/* samples/s of `steps` timed steps; lec_train sets OpenBLAS's thread count
 * at create, so it is set again here for the trainer being timed */
static double train_rate(lec_train *tr, int steps, data *d, double *per_cpu_s, lec_error *err)
{
    const lec_train_config *c = lec_train_config_of(tr);
    openblas_set_num_threads(c->split_batch ? 1 : c->threads);
    double t0 = lec_now_s(), c0 = cpu_s();
    for (int i = 0; i < steps; i++)
        if (lec_train_step(tr, provider, d, NULL, err))
            return -1;
    if (per_cpu_s) /* samples per CPU-second */
        *per_cpu_s = (double)steps * c->batch / (cpu_s() - c0);
    return (double)steps * c->batch / (lec_now_s() - t0);
}

/* ---- roofline: the step's GEMMs alone */
typedef struct gemm_job {
    const lec_nn_gemm *g;
    int n;
    float *A, *B, *C;
    int reps;
} gemm_job;

static void *run_gemms(void *p)
{
    gemm_job *j = p;
    for (int r = 0; r < j->reps; r++)
        for (int i = 0; i < j->n; i++) {
            const lec_nn_gemm *g = &j->g[i];
            int lda = g->ta ? g->M : g->K, ldb = g->tb ? g->K : g->N;
            for (int c = 0; c < g->count; c++)
                cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                            g->tb ? CblasTrans : CblasNoTrans, g->M, g->N, g->K, 1.0f, j->A, lda,
                            j->B, ldb, 0.0f, j->C, g->N);
        }
    return NULL;
}

static double gemm_flops(const lec_nn_gemm *g, int n)
{
    double f = 0;
    for (int i = 0; i < n; i++)
        f += 2.0 * g[i].M * (double)g[i].N * g[i].K * g[i].count;
    return f;
}

/* `workers` threads each running the GEMM list `reps` times, on buffers
 * allocated once */
typedef struct roof {
    gemm_job jobs[2];
    int workers, blas_threads;
    const lec_nn_gemm *g;
    int n;
} roof;

static int roof_init(roof *r, const lec_nn_gemm *g, int n, int workers, int blas_threads)
{
    memset(r, 0, sizeof *r);
    r->workers = workers, r->blas_threads = blas_threads, r->g = g, r->n = n;
    size_t amax = 1, bmax = 1, cmax = 1;
    for (int i = 0; i < n; i++) {
        size_t a = (size_t)g[i].M * g[i].K, b = (size_t)g[i].K * g[i].N,
               c = (size_t)g[i].M * g[i].N;
        amax = a > amax ? a : amax, bmax = b > bmax ? b : bmax, cmax = c > cmax ? c : cmax;
    }
    for (int w = 0; w < workers; w++) {
        gemm_job *j = &r->jobs[w];
        *j = (gemm_job){g, n, malloc(4 * amax), malloc(4 * bmax), malloc(4 * cmax), 1};
        if (!j->A || !j->B || !j->C)
            return -1;
        for (size_t i = 0; i < amax; i++)
            j->A[i] = (float)(i % 13) * 0.01f;
        for (size_t i = 0; i < bmax; i++)
            j->B[i] = (float)(i % 7) * 0.01f;
        memset(j->C, 0, 4 * cmax);
    }
    return 0;
}

static void roof_free(roof *r)
{
    for (int w = 0; w < 2; w++)
        free(r->jobs[w].A), free(r->jobs[w].B), free(r->jobs[w].C);
}

/* GFLOP/s (wall); *per_cpu_s (may be NULL): GFLOP per CPU-second */
static double roof_run(roof *r, int reps, double *per_cpu_s)
{
    pthread_t th[2];
    openblas_set_num_threads(r->blas_threads);
    for (int w = 0; w < r->workers; w++)
        r->jobs[w].reps = reps;
    double t0 = lec_now_s(), c0 = cpu_s();
    for (int w = 1; w < r->workers; w++)
        pthread_create(&th[w], NULL, run_gemms, &r->jobs[w]);
    run_gemms(&r->jobs[0]);
    for (int w = 1; w < r->workers; w++)
        pthread_join(th[w], NULL);
    double dt = lec_now_s() - t0, flops = gemm_flops(r->g, r->n) * reps * r->workers;
    if (per_cpu_s)
        *per_cpu_s = flops / (cpu_s() - c0) * 1e-9;
    return flops / dt * 1e-9;
}

static int gemm_list(const lec_nn_net *net, int batch, lec_nn_gemm **out, lec_error *err)
{
    lec_nn_ctx *ctx = lec_nn_ctx_create(net, batch, 1, err);
    if (!ctx)
        return -1;
    int n = lec_nn_ctx_train_gemms(ctx, batch, NULL, 0);
    *out = malloc(sizeof **out * (size_t)(n ? n : 1));
    if (*out)
        lec_nn_ctx_train_gemms(ctx, batch, *out, n);
    lec_nn_ctx_destroy(ctx);
    return *out ? n : -1;
}

/* ---- PyTorch */
static double torch_rate(const char *python, const lec_nn_arch *a, int batch, int steps,
                         char *note, size_t note_cap)
{
    char cmd[4096], line[512];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch' 2>/dev/null", python);
    if (system(cmd) != 0) {
        snprintf(note, note_cap,
                 "skipped: %s cannot import torch (apt-get install python3-torch to compare)",
                 python);
        return -1;
    }
    snprintf(cmd, sizeof cmd,
             "%s '%s/tests/nn/torch_bench.py' --score %dx%d --spec %dx%d --buckets %d "
             "--score-layers '%s' --spec-layers '%s' --head-layers '%s' --act %s --bn %d "
             "--bucket-head %d --batch %d --steps %d --threads 2 2>&1",
             python, LEC_SOURCE_DIR, a->score_h, a->score_w, a->spec_bands, a->spec_frames,
             a->n_out, a->score_layers, a->spec_layers, a->head_layers,
             a->act == LEC_NN_ACT_ELU ? "elu" : "relu", a->batchnorm, a->bucket_head, batch,
             steps);
    FILE *p = popen(cmd, "r");
    if (!p) {
        snprintf(note, note_cap, "skipped: cannot run %s", python);
        return -1;
    }
    double rate = -1;
    note[0] = '\0';
    while (fgets(line, sizeof line, p)) {
        double v;
        if (sscanf(line, "samples_per_s %lf", &v) == 1)
            rate = v;
        else if (strncmp(line, "torch ", 6) == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(note, note_cap, "%s", line);
        }
    }
    int st = pclose(p);
    if (rate < 0 || st != 0)
        snprintf(note, note_cap, "failed: %s/tests/nn/torch_bench.py exited with status %d",
                 LEC_SOURCE_DIR, st);
    return st == 0 ? rate : -1;
}

int lec_bench_nn(int argc, char **argv)
{
    if (lec_wants_help(argc, argv)) {
        help(stdout);
        return 0;
    }
    lec_nn_arch a;
    lec_nn_arch_default(&a);
    int batch = 32, steps = 10, runs = 300, torch_steps = 6, rounds = 5;
    const char *python = "/usr/bin/python3";
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = v != NULL;
        if (ok && strcmp(o, "--score") == 0)
            ok = parse_hw(v, &a.score_h, &a.score_w);
        else if (ok && strcmp(o, "--spec") == 0)
            ok = parse_hw(v, &a.spec_bands, &a.spec_frames);
        else if (ok && strcmp(o, "--buckets") == 0)
            ok = (a.n_out = atoi(v)) >= 2;
        else if (ok && strcmp(o, "--score-layers") == 0)
            snprintf(a.score_layers, sizeof a.score_layers, "%s", v);
        else if (ok && strcmp(o, "--spec-layers") == 0)
            snprintf(a.spec_layers, sizeof a.spec_layers, "%s", v);
        else if (ok && strcmp(o, "--head-layers") == 0)
            snprintf(a.head_layers, sizeof a.head_layers, "%s", v);
        else if (ok && strcmp(o, "--bucket-head") == 0)
            ok = (a.bucket_head = atoi(v)) == 0 || a.bucket_head == 1;
        else if (ok && strcmp(o, "--batch") == 0)
            ok = (batch = atoi(v)) >= 2 && batch <= 4096;
        else if (ok && strcmp(o, "--steps") == 0)
            ok = (steps = atoi(v)) >= 1;
        else if (ok && strcmp(o, "--rounds") == 0)
            ok = (rounds = atoi(v)) >= 1 && rounds <= 100;
        else if (ok && strcmp(o, "--runs") == 0)
            ok = (runs = atoi(v)) >= 10;
        else if (ok && strcmp(o, "--torch-steps") == 0)
            ok = (torch_steps = atoi(v)) >= 0;
        else if (ok && strcmp(o, "--python") == 0)
            python = v;
        else {
            fprintf(stderr, "lectern bench nn: unknown or incomplete option '%s'\n", o);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "lectern bench nn: bad value '%s' for %s\n", v, o);
            return 2;
        }
        i++;
    }
    lec_error err = {0};
    lec_nn_net *net = lec_nn_net_create(&a, &err);
    if (!net) {
        fprintf(stderr, "lectern bench nn: %s\n", err.msg);
        return 1;
    }
    lec_nn_net_init(net, 1);
    const double ffwd = lec_nn_net_flops_forward(net), ftrain = lec_nn_net_flops_train(net);
    printf("architecture: score %dx%d [%s], spectrogram %dx%d [%s], head [%s], %d buckets, "
           "%s%s\n",
           a.score_h, a.score_w, a.score_layers, a.spec_bands, a.spec_frames, a.spec_layers,
           a.head_layers, a.n_out, a.act == LEC_NN_ACT_ELU ? "ELU" : "ReLU",
           a.batchnorm ? " + BN" : "");
    printf("parameters: %zu (%.2f MB); conv/dense FLOPs per sample: forward %.1f M, train %.1f M\n",
           lec_nn_net_n_params(net), lec_nn_net_n_params(net) * 4.0 / 1e6, ffwd / 1e6,
           ftrain / 1e6);

    /* ---- training (before pinning: the workers inherit the affinity) */
    data d;
    const size_t ss = (size_t)a.score_h * a.score_w, sa = (size_t)a.spec_bands * a.spec_frames;
    d.ss = ss, d.sa = sa, d.nt = (size_t)a.n_out;
    d.score = malloc(sizeof(float) * ss * (size_t)batch);
    d.spec = malloc(sizeof(float) * sa * (size_t)batch);
    d.targets = calloc((size_t)a.n_out * (size_t)batch, sizeof(float));
    if (!d.score || !d.spec || !d.targets) {
        fprintf(stderr, "lectern bench nn: out of memory\n");
        return 1;
    }
    uint64_t r = 1;
    for (size_t i = 0; i < ss * (size_t)batch; i++)
        d.score[i] = (float)((r = r * 6364136223846793005ULL + 1442695040888963407ULL) >> 40) /
                     16777216.0f;
    for (size_t i = 0; i < sa * (size_t)batch; i++)
        d.spec[i] = (float)((r = r * 6364136223846793005ULL + 1442695040888963407ULL) >> 40) /
                    16777216.0f;
    for (int i = 0; i < batch; i++)
        d.targets[(size_t)i * a.n_out + (size_t)(i % a.n_out)] = 1.0f;
    unpin();
    lec_train *tr_split = make_trainer(&a, batch, 2, 1, &err);
    lec_train *tr_blas = tr_split ? make_trainer(&a, batch, 2, 0, &err) : NULL;
    lec_train *tr_one = tr_blas ? make_trainer(&a, batch, 1, 1, &err) : NULL;
    lec_nn_gemm *g_half = NULL, *g_full = NULL;
    int n_half = tr_one ? gemm_list(net, batch / 2, &g_half, &err) : -1;
    int n_full = n_half >= 0 ? gemm_list(net, batch, &g_full, &err) : -1;
    roof rf_split, rf_blas, rf_one;
    if (!tr_one || n_half < 0 || n_full < 0 || roof_init(&rf_split, g_half, n_half, 2, 1) ||
        roof_init(&rf_blas, g_full, n_full, 1, 2) || roof_init(&rf_one, g_full, n_full, 1, 1)) {
        fprintf(stderr, "lectern bench nn: %s\n", err.msg[0] ? err.msg : "out of memory");
        return 1;
    }
    /* Rounds interleave every measurement and each keeps its best round, so
     * that other processes on the machine disturb all of them alike and a
     * burst of load during one measurement does not decide a ratio. */
    const int reps = steps > 4 ? steps / 2 : 2;
    double r_split = 0, r_blas = 0, r_one = 0, gf_split = 0, gf_blas = 0, gf_one = 0;
    printf("\ntraining, batch %d: best of %d interleaved rounds of %d steps each:\n", batch,
           rounds, steps);
    fflush(stdout);
    if (train_rate(tr_split, 2, &d, NULL, &err) < 0 || train_rate(tr_blas, 2, &d, NULL, &err) < 0 ||
        train_rate(tr_one, 2, &d, NULL, &err) < 0) {
        fprintf(stderr, "lectern bench nn: training failed: %s\n", err.msg);
        return 1;
    }
    roof_run(&rf_split, 1, NULL);
    roof_run(&rf_blas, 1, NULL);
    roof_run(&rf_one, 1, NULL);
    double c_split = 0, cg_split = 0; /* per CPU-second, split mode */
    for (int round = 0; round < rounds; round++) {
        double v, cs = 0, cg = 0;
#define BEST(var, expr)                                                                        \
    do {                                                                                       \
        v = (expr);                                                                            \
        if (v < 0) {                                                                           \
            fprintf(stderr, "lectern bench nn: training failed: %s\n", err.msg);               \
            return 1;                                                                          \
        }                                                                                      \
        if (v > var)                                                                           \
            var = v;                                                                           \
    } while (0)
        BEST(r_split, train_rate(tr_split, steps, &d, &cs, &err));
        BEST(gf_split, roof_run(&rf_split, reps, &cg));
        BEST(r_blas, train_rate(tr_blas, steps, &d, NULL, &err));
        BEST(gf_blas, roof_run(&rf_blas, reps, NULL));
        BEST(r_one, train_rate(tr_one, steps, &d, NULL, &err));
        BEST(gf_one, roof_run(&rf_one, reps, NULL));
#undef BEST
        c_split = cs > c_split ? cs : c_split;
        cg_split = cg > cg_split ? cg : cg_split;
    }
    lec_train_destroy(tr_split);
    lec_train_destroy(tr_blas);
    lec_train_destroy(tr_one);
    roof_free(&rf_split);
    roof_free(&rf_blas);
    roof_free(&rf_one);
    printf("  2 threads, batch split (default):   %8.1f samples/s  %6.2f GFLOP/s\n", r_split,
           r_split * ftrain * 1e-9);
    printf("  2 threads, OpenBLAS-threaded GEMMs: %8.1f samples/s  %6.2f GFLOP/s\n", r_blas,
           r_blas * ftrain * 1e-9);
    printf("  1 thread:                           %8.1f samples/s  %6.2f GFLOP/s\n", r_one,
           r_one * ftrain * 1e-9);
    double r_best = r_split > r_blas ? r_split : r_blas;
    printf("  2-thread speed-up over 1 thread: %.2fx (batch split), %.2fx (OpenBLAS threads)\n",
           r_split / r_one, r_blas / r_one);
    double gf_roof = gf_split > gf_blas ? gf_split : gf_blas;
    double gf_train = r_best * ftrain * 1e-9;
    printf("\nroofline: cblas_sgemm alone on this network's %d GEMM shapes of one step:\n",
           n_full);
    printf("  2 workers x 1 OpenBLAS thread (half batch each): %6.2f GFLOP/s\n", gf_split);
    printf("  1 worker  x 2 OpenBLAS threads (whole batch):    %6.2f GFLOP/s\n", gf_blas);
    printf("  1 thread:                                        %6.2f GFLOP/s\n", gf_one);
    printf("  FIGURE: training %.2f GFLOP/s = %.0f%% of the roofline %.2f GFLOP/s "
           "(target >= 40%%)\n",
           gf_train, 100.0 * gf_train / gf_roof, gf_roof);
    printf("          (1 thread: %.0f%% of the 1-thread roofline %.2f GFLOP/s)\n",
           100.0 * r_one * ftrain * 1e-9 / gf_one, gf_one);
    /* CPU time is not inflated when other processes take the cores, so this
     * ratio stays meaningful on a shared machine (split mode: OpenBLAS runs
     * single-threaded, no spin-waiting in the CPU time) */
    printf("  per CPU-second (robust to other load), batch split: training %.2f GFLOP/cpu-s = "
           "%.0f%% of sgemm's %.2f\n",
           c_split * ftrain * 1e-9, 100.0 * c_split * ftrain * 1e-9 / cg_split, cg_split);
    free(g_half);
    free(g_full);

    /* ---- PyTorch */
    if (torch_steps > 0) {
        char note[512] = "";
        printf("\nPyTorch, same architecture, batch %d, 2 threads, %d steps:\n", batch,
               torch_steps);
        fflush(stdout);
        double rt = torch_rate(python, &a, batch, torch_steps, note, sizeof note);
        if (rt > 0) {
            printf("  %8.1f samples/s  %6.2f GFLOP/s  (%s)\n", rt, rt * ftrain * 1e-9, note);
            printf("  FIGURE: lectern trains %.1fx as fast as PyTorch (%.1f vs %.1f samples/s)\n",
                   r_best / rt, r_best, rt);
        } else {
            printf("  %s\n", note);
        }
    }

    /* ---- inference on one pinned core */
    openblas_set_num_threads(1);
    int cpu = lec_bench_pin_cpu();
    lec_nn_ctx *ctx = lec_nn_ctx_create(net, 1, 0, &err);
    double *t = malloc(sizeof(double) * (size_t)runs);
    float *probs = malloc(sizeof(float) * (size_t)a.n_out);
    if (!ctx || !t || !probs) {
        fprintf(stderr, "lectern bench nn: %s\n", ctx ? "out of memory" : err.msg);
        return 1;
    }
    for (int i = 0; i < 20; i++)
        lec_nn_infer(ctx, d.score, d.spec, probs, &err);
    for (int i = 0; i < runs; i++) {
        const float *s = d.score + ss * (size_t)(i % batch), *x = d.spec + sa * (size_t)(i % batch);
        double t0 = lec_now_s();
        lec_nn_infer(ctx, s, x, probs, &err);
        t[i] = (lec_now_s() - t0) * 1e3;
    }
    lec_bench_stats st = lec_bench_summarise(t, (size_t)runs);
    double hop_ms = 1102.0 / 22050.0 * 1e3;
    printf("\ninference, one window, 1 thread%s:\n", cpu >= 0 ? " (pinned)" : "");
    printf("  median %.3f ms, p99 %.3f ms, mean %.3f ms over %d windows (%.2f GFLOP/s)\n",
           st.median, st.p99, st.mean, runs, ffwd / (st.median * 1e-3) * 1e-9);
    printf("  FIGURE: p99 = %.1f%% of a spectrogram hop (%.1f ms at 22050 Hz / 1102)\n",
           100.0 * st.p99 / hop_ms, hop_ms);
    lec_nn_ctx_destroy(ctx);
    free(t);
    free(probs);
    free(d.score), free(d.spec), free(d.targets);
    lec_nn_net_destroy(net);
    return 0;
}
