/* test_dataset -- the training data provider on generated bundles
 * (synth_bundle.c): bundle search and splits; the spectrogram excerpt ends
 * at t exactly as an independently computed spectrogram says; the window is
 * lec_unroll_window at x0 and the target bucket contains the true x; soft
 * targets sum to 1; batches are a function of (seed, step); augmentation
 * keeps inputs in range; the outside class; the spectrogram cache (reused,
 * and recomputed when corrupt); MuseScore renderings refused; a corrupt
 * bundle skipped with a warning naming it; no bundle -> error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lec_dataset.h"
#include "lec_piece.h"
#include "lec_source.h"
#include "lec_spec.h"
#include "lec_test.h"
#include "lec_unroll.h"
#include "lec_util.h"
#include "synth_bundle.h"

#define W 48
#define H 24
#define SSPX 2.0 /* staff space in the strip: height 12 staff spaces */
#define BK 8
#define F 20

static char g_warn[8192];
static int g_n_warn;
static void on_warn(void *user, const char *msg)
{
    (void)user;
    g_n_warn++;
    size_t l = strlen(g_warn);
    snprintf(g_warn + l, sizeof g_warn - l, "%s\n", msg);
}

static void base_config(lec_dataset_config *c, const char *cache)
{
    lec_dataset_config_default(c);
    c->info.window_width_px = W;
    c->info.window_height_px = H;
    c->info.staff_space_px = SSPX;
    c->info.buckets = BK;
    c->spec_frames = F;
    c->cache_dir = cache;
}

/* the reference: spectrogram of the rendering computed here, directly */
static float *ref_spec(const char *flac, size_t *nf, int *nb)
{
    lec_source_config sc;
    lec_source_config_default(&sc);
    sc.path = flac;
    lec_source *s = lec_source_create(&sc, NULL);
    if (!s)
        return NULL;
    float *x = malloc(sizeof(float) * 22050 * 30);
    size_t n = 0, got = 0;
    while (lec_source_read(s, x + n, 22050 * 30 - n, &got, 0, NULL) == LEC_OK && got)
        n += got;
    lec_source_destroy(s);
    lec_spec_config cfg;
    lec_spec_config_default(&cfg);
    float *fr = NULL;
    lec_spec_compute(&cfg, x, n, &fr, nf, nb, NULL);
    free(x);
    return fr;
}

int main(void)
{
    const char *dir = lec_test_scratch_dir("test_dataset");
    char root[4096], p[8192], cache[4096];
    snprintf(root, sizeof root, "%s/data", dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    const char *sf1[] = {"Synth.sf2"};
    const char *sf2[] = {"Synth.sf2", "MuseScore_General.sf3"};
    /* a/ b/ train (b inside a nested folder), v/ valid, m/ with a MuseScore rendering */
    snprintf(p, sizeof p, "%s/a", root);
    CHECK(synth_bundle_write(p, 1, "train", sf1, 1) == 0);
    snprintf(p, sizeof p, "%s/nested/b", root);
    CHECK(synth_bundle_write(p, 2, NULL, sf1, 1) == 0);
    snprintf(p, sizeof p, "%s/v", root);
    CHECK(synth_bundle_write(p, 3, "valid", sf1, 1) == 0);
    snprintf(p, sizeof p, "%s/m", root);
    CHECK(synth_bundle_write(p, 4, "train", sf2, 2) == 0);

    /* ---- bundle search */
    lec_bundle_ref *refs = NULL;
    size_t n_refs = 0;
    lec_error err;
    CHECK(lec_bundle_find(root, NULL, &refs, &n_refs, &err) == LEC_OK);
    CHECK(n_refs == 4);
    if (n_refs == 4) {
        CHECK(strstr(refs[0].dir, "/a") != NULL && refs[0].split == LEC_SPLIT_TRAIN);
        CHECK(strstr(refs[1].dir, "/m") != NULL);
        CHECK(strstr(refs[2].dir, "/nested/b") != NULL && refs[2].split == LEC_SPLIT_UNKNOWN);
        CHECK(strstr(refs[3].dir, "/v") != NULL && refs[3].split == LEC_SPLIT_VALID);
        CHECK(strcmp(refs[0].name, "synth1") == 0);
        CHECK(strcmp(refs[2].source_path, "synth/piece2") == 0);
    }
    /* an index assigns splits by source_path */
    snprintf(p, sizeof p, "%s/index.json", dir);
    const char *idx = "[{\"dir\":\"piece2\",\"suggested_split\":\"valid\"},"
                      "{\"dir\":\"piece3\",\"suggested_split\":\"train\"}]";
    lec_write_file_atomic(p, idx, strlen(idx), NULL);
    lec_bundle_ref *r2 = NULL;
    size_t n2 = 0;
    CHECK(lec_bundle_find(root, p, &r2, &n2, &err) == LEC_OK && n2 == 4);
    if (n2 == 4)
        CHECK(r2[2].split == LEC_SPLIT_VALID && r2[3].split == LEC_SPLIT_TRAIN &&
              r2[0].split == LEC_SPLIT_TRAIN);
    free(r2);
    r2 = NULL;
    n2 = 0;
    CHECK(lec_bundle_find("/nonexistent/lectern", NULL, &r2, &n2, &err) == LEC_EIO);
    CHECK(strstr(err.msg, "/nonexistent/lectern") != NULL);

    /* ---- plain dataset: geometry against independent references */
    lec_dataset_config cfg;
    base_config(&cfg, cache);
    g_warn[0] = 0;
    g_n_warn = 0;
    lec_dataset *ds = lec_dataset_create(refs, n_refs, &cfg, on_warn, NULL, &err);
    CHECKF(ds != NULL, "%s", err.msg);
    if (!ds)
        return lec_test_finish("test_dataset");
    CHECK(lec_dataset_n_pieces(ds) == 4);
    CHECK(lec_dataset_n_renderings(ds) == 4); /* the MuseScore rendering is refused */
    CHECKF(g_n_warn == 1 && strstr(g_warn, "MuseScore_General.sf3") && strstr(g_warn, "/m"),
           "%s", g_warn);
    CHECK(lec_dataset_n_buckets(ds) == BK);

    /* independent unrolls and spectrograms of every bundle */
    lec_piece *pc[4];
    lec_unroll *un[4];
    float *sp[4];
    size_t spn[4];
    int nb = 0;
    for (int i = 0; i < 4; i++) {
        pc[i] = lec_piece_load(refs[i].dir, NULL);
        lec_unroll_config uc;
        lec_unroll_config_default(&uc);
        uc.staff_space_px = (float)SSPX;
        uc.height_ss = (float)(H / SSPX);
        un[i] = pc[i] ? lec_unroll_create(pc[i], &uc, NULL) : NULL;
        snprintf(p, sizeof p, "%s/audio/r0.flac", refs[i].dir);
        sp[i] = ref_spec(p, &spn[i], &nb);
        CHECK(un[i] && sp[i] && strcmp(lec_dataset_piece_name(ds, (size_t)i), refs[i].name) == 0);
    }
    CHECK(nb == 70);
    enum { N = 200 };
    const size_t ss = (size_t)H * W, sa = (size_t)nb * F;
    float *score = malloc(sizeof(float) * ss * N), *spec = malloc(sizeof(float) * sa * N);
    float *tg = malloc(sizeof(float) * BK * N);
    float *score2 = malloc(sizeof(float) * ss * N), *spec2 = malloc(sizeof(float) * sa * N);
    float *tg2 = malloc(sizeof(float) * BK * N);
    float *win = malloc(sizeof(float) * ss);
    lec_sample_info info[N], info2[N];
    lec_dataset_sample(ds, 7, 3, N, score, spec, tg, info);
    const double fps = 22050.0 / 1102.0;
    int bad_end = 0, bad_spec = 0, bad_win = 0, bad_x = 0, bad_bucket = 0, bad_sum = 0;
    int at_onset = 0, zeros_ok = 1, early = 0;
    for (int i = 0; i < N; i++) {
        const lec_sample_info *in = &info[i];
        int k = in->piece;
        CHECK(in->rendering == 0 && k >= 0 && k < 4);
        if (k < 0 || k >= 4 || !un[k] || !sp[k])
            continue;
        /* the newest frame ends at or before t, the next one after it */
        double end = (in->last_frame + 1) / fps, next_end = (in->last_frame + 2) / fps;
        bad_end += !(end <= in->t_s + 1e-9 && next_end > in->t_s);
        for (int j = 0; j < F; j++) {
            long fi = in->last_frame - (F - 1 - j);
            for (int b = 0; b < nb; b++) {
                float got = spec[sa * i + (size_t)b * F + j];
                float want = (fi >= 0 && (size_t)fi < spn[k]) ? sp[k][(size_t)fi * nb + b] : 0.0f;
                bad_spec += got != want;
                if (fi < 0 && got != 0.0f)
                    zeros_ok = 0;
            }
        }
        early += in->last_frame < F - 1; /* excerpts reaching before the start */
        lec_unroll_window(un[k], (int)in->x0, W, win);
        bad_win += memcmp(win, score + ss * i, sizeof(float) * ss) != 0;
        bad_x += in->x != lec_unroll_truth_x(un[k], 0, in->t_s);
        bad_x += in->x0 != floorf(in->x0) || in->px_per_col != 1.0f || in->outside;
        int want_b = (int)floorf((in->x - in->x0) / W * BK);
        float s = 0.0f;
        int am = 0;
        for (int b = 0; b < BK; b++) {
            s += tg[BK * i + b];
            if (tg[BK * i + b] > tg[BK * i + am])
                am = b;
        }
        bad_bucket += want_b != in->bucket || am != in->bucket || want_b < 0 || want_b >= BK;
        bad_sum += fabsf(s - 1.0f) > 1e-5f;
        /* onset samples: t within [onset, onset + 0.1 s) of an event */
        double rel = (in->t_s - 0.5) / SYNTH_IOI_S;
        double frac = (rel - floor(rel)) * SYNTH_IOI_S;
        at_onset += rel >= -1e-9 && frac < 0.1 + 1e-9;
    }
    CHECKF(bad_end == 0, "%d excerpts do not end at t", bad_end);
    CHECKF(bad_spec == 0, "%d spectrogram values differ from the reference", bad_spec);
    CHECK(zeros_ok && early > 0);
    CHECKF(bad_win == 0, "%d windows differ from lec_unroll_window", bad_win);
    CHECKF(bad_x == 0, "%d true positions differ", bad_x);
    CHECKF(bad_bucket == 0, "%d targets not in the bucket of x", bad_bucket);
    CHECK(bad_sum == 0);
    /* half at onsets, plus uniform samples that happen to fall there (1/5) */
    CHECKF(at_onset > N * 0.45 && at_onset < N * 0.8, "%d of %d near onsets", at_onset, N);

    /* determinism: the same (seed, step) gives the same batch, another step not */
    lec_dataset_sample(ds, 7, 3, N, score2, spec2, tg2, info2);
    CHECK(memcmp(score, score2, sizeof(float) * ss * N) == 0 &&
          memcmp(spec, spec2, sizeof(float) * sa * N) == 0 &&
          memcmp(tg, tg2, sizeof(float) * BK * N) == 0);
    /* sample i does not depend on the batch size */
    lec_dataset_sample(ds, 7, 3, 5, score2, spec2, tg2, info2);
    CHECK(memcmp(score, score2, sizeof(float) * ss * 5) == 0 && info2[4].t_s == info[4].t_s);
    lec_dataset_sample(ds, 7, 4, N, score2, spec2, tg2, info2);
    int same = 0;
    for (int i = 0; i < N; i++)
        same += info2[i].t_s == info[i].t_s;
    CHECK(same < 3 && memcmp(spec, spec2, sizeof(float) * sa * N) != 0);
    lec_dataset_sample(ds, 8, 3, N, score2, spec2, tg2, info2);
    CHECK(memcmp(spec, spec2, sizeof(float) * sa * N) != 0);

    /* input statistics: ink is sparse, spectrogram values positive */
    float sm, sd, am_, ad;
    CHECK(lec_dataset_input_stats(ds, 1, 64, &sm, &sd, &am_, &ad, &err) == LEC_OK);
    CHECK(sm > 0.01f && sm < 0.5f && sd > 0.05f && am_ > 0.0f && ad > 0.0f);
    lec_dataset_destroy(ds);

    /* ---- the cache was written; a second load reuses it, a corrupt file is
     * recomputed (the values stay those of the reference) */
    char cdir[8192];
    snprintf(cdir, sizeof cdir, "%s/sr22050-f2048-h1102-60-6000-b12", cache);
    char cmd[16384];
    char out[4096];
    snprintf(cmd, sizeof cmd, "ls '%s' | wc -l", cdir);
    lec_test_run(cmd, out, sizeof out);
    CHECKF(atoi(out) == 4, "cache files: %s", out);
    snprintf(cmd, sizeof cmd, "for f in '%s'/*.spec; do printf 'garbage' | dd of=\"$f\" bs=1 seek=100 conv=notrunc 2>/dev/null; done", cdir);
    CHECK(lec_test_run(cmd, out, sizeof out) == 0);
    ds = lec_dataset_create(refs, n_refs, &cfg, on_warn, NULL, &err);
    CHECK(ds != NULL);
    if (ds) {
        lec_dataset_sample(ds, 7, 3, N, score2, spec2, tg2, info2);
        CHECK(memcmp(spec, spec2, sizeof(float) * sa * N) == 0);
        lec_dataset_destroy(ds);
    }
    ds = lec_dataset_create(refs, n_refs, &cfg, on_warn, NULL, &err); /* from the repaired cache */
    CHECK(ds != NULL);
    if (ds) {
        lec_dataset_sample(ds, 7, 3, N, score2, spec2, tg2, info2);
        CHECK(memcmp(spec, spec2, sizeof(float) * sa * N) == 0);
        lec_dataset_destroy(ds);
    }

    /* ---- augmentation and the outside class */
    base_config(&cfg, cache);
    cfg.augment = 1;
    cfg.outside_class = 1;
    cfg.outside_frac = 0.3f;
    cfg.info.buckets = BK + 1;
    cfg.blur_prob = 0.5f;
    ds = lec_dataset_create(refs, n_refs, &cfg, NULL, NULL, &err);
    CHECKF(ds != NULL, "%s", err.msg);
    if (ds) {
        CHECK(lec_dataset_n_buckets(ds) == BK);
        float *tg3 = malloc(sizeof(float) * (BK + 1) * N), *tg4 = malloc(sizeof(float) * (BK + 1) * N);
        lec_dataset_sample(ds, 11, 0, N, score, spec, tg3, info);
        lec_dataset_sample(ds, 11, 0, N, score2, spec2, tg4, info2);
        CHECK(memcmp(score, score2, sizeof(float) * ss * N) == 0 &&
              memcmp(spec, spec2, sizeof(float) * sa * N) == 0);
        int n_out = 0, bad_out = 0, bad_in = 0, bad_range = 0, scaled = 0;
        for (int i = 0; i < N; i++) {
            const lec_sample_info *in = &info[i];
            float span = W * in->px_per_col, s = 0.0f;
            int am = 0;
            for (int b = 0; b <= BK; b++) {
                s += tg3[(BK + 1) * i + b];
                if (tg3[(BK + 1) * i + b] > tg3[(BK + 1) * i + am])
                    am = b;
            }
            bad_range += fabsf(s - 1.0f) > 1e-5f;
            scaled += fabsf(in->px_per_col - 1.0f) > 0.01f;
            if (in->outside) {
                n_out++;
                bad_out += !(in->x < in->x0 || in->x >= in->x0 + span) ||
                           tg3[(BK + 1) * i + BK] != 1.0f || in->bucket != BK;
            } else {
                int want_b = (int)floorf((in->x - in->x0) / span * BK);
                bad_in += in->x < in->x0 || in->x >= in->x0 + span || am != want_b ||
                          in->bucket != want_b || tg3[(BK + 1) * i + BK] != 0.0f;
            }
        }
        for (size_t i = 0; i < ss * N; i++)
            bad_range += !(score[i] >= 0.0f && score[i] <= 1.0f);
        for (size_t i = 0; i < sa * N; i++)
            bad_range += !(spec[i] >= 0.0f && isfinite(spec[i]));
        CHECKF(n_out > N * 0.2 && n_out < N * 0.4, "%d outside", n_out);
        CHECKF(bad_out == 0 && bad_in == 0 && bad_range == 0 && scaled > N / 2,
               "outside %d, inside %d, range %d, scaled %d", bad_out, bad_in, bad_range, scaled);
        free(tg3);
        free(tg4);
        lec_dataset_destroy(ds);
    }

    /* ---- the augmented (bilinear) path with every geometric augmentation
     * off: fractional windows are the linear interpolation of the two integer
     * windows around them, so the resampling is aligned with x0 */
    base_config(&cfg, cache);
    cfg.augment = 1;
    cfg.score_scale = 0.0f;
    cfg.score_shift = 0.0f;
    cfg.score_rot_deg = 0.0f;
    cfg.blur_prob = 0.0f;
    ds = lec_dataset_create(refs, n_refs, &cfg, NULL, NULL, &err);
    CHECK(ds != NULL);
    if (ds) {
        float *w0 = malloc(sizeof(float) * ss), *w1 = malloc(sizeof(float) * ss);
        lec_dataset_sample(ds, 5, 1, 50, score, spec, tg, info);
        double worst = 0.0;
        int fractional = 0;
        for (int i = 0; i < 50; i++) {
            const lec_sample_info *in = &info[i];
            int k = in->piece;
            float a = in->x0 - floorf(in->x0);
            fractional += a > 0.01f && a < 0.99f;
            lec_unroll_window(un[k], (int)floorf(in->x0), W, w0);
            lec_unroll_window(un[k], (int)floorf(in->x0) + 1, W, w1);
            for (size_t q = 0; q < ss; q++) {
                double d = fabs(score[ss * i + q] - ((1.0f - a) * w0[q] + a * w1[q]));
                worst = d > worst ? d : worst;
            }
        }
        CHECKF(worst < 1e-4 && fractional > 40, "worst %g, %d fractional", worst, fractional);
        free(w0);
        free(w1);
        lec_dataset_destroy(ds);
    }

    /* ---- bad inputs: a corrupt bundle among good ones is skipped with a
     * warning naming it; nothing usable is an error */
    snprintf(p, sizeof p, "%s/a/piece.json", root);
    lec_write_file_atomic(p, "{\"format\":\"lectern-piece\",", 26, NULL);
    base_config(&cfg, cache);
    g_warn[0] = 0;
    g_n_warn = 0;
    ds = lec_dataset_create(refs, n_refs, &cfg, on_warn, NULL, &err);
    CHECK(ds != NULL && lec_dataset_n_pieces(ds) == 3);
    CHECKF(strstr(g_warn, refs[0].dir) && strstr(g_warn, "skipping"), "%s", g_warn);
    lec_dataset_destroy(ds);
    ds = lec_dataset_create(refs, 1, &cfg, NULL, NULL, &err);
    CHECK(ds == NULL && err.code == LEC_EFORMAT && strstr(err.msg, "no usable bundle"));
    ds = lec_dataset_create(refs, 0, &cfg, NULL, NULL, &err);
    CHECK(ds == NULL && err.code == LEC_EFORMAT);
    cfg.info.buckets = W + 1; /* more buckets than window columns */
    ds = lec_dataset_create(refs, n_refs, &cfg, NULL, NULL, &err);
    CHECK(ds == NULL && err.code == LEC_EINVAL);

    for (int i = 0; i < 4; i++) {
        lec_unroll_destroy(un[i]);
        lec_piece_destroy(pc[i]);
        free(sp[i]);
    }
    free(refs);
    free(score);
    free(spec);
    free(tg);
    free(score2);
    free(spec2);
    free(tg2);
    free(win);
    return lec_test_finish("test_dataset");
}
