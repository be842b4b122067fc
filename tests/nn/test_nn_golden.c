/* test_nn_golden -- the whole network's forward and backward against golden
 * tensors from PyTorch (tests/nn/golden/make_golden.py, committed outputs).
 *
 * The model files there were written by an independent Python writer, so
 * loading them also checks lec_model against a second implementation of the
 * format. For each configuration: train-mode logits and loss, the gradient of
 * every parameter and of both inputs, BN running statistics after one
 * update, and eval-mode logits, all within float32 tolerances (relative 1e-3
 * of each tensor's largest magnitude; the computations differ only in
 * summation order). The same is run with the batch split into two shards
 * (as the 2-thread trainer does) for the parts that must not change: without
 * BN the sharded gradients equal the whole-batch ones. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_model.h"
#include "lec_nn.h"
#include "lec_test.h"

static double max_abs(const float *a, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i]) > m)
            m = fabs(a[i]);
    return m;
}

static size_t count(const lec_model_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= (size_t)t->dims[d];
    return n;
}

static void compare(const char *cfg, const char *what, const float *got, const lec_model_tensor *want,
                    size_t n, double rel)
{
    CHECKF(want != NULL, "%s: golden tensor for %s missing", cfg, what);
    if (!want)
        return;
    CHECKF(count(want) == n, "%s: %s has %zu values, golden %zu", cfg, what, n, count(want));
    if (count(want) != n)
        return;
    double scale = max_abs(want->data, n), worst = 0.0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want->data[i]);
        if (d > worst)
            worst = d, wi = i;
    }
    CHECKF(worst <= rel * scale + 1e-6, "%s: %s differs by %.3g at [%zu] (%.6g vs golden %.6g; scale %.3g)",
           cfg, what, worst, wi, got[wi], want->data[wi], scale);
}

static void run_config(const char *name)
{
    char path[4096], iopath[4096];
    snprintf(path, sizeof path, "%s/tests/nn/golden/%s.model", lec_test_source_dir(), name);
    snprintf(iopath, sizeof iopath, "%s/tests/nn/golden/%s.io", lec_test_source_dir(), name);
    lec_error err = {0};
    lec_model_info info;
    lec_nn_net *net = lec_model_load(path, &info, NULL, &err);
    CHECKF(net != NULL, "loading %s: %s", path, err.msg);
    lec_model_file *io = NULL;
    lec_status st = lec_model_file_read(iopath, &io, &err);
    CHECKF(st == LEC_OK, "reading %s: %s", iopath, err.msg);
    if (!net || st) {
        lec_nn_net_destroy(net);
        lec_model_file_free(io);
        return;
    }
    const lec_nn_arch *a = lec_nn_net_arch(net);
    const lec_model_tensor *ts = lec_model_file_find(io, "in.score"),
                           *ta = lec_model_file_find(io, "in.spec"),
                           *tt = lec_model_file_find(io, "in.targets");
    CHECK(ts && ta && tt);
    if (!ts || !ta || !tt)
        goto out;
    const int N = (int)ts->dims[0];
    CHECK(ts->dims[1] == a->score_h && ts->dims[2] == a->score_w);
    CHECK(info.buckets == a->n_out && info.sample_rate == 22050);

    /* whole batch on one ctx */
    lec_nn_ctx *ctx = lec_nn_ctx_create(net, N, 1, &err);
    CHECKF(ctx != NULL, "%s", err.msg);
    if (!ctx)
        goto out;
    lec_nn_ctx_want_input_grad(ctx, 1);
    lec_nn_ctx_zero_grad(ctx);
    st = lec_nn_forward(ctx, ts->data, ta->data, N, LEC_NN_TRAIN, 1, 0, &err);
    CHECKF(st == LEC_OK, "%s", err.msg);
    compare(name, "logits", lec_nn_ctx_logits(ctx), lec_model_file_find(io, "out.logits"),
            (size_t)N * a->n_out, 1e-4);
    double loss = lec_nn_backward(ctx, tt->data, N, 1.0f / N, 1, 0) / N;
    const lec_model_tensor *tl = lec_model_file_find(io, "out.loss");
    CHECK(tl != NULL);
    if (tl)
        CHECK_NEAR(loss, tl->data[0], 1e-5 * fabs(tl->data[0]) + 1e-6);
    compare(name, "grad.in.score", lec_nn_ctx_dscore(ctx), lec_model_file_find(io, "grad.in.score"),
            (size_t)N * a->score_h * a->score_w, 1e-3);
    compare(name, "grad.in.spec", lec_nn_ctx_dspec(ctx), lec_model_file_find(io, "grad.in.spec"),
            (size_t)N * a->spec_bands * a->spec_frames, 1e-3);
    const float *G = lec_nn_ctx_grads(ctx);
    int n_grads = 0;
    for (int i = 0; i < lec_nn_net_n_tensors(net); i++) {
        const lec_nn_tensor *x = lec_nn_net_tensor(net, i);
        char gname[80];
        snprintf(gname, sizeof gname, "%s.%s", x->trainable ? "grad" : "after", x->name);
        if (x->trainable) {
            compare(name, gname, G + x->offset, lec_model_file_find(io, gname), x->size, 1e-3);
            n_grads++;
        }
    }
    CHECK(n_grads >= 6);
    /* running statistics after this step's update */
    lec_nn_update_running_stats(net, &ctx, &N, 1);
    const float *P = lec_nn_net_params(net);
    for (int i = 0; i < lec_nn_net_n_tensors(net); i++) {
        const lec_nn_tensor *x = lec_nn_net_tensor(net, i);
        if (x->trainable)
            continue;
        char gname[80];
        snprintf(gname, sizeof gname, "after.%s", x->name);
        compare(name, gname, P + x->offset, lec_model_file_find(io, gname), x->size, 1e-4);
    }
    st = lec_nn_forward(ctx, ts->data, ta->data, N, LEC_NN_EVAL, 0, 0, &err);
    CHECK(st == LEC_OK);
    /* backward after an EVAL forward is refused, not computed from stale BN stats */
    CHECK(isnan(lec_nn_backward(ctx, tt->data, N, 1.0f / N, 1, 0)));
    compare(name, "logits_eval", lec_nn_ctx_logits(ctx), lec_model_file_find(io, "out.logits_eval"),
            (size_t)N * a->n_out, 1e-4);

    /* an inference-only ctx gives the same eval logits, one sample at a time */
    lec_nn_ctx *inf = lec_nn_ctx_create(net, 1, 0, &err);
    CHECK(inf != NULL);
    float *one = malloc(sizeof(float) * (size_t)N * a->n_out);
    if (inf && one) {
        float probs[64];
        double psum = 0.0;
        for (int n = 0; n < N; n++) {
            st = lec_nn_infer(inf, ts->data + (size_t)n * a->score_h * a->score_w,
                              ta->data + (size_t)n * a->spec_bands * a->spec_frames, probs, &err);
            CHECK(st == LEC_OK);
            memcpy(one + (size_t)n * a->n_out, lec_nn_ctx_logits(inf), sizeof(float) * a->n_out);
            for (int k = 0; k < a->n_out; k++)
                psum += probs[k];
        }
        CHECK_NEAR(psum, N, 1e-4);
        compare(name, "logits_eval (one sample at a time)", one,
                lec_model_file_find(io, "out.logits_eval"), (size_t)N * a->n_out, 1e-4);
    }
    free(one);
    lec_nn_ctx_destroy(inf);

    /* two shards (the 2-thread trainer): the summed gradients equal the
     * whole batch's exactly when there is no BN (with BN each shard uses its
     * own statistics, so only the no-BN configuration is compared) */
    if (!a->batchnorm && N >= 2) {
        int n0 = N / 2, n1 = N - n0;
        lec_nn_ctx *c0 = lec_nn_ctx_create(net, n0, 1, &err), *c1 = lec_nn_ctx_create(net, n1, 1, &err);
        CHECK(c0 && c1);
        if (c0 && c1) {
            const size_t ss = (size_t)a->score_h * a->score_w, sa = (size_t)a->spec_bands * a->spec_frames;
            lec_nn_ctx_zero_grad(c0);
            lec_nn_ctx_zero_grad(c1);
            CHECK(lec_nn_forward(c0, ts->data, ta->data, n0, LEC_NN_TRAIN, 1, 0, &err) == LEC_OK);
            CHECK(lec_nn_forward(c1, ts->data + ss * n0, ta->data + sa * n0, n1, LEC_NN_TRAIN, 1,
                                 (uint64_t)n0, &err) == LEC_OK);
            double l = lec_nn_backward(c0, tt->data, n0, 1.0f / N, 1, 0) +
                       lec_nn_backward(c1, tt->data + (size_t)a->n_out * n0, n1, 1.0f / N, 1,
                                       (uint64_t)n0);
            if (tl)
                CHECK_NEAR(l / N, tl->data[0], 1e-5 * fabs(tl->data[0]) + 1e-6);
            float *g0 = lec_nn_ctx_grads(c0);
            const float *g1 = lec_nn_ctx_grads(c1);
            for (size_t i = 0; i < lec_nn_net_n_params(net); i++)
                g0[i] += g1[i];
            for (int i = 0; i < lec_nn_net_n_tensors(net); i++) {
                const lec_nn_tensor *x = lec_nn_net_tensor(net, i);
                char gname[80];
                snprintf(gname, sizeof gname, "grad.%s", x->name);
                compare(name, gname, g0 + x->offset, lec_model_file_find(io, gname), x->size, 1e-3);
            }
        }
        lec_nn_ctx_destroy(c0);
        lec_nn_ctx_destroy(c1);
    }

    /* a batch larger than the ctx is refused, not overrun */
    st = lec_nn_forward(ctx, ts->data, ta->data, N + 1, LEC_NN_TRAIN, 1, 0, &err);
    CHECK(st == LEC_EINVAL);
    lec_nn_ctx_destroy(ctx);
out:
    lec_model_file_free(io);
    lec_nn_net_destroy(net);
}

int main(void)
{
    run_config("tiny_bn_relu");
    run_config("tiny_elu_gap");
    run_config("tiny_bucket");
    return lec_test_finish("test_nn_golden");
}
