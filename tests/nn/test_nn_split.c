/* test_nn_split.c -- the EVAL forward in three parts (engine/nn/lec_nn.h):
 * score tower, spectrogram tower, head; and the head's first dense layer
 * split into a per-window score part and a per-frame spectrogram part.
 * On random networks of several architectures (plain head with BN + ELU and
 * dropout tokens everywhere, head_layers = "" with ReLU and biases instead of
 * BN, the bucket head, an empty score tower, global average pooling), with
 * every parameter random (BN running statistics too, so BN is not the
 * identity):
 *   - towers + head with the same batch as lec_nn_forward give the SAME bits;
 *   - towers run one sample at a time + head: equal up to float rounding;
 *   - a head with one shared spectrogram row equals the full forward on the
 *     excerpt repeated n times (the follower's case);
 *   - the split first layer (score part per window, spec part per frame)
 *     equals the full forward up to float rounding, with score parts passed
 *     by pointer in any order;
 *   - the comparisons can fail: the wrong spectrogram row gives a difference
 *     far above the tolerance;
 *   - bad batch sizes are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_nn.h"
#include "lec_test.h"

static uint32_t g_rng = 2024;
static float urand(void) /* [-1, 1) */
{
    g_rng = g_rng * 1664525u + 1013904223u;
    return (float)(g_rng >> 8) / 8388608.0f - 1.0f;
}

/* every parameter random: weights and biases +-0.3 scaled, BN gamma in
 * [0.5, 1.5], beta +-0.3, running mean +-0.3, running variance in [0.5, 1.5] */
static void randomise(lec_nn_net *net)
{
    lec_nn_net_init(net, 11);
    float *p = lec_nn_net_params(net);
    for (int i = 0; i < lec_nn_net_n_tensors(net); i++) {
        const lec_nn_tensor *t = lec_nn_net_tensor(net, i);
        const char *nm = t->name;
        size_t L = strlen(nm);
        for (size_t k = 0; k < t->size; k++) {
            float *v = p + t->offset + k;
            if (L > 5 && !strcmp(nm + L - 5, ".bn.g"))
                *v = 1.0f + 0.5f * urand();
            else if (L > 6 && !strcmp(nm + L - 6, ".bn.rv"))
                *v = 1.0f + 0.5f * urand();
            else if (L > 2 && !strcmp(nm + L - 2, ".w"))
                *v *= 1.0f + 0.3f * urand();
            else
                *v = 0.3f * urand();
        }
    }
}

static double max_abs_diff(const float *a, const float *b, size_t n, double *scale)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        d = e > d ? e : d;
        s = fabs((double)a[i]) > s ? fabs((double)a[i]) : s;
    }
    if (scale)
        *scale = s;
    return d;
}

typedef struct arch_case {
    const char *name;
    int sh, sw, bands, frames, n_out;
    const char *score, *spec, *head;
    int act, bn, bucket;
} arch_case;

static void run_case(const arch_case *c)
{
    lec_nn_arch a;
    lec_nn_arch_default(&a);
    a.score_h = c->sh, a.score_w = c->sw, a.spec_bands = c->bands, a.spec_frames = c->frames;
    a.n_out = c->n_out;
    snprintf(a.score_layers, sizeof a.score_layers, "%s", c->score);
    snprintf(a.spec_layers, sizeof a.spec_layers, "%s", c->spec);
    snprintf(a.head_layers, sizeof a.head_layers, "%s", c->head);
    a.act = c->act, a.batchnorm = c->bn, a.bucket_head = c->bucket;
    a.score_mean = 0.1f, a.score_std = 0.7f, a.spec_mean = 0.5f, a.spec_std = 1.3f;
    lec_error err;
    lec_nn_net *net = lec_nn_net_create(&a, &err);
    CHECKF(net != NULL, "%s: %s", c->name, err.msg);
    if (!net)
        return;
    randomise(net);
    enum { N = 5 };
    const size_t ns = (size_t)a.score_h * a.score_w, na = (size_t)a.spec_bands * a.spec_frames;
    const size_t es = lec_nn_score_embed_floats(net), ea = lec_nn_spec_embed_floats(net);
    const size_t hp = lec_nn_head_part_floats(net), hs = lec_nn_head_spec_part_floats(net);
    const int K = a.n_out;
    float *score = malloc(sizeof(float) * N * ns), *spec = malloc(sizeof(float) * N * na);
    float *spec_rep = malloc(sizeof(float) * N * na);
    float *emb_s = malloc(sizeof(float) * N * es), *emb_a = malloc(sizeof(float) * N * ea);
    float *emb_s1 = malloc(sizeof(float) * N * es), *emb_a1 = malloc(sizeof(float) * N * ea);
    float *part_s = malloc(sizeof(float) * N * hp), *part_a = malloc(sizeof(float) * hs);
    float *full = malloc(sizeof(float) * N * K), *full_rep = malloc(sizeof(float) * N * K);
    float *got = malloc(sizeof(float) * N * K);
    for (size_t i = 0; i < N * ns; i++)
        score[i] = urand() > 0.6f ? 1.0f : 0.0f; /* ink-like */
    for (size_t i = 0; i < N * na; i++)
        spec[i] = 1.5f * (urand() + 1.0f);
    for (int s = 0; s < N; s++)
        memcpy(spec_rep + (size_t)s * na, spec + 2 * na, sizeof(float) * na); /* sample 2's */

    lec_nn_ctx *ctx = lec_nn_ctx_create(net, N, 0, &err);
    CHECK(ctx != NULL);
    /* the reference: the full EVAL forward */
    CHECK(lec_nn_forward(ctx, score, spec, N, LEC_NN_EVAL, 0, 0, &err) == LEC_OK);
    memcpy(full, lec_nn_ctx_logits(ctx), sizeof(float) * N * K);
    CHECK(lec_nn_forward(ctx, score, spec_rep, N, LEC_NN_EVAL, 0, 0, &err) == LEC_OK);
    memcpy(full_rep, lec_nn_ctx_logits(ctx), sizeof(float) * N * K);
    double scale = 0;
    max_abs_diff(full, full, N * (size_t)K, &scale);
    const double tol = 1e-5 * (1.0 + scale);
    CHECKF(scale > 1e-3, "%s: logits all ~0 (scale %g): the test would prove nothing", c->name,
           scale);

    /* (a) + (b) + (c) with the same batch: the same bits */
    CHECK(lec_nn_forward_score_tower(ctx, score, N, emb_s, &err) == LEC_OK);
    CHECK(lec_nn_forward_spec_tower(ctx, spec, N, emb_a, &err) == LEC_OK);
    CHECK(lec_nn_forward_head(ctx, emb_s, emb_a, 0, N, &err) == LEC_OK);
    CHECKF(memcmp(lec_nn_ctx_logits(ctx), full, sizeof(float) * N * K) == 0,
           "%s: towers + head (batch %d) differ from the full forward by %g", c->name, N,
           max_abs_diff(lec_nn_ctx_logits(ctx), full, N * (size_t)K, NULL));

    /* towers one sample at a time: up to rounding */
    for (int s = 0; s < N; s++) {
        CHECK(lec_nn_forward_score_tower(ctx, score + s * ns, 1, emb_s1 + s * es, &err) == 0);
        CHECK(lec_nn_forward_spec_tower(ctx, spec + s * na, 1, emb_a1 + s * ea, &err) == 0);
    }
    CHECK(lec_nn_forward_head(ctx, emb_s1, emb_a1, 0, N, &err) == LEC_OK);
    double d = max_abs_diff(lec_nn_ctx_logits(ctx), full, N * (size_t)K, NULL);
    CHECKF(d <= tol, "%s: towers one by one: max diff %g > %g", c->name, d, tol);

    /* one shared spectrogram row == the excerpt repeated */
    CHECK(lec_nn_forward_head(ctx, emb_s, emb_a + 2 * ea, 1, N, &err) == LEC_OK);
    d = max_abs_diff(lec_nn_ctx_logits(ctx), full_rep, N * (size_t)K, NULL);
    CHECKF(d <= tol, "%s: shared spectrogram row: max diff %g > %g", c->name, d, tol);
    /* the comparison can fail: another sample's spectrogram row is far off */
    CHECK(lec_nn_forward_head(ctx, emb_s, emb_a + 4 * ea, 1, N, &err) == LEC_OK);
    d = max_abs_diff(lec_nn_ctx_logits(ctx), full_rep, N * (size_t)K, NULL);
    CHECKF(d > 100 * tol, "%s: the wrong spectrogram changes the logits by only %g", c->name,
           d);

    /* the split first head layer: score parts per window (given by pointer,
     * in reverse order), one spectrogram part */
    CHECK(lec_nn_head_score_part(net, emb_s, N, part_s, &err) == LEC_OK);
    lec_nn_head_spec_part(net, emb_a + 2 * ea, part_a);
    const float *ptr[N];
    for (int s = 0; s < N; s++)
        ptr[s] = part_s + (size_t)(N - 1 - s) * hp;
    CHECK(lec_nn_forward_head_parts(ctx, ptr, part_a, N, &err) == LEC_OK);
    double worst = 0;
    for (int s = 0; s < N; s++) {
        double e = max_abs_diff(lec_nn_ctx_logits(ctx) + (size_t)s * K,
                                full_rep + (size_t)(N - 1 - s) * K, (size_t)K, NULL);
        worst = e > worst ? e : worst;
    }
    CHECKF(worst <= tol, "%s: split first layer: max diff %g > %g", c->name, worst, tol);
    /* one window at a time, from single-sample score parts */
    CHECK(lec_nn_head_score_part(net, emb_s1 + 3 * es, 1, part_s, &err) == LEC_OK);
    ptr[0] = part_s;
    CHECK(lec_nn_forward_head_parts(ctx, ptr, part_a, 1, &err) == LEC_OK);
    d = max_abs_diff(lec_nn_ctx_logits(ctx), full_rep + 3 * K, (size_t)K, NULL);
    CHECKF(d <= tol, "%s: split first layer, one window: max diff %g > %g", c->name, d, tol);

    /* bad batches */
    CHECK(lec_nn_forward_score_tower(ctx, score, N + 1, emb_s, &err) == LEC_EINVAL &&
          strstr(err.msg, "batch"));
    CHECK(lec_nn_forward_spec_tower(ctx, spec, 0, emb_a, &err) == LEC_EINVAL);
    CHECK(lec_nn_forward_head(ctx, emb_s, emb_a, 0, -1, &err) == LEC_EINVAL);
    CHECK(lec_nn_forward_head_parts(ctx, ptr, part_a, N + 1, &err) == LEC_EINVAL);
    CHECK(lec_nn_head_score_part(net, emb_s, 0, part_s, &err) == LEC_EINVAL);

    /* a training context works too, and its backward refuses to run on it */
    lec_nn_ctx *tctx = lec_nn_ctx_create(net, N, 1, &err);
    CHECK(tctx != NULL);
    if (tctx) {
        CHECK(lec_nn_forward_head_parts(tctx, ptr, part_a, 1, &err) == LEC_OK);
        d = max_abs_diff(lec_nn_ctx_logits(tctx), full_rep + 3 * K, (size_t)K, NULL);
        CHECKF(d <= tol, "%s: training ctx: max diff %g", c->name, d);
        float tg[N * 64] = {0};
        CHECK(isnan(lec_nn_backward(tctx, tg, 1, 1.0f, 0, 0)));
        lec_nn_ctx_destroy(tctx);
    }
    /* the follower's context: towers for one sample, head for N: the same
     * logits (spectrogram tower on one excerpt, then N windows' head parts) */
    lec_nn_ctx *ectx = lec_nn_ctx_create_eval(net, 1, N, &err);
    CHECK(ectx != NULL && lec_nn_ctx_max_tower_batch(ectx) == 1 && lec_nn_ctx_max_batch(ectx) == N);
    if (ectx) {
        float *emb1 = malloc(sizeof(float) * ea), *part1 = malloc(sizeof(float) * hs);
        CHECK(lec_nn_forward_spec_tower(ectx, spec + 2 * na, 1, emb1, &err) == LEC_OK);
        lec_nn_head_spec_part(net, emb1, part1);
        CHECK(lec_nn_head_score_part(net, emb_s, N, part_s, &err) == LEC_OK);
        for (int s = 0; s < N; s++)
            ptr[s] = part_s + (size_t)s * hp;
        CHECK(lec_nn_forward_head_parts(ectx, ptr, part1, N, &err) == LEC_OK);
        d = max_abs_diff(lec_nn_ctx_logits(ectx), full_rep, (size_t)N * K, NULL);
        CHECKF(d <= tol, "%s: eval context: max diff %g > %g", c->name, d, tol);
        /* the towers refuse more than their batch; so does the whole network */
        CHECK(lec_nn_forward_spec_tower(ectx, spec, 2, emb_a, &err) == LEC_EINVAL &&
              strstr(err.msg, "tower batch"));
        CHECK(lec_nn_forward_score_tower(ectx, score, 2, emb_s, &err) == LEC_EINVAL);
        CHECK(lec_nn_forward(ectx, score, spec, 2, LEC_NN_EVAL, 0, 0, &err) == LEC_EINVAL);
        CHECK(lec_nn_forward(ectx, score, spec, 1, LEC_NN_EVAL, 0, 0, &err) == LEC_OK);
        free(emb1), free(part1);
        lec_nn_ctx_destroy(ectx);
    }
    CHECK(lec_nn_ctx_create_eval(net, 2, 1, &err) == NULL && strstr(err.msg, "tower batch"));

    printf("  %-28s score emb %4zu, spec emb %4zu, head part %4zu + %3zu floats: ok\n",
           c->name, es, ea, hp, hs);
    lec_nn_ctx_destroy(ctx);
    lec_nn_net_destroy(net);
    free(score), free(spec), free(spec_rep), free(emb_s), free(emb_a), free(emb_s1);
    free(emb_a1), free(part_s), free(part_a), free(full), free(full_rep), free(got);
}

int main(void)
{
    static const arch_case cases[] = {
        {"plain head, BN, ELU, dropout", 24, 32, 10, 8, 12, "c4,p,c8,o20,p,d16", "c4,p,d8,o10",
         "o30,d16,o10,d12", LEC_NN_ACT_ELU, 1, 0},
        {"head \"\", ReLU, no BN", 16, 24, 12, 6, 8, "c4,p,c6k5,p,d10", "c3,p,c5,g", "",
         LEC_NN_ACT_RELU, 0, 0},
        {"head \"\", BN", 16, 24, 12, 6, 8, "c4,p,d10", "d6", "", LEC_NN_ACT_ELU, 1, 0},
        {"bucket head, BN, dropout", 16, 32, 10, 8, 8, "c4,p,c6,p", "c4,p,d6",
         "o20,d12,o10,d6", LEC_NN_ACT_ELU, 1, 1},
        {"bucket head, head \"\"", 8, 16, 6, 4, 8, "c3,p", "c2,g", "", LEC_NN_ACT_RELU, 0, 1},
        {"empty score tower", 4, 6, 8, 4, 6, "", "c2,p,d5", "d7", LEC_NN_ACT_ELU, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
    return lec_test_finish("test_nn_split");
}
