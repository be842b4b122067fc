#include "lec_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

lec_status lec_error_set(lec_error *err, lec_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

lec_status lec_error_prefix(lec_error *err, const char *fmt, ...)
{
    if (!err)
        return LEC_OK;
    char prefix[LEC_ERROR_MSG_MAX];
    char old[LEC_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    /* prefix + old message, truncated to fit (truncation is intended) */
    size_t np = strlen(prefix), no = strlen(old), cap = sizeof err->msg - 1;
    if (np > cap)
        np = cap;
    if (no > cap - np)
        no = cap - np;
    memcpy(err->msg, prefix, np);
    memcpy(err->msg + np, old, no);
    err->msg[np + no] = '\0';
    return err->code;
}

void lec_error_clear(lec_error *err)
{
    if (err) {
        err->code = LEC_OK;
        err->msg[0] = '\0';
    }
}

const char *lec_status_str(lec_status code)
{
    switch (code) {
    case LEC_OK: return "ok";
    case LEC_EINVAL: return "invalid argument";
    case LEC_ENOMEM: return "out of memory";
    case LEC_EIO: return "I/O error";
    case LEC_EFORMAT: return "bad format";
    case LEC_EUNSUPPORTED: return "unsupported";
    case LEC_EDEVICE: return "audio device error";
    case LEC_EEXTERNAL: return "external tool failed";
    case LEC_EINTERRUPTED: return "interrupted";
    }
    return "unknown error";
}
