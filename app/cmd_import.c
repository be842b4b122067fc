/* lectern import -- make a score (PDF or page images) followable: a bundle
 * with pages and staff systems (engine/import). `--evaluate` measures the
 * system detector against the corpus builder's LilyPond boxes. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "lec_import.h"
#include "lec_piece.h"
#include "lec_unroll.h"
#include "lec_util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lectern import SCORE.pdf | PAGE.png... --out BUNDLE [--dpi N] [--title T]\n"
            "         [--password P] [--check] [--check-out DIR] [--force] [--skip-empty]\n"
            "         [--max-skew DEG] [--no-clean]\n"
            "       lectern import --evaluate ROOT [--split train|valid] [--index INDEX.json]\n"
            "         [--limit N] [--variants LIST] [--dump DIR]\n"
            "       lectern import --twin BUNDLE... --out DIR [--variant V] [--check] [--force]\n"
            "         [--max-skew DEG] [--no-clean]\n\n"
            "Writes a piece bundle (models/corpus/README.md) the follower accepts: the pages\n"
            "(PDF pages rendered at --dpi, default 150; images as they are), deskewed when\n"
            "slightly rotated, and their staff systems; no note annotations.\n"
            "  --check        draw what was found into BUNDLE/check/page-N.png\n"
            "  --check-out D  ... into D instead\n"
            "  --force        replace an existing bundle at BUNDLE\n"
            "  --skip-empty   leave out pages without staves (a title page) instead of failing\n"
            "  --max-skew D   deskew search range in degrees (default 3, 0 = off)\n"
            "  --no-clean     write the pages as read (default: scan clean-up, i.e. divided by\n"
            "                 the paper's background, ink to black, paper noise to white)\n\n"
            "--evaluate: for every bundle under ROOT (the corpus builder's output), detect\n"
            "the systems of each page and compare with the bundle's boxes (IoU >= 0.8):\n"
            "precision/recall of systems and staves per variant. Variants (comma list, default\n"
            "all): clean1, clean0.667, clean1.333 (page resampled by that factor, e.g.\n"
            "150 -> 100 / 200 dpi), deg1, deg0.667, deg1.333 (plus scan-like degradation:\n"
            "rotation up to +-1.5 deg, blur, uneven contrast, noise; deterministic).\n"
            "--split keeps pieces of that suggested_split of INDEX (default\n"
            "../shared/corpus/mutopia-piano/index.json from /work/main). --dump writes the\n"
            "--check drawing of every page variant with a miss into DIR.\n\n"
            "--twin: the imported twin of each annotated BUNDLE (the corpus builder's) in\n"
            "DIR/<name>: its page images go through the import pipeline (altered by\n"
            "--variant V, one of the --evaluate variants, default clean1), and the bundle\n"
            "gets only the pages and systems found; the original's note heads (carried onto\n"
            "the detected systems), performance and renderings (files linked) are attached\n"
            "for scoring only, so `lectern eval DIR/*` measures the follower on what a\n"
            "musician's import gives. One line per bundle: systems detected vs original,\n"
            "heads kept (engine/import/README.md).\n");
}

static void basename_noext(const char *path, char *out, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, cap, "%s", b);
    char *dot = strrchr(out, '.');
    if (dot && dot != out)
        *dot = 0;
}

/* ------------------------------------------------------------ import */

static int run_import(const char **inputs, int n_in, const char *out, const char *title,
                      const lec_import_config *cfg, int check, const char *check_out, int force,
                      int skip_empty)
{
    lec_error err;
    char src[1024] = "", ttl[512];
    for (int i = 0; i < n_in; i++) {
        size_t l = strlen(src);
        snprintf(src + l, sizeof src - l, "%s%s", i ? " " : "", inputs[i]);
    }
    if (title)
        snprintf(ttl, sizeof ttl, "%s", title);
    else
        basename_noext(inputs[0], ttl, sizeof ttl);
    lec_import_writer *w = lec_import_writer_create(out, ttl, src, force, &err);
    if (!w) {
        fprintf(stderr, "lectern import: %s\n", err.msg);
        return 1;
    }
    char check_dir[4400] = "";
    if (check || check_out) {
        if (check_out)
            snprintf(check_dir, sizeof check_dir, "%s", check_out);
        else
            snprintf(check_dir, sizeof check_dir, "%s/check", lec_import_writer_tmp_dir(w));
        if (lec_mkdir_p(check_dir, &err) != LEC_OK) {
            fprintf(stderr, "lectern import: %s\n", err.msg);
            lec_import_writer_destroy(w);
            return 1;
        }
    }
    int page_no = 0, n_sys = 0, rc = 1;
    for (int i = 0; i < n_in; i++) {
        lec_import_doc *d = lec_import_doc_open(inputs[i], cfg, &err);
        if (!d) {
            fprintf(stderr, "lectern import: %s\n", err.msg);
            goto out;
        }
        int np = lec_import_doc_n_pages(d);
        for (int k = 0; k < np; k++) {
            lec_import_image img = {0};
            lec_import_result res = {0};
            char warn[1024];
            float dpi = 0;
            if (lec_import_doc_page(d, k, &img, &dpi, warn, sizeof warn, &err) != LEC_OK) {
                fprintf(stderr, "lectern import: %s\n", err.msg);
                lec_import_doc_destroy(d);
                goto out;
            }
            if (warn[0])
                fprintf(stderr, "lectern import: warning: %s\n", warn);
            if (lec_import_detect(&img, cfg, &res, &err) != LEC_OK) {
                fprintf(stderr, "lectern import: %s page %d: %s\n", inputs[i], k + 1, err.msg);
                lec_import_image_free(&img);
                lec_import_doc_destroy(d);
                goto out;
            }
            if (res.n_systems == 0) {
                if (!skip_empty) {
                    fprintf(stderr,
                            "lectern import: %s: no staff systems found on page %d (use "
                            "--skip-empty to leave such pages out)\n",
                            inputs[i], k + 1);
                    lec_import_result_free(&res);
                    lec_import_image_free(&img);
                    lec_import_doc_destroy(d);
                    goto out;
                }
                fprintf(stderr, "lectern import: %s: no staff systems found on page %d: skipped\n",
                        inputs[i], k + 1);
            } else {
                if ((cfg->clean_page && lec_import_clean_page(&img, &err) != LEC_OK) ||
                    lec_import_writer_add_page(w, &img, &res, dpi, &err) != LEC_OK) {
                    fprintf(stderr, "lectern import: %s\n", err.msg);
                    lec_import_result_free(&res);
                    lec_import_image_free(&img);
                    lec_import_doc_destroy(d);
                    goto out;
                }
                page_no++;
                printf("page %d (%s p.%d): %dx%d px, %zu systems, %zu staves, staff space %.1f "
                       "px, skew %.2f deg\n",
                       page_no, inputs[i], k + 1, img.width_px, img.height_px, res.n_systems,
                       res.n_staves, res.staff_space_px, res.skew_deg);
                if (check_dir[0]) {
                    char path[4600];
                    snprintf(path, sizeof path, "%s/page-%d.png", check_dir, page_no);
                    if (lec_import_draw_check(path, &img, &res, n_sys, &err) != LEC_OK) {
                        fprintf(stderr, "lectern import: %s\n", err.msg);
                        lec_import_result_free(&res);
                        lec_import_image_free(&img);
                        lec_import_doc_destroy(d);
                        goto out;
                    }
                }
                n_sys += (int)res.n_systems;
            }
            lec_import_result_free(&res);
            lec_import_image_free(&img);
        }
        lec_import_doc_destroy(d);
    }
    if (lec_import_writer_commit(w, &err) != LEC_OK) {
        fprintf(stderr, "lectern import: %s\n", err.msg);
        goto out;
    }
    /* the follower's reader must accept what we wrote */
    lec_piece *p = lec_piece_load(out, &err);
    if (!p) {
        fprintf(stderr, "lectern import: the bundle written does not load: %s\n", err.msg);
        goto out;
    }
    lec_unroll_config ucfg;
    lec_unroll_config_default(&ucfg);
    lec_unroll *u = lec_unroll_create(p, &ucfg, &err);
    lec_piece_destroy(p);
    if (!u) {
        fprintf(stderr, "lectern import: the bundle written does not unroll: %s\n", err.msg);
        goto out;
    }
    printf("wrote %s: %d pages, %d systems (unrolled strip %d px wide)\n", out, page_no, n_sys,
           lec_unroll_width_px(u));
    lec_unroll_destroy(u);
    if (check_dir[0]) {
        if (check_out)
            printf("check drawings: %s/page-*.png\n", check_out);
        else
            printf("check drawings: %s/check/page-*.png\n", out);
    }
    rc = 0;
out:
    lec_import_writer_destroy(w);
    return rc;
}

/* ------------------------------------------------------------ evaluate */

typedef struct variant {
    const lec_import_variant *v; /* scale, degradation, seed id (lec_import.h) */
    const char *name;
    /* counts */
    long pages, sys_truth, sys_found, sys_tp, st_truth, st_found, st_tp, pages_exact;
    double skew_err_sum;
    long skew_n;
} variant;

static int load_split_map(const char *index, cJSON **out)
{
    char *text;
    size_t len;
    lec_error err;
    if (lec_read_file(index, 0, &text, &len, &err) != LEC_OK) {
        fprintf(stderr, "lectern import: %s\n", err.msg);
        return 0;
    }
    *out = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsArray(*out)) {
        fprintf(stderr, "lectern import: %s: not a JSON array of pieces\n", index);
        cJSON_Delete(*out);
        *out = NULL;
        return 0;
    }
    return 1;
}

/* suggested_split of the piece whose dir is source_path minus "mutopia-piano/" */
static const char *split_of(const cJSON *index, const char *bundle_dir)
{
    char pj[4200];
    snprintf(pj, sizeof pj, "%s/piece.json", bundle_dir);
    char *text;
    size_t len;
    if (lec_read_file(pj, 0, &text, &len, NULL) != LEC_OK)
        return NULL;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const char *res = NULL;
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(root, "source_path");
    if (cJSON_IsString(sp)) {
        const char *s = sp->valuestring;
        const char *slash = strchr(s, '/');
        const char *dir = slash ? slash + 1 : s;
        const cJSON *e;
        cJSON_ArrayForEach(e, index)
        {
            const cJSON *dd = cJSON_GetObjectItemCaseSensitive(e, "dir");
            const cJSON *ss = cJSON_GetObjectItemCaseSensitive(e, "suggested_split");
            if (cJSON_IsString(dd) && cJSON_IsString(ss) && strcmp(dd->valuestring, dir) == 0) {
                res = ss->valuestring;
                break;
            }
        }
    }
    cJSON_Delete(root);
    return res;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The movements of one source (<id>__mov1, <id>__mov2...) are separate
 * bundles that share the pages where one movement ends and the next starts,
 * each with only its own systems. Such a page is evaluated once, against
 * the union of the systems of every bundle that has it. Key: the source id
 * and a hash of the page image file. */
typedef struct page_key {
    uint64_t key;
    size_t piece, page;
} page_key;

static uint64_t file_hash(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint64_t h = 1469598103934665603ull;
    if (!f)
        return h;
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 0x100000001B3ull;
    fclose(f);
    return h;
}

static const char *piece_name(const lec_piece *p)
{
    const char *s = strrchr(lec_piece_dir(p), '/');
    return s ? s + 1 : lec_piece_dir(p);
}

static int run_evaluate(const char *root, const char *split, const char *index_path, int limit,
                        const char *variants_arg, const char *dump, const lec_import_config *cfg)
{
    int nall = 0;
    const lec_import_variant *all = lec_import_variants(&nall);
    variant vs[8];
    int nv = 0;
    for (int i = 0; i < nall && nv < 8; i++) {
        if (variants_arg) {
            /* exact item match in the comma list */
            const char *p = variants_arg;
            int found = 0;
            size_t l = strlen(all[i].name);
            while (p && *p) {
                const char *c = strchr(p, ',');
                size_t il = c ? (size_t)(c - p) : strlen(p);
                if (il == l && strncmp(p, all[i].name, l) == 0)
                    found = 1;
                p = c ? c + 1 : NULL;
            }
            if (!found)
                continue;
        }
        memset(&vs[nv], 0, sizeof vs[nv]);
        vs[nv].v = &all[i];
        vs[nv++].name = all[i].name;
    }
    if (nv == 0) {
        fprintf(stderr, "lectern import: --variants %s names none of clean1, clean0.667, "
                        "clean1.333, deg1, deg0.667, deg1.333\n", variants_arg);
        return 2;
    }
    cJSON *index = NULL;
    if (split && !load_split_map(index_path, &index))
        return 1;
    DIR *dh = opendir(root);
    if (!dh) {
        fprintf(stderr, "lectern import: %s: cannot open directory\n", root);
        cJSON_Delete(index);
        return 1;
    }
    char **names = NULL;
    size_t nn = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        if (de->d_name[0] == '.')
            continue;
        char pj[4400];
        snprintf(pj, sizeof pj, "%s/%s/piece.json", root, de->d_name);
        struct stat sb;
        if (stat(pj, &sb) != 0)
            continue;
        if (nn == cap) {
            cap = cap ? 2 * cap : 64;
            char **nnames = realloc(names, cap * sizeof *names);
            if (!nnames)
                break;
            names = nnames;
        }
        names[nn++] = strdup(de->d_name);
    }
    closedir(dh);
    qsort(names, nn, sizeof *names, cmp_str);
    if (dump) {
        lec_error e;
        if (lec_mkdir_p(dump, &e) != LEC_OK) {
            fprintf(stderr, "lectern import: %s\n", e.msg);
            dump = NULL;
        }
    }

    /* pieces to use */
    lec_piece **pieces = calloc(nn ? nn : 1, sizeof *pieces);
    size_t np = 0, total_pages = 0;
    for (size_t i = 0; i < nn && (limit <= 0 || (int)np < limit); i++) {
        char dir[4400];
        snprintf(dir, sizeof dir, "%s/%s", root, names[i]);
        if (split) {
            const char *s = split_of(index, dir);
            if (!s || strcmp(s, split) != 0)
                continue;
        }
        lec_error e;
        lec_piece *p = lec_piece_load(dir, &e);
        if (!p) {
            fprintf(stderr, "lectern import: skipping %s: %s\n", names[i], e.msg);
            continue;
        }
        pieces[np++] = p;
        total_pages += lec_piece_n_pages(p);
    }
    printf("evaluating %zu bundles, %zu pages, %d variants (root %s%s%s)\n", np, total_pages, nv,
           root, split ? ", split " : "", split ? split : "");
    page_key *keys = calloc(total_pages ? total_pages : 1, sizeof *keys);
    size_t nk = 0;
    if (!keys)
        np = 0; /* out of memory: evaluate nothing (reported below) */
    for (size_t pi = 0; keys && pi < np; pi++) {
        const char *name = piece_name(pieces[pi]);
        const char *mov = strstr(name, "__mov");
        uint64_t idh = 1469598103934665603ull;
        for (const char *c = name; *c && c != mov; c++)
            idh = (idh ^ (uint8_t)*c) * 0x100000001B3ull;
        for (size_t g = 0; g < lec_piece_n_pages(pieces[pi]); g++) {
            char path[4400];
            lec_piece_path(pieces[pi], lec_piece_pages(pieces[pi])[g].image, path, sizeof path);
            /* only movements can share pages: others get a unique key */
            keys[nk].key = mov ? idh ^ (file_hash(path) * 31) : idh ^ (uint64_t)(pi << 20 | g);
            keys[nk].piece = pi;
            keys[nk].page = g;
            nk++;
        }
    }
    lec_progress pg;
    lec_progress_begin(&pg, "evaluate", (int64_t)(total_pages * (size_t)nv));
    int64_t done = 0;
    int rc = 0;
    for (size_t pi = 0; pi < np && rc == 0; pi++) {
        lec_piece *p = pieces[pi];
        const lec_piece_page *pages = lec_piece_pages(p);
        const char *pname = strrchr(lec_piece_dir(p), '/');
        pname = pname ? pname + 1 : lec_piece_dir(p);
        for (size_t g = 0; g < lec_piece_n_pages(p) && rc == 0; g++) {
            /* a page shared with an earlier movement bundle was done there */
            size_t me = 0;
            while (me < nk && !(keys[me].piece == pi && keys[me].page == g))
                me++;
            int seen = 0;
            for (size_t q = 0; q < me && q < nk; q++)
                seen |= keys[q].key == keys[me].key;
            if (seen) {
                done += nv;
                lec_progress_update(&pg, done, NULL);
                continue;
            }
            char path[4400];
            lec_piece_path(p, pages[g].image, path, sizeof path);
            lec_error e;
            lec_import_doc *d = lec_import_doc_open(path, cfg, &e);
            lec_import_image page = {0};
            if (!d || lec_import_doc_page(d, 0, &page, NULL, NULL, 0, &e) != LEC_OK) {
                fprintf(stderr, "lectern import: %s\n", e.msg);
                lec_import_doc_destroy(d);
                rc = 1;
                break;
            }
            lec_import_doc_destroy(d);
            /* reference boxes of this page */
            lec_box tsys[256], tst[1024];
            int nts = 0, ntst = 0;
            for (size_t q = me; q < nk; q++) {
                if (keys[q].key != keys[me].key)
                    continue;
                const lec_piece *pq = pieces[keys[q].piece];
                const lec_piece_system *sq = lec_piece_systems(pq);
                const lec_piece_staff *tq = lec_piece_staves(pq);
                for (size_t s = 0; s < lec_piece_n_systems(pq); s++) {
                    if ((size_t)sq[s].page != keys[q].page)
                        continue;
                    if (nts < 256)
                        tsys[nts++] = sq[s].box;
                    for (int j = 0; j < sq[s].n_staves && ntst < 1024; j++)
                        tst[ntst++] = tq[sq[s].first_staff + j].box;
                }
            }
            for (int v = 0; v < nv && rc == 0; v++) {
                variant *V = &vs[v];
                lec_import_image img = {0};
                /* a working copy (scale 1 copies exactly): the variant replaces it */
                if (lec_import_image_resample(&page, 1.0, &img, &e) != LEC_OK) {
                    fprintf(stderr, "lectern import: %s\n", e.msg);
                    rc = 1;
                    break;
                }
                double rot = 0;
                if (lec_import_variant_apply(&img, V->v, lec_import_variant_seed(pname, g, V->v),
                                             &rot, &e) != LEC_OK) {
                    fprintf(stderr, "lectern import: %s\n", e.msg);
                    lec_import_image_free(&img);
                    rc = 1;
                    break;
                }
                double fx = (double)img.width_px / page.width_px;
                double fy = (double)img.height_px / page.height_px;
                lec_import_result res = {0};
                if (lec_import_detect(&img, cfg, &res, &e) != LEC_OK) {
                    fprintf(stderr, "lectern import: %s page %zu: %s\n", pname, g + 1, e.msg);
                    lec_import_image_free(&img);
                    rc = 1;
                    break;
                }
                /* the reference boxes at this resolution; a rotated page is
                 * rotated back about the same centre by the detector, so its
                 * boxes are compared unrotated */
                lec_box ts[256], tt[1024], fs[256], ft[1024];
                for (int k = 0; k < nts; k++)
                    ts[k] = (lec_box){(float)(tsys[k].x0 * fx), (float)(tsys[k].y0 * fy),
                                      (float)(tsys[k].x1 * fx), (float)(tsys[k].y1 * fy)};
                for (int k = 0; k < ntst; k++)
                    tt[k] = (lec_box){(float)(tst[k].x0 * fx), (float)(tst[k].y0 * fy),
                                      (float)(tst[k].x1 * fx), (float)(tst[k].y1 * fy)};
                int nfs = 0, nft = 0;
                for (size_t k = 0; k < res.n_systems && nfs < 256; k++)
                    fs[nfs++] = res.systems[k].box;
                for (size_t k = 0; k < res.n_staves && nft < 1024; k++)
                    ft[nft++] = res.staves[k].box;
                int tps = lec_import_match(ts, nts, fs, nfs, 0.8);
                int tpt = lec_import_match(tt, ntst, ft, nft, 0.8);
                V->pages++;
                V->sys_truth += nts;
                V->sys_found += nfs;
                V->sys_tp += tps;
                V->st_truth += ntst;
                V->st_found += nft;
                V->st_tp += tpt;
                V->pages_exact += (tps == nts && nfs == nts);
                if (V->v->degrade) {
                    V->skew_err_sum += fabs(res.skew_deg - rot);
                    V->skew_n++;
                }
                if (tps != nts || nfs != nts) {
                    fprintf(stderr, "\nmiss: %s page %zu %s: %d reference systems, %d found, %d matched (rot %.2f, skew %.2f)\n",
                            pname, g + 1, V->name, nts, nfs, tps, rot, res.skew_deg);
                    if (dump) {
                        char dp[4600];
                        snprintf(dp, sizeof dp, "%s/%s-p%zu-%s.png", dump, pname, g + 1, V->name);
                        if (lec_import_draw_check(dp, &img, &res, 0, &e) != LEC_OK)
                            fprintf(stderr, "lectern import: %s\n", e.msg);
                    }
                }
                lec_import_result_free(&res);
                lec_import_image_free(&img);
                lec_progress_update(&pg, ++done, V->name);
            }
            lec_import_image_free(&page);
        }
    }
    lec_progress_end(&pg, NULL);
    if (rc == 0) {
        printf("\n| variant | pages | systems ref | found | precision | recall | pages exact "
               "| staves ref | precision | recall | skew error (deg) |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (int v = 0; v < nv; v++) {
            variant *V = &vs[v];
            char sk[32] = "-";
            if (V->skew_n)
                snprintf(sk, sizeof sk, "%.3f", V->skew_err_sum / V->skew_n);
            printf("| %s | %ld | %ld | %ld | %.2f%% | %.2f%% | %.1f%% | %ld | %.2f%% | %.2f%% | %s "
                   "|\n",
                   V->name, V->pages, V->sys_truth, V->sys_found,
                   V->sys_found ? 100.0 * V->sys_tp / V->sys_found : 0.0,
                   V->sys_truth ? 100.0 * V->sys_tp / V->sys_truth : 0.0,
                   V->pages ? 100.0 * V->pages_exact / V->pages : 0.0, V->st_truth,
                   V->st_found ? 100.0 * V->st_tp / V->st_found : 0.0,
                   V->st_truth ? 100.0 * V->st_tp / V->st_truth : 0.0, sk);
        }
    }
    free(keys);
    for (size_t i = 0; i < np; i++)
        lec_piece_destroy(pieces[i]);
    free(pieces);
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    cJSON_Delete(index);
    return rc;
}

/* ------------------------------------------------------------ twins */

static int run_twin(const char **bundles, int n, const char *out, const char *variant,
                    const lec_import_config *cfg, int check, int force)
{
    const lec_import_variant *v = lec_import_variant_find(variant);
    if (!v) {
        int nv = 0;
        const lec_import_variant *all = lec_import_variants(&nv);
        char names[256] = "";
        for (int i = 0; i < nv; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     all[i].name);
        fprintf(stderr, "lectern import: --variant %s: expected one of %s\n", variant, names);
        return 2;
    }
    lec_error err;
    if (lec_mkdir_p(out, &err) != LEC_OK) {
        fprintf(stderr, "lectern import: %s\n", err.msg);
        return 1;
    }
    int failed = 0;
    lec_import_twin_stats tot;
    memset(&tot, 0, sizeof tot);
    printf("%-52s %5s %13s %8s %13s %7s %7s %9s\n", "bundle", "pages", "systems found",
           "matched", "heads kept", "no sys", "outside", "skew err");
    lec_progress pg;
    lec_progress_begin(&pg, "twins", n);
    for (int i = 0; i < n; i++) {
        lec_progress_update(&pg, i, NULL);
        char name[1024], dir[4400];
        snprintf(name, sizeof name, "%s", bundles[i]);
        size_t l = strlen(name);
        while (l > 1 && name[l - 1] == '/')
            name[--l] = 0;
        const char *b = strrchr(name, '/');
        b = b ? b + 1 : name;
        snprintf(dir, sizeof dir, "%s/%s", out, b);
        lec_import_twin_stats s;
        if (lec_import_twin(bundles[i], dir, v, cfg, force, check, &s, &err) != LEC_OK) {
            fprintf(stderr, "lectern import: twin of %s: %s\n", bundles[i], err.msg);
            failed++;
            continue;
        }
        char sys[32], heads[32];
        snprintf(sys, sizeof sys, "%d / %d", s.systems, s.systems_original);
        snprintf(heads, sizeof heads, "%ld / %ld", s.heads_kept, s.heads);
        printf("%-52.52s %5d %13s %8d %13s %7ld %7ld %9.3f\n", b, s.pages, sys,
               s.systems_matched, heads, s.heads_no_system, s.heads_outside,
               s.max_residual_rot_deg);
        tot.pages += s.pages;
        tot.systems += s.systems;
        tot.systems_original += s.systems_original;
        tot.systems_matched += s.systems_matched;
        tot.heads += s.heads;
        tot.heads_kept += s.heads_kept;
        tot.heads_no_system += s.heads_no_system;
        tot.heads_outside += s.heads_outside;
        tot.notes_scored += s.notes_scored;
        tot.notes_scored_original += s.notes_scored_original;
        if (s.max_residual_rot_deg > tot.max_residual_rot_deg)
            tot.max_residual_rot_deg = s.max_residual_rot_deg;
        fflush(stdout);
    }
    lec_progress_end(&pg, NULL);
    if (n - failed > 1 || failed) {
        char sys[32], heads[32];
        snprintf(sys, sizeof sys, "%d / %d", tot.systems, tot.systems_original);
        snprintf(heads, sizeof heads, "%ld / %ld", tot.heads_kept, tot.heads);
        printf("%-52s %5d %13s %8d %13s %7ld %7ld %9.3f\n", "TOTAL", tot.pages, sys,
               tot.systems_matched, heads, tot.heads_no_system, tot.heads_outside,
               tot.max_residual_rot_deg);
    }
    printf("variant %s: %d twin%s written to %s; performed notes scored %ld of %ld (%.2f%%)\n",
           v->name, n - failed, n - failed == 1 ? "" : "s", out, tot.notes_scored,
           tot.notes_scored_original,
           tot.notes_scored_original ? 100.0 * tot.notes_scored / tot.notes_scored_original : 0.0);
    if (failed)
        fprintf(stderr, "lectern import: %d of %d twins failed\n", failed, n);
    return failed ? 1 : 0;
}

/* ------------------------------------------------------------ main */

int lec_cmd_import(int argc, char **argv)
{
    if (lec_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *inputs[1024];
    int n_in = 0, check = 0, force = 0, skip_empty = 0, limit = 0;
    const char *out = NULL, *title = NULL, *check_out = NULL, *evaluate = NULL, *split = NULL;
    const char *index = "../shared/corpus/mutopia-piano/index.json", *variants = NULL,
               *dump = NULL, *variant = NULL;
    int twin = 0;
    lec_import_config cfg;
    lec_import_config_default(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED()                                                             \
    do {                                                                   \
        if (!v) {                                                          \
            fprintf(stderr, "lectern import: %s needs a value\n", a);      \
            return 2;                                                      \
        }                                                                  \
        i++;                                                               \
    } while (0)
        if (strcmp(a, "--out") == 0 || strcmp(a, "-o") == 0) {
            NEED();
            out = v;
        } else if (strcmp(a, "--dpi") == 0) {
            NEED();
            char *e;
            cfg.dpi = strtof(v, &e);
            if (*e || !(cfg.dpi >= 10 && cfg.dpi <= 1200)) {
                fprintf(stderr, "lectern import: --dpi %s: expected a number in [10, 1200]\n", v);
                return 2;
            }
        } else if (strcmp(a, "--max-skew") == 0) {
            NEED();
            char *e;
            cfg.max_skew_deg = strtof(v, &e);
            if (*e || !(cfg.max_skew_deg >= 0 && cfg.max_skew_deg <= 10)) {
                fprintf(stderr, "lectern import: --max-skew %s: expected degrees in [0, 10]\n", v);
                return 2;
            }
        } else if (strcmp(a, "--title") == 0) {
            NEED();
            title = v;
        } else if (strcmp(a, "--password") == 0) {
            NEED();
            cfg.password = v;
        } else if (strcmp(a, "--check") == 0) {
            check = 1;
        } else if (strcmp(a, "--check-out") == 0) {
            NEED();
            check_out = v;
        } else if (strcmp(a, "--force") == 0) {
            force = 1;
        } else if (strcmp(a, "--skip-empty") == 0) {
            skip_empty = 1;
        } else if (strcmp(a, "--no-clean") == 0) {
            cfg.clean_page = 0;
        } else if (strcmp(a, "--twin") == 0) {
            twin = 1;
        } else if (strcmp(a, "--variant") == 0) {
            NEED();
            variant = v;
        } else if (strcmp(a, "--evaluate") == 0) {
            NEED();
            evaluate = v;
        } else if (strcmp(a, "--split") == 0) {
            NEED();
            split = v;
        } else if (strcmp(a, "--index") == 0) {
            NEED();
            index = v;
        } else if (strcmp(a, "--variants") == 0) {
            NEED();
            variants = v;
        } else if (strcmp(a, "--dump") == 0) {
            NEED();
            dump = v;
        } else if (strcmp(a, "--limit") == 0) {
            NEED();
            limit = atoi(v);
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "lectern import: unknown option %s\n\n", a);
            usage(stderr);
            return 2;
        } else {
            if (n_in == (int)(sizeof inputs / sizeof inputs[0])) {
                fprintf(stderr, "lectern import: too many inputs\n");
                return 2;
            }
            inputs[n_in++] = a;
        }
#undef NEED
    }
    if (twin) {
        if (evaluate || check_out || n_in == 0 || !out) {
            fprintf(stderr, "lectern import: --twin needs bundles and --out DIR (and neither "
                            "--evaluate nor --check-out: --check draws into each twin)\n");
            return 2;
        }
        return run_twin(inputs, n_in, out, variant ? variant : "clean1", &cfg, check, force);
    }
    if (variant) {
        fprintf(stderr, "lectern import: --variant goes with --twin (--evaluate takes "
                        "--variants LIST)\n");
        return 2;
    }
    if (evaluate) {
        if (n_in || out) {
            fprintf(stderr, "lectern import: --evaluate takes no inputs and no --out\n");
            return 2;
        }
        return run_evaluate(evaluate, split, index, limit, variants, dump, &cfg);
    }
    if (n_in == 0 || !out) {
        fprintf(stderr, "lectern import: %s\n\n", n_in ? "--out BUNDLE is required"
                                                       : "no input (a PDF or page images)");
        usage(stderr);
        return 2;
    }
    return run_import(inputs, n_in, out, title, &cfg, check, check_out, force, skip_empty);
}
