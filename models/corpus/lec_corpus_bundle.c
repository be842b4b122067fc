/* lec_corpus_bundle.c -- write one bundle: pages, systems, heads, the
 * performance order (repeats unfolded, ties merged, graces before the beat),
 * the reference MIDI and the renderings with their ground truth. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lec_perform.h"
#include "lec_piece.h"
#include "lec_synth.h"
#include "lec_util.h"
#include "lec_corpus_internal.h"

/* ------------------------------------------------------ bundle writing */

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

/* A box [x0, y0, x1, y1] clipped to a w x h page. */
static void clip_box(double *b, int w, int h)
{
    for (int i = 0; i < 4; i++) {
        const double hi = i % 2 ? h : w;
        b[i] = b[i] < 0 ? 0 : (b[i] > hi ? hi : b[i]);
    }
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

/* exact compare of two rationals read from the file (d > 0; products in
 * 128 bits: the numbers are the file's, not trusted to be small) */
static int rat_cmp(int64_t an, int64_t ad, int64_t bn, int64_t bd)
{
    __int128 x = (__int128)an * bd, y = (__int128)bn * ad;
    return (x > y) - (x < y);
}

/* staff (1 = top of its system) of the head with id `id`, 0 if unknown */
static int staff_of_id(const annot_t *a, long id)
{
    for (size_t i = 0; id >= 0 && i < a->n_heads; i++)
        if (a->heads[i].id == id && a->heads[i].staff >= 0)
            return a->heads[i].staff + 1;
    return 0;
}

/* Were all voices of score k unfolded alike? Some sources write a volta
 * repeat in one staff only and the other staff straight through at the
 * printed length (the engraving lays both against the same bars); unfolding
 * then repeats one hand only and the hands drift apart. The unfolded twin
 * (tag "k") and the as-printed twin (tag "pk", present when unfolding
 * changes the length) log every voice's end; voices matched by creation
 * order among those that start at 0. Any map from printed to performed time
 * sends one printed moment to one performed moment, so voices that end
 * together as printed must end together unfolded. Returns 1 (and why) if
 * they do not: the score must be played as printed. */
static int repeats_mismatch(const annot_t *a, int k, const char *log_path, char *why, size_t cap)
{
    char ut[16], pt[16];
    snprintf(ut, sizeof ut, "%d", k);
    snprintf(pt, sizeof pt, "p%d", k);
    const vend_t *pv[64], *uv[64];
    int n = 0;
    for (size_t i = 0; i < a->n_vends; i++) {
        const vend_t *p = &a->vends[i];
        if (strcmp(p->tag, pt) != 0 || p->n_notes <= 0 || p->sn != 0)
            continue;
        const vend_t *u = NULL;
        for (size_t j = 0; j < a->n_vends && !u; j++)
            if (strcmp(a->vends[j].tag, ut) == 0 && a->vends[j].ordinal == p->ordinal)
                u = &a->vends[j];
        if (!u || u->sn != 0 || strcmp(u->ctx, p->ctx) != 0 || u->n_notes < p->n_notes) {
            lec_corpus_log(log_path,
                           "warning: score %d: repeat check skipped: voice %d (%s) of the as-printed "
                           "twin has no counterpart in the unfolded one",
                           k + 1, p->ordinal, p->ctx);
            return 0;
        }
        if (n == 64)
            break;
        pv[n] = p;
        uv[n++] = u;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (rat_cmp(pv[i]->en, pv[i]->ed, pv[j]->en, pv[j]->ed) != 0 ||
                rat_cmp(uv[i]->en, uv[i]->ed, uv[j]->en, uv[j]->ed) <= 0)
                continue;
            /* i (with repeats) outlasts j (written out) */
            const vend_t *vi = uv[i], *vj = uv[j];
            int si = staff_of_id(a, vi->first_id), sj = staff_of_id(a, vj->first_id);
            /* j may have repeats too, structured differently (e.g. a repeat
             * starting a bar later in one staff) */
            int j_folds = rat_cmp(vj->en, vj->ed, pv[j]->en, pv[j]->ed) > 0;
            char who[160], ends[160];
            if (si != sj && !j_folds)
                snprintf(who, sizeof who, "repeats in staff %d only, staff %d written out", si, sj);
            else if (si != sj)
                snprintf(who, sizeof who, "repeats differ between staff %d and staff %d", si, sj);
            else if (!j_folds)
                snprintf(who, sizeof who, "repeats in voice %s of staff %d only, voice %s written out",
                         vi->ctx, si, vj->ctx);
            else
                snprintf(who, sizeof who, "repeats differ between voices %s and %s of staff %d",
                         vi->ctx, vj->ctx, si);
            if (si != sj && strcmp(vi->ctx, "-") != 0 && strcmp(vj->ctx, "-") != 0)
                snprintf(ends, sizeof ends, "voices %s and %s", vi->ctx, vj->ctx);
            else
                snprintf(ends, sizeof ends, "their voices");
            snprintf(why, cap,
                     "%s (%s end together as printed, at %g wn, but at %g and %g wn "
                     "unfolded); played as printed",
                     who, ends, rat(pv[i]->en, pv[i]->ed), rat(vi->en, vi->ed), rat(vj->en, vj->ed));
            return 1;
        }
    return 0;
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
                lec_corpus_log(log_path, "fluidsynth log:\n%s", lec_synth_log(syn));
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
            char seed[24];
            snprintf(seed, sizeof seed, "%016llx", (unsigned long long)pcfg.seed);
            cJSON_AddStringToObject(r, "seed", seed); /* 64 bits: JSON numbers keep 53 */
            cJSON_AddNumberToObject(r, "sample_rate_hz", scfg.sample_rate_hz);
            cJSON_AddNumberToObject(r, "duration_s", r6(info.duration_s));
            cJSON_AddItemToArray(renderings, r);
            lec_corpus_log(log_path, "rendered %s/%s: %.1f s audio in %.1f s", name, rname,
                  info.duration_s, info.render_s);
        }
        lec_synth_destroy(syn);
    }
    return LEC_OK;
}

/* Write the bundle of printed score k to out_dir/name (atomically). */
lec_status lec_corpus_write_bundle(const lec_corpus_config *cfg, annot_t *a, int k, sys_t *systems,
                               size_t n_sys, char **pngs, int n_pngs, int page_base,
                               const meta_t *meta, const char *out_dir, const char *name,
                               const char *log_path, lec_corpus_result *res, lec_error *err)
{
    lec_status st = LEC_OK;
    char tmp[4096], final_dir[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s/.tmp-%s-%ld", out_dir, name, (long)getpid());
    snprintf(final_dir, sizeof final_dir, "%s/%s", out_dir, name);
    lec_corpus_rm_rf(tmp, NULL);
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
    int *sys_pw = calloc(n_sys ? n_sys : 1, sizeof *sys_pw); /* its page's size, px */
    int *sys_ph = calloc(n_sys ? n_sys : 1, sizeof *sys_ph);
    if (!sys_out || !sys_pw || !sys_ph) {
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
            if (!lec_corpus_png_size(pngs[pg], &w, &h)) {
                st = lec_error_set(err, LEC_EFORMAT, "%s: not a PNG", pngs[pg]);
                goto done;
            }
            char rel[64];
            snprintf(rel, sizeof rel, "pages/page-%d.png", n_pages);
            snprintf(path, sizeof path, "%s/%s", tmp, rel);
            if ((st = lec_corpus_copy_file(pngs[pg], path, err)))
                goto done;
            cJSON *p = cJSON_CreateObject();
            cJSON_AddStringToObject(p, "image", rel);
            cJSON_AddNumberToObject(p, "width_px", w);
            cJSON_AddNumberToObject(p, "height_px", h);
            cJSON_AddNumberToObject(p, "engraved_page", systems[s].sys_page);
            cJSON_AddItemToArray(pages, p);
        }
        /* the system's boxes must lie on its page (the bundle loader checks
         * it): LilyPond may draw a few px into the paper's edge (clipped); a
         * system far beyond it means the layout is broken (the score fails) */
        {
            int pw, ph;
            if (!lec_corpus_png_size(pngs[pg], &pw, &ph)) {
                st = lec_error_set(err, LEC_EFORMAT, "%s: not a PNG", pngs[pg]);
                goto done;
            }
            double *bx[2] = {systems[s].box, systems[s].box_notes};
            const double tx = 0.05 * pw, ty = 0.05 * ph;
            for (int q = 0; q < 2; q++) {
                double *b = bx[q];
                if (b[0] < -tx || b[1] < -ty || b[2] > pw + tx || b[3] > ph + ty) {
                    st = lec_error_set(err, LEC_EFORMAT,
                                       "%s: system %zu box [%.1f,%.1f,%.1f,%.1f] lies outside its "
                                       "%dx%d page (LilyPond drew beyond the paper)",
                                       name, s, b[0], b[1], b[2], b[3], pw, ph);
                    snprintf(res->cause, sizeof res->cause, "layout");
                    goto done;
                }
                clip_box(b, pw, ph);
            }
            sys_pw[s] = pw;
            sys_ph[s] = ph;
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
            double sb[4] = {sf->box[0], sf->box[1], sf->box[2], sf->box[3]};
            clip_box(sb, sys_pw[s], sys_ph[s]);
            cJSON_AddItemToObject(o, "box", box_json(sb));
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
        double hb[4] = {h->box[0], h->box[1], h->box[2], h->box[3]};
        clip_box(hb, sys_pw[h->sys], sys_ph[h->sys]);
        cJSON_AddItemToObject(o, "box", box_json(hb));
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

    /* performance: notes of the unfolded twin of score k, or of the
     * as-printed twin if its staves were not unfolded alike */
    char tag[16], why[512] = "";
    int as_printed = repeats_mismatch(a, k, log_path, why, sizeof why);
    if (as_printed) {
        snprintf(tag, sizeof tag, "p%d", k);
        lec_corpus_log(log_path, "warning: %s: %s", name, why);
        res->n_as_printed++;
    } else {
        snprintf(tag, sizeof tag, "%d", k);
    }
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
    cJSON_AddStringToObject(jperf, "repeats", as_printed ? "as_printed" : "unfolded");
    if (as_printed)
        cJSON_AddStringToObject(jperf, "repeats_note", why);
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
     * MIDI score (tag mK, unfolded: not when played as printed) may carry
     * \tempo marks in its music */
    char mtag[16];
    if (as_printed)
        snprintf(mtag, sizeof mtag, "%s", tag);
    else
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
        lec_corpus_rm_rf(tmp, NULL); /* now the old bundle */
    } else if (rename(tmp, final_dir) != 0) {
        st = lec_error_set(err, LEC_EIO, "%s: cannot rename into place: %s", final_dir,
                           strerror(errno));
        goto done;
    }
    res->n_bundles++;
    lec_corpus_log(log_path, "bundle %s: %d pages, %d systems, %d heads, %zu performed notes, %zu events",
          name, n_pages, n_sys_out, n_heads_out, n_notes, n_events);

done:
    if (st) {
        if (!res->cause[0])
            snprintf(res->cause, sizeof res->cause, "io");
        lec_corpus_rm_rf(tmp, NULL);
    }
    cJSON_Delete(root);
    free(sys_out);
    free(sys_pw);
    free(sys_ph);
    free(pl);
    free(head_out);
    free(note_event);
    free(pin.notes);
    free(pin.tempo);
    free(pin.pedal);
    return st;
}

