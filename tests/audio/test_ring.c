/* test_ring.c -- lec_ring: capacity rounding, wrap-around, overflow counting,
 * and two threads moving millions of samples with none lost or duplicated.
 *
 * Samples carry their sequence number (mod 2^24, exact in a float), so the
 * consumer can tell a lost, duplicated or reordered sample from a good one. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lec_ring.h"
#include "lec_test.h"

#define SEQ_MOD 16777216u /* 2^24: every integer below is exact in a float */

static float seq(uint64_t i) { return (float)(i % SEQ_MOD); }

static void test_basic(void)
{
    lec_error err;
    CHECK(lec_ring_create(0, &err) == NULL && err.code == LEC_EINVAL);
    lec_ring *r = lec_ring_create(1000, &err);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK(lec_ring_capacity(r) == 1024);
    CHECK(lec_ring_available(r) == 0);
    CHECK(lec_ring_space(r) == 1024);

    /* Wrap-around: move 700 samples per round through a 1024 ring so the
     * copies straddle the end at varying offsets. */
    float in[700], out[700];
    uint64_t wseq = 0, rseq = 0;
    int bad = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 700; i++)
            in[i] = seq(wseq++);
        CHECK(lec_ring_write(r, in, 700) == 700);
        CHECK(lec_ring_available(r) == 700);
        size_t got = lec_ring_read(r, out, 300);
        got += lec_ring_read(r, out + 300, 700); /* asks for more than there is */
        CHECK(got == 700);
        for (size_t i = 0; i < got; i++)
            bad += out[i] != seq(rseq++);
    }
    CHECK(bad == 0);
    CHECK(lec_ring_overflows(r) == 0 && lec_ring_dropped(r) == 0);

    /* Overflow: a full ring keeps the oldest samples and counts the rest. */
    float big[1500];
    for (int i = 0; i < 1500; i++)
        big[i] = (float)i;
    CHECK(lec_ring_write(r, big, 1500) == 1024);
    CHECK(lec_ring_overflows(r) == 1);
    CHECK(lec_ring_dropped(r) == 476);
    CHECK(lec_ring_write(r, big, 10) == 0);
    CHECK(lec_ring_overflows(r) == 2);
    CHECK(lec_ring_dropped(r) == 486);
    float back[1024];
    CHECK(lec_ring_read(r, back, 1024) == 1024);
    CHECK(back[0] == 0.0f && back[1023] == 1023.0f);
    CHECK(lec_ring_read(r, back, 1) == 0);

    /* Zero-copy spans cover exactly the free space, split at the wrap. */
    lec_ring_reset(r);
    CHECK(lec_ring_write(r, big, 100) == 100); /* both positions end at 100 */
    CHECK(lec_ring_read(r, back, 100) == 100);
    float *p1, *p2;
    size_t n1, n2;
    lec_ring_write_spans(r, &p1, &n1, &p2, &n2);
    CHECK(n1 + n2 == 1024);
    CHECK(n1 == 1024 - 100 && n2 == 100);
    lec_ring_write_commit(r, 5, 5);
    CHECK(lec_ring_available(r) == 5);

    lec_ring_reset(r);
    CHECK(lec_ring_available(r) == 0 && lec_ring_overflows(r) == 0 && lec_ring_dropped(r) == 0);
    lec_ring_destroy(r);
    lec_ring_destroy(NULL);
}

/* ---- two threads -------------------------------------------------------- */

typedef struct {
    lec_ring *r;
    uint64_t total;
    int respect_space; /* 1: wait for room (lossless); 0: callback-style, drop */
    int pace_us;       /* sleep per chunk, like a device delivering periods */
    uint64_t written;
} producer_arg;

typedef struct {
    lec_ring *r;
    uint64_t expect_total; /* stop after this many (lossless) */
    int stall_ms;          /* sleep this long before starting to read */
    volatile int *producer_done;
    uint64_t got;
    uint64_t bad;          /* out-of-sequence samples */
    uint64_t gaps;         /* forward jumps (allowed only when dropping) */
} consumer_arg;

static void *producer(void *p)
{
    producer_arg *a = p;
    float chunk[997]; /* prime: never aligned with the ring */
    uint64_t i = 0;
    unsigned k = 1;
    while (i < a->total) {
        k = k * 1103515245u + 12345u;
        size_t n = 1 + (k >> 8) % 997;
        if (n > a->total - i)
            n = (size_t)(a->total - i);
        if (a->respect_space) {
            while (lec_ring_space(a->r) < n)
                sched_yield();
        }
        for (size_t j = 0; j < n; j++)
            chunk[j] = seq(i + j);
        size_t w = lec_ring_write(a->r, chunk, n);
        if (a->pace_us) {
            struct timespec ts = {0, a->pace_us * 1000L};
            nanosleep(&ts, NULL);
        }
        a->written += w;
        if (a->respect_space && w != n)
            break; /* would be a bug: space said there was room */
        i += n;
    }
    return NULL;
}

static void *consumer(void *p)
{
    consumer_arg *a = p;
    if (a->stall_ms) {
        struct timespec ts = {0, a->stall_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    float buf[1531];
    unsigned k = 7;
    uint64_t next = 0;
    int first = 1;
    float prev = -1;
    for (;;) {
        k = k * 1103515245u + 12345u;
        size_t want = 1 + (k >> 8) % 1531;
        size_t n = lec_ring_read(a->r, buf, want);
        if (n == 0) {
            if (a->expect_total && a->got >= a->expect_total)
                break;
            if (*a->producer_done && lec_ring_available(a->r) == 0)
                break;
            sched_yield();
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            if (a->expect_total) {
                a->bad += buf[j] != seq(next);
                next++;
            } else {
                /* Dropping mode: strictly increasing, gaps allowed. */
                if (!first && !(buf[j] > prev))
                    a->bad++;
                if (!first && buf[j] != prev + 1)
                    a->gaps++;
                prev = buf[j];
                first = 0;
            }
        }
        a->got += n;
    }
    return NULL;
}

static void test_threads_lossless(void)
{
    /* 8 million samples through a 4096 ring: it wraps ~2000 times and both
     * sides block on each other often. */
    lec_error err;
    lec_ring *r = lec_ring_create(4096, &err);
    CHECK(r != NULL);
    if (!r)
        return;
    volatile int done = 0;
    producer_arg pa = {r, 8000000, 1, 0, 0};
    consumer_arg ca = {r, 8000000, 0, &done, 0, 0, 0};
    pthread_t tp, tc;
    pthread_create(&tc, NULL, consumer, &ca);
    pthread_create(&tp, NULL, producer, &pa);
    pthread_join(tp, NULL);
    done = 1;
    pthread_join(tc, NULL);
    CHECKF(pa.written == 8000000, "written %llu", (unsigned long long)pa.written);
    CHECKF(ca.got == 8000000, "got %llu", (unsigned long long)ca.got);
    CHECKF(ca.bad == 0, "%llu samples out of sequence", (unsigned long long)ca.bad);
    CHECK(lec_ring_overflows(r) == 0);
    CHECK(lec_ring_dropped(r) == 0);
    lec_ring_destroy(r);
}

static void test_threads_overflow(void)
{
    /* Callback-style producer (never waits; ~500 samples per 20 us period,
     * so it runs for well over the stall) against a consumer that stalls for
     * 50 ms first: the ring must overflow, count every dropped sample, and
     * still hand over a strictly increasing sequence with the gap visible. */
    lec_error err;
    lec_ring *r = lec_ring_create(8192, &err);
    CHECK(r != NULL);
    if (!r)
        return;
    volatile int done = 0;
    producer_arg pa = {r, 2000000, 0, 20, 0};
    consumer_arg ca = {r, 0, 50, &done, 0, 0, 0};
    pthread_t tp, tc;
    pthread_create(&tc, NULL, consumer, &ca);
    pthread_create(&tp, NULL, producer, &pa);
    pthread_join(tp, NULL);
    done = 1;
    pthread_join(tc, NULL);
    uint64_t dropped = lec_ring_dropped(r);
    CHECKF(lec_ring_overflows(r) > 0, "no overflow counted");
    CHECKF(pa.written + dropped == 2000000, "written %llu + dropped %llu != offered",
           (unsigned long long)pa.written, (unsigned long long)dropped);
    CHECKF(ca.got == pa.written, "consumer got %llu of %llu written",
           (unsigned long long)ca.got, (unsigned long long)pa.written);
    CHECKF(ca.bad == 0, "%llu samples out of order", (unsigned long long)ca.bad);
    CHECK(ca.gaps > 0); /* the drops are visible as jumps, never as repeats */
    lec_ring_destroy(r);
}

int main(void)
{
    test_basic();
    test_threads_lossless();
    test_threads_overflow();
    return lec_test_finish("test_ring");
}
