#include "lec_nn_layers.h"

#include <cblas.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LEC_NN_AVX2 1
#endif
#include <math.h>
#include <string.h>

uint64_t lec_nn_hash64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* exp(x) - 1 for x <= 0 without a libm call, so that the loop vectorises:
 * exp(x) = 2^k exp(r), k = round(x / ln 2), |r| <= ln2/2, exp(r) by its
 * degree-6 Taylor/Cephes polynomial (relative error < 2e-7); x < -87 gives
 * -1. The absolute error of exp(x) - 1 is below 2e-7, far under what the
 * float32 network resolves (libm's expm1f was 18% of a training step). */
static inline float expm1_neg(float x)
{
    /* written so that NaN (a pathological model overflowing) also becomes -87:
     * converting NaN to int32 below is undefined (found by tests/fuzz/fuzz_model) */
    x = x >= -87.0f ? x : -87.0f;
    /* for x <= 0, truncation toward zero of y - 0.5 rounds y to nearest */
    int32_t ki = (int32_t)(x * 1.44269504088896341f - 0.5f);
    float k = (float)ki;
    float r = x - k * 0.693359375f + k * 2.12194440e-4f; /* ln2 split in hi + lo */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = (ki + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale - 1.0f;
}

#ifdef __SSE2__
/* The same as expm1_neg on 4 lanes (GCC does not vectorise the scalar loop:
 * it keeps the selects as branches). x must be <= 0. */
static inline __m128 expm1_neg4(__m128 x)
{
    x = _mm_max_ps(x, _mm_set1_ps(-87.0f));
    __m128i ki = _mm_cvttps_epi32(
        _mm_sub_ps(_mm_mul_ps(x, _mm_set1_ps(1.44269504088896341f)), _mm_set1_ps(0.5f)));
    __m128 k = _mm_cvtepi32_ps(ki);
    __m128 r = _mm_add_ps(_mm_sub_ps(x, _mm_mul_ps(k, _mm_set1_ps(0.693359375f))),
                          _mm_mul_ps(k, _mm_set1_ps(2.12194440e-4f)));
    __m128 p = _mm_set1_ps(1.9875691500e-4f);
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.3981999507e-3f));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(8.3334519073e-3f));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(4.1665795894e-2f));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.6666665459e-1f));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(5.0000001201e-1f));
    p = _mm_add_ps(_mm_add_ps(_mm_mul_ps(_mm_mul_ps(p, r), r), r), _mm_set1_ps(1.0f));
    __m128 scale = _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(ki, _mm_set1_epi32(127)), 23));
    return _mm_sub_ps(_mm_mul_ps(p, scale), _mm_set1_ps(1.0f));
}
#endif

/* ------------------------------------------------------------------ conv2d */

/* Columns for nb samples: col (C*K*K, nb*H*W), then a GEMM result / gradient
 * staging area tmp (OC, nb*H*W). Batching several samples into one GEMM makes
 * the GEMM's N dimension large enough for OpenBLAS to reach its peak on the
 * small feature maps of the deeper layers. */
size_t lec_nn_conv2d_ws_floats(int C, int H, int W, int OC, int K, int n_per_gemm)
{
    size_t hw = (size_t)H * (size_t)W;
    return (size_t)n_per_gemm * hw * ((size_t)C * (size_t)K * (size_t)K + (size_t)OC);
}

int lec_nn_conv2d_chunk(size_t ws_floats, int N, int C, int H, int W, int OC, int K)
{
    /* a map of 1024+ pixels already makes a wide GEMM: one sample per GEMM,
     * written straight into the output without the staging copy */
    if ((size_t)H * (size_t)W >= 1024)
        return 1;
    size_t per = lec_nn_conv2d_ws_floats(C, H, W, OC, K, 1);
    size_t nb = per ? ws_floats / per : 1;
    if (nb < 1)
        nb = 1; /* caller broke the contract; lec_nn_net always sizes ws right */
    return nb > (size_t)N ? N : (int)nb;
}

/* in (nb,C,H,W) -> col (C*K*K, nb*H*W); row r = (c, ky, kx), column
 * n*H*W + y*W + x holds in[n][c][y+ky-p][x+kx-p] or 0 outside. */
static void im2col(float *col, const float *in, int nb, int C, int H, int W, int K)
{
    const int p = (K - 1) / 2;
    const size_t hw = (size_t)H * W, ncols = (size_t)nb * hw;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                float *row = col + ((size_t)(c * K + ky) * K + kx) * ncols;
                for (int n = 0; n < nb; n++) {
                    const float *src = in + ((size_t)n * C + c) * hw;
                    float *dst = row + (size_t)n * hw;
                    for (int y = 0; y < H; y++) {
                        int sy = y + ky - p;
                        float *d = dst + (size_t)y * W;
                        if (sy < 0 || sy >= H) {
                            memset(d, 0, sizeof(float) * (size_t)W);
                            continue;
                        }
                        const float *s = src + (size_t)sy * W;
                        int dx = kx - p;
                        int x0 = dx < 0 ? -dx : 0, x1 = dx > 0 ? W - dx : W;
                        for (int x = 0; x < x0; x++)
                            d[x] = 0.0f;
                        if (x1 > x0)
                            memcpy(d + x0, s + x0 + dx, sizeof(float) * (size_t)(x1 - x0));
                        for (int x = x1 > x0 ? x1 : x0; x < W; x++)
                            d[x] = 0.0f;
                    }
                }
            }
}

/* The adjoint of im2col: dinp (nb,C,H,W) = sum of the columns back in place. */
static void col2im(float *dinp, const float *col, int nb, int C, int H, int W, int K)
{
    const int p = (K - 1) / 2;
    const size_t hw = (size_t)H * W, ncols = (size_t)nb * hw;
    memset(dinp, 0, sizeof(float) * (size_t)nb * C * hw);
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                const float *row = col + ((size_t)(c * K + ky) * K + kx) * ncols;
                for (int n = 0; n < nb; n++) {
                    float *dst = dinp + ((size_t)n * C + c) * hw;
                    const float *src = row + (size_t)n * hw;
                    for (int y = 0; y < H; y++) {
                        int sy = y + ky - p;
                        if (sy < 0 || sy >= H)
                            continue;
                        const float *s = src + (size_t)y * W;
                        float *d = dst + (size_t)sy * W;
                        int dx = kx - p;
                        int x0 = dx < 0 ? -dx : 0, x1 = dx > 0 ? W - dx : W;
                        for (int x = x0; x < x1; x++)
                            d[x + dx] += s[x];
                    }
                }
            }
}

void lec_nn_conv2d_forward(float *out, const float *in, const float *w, const float *b,
                           float *ws, size_t ws_floats, int N, int C, int H, int W, int OC,
                           int K)
{
    const int nb_max = lec_nn_conv2d_chunk(ws_floats, N, C, H, W, OC, K);
    const size_t hw = (size_t)H * W, ckk = (size_t)C * K * K;
    for (int n0 = 0; n0 < N; n0 += nb_max) {
        int nb = N - n0 < nb_max ? N - n0 : nb_max;
        size_t ncols = (size_t)nb * hw;
        float *col = ws, *tmp = ws + ckk * ncols;
        if (nb == 1) /* (OC, HW) is already the output layout */
            tmp = out + (size_t)n0 * OC * hw;
        im2col(col, in + (size_t)n0 * C * hw, nb, C, H, W, K);
        /* tmp (OC, nb*HW) = w (OC, CKK) @ col (CKK, nb*HW) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, (int)ncols, (int)ckk, 1.0f, w,
                    (int)ckk, col, (int)ncols, 0.0f, tmp, (int)ncols);
        if (nb == 1) {
            if (b)
                for (int oc = 0; oc < OC; oc++) {
                    float *d = tmp + (size_t)oc * hw, bias = b[oc];
                    for (size_t i = 0; i < hw; i++)
                        d[i] += bias;
                }
            continue;
        }
        /* scatter (OC, nb, HW) -> out (nb, OC, HW), adding the bias */
        for (int n = 0; n < nb; n++)
            for (int oc = 0; oc < OC; oc++) {
                const float *s = tmp + (size_t)oc * ncols + (size_t)n * hw;
                float *d = out + ((size_t)(n0 + n) * OC + oc) * hw;
                float bias = b ? b[oc] : 0.0f;
                for (size_t i = 0; i < hw; i++)
                    d[i] = s[i] + bias;
            }
    }
}

void lec_nn_conv2d_backward(float *dinp, float *dw, float *db, const float *dout,
                            const float *in, const float *w, float *ws, size_t ws_floats, int N,
                            int C, int H, int W, int OC, int K)
{
    const int nb_max = lec_nn_conv2d_chunk(ws_floats, N, C, H, W, OC, K);
    const size_t hw = (size_t)H * W, ckk = (size_t)C * K * K;
    for (int n0 = 0; n0 < N; n0 += nb_max) {
        int nb = N - n0 < nb_max ? N - n0 : nb_max;
        size_t ncols = (size_t)nb * hw;
        float *col = ws, *stage = ws + ckk * ncols;
        /* the gradient as (OC, nb*HW): dout's own slice when nb == 1 */
        const float *tmp = nb == 1 ? dout + (size_t)n0 * OC * hw : stage;
        /* gather dout (nb, OC, HW) -> tmp (OC, nb*HW) */
        for (int n = 0; n < nb; n++)
            for (int oc = 0; oc < OC; oc++) {
                const float *s = dout + ((size_t)(n0 + n) * OC + oc) * hw;
                if (nb > 1)
                    memcpy(stage + (size_t)oc * ncols + (size_t)n * hw, s, sizeof(float) * hw);
                if (db) {
                    float acc = 0.0f;
                    for (size_t i = 0; i < hw; i++)
                        acc += s[i];
                    db[oc] += acc;
                }
            }
        /* im2col is recomputed rather than kept from forward: it is cheap next
         * to the GEMMs and keeping it would multiply the activation memory by
         * K*K. */
        im2col(col, in + (size_t)n0 * C * hw, nb, C, H, W, K);
        /* dw (OC, CKK) += tmp (OC, nb*HW) @ col^T (nb*HW, CKK) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, (int)ckk, (int)ncols, 1.0f, tmp,
                    (int)ncols, col, (int)ncols, 1.0f, dw, (int)ckk);
        if (dinp) {
            /* dcol (CKK, nb*HW) = w^T (CKK, OC) @ tmp (OC, nb*HW), into col */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckk, (int)ncols, OC, 1.0f,
                        w, (int)ckk, tmp, (int)ncols, 0.0f, col, (int)ncols);
            col2im(dinp + (size_t)n0 * C * hw, col, nb, C, H, W, K);
        }
    }
}

void lec_nn_conv2d_forward_ref(float *out, const float *in, const float *w, const float *b,
                               int N, int C, int H, int W, int OC, int K)
{
    const int p = (K - 1) / 2;
    for (int n = 0; n < N; n++)
        for (int oc = 0; oc < OC; oc++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    double acc = b ? b[oc] : 0.0;
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++) {
                                int sy = y + ky - p, sx = x + kx - p;
                                if (sy < 0 || sy >= H || sx < 0 || sx >= W)
                                    continue;
                                acc += (double)w[((oc * C + c) * K + ky) * K + kx] *
                                       in[(((size_t)n * C + c) * H + sy) * W + sx];
                            }
                    out[(((size_t)n * OC + oc) * H + y) * W + x] = (float)acc;
                }
}

void lec_nn_conv2d_backward_ref(float *dinp, float *dw, float *db, const float *dout,
                                const float *in, const float *w, int N, int C, int H, int W,
                                int OC, int K)
{
    const int p = (K - 1) / 2;
    if (dinp)
        memset(dinp, 0, sizeof(float) * (size_t)N * C * H * W);
    for (int n = 0; n < N; n++)
        for (int oc = 0; oc < OC; oc++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    float g = dout[(((size_t)n * OC + oc) * H + y) * W + x];
                    if (db)
                        db[oc] += g;
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++) {
                                int sy = y + ky - p, sx = x + kx - p;
                                if (sy < 0 || sy >= H || sx < 0 || sx >= W)
                                    continue;
                                size_t ii = (((size_t)n * C + c) * H + sy) * W + sx;
                                size_t wi = (size_t)((oc * C + c) * K + ky) * K + kx;
                                dw[wi] += g * in[ii];
                                if (dinp)
                                    dinp[ii] += g * w[wi];
                            }
                }
}

/* ------------------------------------------------------------------- dense */

void lec_nn_dense_forward(float *out, const float *in, const float *w, const float *b, int N,
                          int IC, int OC)
{
    /* out (N,OC) = in (N,IC) @ w^T (IC,OC) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, in, IC, w, IC, 0.0f,
                out, OC);
    if (b)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++)
                out[(size_t)n * OC + o] += b[o];
}

void lec_nn_dense_backward(float *dinp, float *dw, float *db, const float *dout,
                           const float *in, const float *w, int N, int IC, int OC)
{
    /* dw (OC,IC) += dout^T (OC,N) @ in (N,IC) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, in, IC, 1.0f,
                dw, IC);
    if (db)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++)
                db[o] += dout[(size_t)n * OC + o];
    /* dinp (N,IC) = dout (N,OC) @ w (OC,IC) */
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, w, IC,
                    0.0f, dinp, IC);
}

void lec_nn_dense_forward_ref(float *out, const float *in, const float *w, const float *b,
                              int N, int IC, int OC)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double acc = b ? b[o] : 0.0;
            for (int i = 0; i < IC; i++)
                acc += (double)in[(size_t)n * IC + i] * w[(size_t)o * IC + i];
            out[(size_t)n * OC + o] = (float)acc;
        }
}

void lec_nn_dense_backward_ref(float *dinp, float *dw, float *db, const float *dout,
                               const float *in, const float *w, int N, int IC, int OC)
{
    for (int o = 0; o < OC; o++)
        for (int i = 0; i < IC; i++) {
            double acc = 0.0;
            for (int n = 0; n < N; n++)
                acc += (double)dout[(size_t)n * OC + o] * in[(size_t)n * IC + i];
            dw[(size_t)o * IC + i] += (float)acc;
        }
    if (db)
        for (int o = 0; o < OC; o++)
            for (int n = 0; n < N; n++)
                db[o] += dout[(size_t)n * OC + o];
    if (dinp)
        for (int n = 0; n < N; n++)
            for (int i = 0; i < IC; i++) {
                double acc = 0.0;
                for (int o = 0; o < OC; o++)
                    acc += (double)dout[(size_t)n * OC + o] * w[(size_t)o * IC + i];
                dinp[(size_t)n * IC + i] = (float)acc;
            }
}

/* --------------------------------------------------------------- batchnorm */

/* Sums for BN over one contiguous run x[0..n): s1 += sum(x - shift),
 * s2 += sum((x - shift)^2). 4 float lanes, flushed into double every 256
 * elements so that long runs keep their digits; the shift (a value near the
 * mean) avoids cancellation in s2 - s1^2. */
static void bn_sums(const float *x, size_t n, float shift, double *s1, double *s2)
{
    size_t i = 0;
#ifdef __SSE2__
    const __m128 sh = _mm_set1_ps(shift);
    while (i + 4 <= n) {
        __m128 a1 = _mm_setzero_ps(), a2 = _mm_setzero_ps();
        size_t end = i + 256 < n ? i + 256 : n;
        for (; i + 4 <= end; i += 4) {
            __m128 d = _mm_sub_ps(_mm_loadu_ps(x + i), sh);
            a1 = _mm_add_ps(a1, d);
            a2 = _mm_add_ps(a2, _mm_mul_ps(d, d));
        }
        float t1[4], t2[4];
        _mm_storeu_ps(t1, a1);
        _mm_storeu_ps(t2, a2);
        *s1 += (double)t1[0] + t1[1] + t1[2] + t1[3];
        *s2 += (double)t2[0] + t2[1] + t2[2] + t2[3];
    }
#endif
    for (; i < n; i++) {
        double d = (double)x[i] - shift;
        *s1 += d;
        *s2 += d * d;
    }
}

/* BN backward's reductions in one pass: sdy += sum(dy),
 * sdyx += sum(dy * (x - m)); blocked like bn_sums. */
static void bn_back_sums(const float *x, const float *dy, size_t n, float m, double *sdy,
                         double *sdyx)
{
    size_t i = 0;
#ifdef __SSE2__
    const __m128 vm = _mm_set1_ps(m);
    while (i + 4 <= n) {
        __m128 a1 = _mm_setzero_ps(), a2 = _mm_setzero_ps();
        size_t end = i + 256 < n ? i + 256 : n;
        for (; i + 4 <= end; i += 4) {
            __m128 g = _mm_loadu_ps(dy + i);
            a1 = _mm_add_ps(a1, g);
            a2 = _mm_add_ps(a2, _mm_mul_ps(g, _mm_sub_ps(_mm_loadu_ps(x + i), vm)));
        }
        float t1[4], t2[4];
        _mm_storeu_ps(t1, a1);
        _mm_storeu_ps(t2, a2);
        *sdy += (double)t1[0] + t1[1] + t1[2] + t1[3];
        *sdyx += (double)t2[0] + t2[1] + t2[2] + t2[3];
    }
#endif
    for (; i < n; i++) {
        *sdy += dy[i];
        *sdyx += (double)dy[i] * ((double)x[i] - m);
    }
}

/* y = a*x + b*(z - zs) + c over n values (z may be NULL: y = a*x + c); y may
 * alias x or z. */
static void bn_affine(float *y, const float *x, float a, const float *z, float zs, float b,
                      float c, size_t n)
{
    size_t i = 0;
#ifdef __SSE2__
    const __m128 va = _mm_set1_ps(a), vb = _mm_set1_ps(b), vc = _mm_set1_ps(c),
                 vs = _mm_set1_ps(zs);
    for (; i + 4 <= n; i += 4) {
        __m128 v = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(x + i), va), vc);
        if (z)
            v = _mm_add_ps(v, _mm_mul_ps(_mm_sub_ps(_mm_loadu_ps(z + i), vs), vb));
        _mm_storeu_ps(y + i, v);
    }
#endif
    for (; i < n; i++)
        y[i] = x[i] * a + (z ? (z[i] - zs) * b : 0.0f) + c;
}

#ifdef LEC_NN_AVX2
/* y = elu(a*x + c) on 8 lanes with FMA: the same range reduction and
 * polynomial as expm1_neg. Built for AVX2+FMA whatever -march says and only
 * called when the CPU has them (the ELU is ~10% of a training step on SSE2). */
__attribute__((target("avx2,fma"))) static size_t affine_elu_avx2(float *y, const float *x,
                                                                    float a, float c, size_t n)
{
    const __m256 va = _mm256_set1_ps(a), vc = _mm256_set1_ps(c), zero = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), va, vc);
        __m256 t = _mm256_max_ps(_mm256_min_ps(v, zero), _mm256_set1_ps(-87.0f));
        __m256i ki = _mm256_cvttps_epi32(
            _mm256_fmsub_ps(t, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
        __m256 k = _mm256_cvtepi32_ps(ki);
        __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), t);
        r = _mm256_fmadd_ps(k, _mm256_set1_ps(2.12194440e-4f), r);
        __m256 p = _mm256_set1_ps(1.9875691500e-4f);
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
        p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
        __m256 scale = _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_add_epi32(ki, _mm256_set1_epi32(127)), 23));
        __m256 e = _mm256_fmsub_ps(p, scale, _mm256_set1_ps(1.0f));
        _mm256_storeu_ps(y + i, _mm256_blendv_ps(e, v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ)));
    }
    return i;
}
#endif

/* y = act(a*x + c) over n values, act -1 none / 0 ReLU / 1 ELU; y may alias x.
 * Fusing the activation into BN's output pass saves two passes over the
 * largest tensors of the network. */
static void affine_act(float *y, const float *x, float a, float c, int act, size_t n)
{
    size_t i = 0;
#ifdef LEC_NN_AVX2
    if (act == 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        i = affine_elu_avx2(y, x, a, c, n);
#endif
#ifdef __SSE2__
    const __m128 va = _mm_set1_ps(a), vc = _mm_set1_ps(c), zero = _mm_setzero_ps();
    for (; i + 4 <= n; i += 4) {
        __m128 v = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(x + i), va), vc);
        if (act == 0) {
            v = _mm_max_ps(v, zero);
        } else if (act == 1) {
            __m128 e = expm1_neg4(_mm_min_ps(v, zero)), pos = _mm_cmpgt_ps(v, zero);
            v = _mm_or_ps(_mm_and_ps(pos, v), _mm_andnot_ps(pos, e));
        }
        _mm_storeu_ps(y + i, v);
    }
#endif
    for (; i < n; i++) {
        float v = x[i] * a + c;
        if (act == 0)
            v = v > 0.0f ? v : 0.0f;
        else if (act == 1)
            v = v > 0.0f ? v : expm1_neg(v);
        y[i] = v;
    }
}

void lec_nn_batchnorm_act_forward_train(float *out, float *mean, float *rstd, const float *in,
                                        const float *gamma, const float *beta, int act, int N,
                                        int C, int S)
{
    const double cnt = (double)N * S;
    for (int c = 0; c < C; c++) {
        const float shift = in[(size_t)c * S];
        double s1 = 0.0, s2 = 0.0;
        for (int n = 0; n < N; n++)
            bn_sums(in + ((size_t)n * C + c) * S, (size_t)S, shift, &s1, &s2);
        double dm = s1 / cnt, v = s2 / cnt - dm * dm;
        if (v < 0.0)
            v = 0.0;
        double m = shift + dm;
        float r = (float)(1.0 / sqrt(v + LEC_NN_BN_EPS));
        mean[c] = (float)m;
        rstd[c] = r;
        float a = gamma[c] * r, bb = beta[c] - (float)m * a;
        for (int n = 0; n < N; n++)
            affine_act(out + ((size_t)n * C + c) * S, in + ((size_t)n * C + c) * S, a, bb, act,
                       (size_t)S);
    }
}

void lec_nn_batchnorm_forward_train(float *out, float *mean, float *rstd, const float *in,
                                    const float *gamma, const float *beta, int N, int C, int S)
{
    lec_nn_batchnorm_act_forward_train(out, mean, rstd, in, gamma, beta, -1, N, C, S);
}

void lec_nn_batchnorm_act_forward_eval(float *out, const float *in, const float *gamma,
                                       const float *beta, const float *running_mean,
                                       const float *running_var, int act, int N, int C, int S)
{
    if (S == 1) {
        /* after a dense layer (the bucket head: n x B rows of C): per row, the
         * per-channel affine, then the activation vectorised over the row;
         * one affine_act call per value would cost more than the layer */
        float a[256], bb[256];
        for (int c0 = 0; c0 < C; c0 += 256) {
            int m = C - c0 < 256 ? C - c0 : 256;
            for (int c = 0; c < m; c++) {
                a[c] = gamma[c0 + c] / sqrtf(running_var[c0 + c] + LEC_NN_BN_EPS);
                bb[c] = beta[c0 + c] - running_mean[c0 + c] * a[c];
            }
            for (int n = 0; n < N; n++) {
                float *y = out + (size_t)n * C + c0;
                const float *x = in + (size_t)n * C + c0;
                for (int c = 0; c < m; c++)
                    y[c] = x[c] * a[c] + bb[c];
                if (act >= 0)
                    affine_act(y, y, 1.0f, 0.0f, act, (size_t)m); /* x*1 + 0 is exact */
            }
        }
        return;
    }
    for (int c = 0; c < C; c++) {
        float a = gamma[c] / sqrtf(running_var[c] + LEC_NN_BN_EPS);
        float bb = beta[c] - running_mean[c] * a;
        for (int n = 0; n < N; n++)
            affine_act(out + ((size_t)n * C + c) * S, in + ((size_t)n * C + c) * S, a, bb, act,
                       (size_t)S);
    }
}

void lec_nn_batchnorm_forward_eval(float *out, const float *in, const float *gamma,
                                   const float *beta, const float *running_mean,
                                   const float *running_var, int N, int C, int S)
{
    lec_nn_batchnorm_act_forward_eval(out, in, gamma, beta, running_mean, running_var, -1, N, C,
                                      S);
}

void lec_nn_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                               const float *in, const float *mean, const float *rstd,
                               const float *gamma, int N, int C, int S)
{
    const double cnt = (double)N * S;
    for (int c = 0; c < C; c++) {
        const float m = mean[c], r = rstd[c];
        /* sdy = sum dy, sdyx = sum dy * xhat = r * sum dy * (x - m) */
        double sdy = 0.0, sdxm = 0.0;
        for (int n = 0; n < N; n++)
            bn_back_sums(in + ((size_t)n * C + c) * S, dout + ((size_t)n * C + c) * S, (size_t)S,
                         m, &sdy, &sdxm);
        double sdyx = r * sdxm;
        dgamma[c] += (float)sdyx;
        dbeta[c] += (float)sdy;
        /* dx = gamma*rstd * (dy - mean(dy) - xhat * mean(dy*xhat))
         *    = k*dy + B*(x - m) - k*mean(dy), B = -k*r*mean(dy*xhat) */
        const double k = (double)gamma[c] * r, mdy = sdy / cnt, mdyx = sdyx / cnt;
        const float Bc = (float)(-k * r * mdyx), Cc = (float)(-k * mdy);
        for (int n = 0; n < N; n++) {
            size_t o = ((size_t)n * C + c) * S;
            bn_affine(dinp + o, dout + o, (float)k, in + o, m, Bc, Cc, (size_t)S);
        }
    }
}

void lec_nn_batchnorm_running(float *running_mean, float *running_var, const float *mean,
                              const float *rstd, int C, long count)
{
    const float mom = LEC_NN_BN_MOMENTUM;
    for (int c = 0; c < C; c++) {
        double var = 1.0 / ((double)rstd[c] * rstd[c]) - LEC_NN_BN_EPS;
        if (var < 0.0)
            var = 0.0;
        if (count > 1)
            var *= (double)count / (double)(count - 1);
        running_mean[c] = (1.0f - mom) * running_mean[c] + mom * mean[c];
        running_var[c] = (1.0f - mom) * running_var[c] + mom * (float)var;
    }
}

/* ------------------------------------------------------------- activations */

void lec_nn_relu_forward(float *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void lec_nn_relu_backward(float *dinp, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dinp[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

void lec_nn_elu_forward(float *out, const float *in, size_t n)
{
    affine_act(out, in, 1.0f, 0.0f, 1, n); /* x*1 + 0 is exact */
}

void lec_nn_elu_backward(float *dinp, const float *dout, const float *out, size_t n)
{
    /* for x <= 0, d/dx (exp(x)-1) = exp(x) = out + 1 */
    size_t i = 0;
#ifdef __SSE2__
    const __m128 zero = _mm_setzero_ps(), one = _mm_set1_ps(1.0f);
    for (; i + 4 <= n; i += 4) {
        __m128 y = _mm_loadu_ps(out + i);
        __m128 pos = _mm_cmpgt_ps(y, zero);
        __m128 slope = _mm_or_ps(_mm_and_ps(pos, one), _mm_andnot_ps(pos, _mm_add_ps(y, one)));
        _mm_storeu_ps(dinp + i, _mm_mul_ps(_mm_loadu_ps(dout + i), slope));
    }
#endif
    for (; i < n; i++)
        dinp[i] = out[i] > 0.0f ? dout[i] : dout[i] * (out[i] + 1.0f);
}

/* ----------------------------------------------------------------- pooling */

void lec_nn_maxpool2_forward(float *out, const float *in, int N, int C, int H, int W)
{
    const int OH = H / 2, OW = W / 2;
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        const float *x = in + nc * H * W;
        float *y = out + nc * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            const float *r0 = x + (size_t)(2 * oy) * W, *r1 = r0 + W;
            for (int ox = 0; ox < OW; ox++) {
                float m = r0[2 * ox];
                if (r0[2 * ox + 1] > m)
                    m = r0[2 * ox + 1];
                if (r1[2 * ox] > m)
                    m = r1[2 * ox];
                if (r1[2 * ox + 1] > m)
                    m = r1[2 * ox + 1];
                y[oy * OW + ox] = m;
            }
        }
    }
}

void lec_nn_maxpool2_backward(float *dinp, const float *dout, const float *in, const float *out,
                              int N, int C, int H, int W)
{
    /* one pass that writes every element of dinp (no memset first): the
     * gradient goes to the window's first maximum, zeros elsewhere */
    const int OH = H / 2, OW = W / 2;
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        const float *x = in + nc * H * W;
        float *dx = dinp + nc * H * W;
        const float *y = out + nc * OH * OW, *dy = dout + nc * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            const float *x0 = x + (size_t)(2 * oy) * W, *x1 = x0 + W;
            float *d0 = dx + (size_t)(2 * oy) * W, *d1 = d0 + W;
            for (int ox = 0; ox < OW; ox++) {
                float m = y[oy * OW + ox], g = dy[oy * OW + ox];
                int a = x0[2 * ox] == m;
                int b = !a && x0[2 * ox + 1] == m;
                int c = !a && !b && x1[2 * ox] == m;
                int d = !a && !b && !c;
                d0[2 * ox] = a ? g : 0.0f;
                d0[2 * ox + 1] = b ? g : 0.0f;
                d1[2 * ox] = c ? g : 0.0f;
                d1[2 * ox + 1] = d ? g : 0.0f;
            }
            if (W & 1)
                d0[W - 1] = d1[W - 1] = 0.0f;
        }
        if (H & 1)
            memset(dx + (size_t)(H - 1) * W, 0, sizeof(float) * (size_t)W);
    }
}

void lec_nn_avgpool_forward(float *out, const float *in, int N, int C, int H, int W)
{
    const size_t hw = (size_t)H * W;
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        double s = 0.0;
        for (size_t i = 0; i < hw; i++)
            s += in[nc * hw + i];
        out[nc] = (float)(s / (double)hw);
    }
}

void lec_nn_avgpool_backward(float *dinp, const float *dout, int N, int C, int H, int W)
{
    const size_t hw = (size_t)H * W;
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        float g = dout[nc] / (float)hw;
        for (size_t i = 0; i < hw; i++)
            dinp[nc * hw + i] = g;
    }
}

/* ----------------------------------------------------------------- dropout */

static inline int dropout_keep(uint64_t seed, uint64_t i, float p)
{
    /* top 24 bits of the hash as a uniform in [0,1) */
    uint64_t h = lec_nn_hash64(seed ^ lec_nn_hash64(i));
    float u = (float)(h >> 40) * (1.0f / 16777216.0f);
    return u >= p;
}

void lec_nn_dropout_forward(float *out, const float *in, float p, uint64_t seed, uint64_t first,
                            size_t n)
{
    if (p <= 0.0f) {
        if (out != in)
            memcpy(out, in, sizeof(float) * n);
        return;
    }
    const float s = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++)
        out[i] = dropout_keep(seed, first + i, p) ? in[i] * s : 0.0f;
}

void lec_nn_dropout_backward(float *dinp, const float *dout, float p, uint64_t seed,
                             uint64_t first, size_t n)
{
    lec_nn_dropout_forward(dinp, dout, p, seed, first, n);
}

/* ------------------------------------------------------------------ concat */

void lec_nn_concat_forward(float *out, const float *a, const float *b, int N, int A, int B)
{
    for (int n = 0; n < N; n++) {
        memcpy(out + (size_t)n * (A + B), a + (size_t)n * A, sizeof(float) * (size_t)A);
        memcpy(out + (size_t)n * (A + B) + A, b + (size_t)n * B, sizeof(float) * (size_t)B);
    }
}

void lec_nn_concat_backward(float *da, float *db, const float *dout, int N, int A, int B)
{
    for (int n = 0; n < N; n++) {
        if (da)
            memcpy(da + (size_t)n * A, dout + (size_t)n * (A + B), sizeof(float) * (size_t)A);
        if (db)
            memcpy(db + (size_t)n * B, dout + (size_t)n * (A + B) + A,
                   sizeof(float) * (size_t)B);
    }
}

/* ----------------------------------------------------------------- softmax */

void lec_nn_softmax(float *probs, const float *logits, int N, int K)
{
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * K;
        float *p = probs + (size_t)n * K;
        float m = z[0];
        for (int k = 1; k < K; k++)
            if (z[k] > m)
                m = z[k];
        double s = 0.0;
        for (int k = 0; k < K; k++) {
            p[k] = expf(z[k] - m);
            s += p[k];
        }
        float inv = (float)(1.0 / s);
        for (int k = 0; k < K; k++)
            p[k] *= inv;
    }
}

double lec_nn_softmax_xent_forward(float *probs, const float *logits, const float *targets,
                                   int N, int K)
{
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * K, *t = targets + (size_t)n * K;
        float m = z[0];
        for (int k = 1; k < K; k++)
            if (z[k] > m)
                m = z[k];
        double s = 0.0;
        for (int k = 0; k < K; k++)
            s += exp((double)z[k] - m);
        double lse = m + log(s); /* log sum exp z, without overflow */
        for (int k = 0; k < K; k++) {
            if (t[k] != 0.0f)
                total -= (double)t[k] * ((double)z[k] - lse);
            if (probs)
                probs[(size_t)n * K + k] = (float)exp((double)z[k] - lse);
        }
    }
    return total;
}

void lec_nn_softmax_xent_backward(float *dlogits, const float *logits, const float *targets,
                                  float scale, int N, int K)
{
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * K, *t = targets + (size_t)n * K;
        float *d = dlogits + (size_t)n * K;
        float m = z[0];
        for (int k = 1; k < K; k++)
            if (z[k] > m)
                m = z[k];
        double s = 0.0, st = 0.0;
        for (int k = 0; k < K; k++) {
            s += exp((double)z[k] - m);
            st += t[k];
        }
        double lse = m + log(s);
        for (int k = 0; k < K; k++)
            d[k] = scale * (float)(exp((double)z[k] - lse) * st - t[k]);
    }
}
