/* test_playback.c -- `lectern replay`'s audio output and playback clock
 * (app/playback.c) on the fake ALSA device (tests/audio/alsa_fake.h: its
 * `file` plugin writes what is played into a FIFO drained at real-time rate,
 * so the device consumes samples at the wall clock's pace):
 *   - the clock: heard frames advance at the sample rate (within the
 *     callback's granularity), are not behind the wall clock minus the
 *     reported output latency, stop while paused, restart after a seek to 0,
 *     and reach the end (finished) once the whole buffer has been played;
 *   - the callback (the real function, through a wrapper) never allocates:
 *     malloc & co are wrapped and counted while it runs. */
#include <math.h>
#include <portaudio.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alsa_fake.h"
#include "lec_devices.h"
#include "lec_test.h"
#include "lec_util.h"
#include "playback.h"
#include "playback_internal.h"

/* ---- allocation counter (linked with -Wl,--wrap=malloc,...) ---- */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
static _Thread_local int t_in_cb;
static atomic_long g_cb_allocs, g_callbacks;
void *__wrap_malloc(size_t n)
{
    if (t_in_cb)
        atomic_fetch_add(&g_cb_allocs, 1);
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
    if (t_in_cb)
        atomic_fetch_add(&g_cb_allocs, 1);
    return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
    if (t_in_cb)
        atomic_fetch_add(&g_cb_allocs, 1);
    return __real_realloc(p, n);
}
void __wrap_free(void *p)
{
    if (t_in_cb && p)
        atomic_fetch_add(&g_cb_allocs, 1);
    __real_free(p);
}

static int wrapped_cb(const void *in, void *out, unsigned long frames,
                      const PaStreamCallbackTimeInfo *ti, PaStreamCallbackFlags st, void *user)
{
    t_in_cb = 1;
    int r = lec_playback_callback(in, out, frames, ti, st, user);
    t_in_cb = 0;
    atomic_fetch_add(&g_callbacks, 1);
    return r;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

#define RATE 22050

int main(void)
{
    const char *dir = lec_test_scratch_dir("test_playback");
    lec_error err = {0};

    /* ALSA reads its configuration once per process: the "no device" error
     * is checked through `lectern replay` in test_replay.c */
    lec_alsa_fake fake;
    if (lec_alsa_fake_start(&fake, dir, 440.0, RATE, 0.1) != 0) {
        CHECKF(0, "fake ALSA device");
        return lec_test_finish("test_playback");
    }
    setenv("HOME", fake.home, 1);
    lec_audio_silence_backend_logs();
    lec_playback *p = lec_playback_create_cb(NULL, RATE, wrapped_cb, &err);
    CHECKF(p != NULL, "%s", err.msg);
    if (!p) {
        lec_alsa_fake_stop(&fake);
        return lec_test_finish("test_playback");
    }
    CHECK(lec_playback_rate_hz(p) == RATE);
    double lat = lec_playback_latency_s(p);
    CHECKF(lat >= 0 && lat < 1.0, "output latency %g s", lat);
    size_t n = (size_t)(6.0 * RATE);
    float *buf = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        buf[i] = 0.2f * sinf(2.0f * 3.14159265f * 440.0f * (float)i / RATE);
    CHECK(lec_playback_heard_frames(p) == 0);
    double t0 = lec_now_s();
    CHECK(lec_playback_start(p, buf, n, &err) == LEC_OK);

    /* the clock runs at the sample rate: over one second of wall time it
     * advances one second (within the callback's granularity); and it is not
     * behind the wall clock minus the output latency. (Not checked: how far
     * ahead it may be. The fake device sometimes swallows a burst of up to
     * ~2 s when the stream starts, before its FIFO paces it; a real card
     * does not, and test_replay checks a whole replay takes real time.) */
    sleep_s(0.6);
    double ta = lec_now_s();
    int64_t ha = lec_playback_heard_frames(p);
    sleep_s(1.0);
    double tb = lec_now_s();
    int64_t hb = lec_playback_heard_frames(p);
    double adv = (double)(hb - ha) / RATE, el = tb - t0, heard = (double)hb / RATE;
    if (getenv("LEC_TEST_VERBOSE"))
        fprintf(stderr,
                "clock: +%.3f s in %.3f s; at %.3f s heard %.3f s (latency %.3f s); %llu "
                "underflows, %ld callbacks, fake sessions %ld\n",
                adv, tb - ta, el, heard, lat, (unsigned long long)lec_playback_underflows(p),
                atomic_load(&g_callbacks), atomic_load(&fake.sessions));
    CHECKF(fabs(adv - (tb - ta)) < 0.06, "the clock advanced %.3f s in %.3f s", adv, tb - ta);
    CHECKF(heard > el - lat - 0.15, "after %.3f s: heard %.3f s (latency %.3f s)", el, heard,
           lat);
    CHECK(!lec_playback_finished(p));

    /* paused: the callback plays silence and the clock stops */
    lec_playback_set_paused(p, 1);
    sleep_s(lat + 0.15);
    int64_t h1 = lec_playback_heard_frames(p);
    sleep_s(0.4);
    int64_t h2 = lec_playback_heard_frames(p);
    CHECKF(h2 == h1, "paused: heard %lld -> %lld", (long long)h1, (long long)h2);
    lec_playback_set_paused(p, 0);

    /* seek back to 0: the clock starts again from the beginning */
    lec_playback_seek(p, 0);
    CHECK(lec_playback_heard_frames(p) == 0); /* pending seek */
    sleep_s(0.5 + lat);
    heard = (double)lec_playback_heard_frames(p) / RATE;
    CHECKF(heard > 0.3 && heard < 0.75, "0.5 s after the seek: heard %.3f s", heard);

    /* to the end: finished once the last frame has been played out */
    double deadline = lec_now_s() + 6.0 + lat + 1.0;
    while (!lec_playback_finished(p) && lec_now_s() < deadline)
        sleep_s(0.02);
    CHECK(lec_playback_finished(p));
    CHECK(lec_playback_heard_frames(p) == (int64_t)n);

    CHECKF(atomic_load(&g_callbacks) > 10, "%ld callbacks", atomic_load(&g_callbacks));
    CHECKF(atomic_load(&g_cb_allocs) == 0, "%ld allocations in the callback",
           atomic_load(&g_cb_allocs));
    lec_playback_destroy(p);
    lec_alsa_fake_stop(&fake);
    free(buf);
    return lec_test_finish("test_playback");
}
