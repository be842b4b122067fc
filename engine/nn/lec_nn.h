/* lec_nn.h -- the multimodal network: (score window, spectrogram excerpt) ->
 * soft-max over B horizontal buckets of the score window.
 *
 * Two VGG-style towers (Dorfer, Arzt & Widmer 2016) are described by a small
 * architecture text, one token per layer, comma separated:
 *   cN    3x3 convolution with N output channels, then BN (if enabled), then
 *         the activation;           cNkK: K x K kernel (K odd)
 *   p     2x2 max pooling (stride 2)
 *   g     global average pooling to (C)
 *   dN    dense layer with N outputs (flattens NCHW first), BN, activation
 *   oP    dropout with probability P percent (training only)
 * The score tower reads the window (1, score_h, score_w), the spectrogram
 * tower reads (1, spec_bands, spec_frames) -- H is the frequency band (low
 * to high), W the frame (oldest to newest) --; their outputs are flattened,
 * concatenated, passed through the head layers and a final dense layer to
 * n_out logits. Inputs are normalised inside the network with the stored
 * (x - mean) / std so that a model file is self-contained.
 *
 * Objects: lec_nn_net holds the architecture and ALL parameters in one
 * contiguous block carved by a tensor table (weights, biases, BN scale/shift
 * and the BN running statistics, which are not trained). It is immutable
 * during inference and can be shared by any number of lec_nn_ctx. A
 * lec_nn_ctx holds the per-thread mutable state: activations for a maximum
 * batch size, the gradient block (same layout as the parameters) and the
 * GEMM workspace, all allocated at create time: forward/backward never
 * allocate.
 *
 * Thread safety: a net may be read by several threads at once; a ctx belongs
 * to one thread. lec_nn_update_running_stats writes the net (call it when no
 * other thread is using it). The GEMMs use as many threads as OpenBLAS is
 * set to: for real-time inference on one core the caller sets
 * openblas_set_num_threads(1) (process-wide) once at start.
 */
#ifndef LEC_NN_H
#define LEC_NN_H

#include <stddef.h>
#include <stdint.h>

#include "lec_error.h"

enum { LEC_NN_ACT_RELU = 0, LEC_NN_ACT_ELU = 1 };

#define LEC_NN_LAYERS_MAX 256 /* length of one layer description string */

typedef struct lec_nn_arch {
    int score_h, score_w;      /* score window, px (rows, columns) */
    int spec_bands, spec_frames; /* spectrogram excerpt: bands x frames */
    int n_out;                 /* B: buckets across the score window */
    char score_layers[LEC_NN_LAYERS_MAX];
    char spec_layers[LEC_NN_LAYERS_MAX];
    char head_layers[LEC_NN_LAYERS_MAX]; /* after the concatenation; may be "" */
    int act;                   /* LEC_NN_ACT_RELU or LEC_NN_ACT_ELU */
    int batchnorm;             /* 1: BN after every conv/dense but the output layer */
    int bucket_head;           /* 0: Dorfer et al.'s head: flattened towers -> dense ->
                                  n_out logits. 1: one head per bucket with shared
                                  weights: the score tower must end with a map
                                  (C, h, n_out) whose column b (C*h values) describes
                                  bucket b; row b = [column b, spec embedding] goes
                                  through the head layers to ONE logit; the n_out
                                  logits make the soft-max. engine/nn/README.md. */
    float score_mean, score_std; /* input normalisation (x - mean) / std */
    float spec_mean, spec_std;
} lec_nn_arch;

/* The shipped default (see engine/nn/README.md for the reasoning). */
void lec_nn_arch_default(lec_nn_arch *a);

typedef struct lec_nn_net lec_nn_net;
typedef struct lec_nn_ctx lec_nn_ctx;

/* Validates the architecture (clear message naming the bad token) and
 * allocates the zeroed parameter block. */
lec_nn_net *lec_nn_net_create(const lec_nn_arch *arch, lec_error *err);
void lec_nn_net_destroy(lec_nn_net *net); /* NULL-safe */
const lec_nn_arch *lec_nn_net_arch(const lec_nn_net *net);

/* Deterministic initialisation from a seed: He-normal weights, zero biases,
 * BN gamma 1 / beta 0, running mean 0 / variance 1. */
void lec_nn_net_init(lec_nn_net *net, uint64_t seed);

/* The parameter block and its table. Tensor names look like "score.0.w",
 * "spec.3.bn.rv", "head.1.b", "out.w"; shapes follow PyTorch's layouts
 * (conv (OC,C,K,K), dense (OC,IC)). */
typedef struct lec_nn_tensor {
    char name[48];
    int ndim;
    int dims[4];
    size_t offset; /* in floats from the start of the block */
    size_t size;   /* floats */
    int trainable; /* 0 for BN running statistics */
    int decay;     /* 1 for conv/dense weights (weight decay applies) */
} lec_nn_tensor;

float *lec_nn_net_params(lec_nn_net *net);
const float *lec_nn_net_params_const(const lec_nn_net *net);
size_t lec_nn_net_n_params(const lec_nn_net *net);
int lec_nn_net_n_tensors(const lec_nn_net *net);
const lec_nn_tensor *lec_nn_net_tensor(const lec_nn_net *net, int i);
const lec_nn_tensor *lec_nn_net_find(const lec_nn_net *net, const char *name);

/* Multiply-add FLOPs (2 per MAC) of the convolution and dense layers for one
 * sample: forward, and forward + backward (the backward skips the input
 * gradient of the first layer of each tower). */
double lec_nn_net_flops_forward(const lec_nn_net *net);
double lec_nn_net_flops_train(const lec_nn_net *net);

/* ---- per-thread state ---- */
/* training = 0: forward in evaluation mode only (no gradient memory). */
lec_nn_ctx *lec_nn_ctx_create(const lec_nn_net *net, int max_batch, int training,
                              lec_error *err);
/* An evaluation-only context whose two towers take at most tower_batch
 * samples and whose head takes head_batch (>= tower_batch): the follower's,
 * which runs the spectrogram tower on one excerpt per frame and the head on
 * hundreds of windows (lec_nn_forward_head_parts). lec_nn_forward (the whole
 * network) then takes at most tower_batch. Memory: the towers' activations
 * for tower_batch samples only. */
lec_nn_ctx *lec_nn_ctx_create_eval(const lec_nn_net *net, int tower_batch, int head_batch,
                                   lec_error *err);
int lec_nn_ctx_max_tower_batch(const lec_nn_ctx *ctx);
void lec_nn_ctx_destroy(lec_nn_ctx *ctx); /* NULL-safe */
int lec_nn_ctx_max_batch(const lec_nn_ctx *ctx);

typedef enum { LEC_NN_EVAL = 0, LEC_NN_TRAIN = 1 } lec_nn_mode;

/* score (n, score_h, score_w) and spec (n, spec_bands, spec_frames), row-major.
 * TRAIN mode uses batch statistics in BN and applies dropout with masks that
 * depend only on (seed, sample0 + sample index): sample0 is the index of this
 * shard's first sample in the whole batch, so that a batch split across
 * threads drops exactly what it would drop on one thread.
 * n must be 1..max_batch (returns LEC_EINVAL otherwise). Never allocates. */
lec_status lec_nn_forward(lec_nn_ctx *ctx, const float *score, const float *spec, int n,
                          lec_nn_mode mode, uint64_t seed, uint64_t sample0, lec_error *err);
/* After a forward: logits (n, n_out). */
const float *lec_nn_ctx_logits(const lec_nn_ctx *ctx);

/* ---- the EVAL forward in three parts (inference that reuses work) ----
 * In EVAL mode BN is a fixed affine map per channel and dropout the identity,
 * so the two towers are functions of their own input alone and the head a
 * function of their two outputs:
 *   (a) score tower:       window (score_h, score_w)      -> score embedding
 *   (b) spectrogram tower: excerpt (spec_bands, spec_frames) -> spec embedding
 *   (c) head:              (score embedding, spec embedding) -> n_out logits
 * and (c)(a, b) is lec_nn_forward EVAL: bit for bit when the towers and the
 * head run with the same batch n as the full forward (the same kernels on the
 * same values), else up to float rounding (GEMMs of another shape may sum in
 * another order). A follower computes (a) once per score window of a piece,
 * (b) once per audio frame and only (c) per (window, frame).
 * Embedding sizes per sample: the score tower's output flattened (C*h*w; with
 * bucket_head the map (C, h, n_out), column b = bucket b), and the
 * spectrogram tower's output flattened. Normalisation is inside (a) and (b).
 * Each writes the embeddings (n, size) to emb; n in 1..max_batch of the ctx
 * (LEC_EINVAL otherwise). They use the ctx's activation buffers (so they
 * overwrite the last forward's), never allocate, work on training and
 * inference contexts alike, and leave the ctx unfit for lec_nn_backward. */
size_t lec_nn_score_embed_floats(const lec_nn_net *net);
size_t lec_nn_spec_embed_floats(const lec_nn_net *net);
lec_status lec_nn_forward_score_tower(lec_nn_ctx *ctx, const float *score, int n, float *emb,
                                      lec_error *err);
lec_status lec_nn_forward_spec_tower(lec_nn_ctx *ctx, const float *spec, int n, float *emb,
                                     lec_error *err);
/* (c): score_emb (n, score size); spec_emb (n, spec size), or ONE row shared
 * by all n samples when spec_shared = 1 (the follower's case: every window of
 * a frame hears the same excerpt). Logits (n, n_out) in lec_nn_ctx_logits. */
lec_status lec_nn_forward_head(lec_nn_ctx *ctx, const float *score_emb, const float *spec_emb,
                               int spec_shared, int n, lec_error *err);

/* The head's first dense layer split in two. That layer reads the
 * concatenation [e_score, e_spec] (per row: one row per sample, or one per
 * bucket with bucket_head), so its pre-BN output is
 *     W [e_score; e_spec] (+ b) = W_score e_score + (W_spec e_spec + b):
 * a score part that depends on the window only (precomputed once per window)
 * and a spectrogram part that depends on the frame only (once per frame).
 * Per (window, frame) what remains is one vector add, that layer's BN and
 * activation, and the later head layers. Equal to (c) up to float rounding
 * (the dot product is summed in two pieces).
 *   score part: (n, head_part_floats) = (n, R, OC), R = 1 or n_out (bucket
 *               head), OC = the first head dense layer's width (n_out when
 *               head_layers is empty);
 *   spec part:  (head_spec_part_floats) = (OC), the layer's bias included.
 * The part functions only read the net (any thread; they call GEMMs and never
 * allocate); lec_nn_forward_head_parts takes n pointers to score parts (e.g.
 * into a cache, no copying) and one spec part shared by all n, and leaves
 * the logits (n, n_out) in lec_nn_ctx_logits. */
size_t lec_nn_head_part_floats(const lec_nn_net *net);
size_t lec_nn_head_spec_part_floats(const lec_nn_net *net);
lec_status lec_nn_head_score_part(const lec_nn_net *net, const float *score_emb, int n,
                                  float *part, lec_error *err);
void lec_nn_head_spec_part(const lec_nn_net *net, const float *spec_emb, float *part);
lec_status lec_nn_forward_head_parts(lec_nn_ctx *ctx, const float *const *score_parts,
                                     const float *spec_part, int n, lec_error *err);

/* After a TRAIN forward of the same n samples: soft-max cross-entropy against
 * targets (n, n_out), backward through the network, ACCUMULATING parameter
 * gradients into the ctx's gradient block (zero it with lec_nn_ctx_zero_grad).
 * scale multiplies the loss whose gradient is taken (1/batch for the mean over
 * a batch split across shards). Writes the soft-max probabilities (n, n_out)
 * (lec_nn_ctx_probs) and returns the SUM of the n per-sample losses.
 * Requires a ctx created with training = 1 and that its last forward was a
 * TRAIN forward of these n samples; otherwise returns NaN and changes
 * nothing. */
double lec_nn_backward(lec_nn_ctx *ctx, const float *targets, int n, float scale, uint64_t seed,
                       uint64_t sample0);
const float *lec_nn_ctx_probs(const lec_nn_ctx *ctx);
/* Gradient w.r.t. the network's inputs after lec_nn_backward (for tests):
 * (n, score_h, score_w) and (n, spec_bands, spec_frames) in raw-input units.
 * Only computed after lec_nn_ctx_want_input_grad(ctx, 1) (training does not
 * need it and skips the first layers' input-gradient GEMMs). NULL unless
 * created with training = 1. */
void lec_nn_ctx_want_input_grad(lec_nn_ctx *ctx, int on);
const float *lec_nn_ctx_dscore(const lec_nn_ctx *ctx);
const float *lec_nn_ctx_dspec(const lec_nn_ctx *ctx);
float *lec_nn_ctx_grads(lec_nn_ctx *ctx); /* n_params floats, parameter layout */
void lec_nn_ctx_zero_grad(lec_nn_ctx *ctx);

/* Merge the BN batch statistics of the last TRAIN forward of each ctx (the
 * shards of one batch, counts[i] samples each) into the net's running
 * averages: mean of the shard statistics weighted by count (with one shard:
 * exactly PyTorch's update). */
void lec_nn_update_running_stats(lec_nn_net *net, lec_nn_ctx *const *ctxs, const int *counts,
                                 int n_ctx);

/* Inference on one sample: probs (n_out) = soft-max of the EVAL forward. */
lec_status lec_nn_infer(lec_nn_ctx *ctx, const float *score, const float *spec, float *probs,
                        lec_error *err);

/* The GEMMs one TRAIN step (forward + backward) of n samples performs with
 * this ctx, as (M, N, K) row-major C(M,N) += A(M,K) B(K,N) with the
 * transposes used; for the roofline benchmark. Returns the number written
 * (at most cap); the total is returned when out is NULL. */
typedef struct lec_nn_gemm {
    int ta, tb; /* 1 = transposed operand */
    int M, N, K;
    int count;  /* how many times this shape runs per step */
} lec_nn_gemm;
int lec_nn_ctx_train_gemms(const lec_nn_ctx *ctx, int n, lec_nn_gemm *out, int cap);

/* The spectrogram input from lec_spec's frame-major frames (n_frames,
 * n_bands): dst (n_bands, excerpt_frames) band-major, holding frames
 * [end - excerpt_frames, end); frames before 0 or at/after n_frames are 0
 * (log10(1 + 0): silence). For the tracker and the training data provider.
 * Never allocates. */
void lec_nn_spec_excerpt(float *dst, const float *frames, long n_frames, int n_bands, long end,
                         int excerpt_frames);

/* Architecture text <-> struct helpers for model files. */
lec_status lec_nn_arch_validate(const lec_nn_arch *a, lec_error *err);

#endif
