/* test_bench_track -- `lectern bench track` runs end to end on a generated
 * bundle with a small random network (--window/--staff-space/--score-layers):
 * it reports the score-window cache, the follower with and without it, the
 * network before/after and the FIGURE line; the cached path's soft-max agrees
 * with the full forward (the printed max difference is tiny); bad options are
 * usage errors (status 2). Timings are not asserted (DEVELOPERS.md:
 * benchmarks report ratios). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "follow_fixture.h"
#include "lec_test.h"

int main(void)
{
    const char *dir = lec_test_scratch_dir("test_bench_track");
    char bdir[4200], cmd[16384], out[32768];
    snprintf(bdir, sizeof bdir, "%s/piece", dir);
    fix_opts fo = {.n_renderings = 1, .tempo = {1.0, 1.0}};
    CHECK(fix_write_bundle(bdir, &fo) == 0);
    const char *net = "--window 64x40 --staff-space 4 --buckets 16 --score-layers c4,p,c8,p,d16 "
                      "--head-layers o20,d16";
    for (int oracle = 0; oracle < 2; oracle++) {
        snprintf(cmd, sizeof cmd, "'%s' bench track '%s' %s --seconds 6%s", lec_test_lectern(),
                 bdir, net, oracle ? " --oracle" : "");
        int st = lec_test_run(cmd, out, sizeof out);
        CHECKF(st == 0, "status %d: %s", st, out);
        CHECKF(strstr(out, "score-window cache: strip") && strstr(out, "grid 8 px"), "%s", out);
        CHECKF(strstr(out, "follower without cache") && strstr(out, "network before (full)") &&
                   strstr(out, "network after (cache)") && strstr(out, "tracker only (replay)"),
               "%s", out);
        CHECKF(strstr(out, "FIGURE: follower") && strstr(out, "cheaper) with the cache"), "%s",
               out);
        const char *d = strstr(out, "max |difference| ");
        double diff = d ? atof(d + strlen("max |difference| ")) : 1.0;
        CHECKF(d && diff < 1e-5, "soft-max difference %g: %s", diff, out);
        CHECKF(strstr(out, "120 frames") != NULL, "%s", out);
    }
    snprintf(cmd, sizeof cmd, "'%s' bench track '%s' --window 64", lec_test_lectern(), bdir);
    CHECK(lec_test_run(cmd, out, sizeof out) == 2 && strstr(out, "WxH"));
    snprintf(cmd, sizeof cmd, "'%s' bench track --model x.lnm --window 64x40", lec_test_lectern());
    CHECK(lec_test_run(cmd, out, sizeof out) == 2 && strstr(out, "random network"));
    snprintf(cmd, sizeof cmd, "'%s' bench track '%s' %s --grid 0 --seconds 2",
             lec_test_lectern(), bdir, net);
    CHECK(lec_test_run(cmd, out, sizeof out) == 0); /* 0 = automatic */
    snprintf(cmd, sizeof cmd, "'%s' bench track --frobnicate", lec_test_lectern());
    CHECK(lec_test_run(cmd, out, sizeof out) == 2);
    snprintf(cmd, sizeof cmd, "'%s' bench track --help", lec_test_lectern());
    CHECK(lec_test_run(cmd, out, sizeof out) == 0 && strstr(out, "score-window cache"));
    return lec_test_finish("test_bench_track");
}
