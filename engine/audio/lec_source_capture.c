/* lec_source_capture.c -- LEC_SOURCE_CAPTURE: a PortAudio input stream.
 *
 * Two threads meet at the ring: PortAudio's callback thread (producer: mix
 * to mono, copy, count) and the thread calling lec_source_read (consumer:
 * drain the ring, resample to the model rate, detect stalls/stops). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_capture_internal.h"
#include "lec_pa_util.h"
#include "lec_source_impl.h"
#include "lec_util.h"

/* Device-rate samples taken from the ring per resampling step. */
#define CAP_BLOCK 4096
/* Consumer polling interval while the ring is empty, s: short against a
 * ~50 ms spectrogram hop, long enough not to spin a core. */
#define CAP_POLL_S 0.002

typedef struct cap_impl {
    lec_capture_shared shared; /* PortAudio user data: must not move */
    PaStream *stream;
    int pa_initialized;
    PaDeviceIndex device;
    float dev_buf[CAP_BLOCK]; /* drained from the ring, device rate */
    size_t dev_len, dev_pos;
    lec_resampler rs;
    double stall_s;
    double last_data_t; /* wall clock of the last sample drained, s */
} cap_impl;

/* ---- the callback: runs on PortAudio's real-time thread --------------- */

static void mix_to_mono(float *dst, const float *src, size_t frames, int ch)
{
    if (ch == 1) {
        memcpy(dst, src, frames * sizeof(float));
        return;
    }
    float inv = 1.0f / (float)ch;
    for (size_t i = 0; i < frames; i++) {
        float acc = 0.0f;
        for (int c = 0; c < ch; c++)
            acc += src[i * (size_t)ch + (size_t)c];
        dst[i] = acc * inv;
    }
}

int lec_capture_callback(const void *input, void *output, unsigned long frames,
                         const PaStreamCallbackTimeInfo *time_info,
                         PaStreamCallbackFlags status, void *user)
{
    (void)output;
    (void)time_info;
    lec_capture_shared *sh = user;
    atomic_fetch_add_explicit(&sh->callbacks, 1, memory_order_relaxed);
    if (status & paInputOverflow)
        atomic_fetch_add_explicit(&sh->device_overflows, 1, memory_order_relaxed);
    if (!input || frames == 0)
        return paContinue;
    atomic_fetch_add_explicit(&sh->frames, frames, memory_order_relaxed);
    const float *in = input;
    float *p1, *p2;
    size_t n1, n2;
    lec_ring_write_spans(sh->ring, &p1, &n1, &p2, &n2);
    size_t n = frames;
    size_t a = n < n1 ? n : n1;
    mix_to_mono(p1, in, a, sh->channels);
    size_t b = n - a < n2 ? n - a : n2;
    if (b)
        mix_to_mono(p2, in + a * (size_t)sh->channels, b, sh->channels);
    lec_ring_write_commit(sh->ring, a + b, n);
    return paContinue;
}

/* ---- consumer side ------------------------------------------------------ */

static lec_status cap_read(lec_source *s, float *out, size_t max, size_t *n_read, int timeout_ms,
                           lec_error *err)
{
    cap_impl *c = s->impl;
    double now = lec_now_s();
    double deadline = timeout_ms < 0 ? 1e300 : now + timeout_ms / 1000.0;
    size_t made_total = 0;
    while (made_total < max) {
        if (c->dev_pos == c->dev_len) {
            c->dev_pos = 0;
            c->dev_len = lec_ring_read(c->shared.ring, c->dev_buf, CAP_BLOCK);
            if (c->dev_len)
                c->last_data_t = lec_now_s();
        }
        if (c->dev_pos < c->dev_len) {
            size_t used = 0, made = 0;
            lec_status st = lec_resampler_process(&c->rs, c->dev_buf + c->dev_pos,
                                                  c->dev_len - c->dev_pos, out + made_total,
                                                  max - made_total, 0, &used, &made, s->name, err);
            if (st != LEC_OK) {
                *n_read = made_total;
                return st;
            }
            c->dev_pos += used;
            made_total += made;
            continue;
        }
        /* Ring empty. Return what we have rather than wait for more. */
        if (made_total > 0)
            break;
        PaError active = Pa_IsStreamActive(c->stream);
        if (active != 1)
            return lec_error_set(err, LEC_EDEVICE, "audio device '%s': the input stream stopped%s%s",
                                 s->name, active < 0 ? ": " : " (device removed or failed?)",
                                 active < 0 ? lec_pa_error_text(active) : "");
        now = lec_now_s();
        if (now - c->last_data_t > c->stall_s)
            return lec_error_set(err, LEC_EDEVICE,
                                 "audio device '%s': no audio for %.1f s (stream stalled; "
                                 "device busy, removed or failed?)",
                                 s->name, now - c->last_data_t);
        if (now >= deadline)
            break;
        double wait = deadline - now < CAP_POLL_S ? deadline - now : CAP_POLL_S;
        lec_sleep_s(wait);
    }
    *n_read = made_total;
    return LEC_OK;
}

static void cap_destroy(lec_source *s)
{
    cap_impl *c = s->impl;
    if (!c)
        return;
    if (c->stream) {
        /* Abort, not stop: stopping waits for pending buffers, which a failed
         * device may never deliver. */
        Pa_AbortStream(c->stream);
        Pa_CloseStream(c->stream);
    }
    if (c->pa_initialized)
        Pa_Terminate();
    lec_ring_destroy(c->shared.ring);
    lec_resampler_free(&c->rs);
    free(c);
    s->impl = NULL;
}

static uint64_t cap_overflows(const lec_source *s)
{
    const cap_impl *c = s->impl;
    return lec_ring_overflows(c->shared.ring);
}
static uint64_t cap_dropped(const lec_source *s)
{
    const cap_impl *c = s->impl;
    return lec_ring_dropped(c->shared.ring);
}
static uint64_t cap_device_overflows(const lec_source *s)
{
    cap_impl *c = s->impl;
    return atomic_load_explicit(&c->shared.device_overflows, memory_order_relaxed);
}

static const lec_source_ops cap_ops = {
    .read = cap_read,
    .destroy = cap_destroy,
    .overflows = cap_overflows,
    .dropped = cap_dropped,
    .device_overflows = cap_device_overflows,
};

uint64_t lec_source_capture_callbacks(const lec_source *s)
{
    if (s->kind != LEC_SOURCE_CAPTURE)
        return 0;
    cap_impl *c = s->impl;
    return atomic_load_explicit(&c->shared.callbacks, memory_order_relaxed);
}

static lec_status capture_open_cb(lec_source *s, const lec_source_config *cfg,
                                  PaStreamCallback *cb, lec_error *err)
{
    if (cfg->ring_s <= 0 || cfg->ring_s > 60)
        return lec_error_set(err, LEC_EINVAL, "capture: ring of %g s out of range (0, 60]",
                             cfg->ring_s);
    if (cfg->channels < 0 || cfg->channels > 64)
        return lec_error_set(err, LEC_EINVAL, "capture: %d channels out of range [0, 64]",
                             cfg->channels);
    cap_impl *c = calloc(1, sizeof *c);
    if (!c)
        return lec_error_set(err, LEC_ENOMEM, "capture: out of memory");
    s->impl = c;
    s->ops = &cap_ops;
    c->stall_s = cfg->stall_s > 0 ? cfg->stall_s : 2.0;
    snprintf(s->name, sizeof s->name, "%s", cfg->device && *cfg->device ? cfg->device : "default");
    lec_status st = LEC_OK;

    PaError pe = Pa_Initialize();
    if (pe != paNoError) {
        st = lec_error_set(err, LEC_EDEVICE, "PortAudio could not initialise: %s",
                           lec_pa_error_text(pe));
        goto fail;
    }
    c->pa_initialized = 1;
    st = lec_pa_find_device(cfg->device, LEC_PA_INPUT, &c->device, err);
    if (st != LEC_OK)
        goto fail;
    const PaDeviceInfo *di = Pa_GetDeviceInfo(c->device);
    snprintf(s->name, sizeof s->name, "%s", di->name);
    int ch = cfg->channels ? cfg->channels : (di->maxInputChannels < 2 ? di->maxInputChannels : 2);
    if (ch > di->maxInputChannels) {
        st = lec_error_set(err, LEC_EDEVICE, "audio device '%s' has %d input channel(s), not %d",
                           di->name, di->maxInputChannels, ch);
        goto fail;
    }
    PaStreamParameters ip;
    memset(&ip, 0, sizeof ip);
    ip.device = c->device;
    ip.channelCount = ch;
    ip.sampleFormat = paFloat32;
    ip.suggestedLatency = cfg->latency_s > 0 ? cfg->latency_s : di->defaultLowInputLatency;
    c->shared.channels = ch;
    atomic_init(&c->shared.callbacks, 0);
    atomic_init(&c->shared.frames, 0);
    atomic_init(&c->shared.device_overflows, 0);
    /* Capture at the device's own rate if it can (no conversion in the
     * driver); we resample on the consumer thread. Rates are tried by opening
     * the stream rather than with Pa_IsFormatSupported: that check installs
     * hardware parameters with the largest buffer the device allows (for
     * ALSA's plugin devices, gigabytes), and opening is the real test. */
    double rates[4] = {di->defaultSampleRate, cfg->sample_rate, 48000, 44100};
    double rate = 0;
    PaError first_pe = paNoError;
    for (int i = 0; i < 4 && rate == 0; i++) {
        int seen = rates[i] <= 0;
        for (int j = 0; j < i; j++)
            seen |= rates[j] == rates[i];
        if (seen)
            continue;
        /* The ring is sized for this rate before the stream can call back. */
        size_t ring_n = (size_t)(cfg->ring_s * rates[i]);
        if (ring_n < 4 * CAP_BLOCK)
            ring_n = 4 * CAP_BLOCK;
        lec_ring_destroy(c->shared.ring);
        c->shared.ring = lec_ring_create(ring_n, err);
        if (!c->shared.ring) {
            st = err ? err->code : LEC_ENOMEM;
            goto fail;
        }
        pe = Pa_OpenStream(&c->stream, &ip, NULL, rates[i], paFramesPerBufferUnspecified,
                           paNoFlag, cb, &c->shared);
        if (pe == paNoError) {
            rate = rates[i];
        } else {
            c->stream = NULL;
            if (first_pe == paNoError)
                first_pe = pe;
        }
    }
    if (rate == 0) {
        st = lec_error_set(err, LEC_EDEVICE,
                           "audio device '%s': cannot open an input stream (%d ch of float "
                           "samples at %.0f, %d, 48000 or 44100 Hz): %s",
                           di->name, ch, di->defaultSampleRate, cfg->sample_rate,
                           lec_pa_error_text(first_pe));
        goto fail;
    }
    st = lec_resampler_init(&c->rs, rate, cfg->sample_rate, cfg->resample_quality, di->name, err);
    if (st != LEC_OK)
        goto fail;
    const PaStreamInfo *si = Pa_GetStreamInfo(c->stream);
    s->input_rate = si && si->sampleRate > 0 ? si->sampleRate : rate;
    s->latency_s = si ? si->inputLatency : 0;
    s->input_channels = ch;
    c->last_data_t = lec_now_s();
    pe = Pa_StartStream(c->stream);
    if (pe != paNoError) {
        st = lec_error_set(err, LEC_EDEVICE, "audio device '%s': cannot start the input stream: %s",
                           di->name, lec_pa_error_text(pe));
        goto fail;
    }
    return LEC_OK;
fail:
    cap_destroy(s);
    return st;
}

lec_status lec_source_capture_open(lec_source *s, const lec_source_config *cfg, lec_error *err)
{
    return capture_open_cb(s, cfg, lec_capture_callback, err);
}

lec_source *lec_source_capture_create_cb(const lec_source_config *cfg, PaStreamCallback *cb,
                                         lec_error *err)
{
    lec_source_config c2 = *cfg;
    c2.kind = LEC_SOURCE_CAPTURE;
    lec_source *s = calloc(1, sizeof *s);
    if (!s) {
        lec_error_set(err, LEC_ENOMEM, "audio source: out of memory");
        return NULL;
    }
    s->kind = LEC_SOURCE_CAPTURE;
    s->sample_rate = c2.sample_rate;
    s->duration_s = -1.0;
    if (capture_open_cb(s, &c2, cb, err) != LEC_OK) {
        free(s);
        return NULL;
    }
    return s;
}
