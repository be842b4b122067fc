/* follow_cli.h -- helpers shared by the tests of `lectern replay`, `follow`
 * and `demo` (test_replay.c, test_follow.c): running the program, reading its
 * position log, comparing it with the view_bundle's closed-form ground truth,
 * and checking a screenshot against the position the program says it shows. */
#ifndef FOLLOW_CLI_H
#define FOLLOW_CLI_H

#include <stddef.h>

extern char fc_out[65536]; /* output of the last fc_run */

/* Runs a shell command (printf-style), output in fc_out; returns its status.
 * LEC_TEST_VERBOSE=1 prints commands and outputs. */
int fc_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The view_bundle.h piece played at half its tempo: event i at 1 + i s
 * (FC_SLOW_DURATION_S long), a 440 Hz tone as audio. Half tempo because the
 * tracker with the tiny model's geometry (4 px staff space, 64 px window)
 * does not keep up with the full tempo (30 staff spaces/s) even when fed the
 * ground truth. Returns 0 on success. */
#define FC_SLOW_DURATION_S 19.5
int fc_write_slow_bundle(const char *dir);
/* The slow bundle's true system and page x at t (like vb_truth), or -1. */
int fc_truth(double t, float *page_x);

typedef struct fc_row {
    double t;
    int system, page, lost;
    float page_x, confidence;
} fc_row;

/* Reads a --log CSV; returns rows (malloc'd) and their count, NULL on error. */
fc_row *fc_read_log(const char *path, size_t *n);

/* Of the logged frames with t in [t0, t1] lying between two heads of one
 * system (fc_truth), the fraction on the true system within tol_px page px
 * of the true x, evaluated `lag_s` earlier (the tracker's delay); *n_eval
 * gets how many frames were compared. */
double fc_fraction_near_truth(const fc_row *r, size_t n, double t0, double t1, float tol_px,
                              double lag_s, int *n_eval);

/* "screenshot FILE t=T page=P system=S x=X lost=L" in fc_out: fills them,
 * 0 if found. */
int fc_shot(const char *file, double *t, int *page, int *system, float *x, int *lost);

/* The screenshot shows one page (single-page view) and the marker on the
 * system and at the x the program announced (tight: the marker is drawn where
 * the follower is), or the next page when the position has passed the turn
 * point of a page's last system; and that x is within truth_tol_px of the
 * truth (fc_truth) at some time in [t - max_lag_s, t] (loose: the tracker
 * trails). While the follower searches (lost) only the page count is checked.
 * Counts failures (lec_test.h). */
void fc_check_shot(const char *file, float truth_tol_px, double max_lag_s);

/* The load errors `lectern follow` and `replay` share, each run as
 * "lectern CMD B ARGS --model M --headless --log DIR/x.csv": a copy of
 * `bundle` without pages/PAGE names that page; a model file that is not one
 * (text, then random bytes) and one that does not exist are named; exit
 * status 1 every time. args: what follows the bundle ("" or " r"); scratch
 * files go to dir. Counts failures (lec_test.h). */
void fc_check_load_errors(const char *cmd, const char *bundle, const char *args, const char *page,
                          const char *model, const char *dir);

/* Replaces the fake capture device's infile (tests/audio/alsa_fake.h: raw
 * FLOAT_LE stereo at the fake's rate) with an audio file, resampled to that
 * rate, on both channels, so that the device "plays" that rendering. 0 ok. */
int fc_write_fake_infile(const char *audio, const char *raw, int rate);

#endif
