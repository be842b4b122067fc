/* test_show.c -- `lectern show` end to end, checking PIXELS of what it shows:
 *   1. a real window under Xvfb (xvfb-run): screenshots at known times (the
 *      program prints the time of the snapshot each shows) have the marker
 *      at the true page x of that time, on the right system, and the page
 *      has turned when it should;
 *   2. headless PNG frames (--headless --record DIR), one- and two-page views:
 *      frame k shows time start + k / fps, marker and page turns checked;
 *   3. headless video (--record x.mp4, ffmpeg): size, frame count, the audio
 *      stream muxed in, and the marker in a decoded frame;
 *   4. errors: no display (clear message suggesting --headless, exit 1, no
 *      crash), the X server dying under an open window (exit 1, message), a missing page image (named), an unknown rendering (the names
 *      listed), bad options (usage, exit 2).
 * Uses the generated bundle of view_bundle.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lec_test.h"
#include "lec_util.h"
#include "view_bundle.h"
#include "view_pixels.h"

static char out[65536];

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = lec_test_run(cmd, out, sizeof out);
    if (getenv("LEC_TEST_VERBOSE"))
        fprintf(stderr, "$ %s\n-> %d\n%s\n", cmd, rc, out);
    return rc;
}

/* "screenshot FILE t=T ..." line for FILE in the output -> T, or -1 */
static double shot_time(const char *file)
{
    char key[4400];
    snprintf(key, sizeof key, "screenshot %s t=", file);
    const char *s = strstr(out, key);
    return s ? atof(s + strlen(key)) : -1;
}

static void test_window(const char *lectern, const char *bdir, const char *dir)
{
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/win-a.png", dir);
    snprintf(b, sizeof b, "%s/win-b.png", dir);
    /* single page (portrait window), 2.4 .. 4.8 s in real time: at ~2.6 s the
     * marker is on system 1 of page 0; at ~4.5 s page 1 is shown (system 2) */
    /* Leak checking is off for this one process only (memory errors are
     * still checked): SDL's X11 and D-Bus backends leak inside system
     * libraries that SDL_Quit unloads, so LeakSanitizer cannot even name them
     * for a suppression. The viewer's own code is leak-checked by test_view
     * and by the headless runs above. */
    int rc = run("ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" "
                 "xvfb-run -a -s '-screen 0 1024x768x24' %s show %s --size 480x640 --fps 30 "
                 "--start 2.4 --until 4.8 --screenshot-at 2.6:%s --screenshot-at 4.5:%s 2>&1",
                 lectern, bdir, a, b);
    CHECKF(rc == 0, "window run failed (%d): %s", rc, out);
    double ta = shot_time(a), tb = shot_time(b);
    CHECKF(ta >= 2.6 && ta < 3.0, "first screenshot at t=%g: %s", ta, out);
    CHECKF(tb >= 4.5 && tb < 4.8, "second screenshot at t=%g: %s", tb, out);
    float px;
    int p0[1] = {0}, p1[1] = {1};
    int sys = vb_truth(ta, &px);
    CHECK(sys == 1);
    if (sys >= 0)
        vp_check_frame(a, p0, 1, 0, sys, px, 2.5f, 0);
    sys = vb_truth(tb, &px);
    CHECK(sys == 2);
    if (sys >= 0)
        vp_check_frame(b, p1, 1, 1, sys, px, 2.5f, 0);
}

/* The X server dies while the window is open: exit status 1 and a message
 * saying so (no crash, no hang). */
static void test_display_lost(const char *lectern, const char *bdir, const char *dir)
{
    int rc = run("ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" sh -c '"
                 "Xvfb -displayfd 3 -screen 0 800x600x24 3>%s/dnum 2>/dev/null & X=$!; "
                 "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do "
                 "[ -s %s/dnum ] && break; sleep 0.2; done; "
                 "(sleep 1.5; kill $X) & "
                 "DISPLAY=:$(cat %s/dnum) %s show %s --size 480x640 --fps 30; echo rc=$?' 2>&1",
                 dir, dir, dir, lectern, bdir);
    CHECKF(rc == 0 && strstr(out, "rc=1") && strstr(out, "the display went away"),
           "display lost: %d %s", rc, out);
}

static void test_headless_png(const char *lectern, const char *bdir, const char *dir)
{
    char rec[4200], png[4400];
    float px;
    /* one page, 4 fps, 1 .. 6 s: 21 frames, frame k at 1 + k / 4 s */
    snprintf(rec, sizeof rec, "%s/frames1", dir);
    int rc = run("%s show %s --headless --record %s --fps 4 --size 480x640 --start 1 --until 6 "
                 "2>&1",
                 lectern, bdir, rec);
    CHECKF(rc == 0, "headless run failed (%d): %s", rc, out);
    snprintf(png, sizeof png, "%s/frame-000020.png", rec);
    CHECK(access(png, F_OK) == 0);
    snprintf(png, sizeof png, "%s/frame-000021.png", rec);
    CHECK(access(png, F_OK) != 0);
    struct {
        int k, page, marker_page;
    } c1[] = {
        {1, 0, 0},  /* 1.25 s: system 0 */
        {9, 0, 0},  /* 3.25 s: system 1 (last of page 0), x 375 < 425: not turned */
        {10, -1, 0}, /* 3.50 s: x 450 >= 425: turned early -> page 1, marker not shown */
        {14, 1, 1}, /* 4.50 s: system 2 on page 1 */
    };
    for (size_t i = 0; i < sizeof c1 / sizeof c1[0]; i++) {
        double t = 1 + c1[i].k / 4.0;
        snprintf(png, sizeof png, "%s/frame-%06d.png", rec, c1[i].k);
        int sys = vb_truth(t, &px);
        if (c1[i].page < 0) {
            int pg[1] = {1};
            vp_check_frame(png, pg, 1, -1, 0, 0, 0, 0);
        } else {
            int pg[1] = {c1[i].page};
            CHECK(sys >= 0);
            vp_check_frame(png, pg, 1, c1[i].marker_page, sys, px, 2.5f, 0);
        }
    }
    /* two pages, 5 fps, 3 .. 6 s: (0, 1) through page 1's first system, (1, 2)
     * once the music is in page 1's last system (5.5 s) */
    snprintf(rec, sizeof rec, "%s/frames2", dir);
    rc = run("%s show %s --headless --record %s --fps 5 --size 1200x500 --start 3 --until 6 "
             "2>&1",
             lectern, bdir, rec);
    CHECKF(rc == 0, "headless run failed (%d): %s", rc, out);
    int p01[2] = {0, 1}, p12[2] = {1, 2}, sys;
    snprintf(png, sizeof png, "%s/frame-000000.png", rec); /* 3.0: system 1, left */
    sys = vb_truth(3.0, &px);
    vp_check_frame(png, p01, 2, 0, sys, px, 2.5f, 0);
    snprintf(png, sizeof png, "%s/frame-000006.png", rec); /* 4.2: system 2, right */
    sys = vb_truth(4.2, &px);
    vp_check_frame(png, p01, 2, 1, sys, px, 2.5f, 0);
    snprintf(png, sizeof png, "%s/frame-000014.png", rec); /* 5.8: system 3, advanced */
    sys = vb_truth(5.8, &px);
    vp_check_frame(png, p12, 2, 1, sys, px, 2.5f, 0);
}

static void test_video(const char *lectern, const char *bdir, const char *dir)
{
    char mp4[4200], png[4200];
    snprintf(mp4, sizeof mp4, "%s/show.mp4", dir);
    int rc = run("%s show %s --headless --record %s --fps 10 --size 480x640 --start 1 --until 3 "
                 "2>&1",
                 lectern, bdir, mp4);
    CHECKF(rc == 0, "video run failed (%d): %s", rc, out);
    rc = run("ffprobe -v error -count_frames -show_entries stream=codec_type,width,height,"
             "nb_read_frames -of compact %s 2>&1",
             mp4);
    CHECKF(rc == 0 && strstr(out, "codec_type=video|width=480|height=640|nb_read_frames=21") &&
               strstr(out, "codec_type=audio"),
           "ffprobe: %s", out);
    /* frame 2 = 1.2 s: system 0, x = 210 */
    snprintf(png, sizeof png, "%s/video-frame2.png", dir);
    rc = run("ffmpeg -v error -y -i %s -vf 'select=eq(n\\,2)' -frames:v 1 %s 2>&1", mp4, png);
    CHECKF(rc == 0, "ffmpeg frame extraction: %s", out);
    float px;
    int pg[1] = {0}, sys = vb_truth(1.2, &px);
    vp_check_frame(png, pg, 1, 0, sys, px, 3.5f, 1);
    /* no temporary left behind */
    rc = run("ls %s | grep -c tmp", dir);
    CHECKF(atoi(out) == 0, "temporary files left: %s", out);
}

static void test_errors(const char *lectern, const char *bdir, const char *dir)
{
    /* no display at all */
    int rc = run("env -u DISPLAY -u WAYLAND_DISPLAY -u SDL_VIDEODRIVER %s show %s 2>&1", lectern,
                 bdir);
    CHECKF(rc == 1 && strstr(out, "display") && strstr(out, "--headless"), "no display: %d %s",
           rc, out);
    /* unknown rendering: the names are listed */
    rc = run("%s show %s --rendering nope --headless --record %s/x 2>&1", lectern, bdir, dir);
    CHECKF(rc == 1 && strstr(out, "nope") && strstr(out, " r"), "rendering: %d %s", rc, out);
    /* usage errors */
    rc = run("%s show %s --headless 2>&1", lectern, bdir);
    CHECKF(rc == 2 && strstr(out, "--record"), "headless alone: %d %s", rc, out);
    rc = run("%s show %s --record %s/x 2>&1", lectern, bdir, dir);
    CHECKF(rc == 2, "record without headless: %d %s", rc, out);
    rc = run("%s show %s --size 12 2>&1", lectern, bdir);
    CHECKF(rc == 2 && strstr(out, "--size"), "bad size: %d %s", rc, out);
    rc = run("%s show %s --screenshot-at nocolon 2>&1", lectern, bdir);
    CHECKF(rc == 2, "bad screenshot spec: %d %s", rc, out);
    rc = run("%s show 2>&1", lectern);
    CHECK(rc == 2);
    rc = run("%s show --help", lectern);
    CHECK(rc == 0 && strstr(out, "usage: lectern show"));
    /* a bundle whose page image is missing: the file is named */
    char broken[4200];
    snprintf(broken, sizeof broken, "%s/broken", dir);
    rc = run("cp -r %s %s && rm %s/pages/page-2.png", bdir, broken, broken);
    CHECK(rc == 0);
    rc = run("%s show %s --headless --record %s/y 2>&1", lectern, broken, dir);
    CHECKF(rc == 1 && strstr(out, "page-2.png"), "missing page: %d %s", rc, out);
    rc = run("%s show %s/nonexistent 2>&1", lectern, dir);
    CHECKF(rc == 1 && strstr(out, "nonexistent"), "missing bundle: %d %s", rc, out);
}

int main(void)
{
    const char *dir = lec_test_scratch_dir("test_show");
    const char *lectern = lec_test_lectern();
    char bdir[4200];
    snprintf(bdir, sizeof bdir, "%s/bundle", dir);
    CHECK(vb_write(bdir, 1) == 0);
    test_errors(lectern, bdir, dir);
    test_headless_png(lectern, bdir, dir);
    test_video(lectern, bdir, dir);
    test_window(lectern, bdir, dir);
    test_display_lost(lectern, bdir, dir);
    return lec_test_finish("test_show");
}
