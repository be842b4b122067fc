#define _POSIX_C_SOURCE 200809L
#include "lec_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double lec_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

lec_status lec_read_file(const char *path, size_t max_bytes, char **data, size_t *len,
                         lec_error *err)
{
    *data = NULL;
    if (len)
        *len = 0;
    if (max_bytes == 0)
        max_bytes = (size_t)1 << 30;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return lec_error_set(err, LEC_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return lec_error_set(err, LEC_EIO, "%s: not a regular file", path);
    }
    if ((size_t)st.st_size > max_bytes) {
        fclose(fp);
        return lec_error_set(err, LEC_EFORMAT, "%s: file too large (%lld bytes, limit %zu)", path,
                             (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(fp);
        return lec_error_set(err, LEC_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, fp);
    int rerr = ferror(fp);
    fclose(fp);
    if (got != n || rerr) {
        free(buf);
        return lec_error_set(err, LEC_EIO, "%s: read error", path);
    }
    buf[n] = '\0';
    *data = buf;
    if (len)
        *len = n;
    return LEC_OK;
}

lec_status lec_atomic_open(lec_atomic_file *af, const char *path, lec_error *err)
{
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path)
        return lec_error_set(err, LEC_EINVAL, "%s: path too long", path);
    snprintf(af->path, sizeof af->path, "%s", path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->fp = fopen(af->tmp, "wb");
    if (!af->fp)
        return lec_error_set(err, LEC_EIO, "%s: cannot create: %s", af->tmp, strerror(errno));
    return LEC_OK;
}

lec_status lec_atomic_commit(lec_atomic_file *af, lec_error *err)
{
    if (!af->fp)
        return lec_error_set(err, LEC_EINVAL, "%s: not open", af->path);
    int bad = ferror(af->fp) || fflush(af->fp) != 0 || fsync(fileno(af->fp)) != 0;
    int e = errno;
    if (fclose(af->fp) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    af->fp = NULL;
    if (bad) {
        unlink(af->tmp);
        return lec_error_set(err, LEC_EIO, "%s: write failed: %s (nothing was replaced)", af->path,
                             strerror(e));
    }
    if (rename(af->tmp, af->path) != 0) {
        e = errno;
        unlink(af->tmp);
        return lec_error_set(err, LEC_EIO, "%s: cannot rename into place: %s", af->path,
                             strerror(e));
    }
    return LEC_OK;
}

void lec_atomic_abort(lec_atomic_file *af)
{
    if (af->fp) {
        fclose(af->fp);
        af->fp = NULL;
    }
    if (af->tmp[0])
        unlink(af->tmp);
}

lec_status lec_write_file_atomic(const char *path, const void *data, size_t len, lec_error *err)
{
    lec_atomic_file af;
    lec_status st = lec_atomic_open(&af, path, err);
    if (st)
        return st;
    if (len && fwrite(data, 1, len, af.fp) != len) {
        int e = errno;
        lec_atomic_abort(&af);
        return lec_error_set(err, LEC_EIO, "%s: write failed: %s", path, strerror(e));
    }
    return lec_atomic_commit(&af, err);
}

lec_status lec_mkdir_p(const char *path, lec_error *err)
{
    char buf[4096];
    if (strlen(path) >= sizeof buf)
        return lec_error_set(err, LEC_EINVAL, "%s: path too long", path);
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return lec_error_set(err, LEC_EIO, "%s: cannot create directory: %s", buf,
                                     strerror(errno));
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return lec_error_set(err, LEC_EIO, "%s: cannot create directory: %s", buf,
                             strerror(errno));
    return LEC_OK;
}

static void progress_draw(lec_progress *p, const char *extra, int final)
{
    double now = lec_now_s();
    double el = now - p->t_start;
    double frac = p->total > 0 ? (double)p->done / (double)p->total : 0.0;
    if (frac > 1.0)
        frac = 1.0;
    double eta = (frac > 0.0 && !final) ? el * (1.0 - frac) / frac : 0.0;
    if (p->tty) {
        char bar[31];
        int filled = (int)(frac * 30.0 + 0.5);
        for (int i = 0; i < 30; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r%-16s [%s] %lld/%lld %5.1f%% %6.0fs eta %5.0fs %s\033[K", p->label, bar,
                (long long)p->done, (long long)p->total, 100.0 * frac, el, eta,
                extra ? extra : "");
        if (final)
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s: %lld/%lld (%.0f%%) %.0fs elapsed, eta %.0fs %s\n", p->label,
                (long long)p->done, (long long)p->total, 100.0 * frac, el, eta,
                extra ? extra : "");
    }
    fflush(stderr);
    p->t_last = now;
}

void lec_progress_begin(lec_progress *p, const char *label, int64_t total)
{
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total;
    p->t_start = p->t_last = lec_now_s();
    p->tty = isatty(STDERR_FILENO);
    p->quiet = getenv("LEC_QUIET") != NULL;
    p->last_decile = -1;
}

void lec_progress_update(lec_progress *p, int64_t done, const char *extra)
{
    p->done = done;
    if (p->quiet)
        return;
    if (p->tty) {
        if (lec_now_s() - p->t_last >= 0.1)
            progress_draw(p, extra, 0);
    } else {
        int dec = p->total > 0 ? (int)(10 * done / p->total) : 0;
        if (dec != p->last_decile) {
            p->last_decile = dec;
            progress_draw(p, extra, 0);
        }
    }
}

void lec_progress_end(lec_progress *p, const char *extra)
{
    if (p->quiet)
        return;
    progress_draw(p, extra, 1);
}
