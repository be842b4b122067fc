/* test_eval_cli.c -- `lectern eval` end to end on a generated bundle (two
 * renderings, tempo 1.0 and 1.4):
 *   - with a tiny random model: exit 0, a JSON holding every figure of
 *     EVALUATION.md per piece, as totals over onsets and means over pieces,
 *     the cost (per-frame median/p99/max, real-time factor, latency), jump
 *     tests with recovered_within_2s, and one PNG plot per run;
 *   - --jobs 1 and --jobs 2 give the same figures (one follower per thread);
 *   - --oracle (the ground truth in place of the network): the chain of
 *     follower + splicing + metrics gives the known answer (within_0.5s near 1,
 *     the jump recovered);
 *   - bad inputs: missing / truncated model, bundle without renderings, an
 *     unknown rendering, a missing bundle, bad options -> clear errors. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "follow_fixture.h"
#include "lec_test.h"
#include "lec_util.h"

static char g_out[1 << 16];

static int run(const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s eval %s", lec_test_lectern(), args);
    return lec_test_run(cmd, g_out, sizeof g_out);
}

static cJSON *load_json(const char *path)
{
    char *txt = NULL;
    size_t len = 0;
    if (lec_read_file(path, 0, &txt, &len, NULL))
        return NULL;
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    return j;
}

static const char *within_keys[] = {"within_0.05s", "within_0.1s", "within_0.5s", "within_1s",
                                    "within_5s"};

static int is_num(const cJSON *o, const char *k)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(x) && isfinite(x->valuedouble);
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

/* Every EVALUATION.md figure of one piece. */
static int piece_complete(const cJSON *p)
{
    int ok = 1;
    for (int b = 0; b < 5; b++)
        ok &=
            is_num(p, within_keys[b]) && num(p, within_keys[b]) >= 0 && num(p, within_keys[b]) <= 1;
    ok &= is_num(p, "median_error_s") && is_num(p, "mean_error_s") &&
          is_num(p, "median_px_error_ss") && is_num(p, "lost_time") && is_num(p, "n_events");
    ok &= cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(p, "followed_to_end"));
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(p, "cost");
    ok &= is_num(c, "median_ms") && is_num(c, "p99_ms") && is_num(c, "max_ms") &&
          is_num(c, "realtime_factor") && num(c, "realtime_factor") > 0;
    return ok;
}

static int summary_complete(const cJSON *s)
{
    int ok = 1;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "total_over_onsets");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(s, "mean_over_pieces");
    for (int b = 0; b < 5; b++)
        ok &= is_num(t, within_keys[b]) && is_num(m, within_keys[b]);
    ok &= is_num(s, "median_error_s") && is_num(s, "mean_error_s") &&
          is_num(s, "median_px_error_ss") && is_num(s, "followed_to_end") &&
          is_num(s, "lost_time") && is_num(s, "n_pieces");
    return ok;
}

static int is_png(const char *path)
{
    char *d = NULL;
    size_t n = 0;
    int ok = lec_read_file(path, 0, &d, &n, NULL) == LEC_OK && n > 1000 &&
             memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0;
    free(d);
    return ok;
}

int main(void)
{
    const char *dir = lec_test_scratch_dir("test_eval_cli");
    char b1[4200], b0[4200], m[4200], trunc[4200], args[8192], js[4200], js2[4200], plots[4200];
    snprintf(b1, sizeof b1, "%s/piece", dir);
    snprintf(b0, sizeof b0, "%s/silent_piece", dir);
    snprintf(m, sizeof m, "%s/tiny.lnm", dir);
    snprintf(trunc, sizeof trunc, "%s/trunc.lnm", dir);
    snprintf(js, sizeof js, "%s/eval.json", dir);
    snprintf(js2, sizeof js2, "%s/eval1.json", dir);
    snprintf(plots, sizeof plots, "%s/plots", dir);
    fix_opts two = {.n_renderings = 2, .tempo = {1.0, 1.4}};
    fix_opts none = {.n_renderings = 0};
    CHECK(fix_write_bundle(b1, &two) == 0);
    CHECK(fix_write_bundle(b0, &none) == 0);
    CHECK(fix_write_model(m, 0, 3) == 0);

    /* ---- a full run with a tiny random model */
    snprintf(args, sizeof args,
             "--model %s %s --json %s --plots %s --jobs 2 --jumps --jump-play 4 --jump-back 2", m,
             b1, js, plots);
    int rc = run(args);
    CHECKF(rc == 0, "rc %d: %s", rc, g_out);
    CHECK(strstr(g_out, "TOTAL over onsets") && strstr(g_out, "MEAN over pieces") &&
          strstr(g_out, "piece__r1") && strstr(g_out, "recovered_within_2s"));
    cJSON *j = load_json(js);
    CHECK(j != NULL);
    const cJSON *fol = cJSON_GetObjectItemCaseSensitive(j, "following");
    const cJSON *pieces = cJSON_GetObjectItemCaseSensitive(fol, "pieces");
    CHECK(cJSON_GetArraySize(pieces) == 2);
    const cJSON *p;
    cJSON_ArrayForEach(p, pieces) CHECKF(piece_complete(p), "%s", cJSON_Print(p));
    CHECK(summary_complete(cJSON_GetObjectItemCaseSensitive(fol, "summary")));
    const cJSON *cost = cJSON_GetObjectItemCaseSensitive(fol, "cost");
    CHECK(is_num(cost, "realtime_factor") && is_num(cost, "p99_ms") &&
          is_num(cost, "latency_median_ms"));
    /* the network's accuracy in the follower's own feed: counted, and consistent */
    const cJSON *nw = cJSON_GetObjectItemCaseSensitive(fol, "network");
    CHECKF(nw && num(nw, "windows_holding_truth") > 0 && num(nw, "bucket_accuracy") >= 0 &&
               num(nw, "bucket_accuracy") <= num(nw, "within_1_bucket") &&
               num(nw, "within_1_bucket") <= 1,
           "%s", nw ? cJSON_Print(nw) : "no \"network\" in the JSON");
    CHECK(strstr(g_out, "network in the follower's feed"));
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(j, "jump_tests");
    const cJSON *jsum = cJSON_GetObjectItemCaseSensitive(jt, "summary");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(jt, "pieces")) == 2);
    CHECK(summary_complete(jsum) && is_num(jsum, "recovered_within_2s") &&
          num(jsum, "n_jumps") == 2);
    /* the jump: cut 4 whole notes (16 events at 1/4 each) after the start */
    const cJSON *jp = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(jt, "pieces"), 0);
    const cJSON *jj = cJSON_GetObjectItemCaseSensitive(jp, "jump");
    CHECK_NEAR(num(jj, "cut_from_s"), fix_event_time(16, 1.0) - 0.010, 1e-3);
    CHECK_NEAR(num(jj, "resume_at_s"), fix_event_time(8, 1.0) - 0.010, 1e-3);
    CHECK(num(jp, "n_events") == FIX_N_EVENTS + 8);
    static const char *pngs[] = {"piece__r0", "piece__r1", "piece__r0__jump", "piece__r1__jump"};
    for (int i = 0; i < 4; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s.png", plots, pngs[i]);
        CHECKF(is_png(path), "%s", path);
    }

    /* ---- one job gives the same figures as two */
    snprintf(args, sizeof args,
             "--model %s %s --json %s --jobs 1 --jumps --jump-play 4 --jump-back 2", m, b1, js2);
    CHECK(run(args) == 0);
    cJSON *j1 = load_json(js2);
    CHECK(j1 != NULL);
    if (j && j1) {
        for (int part = 0; part < 2; part++) {
            const char *k = part ? "jump_tests" : "following";
            const cJSON *sa =
                cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, k), "summary");
            const cJSON *sb = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(j1, k), "summary");
            CHECKF(cJSON_Compare(sa, sb, 1), "%s differs between --jobs 1 and 2", k);
        }
    }
    cJSON_Delete(j1);
    cJSON_Delete(j);

    /* ---- the oracle: known answer */
    snprintf(args, sizeof args,
             "--oracle 0.3 %s --json %s --jumps --jump-play 4 --jump-back 2 --dump %s/dump", b1, js,
             dir);
    rc = run(args);
    CHECKF(rc == 0 && strstr(g_out, "ORACLE"), "rc %d: %s", rc, g_out);
    j = load_json(js);
    fol = cJSON_GetObjectItemCaseSensitive(j, "following");
    const cJSON *tot = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(fol, "summary"), "total_over_onsets");
    CHECKF(num(tot, "within_0.5s") >= 0.9, "oracle within_0.5s %g", num(tot, "within_0.5s"));
    CHECK(num(cJSON_GetObjectItemCaseSensitive(fol, "summary"), "followed_to_end") == 1);
    jsum = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "jump_tests"),
                                            "summary");
    CHECKF(num(jsum, "recovered_within_2s") == 1, "oracle jumps recovered %g",
           num(jsum, "recovered_within_2s"));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(j, "conditions"), "oracle")));
    /* no network ran: no network figures */
    CHECK(!cJSON_GetObjectItemCaseSensitive(fol, "network"));
    cJSON_Delete(j);
    /* --dump: one line per frame and per event (+ header), errors small */
    {
        char path[4400], *d = NULL;
        size_t len = 0;
        snprintf(path, sizeof path, "%s/dump/piece__r0.frames.csv", dir);
        CHECK(lec_read_file(path, 0, &d, &len, NULL) == LEC_OK);
        int lines = 0;
        for (size_t i = 0; d && i < len; i++)
            lines += d[i] == '\n';
        double dur = fix_event_time(FIX_N_EVENTS - 1, 1.0) + 1.5;
        CHECKF(lines == 1 + (int)(dur * 22050 / 1102), "%d lines", lines);
        free(d);
        d = NULL;
        snprintf(path, sizeof path, "%s/dump/piece__r1__jump.events.csv", dir);
        CHECK(lec_read_file(path, 0, &d, &len, NULL) == LEC_OK);
        lines = 0;
        for (size_t i = 0; d && i < len; i++)
            lines += d[i] == '\n';
        CHECKF(lines == 1 + FIX_N_EVENTS + 8, "%d lines", lines);
        CHECK(d && strncmp(d, "event,t_s,x_px,system,n_notes,error_s,px_error_ss", 49) == 0);
        free(d);
    }

    /* ---- bad inputs */
    snprintf(args, sizeof args, "--model %s/none.lnm %s", dir, b1);
    CHECK(run(args) == 1 && strstr(g_out, "none.lnm"));
    {
        char *d = NULL;
        size_t n = 0;
        CHECK(lec_read_file(m, 0, &d, &n, NULL) == LEC_OK);
        CHECK(lec_write_file_atomic(trunc, d, n - 100, NULL) == LEC_OK);
        free(d);
    }
    snprintf(args, sizeof args, "--model %s %s", trunc, b1);
    CHECK(run(args) == 1 && strstr(g_out, "trunc.lnm"));
    snprintf(args, sizeof args, "--model %s %s", m, b0);
    CHECKF(run(args) == 1 && strstr(g_out, "silent_piece") && strstr(g_out, "no audio renderings"),
           "%s", g_out);
    snprintf(args, sizeof args, "--model %s %s --audio nosuch", m, b1);
    CHECK(run(args) == 1 && strstr(g_out, "no rendering named nosuch") && strstr(g_out, "r0, r1"));
    snprintf(args, sizeof args, "--model %s %s/missing_bundle", m, dir);
    CHECK(run(args) == 1 && strstr(g_out, "missing_bundle"));
    snprintf(args, sizeof args, "--model %s %s --start middle", m, b1);
    CHECK(run(args) == 2 && strstr(g_out, "--start middle"));
    CHECK(run("") == 2);
    /* tracker parameters: unknown key / not a number -> usage error; a value the
     * tracker refuses -> every run fails with the tracker's message */
    snprintf(args, sizeof args, "--oracle %s --tracker p_hold=0.05,nosuch=1", b1);
    CHECK(run(args) == 2 && strstr(g_out, "unknown key \"nosuch\""));
    snprintf(args, sizeof args, "--oracle %s --tracker obs_weight=x", b1);
    CHECK(run(args) == 2 && strstr(g_out, "obs_weight"));
    snprintf(args, sizeof args, "--oracle %s --audio r0 --tracker p_hold=2", b1);
    CHECK(run(args) == 1 && strstr(g_out, "p_hold"));
    snprintf(args, sizeof args,
             "--oracle 0.3 %s --audio r0 --tracker p_hold=0.05,scan_windows_per_frame=4 --json %s",
             b1, js);
    CHECK(run(args) == 0);
    j = load_json(js);
    CHECK(j && !strcmp(cJSON_GetObjectItemCaseSensitive(
                           cJSON_GetObjectItemCaseSensitive(j, "conditions"), "tracker")
                           ->valuestring,
                       "p_hold=0.05,scan_windows_per_frame=4"));
    cJSON_Delete(j);
    snprintf(args, sizeof args, "--model %s %s --bogus", m, b1);
    CHECK(run(args) == 2 && strstr(g_out, "--bogus"));
    return lec_test_finish("test_eval_cli");
}
