/* lec_error.h -- status codes and readable error messages.
 *
 * Library code never exits and never prints: it returns a lec_status and, when
 * given a non-NULL lec_error*, fills in a message that names the file/device
 * and the problem. Only app/ decides what to print and whether to exit.
 *
 * Thread safety: a lec_error belongs to one caller; functions here are
 * reentrant. Not for use on the audio callback (formats strings).
 */
#ifndef LEC_ERROR_H
#define LEC_ERROR_H

#include <stddef.h>

typedef enum {
    LEC_OK = 0,
    LEC_EINVAL,       /* bad argument or configuration */
    LEC_ENOMEM,       /* allocation failed */
    LEC_EIO,          /* could not open/read/write a file */
    LEC_EFORMAT,      /* file exists but its content is malformed */
    LEC_EUNSUPPORTED, /* well-formed but not something we handle */
    LEC_EDEVICE,      /* audio device missing or failed */
    LEC_EEXTERNAL,    /* an external tool (lilypond, fluidsynth...) failed */
    LEC_EINTERRUPTED  /* stopped by the user (SIGINT) */
} lec_status;

#define LEC_ERROR_MSG_MAX 1024

typedef struct lec_error {
    lec_status code;
    char msg[LEC_ERROR_MSG_MAX];
} lec_error;

/* Set *err (if non-NULL) to code + printf-style message; returns code so that
 * callers can write `return lec_error_set(err, LEC_EIO, "%s: ...", path);`. */
lec_status lec_error_set(lec_error *err, lec_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix the existing message with more context ("loading model: " + msg). */
lec_status lec_error_prefix(lec_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void lec_error_clear(lec_error *err);

/* Short name of a status ("I/O error", "bad format", ...). */
const char *lec_status_str(lec_status code);

#endif
