/* lec_piece.c -- load and validate a piece bundle (format in
 * models/corpus/README.md). Every value read from JSON is type- and
 * range-checked before use; the first problem found is reported with the
 * file and the JSON path ("heads[12].box"). */
#include "lec_piece.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_util.h"

#define MAX_ITEMS 10000000 /* sanity cap per array */
#define MAX_PX 100000

struct lec_piece {
    char dir[2048];
    char title[256], composer[128], license[128], source[256];
    lec_piece_page *pages;
    size_t n_pages;
    lec_piece_system *systems;
    size_t n_systems;
    lec_piece_staff *staves;
    size_t n_staves;
    lec_piece_head *heads;
    size_t n_heads;
    lec_piece_note *notes;
    size_t n_notes;
    lec_piece_event *events;
    size_t n_events;
    lec_piece_rendering *renderings;
    size_t n_renderings;
};

typedef struct {
    const char *file;
    lec_error *err;
    lec_status st;
} ctx_t;

static int fail(ctx_t *c, lec_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(ctx_t *c, lec_status code, const char *fmt, ...)
{
    if (c->st)
        return 0;
    char msg[LEC_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->st = lec_error_set(c->err, code, "%s: %s", c->file, msg);
    return 0;
}

static int get_num(ctx_t *c, const cJSON *o, const char *key, const char *where, double lo,
                   double hi, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        return fail(c, LEC_EFORMAT, "%s.%s: missing or not a number", where, key);
    double x = v->valuedouble;
    if (!isfinite(x) || x < lo || x > hi)
        return fail(c, LEC_EFORMAT, "%s.%s = %g out of range [%g, %g]", where, key, x, lo, hi);
    *out = x;
    return 1;
}

static int get_int(ctx_t *c, const cJSON *o, const char *key, const char *where, long lo, long hi,
                   int *out)
{
    double x;
    if (!get_num(c, o, key, where, (double)lo, (double)hi, &x))
        return 0;
    if (x != floor(x))
        return fail(c, LEC_EFORMAT, "%s.%s = %g is not an integer", where, key, x);
    *out = (int)x;
    return 1;
}

static int get_str(ctx_t *c, const cJSON *o, const char *key, const char *where, char *out,
                   size_t cap, int required)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v && !required) {
        out[0] = '\0';
        return 1;
    }
    if (!cJSON_IsString(v))
        return fail(c, LEC_EFORMAT, "%s.%s: missing or not a string", where, key);
    snprintf(out, cap, "%s", v->valuestring);
    return 1;
}

static const cJSON *get_arr(ctx_t *c, const cJSON *o, const char *key, const char *where,
                            size_t *n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(v)) {
        fail(c, LEC_EFORMAT, "%s.%s: missing or not an array", where, key);
        return NULL;
    }
    int k = cJSON_GetArraySize(v);
    if (k < 0 || k > MAX_ITEMS) {
        fail(c, LEC_EFORMAT, "%s.%s: too many items", where, key);
        return NULL;
    }
    *n = (size_t)k;
    return v;
}

/* [x0,y0,x1,y1] inside a w x h page (1 px slack for rounding) */
static int get_box(ctx_t *c, const cJSON *o, const char *key, const char *where, int w, int h,
                   lec_box *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 4)
        return fail(c, LEC_EFORMAT, "%s.%s: not an array of 4 numbers", where, key);
    double x[4];
    for (int i = 0; i < 4; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble))
            return fail(c, LEC_EFORMAT, "%s.%s: not an array of 4 numbers", where, key);
        x[i] = e->valuedouble;
    }
    if (x[0] > x[2] || x[1] > x[3])
        return fail(c, LEC_EFORMAT, "%s.%s: inverted box [%g,%g,%g,%g]", where, key, x[0], x[1],
                    x[2], x[3]);
    if (x[0] < -1 || x[1] < -1 || x[2] > w + 1 || x[3] > h + 1)
        return fail(c, LEC_EFORMAT, "%s.%s: box [%g,%g,%g,%g] outside its %dx%d page", where, key,
                    x[0], x[1], x[2], x[3], w, h);
    b->x0 = (float)x[0];
    b->y0 = (float)x[1];
    b->x1 = (float)x[2];
    b->y1 = (float)x[3];
    return 1;
}

static int parse_rat(const char *s, int64_t *n, int64_t *d)
{
    char *e;
    long long a = strtoll(s, &e, 10);
    if (e == s || *e != '/')
        return 0;
    const char *q = e + 1;
    long long b = strtoll(q, &e, 10);
    if (e == q || *e != '\0' || b <= 0)
        return 0;
    *n = a;
    *d = b;
    return 1;
}

static int safe_rel(const char *rel)
{
    return rel[0] && rel[0] != '/' && !strstr(rel, "..");
}

static int check_png(ctx_t *c, const char *path, int w, int h, const char *where)
{
    unsigned char b[24];
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(c, LEC_EIO, "%s: page image %s is missing", where, path);
    size_t got = fread(b, 1, sizeof b, f);
    fclose(f);
    if (got != 24 || memcmp(b, "\x89PNG\r\n\x1a\n", 8) != 0 || memcmp(b + 12, "IHDR", 4) != 0)
        return fail(c, LEC_EFORMAT, "%s: %s is not a PNG image", where, path);
    long pw = (long)b[16] << 24 | (long)b[17] << 16 | (long)b[18] << 8 | b[19];
    long ph = (long)b[20] << 24 | (long)b[21] << 16 | (long)b[22] << 8 | b[23];
    if (pw != w || ph != h)
        return fail(c, LEC_EFORMAT, "%s: %s is %ldx%ld px, piece.json says %dx%d", where, path, pw,
                    ph, w, h);
    return 1;
}

void lec_piece_destroy(lec_piece *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_renderings; i++) {
        free(p->renderings[i].onset_s);
        free(p->renderings[i].event_onset_s);
    }
    free(p->renderings);
    free(p->pages);
    free(p->systems);
    free(p->staves);
    free(p->heads);
    free(p->notes);
    free(p->events);
    free(p);
}

static int load_truth(ctx_t *c, lec_piece *p, lec_piece_rendering *r, const char *rel,
                      const char *where)
{
    char path[4096];
    lec_piece_path(p, rel, path, sizeof path);
    char *text;
    size_t len;
    lec_error e2;
    if (lec_read_file(path, 64u << 20, &text, &len, &e2) != LEC_OK)
        return fail(c, LEC_EIO, "%s: ground truth: %s", where, e2.msg);
    cJSON *g = cJSON_ParseWithLength(text, len);
    free(text);
    ctx_t c2 = {path, c->err, LEC_OK};
    int ok = 0;
    size_t n_on = 0, n_ev = 0;
    const cJSON *on, *ev;
    if (!cJSON_IsObject(g)) {
        fail(&c2, LEC_EFORMAT, "not a JSON object");
        goto out;
    }
    if (!(on = get_arr(&c2, g, "note_onset_s", "truth", &n_on)) ||
        !(ev = get_arr(&c2, g, "event_onset_s", "truth", &n_ev)))
        goto out;
    if (n_on != p->n_notes || n_ev != p->n_events) {
        fail(&c2, LEC_EFORMAT, "%zu note onsets and %zu event onsets for %zu notes and %zu events",
             n_on, n_ev, p->n_notes, p->n_events);
        goto out;
    }
    r->onset_s = malloc((n_on ? n_on : 1) * sizeof *r->onset_s);
    r->event_onset_s = malloc((n_ev ? n_ev : 1) * sizeof *r->event_onset_s);
    if (!r->onset_s || !r->event_onset_s) {
        fail(&c2, LEC_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_on; i++) {
        const cJSON *x = cJSON_GetArrayItem(on, (int)i);
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble < 0) {
            fail(&c2, LEC_EFORMAT, "note_onset_s[%zu]: not a time >= 0", i);
            goto out;
        }
        r->onset_s[i] = x->valuedouble;
    }
    for (size_t i = 0; i < n_ev; i++) {
        const cJSON *x = cJSON_GetArrayItem(ev, (int)i);
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble < 0) {
            fail(&c2, LEC_EFORMAT, "event_onset_s[%zu]: not a time >= 0", i);
            goto out;
        }
        r->event_onset_s[i] = x->valuedouble;
    }
    ok = 1;
out:
    cJSON_Delete(g);
    if (!ok)
        c->st = c2.st ? c2.st : LEC_EFORMAT;
    return ok;
}

lec_piece *lec_piece_parse(const char *json, size_t len, const char *dir, int check_files,
                           lec_error *err)
{
    char file[4096];
    snprintf(file, sizeof file, "%s/piece.json", dir);
    ctx_t c = {file, err, LEC_OK};
    lec_piece *p = calloc(1, sizeof *p);
    cJSON *root = NULL;
    if (!p) {
        lec_error_set(err, LEC_ENOMEM, "%s: out of memory", file);
        return NULL;
    }
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) {
        fail(&c, LEC_EFORMAT, "not valid JSON (or not an object)");
        goto bad;
    }
    char fmt[64];
    if (!get_str(&c, root, "format", "piece", fmt, sizeof fmt, 1))
        goto bad;
    if (strcmp(fmt, LEC_PIECE_FORMAT) != 0) {
        fail(&c, LEC_EFORMAT, "format is \"%s\", expected \"%s\"", fmt, LEC_PIECE_FORMAT);
        goto bad;
    }
    int version;
    if (!get_int(&c, root, "version", "piece", 0, 1000000, &version))
        goto bad;
    if (version != LEC_PIECE_VERSION) {
        fail(&c, LEC_EUNSUPPORTED, "format version %d, this program reads version %d", version,
             LEC_PIECE_VERSION);
        goto bad;
    }
    if (!get_str(&c, root, "title", "piece", p->title, sizeof p->title, 0) ||
        !get_str(&c, root, "composer", "piece", p->composer, sizeof p->composer, 0) ||
        !get_str(&c, root, "license", "piece", p->license, sizeof p->license, 0) ||
        !get_str(&c, root, "source", "piece", p->source, sizeof p->source, 0))
        goto bad;

    char where[96];
    /* pages */
    const cJSON *a = get_arr(&c, root, "pages", "piece", &p->n_pages);
    if (!a)
        goto bad;
    if (p->n_pages == 0) {
        fail(&c, LEC_EFORMAT, "pages: no pages");
        goto bad;
    }
    p->pages = calloc(p->n_pages, sizeof *p->pages);
    if (!p->pages)
        goto oom;
    for (size_t i = 0; i < p->n_pages; i++) {
        const cJSON *o = cJSON_GetArrayItem(a, (int)i);
        lec_piece_page *pg = &p->pages[i];
        snprintf(where, sizeof where, "pages[%zu]", i);
        if (!cJSON_IsObject(o)) {
            fail(&c, LEC_EFORMAT, "%s: not an object", where);
            goto bad;
        }
        if (!get_str(&c, o, "image", where, pg->image, sizeof pg->image, 1) ||
            !get_int(&c, o, "width_px", where, 1, MAX_PX, &pg->width_px) ||
            !get_int(&c, o, "height_px", where, 1, MAX_PX, &pg->height_px))
            goto bad;
        if (!safe_rel(pg->image)) {
            fail(&c, LEC_EFORMAT, "%s.image \"%s\" is not a path inside the bundle", where,
                 pg->image);
            goto bad;
        }
        if (check_files) {
            char path[4096];
            lec_piece_path(p, pg->image, path, sizeof path);
            if (!check_png(&c, path, pg->width_px, pg->height_px, where))
                goto bad;
        }
    }

    /* systems and their staves */
    a = get_arr(&c, root, "systems", "piece", &p->n_systems);
    if (!a)
        goto bad;
    p->systems = calloc(p->n_systems ? p->n_systems : 1, sizeof *p->systems);
    if (!p->systems)
        goto oom;
    size_t cap_staves = 0;
    for (size_t i = 0; i < p->n_systems; i++) {
        const cJSON *o = cJSON_GetArrayItem(a, (int)i);
        lec_piece_system *s = &p->systems[i];
        snprintf(where, sizeof where, "systems[%zu]", i);
        if (!cJSON_IsObject(o)) {
            fail(&c, LEC_EFORMAT, "%s: not an object", where);
            goto bad;
        }
        if (!get_int(&c, o, "page", where, 0, (long)p->n_pages - 1, &s->page))
            goto bad;
        int w = p->pages[s->page].width_px, h = p->pages[s->page].height_px;
        if (!get_box(&c, o, "box", where, w, h, &s->box) ||
            !get_box(&c, o, "box_notes", where, w, h, &s->box_notes))
            goto bad;
        size_t ns;
        const cJSON *st = get_arr(&c, o, "staves", where, &ns);
        if (!st)
            goto bad;
        if (ns == 0) {
            fail(&c, LEC_EFORMAT, "%s.staves: a system without staves", where);
            goto bad;
        }
        s->first_staff = (int)p->n_staves;
        s->n_staves = (int)ns;
        if (p->n_staves + ns > cap_staves) {
            size_t nc = (p->n_staves + ns) * 2;
            lec_piece_staff *np = realloc(p->staves, nc * sizeof *np);
            if (!np)
                goto oom;
            p->staves = np;
            cap_staves = nc;
        }
        for (size_t j = 0; j < ns; j++) {
            const cJSON *so = cJSON_GetArrayItem(st, (int)j);
            lec_piece_staff *sf = &p->staves[p->n_staves];
            char w2[128];
            snprintf(w2, sizeof w2, "%s.staves[%zu]", where, j);
            if (!cJSON_IsObject(so)) {
                fail(&c, LEC_EFORMAT, "%s: not an object", w2);
                goto bad;
            }
            double ss;
            if (!get_box(&c, so, "box", w2, w, h, &sf->box) ||
                !get_num(&c, so, "staff_space_px", w2, 0.1, 1000, &ss))
                goto bad;
            sf->staff_space_px = (float)ss;
            p->n_staves++;
        }
    }

    /* heads */
    a = get_arr(&c, root, "heads", "piece", &p->n_heads);
    if (!a)
        goto bad;
    p->heads = calloc(p->n_heads ? p->n_heads : 1, sizeof *p->heads);
    if (!p->heads)
        goto oom;
    for (size_t i = 0; i < p->n_heads; i++) {
        const cJSON *o = cJSON_GetArrayItem(a, (int)i);
        lec_piece_head *hd = &p->heads[i];
        snprintf(where, sizeof where, "heads[%zu]", i);
        if (!cJSON_IsObject(o)) {
            fail(&c, LEC_EFORMAT, "%s: not an object", where);
            goto bad;
        }
        if (!get_int(&c, o, "system", where, 0, (long)p->n_systems - 1, &hd->system))
            goto bad;
        const lec_piece_system *sy = &p->systems[hd->system];
        if (!get_int(&c, o, "page", where, 0, (long)p->n_pages - 1, &hd->page) ||
            !get_int(&c, o, "staff", where, 0, sy->n_staves - 1, &hd->staff) ||
            !get_int(&c, o, "pitch", where, 0, 127, &hd->pitch))
            goto bad;
        if (hd->page != sy->page) {
            fail(&c, LEC_EFORMAT, "%s: on page %d but its system %d is on page %d", where,
                 hd->page, hd->system, sy->page);
            goto bad;
        }
        if (!get_box(&c, o, "box", where, p->pages[hd->page].width_px,
                     p->pages[hd->page].height_px, &hd->box))
            goto bad;
        char r[64];
        if (!get_str(&c, o, "onset", where, r, sizeof r, 1))
            goto bad;
        if (!parse_rat(r, &hd->onset_num, &hd->onset_den)) {
            fail(&c, LEC_EFORMAT, "%s.onset \"%s\" is not a fraction n/d", where, r);
            goto bad;
        }
        if (!get_str(&c, o, "grace", where, r, sizeof r, 1))
            goto bad;
        if (!parse_rat(r, &hd->grace_num, &hd->grace_den)) {
            fail(&c, LEC_EFORMAT, "%s.grace \"%s\" is not a fraction n/d", where, r);
            goto bad;
        }
        if (!get_num(&c, o, "onset_wn", where, -1e6, 1e7, &hd->onset_wn))
            goto bad;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "tied");
        if (!cJSON_IsBool(t)) {
            fail(&c, LEC_EFORMAT, "%s.tied: missing or not a boolean", where);
            goto bad;
        }
        hd->tied = cJSON_IsTrue(t);
        if (!get_str(&c, o, "origin", where, hd->origin, sizeof hd->origin, 0))
            goto bad;
    }

    /* performance */
    const cJSON *perf = cJSON_GetObjectItemCaseSensitive(root, "performance");
    if (!cJSON_IsObject(perf)) {
        fail(&c, LEC_EFORMAT, "performance: missing or not an object");
        goto bad;
    }
    a = get_arr(&c, perf, "notes", "performance", &p->n_notes);
    if (!a)
        goto bad;
    p->notes = calloc(p->n_notes ? p->n_notes : 1, sizeof *p->notes);
    if (!p->notes)
        goto oom;
    for (size_t i = 0; i < p->n_notes; i++) {
        const cJSON *o = cJSON_GetArrayItem(a, (int)i);
        lec_piece_note *n = &p->notes[i];
        snprintf(where, sizeof where, "performance.notes[%zu]", i);
        if (!cJSON_IsObject(o)) {
            fail(&c, LEC_EFORMAT, "%s: not an object", where);
            goto bad;
        }
        if (!get_num(&c, o, "t_wn", where, 0, 1e7, &n->t_wn) ||
            !get_num(&c, o, "dur_wn", where, 0, 1e7, &n->dur_wn) ||
            !get_int(&c, o, "pitch", where, 0, 127, &n->pitch) ||
            !get_int(&c, o, "velocity", where, 0, 127, &n->velocity) ||
            !get_int(&c, o, "head", where, -1, (long)p->n_heads - 1, &n->head) ||
            !get_int(&c, o, "staff", where, 0, 1000, &n->staff))
            goto bad;
        if (i > 0 && n->t_wn < p->notes[i - 1].t_wn) {
            fail(&c, LEC_EFORMAT, "%s.t_wn: notes are not in performance order", where);
            goto bad;
        }
        n->event = -1;
    }
    a = get_arr(&c, perf, "events", "performance", &p->n_events);
    if (!a)
        goto bad;
    p->events = calloc(p->n_events ? p->n_events : 1, sizeof *p->events);
    if (!p->events)
        goto oom;
    size_t next = 0;
    for (size_t i = 0; i < p->n_events; i++) {
        const cJSON *o = cJSON_GetArrayItem(a, (int)i);
        lec_piece_event *e = &p->events[i];
        snprintf(where, sizeof where, "performance.events[%zu]", i);
        if (!cJSON_IsObject(o)) {
            fail(&c, LEC_EFORMAT, "%s: not an object", where);
            goto bad;
        }
        if (!get_num(&c, o, "t_wn", where, 0, 1e7, &e->t_wn) ||
            !get_int(&c, o, "first_note", where, 0, (long)p->n_notes - 1, &e->first_note) ||
            !get_int(&c, o, "n_notes", where, 1, (long)p->n_notes, &e->n_notes))
            goto bad;
        /* events partition the notes, in order */
        if ((size_t)e->first_note != next || (size_t)e->first_note + (size_t)e->n_notes > p->n_notes) {
            fail(&c, LEC_EFORMAT, "%s: notes %d..%d do not continue the previous event", where,
                 e->first_note, e->first_note + e->n_notes - 1);
            goto bad;
        }
        next += (size_t)e->n_notes;
        for (int k = 0; k < e->n_notes; k++)
            p->notes[e->first_note + k].event = (int)i;
    }
    if (next != p->n_notes) {
        fail(&c, LEC_EFORMAT, "performance.events cover %zu of %zu notes", next, p->n_notes);
        goto bad;
    }

    /* renderings */
    a = get_arr(&c, root, "renderings", "piece", &p->n_renderings);
    if (!a)
        goto bad;
    p->renderings = calloc(p->n_renderings ? p->n_renderings : 1, sizeof *p->renderings);
    if (!p->renderings)
        goto oom;
    for (size_t i = 0; i < p->n_renderings; i++) {
        const cJSON *o = cJSON_GetArrayItem(a, (int)i);
        lec_piece_rendering *r = &p->renderings[i];
        snprintf(where, sizeof where, "renderings[%zu]", i);
        char truth[256];
        if (!cJSON_IsObject(o)) {
            fail(&c, LEC_EFORMAT, "%s: not an object", where);
            goto bad;
        }
        if (!get_str(&c, o, "name", where, r->name, sizeof r->name, 1) ||
            !get_str(&c, o, "audio", where, r->audio, sizeof r->audio, 1) ||
            !get_str(&c, o, "midi", where, r->midi, sizeof r->midi, 0) ||
            !get_str(&c, o, "truth", where, truth, sizeof truth, 1) ||
            !get_str(&c, o, "soundfont", where, r->soundfont, sizeof r->soundfont, 0) ||
            !get_num(&c, o, "tempo_factor", where, 0.01, 100, &r->tempo_factor) ||
            !get_num(&c, o, "duration_s", where, 0, 1e6, &r->duration_s))
            goto bad;
        r->humanized = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "humanized"));
        if (!safe_rel(r->audio) || !safe_rel(truth)) {
            fail(&c, LEC_EFORMAT, "%s: audio/truth path is not inside the bundle", where);
            goto bad;
        }
        if (check_files) {
            char path[4096];
            lec_piece_path(p, r->audio, path, sizeof path);
            FILE *f = fopen(path, "rb");
            if (!f) {
                fail(&c, LEC_EIO, "%s: audio file %s is missing", where, path);
                goto bad;
            }
            fclose(f);
            if (!load_truth(&c, p, r, truth, where))
                goto bad;
        }
    }
    cJSON_Delete(root);
    return p;
oom:
    fail(&c, LEC_ENOMEM, "out of memory");
bad:
    if (!c.st)
        fail(&c, LEC_EFORMAT, "invalid");
    cJSON_Delete(root);
    lec_piece_destroy(p);
    return NULL;
}

lec_piece *lec_piece_load(const char *dir, lec_error *err)
{
    char file[4096];
    snprintf(file, sizeof file, "%s/piece.json", dir);
    char *text;
    size_t len;
    if (lec_read_file(file, 256u << 20, &text, &len, err) != LEC_OK)
        return NULL;
    lec_piece *p = lec_piece_parse(text, len, dir, 1, err);
    free(text);
    return p;
}

const char *lec_piece_dir(const lec_piece *p) { return p->dir; }
const char *lec_piece_title(const lec_piece *p) { return p->title; }
const char *lec_piece_composer(const lec_piece *p) { return p->composer; }
const char *lec_piece_license(const lec_piece *p) { return p->license; }
const char *lec_piece_source(const lec_piece *p) { return p->source; }
size_t lec_piece_n_pages(const lec_piece *p) { return p->n_pages; }
const lec_piece_page *lec_piece_pages(const lec_piece *p) { return p->pages; }
size_t lec_piece_n_systems(const lec_piece *p) { return p->n_systems; }
const lec_piece_system *lec_piece_systems(const lec_piece *p) { return p->systems; }
size_t lec_piece_n_staves(const lec_piece *p) { return p->n_staves; }
const lec_piece_staff *lec_piece_staves(const lec_piece *p) { return p->staves; }
size_t lec_piece_n_heads(const lec_piece *p) { return p->n_heads; }
const lec_piece_head *lec_piece_heads(const lec_piece *p) { return p->heads; }
size_t lec_piece_n_notes(const lec_piece *p) { return p->n_notes; }
const lec_piece_note *lec_piece_notes(const lec_piece *p) { return p->notes; }
size_t lec_piece_n_events(const lec_piece *p) { return p->n_events; }
const lec_piece_event *lec_piece_events(const lec_piece *p) { return p->events; }
size_t lec_piece_n_renderings(const lec_piece *p) { return p->n_renderings; }
const lec_piece_rendering *lec_piece_renderings(const lec_piece *p) { return p->renderings; }

void lec_piece_path(const lec_piece *p, const char *rel, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", p->dir, rel);
}
