/* lec_proc.h -- run an external tool (lilypond, convert-ly, cp) as a child
 * process: posix_spawn, no shell, its own process group (so that a timeout
 * also kills the tools it starts, e.g. lilypond's ghostscript), stdout and
 * stderr appended to a log file, optional working directory and extra
 * environment variables.
 *
 * Thread safety: reentrant (no shared state). Not for the audio callback.
 */
#ifndef LEC_PROC_H
#define LEC_PROC_H

#include "lec_error.h"

typedef struct lec_proc_result {
    int exit_code;   /* exit status, or 128 + signal; -1 if it never ran */
    int timed_out;   /* 1 if killed after the timeout */
    double wall_s;   /* wall time */
} lec_proc_result;

/* argv[0] is searched in PATH. cwd may be NULL (inherit). env_extra is a
 * NULL-terminated list of "NAME=value" added to the environment (may be
 * NULL). log_path may be NULL (output discarded). timeout_s <= 0: none.
 * Returns LEC_OK when the child ran and exited 0; LEC_EEXTERNAL naming the
 * tool and the exit code / timeout otherwise (res is filled in any case). */
lec_status lec_proc_run(const char *const *argv, const char *cwd, const char *const *env_extra,
                        const char *log_path, double timeout_s, lec_proc_result *res,
                        lec_error *err);

#endif
