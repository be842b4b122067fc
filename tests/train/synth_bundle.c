#include "synth_bundle.h"

#include <cairo.h>
#include <math.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_util.h"

#define PAGE_W 800
#define PAGE_H 300
#define SS 8.0 /* staff space, px */
#define SR 22050

static const int WHITE_KEYS[9] = {64, 65, 67, 69, 71, 72, 74, 76, 77}; /* E4 .. F5 */

static uint64_t next(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (k < 0)
            return -1;
        if ((size_t)k < *cap - *len) {
            *len += (size_t)k;
            return 0;
        }
        char *b = realloc(*buf, *cap * 2);
        if (!b)
            return -1;
        *buf = b;
        *cap *= 2;
    }
}

int synth_bundle_write(const char *dir, uint64_t seed, const char *split,
                       const char *const *soundfonts, int n_renderings)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/pages", dir);
    if (lec_mkdir_p(path, NULL))
        return -1;
    snprintf(path, sizeof path, "%s/audio", dir);
    if (lec_mkdir_p(path, NULL))
        return -1;

    enum { N = SYNTH_NOTES_PER_SYSTEM * SYNTH_SYSTEMS };
    int pitch[N], step[N];
    float hx[N], hy[N];
    int sysof[N];
    const double staff_top[SYNTH_SYSTEMS] = {60.0, 180.0};
    uint64_t s = seed * 7919 + 1;
    for (int i = 0; i < N; i++) {
        step[i] = (int)(next(&s) % 9);
        pitch[i] = WHITE_KEYS[step[i]];
        sysof[i] = i / SYNTH_NOTES_PER_SYSTEM;
        int k = i % SYNTH_NOTES_PER_SYSTEM;
        hx[i] = (float)(90.0 + 68.0 * k);
        /* step 0 = bottom line (E4), each step half a staff space up */
        hy[i] = (float)(staff_top[sysof[i]] + 4.0 * SS - step[i] * SS / 2.0);
    }

    /* ---- page image */
    cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, PAGE_W, PAGE_H);
    cairo_t *cr = cairo_create(sf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1.0);
    for (int y = 0; y < SYNTH_SYSTEMS; y++)
        for (int l = 0; l < 5; l++) {
            double yy = staff_top[y] + l * SS + 0.5;
            cairo_move_to(cr, 40, yy);
            cairo_line_to(cr, 760, yy);
        }
    cairo_stroke(cr);
    for (int i = 0; i < N; i++)
        cairo_rectangle(cr, hx[i] - 5, hy[i] - 4, 10, 8);
    cairo_fill(cr);
    snprintf(path, sizeof path, "%s/pages/page-1.png", dir);
    int bad = cairo_surface_write_to_png(sf, path) != CAIRO_STATUS_SUCCESS;
    cairo_destroy(cr);
    cairo_surface_destroy(sf);
    if (bad)
        return -1;

    /* ---- audio: decaying sines, one per note */
    const double dur = 0.5 + N * SYNTH_IOI_S + 1.0;
    const size_t ns = (size_t)(dur * SR);
    float *x = calloc(ns, sizeof(float));
    if (!x)
        return -1;
    for (int i = 0; i < N; i++) {
        double t0 = 0.5 + i * SYNTH_IOI_S, f = 440.0 * pow(2.0, (pitch[i] - 69) / 12.0);
        size_t a = (size_t)(t0 * SR), len = (size_t)(0.45 * SR);
        for (size_t k = 0; k < len && a + k < ns; k++) {
            double tt = (double)k / SR;
            x[a + k] += (float)(0.3 * exp(-4.0 * tt) * sin(2 * M_PI * f * tt) *
                                (k < 64 ? k / 64.0 : 1.0));
        }
    }

    /* ---- piece.json */
    size_t cap = 1 << 14, len = 0;
    char *j = malloc(cap);
    if (!j) {
        free(x);
        return -1;
    }
    int e = 0;
    e |= append(&j, &len, &cap,
                "{\"format\":\"lectern-piece\",\"version\":1,\"name\":\"synth%llu\","
                "\"title\":\"Synth %llu\",\"composer\":\"Test\",\"license\":\"Public Domain\","
                "\"source\":\"generated\",\"source_path\":\"synth/piece%llu\",",
                (unsigned long long)seed, (unsigned long long)seed, (unsigned long long)seed);
    if (split)
        e |= append(&j, &len, &cap, "\"split\":\"%s\",", split);
    e |= append(&j, &len, &cap,
                "\"pages\":[{\"image\":\"pages/page-1.png\",\"width_px\":%d,\"height_px\":%d}],"
                "\"systems\":[",
                PAGE_W, PAGE_H);
    for (int y = 0; y < SYNTH_SYSTEMS; y++) {
        double t = staff_top[y], b = t + 4 * SS;
        e |= append(&j, &len, &cap,
                    "%s{\"page\":0,\"box\":[40,%g,760,%g],\"box_notes\":[40,%g,760,%g],"
                    "\"staves\":[{\"box\":[40,%g,760,%g],\"staff_space_px\":%g}]}",
                    y ? "," : "", t, b, t - 4, b + 4, t, b, SS);
    }
    e |= append(&j, &len, &cap, "],\"heads\":[");
    for (int i = 0; i < N; i++)
        e |= append(&j, &len, &cap,
                    "%s{\"page\":0,\"system\":%d,\"staff\":0,\"box\":[%g,%g,%g,%g],\"pitch\":%d,"
                    "\"onset\":\"%d/4\",\"grace\":\"0/1\",\"onset_wn\":%g,\"tied\":false,"
                    "\"origin\":\"synth.ly:%d:1\"}",
                    i ? "," : "", sysof[i], hx[i] - 5, hy[i] - 4, hx[i] + 5, hy[i] + 4, pitch[i],
                    i, i / 4.0, i + 1);
    e |= append(&j, &len, &cap, "],\"performance\":{\"notes\":[");
    for (int i = 0; i < N; i++)
        e |= append(&j, &len, &cap,
                    "%s{\"t_wn\":%g,\"dur_wn\":0.25,\"pitch\":%d,\"velocity\":0,\"head\":%d,"
                    "\"staff\":0}",
                    i ? "," : "", i / 4.0, pitch[i], i);
    e |= append(&j, &len, &cap, "],\"events\":[");
    for (int i = 0; i < N; i++)
        e |= append(&j, &len, &cap,
                    "%s{\"t_wn\":%g,\"first_note\":%d,\"n_notes\":1,\"heads\":[%d]}", i ? "," : "",
                    i / 4.0, i, i);
    e |= append(&j, &len, &cap, "]},\"renderings\":[");
    for (int r = 0; r < n_renderings; r++)
        e |= append(&j, &len, &cap,
                    "%s{\"name\":\"r%d\",\"audio\":\"audio/r%d.flac\",\"midi\":\"audio/r%d.mid\","
                    "\"truth\":\"audio/r%d.json\",\"soundfont\":\"%s\",\"tempo_factor\":1,"
                    "\"humanized\":false,\"duration_s\":%g}",
                    r ? "," : "", r, r, r, r, soundfonts[r], dur);
    e |= append(&j, &len, &cap, "]}");
    if (!e) {
        snprintf(path, sizeof path, "%s/piece.json", dir);
        e |= lec_write_file_atomic(path, j, len, NULL) != LEC_OK;
    }
    free(j);

    /* ---- renderings: audio + ground truth */
    for (int r = 0; r < n_renderings && !e; r++) {
        snprintf(path, sizeof path, "%s/audio/r%d.flac", dir, r);
        SF_INFO info = {.samplerate = SR, .channels = 1, .format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16};
        SNDFILE *f = sf_open(path, SFM_WRITE, &info);
        if (!f) {
            e = 1;
            break;
        }
        float g = 1.0f - 0.2f * (float)r;
        float buf[4096];
        for (size_t k = 0; k < ns && !e; k += 4096) {
            size_t m = ns - k < 4096 ? ns - k : 4096;
            for (size_t q = 0; q < m; q++)
                buf[q] = g * x[k + q];
            e |= sf_writef_float(f, buf, (sf_count_t)m) != (sf_count_t)m;
        }
        sf_close(f);
        size_t tl = 0, tc = 4096;
        char *t = malloc(tc);
        if (!t) {
            e = 1;
            break;
        }
        e |= append(&t, &tl, &tc, "{\"format\":\"lectern-truth\",\"version\":1,\"note_onset_s\":[");
        for (int i = 0; i < N; i++)
            e |= append(&t, &tl, &tc, "%s%g", i ? "," : "", 0.5 + i * SYNTH_IOI_S);
        e |= append(&t, &tl, &tc, "],\"event_onset_s\":[");
        for (int i = 0; i < N; i++)
            e |= append(&t, &tl, &tc, "%s%g", i ? "," : "", 0.5 + i * SYNTH_IOI_S);
        e |= append(&t, &tl, &tc, "]}");
        snprintf(path, sizeof path, "%s/audio/r%d.json", dir, r);
        if (!e)
            e |= lec_write_file_atomic(path, t, tl, NULL) != LEC_OK;
        free(t);
    }
    free(x);
    return e ? -1 : 0;
}
