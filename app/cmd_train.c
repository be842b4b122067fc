/* cmd_train.c -- `lectern train`: trains the multimodal network on piece
 * bundles (models/train/lec_dataset.h for the data, engine/nn/lec_train.h
 * for the optimiser and checkpoints) and writes a model file. */
#include <math.h>
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "lec_dataset.h"
#include "train_dump.h"
#include "lec_model.h"
#include "lec_nn.h"
#include "lec_train.h"
#include "lec_util.h"

#define MAX_DIRS 64

static volatile sig_atomic_t g_stop_sig = 0;
static volatile int g_stop = 0;
static void on_signal(int sig)
{
    g_stop_sig = sig;
    g_stop = 1;
}

static void help(FILE *out)
{
    fprintf(out,
            "usage: lectern train --data DIR... --out MODEL [--valid DIR...]\n"
            "         [--split-from-index INDEX.json] [--checkpoint CKPT] [--resume]\n"
            "         [--minutes M] [--steps N] [--batch N] [--threads 1|2] [--lr F]\n"
            "         [--arch SPEC] [--seed N] [--progress-every N] [--valid-every N]\n"
            "         [--valid-samples N] [--checkpoint-minutes M] [--outside]\n"
            "         [--outside-frac F]\n"
            "         [--until N] [--cache DIR] [--no-augment] [--train-on-valid]\n\n"
            "Trains the score-following network on piece bundles (directories with a\n"
            "piece.json, found recursively under each DIR; see models/corpus/README.md)\n"
            "and writes the model file MODEL with everything the follower needs:\n"
            "architecture, front-end and unrolling parameters, input normalisation,\n"
            "training-data description and validation accuracy (models/README.md).\n\n"
            "Data and split:\n"
            "  --data DIR...      training bundles. A bundle's split comes from INDEX.json\n"
            "                     (its suggested_split, matched by piece.json source_path),\n"
            "                     else from piece.json \"split\". Bundles of the valid split\n"
            "                     found under --data are used for validation, never for\n"
            "                     training (unless --train-on-valid)\n"
            "  --valid DIR...     validation bundles (whatever their split); default: the\n"
            "                     valid-split bundles found under --data. Training refuses\n"
            "                     to start without validation bundles\n"
            "  --split-from-index PATH   the corpus index.json (list of {dir,\n"
            "                     suggested_split})\n"
            "  --cache DIR        spectrogram cache (default: $HOME/.cache/lectern/spec;\n"
            "                     'none' disables). Keyed by the front-end parameters\n"
            "  --no-augment       train on plain samples (no score/audio augmentation)\n"
            "  --train-on-valid   also train on valid-split bundles found under --data\n"
            "  Corrupt bundles are skipped with a warning naming them; renderings made\n"
            "  with a MuseScore soundfont are refused for training (kept for evaluation;\n  --evaluate measures on them).\n\n"
            "Model (--arch: space- or ';'-separated key=value, defaults in brackets):\n"
            "  win=WxH [128x48]   score window, px;  ss=PX [2] staff space in px (the\n"
            "                     strip is H/ss staff spaces tall);  buckets=B [16]\n"
            "  frames=N [40]      spectrogram frames per excerpt (20 frames/s)\n"
            "  score=LAYERS spec=LAYERS head=LAYERS   layer texts (engine/nn/lec_nn.h);\n"
            "                     defaults c16,p,c32,p,c48,p,c64,p,d128 / same / o30,d128\n"
            "  act=elu|relu [elu]  bn=0|1 [1]\n"
            "  bucket_head=0|1 [0]  1: one head per bucket with shared weights: the score\n"
            "                     tower must end in a map whose width is B (no dense layer\n"
            "                     at its end, e.g. score=c16,p,c32,p,c64,p,c64 for W/8 = B);\n"
            "                     bucket b's column + the spectrogram embedding -> head ->\n"
            "                     one logit (engine/nn/README.md)\n"
            "  --outside          an extra output 'the position is not in this window':\n"
            "                     n_out = B + 1 (the last), model.outside_class = 1; a fraction\n"
            "                     of the samples (--outside-frac F, 0.25) shows a window\n"
            "                     elsewhere. Off by default (--no-outside): in short runs the\n"
            "                     network first learns only its prior (models/README.md)\n\n"
            "Optimisation:\n"
            "  --steps N          total steps: the cosine learning-rate schedule ends there\n"
            "                     (default 20000)\n"
            "  --minutes M        stop after M minutes of training (checkpoint + model are\n"
            "                     written; --resume continues); default: run to --steps\n"
            "  --until N          stop the same way once step N is done (train in pieces)\n"
            "  --batch N [32]  --threads 1|2 [2]  --lr F [0.001]  --seed N [1]\n"
            "  --progress-every N [50]  progress line every N steps (loss, accuracy, lr,\n"
            "                     samples/s)\n"
            "  --valid-every N [1000]  validation every N steps and at the end\n"
            "  --valid-samples N [1024]  fixed validation samples (no augmentation)\n\n"
            "Checkpoints:\n"
            "  --checkpoint CKPT  default MODEL.ckpt (+ CKPT.json: the data settings);\n"
            "                     written every --checkpoint-minutes [10], at the end and on\n"
            "                     Ctrl-C / SIGTERM (atomically: the last one stays loadable)\n"
            "  --resume           continue from CKPT exactly (network, optimiser state,\n"
            "                     step, schedule, data settings); --data/--valid may be\n"
            "                     omitted (the recorded ones are used). Exact only with the\n"
            "                     same data; --steps N extends/shortens the schedule\n"
            "  --init MODEL       a new run (new optimiser, schedule and step count) that\n"
            "                     starts from MODEL's weights, architecture, front end and\n"
            "                     input normalisation (--arch is not used): to go on training\n"
            "                     a shipped model when its checkpoint is gone\n\n"
            "Evaluation:\n"
            "  lectern train --evaluate MODEL --valid DIR... [--valid-samples N] [--cache DIR]\n"
            "                     prints the model's validation metrics on those bundles\n"
            "                     (or the valid-split bundles of --data with\n"
            "                     --split-from-index), with its recorded data settings\n\n"
            "Exit status: 0 when training finished or was stopped with a checkpoint\n"
            "(Ctrl-C, --minutes); 1 on errors (no bundles, unreadable files, divergence);\n"
            "2 for bad arguments.\n");
}

/* ------------------------------------------------------------ options */

typedef struct opts {
    const char *data[MAX_DIRS];
    int n_data;
    const char *valid[MAX_DIRS];
    int n_valid;
    const char *index;
    const char *out;
    char ckpt[1024];
    int resume;
    double minutes;
    long long steps, until;
    int batch, threads;
    double lr;
    const char *arch;
    unsigned long long seed;
    int progress_every, valid_every, valid_samples;
    double ckpt_minutes;
    int outside;
    const char *cache;
    int train_on_valid;
    int no_augment;
    const char *evaluate;
    const char *init; /* --init MODEL: start from a model file's weights */
    double outside_frac;
    const char *dump_dir; /* --dump-samples DIR: write pictures of samples, then stop */
    int dump_n;
} opts;

typedef struct arch_opts {
    int W, H, B, frames;
    double ss;
    char score[LEC_NN_LAYERS_MAX], spec[LEC_NN_LAYERS_MAX], head[LEC_NN_LAYERS_MAX];
    int act, bn;
    int bucket_head;
} arch_opts;

static void arch_defaults(arch_opts *a)
{
    memset(a, 0, sizeof *a);
    a->W = 128;
    a->H = 48;
    a->ss = 2.0;
    a->B = 16;
    a->frames = 40;
    snprintf(a->score, sizeof a->score, "c16,p,c32,p,c48,p,c64,p,d128");
    snprintf(a->spec, sizeof a->spec, "c16,p,c32,p,c48,p,c64,p,d128");
    snprintf(a->head, sizeof a->head, "o30,d128");
    a->act = LEC_NN_ACT_ELU;
    a->bn = 1;
}

static int parse_arch(const char *spec, arch_opts *a)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *tok = strtok_r(buf, " ;\t\n", &save); tok; tok = strtok_r(NULL, " ;\t\n", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            fprintf(stderr, "lectern train: --arch: '%s' is not key=value\n", tok);
            return -1;
        }
        *eq = 0;
        const char *k = tok, *v = eq + 1;
        char *end = NULL;
        if (strcmp(k, "win") == 0) {
            if (sscanf(v, "%dx%d", &a->W, &a->H) != 2 || a->W < 8 || a->H < 8 || a->W > 1024 ||
                a->H > 256) {
                fprintf(stderr, "lectern train: --arch: win=%s: want WxH, 8..1024 x 8..256\n", v);
                return -1;
            }
        } else if (strcmp(k, "ss") == 0) {
            a->ss = strtod(v, &end);
            if (!end || *end || !(a->ss >= 1.0 && a->ss <= 64.0)) {
                fprintf(stderr, "lectern train: --arch: ss=%s: want a number in [1, 64]\n", v);
                return -1;
            }
        } else if (strcmp(k, "bucket_head") == 0) {
            if (strcmp(v, "0") && strcmp(v, "1")) {
                fprintf(stderr, "lectern train: --arch: bucket_head=%s: 0 or 1\n", v);
                return -1;
            }
            a->bucket_head = v[0] == '1';
        } else if (strcmp(k, "buckets") == 0 || strcmp(k, "frames") == 0 ||
                   strcmp(k, "bn") == 0) {
            long x = strtol(v, &end, 10);
            if (!end || *end || x < 0 || x > 4096) {
                fprintf(stderr, "lectern train: --arch: %s=%s: not a number in 0..4096\n", k, v);
                return -1;
            }
            if (k[0] == 'b' && k[1] == 'u')
                a->B = (int)x;
            else if (k[0] == 'f')
                a->frames = (int)x;
            else
                a->bn = (int)x;
        } else if (strcmp(k, "score") == 0) {
            snprintf(a->score, sizeof a->score, "%s", v);
        } else if (strcmp(k, "spec") == 0) {
            snprintf(a->spec, sizeof a->spec, "%s", v);
        } else if (strcmp(k, "head") == 0) {
            snprintf(a->head, sizeof a->head, "%s", v);
        } else if (strcmp(k, "act") == 0) {
            if (strcmp(v, "elu") == 0)
                a->act = LEC_NN_ACT_ELU;
            else if (strcmp(v, "relu") == 0)
                a->act = LEC_NN_ACT_RELU;
            else {
                fprintf(stderr, "lectern train: --arch: act=%s: elu or relu\n", v);
                return -1;
            }
        } else {
            fprintf(stderr, "lectern train: --arch: unknown key '%s'\n", k);
            return -1;
        }
    }
    double hss = a->H / a->ss;
    if (hss < 4.0 || hss > 200.0) {
        fprintf(stderr,
                "lectern train: --arch: win height %d px / ss %g px = %g staff spaces; want 4..200\n",
                a->H, a->ss, hss);
        return -1;
    }
    if (a->B < 2 || a->B > a->W || a->frames < 1) {
        fprintf(stderr, "lectern train: --arch: buckets=%d must be 2..W (%d), frames >= 1\n",
                a->B, a->W);
        return -1;
    }
    return 0;
}

static int num_arg(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end = NULL;
    double x = v ? strtod(v, &end) : NAN;
    if (!v || !end || *end || !(x >= lo && x <= hi)) {
        fprintf(stderr, "lectern train: %s wants a number in [%g, %g], got '%s'\n", opt, lo, hi,
                v ? v : "(nothing)");
        return -1;
    }
    *out = x;
    return 0;
}

static int parse(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->steps = -1;
    o->batch = 32;
    o->threads = 2;
    o->lr = 1e-3;
    o->seed = 1;
    o->progress_every = 50;
    o->valid_every = 1000;
    o->valid_samples = 1024;
    o->ckpt_minutes = 10.0;
    o->outside = 0;
    o->outside_frac = 0.25;
    o->dump_n = 32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x;
        if (strcmp(a, "--data") == 0 || strcmp(a, "--valid") == 0) {
            int is_data = a[2] == 'd';
            int k = 0;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                int *n = is_data ? &o->n_data : &o->n_valid;
                if (*n >= MAX_DIRS) {
                    fprintf(stderr, "lectern train: at most %d directories per %s\n", MAX_DIRS, a);
                    return 2;
                }
                (is_data ? o->data : o->valid)[(*n)++] = argv[++i];
                k++;
            }
            if (!k) {
                fprintf(stderr, "lectern train: %s needs at least one directory\n", a);
                return 2;
            }
            continue;
        }
        if (strcmp(a, "--resume") == 0) {
            o->resume = 1;
            continue;
        }
        if (strcmp(a, "--no-outside") == 0 || strcmp(a, "--outside") == 0) {
            o->outside = a[2] == 'o';
            continue;
        }
        if (strcmp(a, "--train-on-valid") == 0) {
            o->train_on_valid = 1;
            continue;
        }
        if (strcmp(a, "--no-augment") == 0) {
            o->no_augment = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "lectern train: %s needs a value (or unknown option)\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--split-from-index") == 0)
            o->index = v;
        else if (strcmp(a, "--out") == 0)
            o->out = v;
        else if (strcmp(a, "--evaluate") == 0)
            o->evaluate = v;
        else if (strcmp(a, "--init") == 0)
            o->init = v;
        else if (strcmp(a, "--dump-samples") == 0)
            o->dump_dir = v;
        else if (strcmp(a, "--dump-n") == 0) {
            if (num_arg(a, v, 1, 100000, &x))
                return 2;
            o->dump_n = (int)x;
        } else if (strcmp(a, "--checkpoint") == 0)
            snprintf(o->ckpt, sizeof o->ckpt, "%s", v);
        else if (strcmp(a, "--arch") == 0)
            o->arch = v;
        else if (strcmp(a, "--cache") == 0)
            o->cache = v;
        else if (strcmp(a, "--minutes") == 0) {
            if (num_arg(a, v, 0.0, 1e7, &o->minutes))
                return 2;
        } else if (strcmp(a, "--steps") == 0) {
            if (num_arg(a, v, 1, 1e12, &x))
                return 2;
            o->steps = (long long)x;
        } else if (strcmp(a, "--until") == 0) {
            if (num_arg(a, v, 1, 1e12, &x))
                return 2;
            o->until = (long long)x;
        } else if (strcmp(a, "--batch") == 0) {
            if (num_arg(a, v, 2, 4096, &x))
                return 2;
            o->batch = (int)x;
        } else if (strcmp(a, "--threads") == 0) {
            if (num_arg(a, v, 1, 2, &x))
                return 2;
            o->threads = (int)x;
        } else if (strcmp(a, "--lr") == 0) {
            if (num_arg(a, v, 1e-7, 1.0, &o->lr))
                return 2;
        } else if (strcmp(a, "--seed") == 0) {
            if (num_arg(a, v, 0, 9e15, &x))
                return 2;
            o->seed = (unsigned long long)x;
        } else if (strcmp(a, "--progress-every") == 0) {
            if (num_arg(a, v, 1, 1e9, &x))
                return 2;
            o->progress_every = (int)x;
        } else if (strcmp(a, "--valid-every") == 0) {
            if (num_arg(a, v, 1, 1e9, &x))
                return 2;
            o->valid_every = (int)x;
        } else if (strcmp(a, "--valid-samples") == 0) {
            if (num_arg(a, v, 1, 1e6, &x))
                return 2;
            o->valid_samples = (int)x;
        } else if (strcmp(a, "--outside-frac") == 0) {
            if (num_arg(a, v, 0.01, 0.9, &o->outside_frac))
                return 2;
        } else if (strcmp(a, "--checkpoint-minutes") == 0) {
            if (num_arg(a, v, 0.0, 1e6, &o->ckpt_minutes))
                return 2;
        } else {
            fprintf(stderr, "lectern train: unknown option %s (see --help)\n", a);
            return 2;
        }
    }
    if (o->evaluate) {
        if (o->n_valid == 0 && o->n_data == 0) {
            fprintf(stderr, "lectern train: --evaluate needs --valid DIR (or --data DIR with "
                            "--split-from-index: its valid-split bundles)\n");
            return 2;
        }
        return 0;
    }
    if (o->dump_dir && !o->out)
        o->out = "(none)"; /* --dump-samples writes no model */
    if (!o->out) {
        fprintf(stderr, "lectern train: --out MODEL is required (see --help)\n");
        return 2;
    }
    if (!o->ckpt[0])
        snprintf(o->ckpt, sizeof o->ckpt, "%s.ckpt", o->out);
    if (!o->resume && o->n_data == 0) {
        fprintf(stderr, "lectern train: --data DIR is required (see --help)\n");
        return 2;
    }
    return 0;
}

/* ------------------------------------------------------------ data settings sidecar */

/* What a resume needs besides the checkpoint: the data settings and where
 * the data came from. Written once when a run starts (atomically). */
typedef struct run_meta {
    int outside, augment;
    float outside_frac, sigma, margin;
    unsigned long long data_seed;
    int valid_samples;
    const char *data[MAX_DIRS];
    int n_data;
    const char *valid[MAX_DIRS];
    int n_valid;
    const char *index;
} run_meta;

/* absolute, so that a resume works from any directory */
static cJSON *path_item(const char *p)
{
    char abs[4096];
    return cJSON_CreateString(realpath(p, abs) ? abs : p);
}

static int write_sidecar(const char *path, const run_meta *m)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", "lectern-train-run");
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddNumberToObject(j, "outside_class", m->outside);
    cJSON_AddNumberToObject(j, "augment", m->augment);
    cJSON_AddNumberToObject(j, "outside_frac", m->outside_frac);
    cJSON_AddNumberToObject(j, "sigma_buckets", m->sigma);
    cJSON_AddNumberToObject(j, "margin_x_ss", m->margin);
    cJSON_AddNumberToObject(j, "data_seed", (double)m->data_seed);
    cJSON_AddNumberToObject(j, "valid_samples", m->valid_samples);
    cJSON *d = cJSON_AddArrayToObject(j, "data");
    for (int i = 0; i < m->n_data; i++)
        cJSON_AddItemToArray(d, path_item(m->data[i]));
    cJSON *v = cJSON_AddArrayToObject(j, "valid");
    for (int i = 0; i < m->n_valid; i++)
        cJSON_AddItemToArray(v, path_item(m->valid[i]));
    if (m->index)
        cJSON_AddItemToObject(j, "index", path_item(m->index));
    char *txt = cJSON_Print(j);
    cJSON_Delete(j);
    lec_error err;
    int rc = txt ? lec_write_file_atomic(path, txt, strlen(txt), &err) : LEC_ENOMEM;
    if (rc)
        fprintf(stderr, "lectern train: %s\n", txt ? err.msg : "out of memory");
    free(txt);
    return rc ? -1 : 0;
}

/* Fills m from the sidecar; strings point into *json (the caller frees it). */
static int read_sidecar(const char *path, run_meta *m, cJSON **json)
{
    char *txt = NULL;
    size_t len = 0;
    lec_error err;
    if (lec_read_file(path, 1 << 20, &txt, &len, &err)) {
        fprintf(stderr, "lectern train: --resume: %s\n", err.msg);
        return -1;
    }
    cJSON *j = cJSON_ParseWithLength(txt, len);
    free(txt);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "format");
    if (!j || !cJSON_IsString(f) || strcmp(f->valuestring, "lectern-train-run") != 0) {
        fprintf(stderr, "lectern train: %s: not a lectern-train-run file\n", path);
        cJSON_Delete(j);
        return -1;
    }
#define NUM(key, dst, type)                                                        \
    do {                                                                           \
        const cJSON *x_ = cJSON_GetObjectItemCaseSensitive(j, key);                \
        if (!cJSON_IsNumber(x_)) {                                                 \
            fprintf(stderr, "lectern train: %s: %s missing or not a number\n", path, key); \
            cJSON_Delete(j);                                                       \
            return -1;                                                             \
        }                                                                          \
        dst = (type)x_->valuedouble;                                               \
    } while (0)
    NUM("outside_class", m->outside, int);
    NUM("augment", m->augment, int);
    NUM("outside_frac", m->outside_frac, float);
    NUM("sigma_buckets", m->sigma, float);
    NUM("margin_x_ss", m->margin, float);
    NUM("data_seed", m->data_seed, unsigned long long);
    NUM("valid_samples", m->valid_samples, int);
#undef NUM
    m->n_data = m->n_valid = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "data"))
    if (cJSON_IsString(it) && m->n_data < MAX_DIRS) m->data[m->n_data++] = it->valuestring;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "valid"))
    if (cJSON_IsString(it) && m->n_valid < MAX_DIRS) m->valid[m->n_valid++] = it->valuestring;
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(j, "index");
    m->index = cJSON_IsString(ix) ? ix->valuestring : NULL;
    *json = j;
    return 0;
}

/* ------------------------------------------------------------ training */

static void on_warn(void *user, const char *msg)
{
    int *n = user;
    (*n)++;
    fprintf(stderr, "lectern train: warning: %s\n", msg);
}

typedef struct provider_ctx {
    const lec_dataset *ds;
    uint64_t seed;
} provider_ctx;

static lec_status provider(void *user, int64_t step, int n, float *score, float *spec,
                           float *targets, lec_error *err)
{
    (void)err;
    provider_ctx *p = user;
    lec_dataset_sample(p->ds, p->seed, step, n, score, spec, targets, NULL);
    return LEC_OK;
}

static const char *split_name(lec_split s)
{
    return s == LEC_SPLIT_TRAIN ? "train" : s == LEC_SPLIT_VALID ? "valid" : "unknown";
}

/* `--evaluate MODEL`: the validation metrics of a model file on bundles,
 * with the data settings recorded in the model (the model card's figures). */
static int evaluate_model(const opts *o)
{
    lec_error err;
    lec_model_info info;
    lec_meta meta;
    lec_meta_init(&meta);
    lec_nn_net *net = lec_model_load(o->evaluate, &info, &meta, &err);
    if (!net) {
        fprintf(stderr, "lectern train: --evaluate: %s\n", err.msg);
        return 1;
    }
    int64_t outside = 0;
    double sigma = 0.7, margin = 1.0, frac = 0.25;
    if (lec_meta_find(&meta, "model.outside_class"))
        lec_meta_get_int(&meta, "model.outside_class", &outside, NULL, NULL);
    if (lec_meta_find(&meta, "data.sigma_buckets"))
        lec_meta_get_float(&meta, "data.sigma_buckets", &sigma, NULL, NULL);
    if (lec_meta_find(&meta, "unroll.margin_x_ss"))
        lec_meta_get_float(&meta, "unroll.margin_x_ss", &margin, NULL, NULL);
    if (lec_meta_find(&meta, "data.outside_frac"))
        lec_meta_get_float(&meta, "data.outside_frac", &frac, NULL, NULL);
    lec_meta_free(&meta);
    lec_bundle_ref *refs = NULL, *v = NULL;
    size_t n = 0, nv = 0;
    int status = 1;
    lec_dataset *ds = NULL;
    const char *const *dirs = o->n_valid ? o->valid : o->data;
    const int n_dirs = o->n_valid ? o->n_valid : o->n_data;
    for (int i = 0; i < n_dirs; i++)
        if (lec_bundle_find(dirs[i], o->index, &refs, &n, &err)) {
            fprintf(stderr, "lectern train: %s\n", err.msg);
            goto out;
        }
    v = calloc(n + 1, sizeof *v);
    if (!v)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (o->n_valid || refs[i].split == LEC_SPLIT_VALID)
            v[nv++] = refs[i];
    if (!nv) {
        fprintf(stderr, "lectern train: --evaluate: no %sbundles found\n",
                o->n_valid ? "" : "valid-split ");
        goto out;
    }
    lec_dataset_config dc;
    lec_dataset_config_default(&dc);
    dc.info = info;
    dc.spec_frames = lec_nn_net_arch(net)->spec_frames;
    dc.outside_class = (int)outside;
    dc.outside_frac = (float)frac;
    dc.sigma_buckets = (float)sigma;
    dc.margin_x_ss = (float)margin;
    dc.cache_dir = o->cache && strcmp(o->cache, "none") != 0 ? o->cache : NULL;
    dc.allow_eval_soundfont = 1; /* measuring on unseen sounds is what they are for */
    int n_warn = 0;
    ds = lec_dataset_create(v, nv, &dc, on_warn, &n_warn, &err);
    if (!ds) {
        fprintf(stderr, "lectern train: --evaluate: %s\n", err.msg);
        goto out;
    }
    lec_dataset_metrics m;
    if (lec_dataset_evaluate(ds, net, 0x76616c6964ULL, o->valid_samples, &m, &err)) {
        fprintf(stderr, "lectern train: --evaluate: %s\n", err.msg);
        goto out;
    }
    printf("model %s on %zu pieces, %zu renderings (%.2f h), %d samples:\n", o->evaluate,
           lec_dataset_n_pieces(ds), lec_dataset_n_renderings(ds),
           lec_dataset_duration_s(ds) / 3600.0, o->valid_samples);
    printf("bucket accuracy %.4f, within +-1 bucket %.4f (chance %.4f / %.4f), B = %d\n", m.acc,
           m.acc1, 1.0 / lec_dataset_n_buckets(ds), 3.0 / lec_dataset_n_buckets(ds),
           lec_dataset_n_buckets(ds));
    if (outside)
        printf("outside class: accuracy %.4f on %d outside samples, false outside %.4f\n",
               m.acc_outside, m.n_outside, m.false_outside);
    printf("cross-entropy %.4f\n", m.loss);
    status = 0;
out:
    lec_dataset_destroy(ds);
    lec_nn_net_destroy(net);
    free(refs);
    free(v);
    return status;
}

int lec_cmd_train(int argc, char **argv)
{
    if (lec_wants_help(argc, argv)) {
        help(stdout);
        return 0;
    }
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc;
    if (o.evaluate)
        return evaluate_model(&o);
    /* from the start: a signal while the data loads stops after the first step */
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    char sidecar[1100];
    snprintf(sidecar, sizeof sidecar, "%s.json", o.ckpt);
    lec_error err;
    lec_error_clear(&err);

    /* ---- the run's settings: new, or recorded with the checkpoint */
    run_meta rm = {0};
    cJSON *rm_json = NULL;
    lec_train *tr = NULL;
    lec_model_info info, init_info;
    lec_nn_net *init_net = NULL; /* --init: owned until handed to the trainer */
    arch_opts ao;
    arch_defaults(&ao);
    lec_train_config tc;
    lec_train_config_default(&tc);
    tc.threads = o.threads;
    tc.checkpoint_every_s = o.ckpt_minutes * 60.0;
    snprintf(tc.checkpoint_path, sizeof tc.checkpoint_path, "%s", o.ckpt);
    lec_dataset *train = NULL, *valid = NULL;
    lec_bundle_ref *refs = NULL, *trefs = NULL, *vrefs = NULL;
    size_t n_refs = 0;
    int status = 1;
    if (o.resume) {
        if (o.arch || o.seed != 1 || o.batch != 32 || o.lr != 1e-3)
            fprintf(stderr, "lectern train: --resume: --arch/--seed/--batch/--lr are "
                            "taken from the checkpoint; the ones given are ignored\n");
        if (read_sidecar(sidecar, &rm, &rm_json))
            goto done;
        if (o.n_data) { /* the data may have moved or grown: the given dirs win */
            rm.n_data = o.n_data;
            memcpy(rm.data, o.data, sizeof o.data);
        }
        if (o.n_valid) {
            rm.n_valid = o.n_valid;
            memcpy(rm.valid, o.valid, sizeof o.valid);
        }
        if (o.index)
            rm.index = o.index;
        lec_model_file *f = NULL;
        if (lec_model_file_read(o.ckpt, &f, &err) ||
            lec_model_info_from_meta(&f->meta, f->path, &info, &err)) {
            fprintf(stderr, "lectern train: --resume: %s\n", err.msg);
            lec_model_file_free(f);
            goto done;
        }
        int64_t total = 0;
        lec_meta_get_int(&f->meta, "train.total_steps", &total, NULL, NULL);
        lec_model_file_free(f);
        lec_train_config rt = tc;
        rt.total_steps = total; /* keep the schedule: exact resume */
        if (o.steps > 0 && o.steps != total) {
            fprintf(stderr, "lectern train: --resume with --steps %lld (was %lld): the learning-rate "
                            "schedule changes from here on\n", o.steps, (long long)total);
            rt.total_steps = o.steps;
        }
        tr = lec_train_resume(o.ckpt, &rt, &err);
        if (!tr) {
            fprintf(stderr, "lectern train: --resume: %s\n", err.msg);
            goto done;
        }
        const lec_nn_arch *a = lec_nn_net_arch(lec_train_net(tr));
        ao.W = a->score_w;
        ao.H = a->score_h;
        ao.frames = a->spec_frames;
        ao.B = a->n_out - (rm.outside ? 1 : 0);
        ao.ss = info.staff_space_px;
        fprintf(stderr, "lectern train: resuming %s at step %lld of %lld\n", o.ckpt,
                (long long)lec_train_step_count(tr),
                (long long)lec_train_config_of(tr)->total_steps);
    } else {
        if (o.init) {
            lec_meta im;
            lec_meta_init(&im);
            init_net = lec_model_load(o.init, &init_info, &im, &err);
            int64_t io = 0;
            if (init_net && lec_meta_find(&im, "model.outside_class"))
                lec_meta_get_int(&im, "model.outside_class", &io, NULL, NULL);
            lec_meta_free(&im);
            if (!init_net) {
                fprintf(stderr, "lectern train: --init: %s\n", err.msg);
                goto done;
            }
            if (o.arch)
                fprintf(stderr, "lectern train: --init: the architecture is %s's; --arch is "
                                "ignored\n", o.init);
            const lec_nn_arch *a = lec_nn_net_arch(init_net);
            ao.W = a->score_w;
            ao.H = a->score_h;
            ao.frames = a->spec_frames;
            ao.bucket_head = a->bucket_head;
            ao.B = a->n_out - (io ? 1 : 0);
            ao.ss = init_info.staff_space_px;
            o.outside = (int)io;
        } else if (o.arch && parse_arch(o.arch, &ao)) {
            status = 2;
            goto done;
        }
        if (ao.bucket_head && o.outside) {
            fprintf(stderr, "lectern train: --outside needs the dense head: a bucket head "
                            "(--arch bucket_head=1) has one output per bucket and no 'outside'\n");
            status = 2;
            goto done;
        }
        rm.outside = o.outside;
        rm.augment = !o.no_augment;
        rm.outside_frac = (float)o.outside_frac;
        rm.sigma = 0.7f;
        rm.margin = 1.0f;
        rm.data_seed = o.seed;
        rm.valid_samples = o.valid_samples;
        rm.n_data = o.n_data;
        memcpy(rm.data, o.data, sizeof o.data);
        rm.n_valid = o.n_valid;
        memcpy(rm.valid, o.valid, sizeof o.valid);
        rm.index = o.index;
        if (init_net) {
            info = init_info; /* front end, unrolling, window and buckets of the model */
        } else {
            lec_model_info_default(&info);
            info.window_width_px = ao.W;
            info.window_height_px = ao.H;
            info.staff_space_px = ao.ss;
            info.buckets = ao.B + (rm.outside ? 1 : 0);
        }
    }

    /* ---- find the bundles and split them */
    size_t n_train_dirs = 0;
    for (int i = 0; i < rm.n_data; i++)
        if (lec_bundle_find(rm.data[i], rm.index, &refs, &n_refs, &err)) {
            fprintf(stderr, "lectern train: --data: %s\n", err.msg);
            goto done;
        }
    n_train_dirs = n_refs;
    for (int i = 0; i < rm.n_valid; i++)
        if (lec_bundle_find(rm.valid[i], rm.index, &refs, &n_refs, &err)) {
            fprintf(stderr, "lectern train: --valid: %s\n", err.msg);
            goto done;
        }
    trefs = calloc(n_refs + 1, sizeof *trefs);
    vrefs = calloc(n_refs + 1, sizeof *vrefs);
    if (!trefs || !vrefs) {
        fprintf(stderr, "lectern train: out of memory\n");
        goto done;
    }
    size_t nt = 0, nv = 0, n_valid_split_in_data = 0;
    for (size_t i = 0; i < n_refs; i++) {
        int from_valid_opt = i >= n_train_dirs;
        int dup = 0;
        for (size_t k = 0; k < i; k++)
            dup |= strcmp(refs[k].dir, refs[i].dir) == 0;
        if (dup) {
            if (from_valid_opt) {
                fprintf(stderr,
                        "lectern train: %s is both a training and a validation bundle "
                        "(found under --data and --valid)\n",
                        refs[i].dir);
                goto done;
            }
            continue;
        }
        if (from_valid_opt)
            vrefs[nv++] = refs[i];
        else if (refs[i].split == LEC_SPLIT_VALID && !o.train_on_valid) {
            n_valid_split_in_data++;
            if (rm.n_valid == 0)
                vrefs[nv++] = refs[i];
        } else
            trefs[nt++] = refs[i];
    }
    if (n_refs == 0 || nt == 0) {
        fprintf(stderr, "lectern train: no training bundles (directories with piece.json) found under");
        for (int i = 0; i < rm.n_data; i++)
            fprintf(stderr, " %s", rm.data[i]);
        fprintf(stderr, "%s\n", n_valid_split_in_data ? " (only valid-split bundles)" : "");
        goto done;
    }
    if (nv == 0) {
        fprintf(stderr,
                "lectern train: no validation bundles: give --valid DIR, or --split-from-index "
                "so that valid-split bundles under --data are found\n");
        goto done;
    }
    if (n_valid_split_in_data)
        fprintf(stderr, "lectern train: %zu valid-split bundles under --data are %s\n",
                n_valid_split_in_data,
                rm.n_valid ? "left out (not trained on; --valid given)"
                           : "used for validation only");
    {
        size_t ntr = 0, nun = 0;
        for (size_t i = 0; i < nt; i++)
            trefs[i].split == LEC_SPLIT_TRAIN ? ntr++ : nun++;
        fprintf(stderr, "lectern train: %zu training bundles (%zu train split, %zu unknown), %zu "
                        "validation bundles\n", nt, ntr, nun, nv);
        for (size_t i = 0; i < nv && i < 20; i++)
            fprintf(stderr, "  valid: %s (%s split)\n", vrefs[i].name, split_name(vrefs[i].split));
    }

    /* ---- load */
    char cache_default[2048];
    const char *cache = o.cache;
    if (!cache) {
        const char *home = getenv("HOME");
        snprintf(cache_default, sizeof cache_default, "%s/.cache/lectern/spec",
                 home && home[0] ? home : "/tmp");
        cache = cache_default;
    } else if (strcmp(cache, "none") == 0)
        cache = NULL;
    lec_dataset_config dc;
    lec_dataset_config_default(&dc);
    dc.info = info;
    dc.spec_frames = ao.frames;
    dc.margin_x_ss = rm.margin;
    dc.outside_class = rm.outside;
    dc.outside_frac = rm.outside_frac;
    dc.sigma_buckets = rm.sigma;
    dc.cache_dir = cache;
    dc.progress = 1;
    int n_warn = 0;
    dc.augment = rm.augment;
    train = lec_dataset_create(trefs, nt, &dc, on_warn, &n_warn, &err);
    if (!train) {
        fprintf(stderr, "lectern train: training data: %s\n", err.msg);
        goto done;
    }
    dc.augment = 0;
    valid = lec_dataset_create(vrefs, nv, &dc, on_warn, &n_warn, &err);
    if (!valid) {
        fprintf(stderr, "lectern train: validation data: %s\n", err.msg);
        goto done;
    }
    fprintf(stderr,
            "lectern train: training: %zu pieces, %zu renderings, %.1f h of audio; validation: "
            "%zu pieces, %zu renderings, %.1f h%s\n",
            lec_dataset_n_pieces(train), lec_dataset_n_renderings(train),
            lec_dataset_duration_s(train) / 3600.0, lec_dataset_n_pieces(valid),
            lec_dataset_n_renderings(valid), lec_dataset_duration_s(valid) / 3600.0,
            n_warn ? " (see warnings above)" : "");
    if (o.dump_dir) {
        status = lec_train_dump_samples(train, o.dump_dir, "train", o.dump_n, rm.data_seed) ||
                 lec_train_dump_samples(valid, o.dump_dir, "valid", o.dump_n, rm.data_seed ^ 0x7661ULL);
        goto done;
    }

    /* ---- a new network: input normalisation measured on the training data */
    if (!o.resume) {
        /* the network: a model file's (--init) or a new one */
        lec_nn_arch a;
        lec_nn_net *net = NULL;
        if (init_net) {
            const lec_nn_arch *ia = lec_nn_net_arch(init_net);
            if (ia->spec_bands != lec_dataset_n_bands(train)) {
                fprintf(stderr, "lectern train: --init: %s takes %d spectrogram bands, the data "
                                "gives %d\n", o.init, ia->spec_bands, lec_dataset_n_bands(train));
                goto done;
            }
            net = init_net;
            init_net = NULL; /* the trainer owns it now, also on failure */
        } else {
            lec_nn_arch_default(&a);
            a.score_h = ao.H;
            a.score_w = ao.W;
            a.spec_bands = lec_dataset_n_bands(train);
            a.spec_frames = ao.frames;
            a.n_out = info.buckets;
            snprintf(a.score_layers, sizeof a.score_layers, "%s", ao.score);
            snprintf(a.spec_layers, sizeof a.spec_layers, "%s", ao.spec);
            snprintf(a.head_layers, sizeof a.head_layers, "%s", ao.head);
            a.act = ao.act;
            a.batchnorm = ao.bn;
            a.bucket_head = ao.bucket_head;
            if (lec_dataset_input_stats(train, o.seed ^ 0x5157ULL, 2048, &a.score_mean,
                                        &a.score_std, &a.spec_mean, &a.spec_std, &err)) {
                fprintf(stderr, "lectern train: %s\n", err.msg);
                goto done;
            }
            net = lec_nn_net_create(&a, &err);
            if (!net) {
                fprintf(stderr, "lectern train: --arch: %s\n", err.msg);
                status = 2;
                goto done;
            }
            lec_nn_net_init(net, o.seed);
        }
        tc.batch = o.batch;
        tc.lr = o.lr;
        tc.seed = o.seed;
        tc.total_steps = o.steps > 0 ? o.steps : 20000;
        tc.warmup_steps = tc.total_steps / 20 < 500 ? tc.total_steps / 20 : 500;
        if (tc.threads > tc.batch)
            tc.threads = 1;
        tr = lec_train_create(net, &info, &tc, &err);
        if (!tr) {
            fprintf(stderr, "lectern train: %s\n", err.msg);
            goto done;
        }
        if (write_sidecar(sidecar, &rm))
            goto done;
        if (o.init)
            fprintf(stderr,
                    "lectern train: starting from %s: %zu parameters, window %dx%d px (staff "
                    "space %g px), %d buckets, %d frames x %d bands\n",
                    o.init, lec_nn_net_n_params(lec_train_net(tr)), ao.W, ao.H,
                    info.staff_space_px, ao.B, ao.frames, lec_dataset_n_bands(train));
        else
            fprintf(stderr,
                    "lectern train: new network: %zu parameters, %.1f MFLOP/sample forward; "
                    "window %dx%d px (staff space %g px), %d buckets%s, %d frames x %d bands; "
                    "normalisation score %.3f/%.3f spec %.3f/%.3f\n",
                    lec_nn_net_n_params(lec_train_net(tr)),
                    lec_nn_net_flops_forward(lec_train_net(tr)) / 1e6, a.score_w, a.score_h,
                    info.staff_space_px, ao.B, rm.outside ? " + outside" : "", a.spec_frames,
                    a.spec_bands, a.score_mean, a.score_std, a.spec_mean, a.spec_std);
    }

    /* ---- train */
    {
        const lec_train_config *cfg = lec_train_config_of(tr);
        const int64_t total = cfg->total_steps;
        provider_ctx pc = {train, (uint64_t)rm.data_seed};
        const double t_start = lec_now_s();
        double t_ckpt = t_start, acc_loss = 0.0, acc_acc = 0.0, acc_s = 0.0;
        int n_acc = 0, stopped = 0, validated_at_end = 0;
        lec_dataset_metrics vm = {0};
        lec_status st = LEC_OK;
        printf("# step/total loss acc lr samples/s | valid: acc acc+-1 outside loss\n");
        fflush(stdout);
        while (lec_train_step_count(tr) < total) {
            lec_train_stats s;
            st = lec_train_step(tr, provider, &pc, &s, &err);
            if (st)
                break;
            acc_loss += s.loss;
            acc_acc += s.accuracy;
            acc_s += s.seconds;
            n_acc++;
            const int64_t step = s.step;
            if (step % o.progress_every == 0 || step == total) {
                printf("step %lld/%lld loss %.4f acc %.3f lr %.2e %.1f samples/s\n",
                       (long long)step, (long long)total, acc_loss / n_acc, acc_acc / n_acc, s.lr,
                       acc_s > 0 ? n_acc * cfg->batch / acc_s : 0.0);
                fflush(stdout);
                acc_loss = acc_acc = acc_s = 0.0;
                n_acc = 0;
            }
            const int time_up = (o.minutes > 0 && lec_now_s() - t_start >= o.minutes * 60.0) ||
                                (o.until > 0 && step >= o.until && step < total);
            stopped = g_stop || time_up;
            validated_at_end = 0;
            if (step % o.valid_every == 0 || step == total || stopped) {
                st = lec_dataset_evaluate(valid, lec_train_net(tr), 0x76616c6964ULL,
                                          rm.valid_samples, &vm, &err);
                if (st)
                    break;
                printf("valid step %lld: acc %.4f acc+-1 %.4f outside %.4f (false outside "
                       "%.4f) loss %.4f (%d inside, %d outside samples)\n",
                       (long long)step, vm.acc, vm.acc1, vm.acc_outside, vm.false_outside,
                       vm.loss, vm.n_inside, vm.n_outside);
                fflush(stdout);
                validated_at_end = 1;
            }
            if (stopped || (cfg->checkpoint_every_s > 0 &&
                            lec_now_s() - t_ckpt >= cfg->checkpoint_every_s)) {
                st = lec_train_save_checkpoint(tr, o.ckpt, &err);
                if (st)
                    break;
                t_ckpt = lec_now_s();
                fprintf(stderr, "lectern train: checkpoint %s at step %lld\n", o.ckpt,
                        (long long)step);
            }
            if (stopped)
                break;
        }
        if (st) {
            fprintf(stderr, "lectern train: %s\n", err.msg);
            goto done; /* the last checkpoint stays as it was */
        }
        if (!validated_at_end) {
            if (lec_dataset_evaluate(valid, lec_train_net(tr), 0x76616c6964ULL, rm.valid_samples,
                                     &vm, &err)) {
                fprintf(stderr, "lectern train: %s\n", err.msg);
                goto done;
            }
        }
        if (!stopped && lec_train_save_checkpoint(tr, o.ckpt, &err)) {
            fprintf(stderr, "lectern train: %s\n", err.msg);
            goto done;
        }

        /* ---- the model file */
        lec_meta m;
        lec_meta_init(&m);
        st = LEC_OK;
        char *names = NULL;
        size_t cap = 1, len = 0;
        for (int pass = 0; pass < 2 && !st; pass++) {
            const lec_dataset *d = pass ? valid : train;
            len = 0;
            cap = 1;
            for (size_t i = 0; i < lec_dataset_n_pieces(d); i++)
                cap += strlen(lec_dataset_piece_name(d, i)) + 1;
            names = malloc(cap);
            if (!names) {
                st = lec_error_set(&err, LEC_ENOMEM, "out of memory");
                break;
            }
            names[0] = 0;
            for (size_t i = 0; i < lec_dataset_n_pieces(d); i++)
                len += (size_t)snprintf(names + len, cap - len, "%s%s", i ? "\n" : "",
                                        lec_dataset_piece_name(d, i));
            st = lec_meta_set_string(&m, pass ? "data.valid_pieces" : "data.train_pieces", names,
                                     &err);
            free(names);
        }
        st = st ? st : lec_meta_set_int(&m, "model.outside_class", rm.outside, &err);
        st = st ? st
                : lec_meta_set_float(&m, "unroll.height_ss", info.window_height_px /
                                                                 info.staff_space_px, &err);
        st = st ? st : lec_meta_set_float(&m, "unroll.margin_x_ss", rm.margin, &err);
        st = st ? st : lec_meta_set_float(&m, "data.sigma_buckets", rm.sigma, &err);
        st = st ? st : lec_meta_set_float(&m, "data.outside_frac", rm.outside_frac, &err);
        st = st ? st : lec_meta_set_int(&m, "data.augment", rm.augment, &err);
        st = st ? st
                : lec_meta_set_int(&m, "data.train_n_pieces",
                                   (int64_t)lec_dataset_n_pieces(train), &err);
        st = st ? st
                : lec_meta_set_int(&m, "data.train_n_renderings",
                                   (int64_t)lec_dataset_n_renderings(train), &err);
        st = st ? st
                : lec_meta_set_float(&m, "data.train_hours", lec_dataset_duration_s(train) / 3600.0,
                                     &err);
        st = st ? st
                : lec_meta_set_int(&m, "data.valid_n_pieces",
                                   (int64_t)lec_dataset_n_pieces(valid), &err);
        st = st ? st
                : lec_meta_set_int(&m, "data.valid_n_renderings",
                                   (int64_t)lec_dataset_n_renderings(valid), &err);
        st = st ? st : lec_meta_set_int(&m, "valid.samples", rm.valid_samples, &err);
        st = st ? st : lec_meta_set_float(&m, "valid.bucket_accuracy", vm.acc, &err);
        st = st ? st : lec_meta_set_float(&m, "valid.bucket_accuracy_pm1", vm.acc1, &err);
        st = st ? st : lec_meta_set_float(&m, "valid.outside_accuracy", vm.acc_outside, &err);
        st = st ? st : lec_meta_set_float(&m, "valid.loss", vm.loss, &err);
        st = st ? st : lec_meta_set_int(&m, "train.total_steps", total, &err);
        st = st ? st : lec_meta_set_int(&m, "train.batch", cfg->batch, &err);
        st = st ? st : lec_meta_set_int(&m, "train.seed", (int64_t)cfg->seed, &err);
        st = st ? st : lec_meta_set_string(&m, "lectern.version", LEC_VERSION, &err);
        st = st ? st : lec_train_save_model(tr, o.out, &m, &err);
        lec_meta_free(&m);
        if (st) {
            fprintf(stderr, "lectern train: %s\n", err.msg);
            goto done;
        }
        const long long step = (long long)lec_train_step_count(tr);
        if (stopped)
            fprintf(stderr,
                    "lectern train: stopped at step %lld of %lld (%s); checkpoint %s; model so far "
                    "written to %s; continue with --resume --checkpoint %s\n",
                    step, (long long)total, g_stop_sig ? "signal" : "--minutes/--until", o.ckpt, o.out,
                    o.ckpt);
        else
            fprintf(stderr, "lectern train: done: %lld steps; model written to %s\n", step, o.out);
        printf("final step %lld: valid acc %.4f acc+-1 %.4f outside %.4f loss %.4f\n", step,
               vm.acc, vm.acc1, vm.acc_outside, vm.loss);
        status = 0;
    }
done:
    /* the handlers stay installed until the process exits: a late Ctrl-C
     * (the user pressing it again while the datasets are freed) must not turn a
     * clean stop, with everything written, into a death by signal */
    (void)old_int;
    (void)old_term;
    lec_dataset_destroy(train);
    lec_dataset_destroy(valid);
    lec_train_destroy(tr);
    lec_nn_net_destroy(init_net);
    free(refs);
    free(trefs);
    free(vrefs);
    cJSON_Delete(rm_json);
    return status;
}
