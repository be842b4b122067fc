/* lec_metrics.c -- see lec_metrics.h for every definition used here. */
#include "lec_metrics.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const double lec_metrics_bounds_s[LEC_METRICS_N_BOUNDS] = {0.05, 0.1, 0.5, 1.0, 5.0};

#define GROUP_S 0.010       /* onset grouping (EVALUATION.md) */
#define SAME_POS_PX 0.5     /* "same printed position" tolerance */
#define CLIP_S 5.0          /* mean error clipping, lost_time threshold */
#define FOLLOW_S 1.0        /* followed_to_end and recovery bound */
#define RECOVER_S 2.0

/* ---------------------------------------------------------------- geometry */

lec_status lec_strip_geom_check(const lec_strip_geom *g, lec_error *err)
{
    if (!g)
        return lec_error_set(err, LEC_EINVAL, "strip geometry: NULL");
    if (g->n_systems < 1 || !g->sys_start_px || !g->sys_end_px)
        return lec_error_set(err, LEC_EINVAL, "strip geometry: need at least one system (got %d)",
                             g->n_systems);
    if (!(g->staff_space_px > 0.0f) || !isfinite(g->staff_space_px))
        return lec_error_set(err, LEC_EINVAL, "strip geometry: staff space %g px must be > 0",
                             (double)g->staff_space_px);
    for (int k = 0; k < g->n_systems; k++) {
        float a = g->sys_start_px[k], b = g->sys_end_px[k];
        if (!isfinite(a) || !isfinite(b) || !(b > a))
            return lec_error_set(err, LEC_EINVAL,
                                 "strip geometry: system %d spans [%g, %g) px, needs end > start", k,
                                 (double)a, (double)b);
        if (k > 0 && a < g->sys_end_px[k - 1])
            return lec_error_set(err, LEC_EINVAL,
                                 "strip geometry: system %d starts at %g px, before system %d ends (%g px)",
                                 k, (double)a, k - 1, (double)g->sys_end_px[k - 1]);
    }
    return LEC_OK;
}

int lec_strip_system_of(const lec_strip_geom *g, float x)
{
    /* binary search: last system whose start <= x */
    int lo = 0, hi = g->n_systems - 1;
    if (x < g->sys_start_px[0])
        return 0;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (g->sys_start_px[mid] <= x)
            lo = mid;
        else
            hi = mid - 1;
    }
    if (x < g->sys_end_px[lo] || lo == g->n_systems - 1)
        return lo;
    /* in the gap after system lo: nearest of lo and lo+1, ties -> lower */
    float d0 = x - g->sys_end_px[lo], d1 = g->sys_start_px[lo + 1] - x;
    return d1 < d0 ? lo + 1 : lo;
}

/* ------------------------------------------------------------ onset events */

static int cmp_note_time(const void *a, const void *b)
{
    const lec_gt_note *x = a, *y = b;
    if (x->onset_s < y->onset_s)
        return -1;
    if (x->onset_s > y->onset_s)
        return 1;
    return (x->x_px > y->x_px) - (x->x_px < y->x_px);
}

lec_status lec_metrics_events(const lec_gt_note *notes, size_t n, const lec_strip_geom *geom,
                              lec_onset_event **events, size_t *n_events, lec_error *err)
{
    if (!events || !n_events)
        return lec_error_set(err, LEC_EINVAL, "onset events: NULL output");
    *events = NULL;
    *n_events = 0;
    if (n == 0 || !notes)
        return lec_error_set(err, LEC_EINVAL, "onset events: no ground-truth notes");
    lec_status st = lec_strip_geom_check(geom, err);
    if (st != LEC_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(notes[i].onset_s) || !isfinite(notes[i].x_px))
            return lec_error_set(err, LEC_EINVAL,
                                 "onset events: note %zu has a non-finite onset or position", i);
    lec_gt_note *s = malloc(n * sizeof *s);
    lec_onset_event *ev = malloc(n * sizeof *ev);
    if (!s || !ev) {
        free(s);
        free(ev);
        return lec_error_set(err, LEC_ENOMEM, "onset events: out of memory for %zu notes", n);
    }
    memcpy(s, notes, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_note_time);
    size_t ne = 0;
    for (size_t i = 0; i < n;) {
        double t0 = s[i].onset_s;
        float xmin = s[i].x_px;
        size_t j = i + 1;
        /* anchored at the first onset: members are pairwise within 10 ms */
        while (j < n && s[j].onset_s - t0 <= GROUP_S + 1e-12) {
            if (s[j].x_px < xmin)
                xmin = s[j].x_px;
            j++;
        }
        ev[ne].t_s = t0;
        ev[ne].x_px = xmin;
        ev[ne].system = lec_strip_system_of(geom, xmin);
        ev[ne].n_notes = (int)(j - i);
        ne++;
        i = j;
    }
    free(s);
    *events = ev;
    *n_events = ne;
    return LEC_OK;
}

/* ------------------------------------------------------- position -> time */

/* Choose among candidates [lo..hi] (events whose |p - x| <= dmin + tol) the
 * performance time nearest to t. Reference version: linear scan. */
double lec_metrics_map_time(const lec_strip_geom *geom, const lec_onset_event *ev, size_t n,
                            float x, double t)
{
    if (n == 0)
        return NAN;
    int sys = lec_strip_system_of(geom, x);
    int any_in_sys = 0;
    for (size_t j = 0; j < n; j++)
        if (ev[j].system == sys) {
            any_in_sys = 1;
            break;
        }
    double dmin = INFINITY;
    for (size_t j = 0; j < n; j++)
        if (!any_in_sys || ev[j].system == sys) {
            double d = fabs((double)ev[j].x_px - x);
            if (d < dmin)
                dmin = d;
        }
    double best_t = NAN, best_dt = INFINITY;
    for (size_t j = 0; j < n; j++) { /* sorted by time: first of equal |dt| is earlier */
        if (any_in_sys && ev[j].system != sys)
            continue;
        double d = fabs((double)ev[j].x_px - x);
        if (d > dmin + SAME_POS_PX)
            continue;
        double dt = fabs(ev[j].t_s - t);
        if (dt < best_dt) {
            best_dt = dt;
            best_t = ev[j].t_s;
        }
    }
    return best_t;
}

/* Fast version: event indices sorted by strip x; per system the range of that
 * order. Same results as lec_metrics_map_time (the test checks it). */
typedef struct map_index {
    const lec_strip_geom *geom;
    const lec_onset_event *ev;
    size_t n;
    size_t *by_x;       /* (n) event indices sorted by x, then time */
    size_t *sys_lo;     /* (n_systems) first position in by_x of the system */
    size_t *sys_hi;     /* (n_systems) one past the last */
} map_index;

/* qsort has no context argument in C11; sort by a simple merge sort instead so
 * that the module stays reentrant (no global). */
static void sort_idx_by_x(size_t *v, size_t *tmp, size_t n, const lec_onset_event *ev)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    sort_idx_by_x(v, tmp, h, ev);
    sort_idx_by_x(v + h, tmp, n - h, ev);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        const lec_onset_event *a = &ev[v[i]], *b = &ev[v[j]];
        int take_left = a->x_px < b->x_px || (a->x_px == b->x_px && v[i] < v[j]);
        tmp[k++] = take_left ? v[i++] : v[j++];
    }
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

static lec_status index_build(map_index *ix, const lec_strip_geom *geom, const lec_onset_event *ev,
                              size_t n, lec_error *err)
{
    memset(ix, 0, sizeof *ix);
    ix->geom = geom;
    ix->ev = ev;
    ix->n = n;
    int ns = geom->n_systems;
    ix->by_x = malloc(n * sizeof *ix->by_x);
    size_t *tmp = malloc(n * sizeof *tmp);
    ix->sys_lo = malloc((size_t)ns * sizeof *ix->sys_lo);
    ix->sys_hi = malloc((size_t)ns * sizeof *ix->sys_hi);
    if (!ix->by_x || !tmp || !ix->sys_lo || !ix->sys_hi) {
        free(tmp);
        free(ix->by_x);
        free(ix->sys_lo);
        free(ix->sys_hi);
        return lec_error_set(err, LEC_ENOMEM, "metrics: out of memory for %zu events", n);
    }
    for (size_t i = 0; i < n; i++)
        ix->by_x[i] = i;
    sort_idx_by_x(ix->by_x, tmp, n, ev);
    free(tmp);
    /* x-sorted order groups systems together (systems are increasing along the
     * strip and an event's system is a function of its x). */
    for (int k = 0; k < ns; k++)
        ix->sys_lo[k] = ix->sys_hi[k] = 0;
    for (size_t p = 0; p < n;) {
        int k = ev[ix->by_x[p]].system;
        size_t q = p;
        while (q < n && ev[ix->by_x[q]].system == k)
            q++;
        ix->sys_lo[k] = p;
        ix->sys_hi[k] = q;
        p = q;
    }
    return LEC_OK;
}

static void index_free(map_index *ix)
{
    free(ix->by_x);
    free(ix->sys_lo);
    free(ix->sys_hi);
    memset(ix, 0, sizeof *ix);
}

static double index_map(const map_index *ix, float x, double t)
{
    int sys = lec_strip_system_of(ix->geom, x);
    size_t lo = ix->sys_lo[sys], hi = ix->sys_hi[sys];
    if (lo == hi) { /* no events in the reported system: the whole strip */
        lo = 0;
        hi = ix->n;
    }
    const size_t *o = ix->by_x;
    const lec_onset_event *ev = ix->ev;
    /* first position in [lo,hi) with x_px >= x */
    size_t a = lo, b = hi;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (ev[o[m]].x_px < x)
            a = m + 1;
        else
            b = m;
    }
    double dmin = INFINITY;
    if (a < hi)
        dmin = fabs((double)ev[o[a]].x_px - x);
    if (a > lo) {
        double d = fabs((double)ev[o[a - 1]].x_px - x);
        if (d < dmin)
            dmin = d;
    }
    double best_t = NAN, best_dt = INFINITY;
    size_t best_j = SIZE_MAX;
    /* walk both ways while within dmin + tol */
    for (size_t p = a; p < hi; p++) {
        double d = fabs((double)ev[o[p]].x_px - x);
        if (d > dmin + SAME_POS_PX)
            break;
        double dt = fabs(ev[o[p]].t_s - t);
        if (dt < best_dt || (dt == best_dt && o[p] < best_j)) {
            best_dt = dt;
            best_t = ev[o[p]].t_s;
            best_j = o[p];
        }
    }
    for (size_t p = a; p > lo; p--) {
        size_t q = p - 1;
        double d = fabs((double)ev[o[q]].x_px - x);
        if (d > dmin + SAME_POS_PX)
            break;
        double dt = fabs(ev[o[q]].t_s - t);
        if (dt < best_dt || (dt == best_dt && o[q] < best_j)) {
            best_dt = dt;
            best_t = ev[o[q]].t_s;
            best_j = o[q];
        }
    }
    return best_t;
}

/* ------------------------------------------------------------------ stats */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double lec_metrics_median(const double *v, size_t n)
{
    if (n == 0 || !v)
        return NAN;
    double *c = malloc(n * sizeof *c);
    if (!c)
        return NAN;
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    double m = (n % 2) ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    /* inf + inf / 2 stays inf; inf mixed with finite stays inf: fine */
    free(c);
    return m;
}

lec_status lec_metrics_cost(const double *v, size_t n, double audio_s, lec_cost_stats *out,
                            lec_error *err)
{
    if (!out)
        return lec_error_set(err, LEC_EINVAL, "cost stats: NULL output");
    memset(out, 0, sizeof *out);
    if (n == 0 || !v)
        return lec_error_set(err, LEC_EINVAL, "cost stats: no frame timings");
    double *c = malloc(n * sizeof *c);
    if (!c)
        return lec_error_set(err, LEC_ENOMEM, "cost stats: out of memory for %zu timings", n);
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += c[i];
    size_t r99 = (size_t)ceil(0.99 * (double)n); /* 1-based nearest rank */
    if (r99 < 1)
        r99 = 1;
    out->n = n;
    out->median_s = (n % 2) ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    out->p99_s = c[r99 - 1];
    out->max_s = c[n - 1];
    out->total_s = sum;
    out->mean_s = sum / (double)n;
    out->rtf = (sum > 0 && audio_s > 0) ? audio_s / sum : 0.0;
    free(c);
    return LEC_OK;
}

/* ------------------------------------------------------------ piece eval */

/* index of the last frame with t_end <= t, or -1 (frames sorted by t_end) */
static long last_frame_before(const lec_report *f, size_t n, double t)
{
    size_t a = 0, b = n; /* first frame with t_end > t */
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (f[m].t_end_s <= t)
            a = m + 1;
        else
            b = m;
    }
    return (long)a - 1;
}

lec_status lec_metrics_piece_eval(const lec_metrics_input *in, lec_metrics_piece *out,
                                  double *err_s, double *px_ss, lec_error *err)
{
    if (!in || !out)
        return lec_error_set(err, LEC_EINVAL, "metrics: NULL argument");
    memset(out, 0, sizeof *out);
    lec_status st = lec_strip_geom_check(&in->geom, err);
    if (st != LEC_OK)
        return st;
    size_t n = in->n_events, nf = in->n_frames;
    const lec_onset_event *ev = in->events;
    if (n == 0 || !ev)
        return lec_error_set(err, LEC_EINVAL, "metrics: no onset events");
    if (nf > 0 && !in->frames)
        return lec_error_set(err, LEC_EINVAL, "metrics: NULL frames");
    if (in->n_jumps > 0 && !in->jumps_s)
        return lec_error_set(err, LEC_EINVAL, "metrics: NULL jump times");
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(ev[i].t_s) || !isfinite(ev[i].x_px) || ev[i].system < 0 ||
            ev[i].system >= in->geom.n_systems)
            return lec_error_set(err, LEC_EINVAL, "metrics: onset event %zu is invalid", i);
        if (ev[i].system != lec_strip_system_of(&in->geom, ev[i].x_px))
            return lec_error_set(err, LEC_EINVAL,
                                 "metrics: onset event %zu says system %d but x %.1f px lies in system %d",
                                 i, ev[i].system, (double)ev[i].x_px,
                                 lec_strip_system_of(&in->geom, ev[i].x_px));
        if (i > 0 && ev[i].t_s < ev[i - 1].t_s)
            return lec_error_set(err, LEC_EINVAL,
                                 "metrics: onset events not sorted by time (event %zu)", i);
    }
    for (size_t f = 0; f < nf; f++) {
        if (!isfinite(in->frames[f].t_end_s) || !isfinite(in->frames[f].x_px))
            return lec_error_set(err, LEC_EINVAL, "metrics: frame %zu has a non-finite time or x", f);
        if (f > 0 && in->frames[f].t_end_s < in->frames[f - 1].t_end_s)
            return lec_error_set(err, LEC_EINVAL,
                                 "metrics: frame end times decrease at frame %zu (%.6f < %.6f s)", f,
                                 in->frames[f].t_end_s, in->frames[f - 1].t_end_s);
    }
    int confirm = in->confirm_events > 0 ? in->confirm_events : 3;

    map_index ix;
    st = index_build(&ix, &in->geom, ev, n, err);
    if (st != LEC_OK)
        return st;
    double *e = malloc(n * sizeof *e);
    double *px = malloc(n * sizeof *px);
    if (!e || !px) {
        free(e);
        free(px);
        index_free(&ix);
        return lec_error_set(err, LEC_ENOMEM, "metrics: out of memory for %zu events", n);
    }

    /* per-onset errors */
    double ss = in->geom.staff_space_px;
    double sum_clip = 0;
    for (size_t i = 0; i < n; i++) {
        long f = nf ? last_frame_before(in->frames, nf, ev[i].t_s) : -1;
        if (f < 0) {
            e[i] = INFINITY;
            px[i] = INFINITY;
        } else {
            float x = in->frames[f].x_px;
            double th = index_map(&ix, x, ev[i].t_s);
            e[i] = fabs(th - ev[i].t_s);
            px[i] = fabs((double)x - ev[i].x_px) / ss;
        }
        for (int b = 0; b < LEC_METRICS_N_BOUNDS; b++)
            if (e[i] <= lec_metrics_bounds_s[b])
                out->n_within[b]++;
        sum_clip += e[i] < CLIP_S ? e[i] : CLIP_S;
    }
    out->n_events = n;
    for (int b = 0; b < LEC_METRICS_N_BOUNDS; b++)
        out->within[b] = (double)out->n_within[b] / (double)n;
    out->median_error_s = lec_metrics_median(e, n);
    out->mean_error_s = sum_clip / (double)n;
    out->median_px_error_ss = lec_metrics_median(px, n);

    /* followed to end: last ceil(10%) events */
    size_t n_end = (size_t)ceil(0.1 * (double)n);
    if (n_end < 1)
        n_end = 1;
    out->followed_to_end = 1;
    for (size_t i = n - n_end; i < n; i++)
        if (!(e[i] <= FOLLOW_S))
            out->followed_to_end = 0;

    /* lost time: per-frame error, each report held until the next frame end */
    double t0 = ev[0].t_s, t1 = ev[n - 1].t_s;
    out->span_s = t1 - t0;
    out->lost_s = 0;
    if (out->span_s > 0) {
        double period = 0;
        if (nf >= 2) { /* median frame period for the last frame's hold */
            double *d = malloc((nf - 1) * sizeof *d);
            if (d) {
                for (size_t f = 0; f + 1 < nf; f++)
                    d[f] = in->frames[f + 1].t_end_s - in->frames[f].t_end_s;
                period = lec_metrics_median(d, nf - 1);
                free(d);
            }
        }
        /* audio before the first report: nothing reported -> lost */
        double covered_from = nf ? in->frames[0].t_end_s : t1;
        if (covered_from > t0)
            out->lost_s += (covered_from < t1 ? covered_from : t1) - t0;
        for (size_t f = 0; f < nf; f++) {
            double a = in->frames[f].t_end_s;
            double b = (f + 1 < nf) ? in->frames[f + 1].t_end_s : a + period;
            if (a < t0)
                a = t0;
            if (b > t1)
                b = t1;
            if (b <= a)
                continue;
            double tf = in->frames[f].t_end_s;
            double th = index_map(&ix, in->frames[f].x_px, tf);
            if (fabs(th - tf) > CLIP_S)
                out->lost_s += b - a;
        }
        out->lost_time = out->lost_s / out->span_s;
    }

    /* jump recovery */
    out->n_jumps = in->n_jumps;
    for (size_t k = 0; k < in->n_jumps; k++) {
        double tau = in->jumps_s[k];
        size_t i = 0;
        while (i < n && ev[i].t_s < tau)
            i++;
        for (; i < n && ev[i].t_s - tau <= RECOVER_S; i++) {
            int ok = 1;
            for (size_t j = i; j < n && j < i + (size_t)confirm; j++)
                if (!(e[j] <= FOLLOW_S)) {
                    ok = 0;
                    break;
                }
            if (ok) {
                out->n_recovered++;
                break;
            }
        }
    }
    out->recovered_within_2s =
        in->n_jumps ? (double)out->n_recovered / (double)in->n_jumps : NAN;

    if (err_s)
        memcpy(err_s, e, n * sizeof *e);
    if (px_ss)
        memcpy(px_ss, px, n * sizeof *px);
    free(e);
    free(px);
    index_free(&ix);
    return LEC_OK;
}

/* ------------------------------------------------------------ summary */

struct lec_metrics_total {
    double *e, *px;
    size_t n, cap;
    size_t n_pieces;
    size_t n_within[LEC_METRICS_N_BOUNDS];
    double sum_piece_within[LEC_METRICS_N_BOUNDS];
    double sum_clip;
    size_t n_followed;
    double lost_s, span_s;
    size_t n_jumps, n_recovered;
};

lec_metrics_total *lec_metrics_total_create(lec_error *err)
{
    lec_metrics_total *t = calloc(1, sizeof *t);
    if (!t)
        lec_error_set(err, LEC_ENOMEM, "metrics summary: out of memory");
    return t;
}

void lec_metrics_total_destroy(lec_metrics_total *t)
{
    if (!t)
        return;
    free(t->e);
    free(t->px);
    free(t);
}

lec_status lec_metrics_total_add(lec_metrics_total *t, const lec_metrics_piece *p,
                                 const double *err_s, const double *px_ss, lec_error *err)
{
    if (!t || !p || !err_s || !px_ss)
        return lec_error_set(err, LEC_EINVAL, "metrics summary: NULL argument");
    if (t->n + p->n_events > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->n + p->n_events)
            cap *= 2;
        double *e = realloc(t->e, cap * sizeof *e);
        if (!e)
            return lec_error_set(err, LEC_ENOMEM, "metrics summary: out of memory");
        t->e = e;
        double *px = realloc(t->px, cap * sizeof *px);
        if (!px)
            return lec_error_set(err, LEC_ENOMEM, "metrics summary: out of memory");
        t->px = px;
        t->cap = cap;
    }
    memcpy(t->e + t->n, err_s, p->n_events * sizeof *err_s);
    memcpy(t->px + t->n, px_ss, p->n_events * sizeof *px_ss);
    t->n += p->n_events;
    for (size_t i = 0; i < p->n_events; i++)
        t->sum_clip += err_s[i] < CLIP_S ? err_s[i] : CLIP_S;
    for (int b = 0; b < LEC_METRICS_N_BOUNDS; b++) {
        t->n_within[b] += p->n_within[b];
        t->sum_piece_within[b] += p->within[b];
    }
    t->n_pieces++;
    t->n_followed += p->followed_to_end ? 1 : 0;
    t->lost_s += p->lost_s;
    t->span_s += p->span_s;
    t->n_jumps += p->n_jumps;
    t->n_recovered += p->n_recovered;
    return LEC_OK;
}

void lec_metrics_total_summary(const lec_metrics_total *t, lec_metrics_summary *s)
{
    memset(s, 0, sizeof *s);
    s->n_pieces = t->n_pieces;
    s->n_events = t->n;
    for (int b = 0; b < LEC_METRICS_N_BOUNDS; b++) {
        s->within_total[b] = t->n ? (double)t->n_within[b] / (double)t->n : NAN;
        s->within_piece_mean[b] = t->n_pieces ? t->sum_piece_within[b] / (double)t->n_pieces : NAN;
    }
    s->median_error_s = lec_metrics_median(t->e, t->n);
    s->mean_error_s = t->n ? t->sum_clip / (double)t->n : NAN;
    s->median_px_error_ss = lec_metrics_median(t->px, t->n);
    s->followed_to_end = t->n_pieces ? (double)t->n_followed / (double)t->n_pieces : NAN;
    s->lost_time = t->span_s > 0 ? t->lost_s / t->span_s : 0.0;
    s->n_jumps = t->n_jumps;
    s->n_recovered = t->n_recovered;
    s->recovered_within_2s = t->n_jumps ? (double)t->n_recovered / (double)t->n_jumps : NAN;
}

/* ------------------------------------------------------------ JSON */

static int add_num(cJSON *o, const char *k, double v)
{
    cJSON *item = isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
    if (!item)
        return 0;
    cJSON_AddItemToObject(o, k, item);
    return 1;
}

static const char *within_key[LEC_METRICS_N_BOUNDS] = {"within_0.05s", "within_0.1s", "within_0.5s",
                                                        "within_1s", "within_5s"};

cJSON *lec_metrics_piece_json(const lec_metrics_piece *p, const char *name)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int ok = 1;
    if (name)
        ok &= cJSON_AddStringToObject(o, "piece", name) != NULL;
    ok &= add_num(o, "n_events", (double)p->n_events);
    for (int b = 0; b < LEC_METRICS_N_BOUNDS; b++)
        ok &= add_num(o, within_key[b], p->within[b]);
    ok &= add_num(o, "median_error_s", p->median_error_s);
    ok &= add_num(o, "mean_error_s", p->mean_error_s);
    ok &= add_num(o, "median_px_error_ss", p->median_px_error_ss);
    ok &= cJSON_AddBoolToObject(o, "followed_to_end", p->followed_to_end) != NULL;
    ok &= add_num(o, "lost_time", p->lost_time);
    ok &= add_num(o, "n_jumps", (double)p->n_jumps);
    ok &= add_num(o, "recovered_within_2s", p->recovered_within_2s);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *lec_metrics_summary_json(const lec_metrics_summary *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *tot = cJSON_CreateObject();
    cJSON *mean = cJSON_CreateObject();
    if (!o || !tot || !mean) {
        cJSON_Delete(o);
        cJSON_Delete(tot);
        cJSON_Delete(mean);
        return NULL;
    }
    int ok = 1;
    for (int b = 0; b < LEC_METRICS_N_BOUNDS; b++) {
        ok &= add_num(tot, within_key[b], s->within_total[b]);
        ok &= add_num(mean, within_key[b], s->within_piece_mean[b]);
    }
    cJSON_AddItemToObject(o, "total_over_onsets", tot);
    cJSON_AddItemToObject(o, "mean_over_pieces", mean);
    ok &= add_num(o, "n_pieces", (double)s->n_pieces);
    ok &= add_num(o, "n_events", (double)s->n_events);
    ok &= add_num(o, "median_error_s", s->median_error_s);
    ok &= add_num(o, "mean_error_s", s->mean_error_s);
    ok &= add_num(o, "median_px_error_ss", s->median_px_error_ss);
    ok &= add_num(o, "followed_to_end", s->followed_to_end);
    ok &= add_num(o, "lost_time", s->lost_time);
    ok &= add_num(o, "n_jumps", (double)s->n_jumps);
    ok &= add_num(o, "recovered_within_2s", s->recovered_within_2s);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *lec_metrics_cost_json(const lec_cost_stats *c)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int ok = 1;
    ok &= add_num(o, "n_frames", (double)c->n);
    ok &= add_num(o, "median_ms", c->median_s * 1e3);
    ok &= add_num(o, "p99_ms", c->p99_s * 1e3);
    ok &= add_num(o, "max_ms", c->max_s * 1e3);
    ok &= add_num(o, "mean_ms", c->mean_s * 1e3);
    ok &= add_num(o, "realtime_factor", c->rtf);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
