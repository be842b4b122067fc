/* playback_internal.h -- INTERNAL to playback.c and its test: the output
 * stream callback, exposed so that a test can drive the real function through
 * a wrapper (to count allocations made while it runs), as
 * engine/audio/lec_capture_internal.h does for capture. */
#ifndef LEC_PLAYBACK_INTERNAL_H
#define LEC_PLAYBACK_INTERNAL_H

#include <portaudio.h>

#include "playback.h"

/* The PortAudio stream callback; user data = the lec_playback. */
int lec_playback_callback(const void *input, void *output, unsigned long frames,
                          const PaStreamCallbackTimeInfo *ti, PaStreamCallbackFlags status,
                          void *user);

/* lec_playback_create, but the stream calls cb (user data = the
 * lec_playback*) instead of lec_playback_callback. */
lec_playback *lec_playback_create_cb(const char *device, int want_rate_hz, PaStreamCallback *cb,
                                     lec_error *err);

#endif
