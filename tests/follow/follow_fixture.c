/* follow_fixture.c -- see follow_fixture.h. */
#include "follow_fixture.h"

#include <cairo.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_source.h"
#include "lec_spec.h"
#include "lec_util.h"

#define PW 800
#define PH 400
#define SS 10.0 /* staff space on the page, px */

static const int sys_page[FIX_N_SYSTEMS] = {0, 0, 1};
static const double sys_top[FIX_N_SYSTEMS] = {100, 250, 150}; /* top staff line, page y */
static const int pitches[8] = {60, 62, 64, 65, 67, 69, 71, 72};

float *fix_read_audio(const char *path, size_t *n)
{
    lec_source_config sc;
    lec_source_config_default(&sc);
    sc.kind = LEC_SOURCE_FILE;
    sc.path = path;
    lec_error err;
    lec_source *s = lec_source_create(&sc, &err);
    if (!s) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    size_t cap = (size_t)(lec_source_duration_s(s) * FIX_SR) + 2 * FIX_SR, len = 0;
    float *x = malloc(sizeof(float) * cap);
    while (x && len < cap) {
        size_t got = 0;
        if (lec_source_read(s, x + len, cap - len, &got, 0, &err) || got == 0)
            break;
        len += got;
    }
    lec_source_destroy(s);
    *n = len;
    return x;
}

double fix_event_time(int e, double tf) { return FIX_LEAD_S + e * FIX_IOI_S / tf; }
int fix_event_pitch(int e) { return pitches[(e * 3) % 8]; }

static double head_xc(int e) { return 120.0 + 80.0 * (e % FIX_HEADS_PER_SYSTEM); }
/* head centre y: pitch index k sits k half staff spaces above the bottom line - 1 */
static double head_yc(int e)
{
    int k = (e * 3) % 8;
    return sys_top[e / FIX_HEADS_PER_SYSTEM] + 4 * SS + SS - k * SS / 2;
}

static int write_pages(const char *dir)
{
    char path[4200];
    for (int p = 0; p < 2; p++) {
        cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, PW, PH);
        cairo_t *cr = cairo_create(s);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_paint(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        for (int k = 0; k < FIX_N_SYSTEMS; k++) {
            if (sys_page[k] != p)
                continue;
            for (int l = 0; l < 5; l++) {
                cairo_rectangle(cr, 50, sys_top[k] + l * SS, 700, 1);
                cairo_fill(cr);
            }
            for (int j = 0; j < FIX_HEADS_PER_SYSTEM; j++) {
                int e = k * FIX_HEADS_PER_SYSTEM + j;
                cairo_save(cr);
                cairo_translate(cr, head_xc(e), head_yc(e));
                cairo_scale(cr, 6.5, 4.5);
                cairo_arc(cr, 0, 0, 1, 0, 2 * M_PI);
                cairo_restore(cr);
                cairo_fill(cr);
                cairo_rectangle(cr, head_xc(e) + 5.5, head_yc(e) - 30, 1.2, 30); /* stem */
                cairo_fill(cr);
            }
        }
        cairo_destroy(cr);
        snprintf(path, sizeof path, "%s/pages/page-%d.png", dir, p + 1);
        int bad = cairo_surface_write_to_png(s, path) != CAIRO_STATUS_SUCCESS;
        cairo_surface_destroy(s);
        if (bad) {
            fprintf(stderr, "fixture: cannot write %s\n", path);
            return -1;
        }
    }
    return 0;
}

static int write_audio(const char *path, double tf, double *dur_s)
{
    double t_last = fix_event_time(FIX_N_EVENTS - 1, tf);
    double dur = t_last + 1.5;
    size_t n = (size_t)(dur * FIX_SR);
    float *x = calloc(n, sizeof(float));
    if (!x)
        return -1;
    for (int e = 0; e < FIX_N_EVENTS; e++) {
        double t0 = fix_event_time(e, tf);
        double t1 = e + 1 < FIX_N_EVENTS ? fix_event_time(e + 1, tf) : t_last + 1.0;
        double f0 = 440.0 * pow(2.0, (fix_event_pitch(e) - 69) / 12.0);
        size_t i0 = (size_t)lround(t0 * FIX_SR), i1 = (size_t)lround(t1 * FIX_SR);
        for (size_t i = i0; i < i1 && i < n; i++) {
            double t = (double)(i - i0) / FIX_SR;
            double env = exp(-t / 0.4) * (1.0 - exp(-t / 0.003));
            double v = 0;
            for (int h = 1; h <= 3; h++)
                v += sin(2 * M_PI * f0 * h * t) / h;
            x[i] += (float)(0.25 * env * v);
        }
    }
    SF_INFO info = {0};
    info.samplerate = FIX_SR;
    info.channels = 1;
    info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) {
        fprintf(stderr, "fixture: cannot write %s: %s\n", path, sf_strerror(NULL));
        free(x);
        return -1;
    }
    sf_count_t w = sf_writef_float(sf, x, (sf_count_t)n);
    sf_close(sf);
    free(x);
    *dur_s = dur;
    return w == (sf_count_t)n ? 0 : -1;
}

int fix_write_bundle(const char *dir, const fix_opts *o)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/pages", dir);
    if (lec_mkdir_p(path, NULL))
        return -1;
    snprintf(path, sizeof path, "%s/audio", dir);
    if (lec_mkdir_p(path, NULL))
        return -1;
    if (write_pages(dir))
        return -1;
    double dur[2] = {0, 0};
    for (int r = 0; r < o->n_renderings; r++) {
        snprintf(path, sizeof path, "%s/audio/r%d.flac", dir, r);
        if (write_audio(path, o->tempo[r], &dur[r]))
            return -1;
        snprintf(path, sizeof path, "%s/audio/r%d.json", dir, r);
        FILE *f = fopen(path, "w");
        if (!f)
            return -1;
        fprintf(f, "{\"format\":\"lectern-truth\",\"version\":1,\"note_onset_s\":[");
        for (int e = 0; e < FIX_N_EVENTS; e++)
            fprintf(f, "%s%.6f", e ? "," : "", fix_event_time(e, o->tempo[r]));
        fprintf(f, "],\"event_onset_s\":[");
        for (int e = 0; e < FIX_N_EVENTS; e++)
            fprintf(f, "%s%.6f", e ? "," : "", fix_event_time(e, o->tempo[r]));
        fprintf(f, "]}");
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/piece.json", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"format\":\"lectern-piece\",\"version\":1,\"title\":\"fixture\","
               "\"composer\":\"test\",\"license\":\"Public Domain\",\"source\":\"generated\","
               "\"pages\":[");
    for (int p = 0; p < 2; p++)
        fprintf(f, "%s{\"image\":\"pages/page-%d.png\",\"width_px\":%d,\"height_px\":%d}",
                p ? "," : "", p + 1, PW, PH);
    fprintf(f, "],\"systems\":[");
    for (int k = 0; k < FIX_N_SYSTEMS; k++) {
        double y0 = sys_top[k], y1 = sys_top[k] + 4 * SS;
        fprintf(f,
                "%s{\"page\":%d,\"box\":[50,%g,750,%g],\"box_notes\":[50,%g,750,%g],"
                "\"staves\":[{\"box\":[50,%g,750,%g],\"staff_space_px\":%g}]}",
                k ? "," : "", sys_page[k], y0, y1, y0 - 2 * SS, y1 + 2 * SS, y0, y1, SS);
    }
    fprintf(f, "],\"heads\":[");
    for (int e = 0; e < FIX_N_EVENTS; e++) {
        int k = e / FIX_HEADS_PER_SYSTEM;
        fprintf(f,
                "%s{\"page\":%d,\"system\":%d,\"staff\":0,\"box\":[%g,%g,%g,%g],\"pitch\":%d,"
                "\"onset\":\"%d/4\",\"grace\":\"0/1\",\"onset_wn\":%g,\"tied\":false,"
                "\"origin\":\"fixture.ly:1:%d\"}",
                e ? "," : "", sys_page[k], k, head_xc(e) - 6.5, head_yc(e) - 4.5, head_xc(e) + 6.5,
                head_yc(e) + 4.5, fix_event_pitch(e), e, e / 4.0, e + 1);
    }
    fprintf(f, "],\"performance\":{\"notes\":[");
    for (int e = 0; e < FIX_N_EVENTS; e++)
        fprintf(f,
                "%s{\"t_wn\":%g,\"dur_wn\":0.25,\"pitch\":%d,\"velocity\":64,\"head\":%d,"
                "\"staff\":0}",
                e ? "," : "", e / 4.0, fix_event_pitch(e), e);
    fprintf(f, "],\"events\":[");
    for (int e = 0; e < FIX_N_EVENTS; e++)
        fprintf(f, "%s{\"t_wn\":%g,\"first_note\":%d,\"n_notes\":1}", e ? "," : "", e / 4.0, e);
    fprintf(f, "]},\"renderings\":[");
    for (int r = 0; r < o->n_renderings; r++)
        fprintf(f,
                "%s{\"name\":\"r%d\",\"audio\":\"audio/r%d.flac\",\"midi\":\"\","
                "\"truth\":\"audio/r%d.json\",\"soundfont\":\"sine\",\"tempo_factor\":%g,"
                "\"humanized\":false,\"duration_s\":%.6f}",
                r ? "," : "", r, r, r, o->tempo[r], dur[r]);
    fprintf(f, "]}");
    return fclose(f) == 0 ? 0 : -1;
}

int fix_default_bands(void)
{
    lec_spec_config sc;
    lec_spec_config_default(&sc);
    lec_spec *s = lec_spec_create(&sc, NULL);
    int b = s ? lec_spec_n_bands(s) : -1;
    lec_spec_destroy(s);
    return b;
}

void fix_tiny_arch(lec_nn_arch *a, int outside)
{
    lec_nn_arch_default(a);
    a->score_h = 40;
    a->score_w = 64;
    a->spec_bands = fix_default_bands();
    a->spec_frames = 8;
    a->n_out = 16 + (outside ? 1 : 0);
    snprintf(a->score_layers, sizeof a->score_layers, "c4,p,c4,p,d16");
    snprintf(a->spec_layers, sizeof a->spec_layers, "c4,p,d16");
    snprintf(a->head_layers, sizeof a->head_layers, "d16");
    a->spec_mean = 0.5f;
    a->spec_std = 0.5f;
}

void fix_tiny_info(lec_model_info *info, const lec_nn_arch *a)
{
    lec_model_info_default(info);
    info->staff_space_px = 4.0;
    info->window_width_px = a->score_w;
    info->window_height_px = a->score_h;
    info->buckets = a->n_out;
}

int fix_write_model(const char *path, int outside, uint64_t seed)
{
    lec_nn_arch a;
    fix_tiny_arch(&a, outside);
    lec_model_info info;
    fix_tiny_info(&info, &a);
    lec_error err;
    lec_nn_net *net = lec_nn_net_create(&a, &err);
    if (!net) {
        fprintf(stderr, "fixture: %s\n", err.msg);
        return -1;
    }
    lec_nn_net_init(net, seed);
    lec_meta extra;
    lec_meta_init(&extra);
    int rc = 0;
    if (outside && lec_meta_set_int(&extra, "model.outside_class", 1, &err))
        rc = -1;
    if (!rc && lec_model_save(path, net, &info, &extra, &err)) {
        fprintf(stderr, "fixture: %s\n", err.msg);
        rc = -1;
    }
    lec_meta_free(&extra);
    lec_nn_net_destroy(net);
    return rc;
}
