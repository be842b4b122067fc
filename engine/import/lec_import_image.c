/* lec_import_image.c -- gray page images: allocation, resampling, rotation,
 * scan-like degradation (for the measurement), box IoU and matching. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lec_import.h"

#define PI 3.14159265358979323846

lec_status lec_import_image_alloc(lec_import_image *img, int w, int h, lec_error *err)
{
    img->gray = NULL;
    img->width_px = img->height_px = 0;
    if (w < 1 || h < 1 || w > LEC_IMPORT_MAX_SIDE_PX || h > LEC_IMPORT_MAX_SIDE_PX ||
        (double)w * (double)h > LEC_IMPORT_MAX_AREA_PX)
        return lec_error_set(err, LEC_EUNSUPPORTED,
                             "image of %dx%d px is beyond the limits (%d px a side, %.0f Mpx)", w,
                             h, LEC_IMPORT_MAX_SIDE_PX, LEC_IMPORT_MAX_AREA_PX / 1e6);
    img->gray = malloc((size_t)w * (size_t)h);
    if (!img->gray)
        return lec_error_set(err, LEC_ENOMEM, "out of memory for a %dx%d px image", w, h);
    memset(img->gray, 255, (size_t)w * (size_t)h);
    img->width_px = w;
    img->height_px = h;
    return LEC_OK;
}

void lec_import_image_free(lec_import_image *img)
{
    if (!img)
        return;
    free(img->gray);
    img->gray = NULL;
    img->width_px = img->height_px = 0;
}

lec_status lec_import_image_resample(const lec_import_image *in, double scale,
                                     lec_import_image *out, lec_error *err)
{
    if (!(scale > 0.01 && scale < 100))
        return lec_error_set(err, LEC_EINVAL, "resample: scale %g out of range", scale);
    int W = in->width_px, H = in->height_px;
    int w = (int)lround(W * scale), h = (int)lround(H * scale);
    if (w < 1)
        w = 1;
    if (h < 1)
        h = 1;
    lec_status st = lec_import_image_alloc(out, w, h, err);
    if (st)
        return st;
    double sx = (double)W / w, sy = (double)H / h; /* input px per output px */
    if (sx >= 1.0 && sy >= 1.0) {
        /* Area average: output pixel (x, y) covers input [x*sx, (x+1)*sx) x
         * [y*sy, (y+1)*sy) with fractional edge weights. */
        for (int y = 0; y < h; y++) {
            double y0 = y * sy, y1 = (y + 1) * sy;
            for (int x = 0; x < w; x++) {
                double x0 = x * sx, x1 = (x + 1) * sx;
                double acc = 0, wsum = 0;
                for (int iy = (int)y0; iy < H && iy < y1; iy++) {
                    double wy = fmin(iy + 1, y1) - fmax(iy, y0);
                    if (wy <= 0)
                        continue;
                    const uint8_t *row = in->gray + (size_t)iy * W;
                    for (int ix = (int)x0; ix < W && ix < x1; ix++) {
                        double wx = fmin(ix + 1, x1) - fmax(ix, x0);
                        if (wx <= 0)
                            continue;
                        acc += wx * wy * row[ix];
                        wsum += wx * wy;
                    }
                }
                out->gray[(size_t)y * w + x] = (uint8_t)lround(wsum > 0 ? acc / wsum : 255);
            }
        }
    } else {
        /* Bilinear, pixel centres aligned. */
        for (int y = 0; y < h; y++) {
            double fy = (y + 0.5) * sy - 0.5;
            if (fy < 0)
                fy = 0;
            if (fy > H - 1)
                fy = H - 1;
            int y0 = (int)fy, y1 = y0 + 1 < H ? y0 + 1 : y0;
            double ay = fy - y0;
            for (int x = 0; x < w; x++) {
                double fx = (x + 0.5) * sx - 0.5;
                if (fx < 0)
                    fx = 0;
                if (fx > W - 1)
                    fx = W - 1;
                int x0 = (int)fx, x1 = x0 + 1 < W ? x0 + 1 : x0;
                double ax = fx - x0;
                const uint8_t *r0 = in->gray + (size_t)y0 * W, *r1 = in->gray + (size_t)y1 * W;
                double v = (1 - ay) * ((1 - ax) * r0[x0] + ax * r0[x1]) +
                           ay * ((1 - ax) * r1[x0] + ax * r1[x1]);
                out->gray[(size_t)y * w + x] = (uint8_t)lround(v);
            }
        }
    }
    return LEC_OK;
}

lec_status lec_import_image_rotate(const lec_import_image *in, double deg, int fill,
                                   lec_import_image *out, lec_error *err)
{
    int w = in->width_px, h = in->height_px;
    lec_status st = lec_import_image_alloc(out, w, h, err);
    if (st)
        return st;
    /* Counter-clockwise on screen (y down) by a: output (x, y) samples the
     * input at the inverse rotation about the centre. */
    double a = deg * PI / 180.0, c = cos(a), s = sin(a);
    double cx = 0.5 * (w - 1), cy = 0.5 * (h - 1);
    for (int y = 0; y < h; y++) {
        double dy = y - cy;
        for (int x = 0; x < w; x++) {
            double dx = x - cx;
            /* forward (ccw on screen, y down): x' = c dx + s dy, y' = -s dx + c dy;
             * inverse: dx = c x' - s y', dy = s x' + c y' */
            double fx = cx + c * dx - s * dy;
            double fy = cy + s * dx + c * dy;
            int x0 = (int)floor(fx), y0 = (int)floor(fy);
            double ax = fx - x0, ay = fy - y0;
            double v = 0;
            for (int k = 0; k < 4; k++) {
                int xx = x0 + (k & 1), yy = y0 + (k >> 1);
                double wgt = ((k & 1) ? ax : 1 - ax) * ((k >> 1) ? ay : 1 - ay);
                double p;
                if (xx >= 0 && yy >= 0 && xx < w && yy < h)
                    p = in->gray[(size_t)yy * w + xx];
                else if (fill >= 0)
                    p = fill;
                else /* replicate the nearest edge pixel */
                    p = in->gray[(size_t)(yy < 0 ? 0 : yy >= h ? h - 1 : yy) * w +
                                 (xx < 0 ? 0 : xx >= w ? w - 1 : xx)];
                v += wgt * p;
            }
            out->gray[(size_t)y * w + x] = (uint8_t)lround(v);
        }
    }
    return LEC_OK;
}

/* splitmix64: a small deterministic generator (same bytes on every machine) */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rng_uniform(uint64_t *s) { return (rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }
static double rng_normal(uint64_t *s)
{
    double u1 = rng_uniform(s), u2 = rng_uniform(s);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2 * PI * u2);
}

/* Separable Gaussian blur, kernel radius 3 sigma, edges clamped. */
static lec_status blur(lec_import_image *img, double sigma, lec_error *err)
{
    int w = img->width_px, h = img->height_px;
    int r = (int)ceil(3 * sigma);
    if (r < 1)
        return LEC_OK;
    float *k = malloc(sizeof(float) * (size_t)(2 * r + 1));
    float *tmp = malloc(sizeof(float) * (size_t)w * (size_t)h);
    if (!k || !tmp) {
        free(k);
        free(tmp);
        return lec_error_set(err, LEC_ENOMEM, "degrade: out of memory");
    }
    double sum = 0;
    for (int i = -r; i <= r; i++)
        sum += k[i + r] = (float)exp(-0.5 * i * i / (sigma * sigma));
    for (int i = 0; i <= 2 * r; i++)
        k[i] = (float)(k[i] / sum);
    for (int y = 0; y < h; y++) {
        const uint8_t *row = img->gray + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            float v = 0;
            for (int i = -r; i <= r; i++) {
                int xx = x + i < 0 ? 0 : x + i >= w ? w - 1 : x + i;
                v += k[i + r] * row[xx];
            }
            tmp[(size_t)y * w + x] = v;
        }
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float v = 0;
            for (int i = -r; i <= r; i++) {
                int yy = y + i < 0 ? 0 : y + i >= h ? h - 1 : y + i;
                v += k[i + r] * tmp[(size_t)yy * w + x];
            }
            img->gray[(size_t)y * w + x] = (uint8_t)lroundf(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    free(k);
    free(tmp);
    return LEC_OK;
}

lec_status lec_import_image_degrade(lec_import_image *img, uint64_t seed, double max_rot_deg,
                                    double *rot_deg, lec_error *err)
{
    uint64_t s = seed * 0x2545F4914F6CDD1Dull + 12345;
    double deg = max_rot_deg * (2 * rng_uniform(&s) - 1);
    if (rot_deg)
        *rot_deg = deg;
    if (deg != 0) {
        lec_import_image rot;
        lec_status st = lec_import_image_rotate(img, deg, 255, &rot, err);
        if (st)
            return st;
        lec_import_image_free(img);
        *img = rot;
    }
    lec_status st = blur(img, 0.4 + 0.6 * rng_uniform(&s), err);
    if (st)
        return st;
    int w = img->width_px, h = img->height_px;
    /* uneven contrast: paper level falls from 255 to 175..255 along a random
     * direction, with a wave of ~1/2 page period; ink is lifted to 0..70 */
    double dir = 2 * PI * rng_uniform(&s);
    double drop = 30 + 50 * rng_uniform(&s);
    double wave = 10 * rng_uniform(&s), wph = 2 * PI * rng_uniform(&s);
    double ink = 70 * rng_uniform(&s);
    double sd = 6 + 8 * rng_uniform(&s);
    double diag = sqrt((double)w * w + (double)h * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double t = ((x - 0.5 * w) * cos(dir) + (y - 0.5 * h) * sin(dir)) / diag + 0.5;
            double paper = 255 - drop * t - wave * (0.5 + 0.5 * sin(4 * PI * t + wph));
            double v = img->gray[(size_t)y * w + x] / 255.0;   /* 1 paper, 0 ink */
            double g = ink + v * (paper - ink) + sd * rng_normal(&s);
            double u = rng_uniform(&s);
            if (u < 0.0001)
                g = 0;
            else if (u < 0.0002)
                g = 255;
            img->gray[(size_t)y * w + x] = (uint8_t)lround(g < 0 ? 0 : g > 255 ? 255 : g);
        }
    return LEC_OK;
}

double lec_box_iou(const lec_box *a, const lec_box *b)
{
    double ix = fmin(a->x1, b->x1) - fmax(a->x0, b->x0);
    double iy = fmin(a->y1, b->y1) - fmax(a->y0, b->y0);
    double aa = (double)(a->x1 - a->x0) * (a->y1 - a->y0);
    double ab = (double)(b->x1 - b->x0) * (b->y1 - b->y0);
    if (ix <= 0 || iy <= 0 || aa <= 0 || ab <= 0)
        return 0;
    double in = ix * iy;
    return in / (aa + ab - in);
}

int lec_import_match(const lec_box *truth, int n_truth, const lec_box *found, int n_found,
                     double iou_min)
{
    /* Boxes per page are few (< 30): O(n^2 min(n,m)) greedy is fine. */
    if (n_truth <= 0 || n_found <= 0)
        return 0;
    char *ut = calloc((size_t)n_truth, 1), *uf = calloc((size_t)n_found, 1);
    int tp = 0;
    if (!ut || !uf) {
        free(ut);
        free(uf);
        return 0;
    }
    for (;;) {
        double best = iou_min;
        int bi = -1, bj = -1;
        for (int i = 0; i < n_truth; i++) {
            if (ut[i])
                continue;
            for (int j = 0; j < n_found; j++) {
                if (uf[j])
                    continue;
                double v = lec_box_iou(&truth[i], &found[j]);
                if (v >= best) {
                    best = v;
                    bi = i;
                    bj = j;
                }
            }
        }
        if (bi < 0)
            break;
        ut[bi] = uf[bj] = 1;
        tp++;
    }
    free(ut);
    free(uf);
    return tp;
}
