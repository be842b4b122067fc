/* lec_corpus.c -- one piece: copy, convert-ly, engrave with lec_annot.ly,
 * parse the annotation TSV, write one bundle per printed \score. */
#include "lec_corpus.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lec_proc.h"
#include "lec_util.h"

#include "lec_corpus_internal.h"

#ifndef LEC_ANNOT_LY_DEFAULT
#define LEC_ANNOT_LY_DEFAULT "models/corpus/lec_annot.ly"
#endif

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

void lec_corpus_log(const char *log_path, const char *fmt, ...)
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

lec_status lec_corpus_rm_rf(const char *path, lec_error *err)
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
int lec_corpus_png_size(const char *path, int *w, int *h)
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

lec_status lec_corpus_copy_file(const char *from, const char *to, lec_error *err)
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
            const char *ib = q;
            for (const char *r = q; r < e; r++)
                if (*r == '/')
                    ib = r + 1;
            size_t bl = (size_t)(e - ib);
            /* case-insensitive: some sources were written on case-insensitive
             * file systems (see fix_include_case) */
            if (bl == strlen(base) && strncasecmp(ib, base, bl) == 0)
                return 1;
        }
    }
    return 0;
}

/* Sources written on case-insensitive file systems \include "Foo.ly" for a
 * file named foo.ly: give the work copy the spelling the source asks for. */
static void fix_include_case(char **files, char **texts, size_t n, const char *log_path)
{
    for (size_t i = 0; i < n; i++) {
        if (!texts[i])
            continue;
        for (const char *p = texts[i]; (p = strstr(p, "\\include")); p += 8) {
            const char *q = strchr(p, '"');
            const char *nl = strchr(p, '\n');
            if (!q || (nl && nl < q))
                continue;
            q++;
            const char *e = strchr(q, '"');
            if (!e || e == q || e - q > 512)
                continue;
            char want[4200], dir[4096];
            snprintf(dir, sizeof dir, "%s", files[i]);
            char *sl = strrchr(dir, '/');
            if (!sl)
                continue;
            *sl = '\0';
            snprintf(want, sizeof want, "%s/%.*s", dir, (int)(e - q), q);
            if (access(want, F_OK) == 0)
                continue;
            char wdir[4200];
            snprintf(wdir, sizeof wdir, "%s", want);
            char *ws = strrchr(wdir, '/');
            *ws = '\0';
            const char *wbase = ws + 1;
            DIR *d = opendir(wdir);
            struct dirent *de;
            while (d && (de = readdir(d))) {
                if (strcasecmp(de->d_name, wbase) != 0)
                    continue;
                char have[4500];
                snprintf(have, sizeof have, "%s/%s", wdir, de->d_name);
                if (lec_corpus_copy_file(have, want, NULL) == LEC_OK)
                    lec_corpus_log(log_path, "note: \\include \"%s\" resolved to %s (case)", wbase,
                                   de->d_name);
                break;
            }
            if (d)
                closedir(d);
        }
    }
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
    lec_corpus_log(log_path, "== %s (%s)", id, src);

    /* 1. copy the sources to a work dir */
    snprintf(work, sizeof work, "%s/.work/%s-%ld", out_dir, id, (long)getpid());
    lec_corpus_rm_rf(work, NULL);
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
            if ((st = lec_corpus_copy_file(from, to, err))) {
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
    int convert_failed = 0; /* blamed if LilyPond then fails */
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
        lec_corpus_log(log_path, "$ convert-ly -e %s%s", ver[0] ? "" : "-f <piece version> ", sl + 1);
        lec_error e2;
        lec_proc_result pr;
        if (lec_proc_run(ver[0] ? argv_v : argv_f, fdir, NULL, log_path, cfg.timeout_s, &pr, &e2)) {
            /* convert-ly exits 1 on rules it cannot apply but still writes what it
             * could; lilypond decides whether the result is usable */
            lec_corpus_log(log_path, "warning: %s: %s", files[i], e2.msg);
            convert_failed = 1;
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

    fix_include_case(files, texts, n_files, log_path);

    /* 3. engrave each main file */
    int n_mains = 0, n_scores_total = 0;
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
        lec_corpus_log(log_path, "$ lilypond %s --png %s -o %s %s", opt_inc, opt_res, prefix, sl + 1);
        lec_proc_result pr;
        lec_error e2;
        lec_status est = lec_proc_run(argv, fdir, envx, log_path, cfg.timeout_s, &pr, &e2);
        main_t *m = &mains[n_mains];
        if (est) {
            lec_corpus_log(log_path, "error: %s: %s", files[i], e2.msg);
            if (pr.timed_out) {
                snprintf(res->cause, sizeof res->cause, "lilypond-timeout");
                st = lec_error_set(err, LEC_EEXTERNAL, "%s: lilypond timed out after %.0f s",
                                   sl + 1, cfg.timeout_s);
                goto out;
            }
            /* lilypond exits 1 on errors it recovered from; use the output if
             * there is some, otherwise fail */
        }
        if (!is_file(tsv) || lec_corpus_annot_parse(tsv, &m->a, &e2) != LEC_OK || m->a.n_heads == 0) {
            if (!res->cause[0])
                snprintf(res->cause, sizeof res->cause, "%s",
                         !est                  ? "no-notes"
                         : pr.exit_code > 128  ? "lilypond-crash"
                         : convert_failed      ? "convert-ly"
                                               : "lilypond");
            st = lec_error_set(err, LEC_EEXTERNAL, "%s: %s", sl + 1,
                               est ? e2.msg : "no note heads engraved");
            lec_corpus_annot_free(&m->a);
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
            int lo = 1 << 30, hi = -(1 << 30);
            for (size_t j = 0; j < m->a.n_staves; j++)
                if (m->a.staves[j].book == bk) {
                    lo = m->a.staves[j].page_ly < lo ? m->a.staves[j].page_ly : lo;
                    hi = m->a.staves[j].page_ly > hi ? m->a.staves[j].page_ly : hi;
                }
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
            /* the first image is the book's first page, usually page 1 even
             * when it holds only a title; first-page-number may move it */
            int base = 1;
            if (lo != 1 << 30) {
                if (lo < base)
                    base = lo;
                if (hi - base + 1 > added)
                    base = hi - added + 1;
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
        if (m->n_pngs == 0 || !lec_corpus_png_size(m->pngs[0], &w, &h)) {
            /* lilypond that failed after the annotations were written */
            snprintf(res->cause, sizeof res->cause, "%s",
                     !est ? "pages" : pr.exit_code > 128 ? "lilypond-crash" : "lilypond");
            st = lec_error_set(err, LEC_EEXTERNAL, "%s: no page images", sl + 1);
            lec_corpus_annot_free(&m->a);
            continue;
        }
        m->scale = (double)w / m->a.paper_w;
        if ((st = lec_corpus_layout(&m->a, m->scale, &m->systems, &m->n_sys, err))) {
            lec_corpus_annot_free(&m->a);
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
            lec_status bst = lec_corpus_write_bundle(&cfg, &m->a, k, m->systems, m->n_sys, m->pngs,
                                          m->n_pngs, m->page_base, &meta, out_dir, name,
                                          log_path, res, &e2);
            if (bst) {
                lec_corpus_log(log_path, "error: bundle %s: %s", name, e2.msg);
                if (!first_err) {
                    first_err = bst;
                    keep = e2;
                }
            }
        }
    }
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
        lec_corpus_log(log_path, "warning: %d of %d movements built; first error: %s", res->n_bundles,
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
                    lec_corpus_rm_rf(path, NULL);
                }
            }
            closedir(d);
            if (n_scores_total > 1) {
                snprintf(path, sizeof path, "%s/%s", out_dir, id);
                if (is_dir(path))
                    lec_corpus_rm_rf(path, NULL);
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
        lec_corpus_annot_free(&mains[mi].a);
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
    if (!cfg.keep_work)
        lec_corpus_rm_rf(work, NULL);
    res->t_total_s = lec_now_s() - t_start;
    if (st)
        lec_corpus_log(log_path, "FAILED %s: %s: %s", id, res->cause, err ? err->msg : "");
    else
        lec_corpus_log(log_path, "OK %s: %d bundles in %.1f s", id, res->n_bundles, res->t_total_s);
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
