/* lec_import_bundle.c -- writing an imported bundle (pages + systems, no
 * note annotations) and the --check drawings.
 *
 * The bundle is built in "<out>.tmp-<pid>" and renamed into place by commit,
 * so a crash or an error never leaves a half-written bundle under <out>; an
 * existing bundle being replaced survives until the new one is complete. */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <SDL.h>
#include <SDL_image.h>
#include <cairo.h>
#include <cjson/cJSON.h>

#include "lec_import.h"
#include "lec_import_internal.h"
#include "lec_util.h"

typedef struct page_rec {
    int w, h;
    float dpi, skew_deg;
    size_t first_system, n_systems;
} page_rec;

typedef struct sys_rec {
    int page;
    lec_box box;
    size_t first_staff, n_staves;
} sys_rec;

struct lec_import_writer {
    char out[4096], tmp[4200];
    char title[512], source[1024];
    int replace, committed;
    page_rec *pages;
    size_t n_pages, cap_pages;
    sys_rec *systems;
    size_t n_systems, cap_systems;
    lec_import_staff *staves;
    size_t n_staves, cap_staves;
    lec_import_amend_fn amend;
    void *amend_user;
};

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

static void rm_rf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) == 0)
        nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* 8-bit gray PNG (palette of 256 grays) via SDL2_image */
static lec_status save_gray_png(const char *path, const lec_import_image *img, lec_error *err)
{
    SDL_Surface *s = SDL_CreateRGBSurfaceWithFormatFrom(img->gray, img->width_px, img->height_px,
                                                        8, img->width_px, SDL_PIXELFORMAT_INDEX8);
    if (!s)
        return lec_error_set(err, LEC_ENOMEM, "%s: cannot make a surface: %s", path,
                             SDL_GetError());
    SDL_Color pal[256];
    for (int i = 0; i < 256; i++)
        pal[i].r = pal[i].g = pal[i].b = (Uint8)i, pal[i].a = 255;
    SDL_SetPaletteColors(s->format->palette, pal, 0, 256);
    /* Through lec_atomic_*: IMG_SavePNG ignores failing writes (a full disk
     * left a truncated page in a committed bundle: tests/soak/test_faults),
     * while the FILE's error flag, fflush and fsync in lec_atomic_commit do not. */
    lec_atomic_file af;
    lec_status st = lec_atomic_open(&af, path, err);
    if (st) {
        SDL_FreeSurface(s);
        return st;
    }
    SDL_RWops *rw = SDL_RWFromFP(af.fp, SDL_FALSE);
    int rc = rw ? IMG_SavePNG_RW(s, rw, 1) : -1;
    SDL_FreeSurface(s);
    if (rc != 0) {
        lec_atomic_abort(&af);
        return lec_error_set(err, LEC_EIO, "%s: cannot write PNG: %s", path, IMG_GetError());
    }
    return lec_atomic_commit(&af, err);
}

lec_import_writer *lec_import_writer_create(const char *out_dir, const char *title,
                                            const char *source, int replace, lec_error *err)
{
    lec_import_writer *w = calloc(1, sizeof *w);
    if (!w) {
        lec_error_set(err, LEC_ENOMEM, "%s: out of memory", out_dir);
        return NULL;
    }
    snprintf(w->out, sizeof w->out, "%s", out_dir);
    /* strip trailing slashes so that "<out>.tmp-pid" is a sibling */
    size_t n = strlen(w->out);
    while (n > 1 && w->out[n - 1] == '/')
        w->out[--n] = 0;
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp-%ld", w->out, (long)getpid());
    snprintf(w->title, sizeof w->title, "%s", title ? title : "");
    snprintf(w->source, sizeof w->source, "%s", source ? source : "");
    w->replace = replace;
    struct stat sb;
    if (stat(w->out, &sb) == 0) {
        char pj[4200];
        snprintf(pj, sizeof pj, "%s/piece.json", w->out);
        if (!replace) {
            lec_error_set(err, LEC_EINVAL, "%s already exists (use --force to replace it)",
                          w->out);
            goto bad;
        }
        if (!S_ISDIR(sb.st_mode) || access(pj, F_OK) != 0) {
            lec_error_set(err, LEC_EINVAL,
                          "%s exists and is not a piece bundle (no piece.json): not replacing it",
                          w->out);
            goto bad;
        }
    }
    rm_rf(w->tmp);
    char pages[4300];
    snprintf(pages, sizeof pages, "%s/pages", w->tmp);
    if (lec_mkdir_p(pages, err) != LEC_OK)
        goto bad;
    return w;
bad:
    free(w);
    return NULL;
}

const char *lec_import_writer_tmp_dir(const lec_import_writer *w) { return w->tmp; }

void lec_import_writer_set_amend(lec_import_writer *w, lec_import_amend_fn fn, void *user)
{
    w->amend = fn;
    w->amend_user = user;
}

lec_status lec_import_writer_add_page(lec_import_writer *w, const lec_import_image *img,
                                      const lec_import_result *res, float dpi, lec_error *err)
{
    if (!lec_import_grow((void **)&w->pages, &w->cap_pages, w->n_pages + 1, sizeof *w->pages) ||
        !lec_import_grow((void **)&w->systems, &w->cap_systems, w->n_systems + res->n_systems,
                         sizeof *w->systems) ||
        !lec_import_grow((void **)&w->staves, &w->cap_staves, w->n_staves + res->n_staves,
                         sizeof *w->staves))
        return lec_error_set(err, LEC_ENOMEM, "%s: out of memory", w->out);
    char path[4400];
    snprintf(path, sizeof path, "%s/pages/page-%zu.png", w->tmp, w->n_pages + 1);
    lec_status st = save_gray_png(path, img, err);
    if (st)
        return st;
    page_rec *pr = &w->pages[w->n_pages];
    pr->w = img->width_px;
    pr->h = img->height_px;
    pr->dpi = dpi;
    pr->skew_deg = res->skew_deg;
    pr->first_system = w->n_systems;
    pr->n_systems = res->n_systems;
    for (size_t k = 0; k < res->n_systems; k++) {
        const lec_import_system *s = &res->systems[k];
        sys_rec *sr = &w->systems[w->n_systems++];
        sr->page = (int)w->n_pages;
        sr->box = s->box;
        sr->first_staff = w->n_staves;
        sr->n_staves = (size_t)s->n_staves;
        for (int j = 0; j < s->n_staves; j++)
            w->staves[w->n_staves++] = res->staves[s->first_staff + j];
    }
    w->n_pages++;
    return LEC_OK;
}

static cJSON *box_json(const lec_box *b)
{
    /* 0.1 px, like the corpus builder */
    double v[4] = {round(b->x0 * 10) / 10, round(b->y0 * 10) / 10, round(b->x1 * 10) / 10,
                   round(b->y1 * 10) / 10};
    return cJSON_CreateDoubleArray(v, 4);
}

lec_status lec_import_writer_commit(lec_import_writer *w, lec_error *err)
{
    if (w->n_pages == 0)
        return lec_error_set(err, LEC_EINVAL, "%s: no pages to write", w->out);
    if (w->n_systems == 0)
        return lec_error_set(err, LEC_EFORMAT, "%s: no staff systems found on any page", w->out);
    cJSON *root = cJSON_CreateObject();
    const char *name = strrchr(w->out, '/');
    name = name ? name + 1 : w->out;
    float dpi = w->pages[0].dpi;
    cJSON_AddStringToObject(root, "format", LEC_PIECE_FORMAT);
    cJSON_AddNumberToObject(root, "version", LEC_PIECE_VERSION);
    cJSON_AddStringToObject(root, "name", name);
    cJSON_AddStringToObject(root, "title", w->title);
    cJSON_AddStringToObject(root, "composer", "");
    cJSON_AddStringToObject(root, "license", "");
    cJSON_AddStringToObject(root, "source", w->source);
    if (dpi > 0)
        cJSON_AddNumberToObject(root, "dpi", round(dpi * 100) / 100);
    /* what import found, for people and tools; the reader ignores it */
    cJSON *imp = cJSON_AddObjectToObject(root, "import");
    cJSON_AddStringToObject(imp, "tool", "lectern import");
    cJSON *sk = cJSON_AddArrayToObject(imp, "skew_deg");
    cJSON *pages = cJSON_AddArrayToObject(root, "pages");
    for (size_t i = 0; i < w->n_pages; i++) {
        cJSON *p = cJSON_CreateObject();
        char img[64];
        snprintf(img, sizeof img, "pages/page-%zu.png", i + 1);
        cJSON_AddStringToObject(p, "image", img);
        cJSON_AddNumberToObject(p, "width_px", w->pages[i].w);
        cJSON_AddNumberToObject(p, "height_px", w->pages[i].h);
        cJSON_AddNumberToObject(p, "engraved_page", (double)(i + 1));
        cJSON_AddItemToArray(pages, p);
        cJSON_AddItemToArray(sk, cJSON_CreateNumber(round(w->pages[i].skew_deg * 1000) / 1000));
    }
    cJSON *systems = cJSON_AddArrayToObject(root, "systems");
    for (size_t i = 0; i < w->n_systems; i++) {
        const sys_rec *s = &w->systems[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "page", s->page);
        cJSON_AddItemToObject(o, "box", box_json(&s->box));
        /* no note heads known: the note box is the staff box */
        cJSON_AddItemToObject(o, "box_notes", box_json(&s->box));
        cJSON *st = cJSON_AddArrayToObject(o, "staves");
        for (size_t j = 0; j < s->n_staves; j++) {
            const lec_import_staff *sf = &w->staves[s->first_staff + j];
            cJSON *so = cJSON_CreateObject();
            cJSON_AddItemToObject(so, "box", box_json(&sf->box));
            cJSON_AddNumberToObject(so, "staff_space_px", round(sf->staff_space_px * 1000) / 1000);
            cJSON_AddItemToArray(st, so);
        }
        cJSON_AddItemToArray(systems, o);
    }
    cJSON_AddArrayToObject(root, "heads");
    cJSON *perf = cJSON_AddObjectToObject(root, "performance");
    cJSON_AddArrayToObject(perf, "notes");
    cJSON_AddArrayToObject(perf, "events");
    cJSON_AddArrayToObject(perf, "tempo");
    cJSON_AddArrayToObject(perf, "pedal");
    cJSON_AddNumberToObject(perf, "time_offset_wn", 0);
    cJSON_AddArrayToObject(root, "renderings");
    if (w->amend) {
        lec_status ast = w->amend(w->amend_user, root, err);
        if (ast) {
            cJSON_Delete(root);
            return ast;
        }
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return lec_error_set(err, LEC_ENOMEM, "%s: out of memory", w->out);
    char pj[4300];
    snprintf(pj, sizeof pj, "%s/piece.json", w->tmp);
    lec_status st = lec_write_file_atomic(pj, text, strlen(text), err);
    free(text);
    if (st)
        return st;
    struct stat sb;
    if (stat(w->out, &sb) == 0) {
        char old[4300];
        snprintf(old, sizeof old, "%s.old-%ld", w->out, (long)getpid());
        if (rename(w->out, old) != 0)
            return lec_error_set(err, LEC_EIO, "%s: cannot move the old bundle aside: %s", w->out,
                                 strerror(errno));
        if (rename(w->tmp, w->out) != 0) {
            int e = errno;
            rename(old, w->out);
            return lec_error_set(err, LEC_EIO, "%s: cannot rename %s into place: %s", w->out,
                                 w->tmp, strerror(e));
        }
        rm_rf(old);
    } else if (rename(w->tmp, w->out) != 0) {
        return lec_error_set(err, LEC_EIO, "%s: cannot rename %s into place: %s", w->out, w->tmp,
                             strerror(errno));
    }
    w->committed = 1;
    return LEC_OK;
}

void lec_import_writer_destroy(lec_import_writer *w)
{
    if (!w)
        return;
    if (!w->committed)
        rm_rf(w->tmp);
    free(w->pages);
    free(w->systems);
    free(w->staves);
    free(w);
}

/* ---------------------------------------------------------------- check */

/* A number in seven-segment strokes (no font files: cairo's toy text API
 * would pull in fontconfig). Digit cell: h tall, h/2 wide. */
static void draw_number(cairo_t *cr, int v, double x, double y, double h)
{
    static const unsigned char seg[10] = {0x3F, 0x06, 0x5B, 0x4F, 0x66,
                                          0x6D, 0x7D, 0x07, 0x7F, 0x6F};
    char s[16];
    snprintf(s, sizeof s, "%d", v);
    double wd = 0.5 * h;
    for (const char *c = s; *c; c++) {
        unsigned m = seg[*c - '0'];
        /* segments a..g: top, upper right, lower right, bottom, lower left,
         * upper left, middle */
        double X[7][4] = {{0, 0, 1, 0}, {1, 0, 1, .5}, {1, .5, 1, 1}, {0, 1, 1, 1},
                          {0, .5, 0, 1}, {0, 0, 0, .5}, {0, .5, 1, .5}};
        for (int k = 0; k < 7; k++)
            if (m & (1u << k)) {
                cairo_move_to(cr, x + X[k][0] * wd, y + X[k][1] * h);
                cairo_line_to(cr, x + X[k][2] * wd, y + X[k][3] * h);
            }
        cairo_stroke(cr);
        x += wd * 1.6;
    }
}

lec_status lec_import_draw_check(const char *path, const lec_import_image *img,
                                 const lec_import_result *res, int first_system, lec_error *err)
{
    int w = img->width_px, h = img->height_px;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return lec_error_set(err, LEC_ENOMEM, "%s: cannot create a %dx%d surface", path, w, h);
    }
    cairo_surface_flush(s);
    uint8_t *px = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < h; y++) {
        uint32_t *row = (uint32_t *)(px + (size_t)y * stride);
        for (int x = 0; x < w; x++) {
            /* lighten the page so that the drawing stands out */
            uint32_t g = 96 + (uint32_t)img->gray[(size_t)y * w + x] * 159 / 255;
            row[x] = g << 16 | g << 8 | g;
        }
    }
    cairo_surface_mark_dirty(s);
    cairo_t *cr = cairo_create(s);
    double lw = fmax(1.0, w / 1200.0);
    for (size_t i = 0; i < res->n_staves; i++) {
        const lec_import_staff *sf = &res->staves[i];
        cairo_set_source_rgba(cr, 0.9, 0.1, 0.1, 0.8);
        cairo_set_line_width(cr, lw);
        for (int k = 0; k < 5; k++) {
            cairo_move_to(cr, sf->box.x0, sf->line_y[k]);
            cairo_line_to(cr, sf->box.x1, sf->line_y[k]);
        }
        cairo_stroke(cr);
        cairo_set_source_rgba(cr, 0.1, 0.2, 0.95, 0.9);
        cairo_rectangle(cr, sf->box.x0 - 2 * lw, sf->box.y0 - 2 * lw,
                        sf->box.x1 - sf->box.x0 + 4 * lw, sf->box.y1 - sf->box.y0 + 4 * lw);
        cairo_stroke(cr);
    }
    for (size_t k = 0; k < res->n_systems; k++) {
        const lec_import_system *sy = &res->systems[k];
        double m = 5 * lw;
        cairo_set_source_rgba(cr, 0.0, 0.65, 0.0, 0.9);
        cairo_set_line_width(cr, 2 * lw);
        cairo_rectangle(cr, sy->box.x0 - m, sy->box.y0 - m, sy->box.x1 - sy->box.x0 + 2 * m,
                        sy->box.y1 - sy->box.y0 + 2 * m);
        cairo_stroke(cr);
        double nh = fmin(40.0, fmax(12.0, (sy->box.y1 - sy->box.y0) * 0.4));
        double nx = sy->box.x0 - m - nh * 1.6 * 3;
        if (nx < 2)
            nx = 2;
        cairo_set_line_width(cr, fmax(2.0, nh / 8));
        draw_number(cr, first_system + (int)k + 1, nx, sy->box.y0, nh);
        /* its staves: one tick per staff at the right */
        cairo_set_line_width(cr, 2 * lw);
        for (int j = 0; j < sy->n_staves; j++) {
            const lec_box *b = &res->staves[sy->first_staff + j].box;
            cairo_move_to(cr, sy->box.x1 + m + 3 * lw, b->y0);
            cairo_line_to(cr, sy->box.x1 + m + 3 * lw, b->y1);
        }
        cairo_stroke(cr);
    }
    cairo_destroy(cr);
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    cairo_status_t cs = cairo_surface_write_to_png(s, tmp);
    cairo_surface_destroy(s);
    if (cs != CAIRO_STATUS_SUCCESS) {
        remove(tmp);
        return lec_error_set(err, LEC_EIO, "%s: cannot write PNG: %s", path,
                             cairo_status_to_string(cs));
    }
    if (rename(tmp, path) != 0) {
        remove(tmp);
        return lec_error_set(err, LEC_EIO, "%s: cannot rename into place: %s", path,
                             strerror(errno));
    }
    return LEC_OK;
}
