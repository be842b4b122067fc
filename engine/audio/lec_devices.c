/* lec_devices.c -- see lec_devices.h. */
#include "lec_devices.h"

#include <portaudio.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef LEC_HAVE_ALSA
#include <alsa/asoundlib.h>
#endif
#ifdef LEC_HAVE_JACK
#include <jack/jack.h>
#endif

lec_status lec_devices_list(lec_device_info **devs, int *n, lec_error *err)
{
    *devs = NULL;
    *n = 0;
    PaError pe = Pa_Initialize();
    if (pe != paNoError)
        return lec_error_set(err, LEC_EDEVICE, "PortAudio could not initialise: %s",
                             Pa_GetErrorText(pe));
    int count = Pa_GetDeviceCount();
    if (count < 0) {
        lec_error_set(err, LEC_EDEVICE, "PortAudio could not list devices: %s",
                      Pa_GetErrorText(count));
        Pa_Terminate();
        return LEC_EDEVICE;
    }
    lec_device_info *d = calloc(count > 0 ? (size_t)count : 1, sizeof *d);
    if (!d) {
        Pa_Terminate();
        return lec_error_set(err, LEC_ENOMEM, "listing audio devices: out of memory");
    }
    PaDeviceIndex def_in = Pa_GetDefaultInputDevice();
    PaDeviceIndex def_out = Pa_GetDefaultOutputDevice();
    for (int i = 0; i < count; i++) {
        const PaDeviceInfo *pi = Pa_GetDeviceInfo(i);
        d[i].index = i;
        if (!pi)
            continue;
        const PaHostApiInfo *hi = Pa_GetHostApiInfo(pi->hostApi);
        snprintf(d[i].name, sizeof d[i].name, "%s", pi->name ? pi->name : "?");
        snprintf(d[i].host_api, sizeof d[i].host_api, "%s", hi && hi->name ? hi->name : "?");
        d[i].max_input_channels = pi->maxInputChannels;
        d[i].max_output_channels = pi->maxOutputChannels;
        d[i].default_rate_hz = pi->defaultSampleRate;
        d[i].default_low_input_latency_s = pi->defaultLowInputLatency;
        d[i].is_default_input = i == def_in;
        d[i].is_default_output = i == def_out;
    }
    Pa_Terminate();
    *devs = d;
    *n = count;
    return LEC_OK;
}

#ifdef LEC_HAVE_ALSA
static void alsa_silent(const char *file, int line, const char *func, int e, const char *fmt, ...)
{
    (void)file;
    (void)line;
    (void)func;
    (void)e;
    (void)fmt;
}
#endif
#ifdef LEC_HAVE_JACK
static void jack_silent(const char *msg) { (void)msg; }
#endif

void lec_audio_silence_backend_logs(void)
{
#ifdef LEC_HAVE_ALSA
    snd_lib_error_set_handler(alsa_silent);
#endif
#ifdef LEC_HAVE_JACK
    jack_set_error_function(jack_silent);
    jack_set_info_function(jack_silent);
#endif
}
