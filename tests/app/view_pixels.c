/* view_pixels.c -- see view_pixels.h. */
#include "view_pixels.h"

#include <SDL.h>
#include <SDL_image.h>
#include <stdlib.h>
#include <string.h>

#include "view_bundle.h"

int vp_load(const char *png, vp_img *img)
{
    memset(img, 0, sizeof *img);
    SDL_Surface *s = IMG_Load(png);
    if (!s)
        return -1;
    SDL_Surface *c = SDL_ConvertSurfaceFormat(s, SDL_PIXELFORMAT_RGB24, 0);
    SDL_FreeSurface(s);
    if (!c)
        return -1;
    img->w = c->w;
    img->h = c->h;
    img->rgb = malloc((size_t)c->w * c->h * 3);
    for (int y = 0; img->rgb && y < c->h; y++)
        memcpy(img->rgb + (size_t)y * c->w * 3, (uint8_t *)c->pixels + (size_t)y * c->pitch,
               (size_t)c->w * 3);
    SDL_FreeSurface(c);
    return img->rgb ? 0 : -1;
}

void vp_free(vp_img *img)
{
    free(img->rgb);
    img->rgb = NULL;
}

static const uint8_t *px(const vp_img *img, int x, int y) { return img->rgb + ((size_t)y * img->w + x) * 3; }

int vp_is_marker(const uint8_t *p, int loose)
{
    if (loose)
        return p[0] >= 150 && p[1] <= 110 && p[2] <= 150 && p[0] - p[1] >= 90;
    return p[0] >= 200 && p[1] <= 90 && p[2] <= 120 && p[0] - p[1] >= 130;
}

static int light(const uint8_t *p) { return p[0] >= 200 && p[1] >= 200 && p[2] >= 200; }
static int dark(const uint8_t *p) { return p[0] < 100 && p[1] < 100 && p[2] < 100; }

int vp_find_pages(const vp_img *img, vp_page *pages, int max)
{
    int n = 0, x = 0;
    while (x < img->w && n < max) {
        /* a page column is mostly light (the page's left/right margins are
         * paper from top to bottom of the page) */
        int cnt = 0;
        for (int y = 0; y < img->h; y++)
            cnt += light(px(img, x, y));
        if (cnt < img->h / 3) {
            x++;
            continue;
        }
        int x0 = x;
        while (x < img->w) {
            int c2 = 0;
            for (int y = 0; y < img->h; y++)
                c2 += light(px(img, x, y));
            if (c2 < img->h / 3)
                break;
            x++;
        }
        if (x - x0 < 20)
            continue;
        vp_page *p = &pages[n];
        p->x0 = x0;
        p->x1 = x;
        int xm = x0 + 2; /* left margin column: paper only */
        p->y0 = 0;
        while (p->y0 < img->h && !light(px(img, xm, p->y0)))
            p->y0++;
        p->y1 = p->y0;
        while (p->y1 < img->h && light(px(img, xm, p->y1)))
            p->y1++;
        /* page marks: squares at page y [20, 40) */
        float s = (float)(p->x1 - p->x0) / VB_PW;
        int ym = p->y0 + (int)(30 * s);
        int runs = 0, in = 0;
        for (int xx = p->x0 + (int)(10 * s); xx < p->x0 + (int)(200 * s) && xx < img->w; xx++) {
            int d = dark(px(img, xx, ym));
            if (d && !in)
                runs++;
            in = d;
        }
        p->page = runs >= 1 && runs <= VB_PAGES ? runs - 1 : -1;
        n++;
    }
    return n;
}

int vp_marker_box(const vp_img *img, int loose, int *x0, int *y0, int *x1, int *y1)
{
    int n = 0;
    *x0 = *y0 = 1 << 30;
    *x1 = *y1 = -1;
    for (int y = 0; y < img->h; y++)
        for (int x = 0; x < img->w; x++)
            if (vp_is_marker(px(img, x, y), loose)) {
                n++;
                if (x < *x0)
                    *x0 = x;
                if (x > *x1)
                    *x1 = x;
                if (y < *y0)
                    *y0 = y;
                if (y > *y1)
                    *y1 = y;
            }
    return n;
}

#include "lec_test.h"

int vp_check_frame(const char *png, const int *pages, int n_pages, int marker_page,
                   int system, float page_x, float tol_px, int loose)
{
    int before = lec_test_failures;
    vp_img img;
    CHECKF(vp_load(png, &img) == 0, "%s: cannot load", png);
    if (!img.rgb)
        return -1;
    vp_page found[4];
    int n = vp_find_pages(&img, found, 4);
    CHECKF(n == n_pages, "%s: %d pages on screen, expected %d", png, n, n_pages);
    for (int i = 0; i < n && i < n_pages; i++)
        CHECKF(found[i].page == pages[i], "%s: page slot %d shows page %d, expected %d", png, i,
               found[i].page, pages[i]);
    int x0, y0, x1, y1;
    int cnt = vp_marker_box(&img, loose, &x0, &y0, &x1, &y1);
    if (marker_page < 0) {
        CHECKF(cnt == 0, "%s: %d marker pixels, expected none", png, cnt);
    } else {
        int slot = -1;
        for (int i = 0; i < n; i++)
            if (found[i].page == marker_page)
                slot = i;
        CHECKF(slot >= 0 && cnt > 0, "%s: marker page %d on screen: %d, marker pixels %d", png,
               marker_page, slot >= 0, cnt);
        if (slot >= 0 && cnt > 0) {
            const vp_page *p = &found[slot];
            float s = (float)(p->x1 - p->x0) / VB_PW;
            float ex = p->x0 + page_x * s, cx = 0.5f * (x0 + x1 + 1);
            CHECKF(fabsf(cx - ex) <= tol_px, "%s: marker centre x %.1f, expected %.1f (page x %.1f)",
                   png, cx, ex, page_x);
            float top = vb_sys_top(system);
            float ey0 = p->y0 + (top - VB_SS) * s, ey1 = p->y0 + (top + 140 + VB_SS) * s;
            CHECKF(fabsf(y0 - ey0) <= tol_px + 1 && fabsf(y1 + 1 - ey1) <= tol_px + 1,
                   "%s: marker rows %d..%d, expected %.1f..%.1f (system %d)", png, y0, y1 + 1, ey0,
                   ey1, system);
            /* a bar, not a blob: narrow */
            CHECKF(x1 - x0 + 1 <= 3 + (int)(VB_SS * s) + 2 * (int)tol_px,
                   "%s: marker %d px wide", png, x1 - x0 + 1);
        }
    }
    vp_free(&img);
    return lec_test_failures == before ? 0 : -1;
}
