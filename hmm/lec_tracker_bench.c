/* lec_tracker_bench.c -- per-frame cost of the tracker on a whole-piece strip,
 * with synthetic observations (lec_simperf); `lectern bench track` reports it
 * beside the network cost. Times lec_tracker_windows + lec_tracker_update only
 * (the synthetic soft-max is generated outside the timed region). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lec_metrics.h"
#include "lec_simperf.h"
#include "lec_tracker.h"
#include "lec_util.h"

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

lec_status lec_tracker_bench(float strip_w_px, float ss, int n_frames,
                             lec_tracker_bench_result *res, lec_error *err)
{
    if (!res)
        return lec_error_set(err, LEC_EINVAL, "tracker bench: NULL result");
    memset(res, 0, sizeof *res);
    if (!(ss >= 1 && ss <= 100) || !(strip_w_px >= 200 * ss) || !(strip_w_px <= 1e7f) ||
        n_frames < 1 || n_frames > 10000000)
        return lec_error_set(err, LEC_EINVAL,
                             "tracker bench: staff space %g px (1..100), strip %g px (200 staff "
                             "spaces..1e7), %d frames (1..1e7)",
                             (double)ss, (double)strip_w_px, n_frames);
    const float sys_w = 110 * ss;
    int ns = (int)ceilf(strip_w_px / sys_w);
    float *s0 = malloc((size_t)ns * sizeof *s0), *s1 = malloc((size_t)ns * sizeof *s1);
    double *ms = malloc((size_t)n_frames * sizeof *ms);
    double *ae = malloc((size_t)n_frames * sizeof *ae);
    double *cpu = malloc((size_t)n_frames * sizeof *cpu);
    lec_tracker *t = NULL;
    lec_simperf *sy = NULL;
    float *x0 = NULL, *probs = NULL;
    lec_status st = LEC_OK;
    if (!s0 || !s1 || !ms || !ae || !cpu) {
        st = lec_error_set(err, LEC_ENOMEM, "tracker bench: out of memory");
        goto done;
    }
    for (int k = 0; k < ns; k++) {
        s0[k] = k * sys_w;
        s1[k] = (k + 1) * sys_w < strip_w_px ? (k + 1) * sys_w : strip_w_px;
    }
    lec_tracker_config cfg;
    lec_tracker_config_default(&cfg);
    cfg.strip_w_px = strip_w_px;
    cfg.n_systems = ns;
    cfg.sys_start_px = s0;
    cfg.sys_end_px = s1;
    cfg.staff_space_px = ss;
    cfg.win_w_px = floorf(60 * ss);
    cfg.nominal_speed_px_s = 10 * ss;
    t = lec_tracker_create(&cfg, err);
    if (!t) {
        st = err ? err->code : LEC_EINVAL;
        goto done;
    }
    lec_simperf_config sc;
    lec_simperf_config_default(&sc);
    sc.win_w_px = cfg.win_w_px;
    sc.n_buckets = cfg.n_buckets;
    sc.nominal_speed_px_s = cfg.nominal_speed_px_s;
    sy = lec_simperf_create(&sc, err);
    int maxw = lec_tracker_max_windows(t), B = lec_tracker_n_buckets(t);
    x0 = malloc((size_t)maxw * sizeof *x0);
    probs = malloc((size_t)maxw * (size_t)B * sizeof *probs);
    if (!sy || !x0 || !probs) {
        st = sy ? lec_error_set(err, LEC_ENOMEM, "tracker bench: out of memory")
                : (err ? err->code : LEC_EINVAL);
        goto done;
    }
    /* the performance starts at the first system and wraps around at the end,
     * which also exercises the jump/relocalisation path */
    float x = 5 * ss;
    double nwin = 0;
    for (int f = 0; f < n_frames; f++) {
        x = lec_simperf_step(sy, x, 1.0f);
        if (x >= strip_w_px - 1)
            x = 5 * ss;
        lec_simperf_frame(sy, x);
        double c0 = thread_cpu_s(), t0 = lec_now_s();
        int n = lec_tracker_windows(t, x0, maxw);
        double t1 = lec_now_s(), c1 = thread_cpu_s();
        for (int i = 0; i < n; i++)
            lec_simperf_softmax(sy, x0[i], x, 1, probs + (size_t)i * B);
        double c2 = thread_cpu_s(), t2 = lec_now_s();
        lec_track_state out;
        st = lec_tracker_update(t, probs, n, 1.0f, &out, err);
        double t3 = lec_now_s(), c3 = thread_cpu_s();
        if (st != LEC_OK)
            goto done;
        ms[f] = (t1 - t0) + (t3 - t2);
        cpu[f] = (c1 - c0) + (c3 - c2);
        ae[f] = fabs(out.x_px - x);
        nwin += n;
    }
    lec_cost_stats cs;
    st = lec_metrics_cost(ms, (size_t)n_frames, 0, &cs, err);
    if (st != LEC_OK)
        goto done;
    res->n_frames = n_frames;
    res->n_cells = lec_tracker_n_cells(t);
    res->median_ms = cs.median_s * 1e3;
    res->p99_ms = cs.p99_s * 1e3;
    res->max_ms = cs.max_s * 1e3;
    res->mean_ms = cs.mean_s * 1e3;
    st = lec_metrics_cost(cpu, (size_t)n_frames, 0, &cs, err);
    if (st != LEC_OK)
        goto done;
    res->cpu_median_ms = cs.median_s * 1e3;
    res->cpu_p99_ms = cs.p99_s * 1e3;
    res->cpu_max_ms = cs.max_s * 1e3;
    res->cpu_mean_ms = cs.mean_s * 1e3;
    res->mean_windows = nwin / n_frames;
    res->median_abs_err_px = lec_metrics_median(ae, (size_t)n_frames);
done:
    lec_tracker_destroy(t);
    lec_simperf_destroy(sy);
    free(x0);
    free(probs);
    free(s0);
    free(s1);
    free(ms);
    free(ae);
    free(cpu);
    return st;
}
