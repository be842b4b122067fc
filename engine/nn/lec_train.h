/* lec_train.h -- training loop for the multimodal network: data from a
 * provider callback, AdamW, learning-rate schedule, 1 or 2 threads,
 * checkpoints that resume exactly.
 *
 * The data provider fills one batch:
 *   score   (n, score_h, score_w)        score windows
 *   spec    (n, spec_bands, spec_frames) spectrogram excerpts
 *   targets (n, n_out)                   soft targets, each row sums to 1
 * for a given global step. Resuming is exact (bitwise with threads = 1) when
 * the provider's output is a function of the step it is given (seed any
 * augmentation from it); the trainer's own randomness (dropout masks) is
 * counter-based on (seed, step, sample) and so resumes exactly by itself.
 *
 * Threads: with threads = 2 (and split_batch = 1) each step splits the batch
 * into two halves, runs them on two threads with their own activations
 * (OpenBLAS single-threaded inside each) and sums the gradients;
 * batch-normalisation statistics are then those of each half ("ghost batch
 * norm"), and the running averages are merged. split_batch = 0 instead lets
 * OpenBLAS use the threads inside one worker. engine/nn/README.md has the
 * measurements behind the default.
 *
 * Thread safety: a lec_train belongs to one thread; it starts and joins its
 * worker thread inside each step. It calls openblas_set_num_threads(1) at
 * create (process-wide OpenBLAS setting): 1 when splitting the batch,
 * `threads` otherwise.
 */
#ifndef LEC_TRAIN_H
#define LEC_TRAIN_H

#include <stdint.h>

#include "lec_error.h"
#include "lec_model.h"
#include "lec_nn.h"

typedef lec_status (*lec_train_provider_fn)(void *user, int64_t step, int n, float *score,
                                            float *spec, float *targets, lec_error *err);

typedef struct lec_train_config {
    int batch;              /* samples per step */
    int threads;            /* 1 or 2 */
    int split_batch;        /* threads > 1: 1 = one batch shard per thread (default),
                             * 0 = one worker whose GEMMs use `threads` OpenBLAS threads
                             * (exact whole-batch BN statistics, slower: README.md) */
    uint64_t seed;          /* dropout masks (initialisation is the caller's) */
    double lr;              /* peak learning rate */
    double lr_min;          /* end of the cosine decay */
    int64_t warmup_steps;   /* linear ramp from 0 to lr */
    int64_t total_steps;    /* cosine decay from lr to lr_min over [warmup, total); 0 = constant */
    double beta1, beta2, eps;
    double weight_decay;    /* decoupled (AdamW), on conv/dense weights only */
    double checkpoint_every_s; /* lec_train_run saves this often (0 = only at the end) */
    char checkpoint_path[1024]; /* "" = no checkpoints */
} lec_train_config;

void lec_train_config_default(lec_train_config *cfg);

typedef struct lec_train lec_train;

/* Takes ownership of net (also on failure). info is stored in checkpoints and
 * exported models. */
lec_train *lec_train_create(lec_nn_net *net, const lec_model_info *info,
                            const lec_train_config *cfg, lec_error *err);
/* Continues from a checkpoint: network, optimiser state, step, seed and all
 * hyper-parameters come from the file; if runtime is non-NULL its threads,
 * split_batch, checkpoint_path, checkpoint_every_s and total_steps replace the
 * stored ones
 * (the schedule depends on total_steps: keep it for an exact resume). */
lec_train *lec_train_resume(const char *checkpoint, const lec_train_config *runtime,
                            lec_error *err);
void lec_train_destroy(lec_train *tr); /* NULL-safe */

typedef struct lec_train_stats {
    int64_t step;         /* steps done after this one */
    double loss;          /* mean cross-entropy of the batch */
    double accuracy;      /* fraction with argmax(probs) == argmax(target) */
    double lr;            /* learning rate used */
    double seconds;       /* wall time of the step incl. the provider */
    double samples_per_s;
} lec_train_stats;

/* One step: provider -> forward/backward (threads) -> AdamW. */
lec_status lec_train_step(lec_train *tr, lec_train_provider_fn provider, void *user,
                          lec_train_stats *stats, lec_error *err);

/* Steps until step == until_step, calling report (may be NULL) every
 * report_every steps with the stats averaged over them, and saving a
 * checkpoint every checkpoint_every_s seconds and at the end (when a path is
 * configured). *stop (may be NULL) becoming non-zero ends the loop after the
 * current step with a checkpoint and LEC_EINTERRUPTED. */
typedef void (*lec_train_report_fn)(void *user, const lec_train_stats *avg);
lec_status lec_train_run(lec_train *tr, lec_train_provider_fn provider, void *user,
                         int64_t until_step, int report_every, lec_train_report_fn report,
                         void *report_user, volatile int *stop, lec_error *err);

/* Mean loss and accuracy over n_batches EVAL-mode batches from a provider
 * (steps 0..n_batches-1 are passed to it). */
lec_status lec_train_evaluate(lec_train *tr, lec_train_provider_fn provider, void *user,
                              int n_batches, double *loss, double *accuracy, lec_error *err);

lec_status lec_train_save_checkpoint(lec_train *tr, const char *path, lec_error *err);
/* The trained network as a model file (kind "model"); extra may be NULL. */
lec_status lec_train_save_model(lec_train *tr, const char *path, const lec_meta *extra,
                                lec_error *err);

lec_nn_net *lec_train_net(lec_train *tr);
int64_t lec_train_step_count(const lec_train *tr);
const lec_train_config *lec_train_config_of(const lec_train *tr);
/* Learning rate at a step under cfg's schedule. */
double lec_train_lr_at(const lec_train_config *cfg, int64_t step);

#endif
