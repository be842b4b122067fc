/* lec_tracker.h -- the score-position tracker: a forward-filtered (causal) HMM
 * over positions in the unrolled score strip, fed by the network's soft-max
 * over the buckets of a few score windows per audio frame.
 *
 * The strip: staff systems laid end to end, W px wide; system k covers strip x
 * in [sys_start_px[k], sys_end_px[k]). The network looks at a window
 * [x0, x0 + win_w_px) of the strip and returns probabilities over n_buckets
 * equal buckets of it ("where in this window is the music now").
 *
 * Per frame (fps frames per second, e.g. 20):
 *   n = lec_tracker_windows(t, x0, max);      // which windows to evaluate
 *   ... run the network on those n windows (batched) -> probs (n, n_buckets)
 *   lec_tracker_update(t, probs, n, activity, &state, err);
 * The caller may evaluate only the first m <= n windows (e.g. none during
 * silence: the tracker ignores observations when activity is 0 anyway).
 *
 * State space: cells of cell_px (default half a staff space) over the strip;
 * the tempo (speed along the strip, px/s) is estimated separately from the
 * recent trajectory. Transitions: forward motion at the estimated speed
 * (log-normal spread), a hold probability (rests, fermatas), a small step back,
 * and a uniform jump anywhere (repeats, restarts, skips). Observations: the
 * soft-max mapped to cells; cells outside all evaluated windows get a flat
 * "unknown" likelihood. Details and parameters: hmm/README.md.
 *
 * Activity: a number in [0, 1], the probability that someone is playing in
 * this frame (0 = silence: no motion, no jumps, observation ignored; 1 = fully
 * playing). A negative value means "unknown" and is treated as 1. The caller
 * derives it from a cheap audio feature (frame energy), see
 * lec_tracker_activity_from_db().
 *
 * Thread safety: one tracker belongs to one thread. create/destroy allocate;
 * windows/update/reset/set_position/relocalise never allocate, never block and
 * take well under a millisecond for a whole piece (see lec_tracker_bench).
 */
#ifndef LEC_TRACKER_H
#define LEC_TRACKER_H

#include <stdint.h>

#include "lec_error.h"

typedef struct lec_tracker_config {
    /* --- the strip (copied at create) --- */
    float strip_w_px;         /* W > 0 */
    int n_systems;            /* >= 1 */
    const float *sys_start_px; /* (n_systems) increasing, within [0, W] */
    const float *sys_end_px;   /* (n_systems) */
    const int *sys_page;       /* (n_systems) page of each system, or NULL */
    float staff_space_px;      /* > 0 */
    /* --- the network --- */
    float win_w_px;           /* window width in strip px */
    int n_buckets;            /* B >= 2 */
    float fps;                /* frames per second (20) */
    /* --- state grid --- */
    float cell_px;            /* 0 -> staff_space_px / 2 */
    /* --- tempo: speed along the strip --- */
    float nominal_speed_px_s; /* speed at the score's tempo; 0 = unknown */
    float min_tempo, max_tempo;          /* x nominal (0.5, 2) when nominal known */
    float min_speed_ss_s, max_speed_ss_s; /* staff spaces/s when unknown (4, 36): the
                                             valid pieces at 0.7x-1.4x move at 4.6-32.5
                                             staff spaces/s on average (hmm/README.md) */
    float speed_slack;        /* the local speed may leave that range by this factor
                                 either way: engraving gives short notes more px per
                                 second than long ones (2) */
    float speed_sigma;        /* log-sd of the per-frame speed around the estimate (0.4) */
    float tempo_window_s;     /* trajectory span for the speed estimate (4 s) */
    int tempo_states;         /* K > 0: the state is (position, tempo) with K speeds
                                 log-spaced over the speed range (hmm/README.md, "Tempo
                                 states"): evidence accumulates along paths of one
                                 speed, and the speed is a posterior, not a point
                                 estimate. 0: position only, moved by the estimated
                                 speed (the kernel above) (16) */
    float tempo_switch;       /* K > 0: per playing frame, probability of moving to
                                 each neighbouring speed (0.05) */
    /* --- transitions --- */
    float p_hold;             /* per frame, extra probability of not moving (0.1) */
    float p_back;             /* per frame, probability of a small step back (0.02) */
    float back_ss;            /* size of that step, staff spaces (2) */
    float jump_rate_s;        /* jumps per second of playing (0.05) */
    /* --- observations --- */
    float obs_weight;         /* exponent on the likelihood (0.7): frames are correlated */
    float obs_floor;          /* likelihood floor relative to a flat bucket (0.05) */
    /* --- global observation (hmm/README.md, "Global observation") --- */
    int global_obs;           /* 1: every frame, windows tiling the whole strip (origins
                                 k * scan_stride and the last one) are evaluated, and each
                                 cell takes its logit from the tile where it is most
                                 central; likelihood exp(obs_weight * (z - max z)), no
                                 per-window renormalisation and no unobserved cells, so
                                 the search is implicit. For networks whose logits are
                                 comparable across windows (the bucket head). 0: the
                                 belief's windows, as described above */
    float global_floor_log;   /* per-cell log-likelihood floor below the best cell (-8) */
    float global_obs_weight;  /* obs_weight in the global mode (0.12): every frame sees
                                 the whole strip and consecutive frames share most of
                                 their spectrogram excerpt, so each counts for little */
    float global_center_s;    /* column centring (hmm/README.md, "Hubs"): each cell's logit
                                 minus its own running mean over the last ~this many
                                 seconds of playing, so that score columns the network
                                 scores high whatever is played do not attract the
                                 belief; 0 = off (20) */
    float global_center_prior_s; /* until a cell has this many seconds of history its
                                 mean is shrunk towards the mean over all cells (5) */
    /* --- start --- */
    float start_x0_px, start_x1_px; /* start region; if start_x1 <= start_x0: the
                                       systems of the first system's page (all
                                       systems when sys_page is NULL). "Anywhere"
                                       (--start): 0 and strip_w_px. */
    /* --- windows --- */
    float win_lead;           /* where the belief sits in the main window (0.35) */
    float scan_stride_px;     /* spacing of scan windows; 0 -> win_w / 2 */
    int scan_windows_per_frame; /* while lost (8) */
    int probe_windows_per_frame; /* while tracking: local probes (1) */
    float probe_range_px;     /* probes within +-range of the belief; 0 -> 3 win_w */
    float grid_px;            /* 0: window origins anywhere (whole px). > 0 (whole px):
                                 every origin snapped to the nearest of {0, g, 2g, ...}
                                 or to the last origin W - win_w, so that a caller can
                                 precompute the network's score tower for that fixed
                                 set of windows (hmm/FOLLOWER.md) */
    /* --- lost and found --- */
    float conf_radius_ss;     /* confidence = mass within +-radius of x (6) */
    float conf_lost;          /* below this ... (0.3) */
    float agree_lost;         /* ... or the smoothed agreement below this (-1.2) ... */
    float lost_after_s;       /* ... for this long while playing -> lost (0.4) */
    float conf_found;         /* found again when conf >= this (0.5) ... */
    float agree_found;        /* ... and the smoothed agreement >= this (-0.7); agreement =
                                 log(likelihood of the belief under the main window /
                                 likelihood of that window's best bucket), <= 0 */
    float evidence_lost;      /* lost also when the smoothed evidence (log likelihood of
                                 the belief under the main window relative to a flat
                                 output) stays below this: the network no longer
                                 confirms the belief (0.1); found needs it >= this */
} lec_tracker_config;

void lec_tracker_config_default(lec_tracker_config *cfg); /* geometry left empty */

typedef struct lec_track_state {
    int64_t frame;         /* updates since create/reset */
    float x_px;            /* position in the strip */
    int system;            /* system containing x (nearest if in a gap) */
    float x_in_system_px;  /* x - sys_start_px[system] */
    int page;              /* sys_page[system] (0 without pages) */
    float confidence;      /* posterior mass within +-conf_radius of x, [0,1] */
    float speed_px_s;      /* estimated speed along the strip */
    float tempo;           /* speed / nominal speed; 0 if the nominal is unknown */
    int lost;              /* 1 while searching (scanning the score) */
    int n_windows_used;    /* windows whose observation was applied this frame */
} lec_track_state;

typedef struct lec_tracker lec_tracker;

/* NULL + message on bad configuration or allocation failure. */
lec_tracker *lec_tracker_create(const lec_tracker_config *cfg, lec_error *err);
void lec_tracker_destroy(lec_tracker *t); /* NULL-safe */

/* Back to the start prior (uniform over the start region), searching. */
void lec_tracker_reset(lec_tracker *t);

/* Most windows lec_tracker_windows can ask for in one frame. */
int lec_tracker_max_windows(const lec_tracker *t);
float lec_tracker_win_w_px(const lec_tracker *t);
int lec_tracker_n_buckets(const lec_tracker *t);
int lec_tracker_n_cells(const lec_tracker *t);

/* Windows to evaluate this frame: writes up to max window origins x0 (strip
 * px, integral, within [0, max(0, W - win_w)], on the grid when grid_px > 0:
 * a multiple of grid_px or exactly floor(W - win_w)) in priority order (the first is
 * always the window around the belief) and returns how many. Calling it again
 * before update returns the same list. */
int lec_tracker_windows(lec_tracker *t, float *x0_out, int max);

/* One frame. probs is (n, n_buckets), row i the soft-max for the i-th window of
 * the last lec_tracker_windows call; n may be smaller than that count (the
 * first n are used) or 0. Rows that are not finite or sum to <= 0 are ignored;
 * rows are renormalised. LEC_EINVAL (state unchanged) if n exceeds the count. */
lec_status lec_tracker_update(lec_tracker *t, const float *probs, int n, float activity,
                              lec_track_state *out, lec_error *err);

/* The same with raw logits (n, n_buckets) instead of soft-max rows: with
 * global_obs, logits keep what a per-window soft-max throws away (how well the
 * best bucket of each window matches, compared across windows). Without
 * global_obs the rows are turned into soft-max rows first. */
lec_status lec_tracker_update_logits(lec_tracker *t, const float *logits, int n, float activity,
                                     lec_track_state *out, lec_error *err);

/* reset, set_position and relocalise discard the windows planned by
 * lec_tracker_windows: call it again before the next update with observations. */

/* The user clicked/nudged: belief concentrated at x (spread +-1 staff space),
 * tracking, tempo estimate kept. */
void lec_tracker_set_position(lec_tracker *t, float x_px);
/* Force a search (scan of all windows, nearest first) from the current belief. */
void lec_tracker_relocalise(lec_tracker *t);

/* Posterior over cells (n_cells floats, sums to 1; cell c covers strip x in
 * [c*cell_px, (c+1)*cell_px)). For plots and tests; valid until next update. */
const float *lec_tracker_posterior(const lec_tracker *t, float *cell_px);

/* Activity from a frame level in dB: 0 at or below floor_db, 1 at or above
 * floor_db + range_db, linear in between. */
float lec_tracker_activity_from_db(float level_db, float floor_db, float range_db);

/* Micro-benchmark: a synthetic strip of strip_w_px at staff_space_px (the
 * unrolled strip's default is 5 px; systems of 110 staff spaces, window of 60
 * staff spaces in 40 buckets, 20 fps, nominal speed 10 staff spaces/s) followed
 * for n_frames frames of a synthetic performance with noisy soft-max
 * observations (lec_simperf); times each windows+update call, as wall-clock time
 * (what real time sees, including preemption by other processes) and as this
 * thread's CPU time (the cost of the code itself). Not for the real-time path
 * (allocates). */
typedef struct lec_tracker_bench_result {
    int n_frames, n_cells;
    double median_ms, p99_ms, max_ms, mean_ms;         /* wall clock */
    double cpu_median_ms, cpu_p99_ms, cpu_max_ms, cpu_mean_ms; /* thread CPU time */
    double mean_windows;      /* windows asked per frame */
    double median_abs_err_px; /* tracking error of the synthetic run (sanity) */
} lec_tracker_bench_result;
lec_status lec_tracker_bench(float strip_w_px, float staff_space_px, int n_frames,
                             lec_tracker_bench_result *res, lec_error *err);

#endif
