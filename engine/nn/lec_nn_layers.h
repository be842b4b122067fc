/* lec_nn_layers.h -- the network's layers as free functions (llm.c style).
 *
 * Every layer is a pair lec_nn_X_forward(out, in, params..., sizes) /
 * lec_nn_X_backward(dinp, dparams..., dout, saved..., sizes): outputs first,
 * sizes last. Tensors are float32, NCHW, contiguous; the shape is given in the
 * comment of each function. Conventions shared by all backward functions:
 *   - parameter gradients (dw, db, dgamma, dbeta) ACCUMULATE (+=), so that a
 *     caller zeroes them once per step (llm.c);
 *   - input gradients (dinp) are OVERWRITTEN (=); dinp may be NULL when the
 *     input is the network input and its gradient is not wanted.
 * The fast kernels (im2col + cblas_sgemm) have naive reference kernels beside
 * them (suffix _ref) that the tests compare against.
 *
 * Thread safety: all functions are reentrant (no globals); they call
 * cblas_sgemm, which uses as many OpenBLAS threads as openblas_set_num_threads
 * says. Nothing here allocates memory.
 */
#ifndef LEC_NN_LAYERS_H
#define LEC_NN_LAYERS_H

#include <stddef.h>
#include <stdint.h>

/* ---- 2-D convolution, K x K kernel (K odd), stride 1, zero padding (K-1)/2
 * so that the output has the input's H and W ("same").
 * in (N,C,H,W), w (OC,C,K,K), b (OC) or NULL, out (N,OC,H,W).
 * ws is a workspace of ws_floats floats; the kernel processes as many samples
 * per GEMM as fit (at least one), so ws_floats must be at least
 * lec_nn_conv2d_ws_floats(C,H,W,OC,K,1); more gives larger, faster GEMMs. */
size_t lec_nn_conv2d_ws_floats(int C, int H, int W, int OC, int K, int n_per_gemm);
/* How many samples the fast kernel puts in one GEMM for this workspace. */
int lec_nn_conv2d_chunk(size_t ws_floats, int N, int C, int H, int W, int OC, int K);
void lec_nn_conv2d_forward(float *out, const float *in, const float *w, const float *b,
                           float *ws, size_t ws_floats, int N, int C, int H, int W, int OC,
                           int K);
/* dinp (N,C,H,W) or NULL; dw (OC,C,K,K) +=; db (OC) += or NULL; dout (N,OC,H,W);
 * in is the forward input. */
void lec_nn_conv2d_backward(float *dinp, float *dw, float *db, const float *dout,
                            const float *in, const float *w, float *ws, size_t ws_floats, int N,
                            int C, int H, int W, int OC, int K);
/* Direct loops; same contract, no workspace. */
void lec_nn_conv2d_forward_ref(float *out, const float *in, const float *w, const float *b,
                               int N, int C, int H, int W, int OC, int K);
void lec_nn_conv2d_backward_ref(float *dinp, float *dw, float *db, const float *dout,
                                const float *in, const float *w, int N, int C, int H, int W,
                                int OC, int K);

/* ---- dense (fully connected): in (N,IC), w (OC,IC), b (OC) or NULL,
 * out (N,OC) = in w^T + b (PyTorch's nn.Linear layout). */
void lec_nn_dense_forward(float *out, const float *in, const float *w, const float *b, int N,
                          int IC, int OC);
/* dinp (N,IC) or NULL; dw (OC,IC) +=; db (OC) += or NULL; dout (N,OC). */
void lec_nn_dense_backward(float *dinp, float *dw, float *db, const float *dout,
                           const float *in, const float *w, int N, int IC, int OC);
void lec_nn_dense_forward_ref(float *out, const float *in, const float *w, const float *b,
                              int N, int IC, int OC);
void lec_nn_dense_backward_ref(float *dinp, float *dw, float *db, const float *dout,
                               const float *in, const float *w, int N, int IC, int OC);

/* ---- batch normalisation over (N, S) per channel: in/out (N,C,S) where S is
 * H*W (1 after a dense layer). Training mode uses the batch statistics and
 * saves mean (C) and rstd (C) = 1/sqrt(var_biased + eps) for the backward
 * pass; the caller updates running averages with lec_nn_batchnorm_running
 * (kept separate so that shards of a batch on several threads can be merged).
 * Evaluation mode uses running_mean/running_var. out may equal in. */
#define LEC_NN_BN_EPS 1e-5f
#define LEC_NN_BN_MOMENTUM 0.1f
void lec_nn_batchnorm_forward_train(float *out, float *mean, float *rstd, const float *in,
                                    const float *gamma, const float *beta, int N, int C, int S);
void lec_nn_batchnorm_forward_eval(float *out, const float *in, const float *gamma,
                                   const float *beta, const float *running_mean,
                                   const float *running_var, int N, int C, int S);
/* The same followed by an activation in the same pass (act: -1 none, 0 ReLU,
 * 1 ELU, the values of LEC_NN_ACT_*): equal to BN then lec_nn_X_forward. */
void lec_nn_batchnorm_act_forward_train(float *out, float *mean, float *rstd, const float *in,
                                        const float *gamma, const float *beta, int act, int N,
                                        int C, int S);
void lec_nn_batchnorm_act_forward_eval(float *out, const float *in, const float *gamma,
                                       const float *beta, const float *running_mean,
                                       const float *running_var, int act, int N, int C, int S);
/* dinp (N,C,S) =; dgamma, dbeta (C) +=; in is the forward input. dinp may
 * equal dout. */
void lec_nn_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                               const float *in, const float *mean, const float *rstd,
                               const float *gamma, int N, int C, int S);
/* running = (1-momentum) running + momentum * batch, with the unbiased
 * variance var_biased * count/(count-1) as PyTorch does; count = N*S. */
void lec_nn_batchnorm_running(float *running_mean, float *running_var, const float *mean,
                              const float *rstd, int C, long count);

/* ---- activations, elementwise over n values; out may equal in. The
 * backward functions need only the forward OUTPUT, so they work in place. */
void lec_nn_relu_forward(float *out, const float *in, size_t n);
void lec_nn_relu_backward(float *dinp, const float *dout, const float *out, size_t n);
/* ELU with alpha = 1: x > 0 ? x : exp(x) - 1. */
void lec_nn_elu_forward(float *out, const float *in, size_t n);
void lec_nn_elu_backward(float *dinp, const float *dout, const float *out, size_t n);

/* ---- 2x2 max pooling, stride 2: in (N,C,H,W), out (N,C,H/2,W/2) (floor;
 * an odd last row/column is dropped as in PyTorch). Backward routes each
 * gradient to the first maximum of its window (row-major scan), found again
 * from in and out, so nothing extra is saved. */
void lec_nn_maxpool2_forward(float *out, const float *in, int N, int C, int H, int W);
void lec_nn_maxpool2_backward(float *dinp, const float *dout, const float *in, const float *out,
                              int N, int C, int H, int W);

/* ---- global average pooling: in (N,C,H,W) -> out (N,C). */
void lec_nn_avgpool_forward(float *out, const float *in, int N, int C, int H, int W);
void lec_nn_avgpool_backward(float *dinp, const float *dout, int N, int C, int H, int W);

/* ---- inverted dropout over n values: kept values are scaled by 1/(1-p).
 * The mask is a pure function of (seed, first + i) (a counter-based hash),
 * so it is reproduced exactly in backward, on resume and whatever the split
 * of a batch across threads (first = index of element 0 in the whole batch).
 * p = 0 copies. out may equal in; dinp may equal dout. */
void lec_nn_dropout_forward(float *out, const float *in, float p, uint64_t seed, uint64_t first,
                            size_t n);
void lec_nn_dropout_backward(float *dinp, const float *dout, float p, uint64_t seed,
                             uint64_t first, size_t n);

/* ---- concatenation of two feature vectors: a (N,A), b (N,B) -> out (N,A+B). */
void lec_nn_concat_forward(float *out, const float *a, const float *b, int N, int A, int B);
void lec_nn_concat_backward(float *da, float *db, const float *dout, int N, int A, int B);

/* ---- soft-max + categorical cross-entropy with soft targets, fused and
 * numerically stable (log-sum-exp with the row maximum subtracted).
 * logits, targets, probs (N,K); targets are non-negative (each row usually
 * sums to 1). Returns the SUM over the N rows of -sum_k t_k log p_k (divide
 * by the batch size for the mean). dlogits (N,K) = scale * (p * sum_k t_k - t),
 * the gradient of scale * that sum; pass scale = 1/batch for the mean loss.
 * dlogits may be NULL (inference); probs may be NULL. */
double lec_nn_softmax_xent_forward(float *probs, const float *logits, const float *targets,
                                   int N, int K);
void lec_nn_softmax_xent_backward(float *dlogits, const float *logits, const float *targets,
                                  float scale, int N, int K);
/* Plain soft-max of a row (inference). */
void lec_nn_softmax(float *probs, const float *logits, int N, int K);

/* 64-bit mixing hash (splitmix64 finaliser) used for seeds and masks. */
uint64_t lec_nn_hash64(uint64_t x);

#endif
