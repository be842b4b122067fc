/* lec_devices.h -- the audio devices PortAudio sees, and quieting the
 * diagnostics its backends print.
 *
 * Thread safety: call from one thread, not concurrently with creating or
 * destroying a capture source (PortAudio initialisation is process-global).
 * Never on the audio callback.
 */
#ifndef LEC_DEVICES_H
#define LEC_DEVICES_H

#include "lec_error.h"

typedef struct lec_device_info {
    int index;               /* PortAudio device index, what --device N takes */
    char name[256];
    char host_api[64];       /* "ALSA", "JACK Audio Connection Kit", ... */
    int max_input_channels;  /* 0 = output only */
    int max_output_channels; /* 0 = input only */
    double default_rate_hz;
    double default_low_input_latency_s;
    int is_default_input;
    int is_default_output;
} lec_device_info;

/* All devices, in PortAudio's order; *devs is malloc'd (free() it), *n may be
 * 0. LEC_EDEVICE with PortAudio's message if it cannot initialise. */
lec_status lec_devices_list(lec_device_info **devs, int *n, lec_error *err);

/* ALSA (and JACK, when PortAudio was built with it) print a screenful of
 * "cannot find card" / "jack server is not running" lines to stderr while
 * PortAudio probes devices. This installs silent handlers for both, process
 * wide; errors still reach the user through lec_error. Call once, early,
 * from app/ (library code never changes global logging on its own). */
void lec_audio_silence_backend_logs(void);

#endif
