/* test_import -- `lectern import` and engine/import on pages drawn here with
 * cairo, whose staff boxes are therefore known exactly:
 *   - piano pages (braces, start bars, bar lines, note heads, stems, beams, a
 *     title and a page number, noise): the systems and staves with the right
 *     boxes; single-staff systems; three-staff systems; a rotated page is
 *     deskewed; a page without staves gives no systems (and the command says
 *     "no staff systems found on page N");
 *   - a PDF written here with cairo: page count and rendered size; an
 *     encrypted copy (qpdf): a clear error, the password opens it; a huge PDF
 *     page is rendered smaller with a warning; a huge PNG is refused before
 *     decoding; broken and unknown files give errors;
 *   - the bundle written by the command loads with lec_piece_load and unrolls
 *     with lec_unroll_create; --check draws; --force; nothing left behind;
 *   - resampling / degradation are deterministic; IoU and matching. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cairo-pdf.h>
#include <cairo.h>

#include "lec_import.h"
#include "lec_piece.h"
#include "lec_test.h"
#include "lec_unroll.h"
#include "lec_util.h"

#define PI 3.14159265358979323846

static char g_dir[4096];

/* ------------------------------------------------------------ drawing */

typedef struct page_spec {
    int n_systems;
    int staves_per_system;
    int connected;     /* start bar + brace joining the staves of a system */
    double ss;         /* staff space, px */
    double line_w;     /* staff line thickness, px */
    double x0, x1;     /* staff lines' extent */
    double first_indent;
    double top;        /* y of the first staff's top line */
    double staff_gap;  /* between staves of a system, top line to top line */
    double system_gap; /* between systems: bottom line to next top line */
    unsigned seed;
    int rhythm_line;   /* a one-line staff (RhythmicStaff) below each system */
} page_spec;

static void spec_default(page_spec *s)
{
    s->n_systems = 4;
    s->staves_per_system = 2;
    s->connected = 1;
    s->ss = 9;
    s->line_w = 1.2;
    s->x0 = 70;
    s->x1 = 830;
    s->first_indent = 60;
    s->top = 160;
    s->staff_gap = 9 * 10;
    s->system_gap = 9 * 9;
    s->seed = 1;
    s->rhythm_line = 0;
}

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

/* staff k's top line y */
static double staff_top(const page_spec *s, int sys, int k)
{
    double sys_h = (s->staves_per_system - 1) * s->staff_gap + 4 * s->ss;
    return s->top + sys * (sys_h + s->system_gap) + k * s->staff_gap;
}

static double sys_x0(const page_spec *s, int sys) { return s->x0 + (sys == 0 ? s->first_indent : 0); }

/* Expected boxes, in the detector's definition: top edge of the top line to
 * bottom edge of the bottom line, over the lines' extent. */
static lec_box staff_box(const page_spec *s, int sys, int k)
{
    double y = staff_top(s, sys, k);
    return (lec_box){(float)sys_x0(s, sys), (float)(y - s->line_w / 2), (float)s->x1,
                     (float)(y + 4 * s->ss + s->line_w / 2)};
}

static lec_box system_box(const page_spec *s, int sys)
{
    lec_box a = staff_box(s, sys, 0), b = staff_box(s, sys, s->staves_per_system - 1);
    a.y1 = b.y1;
    return a;
}

/* Fake text: a row of letter-sized blocks (no fonts needed). */
static void fake_text(cairo_t *cr, double x, double y, double h, int n, unsigned *seed)
{
    for (int i = 0; i < n; i++) {
        double w = h * (0.4 + 0.4 * (rnd(seed) % 100) / 100.0);
        if (rnd(seed) % 6 == 0) {
            x += h * 0.5; /* a space */
            continue;
        }
        cairo_rectangle(cr, x, y + h * 0.2, w, h * 0.8);
        x += w + h * 0.15;
    }
    cairo_fill(cr);
}

/* Draw a piano page on cr (units: px of the page). */
static void draw_page(cairo_t *cr, const page_spec *s, int w, int h)
{
    unsigned seed = s->seed;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    /* title, composer, page number */
    fake_text(cr, w * 0.3, 30, 28, 14, &seed);
    fake_text(cr, w * 0.7, 80, 12, 12, &seed);
    fake_text(cr, w * 0.5, h - 40, 10, 2, &seed);
    for (int sy = 0; sy < s->n_systems; sy++) {
        double x0 = sys_x0(s, sy), x1 = s->x1;
        double ytop = staff_top(s, sy, 0);
        double ybot = staff_top(s, sy, s->staves_per_system - 1) + 4 * s->ss;
        if (s->rhythm_line) {
            /* the one-line staff, 5 spaces below the bottom staff, joined
             * by the start bar (the system_gap must leave room for it) */
            double yr = ybot + 5 * s->ss;
            cairo_set_line_width(cr, s->line_w);
            cairo_move_to(cr, x0, yr);
            cairo_line_to(cr, x1, yr);
            cairo_stroke(cr);
            for (double nx = x0 + 50; nx < x1 - 30; nx += 40) {
                cairo_arc(cr, nx, yr, s->ss * 0.5, 0, 2 * PI);
                cairo_fill(cr);
            }
            ybot = yr;
        }
        /* staff lines */
        cairo_set_line_width(cr, s->line_w);
        for (int k = 0; k < s->staves_per_system; k++)
            for (int l = 0; l < 5; l++) {
                double y = staff_top(s, sy, k) + l * s->ss;
                cairo_move_to(cr, x0, y);
                cairo_line_to(cr, x1, y);
            }
        cairo_stroke(cr);
        if (sy == 0)
            fake_text(cr, s->x0 - 50, (ytop + ybot) / 2 - 6, 12, 5, &seed); /* "Piano" */
        if (s->connected && s->staves_per_system > 1) {
            /* start bar */
            cairo_set_line_width(cr, 1.6 * s->line_w);
            cairo_move_to(cr, x0, ytop);
            cairo_line_to(cr, x0, ybot);
            cairo_stroke(cr);
            /* brace: two curves meeting in a point at the middle */
            double bx = x0 - 0.8 * s->ss, mid = (ytop + ybot) / 2, bw = 1.2 * s->ss;
            cairo_move_to(cr, bx, ytop);
            cairo_curve_to(cr, bx - bw, ytop + (mid - ytop) * 0.3, bx, mid - (mid - ytop) * 0.3,
                           bx - bw, mid);
            cairo_curve_to(cr, bx, mid + (ybot - mid) * 0.3, bx - bw, ybot - (ybot - mid) * 0.3,
                           bx, ybot);
            cairo_curve_to(cr, bx - bw * 0.6, ybot - (ybot - mid) * 0.3, bx - bw * 0.5,
                           mid + (ybot - mid) * 0.3, bx - bw * 0.9, mid);
            cairo_curve_to(cr, bx - bw * 0.5, mid - (mid - ytop) * 0.3, bx - bw * 0.6,
                           ytop + (mid - ytop) * 0.3, bx, ytop);
            cairo_fill(cr);
        }
        /* bar lines (spanning the staves when connected), notes, stems, beams */
        for (double bxl = x0 + 150; bxl < x1 - 20; bxl += 150) {
            cairo_set_line_width(cr, 1.3 * s->line_w);
            for (int k = 0; k < s->staves_per_system; k++) {
                double y = staff_top(s, sy, k);
                double yend = (s->connected && k + 1 < s->staves_per_system)
                                  ? staff_top(s, sy, k + 1)
                                  : y + 4 * s->ss;
                cairo_move_to(cr, bxl, y);
                cairo_line_to(cr, bxl, yend);
            }
            cairo_stroke(cr);
        }
        cairo_move_to(cr, x1, ytop); /* final bar of the line */
        cairo_line_to(cr, x1, ybot);
        cairo_stroke(cr);
        for (int k = 0; k < s->staves_per_system; k++) {
            double y = staff_top(s, sy, k);
            for (double nx = x0 + 40; nx < x1 - 30; nx += 22 + rnd(&seed) % 14) {
                int step = (int)(rnd(&seed) % 14) - 3; /* some ledger positions */
                double ny = y + step * s->ss / 2;
                cairo_save(cr);
                cairo_translate(cr, nx, ny);
                cairo_scale(cr, s->ss * 0.65, s->ss * 0.5);
                cairo_arc(cr, 0, 0, 1, 0, 2 * PI);
                cairo_restore(cr);
                cairo_fill(cr);
                cairo_set_line_width(cr, 1.0);
                cairo_move_to(cr, nx + s->ss * 0.6, ny);
                cairo_line_to(cr, nx + s->ss * 0.6, ny - 3.3 * s->ss);
                cairo_stroke(cr);
                if (rnd(&seed) % 4 == 0) { /* a slanted beam */
                    cairo_set_line_width(cr, 0.5 * s->ss);
                    cairo_move_to(cr, nx + s->ss * 0.6, ny - 3.3 * s->ss);
                    cairo_line_to(cr, nx + s->ss * 3, ny - 3.6 * s->ss);
                    cairo_stroke(cr);
                }
            }
            /* a dynamic mark and a slur below the staff */
            fake_text(cr, x0 + 200, y + 5.5 * s->ss, 10, 2, &seed);
            cairo_set_line_width(cr, 1.2);
            cairo_move_to(cr, x0 + 300, y + 6 * s->ss);
            cairo_curve_to(cr, x0 + 350, y + 8 * s->ss, x0 + 450, y + 8 * s->ss, x0 + 500,
                           y + 6 * s->ss);
            cairo_stroke(cr);
        }
    }
}

static void to_gray(cairo_surface_t *sf, lec_import_image *img)
{
    cairo_surface_flush(sf);
    int w = cairo_image_surface_get_width(sf), h = cairo_image_surface_get_height(sf);
    int stride = cairo_image_surface_get_stride(sf);
    const uint8_t *px = cairo_image_surface_get_data(sf);
    CHECK(lec_import_image_alloc(img, w, h, NULL) == LEC_OK);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t v = ((const uint32_t *)(px + (size_t)y * stride))[x];
            img->gray[(size_t)y * w + x] = (uint8_t)(((v >> 16 & 255) + (v >> 8 & 255) + (v & 255)) / 3);
        }
}

static void render(const page_spec *s, int w, int h, lec_import_image *img)
{
    cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(sf);
    draw_page(cr, s, w, h);
    cairo_destroy(cr);
    to_gray(sf, img);
    cairo_surface_destroy(sf);
}

static void add_noise(lec_import_image *img, unsigned seed, int amp)
{
    for (size_t i = 0; i < (size_t)img->width_px * img->height_px; i++) {
        int v = img->gray[i] + (int)(rnd(&seed) % (2 * amp + 1)) - amp;
        img->gray[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

static void save_png(const lec_import_image *img, const char *path)
{
    cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, img->width_px, img->height_px);
    cairo_surface_flush(sf);
    uint8_t *px = cairo_image_surface_get_data(sf);
    int stride = cairo_image_surface_get_stride(sf);
    for (int y = 0; y < img->height_px; y++)
        for (int x = 0; x < img->width_px; x++) {
            uint32_t g = img->gray[(size_t)y * img->width_px + x];
            ((uint32_t *)(px + (size_t)y * stride))[x] = g << 16 | g << 8 | g;
        }
    cairo_surface_mark_dirty(sf);
    CHECK(cairo_surface_write_to_png(sf, path) == CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(sf);
}

/* ------------------------------------------------------------ checks */

static int box_close(const lec_box *a, const lec_box *b, double tol)
{
    return fabs(a->x0 - b->x0) <= tol && fabs(a->x1 - b->x1) <= tol && fabs(a->y0 - b->y0) <= tol &&
           fabs(a->y1 - b->y1) <= tol;
}

static void check_page(const char *what, const page_spec *s, const lec_import_result *r, double tol)
{
    CHECKF(r->n_systems == (size_t)s->n_systems, "%s: %zu systems, expected %d", what,
           r->n_systems, s->n_systems);
    CHECKF(r->n_staves == (size_t)(s->n_systems * s->staves_per_system),
           "%s: %zu staves, expected %d", what, r->n_staves, s->n_systems * s->staves_per_system);
    for (size_t k = 0; k < r->n_systems && k < (size_t)s->n_systems; k++) {
        lec_box e = system_box(s, (int)k);
        const lec_box *f = &r->systems[k].box;
        CHECKF(r->systems[k].n_staves == s->staves_per_system, "%s: system %zu has %d staves",
               what, k, r->systems[k].n_staves);
        CHECKF(box_close(f, &e, tol),
               "%s: system %zu box [%.1f %.1f %.1f %.1f], expected [%.1f %.1f %.1f %.1f]", what,
               k, f->x0, f->y0, f->x1, f->y1, e.x0, e.y0, e.x1, e.y1);
        for (int j = 0; j < r->systems[k].n_staves && j < s->staves_per_system; j++) {
            const lec_import_staff *st = &r->staves[r->systems[k].first_staff + j];
            lec_box eb = staff_box(s, (int)k, j);
            CHECKF(box_close(&st->box, &eb, tol), "%s: system %zu staff %d box off", what, k, j);
            CHECK_NEAR(st->staff_space_px, s->ss, 0.3);
        }
    }
}

static void test_detect_clean(void)
{
    page_spec s;
    spec_default(&s);
    lec_import_image img;
    render(&s, 900, 1200, &img);
    add_noise(&img, 7, 20);
    lec_import_result r = {0};
    lec_error err;
    CHECK(lec_import_detect(&img, NULL, &r, &err) == LEC_OK);
    CHECK(fabs(r.skew_deg) < 0.02);
    CHECK_NEAR(r.staff_space_px, s.ss, 0.5);
    check_page("piano page", &s, &r, 2.5);
    char path[4200];
    snprintf(path, sizeof path, "%s/check-piano.png", g_dir);
    CHECK(lec_import_draw_check(path, &img, &r, 0, &err) == LEC_OK);
    CHECK(access(path, F_OK) == 0);
    lec_import_result_free(&r);
    CHECK(r.staves == NULL && r.n_systems == 0);
    lec_import_image_free(&img);
}

static void test_single_and_three(void)
{
    page_spec s;
    spec_default(&s);
    s.staves_per_system = 1;
    s.connected = 0;
    s.n_systems = 7;
    s.system_gap = 8 * s.ss;
    lec_import_image img;
    render(&s, 900, 1200, &img);
    lec_import_result r = {0};
    CHECK(lec_import_detect(&img, NULL, &r, NULL) == LEC_OK);
    check_page("single staves", &s, &r, 2.5);
    lec_import_result_free(&r);
    lec_import_image_free(&img);

    /* three staves per system (e.g. piano with a third staff), smaller staff */
    spec_default(&s);
    s.staves_per_system = 3;
    s.n_systems = 3;
    s.ss = 7;
    s.staff_gap = 7 * 9;
    s.system_gap = 7 * 8;
    render(&s, 900, 1200, &img);
    CHECK(lec_import_detect(&img, NULL, &r, NULL) == LEC_OK);
    check_page("three staves", &s, &r, 2.5);
    lec_import_result_free(&r);
    lec_import_image_free(&img);

    /* the same staves unconnected are three single-staff systems each */
    s.connected = 0;
    render(&s, 900, 1200, &img);
    CHECK(lec_import_detect(&img, NULL, &r, NULL) == LEC_OK);
    CHECKF(r.n_systems == 9 && r.n_staves == 9, "unconnected: %zu systems %zu staves", r.n_systems,
           r.n_staves);
    lec_import_result_free(&r);
    lec_import_image_free(&img);
}

/* A pedal/percussion line (LilyPond RhythmicStaff) joined to the piano
 * staves: part of the system, as in the corpus (Grieg op. 46 no. 2). */
static void test_one_line_staff(void)
{
    page_spec s;
    spec_default(&s);
    s.n_systems = 3;
    s.rhythm_line = 1;
    s.system_gap = 14 * s.ss;
    lec_import_image img;
    render(&s, 900, 1200, &img);
    lec_import_result r = {0};
    CHECK(lec_import_detect(&img, NULL, &r, NULL) == LEC_OK);
    CHECKF(r.n_systems == 3 && r.n_staves == 9, "one-line staff: %zu systems %zu staves",
           r.n_systems, r.n_staves);
    for (size_t k = 0; k < r.n_systems && k < 3; k++) {
        lec_box e = system_box(&s, (int)k);
        e.y1 = (float)(staff_top(&s, (int)k, 1) + 9 * s.ss + s.line_w / 2);
        CHECKF(r.systems[k].n_staves == 3 && box_close(&r.systems[k].box, &e, 2.5),
               "system %zu: %d staves, [%.1f %.1f %.1f %.1f] vs [%.1f %.1f %.1f %.1f]", k,
               r.systems[k].n_staves, r.systems[k].box.x0, r.systems[k].box.y0,
               r.systems[k].box.x1, r.systems[k].box.y1, e.x0, e.y0, e.x1, e.y1);
    }
    lec_import_result_free(&r);
    lec_import_image_free(&img);
}

static void test_rotated(void)
{
    double angles[] = {1.3, -0.7, 2.5};
    for (int i = 0; i < 3; i++) {
        page_spec s;
        spec_default(&s);
        s.seed = 3 + i;
        lec_import_image img, rot;
        render(&s, 900, 1200, &img);
        CHECK(lec_import_image_rotate(&img, angles[i], 255, &rot, NULL) == LEC_OK);
        lec_import_image_free(&img);
        lec_import_result r = {0};
        CHECK(lec_import_detect(&rot, NULL, &r, NULL) == LEC_OK);
        CHECKF(fabs(r.skew_deg - angles[i]) < 0.05, "rotated %g: skew found %g", angles[i],
               r.skew_deg);
        char what[64];
        snprintf(what, sizeof what, "rotated %g deg", angles[i]);
        check_page(what, &s, &r, 3.5);
        lec_import_result_free(&r);
        lec_import_image_free(&rot);
    }
    /* nothing found beyond max_skew_deg is tried: with deskew off, a page
     * rotated by 2.5 deg keeps its rotation and loses its staves */
    page_spec s;
    spec_default(&s);
    lec_import_image img, rot;
    render(&s, 900, 1200, &img);
    CHECK(lec_import_image_rotate(&img, 2.5, 255, &rot, NULL) == LEC_OK);
    lec_import_config cfg;
    lec_import_config_default(&cfg);
    cfg.max_skew_deg = 0;
    lec_import_result r = {0};
    CHECK(lec_import_detect(&rot, &cfg, &r, NULL) == LEC_OK);
    CHECK(r.skew_deg == 0);
    CHECK(r.n_systems < (size_t)s.n_systems);
    lec_import_result_free(&r);
    lec_import_image_free(&img);
    lec_import_image_free(&rot);
}

/* A "photo": smooth shading, blobs and some text, no staff. */
static void render_photo(lec_import_image *img, int w, int h)
{
    cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(sf);
    cairo_pattern_t *g = cairo_pattern_create_linear(0, 0, w, h);
    cairo_pattern_add_color_stop_rgb(g, 0, 0.9, 0.8, 0.6);
    cairo_pattern_add_color_stop_rgb(g, 1, 0.2, 0.3, 0.5);
    cairo_set_source(cr, g);
    cairo_paint(cr);
    cairo_pattern_destroy(g);
    unsigned seed = 99;
    for (int i = 0; i < 40; i++) {
        cairo_set_source_rgb(cr, (rnd(&seed) % 100) / 100.0, (rnd(&seed) % 100) / 100.0,
                             (rnd(&seed) % 100) / 100.0);
        cairo_arc(cr, rnd(&seed) % w, rnd(&seed) % h, 10 + rnd(&seed) % 80, 0, 2 * PI);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    fake_text(cr, 50, 50, 20, 20, &seed);
    /* a few long horizontal lines, but not five evenly spaced ones */
    cairo_set_line_width(cr, 2);
    for (int i = 0; i < 3; i++) {
        cairo_move_to(cr, 30, 300 + i * 47 + i * i * 13);
        cairo_line_to(cr, w - 30, 300 + i * 47 + i * i * 13);
    }
    cairo_stroke(cr);
    cairo_destroy(cr);
    to_gray(sf, img);
    cairo_surface_destroy(sf);
}

static void test_no_staves(void)
{
    lec_import_image img;
    render_photo(&img, 640, 480);
    lec_import_result r = {0};
    CHECK(lec_import_detect(&img, NULL, &r, NULL) == LEC_OK);
    CHECKF(r.n_systems == 0 && r.n_staves == 0, "photo: %zu systems", r.n_systems);
    lec_import_result_free(&r);
    /* a white page */
    memset(img.gray, 255, (size_t)img.width_px * img.height_px);
    CHECK(lec_import_detect(&img, NULL, &r, NULL) == LEC_OK);
    CHECK(r.n_systems == 0);
    lec_import_result_free(&r);
    char photo[4200], cmd[10000], out[8192];
    snprintf(photo, sizeof photo, "%s/photo.png", g_dir);
    lec_import_image_free(&img);
    render_photo(&img, 640, 480);
    save_png(&img, photo);
    lec_import_image_free(&img);
    snprintf(cmd, sizeof cmd, "%s import '%s' --out '%s/photo-bundle'", lec_test_lectern(), photo,
             g_dir);
    int rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 1 && strstr(out, "no staff systems found on page 1"), "rc %d: %s", rc, out);
    snprintf(cmd, sizeof cmd, "%s/photo-bundle", g_dir);
    CHECK(access(cmd, F_OK) != 0);
}

/* ------------------------------------------------------------ PDF */

/* Two A5 pages (420 x 595 pt) of piano staves in vector graphics. */
static void write_pdf(const char *path, double wpt, double hpt, int pages)
{
    cairo_surface_t *sf = cairo_pdf_surface_create(path, wpt, hpt);
    cairo_t *cr = cairo_create(sf);
    for (int p = 0; p < pages; p++) {
        page_spec s;
        spec_default(&s);
        s.seed = 10 + p;
        s.n_systems = 3 + p;
        /* draw at 1 pt = 1 unit: a smaller staff (6 pt) on the A5 page */
        s.ss = 6;
        s.line_w = 0.6;
        s.x0 = 40;
        s.x1 = wpt - 30;
        s.first_indent = 30;
        s.top = 90;
        s.staff_gap = 6 * 10;
        s.system_gap = 6 * 6;
        draw_page(cr, &s, (int)wpt, (int)hpt);
        cairo_show_page(cr);
    }
    cairo_destroy(cr);
    cairo_surface_finish(sf);
    CHECK(cairo_surface_status(sf) == CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(sf);
}

static void test_pdf(void)
{
    char pdf[4200], enc[4200], cmd[10000], out[8192];
    snprintf(pdf, sizeof pdf, "%s/score.pdf", g_dir);
    write_pdf(pdf, 420, 595, 2);
    lec_import_config cfg;
    lec_import_config_default(&cfg);
    cfg.dpi = 100;
    lec_error err;
    lec_import_doc *d = lec_import_doc_open(pdf, &cfg, &err);
    CHECKF(d != NULL, "%s", err.msg);
    if (d) {
        CHECK(lec_import_doc_n_pages(d) == 2);
        CHECK(lec_import_doc_is_pdf(d));
        for (int p = 0; p < 2; p++) {
            lec_import_image img = {0};
            float dpi = 0;
            char warn[512];
            CHECK(lec_import_doc_page(d, p, &img, &dpi, warn, sizeof warn, &err) == LEC_OK);
            /* 420 pt x 100/72 = 583.3 -> 584 px; 595 pt -> 826.4 -> 827 px */
            CHECKF(img.width_px == 584 && img.height_px == 827, "page %d: %dx%d", p,
                   img.width_px, img.height_px);
            CHECK(dpi == 100 && warn[0] == 0);
            lec_import_result r = {0};
            CHECK(lec_import_detect(&img, &cfg, &r, &err) == LEC_OK);
            CHECKF(r.n_systems == (size_t)(3 + p) && r.n_staves == (size_t)(2 * (3 + p)),
                   "pdf page %d: %zu systems %zu staves", p, r.n_systems, r.n_staves);
            /* staff space 6 pt at 100 dpi = 8.33 px */
            if (r.n_staves)
                CHECK_NEAR(r.staves[0].staff_space_px, 6 * 100.0 / 72, 0.3);
            lec_import_result_free(&r);
            lec_import_image_free(&img);
        }
        lec_import_image img = {0};
        CHECK(lec_import_doc_page(d, 2, &img, NULL, NULL, 0, &err) == LEC_EINVAL);
        lec_import_doc_destroy(d);
    }

    /* the command: PDF -> bundle that the follower's reader accepts */
    snprintf(cmd, sizeof cmd, "%s import '%s' --out '%s/pdf-bundle' --dpi 100 --title 'A test'",
             lec_test_lectern(), pdf, g_dir);
    int rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 0, "rc %d: %s", rc, out);
    snprintf(cmd, sizeof cmd, "%s/pdf-bundle", g_dir);
    lec_piece *p = lec_piece_load(cmd, &err);
    CHECKF(p != NULL, "%s", p ? "" : err.msg);
    if (p) {
        CHECK(lec_piece_n_pages(p) == 2);
        CHECK(lec_piece_pages(p)[0].width_px == 584 && lec_piece_pages(p)[0].height_px == 827);
        CHECK(lec_piece_n_systems(p) == 7 && lec_piece_n_staves(p) == 14);
        CHECK(lec_piece_systems(p)[3].page == 1);
        CHECK(strcmp(lec_piece_title(p), "A test") == 0);
        lec_piece_destroy(p);
    }

    /* encrypted copy */
    snprintf(enc, sizeof enc, "%s/secret.pdf", g_dir);
    snprintf(cmd, sizeof cmd, "qpdf --encrypt userpw ownerpw 256 -- '%s' '%s'", pdf, enc);
    rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 0, "qpdf (tests/lib/setup.sh installs it): rc %d: %s", rc, out);
    d = lec_import_doc_open(enc, &cfg, &err);
    CHECK(d == NULL);
    if (!d)
        CHECKF(err.code == LEC_EUNSUPPORTED && strstr(err.msg, "encrypted") &&
                   strstr(err.msg, "secret.pdf") && strstr(err.msg, "--password"),
               "%s", err.msg);
    lec_import_doc_destroy(d);
    cfg.password = "wrong";
    d = lec_import_doc_open(enc, &cfg, &err);
    CHECK(d == NULL);
    if (!d)
        CHECKF(strstr(err.msg, "password given is wrong") != NULL, "%s", err.msg);
    lec_import_doc_destroy(d);
    cfg.password = "userpw";
    d = lec_import_doc_open(enc, &cfg, &err);
    CHECKF(d && lec_import_doc_n_pages(d) == 2, "%s", d ? "" : err.msg);
    lec_import_doc_destroy(d);
    cfg.password = NULL;
    snprintf(cmd, sizeof cmd, "%s import '%s' --out '%s/enc-bundle'", lec_test_lectern(), enc,
             g_dir);
    rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 1 && strstr(out, "encrypted"), "rc %d: %s", rc, out);

    /* a huge PDF page (200 x 200 in, the PDF maximum) is rendered smaller,
     * with a warning; limits lowered so that the test stays small */
    char big[4200];
    snprintf(big, sizeof big, "%s/huge.pdf", g_dir);
    write_pdf(big, 14400, 14400, 1);
    lec_import_config_default(&cfg);
    cfg.max_side_px = 1500;
    d = lec_import_doc_open(big, &cfg, &err);
    CHECKF(d != NULL, "%s", d ? "" : err.msg);
    if (d) {
        lec_import_image img = {0};
        char warn[1024];
        float dpi = 0;
        CHECK(lec_import_doc_page(d, 0, &img, &dpi, warn, sizeof warn, &err) == LEC_OK);
        CHECKF(img.width_px <= 1500 && img.width_px >= 1490 && dpi < 7.6f, "%dx%d at %g dpi",
               img.width_px, img.height_px, dpi);
        CHECKF(strstr(warn, "beyond the limit") && strstr(warn, "huge.pdf"), "warning: %s", warn);
        lec_import_image_free(&img);
        lec_import_doc_destroy(d);
    }

    /* broken PDF */
    char bad[4200];
    snprintf(bad, sizeof bad, "%s/broken.pdf", g_dir);
    lec_write_file_atomic(bad, "%PDF-1.4\ngarbage\n", 17, NULL);
    lec_import_config_default(&cfg);
    d = lec_import_doc_open(bad, &cfg, &err);
    CHECK(d == NULL);
    if (!d)
        CHECKF(strstr(err.msg, "broken.pdf") && strstr(err.msg, "not a readable PDF"), "%s",
               err.msg);
}

/* ------------------------------------------------------------ images, limits */

static void write_png_header(const char *path, uint32_t w, uint32_t h)
{
    /* signature + IHDR (length, type, w, h, depth 8, gray) + CRC placeholder
     * + an IDAT that is not valid zlib: only the header is meant to be read */
    unsigned char b[45] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    b[16] = (unsigned char)(w >> 24), b[17] = (unsigned char)(w >> 16);
    b[18] = (unsigned char)(w >> 8), b[19] = (unsigned char)w;
    b[20] = (unsigned char)(h >> 24), b[21] = (unsigned char)(h >> 16);
    b[22] = (unsigned char)(h >> 8), b[23] = (unsigned char)h;
    b[24] = 8;
    memcpy(b + 33, "\0\0\0\0IDATxxxx", 12);
    CHECK(lec_write_file_atomic(path, b, sizeof b, NULL) == LEC_OK);
}

static void test_limits_and_bad_files(void)
{
    char path[4200], cmd[10000], out[8192];
    lec_error err;
    snprintf(path, sizeof path, "%s/huge.png", g_dir);
    write_png_header(path, 20000, 20000);
    lec_import_doc *d = lec_import_doc_open(path, NULL, &err);
    CHECK(d == NULL);
    if (!d)
        CHECKF(strstr(err.msg, "20000x20000") && strstr(err.msg, "beyond the limit") &&
                   strstr(err.msg, "huge.png"),
               "%s", err.msg);
    snprintf(cmd, sizeof cmd, "%s import '%s' --out '%s/huge-bundle'", lec_test_lectern(), path,
             g_dir);
    int rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 1 && strstr(out, "20000x20000"), "rc %d: %s", rc, out);
    /* within the limits but its data is broken: decoding fails cleanly */
    write_png_header(path, 300, 200);
    d = lec_import_doc_open(path, NULL, &err);
    CHECK(d != NULL);
    if (d) {
        lec_import_image img = {0};
        CHECK(lec_import_doc_page(d, 0, &img, NULL, NULL, 0, &err) == LEC_EFORMAT);
        CHECK(strstr(err.msg, "huge.png") != NULL);
        CHECK(img.gray == NULL);
        lec_import_doc_destroy(d);
    }
    /* not an image */
    snprintf(path, sizeof path, "%s/notes.txt", g_dir);
    lec_write_file_atomic(path, "just some text, not a score\n", 28, NULL);
    d = lec_import_doc_open(path, NULL, &err);
    CHECK(d == NULL);
    if (!d)
        CHECKF(strstr(err.msg, "notes.txt") && strstr(err.msg, "not a PDF"), "%s", err.msg);
    /* missing */
    snprintf(path, sizeof path, "%s/missing.png", g_dir);
    d = lec_import_doc_open(path, NULL, &err);
    CHECK(d == NULL && err.code == LEC_EIO && strstr(err.msg, "missing.png"));
    /* truncated or corrupt headers of every format we sniff: an error
     * naming the file, never a crash (ASan in CI) */
    static const struct {
        const char *name;
        const char *bytes;
        size_t n;
    } bad[] = {
        {"a.jpg", "\xFF\xD8\xFF\xE0\x00\x10JFIF", 11},
        {"b.jpg", "\xFF\xD8\xFF\xC0\x00\x11\x08\x4E\x20\x4E\x20", 11}, /* SOF0 20000x20000 */
        {"c.gif", "GIF89a\x01", 7},
        {"d.bmp", "BM\x00\x00", 4},
        {"e.tif", "II*\x00\xFF\xFF\xFF\x7F", 8},
        {"f.tif", "MM\x00*\x00\x00\x00\x08\x00\x02", 10},
        {"g.pgm", "P5\n# just a comment", 19},
        {"h.pgm", "P5\n99999999 99999999\n255\n", 26},
        {"i.png", "\x89PNG\r\n\x1a\n\x00\x00", 10},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", g_dir, bad[i].name);
        CHECK(lec_write_file_atomic(path, bad[i].bytes, bad[i].n, NULL) == LEC_OK);
        d = lec_import_doc_open(path, NULL, &err);
        lec_status st = LEC_OK;
        if (d) {
            lec_import_image im = {0};
            st = lec_import_doc_page(d, 0, &im, NULL, NULL, 0, &err);
            lec_import_image_free(&im);
            lec_import_doc_destroy(d);
        }
        CHECKF((!d || st != LEC_OK) && strstr(err.msg, bad[i].name), "%s: %s", bad[i].name,
               err.msg);
    }
    /* image allocation limit */
    lec_import_image img;
    CHECK(lec_import_image_alloc(&img, 20000, 100, NULL) == LEC_EUNSUPPORTED && img.gray == NULL);
    CHECK(lec_import_image_alloc(&img, 0, 100, NULL) == LEC_EUNSUPPORTED);
}

/* ------------------------------------------------------------ bundle */

static void test_bundle(void)
{
    char p1[4200], p2[4200], bundle[4200], cmd[10000], out[8192];
    page_spec s;
    spec_default(&s);
    lec_import_image img;
    render(&s, 900, 1200, &img);
    snprintf(p1, sizeof p1, "%s/page-a.png", g_dir);
    save_png(&img, p1);
    lec_import_image_free(&img);
    page_spec s2 = s;
    s2.n_systems = 3;
    s2.first_indent = 0;
    s2.seed = 5;
    render(&s2, 900, 1200, &img);
    lec_import_image rot;
    CHECK(lec_import_image_rotate(&img, -0.8, 255, &rot, NULL) == LEC_OK); /* a scan, slightly turned */
    snprintf(p2, sizeof p2, "%s/page-b.png", g_dir);
    save_png(&rot, p2);
    lec_import_image_free(&img);
    lec_import_image_free(&rot);

    snprintf(bundle, sizeof bundle, "%s/bundle", g_dir);
    snprintf(cmd, sizeof cmd, "%s import '%s' '%s' --out '%s' --check", lec_test_lectern(), p1, p2,
             bundle);
    int rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 0 && strstr(out, "2 pages, 7 systems"), "rc %d: %s", rc, out);
    lec_error err;
    lec_piece *p = lec_piece_load(bundle, &err);
    CHECKF(p != NULL, "%s", p ? "" : err.msg);
    if (p) {
        CHECK(lec_piece_n_pages(p) == 2 && lec_piece_n_systems(p) == 7 &&
              lec_piece_n_staves(p) == 14);
        CHECK(lec_piece_n_heads(p) == 0 && lec_piece_n_notes(p) == 0 &&
              lec_piece_n_events(p) == 0 && lec_piece_n_renderings(p) == 0);
        CHECK(strcmp(lec_piece_title(p), "page-a") == 0);
        const lec_piece_system *sy = lec_piece_systems(p);
        for (int k = 0; k < 4; k++) {
            lec_box e = system_box(&s, k);
            CHECKF(sy[k].page == 0 && box_close(&sy[k].box, &e, 2.5), "bundle system %d", k);
        }
        for (int k = 0; k < 3; k++) {
            lec_box e = system_box(&s2, k);
            CHECKF(sy[4 + k].page == 1 && box_close(&sy[4 + k].box, &e, 3.5),
                   "bundle system %d (deskewed page): [%.1f %.1f %.1f %.1f] vs [%.1f %.1f %.1f %.1f]",
                   4 + k, sy[4 + k].box.x0, sy[4 + k].box.y0, sy[4 + k].box.x1, sy[4 + k].box.y1,
                   e.x0, e.y0, e.x1, e.y1);
        }
        CHECK_NEAR(lec_piece_staves(p)[0].staff_space_px, s.ss, 0.3);
        /* the follower's strip */
        lec_unroll_config uc;
        lec_unroll_config_default(&uc);
        lec_unroll *u = lec_unroll_create(p, &uc, &err);
        CHECKF(u != NULL, "%s", u ? "" : err.msg);
        if (u) {
            CHECK(lec_unroll_n_systems(u) == 7);
            CHECK(lec_unroll_width_px(u) > 7 * 100);
            /* the strip has ink (staff lines) where systems were cut */
            const uint8_t *px = lec_unroll_pixels(u);
            long dark = 0;
            for (long i = 0; i < (long)lec_unroll_width_px(u) * lec_unroll_height_px(u); i++)
                dark += px[i] < 128;
            CHECK(dark > lec_unroll_width_px(u) * 5);
            lec_unroll_destroy(u);
        }
        lec_piece_destroy(p);
    }
    snprintf(cmd, sizeof cmd, "%s/check/page-1.png", bundle);
    CHECK(access(cmd, F_OK) == 0);
    snprintf(cmd, sizeof cmd, "%s/check/page-2.png", bundle);
    CHECK(access(cmd, F_OK) == 0);

    /* an existing bundle is not replaced without --force */
    snprintf(cmd, sizeof cmd, "%s import '%s' --out '%s'", lec_test_lectern(), p1, bundle);
    rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 1 && strstr(out, "already exists"), "rc %d: %s", rc, out);
    snprintf(cmd, sizeof cmd, "%s import '%s' --out '%s' --force", lec_test_lectern(), p1, bundle);
    rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 0 && strstr(out, "1 pages, 4 systems"), "rc %d: %s", rc, out);
    p = lec_piece_load(bundle, &err);
    CHECK(p && lec_piece_n_pages(p) == 1);
    lec_piece_destroy(p);
    /* a failing import (the photo page) leaves the old bundle and no temporaries */
    char photo[4200];
    snprintf(photo, sizeof photo, "%s/photo.png", g_dir);
    snprintf(cmd, sizeof cmd, "%s import '%s' '%s' --out '%s' --force", lec_test_lectern(), p1,
             photo, bundle);
    rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 1 && strstr(out, "photo.png: no staff systems found on page 1"), "rc %d: %s", rc,
           out);
    p = lec_piece_load(bundle, &err);
    CHECK(p && lec_piece_n_pages(p) == 1);
    lec_piece_destroy(p);
    /* --skip-empty leaves that page out */
    snprintf(cmd, sizeof cmd, "%s import '%s' '%s' --out '%s' --force --skip-empty",
             lec_test_lectern(), photo, p1, bundle);
    rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 0 && strstr(out, "1 pages, 4 systems"), "rc %d: %s", rc, out);
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c -e '\\.tmp-' -e '\\.old-'", g_dir);
    rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(atoi(out) == 0, "temporaries left: %s", out);
    /* usage errors */
    snprintf(cmd, sizeof cmd, "%s import '%s'", lec_test_lectern(), p1);
    CHECK(lec_test_run(cmd, out, sizeof out) == 2 && strstr(out, "--out"));
    snprintf(cmd, sizeof cmd, "%s import '%s' --out x --dpi 5", lec_test_lectern(), p1);
    CHECK(lec_test_run(cmd, out, sizeof out) == 2);
}

/* ------------------------------------------------------------ measurement helpers */

static void test_degrade_and_match(void)
{
    page_spec s;
    spec_default(&s);
    lec_import_image a, b, c;
    render(&s, 900, 1200, &a);
    render(&s, 900, 1200, &b);
    render(&s, 900, 1200, &c);
    double ra, rb, rc;
    CHECK(lec_import_image_degrade(&a, 42, 1.5, &ra, NULL) == LEC_OK);
    CHECK(lec_import_image_degrade(&b, 42, 1.5, &rb, NULL) == LEC_OK);
    CHECK(lec_import_image_degrade(&c, 43, 1.5, &rc, NULL) == LEC_OK);
    CHECK(ra == rb && fabs(ra) <= 1.5 && ra != rc);
    CHECK(memcmp(a.gray, b.gray, (size_t)a.width_px * a.height_px) == 0);
    CHECK(memcmp(a.gray, c.gray, (size_t)a.width_px * a.height_px) != 0);
    /* the degraded page still gives the systems back, deskewed */
    lec_import_result r = {0};
    CHECK(lec_import_detect(&a, NULL, &r, NULL) == LEC_OK);
    CHECKF(fabs(r.skew_deg - ra) < 0.06, "degraded: rot %g skew %g", ra, r.skew_deg);
    check_page("degraded", &s, &r, 4.0);
    lec_import_result_free(&r);
    /* resampled to 2/3: boxes scale */
    lec_import_image small;
    lec_import_image_free(&b);
    render(&s, 900, 1200, &b);
    CHECK(lec_import_image_resample(&b, 2.0 / 3.0, &small, NULL) == LEC_OK);
    CHECK(small.width_px == 600 && small.height_px == 800);
    CHECK(lec_import_detect(&small, NULL, &r, NULL) == LEC_OK);
    CHECK(r.n_systems == 4);
    if (r.n_systems == 4) {
        lec_box e = system_box(&s, 2);
        lec_box es = {e.x0 * 2 / 3.f, e.y0 * 2 / 3.f, e.x1 * 2 / 3.f, e.y1 * 2 / 3.f};
        CHECKF(lec_box_iou(&r.systems[2].box, &es) > 0.9, "iou %g",
               lec_box_iou(&r.systems[2].box, &es));
    }
    lec_import_result_free(&r);
    lec_import_image_free(&small);
    lec_import_image_free(&a);
    lec_import_image_free(&b);
    lec_import_image_free(&c);

    lec_box t[2] = {{0, 0, 10, 10}, {0, 20, 10, 30}};
    lec_box f[3] = {{0, 21, 10, 30}, {0, 0, 10, 5}, {50, 50, 60, 60}};
    CHECK_NEAR(lec_box_iou(&t[0], &t[0]), 1.0, 1e-12);
    CHECK_NEAR(lec_box_iou(&t[0], &f[1]), 0.5, 1e-12);
    CHECK_NEAR(lec_box_iou(&t[1], &f[0]), 0.9, 1e-6);
    CHECK(lec_box_iou(&t[0], &t[1]) == 0);
    CHECK(lec_import_match(t, 2, f, 3, 0.8) == 1);
    CHECK(lec_import_match(t, 2, f, 3, 0.5) == 2);
    CHECK(lec_import_match(t, 2, f, 0, 0.5) == 0);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "%s", lec_test_scratch_dir("test_import"));
    test_detect_clean();
    test_single_and_three();
    test_one_line_staff();
    test_rotated();
    test_no_staves();
    test_pdf();
    test_limits_and_bad_files();
    test_bundle();
    test_degrade_and_match();
    return lec_test_finish("test_import");
}
