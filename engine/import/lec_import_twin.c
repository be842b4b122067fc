/* lec_import_twin.c -- page variants (shared with `lectern import
 * --evaluate`) and imported twins of annotated bundles: the pages go through
 * the import pipeline, the original annotations are carried over for
 * scoring only (lec_import.h explains the rules). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "lec_import.h"
#include "lec_import_internal.h"
#include "lec_util.h"

#define PI 3.14159265358979323846

/* ---------------------------------------------------------------- variants */

/* The order (id) is part of the degradation seed: never reorder. */
static const lec_import_variant g_variants[] = {
    {"clean1", 1.0, 0, 0},         {"clean0.667", 2.0 / 3.0, 0, 1}, {"clean1.333", 4.0 / 3.0, 0, 2},
    {"deg1", 1.0, 1, 3},           {"deg0.667", 2.0 / 3.0, 1, 4},   {"deg1.333", 4.0 / 3.0, 1, 5},
};

const lec_import_variant *lec_import_variants(int *n)
{
    *n = (int)(sizeof g_variants / sizeof g_variants[0]);
    return g_variants;
}

const lec_import_variant *lec_import_variant_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof g_variants / sizeof g_variants[0]; i++)
        if (strcmp(g_variants[i].name, name) == 0)
            return &g_variants[i];
    return NULL;
}

uint64_t lec_import_variant_seed(const char *bundle_name, size_t page, const lec_import_variant *v)
{
    /* FNV-1a of the name; the combination is the one --evaluate always used,
     * so its published figures stay reproducible */
    uint64_t h = 1469598103934665603ull;
    for (const char *s = bundle_name; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001B3ull;
    return h * 31 + page * 7 + (uint64_t)v->id;
}

lec_status lec_import_variant_apply(lec_import_image *img, const lec_import_variant *v,
                                    uint64_t seed, double *rot_deg, lec_error *err)
{
    if (rot_deg)
        *rot_deg = 0;
    if (v->scale != 1.0) {
        lec_import_image out = {0};
        lec_status st = lec_import_image_resample(img, v->scale, &out, err);
        if (st)
            return st;
        lec_import_image_free(img);
        *img = out;
    }
    if (v->degrade)
        return lec_import_image_degrade(img, seed, LEC_IMPORT_VARIANT_MAX_ROT_DEG, rot_deg, err);
    return LEC_OK;
}

/* ---------------------------------------------------------------- twins */

/* Original page -> twin page: x scaled by fx, y by fy (resampling maps
 * continuous coordinates by the size ratio), then turned by rot_deg
 * counter-clockwise on screen about the centre of the twin page, with the
 * centre convention of lec_import_image_rotate (pixel centres at i + 0.5,
 * centre (w - 1) / 2 in pixel-index units). */
typedef struct page_map {
    int twin;             /* twin page index, -1 = left out (no system detected) */
    int w, h;             /* twin page size, px */
    double fx, fy;        /* twin px per original px */
    double rot_applied;   /* by the degradation, deg */
    double rot_removed;   /* by the detector (its skew_deg), deg */
    size_t first_sys, n_sys; /* detected systems of the page (twin indices) */
} page_map;

typedef struct det_system {
    lec_box box;
    int first_staff, n_staves; /* into det staves */
} det_system;

typedef struct twin_ctx {
    const char *bundle;
    const lec_import_variant *v;
    const lec_piece *p;
    cJSON *orig; /* the original piece.json */
    page_map *pages;
    det_system *sys;
    size_t n_sys, cap_sys;
    lec_import_staff *staves;
    size_t n_staves, cap_staves;
    /* per original head */
    int *new_index; /* -1 = dropped */
    int *h_page, *h_sys, *h_staff;
    lec_box *h_box;
    lec_import_twin_stats *stats;
} twin_ctx;

static void map_point(const page_map *m, double x, double y, double *ox, double *oy)
{
    double a = (m->rot_applied - m->rot_removed) * PI / 180.0, c = cos(a), s = sin(a);
    double cx = 0.5 * (m->w - 1), cy = 0.5 * (m->h - 1);
    /* to pixel-index units, rotate (forward form of lec_import_image_rotate:
     * x' = c dx + s dy, y' = -s dx + c dy), back */
    double dx = x * m->fx - 0.5 - cx, dy = y * m->fy - 0.5 - cy;
    *ox = cx + c * dx + s * dy + 0.5;
    *oy = cy - s * dx + c * dy + 0.5;
}

/* The bounding box of the mapped corners, clamped into the twin page. */
static lec_box map_box(const page_map *m, const lec_box *b)
{
    double xs[4], ys[4];
    map_point(m, b->x0, b->y0, &xs[0], &ys[0]);
    map_point(m, b->x1, b->y0, &xs[1], &ys[1]);
    map_point(m, b->x0, b->y1, &xs[2], &ys[2]);
    map_point(m, b->x1, b->y1, &xs[3], &ys[3]);
    double x0 = xs[0], x1 = xs[0], y0 = ys[0], y1 = ys[0];
    for (int i = 1; i < 4; i++) {
        x0 = fmin(x0, xs[i]), x1 = fmax(x1, xs[i]);
        y0 = fmin(y0, ys[i]), y1 = fmax(y1, ys[i]);
    }
    x0 = fmin(fmax(x0, 0), m->w), x1 = fmin(fmax(x1, 0), m->w);
    y0 = fmin(fmax(y0, 0), m->h), y1 = fmin(fmax(y1, 0), m->h);
    return (lec_box){(float)x0, (float)y0, (float)x1, (float)y1};
}

static double overlap(double a0, double a1, double b0, double b1)
{
    double o = fmin(a1, b1) - fmax(a0, b0);
    return o > 0 ? o : 0;
}

static double system_staff_space(const twin_ctx *c, const det_system *d)
{
    double s = 0;
    for (int j = 0; j < d->n_staves; j++)
        s += c->staves[d->first_staff + j].staff_space_px;
    return d->n_staves ? s / d->n_staves : 0;
}

/* Assign every original head to a detected system (lec_import.h). */
static void assign_heads(twin_ctx *c)
{
    const lec_piece_head *hd = lec_piece_heads(c->p);
    const lec_piece_system *os = lec_piece_systems(c->p);
    size_t nh = lec_piece_n_heads(c->p);
    int next = 0;
    for (size_t i = 0; i < nh; i++) {
        c->new_index[i] = -1;
        const page_map *m = &c->pages[hd[i].page];
        if (m->twin < 0) {
            c->stats->heads_no_system++;
            continue;
        }
        lec_box sb = map_box(m, &os[hd[i].system].box);
        lec_box hb = map_box(m, &hd[i].box);
        double hx = 0.5 * (hb.x0 + hb.x1), hy = 0.5 * (hb.y0 + hb.y1);
        long best = -1;
        double best_d = 0, best_o = 0;
        for (size_t k = m->first_sys; k < m->first_sys + m->n_sys; k++) {
            const lec_box *db = &c->sys[k].box;
            double ox = overlap(db->x0, db->x1, sb.x0, sb.x1);
            double oy = overlap(db->y0, db->y1, sb.y0, sb.y1);
            if (ox < 0.5 * fmin(db->x1 - db->x0, sb.x1 - sb.x0) ||
                oy < 0.5 * fmin(db->y1 - db->y0, sb.y1 - sb.y0) || !(oy > 0))
                continue;
            double d = hy < db->y0 ? db->y0 - hy : hy > db->y1 ? hy - db->y1 : 0;
            if (best < 0 || d < best_d || (d == best_d && oy > best_o))
                best = (long)k, best_d = d, best_o = oy;
        }
        if (best < 0) {
            c->stats->heads_no_system++;
            continue;
        }
        const det_system *d = &c->sys[best];
        double tol = 0.5 * system_staff_space(c, d);
        if (hx < d->box.x0 - tol || hx > d->box.x1 + tol) {
            c->stats->heads_outside++;
            continue;
        }
        int staff = 0;
        double sd = INFINITY;
        for (int j = 0; j < d->n_staves; j++) {
            const lec_box *b = &c->staves[d->first_staff + j].box;
            double dd = hy < b->y0 ? b->y0 - hy : hy > b->y1 ? hy - b->y1 : 0;
            if (dd < sd)
                sd = dd, staff = j;
        }
        c->new_index[i] = next++;
        c->h_page[i] = m->twin;
        c->h_sys[i] = (int)best;
        c->h_staff[i] = staff;
        c->h_box[i] = hb;
        c->stats->heads_kept++;
    }
}

static cJSON *box_json(const lec_box *b)
{
    /* 0.1 px, like the corpus builder and the import writer */
    double v[4] = {round(b->x0 * 10) / 10, round(b->y0 * 10) / 10, round(b->x1 * 10) / 10,
                   round(b->y1 * 10) / 10};
    return cJSON_CreateDoubleArray(v, 4);
}

static void set_item(cJSON *o, const char *key, cJSON *item)
{
    if (cJSON_GetObjectItemCaseSensitive(o, key))
        cJSON_ReplaceItemInObjectCaseSensitive(o, key, item);
    else
        cJSON_AddItemToObject(o, key, item);
}

/* The amend hook: the original's metadata and annotations onto the root the
 * writer made (pages and detected systems). */
static lec_status amend(void *user, cJSON *root, lec_error *err)
{
    twin_ctx *c = user;
    static const char *keep_ours[] = {"format", "version", "name", "pages",
                                      "systems", "import", "heads", "performance",
                                      "renderings", "dpi", "twin"};
    const cJSON *it;
    cJSON_ArrayForEach(it, c->orig)
    {
        int ours = 0;
        for (size_t k = 0; k < sizeof keep_ours / sizeof keep_ours[0]; k++)
            ours |= it->string && strcmp(it->string, keep_ours[k]) == 0;
        if (!ours && it->string)
            set_item(root, it->string, cJSON_Duplicate(it, 1));
    }
    const cJSON *dpi = cJSON_GetObjectItemCaseSensitive(c->orig, "dpi");
    if (cJSON_IsNumber(dpi))
        set_item(root, "dpi",
                 cJSON_CreateNumber(round(dpi->valuedouble * c->v->scale * 100) / 100));

    /* heads: the kept ones, in the original order, on their twin page/system */
    const cJSON *oh = cJSON_GetObjectItemCaseSensitive(c->orig, "heads");
    cJSON *heads = cJSON_CreateArray();
    size_t nh = lec_piece_n_heads(c->p);
    for (size_t i = 0; i < nh; i++) {
        if (c->new_index[i] < 0)
            continue;
        cJSON *h = cJSON_Duplicate(cJSON_GetArrayItem(oh, (int)i), 1);
        if (!h) {
            cJSON_Delete(heads);
            return lec_error_set(err, LEC_ENOMEM, "twin: out of memory");
        }
        set_item(h, "page", cJSON_CreateNumber(c->h_page[i]));
        set_item(h, "system", cJSON_CreateNumber(c->h_sys[i]));
        set_item(h, "staff", cJSON_CreateNumber(c->h_staff[i]));
        set_item(h, "box", box_json(&c->h_box[i]));
        cJSON_AddItemToArray(heads, h);
    }
    set_item(root, "heads", heads);

    /* performance: head indices renumbered, -1 for dropped heads */
    cJSON *perf = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(c->orig, "performance"), 1);
    if (!perf)
        return lec_error_set(err, LEC_ENOMEM, "twin: out of memory");
    cJSON *n;
    cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(perf, "notes"))
    {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(n, "head");
        int old = cJSON_IsNumber(h) ? (int)h->valuedouble : -1;
        int nw = old >= 0 && (size_t)old < nh ? c->new_index[old] : -1;
        set_item(n, "head", cJSON_CreateNumber(nw));
    }
    cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(perf, "events"))
    {
        const cJSON *eh = cJSON_GetObjectItemCaseSensitive(n, "heads");
        if (!cJSON_IsArray(eh))
            continue;
        cJSON *nhs = cJSON_CreateArray();
        const cJSON *x;
        cJSON_ArrayForEach(x, eh)
        {
            int old = cJSON_IsNumber(x) ? (int)x->valuedouble : -1;
            if (old >= 0 && (size_t)old < nh && c->new_index[old] >= 0)
                cJSON_AddItemToArray(nhs, cJSON_CreateNumber(c->new_index[old]));
        }
        set_item(n, "heads", nhs);
    }
    set_item(root, "performance", perf);
    cJSON *rend = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(c->orig, "renderings"), 1);
    set_item(root, "renderings", rend ? rend : cJSON_CreateArray());

    /* what was done, for people and for `lectern import --twin`'s report */
    const lec_import_twin_stats *s = c->stats;
    cJSON *tw = cJSON_CreateObject();
    cJSON_AddStringToObject(tw, "of", c->bundle);
    cJSON_AddStringToObject(tw, "variant", c->v->name);
    cJSON_AddStringToObject(tw, "note",
                            "pages and systems are what lectern import found on the original's "
                            "page images; heads, performance and renderings are the original's, "
                            "mapped onto these pages for scoring only");
    cJSON *pm = cJSON_AddArrayToObject(tw, "pages");
    for (size_t g = 0; g < lec_piece_n_pages(c->p); g++) {
        const page_map *m = &c->pages[g];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "original_page", (double)g);
        cJSON_AddNumberToObject(o, "twin_page", m->twin);
        cJSON_AddNumberToObject(o, "scale_x", m->fx);
        cJSON_AddNumberToObject(o, "scale_y", m->fy);
        cJSON_AddNumberToObject(o, "rotation_applied_deg", round(m->rot_applied * 1e4) / 1e4);
        cJSON_AddNumberToObject(o, "rotation_removed_deg", round(m->rot_removed * 1e4) / 1e4);
        cJSON_AddNumberToObject(o, "systems_detected", (double)m->n_sys);
        cJSON_AddItemToArray(pm, o);
    }
    cJSON_AddNumberToObject(tw, "systems_original", s->systems_original);
    cJSON_AddNumberToObject(tw, "systems_detected", s->systems);
    cJSON_AddNumberToObject(tw, "systems_matched_iou_0.8", s->systems_matched);
    cJSON_AddNumberToObject(tw, "heads_original", (double)s->heads);
    cJSON_AddNumberToObject(tw, "heads_kept", (double)s->heads_kept);
    cJSON_AddNumberToObject(tw, "heads_dropped_no_system", (double)s->heads_no_system);
    cJSON_AddNumberToObject(tw, "heads_dropped_outside", (double)s->heads_outside);
    set_item(root, "twin", tw);
    return LEC_OK;
}

/* rel (a path inside the bundle) of src_dir -> the same path in dst_dir: a
 * hard link, or a symbolic link to the absolute path across file systems. */
static lec_status link_file(const char *src_dir, const char *dst_dir, const char *rel,
                            lec_error *err)
{
    if (!rel[0] || rel[0] == '/' || strstr(rel, ".."))
        return lec_error_set(err, LEC_EFORMAT, "%s: \"%s\" is not a path inside the bundle",
                             src_dir, rel);
    char src[4400], dst[4400];
    snprintf(src, sizeof src, "%s/%s", src_dir, rel);
    snprintf(dst, sizeof dst, "%s/%s", dst_dir, rel);
    struct stat sb;
    if (lstat(dst, &sb) == 0)
        return LEC_OK; /* shared by two renderings (e.g. one MIDI) */
    char parent[4400];
    snprintf(parent, sizeof parent, "%s", dst);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = 0;
        lec_status st = lec_mkdir_p(parent, err);
        if (st)
            return st;
    }
    if (link(src, dst) == 0)
        return LEC_OK;
    int e = errno;
    if (e == ENOENT)
        return lec_error_set(err, LEC_EIO, "%s: missing", src);
    char abs[PATH_MAX];
    if (!realpath(src, abs))
        return lec_error_set(err, LEC_EIO, "%s: %s", src, strerror(errno));
    if (symlink(abs, dst) != 0)
        return lec_error_set(err, LEC_EIO, "%s: cannot link it (%s) nor make a symbolic link (%s)",
                             dst, strerror(e), strerror(errno));
    return LEC_OK;
}

static lec_status link_audio(const twin_ctx *c, const char *dst_dir, lec_error *err)
{
    const char *src = lec_piece_dir(c->p);
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(c->orig, "renderings"))
    {
        static const char *keys[] = {"audio", "truth", "midi"};
        for (int k = 0; k < 3; k++) {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(r, keys[k]);
            if (!cJSON_IsString(f) || !f->valuestring[0])
                continue;
            lec_status st = link_file(src, dst_dir, f->valuestring, err);
            if (st)
                return st;
        }
    }
    const cJSON *midi = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(c->orig, "performance"), "midi");
    if (cJSON_IsString(midi) && midi->valuestring[0]) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", src, midi->valuestring);
        if (access(path, F_OK) == 0)
            return link_file(src, dst_dir, midi->valuestring, err);
    }
    return LEC_OK;
}

static int same_dir(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

lec_status lec_import_twin(const char *bundle, const char *out_dir, const lec_import_variant *v,
                           const lec_import_config *cfg, int replace, int check,
                           lec_import_twin_stats *stats, lec_error *err)
{
    lec_error local;
    if (!err)
        err = &local;
    if (!v)
        v = &g_variants[0]; /* clean1 */
    lec_import_config dflt;
    if (!cfg) {
        lec_import_config_default(&dflt);
        cfg = &dflt;
    }
    memset(stats, 0, sizeof *stats);
    twin_ctx c;
    memset(&c, 0, sizeof c);
    c.bundle = bundle;
    c.v = v;
    c.stats = stats;
    lec_import_writer *w = NULL;
    lec_piece *p = NULL;
    char *text = NULL;
    lec_status st = LEC_OK;
    if (same_dir(bundle, out_dir))
        return lec_error_set(err, LEC_EINVAL, "%s: the twin would replace its own original",
                             out_dir);
    p = lec_piece_load(bundle, err);
    if (!p)
        return err->code;
    c.p = p;
    char pj[4200];
    size_t len = 0;
    snprintf(pj, sizeof pj, "%s/piece.json", bundle);
    if ((st = lec_read_file(pj, 0, &text, &len, err)))
        goto out;
    c.orig = cJSON_ParseWithLength(text, len);
    if (!c.orig) { /* cannot happen after lec_piece_load, unless the file changed */
        st = lec_error_set(err, LEC_EFORMAT, "%s: not JSON", pj);
        goto out;
    }
    /* the bundle's name: its directory's base name (degradation seeds) */
    char name[1024];
    snprintf(name, sizeof name, "%s", bundle);
    size_t nl = strlen(name);
    while (nl > 1 && name[nl - 1] == '/')
        name[--nl] = 0;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;

    size_t np = lec_piece_n_pages(p), nh = lec_piece_n_heads(p);
    stats->pages_original = (int)np;
    stats->systems_original = (int)lec_piece_n_systems(p);
    stats->heads = (long)nh;
    c.pages = calloc(np ? np : 1, sizeof *c.pages);
    c.new_index = calloc(nh ? nh : 1, sizeof *c.new_index);
    c.h_page = calloc(nh ? nh : 1, sizeof(int));
    c.h_sys = calloc(nh ? nh : 1, sizeof(int));
    c.h_staff = calloc(nh ? nh : 1, sizeof(int));
    c.h_box = calloc(nh ? nh : 1, sizeof(lec_box));
    if (!c.pages || !c.new_index || !c.h_page || !c.h_sys || !c.h_staff || !c.h_box) {
        st = lec_error_set(err, LEC_ENOMEM, "twin: out of memory");
        goto out;
    }
    const char *title = lec_piece_title(p);
    w = lec_import_writer_create(out_dir, title && title[0] ? title : base, bundle, replace, err);
    if (!w) {
        st = err->code;
        goto out;
    }
    char check_dir[4400];
    snprintf(check_dir, sizeof check_dir, "%s/check", lec_import_writer_tmp_dir(w));
    if (check && (st = lec_mkdir_p(check_dir, err)))
        goto out;

    const lec_piece_page *pages = lec_piece_pages(p);
    const lec_piece_system *os = lec_piece_systems(p);
    for (size_t g = 0; g < np; g++) {
        page_map *m = &c.pages[g];
        m->twin = -1;
        char path[4400];
        lec_piece_path(p, pages[g].image, path, sizeof path);
        /* exactly `lectern import PAGE.png`: the doc reader, then detect */
        lec_import_doc *d = lec_import_doc_open(path, cfg, err);
        if (!d) {
            st = err->code;
            goto out;
        }
        lec_import_image img = {0};
        lec_import_result res = {0};
        st = lec_import_doc_page(d, 0, &img, NULL, NULL, 0, err);
        lec_import_doc_destroy(d);
        if (st)
            goto out;
        double rot = 0;
        st = lec_import_variant_apply(&img, v, lec_import_variant_seed(base, g, v), &rot, err);
        if (!st)
            st = lec_import_detect(&img, cfg, &res, err);
        if (st) {
            lec_error_prefix(err, "%s page %zu: ", bundle, g + 1);
            lec_import_image_free(&img);
            lec_import_result_free(&res);
            goto out;
        }
        m->w = img.width_px;
        m->h = img.height_px;
        m->fx = (double)img.width_px / pages[g].width_px;
        m->fy = (double)img.height_px / pages[g].height_px;
        m->rot_applied = rot;
        m->rot_removed = res.skew_deg;
        m->first_sys = c.n_sys;
        double resid = fabs(rot - res.skew_deg);
        if (resid > stats->max_residual_rot_deg)
            stats->max_residual_rot_deg = resid;
        if (res.n_systems > 0) {
            if (!lec_import_grow((void **)&c.sys, &c.cap_sys, c.n_sys + res.n_systems,
                                 sizeof *c.sys) ||
                !lec_import_grow((void **)&c.staves, &c.cap_staves, c.n_staves + res.n_staves,
                                 sizeof *c.staves)) {
                st = lec_error_set(err, LEC_ENOMEM, "twin: out of memory");
            } else if (!(cfg->clean_page && (st = lec_import_clean_page(&img, err))) &&
                       !(st = lec_import_writer_add_page(w, &img, &res, 0, err))) {
                m->twin = stats->pages++;
                m->n_sys = res.n_systems;
                for (size_t k = 0; k < res.n_systems; k++) {
                    det_system *ds = &c.sys[c.n_sys++];
                    ds->box = res.systems[k].box;
                    ds->first_staff = (int)c.n_staves;
                    ds->n_staves = res.systems[k].n_staves;
                    for (int j = 0; j < ds->n_staves; j++)
                        c.staves[c.n_staves++] = res.staves[res.systems[k].first_staff + j];
                }
                if (check) {
                    char cp[4600];
                    snprintf(cp, sizeof cp, "%s/page-%d.png", check_dir, m->twin + 1);
                    st = lec_import_draw_check(cp, &img, &res, (int)m->first_sys, err);
                }
            }
            /* the original systems of this page matched one-to-one (IoU >= 0.8) */
            if (!st) {
                int no = 0, nd = (int)res.n_systems;
                lec_box *ob = malloc(sizeof *ob * (lec_piece_n_systems(p) + 1));
                lec_box *db = malloc(sizeof *db * (res.n_systems + 1));
                if (!ob || !db) {
                    st = lec_error_set(err, LEC_ENOMEM, "twin: out of memory");
                } else {
                    for (size_t k = 0; k < lec_piece_n_systems(p); k++)
                        if ((size_t)os[k].page == g)
                            ob[no++] = map_box(m, &os[k].box);
                    for (int k = 0; k < nd; k++)
                        db[k] = res.systems[k].box;
                    stats->systems_matched += lec_import_match(ob, no, db, nd, 0.8);
                }
                free(ob);
                free(db);
            }
        }
        lec_import_image_free(&img);
        lec_import_result_free(&res);
        if (st)
            goto out;
    }
    stats->systems = (int)c.n_sys;
    if (c.n_sys == 0) {
        st = lec_error_set(err, LEC_EFORMAT, "%s: no staff systems found on any page", bundle);
        goto out;
    }
    assign_heads(&c);
    if ((st = link_audio(&c, lec_import_writer_tmp_dir(w), err)))
        goto out;
    lec_import_writer_set_amend(w, amend, &c);
    if ((st = lec_import_writer_commit(w, err)))
        goto out;
    /* what `lectern eval` will read: it must load, and tell the scored notes */
    lec_piece *t = lec_piece_load(out_dir, err);
    if (!t) {
        st = err->code;
        lec_error_prefix(err, "the twin written does not load: ");
        goto out;
    }
    const lec_piece_note *on = lec_piece_notes(p), *tn = lec_piece_notes(t);
    for (size_t i = 0; i < lec_piece_n_notes(p); i++)
        stats->notes_scored_original += on[i].head >= 0;
    for (size_t i = 0; i < lec_piece_n_notes(t); i++)
        stats->notes_scored += tn[i].head >= 0;
    lec_piece_destroy(t);
out:
    lec_import_writer_destroy(w);
    cJSON_Delete(c.orig);
    free(text);
    free(c.pages);
    free(c.sys);
    free(c.staves);
    free(c.new_index);
    free(c.h_page);
    free(c.h_sys);
    free(c.h_staff);
    free(c.h_box);
    lec_piece_destroy(p);
    return st;
}
