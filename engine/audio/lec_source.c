/* lec_source.c -- the backend-independent half of lec_source.h: config
 * defaults, dispatch, getters and the shared resampling stage. */
#include "lec_source_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void lec_source_config_default(lec_source_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = LEC_SOURCE_FILE;
    cfg->sample_rate = 22050;
    cfg->resample_quality = SRC_SINC_FASTEST; /* why: see lec_source.h */
    cfg->channels = 0;
    cfg->ring_s = 2.0;
    cfg->latency_s = 0.0;
    cfg->stall_s = 2.0;
}

lec_source *lec_source_create(const lec_source_config *cfg, lec_error *err)
{
    if (!cfg) {
        lec_error_set(err, LEC_EINVAL, "audio source: no configuration");
        return NULL;
    }
    if (cfg->sample_rate < 1000 || cfg->sample_rate > 384000) {
        lec_error_set(err, LEC_EINVAL, "audio source: sample rate %d Hz out of range [1000, 384000]",
                      cfg->sample_rate);
        return NULL;
    }
    if (cfg->resample_quality < SRC_SINC_BEST_QUALITY || cfg->resample_quality > SRC_LINEAR) {
        lec_error_set(err, LEC_EINVAL, "audio source: unknown resampler quality %d",
                      cfg->resample_quality);
        return NULL;
    }
    lec_source *s = calloc(1, sizeof *s);
    if (!s) {
        lec_error_set(err, LEC_ENOMEM, "audio source: out of memory");
        return NULL;
    }
    s->kind = cfg->kind;
    s->sample_rate = cfg->sample_rate;
    s->duration_s = -1.0;
    lec_status st;
    switch (cfg->kind) {
    case LEC_SOURCE_FILE:
    case LEC_SOURCE_FILE_REALTIME:
        st = lec_source_file_open(s, cfg, err);
        break;
    case LEC_SOURCE_CAPTURE:
        st = lec_source_capture_open(s, cfg, err);
        break;
    default:
        st = lec_error_set(err, LEC_EINVAL, "audio source: unknown kind %d", (int)cfg->kind);
    }
    if (st != LEC_OK) {
        free(s); /* backends clean up their own partial state */
        return NULL;
    }
    return s;
}

void lec_source_destroy(lec_source *s)
{
    if (!s)
        return;
    if (s->ops && s->ops->destroy)
        s->ops->destroy(s);
    free(s);
}

lec_status lec_source_read(lec_source *s, float *out, size_t max, size_t *n_read, int timeout_ms,
                           lec_error *err)
{
    *n_read = 0;
    if (max == 0 || s->finished)
        return LEC_OK;
    lec_status st = s->ops->read(s, out, max, n_read, timeout_ms, err);
    /* Keep the header's promise (finite, in [-1, 1]): a float file may hold
     * NaN or 1e30, and the sinc resampler overshoots full-scale input by
     * ~1e-4 (found by tests/fuzz/fuzz_audio). A NaN would poison the
     * spectrogram and the tracker for the rest of the stream; NaN -> 0. */
    for (size_t i = 0; i < *n_read; i++) {
        float v = out[i];
        out[i] = v >= -1.0f ? (v <= 1.0f ? v : 1.0f) : (v < -1.0f ? -1.0f : 0.0f);
    }
    s->samples_read += *n_read;
    return st;
}

int lec_source_finished(const lec_source *s) { return s->finished; }
lec_source_kind lec_source_kind_of(const lec_source *s) { return s->kind; }
int lec_source_sample_rate_hz(const lec_source *s) { return s->sample_rate; }
double lec_source_input_rate_hz(const lec_source *s) { return s->input_rate; }
int lec_source_input_channels(const lec_source *s) { return s->input_channels; }
double lec_source_duration_s(const lec_source *s) { return s->duration_s; }
double lec_source_position_s(const lec_source *s)
{
    return (double)s->samples_read / s->sample_rate;
}
uint64_t lec_source_samples_read(const lec_source *s) { return s->samples_read; }
const char *lec_source_name(const lec_source *s) { return s->name; }
double lec_source_input_latency_s(const lec_source *s) { return s->latency_s; }
uint64_t lec_source_overflows(const lec_source *s)
{
    return s->ops->overflows ? s->ops->overflows(s) : 0;
}
uint64_t lec_source_dropped_samples(const lec_source *s)
{
    return s->ops->dropped ? s->ops->dropped(s) : 0;
}
uint64_t lec_source_device_overflows(const lec_source *s)
{
    return s->ops->device_overflows ? s->ops->device_overflows(s) : 0;
}

/* ---- resampling stage ------------------------------------------------- */

lec_status lec_resampler_init(lec_resampler *rs, double in_rate, int out_rate, int quality,
                              const char *what, lec_error *err)
{
    rs->src = NULL;
    rs->ratio = out_rate / in_rate;
    if (in_rate == (double)out_rate)
        return LEC_OK;
    /* libsamplerate accepts ratios in [1/256, 256]. */
    if (rs->ratio < 1.0 / 256 || rs->ratio > 256)
        return lec_error_set(err, LEC_EUNSUPPORTED,
                             "%s: cannot resample %.0f Hz to %d Hz (ratio beyond 256)", what,
                             in_rate, out_rate);
    int e = 0;
    rs->src = src_new(quality, 1, &e);
    if (!rs->src)
        return lec_error_set(err, LEC_ENOMEM, "%s: cannot create resampler: %s", what,
                             src_strerror(e));
    return LEC_OK;
}

lec_status lec_resampler_process(lec_resampler *rs, const float *in, size_t n_in, float *out,
                                 size_t max_out, int end, size_t *used, size_t *made,
                                 const char *what, lec_error *err)
{
    if (!rs->src) {
        size_t n = n_in < max_out ? n_in : max_out;
        memcpy(out, in, n * sizeof(float));
        *used = *made = n;
        return LEC_OK;
    }
    /* libsamplerate counts in long; our blocks are far below LONG_MAX. */
    SRC_DATA d;
    memset(&d, 0, sizeof d);
    d.data_in = in;
    d.input_frames = (long)n_in;
    d.data_out = out;
    d.output_frames = (long)max_out;
    d.end_of_input = end ? 1 : 0;
    d.src_ratio = rs->ratio;
    int e = src_process(rs->src, &d);
    if (e)
        return lec_error_set(err, LEC_EEXTERNAL, "%s: resampling failed: %s", what,
                             src_strerror(e));
    *used = (size_t)d.input_frames_used;
    *made = (size_t)d.output_frames_gen;
    return LEC_OK;
}

void lec_resampler_free(lec_resampler *rs)
{
    if (rs->src)
        src_delete(rs->src);
    rs->src = NULL;
}

void lec_sleep_s(double seconds)
{
    if (seconds <= 0)
        return;
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}
