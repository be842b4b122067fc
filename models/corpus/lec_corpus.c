/* lec_corpus.c -- one piece: copy, convert-ly, engrave with lec_annot.ly,
 * parse the annotation TSV, write one bundle per printed \score. */
#include "lec_corpus.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lec_perform.h"
#include "lec_piece.h"
#include "lec_proc.h"
#include "lec_synth.h"
#include "lec_util.h"

#ifndef LEC_ANNOT_LY_DEFAULT
#define LEC_ANNOT_LY_DEFAULT "models/corpus/lec_annot.ly"
#endif

#define ID_SCORE_STRIDE 10000000L /* lec_annot.ly: id = score * stride + n */

/* Grace notes are written with their own durations (an eighth grace is
 * -1/8 wn before the beat in LilyPond's moment) but played much faster:
 * they sound before the beat at a quarter of their written value, which is
 * close to what LilyPond's own MIDI does (measured: -1/8 -> 44 of 1536 ticks
 * per whole note, ours 48). */
#define GRACE_SCALE 0.25

static const char *const default_soundfonts[] = {"/usr/share/sounds/sf2/FluidR3_GM.sf2",
                                                 "/usr/share/sounds/sf2/TimGM6mb.sf2"};
static const double default_tempos[] = {1.0};

void lec_corpus_config_default(lec_corpus_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->dpi = 150;
    cfg->timeout_s = 600;
    cfg->soundfonts = default_soundfonts;
    cfg->n_soundfonts = 2;
    cfg->tempos = default_tempos;
    cfg->n_tempos = 1;
    cfg->audio = 1;
    cfg->annot_ly = LEC_ANNOT_LY_DEFAULT;
}

/* ---------------------------------------------------------------- log */

static void logf_(const char *log_path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const char *log_path, const char *fmt, ...)
{
    if (!log_path)
        return;
    FILE *f = fopen(log_path, "a");
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

/* ------------------------------------------------------- small helpers */

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static lec_status rm_rf(const char *path, lec_error *err)
{
    if (access(path, F_OK) != 0)
        return LEC_OK;
    const char *argv[] = {"rm", "-rf", "--", path, NULL};
    return lec_proc_run(argv, NULL, NULL, NULL, 600, NULL, err);
}

/* Every .ly/.ily/.lyi file below dir (recursive), paths appended to *list. */
static void find_ly(const char *dir, char ***list, size_t *n, size_t *cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (is_dir(p)) {
            find_ly(p, list, n, cap);
        } else if (ends_with(p, ".ly") || ends_with(p, ".ily") || ends_with(p, ".lyi")) {
            if (*n == *cap) {
                size_t nc = *cap ? *cap * 2 : 16;
                char **nl = realloc(*list, nc * sizeof *nl);
                if (!nl)
                    break;
                *list = nl;
                *cap = nc;
            }
            (*list)[(*n)++] = strdup(p);
        }
    }
    closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* First "\version "x.y.z"" in text, into out (empty if none). */
static void find_version(const char *text, char *out, size_t cap)
{
    out[0] = '\0';
    const char *p = strstr(text, "\\version");
    if (!p)
        return;
    p = strchr(p, '"');
    if (!p)
        return;
    p++;
    size_t k = 0;
    while (*p && *p != '"' && k + 1 < cap)
        out[k++] = *p++;
    out[k] = '\0';
}

/* Value of `key = "value"` in a \header (first occurrence, no escapes). */
static void header_field(const char *text, const char *key, char *out, size_t cap)
{
    out[0] = '\0';
    size_t kl = strlen(key);
    for (const char *p = text; (p = strstr(p, key)); p += kl) {
        if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '-'))
            continue;
        const char *q = p + kl;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '=')
            continue;
        q++;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '"')
            continue;
        q++;
        size_t k = 0;
        while (*q && *q != '"' && *q != '\n' && k + 1 < cap)
            out[k++] = *q++;
        out[k] = '\0';
        return;
    }
}

/* Width/height from a PNG's IHDR; 0 on failure. */
static int png_size(const char *path, int *w, int *h)
{
    unsigned char b[24];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t got = fread(b, 1, sizeof b, f);
    fclose(f);
    if (got != 24 || memcmp(b, "\x89PNG\r\n\x1a\n", 8) != 0 || memcmp(b + 12, "IHDR", 4) != 0)
        return 0;
    *w = (int)((unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19]);
    *h = (int)((unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23]);
    return *w > 0 && *h > 0;
}

static lec_status copy_file(const char *from, const char *to, lec_error *err)
{
    char *data;
    size_t len;
    lec_status st = lec_read_file(from, 0, &data, &len, err);
    if (st)
        return st;
    st = lec_write_file_atomic(to, data, len, err);
    free(data);
    return st;
}

/* ----------------------------------------------------- annotation TSV */

typedef struct {
    int page_ly, sysrank, book;
    double box[4]; /* page units, y up */
    int64_t mn, md, gn, gd;
    int pitch;
    char origin[96];
    char staff_key[24];
    long id;
    int tied;
    /* derived */
    int score, sys, staff, out_index;
} head_t;

typedef struct {
    int page_ly, sysrank, book;
    double box[4];
    char key[24];
    double ss;
    int sys, index;
} staff_t;

typedef struct {
    char tag[16];
    long id;
    int64_t mn, md, gn, gd;
    int pitch;
    double dur;
    int vel;
    char origin[96];
} perf_t;

typedef struct {
    char tag[16];
    double t, v; /* t whole notes; v bpm or pedal value */
} cue_t;

typedef struct {
    head_t *heads;
    size_t n_heads, cap_heads;
    staff_t *staves;
    size_t n_staves, cap_staves;
    perf_t *perf;
    size_t n_perf, cap_perf;
    cue_t *tempo;
    size_t n_tempo, cap_tempo;
    cue_t *pedal;
    size_t n_pedal, cap_pedal;
    long *ties;
    size_t n_ties, cap_ties;
    double paper_w, paper_h;
    int n_scores;
    char instruments[16][64];
    int n_instruments;
    char books[32][128]; /* output base names, in the order LilyPond wrote them */
    int n_books;
} annot_t;

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

static void annot_free(annot_t *a)
{
    free(a->heads);
    free(a->staves);
    free(a->perf);
    free(a->tempo);
    free(a->pedal);
    free(a->ties);
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

static double rat(int64_t n, int64_t d) { return (double)n / (double)d; }

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

static lec_status annot_parse(const char *path, annot_t *a, lec_error *err)
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
        annot_free(a);
        return lec_error_set(err, LEC_EFORMAT, "%s: no PAPER line (nothing was engraved?)", path);
    }
    return LEC_OK;
oom:
    free(text);
    annot_free(a);
    return lec_error_set(err, LEC_ENOMEM, "%s: out of memory", path);
}

/* ------------------------------------------------------ bundle writing */

typedef struct {
    char title[256], composer[128], license[128], source[256], opus[64], date[64];
    char source_path[1024];
} meta_t;

typedef struct {
    int sys_page, sysrank;
    double box[4], box_notes[4]; /* px */
    int first_staff, n_staves;
    int out_page;
} sys_t;


static double perf_time(const perf_t *p)
{
    return rat(p->mn, p->md) + GRACE_SCALE * rat(p->gn, p->gd);
}

static int cmp_perf_time(const void *a, const void *b)
{
    const perf_t *x = *(perf_t *const *)a, *y = *(perf_t *const *)b;
    double tx = perf_time(x);
    double ty = perf_time(y);
    if (tx < ty)
        return -1;
    if (tx > ty)
        return 1;
    return x < y ? -1 : (x > y); /* input order */
}

static cJSON *box_json(const double *b)
{
    cJSON *a = cJSON_CreateArray();
    for (int k = 0; k < 4; k++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(round(b[k] * 10.0) / 10.0));
    return a;
}

static double r6(double x) { return round(x * 1e6) / 1e6; }

typedef struct {
    lec_perform_note *notes;
    size_t n;
    lec_perform_tempo *tempo;
    size_t n_tempo;
    lec_perform_pedal *pedal;
    size_t n_pedal;
} perf_input_t;

static lec_status write_json(const char *path, cJSON *root, lec_error *err)
{
    char *s = cJSON_PrintUnformatted(root);
    if (!s)
        return lec_error_set(err, LEC_ENOMEM, "%s: cannot serialise JSON", path);
    lec_status st = lec_write_file_atomic(path, s, strlen(s), err);
    free(s);
    return st;
}

static void rendering_name(const char *sf, double tempo, int humanize, char *out, size_t cap)
{
    const char *b = strrchr(sf, '/');
    b = b ? b + 1 : sf;
    char base[64];
    size_t k = 0;
    for (const char *p = b; *p && *p != '.' && k + 1 < sizeof base; p++)
        base[k++] = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
    base[k] = '\0';
    snprintf(out, cap, "%s_t%.2f%s", base, tempo, humanize ? "_h" : "");
}

static uint64_t hash_str(const char *s, uint64_t h)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Renderings: for each soundfont x tempo, lec_perform -> MIDI -> FLAC + truth. */
static lec_status render_all(const lec_corpus_config *cfg, const char *bdir, const char *name,
                             const perf_input_t *pin, const int *note_event, size_t n_events,
                             cJSON *renderings, const char *log_path, lec_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/audio", bdir);
    lec_status st = lec_mkdir_p(path, err);
    if (st)
        return st;
    lec_perform_score sc = {pin->notes, pin->n, pin->tempo, pin->n_tempo, pin->pedal,
                            pin->n_pedal};
    for (int s = 0; s < cfg->n_soundfonts; s++) {
        lec_synth_config scfg;
        lec_synth_config_default(&scfg);
        scfg.allow_eval_soundfont = cfg->allow_eval_soundfont;
        scfg.timeout_s = cfg->timeout_s;
        lec_synth *syn = lec_synth_create(&scfg, cfg->soundfonts[s], err);
        if (!syn)
            return err ? err->code : LEC_EEXTERNAL;
        for (int t = 0; t < cfg->n_tempos; t++) {
            char rname[96];
            rendering_name(cfg->soundfonts[s], cfg->tempos[t], cfg->humanize, rname, sizeof rname);
            lec_perform_config pcfg;
            lec_perform_config_default(&pcfg);
            pcfg.tempo_factor = cfg->tempos[t];
            pcfg.humanize = cfg->humanize;
            pcfg.seed = hash_str(rname, hash_str(name, 1469598103934665603ULL));
            lec_perform *pf = lec_perform_create(&pcfg, &sc, err);
            if (!pf) {
                lec_synth_destroy(syn);
                return err ? err->code : LEC_EINVAL;
            }
            char mid[4096], flac[4096], gt[4096];
            snprintf(mid, sizeof mid, "%s/audio/%s.mid", bdir, rname);
            snprintf(flac, sizeof flac, "%s/audio/%s.flac", bdir, rname);
            snprintf(gt, sizeof gt, "%s/audio/%s.json", bdir, rname);
            lec_synth_info info;
            st = lec_perform_write_midi(pf, mid, err);
            if (!st)
                st = lec_synth_render(syn, mid, flac, &info, err);
            if (st) {
                logf_(log_path, "fluidsynth log:\n%s", lec_synth_log(syn));
                lec_perform_destroy(pf);
                lec_synth_destroy(syn);
                return st;
            }
            /* ground truth: onset of every performed note, and of every event */
            const lec_perform_onset *on = lec_perform_onsets(pf);
            cJSON *g = cJSON_CreateObject();
            cJSON_AddStringToObject(g, "format", "lectern-truth");
            cJSON_AddNumberToObject(g, "version", 1);
            cJSON_AddStringToObject(g, "rendering", rname);
            cJSON_AddNumberToObject(g, "duration_s", r6(info.duration_s));
            cJSON *on_s = cJSON_AddArrayToObject(g, "note_onset_s");
            cJSON *off_s = cJSON_AddArrayToObject(g, "note_offset_s");
            double *ev = malloc((n_events ? n_events : 1) * sizeof *ev);
            if (!ev) {
                cJSON_Delete(g);
                lec_perform_destroy(pf);
                lec_synth_destroy(syn);
                return lec_error_set(err, LEC_ENOMEM, "%s: out of memory", gt);
            }
            for (size_t e = 0; e < n_events; e++)
                ev[e] = INFINITY;
            for (size_t i = 0; i < pin->n; i++) {
                cJSON_AddItemToArray(on_s, cJSON_CreateNumber(r6(on[i].onset_s)));
                cJSON_AddItemToArray(off_s, cJSON_CreateNumber(r6(on[i].offset_s)));
                int e = note_event[i];
                if (on[i].onset_s < ev[e])
                    ev[e] = on[i].onset_s;
            }
            cJSON *ev_s = cJSON_AddArrayToObject(g, "event_onset_s");
            for (size_t e = 0; e < n_events; e++)
                cJSON_AddItemToArray(ev_s, cJSON_CreateNumber(r6(ev[e])));
            free(ev);
            st = write_json(gt, g, err);
            cJSON_Delete(g);
            lec_perform_destroy(pf);
            if (st) {
                lec_synth_destroy(syn);
                return st;
            }
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "name", rname);
            char rel[256];
            snprintf(rel, sizeof rel, "audio/%s.flac", rname);
            cJSON_AddStringToObject(r, "audio", rel);
            snprintf(rel, sizeof rel, "audio/%s.mid", rname);
            cJSON_AddStringToObject(r, "midi", rel);
            snprintf(rel, sizeof rel, "audio/%s.json", rname);
            cJSON_AddStringToObject(r, "truth", rel);
            const char *sb = strrchr(cfg->soundfonts[s], '/');
            cJSON_AddStringToObject(r, "soundfont", sb ? sb + 1 : cfg->soundfonts[s]);
            cJSON_AddNumberToObject(r, "tempo_factor", cfg->tempos[t]);
            cJSON_AddBoolToObject(r, "humanized", cfg->humanize);
            cJSON_AddNumberToObject(r, "seed", (double)(pcfg.seed >> 12));
            cJSON_AddNumberToObject(r, "sample_rate_hz", scfg.sample_rate_hz);
            cJSON_AddNumberToObject(r, "duration_s", r6(info.duration_s));
            cJSON_AddItemToArray(renderings, r);
            logf_(log_path, "rendered %s/%s: %.1f s audio in %.1f s", name, rname,
                  info.duration_s, info.render_s);
        }
        lec_synth_destroy(syn);
    }
    return LEC_OK;
}

/* Write the bundle of printed score k to out_dir/name (atomically). */
static lec_status write_bundle(const lec_corpus_config *cfg, annot_t *a, int k, sys_t *systems,
                               size_t n_sys, char **pngs, int n_pngs, int page_base,
                               const meta_t *meta, const char *out_dir, const char *name,
                               const char *log_path, lec_corpus_result *res, lec_error *err)
{
    lec_status st = LEC_OK;
    char tmp[4096], final_dir[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s/.tmp-%s-%ld", out_dir, name, (long)getpid());
    snprintf(final_dir, sizeof final_dir, "%s/%s", out_dir, name);
    rm_rf(tmp, NULL);
    snprintf(path, sizeof path, "%s/pages", tmp);
    if ((st = lec_mkdir_p(path, err)))
        return st;

    cJSON *root = cJSON_CreateObject();
    perf_t **pl = NULL;
    int *head_out = NULL, *note_event = NULL;
    perf_input_t pin = {0};
    cJSON_AddStringToObject(root, "format", LEC_PIECE_FORMAT);
    cJSON_AddNumberToObject(root, "version", LEC_PIECE_VERSION);
    cJSON_AddStringToObject(root, "name", name);
    cJSON_AddStringToObject(root, "title", meta->title);
    cJSON_AddStringToObject(root, "composer", meta->composer);
    cJSON_AddStringToObject(root, "opus", meta->opus);
    cJSON_AddStringToObject(root, "license", meta->license);
    cJSON_AddStringToObject(root, "source", meta->source);
    cJSON_AddStringToObject(root, "source_path", meta->source_path);
    cJSON_AddNumberToObject(root, "movement", k + 1);
    cJSON_AddNumberToObject(root, "dpi", cfg->dpi);
    cJSON *instr = cJSON_AddArrayToObject(root, "instruments");
    for (int i = 0; i < a->n_instruments; i++)
        cJSON_AddItemToArray(instr, cJSON_CreateString(a->instruments[i]));

    /* pages of this score, in order; systems renumbered per bundle */
    int page_map[4096];
    for (int i = 0; i < 4096; i++)
        page_map[i] = -1;
    cJSON *pages = cJSON_AddArrayToObject(root, "pages");
    int n_pages = 0;
    int *sys_out = calloc(n_sys ? n_sys : 1, sizeof *sys_out);
    if (!sys_out) {
        st = lec_error_set(err, LEC_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    for (size_t s = 0; s < n_sys; s++)
        sys_out[s] = -1;
    /* a system belongs to score k if one of its heads does */
    for (size_t i = 0; i < a->n_heads; i++)
        if (a->heads[i].score == k && a->heads[i].sys >= 0)
            sys_out[a->heads[i].sys] = 1;
    int n_sys_out = 0;
    cJSON *jsys = cJSON_AddArrayToObject(root, "systems");
    for (size_t s = 0; s < n_sys; s++) {
        if (sys_out[s] < 0)
            continue;
        int pg = systems[s].sys_page - page_base;
        if (pg < 0 || pg >= n_pngs || pg >= 4096) {
            st = lec_error_set(err, LEC_EFORMAT, "%s: system on page %d but %d page images", name,
                               systems[s].sys_page, n_pngs);
            goto done;
        }
        if (page_map[pg] < 0) {
            page_map[pg] = n_pages++;
            int w, h;
            if (!png_size(pngs[pg], &w, &h)) {
                st = lec_error_set(err, LEC_EFORMAT, "%s: not a PNG", pngs[pg]);
                goto done;
            }
            char rel[64];
            snprintf(rel, sizeof rel, "pages/page-%d.png", n_pages);
            snprintf(path, sizeof path, "%s/%s", tmp, rel);
            if ((st = copy_file(pngs[pg], path, err)))
                goto done;
            cJSON *p = cJSON_CreateObject();
            cJSON_AddStringToObject(p, "image", rel);
            cJSON_AddNumberToObject(p, "width_px", w);
            cJSON_AddNumberToObject(p, "height_px", h);
            cJSON_AddNumberToObject(p, "engraved_page", systems[s].sys_page);
            cJSON_AddItemToArray(pages, p);
        }
        systems[s].out_page = page_map[pg];
        sys_out[s] = n_sys_out++;
        cJSON *js = cJSON_CreateObject();
        cJSON_AddNumberToObject(js, "page", systems[s].out_page);
        cJSON_AddItemToObject(js, "box", box_json(systems[s].box));
        cJSON_AddItemToObject(js, "box_notes", box_json(systems[s].box_notes));
        cJSON *jst = cJSON_AddArrayToObject(js, "staves");
        for (int j = 0; j < systems[s].n_staves; j++) {
            staff_t *sf = &a->staves[systems[s].first_staff + j];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToObject(o, "box", box_json(sf->box));
            cJSON_AddNumberToObject(o, "staff_space_px", round(sf->ss * 1000) / 1000);
            cJSON_AddItemToArray(jst, o);
        }
        cJSON_AddItemToArray(jsys, js);
    }

    /* heads of score k, in printed time order (already sorted by caller) */
    cJSON *jheads = cJSON_AddArrayToObject(root, "heads");
    int n_heads_out = 0;
    for (size_t i = 0; i < a->n_heads; i++) {
        head_t *h = &a->heads[i];
        h->out_index = -1;
        if (h->score != k || h->sys < 0 || sys_out[h->sys] < 0)
            continue;
        h->out_index = n_heads_out++;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "page", systems[h->sys].out_page);
        cJSON_AddNumberToObject(o, "system", sys_out[h->sys]);
        cJSON_AddNumberToObject(o, "staff", h->staff);
        cJSON_AddItemToObject(o, "box", box_json(h->box));
        cJSON_AddNumberToObject(o, "pitch", h->pitch);
        char r[64];
        snprintf(r, sizeof r, "%lld/%lld", (long long)h->mn, (long long)h->md);
        cJSON_AddStringToObject(o, "onset", r);
        snprintf(r, sizeof r, "%lld/%lld", (long long)h->gn, (long long)h->gd);
        cJSON_AddStringToObject(o, "grace", r);
        cJSON_AddNumberToObject(o, "onset_wn", r6(rat(h->mn, h->md) + rat(h->gn, h->gd)));
        cJSON_AddBoolToObject(o, "tied", h->tied);
        cJSON_AddStringToObject(o, "origin", h->origin);
        cJSON_AddItemToArray(jheads, o);
        res->heads++;
        if (!h->tied)
            res->heads_nontied++;
    }

    /* performance: notes of the unfolded twin of score k */
    char tag[16];
    snprintf(tag, sizeof tag, "%d", k);
    size_t n_pl = 0;
    pl = malloc((a->n_perf ? a->n_perf : 1) * sizeof *pl);
    head_out = malloc((a->n_perf ? a->n_perf : 1) * sizeof *head_out);
    pin.notes = calloc(a->n_perf ? a->n_perf : 1, sizeof *pin.notes);
    note_event = calloc(a->n_perf ? a->n_perf : 1, sizeof *note_event);
    if (!pl || !head_out || !pin.notes || !note_event) {
        st = lec_error_set(err, LEC_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    for (size_t i = 0; i < a->n_perf; i++)
        if (strcmp(a->perf[i].tag, tag) == 0)
            pl[n_pl++] = &a->perf[i];
    qsort(pl, n_pl, sizeof *pl, cmp_perf_time);
    double t_min = 0;
    for (size_t i = 0; i < n_pl; i++) {
        double t = perf_time(pl[i]);
        if (t < t_min)
            t_min = t; /* a grace note before the very first beat */
    }
    /* id -> head: ids are dense per score, so index by (id - k*stride) */
    size_t id_cap = 0;
    for (size_t i = 0; i < a->n_heads; i++)
        if (a->heads[i].out_index >= 0 && (size_t)(a->heads[i].id % ID_SCORE_STRIDE) + 1 > id_cap)
            id_cap = (size_t)(a->heads[i].id % ID_SCORE_STRIDE) + 1;
    int *id2head = malloc((id_cap ? id_cap : 1) * sizeof *id2head);
    if (!id2head) {
        st = lec_error_set(err, LEC_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    for (size_t i = 0; i < id_cap; i++)
        id2head[i] = -1;
    for (size_t i = 0; i < a->n_heads; i++) {
        head_t *h = &a->heads[i];
        if (h->out_index >= 0 && id2head[h->id % ID_SCORE_STRIDE] < 0)
            id2head[h->id % ID_SCORE_STRIDE] = (int)i;
    }
    char *head_used = calloc(a->n_heads ? a->n_heads : 1, 1);
    size_t n_notes = 0;
    for (size_t i = 0; i < n_pl; i++) {
        perf_t *p = pl[i];
        double t = perf_time(p) - t_min;
        int hi = -1;
        if (p->id >= 0 && p->id / ID_SCORE_STRIDE == k && (size_t)(p->id % ID_SCORE_STRIDE) < id_cap)
            hi = id2head[p->id % ID_SCORE_STRIDE];
        if (hi >= 0 && a->heads[hi].tied) {
            /* tied continuation: lengthen the note it continues */
            for (size_t j = n_notes; j-- > 0;) {
                lec_perform_note *q = &pin.notes[j];
                if (q->pitch == p->pitch && q->onset_wn < t - 1e-9 &&
                    fabs(q->onset_wn + q->duration_wn - t) < 1e-6) {
                    q->duration_wn += p->dur;
                    break;
                }
            }
            if (head_used)
                head_used[hi] = 1;
            continue;
        }
        lec_perform_note *q = &pin.notes[n_notes];
        q->onset_wn = t;
        /* graces: their written value is not their performed length */
        q->duration_wn = p->gn != 0 ? GRACE_SCALE * p->dur : p->dur;
        if (q->duration_wn <= 0)
            q->duration_wn = 1.0 / 64;
        q->pitch = p->pitch;
        q->velocity = p->vel;
        q->staff = hi >= 0 ? a->heads[hi].staff : 0;
        q->id = (int64_t)n_notes;
        head_out[n_notes] = hi >= 0 ? a->heads[hi].out_index : -1;
        if (hi >= 0 && head_used)
            head_used[hi] = 1;
        n_notes++;
    }
    free(id2head);
    pin.n = n_notes;
    res->perf_notes += (int64_t)n_notes;
    for (size_t i = 0; i < n_notes; i++)
        if (head_out[i] >= 0)
            res->perf_notes_with_head++;
    for (size_t i = 0; i < a->n_heads; i++)
        if (a->heads[i].out_index >= 0 && !a->heads[i].tied && head_used && head_used[i])
            res->heads_nontied_with_onset++;
    free(head_used);

    cJSON *jperf = cJSON_AddObjectToObject(root, "performance");
    cJSON_AddNumberToObject(jperf, "time_offset_wn", r6(-t_min));
    cJSON *jnotes = cJSON_AddArrayToObject(jperf, "notes");
    cJSON *jevents = cJSON_AddArrayToObject(jperf, "events");
    size_t n_events = 0;
    for (size_t i = 0; i < n_notes; i++) {
        if (i == 0 || pin.notes[i].onset_wn > pin.notes[i - 1].onset_wn + 1e-9) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "t_wn", r6(pin.notes[i].onset_wn));
            cJSON_AddNumberToObject(e, "first_note", (double)i);
            cJSON_AddItemToObject(e, "heads", cJSON_CreateArray());
            cJSON_AddItemToArray(jevents, e);
            n_events++;
        }
        note_event[i] = (int)n_events - 1;
        cJSON *e = cJSON_GetArrayItem(jevents, (int)n_events - 1);
        cJSON *nn = cJSON_GetObjectItem(e, "n_notes");
        if (nn)
            cJSON_SetNumberValue(nn, nn->valuedouble + 1);
        else
            cJSON_AddNumberToObject(e, "n_notes", 1);
        if (head_out[i] >= 0)
            cJSON_AddItemToArray(cJSON_GetObjectItem(e, "heads"), cJSON_CreateNumber(head_out[i]));
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "t_wn", r6(pin.notes[i].onset_wn));
        cJSON_AddNumberToObject(o, "dur_wn", r6(pin.notes[i].duration_wn));
        cJSON_AddNumberToObject(o, "pitch", pin.notes[i].pitch);
        cJSON_AddNumberToObject(o, "velocity", pin.notes[i].velocity);
        cJSON_AddNumberToObject(o, "head", head_out[i]);
        cJSON_AddNumberToObject(o, "staff", pin.notes[i].staff);
        cJSON_AddItemToArray(jnotes, o);
    }
    if (n_notes == 0) {
        st = lec_error_set(err, LEC_EFORMAT, "%s: score %d has no performed notes", name, k + 1);
        if (res->cause[0] == '\0')
            snprintf(res->cause, sizeof res->cause, "annotations");
        goto done;
    }

    /* tempo: the twin's; if it only has the initial tempo, the source's own
     * MIDI score (tag mK) may carry \tempo marks in its music */
    char mtag[16];
    snprintf(mtag, sizeof mtag, "m%d", k);
    size_t nt = 0, nmt = 0;
    for (size_t i = 0; i < a->n_tempo; i++) {
        nt += strcmp(a->tempo[i].tag, tag) == 0;
        nmt += strcmp(a->tempo[i].tag, mtag) == 0;
    }
    const char *use = (nt <= 1 && nmt > 1) ? mtag : tag;
    pin.tempo = calloc(a->n_tempo + 1, sizeof *pin.tempo);
    pin.pedal = calloc(a->n_pedal + 1, sizeof *pin.pedal);
    if (!pin.tempo || !pin.pedal) {
        st = lec_error_set(err, LEC_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    cJSON *jtempo = cJSON_AddArrayToObject(jperf, "tempo");
    for (size_t i = 0; i < a->n_tempo; i++)
        if (strcmp(a->tempo[i].tag, use) == 0 && a->tempo[i].v > 0) {
            double at = fmax(0.0, a->tempo[i].t - t_min);
            pin.tempo[pin.n_tempo].at_wn = at;
            pin.tempo[pin.n_tempo].quarter_bpm = a->tempo[i].v;
            pin.n_tempo++;
        }
    /* time steps come in moment order (main part first), so a grace time
     * step can precede its predecessor in main + grace: sort, stably */
    for (size_t i = 1; i < pin.n_tempo; i++)
        for (size_t j = i; j > 0 && pin.tempo[j].at_wn < pin.tempo[j - 1].at_wn; j--) {
            lec_perform_tempo tt = pin.tempo[j];
            pin.tempo[j] = pin.tempo[j - 1];
            pin.tempo[j - 1] = tt;
        }
    for (size_t i = 0; i < pin.n_tempo; i++) {
        cJSON *o = cJSON_CreateArray();
        cJSON_AddItemToArray(o, cJSON_CreateNumber(r6(pin.tempo[i].at_wn)));
        cJSON_AddItemToArray(o, cJSON_CreateNumber(r6(pin.tempo[i].quarter_bpm)));
        cJSON_AddItemToArray(jtempo, o);
    }
    cJSON *jpedal = cJSON_AddArrayToObject(jperf, "pedal");
    for (size_t i = 0; i < a->n_pedal; i++)
        if (strcmp(a->pedal[i].tag, tag) == 0) {
            pin.pedal[pin.n_pedal].at_wn = fmax(0.0, a->pedal[i].t - t_min);
            pin.pedal[pin.n_pedal].value = (int)a->pedal[i].v;
            cJSON *o = cJSON_CreateArray();
            cJSON_AddItemToArray(o, cJSON_CreateNumber(r6(pin.pedal[pin.n_pedal].at_wn)));
            cJSON_AddItemToArray(o, cJSON_CreateNumber(pin.pedal[pin.n_pedal].value));
            cJSON_AddItemToArray(jpedal, o);
            pin.n_pedal++;
        }

    /* reference MIDI: the plain performance at the score's tempo; its seconds
     * are the reference time line of the performance order */
    {
        lec_perform_config pcfg;
        lec_perform_config_default(&pcfg);
        lec_perform_score sc = {pin.notes, pin.n, pin.tempo, pin.n_tempo, pin.pedal, pin.n_pedal};
        lec_perform *pf = lec_perform_create(&pcfg, &sc, err);
        if (!pf) {
            st = err ? err->code : LEC_EINVAL;
            snprintf(res->cause, sizeof res->cause, "annotations");
            goto done;
        }
        snprintf(path, sizeof path, "%s/score.mid", tmp);
        st = lec_perform_write_midi(pf, path, err);
        if (!st) {
            const lec_perform_onset *on = lec_perform_onsets(pf);
            for (size_t i = 0; i < n_notes; i++)
                cJSON_AddNumberToObject(cJSON_GetArrayItem(jnotes, (int)i), "score_s",
                                        r6(on[i].onset_s));
        }
        lec_perform_destroy(pf);
        if (st) {
            snprintf(res->cause, sizeof res->cause, "io");
            goto done;
        }
        cJSON_AddStringToObject(jperf, "midi", "score.mid");
    }

    cJSON *jren = cJSON_AddArrayToObject(root, "renderings");
    if (cfg->audio) {
        double t0 = lec_now_s();
        st = render_all(cfg, tmp, name, &pin, note_event, n_events, jren, log_path, err);
        res->t_audio_s += lec_now_s() - t0;
        if (st) {
            snprintf(res->cause, sizeof res->cause, "audio");
            goto done;
        }
    }

    snprintf(path, sizeof path, "%s/piece.json", tmp);
    if ((st = write_json(path, root, err)))
        goto done;
    /* replace an older bundle atomically: readers (training runs) see the
     * old or the new bundle, never none or half of one */
    if (is_dir(final_dir)) {
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final_dir, RENAME_EXCHANGE) != 0) {
            st = lec_error_set(err, LEC_EIO, "%s: cannot swap in the new bundle: %s", final_dir,
                               strerror(errno));
            goto done;
        }
        rm_rf(tmp, NULL); /* now the old bundle */
    } else if (rename(tmp, final_dir) != 0) {
        st = lec_error_set(err, LEC_EIO, "%s: cannot rename into place: %s", final_dir,
                           strerror(errno));
        goto done;
    }
    res->n_bundles++;
    logf_(log_path, "bundle %s: %d pages, %d systems, %d heads, %zu performed notes, %zu events",
          name, n_pages, n_sys_out, n_heads_out, n_notes, n_events);

done:
    if (st) {
        if (!res->cause[0])
            snprintf(res->cause, sizeof res->cause, "io");
        rm_rf(tmp, NULL);
    }
    cJSON_Delete(root);
    free(sys_out);
    free(pl);
    free(head_out);
    free(note_event);
    free(pin.notes);
    free(pin.tempo);
    free(pin.pedal);
    return st;
}

/* ------------------------------------------------------- the geometry */

static int cmp_staff(const void *a, const void *b)
{
    const staff_t *x = a, *y = b;
    if (x->page_ly != y->page_ly)
        return x->page_ly - y->page_ly;
    if (x->sysrank != y->sysrank)
        return x->sysrank - y->sysrank;
    return (x->box[1] < y->box[1]) - (x->box[1] > y->box[1]); /* top first: larger y up */
}

static int cmp_head(const void *a, const void *b)
{
    const head_t *x = a, *y = b;
    double tx = rat(x->mn, x->md) + rat(x->gn, x->gd), ty = rat(y->mn, y->md) + rat(y->gn, y->gd);
    if (x->score != y->score)
        return x->score - y->score;
    if (tx != ty)
        return tx < ty ? -1 : 1;
    if (x->staff != y->staff)
        return x->staff - y->staff;
    return x->pitch - y->pitch;
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
static lec_status layout(annot_t *a, double scale, sys_t **systems_out, size_t *n_sys_out,
                         lec_error *err)
{
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
    qsort(a->heads, a->n_heads, sizeof *a->heads, cmp_head);
    *systems_out = sys;
    *n_sys_out = n;
    return LEC_OK;
}

/* ------------------------------------------------------- the piece */

static void find_meta(const char *src, const char *main_text, meta_t *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->source_path, sizeof m->source_path, "%s", src);
    /* index.json of the tree above src, if any */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", src);
    if (ends_with(dir, ".ly")) {
        char *sl = strrchr(dir, '/');
        if (sl)
            *sl = '\0';
    }
    char up[4096];
    snprintf(up, sizeof up, "%s", dir);
    for (int depth = 0; depth < 6; depth++) {
        char idx[4200];
        snprintf(idx, sizeof idx, "%s/index.json", up);
        if (is_file(idx)) {
            char *text;
            size_t len;
            if (lec_read_file(idx, 0, &text, &len, NULL) == LEC_OK) {
                cJSON *root = cJSON_Parse(text);
                free(text);
                const char *rel = dir + strlen(up);
                while (*rel == '/')
                    rel++;
                cJSON *e;
                cJSON_ArrayForEach(e, root)
                {
                    cJSON *d = cJSON_GetObjectItem(e, "dir");
                    if (!cJSON_IsString(d) || strcmp(d->valuestring, rel) != 0)
                        continue;
#define GETS(field, key)                                                         \
    do {                                                                         \
        cJSON *v_ = cJSON_GetObjectItem(e, key);                                 \
        if (cJSON_IsString(v_))                                                  \
            snprintf(m->field, sizeof m->field, "%s", v_->valuestring);          \
    } while (0)
                    GETS(title, "mutopiatitle");
                    GETS(composer, "mutopiacomposer");
                    GETS(license, "license_norm");
                    GETS(source, "source");
                    GETS(opus, "mutopiaopus");
                    GETS(date, "date");
                    snprintf(m->source_path, sizeof m->source_path, "mutopia-piano/%s", rel);
                }
                cJSON_Delete(root);
            }
            break;
        }
        char *sl = strrchr(up, '/');
        if (!sl || sl == up)
            break;
        *sl = '\0';
    }
    if (main_text) {
        if (!m->title[0])
            header_field(main_text, "title", m->title, sizeof m->title);
        if (!m->title[0])
            header_field(main_text, "mutopiatitle", m->title, sizeof m->title);
        if (!m->composer[0])
            header_field(main_text, "composer", m->composer, sizeof m->composer);
        if (!m->license[0])
            header_field(main_text, "license", m->license, sizeof m->license);
        if (!m->license[0])
            header_field(main_text, "copyright", m->license, sizeof m->license);
        if (!m->source[0])
            header_field(main_text, "source", m->source, sizeof m->source);
    }
}

/* Main files: .ly files that no other file \include's. */
static int is_included(const char *f, char **files, char **texts, size_t n)
{
    const char *base = strrchr(f, '/');
    base = base ? base + 1 : f;
    for (size_t i = 0; i < n; i++) {
        if (!texts[i] || strcmp(files[i], f) == 0)
            continue;
        for (const char *p = texts[i]; (p = strstr(p, "\\include")); p += 8) {
            const char *q = strchr(p, '"');
            const char *nl = strchr(p, '\n');
            if (!q || (nl && nl < q))
                continue;
            q++;
            const char *e = strchr(q, '"');
            if (!e)
                continue;
            size_t l = (size_t)(e - q);
            const char *ib = q;
            for (const char *r = q; r < e; r++)
                if (*r == '/')
                    ib = r + 1;
            size_t bl = (size_t)(e - ib);
            (void)l;
            if (bl == strlen(base) && strncmp(ib, base, bl) == 0)
                return 1;
        }
    }
    return 0;
}

static int has_output(const char *text)
{
    return strstr(text, "\\score") || strstr(text, "\\book") || strstr(text, "\\new") ||
           strstr(text, "\\include");
}

lec_status lec_corpus_build_piece(const lec_corpus_config *cfg_in, const char *src, const char *id,
                                  const char *out_dir, const char *log_path,
                                  lec_corpus_result *res, lec_error *err)
{
    lec_corpus_config cfg = *cfg_in;
    typedef struct {
        annot_t a;
        sys_t *systems;
        size_t n_sys;
        char **pngs;
        int n_pngs, page_base;
        double scale;
    } main_t;
    main_t mains[16];
    memset(mains, 0, sizeof mains);
    lec_corpus_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof *res);
    double t_start = lec_now_s();
    /* LilyPond runs in the work dir: every path we hand it must be absolute */
    char out_abs[4096];
    if (!realpath(out_dir, out_abs)) {
        snprintf(res->cause, sizeof res->cause, "io");
        return lec_error_set(err, LEC_EIO, "%s: %s", out_dir, strerror(errno));
    }
    out_dir = out_abs;
    char done_marker[4096], work[4096], path[4096];
    snprintf(done_marker, sizeof done_marker, "%s/.done/%s", out_dir, id);
    if (is_file(done_marker)) {
        res->skipped = 1;
        return LEC_OK;
    }
    if (!cfg.annot_ly || !is_file(cfg.annot_ly)) {
        snprintf(res->cause, sizeof res->cause, "io");
        return lec_error_set(err, LEC_EIO, "%s: annotation hook file not found",
                             cfg.annot_ly ? cfg.annot_ly : "(null)");
    }
    char annot_abs[4096];
    if (!realpath(cfg.annot_ly, annot_abs))
        snprintf(annot_abs, sizeof annot_abs, "%s", cfg.annot_ly);
    logf_(log_path, "== %s (%s)", id, src);

    /* 1. copy the sources to a work dir */
    snprintf(work, sizeof work, "%s/.work/%s-%ld", out_dir, id, (long)getpid());
    rm_rf(work, NULL);
    lec_status st = lec_mkdir_p(work, err);
    if (st) {
        snprintf(res->cause, sizeof res->cause, "io");
        return st;
    }
    char srcdir[4096];
    snprintf(srcdir, sizeof srcdir, "%s", src);
    const char *only_main = NULL;
    if (is_file(src)) {
        char *sl = strrchr(srcdir, '/');
        if (sl) {
            *sl = '\0';
            only_main = sl + 1 - srcdir + src;
        } else {
            snprintf(srcdir, sizeof srcdir, ".");
            only_main = src;
        }
    }
    char **files = NULL, **texts = NULL;
    size_t n_files = 0, cap_files = 0;
    char **pngs = NULL;
    int n_pngs = 0;
    annot_t a;
    memset(&a, 0, sizeof a);
    sys_t *systems = NULL;
    size_t n_sys = 0;
    char *main_text = NULL;
    if (only_main) {
        /* a lone .ly file: its directory may hold anything (even our output),
         * so copy only the LilyPond files beside it */
        DIR *d = opendir(srcdir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char from[4200], to[4200];
            snprintf(from, sizeof from, "%s/%s", srcdir, e->d_name);
            if (!is_file(from) || !(ends_with(from, ".ly") || ends_with(from, ".ily") ||
                                    ends_with(from, ".lyi")))
                continue;
            snprintf(to, sizeof to, "%s/%s", work, e->d_name);
            if ((st = copy_file(from, to, err))) {
                closedir(d);
                snprintf(res->cause, sizeof res->cause, "io");
                goto out;
            }
        }
        if (d)
            closedir(d);
    } else {
        char from[4200];
        snprintf(from, sizeof from, "%s/.", srcdir);
        const char *argv[] = {"cp", "-rL", "--no-preserve=mode", from, work, NULL};
        if ((st = lec_proc_run(argv, NULL, NULL, log_path, 600, NULL, err))) {
            snprintf(res->cause, sizeof res->cause, "io");
            goto out;
        }
    }
    find_ly(work, &files, &n_files, &cap_files);
    qsort(files, n_files, sizeof *files, cmp_str);
    texts = calloc(n_files ? n_files : 1, sizeof *texts);
    if (!texts) {
        st = lec_error_set(err, LEC_ENOMEM, "%s: out of memory", id);
        goto out;
    }
    char piece_version[32] = "";
    for (size_t i = 0; i < n_files; i++) {
        size_t len;
        if (lec_read_file(files[i], 0, &texts[i], &len, NULL) != LEC_OK)
            continue;
        if (!piece_version[0])
            find_version(texts[i], piece_version, sizeof piece_version);
    }
    if (!piece_version[0])
        snprintf(piece_version, sizeof piece_version, "2.10.0");

    /* 2. convert-ly every file (in place, in the work copy) */
    double t_eng = lec_now_s();
    for (size_t i = 0; i < n_files; i++) {
        char ver[32];
        find_version(texts[i] ? texts[i] : "", ver, sizeof ver);
        char fdir[4096];
        snprintf(fdir, sizeof fdir, "%s", files[i]);
        char *sl = strrchr(fdir, '/');
        *sl = '\0';
        const char *argv_v[] = {"convert-ly", "-e", sl + 1, NULL};
        const char *argv_f[] = {"convert-ly", "-e", "-f", piece_version, sl + 1, NULL};
        logf_(log_path, "$ convert-ly -e %s%s", ver[0] ? "" : "-f <piece version> ", sl + 1);
        lec_error e2;
        lec_proc_result pr;
        if (lec_proc_run(ver[0] ? argv_v : argv_f, fdir, NULL, log_path, cfg.timeout_s, &pr, &e2)) {
            /* convert-ly exits 1 on rules it cannot apply but still writes what it
             * could; lilypond decides whether the result is usable */
            logf_(log_path, "warning: %s: %s", files[i], e2.msg);
            if (pr.timed_out) {
                snprintf(res->cause, sizeof res->cause, "convert-ly");
                st = lec_error_set(err, LEC_EEXTERNAL, "%s: convert-ly timed out", files[i]);
                goto out;
            }
        }
        free(texts[i]);
        texts[i] = NULL;
        size_t len;
        lec_read_file(files[i], 0, &texts[i], &len, NULL);
    }

    /* 3. engrave each main file */
    int n_mains = 0, score_base = 0, n_scores_total = 0;
    /* first pass counts scores to name bundles id vs id__movN: we name after
     * engraving, so collect per main the annotations then write */
    for (size_t i = 0; i < n_files && n_mains < 16; i++) {
        if (!ends_with(files[i], ".ly") || !texts[i])
            continue;
        if (only_main) {
            const char *b = strrchr(files[i], '/') + 1;
            if (strcmp(b, only_main) != 0)
                continue;
        } else if (is_included(files[i], files, texts, n_files) || !has_output(texts[i])) {
            continue;
        }
        if (!main_text)
            main_text = strdup(texts[i]);
        char fdir[4096];
        snprintf(fdir, sizeof fdir, "%s", files[i]);
        char *sl = strrchr(fdir, '/');
        *sl = '\0';
        char prefix[64], tsv[4200], env1[4300], opt_inc[4300], opt_res[64];
        snprintf(prefix, sizeof prefix, "lec-out-%d", n_mains);
        snprintf(tsv, sizeof tsv, "%s/%s.tsv", fdir, prefix);
        snprintf(env1, sizeof env1, "LEC_ANNOT_OUT=%s", tsv);
        snprintf(opt_inc, sizeof opt_inc, "-dinclude-settings=%s", annot_abs);
        snprintf(opt_res, sizeof opt_res, "-dresolution=%d", cfg.dpi);
        const char *argv[] = {"lilypond", opt_inc, "--png", opt_res, "-o", prefix, sl + 1, NULL};
        const char *envx[] = {env1, NULL};
        logf_(log_path, "$ lilypond %s --png %s -o %s %s", opt_inc, opt_res, prefix, sl + 1);
        lec_proc_result pr;
        lec_error e2;
        lec_status est = lec_proc_run(argv, fdir, envx, log_path, cfg.timeout_s, &pr, &e2);
        main_t *m = &mains[n_mains];
        if (est) {
            logf_(log_path, "error: %s: %s", files[i], e2.msg);
            if (pr.timed_out) {
                snprintf(res->cause, sizeof res->cause, "lilypond-timeout");
                st = lec_error_set(err, LEC_EEXTERNAL, "%s: lilypond timed out after %.0f s",
                                   sl + 1, cfg.timeout_s);
                goto out;
            }
            /* lilypond exits 1 on errors it recovered from; use the output if
             * there is some, otherwise fail */
        }
        if (!is_file(tsv) || annot_parse(tsv, &m->a, &e2) != LEC_OK || m->a.n_heads == 0) {
            if (!res->cause[0])
                snprintf(res->cause, sizeof res->cause, "%s",
                         !est ? "no-notes" : pr.exit_code > 128 ? "lilypond-crash" : "lilypond");
            st = lec_error_set(err, LEC_EEXTERNAL, "%s: %s", sl + 1,
                               est ? e2.msg : "no note heads engraved");
            annot_free(&m->a);
            continue;
        }
        /* page images, per \book: <book>.png (one page) or <book>-pageN.png.
         * Each book numbers its pages from its first page number; all pages go
         * on one list: global page = offset of the book + page - its first. */
        int n_books = m->a.n_books > 0 ? m->a.n_books : 1;
        int offset = 0;
        for (int bk = 0; bk < n_books; bk++) {
            const char *bn = m->a.n_books > 0 ? m->a.books[bk] : prefix;
            char stem[4300];
            if (bn[0] == '/')
                snprintf(stem, sizeof stem, "%s", bn);
            else
                snprintf(stem, sizeof stem, "%s/%s", fdir, bn);
            int base = 1 << 30;
            for (size_t j = 0; j < m->a.n_staves; j++)
                if (m->a.staves[j].book == bk && m->a.staves[j].page_ly < base)
                    base = m->a.staves[j].page_ly;
            for (size_t j = 0; j < m->a.n_heads; j++)
                if (m->a.heads[j].book == bk && m->a.heads[j].page_ly < base)
                    base = m->a.heads[j].page_ly;
            if (base == 1 << 30)
                base = 1;
            int added = 0;
            for (int pg = 0; pg < 4096; pg++) {
                if (pg == 0)
                    snprintf(path, sizeof path, "%s.png", stem);
                else
                    snprintf(path, sizeof path, "%s-page%d.png", stem, pg);
                if (!is_file(path)) {
                    if (pg == 0)
                        continue;
                    break;
                }
                char **np = realloc(m->pngs, (size_t)(m->n_pngs + 1) * sizeof *np);
                if (!np)
                    break;
                m->pngs = np;
                m->pngs[m->n_pngs++] = strdup(path);
                added++;
                if (pg == 0)
                    break; /* a single page */
            }
            for (size_t j = 0; j < m->a.n_staves; j++)
                if (m->a.staves[j].book == bk)
                    m->a.staves[j].page_ly = offset + m->a.staves[j].page_ly - base;
            for (size_t j = 0; j < m->a.n_heads; j++)
                if (m->a.heads[j].book == bk)
                    m->a.heads[j].page_ly = offset + m->a.heads[j].page_ly - base;
            offset += added;
        }
        int w, h;
        if (m->n_pngs == 0 || !png_size(m->pngs[0], &w, &h)) {
            /* lilypond that failed after the annotations were written */
            snprintf(res->cause, sizeof res->cause, "%s",
                     !est ? "pages" : pr.exit_code > 128 ? "lilypond-crash" : "lilypond");
            st = lec_error_set(err, LEC_EEXTERNAL, "%s: no page images", sl + 1);
            annot_free(&m->a);
            continue;
        }
        m->scale = (double)w / m->a.paper_w;
        if ((st = layout(&m->a, m->scale, &m->systems, &m->n_sys, err))) {
            annot_free(&m->a);
            goto out;
        }
        m->page_base = 0;
        for (int k = 0; k < m->a.n_scores; k++) {
            int has = 0;
            for (size_t j = 0; j < m->a.n_heads && !has; j++)
                has = m->a.heads[j].score == k;
            n_scores_total += has;
        }
        n_mains++;
    }
    res->t_engrave_s = lec_now_s() - t_eng;
    if (n_mains == 0) {
        if (!res->cause[0]) {
            snprintf(res->cause, sizeof res->cause, "no-notes");
            st = lec_error_set(err, LEC_EFORMAT, "%s: no main .ly file with notes", src);
        }
        goto out;
    }

    /* 4. one bundle per printed score with notes */
    meta_t meta;
    find_meta(src, main_text, &meta);
    int mov = 0;
    lec_status first_err = LEC_OK;
    lec_error keep;
    keep.code = LEC_OK;
    keep.msg[0] = '\0';
    for (int mi = 0; mi < n_mains; mi++) {
        main_t *m = &mains[mi];
        for (int k = 0; k < m->a.n_scores; k++) {
            int has = 0;
            for (size_t j = 0; j < m->a.n_heads && !has; j++)
                has = m->a.heads[j].score == k;
            if (!has)
                continue;
            mov++;
            char name[300];
            if (n_scores_total == 1)
                snprintf(name, sizeof name, "%s", id);
            else
                snprintf(name, sizeof name, "%s__mov%d", id, mov);
            lec_error e2;
            lec_status bst = write_bundle(&cfg, &m->a, k, m->systems, m->n_sys, m->pngs,
                                          m->n_pngs, m->page_base, &meta, out_dir, name,
                                          log_path, res, &e2);
            if (bst) {
                logf_(log_path, "error: bundle %s: %s", name, e2.msg);
                if (!first_err) {
                    first_err = bst;
                    keep = e2;
                }
            }
        }
    }
    (void)score_base;
    if (res->n_bundles == 0) {
        st = first_err ? first_err : LEC_EFORMAT;
        if (err)
            *err = keep;
        if (!res->cause[0])
            snprintf(res->cause, sizeof res->cause, "annotations");
        goto out;
    }
    st = LEC_OK;
    res->cause[0] = '\0';
    if (first_err)
        logf_(log_path, "warning: %d of %d movements built; first error: %s", res->n_bundles,
              mov, keep.msg);
    /* bundles of an earlier build of this piece that this one did not make
     * (it had more movements) are stale */
    {
        DIR *d = opendir(out_dir);
        if (d) {
            struct dirent *e;
            size_t il = strlen(id);
            while ((e = readdir(d))) {
                if (strncmp(e->d_name, id, il) != 0 || strncmp(e->d_name + il, "__mov", 5) != 0)
                    continue;
                int k = atoi(e->d_name + il + 5);
                if (n_scores_total == 1 || k < 1 || k > mov) {
                    snprintf(path, sizeof path, "%s/%s", out_dir, e->d_name);
                    rm_rf(path, NULL);
                }
            }
            closedir(d);
            if (n_scores_total > 1) {
                snprintf(path, sizeof path, "%s/%s", out_dir, id);
                if (is_dir(path))
                    rm_rf(path, NULL);
            }
        }
    }
    /* the piece is finished: mark it */
    snprintf(path, sizeof path, "%s/.done", out_dir);
    lec_mkdir_p(path, NULL);
    {
        char info[256];
        int l = snprintf(info, sizeof info, "%d bundles\n", res->n_bundles);
        lec_write_file_atomic(done_marker, info, (size_t)l, NULL);
    }

out:
    for (int mi = 0; mi < 16; mi++) {
        annot_free(&mains[mi].a);
        free(mains[mi].systems);
        for (int p = 0; p < mains[mi].n_pngs; p++)
            free(mains[mi].pngs[p]);
        free(mains[mi].pngs);
    }
    for (size_t i = 0; i < n_files; i++) {
        free(files[i]);
        if (texts)
            free(texts[i]);
    }
    free(files);
    free(texts);
    free(main_text);
    (void)pngs;
    (void)n_pngs;
    (void)systems;
    (void)n_sys;
    annot_free(&a);
    if (!cfg.keep_work)
        rm_rf(work, NULL);
    res->t_total_s = lec_now_s() - t_start;
    if (st)
        logf_(log_path, "FAILED %s: %s: %s", id, res->cause, err ? err->msg : "");
    else
        logf_(log_path, "OK %s: %d bundles in %.1f s", id, res->n_bundles, res->t_total_s);
    return st;
}

/* ------------------------------------------------------- sources */

static void id_from_rel(const char *rel, char *out, size_t cap)
{
    size_t k = 0;
    for (const char *p = rel; *p && k + 3 < cap; p++) {
        if (*p == '/') {
            if (p[1] == '\0')
                break;
            out[k++] = '_';
            out[k++] = '_';
        } else {
            out[k++] = *p;
        }
    }
    out[k] = '\0';
    if (ends_with(out, ".ly"))
        out[k - 3] = '\0';
}

lec_status lec_corpus_list_sources(const char *arg, const char *split, lec_corpus_item **items,
                                   size_t *n_items, lec_error *err)
{
    *items = NULL;
    *n_items = 0;
    char idx[4096], root[4096];
    if (ends_with(arg, "index.json") && is_file(arg)) {
        snprintf(idx, sizeof idx, "%s", arg);
        snprintf(root, sizeof root, "%s", arg);
        char *sl = strrchr(root, '/');
        if (sl)
            *sl = '\0';
        else
            snprintf(root, sizeof root, ".");
    } else if (is_dir(arg)) {
        snprintf(root, sizeof root, "%s", arg);
        size_t l = strlen(root);
        while (l > 1 && root[l - 1] == '/')
            root[--l] = '\0';
        snprintf(idx, sizeof idx, "%s/index.json", root);
        if (!is_file(idx))
            idx[0] = '\0';
    } else if (is_file(arg) && ends_with(arg, ".ly")) {
        idx[0] = '\0';
        root[0] = '\0';
    } else {
        return lec_error_set(err, LEC_EIO, "%s: not a piece directory, .ly file or index.json",
                             arg);
    }
    if (idx[0]) {
        char *text;
        size_t len;
        lec_status st = lec_read_file(idx, 0, &text, &len, err);
        if (st)
            return st;
        cJSON *j = cJSON_Parse(text);
        free(text);
        if (!cJSON_IsArray(j)) {
            cJSON_Delete(j);
            return lec_error_set(err, LEC_EFORMAT, "%s: not a JSON array of pieces", idx);
        }
        size_t n = (size_t)cJSON_GetArraySize(j);
        lec_corpus_item *it = calloc(n ? n : 1, sizeof *it);
        if (!it) {
            cJSON_Delete(j);
            return lec_error_set(err, LEC_ENOMEM, "%s: out of memory", idx);
        }
        size_t k = 0;
        cJSON *e;
        cJSON_ArrayForEach(e, j)
        {
            cJSON *d = cJSON_GetObjectItem(e, "dir");
            cJSON *s = cJSON_GetObjectItem(e, "suggested_split");
            if (!cJSON_IsString(d))
                continue;
            const char *sp = cJSON_IsString(s) ? s->valuestring : "";
            if (split && strcmp(split, sp) != 0)
                continue;
            snprintf(it[k].src, sizeof it[k].src, "%s/%s", root, d->valuestring);
            id_from_rel(d->valuestring, it[k].id, sizeof it[k].id);
            snprintf(it[k].split, sizeof it[k].split, "%s", sp);
            k++;
        }
        cJSON_Delete(j);
        *items = it;
        *n_items = k;
        return LEC_OK;
    }
    /* a single piece directory or .ly file: id from the last path components */
    lec_corpus_item *it = calloc(1, sizeof *it);
    if (!it)
        return lec_error_set(err, LEC_ENOMEM, "out of memory");
    snprintf(it->src, sizeof it->src, "%s", arg);
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", arg);
    size_t l = strlen(tmp);
    while (l > 1 && tmp[l - 1] == '/')
        tmp[--l] = '\0';
    /* with an index.json above: the path relative to it, else the base name */
    char up[1024];
    snprintf(up, sizeof up, "%s", tmp);
    const char *rel = NULL;
    char rp[4096];
    if (realpath(tmp, rp)) {
        snprintf(up, sizeof up, "%s", rp);
        for (int depth = 0; depth < 6; depth++) {
            char *sl = strrchr(up, '/');
            if (!sl || sl == up)
                break;
            *sl = '\0';
            char ij[1100];
            snprintf(ij, sizeof ij, "%s/index.json", up);
            if (is_file(ij)) {
                rel = rp + strlen(up) + 1;
                break;
            }
        }
    }
    if (rel) {
        id_from_rel(rel, it->id, sizeof it->id);
    } else {
        const char *b = strrchr(tmp, '/');
        id_from_rel(b ? b + 1 : tmp, it->id, sizeof it->id);
    }
    *items = it;
    *n_items = 1;
    return LEC_OK;
}
