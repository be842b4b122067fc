/* lec_source.h -- where the follower's audio comes from: a live input device,
 * an audio file, or an audio file replayed in real time.
 *
 * Every source delivers MONO float samples in [-1, 1] at one rate, the model
 * rate (cfg.sample_rate, 22050 Hz by default): multi-channel input is mixed
 * down by averaging the channels, and any other rate is converted with
 * libsamplerate. Backends (one .c each, behind this header):
 *   LEC_SOURCE_FILE           libsndfile: any format/rate/channel count it reads;
 *                             reads as fast as the caller asks.
 *   LEC_SOURCE_FILE_REALTIME  the same file, but read() returns samples no
 *                             faster than the wall clock allows (replay).
 *   LEC_SOURCE_CAPTURE        a PortAudio input stream. Its callback only mixes
 *                             to mono into a lock-free ring (lec_ring.h) and
 *                             counts overflows; read() drains the ring and
 *                             resamples on the caller's thread.
 *
 * Resampler: SRC_SINC_FASTEST by default. Its pass band is 80% of the output
 * Nyquist (8.8 kHz at 22050 Hz), above the spectrogram's top band (6 kHz),
 * with ~97 dB SNR; SRC_SINC_MEDIUM_QUALITY only widens the pass band (90%) at
 * twice the cost (measured: 44.1 -> 22.05 kHz mono at 391x vs 192x real time
 * on one core), which buys nothing for these features and costs CPU on the
 * live path that shares 2 cores with the network.
 *
 * Damaged files: a WAV/AIFF whose data chunk declares more bytes than the file
 * holds is rejected at create (LEC_EFORMAT, "truncated"): libsndfile would
 * silently shorten it. Formats whose damage only shows while decoding (FLAC,
 * Ogg...) fail in lec_source_read with LEC_EFORMAT once the decoder delivers
 * fewer frames than the header declares; samples before that were valid.
 *
 * Thread safety: a lec_source belongs to one consumer thread (create, read,
 * destroy, getters). The capture backend additionally runs PortAudio's
 * callback thread internally; the counters it updates are atomics, so the
 * getters below may also be called from any thread while reading.
 */
#ifndef LEC_SOURCE_H
#define LEC_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "lec_error.h"

typedef enum {
    LEC_SOURCE_FILE = 0,
    LEC_SOURCE_FILE_REALTIME,
    LEC_SOURCE_CAPTURE,
} lec_source_kind;

typedef struct lec_source_config {
    lec_source_kind kind;
    const char *path;    /* file kinds: the audio file */
    const char *device;  /* capture: NULL or "" = default input device; all
                            digits = PortAudio device index; otherwise a
                            case-insensitive (sub)string of the device name */
    int sample_rate;     /* Hz of the delivered samples (model rate); 22050 */
    int resample_quality;/* libsamplerate converter: SRC_SINC_FASTEST (2) default */
    int channels;        /* capture: channels to open, 0 = min(device max, 2) */
    double ring_s;       /* capture: ring capacity in seconds at the device rate; 2 */
    double latency_s;    /* capture: suggested input latency, 0 = device's low default */
    double stall_s;      /* capture: read() fails (LEC_EDEVICE) when the stream
                            has delivered nothing for this long; 2 */
} lec_source_config;

typedef struct lec_source lec_source;

void lec_source_config_default(lec_source_config *cfg);

/* Opens the file (validating it: missing, empty, not audio, truncated...) or
 * the device and starts the stream. NULL + err on failure, with a message
 * that names the file or device. Allocates; not real-time. */
lec_source *lec_source_create(const lec_source_config *cfg, lec_error *err);
void lec_source_destroy(lec_source *s); /* NULL-safe; stops a live stream */

/* Read up to max samples into out (mono, sample_rate). *n_read may be less
 * than max: a file source fills out completely except at its end; a
 * real-time file source returns what the clock allows; capture returns what
 * has arrived, waiting up to timeout_ms (polling with short sleeps) for at
 * least one sample. timeout_ms is ignored by LEC_SOURCE_FILE.
 * Returns LEC_OK with *n_read == 0 at the end of a file (lec_source_finished()
 * is then true) or when a live source timed out. Errors: LEC_EFORMAT for a
 * file that turns out truncated/corrupt while reading, LEC_EDEVICE when the
 * stream stopped or stalled. Never allocates. */
lec_status lec_source_read(lec_source *s, float *out, size_t max, size_t *n_read, int timeout_ms,
                           lec_error *err);

/* True once a file source has delivered its last sample. Never for capture. */
int lec_source_finished(const lec_source *s);

lec_source_kind lec_source_kind_of(const lec_source *s);
int lec_source_sample_rate_hz(const lec_source *s);   /* delivered rate */
double lec_source_input_rate_hz(const lec_source *s); /* file's or device's own rate */
int lec_source_input_channels(const lec_source *s);   /* before mixing to mono */
/* Whole file's duration (its frames / its rate); -1 for a live source. */
double lec_source_duration_s(const lec_source *s);
/* Samples delivered so far / sample_rate: the position of the next sample. */
double lec_source_position_s(const lec_source *s);
uint64_t lec_source_samples_read(const lec_source *s);
/* File path or device name. */
const char *lec_source_name(const lec_source *s);

/* Capture statistics (0 for files): ring overflow events and the samples
 * they dropped, overflows reported by the device itself (paInputOverflow),
 * and the stream's input latency as PortAudio reports it. */
uint64_t lec_source_overflows(const lec_source *s);
uint64_t lec_source_dropped_samples(const lec_source *s);
uint64_t lec_source_device_overflows(const lec_source *s);
double lec_source_input_latency_s(const lec_source *s);

#endif
