/* test_unroll.c -- the unrolled score on a generated bundle: geometry (strip
 * size, system placement, scale), pixels (a drawn head lands where the
 * mapping says), page <-> strip round trips, ground-truth interpolation
 * (within a system, across systems, at a repeat jump), windows, determinism,
 * and errors (bad config, missing page image). */
#include <SDL.h>
#include <SDL_image.h>
#include <stdlib.h>
#include <string.h>

#include "lec_piece.h"
#include "lec_test.h"
#include "lec_unroll.h"
#include "lec_util.h"

#define PW 800
#define PH 600
#define SS 10.0f /* staff space on the page, px */

/* Systems: page 0 holds two (top lines at y=100 and y=350), page 1 one (y=100).
 * Each has two staves of 5 lines, 4 staff spaces high, 60 px apart, spanning
 * x in [50, 750]. */
static const int sys_page[3] = {0, 0, 1};
static const float sys_top[3] = {100, 350, 100};

static void fill(uint8_t *g, int x0, int y0, int x1, int y1, uint8_t v)
{
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            g[y * PW + x] = v;
}

static int save_png(const uint8_t *g, const char *path)
{
    SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(0, PW, PH, 32, SDL_PIXELFORMAT_RGBA32);
    if (!s)
        return -1;
    for (int y = 0; y < PH; y++) {
        uint8_t *row = (uint8_t *)s->pixels + y * s->pitch;
        for (int x = 0; x < PW; x++) {
            row[4 * x] = row[4 * x + 1] = row[4 * x + 2] = g[y * PW + x];
            row[4 * x + 3] = 255;
        }
    }
    int rc = IMG_SavePNG(s, path);
    SDL_FreeSurface(s);
    return rc;
}

/* Heads (all on the upper staff, 10x8 px): (system, x-centre). Performance:
 * h0 h1 | h2 (next system) | h3 (page 2) then a repeat back to h1. */
static const int head_sys[4] = {0, 0, 1, 2};
static const float head_xc[4] = {200, 400, 150, 300};

static void write_bundle(const char *dir)
{
    char path[4200];
    uint8_t *pg[2];
    for (int p = 0; p < 2; p++) {
        pg[p] = malloc(PW * PH);
        memset(pg[p], 255, PW * PH);
    }
    for (int k = 0; k < 3; k++)
        for (int st = 0; st < 2; st++)
            for (int l = 0; l < 5; l++) {
                int y = (int)(sys_top[k] + st * 100 + l * SS);
                fill(pg[sys_page[k]], 50, y, 750, y + 1, 0);
            }
    for (int h = 0; h < 4; h++) {
        int k = head_sys[h];
        int yc = (int)(sys_top[k] + 2 * SS);
        fill(pg[sys_page[k]], (int)head_xc[h] - 5, yc - 4, (int)head_xc[h] + 5, yc + 4, 0);
    }
    snprintf(path, sizeof path, "%s/pages", dir);
    lec_mkdir_p(path, NULL);
    snprintf(path, sizeof path, "%s/audio", dir);
    lec_mkdir_p(path, NULL);
    for (int p = 0; p < 2; p++) {
        snprintf(path, sizeof path, "%s/pages/page-%d.png", dir, p + 1);
        CHECK(save_png(pg[p], path) == 0);
        free(pg[p]);
    }
    FILE *f;
    snprintf(path, sizeof path, "%s/audio/r.flac", dir);
    f = fopen(path, "wb");
    fclose(f);
    snprintf(path, sizeof path, "%s/audio/r.truth.json", dir);
    f = fopen(path, "w");
    /* events at 1, 2, 3, 4, 5 s; the repeat plays h1 again at 5 s */
    fprintf(f, "{\"note_onset_s\":[1,2,3,4,5],\"event_onset_s\":[1,2,3,4,5]}");
    fclose(f);

    snprintf(path, sizeof path, "%s/piece.json", dir);
    f = fopen(path, "w");
    fprintf(f, "{\"format\":\"lectern-piece\",\"version\":1,\"title\":\"t\",\"composer\":\"c\","
               "\"license\":\"Public Domain\",\"source\":\"test\",\"pages\":[");
    for (int p = 0; p < 2; p++)
        fprintf(f, "%s{\"image\":\"pages/page-%d.png\",\"width_px\":%d,\"height_px\":%d}",
                p ? "," : "", p + 1, PW, PH);
    fprintf(f, "],\"systems\":[");
    for (int k = 0; k < 3; k++) {
        float y0 = sys_top[k], y1 = sys_top[k] + 100 + 4 * SS;
        fprintf(f,
                "%s{\"page\":%d,\"box\":[50,%g,750,%g],\"box_notes\":[50,%g,750,%g],"
                "\"staves\":[{\"box\":[50,%g,750,%g],\"staff_space_px\":%g},"
                "{\"box\":[50,%g,750,%g],\"staff_space_px\":%g}]}",
                k ? "," : "", sys_page[k], y0, y1, y0, y1, y0, y0 + 4 * SS, SS, y0 + 100,
                y1, SS);
    }
    fprintf(f, "],\"heads\":[");
    for (int h = 0; h < 4; h++) {
        int k = head_sys[h];
        float yc = sys_top[k] + 2 * SS;
        fprintf(f,
                "%s{\"page\":%d,\"system\":%d,\"staff\":0,\"box\":[%g,%g,%g,%g],\"pitch\":60,"
                "\"onset\":\"%d/4\",\"grace\":\"0/1\",\"onset_wn\":%g,\"tied\":false,"
                "\"origin\":\"x.ly:1:%d\"}",
                h ? "," : "", sys_page[k], k, head_xc[h] - 5, yc - 4, head_xc[h] + 5, yc + 4, h,
                h / 4.0, h);
    }
    static const int perf_head[5] = {0, 1, 2, 3, 1};
    fprintf(f, "],\"performance\":{\"notes\":[");
    for (int n = 0; n < 5; n++)
        fprintf(f,
                "%s{\"t_wn\":%g,\"dur_wn\":0.25,\"pitch\":60,\"velocity\":64,\"head\":%d,"
                "\"staff\":0}",
                n ? "," : "", n / 4.0, perf_head[n]);
    fprintf(f, "],\"events\":[");
    for (int n = 0; n < 5; n++)
        fprintf(f, "%s{\"t_wn\":%g,\"first_note\":%d,\"n_notes\":1}", n ? "," : "", n / 4.0, n);
    fprintf(f, "]},\"renderings\":[{\"name\":\"r\",\"audio\":\"audio/r.flac\",\"midi\":\"\","
               "\"truth\":\"audio/r.truth.json\",\"soundfont\":\"x\",\"tempo_factor\":1,"
               "\"duration_s\":6}]}");
    fclose(f);
}

int main(void)
{
    const char *dir = lec_test_scratch_dir("test_unroll");
    char bdir[4200];
    snprintf(bdir, sizeof bdir, "%s/bundle", dir);
    lec_mkdir_p(bdir, NULL);
    write_bundle(bdir);

    lec_error err = {0};
    lec_piece *p = lec_piece_load(bdir, &err);
    CHECKF(p != NULL, "%s", err.msg);
    if (!p)
        return lec_test_finish("test_unroll");

    lec_unroll_config cfg;
    lec_unroll_config_default(&cfg); /* staff space 5 px -> scale 0.5 */
    lec_unroll *u = lec_unroll_create(p, &cfg, &err);
    CHECKF(u != NULL, "%s", err.msg);
    if (!u)
        return lec_test_finish("test_unroll");

    /* geometry: each system is (700 + 2*10 margin) page px * 0.5 = 360 strip px */
    CHECK(lec_unroll_height_px(u) == 120);
    CHECK(lec_unroll_n_systems(u) == 3);
    CHECK(lec_unroll_width_px(u) == 3 * 360);
    const lec_unroll_system *s = lec_unroll_systems(u);
    CHECK(s[0].x0 == 0 && s[0].x1 == 360 && s[1].x0 == 360 && s[2].x1 == 1080);
    CHECK(s[2].page == 1);
    CHECK_NEAR(s[0].scale, 0.5, 1e-6);
    CHECK_NEAR(s[0].page_x0, 40.0, 1e-4);

    /* page <-> strip */
    CHECK_NEAR(lec_unroll_strip_x(u, 1, 150.0f), 360 + (150 - 40) * 0.5, 1e-4);
    int page;
    float px;
    int k = lec_unroll_to_page(u, 360 + 55.0f, &page, &px);
    CHECK(k == 1 && page == 0);
    CHECK_NEAR(px, 150.0, 1e-3);
    k = lec_unroll_to_page(u, 1079.0f, &page, &px);
    CHECK(k == 2 && page == 1);
    k = lec_unroll_to_page(u, -5.0f, &page, &px);
    CHECK(k == 0);

    /* pixels: the staff box (140 px) is centred in 120 rows of 5 px/space:
     * staff top y=100 -> strip row 60 - 70*0.5*... = 60 - 35 = 25. A head at
     * page x 200 of system 0 is at strip x 80; its rows (page y 116..124)
     * are strip rows 33..37, of which 35 is also the middle staff line. */
    const uint8_t *pix = lec_unroll_pixels(u);
    int W = lec_unroll_width_px(u);
    CHECKF(pix[33 * W + 80] < 64, "head pixel %d", pix[33 * W + 80]);
    CHECKF(pix[33 * W + 120] == 255, "between heads, off the lines: %d", pix[33 * W + 120]);
    CHECKF(pix[35 * W + 120] > 100 && pix[35 * W + 120] < 160, "1-px line at half scale: %d",
           pix[35 * W + 120]);
    /* top staff line of system 0 (page y=100) lies on row 25 (half-covered
     * rows are grey at 0.5 scale: 1 px black line -> ~ half ink) */
    CHECKF(pix[25 * W + 150] < 200, "staff line row %d", pix[25 * W + 150]);
    CHECKF(pix[5 * W + 150] == 255, "margin is white: %d", pix[5 * W + 150]);
    /* page 2's head at x=300 -> strip 720 + 130 */
    CHECKF(pix[33 * W + 850] < 64, "page-2 head %d", pix[33 * W + 850]);

    /* events: strip x of each performed event's leftmost head */
    const float *ex = lec_unroll_event_x(u);
    CHECK_NEAR(ex[0], 80, 1e-3);
    CHECK_NEAR(ex[1], 180, 1e-3);
    CHECK_NEAR(ex[2], 360 + 55, 1e-3);
    CHECK_NEAR(ex[3], 720 + 130, 1e-3);
    CHECK_NEAR(ex[4], 180, 1e-3);

    /* ground truth */
    CHECK_NEAR(lec_unroll_truth_x(u, 0, 0.0), 80, 1e-3);   /* before the first */
    CHECK_NEAR(lec_unroll_truth_x(u, 0, 1.0), 80, 1e-3);
    CHECK_NEAR(lec_unroll_truth_x(u, 0, 1.5), 130, 1e-3);  /* halfway h0 -> h1 */
    CHECK_NEAR(lec_unroll_truth_x(u, 0, 2.5), 270, 1e-3);  /* h1 -> end of system 0 (360) */
    CHECK_NEAR(lec_unroll_truth_x(u, 0, 3.0), 415, 1e-3);
    /* system 1 -> system 2 is also "next system": run to the end of system 1 */
    CHECK_NEAR(lec_unroll_truth_x(u, 0, 3.5), 415 + 0.5 * (720 - 415), 1e-3);
    /* the repeat jump back from h3 to h1: hold, then jump */
    CHECK_NEAR(lec_unroll_truth_x(u, 0, 4.5), 850, 1e-3);
    CHECK_NEAR(lec_unroll_truth_x(u, 0, 5.0), 180, 1e-3);
    CHECK_NEAR(lec_unroll_truth_x(u, 0, 9.0), 180, 1e-3);
    CHECK(lec_unroll_truth_x(u, 1, 1.0) < 0); /* no such rendering */

    /* windows: ink, padded with blank paper */
    float *win = malloc(sizeof(float) * 120 * 200);
    lec_unroll_window(u, -50, 200, win); /* column i is strip x i - 50 */
    CHECK(win[35 * 200 + 0] == 0.0f);
    CHECK_NEAR(win[35 * 200 + 80], 1.0 - pix[35 * W + 30] / 255.0, 1e-6);
    CHECK(win[33 * 200 + 80 + 50] > 0.7f); /* the head at strip x 80 */
    lec_unroll_window(u, W - 10, 200, win);
    CHECK(win[35 * 200 + 0] > 0.0f && win[35 * 200 + 50] == 0.0f);
    free(win);

    /* deterministic */
    lec_unroll *u2 = lec_unroll_create(p, &cfg, &err);
    CHECK(u2 && lec_unroll_width_px(u2) == W &&
          memcmp(lec_unroll_pixels(u2), pix, (size_t)W * 120) == 0);
    lec_unroll_destroy(u2);

    /* other scales: staff space 2.5 px halves the strip */
    lec_unroll_config c2 = cfg;
    c2.staff_space_px = 2.5f;
    u2 = lec_unroll_create(p, &c2, &err);
    CHECK(u2 && lec_unroll_width_px(u2) == 3 * 180 && lec_unroll_height_px(u2) == 60);
    lec_unroll_destroy(u2);

    /* bad config */
    c2.staff_space_px = 0.0f;
    CHECK(lec_unroll_create(p, &c2, &err) == NULL && err.code == LEC_EINVAL);
    lec_unroll_destroy(u);
    lec_piece_destroy(p);

    /* a missing page image is a clear error naming the file (the bundle
     * loader or the unroller, whichever looks first) */
    char path[4300];
    snprintf(path, sizeof path, "%s/pages/page-2.png", bdir);
    remove(path);
    p = lec_piece_load(bdir, &err);
    if (p) {
        u = lec_unroll_create(p, &cfg, &err);
        CHECK(u == NULL);
        lec_piece_destroy(p);
    }
    CHECKF(strstr(err.msg, "page-2.png") != NULL, "%s", err.msg);
    lec_unroll_destroy(NULL);
    return lec_test_finish("test_unroll");
}
