/* lec_oracle.c -- ground truth as a position source (see header). */
#include "lec_oracle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ORACLE_DT_S 0.02 /* table step: one viewer frame at 50 Hz */

struct lec_oracle {
    const lec_piece *p;
    const lec_unroll *u;
    int rendering;
    double duration_s;
    int n;          /* samples at t = i * ORACLE_DT_S, i < n */
    int *sys;       /* (n) system of the truth, -1 = none */
    float *page_x;  /* (n) page x of the truth */
};

static int idx_of(const lec_oracle *o, double t_s)
{
    long i = lround(t_s / ORACLE_DT_S);
    return i < 0 ? 0 : i >= o->n ? o->n - 1 : (int)i;
}

lec_oracle *lec_oracle_create(const lec_piece *p, const lec_unroll *u, int rendering,
                              lec_error *err)
{
    if (rendering < 0 || rendering >= (int)lec_piece_n_renderings(p)) {
        lec_error_set(err, LEC_EINVAL, "%s: no rendering %d (the piece has %zu)",
                      lec_piece_dir(p), rendering, lec_piece_n_renderings(p));
        return NULL;
    }
    const lec_piece_rendering *r = &lec_piece_renderings(p)[rendering];
    if (lec_unroll_truth_x(u, rendering, 0) < 0) {
        lec_error_set(err, LEC_EFORMAT, "%s: rendering %s has no events with a printed head",
                      lec_piece_dir(p), r->name);
        return NULL;
    }
    lec_oracle *o = calloc(1, sizeof *o);
    if (!o) {
        lec_error_set(err, LEC_ENOMEM, "oracle: out of memory");
        return NULL;
    }
    o->p = p;
    o->u = u;
    o->rendering = rendering;
    o->duration_s = r->duration_s > 0 ? r->duration_s : 0;
    o->n = (int)ceil(o->duration_s / ORACLE_DT_S) + 1;
    o->sys = malloc(sizeof(int) * (size_t)o->n);
    o->page_x = malloc(sizeof(float) * (size_t)o->n);
    if (!o->sys || !o->page_x) {
        lec_error_set(err, LEC_ENOMEM, "oracle: out of memory");
        lec_oracle_destroy(o);
        return NULL;
    }
    for (int i = 0; i < o->n; i++) {
        float x = lec_unroll_truth_x(u, rendering, i * ORACLE_DT_S);
        int page;
        o->sys[i] = x < 0 ? -1 : lec_unroll_to_page(u, x, &page, &o->page_x[i]);
        if (x < 0)
            o->page_x[i] = 0;
    }
    return o;
}

void lec_oracle_destroy(lec_oracle *o)
{
    if (!o)
        return;
    free(o->sys);
    free(o->page_x);
    free(o);
}

double lec_oracle_duration_s(const lec_oracle *o) { return o->duration_s; }

void lec_oracle_position(const lec_oracle *o, double t_s, lec_view_pos *out)
{
    memset(out, 0, sizeof *out);
    out->time_s = t_s;
    float x = lec_unroll_truth_x(o->u, o->rendering, t_s);
    if (x < 0)
        return;
    int page = 0;
    float px = 0;
    int k = lec_unroll_to_page(o->u, x, &page, &px);
    if (k < 0 || k >= (int)lec_piece_n_systems(o->p))
        return;
    const lec_piece_system *s = &lec_piece_systems(o->p)[k];
    out->valid = 1;
    out->page = page;
    out->system = k;
    out->page_x_px = px;
    out->sys_y0_px = s->box.y0;
    out->sys_y1_px = s->box.y1;
    out->confidence = 1;
    out->lost = 0;
    out->tempo = (float)lec_piece_renderings(o->p)[o->rendering].tempo_factor;
}

double lec_oracle_nudge_s(const lec_oracle *o, double t_s, int delta)
{
    int i = idx_of(o, t_s);
    int c = o->sys[i];
    if (delta > 0) {
        for (int j = i + 1; j < o->n; j++)
            if (o->sys[j] != c && o->sys[j] >= 0)
                return j * ORACLE_DT_S;
        return o->duration_s;
    }
    if (delta < 0) {
        int a = i; /* start of the current system's passage */
        while (a > 0 && o->sys[a - 1] == c)
            a--;
        if (a == 0)
            return 0;
        int b = a - 1, pc = o->sys[b];
        while (b > 0 && o->sys[b - 1] == pc)
            b--;
        return b * ORACLE_DT_S;
    }
    return t_s;
}

double lec_oracle_seek_s(const lec_oracle *o, double t_s, int system, float page_x)
{
    double best = t_s, best_d = INFINITY;
    for (int j = 0; j < o->n; j++) {
        if (o->sys[j] != system)
            continue;
        /* within this passage of the system: the first sample at or right of
         * page_x, or the passage's last sample */
        int e = j;
        while (e + 1 < o->n && o->sys[e + 1] == system)
            e++;
        int hit = e;
        for (int k = j; k <= e; k++)
            if (o->page_x[k] >= page_x) {
                hit = k;
                break;
            }
        double t = hit * ORACLE_DT_S, d = fabs(t - t_s);
        if (d < best_d) {
            best_d = d;
            best = t;
        }
        j = e;
    }
    return best;
}
