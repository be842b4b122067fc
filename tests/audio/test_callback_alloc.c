/* test_callback_alloc.c -- proof that the capture callback never allocates
 * (nor frees), and that the consumer's read path does not either.
 *
 * This executable interposes malloc/calloc/realloc/free/posix_memalign/
 * aligned_alloc/memalign (forwarding to glibc's __libc_* functions) and
 * counts every call made while a thread-local flag is set. The flag is set
 *  (1) around direct calls of the real lec_capture_callback (mono, stereo,
 *      6-channel input, wrapping and overflowing the ring), and
 *  (2) inside a wrapper around lec_capture_callback that a real PortAudio
 *      stream calls on its own thread, capturing from the ALSA file device
 *      of alsa_fake.h (no sound hardware needed),
 *  (3) around lec_source_read on the consumer thread.
 * A self-check first proves the counter sees an allocation made under the
 * flag, so the test can fail.
 * Not built with sanitizers: ASan owns malloc (label no-asan). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alsa_fake.h"
#include "lec_capture_internal.h"
#include "lec_devices.h"
#include "lec_ring.h"
#include "lec_source.h"
#include "lec_test.h"

/* ---- the interposer ----------------------------------------------------- */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static __thread int watch; /* this thread is inside code under test */
static atomic_long watched_calls;

static inline void note(void)
{
    if (watch)
        atomic_fetch_add_explicit(&watched_calls, 1, memory_order_relaxed);
}

void *malloc(size_t n)
{
    note();
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t m)
{
    note();
    return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n)
{
    note();
    return __libc_realloc(p, n);
}
void free(void *p)
{
    if (p)
        note();
    __libc_free(p);
}
int posix_memalign(void **p, size_t a, size_t n)
{
    note();
    *p = __libc_memalign(a, n);
    return *p ? 0 : ENOMEM;
}
void *aligned_alloc(size_t a, size_t n)
{
    note();
    return __libc_memalign(a, n);
}
void *memalign(size_t a, size_t n)
{
    note();
    return __libc_memalign(a, n);
}

/* ---- (1) the callback driven directly ----------------------------------- */

static void *(*volatile malloc_ptr)(size_t) = malloc;

static void test_self_check(void)
{
    atomic_store(&watched_calls, 0);
    watch = 1;
    void *p = malloc_ptr(64);
    watch = 0;
    free(p);
    CHECKF(atomic_load(&watched_calls) == 1, "interposer saw %ld calls, expected 1",
           atomic_load(&watched_calls));
}

static void test_direct(void)
{
    lec_error err;
    lec_capture_shared sh;
    memset(&sh, 0, sizeof sh);
    sh.ring = lec_ring_create(4096, &err);
    CHECK(sh.ring != NULL);
    if (!sh.ring)
        return;
    static float in[6 * 1000];
    static float out[4096];
    for (int channels = 1; channels <= 6; channels += (channels == 2 ? 4 : 1)) {
        sh.channels = channels;
        lec_ring_reset(sh.ring);
        /* frame i, channel c holds i + c: the mono mix is i + (ch-1)/2 */
        for (int i = 0; i < 1000; i++)
            for (int c = 0; c < channels; c++)
                in[i * channels + c] = (float)(i + c);
        atomic_store(&watched_calls, 0);
        long mixed_bad = 0;
        /* drained after every call: the ring wraps, every sample checked */
        for (int call = 0; call < 200; call++) {
            unsigned long frames = 1 + (unsigned long)(call * 37) % 1000;
            watch = 1;
            int r = lec_capture_callback(in, NULL, frames, NULL, call % 50 == 0 ? paInputOverflow : 0,
                                         &sh);
            watch = 0;
            CHECK(r == paContinue);
            size_t n = lec_ring_read(sh.ring, out, 4096);
            CHECK(n == frames);
            for (size_t i = 0; i < n; i++)
                mixed_bad += fabsf(out[i] - ((float)i + (channels - 1) * 0.5f)) > 1e-4f;
        }
        CHECK(lec_ring_overflows(sh.ring) == 0);
        /* never drained: the ring fills (4096) and the rest is dropped */
        for (int call = 0; call < 10; call++) {
            watch = 1;
            lec_capture_callback(in, NULL, 1000, NULL, 0, &sh);
            watch = 0;
        }
        CHECKF(atomic_load(&watched_calls) == 0, "%d ch: callback allocated %ld times", channels,
               atomic_load(&watched_calls));
        CHECKF(mixed_bad == 0, "%d ch: %ld mixed samples wrong", channels, mixed_bad);
        CHECK(lec_ring_available(sh.ring) == 4096);
        CHECKF(lec_ring_overflows(sh.ring) == 6 && lec_ring_dropped(sh.ring) == 10000 - 4096,
               "%d ch: %llu overflows, %llu dropped", channels,
               (unsigned long long)lec_ring_overflows(sh.ring),
               (unsigned long long)lec_ring_dropped(sh.ring));
    }
    CHECK(atomic_load(&sh.device_overflows) == 3 * 4); /* call%50==0: 4 per run, 3 runs */
    CHECK(atomic_load(&sh.callbacks) == 3 * 210);
    /* NULL input (PortAudio may pass it on errors): counted, nothing written */
    lec_ring_reset(sh.ring);
    CHECK(lec_capture_callback(NULL, NULL, 64, NULL, 0, &sh) == paContinue);
    CHECK(lec_ring_available(sh.ring) == 0);
    lec_ring_destroy(sh.ring);
}

/* ---- (2) the callback on a real PortAudio stream ------------------------ */

static atomic_long wrapped;

static int wrapper(const void *input, void *output, unsigned long frames,
                   const PaStreamCallbackTimeInfo *ti, PaStreamCallbackFlags fl, void *user)
{
    watch = 1;
    int r = lec_capture_callback(input, output, frames, ti, fl, user);
    watch = 0;
    atomic_fetch_add_explicit(&wrapped, 1, memory_order_relaxed);
    return r;
}

static void test_stream(void)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", lec_test_scratch_dir("test_callback_alloc"));
    lec_alsa_fake fake;
    CHECK(lec_alsa_fake_start(&fake, dir, 1000.0, 44100, 4.0) == 0);
    /* ALSA reads ~/.asoundrc when PortAudio first initialises: after this. */
    setenv("HOME", fake.home, 1);
    setenv("JACK_NO_START_SERVER", "1", 1);
    lec_audio_silence_backend_logs();

    lec_source_config cfg;
    lec_source_config_default(&cfg);
    cfg.kind = LEC_SOURCE_CAPTURE;
    cfg.device = "lectern_tone";
    lec_error err;
    lec_source *s = lec_source_capture_create_cb(&cfg, wrapper, &err);
    CHECKF(s != NULL, "%s", err.msg);
    if (s) {
        atomic_store(&watched_calls, 0);
        static float buf[22050];
        size_t total = 0;
        double sum2 = 0;
        while (total < 11025) { /* 0.5 s */
            size_t got = 0;
            watch = 1; /* (3) the consumer's read path, too */
            lec_status st = lec_source_read(s, buf, 1024, &got, 500, &err);
            watch = 0;
            if (st != LEC_OK) {
                CHECKF(0, "%s", err.msg);
                break;
            }
            for (size_t i = 0; i < got; i++)
                if (total + i > 500) /* skip the resampler's start-up */
                    sum2 += (double)buf[i] * buf[i];
            total += got;
        }
        long allocs = atomic_load(&watched_calls);
        long calls = atomic_load(&wrapped);
        printf("stream: %ld callbacks (%llu counted inside), %ld allocations while watched\n",
               calls, (unsigned long long)lec_source_capture_callbacks(s), allocs);
        CHECKF(calls >= 10, "only %ld callbacks", calls);
        CHECKF(allocs == 0, "%ld allocations in the callback or the read path", allocs);
        /* it was the tone: 0.6 sin on one of 2 channels -> 0.3 sin */
        double rms = sqrt(sum2 / (double)(total - 501));
        CHECK_NEAR(rms, 0.3 / sqrt(2.0), 0.01);
        CHECK(lec_source_overflows(s) == 0);
        lec_source_destroy(s);
    }
    lec_alsa_fake_stop(&fake);
}

int main(void)
{
    test_self_check();
    test_direct();
    test_stream();
    return lec_test_finish("test_callback_alloc");
}
