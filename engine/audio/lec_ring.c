/* lec_ring.c -- see lec_ring.h. */
#include "lec_ring.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The callback must never take a hidden lock: insist on native atomics. */
#if ATOMIC_LONG_LOCK_FREE != 2 || ATOMIC_LLONG_LOCK_FREE != 2
#error "lec_ring needs lock-free atomic size_t / uint64 on this platform"
#endif
_Static_assert(sizeof(size_t) == sizeof(long) || sizeof(size_t) == sizeof(long long),
               "size_t must be long or long long for the lock-free check above");

/* The two positions live on separate cache lines so that the producer and the
 * consumer do not invalidate each other's line on every update. */
#define LEC_CACHELINE 64

struct lec_ring {
    _Alignas(LEC_CACHELINE) atomic_size_t write_pos; /* samples ever written */
    _Alignas(LEC_CACHELINE) atomic_size_t read_pos;  /* samples ever read */
    _Alignas(LEC_CACHELINE) atomic_uint_fast64_t overflows;
    atomic_uint_fast64_t dropped;
    size_t cap;  /* power of two */
    size_t mask; /* cap - 1 */
    float *buf;  /* cap samples */
};

lec_ring *lec_ring_create(size_t min_capacity, lec_error *err)
{
    if (min_capacity == 0 || min_capacity > ((size_t)1 << 30)) {
        lec_error_set(err, LEC_EINVAL, "ring buffer: capacity %zu samples out of range [1, 2^30]",
                      min_capacity);
        return NULL;
    }
    size_t cap = 2;
    while (cap < min_capacity)
        cap <<= 1;
    /* aligned_alloc: the struct is over-aligned (cache lines); size must be a
     * multiple of the alignment. */
    size_t sz = (sizeof(lec_ring) + LEC_CACHELINE - 1) / LEC_CACHELINE * LEC_CACHELINE;
    lec_ring *r = aligned_alloc(LEC_CACHELINE, sz);
    if (!r) {
        lec_error_set(err, LEC_ENOMEM, "ring buffer: out of memory");
        return NULL;
    }
    memset(r, 0, sz);
    r->buf = calloc(cap, sizeof(float));
    if (!r->buf) {
        free(r);
        lec_error_set(err, LEC_ENOMEM, "ring buffer: out of memory for %zu samples", cap);
        return NULL;
    }
    r->cap = cap;
    r->mask = cap - 1;
    atomic_init(&r->write_pos, 0);
    atomic_init(&r->read_pos, 0);
    atomic_init(&r->overflows, 0);
    atomic_init(&r->dropped, 0);
    return r;
}

void lec_ring_destroy(lec_ring *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r);
}

void lec_ring_reset(lec_ring *r)
{
    atomic_store(&r->write_pos, 0);
    atomic_store(&r->read_pos, 0);
    atomic_store(&r->overflows, 0);
    atomic_store(&r->dropped, 0);
}

size_t lec_ring_capacity(const lec_ring *r) { return r->cap; }

size_t lec_ring_space(const lec_ring *r)
{
    /* Own position: relaxed (only this thread writes it). The other side's:
     * acquire, so that the slots it released are really free. */
    size_t w = atomic_load_explicit(&r->write_pos, memory_order_relaxed);
    size_t rd = atomic_load_explicit(&r->read_pos, memory_order_acquire);
    return r->cap - (w - rd);
}

size_t lec_ring_available(const lec_ring *r)
{
    size_t w = atomic_load_explicit(&r->write_pos, memory_order_acquire);
    size_t rd = atomic_load_explicit(&r->read_pos, memory_order_relaxed);
    return w - rd;
}

void lec_ring_write_spans(lec_ring *r, float **p1, size_t *n1, float **p2, size_t *n2)
{
    size_t w = atomic_load_explicit(&r->write_pos, memory_order_relaxed);
    size_t rd = atomic_load_explicit(&r->read_pos, memory_order_acquire);
    size_t space = r->cap - (w - rd);
    size_t start = w & r->mask;
    size_t first = r->cap - start; /* slots before the wrap */
    if (first > space)
        first = space;
    *p1 = r->buf + start;
    *n1 = first;
    *p2 = r->buf;
    *n2 = space - first;
}

void lec_ring_write_commit(lec_ring *r, size_t written, size_t offered)
{
    if (written) {
        size_t w = atomic_load_explicit(&r->write_pos, memory_order_relaxed);
        /* release: the samples copied above become visible before the new
         * position does. */
        atomic_store_explicit(&r->write_pos, w + written, memory_order_release);
    }
    if (offered > written) {
        atomic_fetch_add_explicit(&r->overflows, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&r->dropped, (uint_fast64_t)(offered - written),
                                  memory_order_relaxed);
    }
}

size_t lec_ring_write(lec_ring *r, const float *x, size_t n)
{
    float *p1, *p2;
    size_t n1, n2;
    lec_ring_write_spans(r, &p1, &n1, &p2, &n2);
    size_t a = n < n1 ? n : n1;
    memcpy(p1, x, a * sizeof(float));
    size_t b = n - a < n2 ? n - a : n2;
    if (b)
        memcpy(p2, x + a, b * sizeof(float));
    lec_ring_write_commit(r, a + b, n);
    return a + b;
}

size_t lec_ring_read(lec_ring *r, float *out, size_t n)
{
    size_t rd = atomic_load_explicit(&r->read_pos, memory_order_relaxed);
    size_t w = atomic_load_explicit(&r->write_pos, memory_order_acquire);
    size_t avail = w - rd;
    if (n > avail)
        n = avail;
    if (n == 0)
        return 0;
    size_t start = rd & r->mask;
    size_t first = r->cap - start;
    if (first > n)
        first = n;
    memcpy(out, r->buf + start, first * sizeof(float));
    if (n > first)
        memcpy(out + first, r->buf, (n - first) * sizeof(float));
    /* release: our reads of the slots complete before the producer may
     * reuse them. */
    atomic_store_explicit(&r->read_pos, rd + n, memory_order_release);
    return n;
}

uint64_t lec_ring_overflows(const lec_ring *r)
{
    return atomic_load_explicit(&r->overflows, memory_order_relaxed);
}

uint64_t lec_ring_dropped(const lec_ring *r)
{
    return atomic_load_explicit(&r->dropped, memory_order_relaxed);
}
