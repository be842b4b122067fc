/* test_follower.c -- the follower (spectrogram -> network -> tracker) on a
 * generated bundle:
 *   - a tiny random model: one output per frame at the frame's end time,
 *     positions inside the strip and mapped exactly as lec_unroll maps them;
 *     different chunkings of the same audio give bit-identical outputs
 *     (causality, framing); no allocation on the per-frame path;
 *   - the same with an "outside" output (n_out = B + 1);
 *   - an oracle run: a test observer in place of the network that checks the
 *     network's inputs (the spectrogram excerpt equals the offline
 *     spectrogram of the audio up to the frame, oldest frame first; the score
 *     windows equal lec_unroll_window at the tracker's origins) and answers
 *     with the true bucket -> the whole chain follows the performance;
 *   - commands (seek, nudge, set position, relocalise, restart, reset);
 *   - bad inputs: missing/truncated model file, front-end/network mismatch,
 *     window mismatch, unroll mismatch. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "follow_fixture.h"
#include "lec_follower.h"
#include "lec_metrics.h"
#include "lec_source.h"
#include "lec_spec.h"
#include "lec_test.h"
#include "lec_test_alloc.h"
#include "lec_util.h"

/* Runs the follower over x in chunks of `chunk` samples (0 = random sizes);
 * returns the outputs (malloc'd), their count in *n_out. */
static lec_follow_out *run(lec_follower *f, const float *x, size_t n, size_t chunk, int *n_out)
{
    size_t cap = n / 1102 + 4;
    lec_follow_out *o = calloc(cap, sizeof *o);
    int k = 0;
    size_t i = 0;
    uint32_t rng = 12345;
    lec_error err;
    while (i < n) {
        size_t c = chunk;
        if (c == 0) {
            rng = rng * 1664525u + 1013904223u;
            c = 1 + (rng >> 8) % 3000;
        }
        if (c > n - i)
            c = n - i;
        size_t used = 0;
        int got = lec_follower_process(f, x + i, c, &used, o + k, (int)(cap - (size_t)k), &err);
        if (got < 0) {
            fprintf(stderr, "process: %s\n", err.msg);
            break;
        }
        k += got;
        i += used;
    }
    *n_out = k;
    return o;
}

static int same_outputs(const lec_follow_out *a, const lec_follow_out *b, int n)
{
    for (int i = 0; i < n; i++) {
        lec_follow_out x = a[i], y = b[i];
        x.cost_s = y.cost_s = x.cost_spec_s = y.cost_spec_s = 0;
        x.cost_net_s = y.cost_net_s = x.cost_track_s = y.cost_track_s = 0;
        if (memcmp(&x, &y, sizeof x) != 0) {
            fprintf(stderr, "frame %d differs: x %g vs %g\n", i, (double)x.strip_x_px,
                    (double)y.strip_x_px);
            return 0;
        }
    }
    return 1;
}

/* ---- the oracle observer */
typedef struct oracle {
    const lec_unroll *u;
    const float *offline; /* (n_frames, bands) offline spectrogram */
    size_t n_frames;
    int bands, F, H, W, B;
    int calls, bad_spec, bad_score;
    float *tmp;
} oracle;

static int oracle_fn(void *user, const float *score, const float *spec, const float *x0, int n,
                     double t_end_s, float *probs)
{
    oracle *o = user;
    o->calls++;
    long idx = lround(t_end_s * 22050.0 / 1102.0) - 1; /* frame index */
    for (int i = 0; i < n; i++) {
        const float *sp = spec + (size_t)i * (size_t)o->bands * (size_t)o->F;
        for (int j = 0; j < o->F; j++) {
            long fr = idx - (o->F - 1 - j); /* column j = frame idx - (F-1-j) */
            for (int b = 0; b < o->bands; b++) {
                float want = fr >= 0 && (size_t)fr < o->n_frames
                                 ? o->offline[(size_t)fr * (size_t)o->bands + (size_t)b]
                                 : 0.0f;
                if (sp[(size_t)b * (size_t)o->F + (size_t)j] != want)
                    o->bad_spec++;
            }
        }
        lec_unroll_window(o->u, (int)x0[i], o->W, o->tmp);
        if (memcmp(o->tmp, score + (size_t)i * (size_t)o->H * (size_t)o->W,
                   sizeof(float) * (size_t)o->H * (size_t)o->W) != 0)
            o->bad_score++;
        float xt = lec_unroll_truth_x(o->u, 0, t_end_s);
        float *p = probs + (size_t)i * (size_t)o->B;
        float bw = (float)o->W / (float)o->B;
        for (int b = 0; b < o->B; b++)
            p[b] = 1.0f / (float)o->B;
        if (xt >= x0[i] && xt < x0[i] + (float)o->W) {
            int b = (int)((xt - x0[i]) / bw);
            for (int k = 0; k < o->B; k++)
                p[k] = 0.2f / (float)o->B;
            p[b] += 0.8f;
        }
    }
    return 0;
}

int main(void)
{
    const char *dir = lec_test_scratch_dir("test_follower");
    char bdir[4200], mpath[4200], apath[4300];
    snprintf(bdir, sizeof bdir, "%s/piece", dir);
    snprintf(mpath, sizeof mpath, "%s/tiny.lnm", dir);
    fix_opts fo = {.n_renderings = 1, .tempo = {1.0, 1.0}};
    CHECK(fix_write_bundle(bdir, &fo) == 0);
    CHECK(fix_write_model(mpath, 0, 7) == 0);
    lec_error err;
    lec_piece *piece = lec_piece_load(bdir, &err);
    CHECKF(piece != NULL, "%s", err.msg);
    if (!piece)
        return lec_test_finish("test_follower");
    lec_piece_path(piece, lec_piece_renderings(piece)[0].audio, apath, sizeof apath);
    size_t n = 0;
    float *x = fix_read_audio(apath, &n);
    CHECK(x != NULL && n > 22050 * 10);

    lec_follow_model *model = lec_follow_model_load(mpath, &err);
    CHECKF(model != NULL, "%s", err.msg);
    if (!model)
        return lec_test_finish("test_follower");
    CHECK(lec_follow_model_buckets(model) == 16 && !lec_follow_model_outside_class(model));
    lec_follower_config cfg;
    lec_follower_config_default(&cfg);
    cfg.model = model;
    cfg.piece = piece;
    lec_follower *f = lec_follower_create(&cfg, &err);
    CHECKF(f != NULL, "%s", err.msg);
    if (!f || !x)
        return lec_test_finish("test_follower");
    const lec_unroll *u = lec_follower_unroll(f);
    float W = (float)lec_unroll_width_px(u);

    /* initial position: start of page one, before any audio */
    lec_follow_out p0;
    lec_follower_position(f, &p0);
    CHECK(p0.system == 0 && p0.page == 0 && p0.strip_x_px >= 0 && p0.strip_x_px < 10);

    /* ---- one chunk: one output per frame, mapped consistently */
    int na = 0;
    lec_follow_out *a = run(f, x, n, n, &na);
    CHECK(na == (int)(n / 1102));
    int bad_t = 0, bad_map = 0, bad_range = 0, net_frames = 0;
    for (int i = 0; i < na; i++) {
        if (a[i].frame != i || fabs(a[i].t_end_s - (i + 1) * 1102.0 / 22050.0) > 1e-9)
            bad_t++;
        if (!(a[i].strip_x_px >= 0 && a[i].strip_x_px <= W) || !(a[i].confidence >= 0) ||
            !(a[i].confidence <= 1) || a[i].n_windows < 0 || !(a[i].activity >= 0))
            bad_range++;
        int page;
        float px;
        int s = lec_unroll_to_page(u, a[i].strip_x_px, &page, &px);
        const lec_piece_system *ps = &lec_piece_systems(piece)[s];
        if (s != a[i].system || page != a[i].page || px != a[i].page_x_px ||
            ps->box.y0 != a[i].sys_y0_px || ps->box.y1 != a[i].sys_y1_px ||
            fabsf(lec_unroll_strip_x(u, s, px) - a[i].strip_x_px) > 0.01f)
            bad_map++;
        net_frames += a[i].n_windows > 0;
    }
    CHECKF(bad_t == 0 && bad_range == 0 && bad_map == 0, "t %d range %d map %d", bad_t, bad_range,
           bad_map);
    /* silence at the start (1 s): activity 0, network skipped; then it runs */
    CHECK(a[5].activity == 0 && a[5].n_windows == 0);
    CHECKF(net_frames > na / 2, "%d of %d frames ran the network", net_frames, na);
    lec_follow_costs costs;
    lec_follower_costs(f, &costs);
    CHECK(costs.frames == na && costs.windows > 0 && costs.net_s > 0);

    /* ---- other chunkings give the same outputs */
    static const size_t chunks[] = {1, 441, 1102, 1103, 0};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        lec_follower_reset(f);
        CHECK(lec_follower_frames_done(f) == 0);
        /* one sample at a time is slow under the sanitizers: 4 s of it suffice */
        size_t nu = chunks[c] == 1 ? (size_t)22050 * 4 : n;
        int want = (int)(nu / 1102), nb = 0;
        lec_follow_out *b = run(f, x, nu, chunks[c], &nb);
        CHECKF(nb == want && same_outputs(a, b, want), "chunk %zu", chunks[c]);
        free(b);
    }
    /* max_out limits: samples beyond the last allowed frame are not consumed */
    lec_follower_reset(f);
    {
        lec_follow_out o3[3];
        size_t used = 0;
        int got = lec_follower_process(f, x, 10000, &used, o3, 3, &err);
        CHECK(got == 3 && used == 3 * 1102 + 1101);
        CHECK(lec_follower_max_frames(f, 1) == 1 && lec_follower_max_frames(f, 0) == 0);
    }

    /* ---- no allocation per frame */
    lec_follower_reset(f);
    {
        lec_follow_out o1[64];
        size_t used;
        lec_follower_process(f, x, 22050 * 3, &used, o1, 64, &err); /* warm up */
        long before = lec_test_allocs();
        int got = 0;
        for (size_t i = 22050 * 3; i + 2205 <= n; i += 2205) {
            got += lec_follower_process(f, x + i, 2205, &used, o1, 64, &err);
            /* the viewer's commands land between frames: allocation-free too */
            if (i % (2205 * 20) == 0) {
                lec_follower_nudge(f, 1);
                lec_follower_seek(f, 0, 200.0f, &err);
                lec_follower_relocalise(f);
                lec_follower_restart(f);
            }
        }
        long allocs = lec_test_allocs() - before;
        CHECKF(allocs == 0, "%ld allocations in %d frames", allocs, got);
        CHECK(got > 100);
    }

    /* ---- commands */
    {
        lec_follow_out q;
        CHECK(lec_follower_seek(f, 1, 300.0f, &err) == LEC_OK);
        lec_follower_position(f, &q);
        CHECK(q.system == 1 && fabsf(q.page_x_px - 300.0f) < 0.5f && !q.lost);
        lec_follower_nudge(f, 1);
        lec_follower_position(f, &q);
        CHECK(q.system == 2 && q.page == 1 && fabsf(q.page_x_px - 300.0f) < 1.0f);
        lec_follower_nudge(f, 5); /* clamped to the last system */
        lec_follower_position(f, &q);
        CHECK(q.system == 2);
        lec_follower_nudge(f, -2);
        lec_follower_position(f, &q);
        CHECK(q.system == 0 && fabsf(q.page_x_px - 300.0f) < 1.5f);
        CHECK(lec_follower_seek(f, 3, 10.0f, &err) == LEC_EINVAL && strstr(err.msg, "system 3"));
        /* after a click the next frame stays near the clicked place */
        lec_follower_set_position(f, 500.0f);
        lec_follow_out o1[4];
        size_t used;
        int got = lec_follower_process(f, x + 22050 * 5, 1102, &used, o1, 4, &err);
        CHECK(got == 1 && fabsf(o1[0].strip_x_px - 500.0f) < 30.0f);
        lec_follower_relocalise(f);
        lec_follower_position(f, &q);
        CHECK(q.lost == 1);
        lec_follower_restart(f);
        lec_follower_position(f, &q);
        CHECK(q.system == 0 && q.strip_x_px < 10 && q.frame == lec_follower_frames_done(f) - 1);
    }
    lec_follower_destroy(f);

    /* ---- the network on every 2nd frame only: odd frames are predictions */
    {
        lec_follower_config c2 = cfg;
        c2.net_every = 2;
        lec_follower *g = lec_follower_create(&c2, &err);
        CHECKF(g != NULL, "%s", err.msg);
        if (g) {
            int nb = 0, odd_net = 0, even_net = 0;
            lec_follow_out *b = run(g, x, n, 4096, &nb);
            for (int i = 0; i < nb; i++) {
                odd_net += (i % 2) && b[i].n_windows > 0;
                even_net += !(i % 2) && b[i].n_windows > 0;
            }
            CHECK(nb == na && odd_net == 0 && even_net > nb / 4);
            free(b);
            lec_follower_destroy(g);
        }
        c2.net_every = 0;
        CHECK(lec_follower_create(&c2, &err) == NULL && strstr(err.msg, "net_every"));
    }

    /* ---- outside class */
    {
        char m2[4200];
        snprintf(m2, sizeof m2, "%s/tiny_out.lnm", dir);
        CHECK(fix_write_model(m2, 1, 9) == 0);
        lec_follower_config c2 = cfg;
        c2.model = NULL;
        c2.model_path = m2;
        c2.start = LEC_FOLLOW_START_ANYWHERE;
        lec_follower *g = lec_follower_create(&c2, &err);
        CHECKF(g != NULL, "%s", err.msg);
        if (g) {
            /* anywhere: the start prior covers the whole strip, from x = 0 */
            float cell;
            const float *al = lec_tracker_posterior(lec_follower_tracker(g), &cell);
            int nc = lec_tracker_n_cells(lec_follower_tracker(g));
            CHECK(al[0] > 0 && al[nc - 1] > 0 && fabsf(al[0] - al[nc / 2]) < 1e-6f);
            lec_follow_out q0;
            lec_follower_position(g, &q0);
            CHECK(q0.system == 0 && q0.strip_x_px < cell);
            CHECK(lec_follow_model_outside_class(lec_follower_model(g)) == 1 &&
                  lec_follow_model_buckets(lec_follower_model(g)) == 16);
            int nb = 0;
            lec_follow_out *b = run(g, x, n, 4096, &nb);
            int bad = 0;
            for (int i = 0; i < nb; i++)
                bad += !(b[i].strip_x_px >= 0 && b[i].strip_x_px <= W);
            CHECK(nb == na && bad == 0);
            free(b);
            lec_follower_destroy(g);
        }
    }

    /* ---- the oracle: the whole chain follows a known performance */
    {
        lec_spec_config sc;
        lec_follow_model_spec_config(model, &sc);
        float *off = NULL;
        size_t nf = 0;
        int nbands = 0;
        CHECK(lec_spec_compute(&sc, x, n, &off, &nf, &nbands, &err) == LEC_OK &&
              nbands == fix_default_bands());
        oracle o = {.u = NULL,
                    .offline = off,
                    .n_frames = nf,
                    .bands = nbands,
                    .F = 8,
                    .H = 40,
                    .W = 64,
                    .B = 16};
        o.tmp = malloc(sizeof(float) * 40 * 64);
        lec_follower_config c3 = cfg;
        c3.observer = oracle_fn;
        c3.observer_user = &o;
        lec_follower *g = lec_follower_create(&c3, &err);
        CHECKF(g != NULL, "%s", err.msg);
        if (g) {
            o.u = lec_follower_unroll(g);
            lec_follow_out init;
            lec_follower_position(g, &init);
            int nb = 0;
            lec_follow_out *b = run(g, x, n, 0, &nb);
            CHECK(o.calls > 100 && o.bad_spec == 0 && o.bad_score == 0);
            CHECKF(o.bad_spec == 0, "%d spectrogram values differ from the offline frames",
                   o.bad_spec);
            /* position error after the first second of playing */
            int good = 0, total = 0;
            for (int i = 0; i < nb; i++) {
                if (b[i].t_end_s < FIX_LEAD_S + 1.0 ||
                    b[i].t_end_s > fix_event_time(FIX_N_EVENTS - 1, 1.0))
                    continue;
                float xt = lec_unroll_truth_x(o.u, 0, b[i].t_end_s);
                total++;
                good += fabsf(b[i].strip_x_px - xt) <= 2 * 4.0f; /* 2 staff spaces */
            }
            CHECKF(total > 100 && good >= 0.9 * total, "%d of %d frames within 2 staff spaces",
                   good, total);
            /* and the EVALUATION.md figures on it */
            size_t ns = lec_unroll_n_systems(o.u);
            float s0[8], s1[8];
            for (size_t k = 0; k < ns; k++) {
                s0[k] = (float)lec_unroll_systems(o.u)[k].x0;
                s1[k] = (float)lec_unroll_systems(o.u)[k].x1;
            }
            lec_strip_geom geom = {(int)ns, s0, s1, 4.0f};
            lec_gt_note notes[FIX_N_EVENTS];
            for (int e = 0; e < FIX_N_EVENTS; e++) {
                notes[e].onset_s = fix_event_time(e, 1.0);
                notes[e].x_px = lec_unroll_event_x(o.u)[e];
            }
            lec_onset_event *ev = NULL;
            size_t nev = 0;
            CHECK(lec_metrics_events(notes, FIX_N_EVENTS, &geom, &ev, &nev, &err) == LEC_OK);
            lec_report *rep = malloc(sizeof *rep * (size_t)(nb + 1));
            rep[0] = (lec_report){0.0, init.strip_x_px};
            for (int i = 0; i < nb; i++)
                rep[i + 1] = (lec_report){b[i].t_end_s, b[i].strip_x_px};
            lec_metrics_input in = {.geom = geom,
                                    .events = ev,
                                    .n_events = nev,
                                    .frames = rep,
                                    .n_frames = (size_t)nb + 1};
            lec_metrics_piece mp;
            CHECK(lec_metrics_piece_eval(&in, &mp, NULL, NULL, &err) == LEC_OK);
            CHECKF(mp.within[2] >= 0.9 && mp.followed_to_end == 1,
                   "within_0.5s %g followed_to_end %d", mp.within[2], mp.followed_to_end);
            free(rep);
            free(ev);
            free(b);
            lec_follower_destroy(g);
        }
        free(o.tmp);
        free(off);
    }

    /* ---- bad inputs */
    {
        lec_follower_config c4 = cfg;
        c4.model = NULL;
        c4.model_path = "/nonexistent/model.lnm";
        CHECK(lec_follower_create(&c4, &err) == NULL && strstr(err.msg, "/nonexistent/model.lnm"));
        /* truncated file */
        char tp[4200];
        snprintf(tp, sizeof tp, "%s/truncated.lnm", dir);
        char *buf = NULL;
        size_t len = 0;
        CHECK(lec_read_file(mpath, 0, &buf, &len, &err) == LEC_OK);
        CHECK(lec_write_file_atomic(tp, buf, len / 2, &err) == LEC_OK);
        free(buf);
        c4.model_path = tp;
        CHECK(lec_follower_create(&c4, &err) == NULL && strstr(err.msg, tp));
        CHECK(lec_follow_model_load(tp, &err) == NULL && err.code != LEC_OK);
        /* the front-end gives 78 bands; a network reading 60 cannot be fed */
        lec_nn_arch arch;
        fix_tiny_arch(&arch, 0);
        arch.spec_bands = 60;
        lec_nn_net *net = lec_nn_net_create(&arch, &err);
        lec_model_info info;
        fix_tiny_info(&info, &arch);
        CHECK(lec_follow_model_from_net(net, &info, 0, "m60", &err) == NULL &&
              strstr(err.msg, "m60") && strstr(err.msg, "bands but") &&
              strstr(err.msg, "reads 60"));
        /* a different sample rate changes the bands too */
        fix_tiny_arch(&arch, 0);
        lec_nn_net_destroy(net);
        net = lec_nn_net_create(&arch, &err);
        fix_tiny_info(&info, &arch);
        info.sample_rate = 16000;
        CHECK(lec_follow_model_from_net(net, &info, 0, "m16k", &err) == NULL &&
              strstr(err.msg, "16000 Hz"));
        /* window metadata that disagrees with the network */
        fix_tiny_info(&info, &arch);
        info.window_width_px = 128;
        CHECK(lec_follow_model_from_net(net, &info, 0, "mw", &err) == NULL &&
              strstr(err.msg, "score window"));
        /* a window height the strip cannot have */
        fix_tiny_info(&info, &arch);
        info.staff_space_px = 20.0;
        CHECK(lec_follow_model_from_net(net, &info, 0, "mh", &err) == NULL &&
              strstr(err.msg, "staff spaces"));
        /* outside class with too few outputs is refused, with enough accepted */
        fix_tiny_info(&info, &arch);
        lec_follow_model *mo = lec_follow_model_from_net(net, &info, 1, "mo", &err);
        CHECK(mo != NULL && lec_follow_model_buckets(mo) == 15);
        lec_follow_model_destroy(mo);
        /* an unrolled strip made with other parameters */
        lec_unroll_config uc;
        lec_follow_model_unroll_config(model, &uc);
        uc.staff_space_px = 5.0f;
        uc.height_ss = 8.0f;
        lec_unroll *u2 = lec_unroll_create(piece, &uc, &err);
        CHECK(u2 != NULL);
        lec_follower_config c5 = cfg;
        c5.unroll = u2;
        CHECK(lec_follower_create(&c5, &err) == NULL && strstr(err.msg, "does not match"));
        lec_unroll_destroy(u2);
        lec_nn_net_destroy(net);
        lec_follower_config c6 = cfg;
        c6.piece = NULL;
        CHECK(lec_follower_create(&c6, &err) == NULL && err.code == LEC_EINVAL);
        c6 = cfg;
        c6.level_range_db = 0;
        CHECK(lec_follower_create(&c6, &err) == NULL && err.code == LEC_EINVAL);
    }

    free(a);
    free(x);
    lec_follow_model_destroy(model);
    lec_piece_destroy(piece);
    return lec_test_finish("test_follower");
}
