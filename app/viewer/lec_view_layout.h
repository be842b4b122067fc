/* lec_view_layout.h -- where the viewer puts the pages, and when it turns
 * them. Pure functions (no SDL, no allocation), so the policy is testable on
 * its own and the window and headless recording share it exactly.
 *
 * Layout: the pages shown (one, or two side by side) are scaled by one common
 * factor to the largest size that fits the output with a margin of
 * max(4, 1.5% of min(W, H)) px around and between them, and centred. Two
 * pages are shown when the piece has at least two and two pages fit at
 * >= 85% of the scale one page would get (for A4 pages: a window aspect
 * ratio >= ~1.2); the caller can force one or two.
 *
 * Page turning (the reader needs the next page before the music gets there):
 *   target page = the position's page; but once the position is in the LAST
 *   system of its page and has passed turn_frac of that system's width, the
 *   target is the next page.
 *   One page per view: the target page is shown. turn_frac 0.75 by default:
 *     the last quarter of the last system is played from memory while the
 *     next page is already there to read ahead (the marker disappears for
 *     that quarter; it is on the previous page).
 *   Two pages per view (pages first, first + 1): nothing moves while both
 *     the position's page and the target are shown; otherwise the position's
 *     page goes to the left and the target (it or the next page) is on the
 *     right. In a continuous performance the view thus advances by one page
 *     when the music enters the last system of the right page (the page
 *     being played moves to the left, still visible, and the next page
 *     appears on the right); after a jump back (a repeat, a restart) the
 *     position's page becomes the left page.
 *     turn_frac 0 by default: the view advances as soon as the music enters
 *     the last system of the right page, and the marker stays visible.
 *   While the follower is lost (or has no position) the view does not move:
 *   a search must not flip pages back and forth.
 */
#ifndef LEC_VIEW_LAYOUT_H
#define LEC_VIEW_LAYOUT_H

#include "lec_piece.h"
#include "lec_view_sync.h"

typedef struct lec_view_rect {
    int x, y, w, h; /* output px */
} lec_view_rect;

typedef struct lec_view_layout {
    int out_w, out_h;     /* output size, px */
    int first_page;       /* first page shown */
    int n_shown;          /* 1 or 2 */
    float scale;          /* output px per page px (common to the pages shown) */
    lec_view_rect page[2];/* rects of pages first_page, first_page + 1 */
} lec_view_layout;

/* 1 or 2: force (1 or 2) or 0 = automatic as described above. */
int lec_view_pages_per_view(int out_w, int out_h, const lec_piece_page *pages, int n_pages,
                            int force);

/* Margin around and between pages, output px. */
int lec_view_margin_px(int out_w, int out_h);

/* The page the reader needs now (see above), or -1 when the view should not
 * move (no valid position, lost, out-of-range page/system). */
int lec_view_target_page(const lec_piece *p, const lec_view_pos *pos, float turn_frac);

/* First page to show given the position's page, the target (-1: keep the
 * view), the previous first page (-1: none yet) and pages per view. One page:
 * the target. Two pages: the view is kept while it shows both the
 * position's page and the target; otherwise the position's page goes left
 * (the target, the same or the next page, is then shown too). The result is
 * within [0, max(0, n_pages - per_view)]. */
int lec_view_first_page(int pos_page, int target, int prev_first, int per_view, int n_pages);

/* Rects of pages first_page .. first_page + per_view - 1 (fewer if the piece
 * ends) in an out_w x out_h output. */
void lec_view_layout_compute(int out_w, int out_h, const lec_piece_page *pages, int n_pages,
                             int first_page, int per_view, lec_view_layout *out);

/* Output point -> (page, page x, page y); returns the page index or -1 when
 * the point is on no shown page. */
int lec_view_layout_hit(const lec_view_layout *l, const lec_piece_page *pages, int px, int py,
                        float *page_x, float *page_y);

/* The system of `page` nearest to page y (a click between two systems goes to
 * the nearer one), or -1 if the page has no system. */
int lec_view_system_at(const lec_piece *p, int page, float page_y);

#endif
