/* lec_perform.c -- musical-time notes -> MIDI performance + exact ground
 * truth; see lec_perform.h for the timing design. */
#include "lec_perform.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PERF_MAX_S (24.0 * 3600.0)
#define PERF_MAX_NOTES ((size_t)2 << 20)
#define CURVE_K 3                 /* sinusoids in the log-tempo curve */
#define GRID_WN (1.0 / 32)        /* integration table step, whole notes */
#define GRID_MAX_NODES (1u << 20) /* longer inputs get a coarser step (16 MB cap) */
#define ONSET_EPS_WN 1e-9         /* onsets closer than this are one chord */

/* The smooth time map T(w), seconds at musical time w (whole notes):
 * T(w) = integral_0^w spw(x) * exp(-g(x)) / factor dx, where spw is the
 * score's seconds per whole note (piecewise constant, 240 / quarter_bpm) and
 * g the humanized log-tempo curve (0 when plain). Tabulated at GRID_WN steps
 * and at the tempo changes, so spw is constant inside each table interval and
 * Simpson's rule on the smooth exp(-g) is accurate to ~1e-12 s; exactness of
 * the ground truth does not depend on it (ticks are computed once from T and
 * the ground truth is computed from the ticks). */
typedef struct time_map {
    double factor;
    int humanize;
    double amp[CURVE_K], omega[CURVE_K], phase[CURVE_K]; /* g(w) = sum amp sin(omega w + phase) */
    double *tempo_at;                                    /* n_tempo breakpoints (wn), first = 0 */
    double *tempo_spw; /* seconds per whole note from tempo_at[j] on */
    size_t n_tempo;
    double step;  /* table step, GRID_WN unless the input is absurdly long */
    double *node; /* n_node table nodes (wn), increasing, node[0] = 0 */
    double *cum;  /* T(node[i]) */
    size_t n_node;
} time_map;

struct lec_perform {
    lec_perform_config cfg;
    time_map tm;
    size_t n;
    lec_perform_onset *onsets;
    lec_midi *midi;
    double last_off_s, duration_s;
};

/* ---------------------------------------------------------------- random */

/* splitmix64: a keyed hash gives every draw its own reproducible value,
 * independent of the order in which notes are processed. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint64_t key3(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b)
{
    return mix64(mix64(mix64(seed ^ mix64(stream)) ^ a) ^ (b * 0xD1B54A32D192ED03ull));
}

/* Uniform in (0, 1). */
static double unif(uint64_t h) { return ((double)(h >> 11) + 0.5) / 9007199254740992.0; }

/* Standard normal (Box-Muller) from one key. */
static double gauss(uint64_t h)
{
    double u1 = unif(h), u2 = unif(mix64(h));
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

enum { STREAM_CURVE = 1, STREAM_ASYNC, STREAM_JITTER, STREAM_VELOCITY };

/* ---------------------------------------------------------------- time map */

static double curve_g(const time_map *tm, double w)
{
    if (!tm->humanize)
        return 0.0;
    double g = 0.0;
    for (int k = 0; k < CURVE_K; k++)
        g += tm->amp[k] * sin(tm->omega[k] * w + tm->phase[k]);
    return g;
}

/* Seconds per whole note of the score tempo at w (no factor, no curve). */
static double score_spw(const time_map *tm, double w)
{
    size_t lo = 0, hi = tm->n_tempo;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tm->tempo_at[mid] <= w)
            lo = mid;
        else
            hi = mid;
    }
    return tm->tempo_spw[lo];
}

/* Integral of exp(-g) over [a, b] with composite Simpson (2 panels) -- callers
 * keep b - a <= tm->step. */
static double simpson_expg(const time_map *tm, double a, double b)
{
    if (!tm->humanize)
        return b - a;
    double h = (b - a) / 4.0, s = 0.0;
    for (int i = 0; i <= 4; i++) {
        double wgt = (i == 0 || i == 4) ? 1.0 : (i % 2 ? 4.0 : 2.0);
        s += wgt * exp(-curve_g(tm, a + i * h));
    }
    return s * h / 3.0;
}

static double tm_seconds(const time_map *tm, double w)
{
    if (!(w > 0))
        return 0.0;
    if (w > 1e7)
        w = 1e7; /* far beyond any valid input (notes end before 1e6 wn) */
    size_t lo = 0, hi = tm->n_node;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tm->node[mid] <= w)
            lo = mid;
        else
            hi = mid;
    }
    double t = tm->cum[lo], a = tm->node[lo];
    /* past the table end: keep integrating (spw is constant there); far-away
     * queries use coarser steps so that any w costs at most ~1e5 steps */
    double h = fmax(tm->step, (w - a) / 1e5);
    while (w - a > h) {
        t += score_spw(tm, a) / tm->factor * simpson_expg(tm, a, a + h);
        a += h;
    }
    return t + score_spw(tm, a) / tm->factor * simpson_expg(tm, a, w);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static lec_status tm_build(time_map *tm, const lec_perform_config *cfg, const lec_perform_score *sc,
                           double end_wn, lec_error *err)
{
    tm->factor = cfg->tempo_factor;
    tm->humanize = cfg->humanize;
    if (cfg->humanize) {
        /* Log-tempo curve: periods log-uniform in [min, max] whole notes;
         * amplitudes sum to r * ln(1 + dev) with r in [0.6, 1], so that
         * |g| <= ln(1 + dev): the tempo stays within [1/(1+dev), 1+dev]. */
        double lmin = cfg->tempo_period_min_wn, lmax = cfg->tempo_period_max_wn;
        double wsum = 0.0, wts[CURVE_K];
        for (int k = 0; k < CURVE_K; k++) {
            double L = lmin * pow(lmax / lmin, unif(key3(cfg->seed, STREAM_CURVE, (uint64_t)k, 1)));
            tm->omega[k] = 6.283185307179586 / L;
            tm->phase[k] = 6.283185307179586 * unif(key3(cfg->seed, STREAM_CURVE, (uint64_t)k, 2));
            wts[k] = 0.5 + 0.5 * unif(key3(cfg->seed, STREAM_CURVE, (uint64_t)k, 3));
            wsum += wts[k];
        }
        double r = 0.6 + 0.4 * unif(key3(cfg->seed, STREAM_CURVE, 99, 4));
        for (int k = 0; k < CURVE_K; k++)
            tm->amp[k] = r * log1p(cfg->tempo_dev) * wts[k] / wsum;
    }
    /* tempo breakpoints: first applies from 0; at equal at_wn the last wins */
    size_t nt = sc->n_tempo ? sc->n_tempo : 1;
    tm->tempo_at = malloc(nt * sizeof *tm->tempo_at);
    tm->tempo_spw = malloc(nt * sizeof *tm->tempo_spw);
    if (!tm->tempo_at || !tm->tempo_spw)
        return lec_error_set(err, LEC_ENOMEM, "perform: out of memory");
    tm->n_tempo = 0;
    if (!sc->n_tempo) {
        tm->tempo_at[0] = 0.0;
        tm->tempo_spw[0] = 240.0 / 60.0;
        tm->n_tempo = 1;
    }
    for (size_t j = 0; j < sc->n_tempo; j++) {
        const lec_perform_tempo *tp = &sc->tempo[j];
        if (!isfinite(tp->at_wn) || !isfinite(tp->quarter_bpm) || tp->quarter_bpm <= 0.1 ||
            tp->quarter_bpm > 10000 || tp->at_wn < 0)
            return lec_error_set(err, LEC_EINVAL,
                                 "perform: tempo point %zu (at %g wn, %g bpm) invalid", j,
                                 tp->at_wn, tp->quarter_bpm);
        double at = j == 0 ? 0.0 : tp->at_wn;
        if (tm->n_tempo && at < tm->tempo_at[tm->n_tempo - 1])
            return lec_error_set(err, LEC_EINVAL, "perform: tempo points not sorted at index %zu",
                                 j);
        if (tm->n_tempo && at == tm->tempo_at[tm->n_tempo - 1])
            tm->n_tempo--;
        tm->tempo_at[tm->n_tempo] = at;
        tm->tempo_spw[tm->n_tempo] = 240.0 / tp->quarter_bpm;
        tm->n_tempo++;
    }
    /* table nodes: the grid up to end_wn plus the tempo changes */
    tm->step = fmax(GRID_WN, end_wn / GRID_MAX_NODES);
    size_t ngrid = (size_t)ceil(end_wn / tm->step) + 2;
    tm->node = malloc((ngrid + tm->n_tempo) * sizeof *tm->node);
    tm->cum = malloc((ngrid + tm->n_tempo) * sizeof *tm->cum);
    if (!tm->node || !tm->cum)
        return lec_error_set(err, LEC_ENOMEM, "perform: out of memory (%zu table nodes)", ngrid);
    size_t nn = 0;
    for (size_t i = 0; i < ngrid; i++)
        tm->node[nn++] = (double)i * tm->step;
    for (size_t j = 0; j < tm->n_tempo; j++)
        tm->node[nn++] = tm->tempo_at[j];
    qsort(tm->node, nn, sizeof *tm->node, cmp_double);
    size_t u = 0;
    for (size_t i = 0; i < nn; i++)
        if (u == 0 || tm->node[i] > tm->node[u - 1])
            tm->node[u++] = tm->node[i];
    tm->n_node = u;
    tm->cum[0] = 0.0;
    for (size_t i = 1; i < u; i++)
        tm->cum[i] = tm->cum[i - 1] + score_spw(tm, tm->node[i - 1]) / tm->factor *
                                          simpson_expg(tm, tm->node[i - 1], tm->node[i]);
    return LEC_OK;
}

static void tm_free(time_map *tm)
{
    free(tm->tempo_at);
    free(tm->tempo_spw);
    free(tm->node);
    free(tm->cum);
}

/* ---------------------------------------------------------------- config */

void lec_perform_config_default(lec_perform_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->tempo_factor = 1.0;
    cfg->default_velocity = 80;
    cfg->tail_s = 2.0;
    cfg->humanize = 0;
    cfg->seed = 1;
    cfg->tempo_dev = 0.25;
    cfg->tempo_period_min_wn = 3.0;
    cfg->tempo_period_max_wn = 24.0;
    cfg->async_ms = 30.0;
    cfg->jitter_ms = 8.0;
    cfg->velocity_dev = 0.15;
}

static lec_status check_config(const lec_perform_config *c, lec_error *err)
{
    if (!(c->tempo_factor >= 0.1 && c->tempo_factor <= 10))
        return lec_error_set(err, LEC_EINVAL, "perform: tempo factor %g out of 0.1..10",
                             c->tempo_factor);
    if (c->default_velocity < 1 || c->default_velocity > 127)
        return lec_error_set(err, LEC_EINVAL, "perform: default velocity %d out of 1..127",
                             c->default_velocity);
    if (!(c->tail_s >= 0 && c->tail_s <= 60))
        return lec_error_set(err, LEC_EINVAL, "perform: tail %g s out of 0..60", c->tail_s);
    if (c->humanize) {
        if (!(c->tempo_dev >= 0 && c->tempo_dev <= 1))
            return lec_error_set(err, LEC_EINVAL, "perform: tempo_dev %g out of 0..1",
                                 c->tempo_dev);
        if (!(c->tempo_period_min_wn >= 0.25 && c->tempo_period_max_wn >= c->tempo_period_min_wn &&
              c->tempo_period_max_wn <= 1000))
            return lec_error_set(err, LEC_EINVAL, "perform: tempo periods %g..%g wn invalid",
                                 c->tempo_period_min_wn, c->tempo_period_max_wn);
        if (!(c->async_ms >= 0 && c->async_ms <= 200 && c->jitter_ms >= 0 && c->jitter_ms <= 200))
            return lec_error_set(err, LEC_EINVAL, "perform: async %g / jitter %g ms out of 0..200",
                                 c->async_ms, c->jitter_ms);
        if (!(c->velocity_dev >= 0 && c->velocity_dev <= 1))
            return lec_error_set(err, LEC_EINVAL, "perform: velocity_dev %g out of 0..1",
                                 c->velocity_dev);
    }
    return LEC_OK;
}

/* ---------------------------------------------------------------- events */

/* An event of the output MIDI before insertion: sorted by (tick, prio, order)
 * so that within one tick note-offs come first, then pedal, then note-ons. */
typedef struct pev {
    uint32_t tick;
    uint8_t prio; /* 0 program, 1 note-off, 2 pedal, 3 note-on, 4 end */
    uint8_t channel, d1, d2;
    uint32_t order;
} pev;

static int pev_cmp(const void *a, const void *b)
{
    const pev *x = a, *y = b;
    if (x->tick != y->tick)
        return x->tick < y->tick ? -1 : 1;
    if (x->prio != y->prio)
        return x->prio < y->prio ? -1 : 1;
    if (x->channel != y->channel)
        return x->channel < y->channel ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Notes sorted by (channel, pitch, on_tick) to cut overlaps of one pitch. */
typedef struct note_ref {
    const lec_perform_onset *o;
    size_t idx;
} note_ref;

static int ref_cmp(const void *a, const void *b)
{
    const lec_perform_onset *x = ((const note_ref *)a)->o, *y = ((const note_ref *)b)->o;
    if (x->channel != y->channel)
        return x->channel - y->channel;
    if (x->pitch != y->pitch)
        return x->pitch - y->pitch;
    if (x->on_tick != y->on_tick)
        return x->on_tick < y->on_tick ? -1 : 1;
    size_t i = ((const note_ref *)a)->idx, j = ((const note_ref *)b)->idx;
    return i < j ? -1 : i > j;
}

static int staff_channel(int staff)
{
    /* 0..8 -> 0..8, 9.. -> 10.. (9 is GM percussion), capped at 15 */
    int c = staff < 9 ? staff : staff + 1;
    return c > 15 ? 15 : c;
}

static void push_pev(pev *ev, size_t *n, uint32_t tick, int prio, int channel, int d1, int d2)
{
    ev[*n] = (pev){tick, (uint8_t)prio, (uint8_t)channel, (uint8_t)d1, (uint8_t)d2, (uint32_t)*n};
    (*n)++;
}

static uint32_t s_to_tick(double s) { return (uint32_t)llround(s / LEC_PERFORM_TICK_S); }

/* ---------------------------------------------------------------- create */

lec_perform *lec_perform_create(const lec_perform_config *cfg, const lec_perform_score *sc,
                                lec_error *err)
{
    if (!cfg || !sc || (sc->n_notes && !sc->notes) || (sc->n_tempo && !sc->tempo) ||
        (sc->n_pedal && !sc->pedal)) {
        lec_error_set(err, LEC_EINVAL, "perform: NULL config, score or array");
        return NULL;
    }
    if (check_config(cfg, err) != LEC_OK)
        return NULL;
    if (sc->n_notes > PERF_MAX_NOTES) {
        lec_error_set(err, LEC_EINVAL, "perform: %zu notes (limit %zu)", sc->n_notes,
                      PERF_MAX_NOTES);
        return NULL;
    }
    /* validate notes; find the musical end */
    double end_wn = 0.0;
    for (size_t i = 0; i < sc->n_notes; i++) {
        const lec_perform_note *nt = &sc->notes[i];
        if (!isfinite(nt->onset_wn) || nt->onset_wn < 0 || !isfinite(nt->duration_wn) ||
            nt->duration_wn <= 0 || nt->onset_wn + nt->duration_wn > 1e6) {
            lec_error_set(err, LEC_EINVAL,
                          "perform: note %zu (id %lld): onset %g / duration %g wn invalid", i,
                          (long long)nt->id, nt->onset_wn, nt->duration_wn);
            return NULL;
        }
        if (nt->pitch < 0 || nt->pitch > 127 || nt->velocity < 0 || nt->velocity > 127 ||
            nt->staff < 0) {
            lec_error_set(
                err, LEC_EINVAL,
                "perform: note %zu (id %lld): pitch %d / velocity %d / staff %d out of range", i,
                (long long)nt->id, nt->pitch, nt->velocity, nt->staff);
            return NULL;
        }
        if (nt->onset_wn + nt->duration_wn > end_wn)
            end_wn = nt->onset_wn + nt->duration_wn;
    }
    for (size_t j = 0; j < sc->n_pedal; j++) {
        const lec_perform_pedal *pd = &sc->pedal[j];
        if (!isfinite(pd->at_wn) || pd->at_wn < 0 || pd->at_wn > 1e6 || pd->value < 0 ||
            pd->value > 127) {
            lec_error_set(err, LEC_EINVAL, "perform: pedal event %zu (at %g wn, value %d) invalid",
                          j, pd->at_wn, pd->value);
            return NULL;
        }
        if (pd->at_wn > end_wn)
            end_wn = pd->at_wn;
    }

    lec_perform *p = calloc(1, sizeof *p);
    if (!p) {
        lec_error_set(err, LEC_ENOMEM, "perform: out of memory");
        return NULL;
    }
    p->cfg = *cfg;
    p->n = sc->n_notes;
    double *uon = NULL, *ped_sorted = NULL;
    pev *ev = NULL;
    note_ref *refs = NULL;
    if (tm_build(&p->tm, cfg, sc, end_wn + 1.0, err) != LEC_OK)
        goto fail;
    if (tm_seconds(&p->tm, end_wn) + cfg->tail_s + 1.0 > PERF_MAX_S) {
        lec_error_set(err, LEC_EINVAL, "perform: performance longer than 24 h (%.0f s)",
                      tm_seconds(&p->tm, end_wn));
        goto fail;
    }
    p->onsets = calloc(p->n ? p->n : 1, sizeof *p->onsets);
    uon = malloc((p->n ? p->n : 1) * sizeof *uon);
    if (!p->onsets || !uon) {
        lec_error_set(err, LEC_ENOMEM, "perform: out of memory (%zu notes)", p->n);
        goto fail;
    }

    /* distinct onsets (chords): displacement of a note is limited to 0.4 of
     * the gap to the neighbouring chords, so humanizing never reorders the
     * chords of the score */
    size_t nu = 0;
    for (size_t i = 0; i < p->n; i++)
        uon[i] = sc->notes[i].onset_wn;
    qsort(uon, p->n, sizeof *uon, cmp_double);
    for (size_t i = 0; i < p->n; i++)
        if (nu == 0 || uon[i] - uon[nu - 1] > ONSET_EPS_WN)
            uon[nu++] = uon[i];

    int chan_used[16] = {0};
    for (size_t i = 0; i < p->n; i++) {
        const lec_perform_note *nt = &sc->notes[i];
        lec_perform_onset *o = &p->onsets[i];
        double t_on = tm_seconds(&p->tm, nt->onset_wn);
        double t_end = tm_seconds(&p->tm, nt->onset_wn + nt->duration_wn);
        int vel = nt->velocity ? nt->velocity : cfg->default_velocity;
        if (cfg->humanize) {
            /* chord index u: the last distinct onset <= onset (within eps) */
            size_t lo = 0, hi = nu;
            while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                if (uon[mid] <= nt->onset_wn + ONSET_EPS_WN)
                    lo = mid;
                else
                    hi = mid;
            }
            double gap = INFINITY;
            if (lo > 0)
                gap = fmin(gap, t_on - tm_seconds(&p->tm, uon[lo - 1]));
            if (lo + 1 < nu)
                gap = fmin(gap, tm_seconds(&p->tm, uon[lo + 1]) - t_on);
            /* hand asynchrony: one offset per (chord, staff), sd = max/3;
             * per-note jitter: sd = max/2; both clipped at their maxima */
            double a =
                clampd(gauss(key3(cfg->seed, STREAM_ASYNC, lo, (uint64_t)nt->staff)) / 3.0, -1, 1) *
                cfg->async_ms;
            /* jitter and velocity are keyed by (chord, staff, pitch), not by
             * note: a head shared by two voices (two notes, same pitch, same
             * time, same staff) stays one struck note */
            uint64_t nk = lo * 4096 + (uint64_t)nt->staff * 128 + (uint64_t)nt->pitch;
            double j =
                clampd(gauss(key3(cfg->seed, STREAM_JITTER, nk, 0)) / 2.0, -1, 1) * cfg->jitter_ms;
            double d = (a + j) * 1e-3;
            if (isfinite(gap))
                d = clampd(d, -0.4 * gap, 0.4 * gap);
            t_end += d;
            t_on += d;
            if (t_on < 0) {
                t_end -= t_on;
                t_on = 0;
            }
            double v =
                vel * (1.0 + clampd(gauss(key3(cfg->seed, STREAM_VELOCITY, nk, 0)) / 2.0, -1, 1) *
                                 cfg->velocity_dev);
            vel = (int)lround(clampd(v, 1, 127));
        }
        o->id = nt->id;
        o->pitch = nt->pitch;
        o->velocity = vel;
        o->channel = staff_channel(nt->staff);
        o->on_tick = s_to_tick(t_on);
        o->off_tick = s_to_tick(t_end);
        if (o->off_tick <= o->on_tick)
            o->off_tick = o->on_tick + 1;
        chan_used[o->channel] = 1;
    }
    if (!p->n)
        chan_used[0] = 1;

    /* one pitch on one channel cannot overlap itself in MIDI: cut the earlier
     * note one tick before the next note-on; notes starting on the same tick
     * (unisons) share one MIDI note (sent once, the longest end kept).
     * refs are sorted by the original ticks; p->onsets is updated in place. */
    refs = malloc((p->n ? p->n : 1) * sizeof *refs);
    unsigned char *skip = calloc(p->n ? p->n : 1, 1);
    if (!refs || !skip) {
        free(skip);
        lec_error_set(err, LEC_ENOMEM, "perform: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < p->n; i++)
        refs[i] = (note_ref){&p->onsets[i], i};
    qsort(refs, p->n, sizeof *refs, ref_cmp);
    uint32_t prev_on = 0;
    for (size_t k = 0; k < p->n;) {
        size_t e = k + 1; /* [k, e): same channel, pitch and on_tick */
        while (e < p->n && refs[e].o->channel == refs[k].o->channel &&
               refs[e].o->pitch == refs[k].o->pitch && refs[e].o->on_tick == refs[k].o->on_tick)
            e++;
        int same_prev = k > 0 && refs[k - 1].o->channel == refs[k].o->channel &&
                        refs[k - 1].o->pitch == refs[k].o->pitch;
        int same_next = e < p->n && refs[e].o->channel == refs[k].o->channel &&
                        refs[e].o->pitch == refs[k].o->pitch;
        /* a re-strike needs the previous note-off strictly between the two
         * note-ons (within a tick note-offs are sent first): notes of one
         * pitch less than 2 ticks (1 ms) apart are moved to 2 ticks apart;
         * the ground truth follows, being computed from the ticks below */
        uint32_t on = refs[k].o->on_tick;
        if (same_prev && on < prev_on + 2)
            on = prev_on + 2;
        uint32_t off = 0;
        for (size_t q = k; q < e; q++)
            if (refs[q].o->off_tick > off)
                off = refs[q].o->off_tick;
        if (off <= on)
            off = on + 1;
        if (same_next) {
            uint32_t next_on = refs[e].o->on_tick > on + 2 ? refs[e].o->on_tick : on + 2;
            if (off >= next_on)
                off = next_on - 1;
        }
        for (size_t q = k; q < e; q++) {
            p->onsets[refs[q].idx].on_tick = on;
            p->onsets[refs[q].idx].off_tick = off;
            if (q > k)
                skip[refs[q].idx] = 1;
        }
        prev_on = on;
        k = e;
    }

    /* events */
    size_t nev = 0, cap = 2 * p->n + 16 * (sc->n_pedal + 2);
    ev = malloc(cap * sizeof *ev);
    if (!ev) {
        free(skip);
        lec_error_set(err, LEC_ENOMEM, "perform: out of memory");
        goto fail;
    }
    uint32_t last_off = 0;
    for (int c = 0; c < 16; c++)
        if (chan_used[c])
            push_pev(ev, &nev, 0, 0, c, 0, 0);
    for (size_t i = 0; i < p->n; i++) {
        const lec_perform_onset *o = &p->onsets[i];
        if (o->off_tick > last_off)
            last_off = o->off_tick;
        if (skip[i])
            continue;
        push_pev(ev, &nev, o->on_tick, 3, o->channel, o->pitch, o->velocity);
        push_pev(ev, &nev, o->off_tick, 1, o->channel, o->pitch, 0);
    }
    free(skip);
    /* Humanized: a pianist presses the pedal just after the new chord (legato
     * pedalling), so that the notes released by the chord's (jittered) start
     * are not caught. Pedal-downs come async_ms + jitter_ms + 10 ms after
     * their score time, but never at or after the next later pedal event. */
    double down_delay = cfg->humanize ? (cfg->async_ms + cfg->jitter_ms + 10.0) * 1e-3 : 0.0;
    ped_sorted = malloc((sc->n_pedal ? sc->n_pedal : 1) * sizeof *ped_sorted);
    if (!ped_sorted) {
        lec_error_set(err, LEC_ENOMEM, "perform: out of memory");
        goto fail;
    }
    for (size_t j = 0; j < sc->n_pedal; j++)
        ped_sorted[j] = sc->pedal[j].at_wn;
    qsort(ped_sorted, sc->n_pedal, sizeof *ped_sorted, cmp_double);
    for (size_t j = 0; j < sc->n_pedal; j++) {
        double at = sc->pedal[j].at_wn, ts = tm_seconds(&p->tm, at);
        uint32_t t = s_to_tick(ts);
        if (down_delay > 0 && sc->pedal[j].value >= 64) {
            size_t lo = 0, hi = sc->n_pedal; /* first sorted time > at */
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (ped_sorted[mid] <= at)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            double next = lo < sc->n_pedal ? ped_sorted[lo] : INFINITY;
            uint32_t td = s_to_tick(ts + down_delay);
            if (isfinite(next)) {
                uint32_t tn = s_to_tick(tm_seconds(&p->tm, next));
                if (td >= tn)
                    td = tn > t ? tn - 1 : t;
            }
            t = td;
        }
        for (int c = 0; c < 16; c++)
            if (chan_used[c])
                push_pev(ev, &nev, t, 2, c, 64, sc->pedal[j].value);
    }
    /* the end: all pedals up once the tail has passed, which also keeps
     * fluidsynth's player running until then (it stops after the last event) */
    uint32_t end_tick = last_off + s_to_tick(cfg->tail_s);
    for (size_t i = 0; i < nev; i++)
        if (ev[i].tick > end_tick)
            end_tick = ev[i].tick;
    for (int c = 0; c < 16; c++)
        if (chan_used[c])
            push_pev(ev, &nev, end_tick, 4, c, 64, 0);
    qsort(ev, nev, sizeof *ev, pev_cmp);

    /* tracks: 0 = tempo, then one per channel used */
    int track_of[16], ntr = 1;
    for (int c = 0; c < 16; c++)
        track_of[c] = chan_used[c] ? ntr++ : -1;
    p->midi = lec_midi_create(1, LEC_PERFORM_TICKS_PER_QUARTER, ntr, err);
    if (!p->midi)
        goto fail;
    static const char name[] = "lectern performance";
    if (lec_midi_add_meta(p->midi, 0, 0, LEC_MIDI_META_TRACK_NAME, name, sizeof name - 1, err) ||
        lec_midi_add_tempo(p->midi, 0, 0, LEC_PERFORM_US_PER_QUARTER, err))
        goto fail;
    for (size_t i = 0; i < nev; i++) {
        const pev *e = &ev[i];
        int st, d1 = e->d1, d2 = e->d2;
        switch (e->prio) {
        case 0:
            st = LEC_MIDI_PROGRAM | e->channel;
            d1 = 0;
            d2 = 0;
            break;
        case 1:
            st = LEC_MIDI_NOTE_OFF | e->channel;
            d2 = 64;
            break;
        case 3: st = LEC_MIDI_NOTE_ON | e->channel; break;
        default: st = LEC_MIDI_CONTROL | e->channel; break;
        }
        if (lec_midi_add_channel(p->midi, track_of[e->channel], e->tick, st, d1, d2, err))
            goto fail;
    }
    for (int t = 0; t < ntr; t++)
        lec_midi_set_track_end(p->midi, t, end_tick, NULL);
    p->last_off_s = last_off * LEC_PERFORM_TICK_S;
    p->duration_s = end_tick * LEC_PERFORM_TICK_S;
    for (size_t i = 0; i < p->n; i++) {
        p->onsets[i].onset_s = p->onsets[i].on_tick * LEC_PERFORM_TICK_S;
        p->onsets[i].offset_s = p->onsets[i].off_tick * LEC_PERFORM_TICK_S;
    }
    free(uon);
    free(ped_sorted);
    free(ev);
    free(refs);
    return p;
fail:
    free(uon);
    free(ped_sorted);
    free(ev);
    free(refs);
    lec_perform_destroy(p);
    return NULL;
}

void lec_perform_destroy(lec_perform *p)
{
    if (!p)
        return;
    tm_free(&p->tm);
    free(p->onsets);
    lec_midi_destroy(p->midi);
    free(p);
}

size_t lec_perform_n_notes(const lec_perform *p) { return p->n; }
const lec_perform_onset *lec_perform_onsets(const lec_perform *p) { return p->onsets; }
const lec_midi *lec_perform_midi(const lec_perform *p) { return p->midi; }
double lec_perform_last_off_s(const lec_perform *p) { return p->last_off_s; }
double lec_perform_duration_s(const lec_perform *p) { return p->duration_s; }

lec_status lec_perform_write_midi(const lec_perform *p, const char *path, lec_error *err)
{
    return lec_midi_write(p->midi, path, err);
}

double lec_perform_seconds_at(const lec_perform *p, double wn) { return tm_seconds(&p->tm, wn); }

double lec_perform_tempo_multiplier_at(const lec_perform *p, double wn)
{
    return exp(curve_g(&p->tm, wn));
}

/* ---------------------------------------------------------------- cues */

lec_status lec_perform_cues_from_midi(const lec_midi *m, lec_perform_tempo **tempo, size_t *n_tempo,
                                      lec_perform_pedal **pedal, size_t *n_pedal, lec_error *err)
{
    if (tempo)
        *tempo = NULL;
    if (n_tempo)
        *n_tempo = 0;
    if (pedal)
        *pedal = NULL;
    if (n_pedal)
        *n_pedal = 0;
    int div = lec_midi_division(m);
    if (div <= 0)
        return lec_error_set(err, LEC_EUNSUPPORTED,
                             "perform: MIDI with SMPTE division has no musical time");
    size_t n = lec_midi_n_events(m);
    const lec_midi_event *e = lec_midi_events(m);
    lec_perform_tempo *t = malloc((n + 1) * sizeof *t);
    lec_perform_pedal *pd = malloc((n + 1) * sizeof *pd);
    if (!t || !pd) {
        free(t);
        free(pd);
        return lec_error_set(err, LEC_ENOMEM, "perform: out of memory");
    }
    size_t nt = 0, np = 0;
    double wn_per_tick = 1.0 / (4.0 * div);
    for (size_t i = 0; i < n; i++) {
        double at = e[i].tick * wn_per_tick;
        if (e[i].status == LEC_MIDI_META && e[i].data1 == LEC_MIDI_META_TEMPO && e[i].len == 3) {
            uint32_t us =
                ((uint32_t)e[i].data[0] << 16) | ((uint32_t)e[i].data[1] << 8) | e[i].data[2];
            if (!us)
                continue;
            if (nt && t[nt - 1].at_wn == at)
                nt--;
            t[nt++] = (lec_perform_tempo){at, 6e7 / us};
        } else if (lec_midi_is_channel(&e[i]) && lec_midi_kind(&e[i]) == LEC_MIDI_CONTROL &&
                   e[i].data1 == 64) {
            /* LilyPond repeats each pedal event per staff/channel: keep one
             * per (time, value) */
            int dup = 0;
            for (size_t q = np; q > 0 && pd[q - 1].at_wn == at; q--)
                if (pd[q - 1].value == e[i].data2)
                    dup = 1;
            if (!dup)
                pd[np++] = (lec_perform_pedal){at, e[i].data2};
        }
    }
    if (tempo && nt) {
        *tempo = t;
        *n_tempo = nt;
    } else {
        free(t);
    }
    if (pedal && np) {
        *pedal = pd;
        *n_pedal = np;
    } else {
        free(pd);
    }
    return LEC_OK;
}
