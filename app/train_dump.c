/* train_dump.c -- `lectern train --dump-samples DIR`: what the network is
 * shown, as pictures. One PNG per sample: the score window (ink, black on
 * white) with the B bucket boundaries, the soft target as a bar under each
 * bucket and the true position as a red line; under it the spectrogram
 * excerpt (low bands at the bottom, newest frame on the right). samples.tsv
 * lists piece, rendering, time, true x, window origin and target bucket.
 * This is how one checks by eye that the onset at the right edge of the
 * spectrogram is the note under the red line. */
#include "train_dump.h"

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_util.h"

#define ZOOM 4

static void gray_to_surface(cairo_surface_t *s, const float *v, int h, int w, float lo, float hi,
                            int flip, int invert)
{
    cairo_surface_flush(s);
    unsigned char *d = cairo_image_surface_get_data(s);
    const int stride = cairo_image_surface_get_stride(s);
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++) {
            float x = (v[(size_t)(flip ? h - 1 - r : r) * w + c] - lo) / (hi - lo);
            x = x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x;
            if (invert)
                x = 1.0f - x;
            const uint32_t g = (uint32_t)lrintf(x * 255.0f);
            ((uint32_t *)(d + (size_t)r * stride))[c] = 0xff000000u | g << 16 | g << 8 | g;
        }
    cairo_surface_mark_dirty(s);
}

int lec_train_dump_samples(const lec_dataset *ds, const char *dir, const char *tag, int n,
                           uint64_t seed)
{
    const lec_dataset_config *c = lec_dataset_config_of(ds);
    const int H = c->info.window_height_px, W = c->info.window_width_px;
    const int F = c->spec_frames, NB = lec_dataset_n_bands(ds), B = lec_dataset_n_buckets(ds);
    const int n_out = c->info.buckets;
    lec_error err;
    if (lec_mkdir_p(dir, &err)) {
        fprintf(stderr, "lectern train: --dump-samples: %s\n", err.msg);
        return 1;
    }
    float *score = malloc(sizeof(float) * (size_t)H * W);
    float *spec = malloc(sizeof(float) * (size_t)NB * F);
    float *target = malloc(sizeof(float) * (size_t)n_out);
    char path[2048];
    snprintf(path, sizeof path, "%s/%s-samples.tsv", dir, tag);
    FILE *tsv = fopen(path, "w");
    if (!score || !spec || !target || !tsv) {
        fprintf(stderr, "lectern train: --dump-samples: %s: %s\n", path, strerror(errno));
        free(score), free(spec), free(target);
        if (tsv)
            fclose(tsv);
        return 1;
    }
    fprintf(tsv, "file\tpiece\trendering\tt_s\tlast_frame\tx\tx0\tpx_per_col\toutside\tbucket\n");
    /* spectrogram colour range from the first excerpt's maximum over all: log10(1+x) */
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        lec_sample_info in;
        /* one sample at a time, step i: the same function training uses */
        lec_dataset_sample(ds, seed, i, 1, score, spec, target, &in);
        const int pw = W * ZOOM, gap = 8, bar = 24;
        const int sh = NB * (ZOOM / 2 > 0 ? ZOOM / 2 : 1), sw = F * ZOOM;
        const int img_w = (pw > sw ? pw : sw) + 2 * gap;
        const int img_h = H * ZOOM + bar + sh + 4 * gap + 20;
        cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, img_w, img_h);
        cairo_t *cr = cairo_create(img);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_paint(cr);
        /* score window */
        cairo_surface_t *sc = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
        gray_to_surface(sc, score, H, W, 0.0f, 1.0f, 0, 1);
        cairo_save(cr);
        cairo_translate(cr, gap, gap);
        cairo_scale(cr, ZOOM, ZOOM);
        cairo_set_source_surface(cr, sc, 0, 0);
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
        cairo_paint(cr);
        cairo_restore(cr);
        cairo_surface_destroy(sc);
        /* bucket grid and target bars */
        cairo_set_line_width(cr, 1.0);
        for (int b = 0; b <= B; b++) {
            const double x = gap + (double)b * pw / B;
            cairo_set_source_rgba(cr, 0.2, 0.4, 1.0, 0.5);
            cairo_move_to(cr, x + 0.5, gap);
            cairo_line_to(cr, x + 0.5, gap + H * ZOOM + bar);
            cairo_stroke(cr);
        }
        for (int b = 0; b < B; b++) {
            const double hgt = target[b] * bar;
            cairo_set_source_rgb(cr, b == in.bucket ? 0.9 : 0.3, 0.5, b == in.bucket ? 0.1 : 0.9);
            cairo_rectangle(cr, gap + (double)b * pw / B + 2, gap + H * ZOOM + bar - hgt,
                            (double)pw / B - 4, hgt);
            cairo_fill(cr);
        }
        if (!in.outside) {
            const double xc = gap + (in.x - in.x0) / in.px_per_col * ZOOM;
            cairo_set_source_rgb(cr, 0.9, 0.0, 0.0);
            cairo_set_line_width(cr, 2.0);
            cairo_move_to(cr, xc, gap);
            cairo_line_to(cr, xc, gap + H * ZOOM);
            cairo_stroke(cr);
        }
        /* spectrogram: low bands at the bottom, newest frame right-aligned
         * with the window's right edge */
        cairo_surface_t *sp = cairo_image_surface_create(CAIRO_FORMAT_RGB24, F, NB);
        gray_to_surface(sp, spec, NB, F, 0.0f, 1.5f, 1, 1);
        cairo_save(cr);
        cairo_translate(cr, gap, gap * 2 + H * ZOOM + bar);
        cairo_scale(cr, ZOOM, (double)sh / NB);
        cairo_set_source_surface(cr, sp, 0, 0);
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
        cairo_paint(cr);
        cairo_restore(cr);
        cairo_surface_destroy(sp);
        char label[512];
        snprintf(label, sizeof label, "%s  t=%.2fs  x=%.1f  bucket %d%s",
                 lec_dataset_piece_name(ds, (size_t)in.piece), in.t_s, in.x, in.bucket,
                 in.outside ? " (outside)" : "");
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_select_font_face(cr, "sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, 11);
        cairo_move_to(cr, gap, img_h - 8);
        cairo_show_text(cr, label);
        cairo_destroy(cr);
        char name[64];
        snprintf(name, sizeof name, "%s-%04d.png", tag, i);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (cairo_surface_write_to_png(img, path) != CAIRO_STATUS_SUCCESS) {
            fprintf(stderr, "lectern train: --dump-samples: cannot write %s\n", path);
            rc = 1;
        }
        cairo_surface_destroy(img);
        fprintf(tsv, "%s\t%s\t%d\t%.4f\t%d\t%.2f\t%.2f\t%.4f\t%d\t%d\n", name,
                lec_dataset_piece_name(ds, (size_t)in.piece), in.rendering, in.t_s,
                in.last_frame, in.x, in.x0, in.px_per_col, in.outside, in.bucket);
    }
    if (fclose(tsv) != 0 && !rc) {
        fprintf(stderr, "lectern train: --dump-samples: %s/%s-samples.tsv: %s\n", dir, tag,
                strerror(errno));
        rc = 1;
    }
    free(score), free(spec), free(target);
    /* cairo's toy text API loaded fontconfig: every cairo object is gone, so free
     * both libraries' caches here, or leak checkers report them at exit */
    cairo_debug_reset_static_data();
    FcFini();
    if (!rc)
        fprintf(stderr, "lectern train: wrote %d %s samples to %s\n", n, tag, dir);
    return rc;
}
