#include "lec_unroll.h"

#include <SDL.h>
#include <SDL_image.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct truth_track {
    size_t n;
    double *t;   /* (n) onset seconds, non-decreasing */
    float *x;    /* (n) strip x */
    int *sys;    /* (n) system */
} truth_track;

struct lec_unroll {
    const lec_piece *piece;
    lec_unroll_config cfg;
    int width, height;
    uint8_t *pix;              /* (height, width) */
    size_t n_sys;
    lec_unroll_system *sys;
    size_t n_events;
    float *event_x;            /* (n_events) */
    int *event_sys;            /* (n_events) */
    size_t n_tracks;
    truth_track *tracks;       /* one per rendering */
};

void lec_unroll_config_default(lec_unroll_config *cfg)
{
    cfg->staff_space_px = 5.0f;
    cfg->height_ss = 24.0f;
    cfg->margin_x_ss = 1.0f;
}

void lec_unroll_destroy(lec_unroll *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->n_tracks; i++) {
        free(u->tracks[i].t);
        free(u->tracks[i].x);
        free(u->tracks[i].sys);
    }
    free(u->tracks);
    free(u->event_x);
    free(u->event_sys);
    free(u->sys);
    free(u->pix);
    free(u);
}

/* Area-average resampling of one axis: output cell o covers source interval
 * [a0 + o/scale, a0 + (o+1)/scale). For each output cell we store the first
 * source index and the weights of the (at most max_taps) source cells it
 * overlaps, normalised to sum 1. Source cells outside [0, n_src) keep their
 * weight but read as white paper. */
typedef struct axis_map {
    int *first;    /* (n_out) */
    int *count;    /* (n_out) */
    float *w;      /* (n_out, taps) */
    int taps;
} axis_map;

static void axis_map_free(axis_map *m)
{
    free(m->first);
    free(m->count);
    free(m->w);
}

static int axis_map_make(axis_map *m, int n_out, double a0, double scale)
{
    double step = 1.0 / scale;
    m->taps = (int)ceil(step) + 2;
    m->first = malloc(sizeof(int) * (size_t)n_out);
    m->count = malloc(sizeof(int) * (size_t)n_out);
    m->w = calloc((size_t)n_out * (size_t)m->taps, sizeof(float));
    if (!m->first || !m->count || !m->w)
        return -1;
    for (int o = 0; o < n_out; o++) {
        double s0 = a0 + o * step, s1 = s0 + step;
        int i0 = (int)floor(s0);
        int i1 = (int)ceil(s1); /* exclusive */
        if (i1 - i0 > m->taps)
            i1 = i0 + m->taps;
        double total = 0.0;
        for (int i = i0; i < i1; i++) {
            double lo = i > s0 ? i : s0, hi = (i + 1) < s1 ? (i + 1) : s1;
            double cover = hi > lo ? hi - lo : 0.0;
            m->w[(size_t)o * (size_t)m->taps + (size_t)(i - i0)] = (float)cover;
            total += cover;
        }
        for (int i = 0; i < i1 - i0; i++)
            m->w[(size_t)o * (size_t)m->taps + (size_t)i] /= (float)(total > 0 ? total : 1.0);
        m->first[o] = i0;
        m->count[o] = i1 - i0;
    }
    return 0;
}

static float system_staff_space(const lec_piece *p, const lec_piece_system *s)
{
    const lec_piece_staff *st = lec_piece_staves(p);
    double sum = 0.0;
    for (int i = 0; i < s->n_staves; i++)
        sum += st[s->first_staff + i].staff_space_px;
    return s->n_staves > 0 ? (float)(sum / s->n_staves) : 0.0f;
}

static int cmp_double_idx(const void *a, const void *b)
{
    const double *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

static lec_status build_truth(lec_unroll *u, lec_error *err)
{
    const lec_piece *p = u->piece;
    size_t ne = lec_piece_n_events(p), nh = lec_piece_n_heads(p);
    const lec_piece_event *ev = lec_piece_events(p);
    const lec_piece_note *notes = lec_piece_notes(p);
    const lec_piece_head *heads = lec_piece_heads(p);
    u->n_events = ne;
    u->event_x = malloc(sizeof(float) * (ne ? ne : 1));
    u->event_sys = malloc(sizeof(int) * (ne ? ne : 1));
    if (!u->event_x || !u->event_sys)
        return lec_error_set(err, LEC_ENOMEM, "unroll: out of memory");
    for (size_t e = 0; e < ne; e++) {
        int best = -1;
        for (int k = 0; k < ev[e].n_notes; k++) {
            int h = notes[ev[e].first_note + k].head;
            if (h < 0 || (size_t)h >= nh)
                continue;
            if (best < 0 || heads[h].box.x0 < heads[best].box.x0)
                best = h;
        }
        if (best < 0) {
            u->event_x[e] = -1.0f;
            u->event_sys[e] = -1;
        } else {
            const lec_piece_head *hd = &heads[best];
            u->event_x[e] = lec_unroll_strip_x(u, hd->system, 0.5f * (hd->box.x0 + hd->box.x1));
            u->event_sys[e] = hd->system;
        }
    }
    size_t nr = lec_piece_n_renderings(p);
    const lec_piece_rendering *r = lec_piece_renderings(p);
    u->n_tracks = nr;
    u->tracks = calloc(nr ? nr : 1, sizeof(truth_track));
    double *tmp = malloc(sizeof(double) * 2 * (ne ? ne : 1));
    if (!u->tracks || !tmp) {
        free(tmp);
        return lec_error_set(err, LEC_ENOMEM, "unroll: out of memory");
    }
    for (size_t ri = 0; ri < nr; ri++) {
        truth_track *tr = &u->tracks[ri];
        size_t n = 0;
        /* ground truth is absent when the piece was parsed without its files */
        for (size_t e = 0; e < ne && r[ri].event_onset_s; e++) {
            if (u->event_x[e] < 0 || !isfinite(r[ri].event_onset_s[e]))
                continue;
            tmp[2 * n] = r[ri].event_onset_s[e];
            tmp[2 * n + 1] = (double)e;
            n++;
        }
        /* stable order by time (asynchrony can swap near-simultaneous events) */
        qsort(tmp, n, 2 * sizeof(double), cmp_double_idx);
        tr->n = n;
        tr->t = malloc(sizeof(double) * (n ? n : 1));
        tr->x = malloc(sizeof(float) * (n ? n : 1));
        tr->sys = malloc(sizeof(int) * (n ? n : 1));
        if (!tr->t || !tr->x || !tr->sys) {
            free(tmp);
            return lec_error_set(err, LEC_ENOMEM, "unroll: out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            size_t e = (size_t)tmp[2 * i + 1];
            tr->t[i] = tmp[2 * i];
            tr->x[i] = u->event_x[e];
            tr->sys[i] = u->event_sys[e];
        }
    }
    free(tmp);
    return LEC_OK;
}

lec_unroll *lec_unroll_create_from_pages(const lec_piece *p, const uint8_t *const *pages,
                                         const lec_unroll_config *cfg, lec_error *err)
{
    lec_unroll_config def;
    if (!cfg) {
        lec_unroll_config_default(&def);
        cfg = &def;
    }
    if (!(cfg->staff_space_px >= 1.0f && cfg->staff_space_px <= 64.0f) ||
        !(cfg->height_ss >= 4.0f && cfg->height_ss <= 200.0f) ||
        !(cfg->margin_x_ss >= 0.0f && cfg->margin_x_ss <= 50.0f)) {
        lec_error_set(err, LEC_EINVAL,
                      "unroll: bad config (staff_space_px %g in [1,64], height_ss %g in [4,200], "
                      "margin_x_ss %g in [0,50])",
                      cfg->staff_space_px, cfg->height_ss, cfg->margin_x_ss);
        return NULL;
    }
    size_t ns = lec_piece_n_systems(p);
    if (ns == 0) {
        lec_error_set(err, LEC_EFORMAT, "%s: the piece has no staff systems", lec_piece_dir(p));
        return NULL;
    }
    lec_unroll *u = calloc(1, sizeof *u);
    if (!u) {
        lec_error_set(err, LEC_ENOMEM, "unroll: out of memory");
        return NULL;
    }
    u->piece = p;
    u->cfg = *cfg;
    u->n_sys = ns;
    u->sys = calloc(ns, sizeof *u->sys);
    if (!u->sys)
        goto oom;
    const lec_piece_system *ps = lec_piece_systems(p);
    const lec_piece_page *pg = lec_piece_pages(p);
    u->height = (int)lroundf(cfg->height_ss * cfg->staff_space_px);
    int x = 0;
    for (size_t k = 0; k < ns; k++) {
        float ss = system_staff_space(p, &ps[k]);
        if (!(ss > 0.5f)) {
            lec_error_set(err, LEC_EFORMAT, "%s: system %zu has no usable staff space (%g px)",
                          lec_piece_dir(p), k, ss);
            lec_unroll_destroy(u);
            return NULL;
        }
        lec_unroll_system *s = &u->sys[k];
        s->page = ps[k].page;
        s->box = ps[k].box;
        s->scale = cfg->staff_space_px / ss;
        float yc = 0.5f * (ps[k].box.y0 + ps[k].box.y1);
        s->page_y0 = yc - 0.5f * (float)u->height / s->scale;
        s->page_x0 = ps[k].box.x0 - cfg->margin_x_ss * ss;
        float page_x1 = ps[k].box.x1 + cfg->margin_x_ss * ss;
        int w = (int)lroundf((page_x1 - s->page_x0) * s->scale);
        if (w < 1)
            w = 1;
        s->x0 = x;
        s->x1 = x + w;
        x += w;
    }
    u->width = x;
    u->pix = malloc((size_t)u->width * (size_t)u->height);
    if (!u->pix)
        goto oom;
    memset(u->pix, 255, (size_t)u->width * (size_t)u->height);
    for (size_t k = 0; k < ns; k++) {
        lec_unroll_system *s = &u->sys[k];
        const uint8_t *src = pages[s->page];
        int sw = pg[s->page].width_px, sh = pg[s->page].height_px;
        int w = s->x1 - s->x0;
        axis_map mx = {0}, my = {0};
        if (axis_map_make(&mx, w, s->page_x0, s->scale) ||
            axis_map_make(&my, u->height, s->page_y0, s->scale)) {
            axis_map_free(&mx);
            axis_map_free(&my);
            goto oom;
        }
        for (int oy = 0; oy < u->height; oy++) {
            uint8_t *dst = u->pix + (size_t)oy * (size_t)u->width + (size_t)s->x0;
            for (int ox = 0; ox < w; ox++) {
                double acc = 0.0;
                for (int j = 0; j < my.count[oy]; j++) {
                    int sy = my.first[oy] + j;
                    float wy = my.w[(size_t)oy * (size_t)my.taps + (size_t)j];
                    if (wy == 0.0f)
                        continue;
                    for (int i = 0; i < mx.count[ox]; i++) {
                        int sx = mx.first[ox] + i;
                        float wx = mx.w[(size_t)ox * (size_t)mx.taps + (size_t)i];
                        float v = (sx >= 0 && sx < sw && sy >= 0 && sy < sh)
                                      ? src[(size_t)sy * (size_t)sw + (size_t)sx]
                                      : 255.0f;
                        acc += (double)wy * wx * v;
                    }
                }
                long q = lround(acc);
                dst[ox] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
            }
        }
        axis_map_free(&mx);
        axis_map_free(&my);
    }
    if (build_truth(u, err) != LEC_OK) {
        lec_unroll_destroy(u);
        return NULL;
    }
    return u;
oom:
    lec_error_set(err, LEC_ENOMEM, "%s: out of memory unrolling the score", lec_piece_dir(p));
    lec_unroll_destroy(u);
    return NULL;
}

/* Load a page image as gray (255 = white). */
static uint8_t *load_gray(const char *path, int want_w, int want_h, lec_error *err)
{
    SDL_Surface *img = IMG_Load(path);
    if (!img) {
        lec_error_set(err, LEC_EIO, "%s: cannot read page image: %s", path, IMG_GetError());
        return NULL;
    }
    SDL_Surface *rgba = SDL_ConvertSurfaceFormat(img, SDL_PIXELFORMAT_RGBA32, 0);
    SDL_FreeSurface(img);
    if (!rgba) {
        lec_error_set(err, LEC_EFORMAT, "%s: cannot convert page image: %s", path,
                      SDL_GetError());
        return NULL;
    }
    if (rgba->w != want_w || rgba->h != want_h) {
        lec_error_set(err, LEC_EFORMAT, "%s: image is %dx%d px, piece.json says %dx%d", path,
                      rgba->w, rgba->h, want_w, want_h);
        SDL_FreeSurface(rgba);
        return NULL;
    }
    uint8_t *g = malloc((size_t)want_w * (size_t)want_h);
    if (!g) {
        SDL_FreeSurface(rgba);
        lec_error_set(err, LEC_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    for (int y = 0; y < want_h; y++) {
        const uint8_t *row = (const uint8_t *)rgba->pixels + (size_t)y * (size_t)rgba->pitch;
        for (int x = 0; x < want_w; x++) {
            const uint8_t *px = row + 4 * x;
            /* Rec. 601 luma, composited on white paper by alpha */
            float a = px[3] / 255.0f;
            float l = 0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2];
            float v = a * l + (1.0f - a) * 255.0f;
            g[(size_t)y * (size_t)want_w + (size_t)x] = (uint8_t)lroundf(v);
        }
    }
    SDL_FreeSurface(rgba);
    return g;
}

lec_unroll *lec_unroll_create(const lec_piece *p, const lec_unroll_config *cfg, lec_error *err)
{
    size_t np = lec_piece_n_pages(p);
    const lec_piece_page *pg = lec_piece_pages(p);
    uint8_t **pages = calloc(np ? np : 1, sizeof(uint8_t *));
    if (!pages) {
        lec_error_set(err, LEC_ENOMEM, "unroll: out of memory");
        return NULL;
    }
    lec_unroll *u = NULL;
    size_t i;
    for (i = 0; i < np; i++) {
        char path[4096];
        lec_piece_path(p, pg[i].image, path, sizeof path);
        pages[i] = load_gray(path, pg[i].width_px, pg[i].height_px, err);
        if (!pages[i])
            break;
    }
    if (i == np)
        u = lec_unroll_create_from_pages(p, (const uint8_t *const *)pages, cfg, err);
    for (size_t j = 0; j < np; j++)
        free(pages[j]);
    free(pages);
    return u;
}

int lec_unroll_width_px(const lec_unroll *u) { return u->width; }
int lec_unroll_height_px(const lec_unroll *u) { return u->height; }
const uint8_t *lec_unroll_pixels(const lec_unroll *u) { return u->pix; }
const lec_unroll_config *lec_unroll_config_of(const lec_unroll *u) { return &u->cfg; }
size_t lec_unroll_n_systems(const lec_unroll *u) { return u->n_sys; }
const lec_unroll_system *lec_unroll_systems(const lec_unroll *u) { return u->sys; }
const float *lec_unroll_event_x(const lec_unroll *u) { return u->event_x; }

float lec_unroll_strip_x(const lec_unroll *u, int system, float page_x)
{
    if (system < 0 || (size_t)system >= u->n_sys)
        return -1.0f;
    const lec_unroll_system *s = &u->sys[system];
    return (float)s->x0 + (page_x - s->page_x0) * s->scale;
}

int lec_unroll_to_page(const lec_unroll *u, float strip_x, int *page, float *page_x)
{
    /* binary search for the system whose [x0, x1) holds strip_x */
    size_t lo = 0, hi = u->n_sys;
    if (strip_x < 0)
        strip_x = 0;
    if (strip_x >= (float)u->width)
        strip_x = (float)u->width - 1e-3f;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if ((float)u->sys[mid].x0 <= strip_x)
            lo = mid;
        else
            hi = mid;
    }
    const lec_unroll_system *s = &u->sys[lo];
    if (page)
        *page = s->page;
    if (page_x)
        *page_x = s->page_x0 + (strip_x - (float)s->x0) / s->scale;
    return (int)lo;
}

void lec_unroll_window(const lec_unroll *u, int x0, int w, float *out)
{
    const float inv = 1.0f / 255.0f;
    for (int y = 0; y < u->height; y++) {
        const uint8_t *row = u->pix + (size_t)y * (size_t)u->width;
        float *o = out + (size_t)y * (size_t)w;
        for (int i = 0; i < w; i++) {
            int x = x0 + i;
            o[i] = (x >= 0 && x < u->width) ? 1.0f - (float)row[x] * inv : 0.0f;
        }
    }
}

float lec_unroll_truth_x(const lec_unroll *u, int rendering, double t_s)
{
    if (rendering < 0 || (size_t)rendering >= u->n_tracks)
        return -1.0f;
    const truth_track *tr = &u->tracks[rendering];
    if (tr->n == 0)
        return -1.0f;
    if (t_s < tr->t[0])
        return tr->x[0];
    /* last event with t <= t_s */
    size_t lo = 0, hi = tr->n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (tr->t[mid] <= t_s)
            lo = mid;
        else
            hi = mid;
    }
    size_t i = lo;
    if (i + 1 >= tr->n)
        return tr->x[i];
    double t0 = tr->t[i], t1 = tr->t[i + 1];
    double f = t1 > t0 ? (t_s - t0) / (t1 - t0) : 0.0;
    float x0 = tr->x[i], x1;
    if (tr->sys[i + 1] == tr->sys[i] && tr->x[i + 1] >= x0)
        x1 = tr->x[i + 1];
    else if (tr->sys[i + 1] == tr->sys[i] + 1)
        x1 = (float)u->sys[tr->sys[i]].x1; /* run on to the end of the system */
    else
        x1 = x0; /* a jump (repeat): hold until it happens */
    return x0 + (float)f * (x1 - x0);
}
