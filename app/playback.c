/* playback.c -- see playback.h. */
#include "playback.h"
#include "playback_internal.h"

#include <portaudio.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_pa_util.h"

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
        lec_error_set(err, LEC_EDEVICE, "cannot initialise audio (PortAudio): %s",
                      lec_pa_error_text(e));
        free(p);
        return NULL;
    }
    p->pa_init = 1;
    PaDeviceIndex dev;
    if (lec_pa_find_device(device, LEC_PA_OUTPUT, &dev, err) != LEC_OK) {
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
                      p->rate, lec_pa_error_text(e));
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
                             lec_pa_error_text(e));
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
