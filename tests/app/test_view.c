/* test_view.c -- the viewer without a display: page-turn policy and layout
 * (pure functions), offscreen frames checked pixel by pixel (marker place
 * and size, pages shown, page turns in one- and two-page views, the lost
 * look), headless recording to PNG frames through the library API, the
 * oracle follower (truth positions, nudge, seek), and errors (bad config,
 * missing page image). Uses the generated bundle of view_bundle.h. */
#include <SDL.h>
#include <SDL_image.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lec_oracle.h"
#include "lec_piece.h"
#include "lec_test.h"
#include "lec_unroll.h"
#include "lec_util.h"
#include "lec_view.h"
#include "lec_view_layout.h"
#include "view_bundle.h"
#include "view_pixels.h"

static lec_view_pos pos_at(const lec_oracle *o, double t)
{
    lec_view_pos p;
    lec_oracle_position(o, t, &p);
    return p;
}

static void test_policy(const lec_piece *p)
{
    const lec_piece_page *pages = lec_piece_pages(p);
    /* portrait window: one page; wide: two; forced */
    CHECK(lec_view_pages_per_view(480, 640, pages, 3, 0) == 1);
    CHECK(lec_view_pages_per_view(1200, 500, pages, 3, 0) == 2);
    CHECK(lec_view_pages_per_view(1200, 500, pages, 3, 1) == 1);
    CHECK(lec_view_pages_per_view(480, 640, pages, 3, 2) == 2);
    CHECK(lec_view_pages_per_view(1200, 500, pages, 1, 0) == 1); /* one page only */
    /* aspect threshold ~1.2 x (page aspect 0.75 / A4 0.707): 1.1 -> one, 1.4 -> two */
    CHECK(lec_view_pages_per_view(1100, 1000, pages, 3, 0) == 1);
    CHECK(lec_view_pages_per_view(1400, 1000, pages, 3, 0) == 2);

    /* target page: system 1 is the last of page 0, box x in [50, 550] */
    lec_view_pos pos = {.valid = 1, .page = 0, .system = 1, .page_x_px = 400};
    CHECK(lec_view_target_page(p, &pos, 0.75f) == 0);  /* 400 < 50 + 0.75 * 500 = 425 */
    pos.page_x_px = 430;
    CHECK(lec_view_target_page(p, &pos, 0.75f) == 1);
    CHECK(lec_view_target_page(p, &pos, 0.0f) == 1);
    pos.system = 0; /* not the last system: never turns */
    CHECK(lec_view_target_page(p, &pos, 0.0f) == 0);
    pos = (lec_view_pos){.valid = 1, .page = 2, .system = 5, .page_x_px = 549};
    CHECK(lec_view_target_page(p, &pos, 0.0f) == 2); /* last page: nothing to turn to */
    pos.lost = 1;
    CHECK(lec_view_target_page(p, &pos, 0.0f) == -1);
    pos.lost = 0;
    pos.valid = 0;
    CHECK(lec_view_target_page(p, &pos, 0.0f) == -1);
    pos = (lec_view_pos){.valid = 1, .page = 7, .system = 1};
    CHECK(lec_view_target_page(p, &pos, 0.0f) == -1); /* out of range: ignored */

    /* first page: single view follows the target; double view is stable
     * while the target is shown, advances by one, goes back on repeats */
    CHECK(lec_view_first_page(-1, -1, -1, 1, 3) == 0);
    CHECK(lec_view_first_page(2, 2, -1, 1, 3) == 2);
    CHECK(lec_view_first_page(0, 1, 0, 1, 3) == 1);  /* turned ahead */
    CHECK(lec_view_first_page(0, -1, 1, 1, 3) == 1); /* lost: kept */
    CHECK(lec_view_first_page(0, 0, -1, 2, 3) == 0);
    CHECK(lec_view_first_page(1, 1, 0, 2, 3) == 0); /* right page: kept */
    CHECK(lec_view_first_page(0, 1, 0, 2, 3) == 0); /* left page's last system: kept */
    CHECK(lec_view_first_page(0, 1, -1, 2, 3) == 0); /* fresh: the position stays visible */
    CHECK(lec_view_first_page(1, 2, 0, 2, 3) == 1); /* right page's last system: +1 */
    CHECK(lec_view_first_page(0, 0, 1, 2, 3) == 0); /* repeat back */
    CHECK(lec_view_first_page(2, 2, -1, 2, 3) == 1); /* clamped: two pages always shown */
    CHECK(lec_view_first_page(0, 0, 0, 2, 1) == 0);

    /* layout: inside the output, centred, one scale; hit test inverts it */
    lec_view_layout L;
    lec_view_layout_compute(1200, 500, pages, 3, 1, 2, &L);
    CHECK(L.n_shown == 2 && L.first_page == 1);
    int m = lec_view_margin_px(1200, 500);
    CHECK(L.page[0].y >= m && L.page[0].y + L.page[0].h <= 500 - m);
    CHECK(L.page[0].x >= m && L.page[1].x + L.page[1].w <= 1200 - m);
    CHECK(L.page[1].x - (L.page[0].x + L.page[0].w) == m);
    CHECK(abs(L.page[0].x - (1200 - (L.page[1].x + L.page[1].w))) <= 1);
    CHECK_NEAR(L.scale, (500.0 - 2 * m) / VB_PH, 1e-4);
    float hx, hy;
    int hp = lec_view_layout_hit(&L, pages, L.page[1].x + (int)(300 * L.scale),
                                 L.page[1].y + (int)(500 * L.scale), &hx, &hy);
    CHECK(hp == 2);
    CHECK_NEAR(hx, 300, 2.5);
    CHECK_NEAR(hy, 500, 2.5);
    CHECK(lec_view_layout_hit(&L, pages, 1, 1, &hx, &hy) == -1);
    lec_view_layout_compute(1200, 500, pages, 3, 2, 2, &L); /* past the end: one page */
    CHECK(L.n_shown == 1);
    /* systems: nearest to the click */
    CHECK(lec_view_system_at(p, 1, 160) == 2);
    CHECK(lec_view_system_at(p, 1, 390) == 2);  /* 100 below system 2, 110 above system 3 */
    CHECK(lec_view_system_at(p, 1, 410) == 3);
    CHECK(lec_view_system_at(p, 2, 790) == 5);
}

static void test_oracle(const lec_oracle *o)
{
    CHECK_NEAR(lec_oracle_duration_s(o), VB_DURATION_S, 1e-9);
    lec_view_pos p = pos_at(o, 1.25);
    CHECK(p.valid && p.page == 0 && p.system == 0 && !p.lost);
    CHECK_NEAR(p.page_x_px, 225, 0.6);
    CHECK_NEAR(p.sys_y0_px, vb_sys_top(0), 1e-3);
    CHECK_NEAR(p.sys_y1_px, vb_sys_top(0) + 140, 1e-3);
    CHECK_NEAR(p.time_s, 1.25, 1e-12);
    p = pos_at(o, 7.75);
    CHECK(p.valid && p.page == 2 && p.system == 4);
    CHECK_NEAR(p.page_x_px, 375, 0.6);
    /* nudges in performance order; system j starts at 1 + 1.5 j s */
    CHECK_NEAR(lec_oracle_nudge_s(o, 1.25, +1), 2.5, 0.021);
    CHECK_NEAR(lec_oracle_nudge_s(o, 3.3, +1), 4.0, 0.021);
    CHECK_NEAR(lec_oracle_nudge_s(o, 3.3, -1), 0.0, 0.021);
    CHECK_NEAR(lec_oracle_nudge_s(o, 5.6, -1), 4.0, 0.021);
    CHECK_NEAR(lec_oracle_nudge_s(o, 10.0, +1), VB_DURATION_S, 1e-9);
    /* seek: system 4 at x >= 300 is t = 7.5 */
    CHECK_NEAR(lec_oracle_seek_s(o, 1.0, 4, 300), 7.5, 0.021);
    CHECK_NEAR(lec_oracle_seek_s(o, 1.0, 1, 0), 2.5, 0.021);
    CHECK_NEAR(lec_oracle_seek_s(o, 3.0, 99, 0), 3.0, 1e-9); /* never visited: unchanged */
}

/* Offscreen frames through lec_view_render_png. */
static void test_frames(lec_view *v, const lec_oracle *o, const char *dir)
{
    char png[4200];
    lec_error err = {0};
    struct {
        double t;
        int w, h;
        int n_pages, pages[2];
        int marker_page;
    } cases[] = {
        /* one page (portrait): page 0, then page 1 once system 1 passed 75% */
        {1.25, 480, 640, 1, {0}, 0},
        {3.35, 480, 640, 1, {0}, 0}, /* x 405 < 425: not yet */
        {3.45, 480, 640, 1, {1}, -1}, /* x 435 >= 425: turned, the marker is on page 0 */
        {4.25, 480, 640, 1, {1}, 1},
        /* two pages (wide). A still starts without page-turn history, so the
         * position's page goes left (test_record checks a sequence) */
        {4.25, 1200, 500, 2, {1, 2}, 1},
        {5.75, 1200, 500, 2, {1, 2}, 1},
        {7.25, 1200, 500, 2, {1, 2}, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lec_view_pos p = pos_at(o, cases[i].t);
        snprintf(png, sizeof png, "%s/frame-%zu.png", dir, i);
        lec_status st = lec_view_render_png(v, &p, cases[i].w, cases[i].h, 0, png, &err);
        CHECKF(st == LEC_OK, "%s", err.msg);
        float px;
        int sys = vb_truth(cases[i].t, &px);
        CHECK(sys == p.system);
        vp_check_frame(png, cases[i].pages, cases[i].n_pages, cases[i].marker_page, sys, px, 2.5f,
                       0);
    }
    /* lost: no marker colour, but the orange translucent bar is drawn */
    lec_view_pos p = pos_at(o, 1.25);
    p.lost = 1;
    snprintf(png, sizeof png, "%s/lost.png", dir);
    CHECK(lec_view_render_png(v, &p, 480, 640, 0, png, &err) == LEC_OK);
    int pages0[1] = {0};
    vp_check_frame(png, pages0, 1, -1, 0, 0, 0, 0);
    vp_img img;
    if (vp_load(png, &img) == 0) {
        int orange = 0;
        for (int k = 0; k < img.w * img.h; k++) {
            const uint8_t *q = img.rgb + 3 * k;
            orange += q[0] > 230 && q[1] > 150 && q[1] < 220 && q[2] < 140;
        }
        CHECKF(orange > 50, "lost marker: %d orange pixels", orange);
        vp_free(&img);
    }
    /* stage look: black surround */
    p = pos_at(o, 1.25);
    snprintf(png, sizeof png, "%s/stage.png", dir);
    CHECK(lec_view_render_png(v, &p, 480, 640, 1, png, &err) == LEC_OK);
    if (vp_load(png, &img) == 0) {
        const uint8_t *c = img.rgb; /* top-left corner: margin */
        CHECK(c[0] == 0 && c[1] == 0 && c[2] == 0);
        vp_free(&img);
    }
    vp_check_frame(png, pages0, 1, 0, 0, 225, 2.5f, 0);
}

/* Recording PNG frames with the library: positions published frame by frame. */
static void test_record(lec_view *v, const lec_oracle *o, const char *dir, const char *bdir)
{
    char out[4200], png[4300];
    snprintf(out, sizeof out, "%s/rec", dir);
    lec_view_record_config rc;
    lec_view_record_config_default(&rc);
    rc.width_px = 1200;
    rc.height_px = 500;
    rc.fps = 2;
    lec_error err = {0};
    lec_view_record *r = lec_view_record_create(v, out, &rc, &err);
    CHECKF(r != NULL, "%s", err.msg);
    if (!r)
        return;
    /* 2.75 s .. 7.25 s at 2 fps: the two-page view advances once (5.5 s) */
    for (int k = 0; k < 10; k++) {
        lec_view_pos p = pos_at(o, 2.75 + k * 0.5);
        lec_view_publish(v, &p);
        CHECKF(lec_view_record_frame(r, &err) == LEC_OK, "%s", err.msg);
    }
    CHECK(lec_view_record_n_frames(r) == 10);
    const SDL_Surface *s = lec_view_record_surface(r);
    CHECK(s && s->w == 1200 && s->h == 500);
    CHECK(lec_view_record_finish(r, &err) == LEC_OK);
    lec_view_record_destroy(r);
    int p01[2] = {0, 1}, p12[2] = {1, 2};
    float px;
    int sys;
    snprintf(png, sizeof png, "%s/frame-000000.png", out); /* 2.75: system 1, left page */
    sys = vb_truth(2.75, &px);
    vp_check_frame(png, p01, 2, 0, sys, px, 2.5f, 0);
    snprintf(png, sizeof png, "%s/frame-000003.png", out); /* 4.25: system 2, right page */
    sys = vb_truth(4.25, &px);
    vp_check_frame(png, p01, 2, 1, sys, px, 2.5f, 0);
    snprintf(png, sizeof png, "%s/frame-000006.png", out); /* 5.75: system 3 -> advanced */
    sys = vb_truth(5.75, &px);
    vp_check_frame(png, p12, 2, 1, sys, px, 2.5f, 0);
    snprintf(png, sizeof png, "%s/frame-000009.png", out); /* 7.25: system 4, right page */
    sys = vb_truth(7.25, &px);
    vp_check_frame(png, p12, 2, 2, sys, px, 2.5f, 0);
    snprintf(png, sizeof png, "%s/frame-000010.png", out);
    CHECK(access(png, F_OK) != 0);

    /* bad outputs: odd size for a video, a path that cannot be a directory */
    rc.width_px = 101;
    snprintf(out, sizeof out, "%s/x.mp4", dir);
    r = lec_view_record_create(v, out, &rc, &err);
    CHECK(r == NULL && err.code == LEC_EINVAL && strstr(err.msg, "x.mp4"));
    rc.width_px = 100;
    snprintf(out, sizeof out, "%s/piece.json/frames", bdir);
    r = lec_view_record_create(v, out, &rc, &err);
    CHECK(r == NULL && err.code != LEC_OK);
}

int main(void)
{
    const char *dir = lec_test_scratch_dir("test_view");
    char bdir[4200];
    snprintf(bdir, sizeof bdir, "%s/bundle", dir);
    CHECK(vb_write(bdir, 0) == 0);
    lec_error err = {0};
    lec_piece *p = lec_piece_load(bdir, &err);
    CHECKF(p != NULL, "%s", err.msg);
    if (!p)
        return lec_test_finish("test_view");
    lec_unroll_config uc;
    lec_unroll_config_default(&uc);
    lec_unroll *u = lec_unroll_create(p, &uc, &err);
    CHECKF(u != NULL, "%s", err.msg);
    lec_oracle *o = u ? lec_oracle_create(p, u, 0, &err) : NULL;
    CHECKF(o != NULL, "%s", err.msg);
    CHECK(u && lec_oracle_create(p, u, 1, &err) == NULL && err.code == LEC_EINVAL);

    test_policy(p);
    if (o)
        test_oracle(o);

    lec_view_config vc;
    lec_view_config_default(&vc);
    lec_view *v = lec_view_create(p, &vc, &err);
    CHECKF(v != NULL, "%s", err.msg);
    if (v && o) {
        lec_view_pos none;
        CHECK(lec_view_latest(v, &none) == 0 && !none.valid);
        test_frames(v, o, dir);
        test_record(v, o, dir, bdir);
    }
    lec_view_destroy(v);

    /* bad configuration */
    vc.width_px = 3;
    CHECK(lec_view_create(p, &vc, &err) == NULL && err.code == LEC_EINVAL);
    lec_view_config_default(&vc);
    vc.pages_per_view = 3;
    CHECK(lec_view_create(p, &vc, &err) == NULL && err.code == LEC_EINVAL);
    vc.pages_per_view = 0;
    vc.turn_frac_single = 1.5f;
    CHECK(lec_view_create(p, &vc, &err) == NULL && err.code == LEC_EINVAL);
    lec_view_config_default(&vc);

    /* a page image that vanished after loading the piece: named in the error */
    char page[4300];
    snprintf(page, sizeof page, "%s/pages/page-2.png", bdir);
    CHECK(unlink(page) == 0);
    v = lec_view_create(p, &vc, &err);
    CHECK(v == NULL && err.code == LEC_EIO && strstr(err.msg, "page-2.png"));
    /* ... or was replaced by one of another size */
    {
        SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(0, 10, 10, 32, SDL_PIXELFORMAT_RGBA32);
        IMG_SavePNG(s, page);
        SDL_FreeSurface(s);
    }
    v = lec_view_create(p, &vc, &err);
    CHECK(v == NULL && err.code == LEC_EFORMAT && strstr(err.msg, "page-2.png") &&
          strstr(err.msg, "10x10"));

    lec_oracle_destroy(o);
    lec_unroll_destroy(u);
    lec_piece_destroy(p);
    IMG_Quit();
    SDL_Quit();
    return lec_test_finish("test_view");
}
