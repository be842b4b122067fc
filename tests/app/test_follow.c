/* test_follow.c -- `lectern follow`, the live path end to end with no sound
 * hardware: the fake ALSA capture device (tests/audio/alsa_fake.h: the ALSA
 * file plugin, paced at real time) "plays" a rendering of the slow view
 * bundle (follow_cli.h) into PortAudio's capture callback -> ring -> the
 * follower thread -> the viewer's snapshot -> the recording / the window.
 * The tiny model is untrained, so the network is replaced by the ground truth
 * of that rendering (--oracle r, the documented diagnostic); capture,
 * resampling, spectrogram/level, tracker, threads and viewer are real.
 *   1. headless: the position log follows the truth (loose bound, see
 *      test_replay.c) and a screenshot shows the marker where the follower
 *      is; the run takes real time (it is paced by the device);
 *   2. a real window under Xvfb: the same through the window;
 *   3. errors: no audio device, an unknown device, no display, a missing page,
 *      a bad model, usage;
 *   4. `lectern bench latency` runs and its parts add up to its total;
 *   5. the display dies under the window: a message, exit status 1. */
#include <math.h>
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
#define TRUTH_LAG 0.5 /* as test_replay.c */
#define TRUTH_TOL 120.0f
#define SHOT_MAX_LAG 1.0 /* a screenshot: the truth of the last second */

static const char *L;
static char S[4200], M[4200], D[4200];

/* Starts the fake capture device playing the slow bundle's rendering. */
static int fake_start(lec_alsa_fake *f, const char *name)
{
    char dir[4300], audio[4400];
    snprintf(dir, sizeof dir, "%s/%s", D, name);
    lec_mkdir_p(dir, NULL);
    /* 44.1 kHz: the device's default rate, what capture opens (alsa_fake.h) */
    if (lec_alsa_fake_start(f, dir, 440.0, 44100, 0.1) != 0)
        return -1;
    /* the drain thread only waits for the plugin to open the FIFO; the
     * plugin reads the infile when lectern opens the device, after this */
    snprintf(audio, sizeof audio, "%s/audio/r.flac", S);
    return fc_write_fake_infile(audio, f->tone, 44100);
}

static void test_headless(void)
{
    lec_alsa_fake fake;
    if (fake_start(&fake, "fake-h") != 0) {
        CHECKF(0, "fake device");
        return;
    }
    char log[4300], shot[4300];
    snprintf(log, sizeof log, "%s/live.csv", D);
    snprintf(shot, sizeof shot, "%s/live-shot.png", D);
    double t0 = lec_now_s();
    int rc = fc_run("HOME='%s' %s follow %s --model %s --oracle r --headless --log %s --until 8 "
                    "--size 480x640 --pages 1 --screenshot-at 2.6:%s 2>&1",
                    fake.home, L, S, M, log, shot);
    double wall = lec_now_s() - t0;
    lec_alsa_fake_stop(&fake);
    CHECKF(rc == 0, "live follow failed (%d): %s", rc, fc_out);
    CHECKF(strstr(fc_out, "listening on"), "no device line: %s", fc_out);
    CHECKF(wall >= 7.5, "8 s of live audio in %.2f s", wall);
    size_t n = 0;
    fc_row *r = fc_read_log(log, &n);
    CHECKF(r && n >= 140 && n <= 200, "%zu log rows for 8 s", n);
    int ne = 0;
    double frac = r ? fc_fraction_near_truth(r, n, 1.5, 8.0, TRUTH_TOL, TRUTH_LAG, &ne) : 0;
    CHECKF(ne > 80 && frac >= 0.8, "live: %.2f of %d frames near the truth", frac, ne);
    free(r);
    fc_check_shot(shot, TRUTH_TOL, SHOT_MAX_LAG);
}

static void test_window(void)
{
    lec_alsa_fake fake;
    if (fake_start(&fake, "fake-w") != 0) {
        CHECKF(0, "fake device");
        return;
    }
    char log[4300], shot[4300];
    snprintf(log, sizeof log, "%s/live-win.csv", D);
    snprintf(shot, sizeof shot, "%s/live-win.png", D);
    int rc = fc_run(ASAN_NOLEAK "HOME='%s' xvfb-run -a -s '-screen 0 1024x768x24' %s follow %s "
                    "--model %s --oracle r --log %s --until 6 --size 480x640 --pages 1 "
                    "--screenshot-at 4.5:%s 2>&1",
                    fake.home, L, S, M, log, shot);
    lec_alsa_fake_stop(&fake);
    CHECKF(rc == 0, "live window failed (%d): %s", rc, fc_out);
    fc_check_shot(shot, TRUTH_TOL, SHOT_MAX_LAG);
    size_t n = 0;
    fc_row *r = fc_read_log(log, &n);
    int ne = 0;
    double frac = r ? fc_fraction_near_truth(r, n, 1.5, 5.0, TRUTH_TOL, TRUTH_LAG, &ne) : 0;
    CHECKF(ne > 40 && frac >= 0.8, "live window: %.2f of %d frames near the truth", frac, ne);
    free(r);
}

/* The X server dies under the open window while the follower thread runs:
 * exit status 1 and a message saying so (no crash, no hang). */
static void test_display_lost(void)
{
    lec_alsa_fake fake;
    if (fake_start(&fake, "fake-x") != 0) {
        CHECKF(0, "fake device");
        return;
    }
    int rc = fc_run(ASAN_NOLEAK "HOME='%s' sh -c '"
                    "Xvfb -displayfd 3 -screen 0 800x600x24 3>%s/dnum 2>/dev/null & X=$!; "
                    "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do "
                    "[ -s %s/dnum ] && break; sleep 0.2; done; "
                    "(sleep 1.5; kill $X) & "
                    "DISPLAY=:$(cat %s/dnum) %s follow %s --model %s --oracle r --size 480x640 "
                    "--until 6; echo rc=$?' 2>&1",
                    fake.home, D, D, D, L, S, M);
    lec_alsa_fake_stop(&fake);
    CHECKF(rc == 0 && strstr(fc_out, "rc=1") && strstr(fc_out, "the display went away"),
           "display lost: %d %s", rc, fc_out);
}

/* `lectern bench latency` runs on the live path (synthetic callback driver,
 * follower thread, window under Xvfb) and its parts add up to its total: a
 * figure, not a timing assertion. */
static void test_bench_latency(void)
{
    int rc = fc_run(ASAN_NOLEAK "xvfb-run -a -s '-screen 0 1024x768x24' %s bench latency %s "
                    "--model %s --seconds 3 2>&1",
                    L, S, M);
    CHECKF(rc == 0, "bench latency (%d): %s", rc, fc_out);
    const char *names[4] = {"  hop        median", "  buffering  median", "  network    median",
                            "  render     median"};
    double sum = 0, total = -1;
    for (int i = 0; i < 4; i++) {
        const char *p = strstr(fc_out, names[i]);
        const char *m = p ? strstr(p, "mean") : NULL;
        CHECKF(m != NULL, "no '%s' line: %s", names[i], fc_out);
        sum += m ? atof(m + 4) : 0;
    }
    const char *p = strstr(fc_out, "  TOTAL      median");
    const char *m = p ? strstr(p, "mean") : NULL;
    if (m)
        total = atof(m + 4);
    CHECKF(total > 0 && fabs(sum - total) < 0.05, "parts %.2f ms vs total %.2f ms", sum, total);
    /* a hop is ~46 ms: half of it on average is waiting for the frame */
    const char *h = strstr(fc_out, names[0]);
    const char *hm = h ? strstr(h, "mean") : NULL;
    double hop_mean = hm ? atof(hm + 4) : -1;
    CHECKF(hop_mean > 10 && hop_mean < 40, "hop part %.2f ms", hop_mean);
}

static void test_errors(void)
{
    char env[9000];
    /* no audio device at all */
    lec_alsa_none_env(D, env, sizeof env);
    int rc = fc_run("%s %s follow %s --model %s --headless --log %s/x.csv 2>&1", env, L, S, M, D);
    CHECKF(rc == 3 && strstr(fc_out, "no audio input device") && strstr(fc_out, "lectern devices"),
           "no audio device: %d %s", rc, fc_out);
    /* no display (a device exists); the window is asked for */
    lec_alsa_fake fake;
    if (fake_start(&fake, "fake-e") == 0) {
        rc = fc_run("env -u DISPLAY -u WAYLAND_DISPLAY -u SDL_VIDEODRIVER HOME='%s' %s follow %s "
                    "--model %s 2>&1",
                    fake.home, L, S, M);
        CHECKF(rc == 3 && strstr(fc_out, "display") && strstr(fc_out, "--headless"),
               "no display: %d %s", rc, fc_out);
        /* a device that does not exist: the ones that do are listed */
        rc = fc_run("HOME='%s' %s follow %s --model %s --device nosuchcard --headless --log "
                    "%s/x.csv 2>&1",
                    fake.home, L, S, M, D);
        CHECKF(rc == 3 && strstr(fc_out, "nosuchcard"), "unknown device: %d %s", rc, fc_out);
        lec_alsa_fake_stop(&fake);
    }
    /* a missing page image (named before any device is opened), bad models */
    fc_check_load_errors("follow", S, "", "page-3.png", M, D);
    /* usage */
    rc = fc_run("%s follow %s --model %s --record x 2>&1", L, S, M);
    CHECK(rc == 2);
    rc = fc_run("%s follow %s --model %s --start nowhere 2>&1", L, S, M);
    CHECKF(rc == 2 && strstr(fc_out, "--start"), "bad start: %d %s", rc, fc_out);
    rc = fc_run("%s follow 2>&1", L);
    CHECK(rc == 2);
    rc = fc_run("%s follow --help", L);
    CHECK(rc == 0 && strstr(fc_out, "usage: lectern follow"));
}

int main(void)
{
    snprintf(D, sizeof D, "%s", lec_test_scratch_dir("test_follow"));
    L = lec_test_lectern();
    snprintf(S, sizeof S, "%s/slow", D);
    snprintf(M, sizeof M, "%s/tiny.lnm", D);
    CHECK(fc_write_slow_bundle(S) == 0);
    CHECK(fix_write_model(M, 0, 7) == 0);
    test_errors();
    test_headless();
    test_window();
    test_bench_latency();
    test_display_lost();
    return lec_test_finish("test_follow");
}
