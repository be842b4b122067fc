/* lec_view_sync.c -- seqlock position cell and SPSC command ring.
 *
 * Seqlock (Boehm, "Can seqlocks get along with programming language memory
 * models?", 2012): the writer makes seq odd, stores the payload with relaxed
 * atomics after a release fence, then makes seq even with a release store.
 * The reader loads seq (acquire), copies, issues an acquire fence, reloads
 * seq, and accepts the copy only if both loads are equal and even. Writers
 * claim the cell with a CAS even -> odd instead of a plain store so that two
 * publishing threads never interleave their payloads; the loser drops its
 * snapshot instead of waiting. */
#include "lec_view_sync.h"

#include <string.h>

void lec_pos_cell_init(lec_pos_cell *c)
{
    atomic_init(&c->seq, 0);
    for (size_t i = 0; i < LEC_POS_WORDS; i++)
        atomic_init(&c->words[i], 0);
    atomic_init(&c->n_published, 0);
    atomic_init(&c->n_collisions, 0);
}

int lec_pos_cell_publish(lec_pos_cell *c, const lec_view_pos *pos)
{
    uint64_t w[LEC_POS_WORDS];
    memset(w, 0, sizeof w);
    memcpy(w, pos, sizeof *pos);

    uint64_t s = atomic_load_explicit(&c->seq, memory_order_relaxed);
    if ((s & 1u) || !atomic_compare_exchange_strong_explicit(&c->seq, &s, s + 1,
                                                              memory_order_relaxed,
                                                              memory_order_relaxed)) {
        atomic_fetch_add_explicit(&c->n_collisions, 1, memory_order_relaxed);
        return 0;
    }
    atomic_thread_fence(memory_order_release);
    for (size_t i = 0; i < LEC_POS_WORDS; i++)
        atomic_store_explicit(&c->words[i], w[i], memory_order_relaxed);
    atomic_store_explicit(&c->seq, s + 2, memory_order_release);
    atomic_fetch_add_explicit(&c->n_published, 1, memory_order_relaxed);
    return 1;
}

int lec_pos_cell_read(lec_pos_cell *c, lec_view_pos *out)
{
    uint64_t w[LEC_POS_WORDS];
    /* A write copies ~64 bytes; 64 attempts only fail if the writer is
     * preempted mid-write, and then the caller keeps its previous snapshot. */
    for (int attempt = 0; attempt < 64; attempt++) {
        uint64_t s1 = atomic_load_explicit(&c->seq, memory_order_acquire);
        if (s1 == 0)
            return 0; /* never published */
        if (s1 & 1u)
            continue;
        for (size_t i = 0; i < LEC_POS_WORDS; i++)
            w[i] = atomic_load_explicit(&c->words[i], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        uint64_t s2 = atomic_load_explicit(&c->seq, memory_order_relaxed);
        if (s1 == s2) {
            memcpy(out, w, sizeof *out);
            return 1;
        }
    }
    return 0;
}

void lec_cmd_queue_init(lec_cmd_queue *q)
{
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    atomic_init(&q->n_dropped, 0);
    memset(q->slots, 0, sizeof q->slots);
}

int lec_cmd_queue_push(lec_cmd_queue *q, const lec_view_cmd *cmd)
{
    uint32_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
    if (h - t >= LEC_CMD_QUEUE_CAP) {
        atomic_fetch_add_explicit(&q->n_dropped, 1, memory_order_relaxed);
        return 0;
    }
    q->slots[h & (LEC_CMD_QUEUE_CAP - 1)] = *cmd;
    atomic_store_explicit(&q->head, h + 1, memory_order_release);
    return 1;
}

int lec_cmd_queue_pop(lec_cmd_queue *q, lec_view_cmd *cmd)
{
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    if (t == h)
        return 0;
    *cmd = q->slots[t & (LEC_CMD_QUEUE_CAP - 1)];
    atomic_store_explicit(&q->tail, t + 1, memory_order_release);
    return 1;
}
