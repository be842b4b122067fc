/* lec_source_file.c -- LEC_SOURCE_FILE and LEC_SOURCE_FILE_REALTIME:
 * libsndfile -> mix to mono -> libsamplerate, optionally paced by the clock. */
#include "lec_source_impl.h"

#include <errno.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lec_util.h"

/* Frames decoded per libsndfile call: 4096 frames keeps the interleaved
 * staging buffer small (4096 * channels floats) while amortising calls. */
#define FILE_BLOCK 4096

typedef struct file_impl {
    SNDFILE *sf;
    SF_INFO info;
    sf_count_t frames_read; /* file frames decoded so far */
    float *ibuf;            /* (FILE_BLOCK, channels) interleaved */
    float mono[FILE_BLOCK]; /* mixed block at the file's rate */
    size_t mono_len, mono_pos;
    int in_eof;
    lec_resampler rs;
    int realtime;
    int started;
    double t0; /* realtime: wall clock of the first read, s */
} file_impl;

/* ---- header sanity check for RIFF/WAVE and AIFF ------------------------
 * libsndfile quietly shortens the frame count of a WAV whose data chunk is
 * cut off, so a truncated file would otherwise pass as a shorter recording.
 * We walk the chunk list ourselves and report the mismatch. */

static uint32_t rd_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint32_t rd_be32(const unsigned char *p)
{
    return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

static lec_status check_chunks(const char *path, long long file_size, lec_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return lec_error_set(err, LEC_EIO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char h[12];
    lec_status st = LEC_OK;
    if (fread(h, 1, 12, fp) != 12) {
        fclose(fp);
        return LEC_OK; /* too short for RIFF/AIFF: libsndfile will judge it */
    }
    int riff = memcmp(h, "RIFF", 4) == 0 && memcmp(h + 8, "WAVE", 4) == 0;
    int aiff = memcmp(h, "FORM", 4) == 0 &&
               (memcmp(h + 8, "AIFF", 4) == 0 || memcmp(h + 8, "AIFC", 4) == 0);
    if (!riff && !aiff) {
        fclose(fp);
        return LEC_OK;
    }
    const char *kind = riff ? "WAV" : "AIFF";
    const char *data_id = riff ? "data" : "SSND";
    long long pos = 12;
    for (int guard = 0; guard < 4096; guard++) {
        unsigned char c[8];
        if (fseek(fp, (long)pos, SEEK_SET) != 0 || fread(c, 1, 8, fp) != 8)
            break; /* end of the chunk list */
        uint32_t size = riff ? rd_le32(c + 4) : rd_be32(c + 4);
        long long body = pos + 8;
        long long present = file_size - body;
        if (memcmp(c, data_id, 4) == 0) {
            /* 0 and 0xFFFFFFFF mean "unknown/streamed" (RF64-style or a
             * recorder that never fixed the header): nothing to check. */
            if (size != 0 && size != 0xFFFFFFFFu && (long long)size > present)
                st = lec_error_set(err, LEC_EFORMAT,
                                   "%s: truncated %s file: the header declares %lu bytes of "
                                   "audio data but only %lld bytes are present",
                                   path, kind, (unsigned long)size, present < 0 ? 0 : present);
            break;
        }
        pos = body + size + (size & 1); /* chunks are padded to even sizes */
    }
    fclose(fp);
    return st;
}

/* ---- reading ----------------------------------------------------------- */

/* Decode the next block and mix it to mono. */
static lec_status fill_block(lec_source *s, file_impl *f, lec_error *err)
{
    f->mono_pos = f->mono_len = 0;
    sf_count_t left = f->info.frames - f->frames_read;
    if (left <= 0) {
        f->in_eof = 1;
        return LEC_OK;
    }
    sf_count_t want = left < FILE_BLOCK ? left : FILE_BLOCK;
    sf_count_t got = sf_readf_float(f->sf, f->ibuf, want);
    if (got < want) {
        const char *why = sf_error(f->sf) ? sf_strerror(f->sf) : "unexpected end of file";
        return lec_error_set(err, LEC_EFORMAT,
                             "%s: truncated or corrupt audio: %s after %lld of the %lld frames "
                             "the header declares",
                             s->name, why, (long long)(f->frames_read + (got > 0 ? got : 0)),
                             (long long)f->info.frames);
    }
    f->frames_read += got;
    int ch = f->info.channels;
    if (ch == 1) {
        memcpy(f->mono, f->ibuf, (size_t)got * sizeof(float));
    } else {
        float inv = 1.0f / (float)ch;
        for (sf_count_t i = 0; i < got; i++) {
            const float *fr = f->ibuf + i * ch;
            float acc = 0.0f;
            for (int c = 0; c < ch; c++)
                acc += fr[c];
            f->mono[i] = acc * inv;
        }
    }
    f->mono_len = (size_t)got;
    return LEC_OK;
}

static lec_status file_read(lec_source *s, float *out, size_t max, size_t *n_read, int timeout_ms,
                            lec_error *err)
{
    file_impl *f = s->impl;
    size_t want = max;
    if (f->realtime) {
        /* Deliver no sample before its time: sample k is due at t0 + k/rate. */
        double now = lec_now_s();
        if (!f->started) {
            f->started = 1;
            f->t0 = now;
        }
        double deadline = timeout_ms < 0 ? 1e300 : now + timeout_ms / 1000.0;
        for (;;) {
            double due = (now - f->t0) * s->sample_rate - (double)s->samples_read;
            if (due >= 1.0) {
                if ((double)want > due)
                    want = (size_t)due;
                break;
            }
            if (now >= deadline)
                return LEC_OK; /* nothing due yet: a timeout, not the end */
            double wait = (1.0 - due) / s->sample_rate + 0.0005;
            if (now + wait > deadline)
                wait = deadline - now;
            lec_sleep_s(wait);
            now = lec_now_s();
        }
    }
    size_t made_total = 0;
    while (made_total < want) {
        if (f->mono_pos == f->mono_len && !f->in_eof) {
            lec_status st = fill_block(s, f, err);
            if (st != LEC_OK) {
                *n_read = made_total;
                return st;
            }
        }
        size_t used = 0, made = 0;
        lec_status st = lec_resampler_process(&f->rs, f->mono + f->mono_pos,
                                              f->mono_len - f->mono_pos, out + made_total,
                                              want - made_total, f->in_eof, &used, &made,
                                              s->name, err);
        if (st != LEC_OK) {
            *n_read = made_total;
            return st;
        }
        f->mono_pos += used;
        made_total += made;
        if (f->in_eof && f->mono_pos == f->mono_len && made == 0) {
            s->finished = 1;
            break;
        }
    }
    *n_read = made_total;
    return LEC_OK;
}

static void file_destroy(lec_source *s)
{
    file_impl *f = s->impl;
    if (!f)
        return;
    if (f->sf)
        sf_close(f->sf);
    lec_resampler_free(&f->rs);
    free(f->ibuf);
    free(f);
    s->impl = NULL;
}

static const lec_source_ops file_ops = {
    .read = file_read,
    .destroy = file_destroy,
};

lec_status lec_source_file_open(lec_source *s, const lec_source_config *cfg, lec_error *err)
{
    const char *path = cfg->path;
    if (!path || !*path)
        return lec_error_set(err, LEC_EINVAL, "audio file source: no file given");
    snprintf(s->name, sizeof s->name, "%s", path);
    struct stat stt;
    if (stat(path, &stt) != 0)
        return lec_error_set(err, LEC_EIO, "%s: %s", path,
                             errno == ENOENT ? "no such file" : strerror(errno));
    if (S_ISDIR(stt.st_mode))
        return lec_error_set(err, LEC_EIO, "%s: is a directory, not an audio file", path);
    if (S_ISREG(stt.st_mode) && stt.st_size == 0)
        return lec_error_set(err, LEC_EFORMAT, "%s: empty file (0 bytes), not audio", path);
    if (S_ISREG(stt.st_mode)) {
        lec_status st = check_chunks(path, (long long)stt.st_size, err);
        if (st != LEC_OK)
            return st;
    }

    file_impl *f = calloc(1, sizeof *f);
    if (!f)
        return lec_error_set(err, LEC_ENOMEM, "%s: out of memory", path);
    s->impl = f;
    s->ops = &file_ops;
    f->realtime = cfg->kind == LEC_SOURCE_FILE_REALTIME;
    lec_status st = LEC_OK;
    f->sf = sf_open(path, SFM_READ, &f->info);
    if (!f->sf) {
        st = lec_error_set(err, LEC_EFORMAT, "%s: not an audio file libsndfile can read (%s)",
                           path, sf_strerror(NULL));
        goto fail;
    }
    if (f->info.channels <= 0 || f->info.channels > 1024 || f->info.samplerate <= 0) {
        st = lec_error_set(err, LEC_EFORMAT, "%s: implausible header: %d channels at %d Hz", path,
                           f->info.channels, f->info.samplerate);
        goto fail;
    }
    if (f->info.frames <= 0 || f->info.frames == SF_COUNT_MAX) {
        st = lec_error_set(err, LEC_EFORMAT, "%s: contains no audio samples", path);
        goto fail;
    }
    /* Normalise integer formats to [-1, 1] (libsndfile's default for
     * float reads, set explicitly because we rely on it). */
    sf_command(f->sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
    f->ibuf = malloc((size_t)FILE_BLOCK * (size_t)f->info.channels * sizeof(float));
    if (!f->ibuf) {
        st = lec_error_set(err, LEC_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    st = lec_resampler_init(&f->rs, f->info.samplerate, cfg->sample_rate, cfg->resample_quality,
                            path, err);
    if (st != LEC_OK)
        goto fail;
    s->input_rate = f->info.samplerate;
    s->input_channels = f->info.channels;
    s->duration_s = (double)f->info.frames / f->info.samplerate;
    return LEC_OK;
fail:
    file_destroy(s);
    return st;
}
