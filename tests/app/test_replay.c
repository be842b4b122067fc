/* test_replay.c -- `lectern replay` and `lectern demo` end to end, checking
 * PIXELS and POSITIONS, on the generated bundle of view_bundle.h and a tiny
 * untrained model (tests/follow/follow_fixture.h). The network of a tiny
 * random model cannot follow anything, so the runs that check positions use
 * --oracle r (the documented diagnostic: the ground truth of rendering r
 * replaces the network's soft-max; audio, spectrogram/level, tracker,
 * commands and viewer are the real path):
 *   1. --headless --record DIR: frame k shows audio time k / fps; the log's
 *      positions follow the truth (loose bound); frames show the marker at the
 *      logged position (tight) on the right page;
 *   2. --headless --record x.mp4: video with the audio muxed in; PNG frames
 *      when ffmpeg is missing;
 *   3. a real window under Xvfb, the audio played through the fake ALSA
 *      device (tests/audio/alsa_fake.h: a file PCM drained at real-time
 *      rate): screenshots at known times show the marker where the program
 *      says, near the truth of that time; the run takes real time (the
 *      follower is fed from the playback clock);
 *   4. the network path itself (no --oracle) runs and logs every frame;
 *   5. `lectern demo`: a clear error when the data or the model are missing,
 *      and a headless run with a given model;
 *   6. errors: no display, no audio device, a missing page image, a bad
 *      model, an unknown rendering, usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alsa_fake.h"
#include "follow_cli.h"
#include "follow_fixture.h"
#include "lec_test.h"
#include "lec_util.h"
#include "view_bundle.h"
#include "view_pixels.h"

#define ASAN_NOLEAK "ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" "

/* The loose bound: fed the ground truth, the tracker (hmm/) still trails it
 * by ~0.5 s (~75 page px at this tempo) with the tiny model's geometry and
 * briefly loses it at system changes; positions are compared with the truth
 * 0.5 s earlier, within 12 staff spaces (120 page px, less than one head
 * interval of 150 px), in at least 80% of the frames. */
#define TRUTH_LAG 0.5
#define TRUTH_TOL 120.0f
#define SHOT_MAX_LAG 1.0 /* a screenshot: the truth of the last second */

static const char *L; /* lectern */
static char B[4200], S[4200], M[4200], D[4200]; /* bundle, slow bundle, model, scratch */

static void test_headless_png(void)
{
    char rec[4300], log[4300], png[4400];
    snprintf(rec, sizeof rec, "%s/frames", D);
    snprintf(log, sizeof log, "%s/headless.csv", D);
    int rc = fc_run("%s replay %s r --model %s --oracle r --headless --record %s --fps 4 "
                    "--size 480x640 --pages 1 --until 8 --log %s 2>&1",
                    L, S, M, rec, log);
    CHECKF(rc == 0, "headless replay failed (%d): %s", rc, fc_out);
    snprintf(png, sizeof png, "%s/frame-000032.png", rec); /* 0 .. 8 s at 4 fps: 33 frames */
    CHECK(access(png, F_OK) == 0);
    snprintf(png, sizeof png, "%s/frame-000033.png", rec);
    CHECK(access(png, F_OK) != 0);
    size_t n = 0;
    fc_row *r = fc_read_log(log, &n);
    CHECK(r != NULL);
    /* the follower's frame rate (22050 / hop, ~20/s) for 8 s */
    CHECKF(n >= 140 && n <= 200, "%zu log rows for 8 s", n);
    int ne = 0;
    double frac = r ? fc_fraction_near_truth(r, n, 1.5, 8.0, TRUTH_TOL, TRUTH_LAG, &ne) : 0;
    CHECKF(ne > 80 && frac >= 0.8, "%.2f of %d frames near the truth", frac, ne);
    /* frames: the marker at the logged position of the last follower frame
     * at or before the frame's time (first system of a page: never turned) */
    int checked = 0;
    for (int k = 6; k <= 32 && r; k++) {
        double t = k / 4.0;
        const fc_row *last = NULL;
        for (size_t i = 0; i < n; i++)
            if (r[i].t <= t + 1e-6)
                last = &r[i];
        if (!last || last->lost || last->system % 2 != 0)
            continue;
        snprintf(png, sizeof png, "%s/frame-%06d.png", rec, k);
        int pg[1] = {last->page};
        vp_check_frame(png, pg, 1, last->page, last->system, last->page_x, 2.5f, 0);
        checked++;
    }
    CHECKF(checked >= 4, "only %d frames checked", checked);
    free(r);
    /* screenshots in headless mode: rendered at their time */
    char shot[4300];
    snprintf(shot, sizeof shot, "%s/h-shot.png", D);
    rc = fc_run("%s replay %s r --model %s --oracle r --headless --screenshot-at 4.5:%s "
                "--size 480x640 --pages 1 --until 5 2>&1",
                L, S, M, shot);
    CHECKF(rc == 0, "headless screenshot run (%d): %s", rc, fc_out);
    fc_check_shot(shot, TRUTH_TOL, SHOT_MAX_LAG);
}

static void test_video(void)
{
    char mp4[4300];
    snprintf(mp4, sizeof mp4, "%s/replay.mp4", D);
    int rc = fc_run("%s replay %s r --model %s --headless --record %s --fps 10 --size 320x400 "
                    "--until 2 2>&1",
                    L, B, M, mp4);
    CHECKF(rc == 0, "video replay failed (%d): %s", rc, fc_out);
    rc = fc_run("ffprobe -v error -count_frames -show_entries stream=codec_type,width,height,"
                "nb_read_frames -of compact %s 2>&1",
                mp4);
    CHECKF(rc == 0 && strstr(fc_out, "codec_type=video|width=320|height=400|nb_read_frames=21") &&
               strstr(fc_out, "codec_type=audio"),
           "ffprobe: %s", fc_out);
}

/* No ffmpeg on the PATH: the video becomes PNG frames in OUT.frames/, said so. */
static void test_no_ffmpeg(void)
{
    char png[4400];
    int rc = fc_run("env PATH=/nonexistent %s replay %s r --model %s --headless --record "
                    "%s/noff.mp4 --fps 4 --size 320x400 --until 1 2>&1",
                    L, B, M, D);
    CHECKF(rc == 0 && strstr(fc_out, "ffmpeg") && strstr(fc_out, "PNG frames"),
           "no ffmpeg: %d %s", rc, fc_out);
    snprintf(png, sizeof png, "%s/noff.mp4.frames/frame-000004.png", D);
    CHECK(access(png, F_OK) == 0);
    snprintf(png, sizeof png, "%s/noff.mp4", D);
    CHECK(access(png, F_OK) != 0);
}

/* The network path (no --oracle): every frame is logged, at the model's rate. */
static void test_network_path(void)
{
    char log[4300];
    snprintf(log, sizeof log, "%s/net.csv", D);
    int rc = fc_run("%s replay %s r --model %s --headless --log %s --until 3 2>&1", L, B, M, log);
    CHECKF(rc == 0, "network replay failed (%d): %s", rc, fc_out);
    size_t n = 0;
    fc_row *r = fc_read_log(log, &n);
    CHECKF(r && n >= 50 && n <= 80, "%zu rows for 3 s", n);
    for (size_t i = 1; r && i < n; i++)
        CHECK(r[i].t > r[i - 1].t);
    free(r);
}

static void test_window(void)
{
    char fdir[4300];
    snprintf(fdir, sizeof fdir, "%s/fake", D);
    lec_alsa_fake fake;
    CHECK(lec_mkdir_p(fdir, NULL) == LEC_OK);
    /* the fake device only plays (and paces) what replay sends it */
    if (lec_alsa_fake_start(&fake, fdir, 440.0, 22050, 1.0) != 0) {
        CHECKF(0, "fake ALSA device");
        return;
    }
    char a[4300], b[4300], log[4300];
    snprintf(a, sizeof a, "%s/win-a.png", D);
    snprintf(b, sizeof b, "%s/win-b.png", D);
    snprintf(log, sizeof log, "%s/win.csv", D);
    double t0 = lec_now_s();
    int rc = fc_run(ASAN_NOLEAK "HOME='%s' xvfb-run -a -s '-screen 0 1024x768x24' %s replay %s r "
                    "--model %s --oracle r --size 480x640 --pages 1 --fps 30 --until 8.5 "
                    "--screenshot-at 2.6:%s --screenshot-at 7.5:%s --log %s 2>&1",
                    fake.home, L, S, M, a, b, log);
    double wall = lec_now_s() - t0;
    lec_alsa_fake_stop(&fake);
    CHECKF(rc == 0, "window replay failed (%d): %s", rc, fc_out);
    /* played in real time: 8.5 s of audio cannot have taken much less */
    CHECKF(wall >= 8.0, "8.5 s of audio replayed in %.2f s", wall);
    CHECKF(strstr(fc_out, "output latency"), "no playback line: %s", fc_out);
    double t;
    int page, sys, lost;
    float x;
    /* the frame on screen is a frame or two behind the playback (0.6 s of
     * slack for a loaded machine) */
    if (fc_shot(a, &t, &page, &sys, &x, &lost) == 0)
        CHECKF(t >= 2.6 && t < 3.2, "first screenshot at t=%g", t);
    if (fc_shot(b, &t, &page, &sys, &x, &lost) == 0)
        CHECKF(t >= 7.5 && t < 8.1, "second screenshot at t=%g", t);
    fc_check_shot(a, TRUTH_TOL, SHOT_MAX_LAG);
    fc_check_shot(b, TRUTH_TOL, SHOT_MAX_LAG);
    size_t n = 0;
    fc_row *r = fc_read_log(log, &n);
    int ne = 0;
    double frac = r ? fc_fraction_near_truth(r, n, 1.5, 8.0, TRUTH_TOL, TRUTH_LAG, &ne) : 0;
    CHECKF(ne > 80 && frac >= 0.8, "window: %.2f of %d frames near the truth", frac, ne);
    free(r);
}

static void test_demo(void)
{
    /* no data where it is looked for */
    int rc = fc_run("%s demo --data %s/nowhere 2>&1", L, D);
    CHECKF(rc == 1 && strstr(fc_out, "demo piece") && strstr(fc_out, "nowhere"),
           "demo without data: %d %s", rc, fc_out);
    /* data present, model missing: a tree with assets/ only */
    char tree[4300];
    snprintf(tree, sizeof tree, "%s/tree", D);
    rc = fc_run("mkdir -p %s/assets && cp -r %s %s/assets/BurgmullerJFF__O100__25EF-16", tree, B,
                tree);
    CHECK(rc == 0);
    rc = fc_run("%s demo --data %s --headless --log %s/d.csv 2>&1", L, tree, D);
    CHECKF(rc == 1 && strstr(fc_out, "models/lectern.lnm") && strstr(fc_out, "--model"),
           "demo without model: %d %s", rc, fc_out);
    /* with a model: the bundled piece's rendering is replayed */
    char log[4300];
    snprintf(log, sizeof log, "%s/demo.csv", D);
    rc = fc_run("%s demo --data %s --model %s --headless --log %s --until 2 2>&1", L, tree, M, log);
    CHECKF(rc == 0, "demo headless (%d): %s", rc, fc_out);
    size_t n = 0;
    fc_row *r = fc_read_log(log, &n);
    CHECKF(r && n >= 35, "demo log rows: %zu", n);
    free(r);
    rc = fc_run("%s demo extra 2>&1", L);
    CHECK(rc == 2);
}

static void test_errors(void)
{
    char fdir[4300], env[9000];
    /* no display (an audio device exists: the fake) */
    snprintf(fdir, sizeof fdir, "%s/fake2", D);
    lec_mkdir_p(fdir, NULL);
    lec_alsa_fake fake;
    if (lec_alsa_fake_start(&fake, fdir, 440.0, 22050, 1.0) == 0) {
        int rc = fc_run("env -u DISPLAY -u WAYLAND_DISPLAY -u SDL_VIDEODRIVER HOME='%s' "
                        "%s replay %s r --model %s 2>&1",
                        fake.home, L, B, M);
        CHECKF(rc == 3 && strstr(fc_out, "display") && strstr(fc_out, "--headless"),
               "no display: %d %s", rc, fc_out);
        lec_alsa_fake_stop(&fake);
    }
    /* no audio output device at all */
    lec_alsa_none_env(D, env, sizeof env);
    int rc = fc_run("%s %s replay %s r --model %s 2>&1", env, L, B, M);
    CHECKF(rc == 3 && strstr(fc_out, "audio output") && strstr(fc_out, "--headless"),
           "no audio device: %d %s", rc, fc_out);
    /* a bundle whose page image is missing: the file is named; bad models */
    fc_check_load_errors("replay", B, " r", "page-2.png", M, D);
    /* an audio file that does not exist (nor is a rendering) */
    rc = fc_run("%s replay %s nope.flac --model %s --headless --log %s/x.csv 2>&1", L, B, M, D);
    CHECKF(rc == 1 && strstr(fc_out, "nope.flac"), "missing audio: %d %s", rc, fc_out);
    /* --oracle with an unknown rendering: the names are listed */
    rc = fc_run("%s replay %s r --model %s --oracle zz --headless --log %s/x.csv 2>&1", L, B, M, D);
    CHECKF(rc == 1 && strstr(fc_out, "zz") && strstr(fc_out, " r"), "oracle: %d %s", rc, fc_out);
    /* usage */
    rc = fc_run("%s replay %s r --headless --log %s/x.csv 2>&1", L, B, D);
    CHECKF(rc == 1 && strstr(fc_out, "--model"), "no model: %d %s", rc, fc_out);
    rc = fc_run("%s replay %s r --model %s --headless 2>&1", L, B, M);
    CHECKF(rc == 2 && strstr(fc_out, "--record"), "headless alone: %d %s", rc, fc_out);
    rc = fc_run("%s replay %s r --model %s --record x 2>&1", L, B, M);
    CHECK(rc == 2);
    rc = fc_run("%s replay %s 2>&1", L, B);
    CHECK(rc == 2);
    rc = fc_run("%s replay --help", L);
    CHECK(rc == 0 && strstr(fc_out, "usage: lectern replay"));
}

int main(void)
{
    const char *dir = lec_test_scratch_dir("test_replay");
    snprintf(D, sizeof D, "%s", dir);
    L = lec_test_lectern();
    snprintf(B, sizeof B, "%s/bundle", D);
    snprintf(M, sizeof M, "%s/tiny.lnm", D);
    CHECK(vb_write(B, 1) == 0);
    snprintf(S, sizeof S, "%s/slow", D);
    CHECK(fc_write_slow_bundle(S) == 0);
    CHECK(fix_write_model(M, 0, 7) == 0);
    test_errors();
    test_headless_png();
    test_video();
    test_network_path();
    test_no_ffmpeg();
    test_demo();
    test_window();
    return lec_test_finish("test_replay");
}
