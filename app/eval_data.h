/* eval_data.h -- what `lectern eval` and `lectern bench track` need around the
 * follower: a rendering's audio in memory, its ground truth as metric inputs
 * (lec_metrics.h) in strip coordinates, jump tests spliced from a rendering,
 * and the true-vs-followed plot.
 *
 * Printed position of a note (EVALUATION.md "the x of its leftmost head"):
 * the x-centre of its head, mapped to the strip -- the same reference point
 * as lec_unroll_event_x; lec_metrics_events then takes the smallest of them
 * within an onset event, i.e. the x-centre of the leftmost head. Notes without
 * a printed head are left out (they cannot be pointed at).
 *
 * Thread safety: all functions are reentrant (no globals); they allocate. */
#ifndef LEC_EVAL_DATA_H
#define LEC_EVAL_DATA_H

#include <stddef.h>

#include "lec_error.h"
#include "lec_follower.h"
#include "lec_metrics.h"
#include "lec_model.h"
#include "lec_nn.h"
#include "lec_piece.h"
#include "lec_unroll.h"

/* A randomly initialised network of the default architecture (lec_nn_arch_default,
 * but reading as many bands as the default front-end makes) with the default
 * lec_model_info: for costs (which do not depend on the weights) and for the
 * geometry of --oracle runs. */
lec_follow_model *lec_eval_default_model(lec_error *err);
/* A network of architecture a, with a->spec_bands set to what the default
 * front-end makes, randomly initialised (seed 1), as a follow model with
 * `info` and `name`. */
lec_follow_model *lec_eval_random_model(lec_nn_arch *a, const lec_model_info *info,
                                        const char *name, lec_error *err);

/* The --oracle "network": for each window [x0[i], x0[i] + win_w) a soft-max
 * over B buckets from the true position xt: 1 - noise of the mass as a
 * Gaussian bump (sd 1 bucket, as a network trained on smoothed targets)
 * around xt's bucket when xt is in the window, the rest (or all of it, when
 * it is not) spread evenly. probs is (n, B). */
void lec_eval_oracle_softmax(float xt, const float *x0, int n, float win_w, int B, float noise,
                             float *probs);

/* Applies "key=value[,key=value...]" to a tracker configuration; keys are the
 * lec_tracker_config field names (p_hold, jump_rate_s, obs_weight, ...).
 * LEC_EINVAL naming the key for an unknown key or a value that is not a
 * number. (The tracker validates the values themselves at create.) */
lec_status lec_eval_tracker_overrides(lec_tracker_config *tc, const char *spec, lec_error *err);

/* The whole audio file, mono at sample_rate (lec_source, LEC_SOURCE_FILE). */
float *lec_eval_read_audio(const char *path, int sample_rate, size_t *n, lec_error *err);

/* Strip geometry of u: s0/s1 malloc'd (n_systems each); geom points into them. */
lec_status lec_eval_geom(const lec_unroll *u, lec_strip_geom *geom, float **s0, float **s1,
                         lec_error *err);

/* Ground-truth notes of rendering r (performance onset_s, printed strip x).
 * *notes malloc'd. LEC_EFORMAT when no note has both a head and a finite time. */
lec_status lec_eval_truth_notes(const lec_piece *p, const lec_unroll *u, int r, lec_gt_note **notes,
                                size_t *n, lec_error *err);

/* A jump test from one rendering: play until the onset event `wn_play`
 * whole notes after the first, jump back `wn_back` whole notes (to the first
 * event at or after that musical time) and play on to the end. Both cut points
 * lie `pre_s` (10 ms) before an onset; the splice is a linear crossfade of
 * `fade_s` (20 ms). The ground truth is spliced the same way: notes before the
 * first cut keep their times, notes from the second cut on are shifted to
 * follow it. Everything malloc'd. LEC_EUNSUPPORTED when the piece is too short
 * for the jump. */
typedef struct lec_eval_jump {
    float *audio;
    size_t n;
    lec_gt_note *notes;
    size_t n_notes;
    double jump_s;       /* performance time of the jump in the spliced audio */
    double from_s, to_s; /* the cut points in the original rendering */
} lec_eval_jump;
lec_status lec_eval_make_jump(const lec_piece *p, const lec_unroll *u, int r, const float *audio,
                              size_t n, int sample_rate, double wn_play, double wn_back,
                              lec_eval_jump *out, lec_error *err);
void lec_eval_jump_free(lec_eval_jump *j);

/* PNG plot: the true position (onset events, strip x in staff spaces) and the
 * followed position over time; lost frames drawn in another colour; system
 * starts as horizontal grid lines. reports: (n) frame end times and x. */
lec_status lec_eval_plot(const char *path, const char *title, const lec_strip_geom *geom,
                         const lec_onset_event *events, size_t n_events,
                         const lec_follow_out *frames, size_t n_frames, const double *jumps_s,
                         size_t n_jumps, lec_error *err);

#endif
