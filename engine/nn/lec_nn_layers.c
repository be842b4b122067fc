#include "lec_nn_layers.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

uint64_t lec_nn_hash64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

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

static int conv_chunk(size_t ws_floats, int N, int C, int H, int W, int OC, int K)
{
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
    const int nb_max = conv_chunk(ws_floats, N, C, H, W, OC, K);
    const size_t hw = (size_t)H * W, ckk = (size_t)C * K * K;
    for (int n0 = 0; n0 < N; n0 += nb_max) {
        int nb = N - n0 < nb_max ? N - n0 : nb_max;
        size_t ncols = (size_t)nb * hw;
        float *col = ws, *tmp = ws + ckk * ncols;
        im2col(col, in + (size_t)n0 * C * hw, nb, C, H, W, K);
        /* tmp (OC, nb*HW) = w (OC, CKK) @ col (CKK, nb*HW) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, (int)ncols, (int)ckk, 1.0f, w,
                    (int)ckk, col, (int)ncols, 0.0f, tmp, (int)ncols);
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
    const int nb_max = conv_chunk(ws_floats, N, C, H, W, OC, K);
    const size_t hw = (size_t)H * W, ckk = (size_t)C * K * K;
    for (int n0 = 0; n0 < N; n0 += nb_max) {
        int nb = N - n0 < nb_max ? N - n0 : nb_max;
        size_t ncols = (size_t)nb * hw;
        float *col = ws, *tmp = ws + ckk * ncols;
        /* gather dout (nb, OC, HW) -> tmp (OC, nb*HW) */
        for (int n = 0; n < nb; n++)
            for (int oc = 0; oc < OC; oc++) {
                const float *s = dout + ((size_t)(n0 + n) * OC + oc) * hw;
                memcpy(tmp + (size_t)oc * ncols + (size_t)n * hw, s, sizeof(float) * hw);
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

void lec_nn_batchnorm_forward_train(float *out, float *mean, float *rstd, const float *in,
                                    const float *gamma, const float *beta, int N, int C, int S)
{
    const double cnt = (double)N * S;
    for (int c = 0; c < C; c++) {
        /* two passes in double: the batch statistics of a few hundred thousand
         * values would lose digits in a float running sum */
        double s = 0.0;
        for (int n = 0; n < N; n++) {
            const float *x = in + ((size_t)n * C + c) * S;
            for (int i = 0; i < S; i++)
                s += x[i];
        }
        double m = s / cnt, v = 0.0;
        for (int n = 0; n < N; n++) {
            const float *x = in + ((size_t)n * C + c) * S;
            for (int i = 0; i < S; i++) {
                double d = x[i] - m;
                v += d * d;
            }
        }
        v /= cnt;
        float r = (float)(1.0 / sqrt(v + LEC_NN_BN_EPS));
        mean[c] = (float)m;
        rstd[c] = r;
        float a = gamma[c] * r, bb = beta[c] - (float)m * a;
        for (int n = 0; n < N; n++) {
            const float *x = in + ((size_t)n * C + c) * S;
            float *y = out + ((size_t)n * C + c) * S;
            for (int i = 0; i < S; i++)
                y[i] = x[i] * a + bb;
        }
    }
}

void lec_nn_batchnorm_forward_eval(float *out, const float *in, const float *gamma,
                                   const float *beta, const float *running_mean,
                                   const float *running_var, int N, int C, int S)
{
    for (int c = 0; c < C; c++) {
        float a = gamma[c] / sqrtf(running_var[c] + LEC_NN_BN_EPS);
        float bb = beta[c] - running_mean[c] * a;
        for (int n = 0; n < N; n++) {
            const float *x = in + ((size_t)n * C + c) * S;
            float *y = out + ((size_t)n * C + c) * S;
            for (int i = 0; i < S; i++)
                y[i] = x[i] * a + bb;
        }
    }
}

void lec_nn_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                               const float *in, const float *mean, const float *rstd,
                               const float *gamma, int N, int C, int S)
{
    const double cnt = (double)N * S;
    for (int c = 0; c < C; c++) {
        double sdy = 0.0, sdyx = 0.0;
        const float m = mean[c], r = rstd[c];
        for (int n = 0; n < N; n++) {
            const float *x = in + ((size_t)n * C + c) * S;
            const float *dy = dout + ((size_t)n * C + c) * S;
            for (int i = 0; i < S; i++) {
                sdy += dy[i];
                sdyx += (double)dy[i] * ((x[i] - m) * r);
            }
        }
        dgamma[c] += (float)sdyx;
        dbeta[c] += (float)sdy;
        /* dx = gamma*rstd * (dy - mean(dy) - xhat * mean(dy*xhat)) */
        const float k = gamma[c] * r, mdy = (float)(sdy / cnt), mdyx = (float)(sdyx / cnt);
        for (int n = 0; n < N; n++) {
            const float *x = in + ((size_t)n * C + c) * S;
            const float *dy = dout + ((size_t)n * C + c) * S;
            float *dx = dinp + ((size_t)n * C + c) * S;
            for (int i = 0; i < S; i++)
                dx[i] = k * (dy[i] - mdy - (x[i] - m) * r * mdyx);
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
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] > 0.0f ? in[i] : expm1f(in[i]);
}

void lec_nn_elu_backward(float *dinp, const float *dout, const float *out, size_t n)
{
    /* for x <= 0, d/dx (exp(x)-1) = exp(x) = out + 1 */
    for (size_t i = 0; i < n; i++)
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
    const int OH = H / 2, OW = W / 2;
    memset(dinp, 0, sizeof(float) * (size_t)N * C * H * W);
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        const float *x = in + nc * H * W;
        float *dx = dinp + nc * H * W;
        const float *y = out + nc * OH * OW, *dy = dout + nc * OH * OW;
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                float m = y[oy * OW + ox];
                size_t i0 = (size_t)(2 * oy) * W + 2 * ox;
                size_t idx[4] = {i0, i0 + 1, i0 + W, i0 + W + 1};
                for (int k = 0; k < 4; k++)
                    if (x[idx[k]] == m) {
                        dx[idx[k]] += dy[oy * OW + ox];
                        break;
                    }
            }
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
