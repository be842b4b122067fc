/* lec_unroll.h -- the unrolled score: every staff system of a piece cut from
 * its page with a fixed margin, scaled so that the staff space has a fixed
 * size in pixels, and laid end to end into one grayscale strip.
 *
 * Geometry: a system's crop is centred vertically on its staff box (top line
 * of the top staff to bottom line of the bottom staff) and is height_ss staff
 * spaces tall; horizontally it spans the staff box plus margin_x_ss staff
 * spaces on each side. After scaling by staff_space_px / (the system's staff
 * space), systems are concatenated left to right: system k occupies strip
 * columns [x0, x1) of a strip of height_px rows. Every strip x maps back to
 * (system, page, page x) and the system's page y-range, for display and for
 * ground truth.
 *
 * Pixels: uint8 gray, 255 = white paper, 0 = black ink; outside the page is
 * white. Deterministic: the same bundle and config give the same bytes.
 *
 * Thread safety: create loads page images (allocates, reads files); after
 * that a lec_unroll is immutable and may be read from any thread.
 */
#ifndef LEC_UNROLL_H
#define LEC_UNROLL_H

#include <stddef.h>
#include <stdint.h>

#include "lec_error.h"
#include "lec_piece.h"

typedef struct lec_unroll_config {
    float staff_space_px; /* staff space in the strip; default 5 */
    float height_ss;      /* strip height in staff spaces; default 24 */
    float margin_x_ss;    /* horizontal margin around each system; default 1 */
} lec_unroll_config;

typedef struct lec_unroll_system {
    int page;           /* page index of the system */
    int x0, x1;         /* strip columns [x0, x1) */
    float page_x0;      /* page x (px) of strip column x0 */
    float page_y0;      /* page y (px) of strip row 0 */
    float scale;        /* strip px per page px */
    lec_box box;        /* the system's staff box on its page */
} lec_unroll_system;

typedef struct lec_unroll lec_unroll;

void lec_unroll_config_default(lec_unroll_config *cfg);

/* Cut, scale and concatenate the systems of p, reading its page images. */
lec_unroll *lec_unroll_create(const lec_piece *p, const lec_unroll_config *cfg, lec_error *err);
/* The same from page images already in memory (gray, 255 = white, row-major
 * width_px x height_px of each lec_piece_page): used by tests and import. */
lec_unroll *lec_unroll_create_from_pages(const lec_piece *p, const uint8_t *const *pages,
                                         const lec_unroll_config *cfg, lec_error *err);
void lec_unroll_destroy(lec_unroll *u); /* NULL-safe */

int lec_unroll_width_px(const lec_unroll *u);
int lec_unroll_height_px(const lec_unroll *u);
const uint8_t *lec_unroll_pixels(const lec_unroll *u); /* (height_px, width_px) */
const lec_unroll_config *lec_unroll_config_of(const lec_unroll *u);
size_t lec_unroll_n_systems(const lec_unroll *u);
const lec_unroll_system *lec_unroll_systems(const lec_unroll *u);

/* Page x of system k -> strip x. */
float lec_unroll_strip_x(const lec_unroll *u, int system, float page_x);
/* Strip x -> system (clamped into the strip), page and page x. Returns the system. */
int lec_unroll_to_page(const lec_unroll *u, float strip_x, int *page, float *page_x);

/* A window of the strip, columns [x0, x0 + w), as ink in [0, 1]
 * (1 - gray/255), rows (height_px), row-major (height_px, w); columns outside
 * the strip are 0 (blank paper). x0 may be negative. Never allocates. */
void lec_unroll_window(const lec_unroll *u, int x0, int w, float *out);

/* Strip x of each onset event of the performance order: the x-centre of its
 * leftmost printed head (EVALUATION.md's printed position). Events without
 * a printed head get -1. Array of lec_piece_n_events(p). */
const float *lec_unroll_event_x(const lec_unroll *u);

/* Ground-truth strip x at time t_s of rendering r: between two onset events
 * the position moves linearly (to the next event if it is further right in
 * the same system, else to the end of the current system); before the first
 * event it is the first event's x, after the last it stays. Returns -1 when
 * the rendering has no usable events. */
float lec_unroll_truth_x(const lec_unroll *u, int rendering, double t_s);

#endif
