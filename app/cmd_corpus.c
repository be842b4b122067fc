/* lectern corpus build|check -- the corpus builder (models/corpus) and its
 * visual/coverage check of a bundle. */
#include <cairo.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "lec_corpus.h"
#include "lec_piece.h"
#include "lec_synth.h"
#include "lec_util.h"

static void usage_build(FILE *f)
{
    fprintf(f,
            "usage: lectern corpus build SRC... --out DIR [-j N] [--soundfont SF2]...\n"
            "         [--tempo F]... [--humanize] [--dpi N] [--timeout S] [--split train|valid]\n"
            "         [--no-audio] [--allow-eval-soundfont] [--keep-work]\n\n"
            "SRC: a piece directory of the mutopia tree, a .ly file, or the tree / its\n"
            "index.json (every piece; --split filters by suggested_split).\n"
            "Builds one bundle per printed \\score in DIR (resumable: finished pieces are\n"
            "skipped), logs per piece in DIR/.logs, results in DIR/.results.jsonl.\n"
            "Defaults: soundfonts FluidR3_GM.sf2 and TimGM6mb.sf2, tempo 1.0, 150 dpi,\n"
            "timeout 600 s per LilyPond run, -j 1.\n");
}

static void usage(FILE *f)
{
    usage_build(f);
    fprintf(f, "\nusage: lectern corpus check BUNDLE [--out DIR]\n"
               "Draws note-head boxes (red: has an onset, blue: tied, orange: no onset) and\n"
               "systems (green) on the pages, prints coverage figures.\n"
               "\nusage: lectern corpus stats DIR\n"
               "Figures of a build from DIR/.results.jsonl: pieces built, failures by cause,\n"
               "coverage of note heads with an onset (median over pieces), time.\n");
}

typedef struct {
    lec_corpus_result res;
    int status;
    char msg[512];
} wire_t;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static volatile sig_atomic_t g_stop = 0;
static void on_sigint(int s)
{
    (void)s;
    g_stop = 1;
}

static int cmd_build(int argc, char **argv)
{
    const char *srcs[4096];
    int n_src = 0;
    const char *out = NULL, *split = NULL;
    const char *sfs[32];
    int n_sf = 0;
    double tempos[32];
    int n_tempo = 0, jobs = 1;
    lec_corpus_config cfg;
    lec_corpus_config_default(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED()                                                           \
    do {                                                                 \
        if (!v) {                                                        \
            fprintf(stderr, "lectern corpus build: %s needs a value\n", a); \
            return 2;                                                    \
        }                                                                \
        i++;                                                             \
    } while (0)
        if (strcmp(a, "--out") == 0) {
            NEED();
            out = v;
        } else if (strcmp(a, "-j") == 0) {
            NEED();
            jobs = atoi(v);
        } else if (strncmp(a, "-j", 2) == 0 && a[2]) {
            jobs = atoi(a + 2);
        } else if (strcmp(a, "--soundfont") == 0) {
            NEED();
            if (n_sf < 32)
                sfs[n_sf++] = v;
        } else if (strcmp(a, "--tempo") == 0) {
            NEED();
            if (n_tempo < 32)
                tempos[n_tempo++] = atof(v);
        } else if (strcmp(a, "--humanize") == 0) {
            cfg.humanize = 1;
        } else if (strcmp(a, "--dpi") == 0) {
            NEED();
            cfg.dpi = atoi(v);
        } else if (strcmp(a, "--timeout") == 0) {
            NEED();
            cfg.timeout_s = atof(v);
        } else if (strcmp(a, "--split") == 0) {
            NEED();
            split = v;
        } else if (strcmp(a, "--no-audio") == 0) {
            cfg.audio = 0;
        } else if (strcmp(a, "--allow-eval-soundfont") == 0) {
            cfg.allow_eval_soundfont = 1;
        } else if (strcmp(a, "--keep-work") == 0) {
            cfg.keep_work = 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "lectern corpus build: unknown option %s\n", a);
            return 2;
        } else if (n_src < 4096) {
            srcs[n_src++] = a;
        }
    }
    if (!out || n_src == 0) {
        usage_build(stderr);
        return 2;
    }
    if (jobs < 1 || jobs > 64 || cfg.dpi < 30 || cfg.dpi > 1200 || cfg.timeout_s <= 0) {
        fprintf(stderr, "lectern corpus build: -j must be 1..64, --dpi 30..1200, --timeout > 0\n");
        return 2;
    }
    for (int t = 0; t < n_tempo; t++)
        if (!(tempos[t] >= 0.1 && tempos[t] <= 10)) {
            fprintf(stderr, "lectern corpus build: --tempo %g out of range 0.1..10\n", tempos[t]);
            return 2;
        }
    if (n_sf) {
        cfg.soundfonts = sfs;
        cfg.n_soundfonts = n_sf;
    }
    if (n_tempo) {
        cfg.tempos = tempos;
        cfg.n_tempos = n_tempo;
    }
    for (int s = 0; s < cfg.n_soundfonts; s++) {
        if (lec_synth_is_eval_soundfont(cfg.soundfonts[s]) && !cfg.allow_eval_soundfont) {
            fprintf(stderr,
                    "lectern corpus build: %s is reserved for unseen-sound evaluation; "
                    "use --allow-eval-soundfont only to build evaluation data\n",
                    cfg.soundfonts[s]);
            return 2;
        }
        if (cfg.audio && access(cfg.soundfonts[s], R_OK) != 0) {
            fprintf(stderr, "lectern corpus build: soundfont %s: %s\n", cfg.soundfonts[s],
                    strerror(errno));
            return 1;
        }
    }

    lec_error err;
    char path[4096];
    if (lec_mkdir_p(out, &err)) {
        fprintf(stderr, "lectern corpus build: %s\n", err.msg);
        return 1;
    }
    snprintf(path, sizeof path, "%s/.logs", out);
    lec_mkdir_p(path, NULL);

    lec_corpus_item *items = NULL;
    size_t n_items = 0;
    for (int s = 0; s < n_src; s++) {
        lec_corpus_item *it;
        size_t n;
        if (lec_corpus_list_sources(srcs[s], split, &it, &n, &err)) {
            fprintf(stderr, "lectern corpus build: %s\n", err.msg);
            free(items);
            return 1;
        }
        lec_corpus_item *ni = realloc(items, (n_items + n + 1) * sizeof *ni);
        if (!ni) {
            free(it);
            free(items);
            fprintf(stderr, "lectern corpus build: out of memory\n");
            return 1;
        }
        items = ni;
        memcpy(items + n_items, it, n * sizeof *it);
        n_items += n;
        free(it);
    }
    if (n_items == 0) {
        fprintf(stderr, "lectern corpus build: no pieces to build\n");
        free(items);
        return 1;
    }

    signal(SIGINT, on_sigint);
    double t0 = lec_now_s();
    lec_progress pg;
    lec_progress_begin(&pg, "corpus", (int64_t)n_items);
    pid_t *pids = calloc((size_t)jobs, sizeof *pids);
    int *fds = calloc((size_t)jobs, sizeof *fds);
    size_t *slot_item = calloc((size_t)jobs, sizeof *slot_item);
    double *cov = calloc(n_items, sizeof *cov);
    char (*causes)[32] = calloc(n_items, sizeof *causes);
    if (!pids || !fds || !slot_item || !cov || !causes) {
        fprintf(stderr, "lectern corpus build: out of memory\n");
        return 1;
    }
    snprintf(path, sizeof path, "%s/.results.jsonl", out);
    FILE *results = fopen(path, "a");
    size_t next = 0, done = 0, built = 0, skipped = 0, failed = 0, n_cov = 0, bundles = 0;
    int64_t heads_nt = 0, heads_on = 0, pn = 0, pn_head = 0;
    int running = 0;
    while ((next < n_items && !g_stop) || running > 0) {
        /* start workers */
        while (running < jobs && next < n_items && !g_stop) {
            int slot = 0;
            while (pids[slot])
                slot++;
            int fd[2];
            if (pipe(fd) != 0) {
                perror("pipe");
                g_stop = 1;
                break;
            }
            fflush(NULL);
            pid_t pid = fork();
            if (pid == 0) {
                close(fd[0]);
                signal(SIGINT, SIG_DFL);
                wire_t w;
                memset(&w, 0, sizeof w);
                lec_error e;
                lec_error_clear(&e);
                char logp[4096];
                snprintf(logp, sizeof logp, "%s/.logs/%s.log", out, items[next].id);
                w.status = lec_corpus_build_piece(&cfg, items[next].src, items[next].id, out, logp,
                                                  &w.res, &e);
                snprintf(w.msg, sizeof w.msg, "%s", w.status ? e.msg : "");
                ssize_t wr = write(fd[1], &w, sizeof w);
                (void)wr;
                close(fd[1]);
                _exit(0);
            }
            close(fd[1]);
            if (pid < 0) {
                perror("fork");
                close(fd[0]);
                g_stop = 1;
                break;
            }
            pids[slot] = pid;
            fds[slot] = fd[0];
            slot_item[slot] = next++;
            running++;
        }
        if (running == 0)
            break;
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        int slot = -1;
        for (int s = 0; s < jobs; s++)
            if (pids[s] == pid)
                slot = s;
        if (slot < 0)
            continue;
        wire_t w;
        memset(&w, 0, sizeof w);
        ssize_t got = read(fds[slot], &w, sizeof w);
        close(fds[slot]);
        pids[slot] = 0;
        running--;
        const lec_corpus_item *it = &items[slot_item[slot]];
        if (got != (ssize_t)sizeof w) {
            w.status = LEC_EEXTERNAL;
            snprintf(w.res.cause, sizeof w.res.cause, "crash");
            snprintf(w.msg, sizeof w.msg, "worker died (status %d)", status);
        }
        done++;
        if (w.res.skipped) {
            skipped++;
        } else if (w.status == LEC_OK) {
            built++;
            bundles += (size_t)w.res.n_bundles;
            heads_nt += w.res.heads_nontied;
            heads_on += w.res.heads_nontied_with_onset;
            pn += w.res.perf_notes;
            pn_head += w.res.perf_notes_with_head;
            if (w.res.heads_nontied > 0)
                cov[n_cov++] =
                    100.0 * (double)w.res.heads_nontied_with_onset / (double)w.res.heads_nontied;
        } else {
            failed++;
            snprintf(causes[failed - 1], 32, "%s", w.res.cause[0] ? w.res.cause : "other");
        }
        if (results && !w.res.skipped) {
            fprintf(results,
                    "{\"id\":\"%s\",\"ok\":%s,\"cause\":\"%s\",\"bundles\":%d,\"heads_nontied\":%lld,"
                    "\"heads_with_onset\":%lld,\"perf_notes\":%lld,\"perf_with_head\":%lld,"
                    "\"as_printed\":%d,"
                    "\"t_engrave_s\":%.2f,\"t_audio_s\":%.2f,\"t_total_s\":%.2f}\n",
                    it->id, w.status == LEC_OK ? "true" : "false", w.res.cause, w.res.n_bundles,
                    (long long)w.res.heads_nontied, (long long)w.res.heads_nontied_with_onset,
                    (long long)w.res.perf_notes, (long long)w.res.perf_notes_with_head,
                    w.res.n_as_printed,
                    w.res.t_engrave_s, w.res.t_audio_s, w.res.t_total_s);
            fflush(results);
        }
        if (w.status != LEC_OK && !w.res.skipped) {
            if (!pg.tty)
                fprintf(stderr, "failed: %s (%s): %s\n", it->id, w.res.cause, w.msg);
        }
        char extra[96];
        snprintf(extra, sizeof extra, "%zu built, %zu skipped, %zu failed", built, skipped, failed);
        lec_progress_update(&pg, (int64_t)done, extra);
    }
    lec_progress_end(&pg, NULL);
    if (results)
        fclose(results);

    double el = lec_now_s() - t0;
    printf("corpus build: %zu pieces: %zu built (%zu bundles), %zu already built, %zu failed, "
           "%.1f s\n",
           n_items, built, bundles, skipped, failed, el);
    if (failed) {
        /* failures by cause */
        printf("failed by cause:");
        for (size_t i = 0; i < failed; i++) {
            int seen = 0;
            for (size_t j = 0; j < i; j++)
                seen |= strcmp(causes[i], causes[j]) == 0;
            if (seen)
                continue;
            int c = 0;
            for (size_t j = 0; j < failed; j++)
                c += strcmp(causes[i], causes[j]) == 0;
            printf(" %s %d", causes[i], c);
        }
        printf("  (logs: %s/.logs/)\n", out);
    }
    if (n_cov) {
        qsort(cov, n_cov, sizeof *cov, cmp_double);
        double med = n_cov % 2 ? cov[n_cov / 2] : 0.5 * (cov[n_cov / 2 - 1] + cov[n_cov / 2]);
        printf("non-tied heads with an onset: %.2f%% overall, median over pieces %.2f%%; "
               "performed notes with a head: %.2f%%\n",
               heads_nt ? 100.0 * (double)heads_on / (double)heads_nt : 0.0, med,
               pn ? 100.0 * (double)pn_head / (double)pn : 0.0);
    }
    free(items);
    free(pids);
    free(fds);
    free(slot_item);
    free(cov);
    free(causes);
    if (g_stop) {
        fprintf(stderr, "interrupted: rerun the same command to resume\n");
        return 130;
    }
    return failed ? 1 : 0;
}

static int cmd_check(int argc, char **argv)
{
    const char *bundle = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "lectern corpus check: unknown option %s\n", argv[i]);
            return 2;
        } else
            bundle = argv[i];
    }
    if (!bundle) {
        usage(stderr);
        return 2;
    }
    lec_error err;
    lec_piece *p = lec_piece_load(bundle, &err);
    if (!p) {
        fprintf(stderr, "lectern corpus check: %s\n", err.msg);
        return 1;
    }
    size_t nh = lec_piece_n_heads(p), nn = lec_piece_n_notes(p);
    const lec_piece_head *h = lec_piece_heads(p);
    const lec_piece_note *notes = lec_piece_notes(p);
    char *has_onset = calloc(nh ? nh : 1, 1);
    size_t with_head = 0;
    for (size_t i = 0; i < nn; i++)
        if (notes[i].head >= 0) {
            has_onset[notes[i].head] = 1;
            with_head++;
        }
    size_t nontied = 0, nontied_on = 0, tied = 0;
    for (size_t i = 0; i < nh; i++) {
        if (h[i].tied) {
            tied++;
            continue;
        }
        nontied++;
        nontied_on += has_onset[i];
    }
    printf("%s: \"%s\" (%s), %zu pages, %zu systems, %zu heads (%zu tied), %zu performed notes "
           "in %zu events, %zu renderings\n",
           bundle, lec_piece_title(p), lec_piece_composer(p), lec_piece_n_pages(p),
           lec_piece_n_systems(p), nh, tied, nn, lec_piece_n_events(p), lec_piece_n_renderings(p));
    printf("non-tied heads with an onset: %zu / %zu = %.2f%%\n", nontied_on, nontied,
           nontied ? 100.0 * (double)nontied_on / (double)nontied : 0.0);
    printf("performed (MIDI) notes used (with a printed head): %zu / %zu = %.2f%%\n", with_head,
           nn, nn ? 100.0 * (double)with_head / (double)nn : 0.0);

    int rc = 0;
    if (out) {
        if (lec_mkdir_p(out, &err)) {
            fprintf(stderr, "lectern corpus check: %s\n", err.msg);
            rc = 1;
        }
        const lec_piece_page *pages = lec_piece_pages(p);
        const lec_piece_system *sys = lec_piece_systems(p);
        for (size_t pg = 0; pg < lec_piece_n_pages(p) && !rc; pg++) {
            char path[4096];
            lec_piece_path(p, pages[pg].image, path, sizeof path);
            cairo_surface_t *img = cairo_image_surface_create_from_png(path);
            if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
                fprintf(stderr, "lectern corpus check: %s: cannot load PNG\n", path);
                cairo_surface_destroy(img);
                rc = 1;
                break;
            }
            int w = cairo_image_surface_get_width(img), hh = cairo_image_surface_get_height(img);
            cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, hh);
            cairo_t *cr = cairo_create(s);
            cairo_set_source_rgb(cr, 1, 1, 1);
            cairo_paint(cr);
            cairo_set_source_surface(cr, img, 0, 0);
            cairo_paint(cr);
            cairo_set_line_width(cr, 1.5);
            for (size_t i = 0; i < lec_piece_n_systems(p); i++) {
                if ((size_t)sys[i].page != pg)
                    continue;
                cairo_set_source_rgb(cr, 0, 0.7, 0);
                const lec_box *b = &sys[i].box_notes;
                cairo_rectangle(cr, b->x0, b->y0, b->x1 - b->x0, b->y1 - b->y0);
                cairo_stroke(cr);
            }
            cairo_set_line_width(cr, 1.0);
            for (size_t i = 0; i < nh; i++) {
                if ((size_t)h[i].page != pg)
                    continue;
                if (h[i].tied)
                    cairo_set_source_rgb(cr, 0, 0, 1);
                else if (has_onset[i])
                    cairo_set_source_rgb(cr, 1, 0, 0);
                else
                    cairo_set_source_rgb(cr, 1, 0.5, 0);
                const lec_box *b = &h[i].box;
                cairo_rectangle(cr, b->x0, b->y0, b->x1 - b->x0, b->y1 - b->y0);
                cairo_stroke(cr);
            }
            cairo_destroy(cr);
            char op[4096];
            snprintf(op, sizeof op, "%s/check-page-%zu.png", out, pg + 1);
            if (cairo_surface_write_to_png(s, op) != CAIRO_STATUS_SUCCESS) {
                fprintf(stderr, "lectern corpus check: %s: cannot write\n", op);
                rc = 1;
            } else {
                printf("wrote %s\n", op);
            }
            cairo_surface_destroy(s);
            cairo_surface_destroy(img);
        }
    }
    free(has_onset);
    lec_piece_destroy(p);
    return rc;
}


/* lectern corpus stats DIR: figures over DIR/.results.jsonl, the latest
 * line of each piece (a rerun's line supersedes the earlier one). */
static int cmd_stats(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/.results.jsonl", argv[1]);
    char *text;
    size_t len;
    lec_error err;
    if (lec_read_file(path, 0, &text, &len, &err)) {
        fprintf(stderr, "lectern corpus stats: %s\n", err.msg);
        return 1;
    }
    size_t cap = 1024, n = 0;
    cJSON **rows = malloc(cap * sizeof *rows);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && rows; line = strtok_r(NULL, "\n", &save)) {
        cJSON *r = cJSON_Parse(line);
        cJSON *id = cJSON_GetObjectItem(r, "id");
        if (!cJSON_IsString(id)) {
            cJSON_Delete(r);
            continue;
        }
        size_t k = 0;
        while (k < n && strcmp(cJSON_GetObjectItem(rows[k], "id")->valuestring, id->valuestring))
            k++;
        if (k < n) {
            cJSON_Delete(rows[k]);
            rows[k] = r;
            continue;
        }
        if (n == cap) {
            cJSON **nr = realloc(rows, 2 * cap * sizeof *nr);
            if (!nr)
                break;
            rows = nr;
            cap *= 2;
        }
        rows[n++] = r;
    }
    free(text);
    size_t built = 0, bundles = 0, n_cov = 0;
    double *cov = calloc(n ? n : 1, sizeof *cov);
    double t_sum = 0, t_eng = 0, t_audio = 0, hn = 0, ho = 0, pn = 0, ph = 0;
    size_t as_printed = 0, as_printed_pieces = 0; /* absent in older rows: 0 */
    char causes[32][32];
    int cause_n[32], n_causes = 0;
    for (size_t i = 0; i < n && cov; i++) {
        cJSON *r = rows[i];
#define NUM(k) cJSON_GetNumberValue(cJSON_GetObjectItem(r, k))
        t_sum += NUM("t_total_s");
        t_eng += NUM("t_engrave_s");
        t_audio += NUM("t_audio_s");
        if (cJSON_IsTrue(cJSON_GetObjectItem(r, "ok"))) {
            built++;
            bundles += (size_t)NUM("bundles");
            hn += NUM("heads_nontied");
            ho += NUM("heads_with_onset");
            pn += NUM("perf_notes");
            ph += NUM("perf_with_head");
            if (cJSON_IsNumber(cJSON_GetObjectItem(r, "as_printed")) && NUM("as_printed") > 0) {
                as_printed += (size_t)NUM("as_printed");
                as_printed_pieces++;
            }
            if (NUM("heads_nontied") > 0)
                cov[n_cov++] = 100.0 * NUM("heads_with_onset") / NUM("heads_nontied");
        } else {
            const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(r, "cause"));
            c = c && c[0] ? c : "other";
            int k = 0;
            while (k < n_causes && strcmp(causes[k], c))
                k++;
            if (k == n_causes && n_causes < 32) {
                snprintf(causes[n_causes], 32, "%s", c);
                cause_n[n_causes++] = 0;
            }
            if (k < 32)
                cause_n[k]++;
        }
#undef NUM
    }
    printf("%zu pieces tried: %zu built (%.1f%%, %zu bundles), %zu failed\n", n, built,
           n ? 100.0 * (double)built / (double)n : 0.0, bundles, n - built);
    if (n_causes) {
        printf("failed by cause:");
        for (int k = 0; k < n_causes; k++)
            printf(" %s %d", causes[k], cause_n[k]);
        printf("\n");
    }
    if (n_cov) {
        qsort(cov, n_cov, sizeof *cov, cmp_double);
        double med = n_cov % 2 ? cov[n_cov / 2] : 0.5 * (cov[n_cov / 2 - 1] + cov[n_cov / 2]);
        size_t below = 0;
        for (size_t i = 0; i < n_cov; i++)
            below += cov[i] < 97.0;
        printf("non-tied heads with an onset: median over pieces %.2f%%, overall %.2f%%, "
               "minimum %.2f%%, %zu pieces below 97%%\n",
               med, hn ? 100.0 * ho / hn : 0.0, cov[0], below);
        printf("performed notes with a printed head: %.2f%%\n", pn ? 100.0 * ph / pn : 0.0);
    }
    if (as_printed)
        printf("played as printed (repeats not in every staff): %zu bundles of %zu pieces\n",
               as_printed, as_printed_pieces);
    printf("time summed over pieces (each on one worker): engraving %.0f s, audio %.0f s, "
           "total %.0f s (%.1f s a piece)\n",
           t_eng, t_audio, t_sum, n ? t_sum / (double)n : 0.0);
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(rows[i]);
    free(rows);
    free(cov);
    return 0;
}

int lec_cmd_corpus(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (lec_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "build") == 0)
        return cmd_build(argc - 1, argv + 1);
    if (strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "stats") == 0)
        return cmd_stats(argc - 1, argv + 1);
    fprintf(stderr, "lectern corpus: unknown subcommand '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
