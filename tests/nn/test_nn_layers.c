/* test_nn_layers -- every layer against finite differences (computed in
 * double on a scalar loss L = sum(out * r) with a fixed random r), and the
 * fast kernels (im2col + sgemm) against the naive reference kernels.
 *
 * Tolerances: the layers run in float32; a central difference with step
 * h = 1e-3 on float32 forwards has an error of roughly eps*|L|/h ~ 1e-4*|L|,
 * so we compare with a relative tolerance of 2e-2 on gradients whose
 * magnitude is O(1), plus an absolute floor. A sign error, a missing term or
 * a wrong index changes gradients by O(1) and fails. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lec_nn.h"
#include "lec_nn_layers.h"
#include "lec_test.h"

static uint64_t rng = 12345;
static float urand(void) /* uniform in [-1,1) */
{
    rng = lec_nn_hash64(rng);
    return (float)((double)(rng >> 11) / 4503599627370496.0 - 1.0);
}
static float *rnd(size_t n)
{
    float *p = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        p[i] = urand();
    return p;
}
static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}
static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m)
            m = d;
    }
    return m;
}

/* Checks analytic gradient g (of L = <f(x), r>) w.r.t. x against central
 * differences; f is evaluated by the callback into out. */
typedef void (*fwd_fn)(float *out, void *ctx);
static void gradcheck(const char *what, float *x, size_t nx, const float *g, fwd_fn f,
                      void *ctx, float *out, const float *r, size_t nout)
{
    const float h = 1e-3f;
    int bad = 0;
    double worst = 0.0;
    /* at most 60 coordinates, spread over the tensor, keep the test fast */
    size_t step = nx > 60 ? nx / 60 : 1;
    for (size_t i = 0; i < nx; i += step) {
        float keep = x[i];
        x[i] = keep + h;
        f(out, ctx);
        double lp = dot(out, r, nout);
        x[i] = keep - h;
        f(out, ctx);
        double lm = dot(out, r, nout);
        x[i] = keep;
        double num = (lp - lm) / (2.0 * h);
        double err = fabs(num - g[i]) / (fabs(num) + fabs(g[i]) + 0.05);
        if (err > worst)
            worst = err;
        if (err > 2e-2 && bad++ < 3)
            fprintf(stderr, "%s: grad[%zu] analytic %.6g numeric %.6g\n", what, i, g[i], num);
    }
    CHECKF(bad == 0, "%s: %d gradient mismatches (worst rel %.3g)", what, bad, worst);
}

/* ---------------------------------------------------------------- conv */
typedef struct {
    const float *in, *w, *b;
    int N, C, H, W, OC, K;
    float *ws;
    size_t wsn;
} conv_args;
static void conv_f(float *out, void *c)
{
    conv_args *a = c;
    lec_nn_conv2d_forward(out, a->in, a->w, a->b, a->ws, a->wsn, a->N, a->C, a->H, a->W, a->OC,
                          a->K);
}

static void test_conv(int N, int C, int H, int W, int OC, int K, int nb)
{
    size_t ni = (size_t)N * C * H * W, nw = (size_t)OC * C * K * K, no = (size_t)N * OC * H * W;
    float *in = rnd(ni), *w = rnd(nw), *b = rnd(OC), *r = rnd(no);
    size_t wsn = lec_nn_conv2d_ws_floats(C, H, W, OC, K, nb);
    float *ws = malloc(sizeof(float) * wsn);
    float *out = malloc(sizeof(float) * no), *out_ref = malloc(sizeof(float) * no);
    lec_nn_conv2d_forward(out, in, w, b, ws, wsn, N, C, H, W, OC, K);
    lec_nn_conv2d_forward_ref(out_ref, in, w, b, N, C, H, W, OC, K);
    CHECKF(max_abs_diff(out, out_ref, no) < 1e-4, "conv fwd fast vs ref %g (N%d C%d %dx%d OC%d K%d nb%d)",
           max_abs_diff(out, out_ref, no), N, C, H, W, OC, K, nb);

    float *din = calloc(ni, sizeof(float)), *dw = calloc(nw, sizeof(float)),
          *db = calloc(OC, sizeof(float));
    float *din_r = calloc(ni, sizeof(float)), *dw_r = calloc(nw, sizeof(float)),
          *db_r = calloc(OC, sizeof(float));
    lec_nn_conv2d_backward(din, dw, db, r, in, w, ws, wsn, N, C, H, W, OC, K);
    lec_nn_conv2d_backward_ref(din_r, dw_r, db_r, r, in, w, N, C, H, W, OC, K);
    CHECKF(max_abs_diff(din, din_r, ni) < 1e-4, "conv dinp fast vs ref %g", max_abs_diff(din, din_r, ni));
    CHECKF(max_abs_diff(dw, dw_r, nw) < 1e-3, "conv dw fast vs ref %g", max_abs_diff(dw, dw_r, nw));
    CHECKF(max_abs_diff(db, db_r, OC) < 1e-3, "conv db fast vs ref %g", max_abs_diff(db, db_r, OC));

    /* accumulation: a second backward doubles dw, db; dinp is overwritten */
    lec_nn_conv2d_backward(din, dw, db, r, in, w, ws, wsn, N, C, H, W, OC, K);
    CHECK_NEAR(dw[0], 2.0 * dw_r[0], 1e-3);
    CHECK_NEAR(din[ni / 2], din_r[ni / 2], 1e-4);
    memset(dw, 0, sizeof(float) * nw);
    memset(db, 0, sizeof(float) * OC);
    lec_nn_conv2d_backward(din, dw, db, r, in, w, ws, wsn, N, C, H, W, OC, K);

    conv_args a = {in, w, b, N, C, H, W, OC, K, ws, wsn};
    gradcheck("conv dinp", in, ni, din, conv_f, &a, out, r, no);
    gradcheck("conv dw", w, nw, dw, conv_f, &a, out, r, no);
    gradcheck("conv db", b, OC, db, conv_f, &a, out, r, no);
    /* NULL dinp and NULL bias are allowed */
    lec_nn_conv2d_forward(out, in, w, NULL, ws, wsn, N, C, H, W, OC, K);
    lec_nn_conv2d_backward(NULL, dw, NULL, r, in, w, ws, wsn, N, C, H, W, OC, K);
    free(in), free(w), free(b), free(r), free(ws), free(out), free(out_ref);
    free(din), free(dw), free(db), free(din_r), free(dw_r), free(db_r);
}

/* --------------------------------------------------------------- dense */
typedef struct {
    const float *in, *w, *b;
    int N, IC, OC;
} dense_args;
static void dense_f(float *out, void *c)
{
    dense_args *a = c;
    lec_nn_dense_forward(out, a->in, a->w, a->b, a->N, a->IC, a->OC);
}
static void test_dense(int N, int IC, int OC)
{
    size_t ni = (size_t)N * IC, nw = (size_t)OC * IC, no = (size_t)N * OC;
    float *in = rnd(ni), *w = rnd(nw), *b = rnd(OC), *r = rnd(no);
    float *out = malloc(sizeof(float) * no), *out_r = malloc(sizeof(float) * no);
    lec_nn_dense_forward(out, in, w, b, N, IC, OC);
    lec_nn_dense_forward_ref(out_r, in, w, b, N, IC, OC);
    CHECKF(max_abs_diff(out, out_r, no) < 1e-4, "dense fwd fast vs ref %g", max_abs_diff(out, out_r, no));
    float *din = calloc(ni, 4), *dw = calloc(nw, 4), *db = calloc(OC, 4);
    float *din_r = calloc(ni, 4), *dw_r = calloc(nw, 4), *db_r = calloc(OC, 4);
    lec_nn_dense_backward(din, dw, db, r, in, w, N, IC, OC);
    lec_nn_dense_backward_ref(din_r, dw_r, db_r, r, in, w, N, IC, OC);
    CHECK(max_abs_diff(din, din_r, ni) < 1e-4);
    CHECK(max_abs_diff(dw, dw_r, nw) < 1e-4);
    CHECK(max_abs_diff(db, db_r, OC) < 1e-4);
    dense_args a = {in, w, b, N, IC, OC};
    gradcheck("dense dinp", in, ni, din, dense_f, &a, out, r, no);
    gradcheck("dense dw", w, nw, dw, dense_f, &a, out, r, no);
    gradcheck("dense db", b, OC, db, dense_f, &a, out, r, no);
    free(in), free(w), free(b), free(r), free(out), free(out_r);
    free(din), free(dw), free(db), free(din_r), free(dw_r), free(db_r);
}

/* ----------------------------------------------------------- batchnorm */
typedef struct {
    const float *in, *g, *b;
    float *mean, *rstd;
    int N, C, S;
} bn_args;
static void bn_f(float *out, void *c)
{
    bn_args *a = c;
    lec_nn_batchnorm_forward_train(out, a->mean, a->rstd, a->in, a->g, a->b, a->N, a->C, a->S);
}
static void test_batchnorm(int N, int C, int S)
{
    size_t n = (size_t)N * C * S;
    float *in = rnd(n), *g = rnd(C), *b = rnd(C), *r = rnd(n), *out = malloc(4 * n);
    for (size_t i = 0; i < n; i++)
        in[i] = 3.0f * in[i] + 0.5f; /* non-zero mean, non-unit variance */
    float mean[16], rstd[16];
    bn_args a = {in, g, b, mean, rstd, N, C, S};
    bn_f(out, &a);
    /* normalised output: per channel mean beta, std |gamma| */
    for (int c = 0; c < C; c++) {
        double s = 0.0, s2 = 0.0;
        for (int k = 0; k < N; k++)
            for (int i = 0; i < S; i++) {
                double y = (out[((size_t)k * C + c) * S + i] - b[c]) / g[c];
                s += y, s2 += y * y;
            }
        CHECK_NEAR(s / (N * S), 0.0, 1e-4);
        CHECK_NEAR(s2 / (N * S), 1.0, 1e-3);
    }
    float *din = malloc(4 * n), *dg = calloc(C, 4), *dbeta = calloc(C, 4);
    lec_nn_batchnorm_backward(din, dg, dbeta, r, in, mean, rstd, g, N, C, S);
    gradcheck("bn dinp", in, n, din, bn_f, &a, out, r, n);
    gradcheck("bn dgamma", (float *)g, C, dg, bn_f, &a, out, r, n);
    gradcheck("bn dbeta", (float *)b, C, dbeta, bn_f, &a, out, r, n);
    /* in-place backward gives the same */
    float *r2 = malloc(4 * n);
    memcpy(r2, r, 4 * n);
    lec_nn_batchnorm_backward(r2, dg, dbeta, r2, in, mean, rstd, g, N, C, S);
    CHECK(max_abs_diff(r2, din, n) < 1e-6);
    /* running statistics: after many updates with the same batch, running
     * mean -> batch mean, running var -> unbiased batch variance */
    bn_f(out, &a);
    float rm[16] = {0}, rv[16];
    for (int c = 0; c < C; c++)
        rv[c] = 1.0f;
    for (int it = 0; it < 300; it++)
        lec_nn_batchnorm_running(rm, rv, mean, rstd, C, (long)N * S);
    for (int c = 0; c < C; c++) {
        double s = 0.0, s2 = 0.0;
        for (int k = 0; k < N; k++)
            for (int i = 0; i < S; i++) {
                double x = in[((size_t)k * C + c) * S + i];
                s += x, s2 += x * x;
            }
        double m = s / (N * S), v = (s2 - N * S * m * m) / (N * S - 1);
        CHECK_NEAR(rm[c], m, 1e-4);
        CHECK_NEAR(rv[c], v, 1e-3 * v);
    }
    /* eval with running stats equal to the (biased) batch stats == train output */
    float *out_e = malloc(4 * n);
    for (int c = 0; c < C; c++)
        rv[c] *= (float)(N * S - 1) / (float)(N * S);
    lec_nn_batchnorm_forward_eval(out_e, in, g, b, rm, rv, N, C, S);
    CHECKF(max_abs_diff(out, out_e, n) < 1e-3, "bn eval vs train %g", max_abs_diff(out, out_e, n));
    /* fused BN + activation == BN, then the activation (train and eval) */
    float *f1 = malloc(4 * n), *f2 = malloc(4 * n), m2[16], r3[16];
    for (int act = -1; act <= 1; act++) {
        lec_nn_batchnorm_forward_train(f1, mean, rstd, in, g, b, N, C, S);
        if (act == 0)
            lec_nn_relu_forward(f1, f1, n);
        if (act == 1)
            lec_nn_elu_forward(f1, f1, n);
        lec_nn_batchnorm_act_forward_train(f2, m2, r3, in, g, b, act, N, C, S);
        CHECKF(max_abs_diff(f1, f2, n) < 1e-6, "fused train act %d", act);
        CHECK(memcmp(m2, mean, sizeof(float) * C) == 0 && memcmp(r3, rstd, sizeof(float) * C) == 0);
        lec_nn_batchnorm_forward_eval(f1, in, g, b, rm, rv, N, C, S);
        if (act == 0)
            lec_nn_relu_forward(f1, f1, n);
        if (act == 1)
            lec_nn_elu_forward(f1, f1, n);
        lec_nn_batchnorm_act_forward_eval(f2, in, g, b, rm, rv, act, N, C, S);
        CHECKF(max_abs_diff(f1, f2, n) < 1e-6, "fused eval act %d", act);
    }
    free(f1), free(f2);
    free(in), free(g), free(b), free(r), free(out), free(din), free(dg), free(dbeta), free(r2),
        free(out_e);
}

/* ------------------------------------------------- elementwise + pooling */
typedef struct {
    const float *in;
    int kind; /* 0 relu 1 elu 2 maxpool 3 avgpool 4 dropout */
    int N, C, H, W;
    size_t n;
} ew_args;
static void ew_f(float *out, void *c)
{
    ew_args *a = c;
    switch (a->kind) {
    case 0: lec_nn_relu_forward(out, a->in, a->n); break;
    case 1: lec_nn_elu_forward(out, a->in, a->n); break;
    case 2: lec_nn_maxpool2_forward(out, a->in, a->N, a->C, a->H, a->W); break;
    case 3: lec_nn_avgpool_forward(out, a->in, a->N, a->C, a->H, a->W); break;
    case 4: lec_nn_dropout_forward(out, a->in, 0.4f, 99, 1000, a->n); break;
    }
}
static void test_elementwise(void)
{
    const int N = 2, C = 3, H = 5, W = 7; /* odd sizes: pooling drops the last row/col */
    size_t n = (size_t)N * C * H * W;
    float *in = rnd(n), *r = rnd(n), *out = malloc(4 * n), *din = malloc(4 * n);
    /* keep inputs away from the kinks of relu/maxpool where differences lie */
    for (size_t i = 0; i < n; i++)
        if (fabsf(in[i]) < 0.05f)
            in[i] += 0.1f;
    const char *names[] = {"relu", "elu", "maxpool2", "avgpool", "dropout"};
    for (int k = 0; k < 5; k++) {
        ew_args a = {in, k, N, C, H, W, n};
        size_t no = k == 2 ? (size_t)N * C * (H / 2) * (W / 2) : k == 3 ? (size_t)N * C : n;
        ew_f(out, &a);
        switch (k) {
        case 0: lec_nn_relu_backward(din, r, out, n); break;
        case 1: lec_nn_elu_backward(din, r, out, n); break;
        case 2: lec_nn_maxpool2_backward(din, r, in, out, N, C, H, W); break;
        case 3: lec_nn_avgpool_backward(din, r, N, C, H, W); break;
        case 4: lec_nn_dropout_backward(din, r, 0.4f, 99, 1000, n); break;
        }
        gradcheck(names[k], in, n, din, ew_f, &a, out, r, no);
    }
    /* ELU values against libm over [-100, 10], lengths that exercise the 8-,
     * 4-lane and scalar parts */
    {
        const size_t m = 20011;
        float *x = malloc(4 * m), *y = malloc(4 * m);
        for (size_t i = 0; i < m; i++)
            x[i] = -100.0f + 110.0f * (float)i / (float)(m - 1);
        lec_nn_elu_forward(y, x, m);
        double worst = 0.0;
        for (size_t i = 0; i < m; i++) {
            double e = x[i] > 0 ? x[i] : expm1((double)x[i]);
            double d = fabs(e - y[i]) / (x[i] > 0 ? fabs(e) : 1.0);
            worst = d > worst ? d : worst;
        }
        CHECKF(worst < 5e-7, "ELU error %.3g", worst);
        free(x), free(y);
    }
    /* maxpool values */
    float x[16];
    for (int i = 0; i < 16; i++)
        x[i] = (float)((i * 7) % 16);
    float y[4];
    lec_nn_maxpool2_forward(y, x, 1, 1, 4, 4);
    for (int oy = 0; oy < 2; oy++)
        for (int ox = 0; ox < 2; ox++) {
            float m = -1;
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++)
                    if (x[(2 * oy + dy) * 4 + 2 * ox + dx] > m)
                        m = x[(2 * oy + dy) * 4 + 2 * ox + dx];
            CHECK(y[oy * 2 + ox] == m);
        }
    /* dropout: rate close to p, deterministic, independent of the split */
    size_t big = 100000, kept = 0;
    float *ones = malloc(4 * big), *d1 = malloc(4 * big), *d2 = malloc(4 * big);
    for (size_t i = 0; i < big; i++)
        ones[i] = 1.0f;
    lec_nn_dropout_forward(d1, ones, 0.3f, 7, 0, big);
    lec_nn_dropout_forward(d2, ones, 0.3f, 7, 0, big / 2);
    lec_nn_dropout_forward(d2 + big / 2, ones, 0.3f, 7, big / 2, big - big / 2);
    for (size_t i = 0; i < big; i++)
        kept += d1[i] != 0.0f;
    CHECK_NEAR((double)kept / big, 0.7, 0.01);
    CHECK(memcmp(d1, d2, 4 * big) == 0);
    CHECK_NEAR(d1[0] == 0.0f ? 1.0 / 0.7 : d1[0], 1.0 / 0.7, 1e-6);
    lec_nn_dropout_forward(d2, ones, 0.3f, 8, 0, big);
    CHECK(memcmp(d1, d2, 4 * big) != 0); /* the seed matters */
    free(ones), free(d1), free(d2);
    free(in), free(r), free(out), free(din);
}

/* ------------------------------------------------------- concat, softmax */
typedef struct {
    const float *z, *t;
    int N, K;
} xent_args;
static void xent_f(float *out, void *c)
{
    xent_args *a = c;
    out[0] = (float)lec_nn_softmax_xent_forward(NULL, a->z, a->t, a->N, a->K);
}
static void test_concat_softmax(void)
{
    float a[6] = {1, 2, 3, 4, 5, 6}, b[4] = {7, 8, 9, 10}, o[10], da[6], db[4];
    lec_nn_concat_forward(o, a, b, 2, 3, 2);
    float expect[10] = {1, 2, 3, 7, 8, 4, 5, 6, 9, 10};
    CHECK(memcmp(o, expect, sizeof o) == 0);
    lec_nn_concat_backward(da, db, expect, 2, 3, 2);
    CHECK(memcmp(da, a, sizeof a) == 0 && memcmp(db, b, sizeof b) == 0);

    const int N = 3, K = 5;
    float *z = rnd(N * K), t[15], dz[15], p[15];
    for (int n = 0; n < N; n++) { /* soft targets: a peak with neighbours */
        memset(t + n * K, 0, sizeof(float) * K);
        t[n * K + n + 1] = 0.6f, t[n * K + n] = 0.2f, t[n * K + n + 2] = 0.2f;
    }
    lec_nn_softmax_xent_backward(dz, z, t, 1.0f, N, K);
    float one = 1.0f, lo;
    xent_args xa = {z, t, N, K};
    gradcheck("softmax-xent", z, N * K, dz, xent_f, &xa, &lo, &one, 1);
    /* stable for huge logits; equals the direct formula for small ones */
    double l = lec_nn_softmax_xent_forward(p, z, t, N, K), ld = 0.0;
    for (int n = 0; n < N; n++) {
        double s = 0.0;
        for (int k = 0; k < K; k++)
            s += exp(z[n * K + k]);
        for (int k = 0; k < K; k++)
            ld -= t[n * K + k] * log(exp(z[n * K + k]) / s);
    }
    CHECK_NEAR(l, ld, 1e-5);
    float big[3] = {1000.0f, -1000.0f, 999.0f}, tb[3] = {0, 0, 1}, pb[3];
    double lb = lec_nn_softmax_xent_forward(pb, big, tb, 1, 3);
    CHECK(isfinite(lb));
    CHECK_NEAR(lb, log(1.0 + exp(-1.0)) + 1.0, 1e-5);
    CHECK_NEAR(pb[0] + pb[1] + pb[2], 1.0, 1e-6);
    lec_nn_softmax(pb, big, 1, 3);
    CHECK_NEAR(pb[0], 1.0 / (1.0 + exp(-1.0)), 1e-6);
    free(z);
}

static void test_spec_excerpt(void)
{
    /* 5 frames of 3 bands, frame f band b = 10*f + b + 1 */
    float frames[15], dst[12];
    for (int f = 0; f < 5; f++)
        for (int b = 0; b < 3; b++)
            frames[f * 3 + b] = (float)(10 * f + b + 1);
    lec_nn_spec_excerpt(dst, frames, 5, 3, 5, 4); /* the last 4 frames */
    for (int b = 0; b < 3; b++)
        for (int f = 0; f < 4; f++)
            CHECK(dst[b * 4 + f] == (float)(10 * (f + 1) + b + 1));
    lec_nn_spec_excerpt(dst, frames, 5, 3, 2, 4); /* starts before the stream: silence */
    CHECK(dst[0] == 0.0f && dst[1] == 0.0f && dst[2] == 1.0f && dst[3] == 11.0f);
    CHECK(dst[4 + 2] == 2.0f && dst[8 + 3] == 13.0f);
}

int main(void)
{
    test_spec_excerpt();
    test_conv(2, 3, 5, 6, 4, 3, 1);
    test_conv(3, 2, 4, 7, 5, 3, 2); /* chunk of 2 samples + a remainder of 1 */
    test_conv(2, 2, 6, 5, 3, 5, 8); /* 5x5 kernel, whole batch in one GEMM */
    test_conv(1, 1, 1, 1, 2, 3, 1); /* degenerate 1x1 map: only the centre tap */
    test_dense(4, 7, 5);
    test_dense(1, 3, 2);
    test_batchnorm(4, 3, 5);
    test_batchnorm(6, 2, 1); /* after a dense layer */
    test_batchnorm(2, 2, 601); /* long runs: blocked float sums + vector tail */
    test_elementwise();
    test_concat_softmax();
    return lec_test_finish("test_nn_layers");
}
