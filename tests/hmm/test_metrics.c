/* test_metrics.c -- the EVALUATION.md metrics on hand-built cases whose answers
 * are worked out by hand in the comments. Times are binary fractions (1/8 s,
 * 1/32 s) so that differences are exact and "<= bound" is not at the mercy of
 * rounding. Also: the fast position->time index agrees with the reference
 * scan on random queries, bad input gets an error, JSON has the figures. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lec_metrics.h"
#include "lec_test.h"

#define MAXN 256

/* two systems of 1000 px, staff space 10 px */
static const float s2_start[2] = {0, 1000}, s2_end[2] = {1000, 2000};
static const lec_strip_geom G2 = {2, s2_start, s2_end, 10.0f};

static lec_onset_event ev[MAXN];
static size_t nev;
static lec_report fr[4096];
static size_t nfr;

static void make_events(const lec_gt_note *notes, size_t n, const lec_strip_geom *g)
{
    lec_onset_event *e = NULL;
    lec_error err;
    lec_status st = lec_metrics_events(notes, n, g, &e, &nev, &err);
    CHECKF(st == LEC_OK, "%s", err.msg);
    if (st == LEC_OK)
        memcpy(ev, e, nev * sizeof *e);
    free(e);
}

static lec_metrics_piece eval(const lec_strip_geom *g, const double *jumps, size_t nj, double *e,
                              double *px)
{
    lec_metrics_input in = {*g, ev, nev, fr, nfr, jumps, nj, 0};
    lec_metrics_piece p;
    lec_error err;
    lec_status st = lec_metrics_piece_eval(&in, &p, e, px, &err);
    CHECKF(st == LEC_OK, "%s", err.msg);
    return p;
}

static void test_grouping(void)
{
    /* chord at 3.000 (x 300) + 3.008 (x 290): one event at t 3.000, x 290;
     * 3.015 is 15 ms after the group's first onset: a new event (even though it
     * is only 7 ms after 3.008: groups are anchored, members pairwise <= 10 ms).
     * 1.0 and 1.010 (exactly 10 ms): same event. Input deliberately unsorted. */
    lec_gt_note n[] = {{3.015, 310}, {3.000, 300}, {1.0, 100}, {3.008, 290}, {1.010, 1100}};
    make_events(n, 5, &G2);
    CHECK(nev == 3);
    CHECK_NEAR(ev[0].t_s, 1.0, 0);
    CHECK_NEAR(ev[0].x_px, 100, 0); /* leftmost head, in system 0 */
    CHECK(ev[0].system == 0 && ev[0].n_notes == 2);
    CHECK_NEAR(ev[1].t_s, 3.0, 0);
    CHECK_NEAR(ev[1].x_px, 290, 0);
    CHECK(ev[1].n_notes == 2);
    CHECK_NEAR(ev[2].t_s, 3.015, 1e-12);
    CHECK(ev[2].n_notes == 1);
}

static void test_perfect(void)
{
    /* events at t = 1..10 s: x 100..500 in system 0, 1100..1500 in system 1.
     * Frames every 1/20 s from 0.05 to 12; a perfect follower reports the x of
     * the latest event at or before the frame end (x 100 before the first). At
     * t_i the frame ending exactly at t_i reports p_i: every error 0. */
    lec_gt_note n[10];
    for (int i = 0; i < 10; i++) {
        n[i].onset_s = 1.0 + i;
        n[i].x_px = (float)(i < 5 ? 100 + 100 * i : 1100 + 100 * (i - 5));
    }
    make_events(n, 10, &G2);
    CHECK(nev == 10 && ev[7].system == 1);
    nfr = 240;
    for (size_t f = 0; f < nfr; f++) {
        double t = (double)(f + 1) / 20.0;
        int j = (int)floor(t) - 1;
        if (j < 0)
            j = 0;
        if (j > 9)
            j = 9;
        fr[f].t_end_s = t;
        fr[f].x_px = ev[j].x_px;
    }
    double e[10], px[10];
    lec_metrics_piece p = eval(&G2, NULL, 0, e, px);
    for (int b = 0; b < LEC_METRICS_N_BOUNDS; b++) {
        CHECK(p.n_within[b] == 10);
        CHECK_NEAR(p.within[b], 1.0, 0);
    }
    CHECK_NEAR(p.median_error_s, 0, 0);
    CHECK_NEAR(p.mean_error_s, 0, 0);
    CHECK_NEAR(p.median_px_error_ss, 0, 0);
    CHECK(p.followed_to_end == 1);
    CHECK_NEAR(p.lost_time, 0, 0);
    CHECK_NEAR(p.span_s, 9, 0);
    CHECK(isnan(p.recovered_within_2s) && p.n_jumps == 0);
    for (int i = 0; i < 10; i++)
        CHECK(e[i] == 0 && px[i] == 0);

    /* the same follower, every frame 1/32 s late in reporting, i.e. frames end
     * 1/32 s after the onsets: at t_i the last frame ending <= t_i is the one
     * before, which still shows event i-1 (or x 100 for i = 0): errors 1 s for
     * i >= 1 and 0 for i = 0 -> within_0.5 = 1/10, within_1 = 1. */
    for (size_t f = 0; f < nfr; f++)
        fr[f].t_end_s += 1.0 / 32.0;
    p = eval(&G2, NULL, 0, e, px);
    CHECK(p.n_within[2] == 1 && p.n_within[3] == 10);
    CHECK_NEAR(p.median_error_s, 1.0, 0);
    CHECK_NEAR(p.mean_error_s, 0.9, 1e-12);
    /* px: i=1..4 and 6..9 are 100 px = 10 ss back; i=5 (x 1100, reported 500,
     * system 0) is 600 px along the strip = 60 ss; median of {0,10x8,60} = 10 */
    CHECK_NEAR(px[5], 60.0, 1e-9);
    CHECK_NEAR(p.median_px_error_ss, 10.0, 1e-9);
    CHECK(p.followed_to_end == 1); /* last event: e = 1 <= 1 */
}

/* Lag case, shared with the summary test. Events every 1/8 s from t = 1, x =
 * 100 + 20 i (i < 40, all in system 0). The follower reports, at frame end t
 * (every 1/32 s from 0), the printed x of the score 3/8 s ago: p_j with j the
 * latest event with t_j <= t - 3/8 (p_0 before). At t_i it shows p_{i-3}:
 *   e_0 = 0, e_1 = 1/8, e_2 = 2/8, e_i = 3/8 for i >= 3 (37 events)
 *   within_0.05 = within_0.1 = 1/40; within_0.5 = within_1 = within_5 = 1
 *   median = 3/8; mean = (0 + 1/8 + 2/8 + 37*3/8) / 40 = 14.25/40 = 0.35625
 *   px: 3 events back = 60 px = 6 ss for i >= 3 -> median 6
 *   span 39/8 = 4.875 s, lost 0. */
static void build_lag(void)
{
    lec_gt_note n[40];
    for (int i = 0; i < 40; i++) {
        n[i].onset_s = 1.0 + 0.125 * i;
        n[i].x_px = (float)(100 + 20 * i);
    }
    make_events(n, 40, &G2);
    nfr = 0;
    for (int f = 0; f <= 7 * 32; f++) {
        double t = f / 32.0;
        int j = 0;
        for (int i = 0; i < 40; i++)
            if (ev[i].t_s <= t - 0.375)
                j = i;
        fr[nfr].t_end_s = t;
        fr[nfr].x_px = ev[j].x_px;
        nfr++;
    }
}

static void test_lag(void)
{
    build_lag();
    double e[40], px[40];
    lec_metrics_piece p = eval(&G2, NULL, 0, e, px);
    CHECK(p.n_events == 40);
    CHECK(p.n_within[0] == 1 && p.n_within[1] == 1);
    CHECK(p.n_within[2] == 40 && p.n_within[3] == 40 && p.n_within[4] == 40);
    CHECK_NEAR(p.within[1], 0.025, 1e-12);
    CHECK_NEAR(p.within[2], 1.0, 0);
    CHECK_NEAR(p.median_error_s, 0.375, 0);
    CHECK_NEAR(p.mean_error_s, 0.35625, 1e-12);
    CHECK_NEAR(p.median_px_error_ss, 6.0, 1e-9);
    CHECK(p.followed_to_end == 1);
    CHECK_NEAR(p.lost_time, 0, 0);
    CHECK_NEAR(p.span_s, 4.875, 0);
    CHECK_NEAR(e[1], 0.125, 0);
    CHECK_NEAR(e[2], 0.25, 0);
}

static void test_repeats(void)
{
    /* printed x 100,200,300,400 (system 0) played at t 1..4, repeated at 5..8,
     * then x 1100 (system 1) at 9. */
    lec_gt_note n[9];
    for (int i = 0; i < 8; i++) {
        n[i].onset_s = 1.0 + i;
        n[i].x_px = (float)(100 + 100 * (i % 4));
    }
    n[8].onset_s = 9;
    n[8].x_px = 1100;
    make_events(n, 9, &G2);
    CHECK(nev == 9);
    /* x 210 -> nearest printed x 200, performed at 2 and 6: pick nearest to t */
    CHECK_NEAR(lec_metrics_map_time(&G2, ev, nev, 210, 6.5), 6.0, 0);
    CHECK_NEAR(lec_metrics_map_time(&G2, ev, nev, 210, 3.0), 2.0, 0);
    /* x 150: 100 and 200 equally near (50 px): all four performances are
     * candidates; nearest to 5.25 is t 5 (x 100, second time) */
    CHECK_NEAR(lec_metrics_map_time(&G2, ev, nev, 150, 5.25), 5.0, 0);
    /* tie in time (|1-1.5| = |2-1.5|): the earlier event */
    CHECK_NEAR(lec_metrics_map_time(&G2, ev, nev, 150, 1.5), 1.0, 0);
    /* x 150.2 is 50.2 from 100, 49.8 from 200: within 0.5 px of the nearest
     * -> same printed position, both candidates; at 150.6 (50.6 vs 49.4) only
     * x 200 is */
    CHECK_NEAR(lec_metrics_map_time(&G2, ev, nev, 150.2f, 1.1), 1.0, 0);
    CHECK_NEAR(lec_metrics_map_time(&G2, ev, nev, 150.6f, 1.1), 2.0, 0);

    /* a follower that plays the repeat right: perfect reports -> all errors 0
     * (with the first-time performance chosen the repeat would cost 4 s) */
    nfr = 0;
    for (int f = 0; f <= 40; f++) {
        double t = f * 0.25;
        int j = 0;
        for (size_t i = 0; i < nev; i++)
            if (ev[i].t_s <= t)
                j = (int)i;
        fr[nfr].t_end_s = t;
        fr[nfr++].x_px = ev[j].x_px;
    }
    double e[9], px[9];
    lec_metrics_piece p = eval(&G2, NULL, 0, e, px);
    CHECK(p.n_within[0] == 9);
    /* a follower that ignores the repeat bar and goes on to x 1100 at t 5:
     * events at 5..8 are mapped to t 9 (x 1100): errors 4,3,2,1; event 9: 0 */
    for (size_t f = 0; f < nfr; f++)
        if (fr[f].t_end_s >= 5)
            fr[f].x_px = 1100;
    p = eval(&G2, NULL, 0, e, px);
    CHECK_NEAR(e[4], 4, 0);
    CHECK_NEAR(e[5], 3, 0);
    CHECK_NEAR(e[7], 1, 0);
    CHECK_NEAR(e[8], 0, 0);
    CHECK(p.n_within[3] == 6 && p.n_within[2] == 5);
    /* px error of event 4 (x 100) when x 1100 is reported: 1000 px = 100 ss */
    CHECK_NEAR(px[4], 100.0, 1e-9);
}

static void test_systems(void)
{
    /* three systems; events only in systems 0 (x 900, t 1) and 2 (x 2100, t 2).
     * A report in system 1 has no events of its own: DEFINED fallback to the
     * strip distance: 1950 -> 2100 (150 px) beats 900 (1050 px) -> t 2. */
    static const float st[3] = {0, 1000, 2000}, en[3] = {1000, 2000, 3000};
    lec_strip_geom g3 = {3, st, en, 10};
    lec_gt_note n[2] = {{1.0, 900}, {2.0, 2100}};
    make_events(n, 2, &g3);
    CHECK(ev[1].system == 2);
    CHECK_NEAR(lec_metrics_map_time(&g3, ev, nev, 1950, 0), 2.0, 0);
    CHECK_NEAR(lec_metrics_map_time(&g3, ev, nev, 1050, 0), 1.0, 0);
    /* a report in system 0 only sees system 0's events, even at x 999 */
    CHECK_NEAR(lec_metrics_map_time(&g3, ev, nev, 999, 5), 1.0, 0);
    /* same-system rule beats strip nearness: event x 100 (sys 0, t 1) and
     * x 1010 (sys 1, t 2); a report at 990 (sys 0) maps to t 1 although 1010 is
     * 20 px away along the strip; the pixel error to event 2 is 2 ss */
    lec_gt_note m[2] = {{1.0, 100}, {2.0, 1010}};
    make_events(m, 2, &G2);
    CHECK_NEAR(lec_metrics_map_time(&G2, ev, nev, 990, 2.0), 1.0, 0);
    fr[0].t_end_s = 0;
    fr[0].x_px = 100;
    fr[1].t_end_s = 1.5;
    fr[1].x_px = 990;
    nfr = 2;
    double e[2], px[2];
    lec_metrics_piece p = eval(&G2, NULL, 0, e, px);
    CHECK_NEAR(e[1], 1.0, 0);
    CHECK_NEAR(px[1], 2.0, 1e-6);
    (void)p;
    /* gaps between systems: nearest system, ties to the lower index */
    static const float gs[2] = {0, 1100}, ge[2] = {1000, 2000};
    lec_strip_geom gg = {2, gs, ge, 10};
    CHECK(lec_strip_system_of(&gg, 1040) == 0);
    CHECK(lec_strip_system_of(&gg, 1060) == 1);
    CHECK(lec_strip_system_of(&gg, 1050) == 0);
    CHECK(lec_strip_system_of(&gg, -5) == 0);
    CHECK(lec_strip_system_of(&gg, 5000) == 1);
    CHECK(lec_strip_system_of(&gg, 1100) == 1);
}

static void test_lost_and_end(void)
{
    /* 21 events, t = 0..20, x = 100 + 40 i (system 0). Frames every 0.5 s from
     * 0: perfect (x of event floor(t)) except t in [5, 11): x 100 (t^ = 0).
     * Per-frame error there = t_f: > 5 s for t_f = 5.5 ... 10.5 (11 frames, each
     * held 0.5 s) -> lost 5.5 s of the span 20 s = 0.275. (t_f = 5.0 has error
     * exactly 5: not lost.)
     * Onsets: e_5 = 5 (within_5 only), e_6..e_10 = 6..10, others 0:
     * within_0.05 = within_1 = 15/21, within_5 = 16/21,
     * mean = (5 + 5*5 clipped) / 21 = 30/21, median 0. */
    lec_gt_note n[21];
    for (int i = 0; i <= 20; i++) {
        n[i].onset_s = i;
        n[i].x_px = (float)(100 + 40 * i);
    }
    make_events(n, 21, &G2);
    nfr = 0;
    for (int f = 0; f <= 40; f++) {
        double t = f * 0.5;
        fr[nfr].t_end_s = t;
        fr[nfr].x_px = (t >= 5 && t < 11) ? 100.0f : ev[(int)floor(t)].x_px;
        nfr++;
    }
    double e[21], px[21];
    lec_metrics_piece p = eval(&G2, NULL, 0, e, px);
    CHECK(p.n_within[0] == 15 && p.n_within[3] == 15 && p.n_within[4] == 16);
    CHECK_NEAR(p.mean_error_s, 30.0 / 21.0, 1e-12);
    CHECK_NEAR(p.median_error_s, 0, 0);
    CHECK_NEAR(p.lost_s, 5.5, 1e-12);
    CHECK_NEAR(p.lost_time, 0.275, 1e-12);
    CHECK(p.followed_to_end == 1);

    /* followed_to_end: the final ceil(2.1) = 3 events must be within 1 s; spoil
     * event 18 (t 18, third from last) by reporting x 100 on [18, 18.5) */
    fr[36].x_px = 100;
    p = eval(&G2, NULL, 0, e, px);
    CHECK(p.followed_to_end == 0);
    /* ... but spoiling event 17 (4th from last) leaves it at 1 */
    fr[36].x_px = ev[18].x_px;
    fr[34].x_px = 100;
    p = eval(&G2, NULL, 0, e, px);
    CHECK(p.followed_to_end == 1);

    /* no report yet at an onset: error +inf; first report at 2.25 s -> events
     * 0, 1, 2 unreported (2.25 > 2); audio [0, 2.25) counts as lost */
    nfr = 0;
    for (int f = 0; f <= 80; f++) {
        double t = 2.25 + f * 0.25;
        fr[nfr].t_end_s = t;
        fr[nfr++].x_px = ev[(int)floor(t) > 20 ? 20 : (int)floor(t)].x_px;
    }
    p = eval(&G2, NULL, 0, e, px);
    CHECK(isinf(e[0]) && isinf(e[2]) && e[3] == 0);
    CHECK(p.n_within[4] == 18);
    CHECK_NEAR(p.mean_error_s, 15.0 / 21.0, 1e-12);
    CHECK_NEAR(p.lost_s, 2.25, 1e-12);
}

static void test_jumps(void)
{
    /* 16 events t = 0, 0.5, ..., 7.5 at x = 100 + 50 i (x 100..850), then the
     * performer jumps back at tau = 8: x 500, 550, ..., 850 at t 8.0 .. 11.5. */
    lec_gt_note n[24];
    for (int i = 0; i < 16; i++) {
        n[i].onset_s = 0.5 * i;
        n[i].x_px = (float)(100 + 50 * i);
    }
    for (int k = 0; k < 8; k++) {
        n[16 + k].onset_s = 8.0 + 0.5 * k;
        n[16 + k].x_px = (float)(500 + 50 * k);
    }
    make_events(n, 24, &G2);
    double tau = 8.0;
    /* Follower A stays at x 850 (printed once, performed at 7.5 and 11.5) until
     * 9.5, then is right. Errors after the jump, at 8.0, 8.5, 9.0: x 850 ->
     * t^ = 7.5 -> 0.5, 1.0, 1.5; from 9.5 on 0. With 3 confirming events the
     * first recovered event is 9.5 (8.0 and 8.5 are within 1 s by accident but
     * 9.0 is not): 1.5 s <= 2 -> recovered. */
    nfr = 0;
    for (int f = 0; f <= 12 * 8; f++) {
        double t = f * 0.125;
        int j = 0;
        for (size_t i = 0; i < nev; i++)
            if (ev[i].t_s <= t)
                j = (int)i;
        fr[nfr].t_end_s = t;
        fr[nfr++].x_px = (t >= 8 && t < 9.5) ? 850.0f : ev[j].x_px;
    }
    double e[24], px[24];
    lec_metrics_piece p = eval(&G2, &tau, 1, e, px);
    CHECK_NEAR(e[16], 0.5, 0);
    CHECK_NEAR(e[17], 1.0, 0);
    CHECK_NEAR(e[18], 1.5, 0);
    CHECK_NEAR(e[19], 0, 0);
    CHECK(p.n_jumps == 1 && p.n_recovered == 1);
    CHECK_NEAR(p.recovered_within_2s, 1.0, 0);
    /* Follower B stays at x 850 until 10.6: errors at 8.0..10.5 are 0.5, 1.0,
     * 1.5, 2.0, then (t^ = 11.5 is nearer) 1.5, 1.0; right from 11.0. The first
     * event opening 3 within-1 s events is 10.5 (1.0, 0, 0): 2.5 s > 2 -> not
     * recovered. */
    for (size_t f = 0; f < nfr; f++)
        if (fr[f].t_end_s >= 8 && fr[f].t_end_s < 10.6)
            fr[f].x_px = 850;
    p = eval(&G2, &tau, 1, e, px);
    CHECK_NEAR(e[19], 2.0, 0);
    CHECK_NEAR(e[20], 1.5, 0);
    CHECK_NEAR(e[21], 1.0, 0);
    CHECK(p.n_recovered == 0);
    CHECK_NEAR(p.recovered_within_2s, 0.0, 0);
    /* with a single confirming event, 8.0 (e = 0.5) counts at once */
    lec_metrics_input in = {G2, ev, nev, fr, nfr, &tau, 1, 1};
    lec_error err;
    CHECK(lec_metrics_piece_eval(&in, &p, NULL, NULL, &err) == LEC_OK);
    CHECK(p.n_recovered == 1);
}

static void test_summary(void)
{
    /* piece 1: the lag case; piece 2: the lost case (rebuilt). 61 onsets.
     * within_0.05 total = (1 + 15)/61; per-piece mean = (1/40 + 15/21)/2.
     * Sorted errors: 16 zeros, 1/8, 2/8, 37 x 3/8, 5, 6..10 -> the 31st = 3/8.
     * mean = (14.25 + 30)/61; lost = (0 + 5.5)/(4.875 + 20). */
    lec_error err;
    lec_metrics_total *tot = lec_metrics_total_create(&err);
    CHECK(tot != NULL);
    double e[64], px[64];
    build_lag();
    lec_metrics_piece p1 = eval(&G2, NULL, 0, e, px);
    CHECK(lec_metrics_total_add(tot, &p1, e, px, &err) == LEC_OK);
    lec_gt_note n[21];
    for (int i = 0; i <= 20; i++) {
        n[i].onset_s = i;
        n[i].x_px = (float)(100 + 40 * i);
    }
    make_events(n, 21, &G2);
    nfr = 0;
    for (int f = 0; f <= 40; f++) {
        double t = f * 0.5;
        fr[nfr].t_end_s = t;
        fr[nfr++].x_px = (t >= 5 && t < 11) ? 100.0f : ev[(int)floor(t)].x_px;
    }
    double tau = 12.0; /* a "jump" at 12 s: events 12, 13, 14 all right -> recovered */
    lec_metrics_piece p2 = eval(&G2, &tau, 1, e, px);
    CHECK(lec_metrics_total_add(tot, &p2, e, px, &err) == LEC_OK);
    lec_metrics_summary s;
    lec_metrics_total_summary(tot, &s);
    CHECK(s.n_pieces == 2 && s.n_events == 61);
    CHECK_NEAR(s.within_total[0], 16.0 / 61.0, 1e-12);
    CHECK_NEAR(s.within_piece_mean[0], (1.0 / 40 + 15.0 / 21) / 2, 1e-12);
    CHECK_NEAR(s.within_total[2], 55.0 / 61.0, 1e-12);
    CHECK_NEAR(s.median_error_s, 0.375, 0);
    CHECK_NEAR(s.mean_error_s, (14.25 + 30) / 61, 1e-12);
    CHECK_NEAR(s.lost_time, 5.5 / 24.875, 1e-12);
    CHECK_NEAR(s.followed_to_end, 1.0, 0);
    CHECK(s.n_jumps == 1 && s.n_recovered == 1);

    cJSON *j = lec_metrics_summary_json(&s);
    CHECK(j != NULL);
    if (j) {
        cJSON *tt = cJSON_GetObjectItem(j, "total_over_onsets");
        cJSON *w = tt ? cJSON_GetObjectItem(tt, "within_0.5s") : NULL;
        CHECK(w && cJSON_IsNumber(w) && fabs(w->valuedouble - 55.0 / 61.0) < 1e-9);
        cJSON_Delete(j);
    }
    cJSON *pj = lec_metrics_piece_json(&p1, "lag");
    CHECK(pj != NULL);
    if (pj) { /* no jumps -> recovered_within_2s is null, not NaN text */
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(pj, "recovered_within_2s")));
        char *txt = cJSON_PrintUnformatted(pj);
        CHECK(txt && strstr(txt, "\"piece\":\"lag\"") && !strstr(txt, "nan"));
        free(txt);
        cJSON_Delete(pj);
    }
    lec_metrics_total_destroy(tot);
    lec_metrics_total_destroy(NULL);
}

static void test_cost(void)
{
    lec_cost_stats c;
    lec_error err;
    double v[5] = {5, 1, 4, 2, 3};
    CHECK(lec_metrics_cost(v, 5, 30, &c, &err) == LEC_OK);
    /* sorted 1..5: median 3; p99 rank ceil(4.95) = 5 -> 5; rtf 30/15 */
    CHECK_NEAR(c.median_s, 3, 0);
    CHECK_NEAR(c.p99_s, 5, 0);
    CHECK_NEAR(c.max_s, 5, 0);
    CHECK_NEAR(c.mean_s, 3, 0);
    CHECK_NEAR(c.rtf, 2, 1e-12);
    double w[4] = {10, 1, 3, 2};
    CHECK(lec_metrics_cost(w, 4, 0, &c, &err) == LEC_OK);
    CHECK_NEAR(c.median_s, 2.5, 0);
    CHECK_NEAR(c.p99_s, 10, 0);
    CHECK_NEAR(c.rtf, 0, 0);
    /* 200 values 1..200: p99 rank 198 */
    double u[200];
    for (int i = 0; i < 200; i++)
        u[i] = 200 - i;
    CHECK(lec_metrics_cost(u, 200, 1, &c, &err) == LEC_OK);
    CHECK_NEAR(c.p99_s, 198, 0);
    CHECK_NEAR(c.median_s, 100.5, 0);
    CHECK(lec_metrics_cost(u, 0, 1, &c, &err) == LEC_EINVAL);
}

static void test_fast_vs_reference(void)
{
    /* random events (with repeated printed positions) over 4 systems with gaps;
     * the indexed mapping inside lec_metrics_piece_eval must equal the
     * reference scan: compare per-event errors recomputed with the reference */
    static const float st[4] = {0, 900, 2000, 3000}, en[4] = {800, 1900, 2900, 3600};
    lec_strip_geom g = {4, st, en, 8};
    lec_gt_note n[200];
    unsigned s = 12345;
    for (int i = 0; i < 200; i++) {
        s = s * 1103515245u + 12345u;
        int sys = (s >> 16) % 3; /* system 3 stays empty on purpose */
        s = s * 1103515245u + 12345u;
        float x = st[sys] + (float)((s >> 16) % 40) * 20.0f;
        n[i].onset_s = 0.05 * i;
        n[i].x_px = x;
    }
    make_events(n, 200, &g);
    nfr = 0;
    for (int f = 0; f < 400; f++) {
        s = s * 1103515245u + 12345u;
        fr[nfr].t_end_s = 0.025 * f;
        fr[nfr++].x_px = (float)((s >> 12) % 3700) - 50.0f;
    }
    double e[200], px[200];
    eval(&g, NULL, 0, e, px);
    int bad = 0;
    for (size_t i = 0; i < nev; i++) {
        long f = -1;
        for (size_t k = 0; k < nfr; k++)
            if (fr[k].t_end_s <= ev[i].t_s)
                f = (long)k;
        double ref = f < 0 ? INFINITY
                           : fabs(lec_metrics_map_time(&g, ev, nev, fr[f].x_px, ev[i].t_s) - ev[i].t_s);
        if (!(ref == e[i]))
            bad++;
    }
    CHECKF(bad == 0, "%d of %zu events differ between index and reference", bad, nev);
}

static void test_bad_input(void)
{
    lec_error err;
    lec_onset_event *e = NULL;
    size_t ne = 0;
    lec_gt_note n[2] = {{1.0, 10}, {NAN, 20}};
    CHECK(lec_metrics_events(n, 2, &G2, &e, &ne, &err) == LEC_EINVAL);
    CHECK(strstr(err.msg, "note 1") != NULL);
    CHECK(lec_metrics_events(n, 0, &G2, &e, &ne, &err) == LEC_EINVAL);
    static const float bs[2] = {0, 500}, be[2] = {1000, 2000};
    lec_strip_geom bad = {2, bs, be, 10};
    CHECK(lec_strip_geom_check(&bad, &err) == LEC_EINVAL);
    CHECK(strstr(err.msg, "system 1") != NULL);
    lec_strip_geom bad2 = {2, s2_start, s2_end, 0};
    CHECK(lec_strip_geom_check(&bad2, &err) == LEC_EINVAL);

    lec_gt_note ok[2] = {{1.0, 10}, {2.0, 20}};
    make_events(ok, 2, &G2);
    lec_report r[2] = {{1.0, 0}, {0.5, 0}};
    lec_metrics_input in = {G2, ev, nev, r, 2, NULL, 0, 0};
    lec_metrics_piece p;
    CHECK(lec_metrics_piece_eval(&in, &p, NULL, NULL, &err) == LEC_EINVAL);
    CHECK(strstr(err.msg, "frame 1") != NULL);
    /* an event whose system does not match its x */
    r[1].t_end_s = 2.0;
    ev[1].system = 1;
    CHECK(lec_metrics_piece_eval(&in, &p, NULL, NULL, &err) == LEC_EINVAL);
    CHECK(strstr(err.msg, "event 1") != NULL);
}

int main(void)
{
    test_grouping();
    test_perfect();
    test_lag();
    test_repeats();
    test_systems();
    test_lost_and_end();
    test_jumps();
    test_summary();
    test_cost();
    test_fast_vs_reference();
    test_bad_input();
    return lec_test_finish("test_metrics");
}
