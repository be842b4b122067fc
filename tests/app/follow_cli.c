/* follow_cli.c -- see follow_cli.h. */
#include "follow_cli.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_source.h"
#include "lec_test.h"
#include "lec_util.h"
#include "view_bundle.h"
#include "view_pixels.h"

char fc_out[65536];

int fc_run(const char *fmt, ...)
{
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = lec_test_run(cmd, fc_out, sizeof fc_out);
    if (getenv("LEC_TEST_VERBOSE"))
        fprintf(stderr, "$ %s\n-> %d\n%s\n", cmd, rc, fc_out);
    return rc;
}

fc_row *fc_read_log(const char *path, size_t *n)
{
    char *data;
    size_t len;
    lec_error err;
    *n = 0;
    if (lec_read_file(path, 0, &data, &len, &err) != LEC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    size_t cap = 16;
    for (size_t i = 0; i < len; i++)
        cap += data[i] == '\n';
    fc_row *r = malloc(sizeof *r * cap);
    char *save = NULL, *line = strtok_r(data, "\n", &save); /* header */
    if (!r || !line || strncmp(line, "t_s,frame,system,page,page_x_px", 31) != 0) {
        fprintf(stderr, "%s: not a position log\n", path);
        free(r);
        free(data);
        return NULL;
    }
    while ((line = strtok_r(NULL, "\n", &save))) {
        fc_row x;
        long long frame;
        float strip, tempo;
        if (sscanf(line, "%lf,%lld,%d,%d,%f,%f,%f,%d,%f", &x.t, &frame, &x.system, &x.page,
                   &x.page_x, &strip, &x.confidence, &x.lost, &tempo) == 9)
            r[(*n)++] = x;
    }
    free(data);
    return r;
}

double fc_fraction_near_truth(const fc_row *r, size_t n, double t0, double t1, float tol_px,
                              double lag_s, int *n_eval)
{
    int ok = 0, cnt = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].t < t0 || r[i].t > t1)
            continue;
        float tx;
        int sys = fc_truth(r[i].t - lag_s, &tx);
        if (sys < 0)
            continue;
        cnt++;
        ok += r[i].system == sys && fabsf(r[i].page_x - tx) <= tol_px;
    }
    *n_eval = cnt;
    return cnt ? (double)ok / cnt : 0;
}

int fc_shot(const char *file, double *t, int *page, int *system, float *x, int *lost)
{
    char key[4400];
    snprintf(key, sizeof key, "screenshot %s t=", file);
    const char *s = strstr(fc_out, key);
    if (!s)
        return -1;
    return sscanf(s + strlen(key) - 2, "t=%lf page=%d system=%d x=%f lost=%d", t, page, system,
                  x, lost) == 5
               ? 0
               : -1;
}

void fc_check_shot(const char *file, float truth_tol_px, double max_lag_s)
{
    double t;
    int page, sys, lost;
    float x;
    if (fc_shot(file, &t, &page, &sys, &x, &lost) != 0) {
        CHECKF(0, "no screenshot line for %s in: %s", file, fc_out);
        return;
    }
    if (lost) {
        /* searching: the view holds still and the marker is drawn faintly;
         * only the page is checked (the logs check the positions) */
        vp_img img;
        vp_page pg[4];
        int ok = vp_load(file, &img) == 0;
        CHECKF(ok && vp_find_pages(&img, pg, 4) == 1, "%s: one page shown", file);
        if (ok)
            vp_free(&img);
        fprintf(stderr, "note: %s: the follower was searching at t=%.3f\n", file, t);
        return;
    }
    /* single-page view (lec_view_layout.h): the last system of a page turns
     * it once the position passes 3/4 of the system (x 425 of 50..550); the
     * marker is then on the page no longer shown */
    int turned = sys % 2 == 1 && x >= 50.0f + 0.75f * 500.0f;
    int pg[1] = {turned ? page + 1 : page};
    if (turned)
        vp_check_frame(file, pg, 1, -1, 0, 0, 0, 0);
    else /* the marker where the program says the follower is (tight) */
        vp_check_frame(file, pg, 1, page, sys, x, 2.5f, 0);
    /* and that is near the truth of that time, allowing the tracker's lag */
    float best = 1e9f;
    for (double lag = 0; lag <= max_lag_s + 1e-9; lag += 0.05) {
        float tx;
        if (fc_truth(t - lag, &tx) == sys && fabsf(tx - x) < best)
            best = fabsf(tx - x);
    }
    CHECKF(best <= truth_tol_px,
           "%s: shows system %d x %.1f at t=%.3f: %.1f px from the truth of the last %.2f s",
           file, sys, x, t, (double)best, max_lag_s);
}

int fc_write_slow_bundle(const char *dir)
{
    if (vb_write(dir, 0) != 0)
        return -1;
    char path[4300];
    snprintf(path, sizeof path, "%s/audio/r.truth.json", dir);
    double t[VB_EVENTS];
    for (int i = 0; i < VB_EVENTS; i++)
        t[i] = 1 + i;
    if (vb_write_truth(path, t, VB_EVENTS) != 0)
        return -1;
    /* piece.json: the rendering's duration */
    snprintf(path, sizeof path, "%s/piece.json", dir);
    char *json;
    size_t len;
    if (lec_read_file(path, 0, &json, &len, NULL) != LEC_OK)
        return -1;
    char *d = strstr(json, "\"duration_s\":");
    int rc = -1;
    FILE *f = d ? fopen(path, "w") : NULL;
    if (f) {
        fprintf(f, "%.*s\"duration_s\":%g}]}", (int)(d - json), json, FC_SLOW_DURATION_S);
        rc = fclose(f) == 0 ? 0 : -1;
    }
    free(json);
    if (rc)
        return -1;
    snprintf(path, sizeof path, "%s/audio/r.flac", dir);
    return vb_write_tone(path, FC_SLOW_DURATION_S);
}

int fc_truth(double t, float *page_x)
{
    /* event i at 1 + i here, at 1 + 0.5 i in view_bundle.h */
    return t < 1 ? -1 : vb_truth(1.0 + 0.5 * (t - 1.0), page_x);
}

void fc_check_load_errors(const char *cmd, const char *bundle, const char *args, const char *page,
                          const char *model, const char *dir)
{
    const char *L = lec_test_lectern();
    char broken[4300];
    snprintf(broken, sizeof broken, "%s/broken", dir);
    int rc = fc_run("rm -rf %s && cp -r %s %s && rm %s/pages/%s", broken, bundle, broken, broken,
                    page);
    CHECK(rc == 0);
    rc = fc_run("%s %s %s%s --model %s --headless --log %s/x.csv 2>&1", L, cmd, broken, args, model,
                dir);
    CHECKF(rc == 1 && strstr(fc_out, page), "%s, missing page: %d %s", cmd, rc, fc_out);
    /* a bad model: named, and said to be the model */
    char bad[4300];
    snprintf(bad, sizeof bad, "%s/bad.lnm", dir);
    const char *writers[2] = {"echo 'not a model' >", "head -c 300 /dev/urandom >"};
    for (int i = 0; i < 2; i++) {
        rc = fc_run("%s %s && %s %s %s%s --model %s --headless --log %s/x.csv 2>&1", writers[i], bad,
                    L, cmd, bundle, args, bad, dir);
        CHECKF(rc == 1 && strstr(fc_out, "bad.lnm") && strstr(fc_out, "model"),
               "%s, bad model (%s): %d %s", cmd, writers[i], rc, fc_out);
    }
    rc = fc_run("%s %s %s%s --model /nonexistent/m.lnm --headless --log %s/x.csv 2>&1", L, cmd,
                bundle, args, dir);
    CHECKF(rc == 1 && strstr(fc_out, "/nonexistent/m.lnm"), "%s, missing model: %d %s", cmd, rc,
           fc_out);
}

int fc_write_fake_infile(const char *audio, const char *raw, int rate)
{
    lec_source_config cfg;
    lec_source_config_default(&cfg);
    cfg.kind = LEC_SOURCE_FILE;
    cfg.path = audio;
    cfg.sample_rate = rate; /* resampled by the engine's own file source */
    lec_error err;
    lec_source *src = lec_source_create(&cfg, &err);
    if (!src) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    FILE *fp = fopen(raw, "wb");
    int rc = fp ? 0 : -1;
    float x[1024], fr[2048];
    size_t k;
    while (!rc && lec_source_read(src, x, 1024, &k, 0, &err) == LEC_OK && k > 0) {
        for (size_t i = 0; i < k; i++)
            fr[2 * i] = fr[2 * i + 1] = x[i];
        if (fwrite(fr, sizeof(float) * 2, k, fp) != k)
            rc = -1;
    }
    lec_source_destroy(src);
    if (fp && fclose(fp) != 0)
        rc = -1;
    return rc;
}
