/* lec_import_detect.c -- staff systems on a page image.
 *
 * 1. Binarise: divide by a background estimate (a high percentile of 32 px
 *    blocks, so uneven lighting cancels), then call a pixel ink when it is
 *    darker than 40% of the way from paper to the ink level (the mean of the
 *    dark class of Otsu's threshold). Leaning towards paper keeps thin staff
 *    lines that blur has turned gray.
 * 2. Skew: the angle in +-max_skew_deg that maximises the sum of squares of
 *    the ink's projection onto sheared rows (staff lines line up into a few
 *    very full rows only at the right angle); coarse 0.05 deg steps, then
 *    0.005 deg. The page is rotated back when the angle exceeds 0.02 deg.
 * 3. Sizes: the most frequent vertical black run is the line thickness t, the
 *    most frequent black+white pair of runs is the line distance d (the classic
 *    staff-line-height / staff-space estimate, Fujinaga; Cardoso et al.).
 * 4. Lines: the row profile counts ink in horizontal runs of at least 3d (text,
 *    note heads, slurs and short beams drop out); rows above a threshold form
 *    bands; five bands at an even spacing (within 20%) form a staff; its x
 *    extent is where at least 4 of its 5 lines have ink.
 * 5. Systems: two neighbouring staves belong to one system when, at their left
 *    edge (the system start bar, or the brace just left of it), ink covers at
 *    least 90% of the rows between them. The system box is the union of its
 *    staves, matching LilyPond's (top line of the top staff to bottom line of
 *    the bottom staff, over the staff lines' extent).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lec_import.h"

#define PI 3.14159265358979323846

/* ---------------------------------------------------------------- binarise */

static lec_status binarize(const lec_import_image *img, uint8_t *b, lec_error *err)
{
    int w = img->width_px, h = img->height_px;
    const int B = 32;
    int nbx = (w + B - 1) / B, nby = (h + B - 1) / B;
    float *bg = malloc(sizeof(float) * (size_t)nbx * (size_t)nby);
    float *bg2 = malloc(sizeof(float) * (size_t)nbx * (size_t)nby);
    if (!bg || !bg2) {
        free(bg);
        free(bg2);
        return lec_error_set(err, LEC_ENOMEM, "binarise: out of memory");
    }
    /* paper level per block: the 90th percentile of its pixels */
    for (int by = 0; by < nby; by++)
        for (int bx = 0; bx < nbx; bx++) {
            int hist[256] = {0}, n = 0;
            for (int y = by * B; y < (by + 1) * B && y < h; y++)
                for (int x = bx * B; x < (bx + 1) * B && x < w; x++) {
                    hist[img->gray[(size_t)y * w + x]]++;
                    n++;
                }
            int want = n / 10, acc = 0, v = 255;
            for (; v > 0; v--) {
                acc += hist[v];
                if (acc > want)
                    break;
            }
            bg[by * nbx + bx] = (float)v;
        }
    /* a block full of ink (a beam cluster, a bold title) takes its
     * neighbours' paper: max over 3x3 blocks */
    for (int by = 0; by < nby; by++)
        for (int bx = 0; bx < nbx; bx++) {
            float m = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int yy = by + dy, xx = bx + dx;
                    if (yy >= 0 && xx >= 0 && yy < nby && xx < nbx && bg[yy * nbx + xx] > m)
                        m = bg[yy * nbx + xx];
                }
            bg2[by * nbx + bx] = m < 32 ? 32 : m;
        }
    /* normalised page into b (temporarily as gray), histogram */
    long hist[256] = {0};
    for (int y = 0; y < h; y++) {
        float fy = (y + 0.5f) / B - 0.5f;
        int y0 = (int)floorf(fy);
        float ay = fy - y0;
        int ya = y0 < 0 ? 0 : y0, yb = y0 + 1 >= nby ? nby - 1 : y0 + 1;
        if (ya > nby - 1)
            ya = nby - 1;
        for (int x = 0; x < w; x++) {
            float fx = (x + 0.5f) / B - 0.5f;
            int x0 = (int)floorf(fx);
            float ax = fx - x0;
            int xa = x0 < 0 ? 0 : x0, xb = x0 + 1 >= nbx ? nbx - 1 : x0 + 1;
            if (xa > nbx - 1)
                xa = nbx - 1;
            float p = (1 - ay) * ((1 - ax) * bg2[ya * nbx + xa] + ax * bg2[ya * nbx + xb]) +
                      ay * ((1 - ax) * bg2[yb * nbx + xa] + ax * bg2[yb * nbx + xb]);
            float v = 255.0f * img->gray[(size_t)y * w + x] / p;
            int iv = v >= 255 ? 255 : (int)v;
            b[(size_t)y * w + x] = (uint8_t)iv;
            hist[iv]++;
        }
    }
    free(bg);
    free(bg2);
    /* Otsu */
    double total = (double)w * h, sum = 0;
    for (int i = 0; i < 256; i++)
        sum += (double)i * hist[i];
    double w0 = 0, s0 = 0, best = -1;
    int thr = 128;
    for (int t = 0; t < 255; t++) {
        w0 += hist[t];
        s0 += (double)t * hist[t];
        double w1 = total - w0;
        if (w0 == 0 || w1 == 0)
            continue;
        double m0 = s0 / w0, m1 = (sum - s0) / w1;
        double between = w0 * w1 * (m0 - m1) * (m0 - m1);
        if (between > best) {
            best = between;
            thr = t;
        }
    }
    double n0 = 0, si = 0;
    for (int i = 0; i <= thr; i++) {
        n0 += hist[i];
        si += (double)i * hist[i];
    }
    double ink = n0 > 0 ? si / n0 : 0;
    /* an almost blank page (no dark class to speak of) must not turn its
     * paper texture into ink: never put the cut above 200 */
    double cut = 255.0 - 0.4 * (255.0 - ink);
    if (cut > 200)
        cut = 200;
    for (size_t i = 0; i < (size_t)w * h; i++)
        b[i] = b[i] < cut ? 1 : 0;
    return LEC_OK;
}

/* ---------------------------------------------------------------- skew */

static double shear_score(const int32_t *pts, size_t n, double cx, double t, double *prof,
                          int nprof, int off)
{
    memset(prof, 0, sizeof(double) * (size_t)nprof);
    /* split each pixel between the two nearest rows: with plain rounding,
     * angles below ~0.5 px over the half width all score the same */
    for (size_t i = 0; i < n; i++) {
        double y = pts[2 * i + 1] + (pts[2 * i] - cx) * t + off;
        int r = (int)floor(y);
        double f = y - r;
        if (r >= 0 && r + 1 < nprof) {
            prof[r] += 1 - f;
            prof[r + 1] += f;
        }
    }
    double s = 0;
    for (int r = 0; r < nprof; r++)
        s += prof[r] * prof[r];
    return s;
}

static lec_status estimate_skew(const uint8_t *b, int w, int h, double max_deg, double *deg,
                                lec_error *err)
{
    *deg = 0;
    if (max_deg <= 0)
        return LEC_OK;
    size_t n = 0;
    for (size_t i = 0; i < (size_t)w * h; i++)
        n += b[i];
    if (n < 100)
        return LEC_OK;
    /* at most ~1M points: take every k-th ink pixel */
    size_t step = n / 1000000 + 1, m = n / step + 1;
    int32_t *pts = malloc(sizeof(int32_t) * 2 * m);
    int off = (int)ceil(w * tan(max_deg * PI / 180) * 0.5) + 2;
    int nprof = h + 2 * off;
    double *prof = malloc(sizeof(double) * (size_t)nprof);
    if (!pts || !prof) {
        free(pts);
        free(prof);
        return lec_error_set(err, LEC_ENOMEM, "deskew: out of memory");
    }
    size_t k = 0, c = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (b[(size_t)y * w + x] && (c++ % step) == 0 && k < m) {
                pts[2 * k] = x;
                pts[2 * k + 1] = y;
                k++;
            }
    double cx = 0.5 * (w - 1);
    double best = -1, best_a = 0;
    for (double a = -max_deg; a <= max_deg + 1e-9; a += 0.05) {
        double s = shear_score(pts, k, cx, tan(a * PI / 180), prof, nprof, off);
        if (s > best) {
            best = s;
            best_a = a;
        }
    }
    double a0 = best_a;
    for (double a = a0 - 0.05; a <= a0 + 0.05 + 1e-9; a += 0.005) {
        double s = shear_score(pts, k, cx, tan(a * PI / 180), prof, nprof, off);
        if (s > best) {
            best = s;
            best_a = a;
        }
    }
    free(pts);
    free(prof);
    *deg = best_a;
    return LEC_OK;
}

/* ---------------------------------------------------------------- sizes */

/* Most frequent vertical black run (t) and black+white pair (d), px. */
static void run_sizes(const uint8_t *b, int w, int h, double *t_out, double *d_out)
{
    enum { MAXR = 256 };
    long hb[MAXR] = {0}, hp[MAXR] = {0};
    for (int x = 0; x < w; x++) {
        int y = 0;
        while (y < h && !b[(size_t)y * w + x])
            y++;
        while (y < h) {
            int y0 = y;
            while (y < h && b[(size_t)y * w + x])
                y++;
            int black = y - y0;
            int y1 = y;
            while (y < h && !b[(size_t)y * w + x])
                y++;
            int white = y - y1;
            if (black < MAXR)
                hb[black]++;
            if (y < h && black + white < MAXR)
                hp[black + white]++;
        }
    }
    int t = 1;
    for (int i = 1; i < MAXR; i++)
        if (hb[i] > hb[t])
            t = i;
    /* d: smoothed mode above 2t + 1 (a staff line plus at least its own
     * thickness of paper; noise makes many tiny pairs) */
    int lo = 2 * t + 1 < 4 ? 4 : 2 * t + 1, d = 0;
    long bestv = -1;
    for (int i = lo; i < MAXR - 1; i++) {
        long v = hp[i - 1] + 2 * hp[i] + hp[i + 1];
        if (v > bestv) {
            bestv = v;
            d = i;
        }
    }
    /* refine by the centroid of the three bins around the mode */
    double num = 0, den = 0;
    for (int i = d - 1; i <= d + 1; i++) {
        num += (double)i * hp[i];
        den += hp[i];
    }
    *t_out = t;
    *d_out = den > 0 ? num / den : d;
}

/* ---------------------------------------------------------------- lines */

typedef struct band {
    double y;      /* centre, px */
    double strength; /* max profile value, px of long runs */
    int used;
} band;

/* Row profile: ink in horizontal runs of >= minrun px, one white pixel
 * inside a run tolerated (noise). */
static void long_run_profile(const uint8_t *b, int w, int h, int minrun, double *P)
{
    for (int y = 0; y < h; y++) {
        const uint8_t *row = b + (size_t)y * w;
        double s = 0;
        int x = 0;
        while (x < w) {
            while (x < w && !row[x])
                x++;
            int x0 = x;
            while (x < w && (row[x] || (x + 1 < w && row[x + 1] && x > x0)))
                x++;
            if (x - x0 >= minrun)
                s += x - x0;
        }
        P[y] = s;
    }
}

/* count lines (of 5) with ink within +-r rows of their centre at column x */
static int lines_at(const uint8_t *b, int w, int h, const double *ly, int r, int x)
{
    int c = 0;
    for (int k = 0; k < 5; k++) {
        int yc = (int)floor(ly[k] + 0.5);
        for (int y = yc - r; y <= yc + r; y++)
            if (y >= 0 && y < h && b[(size_t)y * w + x]) {
                c++;
                break;
            }
    }
    return c;
}

static int find_band(const band *bd, int nb, double y, double tol, int from)
{
    int best = -1;
    double bestd = tol;
    for (int j = from; j < nb; j++) {
        if (bd[j].y > y + tol)
            break;
        double dd = fabs(bd[j].y - y);
        if (!bd[j].used && dd <= bestd) {
            bestd = dd;
            best = j;
        }
    }
    return best;
}

/* Try the staff whose top line is band i and second line band k: returns 1
 * and the 5 band indices when lines 3..5 are found at the spacing. */
static int fit_staff(const band *bd, int nb, int i, int k, int idx[5])
{
    idx[0] = i;
    idx[1] = k;
    double s = bd[k].y - bd[i].y;
    for (int m = 2; m < 5; m++) {
        double tol = fmax(1.5, 0.2 * s);
        int j = find_band(bd, nb, bd[idx[m - 1]].y + s, tol, idx[m - 1] + 1);
        if (j < 0)
            return 0;
        idx[m] = j;
        s = (bd[j].y - bd[i].y) / m; /* running mean spacing */
    }
    return 1;
}

lec_status lec_import_detect(lec_import_image *img, const lec_import_config *cfg,
                             lec_import_result *res, lec_error *err)
{
    lec_import_config dflt;
    if (!cfg) {
        lec_import_config_default(&dflt);
        cfg = &dflt;
    }
    memset(res, 0, sizeof *res);
    int w = img->width_px, h = img->height_px;
    if (!img->gray || w < 8 || h < 8)
        return lec_error_set(err, LEC_EINVAL, "detect: page of %dx%d px is too small", w, h);
    uint8_t *b = malloc((size_t)w * (size_t)h);
    double *P = malloc(sizeof(double) * (size_t)h);
    band *bd = NULL;
    lec_status st = LEC_OK;
    if (!b || !P) {
        st = lec_error_set(err, LEC_ENOMEM, "detect: out of memory");
        goto out;
    }
    if ((st = binarize(img, b, err)))
        goto out;
    double skew = 0;
    double max_skew = cfg->max_skew_deg > 10 ? 10 : cfg->max_skew_deg;
    if ((st = estimate_skew(b, w, h, max_skew, &skew, err)))
        goto out;
    if (fabs(skew) >= 0.02) {
        lec_import_image rot;
        if ((st = lec_import_image_rotate(img, -skew, &rot, err)))
            goto out;
        lec_import_image_free(img);
        *img = rot;
        if ((st = binarize(img, b, err)))
            goto out;
        res->skew_deg = (float)skew;
    }

    double t, d;
    run_sizes(b, w, h, &t, &d);
    int minrun = (int)ceil(3 * d);
    long_run_profile(b, w, h, minrun, P);
    double pmax = 0;
    for (int y = 0; y < h; y++)
        if (P[y] > pmax)
            pmax = P[y];
    double thr = fmax(2.0 * minrun, 0.1 * pmax);
    /* bands: runs of rows above thr */
    bd = malloc(sizeof(band) * (size_t)(h / 2 + 1));
    if (!bd) {
        st = lec_error_set(err, LEC_ENOMEM, "detect: out of memory");
        goto out;
    }
    int nb = 0;
    for (int y = 0; y < h;) {
        if (P[y] < thr) {
            y++;
            continue;
        }
        double sw = 0, sy = 0, mx = 0;
        while (y < h && P[y] >= thr) {
            sw += P[y];
            sy += P[y] * y;
            if (P[y] > mx)
                mx = P[y];
            y++;
        }
        bd[nb].y = sy / sw;
        bd[nb].strength = mx;
        bd[nb].used = 0;
        nb++;
    }

    /* staves */
    size_t cap = 16;
    res->staves = malloc(sizeof(lec_import_staff) * cap);
    if (!res->staves) {
        st = lec_error_set(err, LEC_ENOMEM, "detect: out of memory");
        goto out;
    }
    int r = (int)ceil(t / 2) + 1;
    int gmax = (int)t + 1 < 2 ? 2 : (int)t + 1;
    for (int i = 0; i < nb; i++) {
        if (bd[i].used)
            continue;
        int idx[5], found = 0;
        for (int k = i + 1; k < nb && bd[k].y - bd[i].y <= 1.35 * d; k++) {
            if (bd[k].used || bd[k].y - bd[i].y < 0.7 * d)
                continue;
            if (fit_staff(bd, nb, i, k, idx)) {
                found = 1;
                break;
            }
        }
        if (!found)
            continue;
        /* a spurious long run (a beam) one spacing above the top line would
         * take the top line's place: shift down while the band one spacing
         * below the bottom line is stronger than our top */
        for (int shift = 0; shift < 2; shift++) {
            double s = (bd[idx[4]].y - bd[idx[0]].y) / 4;
            int j = find_band(bd, nb, bd[idx[4]].y + s, fmax(1.5, 0.2 * s), idx[4] + 1);
            if (j < 0 || bd[j].strength <= bd[idx[0]].strength)
                break;
            memmove(idx, idx + 1, 4 * sizeof(int));
            idx[4] = j;
        }
        double ly[5];
        for (int m = 0; m < 5; m++)
            ly[m] = bd[idx[m]].y;
        /* x extent: the longest stretch where >= 4 of 5 lines have ink,
         * bridging gaps of <= gmax px */
        int best0 = -1, best1 = -1, cur0 = -1, last = -1000000;
        for (int x = 0; x <= w; x++) {
            int on = x < w && lines_at(b, w, h, ly, r, x) >= 4;
            if (!on)
                continue;
            if (x - last - 1 > gmax || cur0 < 0)
                cur0 = x;
            last = x;
            if (best0 < 0 || last - cur0 > best1 - best0) {
                best0 = cur0;
                best1 = last;
            }
        }
        if (best0 < 0 || best1 - best0 + 1 < 6 * d)
            continue; /* five short parallel runs, not a staff */
        for (int m = 0; m < 5; m++)
            bd[idx[m]].used = 1;
        if (res->n_staves == cap) {
            cap *= 2;
            lec_import_staff *ns = realloc(res->staves, sizeof *ns * cap);
            if (!ns) {
                st = lec_error_set(err, LEC_ENOMEM, "detect: out of memory");
                goto out;
            }
            res->staves = ns;
        }
        lec_import_staff *sf = &res->staves[res->n_staves++];
        for (int m = 0; m < 5; m++)
            sf->line_y[m] = (float)ly[m];
        sf->staff_space_px = (float)((ly[4] - ly[0]) / 4);
        sf->line_thickness_px = (float)t;
        sf->box.x0 = (float)best0;
        sf->box.x1 = (float)(best1 + 1);
        sf->box.y0 = (float)fmax(0, ly[0] - 0.5 * t);
        sf->box.y1 = (float)fmin(h, ly[4] + 0.5 * t);
    }
    res->staff_space_px = (float)d;
    res->line_thickness_px = (float)t;

    /* systems: join neighbours connected at their left edge */
    res->systems = malloc(sizeof(lec_import_system) * (res->n_staves ? res->n_staves : 1));
    if (!res->systems) {
        st = lec_error_set(err, LEC_ENOMEM, "detect: out of memory");
        goto out;
    }
    for (size_t i = 0; i < res->n_staves; i++) {
        int join = 0;
        if (i > 0) {
            const lec_import_staff *A = &res->staves[i - 1], *Bs = &res->staves[i];
            double dd = 0.5 * (A->staff_space_px + Bs->staff_space_px);
            double ov = fmin(A->box.x1, Bs->box.x1) - fmax(A->box.x0, Bs->box.x0);
            double mw = fmin(A->box.x1 - A->box.x0, Bs->box.x1 - Bs->box.x0);
            double xl = fmin(A->box.x0, Bs->box.x0);
            if (ov >= 0.5 * mw && fabs(A->box.x0 - Bs->box.x0) <= 3 * dd) {
                int ya = (int)floor(A->line_y[4] + 0.5) + r + 1;
                int yb = (int)floor(Bs->line_y[0] + 0.5) - r - 1;
                int xa = (int)floor(xl - 3 * dd), xb = (int)ceil(xl + 0.5 * dd);
                if (xa < 0)
                    xa = 0;
                if (xb > w - 1)
                    xb = w - 1;
                int rows = 0, inked = 0;
                for (int y = ya; y <= yb; y++) {
                    rows++;
                    for (int x = xa; x <= xb; x++)
                        if (b[(size_t)y * w + x]) {
                            inked++;
                            break;
                        }
                }
                join = rows == 0 || inked >= 0.9 * rows;
            }
        }
        if (join) {
            lec_import_system *sy = &res->systems[res->n_systems - 1];
            const lec_box *bx = &res->staves[i].box;
            sy->n_staves++;
            sy->box.x0 = fminf(sy->box.x0, bx->x0);
            sy->box.y0 = fminf(sy->box.y0, bx->y0);
            sy->box.x1 = fmaxf(sy->box.x1, bx->x1);
            sy->box.y1 = fmaxf(sy->box.y1, bx->y1);
        } else {
            lec_import_system *sy = &res->systems[res->n_systems++];
            sy->first_staff = (int)i;
            sy->n_staves = 1;
            sy->box = res->staves[i].box;
        }
    }
out:
    free(b);
    free(P);
    free(bd);
    if (st)
        lec_import_result_free(res);
    return st;
}

void lec_import_result_free(lec_import_result *res)
{
    if (!res)
        return;
    free(res->staves);
    free(res->systems);
    memset(res, 0, sizeof *res);
}
