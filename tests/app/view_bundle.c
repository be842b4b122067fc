/* view_bundle.c -- see view_bundle.h. */
#include "view_bundle.h"

#include <SDL.h>
#include <SDL_image.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_util.h"

static void fill(uint8_t *g, int x0, int y0, int x1, int y1)
{
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            g[y * VB_PW + x] = 0;
}

static int save_png(const uint8_t *g, const char *path)
{
    SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(0, VB_PW, VB_PH, 32, SDL_PIXELFORMAT_RGBA32);
    if (!s)
        return -1;
    for (int y = 0; y < VB_PH; y++) {
        uint8_t *row = (uint8_t *)s->pixels + y * s->pitch;
        for (int x = 0; x < VB_PW; x++) {
            row[4 * x] = row[4 * x + 1] = row[4 * x + 2] = g[y * VB_PW + x];
            row[4 * x + 3] = 255;
        }
    }
    int rc = IMG_SavePNG(s, path);
    SDL_FreeSurface(s);
    return rc;
}

int vb_write_tone(const char *path, double duration_s)
{
    SF_INFO info = {0};
    info.samplerate = 22050;
    info.channels = 1;
    info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf)
        return -1;
    int n = (int)(duration_s * 22050);
    float *x = malloc(sizeof(float) * (size_t)n);
    for (int i = 0; x && i < n; i++)
        x[i] = 0.1f * sinf(2 * 3.14159265f * 440.0f * (float)i / 22050.0f);
    int ok = x && sf_writef_float(sf, x, n) == n;
    free(x);
    sf_close(sf);
    return ok ? 0 : -1;
}

static int write_audio(const char *path, int real)
{
    if (!real) {
        FILE *f = fopen(path, "wb");
        return f && fclose(f) == 0 ? 0 : -1;
    }
    return vb_write_tone(path, VB_DURATION_S);
}

int vb_write_truth(const char *path, const double *t, int n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"note_onset_s\":[");
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%g", i ? "," : "", t[i]);
    fprintf(f, "],\"event_onset_s\":[");
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%g", i ? "," : "", t[i]);
    fprintf(f, "]}");
    return fclose(f) == 0 ? 0 : -1;
}

int vb_write(const char *dir, int with_audio)
{
    char path[4200];
    int rc = 0;
    snprintf(path, sizeof path, "%s/pages", dir);
    if (lec_mkdir_p(path, NULL) != LEC_OK)
        return -1;
    snprintf(path, sizeof path, "%s/audio", dir);
    if (lec_mkdir_p(path, NULL) != LEC_OK)
        return -1;
    uint8_t *g = malloc(VB_PW * VB_PH);
    if (!g)
        return -1;
    for (int p = 0; p < VB_PAGES; p++) {
        memset(g, 255, VB_PW * VB_PH);
        for (int j = 0; j <= p; j++)
            fill(g, 20 + 40 * j, 20, 20 + 40 * j + VB_MARK, 20 + VB_MARK);
        for (int s = 0; s < 2; s++) {
            int k = 2 * p + s;
            for (int st = 0; st < 2; st++)
                for (int l = 0; l < 5; l++) {
                    int y = (int)(vb_sys_top(k) + st * 100 + l * VB_SS);
                    fill(g, 50, y, 550, y + 1);
                }
            for (int h = 0; h < 3; h++) {
                int xc = (int)vb_head_x(h), yc = (int)(vb_sys_top(k) + 2 * VB_SS);
                fill(g, xc - 6, yc - 4, xc + 6, yc + 4);
            }
        }
        snprintf(path, sizeof path, "%s/pages/page-%d.png", dir, p + 1);
        rc |= save_png(g, path);
    }
    free(g);
    snprintf(path, sizeof path, "%s/audio/r.flac", dir);
    rc |= write_audio(path, with_audio);

    snprintf(path, sizeof path, "%s/audio/r.truth.json", dir);
    double t[VB_EVENTS];
    for (int i = 0; i < VB_EVENTS; i++)
        t[i] = vb_event_t(i);
    if (vb_write_truth(path, t, VB_EVENTS) != 0)
        return -1;

    snprintf(path, sizeof path, "%s/piece.json", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"format\":\"lectern-piece\",\"version\":1,\"title\":\"viewer test\","
               "\"composer\":\"c\",\"license\":\"Public Domain\",\"source\":\"test\",\"pages\":[");
    for (int p = 0; p < VB_PAGES; p++)
        fprintf(f, "%s{\"image\":\"pages/page-%d.png\",\"width_px\":%d,\"height_px\":%d}",
                p ? "," : "", p + 1, VB_PW, VB_PH);
    fprintf(f, "],\"systems\":[");
    for (int k = 0; k < VB_SYSTEMS; k++) {
        float y0 = vb_sys_top(k), y1 = y0 + 100 + 4 * VB_SS;
        fprintf(f,
                "%s{\"page\":%d,\"box\":[50,%g,550,%g],\"box_notes\":[50,%g,550,%g],"
                "\"staves\":[{\"box\":[50,%g,550,%g],\"staff_space_px\":%d},"
                "{\"box\":[50,%g,550,%g],\"staff_space_px\":%d}]}",
                k ? "," : "", k / 2, y0, y1, y0, y1, y0, y0 + 4 * VB_SS, VB_SS, y0 + 100, y1,
                VB_SS);
    }
    fprintf(f, "],\"heads\":[");
    for (int i = 0; i < VB_EVENTS; i++) {
        int k = i / 3;
        float xc = vb_head_x(i % 3), yc = vb_sys_top(k) + 2 * VB_SS;
        fprintf(f,
                "%s{\"page\":%d,\"system\":%d,\"staff\":0,\"box\":[%g,%g,%g,%g],\"pitch\":60,"
                "\"onset\":\"%d/4\",\"grace\":\"0/1\",\"onset_wn\":%g,\"tied\":false,"
                "\"origin\":\"x.ly:1:%d\"}",
                i ? "," : "", k / 2, k, xc - 6, yc - 4, xc + 6, yc + 4, i, i / 4.0, i);
    }
    fprintf(f, "],\"performance\":{\"notes\":[");
    for (int i = 0; i < VB_EVENTS; i++)
        fprintf(f,
                "%s{\"t_wn\":%g,\"dur_wn\":0.25,\"pitch\":60,\"velocity\":64,\"head\":%d,"
                "\"staff\":0}",
                i ? "," : "", i / 4.0, i);
    fprintf(f, "],\"events\":[");
    for (int i = 0; i < VB_EVENTS; i++)
        fprintf(f, "%s{\"t_wn\":%g,\"first_note\":%d,\"n_notes\":1}", i ? "," : "", i / 4.0, i);
    fprintf(f,
            "]},\"renderings\":[{\"name\":\"r\",\"audio\":\"audio/r.flac\",\"midi\":\"\","
            "\"truth\":\"audio/r.truth.json\",\"soundfont\":\"x\",\"tempo_factor\":1,"
            "\"duration_s\":%g}]}",
            VB_DURATION_S);
    rc |= fclose(f);
    return rc ? -1 : 0;
}

int vb_truth(double t, float *page_x)
{
    for (int i = 0; i + 1 < VB_EVENTS; i++) {
        double t0 = vb_event_t(i), t1 = vb_event_t(i + 1);
        if (t >= t0 && t <= t1 && i / 3 == (i + 1) / 3) {
            *page_x = vb_head_x(i % 3) + (float)((t - t0) / (t1 - t0)) * 150.0f;
            return i / 3;
        }
    }
    return -1;
}
