/* eval_data.c -- see eval_data.h. */
#include "eval_data.h"

#include <cairo.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_source.h"
#include "lec_spec.h"
#include "lec_util.h"

lec_follow_model *lec_eval_random_model(lec_nn_arch *a, const lec_model_info *info,
                                        const char *name, lec_error *err)
{
    lec_spec_config sc;
    lec_spec_config_default(&sc);
    lec_spec *s = lec_spec_create(&sc, err);
    if (!s)
        return NULL;
    a->spec_bands = lec_spec_n_bands(s);
    lec_spec_destroy(s);
    lec_nn_net *net = lec_nn_net_create(a, err);
    if (!net)
        return NULL;
    lec_nn_net_init(net, 1);
    lec_follow_model *m = lec_follow_model_from_net(net, info, 0, name, err);
    lec_nn_net_destroy(net);
    return m;
}

lec_follow_model *lec_eval_default_model(lec_error *err)
{
    lec_nn_arch a;
    lec_nn_arch_default(&a);
    lec_model_info info;
    lec_model_info_default(&info);
    return lec_eval_random_model(&a, &info, "default architecture (random weights)", err);
}

void lec_eval_oracle_softmax(float xt, const float *x0, int n, float win_w, int B, float noise,
                             float *probs)
{
    float bw = win_w / (float)B;
    for (int i = 0; i < n; i++) {
        float *p = probs + (size_t)i * (size_t)B;
        int hit = xt >= x0[i] && xt < x0[i] + win_w;
        float u = (xt - x0[i]) / bw - 0.5f; /* xt in bucket units (bucket centres at b) */
        double s = 0;
        for (int b = 0; b < B; b++) {
            float d = (float)b - u;
            p[b] = hit ? expf(-0.5f * d * d) : 0.0f;
            s += p[b];
        }
        for (int b = 0; b < B; b++)
            p[b] = (hit && s > 0 ? (1.0f - noise) * (float)(p[b] / s) : 0.0f) +
                   (hit ? noise : 1.0f) / (float)B;
    }
}

typedef struct tracker_key {
    const char *name;
    size_t off;
    int is_int;
} tracker_key;
#define TK(f)                                                                                      \
    {                                                                                              \
#f, offsetof(lec_tracker_config, f), 0                                                     \
    }
#define TKI(f)                                                                                     \
    {                                                                                              \
#f, offsetof(lec_tracker_config, f), 1                                                     \
    }
static const tracker_key tracker_keys[] = {
    TK(cell_px),
    TK(nominal_speed_px_s),
    TK(min_tempo),
    TK(max_tempo),
    TK(min_speed_ss_s),
    TK(max_speed_ss_s),
    TK(speed_slack),
    TK(speed_sigma),
    TK(tempo_window_s),
    TK(p_hold),
    TK(p_back),
    TK(back_ss),
    TK(jump_rate_s),
    TK(obs_weight),
    TK(obs_floor),
    TKI(global_obs),
    TK(global_floor_log),
    TK(global_obs_weight),
    TK(global_center_s),
    TK(global_center_prior_s),
    TKI(tempo_states),
    TK(tempo_switch),
    TK(win_lead),
    TK(scan_stride_px),
    TKI(scan_windows_per_frame),
    TKI(probe_windows_per_frame),
    TK(probe_range_px),
    TK(conf_radius_ss),
    TK(conf_lost),
    TK(agree_lost),
    TK(lost_after_s),
    TK(conf_found),
    TK(agree_found),
    TK(evidence_lost),
};
#undef TK
#undef TKI

lec_status lec_eval_tracker_overrides(lec_tracker_config *tc, const char *spec, lec_error *err)
{
    const char *p = spec;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[128];
        if (len >= sizeof item)
            return lec_error_set(err, LEC_EINVAL, "--tracker: \"%.40s...\" too long", p);
        memcpy(item, p, len);
        item[len] = 0;
        char *eq = strchr(item, '=');
        if (!eq)
            return lec_error_set(err, LEC_EINVAL, "--tracker: \"%s\" is not key=value", item);
        *eq = 0;
        const tracker_key *k = NULL;
        for (size_t i = 0; i < sizeof tracker_keys / sizeof tracker_keys[0]; i++)
            if (!strcmp(item, tracker_keys[i].name))
                k = &tracker_keys[i];
        if (!k)
            return lec_error_set(err, LEC_EINVAL,
                                 "--tracker: unknown key \"%s\" (the lec_tracker_config field "
                                 "names: p_hold, jump_rate_s, obs_weight, ...)",
                                 item);
        char *end = NULL;
        double v = strtod(eq + 1, &end);
        if (end == eq + 1 || *end || !isfinite(v))
            return lec_error_set(err, LEC_EINVAL, "--tracker: %s = \"%s\" is not a number", item,
                                 eq + 1);
        if (k->is_int)
            *(int *)((char *)tc + k->off) = (int)v;
        else
            *(float *)((char *)tc + k->off) = (float)v;
        p = comma ? comma + 1 : NULL;
    }
    return LEC_OK;
}

float *lec_eval_read_audio(const char *path, int sample_rate, size_t *n, lec_error *err)
{
    lec_source_config sc;
    lec_source_config_default(&sc);
    sc.kind = LEC_SOURCE_FILE;
    sc.path = path;
    sc.sample_rate = sample_rate;
    lec_source *s = lec_source_create(&sc, err);
    if (!s)
        return NULL;
    double dur = lec_source_duration_s(s);
    size_t cap = (size_t)(dur * sample_rate) + (size_t)sample_rate, len = 0;
    float *x = malloc(sizeof(float) * cap);
    if (!x) {
        lec_error_set(err, LEC_ENOMEM, "%s: out of memory (%.0f s of audio)", path, dur);
        lec_source_destroy(s);
        return NULL;
    }
    for (;;) {
        if (len == cap) {
            float *y = realloc(x, sizeof(float) * cap * 2);
            if (!y) {
                lec_error_set(err, LEC_ENOMEM, "%s: out of memory", path);
                free(x);
                lec_source_destroy(s);
                return NULL;
            }
            x = y;
            cap *= 2;
        }
        size_t got = 0;
        if (lec_source_read(s, x + len, cap - len, &got, 0, err)) {
            free(x);
            lec_source_destroy(s);
            return NULL;
        }
        if (got == 0)
            break;
        len += got;
    }
    lec_source_destroy(s);
    if (len == 0) {
        free(x);
        lec_error_set(err, LEC_EFORMAT, "%s: no audio samples", path);
        return NULL;
    }
    *n = len;
    return x;
}

lec_status lec_eval_geom(const lec_unroll *u, lec_strip_geom *geom, float **s0, float **s1,
                         lec_error *err)
{
    size_t ns = lec_unroll_n_systems(u);
    *s0 = malloc(sizeof(float) * (ns ? ns : 1));
    *s1 = malloc(sizeof(float) * (ns ? ns : 1));
    if (!*s0 || !*s1) {
        free(*s0), free(*s1);
        *s0 = *s1 = NULL;
        return lec_error_set(err, LEC_ENOMEM, "eval: out of memory");
    }
    for (size_t k = 0; k < ns; k++) {
        (*s0)[k] = (float)lec_unroll_systems(u)[k].x0;
        (*s1)[k] = (float)lec_unroll_systems(u)[k].x1;
    }
    geom->n_systems = (int)ns;
    geom->sys_start_px = *s0;
    geom->sys_end_px = *s1;
    geom->staff_space_px = lec_unroll_config_of(u)->staff_space_px;
    return LEC_OK;
}

static float head_strip_x(const lec_piece *p, const lec_unroll *u, int h)
{
    const lec_piece_head *hd = &lec_piece_heads(p)[h];
    return lec_unroll_strip_x(u, hd->system, 0.5f * (hd->box.x0 + hd->box.x1));
}

lec_status lec_eval_truth_notes(const lec_piece *p, const lec_unroll *u, int r, lec_gt_note **notes,
                                size_t *n, lec_error *err)
{
    size_t nn = lec_piece_n_notes(p);
    const lec_piece_note *pn = lec_piece_notes(p);
    const lec_piece_rendering *rr = &lec_piece_renderings(p)[r];
    lec_gt_note *g = malloc(sizeof *g * (nn ? nn : 1));
    if (!g)
        return lec_error_set(err, LEC_ENOMEM, "eval: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < nn; i++) {
        if (pn[i].head < 0 || !isfinite(rr->onset_s[i]))
            continue;
        g[k].onset_s = rr->onset_s[i];
        g[k].x_px = head_strip_x(p, u, pn[i].head);
        k++;
    }
    if (k == 0) {
        free(g);
        return lec_error_set(err, LEC_EFORMAT,
                             "%s: rendering %s: no performed note has a printed head",
                             lec_piece_dir(p), rr->name);
    }
    *notes = g;
    *n = k;
    return LEC_OK;
}

void lec_eval_jump_free(lec_eval_jump *j)
{
    if (!j)
        return;
    free(j->audio);
    free(j->notes);
    memset(j, 0, sizeof *j);
}

lec_status lec_eval_make_jump(const lec_piece *p, const lec_unroll *u, int r, const float *audio,
                              size_t n, int sample_rate, double wn_play, double wn_back,
                              lec_eval_jump *out, lec_error *err)
{
    memset(out, 0, sizeof *out);
    const lec_piece_rendering *rr = &lec_piece_renderings(p)[r];
    const lec_piece_event *ev = lec_piece_events(p);
    size_t ne = lec_piece_n_events(p);
    if (ne < 2)
        return lec_error_set(err, LEC_EUNSUPPORTED, "%s: too few events for a jump test",
                             lec_piece_dir(p));
    /* A: first event >= wn_play after the first; B: first event >= t(A) - wn_back */
    size_t a = ne, b = ne;
    for (size_t e = 0; e < ne && a == ne; e++)
        if (ev[e].t_wn >= ev[0].t_wn + wn_play - 1e-9)
            a = e;
    if (a == ne || a + 1 >= ne)
        return lec_error_set(err, LEC_EUNSUPPORTED,
                             "%s: shorter than %g whole notes: no room for a jump test",
                             lec_piece_dir(p), wn_play);
    for (size_t e = 0; e < a && b == ne; e++)
        if (ev[e].t_wn >= ev[a].t_wn - wn_back - 1e-9)
            b = e;
    if (b == ne || b >= a)
        return lec_error_set(err, LEC_EUNSUPPORTED, "%s: no event to jump back to",
                             lec_piece_dir(p));
    const double pre_s = 0.010, fade_s = 0.020;
    double ta = rr->event_onset_s[a] - pre_s, tb = rr->event_onset_s[b] - pre_s;
    size_t sa = (size_t)lround(ta * sample_rate), sb = (size_t)lround(tb * sample_rate);
    size_t c = (size_t)lround(fade_s * sample_rate);
    if (!(ta > fade_s) || !(tb > fade_s) || sa >= n || sb >= sa || sb < c)
        return lec_error_set(err, LEC_EUNSUPPORTED,
                             "%s: rendering %s: cut points outside the audio", lec_piece_dir(p),
                             rr->name);
    size_t len = sa + (n - sb);
    out->audio = malloc(sizeof(float) * len);
    size_t nn = lec_piece_n_notes(p);
    out->notes = malloc(sizeof(lec_gt_note) * (2 * nn + 1));
    if (!out->audio || !out->notes) {
        lec_eval_jump_free(out);
        return lec_error_set(err, LEC_ENOMEM, "eval: out of memory");
    }
    /* x[0, sa - c) | crossfade of x[sa - c, sa) into x[sb - c, sb) | x[sb, n) */
    memcpy(out->audio, audio, sizeof(float) * (sa - c));
    for (size_t j = 0; j < c; j++) {
        float w = (float)(j + 0.5) / (float)c;
        out->audio[sa - c + j] = audio[sa - c + j] * (1 - w) + audio[sb - c + j] * w;
    }
    memcpy(out->audio + sa, audio + sb, sizeof(float) * (n - sb));
    out->n = len;
    double t_a = (double)sa / sample_rate, t_b = (double)sb / sample_rate;
    const lec_piece_note *pn = lec_piece_notes(p);
    size_t k = 0;
    for (size_t i = 0; i < nn; i++) {
        if (pn[i].head < 0 || !isfinite(rr->onset_s[i]))
            continue;
        double t = rr->onset_s[i];
        if (t < t_a)
            out->notes[k++] = (lec_gt_note){t, head_strip_x(p, u, pn[i].head)};
    }
    for (size_t i = 0; i < nn; i++) {
        if (pn[i].head < 0 || !isfinite(rr->onset_s[i]))
            continue;
        double t = rr->onset_s[i];
        if (t >= t_b)
            out->notes[k++] = (lec_gt_note){t - t_b + t_a, head_strip_x(p, u, pn[i].head)};
    }
    out->n_notes = k;
    out->jump_s = t_a;
    out->from_s = t_a;
    out->to_s = t_b;
    return LEC_OK;
}

/* ------------------------------------------------------------ plot */

/* A "nice" tick step (1, 2 or 5 x 10^k) for about n ticks over range. */
static double nice_step(double range, int n)
{
    if (!(range > 0))
        return 1;
    double raw = range / n, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static cairo_status_t write_fp(void *closure, const unsigned char *data, unsigned int len)
{
    return fwrite(data, 1, len, (FILE *)closure) == len ? CAIRO_STATUS_SUCCESS
                                                        : CAIRO_STATUS_WRITE_ERROR;
}

lec_status lec_eval_plot(const char *path, const char *title, const lec_strip_geom *geom,
                         const lec_onset_event *events, size_t n_events,
                         const lec_follow_out *frames, size_t n_frames, const double *jumps_s,
                         size_t n_jumps, lec_error *err)
{
    const int Wd = 1200, Ht = 600, L = 90, R = 30, T = 50, B = 60;
    const double pw = Wd - L - R, ph = Ht - T - B, ss = geom->staff_space_px;
    double t1 = 1, y1 = geom->sys_end_px[geom->n_systems - 1] / ss;
    if (n_frames)
        t1 = frames[n_frames - 1].t_end_s;
    if (n_events && events[n_events - 1].t_s > t1)
        t1 = events[n_events - 1].t_s;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Wd, Ht);
    cairo_t *cr = cairo_create(s);
#define PX(t) (L + (t) / t1 * pw)
#define PY(y) (T + ph - (y) / y1 * ph)
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 12);
    /* system starts: light grid lines, labelled */
    cairo_set_line_width(cr, 1);
    for (int k = 0; k < geom->n_systems; k++) {
        double y = PY(geom->sys_start_px[k] / ss);
        cairo_set_source_rgb(cr, 0.85, 0.85, 0.85);
        cairo_move_to(cr, L, y);
        cairo_line_to(cr, L + pw, y);
        cairo_stroke(cr);
        if (geom->n_systems <= 40) {
            char lab[32];
            snprintf(lab, sizeof lab, "sys %d", k + 1);
            cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
            cairo_move_to(cr, L + pw - 45, y - 3);
            cairo_show_text(cr, lab);
        }
    }
    /* jumps: vertical dashed lines */
    for (size_t j = 0; j < n_jumps; j++) {
        double dash = 4;
        cairo_set_dash(cr, &dash, 1, 0);
        cairo_set_source_rgb(cr, 0.6, 0.2, 0.6);
        cairo_move_to(cr, PX(jumps_s[j]), T);
        cairo_line_to(cr, PX(jumps_s[j]), T + ph);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
    }
    /* axes, ticks, labels */
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_rectangle(cr, L, T, pw, ph);
    cairo_stroke(cr);
    double tst = nice_step(t1, 10);
    for (double t = 0; t <= t1 + 1e-9; t += tst) {
        char lab[32];
        snprintf(lab, sizeof lab, "%g", t);
        cairo_move_to(cr, PX(t), T + ph);
        cairo_line_to(cr, PX(t), T + ph + 5);
        cairo_stroke(cr);
        cairo_text_extents_t e;
        cairo_text_extents(cr, lab, &e);
        cairo_move_to(cr, PX(t) - e.width / 2, T + ph + 20);
        cairo_show_text(cr, lab);
    }
    double sy = nice_step(y1, 8);
    for (double y = 0; y <= y1 + 1e-9; y += sy) {
        char lab[32];
        snprintf(lab, sizeof lab, "%g", y);
        cairo_move_to(cr, L - 5, PY(y));
        cairo_line_to(cr, L, PY(y));
        cairo_stroke(cr);
        cairo_text_extents_t e;
        cairo_text_extents(cr, lab, &e);
        cairo_move_to(cr, L - 8 - e.width, PY(y) + e.height / 2);
        cairo_show_text(cr, lab);
    }
    cairo_move_to(cr, L + pw / 2 - 40, Ht - 15);
    cairo_show_text(cr, "audio time (s)");
    cairo_save(cr);
    cairo_move_to(cr, 25, T + ph / 2 + 110);
    cairo_rotate(cr, -M_PI / 2);
    cairo_show_text(cr, "position in the unrolled score (staff spaces)");
    cairo_restore(cr);
    cairo_set_font_size(cr, 15);
    {
        cairo_text_extents_t e; /* long run names: shrink the title to fit */
        cairo_text_extents(cr, title, &e);
        if (e.x_advance > Wd - L - 10)
            cairo_set_font_size(cr, 15.0 * (Wd - L - 10) / e.x_advance);
    }
    cairo_move_to(cr, L, 30);
    cairo_show_text(cr, title);
    cairo_set_font_size(cr, 12);
    /* followed position: a line, broken where the follower jumps (> 20 staff
     * spaces in one frame) so a relocalisation is not drawn as a sweep */
    cairo_rectangle(cr, L, T, pw, ph);
    cairo_clip(cr);
    cairo_set_line_width(cr, 1.5);
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0: tracking (blue), pass 1: lost (orange) */
        if (pass == 0)
            cairo_set_source_rgb(cr, 0.1, 0.3, 0.9);
        else
            cairo_set_source_rgb(cr, 1.0, 0.5, 0.0);
        int open = 0;
        for (size_t i = 0; i < n_frames; i++) {
            int mine = (frames[i].lost != 0) == pass;
            double x = PX(frames[i].t_end_s), y = PY(frames[i].strip_x_px / ss);
            int cont =
                open && i > 0 && fabsf(frames[i].strip_x_px - frames[i - 1].strip_x_px) < 20 * ss;
            if (!mine) {
                open = 0;
                continue;
            }
            if (cont)
                cairo_line_to(cr, x, y);
            else
                cairo_move_to(cr, x, y);
            open = 1;
        }
        cairo_stroke(cr);
    }
    /* ground truth: one dot per onset event */
    cairo_set_source_rgb(cr, 0.1, 0.6, 0.1);
    for (size_t e = 0; e < n_events; e++) {
        cairo_arc(cr, PX(events[e].t_s), PY(events[e].x_px / ss), 2.2, 0, 2 * M_PI);
        cairo_fill(cr);
    }
    cairo_reset_clip(cr);
    /* legend */
    double lx = L + 15, ly = T + 15;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, lx - 5, ly - 10, 230, 66);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.1, 0.6, 0.1);
    cairo_arc(cr, lx + 10, ly, 3, 0, 2 * M_PI);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, lx + 25, ly + 4);
    cairo_show_text(cr, "true position (onset events)");
    cairo_set_line_width(cr, 2);
    cairo_set_source_rgb(cr, 0.1, 0.3, 0.9);
    cairo_move_to(cr, lx, ly + 20);
    cairo_line_to(cr, lx + 20, ly + 20);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, lx + 25, ly + 24);
    cairo_show_text(cr, "followed position");
    cairo_set_source_rgb(cr, 1.0, 0.5, 0.0);
    cairo_move_to(cr, lx, ly + 40);
    cairo_line_to(cr, lx + 20, ly + 40);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, lx + 25, ly + 44);
    cairo_show_text(cr, "followed, lost (searching)");
#undef PX
#undef PY
    cairo_destroy(cr);
    lec_atomic_file af;
    lec_status st = lec_atomic_open(&af, path, err);
    if (!st) {
        if (cairo_surface_write_to_png_stream(s, write_fp, af.fp) != CAIRO_STATUS_SUCCESS) {
            lec_atomic_abort(&af);
            st = lec_error_set(err, LEC_EIO, "%s: cannot write the PNG", path);
        } else {
            st = lec_atomic_commit(&af, err);
        }
    }
    cairo_surface_destroy(s);
    return st;
}
