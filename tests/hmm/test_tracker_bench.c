/* test_tracker_bench.c -- runs lec_tracker_bench (the function `lectern bench
 * track` will call) on a whole-piece strip of 50,000 px at the unrolled
 * strip's 5 px staff space (about 100 systems) and prints the
 * per-frame cost. Not a timed assertion: it checks that the benchmark runs, its
 * figures are consistent (median <= p99 <= max) and that the synthetic run it
 * times was actually followed (so the timing is of the tracking path, not of a
 * tracker stuck in a search).
 * Usage: test_tracker_bench [strip_px [staff_space_px [frames]]]. */
#include <stdio.h>
#include <stdlib.h>

#include "lec_test.h"
#include "lec_tracker.h"

int main(int argc, char **argv)
{
    float w = argc > 1 ? (float)atof(argv[1]) : 50000.0f;
    float ss = argc > 2 ? (float)atof(argv[2]) : 5.0f;
    int n = argc > 3 ? atoi(argv[3]) : 3000;
    lec_tracker_bench_result r;
    lec_error err;
    lec_status st = lec_tracker_bench(w, ss, n, &r, &err);
    CHECKF(st == LEC_OK, "%s", err.msg);
    if (st == LEC_OK) {
        printf("tracker bench: strip %.0f px, staff space %.1f px, %d cells, %d frames, "
               "%.2f windows/frame, "
               "median error %.1f px\n"
               "  wall per frame: median %.4f ms, p99 %.4f ms, max %.4f ms, mean %.4f ms\n"
               "  cpu  per frame: median %.4f ms, p99 %.4f ms, max %.4f ms, mean %.4f ms\n",
               (double)w, (double)ss, r.n_cells, r.n_frames, r.mean_windows, r.median_abs_err_px, r.median_ms,
               r.p99_ms, r.max_ms, r.mean_ms, r.cpu_median_ms, r.cpu_p99_ms, r.cpu_max_ms,
               r.cpu_mean_ms);
        CHECK(r.n_frames == n && r.n_cells >= (int)(w / (0.5f * ss)));
        CHECK(r.median_ms > 0 && r.median_ms <= r.p99_ms && r.p99_ms <= r.max_ms);
        CHECK(r.cpu_median_ms > 0 && r.cpu_median_ms <= r.cpu_p99_ms && r.cpu_p99_ms <= r.cpu_max_ms);
        CHECK(r.mean_windows >= 1 && r.mean_windows <= 4);
        CHECK(r.median_abs_err_px <= ss); /* one staff space */
    }
    CHECK(lec_tracker_bench(100, 5, 10, &r, &err) == LEC_EINVAL);
    return lec_test_finish("test_tracker_bench");
}
