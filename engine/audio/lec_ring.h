/* lec_ring.h -- lock-free single-producer / single-consumer ring of float
 * samples (C11 atomics), the hand-over between the audio callback and the
 * processing thread.
 *
 * Capacity is a power of two (requests are rounded up) so that positions are
 * free-running size_t counters and the slot of position p is p & (cap - 1).
 * The producer publishes with a release store of its write position after
 * copying; the consumer acquires it before reading (and symmetrically for the
 * read position), so a sample is never read before it is written nor
 * overwritten before it is read.
 *
 * When the producer offers more samples than there is space for, the excess
 * is dropped (never blocks, never overwrites unread samples) and counted: one
 * overflow event and the number of dropped samples. Dropping the newest
 * samples keeps what the consumer sees contiguous up to the gap.
 *
 * Thread safety, per function:
 *   - create/destroy/reset: no other thread may use the ring meanwhile.
 *   - write, write_spans, write_commit, space: the ONE producer thread only;
 *     wait-free, no allocation, no locks, no system calls: safe on the audio
 *     callback.
 *   - read, available: the ONE consumer thread only.
 *   - capacity, overflows, dropped: any thread, any time (atomic loads).
 */
#ifndef LEC_RING_H
#define LEC_RING_H

#include <stddef.h>
#include <stdint.h>

#include "lec_error.h"

typedef struct lec_ring lec_ring;

/* Capacity in samples = min_capacity rounded up to a power of two (>= 2,
 * <= 2^30). Allocates; not for the audio callback. */
lec_ring *lec_ring_create(size_t min_capacity, lec_error *err);
void lec_ring_destroy(lec_ring *r); /* NULL-safe */
/* Empty the ring and zero the counters (neither side may be active). */
void lec_ring_reset(lec_ring *r);

size_t lec_ring_capacity(const lec_ring *r);

/* Producer: copy up to n samples in; returns how many were written. If fewer
 * than n fit, the rest is dropped and counted as one overflow event. */
size_t lec_ring_write(lec_ring *r, const float *x, size_t n);
/* Producer: free space in samples (a lower bound: the consumer may free more
 * concurrently). */
size_t lec_ring_space(const lec_ring *r);
/* Producer, zero-copy: the free region as at most two spans (second may be
 * empty, *n2 == 0). Fill a prefix of span 1 then span 2 and publish with
 * write_commit(r, written, offered): `written` (<= *n1 + *n2) samples become
 * visible; offered - written > 0 counts as one overflow event. */
void lec_ring_write_spans(lec_ring *r, float **p1, size_t *n1, float **p2, size_t *n2);
void lec_ring_write_commit(lec_ring *r, size_t written, size_t offered);

/* Consumer: samples ready to read (a lower bound). */
size_t lec_ring_available(const lec_ring *r);
/* Consumer: copy up to n samples out (oldest first); returns how many. */
size_t lec_ring_read(lec_ring *r, float *out, size_t n);

/* Overflow events (producer calls that could not store everything) and
 * samples dropped by them since create/reset. */
uint64_t lec_ring_overflows(const lec_ring *r);
uint64_t lec_ring_dropped(const lec_ring *r);

#endif
