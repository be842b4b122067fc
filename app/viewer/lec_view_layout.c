/* lec_view_layout.c -- page placement and the page-turn policy (see header). */
#include "lec_view_layout.h"

#include <math.h>

int lec_view_margin_px(int out_w, int out_h)
{
    int m = (int)lroundf(0.015f * (float)(out_w < out_h ? out_w : out_h));
    return m < 4 ? 4 : m;
}

/* Largest common scale at which pages [first, first + count) fit side by side. */
static float fit_scale(int out_w, int out_h, const lec_piece_page *pages, int first, int count)
{
    int m = lec_view_margin_px(out_w, out_h);
    float sum_w = 0, max_h = 0;
    for (int i = first; i < first + count; i++) {
        sum_w += (float)pages[i].width_px;
        if ((float)pages[i].height_px > max_h)
            max_h = (float)pages[i].height_px;
    }
    float avail_w = (float)(out_w - (count + 1) * m), avail_h = (float)(out_h - 2 * m);
    if (sum_w <= 0 || max_h <= 0 || avail_w <= 0 || avail_h <= 0)
        return 0;
    float sw = avail_w / sum_w, sh = avail_h / max_h;
    return sw < sh ? sw : sh;
}

int lec_view_pages_per_view(int out_w, int out_h, const lec_piece_page *pages, int n_pages,
                            int force)
{
    if (n_pages < 2)
        return 1;
    if (force == 1 || force == 2)
        return force;
    float s1 = fit_scale(out_w, out_h, pages, 0, 1);
    float s2 = fit_scale(out_w, out_h, pages, 0, 2);
    return (s1 > 0 && s2 >= 0.85f * s1) ? 2 : 1;
}

int lec_view_target_page(const lec_piece *p, const lec_view_pos *pos, float turn_frac)
{
    int n_pages = (int)lec_piece_n_pages(p), n_sys = (int)lec_piece_n_systems(p);
    if (!pos->valid || pos->lost || pos->page < 0 || pos->page >= n_pages || pos->system < 0 ||
        pos->system >= n_sys)
        return -1;
    const lec_piece_system *sys = lec_piece_systems(p);
    int page = pos->page;
    /* the last system of a page is the one followed by a system of another
     * page (systems are stored in reading order) or by none */
    int last = pos->system + 1 >= n_sys || sys[pos->system + 1].page != sys[pos->system].page;
    if (last && page + 1 < n_pages) {
        const lec_box *b = &sys[pos->system].box;
        if (pos->page_x_px >= b->x0 + turn_frac * (b->x1 - b->x0))
            page++;
    }
    return page;
}

int lec_view_first_page(int pos_page, int target, int prev_first, int per_view, int n_pages)
{
    int first = prev_first;
    if (target >= 0) {
        if (pos_page < 0 || pos_page > target)
            pos_page = target;
        if (per_view <= 1)
            first = target;
        else if (first < 0 || pos_page < first || target > first + per_view - 1)
            first = pos_page;
    }
    if (first < 0)
        first = 0;
    int max_first = n_pages - per_view;
    if (max_first < 0)
        max_first = 0;
    return first > max_first ? max_first : first;
}

void lec_view_layout_compute(int out_w, int out_h, const lec_piece_page *pages, int n_pages,
                             int first_page, int per_view, lec_view_layout *out)
{
    out->out_w = out_w;
    out->out_h = out_h;
    out->first_page = first_page;
    int count = per_view;
    if (first_page + count > n_pages)
        count = n_pages - first_page;
    if (count < 0)
        count = 0;
    out->n_shown = count;
    out->scale = count > 0 ? fit_scale(out_w, out_h, pages, first_page, count) : 0;
    int m = lec_view_margin_px(out_w, out_h);
    int total_w = (count - 1) * m;
    for (int i = 0; i < count; i++) {
        const lec_piece_page *pg = &pages[first_page + i];
        out->page[i].w = (int)lroundf((float)pg->width_px * out->scale);
        out->page[i].h = (int)lroundf((float)pg->height_px * out->scale);
        total_w += out->page[i].w;
    }
    int x = (out_w - total_w) / 2;
    for (int i = 0; i < count; i++) {
        out->page[i].x = x;
        out->page[i].y = (out_h - out->page[i].h) / 2;
        x += out->page[i].w + m;
    }
    for (int i = count; i < 2; i++)
        out->page[i] = (lec_view_rect){0, 0, 0, 0};
}

int lec_view_layout_hit(const lec_view_layout *l, const lec_piece_page *pages, int px, int py,
                        float *page_x, float *page_y)
{
    for (int i = 0; i < l->n_shown; i++) {
        const lec_view_rect *r = &l->page[i];
        if (r->w <= 0 || px < r->x || px >= r->x + r->w || py < r->y || py >= r->y + r->h)
            continue;
        const lec_piece_page *pg = &pages[l->first_page + i];
        *page_x = (float)(px - r->x) * (float)pg->width_px / (float)r->w;
        *page_y = (float)(py - r->y) * (float)pg->height_px / (float)r->h;
        return l->first_page + i;
    }
    return -1;
}

int lec_view_system_at(const lec_piece *p, int page, float page_y)
{
    const lec_piece_system *sys = lec_piece_systems(p);
    int best = -1;
    float best_d = INFINITY;
    for (int k = 0; k < (int)lec_piece_n_systems(p); k++) {
        if (sys[k].page != page)
            continue;
        float d = page_y < sys[k].box.y0   ? sys[k].box.y0 - page_y
                  : page_y > sys[k].box.y1 ? page_y - sys[k].box.y1
                                           : 0;
        if (d < best_d) {
            best_d = d;
            best = k;
        }
    }
    return best;
}
