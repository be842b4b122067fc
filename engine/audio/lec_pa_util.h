/* lec_pa_util.h -- PortAudio helpers shared by the live capture source
 * (lec_source_capture.c) and replay's audio output (app/playback.c): a
 * readable error text, and the device a --device spec names.
 *
 * Thread safety: the control thread that opens streams, after Pa_Initialize;
 * never on an audio callback (they query PortAudio and format text). */
#ifndef LEC_PA_UTIL_H
#define LEC_PA_UTIL_H

#include <portaudio.h>

#include "lec_error.h"

typedef enum lec_pa_dir { LEC_PA_INPUT, LEC_PA_OUTPUT } lec_pa_dir;

/* PortAudio's text for e; for paUnanticipatedHostError the host API's own
 * message when it gives one (it says more, e.g. ALSA's "Device busy"). */
const char *lec_pa_error_text(PaError e);

/* The device `spec` names among the devices with channels in direction dir:
 * NULL or "" the default device; all digits: that index; else a name, where
 * an exact (case-insensitive) name wins, else a unique substring (several
 * substring matches are an error, not a guess). LEC_EDEVICE with a message
 * that lists the candidates when nothing fits. */
lec_status lec_pa_find_device(const char *spec, lec_pa_dir dir, PaDeviceIndex *out,
                              lec_error *err);

#endif
