/* lec_util.h -- small shared helpers: monotonic time, whole-file reads,
 * crash-safe file writes (temporary + rename), progress bars.
 *
 * Thread safety: all functions are reentrant except the progress bar, which
 * belongs to one thread. None of these may be called on the audio callback.
 */
#ifndef LEC_UTIL_H
#define LEC_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lec_error.h"

/* Seconds on a monotonic clock (CLOCK_MONOTONIC). */
double lec_now_s(void);

/* Read a whole file into a malloc'd buffer (NUL-terminated for convenience;
 * *len excludes the NUL). max_bytes guards against absurd inputs (0 = 1 GiB). */
lec_status lec_read_file(const char *path, size_t max_bytes, char **data, size_t *len,
                         lec_error *err);

/* Crash-safe writing: output goes to "<path>.tmp.<pid>" and only a successful
 * lec_atomic_commit() (fflush + fsync + rename) makes it appear under <path>.
 * A failure (disk full...) or lec_atomic_abort() removes the temporary, so a
 * half-written file never looks valid and an older complete file survives. */
typedef struct lec_atomic_file {
    FILE *fp;
    char path[4096];
    char tmp[4200];
} lec_atomic_file;

lec_status lec_atomic_open(lec_atomic_file *af, const char *path, lec_error *err);
lec_status lec_atomic_commit(lec_atomic_file *af, lec_error *err);
void lec_atomic_abort(lec_atomic_file *af);
/* Convenience: write a buffer to path atomically. */
lec_status lec_write_file_atomic(const char *path, const void *data, size_t len, lec_error *err);

/* mkdir -p */
lec_status lec_mkdir_p(const char *path, lec_error *err);

/* Progress bar on stderr. On a terminal it redraws one line (at most ~10
 * times/s); otherwise it prints a line every 10% so CI logs stay short.
 * Silent when LEC_QUIET is set in the environment. */
typedef struct lec_progress {
    char label[64];
    int64_t total;
    int64_t done;
    double t_start;
    double t_last;
    int last_decile;
    int tty;
    int quiet;
} lec_progress;

void lec_progress_begin(lec_progress *p, const char *label, int64_t total);
/* extra: optional short text shown after the bar (e.g. "loss 1.23"), may be NULL. */
void lec_progress_update(lec_progress *p, int64_t done, const char *extra);
void lec_progress_end(lec_progress *p, const char *extra);

#endif
