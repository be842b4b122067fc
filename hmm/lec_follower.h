/* lec_follower.h -- the whole follower in one object: audio samples in, one
 * score position per spectrogram frame out. The same object serves live
 * following, replay and `lectern eval`, so what eval measures is what the
 * stage sees.
 *
 * Per completed spectrogram frame (hop_size samples, ~20 frames/s):
 *   1. lec_spec: the frame (n_bands log-filterbank values); the frame's level
 *      in dB (mean square of the hop_size samples that completed it) ->
 *      activity in [0, 1] (lec_tracker_activity_from_db);
 *   2. the frame enters a ring of the last spec_frames frames, written out as
 *      the network's spectrogram excerpt (spec_bands, spec_frames), oldest
 *      frame first; before spec_frames frames exist the missing ones are
 *      silence (0 = log10(1 + 0));
 *   3. the tracker names the windows to evaluate (lec_tracker_windows, on the
 *      cache's grid of origins); the spectrogram tower runs once on the
 *      excerpt, and each window's logits come from its cached score part +
 *      the frame's spectrogram part through the rest of the head (see "the
 *      score-window cache" below; with net_cache = 0 instead: each window is
 *      cut from the strip as ink (lec_unroll_window) and ALL of them go
 *      through ONE batched EVAL forward, the excerpt repeated per window);
 *   4. soft-max of each row -> lec_tracker_update with the activity;
 *   5. the tracker's strip x is mapped back to (system, page, page x) and the
 *      system's page y-range.
 * Causal by construction: frame i's output depends only on samples
 * [0, (i+1) * hop). The input is cut at frame boundaries internally, so any
 * chunking of the same audio gives bit-identical outputs.
 *
 * Models with an "outside" output (metadata model.outside_class = 1, n_out =
 * B + 1, the last logit = "the music is not in this window"): the tracker's
 * observation model (hmm/README.md) is relative to a flat soft-max and
 * renormalises every row, so it cannot express "lower than flat everywhere
 * in this window". The outside mass is therefore spread evenly over the B
 * buckets: p'_b = p_b + p_out / B (rows still sum to 1). A confident "not
 * here" becomes a flat row, which the tracker reads as "no information about
 * this window" and which drives its evidence measure towards 0, so a belief
 * the network stops confirming is declared lost and searched for; in-window
 * probabilities keep their proportions and are never inflated by
 * renormalising a row that is mostly "outside". hmm/FOLLOWER.md has more.
 *
 * Geometry from the model (lec_follow_model_unroll_config): the strip's
 * staff space is the model's unroll.staff_space_px, its height is the
 * network's window height (unroll.window_height_px / staff space, so a
 * window cut from the strip is exactly the network's score input), the
 * horizontal margin is unroll.margin_x_ss if the model has that key (else the
 * engine default, 1 staff space).
 *
 * Thread safety: a lec_follow_model is immutable after load and may be shared
 * by any number of followers on any threads (the network is only read during
 * inference). A lec_follower belongs to one thread: create, process,
 * commands, getters, destroy. process and the commands never allocate and
 * never block. OpenBLAS's GEMMs run inside process: the caller decides how
 * many threads OpenBLAS may use (openblas_set_num_threads(1) for one core per
 * follower). Not for an audio callback: a frame costs milliseconds.
 */
#ifndef LEC_FOLLOWER_H
#define LEC_FOLLOWER_H

#include <stddef.h>
#include <stdint.h>

#include "lec_error.h"
#include "lec_model.h"
#include "lec_nn.h"
#include "lec_piece.h"
#include "lec_spec.h"
#include "lec_tracker.h"
#include "lec_unroll.h"

/* ---- the model: network + front-end + geometry, loaded once, shared ---- */
typedef struct lec_follow_model lec_follow_model;

/* Loads and checks a model file for following: the network, its
 * lec_model_info, and their consistency (buckets vs n_out and the outside
 * class, the window size vs the network's score input, the band count of the
 * stored front-end vs the network's spectrogram input, a strip height the
 * unrolling can produce). Errors name the file. */
lec_follow_model *lec_follow_model_load(const char *path, lec_error *err);
/* The same from a network in memory (tests, benchmarks): the parameters are
 * copied, the caller keeps net. outside_class: 1 if the last output is
 * "outside the window" (then info->buckets = n_out - 1). name: for messages. */
lec_follow_model *lec_follow_model_from_net(const lec_nn_net *net, const lec_model_info *info,
                                            int outside_class, const char *name, lec_error *err);
void lec_follow_model_destroy(lec_follow_model *m); /* NULL-safe */

const lec_nn_net *lec_follow_model_net(const lec_follow_model *m);
const lec_model_info *lec_follow_model_info(const lec_follow_model *m);
int lec_follow_model_buckets(const lec_follow_model *m);       /* B */
int lec_follow_model_outside_class(const lec_follow_model *m); /* 0/1 */
const char *lec_follow_model_name(const lec_follow_model *m);
/* The unrolling this model was trained with (see the header comment). */
void lec_follow_model_unroll_config(const lec_follow_model *m, lec_unroll_config *cfg);
/* Its spectrogram front-end. */
void lec_follow_model_spec_config(const lec_follow_model *m, lec_spec_config *cfg);
/* Frames per second of its front-end (sample_rate / hop_size). */
double lec_follow_model_fps(const lec_follow_model *m);

/* ---- the follower ---- */
typedef enum {
    LEC_FOLLOW_START_PAGE1 = 0, /* the performer starts somewhere on page one */
    LEC_FOLLOW_START_ANYWHERE,  /* anywhere in the piece */
} lec_follow_start;

/* Test-only observation hook: replaces the network. Receives the exact
 * network inputs of the frame -- score (n, score_h, score_w) ink, spec
 * (n, spec_bands, spec_frames), window origins x0 (n, strip px) -- and the
 * frame's end time; writes probs (n, B) (in-window buckets; no outside
 * class). Returns 0, or nonzero to fail the frame (process returns -1). */
typedef int (*lec_follow_observer_fn)(void *user, const float *score, const float *spec,
                                      const float *x0, int n, double t_end_s, float *probs);

/* Progress of long work (the score-window cache): done of total units. */
typedef void (*lec_follow_progress_fn)(void *user, int64_t done, int64_t total);

/* ---- the score-window cache ----
 * The network's score tower sees only the score window; in evaluation mode it
 * is a fixed function of it (engine/nn/lec_nn.h, "the EVAL forward in three
 * parts"). So for a piece it is computed ONCE per window origin on a fixed
 * grid of the strip -- x0 in {0, g, 2g, ...} plus the last origin W - win_w --
 * and kept as the score half of the head's first dense layer (W_score e_score:
 * lec_nn_head_part_floats floats per origin). Per frame the follower then runs
 * the spectrogram tower once and, per window, one vector add and the rest of
 * the head. The tracker is told the grid (lec_tracker_config.grid_px), so
 * every window it asks for has an entry. Memory: n_origins x part floats
 * (lec_follow_cache_bytes). Immutable after create: one cache may be shared
 * by any number of followers of the same model and strip, on any threads. */
typedef struct lec_follow_cache lec_follow_cache;

/* Cuts every grid window from u (which must be unrolled with
 * lec_follow_model_unroll_config of m) and runs the score tower on it, in
 * batches, calling progress (may be NULL) after each batch. grid_px >= 1.
 * Cost: one score-tower forward per origin (strip width / grid_px of them).
 * The GEMMs use as many threads as OpenBLAS is set to. */
lec_follow_cache *lec_follow_cache_create(const lec_follow_model *m, const lec_unroll *u,
                                          int grid_px, lec_follow_progress_fn progress,
                                          void *progress_user, lec_error *err);
void lec_follow_cache_destroy(lec_follow_cache *c); /* NULL-safe */
int lec_follow_cache_grid_px(const lec_follow_cache *c);
int lec_follow_cache_n_origins(const lec_follow_cache *c);
size_t lec_follow_cache_bytes(const lec_follow_cache *c);
double lec_follow_cache_build_s(const lec_follow_cache *c); /* wall time create took */
/* The cached score part for origin x0 (strip px), or NULL if x0 is not on the
 * grid. */
const float *lec_follow_cache_part(const lec_follow_cache *c, int x0);

typedef struct lec_follower_config {
    const lec_follow_model *model; /* shared model (borrowed), or NULL and ... */
    const char *model_path;        /* ... a model file to load (owned by the follower) */
    const lec_piece *piece;        /* borrowed; must outlive the follower */
    const lec_unroll *unroll;      /* optional, borrowed: the piece unrolled with
                                      lec_follow_model_unroll_config (checked); NULL =
                                      the follower unrolls the piece itself */
    lec_follow_start start;        /* default PAGE1 */
    int net_every;                 /* run the network on every k-th frame only (1 = all);
                                      the frames between are tracker predictions (n = 0).
                                      A cost knob: k = 2 halves the network time */
    float level_floor_db;          /* activity 0 at or below this frame level, dBFS (-60) */
    float level_range_db;          /* ... 1 at floor + range (20) */
    /* Tracker parameters: geometry, window and frame rate are filled in by the
     * follower; everything else is taken from here (lec_tracker_config_default
     * by lec_follower_config_default). */
    lec_tracker_config tracker;
    lec_follow_observer_fn observer; /* tests only: NULL = the network */
    void *observer_user;
    int observer_after_network; /* 1: run the network anyway (for its cost), then let
                                   the observer overwrite its soft-max (benchmarks
                                   with an untrained network that still tracks); the
                                   observer's time is then left out of cost_* */
    /* The network's cost per frame (hmm/FOLLOWER.md, "Speed"):
     * net_cache = 1 (default): the score tower is precomputed per grid window
     * at create (lec_follow_cache); per frame the spectrogram tower runs once
     * and the head per window. net_cache = 0: one full batched forward of all
     * the frame's windows per frame, the excerpt repeated per window (the
     * reference path, for comparisons: same outputs up to float rounding). */
    int net_cache;
    int window_grid_px;      /* window origins on multiples of this (strip px), passed
                                to the tracker as grid_px (overriding tracker.grid_px);
                                0 = automatic: round(window width / 8) with net_cache,
                                none (any whole px, as before the cache) without */
    int global_obs;          /* the tracker's global observation (lec_tracker.h): every
                                frame, windows tiling the whole strip, raw logits
                                compared across windows. -1 (default) = automatic: on
                                for bucket-head models, off otherwise; overrides
                                tracker.global_obs. With the cache, the automatic grid
                                is then the tiles' stride (window width / 2) */
    const lec_follow_cache *cache; /* optional, borrowed: a cache built for this model and
                                      strip (its grid wins over window_grid_px);
                                      NULL = the follower builds its own at create */
    lec_follow_progress_fn progress; /* optional: progress of building the cache */
    void *progress_user;
} lec_follower_config;

void lec_follower_config_default(lec_follower_config *cfg);

/* One frame's result. Page units: pixels of the page image. */
typedef struct lec_follow_out {
    int64_t frame;              /* frame index since create/reset */
    double t_end_s;             /* time of the frame's last sample, s since the stream start */
    float strip_x_px;           /* position in the unrolled strip */
    int system;                 /* system index (lec_piece_systems) */
    int page;                   /* page index */
    float page_x_px;            /* x on that page */
    float sys_y0_px, sys_y1_px; /* the system's staff box on the page (y range) */
    float confidence;           /* [0, 1] */
    int lost;                   /* 1 while searching */
    float speed_px_s;           /* along the strip */
    float tempo;                /* x nominal; 0 when unknown */
    float activity;             /* [0, 1] as given to the tracker */
    float level_db;             /* frame level, dBFS */
    int n_windows;              /* windows run through the network this frame */
    double cost_s;              /* wall time spent on this frame: the sum of ... */
    double cost_spec_s;         /* ... the spectrogram and level, */
    double cost_net_s;          /* ... the network (inputs, batched forward, soft-max), */
    double cost_track_s;        /* ... the tracker (windows, update) and the mapping */
} lec_follow_out;

typedef struct lec_follower lec_follower;

/* Loads what it needs (the model if given by path, the unrolled strip if not
 * given), builds the score-window cache unless one is given (one score-tower
 * forward per grid origin: ~0.2 s for a one-page piece, a few seconds for the
 * longest pieces of the corpus; reported through cfg->progress), sizes every
 * buffer for the tracker's maximum windows per frame.
 * NULL + err on failure, naming the file/problem. */
lec_follower *lec_follower_create(const lec_follower_config *cfg, lec_error *err);
void lec_follower_destroy(lec_follower *f); /* NULL-safe */

/* Push n samples (mono, the model's sample rate, [-1, 1]); writes one output
 * per completed frame, at most max_out, and returns how many (>= 0), or -1
 * with err set (a network failure, an observer failure). Samples that would
 * complete more than max_out frames are NOT consumed: *consumed (may be NULL
 * only if max_out >= lec_follower_max_frames(f, n)) tells how many were, so
 * the caller pushes the rest again. Never allocates. */
int lec_follower_process(lec_follower *f, const float *samples, size_t n, size_t *consumed,
                         lec_follow_out *out, int max_out, lec_error *err);
/* Frames n more samples complete at most (for sizing out). */
size_t lec_follower_max_frames(const lec_follower *f, size_t n);

/* The position before any frame (or the last one reported): what the
 * follower shows at t = 0. Fills out from the tracker's current state. */
void lec_follower_position(const lec_follower *f, lec_follow_out *out);

/* ---- commands (same thread as process; they act between frames) ---- */
/* New stream: spectrogram, frame counter, time and tracker back to start. */
void lec_follower_reset(lec_follower *f);
/* Back to the start prior (searching), audio time keeps running. */
void lec_follower_restart(lec_follower *f);
/* The user clicked: belief at strip x / at (system, page x). */
void lec_follower_set_position(lec_follower *f, float strip_x_px);
lec_status lec_follower_seek(lec_follower *f, int system, float page_x_px, lec_error *err);
/* Move the belief delta systems (+1 forward), keeping its relative place
 * inside the system (the usual error is a similar-looking system). */
void lec_follower_nudge(lec_follower *f, int delta_systems);
/* Search the whole score again. */
void lec_follower_relocalise(lec_follower *f);

/* ---- getters ---- */
const lec_unroll *lec_follower_unroll(const lec_follower *f);
const lec_tracker *lec_follower_tracker(const lec_follower *f);
const lec_follow_model *lec_follower_model(const lec_follower *f);
/* The score-window cache in use (own or shared), NULL without net_cache or
 * without a network (observer only). */
const lec_follow_cache *lec_follower_cache(const lec_follower *f);
double lec_follower_fps(const lec_follower *f);
int64_t lec_follower_frames_done(const lec_follower *f);

/* The last frame's windows (origins x0, strip px) and the (n, B) bucket
 * probabilities given to the tracker; returns n (0 in silence). Valid until
 * the next process/reset. For benchmarks and tests. */
int lec_follower_last_windows(const lec_follower *f, const float **x0, const float **probs);

/* Cost breakdown since create/reset (wall seconds): spectrogram (incl. the
 * level), network (input assembly + forward + soft-max), tracker (windows +
 * update + mapping); windows run through the network and frames. */
typedef struct lec_follow_costs {
    double spec_s, net_s, track_s;
    int64_t windows, frames;
} lec_follow_costs;
void lec_follower_costs(const lec_follower *f, lec_follow_costs *out);

#endif
