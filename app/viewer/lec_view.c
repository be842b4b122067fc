/* lec_view.c -- page drawing shared by the window and the offscreen recorder.
 *
 * A "canvas" is one SDL_Renderer (a window's, or a software renderer on an
 * SDL_Surface) with its page textures and its own page-turn state, so a
 * window and a recorder of the same view never disturb each other. */
#include "lec_view.h"

#include <SDL.h>
#include <SDL_image.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lec_util.h"
#include "lec_view_layout.h"

typedef struct canvas {
    SDL_Renderer *ren;
    int n_pages;
    SDL_Texture **tex; /* (n_pages) page images resampled to tex_w x tex_h */
    int *tex_w, *tex_h;
    int first_page;    /* page-turn state; -1 before the first frame */
    int stage;
    lec_view_layout lay;
} canvas;

struct lec_view {
    const lec_piece *piece;
    lec_view_config cfg;
    char title[256];
    int n_pages;
    uint8_t **gray; /* (n_pages) page pixels, gray (height_px, width_px), 255 = paper */
    float *sys_ss;  /* (n_systems) staff space of each system, page px */

    lec_pos_cell cell;
    lec_cmd_queue cmds;
    lec_view_pos last; /* last snapshot read by the render thread */
    int have_last;

    /* window */
    int video_inited;
    SDL_Window *win;
    canvas wc;
    int hidden;
    double next_frame_s;
    double title_s;
    double fail_since_s; /* first of a run of renderer failures, 0 = none */
};

/* ---------------------------------------------------------------- pages */

static lec_status load_gray(const char *path, int want_w, int want_h, uint8_t **out,
                            lec_error *err)
{
    SDL_Surface *img = IMG_Load(path);
    if (!img)
        return lec_error_set(err, LEC_EIO, "%s: cannot read page image: %s", path, IMG_GetError());
    SDL_Surface *rgba = SDL_ConvertSurfaceFormat(img, SDL_PIXELFORMAT_RGBA32, 0);
    SDL_FreeSurface(img);
    if (!rgba)
        return lec_error_set(err, LEC_EFORMAT, "%s: cannot convert page image: %s", path,
                             SDL_GetError());
    if (rgba->w != want_w || rgba->h != want_h) {
        lec_error_set(err, LEC_EFORMAT, "%s: page image is %dx%d px, piece.json says %dx%d",
                      path, rgba->w, rgba->h, want_w, want_h);
        SDL_FreeSurface(rgba);
        return LEC_EFORMAT;
    }
    uint8_t *g = malloc((size_t)want_w * (size_t)want_h);
    if (!g) {
        SDL_FreeSurface(rgba);
        return lec_error_set(err, LEC_ENOMEM, "%s: out of memory for the page", path);
    }
    for (int y = 0; y < want_h; y++) {
        const uint8_t *row = (const uint8_t *)rgba->pixels + (size_t)y * (size_t)rgba->pitch;
        for (int x = 0; x < want_w; x++) {
            const uint8_t *px = row + 4 * x;
            int lum = (77 * px[0] + 150 * px[1] + 29 * px[2]) >> 8;
            /* transparent pixels are paper */
            g[(size_t)y * want_w + x] = (uint8_t)(255 - ((255 - lum) * px[3] + 127) / 255);
        }
    }
    SDL_FreeSurface(rgba);
    *out = g;
    return LEC_OK;
}

void lec_view_config_default(lec_view_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->width_px = 1280;
    cfg->height_px = 800;
    cfg->turn_frac_single = 0.75f;
    cfg->turn_frac_double = 0.0f;
    cfg->fps = 60;
}

lec_view *lec_view_create(const lec_piece *p, const lec_view_config *cfg, lec_error *err)
{
    lec_view_config def;
    if (!cfg) {
        lec_view_config_default(&def);
        cfg = &def;
    }
    if (!p) {
        lec_error_set(err, LEC_EINVAL, "viewer: no piece");
        return NULL;
    }
    if (cfg->width_px < 16 || cfg->height_px < 16 || cfg->width_px > 16384 ||
        cfg->height_px > 16384) {
        lec_error_set(err, LEC_EINVAL, "viewer: size %dx%d px out of range (16..16384)",
                      cfg->width_px, cfg->height_px);
        return NULL;
    }
    if (!(cfg->fps > 0 && cfg->fps <= 1000) || cfg->pages_per_view < 0 ||
        cfg->pages_per_view > 2 || !(cfg->turn_frac_single >= 0 && cfg->turn_frac_single <= 1) ||
        !(cfg->turn_frac_double >= 0 && cfg->turn_frac_double <= 1)) {
        lec_error_set(err, LEC_EINVAL,
                      "viewer: bad configuration (fps %g, pages per view %d, turn fractions "
                      "%g/%g)",
                      cfg->fps, cfg->pages_per_view, cfg->turn_frac_single, cfg->turn_frac_double);
        return NULL;
    }
    if (lec_piece_n_pages(p) == 0) {
        lec_error_set(err, LEC_EFORMAT, "%s: the piece has no pages", lec_piece_dir(p));
        return NULL;
    }
    lec_view *v = calloc(1, sizeof *v);
    if (!v) {
        lec_error_set(err, LEC_ENOMEM, "viewer: out of memory");
        return NULL;
    }
    v->piece = p;
    v->cfg = *cfg;
    snprintf(v->title, sizeof v->title, "%s", cfg->title ? cfg->title : lec_piece_title(p));
    v->cfg.title = v->title;
    v->n_pages = (int)lec_piece_n_pages(p);
    lec_pos_cell_init(&v->cell);
    lec_cmd_queue_init(&v->cmds);
    v->wc.first_page = -1;

    size_t n_sys = lec_piece_n_systems(p);
    v->gray = calloc((size_t)v->n_pages, sizeof *v->gray);
    v->sys_ss = calloc(n_sys ? n_sys : 1, sizeof *v->sys_ss);
    if (!v->gray || !v->sys_ss) {
        lec_error_set(err, LEC_ENOMEM, "viewer: out of memory");
        lec_view_destroy(v);
        return NULL;
    }
    const lec_piece_system *sys = lec_piece_systems(p);
    const lec_piece_staff *st = lec_piece_staves(p);
    for (size_t k = 0; k < n_sys; k++)
        v->sys_ss[k] = sys[k].n_staves > 0 ? st[sys[k].first_staff].staff_space_px
                                           : (sys[k].box.y1 - sys[k].box.y0) / 12.0f;
    const lec_piece_page *pages = lec_piece_pages(p);
    for (int i = 0; i < v->n_pages; i++) {
        char path[4400];
        lec_piece_path(p, pages[i].image, path, sizeof path);
        if (load_gray(path, pages[i].width_px, pages[i].height_px, &v->gray[i], err) != LEC_OK) {
            lec_view_destroy(v);
            return NULL;
        }
    }
    return v;
}

/* ------------------------------------------------------------- sync API */

void lec_view_publish(lec_view *v, const lec_view_pos *pos) { lec_pos_cell_publish(&v->cell, pos); }

int lec_view_poll_command(lec_view *v, lec_view_cmd *cmd) { return lec_cmd_queue_pop(&v->cmds, cmd); }

int lec_view_send_command(lec_view *v, const lec_view_cmd *cmd)
{
    return lec_cmd_queue_push(&v->cmds, cmd);
}

int lec_view_latest(lec_view *v, lec_view_pos *out)
{
    if (lec_pos_cell_read(&v->cell, &v->last))
        v->have_last = 1;
    if (!v->have_last) {
        memset(out, 0, sizeof *out);
        return 0;
    }
    *out = v->last;
    return 1;
}

/* ------------------------------------------------------------ resampling */

/* Taps of a 1-D resampling from n_in to n_out samples: area averaging when
 * shrinking (every source pixel contributes by its overlap, so thin staff
 * lines stay visible as gray instead of vanishing), linear interpolation when
 * growing. w is (n_out, max_taps); start/n per output. */
static int axis_taps(int n_in, int n_out, int *start, int *n, float *w, int max_taps)
{
    double r = (double)n_in / n_out;
    for (int o = 0; o < n_out; o++) {
        float *wo = w + (size_t)o * max_taps;
        if (r >= 1.0) {
            double a = o * r, b = (o + 1) * r;
            int j0 = (int)floor(a), j1 = (int)ceil(b);
            if (j1 > n_in)
                j1 = n_in;
            if (j1 - j0 > max_taps)
                j1 = j0 + max_taps;
            start[o] = j0;
            n[o] = j1 - j0;
            for (int j = j0; j < j1; j++)
                wo[j - j0] = (float)((fmin(b, j + 1) - fmax(a, j)) / r);
        } else {
            double c = (o + 0.5) * r - 0.5;
            int j = (int)floor(c);
            double f = c - j;
            if (j < 0) {
                j = 0;
                f = 0;
            }
            if (j >= n_in - 1) {
                j = n_in - 1;
                f = 0;
            }
            start[o] = j;
            n[o] = f > 0 ? 2 : 1;
            wo[0] = (float)(1 - f);
            wo[1] = (float)f;
        }
    }
    return 0;
}

/* gray (sh, sw) -> XRGB8888 (dh, dw). Allocates temporaries: layout changes only. */
static int resample_page(const uint8_t *src, int sw, int sh, uint32_t *dst, int dw, int dh)
{
    int tx = (int)ceil((double)sw / dw) + 2, ty = (int)ceil((double)sh / dh) + 2;
    int *xs = malloc(sizeof(int) * 2 * (size_t)dw), *ys = malloc(sizeof(int) * 2 * (size_t)dh);
    float *wx = malloc(sizeof(float) * (size_t)dw * tx);
    float *wy = malloc(sizeof(float) * (size_t)dh * ty);
    float *tmp = malloc(sizeof(float) * (size_t)sh * dw); /* (sh, dw) after the x pass */
    if (!xs || !ys || !wx || !wy || !tmp) {
        free(xs), free(ys), free(wx), free(wy), free(tmp);
        return -1;
    }
    axis_taps(sw, dw, xs, xs + dw, wx, tx);
    axis_taps(sh, dh, ys, ys + dh, wy, ty);
    for (int y = 0; y < sh; y++) {
        const uint8_t *row = src + (size_t)y * sw;
        float *trow = tmp + (size_t)y * dw;
        for (int o = 0; o < dw; o++) {
            const float *wo = wx + (size_t)o * tx;
            float acc = 0;
            for (int k = 0; k < xs[dw + o]; k++)
                acc += wo[k] * row[xs[o] + k];
            trow[o] = acc;
        }
    }
    for (int o = 0; o < dh; o++) {
        const float *wo = wy + (size_t)o * ty;
        uint32_t *drow = dst + (size_t)o * dw;
        for (int x = 0; x < dw; x++) {
            float acc = 0;
            for (int k = 0; k < ys[dh + o]; k++)
                acc += wo[k] * tmp[(size_t)(ys[o] + k) * dw + x];
            int g = (int)lrintf(acc);
            g = g < 0 ? 0 : g > 255 ? 255 : g;
            drow[x] = 0xFF000000u | (uint32_t)g << 16 | (uint32_t)g << 8 | (uint32_t)g;
        }
    }
    free(xs), free(ys), free(wx), free(wy), free(tmp);
    return 0;
}

/* ---------------------------------------------------------------- canvas */

static int canvas_init(canvas *c, SDL_Renderer *ren, int n_pages)
{
    memset(c, 0, sizeof *c);
    c->ren = ren;
    c->n_pages = n_pages;
    c->first_page = -1;
    c->tex = calloc((size_t)n_pages, sizeof *c->tex);
    c->tex_w = calloc((size_t)n_pages, sizeof *c->tex_w);
    c->tex_h = calloc((size_t)n_pages, sizeof *c->tex_h);
    return (c->tex && c->tex_w && c->tex_h) ? 0 : -1;
}

static void canvas_drop_textures(canvas *c)
{
    for (int i = 0; c->tex && i < c->n_pages; i++) {
        if (c->tex[i])
            SDL_DestroyTexture(c->tex[i]);
        c->tex[i] = NULL;
        c->tex_w[i] = c->tex_h[i] = 0;
    }
}

static void canvas_free(canvas *c)
{
    canvas_drop_textures(c);
    free(c->tex);
    free(c->tex_w);
    free(c->tex_h);
    c->tex = NULL;
    c->tex_w = c->tex_h = NULL;
}

/* Page i's texture at exactly w x h output px (built when the size changes). */
static SDL_Texture *page_texture(lec_view *v, canvas *c, int i, int w, int h)
{
    if (w <= 0 || h <= 0)
        return NULL;
    if (c->tex[i] && c->tex_w[i] == w && c->tex_h[i] == h)
        return c->tex[i];
    if (c->tex[i])
        SDL_DestroyTexture(c->tex[i]);
    c->tex[i] = NULL;
    c->tex_w[i] = c->tex_h[i] = 0;
    const lec_piece_page *pg = &lec_piece_pages(v->piece)[i];
    uint32_t *px = malloc(sizeof(uint32_t) * (size_t)w * h);
    if (!px)
        return NULL;
    if (resample_page(v->gray[i], pg->width_px, pg->height_px, px, w, h) == 0) {
        c->tex[i] = SDL_CreateTexture(c->ren, SDL_PIXELFORMAT_XRGB8888,
                                      SDL_TEXTUREACCESS_STATIC, w, h);
        if (c->tex[i] && SDL_UpdateTexture(c->tex[i], NULL, px, w * 4) != 0) {
            SDL_DestroyTexture(c->tex[i]);
            c->tex[i] = NULL;
        }
    }
    free(px);
    if (c->tex[i]) {
        c->tex_w[i] = w;
        c->tex_h[i] = h;
    }
    return c->tex[i];
}

static void fill(SDL_Renderer *r, float x0, float y0, float x1, float y1, int cr, int cg, int cb,
                 int ca)
{
    SDL_SetRenderDrawColor(r, (Uint8)cr, (Uint8)cg, (Uint8)cb, (Uint8)ca);
    SDL_Rect q = {(int)lroundf(x0), (int)lroundf(y0), (int)lroundf(x1 - x0), (int)lroundf(y1 - y0)};
    if (q.w < 1)
        q.w = 1;
    if (q.h < 1)
        q.h = 1;
    SDL_RenderFillRect(r, &q);
}

static void outline(SDL_Renderer *r, float x0, float y0, float x1, float y1, int t, int cr,
                    int cg, int cb, int ca)
{
    fill(r, x0, y0, x1, y0 + t, cr, cg, cb, ca);
    fill(r, x0, y1 - t, x1, y1, cr, cg, cb, ca);
    fill(r, x0, y0 + t, x0 + t, y1 - t, cr, cg, cb, ca);
    fill(r, x1 - t, y0 + t, x1, y1 - t, cr, cg, cb, ca);
}

/* Draw one frame of pos into c (out_w x out_h). Returns < 0 if the renderer
 * failed (SDL error set). */
static int canvas_draw(lec_view *v, canvas *c, const lec_view_pos *pos, int out_w, int out_h)
{
    SDL_Renderer *r = c->ren;
    const lec_piece *p = v->piece;
    const lec_piece_page *pages = lec_piece_pages(p);
    int per_view = lec_view_pages_per_view(out_w, out_h, pages, v->n_pages, v->cfg.pages_per_view);
    float tf = per_view == 2 ? v->cfg.turn_frac_double : v->cfg.turn_frac_single;
    int target = lec_view_target_page(p, pos, tf);
    c->first_page =
        lec_view_first_page(pos->page, target, c->first_page, per_view, v->n_pages);
    lec_view_layout_compute(out_w, out_h, pages, v->n_pages, c->first_page, per_view, &c->lay);
    const lec_view_layout *L = &c->lay;
    int mn = out_w < out_h ? out_w : out_h;

    int rc = 0;
    SDL_SetRenderDrawBlendMode(r, SDL_BLENDMODE_NONE);
    if (c->stage)
        SDL_SetRenderDrawColor(r, 0, 0, 0, 255);
    else
        SDL_SetRenderDrawColor(r, 46, 48, 54, 255);
    if (SDL_RenderClear(r) != 0)
        rc = -1;
    for (int i = 0; i < L->n_shown; i++) {
        const lec_view_rect *q = &L->page[i];
        SDL_Texture *t = page_texture(v, c, L->first_page + i, q->w, q->h);
        SDL_Rect dst = {q->x, q->y, q->w, q->h};
        if (t) {
            if (SDL_RenderCopy(r, t, NULL, &dst) != 0)
                rc = -1;
        } else {
            fill(r, (float)q->x, (float)q->y, (float)(q->x + q->w), (float)(q->y + q->h), 255,
                 255, 255, 255);
        }
    }
    SDL_SetRenderDrawBlendMode(r, SDL_BLENDMODE_BLEND);

    int slot = pos->valid ? pos->page - L->first_page : -1;
    if (slot >= 0 && slot < L->n_shown && pos->page < v->n_pages) {
        const lec_view_rect *q = &L->page[slot];
        float s = (float)q->w / (float)pages[pos->page].width_px;
        float ss = (pos->system >= 0 && pos->system < (int)lec_piece_n_systems(p))
                       ? v->sys_ss[pos->system]
                       : (pos->sys_y1_px - pos->sys_y0_px) / 12.0f;
        if (!(ss > 0))
            ss = 10;
        /* faint box around the system: the staff box plus a margin for
         * ledger lines and the first/last notes */
        if (pos->system >= 0 && pos->system < (int)lec_piece_n_systems(p)) {
            const lec_box *b = &lec_piece_systems(p)[pos->system].box;
            float x0 = q->x + (b->x0 - 0.5f * ss) * s, x1 = q->x + (b->x1 + 0.5f * ss) * s;
            float y0 = q->y + (pos->sys_y0_px - 1.5f * ss) * s;
            float y1 = q->y + (pos->sys_y1_px + 1.5f * ss) * s;
            fill(r, x0, y0, x1, y1, 30, 110, 255, 28);
            outline(r, x0, y0, x1, y1, mn >= 600 ? 2 : 1, 30, 110, 255, 140);
        }
        float mw = 0.7f * ss * s;
        if (mw < 3)
            mw = 3;
        float mx = q->x + pos->page_x_px * s;
        if (mx < q->x)
            mx = (float)q->x;
        if (mx > q->x + q->w)
            mx = (float)(q->x + q->w);
        float y0 = q->y + (pos->sys_y0_px - ss) * s, y1 = q->y + (pos->sys_y1_px + ss) * s;
        if (pos->lost)
            fill(r, mx - mw / 2, y0, mx + mw / 2, y1, 255, 150, 0, 150);
        else
            fill(r, mx - mw / 2, y0, mx + mw / 2, y1, LEC_VIEW_MARKER_R, LEC_VIEW_MARKER_G,
                 LEC_VIEW_MARKER_B, 255);
    }

    /* confidence indicator, bottom right: unobtrusive, larger on a large output */
    {
        float iw = 0.08f * mn, ih = 0.008f * mn;
        if (iw < 30)
            iw = 30;
        if (ih < 4)
            ih = 4;
        float x1 = out_w - 0.6f * lec_view_margin_px(out_w, out_h) - 2, x0 = x1 - iw;
        float y1 = out_h - 0.5f * lec_view_margin_px(out_w, out_h), y0 = y1 - ih;
        int a = c->stage ? 110 : 200;
        fill(r, x0, y0, x1, y1, 90, 90, 90, a);
        if (pos->valid) {
            float cf = pos->confidence < 0 ? 0 : pos->confidence > 1 ? 1 : pos->confidence;
            if (pos->lost)
                fill(r, x0, y0, x1, y1, 255, 150, 0, a);
            else
                fill(r, x0, y0, x0 + cf * iw, y1, 40, 190, 90, a);
        }
    }
    /* pause sign, top right */
    if (pos->valid && (pos->flags & LEC_VIEW_POS_PAUSED)) {
        float sz = 0.04f * mn;
        if (sz < 12)
            sz = 12;
        float x1 = out_w - sz * 0.5f, x0 = x1 - sz, y0 = sz * 0.5f;
        fill(r, x0 - 4, y0 - 4, x1 + 4, y0 + sz + 4, 0, 0, 0, 120);
        fill(r, x0, y0, x0 + sz * 0.35f, y0 + sz, 255, 255, 255, 220);
        fill(r, x1 - sz * 0.35f, y0, x1, y0 + sz, 255, 255, 255, 220);
    }
    /* page dots (not on stage): where we are in the piece */
    if (!c->stage && v->n_pages > 1) {
        int d = lec_view_margin_px(out_w, out_h) / 2;
        if (d < 3)
            d = 3;
        int gap = d, total = v->n_pages * d + (v->n_pages - 1) * gap;
        if (total < out_w / 2) {
            int x = (out_w - total) / 2, y = out_h - d - (lec_view_margin_px(out_w, out_h) - d) / 2;
            for (int i = 0; i < v->n_pages; i++, x += d + gap) {
                int shown = i >= L->first_page && i < L->first_page + L->n_shown;
                int cur = pos->valid && i == pos->page;
                int g = cur ? 255 : shown ? 190 : 110;
                fill(r, (float)x, (float)y, (float)(x + d), (float)(y + d), g, g, g, 230);
            }
        }
    }
    return rc;
}

/* ---------------------------------------------------------------- window */

lec_status lec_view_window_open(lec_view *v, lec_error *err)
{
    if (v->win)
        return LEC_OK;
    const char *d = getenv("DISPLAY"), *wl = getenv("WAYLAND_DISPLAY");
    const char *drv = getenv("SDL_VIDEODRIVER");
    int no_env = (!d || !*d) && (!wl || !*wl);
    int chosen = drv && *drv; /* the user picked a driver: trust it */
    /* Without X11/Wayland only a console (KMSDRM, needs /dev/dri) can show a
     * window; probing further only prints library noise. */
    if (!chosen && no_env && access("/dev/dri", F_OK) != 0)
        return lec_error_set(err, LEC_EDEVICE,
                             "cannot open a window: no display (DISPLAY and WAYLAND_DISPLAY are "
                             "not set, no /dev/dri console)");
    if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0)
        return lec_error_set(err, LEC_EDEVICE, "cannot open a window: %s%s", SDL_GetError(),
                             no_env ? " (no display: DISPLAY and WAYLAND_DISPLAY are not set)"
                                    : "");
    v->video_inited = 1;
    /* SDL falls back to its invisible "offscreen"/"dummy" drivers when no
     * display works: a window nobody sees is an error unless asked for. */
    const char *cur = SDL_GetCurrentVideoDriver();
    if (!chosen && cur && (strcmp(cur, "offscreen") == 0 || strcmp(cur, "dummy") == 0)) {
        lec_view_window_close(v);
        return lec_error_set(err, LEC_EDEVICE,
                             "cannot open a window: no usable display (SDL found only its "
                             "invisible '%s' driver)%s",
                             cur, no_env ? "; DISPLAY and WAYLAND_DISPLAY are not set" : "");
    }
    /* smooth scaling if a renderer ever scales (our textures are 1:1) */
    SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
    char title[300];
    snprintf(title, sizeof title, "lectern - %s", v->title);
    Uint32 flags = SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI;
    if (v->cfg.fullscreen)
        flags |= SDL_WINDOW_FULLSCREEN_DESKTOP;
    v->win = SDL_CreateWindow(title, SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED,
                              v->cfg.width_px, v->cfg.height_px, flags);
    if (!v->win) {
        lec_error_set(err, LEC_EDEVICE, "cannot open a window: %s", SDL_GetError());
        lec_view_window_close(v);
        return LEC_EDEVICE;
    }
    /* The software renderer by default: the view only blits pages that are
     * already scaled 1:1 and draws a few rectangles, so a GPU buys nothing,
     * while Mesa's GLX path crashes (SEGV inside libGLX_mesa) when the X
     * display goes away, which we must survive with a clear message.
     * LECTERN_RENDERER=accelerated asks for the GPU renderer anyway. */
    const char *want = getenv("LECTERN_RENDERER");
    SDL_Renderer *ren = NULL;
    if (want && strcmp(want, "accelerated") == 0)
        ren = SDL_CreateRenderer(v->win, -1, SDL_RENDERER_ACCELERATED | SDL_RENDERER_PRESENTVSYNC);
    if (!ren) {
        /* SDL presents a software window through OpenGL unless told not to */
        SDL_SetHint(SDL_HINT_FRAMEBUFFER_ACCELERATION, "0");
        ren = SDL_CreateRenderer(v->win, -1, SDL_RENDERER_SOFTWARE);
    }
    if (!ren) {
        lec_error_set(err, LEC_EDEVICE, "cannot create a renderer for the window: %s",
                      SDL_GetError());
        lec_view_window_close(v);
        return LEC_EDEVICE;
    }
    if (canvas_init(&v->wc, ren, v->n_pages) != 0) {
        SDL_DestroyRenderer(ren);
        lec_view_window_close(v);
        return lec_error_set(err, LEC_ENOMEM, "viewer: out of memory");
    }
    v->wc.stage = v->cfg.fullscreen;
    v->hidden = 0;
    v->next_frame_s = 0;
    v->fail_since_s = 0;
    return LEC_OK;
}

void lec_view_window_close(lec_view *v)
{
    if (!v)
        return;
    if (v->wc.ren) {
        canvas_free(&v->wc);
        SDL_DestroyRenderer(v->wc.ren);
        v->wc.ren = NULL;
    }
    if (v->win)
        SDL_DestroyWindow(v->win);
    v->win = NULL;
    if (v->video_inited)
        SDL_QuitSubSystem(SDL_INIT_VIDEO);
    v->video_inited = 0;
}

int lec_view_window_stage(const lec_view *v) { return v->wc.stage; }
int lec_view_window_visible(const lec_view *v) { return v->win && !v->hidden; }

static void push(lec_view *v, lec_view_cmd_kind kind, int delta, int system, float x)
{
    lec_view_cmd c = {kind, delta, system, x};
    lec_cmd_queue_push(&v->cmds, &c);
}

lec_status lec_view_window_events(lec_view *v, int *quit, lec_error *err)
{
    *quit = 0;
    if (!v->win)
        return lec_error_set(err, LEC_EINVAL, "viewer: the window is not open");
    SDL_Event e;
    while (SDL_PollEvent(&e)) {
        switch (e.type) {
        case SDL_QUIT:
            push(v, LEC_VIEW_CMD_QUIT, 0, 0, 0);
            *quit = 1;
            break;
        case SDL_WINDOWEVENT:
            switch (e.window.event) {
            case SDL_WINDOWEVENT_MINIMIZED:
            case SDL_WINDOWEVENT_HIDDEN:
                v->hidden = 1;
                break;
            case SDL_WINDOWEVENT_RESTORED:
            case SDL_WINDOWEVENT_SHOWN:
            case SDL_WINDOWEVENT_EXPOSED:
            case SDL_WINDOWEVENT_MAXIMIZED:
                v->hidden = 0;
                break;
            case SDL_WINDOWEVENT_CLOSE:
                push(v, LEC_VIEW_CMD_QUIT, 0, 0, 0);
                *quit = 1;
                break;
            default:
                break;
            }
            break;
        case SDL_RENDER_TARGETS_RESET:
        case SDL_RENDER_DEVICE_RESET:
            /* texture contents are lost: rebuild them lazily */
            canvas_drop_textures(&v->wc);
            break;
        case SDL_KEYDOWN: {
            SDL_Keycode k = e.key.keysym.sym;
            if (e.key.repeat && k != SDLK_LEFT && k != SDLK_RIGHT)
                break;
            if (k == SDLK_SPACE)
                push(v, LEC_VIEW_CMD_PAUSE_TOGGLE, 0, 0, 0);
            else if (k == SDLK_LEFT)
                push(v, LEC_VIEW_CMD_NUDGE, -1, 0, 0);
            else if (k == SDLK_RIGHT)
                push(v, LEC_VIEW_CMD_NUDGE, +1, 0, 0);
            else if (k == SDLK_HOME)
                push(v, LEC_VIEW_CMD_RESTART, 0, 0, 0);
            else if (k == SDLK_r)
                push(v, LEC_VIEW_CMD_RELOCALISE, 0, 0, 0);
            else if (k == SDLK_q || k == SDLK_ESCAPE) {
                push(v, LEC_VIEW_CMD_QUIT, 0, 0, 0);
                *quit = 1;
            } else if (k == SDLK_f) {
                int to = !v->wc.stage;
                if (SDL_SetWindowFullscreen(v->win, to ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0) == 0)
                    v->wc.stage = to;
            }
            break;
        }
        case SDL_MOUSEBUTTONDOWN:
            if (e.button.button == SDL_BUTTON_LEFT) {
                /* window points -> output pixels (they differ on HiDPI) */
                int ww, wh, ow, oh;
                SDL_GetWindowSize(v->win, &ww, &wh);
                if (SDL_GetRendererOutputSize(v->wc.ren, &ow, &oh) != 0 || ww <= 0 || wh <= 0)
                    break;
                int px = (int)((long)e.button.x * ow / ww), py = (int)((long)e.button.y * oh / wh);
                float x, y;
                int page = lec_view_layout_hit(&v->wc.lay, lec_piece_pages(v->piece), px, py, &x, &y);
                int sys = page >= 0 ? lec_view_system_at(v->piece, page, y) : -1;
                if (sys >= 0) {
                    const lec_box *b = &lec_piece_systems(v->piece)[sys].box;
                    x = x < b->x0 ? b->x0 : x > b->x1 ? b->x1 : x;
                    push(v, LEC_VIEW_CMD_SEEK, 0, sys, x);
                }
            }
            break;
        default:
            break;
        }
    }
    return LEC_OK;
}

static void update_title(lec_view *v, const lec_view_pos *pos)
{
    double now = lec_now_s();
    if (v->wc.stage || now - v->title_s < 0.25)
        return;
    v->title_s = now;
    char t[400];
    if (pos->valid)
        snprintf(t, sizeof t, "lectern - %s - page %d/%d - %.1f s - confidence %.2f%s%s", v->title,
                 pos->page + 1, v->n_pages, pos->time_s, pos->confidence,
                 pos->lost ? " - LOST" : "", (pos->flags & LEC_VIEW_POS_PAUSED) ? " - paused" : "");
    else
        snprintf(t, sizeof t, "lectern - %s - waiting for a position", v->title);
    SDL_SetWindowTitle(v->win, t);
}

lec_status lec_view_window_draw(lec_view *v, lec_view_pos *drawn, lec_error *err)
{
    lec_view_pos pos;
    lec_view_latest(v, &pos);
    if (drawn)
        *drawn = pos;
    if (!v->win)
        return lec_error_set(err, LEC_EINVAL, "viewer: the window is not open");
    int ow = 0, oh = 0;
    int rc = SDL_GetRendererOutputSize(v->wc.ren, &ow, &oh);
    if (rc == 0 && ow > 0 && oh > 0)
        rc = canvas_draw(v, &v->wc, &pos, ow, oh);
    if (rc != 0) {
        double now = lec_now_s();
        if (v->fail_since_s == 0)
            v->fail_since_s = now;
        else if (now - v->fail_since_s > 1.0)
            return lec_error_set(err, LEC_EDEVICE, "the display stopped accepting frames: %s",
                                 SDL_GetError());
    } else {
        v->fail_since_s = 0;
    }
    update_title(v, &pos);
    return LEC_OK;
}

static lec_status save_png_atomic(SDL_Surface *s, const char *path, lec_error *err)
{
    lec_atomic_file af;
    lec_status st = lec_atomic_open(&af, path, err);
    if (st != LEC_OK)
        return st;
    SDL_RWops *rw = SDL_RWFromFP(af.fp, SDL_FALSE);
    if (!rw || IMG_SavePNG_RW(s, rw, 1) != 0) {
        lec_error_set(err, LEC_EIO, "%s: cannot write PNG: %s", path,
                      rw ? IMG_GetError() : SDL_GetError());
        lec_atomic_abort(&af);
        return LEC_EIO;
    }
    return lec_atomic_commit(&af, err);
}

lec_status lec_view_window_screenshot(lec_view *v, const char *png_path, lec_error *err)
{
    if (!v->win)
        return lec_error_set(err, LEC_EINVAL, "viewer: the window is not open");
    int ow, oh;
    if (SDL_GetRendererOutputSize(v->wc.ren, &ow, &oh) != 0)
        return lec_error_set(err, LEC_EDEVICE, "screenshot: %s", SDL_GetError());
    SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(0, ow, oh, 32, SDL_PIXELFORMAT_XRGB8888);
    if (!s)
        return lec_error_set(err, LEC_ENOMEM, "screenshot: %s", SDL_GetError());
    lec_status st = LEC_OK;
    if (SDL_RenderReadPixels(v->wc.ren, NULL, SDL_PIXELFORMAT_XRGB8888, s->pixels, s->pitch) != 0)
        st = lec_error_set(err, LEC_EDEVICE, "screenshot: cannot read the window: %s",
                           SDL_GetError());
    else
        st = save_png_atomic(s, png_path, err);
    SDL_FreeSurface(s);
    return st;
}

void lec_view_window_present(lec_view *v)
{
    if (!v->win)
        return;
    if (v->hidden) {
        /* nothing to draw: sleep until something happens (or 100 ms) */
        SDL_WaitEventTimeout(NULL, 100);
        return;
    }
    SDL_RenderPresent(v->wc.ren);
    /* vsync may be absent (virtual displays, some drivers): cap the rate */
    double now = lec_now_s(), period = 1.0 / v->cfg.fps;
    if (v->next_frame_s == 0 || now > v->next_frame_s + period)
        v->next_frame_s = now;
    v->next_frame_s += period;
    if (v->next_frame_s > now)
        SDL_Delay((Uint32)((v->next_frame_s - now) * 1000.0));
}

/* ------------------------------------------------------------- recording */

struct lec_view_record {
    lec_view *v;
    lec_view_record_config cfg;
    SDL_Surface *surf;
    canvas c;
    int64_t n;
    int video;
    FILE *pipe;
    char out[4096];
    char tmp[4400];
    int finished;
};

void lec_view_record_config_default(lec_view_record_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->fps = 30;
}

static const char *video_ext(const char *path)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash))
        return NULL;
    static const char *exts[] = {".mp4", ".mkv", ".mov", ".webm"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (strcasecmp(dot, exts[i]) == 0)
            return exts[i];
    return NULL;
}

/* Shell-quote s into out ('...' with ' as '\''). */
static void shq(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    if (cap < 3)
        return;
    out[o++] = '\'';
    for (; *s && o + 6 < cap; s++) {
        if (*s == '\'') {
            memcpy(out + o, "'\\''", 4);
            o += 4;
        } else {
            out[o++] = *s;
        }
    }
    out[o++] = '\'';
    out[o] = 0;
}

static int have_program(const char *name)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    char dir[4096], full[4400];
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(dir, sizeof dir, "%.*s", (int)n, path);
        snprintf(full, sizeof full, "%s/%s", n ? dir : ".", name);
        if (access(full, X_OK) == 0)
            return 1;
        path += n;
        if (*path == ':')
            path++;
    }
    return 0;
}

lec_view_record *lec_view_record_create(lec_view *v, const char *out,
                                        const lec_view_record_config *cfg, lec_error *err)
{
    lec_view_record_config def;
    if (!cfg) {
        lec_view_record_config_default(&def);
        cfg = &def;
    }
    if (!out || !*out) {
        lec_error_set(err, LEC_EINVAL, "record: no output path");
        return NULL;
    }
    lec_view_record *r = calloc(1, sizeof *r);
    if (!r) {
        lec_error_set(err, LEC_ENOMEM, "record: out of memory");
        return NULL;
    }
    r->v = v;
    r->cfg = *cfg;
    if (r->cfg.width_px <= 0)
        r->cfg.width_px = v->cfg.width_px;
    if (r->cfg.height_px <= 0)
        r->cfg.height_px = v->cfg.height_px;
    snprintf(r->out, sizeof r->out, "%s", out);
    int w = r->cfg.width_px, h = r->cfg.height_px;
    const char *ext = video_ext(out);
    if (w < 16 || h < 16 || w > 16384 || h > 16384 || !(r->cfg.fps > 0 && r->cfg.fps <= 1000) ||
        (ext && (w % 2 || h % 2))) {
        lec_error_set(err, LEC_EINVAL,
                      "record %s: bad frame size %dx%d or rate %g fps (16..16384 px, even for "
                      "video; 0 < fps <= 1000)",
                      out, w, h, r->cfg.fps);
        free(r);
        return NULL;
    }
    r->surf = SDL_CreateRGBSurfaceWithFormat(0, w, h, 32, SDL_PIXELFORMAT_XRGB8888);
    SDL_Renderer *ren = r->surf ? SDL_CreateSoftwareRenderer(r->surf) : NULL;
    if (!ren || canvas_init(&r->c, ren, v->n_pages) != 0) {
        /* destroy() frees the canvas and its renderer (c.ren is set by init) */
        lec_error_set(err, LEC_ENOMEM, "record %s: cannot create an offscreen renderer: %s", out,
                      SDL_GetError());
        lec_view_record_destroy(r);
        return NULL;
    }
    if (!ext) {
        if (lec_mkdir_p(out, err) != LEC_OK) {
            lec_view_record_destroy(r);
            return NULL;
        }
        return r;
    }
    if (!have_program("ffmpeg")) {
        lec_error_set(err, LEC_EEXTERNAL,
                      "record %s: ffmpeg is not installed (needed for video output); record "
                      "PNG frames into a directory instead",
                      out);
        lec_view_record_destroy(r);
        return NULL;
    }
    r->video = 1;
    /* ffmpeg picks the container from the extension: keep it on the temporary */
    snprintf(r->tmp, sizeof r->tmp, "%.*s.tmp.%d%s", (int)(strlen(out) - strlen(ext)), out,
             (int)getpid(), ext);
    int webm = strcmp(ext, ".webm") == 0;
    char q_tmp[9000], q_audio[9000] = "", cmd[20000];
    shq(q_tmp, sizeof q_tmp, r->tmp);
    char audio_args[9400] = "";
    if (cfg->audio_path && *cfg->audio_path) {
        shq(q_audio, sizeof q_audio, cfg->audio_path);
        snprintf(audio_args, sizeof audio_args,
                 "-ss %.3f -i %s -map 0:v -map 1:a -c:a %s -shortest ",
                 cfg->audio_offset_s > 0 ? cfg->audio_offset_s : 0.0, q_audio,
                 webm ? "libopus" : "aac -b:a 160k");
    }
    /* XRGB8888 on a little-endian machine is bytes B, G, R, X: ffmpeg's bgr0 */
    snprintf(cmd, sizeof cmd,
             "ffmpeg -hide_banner -loglevel error -nostdin -y -f rawvideo -pix_fmt bgr0 "
             "-s %dx%d -r %.6g -i - %s%s -pix_fmt yuv420p %s",
             w, h, r->cfg.fps, audio_args,
             webm ? "-c:v libvpx-vp9 -b:v 0 -crf 32 -deadline realtime"
                  : "-c:v libx264 -preset veryfast -crf 20 -movflags +faststart",
             q_tmp);
    fflush(NULL);
    r->pipe = popen(cmd, "w");
    if (!r->pipe) {
        lec_error_set(err, LEC_EEXTERNAL, "record %s: cannot start ffmpeg: %s", out,
                      strerror(errno));
        lec_view_record_destroy(r);
        return NULL;
    }
    return r;
}

lec_status lec_view_record_frame(lec_view_record *r, lec_error *err)
{
    if (r->finished)
        return lec_error_set(err, LEC_EINVAL, "record %s: already finished", r->out);
    lec_view_pos pos;
    lec_view_latest(r->v, &pos);
    if (canvas_draw(r->v, &r->c, &pos, r->surf->w, r->surf->h) != 0)
        return lec_error_set(err, LEC_EEXTERNAL, "record %s: drawing failed: %s", r->out,
                             SDL_GetError());
    SDL_RenderPresent(r->c.ren); /* the software renderer draws on present */
    if (r->video) {
        size_t row = (size_t)r->surf->w * 4;
        for (int y = 0; y < r->surf->h; y++)
            if (fwrite((const uint8_t *)r->surf->pixels + (size_t)y * r->surf->pitch, 1, row,
                       r->pipe) != row)
                return lec_error_set(err, LEC_EEXTERNAL,
                                     "record %s: ffmpeg stopped reading frames (%s); see its "
                                     "messages above",
                                     r->out, strerror(errno));
    } else {
        char path[4200];
        snprintf(path, sizeof path, "%s/frame-%06lld.png", r->out, (long long)r->n);
        lec_status st = save_png_atomic(r->surf, path, err);
        if (st != LEC_OK)
            return st;
    }
    r->n++;
    return LEC_OK;
}

int64_t lec_view_record_n_frames(const lec_view_record *r) { return r->n; }
const void *lec_view_record_surface(const lec_view_record *r) { return r->surf; }

lec_status lec_view_record_finish(lec_view_record *r, lec_error *err)
{
    if (r->finished)
        return LEC_OK;
    r->finished = 1;
    if (!r->video)
        return LEC_OK;
    int status = pclose(r->pipe);
    r->pipe = NULL;
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        unlink(r->tmp);
        return lec_error_set(err, LEC_EEXTERNAL, "record %s: ffmpeg failed (status %d)", r->out,
                             status == -1 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128);
    }
    if (rename(r->tmp, r->out) != 0) {
        lec_error_set(err, LEC_EIO, "record %s: cannot move %s into place: %s", r->out, r->tmp,
                      strerror(errno));
        unlink(r->tmp);
        return LEC_EIO;
    }
    return LEC_OK;
}

void lec_view_record_destroy(lec_view_record *r)
{
    if (!r)
        return;
    if (r->pipe) {
        pclose(r->pipe);
        unlink(r->tmp);
    }
    if (r->c.ren) {
        canvas_free(&r->c);
        SDL_DestroyRenderer(r->c.ren);
    }
    if (r->surf)
        SDL_FreeSurface(r->surf);
    free(r);
}

lec_status lec_view_render_png(lec_view *v, const lec_view_pos *pos, int w, int h, int stage,
                               const char *png_path, lec_error *err)
{
    if (w < 16 || h < 16 || w > 16384 || h > 16384)
        return lec_error_set(err, LEC_EINVAL, "%s: bad image size %dx%d", png_path, w, h);
    SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(0, w, h, 32, SDL_PIXELFORMAT_XRGB8888);
    SDL_Renderer *ren = s ? SDL_CreateSoftwareRenderer(s) : NULL;
    canvas c;
    memset(&c, 0, sizeof c);
    lec_status st = LEC_OK;
    if (!ren || canvas_init(&c, ren, v->n_pages) != 0) {
        st = lec_error_set(err, LEC_ENOMEM, "%s: cannot create an offscreen renderer: %s",
                           png_path, SDL_GetError());
    } else {
        c.stage = stage;
        if (canvas_draw(v, &c, pos, w, h) != 0)
            st = lec_error_set(err, LEC_EEXTERNAL, "%s: drawing failed: %s", png_path,
                               SDL_GetError());
        SDL_RenderPresent(ren);
        if (st == LEC_OK)
            st = save_png_atomic(s, png_path, err);
    }
    canvas_free(&c);
    if (ren)
        SDL_DestroyRenderer(ren);
    if (s)
        SDL_FreeSurface(s);
    return st;
}

void lec_view_destroy(lec_view *v)
{
    if (!v)
        return;
    lec_view_window_close(v);
    for (int i = 0; v->gray && i < v->n_pages; i++)
        free(v->gray[i]);
    free(v->gray);
    free(v->sys_ss);
    free(v);
}
