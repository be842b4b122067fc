/* lec_capture_internal.h -- INTERNAL to lec_audio and its tests: the live
 * capture callback, exposed so that a test can drive the real function
 * directly and wrap it (to count allocations made while it runs). */
#ifndef LEC_CAPTURE_INTERNAL_H
#define LEC_CAPTURE_INTERNAL_H

#include <portaudio.h>
#include <stdatomic.h>

#include "lec_ring.h"
#include "lec_source.h"

/* What the callback touches: the ring (producer side) and atomic counters.
 * Lives inside the capture source; its address is PortAudio's user data. */
typedef struct lec_capture_shared {
    lec_ring *ring;
    int channels;                         /* interleaved input channels */
    atomic_uint_fast64_t callbacks;       /* callback invocations */
    atomic_uint_fast64_t frames;          /* frames offered by the device */
    atomic_uint_fast64_t device_overflows;/* callbacks flagged paInputOverflow */
} lec_capture_shared;

/* The PortAudio stream callback: mixes `frames` interleaved float frames of
 * `input` to mono straight into the ring (dropping and counting what does
 * not fit), bumps the counters and returns paContinue. Nothing else: no
 * allocation, locks, logging, I/O or system calls. */
int lec_capture_callback(const void *input, void *output, unsigned long frames,
                         const PaStreamCallbackTimeInfo *time_info,
                         PaStreamCallbackFlags status, void *user);

/* lec_source_create for LEC_SOURCE_CAPTURE, but the stream calls `cb` (with
 * the lec_capture_shared* as user data) instead of lec_capture_callback; a
 * test wraps the real callback this way. */
lec_source *lec_source_capture_create_cb(const lec_source_config *cfg, PaStreamCallback *cb,
                                         lec_error *err);

/* Number of callbacks the stream has made so far (any thread). */
uint64_t lec_source_capture_callbacks(const lec_source *s);

#endif
