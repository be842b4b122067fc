/* test_follow_commands.c -- the window's commands reaching the follower, as
 * `lectern follow` and `replay` wire them (app/follow_app.c): each command
 * goes through the viewer's command queue (lec_view_send_command, what the
 * window's key/mouse handler does) to the follower thread's side
 * (lec_view_poll_command -> fa_apply_command), and its effect is checked on
 * the follower's position:
 *   Right/Left  nudge one system forward/back, keeping the place in the system
 *   click       seek to a system and page x
 *   R           relocalise: searching (lost)
 *   space       pause toggles (the caller stops feeding audio)
 *   Home        restart: back to the start prior
 *   Q           quit
 * a bad seek (a system that does not exist) is ignored; and the follower
 * thread's path (commands + feeding audio + publishing + logging) allocates
 * nothing (malloc & co are wrapped and counted).
 * The slow view bundle (follow_cli.h) with the ground-truth observer (--oracle). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "follow_app.h"
#include "follow_cli.h"
#include "follow_fixture.h"
#include "lec_test.h"
#include "lec_test_alloc.h"
#include "lec_util.h"

static fa_ctx C;
static int g_paused;

/* As the follower threads of cmd_follow.c / cmd_replay.c do. */
static unsigned send(lec_view_cmd_kind kind, int delta, int system, float x)
{
    lec_view_cmd cmd = {kind, delta, system, x}, got;
    CHECK(lec_view_send_command(C.view, &cmd) == 1);
    unsigned act = 0;
    int n = 0;
    while (lec_view_poll_command(C.view, &got)) {
        act |= fa_apply_command(C.follower, &got, &g_paused);
        n++;
    }
    CHECK(n == 1);
    return act;
}

/* As the follower threads do (fa_feed). */
static void feed(const float *x, size_t n)
{
    lec_follow_out last;
    lec_error err;
    CHECK(fa_feed(&C, x, n, &last, C.view, 0, &err) >= 0);
}

int main(void)
{
    const char *dir = lec_test_scratch_dir("test_follow_commands");
    char S[4200], M[4200], log[4200], audio[4300];
    snprintf(S, sizeof S, "%s/slow", dir);
    snprintf(M, sizeof M, "%s/tiny.lnm", dir);
    snprintf(log, sizeof log, "%s/log.csv", dir);
    CHECK(fc_write_slow_bundle(S) == 0);
    CHECK(fix_write_model(M, 0, 3) == 0);
    fa_opts o;
    fa_opts_default(&o, "test");
    o.bundle = S;
    o.model = M;
    o.oracle = "r";
    o.headless = 1;
    o.log_path = log;
    CHECK(fa_check_opts(&o) == 0);
    if (fa_load(&C, &o, 1000) != 0) {
        CHECK(0);
        fa_unload(&C);
        return lec_test_finish("test_follow_commands");
    }
    snprintf(audio, sizeof audio, "%s/audio/r.flac", S);
    size_t n = 0;
    float *x = fa_read_audio(audio, C.sample_rate, &n, "test");
    CHECK(x != NULL && n > (size_t)(4 * C.sample_rate));
    if (!x) {
        fa_unload(&C);
        return lec_test_finish("test_follow_commands");
    }
    size_t sr = (size_t)C.sample_rate;
    long a0 = lec_test_allocs();

    /* 2.6 s: on system 0 (truth x 390), following */
    feed(x, 26 * sr / 10);
    lec_follow_out p0, p;
    lec_follower_position(C.follower, &p0);
    CHECKF(p0.system == 0 && !p0.lost, "system %d lost %d", p0.system, p0.lost);

    /* Right: one system forward, the same place in it */
    CHECK(send(LEC_VIEW_CMD_NUDGE, +1, 0, 0) == 0);
    lec_follower_position(C.follower, &p);
    CHECKF(p.system == 1 && fabsf(p.page_x_px - p0.page_x_px) < 10 && !p.lost,
           "nudge +1: system %d x %.1f (from %.1f)", p.system, p.page_x_px, p0.page_x_px);
    /* Left twice: back to system 0, then clamped at it */
    send(LEC_VIEW_CMD_NUDGE, -1, 0, 0);
    send(LEC_VIEW_CMD_NUDGE, -1, 0, 0);
    lec_follower_position(C.follower, &p);
    CHECKF(p.system == 0 && fabsf(p.page_x_px - p0.page_x_px) < 10, "nudge -1 -1: system %d x %.1f",
           p.system, p.page_x_px);

    /* a click on system 4 (page 2) at x 300 */
    CHECK(send(LEC_VIEW_CMD_SEEK, 0, 4, 300.0f) == 0);
    lec_follower_position(C.follower, &p);
    CHECKF(p.system == 4 && p.page == 2 && fabsf(p.page_x_px - 300.0f) < 5 && !p.lost,
           "seek: system %d page %d x %.1f", p.system, p.page, p.page_x_px);
    /* the position holds there for a short while of audio (the tracker
     * trusts the user over the next frame's evidence) */
    feed(x + 26 * sr / 10, sr / 20);
    lec_follower_position(C.follower, &p);
    CHECKF(p.system == 4, "after the seek and one frame: system %d", p.system);
    /* a seek to a system that does not exist: ignored */
    lec_follow_out before;
    lec_follower_position(C.follower, &before);
    CHECK(send(LEC_VIEW_CMD_SEEK, 0, 99, 10.0f) == 0);
    lec_follower_position(C.follower, &p);
    CHECK(p.system == before.system && p.strip_x_px == before.strip_x_px);

    /* R: searching */
    CHECK(send(LEC_VIEW_CMD_RELOCALISE, 0, 0, 0) == 0);
    lec_follower_position(C.follower, &p);
    CHECK(p.lost == 1);
    /* space, space */
    CHECK(send(LEC_VIEW_CMD_PAUSE_TOGGLE, 0, 0, 0) == FA_ACT_PAUSE && g_paused == 1);
    CHECK(send(LEC_VIEW_CMD_PAUSE_TOGGLE, 0, 0, 0) == FA_ACT_PAUSE && g_paused == 0);
    /* Home: back to the start prior (page one), searching; then the truth
     * (the oracle, at ~3 s: system 0) is found again */
    CHECK(send(LEC_VIEW_CMD_RESTART, 0, 0, 0) == FA_ACT_RESTART);
    lec_follower_position(C.follower, &p);
    CHECKF(p.page == 0 && p.lost == 1, "restart: page %d lost %d", p.page, p.lost);
    feed(x + 27 * sr / 10, sr);
    lec_follower_position(C.follower, &p);
    CHECKF(p.system <= 1 && !p.lost, "after restart + 1 s: system %d lost %d", p.system, p.lost);
    /* Q */
    CHECK(send(LEC_VIEW_CMD_QUIT, 0, 0, 0) == FA_ACT_QUIT);
    long used = lec_test_allocs() - a0;
    CHECKF(used == 0, "%ld allocations on the follower thread's path", used);

    /* the log has every frame, in order */
    CHECK(C.log.n > 60 && C.log.dropped == 0);
    CHECK(fa_log_write(&C.log, log, "test") == 0);
    size_t nr = 0;
    fc_row *r = fc_read_log(log, &nr);
    CHECK(r && nr == C.log.n);
    free(r);
    free(x);
    fa_unload(&C);
    return lec_test_finish("test_follow_commands");
}
