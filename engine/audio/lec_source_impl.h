/* lec_source_impl.h -- INTERNAL: what the backends behind lec_source.h share.
 * Not installed, not for users of lec_audio. */
#ifndef LEC_SOURCE_IMPL_H
#define LEC_SOURCE_IMPL_H

#include <samplerate.h>

#include "lec_source.h"

typedef struct lec_source_ops {
    lec_status (*read)(lec_source *s, float *out, size_t max, size_t *n_read, int timeout_ms,
                       lec_error *err);
    void (*destroy)(lec_source *s); /* frees s->impl (not s) */
    /* capture statistics; NULL for files */
    uint64_t (*overflows)(const lec_source *s);
    uint64_t (*dropped)(const lec_source *s);
    uint64_t (*device_overflows)(const lec_source *s);
} lec_source_ops;

struct lec_source {
    lec_source_kind kind;
    const lec_source_ops *ops;
    void *impl;
    int sample_rate;      /* delivered, Hz */
    double input_rate;    /* file/device rate, Hz */
    int input_channels;
    double duration_s;    /* -1 = unknown (live) */
    double latency_s;
    uint64_t samples_read;
    int finished;
    char name[512];
};

/* Mono -> mono rate conversion with libsamplerate's streaming API, or a plain
 * copy when the rates are equal. State is allocated at init only. */
typedef struct lec_resampler {
    SRC_STATE *src; /* NULL = passthrough */
    double ratio;   /* out_rate / in_rate */
} lec_resampler;

lec_status lec_resampler_init(lec_resampler *rs, double in_rate, int out_rate, int quality,
                              const char *what, lec_error *err);
/* Consume up to n_in samples of in, produce up to max_out samples into out;
 * end != 0 flushes the converter's tail (the input has ended). Never
 * allocates. */
lec_status lec_resampler_process(lec_resampler *rs, const float *in, size_t n_in, float *out,
                                 size_t max_out, int end, size_t *used, size_t *made,
                                 const char *what, lec_error *err);
void lec_resampler_free(lec_resampler *rs);

/* Backends: fill in s (already zeroed, common fields preset by the
 * dispatcher) or return an error. */
lec_status lec_source_file_open(lec_source *s, const lec_source_config *cfg, lec_error *err);
lec_status lec_source_capture_open(lec_source *s, const lec_source_config *cfg, lec_error *err);

/* Sleep helper for consumers (never used on the audio callback). */
void lec_sleep_s(double seconds);

#endif
