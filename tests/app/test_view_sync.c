/* test_view_sync.c -- the follower <-> viewer exchange under concurrency:
 * a reader racing a fast writer never sees a torn snapshot and never goes
 * back in time; two writers racing each other never interleave their
 * payloads (the loser's snapshot is dropped and counted); the command ring
 * delivers every command in order across threads and drops (counts) only
 * when full. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "lec_test.h"
#include "lec_util.h"
#include "lec_view_sync.h"

static lec_pos_cell cell;
static atomic_int stop;

/* every field derived from one counter: a torn copy is detected */
static void make(lec_view_pos *p, int64_t i, int writer)
{
    memset(p, 0, sizeof *p);
    p->valid = 1;
    p->frame = i;
    p->page = (int)(i % 1000) + writer * 100000;
    p->system = (int)(i % 777) + writer * 100000;
    p->page_x_px = (float)(i % 4096);
    p->sys_y0_px = (float)(i % 1024);
    p->sys_y1_px = p->sys_y0_px + 1;
    p->confidence = (float)(i % 100) / 100.0f;
    p->lost = (int)(i & 1);
    p->tempo = (float)writer;
    p->time_s = (double)i * 0.5;
    p->flags = (uint32_t)(i * 2654435761u);
}

static int consistent(const lec_view_pos *p)
{
    lec_view_pos q;
    make(&q, p->frame, (int)p->tempo);
    return memcmp(&q, p, sizeof q) == 0;
}

static void *writer_main(void *arg)
{
    int w = (int)(intptr_t)arg;
    lec_view_pos p;
    for (int64_t i = 1; !atomic_load_explicit(&stop, memory_order_relaxed); i++) {
        make(&p, i, w);
        lec_pos_cell_publish(&cell, &p);
    }
    return NULL;
}

static void race(int n_writers, double seconds, int check_monotonic)
{
    lec_pos_cell_init(&cell);
    atomic_store(&stop, 0);
    pthread_t th[2];
    for (int w = 0; w < n_writers; w++)
        pthread_create(&th[w], NULL, writer_main, (void *)(intptr_t)w);
    long reads = 0, torn = 0, backwards = 0;
    int64_t last = 0;
    double t0 = lec_now_s();
    lec_view_pos p;
    while (lec_now_s() - t0 < seconds) {
        if (!lec_pos_cell_read(&cell, &p))
            continue;
        reads++;
        if (!consistent(&p))
            torn++;
        if (check_monotonic && p.frame < last)
            backwards++;
        last = p.frame;
    }
    atomic_store(&stop, 1);
    for (int w = 0; w < n_writers; w++)
        pthread_join(th[w], NULL);
    CHECKF(reads > 1000, "only %ld successful reads", reads);
    CHECKF(torn == 0, "%ld torn snapshots of %ld", torn, reads);
    CHECKF(backwards == 0, "%ld snapshots older than the previous one", backwards);
    CHECK(atomic_load(&cell.n_published) > 1000);
    if (n_writers > 1)
        fprintf(stderr, "two writers: %llu published, %llu dropped by collision\n",
                (unsigned long long)atomic_load(&cell.n_published),
                (unsigned long long)atomic_load(&cell.n_collisions));
}

static lec_cmd_queue queue;
#define N_CMDS 200000

static void *producer_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < N_CMDS; i++) {
        lec_view_cmd c = {LEC_VIEW_CMD_SEEK, 0, i, (float)i};
        while (!lec_cmd_queue_push(&queue, &c))
            ; /* the test wants all of them: retry (the viewer would not) */
    }
    return NULL;
}

int main(void)
{
    /* single cell semantics */
    lec_pos_cell_init(&cell);
    lec_view_pos p, q;
    CHECK(lec_pos_cell_read(&cell, &q) == 0);
    make(&p, 42, 0);
    CHECK(lec_pos_cell_publish(&cell, &p) == 1);
    CHECK(lec_pos_cell_read(&cell, &q) == 1 && memcmp(&p, &q, sizeof p) == 0);
    make(&p, 43, 0);
    lec_pos_cell_publish(&cell, &p);
    CHECK(lec_pos_cell_read(&cell, &q) == 1 && q.frame == 43);

    race(1, 0.4, 1);
    race(2, 0.4, 0);

    /* command ring: order and loss accounting */
    lec_cmd_queue_init(&queue);
    lec_view_cmd c = {LEC_VIEW_CMD_NUDGE, 1, 0, 0};
    for (int i = 0; i < LEC_CMD_QUEUE_CAP; i++)
        CHECK(lec_cmd_queue_push(&queue, &c) == 1);
    CHECK(lec_cmd_queue_push(&queue, &c) == 0);
    CHECK(atomic_load(&queue.n_dropped) == 1);
    int n = 0;
    while (lec_cmd_queue_pop(&queue, &c))
        n++;
    CHECK(n == LEC_CMD_QUEUE_CAP);

    lec_cmd_queue_init(&queue);
    pthread_t th;
    pthread_create(&th, NULL, producer_main, NULL);
    int expect = 0, bad = 0;
    while (expect < N_CMDS) {
        if (!lec_cmd_queue_pop(&queue, &c))
            continue;
        if (c.kind != LEC_VIEW_CMD_SEEK || c.system != expect || c.page_x_px != (float)expect)
            bad++;
        expect++;
    }
    pthread_join(th, NULL);
    CHECKF(bad == 0, "%d commands out of order or corrupted", bad);
    CHECK(lec_cmd_queue_pop(&queue, &c) == 0);
    return lec_test_finish("test_view_sync");
}
