#include "lec_train.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_nn_layers.h"
#include "lec_util.h"

#define MAX_THREADS 2

struct lec_train {
    lec_train_config cfg;
    lec_model_info info;
    lec_nn_net *net;
    lec_nn_ctx *ctx[MAX_THREADS];
    int shard_n[MAX_THREADS];
    int workers;
    float *m, *v; /* Adam moments, parameter layout */
    int64_t step;
    float *score, *spec, *targets; /* one batch from the provider */
};

void lec_train_config_default(lec_train_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->batch = 32;
    cfg->threads = 2;
    cfg->split_batch = 1;
    cfg->seed = 1;
    cfg->lr = 1e-3;
    cfg->lr_min = 1e-5;
    cfg->warmup_steps = 200;
    cfg->total_steps = 0;
    cfg->beta1 = 0.9;
    cfg->beta2 = 0.999;
    cfg->eps = 1e-8;
    cfg->weight_decay = 1e-4;
    cfg->checkpoint_every_s = 600.0;
}

double lec_train_lr_at(const lec_train_config *c, int64_t step)
{
    if (c->warmup_steps > 0 && step < c->warmup_steps)
        return c->lr * (double)(step + 1) / (double)c->warmup_steps;
    if (c->total_steps <= c->warmup_steps)
        return c->lr;
    double t = (double)(step - c->warmup_steps) / (double)(c->total_steps - c->warmup_steps);
    if (t > 1.0)
        t = 1.0;
    return c->lr_min + 0.5 * (c->lr - c->lr_min) * (1.0 + cos(3.141592653589793 * t));
}

static lec_status check_config(const lec_train_config *c, lec_error *err)
{
    if (c->batch < 1 || c->batch > 4096)
        return lec_error_set(err, LEC_EINVAL, "training: batch %d outside 1..4096", c->batch);
    if (c->threads < 1 || c->threads > MAX_THREADS)
        return lec_error_set(err, LEC_EINVAL, "training: threads %d outside 1..%d", c->threads,
                             MAX_THREADS);
    if (c->split_batch != 0 && c->split_batch != 1)
        return lec_error_set(err, LEC_EINVAL, "training: split_batch must be 0 or 1");
    if (c->threads > c->batch)
        return lec_error_set(err, LEC_EINVAL, "training: %d threads for a batch of %d",
                             c->threads, c->batch);
    if (!(c->lr > 0.0) || !(c->lr_min >= 0.0) || !(c->beta1 >= 0.0 && c->beta1 < 1.0) ||
        !(c->beta2 >= 0.0 && c->beta2 < 1.0) || !(c->eps > 0.0) || !(c->weight_decay >= 0.0) ||
        c->warmup_steps < 0 || c->total_steps < 0 || !(c->checkpoint_every_s >= 0.0))
        return lec_error_set(err, LEC_EINVAL,
                             "training: bad optimiser settings (lr %g, lr_min %g, betas %g/%g, "
                             "eps %g, weight decay %g)",
                             c->lr, c->lr_min, c->beta1, c->beta2, c->eps, c->weight_decay);
    if (!memchr(c->checkpoint_path, 0, sizeof c->checkpoint_path))
        return lec_error_set(err, LEC_EINVAL, "training: checkpoint path too long");
    return LEC_OK;
}

lec_train *lec_train_create(lec_nn_net *net, const lec_model_info *info,
                            const lec_train_config *cfg, lec_error *err)
{
    if (!net) {
        lec_error_set(err, LEC_EINVAL, "training: no network");
        return NULL;
    }
    if (check_config(cfg, err)) {
        lec_nn_net_destroy(net);
        return NULL;
    }
    lec_train *tr = calloc(1, sizeof *tr);
    if (!tr) {
        lec_nn_net_destroy(net);
        lec_error_set(err, LEC_ENOMEM, "training: out of memory");
        return NULL;
    }
    tr->cfg = *cfg;
    tr->info = *info;
    tr->net = net;
    const lec_nn_arch *a = lec_nn_net_arch(net);
    if (info->buckets != a->n_out) {
        lec_error_set(err, LEC_EINVAL, "training: info says %d buckets, the network has %d",
                      info->buckets, a->n_out);
        goto fail;
    }
    const int T = cfg->split_batch ? cfg->threads : 1;
    tr->workers = T;
    for (int k = 0; k < T; k++) {
        tr->shard_n[k] = cfg->batch / T + (k < cfg->batch % T ? 1 : 0);
        tr->ctx[k] = lec_nn_ctx_create(net, tr->shard_n[k], 1, err);
        if (!tr->ctx[k])
            goto fail;
    }
    size_t np = lec_nn_net_n_params(net);
    tr->m = calloc(np, sizeof(float));
    tr->v = calloc(np, sizeof(float));
    size_t B = (size_t)cfg->batch;
    tr->score = malloc(sizeof(float) * B * a->score_h * a->score_w);
    tr->spec = malloc(sizeof(float) * B * a->spec_bands * a->spec_frames);
    tr->targets = malloc(sizeof(float) * B * a->n_out);
    if (!tr->m || !tr->v || !tr->score || !tr->spec || !tr->targets) {
        lec_error_set(err, LEC_ENOMEM, "training: out of memory");
        goto fail;
    }
    /* two data-parallel workers each doing single-threaded GEMMs parallelise
     * the non-GEMM work too (README.md) */
    openblas_set_num_threads(cfg->split_batch ? 1 : cfg->threads);
    return tr;
fail:
    lec_train_destroy(tr);
    return NULL;
}

void lec_train_destroy(lec_train *tr)
{
    if (!tr)
        return;
    for (int k = 0; k < MAX_THREADS; k++)
        lec_nn_ctx_destroy(tr->ctx[k]);
    lec_nn_net_destroy(tr->net);
    free(tr->m);
    free(tr->v);
    free(tr->score);
    free(tr->spec);
    free(tr->targets);
    free(tr);
}

lec_nn_net *lec_train_net(lec_train *tr) { return tr->net; }
int64_t lec_train_step_count(const lec_train *tr) { return tr->step; }
const lec_train_config *lec_train_config_of(const lec_train *tr) { return &tr->cfg; }

/* ----------------------------------------------------------------- a step */

typedef struct shard_job {
    lec_train *tr;
    int k, off, n;
    uint64_t seed;
    double loss;
    int correct;
    lec_status st;
    lec_error err;
} shard_job;

static int argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b])
            b = i;
    return b;
}

static void *shard_run(void *p)
{
    shard_job *j = p;
    lec_train *tr = j->tr;
    const lec_nn_arch *a = lec_nn_net_arch(tr->net);
    lec_nn_ctx *ctx = tr->ctx[j->k];
    const size_t ss = (size_t)a->score_h * a->score_w, sa = (size_t)a->spec_bands * a->spec_frames;
    lec_nn_ctx_zero_grad(ctx);
    j->st = lec_nn_forward(ctx, tr->score + ss * j->off, tr->spec + sa * j->off, j->n,
                           LEC_NN_TRAIN, j->seed, (uint64_t)j->off, &j->err);
    if (j->st)
        return NULL;
    const float *t = tr->targets + (size_t)a->n_out * j->off;
    j->loss = lec_nn_backward(ctx, t, j->n, 1.0f / (float)tr->cfg.batch, j->seed,
                              (uint64_t)j->off);
    const float *p_ = lec_nn_ctx_probs(ctx);
    j->correct = 0;
    for (int i = 0; i < j->n; i++)
        j->correct += argmax(p_ + (size_t)i * a->n_out, a->n_out) ==
                      argmax(t + (size_t)i * a->n_out, a->n_out);
    return NULL;
}

static void adamw(lec_train *tr, const float *g, double lr)
{
    const lec_train_config *c = &tr->cfg;
    const double t = (double)(tr->step + 1);
    const float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
    const float bc1 = (float)(1.0 - pow(c->beta1, t)), bc2 = (float)(1.0 - pow(c->beta2, t));
    const float step = (float)lr / bc1, rbc2 = 1.0f / sqrtf(bc2);
    const float decay = (float)(1.0 - lr * c->weight_decay);
    float *P = lec_nn_net_params(tr->net);
    for (int i = 0; i < lec_nn_net_n_tensors(tr->net); i++) {
        const lec_nn_tensor *x = lec_nn_net_tensor(tr->net, i);
        if (!x->trainable)
            continue;
        float *p = P + x->offset, *m = tr->m + x->offset, *v = tr->v + x->offset;
        const float *gg = g + x->offset;
        for (size_t k = 0; k < x->size; k++) {
            m[k] = b1 * m[k] + (1.0f - b1) * gg[k];
            v[k] = b2 * v[k] + (1.0f - b2) * gg[k] * gg[k];
            if (x->decay)
                p[k] *= decay;
            p[k] -= step * m[k] / (sqrtf(v[k]) * rbc2 + eps);
        }
    }
}

lec_status lec_train_step(lec_train *tr, lec_train_provider_fn provider, void *user,
                          lec_train_stats *stats, lec_error *err)
{
    const double t0 = lec_now_s();
    const lec_nn_arch *a = lec_nn_net_arch(tr->net);
    const int B = tr->cfg.batch, T = tr->workers;
    lec_status st = provider(user, tr->step, B, tr->score, tr->spec, tr->targets, err);
    if (st)
        return lec_error_prefix(err, "training step %lld: data: ", (long long)tr->step);
    for (size_t i = 0; i < (size_t)B * a->n_out; i++)
        if (!(tr->targets[i] >= 0.0f) || !isfinite(tr->targets[i]))
            return lec_error_set(err, LEC_EINVAL,
                                 "training step %lld: the provider gave a bad target value",
                                 (long long)tr->step);
    /* dropout masks: a function of (run seed, step) only */
    const uint64_t seed = lec_nn_hash64(tr->cfg.seed * 0x9e3779b97f4a7c15ULL + (uint64_t)tr->step);
    shard_job jobs[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    int off = 0;
    for (int k = 0; k < T; k++) {
        jobs[k] = (shard_job){.tr = tr, .k = k, .off = off, .n = tr->shard_n[k], .seed = seed};
        off += tr->shard_n[k];
    }
    for (int k = 1; k < T; k++)
        started[k] = pthread_create(&th[k], NULL, shard_run, &jobs[k]) == 0;
    shard_run(&jobs[0]);
    for (int k = 1; k < T; k++) {
        if (started[k])
            pthread_join(th[k], NULL);
        else
            shard_run(&jobs[k]); /* could not start a thread: do it here */
    }
    double loss = 0.0;
    int correct = 0;
    for (int k = 0; k < T; k++) {
        if (jobs[k].st) {
            if (err)
                *err = jobs[k].err;
            return jobs[k].st;
        }
        loss += jobs[k].loss;
        correct += jobs[k].correct;
    }
    if (!isfinite(loss))
        return lec_error_set(err, LEC_EINVAL,
                             "training step %lld: the loss is not finite (diverged?)",
                             (long long)tr->step);
    float *g = lec_nn_ctx_grads(tr->ctx[0]);
    const size_t np = lec_nn_net_n_params(tr->net);
    for (int k = 1; k < T; k++) {
        const float *gk = lec_nn_ctx_grads(tr->ctx[k]);
        for (size_t i = 0; i < np; i++)
            g[i] += gk[i];
    }
    lec_nn_update_running_stats(tr->net, tr->ctx, tr->shard_n, T);
    double lr = lec_train_lr_at(&tr->cfg, tr->step);
    adamw(tr, g, lr);
    tr->step++;
    if (stats) {
        stats->step = tr->step;
        stats->loss = loss / B;
        stats->accuracy = (double)correct / B;
        stats->lr = lr;
        stats->seconds = lec_now_s() - t0;
        stats->samples_per_s = stats->seconds > 0.0 ? B / stats->seconds : 0.0;
    }
    return LEC_OK;
}

lec_status lec_train_run(lec_train *tr, lec_train_provider_fn provider, void *user,
                         int64_t until_step, int report_every, lec_train_report_fn report,
                         void *report_user, volatile int *stop, lec_error *err)
{
    const int ckpt = tr->cfg.checkpoint_path[0] != '\0';
    double t_ckpt = lec_now_s();
    lec_train_stats acc = {0};
    int n_acc = 0;
    double t_acc = 0.0;
    while (tr->step < until_step) {
        lec_train_stats s;
        lec_status st = lec_train_step(tr, provider, user, &s, err);
        if (st)
            return st;
        acc.loss += s.loss;
        acc.accuracy += s.accuracy;
        t_acc += s.seconds;
        n_acc++;
        if (report && report_every > 0 && (n_acc == report_every || tr->step == until_step)) {
            lec_train_stats avg = s;
            avg.loss = acc.loss / n_acc;
            avg.accuracy = acc.accuracy / n_acc;
            avg.seconds = t_acc / n_acc;
            avg.samples_per_s = t_acc > 0.0 ? (double)n_acc * tr->cfg.batch / t_acc : 0.0;
            report(report_user, &avg);
            memset(&acc, 0, sizeof acc);
            n_acc = 0;
            t_acc = 0.0;
        }
        int stopping = stop && *stop;
        if (ckpt && (stopping || (tr->cfg.checkpoint_every_s > 0.0 &&
                                  lec_now_s() - t_ckpt >= tr->cfg.checkpoint_every_s))) {
            st = lec_train_save_checkpoint(tr, tr->cfg.checkpoint_path, err);
            if (st)
                return st;
            t_ckpt = lec_now_s();
        }
        if (stopping)
            return lec_error_set(err, LEC_EINTERRUPTED, "training stopped at step %lld%s",
                                 (long long)tr->step, ckpt ? " (checkpoint saved)" : "");
    }
    if (ckpt)
        return lec_train_save_checkpoint(tr, tr->cfg.checkpoint_path, err);
    return LEC_OK;
}

lec_status lec_train_evaluate(lec_train *tr, lec_train_provider_fn provider, void *user,
                              int n_batches, double *loss, double *accuracy, lec_error *err)
{
    const lec_nn_arch *a = lec_nn_net_arch(tr->net);
    const int B = tr->cfg.batch;
    double l = 0.0;
    long correct = 0, total = 0;
    lec_nn_ctx *ctx = tr->ctx[0];
    const size_t ss = (size_t)a->score_h * a->score_w, sa = (size_t)a->spec_bands * a->spec_frames;
    float probs[4096];
    for (int b = 0; b < n_batches; b++) {
        lec_status st = provider(user, b, B, tr->score, tr->spec, tr->targets, err);
        if (st)
            return lec_error_prefix(err, "evaluation batch %d: data: ", b);
        /* the ctx holds at most shard_n[0] samples: go in pieces */
        for (int off = 0; off < B; off += tr->shard_n[0]) {
            int n = B - off < tr->shard_n[0] ? B - off : tr->shard_n[0];
            st = lec_nn_forward(ctx, tr->score + ss * off, tr->spec + sa * off, n, LEC_NN_EVAL, 0,
                                0, err);
            if (st)
                return st;
            const float *z = lec_nn_ctx_logits(ctx);
            const float *t = tr->targets + (size_t)a->n_out * off;
            for (int i = 0; i < n; i++) {
                l += lec_nn_softmax_xent_forward(probs, z + (size_t)i * a->n_out,
                                                 t + (size_t)i * a->n_out, 1, a->n_out);
                correct += argmax(probs, a->n_out) == argmax(t + (size_t)i * a->n_out, a->n_out);
                total++;
            }
        }
    }
    *loss = total ? l / total : 0.0;
    *accuracy = total ? (double)correct / total : 0.0;
    return LEC_OK;
}

/* ------------------------------------------------------------ checkpoints */

static lec_status config_to_meta(const lec_train_config *c, int64_t step, lec_meta *m,
                                 lec_error *err)
{
    lec_status st = LEC_OK;
    st = st ? st : lec_meta_set_string(m, "lectern.kind", "checkpoint", err);
    st = st ? st : lec_meta_set_int(m, "train.step", step, err);
    /* the seed is the whole random state of the trainer (counter-based) */
    st = st ? st : lec_meta_set_int(m, "train.seed", (int64_t)c->seed, err);
    st = st ? st : lec_meta_set_int(m, "train.batch", c->batch, err);
    st = st ? st : lec_meta_set_int(m, "train.threads", c->threads, err);
    st = st ? st : lec_meta_set_int(m, "train.split_batch", c->split_batch, err);
    st = st ? st : lec_meta_set_float(m, "train.lr", c->lr, err);
    st = st ? st : lec_meta_set_float(m, "train.lr_min", c->lr_min, err);
    st = st ? st : lec_meta_set_int(m, "train.warmup_steps", c->warmup_steps, err);
    st = st ? st : lec_meta_set_int(m, "train.total_steps", c->total_steps, err);
    st = st ? st : lec_meta_set_float(m, "train.beta1", c->beta1, err);
    st = st ? st : lec_meta_set_float(m, "train.beta2", c->beta2, err);
    st = st ? st : lec_meta_set_float(m, "train.eps", c->eps, err);
    st = st ? st : lec_meta_set_float(m, "train.weight_decay", c->weight_decay, err);
    st = st ? st : lec_meta_set_float(m, "train.checkpoint_every_s", c->checkpoint_every_s, err);
    st = st ? st : lec_meta_set_string(m, "train.checkpoint_path", c->checkpoint_path, err);
    return st;
}

static lec_status config_from_meta(const lec_meta *m, const char *file, lec_train_config *c,
                                   int64_t *step, lec_error *err)
{
    lec_train_config_default(c);
    int64_t i64 = 0; /* read below even when an earlier key failed */
    const char *s;
    lec_status st = LEC_OK;
    st = st ? st : lec_meta_get_string(m, "lectern.kind", &s, file, err);
    if (!st && strcmp(s, "checkpoint") != 0)
        return lec_error_set(err, LEC_EFORMAT, "%s: a %.20s file, not a training checkpoint",
                             file, s);
    st = st ? st : lec_meta_get_int(m, "train.step", step, file, err);
    st = st ? st : lec_meta_get_int(m, "train.seed", &i64, file, err);
    c->seed = (uint64_t)i64;
    st = st ? st : lec_meta_get_int(m, "train.batch", &i64, file, err);
    c->batch = (int)(i64 > 0 && i64 <= 4096 ? i64 : -1);
    st = st ? st : lec_meta_get_int(m, "train.threads", &i64, file, err);
    c->threads = (int)(i64 > 0 && i64 <= MAX_THREADS ? i64 : -1);
    st = st ? st : lec_meta_get_int(m, "train.split_batch", &i64, file, err);
    c->split_batch = (int)(i64 == 0 || i64 == 1 ? i64 : -1);
    st = st ? st : lec_meta_get_float(m, "train.lr", &c->lr, file, err);
    st = st ? st : lec_meta_get_float(m, "train.lr_min", &c->lr_min, file, err);
    st = st ? st : lec_meta_get_int(m, "train.warmup_steps", &c->warmup_steps, file, err);
    st = st ? st : lec_meta_get_int(m, "train.total_steps", &c->total_steps, file, err);
    st = st ? st : lec_meta_get_float(m, "train.beta1", &c->beta1, file, err);
    st = st ? st : lec_meta_get_float(m, "train.beta2", &c->beta2, file, err);
    st = st ? st : lec_meta_get_float(m, "train.eps", &c->eps, file, err);
    st = st ? st : lec_meta_get_float(m, "train.weight_decay", &c->weight_decay, file, err);
    st = st ? st
            : lec_meta_get_float(m, "train.checkpoint_every_s", &c->checkpoint_every_s, file,
                                 err);
    st = st ? st : lec_meta_get_string(m, "train.checkpoint_path", &s, file, err);
    if (st)
        return st;
    snprintf(c->checkpoint_path, sizeof c->checkpoint_path, "%s", s);
    if (*step < 0)
        return lec_error_set(err, LEC_EFORMAT, "%s: negative step", file);
    if (check_config(c, err))
        return lec_error_prefix(err, "%s: ", file);
    return LEC_OK;
}

lec_status lec_train_save_checkpoint(lec_train *tr, const char *path, lec_error *err)
{
    lec_nn_net *net = tr->net;
    const int nt = lec_nn_net_n_tensors(net);
    lec_model_tensor *t = calloc((size_t)nt + 2, sizeof *t);
    lec_meta m;
    lec_meta_init(&m);
    lec_status st = t ? LEC_OK : lec_error_set(err, LEC_ENOMEM, "%s: out of memory", path);
    st = st ? st : lec_model_arch_to_meta(lec_nn_net_arch(net), &m, err);
    st = st ? st : lec_model_info_to_meta(&tr->info, &m, err);
    st = st ? st : config_to_meta(&tr->cfg, tr->step, &m, err);
    if (!st) {
        lec_model_net_tensors(net, t);
        /* the moments in the parameter block's own layout (padding included) */
        size_t np = lec_nn_net_n_params(net);
        snprintf(t[nt].name, sizeof t[nt].name, "opt.adam.m");
        t[nt].ndim = 1;
        t[nt].dims[0] = (int64_t)np;
        t[nt].data = tr->m;
        snprintf(t[nt + 1].name, sizeof t[nt + 1].name, "opt.adam.v");
        t[nt + 1].ndim = 1;
        t[nt + 1].dims[0] = (int64_t)np;
        t[nt + 1].data = tr->v;
        st = lec_model_file_write(path, &m, t, nt + 2, err);
    }
    free(t);
    lec_meta_free(&m);
    return st;
}

lec_train *lec_train_resume(const char *checkpoint, const lec_train_config *runtime,
                            lec_error *err)
{
    lec_model_file *f = NULL;
    if (lec_model_file_read(checkpoint, &f, err))
        return NULL;
    lec_train_config cfg;
    int64_t step = 0;
    lec_model_info info;
    lec_train *tr = NULL;
    if (config_from_meta(&f->meta, f->path, &cfg, &step, err))
        goto done;
    if (runtime) {
        cfg.threads = runtime->threads;
        cfg.split_batch = runtime->split_batch;
        cfg.checkpoint_every_s = runtime->checkpoint_every_s;
        cfg.total_steps = runtime->total_steps;
        snprintf(cfg.checkpoint_path, sizeof cfg.checkpoint_path, "%s", runtime->checkpoint_path);
    }
    lec_nn_net *net = lec_model_net_from_file(f, &info, err);
    if (!net)
        goto done;
    tr = lec_train_create(net, &info, &cfg, err);
    if (!tr)
        goto done;
    size_t np = lec_nn_net_n_params(tr->net);
    const lec_model_tensor *m = lec_model_file_find(f, "opt.adam.m");
    const lec_model_tensor *v = lec_model_file_find(f, "opt.adam.v");
    if (!m || !v || m->ndim != 1 || v->ndim != 1 || m->dims[0] != (int64_t)np ||
        v->dims[0] != (int64_t)np) {
        lec_error_set(err, LEC_EFORMAT,
                      "%s: optimiser state opt.adam.m/v missing or not %zu floats", f->path, np);
        lec_train_destroy(tr);
        tr = NULL;
        goto done;
    }
    memcpy(tr->m, m->data, sizeof(float) * np);
    memcpy(tr->v, v->data, sizeof(float) * np);
    for (size_t i = 0; i < np; i++)
        if (tr->v[i] < 0.0f) {
            lec_error_set(err, LEC_EFORMAT, "%s: negative second moment in opt.adam.v", f->path);
            lec_train_destroy(tr);
            tr = NULL;
            goto done;
        }
    tr->step = step;
done:
    lec_model_file_free(f);
    return tr;
}

lec_status lec_train_save_model(lec_train *tr, const char *path, const lec_meta *extra,
                                lec_error *err)
{
    lec_meta m;
    lec_meta_init(&m);
    lec_status st = extra ? lec_meta_copy(&m, extra, err) : LEC_OK;
    st = st ? st : lec_meta_set_int(&m, "train.step", tr->step, err);
    st = st ? st : lec_model_save(path, tr->net, &tr->info, &m, err);
    lec_meta_free(&m);
    return st;
}
