/* lec_view_sync.h -- what the follower and the viewer exchange, without
 * either ever waiting for the other:
 *   follower -> viewer: the latest position (lec_view_pos), through a
 *                       seqlock cell (lec_pos_cell): the writer never waits,
 *                       the reader retries a bounded number of times and
 *                       otherwise keeps what it had.
 *   viewer -> follower: user commands (pause, nudge, seek...), through a
 *                       single-producer single-consumer ring of fixed
 *                       capacity (lec_cmd_queue); a full ring drops the new
 *                       command and counts it.
 * Both are plain structs of fixed size (embed them, call _init once); no
 * function here allocates, locks, sleeps or makes a system call, so they may
 * be used on real-time threads (the tracker's, even an audio callback).
 */
#ifndef LEC_VIEW_SYNC_H
#define LEC_VIEW_SYNC_H

#include <stdatomic.h>
#include <stdint.h>

/* Flags of a position. */
#define LEC_VIEW_POS_PAUSED 1u   /* the follower is paused by the user */
#define LEC_VIEW_POS_FINISHED 2u /* the performance/rendering has ended */

/* The follower's position as the viewer draws it. Page units: pixels of the
 * page image (lec_piece_page), origin top-left. Mirrors lec_track_state
 * (hmm/lec_tracker.h) after mapping its strip x to the page with
 * lec_unroll_to_page(). */
typedef struct lec_view_pos {
    int valid;           /* 0 = no position yet (nothing is drawn) */
    int page;            /* page index of the position */
    int system;          /* system index (lec_piece_systems) */
    float page_x_px;     /* x of the position on its page */
    float sys_y0_px;     /* the system's page y-range (its staff box) */
    float sys_y1_px;
    float confidence;    /* [0, 1] */
    int lost;            /* 1 while the follower searches */
    float tempo;         /* x the score's tempo; 0 = unknown */
    double time_s;       /* audio time of this position (s since the start) */
    int64_t frame;       /* follower frame counter (monotonic) */
    uint32_t flags;      /* LEC_VIEW_POS_* */
} lec_view_pos;

/* Seqlock cell. The payload is stored as relaxed atomic 64-bit words so that
 * a reader racing a writer is well defined in C11 (it may see a torn copy,
 * which the sequence check then discards). */
#define LEC_POS_WORDS ((sizeof(lec_view_pos) + 7) / 8)
typedef struct lec_pos_cell {
    _Atomic uint64_t seq;               /* odd while a write is in progress */
    _Atomic uint64_t words[LEC_POS_WORDS];
    _Atomic uint64_t n_published;
    _Atomic uint64_t n_collisions;      /* publishes dropped: another publisher was mid-write */
} lec_pos_cell;

void lec_pos_cell_init(lec_pos_cell *c);
/* Any thread. Wait-free: if another thread is publishing at this very
 * moment, this snapshot is dropped (counted), since the other one is at
 * least as recent. Returns 1 if published, 0 if dropped. */
int lec_pos_cell_publish(lec_pos_cell *c, const lec_view_pos *pos);
/* Any thread. Copies the latest complete snapshot into *out and returns 1;
 * returns 0 (and leaves *out untouched) if nothing was published yet or if
 * every one of a bounded number of attempts raced a writer. */
int lec_pos_cell_read(lec_pos_cell *c, lec_view_pos *out);

/* Commands from the viewer to the follower. */
typedef enum {
    LEC_VIEW_CMD_PAUSE_TOGGLE = 1, /* space */
    LEC_VIEW_CMD_NUDGE,            /* arrows: delta = -1 / +1 system */
    LEC_VIEW_CMD_RESTART,          /* Home: back to the start */
    LEC_VIEW_CMD_RELOCALISE,       /* R: search the whole score again */
    LEC_VIEW_CMD_SEEK,             /* click: system + page_x_px */
    LEC_VIEW_CMD_QUIT              /* Q / Escape / window closed */
} lec_view_cmd_kind;

typedef struct lec_view_cmd {
    lec_view_cmd_kind kind;
    int delta;        /* NUDGE */
    int system;       /* SEEK */
    float page_x_px;  /* SEEK */
} lec_view_cmd;

#define LEC_CMD_QUEUE_CAP 64 /* power of two */
typedef struct lec_cmd_queue {
    _Atomic uint32_t head; /* next slot to write (producer) */
    _Atomic uint32_t tail; /* next slot to read (consumer) */
    _Atomic uint32_t n_dropped;
    lec_view_cmd slots[LEC_CMD_QUEUE_CAP];
} lec_cmd_queue;

void lec_cmd_queue_init(lec_cmd_queue *q);
/* One producer thread (the viewer). Returns 0 and counts a drop when full. */
int lec_cmd_queue_push(lec_cmd_queue *q, const lec_view_cmd *cmd);
/* One consumer thread (the follower). Returns 1 and fills *cmd, 0 if empty. */
int lec_cmd_queue_pop(lec_cmd_queue *q, lec_view_cmd *cmd);

#endif
