/* playback.c -- see playback.h. */
#include "playback.h"
#include "playback_internal.h"

#include <ctype.h>
#include <portaudio.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NO_SEEK SIZE_MAX

struct lec_playback {
    PaStream *stream;
    int pa_init;
    int rate, channels;
    double latency_s;
    char name[256];
    const float *buf;
    size_t n;
    atomic_size_t pos;      /* next buffer frame to play (runs on past n in silence, so that
                               the end is heard too); written by the callback only */
    atomic_size_t seek_req; /* NO_SEEK or the frame to continue from */
    atomic_int paused;
    atomic_uint_fast64_t underflows; /* callbacks flagged paOutputUnderflow */
};

/* The real-time callback: copy or silence, nothing else. */
int lec_playback_callback(const void *input, void *output, unsigned long frames,
                          const PaStreamCallbackTimeInfo *ti, PaStreamCallbackFlags status,
                          void *user)
{
    (void)input, (void)ti;
    lec_playback *p = user;
    if (status & paOutputUnderflow)
        atomic_fetch_add_explicit(&p->underflows, 1, memory_order_relaxed);
    float *out = output;
    size_t seek = atomic_exchange_explicit(&p->seek_req, NO_SEEK, memory_order_acq_rel);
    size_t pos = seek != NO_SEEK ? (seek < p->n ? seek : p->n)
                                 : atomic_load_explicit(&p->pos, memory_order_relaxed);
    int paused = atomic_load_explicit(&p->paused, memory_order_relaxed);
    const int ch = p->channels;
    for (unsigned long i = 0; i < frames; i++) {
        float v = 0.0f;
        if (!paused) { /* past the end: silence, but the clock runs on */
            v = pos < p->n ? p->buf[pos] : 0.0f;
            pos++;
        }
        for (int c = 0; c < ch; c++)
            out[i * (unsigned long)ch + (unsigned long)c] = v;
    }
    atomic_store_explicit(&p->pos, pos, memory_order_release);
    return paContinue;
}

static const char *pa_err_text(PaError e)
{
    if (e == paUnanticipatedHostError) {
        const PaHostErrorInfo *hi = Pa_GetLastHostErrorInfo();
        if (hi && hi->errorText && *hi->errorText)
            return hi->errorText;
    }
    return Pa_GetErrorText(e);
}

static void list_outputs(char *buf, size_t cap)
{
    buf[0] = '\0';
    size_t len = 0;
    for (int i = 0; i < Pa_GetDeviceCount() && len + 1 < cap; i++) {
        const PaDeviceInfo *d = Pa_GetDeviceInfo(i);
        if (!d || d->maxOutputChannels <= 0)
            continue;
        int k = snprintf(buf + len, cap - len, "%s%d '%s'", len ? ", " : "", i, d->name);
        if (k < 0)
            break;
        len += (size_t)k;
    }
    if (!len)
        snprintf(buf, cap, "none");
}

static lec_status find_output(const char *spec, PaDeviceIndex *out, lec_error *err)
{
    int count = Pa_GetDeviceCount();
    char names[600];
    if (count < 0)
        return lec_error_set(err, LEC_EDEVICE, "PortAudio could not list devices: %s",
                             Pa_GetErrorText(count));
    if (!spec || !*spec) {
        PaDeviceIndex d = Pa_GetDefaultOutputDevice();
        if (d == paNoDevice)
            return lec_error_set(err, LEC_EDEVICE,
                                 "no audio output device: PortAudio found %d device(s) and no "
                                 "default output",
                                 count);
        *out = d;
        return LEC_OK;
    }
    int digits = 1;
    for (const char *s = spec; *s; s++)
        digits &= isdigit((unsigned char)*s) != 0;
    if (digits) {
        long idx = strtol(spec, NULL, 10);
        const PaDeviceInfo *d = idx < count ? Pa_GetDeviceInfo((PaDeviceIndex)idx) : NULL;
        if (!d || d->maxOutputChannels <= 0) {
            list_outputs(names, sizeof names);
            return lec_error_set(err, LEC_EDEVICE,
                                 "audio device %ld is not an output device; output devices: %s",
                                 idx, names);
        }
        *out = (PaDeviceIndex)idx;
        return LEC_OK;
    }
    int found = -1, n_sub = 0;
    for (int i = 0; i < count; i++) {
        const PaDeviceInfo *d = Pa_GetDeviceInfo(i);
        if (!d || d->maxOutputChannels <= 0 || !d->name)
            continue;
        if (strcasecmp(d->name, spec) == 0) {
            found = i;
            n_sub = 1;
            break;
        }
        if (strcasestr(d->name, spec)) {
            found = n_sub == 0 ? i : found;
            n_sub++;
        }
    }
    if (n_sub != 1) {
        list_outputs(names, sizeof names);
        return lec_error_set(err, LEC_EDEVICE,
                             "%s output device matches '%s' (give an index or a unique part of "
                             "the name); output devices: %s",
                             n_sub ? "more than one" : "no", spec, names);
    }
    *out = (PaDeviceIndex)found;
    return LEC_OK;
}

lec_playback *lec_playback_create(const char *device, int want_rate_hz, lec_error *err)
{
    return lec_playback_create_cb(device, want_rate_hz, lec_playback_callback, err);
}

lec_playback *lec_playback_create_cb(const char *device, int want_rate_hz, PaStreamCallback *cb,
                                     lec_error *err)
{
    lec_playback *p = calloc(1, sizeof *p);
    if (!p) {
        lec_error_set(err, LEC_ENOMEM, "playback: out of memory");
        return NULL;
    }
    atomic_init(&p->pos, 0);
    atomic_init(&p->seek_req, NO_SEEK);
    atomic_init(&p->paused, 0);
    atomic_init(&p->underflows, 0);
    PaError e = Pa_Initialize();
    if (e != paNoError) {
        lec_error_set(err, LEC_EDEVICE, "cannot initialise audio (PortAudio): %s", pa_err_text(e));
        free(p);
        return NULL;
    }
    p->pa_init = 1;
    PaDeviceIndex dev;
    if (find_output(device, &dev, err) != LEC_OK) {
        lec_playback_destroy(p);
        return NULL;
    }
    const PaDeviceInfo *di = Pa_GetDeviceInfo(dev);
    snprintf(p->name, sizeof p->name, "%s", di->name);
    p->channels = di->maxOutputChannels >= 2 ? 2 : 1;
    PaStreamParameters op = {dev, p->channels, paFloat32, di->defaultHighOutputLatency, NULL};
    /* the model's rate spares a second copy of the audio; else the device's */
    p->rate = Pa_IsFormatSupported(NULL, &op, want_rate_hz) == paFormatIsSupported
                  ? want_rate_hz
                  : (int)(di->defaultSampleRate + 0.5);
    e = Pa_OpenStream(&p->stream, NULL, &op, p->rate, paFramesPerBufferUnspecified, paNoFlag,
                      cb, p);
    if (e != paNoError) {
        lec_error_set(err, LEC_EDEVICE, "cannot open audio output '%s' at %d Hz: %s", p->name,
                      p->rate, pa_err_text(e));
        p->stream = NULL;
        lec_playback_destroy(p);
        return NULL;
    }
    const PaStreamInfo *si = Pa_GetStreamInfo(p->stream);
    p->latency_s = si ? si->outputLatency : 0.0;
    return p;
}

void lec_playback_destroy(lec_playback *p)
{
    if (!p)
        return;
    if (p->stream) {
        Pa_AbortStream(p->stream);
        Pa_CloseStream(p->stream);
    }
    if (p->pa_init)
        Pa_Terminate();
    free(p);
}

int lec_playback_rate_hz(const lec_playback *p) { return p->rate; }
double lec_playback_latency_s(const lec_playback *p) { return p->latency_s; }
const char *lec_playback_device_name(const lec_playback *p) { return p->name; }

lec_status lec_playback_start(lec_playback *p, const float *buf, size_t n, lec_error *err)
{
    p->buf = buf;
    p->n = n;
    atomic_store(&p->pos, 0);
    PaError e = Pa_StartStream(p->stream);
    if (e != paNoError)
        return lec_error_set(err, LEC_EDEVICE, "cannot start audio output '%s': %s", p->name,
                             pa_err_text(e));
    return LEC_OK;
}

int64_t lec_playback_heard_frames(const lec_playback *p)
{
    if (atomic_load(&((lec_playback *)p)->seek_req) != NO_SEEK)
        return 0;
    int64_t pos = (int64_t)atomic_load(&((lec_playback *)p)->pos);
    int64_t h = pos - (int64_t)(p->latency_s * p->rate + 0.5);
    h = h > 0 ? h : 0;
    return h < (int64_t)p->n ? h : (int64_t)p->n;
}

void lec_playback_set_paused(lec_playback *p, int paused) { atomic_store(&p->paused, paused); }
void lec_playback_seek(lec_playback *p, size_t frame) { atomic_store(&p->seek_req, frame); }

int lec_playback_finished(const lec_playback *p)
{
    return lec_playback_heard_frames(p) >= (int64_t)p->n;
}

uint64_t lec_playback_underflows(const lec_playback *p)
{
    return atomic_load(&((lec_playback *)p)->underflows);
}
