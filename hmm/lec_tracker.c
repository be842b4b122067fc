/* lec_tracker.c -- position HMM over the unrolled strip; see lec_tracker.h and
 * hmm/README.md for the model. Per-frame cost is O(n_cells * kernel taps) for
 * the transition (a banded convolution; the uniform jump is one constant added
 * to every cell) plus O(cells under the evaluated windows) for observations. */
#include "lec_tracker.h"

#include "lec_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MODE_TRACK = 0, MODE_SEARCH = 1 };
enum { WIN_MAIN = 0, WIN_SECOND = 1, WIN_SCAN = 2, WIN_PROBE = 3 };

#define SECOND_RATIO 8.0f   /* 2nd mode: density >= this x mean density outside the main window */
#define FOUND_FRAMES 3      /* consecutive good frames to leave the search */
#define AGREE_TAU_S 0.3f    /* time constant of the smoothed log evidence */
#define TEMPO_MIN_SPAN_S 1.0f
#define TEMPO_MIN_POINTS 10
#define SET_POS_SPREAD_SS 1.0f

typedef struct scan_iter {
    int lo, hi, side; /* outward iteration over scan windows from a centre */
} scan_iter;

struct lec_tracker {
    lec_tracker_config cfg; /* geometry pointers replaced by our copies */
    float W, ss, cell, win_w, bw, dt;
    int ns, B, N;
    float *sys_start, *sys_end;
    int *sys_page;

    float v_lo, v_hi;    /* px/s: range of the tempo estimate */
    float d_lo, d_hi;    /* px/frame: range of the local displacement (with slack) */
    int nb, nf;          /* kernel taps back / forward (cells) */
    float *kern;         /* (nb + nf + 1), index j + nb */
    float *kern_scaled;  /* (nb + nf + 1) kern * (1 - p_jump) */
    float *alpha, *tmp;  /* (N) posterior, scratch */
    float *lik;          /* (B) */
    int start_c0, start_c1;
    float start_x;       /* where the first scan starts */

    /* windows */
    int max_win;
    float *win_x0;       /* (max_win) last planned list */
    int *win_kind;
    int n_win, planned;
    int n_scan;
    float scan_stride;
    scan_iter scan;
    int scan_centre;
    int n_probe_offsets, probe_k;

    /* belief summary after the last update */
    int map_c, second_c;
    float x, conf;
    int mode, bad_frames, good_frames, lost_after_frames;
    float agree_s, evid_s; /* smoothed agreement and evidence of the main window */

    /* global observation: per cell, the tile it reads and the bucket in it */
    int *cell_tile, *cell_bucket;
    float *rowbuf;         /* (B) soft-max -> logits scratch */
    float *zc, *zmean;     /* (N) this frame's logit per cell; its running mean */

    /* tempo states (tempo_states = K > 0): lay (K, N) the joint posterior,
     * alpha its marginal over speeds; lay_tmp the prediction; before (N) the
     * predicted marginal before the observation (the likelihood is after/before) */
    int K;
    float *lay, *lay_tmp, *before, *v_k; /* v_k (K) speeds px/s */
    double n_center;       /* playing frames in the running means */

    /* tempo */
    float *hist_t, *hist_x; /* (hist_cap) ring of (active time s, x px) */
    int hist_cap, hist_n, hist_head;
    double active_t;
    float v_est;
    int have_v;
    float last_x;

    int64_t frame;
};

/* ------------------------------------------------------------ config */

void lec_tracker_config_default(lec_tracker_config *c)
{
    memset(c, 0, sizeof *c);
    c->win_w_px = 400;
    c->n_buckets = 40;
    c->fps = 20;
    c->cell_px = 0;
    c->nominal_speed_px_s = 0;
    c->min_tempo = 0.5f;
    c->max_tempo = 2.0f;
    c->min_speed_ss_s = 4;
    c->max_speed_ss_s = 36;
    c->speed_slack = 2.0f;
    c->speed_sigma = 0.4f;
    c->tempo_window_s = 4;
    c->p_hold = 0.1f;
    c->p_back = 0.02f;
    c->back_ss = 2;
    c->jump_rate_s = 0.05f;
    c->obs_weight = 0.7f;
    c->obs_floor = 0.05f;
    c->global_obs = 0;
    c->global_floor_log = -8.0f;
    c->global_obs_weight = 0.12f;
    c->global_center_s = 20.0f;
    c->global_center_prior_s = 5.0f;
    c->tempo_states = 16;
    c->tempo_switch = 0.05f;
    c->start_x0_px = 0;
    c->start_x1_px = 0;
    c->win_lead = 0.35f;
    c->scan_stride_px = 0;
    c->scan_windows_per_frame = 8;
    c->probe_windows_per_frame = 1;
    c->probe_range_px = 0;
    c->grid_px = 0;
    c->conf_radius_ss = 6;
    c->conf_lost = 0.3f;
    c->agree_lost = -1.2f;
    c->lost_after_s = 0.4f;
    c->conf_found = 0.5f;
    c->agree_found = -0.7f;
    c->evidence_lost = 0.1f;
}

static int finite_pos(float v) { return isfinite(v) && v > 0; }

static lec_status check_config(const lec_tracker_config *c, lec_error *err)
{
    if (!c)
        return lec_error_set(err, LEC_EINVAL, "tracker: NULL config");
    if (!finite_pos(c->strip_w_px))
        return lec_error_set(err, LEC_EINVAL, "tracker: strip width %g px must be > 0",
                             (double)c->strip_w_px);
    if (c->strip_w_px > 1e7f)
        return lec_error_set(err, LEC_EINVAL, "tracker: strip width %g px is absurd (> 1e7)",
                             (double)c->strip_w_px);
    if (c->n_systems < 1 || !c->sys_start_px || !c->sys_end_px)
        return lec_error_set(err, LEC_EINVAL, "tracker: need at least one system (got %d)",
                             c->n_systems);
    for (int k = 0; k < c->n_systems; k++) {
        float a = c->sys_start_px[k], b = c->sys_end_px[k];
        if (!isfinite(a) || !isfinite(b) || !(b > a) || a < 0 || b > c->strip_w_px + 0.5f)
            return lec_error_set(err, LEC_EINVAL,
                                 "tracker: system %d spans [%g, %g) px, not a non-empty range "
                                 "inside the strip [0, %g)",
                                 k, (double)a, (double)b, (double)c->strip_w_px);
        if (k > 0 && a < c->sys_end_px[k - 1])
            return lec_error_set(err, LEC_EINVAL,
                                 "tracker: system %d starts at %g px before system %d ends (%g px)",
                                 k, (double)a, k - 1, (double)c->sys_end_px[k - 1]);
    }
    if (!finite_pos(c->staff_space_px))
        return lec_error_set(err, LEC_EINVAL, "tracker: staff space %g px must be > 0",
                             (double)c->staff_space_px);
    if (!finite_pos(c->win_w_px))
        return lec_error_set(err, LEC_EINVAL, "tracker: window width %g px must be > 0",
                             (double)c->win_w_px);
    if (c->n_buckets < 2 || c->n_buckets > 4096)
        return lec_error_set(err, LEC_EINVAL, "tracker: %d buckets; need 2..4096", c->n_buckets);
    if (!finite_pos(c->fps) || c->fps > 1000)
        return lec_error_set(err, LEC_EINVAL, "tracker: %g frames/s; need (0, 1000]",
                             (double)c->fps);
    if (!isfinite(c->cell_px) || c->cell_px < 0)
        return lec_error_set(err, LEC_EINVAL, "tracker: cell size %g px must be >= 0 (0 = auto)",
                             (double)c->cell_px);
    float cell = c->cell_px > 0 ? c->cell_px : 0.5f * c->staff_space_px;
    if (c->strip_w_px / cell > 5e6f)
        return lec_error_set(err, LEC_EINVAL,
                             "tracker: %g px strip / %g px cells = too many states (> 5e6)",
                             (double)c->strip_w_px, (double)cell);
    if (!isfinite(c->nominal_speed_px_s) || c->nominal_speed_px_s < 0)
        return lec_error_set(err, LEC_EINVAL, "tracker: nominal speed %g px/s must be >= 0",
                             (double)c->nominal_speed_px_s);
    if (c->nominal_speed_px_s > 0) {
        if (!finite_pos(c->min_tempo) || !(c->max_tempo > c->min_tempo) || !isfinite(c->max_tempo))
            return lec_error_set(err, LEC_EINVAL, "tracker: tempo range [%g, %g] is not 0 < min < max",
                                 (double)c->min_tempo, (double)c->max_tempo);
    } else if (!finite_pos(c->min_speed_ss_s) || !(c->max_speed_ss_s > c->min_speed_ss_s) ||
               !isfinite(c->max_speed_ss_s)) {
        return lec_error_set(err, LEC_EINVAL,
                             "tracker: speed range [%g, %g] staff spaces/s is not 0 < min < max",
                             (double)c->min_speed_ss_s, (double)c->max_speed_ss_s);
    }
    if (!isfinite(c->speed_slack) || c->speed_slack < 1 || c->speed_slack > 10)
        return lec_error_set(err, LEC_EINVAL, "tracker: speed slack %g must be in [1, 10]",
                             (double)c->speed_slack);
    if (!finite_pos(c->speed_sigma) || c->speed_sigma > 3)
        return lec_error_set(err, LEC_EINVAL, "tracker: speed sigma %g must be in (0, 3]",
                             (double)c->speed_sigma);
    if (!finite_pos(c->tempo_window_s) || c->tempo_window_s > 60)
        return lec_error_set(err, LEC_EINVAL, "tracker: tempo window %g s must be in (0, 60]",
                             (double)c->tempo_window_s);
#define PROB(v, name)                                                                         \
    if (!isfinite(v) || (v) < 0 || (v) >= 1)                                                  \
        return lec_error_set(err, LEC_EINVAL, "tracker: %s = %g must be in [0, 1)", name, (double)(v));
    PROB(c->p_hold, "p_hold")
    PROB(c->p_back, "p_back")
    PROB(c->win_lead, "win_lead")
    PROB(c->conf_lost, "conf_lost")
#undef PROB
    if (c->p_hold + c->p_back >= 1)
        return lec_error_set(err, LEC_EINVAL, "tracker: p_hold + p_back = %g leaves no forward motion",
                             (double)(c->p_hold + c->p_back));
    if (!isfinite(c->back_ss) || c->back_ss < 0 || !isfinite(c->jump_rate_s) || c->jump_rate_s < 0)
        return lec_error_set(err, LEC_EINVAL, "tracker: back_ss %g and jump_rate_s %g must be >= 0",
                             (double)c->back_ss, (double)c->jump_rate_s);
    if (!finite_pos(c->global_obs_weight) || c->global_obs_weight > 10)
        return lec_error_set(err, LEC_EINVAL, "tracker: global_obs_weight %g must be in (0, 10]",
                             (double)c->global_obs_weight);
    if (!finite_pos(c->obs_weight) || c->obs_weight > 10 || !finite_pos(c->obs_floor))
        return lec_error_set(err, LEC_EINVAL,
                             "tracker: obs_weight %g must be in (0, 10] and obs_floor %g > 0",
                             (double)c->obs_weight, (double)c->obs_floor);
    if (!isfinite(c->start_x0_px) || !isfinite(c->start_x1_px))
        return lec_error_set(err, LEC_EINVAL, "tracker: start region is not finite");
    if (c->start_x1_px > c->start_x0_px &&
        (c->start_x1_px <= 0 || c->start_x0_px >= c->strip_w_px))
        return lec_error_set(err, LEC_EINVAL, "tracker: start region [%g, %g) px is outside the strip",
                             (double)c->start_x0_px, (double)c->start_x1_px);
    if (!isfinite(c->scan_stride_px) || c->scan_stride_px < 0 ||
        !isfinite(c->probe_range_px) || c->probe_range_px < 0)
        return lec_error_set(err, LEC_EINVAL, "tracker: scan stride / probe range must be >= 0");
    if (!isfinite(c->grid_px) || c->grid_px < 0 || c->grid_px != floorf(c->grid_px) ||
        c->grid_px > 65536)
        return lec_error_set(err, LEC_EINVAL,
                             "tracker: window grid %g px must be a whole number of px >= 0",
                             (double)c->grid_px);
    if ((c->global_obs != 0 && c->global_obs != 1) || !isfinite(c->global_floor_log) ||
        c->global_floor_log >= 0 || c->global_floor_log < -80)
        return lec_error_set(err, LEC_EINVAL,
                             "tracker: global_obs %d (0 or 1) / floor %g (in [-80, 0)) not sensible",
                             c->global_obs, (double)c->global_floor_log);
    if (c->tempo_states < 0 || c->tempo_states > 256 || !(c->tempo_switch >= 0) ||
        !(c->tempo_switch <= 0.5f))
        return lec_error_set(err, LEC_EINVAL,
                             "tracker: tempo_states %d (0..256) / tempo_switch %g (0..0.5)",
                             c->tempo_states, (double)c->tempo_switch);
    if (!(c->global_center_s >= 0 && c->global_center_s <= 3600) ||
        !(c->global_center_prior_s >= 0 && c->global_center_prior_s <= 3600))
        return lec_error_set(err, LEC_EINVAL,
                             "tracker: global_center_s %g / global_center_prior_s %g: want 0..3600 s",
                             (double)c->global_center_s, (double)c->global_center_prior_s);
    if (c->scan_windows_per_frame < 1 || c->scan_windows_per_frame > 1024 ||
        c->probe_windows_per_frame < 0 || c->probe_windows_per_frame > 1024)
        return lec_error_set(err, LEC_EINVAL,
                             "tracker: %d scan windows (1..1024) / %d probe windows (0..1024) per frame",
                             c->scan_windows_per_frame, c->probe_windows_per_frame);
    if (!finite_pos(c->conf_radius_ss) || !isfinite(c->agree_lost) || !isfinite(c->agree_found) ||
        !isfinite(c->evidence_lost) ||
        !isfinite(c->conf_found) || c->conf_found > 1 || !isfinite(c->lost_after_s) ||
        c->lost_after_s < 0)
        return lec_error_set(err, LEC_EINVAL, "tracker: lost/found thresholds are not sensible");
    return LEC_OK;
}

/* ------------------------------------------------------------ helpers */

static float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

static float max_x0(const lec_tracker *t) { return t->W > t->win_w ? t->W - t->win_w : 0; }

static float clamp_x0(const lec_tracker *t, float x0)
{
    float mx = floorf(max_x0(t)), x = clampf(x0, 0, mx);
    if (t->cfg.grid_px > 0) {
        /* the nearest origin of the grid {0, g, 2g, ...} + {mx} */
        float g = t->cfg.grid_px, kg = rintf(x / g) * g;
        return kg > mx || mx - x < fabsf(x - kg) ? mx : kg;
    }
    return floorf(x);
}

static float scan_x0(const lec_tracker *t, int k)
{
    return clamp_x0(t, (float)k * t->scan_stride);
}

/* scan window whose main-window placement best matches strip x */
static int scan_index_of(const lec_tracker *t, float x)
{
    int k = (int)lrintf((x - t->cfg.win_lead * t->win_w) / t->scan_stride);
    return k < 0 ? 0 : (k >= t->n_scan ? t->n_scan - 1 : k);
}

static void scan_restart(scan_iter *s, int centre)
{
    s->hi = centre;
    s->lo = centre - 1;
    s->side = 0;
}

/* next scan window, outward from the centre: c, c-1, c+1, c-2, ...; -1 when done */
static int scan_next(scan_iter *s, int n)
{
    for (int tries = 0; tries < 2; tries++) {
        if (s->side == 0) {
            s->side = 1;
            if (s->hi < n)
                return s->hi++;
        } else {
            s->side = 0;
            if (s->lo >= 0)
                return s->lo--;
        }
    }
    return -1;
}

static int scan_take(const lec_tracker *t, scan_iter *s)
{
    int k = scan_next(s, t->n_scan);
    if (k < 0) { /* whole score scanned: start again around the belief */
        scan_restart(s, scan_index_of(t, t->x));
        k = scan_next(s, t->n_scan);
    }
    return k;
}

/* probe offsets in scan strides: +1, -1, +2, -2, ... */
static int probe_offset(const lec_tracker *t, int k)
{
    k %= t->n_probe_offsets;
    int m = k / 2 + 1;
    return (k % 2) ? -m : m;
}

/* the same rule as the metrics: containing system, else the nearest */
static int system_of(const lec_tracker *t, float x)
{
    lec_strip_geom g = {t->ns, t->sys_start, t->sys_end, t->ss};
    return lec_strip_system_of(&g, x);
}

static float cell_x(const lec_tracker *t, int c) { return ((float)c + 0.5f) * t->cell; }

static int cell_of(const lec_tracker *t, float x)
{
    int c = (int)floorf(x / t->cell);
    return c < 0 ? 0 : (c >= t->N ? t->N - 1 : c);
}

/* Posterior summary: MAP cell, refined x, confidence. */
static void summarise(lec_tracker *t)
{
    const float *a = t->alpha;
    int N = t->N, m = 0;
    float best = a[0];
    for (int c = 1; c < N; c++)
        if (a[c] > best) {
            best = a[c];
            m = c;
        }
    t->map_c = m;
    double s = 0, sx = 0;
    for (int c = m - 2; c <= m + 2; c++)
        if (c >= 0 && c < N) {
            s += a[c];
            sx += (double)a[c] * cell_x(t, c);
        }
    t->x = s > 0 ? (float)(sx / s) : cell_x(t, m);
    int R = (int)ceilf(t->cfg.conf_radius_ss * t->ss / t->cell);
    double cs = 0;
    for (int c = m - R; c <= m + R; c++)
        if (c >= 0 && c < N)
            cs += a[c];
    t->conf = (float)clampf((float)cs, 0, 1);
}

/* Second mode: the densest cell outside the next main window, if it clearly
 * stands out of the background (else -1). */
static void find_second(lec_tracker *t, float xa0)
{
    int a0 = (int)floorf(xa0 / t->cell), a1 = (int)ceilf((xa0 + t->win_w) / t->cell);
    if (a0 < 0)
        a0 = 0;
    if (a1 > t->N)
        a1 = t->N;
    double in = 0;
    for (int c = a0; c < a1; c++)
        in += t->alpha[c];
    int n_out = t->N - (a1 - a0);
    t->second_c = -1;
    if (n_out <= 0)
        return;
    float best = -1;
    int bc = -1;
    for (int c = 0; c < a0; c++)
        if (t->alpha[c] > best) {
            best = t->alpha[c];
            bc = c;
        }
    for (int c = a1; c < t->N; c++)
        if (t->alpha[c] > best) {
            best = t->alpha[c];
            bc = c;
        }
    double mean_out = (1.0 - in) / n_out;
    if (bc >= 0 && best > SECOND_RATIO * mean_out && best > 0)
        t->second_c = bc;
}

static float main_x0(const lec_tracker *t)
{
    float v = t->have_v ? t->v_est : 0;
    return clamp_x0(t, t->x + v * t->dt - t->cfg.win_lead * t->win_w);
}

static void hist_clear(lec_tracker *t)
{
    t->hist_n = 0;
    t->hist_head = 0;
}

/* Tempo states from the marginal alpha: each cell's mass spread over the
 * speeds as the current speed marginal (uniform when keep is 0). */
static void layers_from_alpha(lec_tracker *t, int keep)
{
    if (!t->K)
        return;
    const int N = t->N, K = t->K;
    float w[256];
    double sw = 0;
    for (int k = 0; k < K; k++) {
        double s = 0;
        if (keep)
            for (int c = 0; c < N; c++)
                s += t->lay[(size_t)k * N + c];
        w[k] = keep ? (float)s : 1.0f;
        sw += w[k];
    }
    for (int k = 0; k < K; k++) {
        const float wk = sw > 0 ? (float)(w[k] / sw) : 1.0f / (float)K;
        float *l = t->lay + (size_t)k * N;
        for (int c = 0; c < N; c++)
            l[c] = wk * t->alpha[c];
    }
}

static void set_uniform(lec_tracker *t, int c0, int c1)
{
    memset(t->alpha, 0, (size_t)t->N * sizeof *t->alpha);
    float v = 1.0f / (float)(c1 - c0);
    for (int c = c0; c < c1; c++)
        t->alpha[c] = v;
}

/* Global observation: every cell reads the tile (scan window) whose centre is
 * nearest, among those that contain it, and the bucket it falls in there. */
static void global_map(lec_tracker *t)
{
    for (int c = 0; c < t->N; c++) {
        float x = cell_x(t, c);
        int k0 = (int)lrintf((x - 0.5f * t->win_w) / t->scan_stride), best = -1;
        float bd = 0;
        for (int k = k0 - 2; k <= k0 + 2; k++) {
            if (k < 0 || k >= t->n_scan)
                continue;
            float x0 = scan_x0(t, k);
            if (x < x0 || x >= x0 + t->win_w)
                continue;
            float d = fabsf(x - (x0 + 0.5f * t->win_w));
            if (best < 0 || d < bd) {
                best = k;
                bd = d;
            }
        }
        if (best < 0) /* past the last window (a strip narrower than the window) */
            best = x < scan_x0(t, 0) ? 0 : t->n_scan - 1;
        int b = (int)((x - scan_x0(t, best)) / t->bw);
        t->cell_tile[c] = best;
        t->cell_bucket[c] = b < 0 ? 0 : (b >= t->B ? t->B - 1 : b);
    }
}

/* ------------------------------------------------------------ create */

lec_tracker *lec_tracker_create(const lec_tracker_config *cfg, lec_error *err)
{
    lec_status st = check_config(cfg, err);
    if (st != LEC_OK)
        return NULL;
    lec_tracker *t = calloc(1, sizeof *t);
    if (!t) {
        lec_error_set(err, LEC_ENOMEM, "tracker: out of memory");
        return NULL;
    }
    t->cfg = *cfg;
    const lec_tracker_config *c = &t->cfg;
    t->W = c->strip_w_px;
    t->ss = c->staff_space_px;
    t->cell = c->cell_px > 0 ? c->cell_px : 0.5f * c->staff_space_px;
    t->win_w = c->win_w_px;
    t->B = c->n_buckets;
    t->bw = t->win_w / (float)t->B;
    t->dt = 1.0f / c->fps;
    t->ns = c->n_systems;
    t->N = (int)ceilf(t->W / t->cell);
    if (t->N < 1)
        t->N = 1;
    if (c->nominal_speed_px_s > 0) {
        t->v_lo = c->min_tempo * c->nominal_speed_px_s;
        t->v_hi = c->max_tempo * c->nominal_speed_px_s;
    } else {
        t->v_lo = c->min_speed_ss_s * t->ss;
        t->v_hi = c->max_speed_ss_s * t->ss;
    }
    t->nb = c->p_back > 0 ? (int)ceilf(c->back_ss * t->ss / t->cell) : 0;
    t->d_lo = t->v_lo / c->speed_slack * t->dt;
    t->d_hi = t->v_hi * c->speed_slack * t->dt;
    t->nf = (int)ceilf(t->d_hi / t->cell + 0.5f) + 1;
    t->scan_stride = c->scan_stride_px > 0 ? c->scan_stride_px : 0.5f * t->win_w;
    t->n_scan = t->W > t->win_w ? (int)ceilf((t->W - t->win_w) / t->scan_stride) + 1 : 1;
    float pr = c->probe_range_px > 0 ? c->probe_range_px : 3 * t->win_w;
    t->n_probe_offsets = 2 * (int)ceilf(pr / t->scan_stride);
    if (t->n_probe_offsets < 2)
        t->n_probe_offsets = 2;
    int extra = c->scan_windows_per_frame > c->probe_windows_per_frame ? c->scan_windows_per_frame
                                                                       : c->probe_windows_per_frame;
    t->max_win = c->global_obs ? t->n_scan : 2 + extra;
    t->lost_after_frames = (int)ceilf(c->lost_after_s * c->fps);
    if (t->lost_after_frames < 1)
        t->lost_after_frames = 1;
    t->hist_cap = (int)ceilf(c->tempo_window_s * c->fps) + 1;

    size_t N = (size_t)t->N, ns = (size_t)t->ns;
    t->sys_start = malloc(ns * sizeof *t->sys_start);
    t->sys_end = malloc(ns * sizeof *t->sys_end);
    t->sys_page = malloc(ns * sizeof *t->sys_page);
    t->kern = malloc((size_t)(t->nb + t->nf + 1) * sizeof *t->kern);
    t->kern_scaled = malloc((size_t)(t->nb + t->nf + 1) * sizeof *t->kern_scaled);
    t->alpha = malloc(N * sizeof *t->alpha);
    t->tmp = malloc(N * sizeof *t->tmp);
    t->lik = malloc((size_t)t->B * sizeof *t->lik);
    t->win_x0 = malloc((size_t)t->max_win * sizeof *t->win_x0);
    t->win_kind = malloc((size_t)t->max_win * sizeof *t->win_kind);
    t->hist_t = malloc((size_t)t->hist_cap * sizeof *t->hist_t);
    t->hist_x = malloc((size_t)t->hist_cap * sizeof *t->hist_x);
    t->rowbuf = malloc((size_t)t->B * sizeof *t->rowbuf);
    if (c->tempo_states > 0) {
        t->K = c->tempo_states;
        t->lay = malloc((size_t)t->K * N * sizeof *t->lay);
        t->lay_tmp = malloc((size_t)t->K * N * sizeof *t->lay_tmp);
        t->before = malloc(N * sizeof *t->before);
        t->v_k = malloc((size_t)t->K * sizeof *t->v_k);
        if (!t->lay || !t->lay_tmp || !t->before || !t->v_k) {
            lec_error_set(err, LEC_ENOMEM, "tracker: out of memory for %d x %d tempo states",
                          t->K, t->N);
            lec_tracker_destroy(t);
            return NULL;
        }
        for (int k = 0; k < t->K; k++)
            t->v_k[k] = t->K > 1 ? t->v_lo * powf(t->v_hi / t->v_lo, (float)k / (float)(t->K - 1))
                                 : sqrtf(t->v_lo * t->v_hi);
    }
    if (c->global_obs) {
        t->cell_tile = malloc(N * sizeof *t->cell_tile);
        t->cell_bucket = malloc(N * sizeof *t->cell_bucket);
        t->zc = malloc(N * sizeof *t->zc);
        t->zmean = calloc(N, sizeof *t->zmean);
        if (!t->cell_tile || !t->cell_bucket || !t->zc || !t->zmean) {
            lec_error_set(err, LEC_ENOMEM, "tracker: out of memory for %d cells", t->N);
            lec_tracker_destroy(t);
            return NULL;
        }
    }
    if (!t->rowbuf || !t->sys_start || !t->sys_end || !t->sys_page || !t->kern || !t->kern_scaled ||
        !t->alpha || !t->tmp || !t->lik || !t->win_x0 || !t->win_kind || !t->hist_t || !t->hist_x) {
        lec_error_set(err, LEC_ENOMEM, "tracker: out of memory for %d cells", t->N);
        lec_tracker_destroy(t);
        return NULL;
    }
    memcpy(t->sys_start, c->sys_start_px, ns * sizeof *t->sys_start);
    memcpy(t->sys_end, c->sys_end_px, ns * sizeof *t->sys_end);
    for (size_t k = 0; k < ns; k++)
        t->sys_page[k] = c->sys_page ? c->sys_page[k] : 0;
    t->cfg.sys_start_px = t->sys_start;
    t->cfg.sys_end_px = t->sys_end;
    t->cfg.sys_page = t->sys_page;

    /* start region */
    float s0, s1;
    if (c->start_x1_px > c->start_x0_px) {
        s0 = clampf(c->start_x0_px, 0, t->W);
        s1 = clampf(c->start_x1_px, 0, t->W);
    } else {
        int k1 = 0;
        while (k1 + 1 < t->ns && t->sys_page[k1 + 1] == t->sys_page[0])
            k1++;
        s0 = t->sys_start[0];
        s1 = t->sys_end[k1];
    }
    t->start_c0 = cell_of(t, s0);
    t->start_c1 = cell_of(t, s1 - 1e-3f) + 1;
    if (t->start_c1 <= t->start_c0)
        t->start_c1 = t->start_c0 + 1;
    t->start_x = s0;
    if (c->global_obs)
        global_map(t);
    lec_tracker_reset(t);
    return t;
}

void lec_tracker_destroy(lec_tracker *t)
{
    if (!t)
        return;
    free(t->sys_start);
    free(t->sys_end);
    free(t->sys_page);
    free(t->kern);
    free(t->kern_scaled);
    free(t->alpha);
    free(t->tmp);
    free(t->lik);
    free(t->win_x0);
    free(t->win_kind);
    free(t->hist_t);
    free(t->hist_x);
    free(t->rowbuf);
    free(t->cell_tile);
    free(t->cell_bucket);
    free(t->zc);
    free(t->zmean);
    free(t->lay);
    free(t->lay_tmp);
    free(t->before);
    free(t->v_k);
    free(t);
}

void lec_tracker_reset(lec_tracker *t)
{
    if (!t)
        return;
    set_uniform(t, t->start_c0, t->start_c1);
    layers_from_alpha(t, 0);
    t->frame = 0;
    t->mode = MODE_SEARCH;
    t->bad_frames = t->good_frames = 0;
    t->agree_s = 0;
    t->evid_s = 0;
    t->have_v = 0;
    t->v_est = sqrtf(t->v_lo * t->v_hi);
    t->active_t = 0;
    hist_clear(t);
    t->probe_k = 0;
    t->planned = 0;
    t->n_win = 0;
    summarise(t);
    /* report the start of the region until there is evidence */
    t->x = cell_x(t, t->start_c0);
    t->last_x = t->x;
    t->second_c = -1;
    t->scan_centre = scan_index_of(t, t->start_x + t->cfg.win_lead * t->win_w);
    scan_restart(&t->scan, t->scan_centre);
}

void lec_tracker_set_position(lec_tracker *t, float x_px)
{
    if (!t || !isfinite(x_px))
        return;
    x_px = clampf(x_px, 0, t->W);
    memset(t->alpha, 0, (size_t)t->N * sizeof *t->alpha);
    int r = (int)ceilf(SET_POS_SPREAD_SS * t->ss / t->cell);
    int m = cell_of(t, x_px);
    double s = 0;
    for (int c = m - r; c <= m + r; c++)
        if (c >= 0 && c < t->N) {
            t->alpha[c] = (float)(r + 1 - abs(c - m)); /* triangle */
            s += t->alpha[c];
        }
    for (int c = m - r; c <= m + r; c++)
        if (c >= 0 && c < t->N)
            t->alpha[c] = (float)(t->alpha[c] / s);
    layers_from_alpha(t, 1);
    summarise(t);
    t->x = x_px;
    t->last_x = x_px;
    t->mode = MODE_TRACK;
    t->bad_frames = t->good_frames = 0;
    t->agree_s = t->cfg.agree_found;
    t->evid_s = 2 * t->cfg.evidence_lost; /* a click is trusted for lost_after_s */
    t->second_c = -1;
    t->planned = 0;
    hist_clear(t);
}

void lec_tracker_relocalise(lec_tracker *t)
{
    if (!t)
        return;
    t->mode = MODE_SEARCH;
    t->good_frames = 0;
    t->bad_frames = 0;
    t->planned = 0;
    hist_clear(t);
    t->scan_centre = scan_index_of(t, t->x);
    scan_restart(&t->scan, t->scan_centre);
}

int lec_tracker_max_windows(const lec_tracker *t) { return t ? t->max_win : 0; }
float lec_tracker_win_w_px(const lec_tracker *t) { return t ? t->win_w : 0; }
int lec_tracker_n_buckets(const lec_tracker *t) { return t ? t->B : 0; }
int lec_tracker_n_cells(const lec_tracker *t) { return t ? t->N : 0; }

const float *lec_tracker_posterior(const lec_tracker *t, float *cell_px)
{
    if (!t)
        return NULL;
    if (cell_px)
        *cell_px = t->cell;
    return t->alpha;
}

float lec_tracker_activity_from_db(float level_db, float floor_db, float range_db)
{
    if (!isfinite(level_db))
        return level_db > 0 ? 1.0f : 0.0f;
    if (!(range_db > 0))
        return level_db > floor_db ? 1.0f : 0.0f;
    return clampf((level_db - floor_db) / range_db, 0, 1);
}

/* ------------------------------------------------------------ windows */

static int plan(lec_tracker *t, float *out, int max)
{
    int n = 0, cap = t->max_win;
    if (t->cfg.global_obs) {
        for (int k = 0; k < t->n_scan; k++) {
            t->win_x0[k] = scan_x0(t, k);
            t->win_kind[k] = WIN_SCAN;
        }
        t->n_win = t->n_scan;
        t->planned = 1;
        int m = t->n_win < max ? t->n_win : max;
        if (out)
            for (int i = 0; i < m; i++)
                out[i] = t->win_x0[i];
        return m;
    }
    float xa = main_x0(t);
    t->win_x0[n] = xa;
    t->win_kind[n++] = WIN_MAIN;
    if (t->second_c >= 0) {
        t->win_x0[n] = clamp_x0(t, cell_x(t, t->second_c) - 0.5f * t->win_w);
        t->win_kind[n++] = WIN_SECOND;
    }
    if (t->mode == MODE_SEARCH) {
        scan_iter s = t->scan;
        for (int k = 0; k < t->cfg.scan_windows_per_frame && n < cap; k++) {
            int idx = scan_take(t, &s);
            t->win_x0[n] = scan_x0(t, idx);
            t->win_kind[n++] = WIN_SCAN;
        }
    } else {
        for (int k = 0; k < t->cfg.probe_windows_per_frame && n < cap; k++) {
            int off = probe_offset(t, t->probe_k + k);
            t->win_x0[n] = clamp_x0(t, xa + (float)off * t->scan_stride);
            t->win_kind[n++] = WIN_PROBE;
        }
    }
    t->n_win = n;
    t->planned = 1;
    int m = n < max ? n : max;
    if (out)
        for (int i = 0; i < m; i++)
            out[i] = t->win_x0[i];
    return m;
}

int lec_tracker_windows(lec_tracker *t, float *x0_out, int max)
{
    if (!t || max < 0)
        return 0;
    return plan(t, x0_out, max);
}

/* ------------------------------------------------------------ update */

static double norm_cdf(double z) { return 0.5 * erfc(-z / M_SQRT2); }

/* This frame's split of the mass: hold (p_hold, and all of it in silence),
 * a small step back (p_back while playing, if back steps exist) and forward
 * (the rest). */
static void motion_split(const lec_tracker *t, float a, double *hold, double *back, double *fwd)
{
    *hold = t->cfg.p_hold + (1.0 - t->cfg.p_hold) * (1.0 - a);
    *back = t->nb > 0 ? t->cfg.p_back * a : 0.0;
    *fwd = 1.0 - *hold - *back;
    if (*fwd < 0)
        *fwd = 0;
}

/* Transition kernel for this frame (see README: hold + small step back +
 * forward displacement from the speed distribution). kern[j + nb] = P(move j cells). */
static void build_kernel(lec_tracker *t, float a)
{
    int nb = t->nb, nf = t->nf;
    float *k = t->kern;
    memset(k, 0, (size_t)(nb + nf + 1) * sizeof *k);
    double hold, back, fwd;
    motion_split(t, a, &hold, &back, &fwd);
    k[nb] += (float)hold;
    for (int j = 1; j <= nb; j++)
        k[nb - j] += (float)(back / nb);
    if (fwd <= 0)
        return;
    /* displacement per frame d = v dt (px), truncated to [d_lo, d_hi] */
    double dlo = t->d_lo, dhi = t->d_hi;
    double mu = log((t->have_v ? t->v_est : sqrt(t->v_lo * t->v_hi)) * t->dt);
    /* before any estimate: log-uniform over the whole displacement range */
    double sg = t->cfg.speed_sigma;
    double glo, ghi;
    if (t->have_v) {
        glo = norm_cdf((log(dlo) - mu) / sg);
        ghi = norm_cdf((log(dhi) - mu) / sg);
    } else {
        glo = 0;
        ghi = 1;
    }
    double den = ghi - glo;
    double prev = 0;
    for (int j = 0; j <= nf; j++) {
        double hi_px = ((double)j + 0.5) * t->cell;
        double F;
        if (hi_px <= dlo)
            F = 0;
        else if (hi_px >= dhi || j == nf)
            F = 1;
        else if (t->have_v && den > 1e-12)
            F = (norm_cdf((log(hi_px) - mu) / sg) - glo) / den;
        else if (t->have_v) /* estimate at the edge of the range: all at the edge */
            F = hi_px >= exp(mu) ? 1 : 0;
        else /* log-uniform over [dlo, dhi] */
            F = (log(hi_px) - log(dlo)) / (log(dhi) - log(dlo));
        if (F < prev)
            F = prev;
        k[nb + j] += (float)(fwd * (F - prev));
        prev = F;
    }
}

/* tmp = (1 - pj) * (alpha convolved with the kernel) + pj / N. Mass that would
 * move past either end of the strip is dropped (the normalisation after the
 * observation restores the total): keeping it at the last cell would let the
 * background mass that flows forward pile up there into a false mode. One pass
 * over the cells (a gather over the ~10 taps per cell) so that the whole strip
 * is read and written once. */
static void predict(lec_tracker *t, float pj)
{
    int N = t->N, nb = t->nb, nf = t->nf, K = nb + nf + 1;
    const float *a = t->alpha;
    float *o = t->tmp;
    float keep = 1.0f - pj, add = pj / (float)N;
    float *kk = t->kern_scaled; /* (K) */
    for (int q = 0; q < K; q++)
        kk[q] = keep * t->kern[q];
    /* o[c] = sum_j k[j] a[c - j], j = q - nb in [-nb, nf] */
    int lo = nf < N ? nf : N, hi = N - nb > lo ? N - nb : lo;
    for (int c = 0; c < lo; c++) {
        float acc = add;
        for (int q = 0; q < K; q++) {
            int i = c + nb - q;
            if (i >= 0 && i < N)
                acc += kk[q] * a[i];
        }
        o[c] = acc;
    }
    for (int c = lo; c < hi; c++) {
        const float *ac = a + c + nb; /* ac[-q] = a[c - (q - nb)] */
        float acc = add;
        for (int q = 0; q < K; q++)
            acc += kk[q] * ac[-q];
        o[c] = acc;
    }
    for (int c = hi; c < N; c++) {
        float acc = add;
        for (int q = 0; q < K; q++) {
            int i = c + nb - q;
            if (i >= 0 && i < N)
                acc += kk[q] * a[i];
        }
        o[c] = acc;
    }
}

/* Tempo states: each speed k moves its layer by v_k dt a (linear
 * interpolation between cells), with p_hold (+ silence) of not moving and
 * p_back of a small step back; then tempo_switch to each neighbouring speed,
 * and the jump pj spread uniformly. lay_tmp = the prediction, tmp = its
 * marginal over speeds. Mass moving past the strip end is dropped (see
 * predict). */
static void predict_tempo(lec_tracker *t, float a, float pj)
{
    const int N = t->N, K = t->K, nb = t->nb;
    double hold, back, fwd;
    motion_split(t, a, &hold, &back, &fwd);
    const float keep = 1.0f - pj, add = pj / ((float)N * (float)K);
    for (int k = 0; k < K; k++) {
        const float *in = t->lay + (size_t)k * N;
        float *o = t->lay_tmp + (size_t)k * N;
        const float d = t->v_k[k] * t->dt / t->cell; /* cells per frame while playing */
        const int m = (int)floorf(d);
        const float f = d - (float)m;
        const float w0 = (float)(fwd * (1.0 - f)), w1 = (float)(fwd * f), wh = (float)hold;
        const float wb = nb > 0 ? (float)(back / nb) : 0.0f;
        /* o[c] = wh in[c] + w0 in[c-m] + w1 in[c-m-1] + wb sum_{j=1..nb} in[c+j];
         * the interior [m+1, N-nb) needs no bounds checks */
        int lo = m + 1 < N ? m + 1 : N, hi = N - nb > lo ? N - nb : lo;
        for (int c = 0; c < N; c = (c == lo - 1 && hi > lo) ? hi : c + 1) {
            float acc = wh * in[c];
            int i0 = c - m, i1 = c - m - 1;
            if (i0 >= 0 && i0 < N)
                acc += w0 * in[i0];
            if (i1 >= 0 && i1 < N)
                acc += w1 * in[i1];
            for (int j = 1; j <= nb; j++)
                if (c + j < N)
                    acc += wb * in[c + j];
            o[c] = acc;
        }
        for (int c = lo; c < hi; c++) {
            float acc = wh * in[c] + w0 * in[c - m] + w1 * in[c - m - 1];
            for (int j = 1; j <= nb; j++)
                acc += wb * in[c + j];
            o[c] = acc;
        }
    }
    /* tempo switches (only while playing) and the jump */
    const float sw = t->cfg.tempo_switch * a;
    for (int c = 0; c < N; c++)
        t->tmp[c] = 0;
    for (int k = 0; k < K; k++) {
        float *l = t->lay + (size_t)k * N; /* the result goes back to lay */
        const float *mid = t->lay_tmp + (size_t)k * N;
        const float *lo = k > 0 ? mid - N : NULL, *hi = k < K - 1 ? mid + N : NULL;
        const float stay = 1.0f - sw * (float)((lo != NULL) + (hi != NULL));
        for (int c = 0; c < N; c++) {
            float v = stay * mid[c];
            if (lo)
                v += sw * lo[c];
            if (hi)
                v += sw * hi[c];
            v = keep * v + add;
            l[c] = v;
            t->tmp[c] += v;
        }
    }
}

/* Tempo states after the observation: each layer times the cell's likelihood
 * (tmp after / before), normalised by s; the speed estimate from the speed
 * marginal around the belief. */
static void posterior_tempo(lec_tracker *t, double s)
{
    const int N = t->N, K = t->K;
    const float inv = (float)(1.0 / s);
    for (int c = 0; c < N; c++)
        t->before[c] = t->before[c] > 0 ? t->tmp[c] / t->before[c] * inv : 0.0f;
    for (int k = 0; k < K; k++) {
        float *l = t->lay + (size_t)k * N;
        for (int c = 0; c < N; c++)
            l[c] *= t->before[c];
    }
}

static void tempo_from_layers(lec_tracker *t)
{
    const int N = t->N, K = t->K;
    int R = (int)ceilf(t->cfg.conf_radius_ss * t->ss / t->cell);
    int c0 = t->map_c - R < 0 ? 0 : t->map_c - R, c1 = t->map_c + R + 1 > N ? N : t->map_c + R + 1;
    double sw = 0, slv = 0;
    for (int k = 0; k < K; k++) {
        const float *l = t->lay + (size_t)k * N;
        double m = 0;
        for (int c = c0; c < c1; c++)
            m += l[c];
        sw += m;
        slv += m * log(t->v_k[k]);
    }
    if (sw > 0) {
        t->v_est = (float)exp(slv / sw);
        t->have_v = 1;
    }
}

/* Multiply window i's likelihood into tmp. Returns 0 if the row was unusable,
 * else 1, and (for the main window) the agreement *g and the evidence *ev. */
static int observe(lec_tracker *t, const float *p, float x0, float e, float *g, float *ev)
{
    int B = t->B;
    double sum = 0;
    for (int b = 0; b < B; b++) {
        if (!isfinite(p[b]) || p[b] < 0)
            return 0;
        sum += p[b];
    }
    if (!(sum > 0) || !isfinite(sum))
        return 0;
    /* likelihood relative to a flat output: (B p + floor)^e / (1 + floor)^e, so
     * a flat soft-max multiplies by exactly 1, like a cell in no window */
    float inv = (float)(B / sum), fl = t->cfg.obs_floor;
    float norm = powf(1.0f + fl, -e);
    float lmax = 0;
    for (int b = 0; b < B; b++) {
        t->lik[b] = powf(p[b] * inv + fl, e) * norm;
        if (t->lik[b] > lmax)
            lmax = t->lik[b];
    }
    int c0 = (int)floorf(x0 / t->cell), c1 = (int)ceilf((x0 + t->win_w) / t->cell);
    if (c0 < 0)
        c0 = 0;
    if (c1 > t->N)
        c1 = t->N;
    double before = 0, after = 0;
    float inv_bw = 1.0f / t->bw;
    for (int c = c0; c < c1; c++) {
        float xc = cell_x(t, c) - x0;
        if (xc < 0 || xc >= t->win_w)
            continue;
        int b = (int)(xc * inv_bw);
        if (b >= B)
            b = B - 1;
        before += t->tmp[c];
        t->tmp[c] *= t->lik[b];
        after += t->tmp[c];
    }
    /* agreement: the likelihood the belief gets, relative to the best bucket
     * of this window (0 = the belief sits on the network's peak; a flat output
     * also gives 0: no evidence against the belief). Independent of how sharp
     * the network is, unlike the raw evidence. */
    if (g)
        *g = before > 1e-30 ? (float)log(after / before / lmax + 1e-30) : 0.0f;
    /* evidence: the same likelihood relative to a flat output (0 for a flat
     * output, > 0 when the network confirms the belief) */
    if (ev)
        *ev = before > 1e-30 ? (float)log(after / before + 1e-30) : 0.0f;
    return 1;
}

/* Row i of rows as logits (is_log) or soft-max probabilities (their logs are
 * logits up to a per-row constant); 0 if unusable. */
static const float *row_logits(lec_tracker *t, const float *rows, int i, int is_log)
{
    const float *r = rows + (size_t)i * (size_t)t->B;
    for (int b = 0; b < t->B; b++)
        if (!isfinite(r[b]) || (!is_log && r[b] < 0))
            return NULL;
    if (is_log)
        return r;
    double s = 0;
    for (int b = 0; b < t->B; b++)
        s += r[b];
    if (!(s > 0) || !isfinite(s))
        return NULL;
    for (int b = 0; b < t->B; b++)
        t->rowbuf[b] = logf(fmaxf(r[b], 1e-30f));
    return t->rowbuf;
}

/* Global observation: every cell's logit from its tile; likelihood
 * exp(e (z - zmax)) floored at exp(global_floor_log). Cells whose tile was not
 * evaluated (n < tiles) or whose row is unusable get the floor. Returns how
 * many rows were usable; *g = log of the likelihood the predicted belief gets
 * (0 = it sits on the best cell). Needs t->lik sized B: reused per row. */
static int observe_global(lec_tracker *t, const float *rows, int n, int is_log, float e,
                          int learn, float *g)
{
    /* pass 1: every cell's logit from its tile (NAN: no usable row) */
    int used = 0, cur = -1;
    const float *z = NULL;
    for (int i = 0; i < n; i++)
        used += row_logits(t, rows, i, is_log) != NULL;
    if (!used)
        return 0;
    for (int c = 0; c < t->N; c++) {
        int k = t->cell_tile[c];
        if (k != cur) {
            cur = k;
            z = k < n ? row_logits(t, rows, k, is_log) : NULL;
            if (z && !is_log) { /* keep the row: rowbuf is reused */
                memcpy(t->lik, z, (size_t)t->B * sizeof *t->lik);
                z = t->lik;
            }
        }
        t->zc[c] = z ? z[t->cell_bucket[c]] : NAN;
    }
    /* pass 2: centring (hmm/README.md, "Hubs"): minus the cell's running mean,
     * shrunk towards the mean over cells while its history is short; the
     * means are those of the frames before this one */
    const int centre = t->cfg.global_center_s > 0;
    double mbar = 0;
    float w_own = 0;
    if (centre) {
        int nm = 0;
        for (int c = 0; c < t->N; c++)
            if (isfinite(t->zc[c])) {
                mbar += t->zmean[c];
                nm++;
            }
        mbar = nm ? mbar / nm : 0;
        const double n0 = (double)t->cfg.global_center_prior_s * t->cfg.fps;
        w_own = t->n_center + n0 > 0 ? (float)(t->n_center / (t->n_center + n0)) : 1.0f;
    }
    float zmax = -INFINITY;
    for (int c = 0; c < t->N; c++) {
        if (!isfinite(t->zc[c]))
            continue;
        float zz = t->zc[c];
        if (centre) {
            const float m = w_own * t->zmean[c] + (1 - w_own) * (float)mbar;
            /* update the cell's mean with this frame (after reading it), from
             * playing frames only */
            const double nt = (double)t->cfg.global_center_s * t->cfg.fps;
            const float rate = (float)(1.0 / (t->n_center + 1 < nt ? t->n_center + 1 : nt));
            if (learn)
                t->zmean[c] += rate * (zz - t->zmean[c]);
            zz -= m;
            t->zc[c] = zz;
        }
        zmax = zz > zmax ? zz : zmax;
    }
    if (centre && learn)
        t->n_center += 1;
    /* pass 3: likelihood relative to the best cell, floored */
    float fl = t->cfg.global_floor_log;
    double before = 0, after = 0;
    for (int c = 0; c < t->N; c++) {
        float l = isfinite(t->zc[c]) ? e * (t->zc[c] - zmax) : fl;
        float lik = expf(l > fl ? l : fl);
        before += t->tmp[c];
        t->tmp[c] *= lik;
        after += t->tmp[c];
    }
    *g = before > 1e-30 ? (float)log(after / before + 1e-30) : 0.0f;
    return used;
}

static void tempo_update(lec_tracker *t, float a)
{
    if (t->mode != MODE_TRACK || a < 0.5f || t->conf < t->cfg.conf_lost)
        return;
    /* a jump (far more than the fastest motion in a frame) breaks the line */
    float jump_px = 3.0f * t->d_hi + 4.0f * t->ss;
    if (t->hist_n > 0 && fabsf(t->x - t->last_x) > jump_px)
        hist_clear(t);
    int cap = t->hist_cap;
    t->hist_t[t->hist_head] = (float)t->active_t;
    t->hist_x[t->hist_head] = t->x;
    t->hist_head = (t->hist_head + 1) % cap;
    if (t->hist_n < cap)
        t->hist_n++;
    /* least-squares slope of x over active time, relative to the newest point */
    double tn = t->active_t, st = 0, sx = 0, stt = 0, stx = 0, tmin = 0;
    int n = 0;
    for (int i = 0; i < t->hist_n; i++) {
        int k = (t->hist_head - 1 - i + cap) % cap;
        double tt = t->hist_t[k] - tn, xx = t->hist_x[k] - t->x;
        if (tt < -t->cfg.tempo_window_s)
            break;
        st += tt;
        sx += xx;
        stt += tt * tt;
        stx += tt * xx;
        if (tt < tmin)
            tmin = tt;
        n++;
    }
    if (n >= TEMPO_MIN_POINTS && -tmin >= TEMPO_MIN_SPAN_S) {
        double den = n * stt - st * st;
        if (den > 1e-9) {
            double slope = (n * stx - st * sx) / den;
            t->v_est = clampf((float)slope, t->v_lo, t->v_hi);
            t->have_v = 1;
        }
    }
}

static lec_status update(lec_tracker *t, const float *probs, int n, float activity,
                         lec_track_state *out, int is_log, lec_error *err);

lec_status lec_tracker_update(lec_tracker *t, const float *probs, int n, float activity,
                              lec_track_state *out, lec_error *err)
{
    return update(t, probs, n, activity, out, 0, err);
}

lec_status lec_tracker_update_logits(lec_tracker *t, const float *logits, int n, float activity,
                                     lec_track_state *out, lec_error *err)
{
    return update(t, logits, n, activity, out, 1, err);
}

static lec_status update(lec_tracker *t, const float *probs, int n, float activity,
                         lec_track_state *out, int is_log, lec_error *err)
{
    if (!t)
        return lec_error_set(err, LEC_EINVAL, "tracker update: NULL tracker");
    if (n < 0 || (n > 0 && (!t->planned || n > t->n_win)))
        return lec_error_set(err, LEC_EINVAL,
                             "tracker update: %d observations but %d windows were planned", n,
                             t->planned ? t->n_win : 0);
    if (n > 0 && !probs)
        return lec_error_set(err, LEC_EINVAL, "tracker update: NULL probabilities");
    /* negative, NaN or inf: unknown -> playing */
    float a = (activity < 0 || !isfinite(activity)) ? 1.0f : clampf(activity, 0, 1);

    /* consume the scan/probe windows that were evaluated (in silence their
     * observations are ignored, so they are offered again later) */
    for (int i = 0; i < n && a > 0 && !t->cfg.global_obs; i++) {
        if (t->win_kind[i] == WIN_SCAN)
            scan_take(t, &t->scan);
        else if (t->win_kind[i] == WIN_PROBE)
            t->probe_k = (t->probe_k + 1) % t->n_probe_offsets;
    }

    float pj = (float)(1.0 - exp(-(double)t->cfg.jump_rate_s * t->dt * a));
    if (t->K) {
        predict_tempo(t, a, pj);
        memcpy(t->before, t->tmp, (size_t)t->N * sizeof *t->before);
    } else {
        build_kernel(t, a);
        predict(t, pj);
    }

    int used = 0;
    float g = 0, ev = 0;
    int have_g = 0;
    if (a > 0 && t->cfg.global_obs) {
        used = n > 0 ? observe_global(t, probs, n, is_log, t->cfg.global_obs_weight * a,
                                      a >= 0.5f, &g)
                     : 0;
        have_g = used > 0;
    } else if (a > 0) {
        float e = t->cfg.obs_weight * a;
        for (int i = 0; i < n; i++) {
            float gi = 0, evi = 0;
            const float *row = probs + (size_t)i * t->B;
            if (is_log) { /* logits -> soft-max row */
                float mx = row[0];
                for (int b = 1; b < t->B; b++)
                    mx = row[b] > mx ? row[b] : mx;
                for (int b = 0; b < t->B; b++)
                    t->rowbuf[b] = isfinite(mx) ? expf(row[b] - mx) : NAN;
                row = t->rowbuf;
            }
            int ok = observe(t, row, t->win_x0[i], e, i == 0 ? &gi : NULL,
                             i == 0 ? &evi : NULL);
            used += ok;
            if (i == 0 && ok) {
                g = gi;
                ev = evi;
                have_g = 1;
            }
        }
    }
    /* normalise */
    double s = 0;
    for (int c = 0; c < t->N; c++)
        s += t->tmp[c];
    int reset_layers = 0;
    if (!(s > 0) || !isfinite(s)) { /* cannot happen with a positive floor; be safe */
        for (int c = 0; c < t->N; c++)
            t->tmp[c] = 1.0f / (float)t->N;
        s = 1;
        reset_layers = 1;
    }
    if (t->K && !reset_layers)
        posterior_tempo(t, s);
    float inv = (float)(1.0 / s);
    for (int c = 0; c < t->N; c++)
        t->alpha[c] = t->tmp[c] * inv;
    if (reset_layers)
        layers_from_alpha(t, 0);

    float prev_x = t->x;
    summarise(t);
    t->last_x = prev_x;
    if (t->K)
        tempo_from_layers(t);

    /* lost / found bookkeeping only while someone plays */
    if (a >= 0.5f) {
        if (have_g) {
            float k = 1.0f - expf(-t->dt / AGREE_TAU_S);
            t->agree_s += k * (g - t->agree_s);
            t->evid_s += k * (ev - t->evid_s);
        }
        if (t->mode == MODE_TRACK) {
            /* global: no main window, so no evidence measure (the agreement is
             * the belief's likelihood relative to the best cell of the strip) */
            int bad = t->conf < t->cfg.conf_lost || t->agree_s < t->cfg.agree_lost ||
                      (!t->cfg.global_obs && t->evid_s < t->cfg.evidence_lost);
            t->bad_frames = bad ? t->bad_frames + 1 : 0;
            if (t->bad_frames >= t->lost_after_frames) {
                t->mode = MODE_SEARCH;
                t->good_frames = 0;
                hist_clear(t);
                t->scan_centre = scan_index_of(t, t->x);
                scan_restart(&t->scan, t->scan_centre);
            }
        } else {
            int good = t->conf >= t->cfg.conf_found && t->agree_s >= t->cfg.agree_found &&
                       (t->cfg.global_obs || t->evid_s >= t->cfg.evidence_lost);
            t->good_frames = good ? t->good_frames + 1 : 0;
            if (t->good_frames >= FOUND_FRAMES) {
                t->mode = MODE_TRACK;
                t->bad_frames = 0;
                hist_clear(t);
            }
        }
        t->active_t += t->dt * a;
        if (!t->K)
            tempo_update(t, a);
    }
    find_second(t, main_x0(t));
    t->planned = 0;
    t->frame++;

    if (out) {
        out->frame = t->frame;
        out->x_px = t->x;
        out->system = system_of(t, t->x);
        out->x_in_system_px = t->x - t->sys_start[out->system];
        out->page = t->sys_page[out->system];
        out->confidence = t->conf;
        out->speed_px_s = t->have_v ? t->v_est : 0;
        out->tempo = (t->have_v && t->cfg.nominal_speed_px_s > 0)
                         ? t->v_est / t->cfg.nominal_speed_px_s
                         : 0;
        out->lost = t->mode == MODE_SEARCH;
        out->n_windows_used = used;
    }
    return LEC_OK;
}
