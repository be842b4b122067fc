/* lec_follower.c -- spectrogram -> network -> tracker, per frame (see the header). */
#include "lec_follower.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lec_util.h"

/* ------------------------------------------------------------ the model */

struct lec_follow_model {
    lec_nn_net *net;
    lec_model_info info;
    int outside;       /* 1: last output = "outside the window" */
    int B;             /* in-window buckets */
    float margin_x_ss; /* < 0: engine default */
    int n_bands;
    char name[1024];
};

static lec_status check_model(lec_follow_model *m, lec_error *err)
{
    const lec_nn_arch *a = lec_nn_net_arch(m->net);
    const lec_model_info *in = &m->info;
    const char *nm = m->name;
    if (m->outside) {
        if (a->n_out < 3)
            return lec_error_set(err, LEC_EFORMAT,
                                 "%s: model.outside_class = 1 needs at least 2 buckets + the "
                                 "outside output, the network has %d outputs",
                                 nm, a->n_out);
        m->B = a->n_out - 1;
    } else {
        m->B = a->n_out;
    }
    if (in->buckets != a->n_out && in->buckets != m->B)
        return lec_error_set(err, LEC_EFORMAT,
                             "%s: unroll.buckets = %d but the network has %d outputs", nm,
                             in->buckets, a->n_out);
    if (in->window_width_px != a->score_w || in->window_height_px != a->score_h)
        return lec_error_set(err, LEC_EFORMAT,
                             "%s: score window %dx%d px (unroll.window_*) but the network reads "
                             "%dx%d (arch.score_h x arch.score_w)",
                             nm, in->window_height_px, in->window_width_px, a->score_h, a->score_w);
    if (!(in->staff_space_px >= 1.0 && in->staff_space_px <= 64.0))
        return lec_error_set(err, LEC_EFORMAT, "%s: unroll.staff_space_px = %g outside [1, 64]", nm,
                             in->staff_space_px);
    float hss = (float)(in->window_height_px / in->staff_space_px);
    if (!(hss >= 4.0f && hss <= 200.0f) ||
        (int)lroundf(hss * (float)in->staff_space_px) != in->window_height_px)
        return lec_error_set(err, LEC_EFORMAT,
                             "%s: a window of %d px at %g px per staff space is %g staff spaces "
                             "high: the unrolled strip cannot be that (4..200)",
                             nm, in->window_height_px, in->staff_space_px, (double)hss);
    if (m->margin_x_ss >= 0 && !(m->margin_x_ss <= 50.0f))
        return lec_error_set(err, LEC_EFORMAT, "%s: unroll.margin_x_ss = %g outside [0, 50]", nm,
                             (double)m->margin_x_ss);
    lec_spec_config sc;
    lec_follow_model_spec_config(m, &sc);
    lec_error e2;
    lec_spec *s = lec_spec_create(&sc, &e2);
    if (!s)
        return lec_error_set(err, e2.code == LEC_ENOMEM ? LEC_ENOMEM : LEC_EFORMAT,
                             "%s: front-end parameters rejected: %s", nm, e2.msg);
    m->n_bands = lec_spec_n_bands(s);
    lec_spec_destroy(s);
    if (m->n_bands != a->spec_bands)
        return lec_error_set(
            err, LEC_EFORMAT,
            "%s: the front-end (%d Hz, frame %d, hop %d, %g-%g Hz, %d bands/octave) "
            "gives %d bands but the network reads %d (arch.spec_bands)",
            nm, in->sample_rate, in->frame_size, in->hop_size, in->fmin_hz, in->fmax_hz,
            in->bands_per_octave, m->n_bands, a->spec_bands);
    return LEC_OK;
}

lec_follow_model *lec_follow_model_load(const char *path, lec_error *err)
{
    if (!path || !*path) {
        lec_error_set(err, LEC_EINVAL, "follower: no model file given");
        return NULL;
    }
    lec_follow_model *m = calloc(1, sizeof *m);
    if (!m) {
        lec_error_set(err, LEC_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    snprintf(m->name, sizeof m->name, "%s", path);
    lec_meta meta;
    m->net = lec_model_load(path, &m->info, &meta, err);
    if (!m->net) {
        free(m);
        return NULL;
    }
    lec_status st = LEC_OK;
    const lec_meta_entry *e = lec_meta_find(&meta, "model.outside_class");
    if (e) {
        if (e->type != LEC_META_INT || (e->i != 0 && e->i != 1))
            st = lec_error_set(err, LEC_EFORMAT, "%s: metadata model.outside_class must be 0 or 1",
                               path);
        else
            m->outside = (int)e->i;
    }
    m->margin_x_ss = -1.0f;
    double mx;
    if (!st && lec_meta_find(&meta, "unroll.margin_x_ss")) {
        st = lec_meta_get_float(&meta, "unroll.margin_x_ss", &mx, path, err);
        if (!st)
            m->margin_x_ss = (float)mx;
        if (!st && !(mx >= 0))
            st = lec_error_set(err, LEC_EFORMAT, "%s: unroll.margin_x_ss = %g must be >= 0", path,
                               mx);
    }
    /* the strip height is the window height (unroll.height_ss, when stored, must agree) */
    if (!st && lec_meta_find(&meta, "unroll.height_ss")) {
        double h, want = m->info.window_height_px / m->info.staff_space_px;
        st = lec_meta_get_float(&meta, "unroll.height_ss", &h, path, err);
        if (!st && !(fabs(h - want) <= 1e-3 * want))
            st = lec_error_set(err, LEC_EFORMAT,
                               "%s: unroll.height_ss = %g but the window is %d px at %g px per "
                               "staff space (%g staff spaces): the strip would not be the "
                               "network's window",
                               path, h, m->info.window_height_px, m->info.staff_space_px, want);
    }
    lec_meta_free(&meta);
    if (!st)
        st = check_model(m, err);
    if (st) {
        lec_follow_model_destroy(m);
        return NULL;
    }
    return m;
}

lec_follow_model *lec_follow_model_from_net(const lec_nn_net *net, const lec_model_info *info,
                                            int outside_class, const char *name, lec_error *err)
{
    if (!net || !info) {
        lec_error_set(err, LEC_EINVAL, "follower: NULL network or model info");
        return NULL;
    }
    lec_follow_model *m = calloc(1, sizeof *m);
    if (!m) {
        lec_error_set(err, LEC_ENOMEM, "follower: out of memory");
        return NULL;
    }
    snprintf(m->name, sizeof m->name, "%s", name ? name : "model");
    m->info = *info;
    m->outside = outside_class ? 1 : 0;
    m->margin_x_ss = -1.0f;
    m->net = lec_nn_net_create(lec_nn_net_arch(net), err);
    if (!m->net) {
        free(m);
        return NULL;
    }
    memcpy(lec_nn_net_params(m->net), lec_nn_net_params_const(net),
           sizeof(float) * lec_nn_net_n_params(net));
    if (check_model(m, err)) {
        lec_follow_model_destroy(m);
        return NULL;
    }
    return m;
}

void lec_follow_model_destroy(lec_follow_model *m)
{
    if (!m)
        return;
    lec_nn_net_destroy(m->net);
    free(m);
}

const lec_nn_net *lec_follow_model_net(const lec_follow_model *m) { return m->net; }
const lec_model_info *lec_follow_model_info(const lec_follow_model *m) { return &m->info; }
int lec_follow_model_buckets(const lec_follow_model *m) { return m->B; }
int lec_follow_model_outside_class(const lec_follow_model *m) { return m->outside; }
const char *lec_follow_model_name(const lec_follow_model *m) { return m->name; }
double lec_follow_model_fps(const lec_follow_model *m)
{
    return (double)m->info.sample_rate / (double)m->info.hop_size;
}

void lec_follow_model_unroll_config(const lec_follow_model *m, lec_unroll_config *cfg)
{
    lec_unroll_config_default(cfg);
    cfg->staff_space_px = (float)m->info.staff_space_px;
    cfg->height_ss = (float)(m->info.window_height_px / m->info.staff_space_px);
    if (m->margin_x_ss >= 0)
        cfg->margin_x_ss = m->margin_x_ss;
}

void lec_follow_model_spec_config(const lec_follow_model *m, lec_spec_config *cfg)
{
    lec_spec_config_default(cfg);
    cfg->sample_rate = m->info.sample_rate;
    cfg->frame_size = m->info.frame_size;
    cfg->hop_size = m->info.hop_size;
    cfg->fmin_hz = (float)m->info.fmin_hz;
    cfg->fmax_hz = (float)m->info.fmax_hz;
    cfg->bands_per_octave = m->info.bands_per_octave;
}

/* ------------------------------------------------------------ the score-window cache */

struct lec_follow_cache {
    const lec_follow_model *model; /* for the consistency check only */
    int grid, win_w, strip_w;
    int last_x0;  /* floor(max(0, strip_w - win_w)): the last origin */
    int n_mult;   /* origins k * grid <= last_x0: k = 0 .. n_mult - 1 */
    int n;        /* n_mult, + 1 if last_x0 is not a multiple */
    size_t part;  /* floats per origin */
    float *parts; /* (n, part) */
    double build_s;
};

static int cache_index(const lec_follow_cache *c, int x0)
{
    if (x0 < 0 || x0 > c->last_x0)
        return -1;
    if (x0 % c->grid == 0)
        return x0 / c->grid;
    return x0 == c->last_x0 ? c->n - 1 : -1;
}

static int cache_origin(const lec_follow_cache *c, int k)
{
    return k < c->n_mult ? k * c->grid : c->last_x0;
}

/* batch of the cache build: big enough for efficient GEMMs, small enough that
 * the activations of a big score window stay within tens of MB */
#define CACHE_BATCH 8

lec_follow_cache *lec_follow_cache_create(const lec_follow_model *m, const lec_unroll *u,
                                          int grid_px, lec_follow_progress_fn progress,
                                          void *progress_user, lec_error *err)
{
    const lec_nn_net *net = m->net;
    const lec_nn_arch *a = lec_nn_net_arch(net);
    if (grid_px < 1 || grid_px > 65536) {
        lec_error_set(err, LEC_EINVAL, "score cache: window grid %d px (want 1..65536)",
                      grid_px);
        return NULL;
    }
    if (lec_unroll_height_px(u) != a->score_h) {
        lec_error_set(err, LEC_EINVAL,
                      "score cache: strip %d px high, model %s reads windows %d px high",
                      lec_unroll_height_px(u), m->name, a->score_h);
        return NULL;
    }
    double t0 = lec_now_s();
    lec_follow_cache *c = calloc(1, sizeof *c);
    float *win = NULL, *emb = NULL;
    lec_nn_ctx *ctx = NULL;
    if (!c)
        goto oom;
    c->model = m;
    c->grid = grid_px;
    c->win_w = a->score_w;
    c->strip_w = lec_unroll_width_px(u);
    c->last_x0 = c->strip_w > c->win_w ? c->strip_w - c->win_w : 0;
    c->n_mult = c->last_x0 / grid_px + 1;
    c->n = c->n_mult + (c->last_x0 % grid_px != 0);
    c->part = lec_nn_head_part_floats(net);
    c->parts = malloc(sizeof(float) * (size_t)c->n * c->part);
    size_t sw = (size_t)a->score_h * (size_t)a->score_w, es = lec_nn_score_embed_floats(net);
    win = malloc(sizeof(float) * CACHE_BATCH * sw);
    emb = malloc(sizeof(float) * CACHE_BATCH * es);
    if (!c->parts || !win || !emb)
        goto oom;
    ctx = lec_nn_ctx_create(net, CACHE_BATCH, 0, err);
    if (!ctx)
        goto fail;
    for (int k = 0; k < c->n; k += CACHE_BATCH) {
        int nb = c->n - k < CACHE_BATCH ? c->n - k : CACHE_BATCH;
        for (int j = 0; j < nb; j++)
            lec_unroll_window(u, cache_origin(c, k + j), a->score_w, win + (size_t)j * sw);
        if (lec_nn_forward_score_tower(ctx, win, nb, emb, err) ||
            lec_nn_head_score_part(net, emb, nb, c->parts + (size_t)k * c->part, err))
            goto fail;
        if (progress)
            progress(progress_user, k + nb, c->n);
    }
    lec_nn_ctx_destroy(ctx);
    free(win);
    free(emb);
    c->build_s = lec_now_s() - t0;
    return c;
oom:
    lec_error_set(err, LEC_ENOMEM, "score cache: out of memory (%d windows x %zu floats)",
                  c ? c->n : 0, c ? c->part : (size_t)0);
fail:
    lec_error_prefix(err, "%s: ", m->name);
    lec_nn_ctx_destroy(ctx);
    free(win);
    free(emb);
    lec_follow_cache_destroy(c);
    return NULL;
}

void lec_follow_cache_destroy(lec_follow_cache *c)
{
    if (!c)
        return;
    free(c->parts);
    free(c);
}

int lec_follow_cache_grid_px(const lec_follow_cache *c) { return c->grid; }
int lec_follow_cache_n_origins(const lec_follow_cache *c) { return c->n; }
size_t lec_follow_cache_bytes(const lec_follow_cache *c)
{
    return sizeof(float) * (size_t)c->n * c->part;
}
double lec_follow_cache_build_s(const lec_follow_cache *c) { return c->build_s; }
const float *lec_follow_cache_part(const lec_follow_cache *c, int x0)
{
    int k = cache_index(c, x0);
    return k < 0 ? NULL : c->parts + (size_t)k * c->part;
}

/* ------------------------------------------------------------ the follower */

#define NET_BATCH 64 /* most windows per network call */

struct lec_follower {
    const lec_follow_model *model;
    lec_follow_model *own_model;
    const lec_piece *piece;
    const lec_unroll *u;
    lec_unroll *own_unroll;
    lec_spec *spec;
    lec_tracker *tr;
    lec_nn_ctx *ctx;
    lec_follow_observer_fn observer;
    void *observer_user;
    lec_follow_start start;
    int net_every;
    float floor_db, range_db;

    int B, n_out, outside;
    int H, Ww;    /* score window rows, columns */
    int bands, F; /* spectrogram excerpt */
    int hop, sr;
    int max_win;
    double fps;

    float *ring;     /* (F, bands): the last F frames, ring[(slot)*bands + b] */
    int ring_pos;    /* next slot to write = the oldest frame */
    float *frame;    /* (bands) */
    float *excerpt;  /* (bands, F) */
    float *spec_in;  /* (max_win, bands, F) */
    float *score_in; /* (max_win, H, Ww) */
    float *probs;    /* (max_win, B) */
    float *x0;       /* (max_win) */
    /* the cached path (net_cache) */
    const lec_follow_cache *cache;
    lec_follow_cache *own_cache;
    float *spec_emb;            /* (spec embedding) of this frame */
    float *spec_part;           /* (head spec part) of this frame */
    const float **parts;        /* (max_win) pointers into the cache */
    int batch;                  /* windows per network call (ctx batch) */
    int global;                 /* tracker in global observation mode */
    float *logits;              /* (max_win, B): bucket logits of the frame's windows */

    uint64_t samples;  /* pushed since create/reset; frames_done = samples / hop */
    double sumsq;      /* sum of squares of the samples of the frame being completed */
    double spec_acc_s; /* spectrogram time spent on the frame being completed */
    lec_follow_out last;
    int last_n; /* windows of the last frame */
    lec_follow_costs costs;
};

void lec_follower_config_default(lec_follower_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->start = LEC_FOLLOW_START_PAGE1;
    cfg->net_every = 1;
    cfg->level_floor_db = -60.0f;
    cfg->level_range_db = 20.0f;
    cfg->net_cache = 1;
    cfg->global_obs = -1;
    lec_tracker_config_default(&cfg->tracker);
}

/* Fill the mapping part of o from a strip x. */
static void map_position(const lec_follower *f, float x, lec_follow_out *o)
{
    int page = 0;
    float px = 0;
    int s = lec_unroll_to_page(f->u, x, &page, &px);
    o->strip_x_px = x;
    o->system = s;
    o->page = page;
    o->page_x_px = px;
    const lec_piece_system *ps = lec_piece_systems(f->piece);
    o->sys_y0_px = ps[s].box.y0;
    o->sys_y1_px = ps[s].box.y1;
}

/* What the tracker reports before evidence: the first cell of the start region
 * (lec_tracker_reset: "report the start of the region until there is
 * evidence"). */
static void set_initial(lec_follower *f, double t_s, int64_t frame)
{
    /* the start prior is uniform over the start region: its first cell */
    float cell = 0;
    const float *alpha = lec_tracker_posterior(f->tr, &cell);
    int nc = lec_tracker_n_cells(f->tr), c = 0;
    while (c + 1 < nc && !(alpha[c] > 0))
        c++;
    float x0 = (float)c * cell;
    memset(&f->last, 0, sizeof f->last);
    f->last.frame = frame;
    f->last.t_end_s = t_s;
    f->last.lost = 1;
    f->last.level_db = -INFINITY;
    map_position(f, x0 + 0.5f * cell, &f->last);
}

lec_follower *lec_follower_create(const lec_follower_config *cfg, lec_error *err)
{
    if (!cfg || !cfg->piece) {
        lec_error_set(err, LEC_EINVAL, "follower: no piece given");
        return NULL;
    }
    if (!cfg->model && !cfg->model_path) {
        lec_error_set(err, LEC_EINVAL, "follower: no model given");
        return NULL;
    }
    if (cfg->start != LEC_FOLLOW_START_PAGE1 && cfg->start != LEC_FOLLOW_START_ANYWHERE) {
        lec_error_set(err, LEC_EINVAL, "follower: unknown start mode %d", (int)cfg->start);
        return NULL;
    }
    if (cfg->net_every < 1 || cfg->net_every > 100) {
        lec_error_set(err, LEC_EINVAL, "follower: net_every %d outside 1..100", cfg->net_every);
        return NULL;
    }
    if ((cfg->net_cache != 0 && cfg->net_cache != 1) || cfg->window_grid_px < 0 ||
        cfg->window_grid_px > 65536) {
        lec_error_set(err, LEC_EINVAL, "follower: net_cache %d (0 or 1) / window grid %d px "
                      "(0..65536) not sensible", cfg->net_cache, cfg->window_grid_px);
        return NULL;
    }
    if (!isfinite(cfg->level_floor_db) || !(cfg->level_range_db > 0) ||
        !isfinite(cfg->level_range_db)) {
        lec_error_set(err, LEC_EINVAL, "follower: level floor %g dB / range %g dB not sensible",
                      (double)cfg->level_floor_db, (double)cfg->level_range_db);
        return NULL;
    }
    lec_follower *f = calloc(1, sizeof *f);
    if (!f) {
        lec_error_set(err, LEC_ENOMEM, "follower: out of memory");
        return NULL;
    }
    f->piece = cfg->piece;
    f->start = cfg->start;
    f->net_every = cfg->net_every;
    f->floor_db = cfg->level_floor_db;
    f->range_db = cfg->level_range_db;
    f->observer = cfg->observer;
    f->observer_user = cfg->observer_user;
    if (cfg->model) {
        f->model = cfg->model;
    } else {
        f->own_model = lec_follow_model_load(cfg->model_path, err);
        if (!f->own_model)
            goto fail;
        f->model = f->own_model;
    }
    const lec_follow_model *m = f->model;
    const lec_nn_arch *a = lec_nn_net_arch(m->net);
    f->B = m->B;
    f->n_out = a->n_out;
    f->outside = m->outside;
    f->H = a->score_h;
    f->Ww = a->score_w;
    f->bands = a->spec_bands;
    f->F = a->spec_frames;
    f->hop = m->info.hop_size;
    f->sr = m->info.sample_rate;
    f->fps = lec_follow_model_fps(m);

    lec_unroll_config ucfg;
    lec_follow_model_unroll_config(m, &ucfg);
    if (cfg->unroll) {
        const lec_unroll_config *g = lec_unroll_config_of(cfg->unroll);
        if (fabsf(g->staff_space_px - ucfg.staff_space_px) > 1e-4f ||
            lec_unroll_height_px(cfg->unroll) != f->H ||
            fabsf(g->margin_x_ss - ucfg.margin_x_ss) > 1e-4f) {
            lec_error_set(err, LEC_EINVAL,
                          "follower: the given unrolled strip (%g px/staff space, %d px high, "
                          "margin %g) does not match model %s (%g px, %d px, %g)",
                          (double)g->staff_space_px, lec_unroll_height_px(cfg->unroll),
                          (double)g->margin_x_ss, m->name, (double)ucfg.staff_space_px, f->H,
                          (double)ucfg.margin_x_ss);
            goto fail;
        }
        if (lec_unroll_n_systems(cfg->unroll) != lec_piece_n_systems(cfg->piece)) {
            lec_error_set(err, LEC_EINVAL,
                          "follower: the given unrolled strip has %zu systems, piece %s has %zu",
                          lec_unroll_n_systems(cfg->unroll), lec_piece_dir(cfg->piece),
                          lec_piece_n_systems(cfg->piece));
            goto fail;
        }
        f->u = cfg->unroll;
    } else {
        f->own_unroll = lec_unroll_create(cfg->piece, &ucfg, err);
        if (!f->own_unroll) {
            lec_error_prefix(err, "%s: ", lec_piece_dir(cfg->piece));
            goto fail;
        }
        f->u = f->own_unroll;
    }
    if (lec_unroll_height_px(f->u) != f->H) {
        lec_error_set(err, LEC_EINVAL, "follower: strip %d px high, network window %d px",
                      lec_unroll_height_px(f->u), f->H);
        goto fail;
    }

    lec_spec_config sc;
    lec_follow_model_spec_config(m, &sc);
    f->spec = lec_spec_create(&sc, err);
    if (!f->spec)
        goto fail;

    /* tracker: geometry from the strip, the window and the frame rate from the model */
    size_t ns = lec_unroll_n_systems(f->u);
    const lec_unroll_system *us = lec_unroll_systems(f->u);
    float *sx0 = malloc(sizeof(float) * ns), *sx1 = malloc(sizeof(float) * ns);
    int *spg = malloc(sizeof(int) * ns);
    if (!sx0 || !sx1 || !spg) {
        free(sx0), free(sx1), free(spg);
        lec_error_set(err, LEC_ENOMEM, "follower: out of memory");
        goto fail;
    }
    for (size_t k = 0; k < ns; k++) {
        sx0[k] = (float)us[k].x0;
        sx1[k] = (float)us[k].x1;
        spg[k] = us[k].page;
    }
    lec_tracker_config tc = cfg->tracker;
    /* global observation: automatic = with the bucket head, whose logits are one
     * shared function of a column and the audio, so comparable across windows */
    f->global = cfg->global_obs >= 0 ? cfg->global_obs != 0 : a->bucket_head != 0;
    tc.global_obs = f->global;
    tc.strip_w_px = (float)lec_unroll_width_px(f->u);
    tc.n_systems = (int)ns;
    tc.sys_start_px = sx0;
    tc.sys_end_px = sx1;
    tc.sys_page = spg;
    tc.staff_space_px = ucfg.staff_space_px;
    tc.win_w_px = (float)f->Ww;
    tc.n_buckets = f->B;
    tc.fps = (float)f->fps;
    /* the window grid: the shared cache's, else asked for, else automatic:
     * win_w / 8 with the cache (hmm/FOLLOWER.md: the main window's belief
     * then sits within +-win_w/16 of its intended place), free without */
    int grid = cfg->window_grid_px;
    if (cfg->net_cache && cfg->cache)
        grid = lec_follow_cache_grid_px(cfg->cache);
    else if (grid == 0 && cfg->net_cache && f->global) /* the tiles only: stride win_w / 2 */
        grid = (int)lroundf((float)f->Ww / 2.0f);
    else if (grid == 0 && cfg->net_cache)
        grid = (int)lroundf((float)f->Ww / 8.0f);
    if (grid < 1 && cfg->net_cache)
        grid = 1;
    tc.grid_px = (float)grid;
    if (f->start == LEC_FOLLOW_START_ANYWHERE) {
        tc.start_x0_px = 0;
        tc.start_x1_px = tc.strip_w_px;
    } else {
        tc.start_x0_px = tc.start_x1_px = 0; /* the first system's page */
    }
    f->tr = lec_tracker_create(&tc, err);
    free(sx0), free(sx1), free(spg);
    if (!f->tr) {
        lec_error_prefix(err, "%s: ", lec_piece_dir(cfg->piece));
        goto fail;
    }
    f->max_win = lec_tracker_max_windows(f->tr);
    if (f->max_win < 1) {
        lec_error_set(err, LEC_EINVAL, "follower: the tracker asks for no windows");
        goto fail;
    }
    /* the network runs in batches of at most NET_BATCH windows (the global mode
     * asks for every tile of the strip: hundreds) */
    f->batch = f->max_win < NET_BATCH ? f->max_win : NET_BATCH;
    if (!f->observer || cfg->observer_after_network) {
        /* with the cache the towers run on one excerpt per frame (the score
         * tower only inside lec_follow_cache_create, with its own context) */
        f->ctx = cfg->net_cache ? lec_nn_ctx_create_eval(m->net, 1, f->batch, err)
                                : lec_nn_ctx_create(m->net, f->batch, 0, err);
        if (!f->ctx)
            goto fail;
        if (cfg->net_cache) {
            if (cfg->cache) {
                const lec_follow_cache *c = cfg->cache;
                if (c->model != m || c->strip_w != lec_unroll_width_px(f->u) ||
                    c->win_w != f->Ww) {
                    lec_error_set(err, LEC_EINVAL,
                                  "follower: the given score cache was built for another "
                                  "model or strip (%d px wide, window %d px; here %d, %d)",
                                  c->strip_w, c->win_w, lec_unroll_width_px(f->u), f->Ww);
                    goto fail;
                }
                f->cache = c;
            } else {
                f->own_cache = lec_follow_cache_create(m, f->u, grid, cfg->progress,
                                                       cfg->progress_user, err);
                if (!f->own_cache) {
                    lec_error_prefix(err, "%s: ", lec_piece_dir(cfg->piece));
                    goto fail;
                }
                f->cache = f->own_cache;
            }
            f->spec_emb = calloc(lec_nn_spec_embed_floats(m->net), sizeof(float));
            f->spec_part = calloc(lec_nn_head_spec_part_floats(m->net), sizeof(float));
            f->parts = calloc((size_t)f->max_win, sizeof *f->parts);
            if (!f->spec_emb || !f->spec_part || !f->parts) {
                lec_error_set(err, LEC_ENOMEM, "follower: out of memory");
                goto fail;
            }
        }
    }
    size_t nw = (size_t)f->max_win;
    size_t ex = (size_t)f->bands * (size_t)f->F;
    f->ring = calloc(ex, sizeof(float));
    f->frame = calloc((size_t)f->bands, sizeof(float));
    f->excerpt = calloc(ex, sizeof(float));
    /* per-window network inputs: for the full forward (one batch at a time) and
     * for the observer (all windows at once) */
    size_t nin = f->observer ? nw : (f->cache ? 1 : (size_t)f->batch);
    f->spec_in = calloc(nin * ex, sizeof(float));
    f->score_in = calloc(nin * (size_t)f->H * (size_t)f->Ww, sizeof(float));
    f->probs = calloc(nw * (size_t)(f->n_out > f->B ? f->n_out : f->B), sizeof(float));
    f->logits = calloc(nw * (size_t)f->B, sizeof(float));
    f->x0 = calloc(nw, sizeof(float));
    if (!f->ring || !f->frame || !f->excerpt || !f->spec_in || !f->score_in || !f->probs ||
        !f->logits || !f->x0) {
        lec_error_set(err, LEC_ENOMEM, "follower: out of memory (%d windows per frame)",
                      f->max_win);
        goto fail;
    }
    lec_follower_reset(f);
    return f;
fail:
    lec_follower_destroy(f);
    return NULL;
}

void lec_follower_destroy(lec_follower *f)
{
    if (!f)
        return;
    lec_nn_ctx_destroy(f->ctx);
    lec_tracker_destroy(f->tr);
    lec_spec_destroy(f->spec);
    lec_unroll_destroy(f->own_unroll);
    lec_follow_model_destroy(f->own_model);
    lec_follow_cache_destroy(f->own_cache);
    free(f->spec_emb);
    free(f->spec_part);
    free(f->parts);
    free(f->ring);
    free(f->frame);
    free(f->excerpt);
    free(f->spec_in);
    free(f->score_in);
    free(f->probs);
    free(f->logits);
    free(f->x0);
    free(f);
}

void lec_follower_reset(lec_follower *f)
{
    if (!f)
        return;
    lec_spec_reset(f->spec);
    lec_tracker_reset(f->tr);
    memset(f->ring, 0, sizeof(float) * (size_t)f->bands * (size_t)f->F);
    f->ring_pos = 0;
    f->samples = 0;
    f->sumsq = 0;
    f->spec_acc_s = 0;
    f->last_n = 0;
    memset(&f->costs, 0, sizeof f->costs);
    set_initial(f, 0.0, -1);
}

void lec_follower_restart(lec_follower *f)
{
    if (!f)
        return;
    lec_tracker_reset(f->tr);
    set_initial(f, f->last.t_end_s, f->last.frame);
}

void lec_follower_set_position(lec_follower *f, float strip_x_px)
{
    if (!f || !isfinite(strip_x_px))
        return;
    float W = (float)lec_unroll_width_px(f->u);
    strip_x_px = strip_x_px < 0 ? 0 : (strip_x_px > W ? W : strip_x_px);
    lec_tracker_set_position(f->tr, strip_x_px);
    map_position(f, strip_x_px, &f->last);
    f->last.lost = 0;
}

lec_status lec_follower_seek(lec_follower *f, int system, float page_x_px, lec_error *err)
{
    if (!f)
        return lec_error_set(err, LEC_EINVAL, "follower: NULL");
    if (system < 0 || (size_t)system >= lec_unroll_n_systems(f->u) || !isfinite(page_x_px))
        return lec_error_set(err, LEC_EINVAL, "follower: seek to system %d (of %zu), page x %g",
                             system, lec_unroll_n_systems(f->u), (double)page_x_px);
    lec_follower_set_position(f, lec_unroll_strip_x(f->u, system, page_x_px));
    return LEC_OK;
}

void lec_follower_nudge(lec_follower *f, int delta_systems)
{
    if (!f || delta_systems == 0)
        return;
    int ns = (int)lec_unroll_n_systems(f->u);
    const lec_unroll_system *us = lec_unroll_systems(f->u);
    int s = f->last.system;
    int t = s + delta_systems;
    t = t < 0 ? 0 : (t >= ns ? ns - 1 : t);
    float w0 = (float)(us[s].x1 - us[s].x0), w1 = (float)(us[t].x1 - us[t].x0);
    float rel = w0 > 0 ? (f->last.strip_x_px - (float)us[s].x0) / w0 : 0;
    rel = rel < 0 ? 0 : (rel > 1 ? 1 : rel);
    lec_follower_set_position(f, (float)us[t].x0 + rel * w1);
}

void lec_follower_relocalise(lec_follower *f)
{
    if (!f)
        return;
    lec_tracker_relocalise(f->tr);
    f->last.lost = 1;
}

size_t lec_follower_max_frames(const lec_follower *f, size_t n)
{
    uint64_t h = (uint64_t)f->hop;
    return (size_t)((f->samples + n) / h - f->samples / h);
}

void lec_follower_position(const lec_follower *f, lec_follow_out *out) { *out = f->last; }

/* Soft-max of (n, n_out) logits into (n, B) bucket probabilities; with an
 * outside class its mass is spread evenly over the buckets (header). */
/* the bucket logits (B of each row of n_out) of rows [i0, i0 + n) */
static void keep_logits(lec_follower *f, const float *logits, int i0, int n)
{
    for (int i = 0; i < n; i++)
        memcpy(f->logits + (size_t)(i0 + i) * (size_t)f->B, logits + (size_t)i * (size_t)f->n_out,
               sizeof(float) * (size_t)f->B);
}

static void softmax_rows(const lec_follower *f, const float *logits, int n, float *probs)
{
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * (size_t)f->n_out;
        float *p = probs + (size_t)i * (size_t)f->B;
        float mx = l[0];
        for (int k = 1; k < f->n_out; k++)
            mx = l[k] > mx ? l[k] : mx;
        double s = 0;
        for (int k = 0; k < f->B; k++) {
            p[k] = expf(l[k] - mx);
            s += p[k];
        }
        double out = f->outside ? exp((double)(l[f->B] - mx)) : 0.0;
        s += out;
        float inv = (float)(1.0 / s), add = (float)(out / s / f->B);
        for (int k = 0; k < f->B; k++)
            p[k] = p[k] * inv + add;
    }
}

/* Everything after the spectrogram frame is known. Returns 0 or -1 (err). */
static int frame_step(lec_follower *f, lec_follow_out *o, lec_error *err)
{
    double t0 = lec_now_s();
    int64_t idx = (int64_t)(f->samples / (uint64_t)f->hop) - 1;
    /* level of the hop that completed this frame, dBFS (a full-scale sine is -3 dB) */
    double ms = f->sumsq / (double)f->hop;
    float level_db = (float)(10.0 * log10(ms + 1e-12));
    float activity = lec_tracker_activity_from_db(level_db, f->floor_db, f->range_db);
    f->sumsq = 0;
    /* the ring: slot ring_pos is the oldest frame; overwrite it */
    memcpy(f->ring + (size_t)f->ring_pos * (size_t)f->bands, f->frame,
           sizeof(float) * (size_t)f->bands);
    f->ring_pos = (f->ring_pos + 1) % f->F;

    double t1 = lec_now_s();
    int n = lec_tracker_windows(f->tr, f->x0, f->max_win);
    /* in silence the tracker ignores observations (activity 0): skip the network */
    if (activity <= 0 || idx % f->net_every != 0)
        n = 0;
    double t2 = lec_now_s(), t_obs = 0;
    if (n > 0) {
        /* excerpt (bands, F): H = band (low to high), W = frame (oldest to newest) */
        for (int j = 0; j < f->F; j++) {
            const float *fr = f->ring + (size_t)((f->ring_pos + j) % f->F) * (size_t)f->bands;
            for (int b = 0; b < f->bands; b++)
                f->excerpt[(size_t)b * (size_t)f->F + (size_t)j] = fr[b];
        }
        size_t ex = (size_t)f->bands * (size_t)f->F, sw = (size_t)f->H * (size_t)f->Ww;
        if (f->cache) {
            /* spectrogram tower once, then per window: cached score part +
             * this frame's spectrogram part through the rest of the head */
            const lec_nn_net *net = f->model->net;
            if (lec_nn_forward_spec_tower(f->ctx, f->excerpt, 1, f->spec_emb, err))
                return -1;
            lec_nn_head_spec_part(net, f->spec_emb, f->spec_part);
            for (int i = 0; i < n; i++) {
                f->parts[i] = lec_follow_cache_part(f->cache, (int)f->x0[i]);
                if (!f->parts[i]) { /* the tracker was given the cache's grid */
                    lec_error_set(err, LEC_EINVAL,
                                  "follower: window origin %g px is not on the %d px grid",
                                  (double)f->x0[i], f->cache->grid);
                    return -1;
                }
            }
            for (int i0 = 0; i0 < n; i0 += f->batch) {
                int m = n - i0 < f->batch ? n - i0 : f->batch;
                if (lec_nn_forward_head_parts(f->ctx, f->parts + i0, f->spec_part, m, err))
                    return -1;
                const float *lg = lec_nn_ctx_logits(f->ctx);
                softmax_rows(f, lg, m, f->probs + (size_t)i0 * (size_t)f->B);
                keep_logits(f, lg, i0, m);
            }
        } else if (f->ctx) {
            for (int i0 = 0; i0 < n; i0 += f->batch) {
                int m = n - i0 < f->batch ? n - i0 : f->batch;
                for (int i = 0; i < m; i++) {
                    memcpy(f->spec_in + (size_t)i * ex, f->excerpt, sizeof(float) * ex);
                    lec_unroll_window(f->u, (int)f->x0[i0 + i], f->Ww,
                                      f->score_in + (size_t)i * sw);
                }
                if (lec_nn_forward(f->ctx, f->score_in, f->spec_in, m, LEC_NN_EVAL, 0, 0, err))
                    return -1;
                const float *lg = lec_nn_ctx_logits(f->ctx);
                softmax_rows(f, lg, m, f->probs + (size_t)i0 * (size_t)f->B);
                keep_logits(f, lg, i0, m);
            }
        }
        if (f->observer) {
            double o0 = lec_now_s();
            /* the network paths keep no per-window inputs: the observer needs them */
            for (int i = 0; i < n; i++) {
                    memcpy(f->spec_in + (size_t)i * ex, f->excerpt, sizeof(float) * ex);
                    lec_unroll_window(f->u, (int)f->x0[i], f->Ww, f->score_in + (size_t)i * sw);
                }
            if (f->observer(f->observer_user, f->score_in, f->spec_in, f->x0, n,
                            (double)f->samples / f->sr, f->probs)) {
                lec_error_set(err, LEC_EINVAL, "follower: observer failed at frame %lld",
                              (long long)idx);
                return -1;
            }
            /* after the network (benchmarks), the observer and the inputs built
             * for it only are not the follower's cost */
            if (f->ctx)
                t_obs = lec_now_s() - o0;
        }
    }
    double t3 = lec_now_s();
    lec_track_state st;
    /* the network's raw logits where the tracker compares windows (global);
     * soft-max rows otherwise, and always from the observer */
    if (f->global && f->ctx && !f->observer) {
        if (lec_tracker_update_logits(f->tr, f->logits, n, activity, &st, err))
            return -1;
    } else if (lec_tracker_update(f->tr, f->probs, n, activity, &st, err)) {
        return -1;
    }
    memset(o, 0, sizeof *o);
    o->frame = idx;
    o->t_end_s = (double)f->samples / f->sr;
    map_position(f, st.x_px, o);
    o->confidence = st.confidence;
    o->lost = st.lost;
    o->speed_px_s = st.speed_px_s;
    o->tempo = st.tempo;
    o->activity = activity;
    o->level_db = level_db;
    o->n_windows = n;
    double t4 = lec_now_s();
    f->costs.spec_s += f->spec_acc_s + (t1 - t0);
    f->costs.net_s += t3 - t2 - t_obs;
    f->costs.track_s += (t2 - t1) + (t4 - t3);
    f->costs.windows += n;
    f->costs.frames++;
    o->cost_s = f->spec_acc_s + (t4 - t0) - t_obs;
    o->cost_spec_s = f->spec_acc_s + (t1 - t0);
    o->cost_net_s = t3 - t2 - t_obs;
    o->cost_track_s = (t2 - t1) + (t4 - t3);
    f->last_n = n;
    f->spec_acc_s = 0;
    f->last = *o;
    return 0;
}

int lec_follower_process(lec_follower *f, const float *samples, size_t n, size_t *consumed,
                         lec_follow_out *out, int max_out, lec_error *err)
{
    size_t i = 0;
    int k = 0;
    uint64_t hop = (uint64_t)f->hop;
    while (i < n) {
        /* feed up to the end of the current frame, so each spec call completes at
         * most one frame and the level covers exactly that frame's new samples */
        uint64_t next_end = (f->samples / hop + 1) * hop;
        size_t chunk = (size_t)(next_end - f->samples);
        int completes = chunk <= n - i, last = 0;
        if (!completes) {
            chunk = n - i;
        } else if (k >= max_out) {
            /* no room for another frame: take what stops one sample short of it */
            if (chunk == 1)
                break;
            chunk--;
            completes = 0;
            last = 1;
        }
        const float *x = samples + i;
        double s = 0;
        for (size_t j = 0; j < chunk; j++)
            s += (double)x[j] * (double)x[j];
        f->sumsq += s;
        double t0 = lec_now_s();
        size_t got = lec_spec_process(f->spec, x, chunk, f->frame, 1);
        f->spec_acc_s += lec_now_s() - t0;
        f->samples += chunk;
        i += chunk;
        if ((size_t)completes != got) {
            lec_error_set(err, LEC_EINVAL,
                          "follower: spectrogram gave %zu frames where %d were due (sample %llu)",
                          got, completes, (unsigned long long)f->samples);
            if (consumed)
                *consumed = i;
            return -1;
        }
        if (completes) {
            if (frame_step(f, &out[k], err)) {
                if (consumed)
                    *consumed = i;
                return -1;
            }
            k++;
        }
        if (last)
            break;
    }
    if (consumed)
        *consumed = i;
    return k;
}

const lec_unroll *lec_follower_unroll(const lec_follower *f) { return f->u; }
const lec_tracker *lec_follower_tracker(const lec_follower *f) { return f->tr; }
const lec_follow_model *lec_follower_model(const lec_follower *f) { return f->model; }
const lec_follow_cache *lec_follower_cache(const lec_follower *f) { return f->cache; }
double lec_follower_fps(const lec_follower *f) { return f->fps; }
int64_t lec_follower_frames_done(const lec_follower *f)
{
    return (int64_t)(f->samples / (uint64_t)f->hop);
}
void lec_follower_costs(const lec_follower *f, lec_follow_costs *out) { *out = f->costs; }

int lec_follower_last_windows(const lec_follower *f, const float **x0, const float **probs)
{
    if (x0)
        *x0 = f->x0;
    if (probs)
        *probs = f->probs;
    return f->last_n;
}
