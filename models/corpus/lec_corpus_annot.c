/* lec_corpus_annot.c -- parse lec_annot.ly's TSV (heads, staves, ties,
 * performed notes, tempo, pedal) and lay it out in pixels: staves grouped
 * into systems, heads assigned to (system, staff). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_util.h"
#include "lec_corpus_internal.h"

/* ----------------------------------------------------- annotation TSV */

#define GROW(arr, n, cap)                                                   \
    do {                                                                    \
        if ((n) == (cap)) {                                                 \
            size_t nc_ = (cap) ? (cap) * 2 : 64;                            \
            void *np_ = realloc((arr), nc_ * sizeof *(arr));                \
            if (!np_)                                                       \
                goto oom;                                                   \
            (arr) = np_;                                                    \
            (cap) = nc_;                                                    \
        }                                                                   \
    } while (0)

void lec_corpus_annot_free(annot_t *a)
{
    free(a->heads);
    free(a->staves);
    free(a->perf);
    free(a->tempo);
    free(a->pedal);
    free(a->ties);
    free(a->vends);
    memset(a, 0, sizeof *a);
}

static int parse_rat(const char *s, int64_t *n, int64_t *d)
{
    char *e;
    long long a = strtoll(s, &e, 10);
    if (*e != '/')
        return 0;
    long long b = strtoll(e + 1, &e, 10);
    if (b <= 0)
        return 0;
    *n = a;
    *d = b;
    return 1;
}

static int split_tabs(char *line, char **f, int max)
{
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == '\t') {
            *p = '\0';
            f[n++] = p + 1;
        }
    return n;
}

lec_status lec_corpus_annot_parse(const char *path, annot_t *a, lec_error *err)
{
    char *text;
    size_t len;
    memset(a, 0, sizeof *a);
    lec_status st = lec_read_file(path, 0, &text, &len, err);
    if (st)
        return st;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[24];
        int nf = split_tabs(line, f, 24);
        if (strcmp(f[0], "BOOK") == 0 && nf >= 2) {
            if (a->n_books < 32)
                snprintf(a->books[a->n_books++], 128, "%s", f[1]);
        } else if (strcmp(f[0], "PAPER") == 0 && nf >= 3) {
            a->paper_w = atof(f[1]);
            a->paper_h = atof(f[2]);
        } else if (strcmp(f[0], "NOTE") == 0 && nf >= 14) {
            GROW(a->heads, a->n_heads, a->cap_heads);
            head_t *h = &a->heads[a->n_heads];
            memset(h, 0, sizeof *h);
            h->page_ly = atoi(f[1]);
            h->sysrank = atoi(f[2]);
            h->book = a->n_books > 0 ? a->n_books - 1 : 0;
            for (int k = 0; k < 4; k++)
                h->box[k] = atof(f[3 + k]);
            if (!parse_rat(f[7], &h->mn, &h->md) || !parse_rat(f[8], &h->gn, &h->gd))
                continue;
            h->pitch = atoi(f[9]);
            snprintf(h->origin, sizeof h->origin, "%s", f[10]);
            snprintf(h->staff_key, sizeof h->staff_key, "%s", f[11]);
            h->id = atol(f[12]);
            h->score = h->id >= 0 ? (int)(h->id / ID_SCORE_STRIDE) : -1;
            h->sys = h->staff = h->out_index = -1;
            a->n_heads++;
        } else if (strcmp(f[0], "STAFF") == 0 && nf >= 10) {
            GROW(a->staves, a->n_staves, a->cap_staves);
            staff_t *s = &a->staves[a->n_staves];
            memset(s, 0, sizeof *s);
            s->page_ly = atoi(f[1]);
            s->sysrank = atoi(f[2]);
            s->book = a->n_books > 0 ? a->n_books - 1 : 0;
            for (int k = 0; k < 4; k++)
                s->box[k] = atof(f[3 + k]);
            snprintf(s->key, sizeof s->key, "%s", f[7]);
            s->ss = atof(f[8]);
            s->sys = s->index = -1;
            a->n_staves++;
        } else if (strcmp(f[0], "TIE") == 0 && nf >= 2) {
            GROW(a->ties, a->n_ties, a->cap_ties);
            a->ties[a->n_ties++] = atol(f[1]);
        } else if (strcmp(f[0], "PERF") == 0 && nf >= 9) {
            GROW(a->perf, a->n_perf, a->cap_perf);
            perf_t *p = &a->perf[a->n_perf];
            memset(p, 0, sizeof *p);
            snprintf(p->tag, sizeof p->tag, "%s", f[1]);
            p->id = atol(f[2]);
            int64_t dn, dd;
            if (!parse_rat(f[3], &p->mn, &p->md) || !parse_rat(f[4], &p->gn, &p->gd) ||
                !parse_rat(f[6], &dn, &dd))
                continue;
            p->pitch = atoi(f[5]);
            p->dur = rat(dn, dd);
            p->vel = atoi(f[7]);
            snprintf(p->origin, sizeof p->origin, "%s", f[8]);
            if (p->pitch < 0 || p->pitch > 127)
                continue; /* unpitched (drum) notes */
            a->n_perf++;
        } else if ((strcmp(f[0], "TEMPO") == 0 || strcmp(f[0], "PEDAL") == 0) && nf >= 5) {
            int64_t mn, md, gn, gd;
            if (!parse_rat(f[2], &mn, &md) || !parse_rat(f[3], &gn, &gd))
                continue;
            cue_t c;
            snprintf(c.tag, sizeof c.tag, "%s", f[1]);
            c.t = rat(mn, md) + GRACE_SCALE * rat(gn, gd);
            c.v = atof(f[4]);
            if (f[0][0] == 'T') {
                GROW(a->tempo, a->n_tempo, a->cap_tempo);
                a->tempo[a->n_tempo++] = c;
            } else {
                GROW(a->pedal, a->n_pedal, a->cap_pedal);
                a->pedal[a->n_pedal++] = c;
            }
        } else if (strcmp(f[0], "VEND") == 0 && nf >= 8) {
            GROW(a->vends, a->n_vends, a->cap_vends);
            vend_t *v = &a->vends[a->n_vends];
            memset(v, 0, sizeof *v);
            snprintf(v->tag, sizeof v->tag, "%s", f[1]);
            v->ordinal = atoi(f[2]);
            if (!parse_rat(f[3], &v->sn, &v->sd) || !parse_rat(f[4], &v->en, &v->ed))
                continue;
            v->n_notes = atol(f[5]);
            v->first_id = atol(f[6]);
            snprintf(v->ctx, sizeof v->ctx, "%s", f[7]);
            a->n_vends++;
        } else if (strcmp(f[0], "SCORE") == 0 && nf >= 2) {
            int k = atoi(f[1]);
            if (k + 1 > a->n_scores)
                a->n_scores = k + 1;
            for (int i = 2; i < nf && a->n_instruments < 16; i++) {
                if (!f[i][0])
                    continue;
                int dup = 0;
                for (int j = 0; j < a->n_instruments; j++)
                    dup |= strcmp(a->instruments[j], f[i]) == 0;
                if (!dup)
                    snprintf(a->instruments[a->n_instruments++], 64, "%s", f[i]);
            }
        }
    }
    free(text);
    if (a->paper_w <= 0) {
        lec_corpus_annot_free(a);
        return lec_error_set(err, LEC_EFORMAT, "%s: no PAPER line (nothing was engraved?)", path);
    }
    return LEC_OK;
oom:
    free(text);
    lec_corpus_annot_free(a);
    return lec_error_set(err, LEC_ENOMEM, "%s: out of memory", path);
}

/* ------------------------------------------------------- the geometry */

/* a three-way compare of ints read from the file: a difference can overflow
 * (tests/fuzz/corpus/annot/crash-sysrank-int-overflow) */
static int cmp_int(int a, int b)
{
    return (a > b) - (a < b);
}

static int cmp_staff(const void *a, const void *b)
{
    const staff_t *x = a, *y = b;
    if (x->page_ly != y->page_ly)
        return cmp_int(x->page_ly, y->page_ly);
    if (x->sysrank != y->sysrank)
        return cmp_int(x->sysrank, y->sysrank);
    return (x->box[1] < y->box[1]) - (x->box[1] > y->box[1]); /* top first: larger y up */
}

static int cmp_head(const void *a, const void *b)
{
    const head_t *x = a, *y = b;
    double tx = rat(x->mn, x->md) + rat(x->gn, x->gd), ty = rat(y->mn, y->md) + rat(y->gn, y->gd);
    if (x->score != y->score)
        return cmp_int(x->score, y->score);
    if (tx != ty)
        return tx < ty ? -1 : 1;
    if (x->staff != y->staff)
        return cmp_int(x->staff, y->staff);
    return cmp_int(x->pitch, y->pitch);
}

/* page units (y up from the top-left corner) -> px (y down) */
static void to_px(double *b, double scale)
{
    double x0 = b[0] * scale, y0 = -b[3] * scale, x1 = b[2] * scale, y1 = -b[1] * scale;
    b[0] = x0;
    b[1] = y0;
    b[2] = x1;
    b[3] = y1;
}

/* Staves -> systems; heads -> (system, staff); everything in px. */
lec_status lec_corpus_layout(annot_t *a, double scale, sys_t **systems_out, size_t *n_sys_out,
                         lec_error *err)
{
    /* qsort(NULL, 0) is undefined (UBSan, tests/fuzz/fuzz_annot): no staves, no sort */
    if (a->n_staves)
        qsort(a->staves, a->n_staves, sizeof *a->staves, cmp_staff);
    sys_t *sys = calloc(a->n_staves ? a->n_staves : 1, sizeof *sys);
    if (!sys)
        return lec_error_set(err, LEC_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < a->n_staves; i++) {
        staff_t *s = &a->staves[i];
        to_px(s->box, scale);
        s->ss *= scale;
        if (n == 0 || sys[n - 1].sys_page != s->page_ly || sys[n - 1].sysrank != s->sysrank) {
            sys[n].sys_page = s->page_ly;
            sys[n].sysrank = s->sysrank;
            sys[n].first_staff = (int)i;
            sys[n].n_staves = 0;
            memcpy(sys[n].box, s->box, sizeof s->box);
            n++;
        }
        sys_t *y = &sys[n - 1];
        s->sys = (int)n - 1;
        s->index = y->n_staves++;
        y->box[0] = fmin(y->box[0], s->box[0]);
        y->box[1] = fmin(y->box[1], s->box[1]);
        y->box[2] = fmax(y->box[2], s->box[2]);
        y->box[3] = fmax(y->box[3], s->box[3]);
        memcpy(y->box_notes, y->box, sizeof y->box);
    }
    for (size_t i = 0; i < a->n_heads; i++) {
        head_t *h = &a->heads[i];
        to_px(h->box, scale);
        for (size_t j = 0; j < a->n_ties; j++)
            if (a->ties[j] == h->id && h->id >= 0)
                h->tied = 1;
        for (size_t j = 0; j < a->n_staves; j++)
            if (strcmp(a->staves[j].key, h->staff_key) == 0) {
                h->sys = a->staves[j].sys;
                h->staff = a->staves[j].index;
                break;
            }
        if (h->sys >= 0) {
            double *b = sys[h->sys].box_notes;
            b[0] = fmin(b[0], h->box[0]);
            b[1] = fmin(b[1], h->box[1]);
            b[2] = fmax(b[2], h->box[2]);
            b[3] = fmax(b[3], h->box[3]);
        }
    }
    if (a->n_heads)
        qsort(a->heads, a->n_heads, sizeof *a->heads, cmp_head);
    *systems_out = sys;
    *n_sys_out = n;
    return LEC_OK;
}

