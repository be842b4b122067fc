/* lec_oracle.h -- the "oracle follower": where a rendering of the bundle
 * truly is at any time (ground truth, lec_unroll_truth_x), expressed as a
 * viewer position; and the inverse (at what time the truth is in a given
 * system / at a given page x) so that user commands -- nudge a system, click
 * on a system -- can be applied by moving the replay clock. Used by
 * `lectern show` to check bundles and their ground truth by eye, and by the
 * viewer tests as a position source whose answer is known.
 *
 * Thread safety: immutable after create (allocates a table sampled every
 * 20 ms of the rendering); all queries may run on any thread, never allocate.
 */
#ifndef LEC_ORACLE_H
#define LEC_ORACLE_H

#include "lec_error.h"
#include "lec_piece.h"
#include "lec_unroll.h"
#include "lec_view_sync.h"

typedef struct lec_oracle lec_oracle;

/* p and u (made from p) must outlive the oracle. LEC_EFORMAT if the
 * rendering has no usable events. */
lec_oracle *lec_oracle_create(const lec_piece *p, const lec_unroll *u, int rendering,
                              lec_error *err);
void lec_oracle_destroy(lec_oracle *o); /* NULL-safe */

double lec_oracle_duration_s(const lec_oracle *o);

/* The true position at t_s (valid, confidence 1, not lost, tempo = the
 * rendering's tempo factor, time_s = t_s; frame and flags left 0). */
void lec_oracle_position(const lec_oracle *o, double t_s, lec_view_pos *out);

/* Time at which the performance enters the next (delta > 0) or previous
 * (delta < 0) system, in performance order (repeats included), from t_s.
 * Clamped to [0, duration]. */
double lec_oracle_nudge_s(const lec_oracle *o, double t_s, int delta);

/* The time nearest to t_s at which the truth is in `system` at page x >=
 * page_x (or at the end of that system's passage); t_s itself if the
 * performance never visits the system. */
double lec_oracle_seek_s(const lec_oracle *o, double t_s, int system, float page_x);

#endif
