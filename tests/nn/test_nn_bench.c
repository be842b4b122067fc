/* test_nn_bench -- `lectern bench nn` runs end to end on a tiny architecture
 * (1 step, 1 round, PyTorch skipped) and prints its figures; bad options are
 * usage errors (status 2), a bad architecture is a clear error (status 1).
 * Timings are not asserted (DEVELOPERS.md: benchmarks report ratios). */
#include <stdio.h>
#include <string.h>

#include "lec_test.h"

int main(void)
{
    char cmd[8192], out[16384];
    const char *tiny = "--score 16x32 --spec 8x8 --score-layers c4,p,d8 --spec-layers c4,p,d8 "
                       "--head-layers o10,d8 --buckets 4 --batch 4 --steps 1 --rounds 1 "
                       "--runs 10 --torch-steps 0";
    snprintf(cmd, sizeof cmd, "'%s' bench nn %s", lec_test_lectern(), tiny);
    int st = lec_test_run(cmd, out, sizeof out);
    CHECKF(st == 0, "status %d: %s", st, out);
    CHECKF(strstr(out, "FIGURE: training") != NULL, "%s", out);
    CHECKF(strstr(out, "% of the roofline") != NULL, "%s", out);
    CHECKF(strstr(out, "FIGURE: p99") != NULL, "%s", out);
    CHECKF(strstr(out, "samples/s") != NULL, "%s", out);

    snprintf(cmd, sizeof cmd, "'%s' bench nn --steps 0", lec_test_lectern());
    CHECK(lec_test_run(cmd, out, sizeof out) == 2);
    snprintf(cmd, sizeof cmd, "'%s' bench nn --frobnicate 1", lec_test_lectern());
    CHECK(lec_test_run(cmd, out, sizeof out) == 2);
    snprintf(cmd, sizeof cmd, "'%s' bench nn --score-layers c4,x --torch-steps 0",
             lec_test_lectern());
    CHECK(lec_test_run(cmd, out, sizeof out) == 1);
    CHECKF(strstr(out, "unknown token \"x\"") != NULL, "%s", out);
    snprintf(cmd, sizeof cmd, "'%s' bench nn --help", lec_test_lectern());
    CHECK(lec_test_run(cmd, out, sizeof out) == 0 && strstr(out, "roofline"));
    return lec_test_finish("test_nn_bench");
}
