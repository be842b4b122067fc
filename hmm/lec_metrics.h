/* lec_metrics.h -- score-following metrics, exactly as ../shared/docs/EVALUATION.md
 * defines them, plus the choices that page leaves open (each marked DEFINED
 * below and in hmm/README.md).
 *
 * Coordinates: every position is an x in the unrolled score strip (px), where
 * system k covers [sys_start_px[k], sys_end_px[k]). A position's system is the
 * system containing it; a position in a gap between systems or outside all of
 * them belongs to the nearest system (by strip distance; ties -> lower index).
 *
 * Onset events (EVALUATION.md "Per-onset error"): notes are sorted by onset
 * time; DEFINED: an event starts at the earliest note not yet grouped and takes
 * every note whose onset is at most 10 ms after that first onset, so all notes
 * of an event lie within 10 ms of each other pairwise. The event's time t_i is
 * its earliest onset; its printed position p_i is the strip x of its leftmost
 * head (smallest strip x) and its system that head's system.
 *
 * Reported position at time t: the last frame whose end time is <= t.
 * DEFINED: when no frame ends at or before t the follower has reported nothing
 * yet; the error is +inf (never "within", clipped to 5 s in the mean, px error
 * +inf). The eval command can pass the tracker's initial position as a frame
 * ending at t = 0 (it is known before any audio, so this is causal).
 *
 * Mapping a reported position x (system s) to score time at time t:
 *   candidates = onset events of system s; d_min = min |p_j - x| over them.
 *   DEFINED: events with |p_j - x| <= d_min + 0.5 px count as "the same printed
 *   position" (a head performed several times, i.e. repeats, has one printed x;
 *   the 0.5 px absorbs rounding); among them the one whose performance time is
 *   nearest to t gives t^ (ties -> earlier event).
 *   DEFINED: if system s has no onset events (e.g. a system of rests, or a
 *   position before the first note's system), the candidates are ALL events and
 *   the distance is the strip distance |p_j - x| (the same rule the pixel error
 *   uses for a different system).
 * e_i = |t^ - t_i| s; pixel error = |x - p_i| / staff_space_px (both are strip
 * x, so a different system counts as the distance along the strip).
 *
 * lost_time (DEFINED): the per-frame error err_f = |t^(x_f, t_f) - t_f| with the
 * mapping above at the frame's end time t_f (no interpolated "true position" is
 * needed: the truth at t_f is t_f itself). The report of frame f stands for the
 * audio time [t_f, t_{f+1}) (the last frame: one median frame period). lost_time
 * = (time in [t_first_event, t_last_event] covered by frames with err_f > 5 s) /
 * (t_last_event - t_first_event); time in that span before the first report
 * counts as lost (nothing was reported); 0 for a piece with a single event. A
 * correct report between two events maps to one of them, so an inter-onset gap
 * longer than 10 s could count as lost; piano pieces do not have such gaps.
 *
 * followed_to_end: the final ceil(10% of events) (at least 1) onset events, by
 * time, all have e_i <= 1 s.
 *
 * recovered_within_2s (DEFINED): for a jump at performance time tau, the
 * recovery time is t_k - tau for the first onset event k with t_k >= tau such
 * that e_k and the errors of the next (confirm_events - 1) events (fewer if the
 * piece ends) are all <= 1 s, i.e. the error returns within 1 s and stays there;
 * a jump is recovered if that time is <= 2 s. confirm_events defaults to 3.
 *
 * Thread safety: all functions are reentrant (no globals). They allocate
 * (offline evaluation code), so they are not for the audio callback.
 */
#ifndef LEC_METRICS_H
#define LEC_METRICS_H

#include <stddef.h>

#include "lec_error.h"

#define LEC_METRICS_N_BOUNDS 5
/* 0.05, 0.1, 0.5, 1, 5 seconds */
extern const double lec_metrics_bounds_s[LEC_METRICS_N_BOUNDS];

/* One performed note (after repeats are unfolded a printed head appears once per
 * performance). */
typedef struct lec_gt_note {
    double onset_s; /* performance onset time in the audio, s */
    float x_px;     /* strip x of the note head, px (one reference point for all
                       heads; lec_unroll_event_x uses the head's x-centre) */
} lec_gt_note;

typedef struct lec_onset_event {
    double t_s;  /* earliest onset of the group, s */
    float x_px;  /* strip x of the leftmost head */
    int system;  /* system of that head */
    int n_notes;
} lec_onset_event;

/* The strip: systems laid end to end. */
typedef struct lec_strip_geom {
    int n_systems;
    const float *sys_start_px; /* (n_systems), increasing */
    const float *sys_end_px;   /* (n_systems), sys_end_px[k] > sys_start_px[k] */
    float staff_space_px;      /* > 0 */
} lec_strip_geom;

/* One follower report: the frame's end time and the reported strip x. */
typedef struct lec_report {
    double t_end_s;
    float x_px;
} lec_report;

typedef struct lec_metrics_input {
    lec_strip_geom geom;
    const lec_onset_event *events; /* (n_events), from lec_metrics_events */
    size_t n_events;
    const lec_report *frames;      /* (n_frames), t_end_s non-decreasing */
    size_t n_frames;
    const double *jumps_s;         /* (n_jumps) performance times of jumps, or NULL */
    size_t n_jumps;
    int confirm_events;            /* recovery confirmation, 0 -> 3 */
} lec_metrics_input;

/* Figures of one piece. Fractions are in [0,1]; NaN where undefined (no jumps). */
typedef struct lec_metrics_piece {
    size_t n_events;
    size_t n_within[LEC_METRICS_N_BOUNDS];
    double within[LEC_METRICS_N_BOUNDS];
    double median_error_s;
    double mean_error_s;        /* errors over 5 s clipped to 5 s */
    double median_px_error_ss;  /* staff spaces */
    int followed_to_end;        /* 0/1 */
    double lost_time;           /* fraction of [t_first_event, t_last_event] */
    double lost_s, span_s;      /* numerator and denominator of lost_time */
    size_t n_jumps, n_recovered;
    double recovered_within_2s; /* n_recovered / n_jumps, NaN without jumps */
} lec_metrics_piece;

/* Group notes into onset events (sorted by time). *events is malloc'd (free()).
 * Errors: n == 0, NULL arrays, non-finite times/positions, bad geometry. */
lec_status lec_metrics_events(const lec_gt_note *notes, size_t n, const lec_strip_geom *geom,
                              lec_onset_event **events, size_t *n_events, lec_error *err);

/* Validate geometry (clear message on nonsense). */
lec_status lec_strip_geom_check(const lec_strip_geom *geom, lec_error *err);
/* System of a strip x (containing system, else nearest). */
int lec_strip_system_of(const lec_strip_geom *geom, float x_px);

/* Map a reported strip x at time t to score time t^ (see the header comment).
 * events must be sorted by time (as lec_metrics_events returns them). */
double lec_metrics_map_time(const lec_strip_geom *geom, const lec_onset_event *events,
                            size_t n_events, float x_px, double t_s);

/* Evaluate one piece. err_s / px_ss, if non-NULL, receive the per-event time
 * error (s) and pixel error (staff spaces), (n_events) each, +inf where no report
 * existed yet. */
lec_status lec_metrics_piece_eval(const lec_metrics_input *in, lec_metrics_piece *out,
                                  double *err_s, double *px_ss, lec_error *err);

/* Over several pieces: totals over all onsets, and means of per-piece figures. */
typedef struct lec_metrics_summary {
    size_t n_pieces;
    size_t n_events;
    double within_total[LEC_METRICS_N_BOUNDS];      /* sum of counts / sum of events */
    double within_piece_mean[LEC_METRICS_N_BOUNDS]; /* mean of per-piece fractions */
    double median_error_s;     /* over all onsets of all pieces */
    double mean_error_s;       /* over all onsets, clipped at 5 s */
    double median_px_error_ss; /* over all onsets */
    double followed_to_end;    /* fraction of pieces */
    double lost_time;          /* sum lost_s / sum span_s */
    size_t n_jumps, n_recovered;
    double recovered_within_2s; /* NaN without jumps */
} lec_metrics_summary;

/* Accumulator (allocates): add each piece with its per-event errors. */
typedef struct lec_metrics_total lec_metrics_total;
lec_metrics_total *lec_metrics_total_create(lec_error *err);
lec_status lec_metrics_total_add(lec_metrics_total *t, const lec_metrics_piece *p,
                                 const double *err_s, const double *px_ss, lec_error *err);
void lec_metrics_total_summary(const lec_metrics_total *t, lec_metrics_summary *out);
void lec_metrics_total_destroy(lec_metrics_total *t); /* NULL-safe */

/* Per-frame cost statistics. median: mean of the two middle values for even n;
 * p99: nearest rank, the value at rank ceil(0.99 n) (1-based) of the sorted
 * sample; rtf = audio_s / total processing time (0 if not computable). */
typedef struct lec_cost_stats {
    size_t n;
    double median_s, p99_s, max_s, mean_s, total_s;
    double rtf;
} lec_cost_stats;
lec_status lec_metrics_cost(const double *frame_s, size_t n, double audio_s, lec_cost_stats *out,
                            lec_error *err);

/* Median of v (n > 0) without changing v; allocates a copy. NaN for n == 0 or
 * allocation failure. Exposed for the tests and the eval table. */
double lec_metrics_median(const double *v, size_t n);

/* JSON (cJSON objects; the caller owns them, cJSON_Delete). NaN/inf -> null.
 * NULL on allocation failure. */
struct cJSON;
struct cJSON *lec_metrics_piece_json(const lec_metrics_piece *p, const char *name);
struct cJSON *lec_metrics_summary_json(const lec_metrics_summary *s);
struct cJSON *lec_metrics_cost_json(const lec_cost_stats *c);

#endif
