/* playback.h -- `lectern replay`'s audio output: a PortAudio output stream
 * playing a buffer preloaded in memory, and the playback clock the follower
 * is fed from.
 *
 * The callback only copies from the buffer (mono, duplicated to every output
 * channel) or writes silence (paused, past the end), applies a pending seek,
 * and publishes its read position with an atomic store: no allocation, no
 * locks, no logging, no system calls.
 *
 * The clock: "heard" = frames the callback has taken from the buffer minus the
 * output latency PortAudio reports for the stream (the frames still on their
 * way to the speaker), in frames of the buffer. Its granularity is the
 * callback's buffer (a few ms .. ~20 ms on ALSA), below the follower's hop
 * (~46 ms at 22050 Hz / 1024).
 *
 * Thread safety: create/start/destroy on one thread; heard_frames,
 * set_paused, seek, finished from any one other thread (atomics).
 */
#ifndef LEC_PLAYBACK_H
#define LEC_PLAYBACK_H

#include <stddef.h>
#include <stdint.h>

#include "lec_error.h"

typedef struct lec_playback lec_playback;

/* Opens (does not start) an output stream on `device` (NULL/"" = the default
 * output; all digits = PortAudio index; else a unique case-insensitive part of
 * a name), at want_rate_hz if the device takes it, else at its default rate.
 * LEC_EDEVICE naming the device on failure. */
lec_playback *lec_playback_create(const char *device, int want_rate_hz, lec_error *err);
void lec_playback_destroy(lec_playback *p); /* NULL-safe; stops the stream */

int lec_playback_rate_hz(const lec_playback *p);
double lec_playback_latency_s(const lec_playback *p); /* reported output latency */
const char *lec_playback_device_name(const lec_playback *p);

/* Starts playing buf (n mono frames at lec_playback_rate_hz; borrowed, must
 * outlive the stream) from frame 0. */
lec_status lec_playback_start(lec_playback *p, const float *buf, size_t n, lec_error *err);

/* Frames of the buffer heard so far (see above); 0 while a seek is pending. */
int64_t lec_playback_heard_frames(const lec_playback *p);
void lec_playback_set_paused(lec_playback *p, int paused);
/* Continue from `frame` (applied by the next callback). */
void lec_playback_seek(lec_playback *p, size_t frame);
/* Callbacks the device flagged as late (an audible gap: the machine is too
 * busy); any thread. */
uint64_t lec_playback_underflows(const lec_playback *p);
/* 1 once the whole buffer has been heard. */
int lec_playback_finished(const lec_playback *p);

#endif
