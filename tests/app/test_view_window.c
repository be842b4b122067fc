/* test_view_window.c -- the real window (re-runs itself under xvfb-run when
 * there is no display): the frame read back from the window has the marker
 * where the published position says; keys and a click become the right
 * commands for the follower, in order (space, arrows, Home, R, click on a
 * system -> SEEK there, Q -> quit); minimise/restore stop/resume drawing;
 * a resize to a wide window switches to two pages; F toggles stage mode. */
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
#include "lec_view.h"
#include "lec_view_layout.h"
#include "view_bundle.h"
#include "view_pixels.h"

static void key(SDL_Keycode k)
{
    SDL_Event e;
    memset(&e, 0, sizeof e);
    e.type = SDL_KEYDOWN;
    e.key.keysym.sym = k;
    SDL_PushEvent(&e);
}

static void winevent(Uint8 what)
{
    SDL_Event e;
    memset(&e, 0, sizeof e);
    e.type = SDL_WINDOWEVENT;
    e.window.event = what;
    SDL_PushEvent(&e);
}

static int draw_and_shot(lec_view *v, const char *png)
{
    lec_error err = {0};
    lec_view_pos drawn;
    int ok = lec_view_window_draw(v, &drawn, &err) == LEC_OK &&
             lec_view_window_screenshot(v, png, &err) == LEC_OK;
    CHECKF(ok, "%s", err.msg);
    lec_view_window_present(v);
    return ok;
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *d = getenv("DISPLAY");
    if ((!d || !*d) && !getenv("LEC_TEST_UNDER_XVFB")) {
        setenv("LEC_TEST_UNDER_XVFB", "1", 1);
        /* see test_show.c: SDL's X11/D-Bus backends leak inside system libraries */
        const char *ao = getenv("ASAN_OPTIONS");
        char buf[1024];
        snprintf(buf, sizeof buf, "%s%sdetect_leaks=0", ao ? ao : "", ao && *ao ? ":" : "");
        setenv("ASAN_OPTIONS", buf, 1);
        execlp("xvfb-run", "xvfb-run", "-a", "-s", "-screen 0 1024x768x24", argv[0], (char *)NULL);
        fprintf(stderr, "test_view_window: cannot run xvfb-run (package xvfb)\n");
        return 1;
    }
    const char *dir = lec_test_scratch_dir("test_view_window");
    char bdir[4200], png[4300];
    snprintf(bdir, sizeof bdir, "%s/bundle", dir);
    CHECK(vb_write(bdir, 0) == 0);
    lec_error err = {0};
    lec_piece *p = lec_piece_load(bdir, &err);
    CHECKF(p != NULL, "%s", err.msg);
    if (!p)
        return lec_test_finish("test_view_window");
    lec_unroll_config uc;
    lec_unroll_config_default(&uc);
    lec_unroll *u = lec_unroll_create(p, &uc, &err);
    lec_oracle *o = u ? lec_oracle_create(p, u, 0, &err) : NULL;
    CHECKF(o != NULL, "%s", err.msg);
    lec_view_config vc;
    lec_view_config_default(&vc);
    vc.width_px = 480;
    vc.height_px = 640;
    lec_view *v = o ? lec_view_create(p, &vc, &err) : NULL;
    CHECKF(v != NULL, "%s", err.msg);
    if (!v || lec_view_window_open(v, &err) != LEC_OK) {
        CHECKF(0, "window: %s", err.msg);
        goto done;
    }
    int quit = 0;
    CHECK(lec_view_window_events(v, &quit, &err) == LEC_OK && !quit);
    CHECK(lec_view_window_visible(v));

    /* the published position is what the window shows */
    lec_view_pos pos;
    lec_oracle_position(o, 7.25, &pos); /* system 4 (page 2), x 225 */
    lec_view_publish(v, &pos);
    snprintf(png, sizeof png, "%s/window.png", dir);
    if (draw_and_shot(v, png)) {
        int pg[1] = {2};
        vp_check_frame(png, pg, 1, 2, 4, 225, 2.5f, 0);
    }

    /* keys -> commands, in order */
    lec_view_cmd c;
    while (lec_view_poll_command(v, &c))
        ;
    key(SDLK_SPACE);
    key(SDLK_LEFT);
    key(SDLK_RIGHT);
    key(SDLK_HOME);
    key(SDLK_r);
    CHECK(lec_view_window_events(v, &quit, &err) == LEC_OK && !quit);
    static const struct {
        lec_view_cmd_kind kind;
        int delta;
    } want[] = {{LEC_VIEW_CMD_PAUSE_TOGGLE, 0},
                {LEC_VIEW_CMD_NUDGE, -1},
                {LEC_VIEW_CMD_NUDGE, +1},
                {LEC_VIEW_CMD_RESTART, 0},
                {LEC_VIEW_CMD_RELOCALISE, 0}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int got = lec_view_poll_command(v, &c);
        CHECKF(got && c.kind == want[i].kind && c.delta == want[i].delta,
               "command %zu: got %d kind %d delta %d", i, got, got ? (int)c.kind : -1,
               got ? c.delta : 0);
    }
    CHECK(lec_view_poll_command(v, &c) == 0);

    /* a click on system 4 at page x 300 -> SEEK there (window px = output px
     * on Xvfb; the layout is the documented one) */
    lec_view_layout L;
    lec_view_layout_compute(480, 640, lec_piece_pages(p), VB_PAGES, 2, 1, &L);
    SDL_Event e;
    memset(&e, 0, sizeof e);
    e.type = SDL_MOUSEBUTTONDOWN;
    e.button.button = SDL_BUTTON_LEFT;
    e.button.x = L.page[0].x + (int)(300 * L.scale);
    e.button.y = L.page[0].y + (int)((vb_sys_top(4) + 70) * L.scale);
    SDL_PushEvent(&e);
    CHECK(lec_view_window_events(v, &quit, &err) == LEC_OK && !quit);
    CHECK(lec_view_poll_command(v, &c) == 1);
    CHECKF(c.kind == LEC_VIEW_CMD_SEEK && c.system == 4 && fabsf(c.page_x_px - 300) < 3,
           "click: kind %d system %d x %g", (int)c.kind, c.system, c.page_x_px);

    /* minimise / restore */
    winevent(SDL_WINDOWEVENT_MINIMIZED);
    CHECK(lec_view_window_events(v, &quit, &err) == LEC_OK);
    CHECK(!lec_view_window_visible(v));
    lec_view_window_present(v); /* waits (<= 100 ms) instead of drawing */
    winevent(SDL_WINDOWEVENT_RESTORED);
    /* SDL's poll sentinel (left by the wait above) may defer an event to the
     * next poll cycle, i.e. the next frame of the render loop */
    CHECK(lec_view_window_events(v, &quit, &err) == LEC_OK);
    CHECK(lec_view_window_events(v, &quit, &err) == LEC_OK);
    CHECK(lec_view_window_visible(v));

    /* resize to a wide window: two pages, marker still right (page 2 is the
     * last: pages 1 and 2 shown) */
    SDL_Window *w = SDL_GetWindowFromID(1);
    CHECK(w != NULL);
    if (w) {
        SDL_SetWindowSize(w, 1000, 500);
        for (int i = 0; i < 20; i++) { /* let the X server apply it */
            lec_view_window_events(v, &quit, &err);
            int ww, wh;
            SDL_GetWindowSize(w, &ww, &wh);
            if (ww == 1000 && wh == 500)
                break;
            SDL_Delay(20);
        }
        snprintf(png, sizeof png, "%s/wide.png", dir);
        if (draw_and_shot(v, png)) {
            int pg[2] = {1, 2};
            vp_check_frame(png, pg, 2, 2, 4, 225, 2.5f, 0);
        }
    }

    /* F: stage mode and back */
    int stage0 = lec_view_window_stage(v);
    key(SDLK_f);
    lec_view_window_events(v, &quit, &err);
    CHECK(lec_view_window_stage(v) == !stage0);
    key(SDLK_f);
    lec_view_window_events(v, &quit, &err);
    CHECK(lec_view_window_stage(v) == stage0);

    /* Q: quit, and the follower is told */
    while (lec_view_poll_command(v, &c))
        ;
    key(SDLK_q);
    CHECK(lec_view_window_events(v, &quit, &err) == LEC_OK && quit == 1);
    CHECK(lec_view_poll_command(v, &c) == 1 && c.kind == LEC_VIEW_CMD_QUIT);
    lec_view_window_close(v);
    lec_view_window_close(v); /* idempotent */
done:
    lec_view_destroy(v);
    lec_oracle_destroy(o);
    lec_unroll_destroy(u);
    lec_piece_destroy(p);
    IMG_Quit();
    SDL_Quit();
    return lec_test_finish("test_view_window");
}
