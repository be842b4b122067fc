/* lec_dataset.h -- training data for the multimodal network, from piece
 * bundles (models/corpus/README.md): every bundle unrolled into a score
 * strip (engine/piece/lec_unroll.h), every rendering's spectrogram
 * (engine/spec/lec_spec.h) computed once (and cached on disk), all of it kept
 * in RAM; batches are then drawn by a deterministic function of (seed, step,
 * sample index), so that a resumed training sees exactly the data it would
 * have seen.
 *
 * One sample (what the live follower sees at time t of a rendering):
 *   spec    (spec_bands, spec_frames): the spectrogram frames ENDING at t:
 *           the newest column is the last frame whose end <= t (frame i ends
 *           at (i+1)*hop/sample_rate s), older frames to the left; frames
 *           before the start of the audio are zeros.
 *   score   (window_height_px, window_width_px): a window [x0, x0 + W) of the
 *           unrolled strip as ink in [0, 1] (lec_unroll_window), placed so
 *           that the true strip position x = lec_unroll_truth_x(t) falls
 *           uniformly across it.
 *   target  (n_out): soft target over the B buckets of the window: a
 *           Gaussian of sigma_buckets centred on x's continuous bucket
 *           coordinate, evaluated at bucket centres and normalised to sum 1,
 *           so its argmax is the bucket containing x. With outside_class, the
 *           last output (index B = n_out - 1) means "the position is not in
 *           this window": a fraction outside_frac of the samples show a
 *           window elsewhere in the piece (half right next to x, half
 *           anywhere) and have the one-hot target on that class.
 * t is drawn half at onset events (the event's onset plus U[0, onset_lag_s),
 * when its attack has entered the newest frame) and half uniformly between
 * the first and the last onset; the rendering is drawn with probability
 * proportional to its duration.
 *
 * Augmentation (training sets only; validation sets are plain):
 *   score: horizontal and vertical scale (1 +- score_scale), vertical shift
 *   (+- score_shift of the height), rotation (+- score_rot_deg), bilinear
 *   sampling from the strip; a [1 2 1]/4 blur with probability blur_prob.
 *   audio: time stretch of the excerpt (frames read at a rate in
 *   [1/tempo_range, tempo_range], log-uniform, linear interpolation; the newest
 *   frame stays the one ending at t), gain +- gain_db applied in the linear
 *   domain (y' = log10(1 + g (10^y - 1))), a random spectral tilt of
 *   +- tilt_db across the bands and an additive noise floor.
 * Renderings made with a MuseScore soundfont are refused (reserved for
 * unseen-sound evaluation).
 *
 * Thread safety: create reads files and allocates; afterwards a lec_dataset
 * is immutable and lec_dataset_sample may run on several threads at once.
 */
#ifndef LEC_DATASET_H
#define LEC_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "lec_error.h"
#include "lec_model.h"
#include "lec_nn.h"

typedef enum {
    LEC_SPLIT_UNKNOWN = 0,
    LEC_SPLIT_TRAIN = 1,
    LEC_SPLIT_VALID = 2,
} lec_split;

typedef struct lec_dataset_config {
    lec_model_info info;  /* front end, staff_space_px, window (W, H) px, buckets = n_out */
    int spec_frames;      /* frames per excerpt (the network's spec_frames) */
    float margin_x_ss;    /* unrolling: horizontal margin per system (staff spaces); 1 */
    int outside_class;    /* 1: n_out = B + 1, the last output is "not in this window" */
    float outside_frac;   /* fraction of outside samples (outside_class only); 0.25 */
    float sigma_buckets;  /* soft target sigma in buckets; 0.7 */
    float onset_lag_s;    /* onset samples: t = onset + U[0, lag); 0.1 */
    int augment;          /* 1 = training augmentation, 0 = plain samples */
    float score_scale;    /* 0.1 */
    float score_shift;    /* 0.04 (fraction of the window height) */
    float score_rot_deg;  /* 1 */
    float blur_prob;      /* 0.2 */
    float tempo_range;    /* 2: performances at 0.5x to 2x the rendering's tempo */
    float gain_db;        /* 10 */
    float tilt_db;        /* 6 */
    float noise_prob;     /* 0.5: probability of an added noise floor */
    const char *cache_dir; /* spectrogram cache; NULL or "" = no cache */
    int progress;         /* 1: lec_progress bar on stderr while loading */
    int allow_eval_soundfont; /* 1: renderings made with an evaluation soundfont
                                 (MuseScore General) are used: for measuring a
                                 model (train --evaluate), never for training. 0 */
} lec_dataset_config;

void lec_dataset_config_default(lec_dataset_config *cfg);

/* One bundle to load, with the split it was assigned to. */
typedef struct lec_bundle_ref {
    char dir[1024];
    char name[256];      /* piece.json "name" or the directory name */
    char source_path[512]; /* piece.json "source_path" ("" if absent) */
    lec_split split;     /* from the index, piece.json "split", or UNKNOWN */
} lec_bundle_ref;

/* Find every directory holding a piece.json under root (recursively; root
 * itself may be a bundle; directories starting with '.' are skipped), sorted
 * by path so that the result does not depend on the file system. Appends to
 * *refs (realloc'd, *n updated). index_path (may be NULL): a corpus
 * index.json (a list of {"dir", "suggested_split"}); a bundle's split is
 * looked up by its source_path ("<tree>/<dir>") there, else taken from
 * piece.json "split", else UNKNOWN. Reads only piece.json headers. */
lec_status lec_bundle_find(const char *root, const char *index_path, lec_bundle_ref **refs,
                           size_t *n, lec_error *err);

/* Called for every bundle or rendering that is skipped (corrupt bundle,
 * MuseScore soundfont, no usable onsets...), with a message naming it. */
typedef void (*lec_dataset_warn_fn)(void *user, const char *msg);

typedef struct lec_dataset lec_dataset;

/* Loads the bundles, unrolls them, computes (or reloads from the cache) the
 * spectrograms. A bundle that fails to load is skipped with a warning; it is
 * an error (LEC_EFORMAT) when nothing usable remains. */
lec_dataset *lec_dataset_create(const lec_bundle_ref *refs, size_t n_refs,
                                const lec_dataset_config *cfg, lec_dataset_warn_fn warn,
                                void *warn_user, lec_error *err);
void lec_dataset_destroy(lec_dataset *ds); /* NULL-safe */

size_t lec_dataset_n_pieces(const lec_dataset *ds);
size_t lec_dataset_n_renderings(const lec_dataset *ds);
double lec_dataset_duration_s(const lec_dataset *ds);  /* all renderings */
const char *lec_dataset_piece_name(const lec_dataset *ds, size_t i);
const lec_dataset_config *lec_dataset_config_of(const lec_dataset *ds);
int lec_dataset_n_buckets(const lec_dataset *ds);     /* B (without the outside class) */
int lec_dataset_n_bands(const lec_dataset *ds);       /* spectrogram bands of the front end */

/* What one sample is (for tests and diagnostics). */
typedef struct lec_sample_info {
    int piece, rendering;  /* dataset piece index, rendering index in that piece */
    double t_s;            /* time in the rendering */
    int last_frame;        /* newest frame of the excerpt (-1: none yet) */
    float x;               /* true strip x at t_s */
    float x0;              /* strip x of the window's left edge (column 0) */
    float px_per_col;      /* strip px per window column (1 without scaling) */
    int outside;           /* 1: x is not in the window (target = outside class) */
    int bucket;            /* target bucket 0..B-1, or B for outside */
} lec_sample_info;

/* Fills n samples: score (n, H, W), spec (n, spec_bands, spec_frames),
 * targets (n, n_out); info (n) may be NULL. Sample i is a function of
 * (seed, step, i) only. Never allocates; thread-safe. */
void lec_dataset_sample(const lec_dataset *ds, uint64_t seed, int64_t step, int n, float *score,
                        float *spec, float *targets, lec_sample_info *info);

/* Mean and standard deviation of score and spectrogram inputs over n
 * samples (deterministic in seed). Allocates a scratch batch. */
lec_status lec_dataset_input_stats(const lec_dataset *ds, uint64_t seed, int n, float *score_mean,
                                   float *score_std, float *spec_mean, float *spec_std,
                                   lec_error *err);

/* Validation metrics of a network over n deterministic samples (seed):
 * bucket accuracy and +-1 bucket over the samples whose position is in the
 * window (argmax over all outputs), outside-class accuracy over the others,
 * mean cross-entropy over all. Evaluation-mode forward with its own context;
 * the net is only read. */
typedef struct lec_dataset_metrics {
    int n_inside, n_outside;
    double loss;
    double acc;        /* argmax == target bucket (inside samples) */
    double acc1;       /* |argmax - target bucket| <= 1 (inside samples) */
    double acc_outside;/* argmax == outside class (outside samples) */
    double false_outside; /* inside samples whose argmax is the outside class */
} lec_dataset_metrics;

lec_status lec_dataset_evaluate(const lec_dataset *ds, const lec_nn_net *net, uint64_t seed,
                                int n, lec_dataset_metrics *m, lec_error *err);

#endif
