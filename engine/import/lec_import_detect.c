/* lec_import_detect.c -- staff systems on a page image.
 *
 * 1. Binarise: divide by a background estimate (the 90th percentile of 32 px
 *    blocks, max over 3x3 blocks, so uneven lighting cancels): ng. Otsu's
 *    threshold splits ng into ink and paper classes; b (the strict image)
 *    calls a pixel ink when it is darker than 40% of the way from the paper
 *    mean to the ink mean.
 * 2. Skew: the angle in +-max_skew_deg that maximises the sum of squares of
 *    b's projection onto sheared rows (staff lines line up into a few very
 *    full rows only at the right angle), each pixel split between its two
 *    nearest rows; coarse 0.05 deg steps, then 0.005 deg. The page is
 *    rotated back when the angle exceeds 0.02 deg.
 * 3. Lines are looked for in bh: ng averaged over 7 px along rows and cut at
 *    25% of the way to ink (keeps thin lines that blur left gray). The most
 *    frequent vertical black run of bh is the line thickness t, the most
 *    frequent black+white pair of runs the line distance d (the classic
 *    staff-line-height / staff-space estimate).
 * 4. Staves: the row profile counts ink in horizontal runs of at least 3d
 *    (text, note heads, stems and short beams drop out); its peaks are line
 *    candidates; five at an even spacing (within 22%) are a candidate staff,
 *    whose x extent is where at least 4 of its 5 lines have ink (vertical
 *    strokes over the whole staff neither start nor end it, so the brace
 *    stays out; the start bar and final bar line touching it are taken in).
 *    Candidates are accepted strongest first, without sharing lines.
 *    A one-line staff (RhythmicStaff) joined to a staff is kept too.
 * 5. Systems: two neighbouring staves belong to one system when, at their left
 *    edge, ink (the system start bar, or the brace just left of it) covers at
 *    least 90% of the rows between them in b, or one column is on average 30%
 *    as dark as ink all the way down (a faint start bar). The system box is
 *    the union of its staves, matching LilyPond's (top line of the top staff
 *    to bottom line of the bottom staff, over the staff lines' extent).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lec_import.h"

#define PI 3.14159265358979323846

/* ---------------------------------------------------------------- binarise */

/* ng: the page divided by its background (255 = paper); b: 1 = ink;
 * *ink_level: the mean of the dark class in ng. */
static lec_status binarize(const lec_import_image *img, uint8_t *ng, uint8_t *b, double *ink_level,
                           double *paper_level, lec_error *err)
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
            ng[(size_t)y * w + x] = (uint8_t)iv;
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
    /* paper: the mean of the bright class (below 255: the background
     * estimate is a high percentile) */
    double paper = total - n0 > 0 ? (sum - si) / (total - n0) : 255;
    /* an almost blank page (no dark class to speak of) must not turn its
     * paper texture into ink: never put the cut above 200 */
    double cut = paper - 0.4 * (paper - ink);
    if (cut > 200)
        cut = 200;
    for (size_t i = 0; i < (size_t)w * h; i++)
        b[i] = ng[i] < cut ? 1 : 0;
    *ink_level = ink;
    *paper_level = paper;
    return LEC_OK;
}

/* Scan clean-up (lec_import.h): the background-normalised page ng, then a
 * level stretch from the ink point (5th percentile of the ink class b) to
 * the paper point (median of the paper class minus 2 robust sd of its
 * noise, from the MAD). A clean engraving has ink 0 and paper exactly 255
 * with no noise, so it comes out unchanged. */
lec_status lec_import_clean_page(lec_import_image *img, lec_error *err)
{
    int w = img->width_px, h = img->height_px;
    if (!img->gray || w < 8 || h < 8)
        return lec_error_set(err, LEC_EINVAL, "clean: page of %dx%d px is too small", w, h);
    size_t n = (size_t)w * (size_t)h;
    uint8_t *b = malloc(n), *ng = malloc(n);
    if (!b || !ng) {
        free(b);
        free(ng);
        return lec_error_set(err, LEC_ENOMEM, "clean: out of memory");
    }
    double ink = 0, paper = 255;
    lec_status st = binarize(img, ng, b, &ink, &paper, err);
    if (st) {
        free(b);
        free(ng);
        return st;
    }
    long hi[256] = {0}, hp[256] = {0}, ni = 0, np = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i])
            hi[ng[i]]++, ni++;
        else
            hp[ng[i]]++, np++;
    }
    int ink_pt = 0, med = 255;
    long acc = 0;
    for (int v = 0; v < 256 && ni; v++)
        if ((acc += hi[v]) > ni / 20) {
            ink_pt = v;
            break;
        }
    acc = 0;
    for (int v = 0; v < 256 && np; v++)
        if ((acc += hp[v]) > np / 2) {
            med = v;
            break;
        }
    long hd[256] = {0};
    for (int v = 0; v < 256; v++)
        hd[abs(v - med)] += hp[v];
    int mad = 0;
    acc = 0;
    for (int d = 0; d < 256 && np; d++)
        if ((acc += hd[d]) > np / 2) {
            mad = d;
            break;
        }
    double paper_pt = med - 2.0 * 1.4826 * mad;
    if (paper_pt > 255)
        paper_pt = 255;
    if (paper_pt < ink_pt + 64) /* no contrast to speak of: leave the levels */
        paper_pt = ink_pt + 64 > 255 ? 255 : ink_pt + 64;
    double gain = 255.0 / (paper_pt - ink_pt);
    for (size_t i = 0; i < n; i++) {
        double v = (ng[i] - ink_pt) * gain;
        img->gray[i] = (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : lround(v));
    }
    free(b);
    free(ng);
    return LEC_OK;
}

/* out = 1 where the mean of ng over k px along the row (centred, clipped at
 * the page edges) is below cut. */
static void hsmooth_cut(const uint8_t *ng, int w, int h, int k, double cut, uint8_t *out)
{
    int hk = k / 2;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = ng + (size_t)y * w;
        uint8_t *o = out + (size_t)y * w;
        long sum = 0;
        int n = 0;
        for (int x = 0; x < hk && x < w; x++, n++)
            sum += row[x];
        for (int x = 0; x < w; x++) {
            if (x + hk < w) {
                sum += row[x + hk];
                n++;
            }
            if (x - hk - 1 >= 0) {
                sum -= row[x - hk - 1];
                n--;
            }
            o[x] = (double)sum < cut * n;
        }
    }
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
    /* d: smoothed mode above t + 2 (a line plus at least 2 px of paper;
     * noise makes many tiny pairs). Not 2t: blur at low resolution makes
     * lines nearly as thick as the paper between them. */
    int lo = t + 2 < 4 ? 4 : t + 2, d = 0;
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
/* Column x of a staff with line centres ly: 2 = staff (>= 4 of 5 lines have
 * ink within +-r rows, and at least 2 of the 4 spaces between them are
 * paper), 1 = something over the staff (lines and 3 or 4 spaces inked: a
 * bar line, a chord, the brace; or the smear of a blurred hairpin, which
 * then never makes a staff of its own), 0 = no staff. */
static int staff_column(const uint8_t *b, int w, int h, const double *ly, int r, int x)
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
    if (c < 4)
        return 0;
    int paper = 0;
    for (int k = 0; k < 4; k++) {
        int ym = (int)floor(0.5 * (ly[k] + ly[k + 1]) + 0.5);
        paper += ym < 0 || ym >= h || !b[(size_t)ym * w + x];
    }
    return paper >= 2 ? 2 : 1;
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
        double tol = fmax(2.0, 0.22 * s);
        int j = find_band(bd, nb, bd[idx[m - 1]].y + s, tol, idx[m - 1] + 1);
        if (j < 0)
            return 0;
        idx[m] = j;
        s = (bd[j].y - bd[i].y) / m; /* running mean spacing */
    }
    return 1;
}

/* Are staves A (above) and B (below) joined at their left edge? Ink within
 * [left - 3 staff spaces, left + 1/2] (the system start bar, or the brace
 * just left of it) on at least 90% of the rows between A's bottom line and
 * B's top line. */
static int connected(const uint8_t *b, const uint8_t *ng, double ink, double paper, int w, int h,
                     const lec_import_staff *A, const lec_import_staff *B, int r)
{
    double dd = 0.5 * (A->staff_space_px + B->staff_space_px);
    double ov = fmin(A->box.x1, B->box.x1) - fmax(A->box.x0, B->box.x0);
    double mw = fmin(A->box.x1 - A->box.x0, B->box.x1 - B->box.x0);
    double xl = fmin(A->box.x0, B->box.x0);
    if (ov < 0.5 * mw || fabs(A->box.x0 - B->box.x0) > 3 * dd)
        return 0;
    int ya = (int)floor(A->line_y[4] + 0.5) + r + 1;
    int yb = (int)floor(B->line_y[0] + 0.5) - r - 1;
    int xa = (int)floor(xl - 3 * dd), xb = (int)ceil(xl + 0.5 * dd);
    if (xa < 0)
        xa = 0;
    if (xb > w - 1)
        xb = w - 1;
    if (ya < 0)
        ya = 0;
    if (yb > h - 1)
        yb = h - 1;
    int rows = 0, inked = 0;
    for (int y = ya; y <= yb; y++) {
        rows++;
        for (int x = xa; x <= xb; x++)
            if (b[(size_t)y * w + x]) {
                inked++;
                break;
            }
    }
    if (rows == 0 || inked >= 0.9 * rows)
        return 1;
    /* A start bar that blur and low contrast have left too light for the
     * ink threshold: a column (with +-1 px of slack per row for residual
     * skew) whose darkness, averaged over 5 rows (noise drops), is at least
     * 30% of ink's on 90% of the rows: all the way down, not half of it
     * (the side of a frame around a footer below the last system). */
    double need = 0.3 * (paper - ink);
    for (int x = xa; x <= xb; x++) {
        double win[5] = {0, 0, 0, 0, 0}, wsum = 0;
        int good = 0;
        for (int y = ya; y <= yb; y++) {
            const uint8_t *row = ng + (size_t)y * w;
            int m = row[x];
            if (x > 0 && row[x - 1] < m)
                m = row[x - 1];
            if (x + 1 < w && row[x + 1] < m)
                m = row[x + 1];
            int k = (y - ya) % 5;
            wsum += (paper - m) - win[k];
            win[k] = paper - m;
            int n = y - ya + 1 < 5 ? y - ya + 1 : 5;
            good += wsum / n >= need;
        }
        if (good >= 0.9 * rows)
            return 1;
    }
    return 0;
}

/* Longest stretch of columns where one line (centre y, +-r rows) has ink,
 * gaps of <= gmax px bridged; returns its width, [*x0, *x1). */
static int line_extent(const uint8_t *b, int w, int h, double y, int r, int gmax, int *x0,
                       int *x1)
{
    int best0 = -1, best1 = -1, cur0 = -1, last = -1000000;
    int yc = (int)floor(y + 0.5);
    for (int x = 0; x < w; x++) {
        int on = 0;
        for (int yy = yc - r; yy <= yc + r && !on; yy++)
            on = yy >= 0 && yy < h && b[(size_t)yy * w + x];
        if (!on)
            continue;
        if (cur0 < 0 || x - last - 1 > gmax)
            cur0 = x;
        last = x;
        if (best0 < 0 || last - cur0 > best1 - best0) {
            best0 = cur0;
            best1 = last;
        }
    }
    *x0 = best0;
    *x1 = best1 + 1;
    return best0 < 0 ? 0 : best1 - best0 + 1;
}

typedef struct staff_cand {
    int idx[5];
    int x0, x1;   /* extent, px, [x0, x1) */
    double score; /* sum of the lines' profile peaks */
} staff_cand;

static int cmp_cand(const void *a, const void *b)
{
    const staff_cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->idx[0] - y->idx[0]; /* deterministic order for ties */
}

static int cmp_staff_y(const void *a, const void *b)
{
    const lec_import_staff *x = a, *y = b;
    return (x->line_y[0] > y->line_y[0]) - (x->line_y[0] < y->line_y[0]);
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
    uint8_t *ng = malloc((size_t)w * (size_t)h), *bh = NULL;
    double ink = 0, paper_lv = 255;
    double *P = malloc(sizeof(double) * (size_t)h);
    band *bd = NULL;
    staff_cand *cand = NULL;
    lec_status st = LEC_OK;
    if (!b || !ng || !P) {
        st = lec_error_set(err, LEC_ENOMEM, "detect: out of memory");
        goto out;
    }
    if ((st = binarize(img, ng, b, &ink, &paper_lv, err)))
        goto out;
    double skew = 0;
    double max_skew = cfg->max_skew_deg > 10 ? 10 : cfg->max_skew_deg;
    if ((st = estimate_skew(b, w, h, max_skew, &skew, err)))
        goto out;
    if (fabs(skew) >= 0.02) {
        lec_import_image rot;
        /* corners take the nearest edge pixel: white corners beside darker
         * paper would skew the background estimate and turn paper to ink */
        if ((st = lec_import_image_rotate(img, -skew, -1, &rot, err)))
            goto out;
        lec_import_image_free(img);
        *img = rot;
        if ((st = binarize(img, ng, b, &ink, &paper_lv, err)))
            goto out;
        res->skew_deg = (float)skew;
    }

    double t, d;
    /* Staff lines are found in bh: ng averaged over 7 px along rows, cut
     * at 25% of the way from paper to ink. A horizontal line keeps its
     * darkness under a horizontal average while noise drops by ~2.6x, so
     * the cut can be half as deep as for b: thin lines that blur and a low
     * contrast left gray (100 dpi scans) stay whole. */
    bh = malloc((size_t)w * (size_t)h);
    if (!bh) {
        st = lec_error_set(err, LEC_ENOMEM, "detect: out of memory");
        goto out;
    }
    hsmooth_cut(ng, w, h, 7, paper_lv - 0.25 * (paper_lv - ink), bh);
    run_sizes(bh, w, h, &t, &d);
    /* the boxes take the line thickness of the strict image: bh's lines
     * are thicker by the averaging and the lenient cut */
    double tb, db;
    run_sizes(b, w, h, &tb, &db);
    if (tb > t)
        tb = t;
    int minrun = (int)ceil(3 * d);
    long_run_profile(bh, w, h, minrun, P);
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
    /* Bands: peaks of the profile (maximum within +-d/3 rows), centred on
     * the contiguous rows above 90% of the peak. A beam or a slur lying
     * along a staff line raises the rows next to it, but far less than the
     * line's own rows (a line spans the staff), so it neither merges with
     * the line nor pulls its centre. */
    int nb = 0, win = (int)(d / 3) < 1 ? 1 : (int)(d / 3);
    for (int y = 0; y < h; y++) {
        if (P[y] < thr)
            continue;
        int peak = 1;
        for (int k = -win; k <= win && peak; k++) {
            int yy = y + k;
            if (k == 0 || yy < 0 || yy >= h)
                continue;
            /* strict on the left, so that a flat top gives one peak */
            if (P[yy] > P[y] || (k < 0 && P[yy] == P[y]))
                peak = 0;
        }
        if (!peak)
            continue;
        double half = 0.9 * P[y], sw = 0, sy = 0;
        for (int yy = y; yy >= 0 && P[yy] >= half && y - yy <= win; yy--) {
            sw += P[yy];
            sy += P[yy] * yy;
        }
        for (int yy = y + 1; yy < h && P[yy] >= half && yy - y <= win; yy++) {
            sw += P[yy];
            sy += P[yy] * yy;
        }
        bd[nb].y = sy / sw;
        bd[nb].strength = P[y];
        bd[nb].used = 0;
        nb++;
    }

    /* Staves. Every five bands at an even spacing are a candidate; the
     * candidates are taken strongest first (sum of the lines' profile
     * values: real staff lines span the staff, beams and slurs do not), and
     * a candidate that shares a band or overlaps a staff already taken is
     * dropped. Taking them top-down instead lets five stacked beams, or a
     * beam one spacing above the top line, steal a staff's lines. */
    int r = (int)ceil(t / 2) + 1;
    int gmax = (int)t + 1 < 2 ? 2 : (int)t + 1;
    size_t ncand = 0, capc = 64;
    cand = malloc(sizeof *cand * capc);
    if (!cand) {
        st = lec_error_set(err, LEC_ENOMEM, "detect: out of memory");
        goto out;
    }
    for (int i = 0; i < nb; i++) {
        for (int k = i + 1; k < nb && bd[k].y - bd[i].y <= 1.35 * d; k++) {
            int idx[5];
            if (bd[k].y - bd[i].y < 0.7 * d || !fit_staff(bd, nb, i, k, idx))
                continue;
            double ly[5], score = 0;
            for (int m = 0; m < 5; m++) {
                ly[m] = bd[idx[m]].y;
                score += bd[idx[m]].strength;
            }
            /* x extent: the longest stretch where >= 4 of 5 lines have ink,
             * bridging gaps of <= gmax px; vertical strokes neither end
             * a stretch nor start one, so a brace left of the start bar
             * (bridged to it by the horizontal average of bh) stays out */
            int best0 = -1, best1 = -1, cur0 = -1, offs = 0;
            for (int x = 0; x < w; x++) {
                int col = staff_column(bh, w, h, ly, r, x);
                if (col == 0)
                    offs++;
                if (col != 2)
                    continue;
                if (cur0 < 0 || offs > gmax)
                    cur0 = x;
                offs = 0;
                int last = x;
                if (best0 < 0 || last - cur0 > best1 - best0) {
                    best0 = cur0;
                    best1 = last;
                }
            }
            if (best0 < 0 || best1 - best0 + 1 < 6 * d)
                continue; /* five short parallel runs, not a staff */
            /* LilyPond's staff box includes the start bar and the final
             * bar line: take in the strokes touching the ends (in the
             * strict image b, where they are not widened), at most d/2 on
             * the left (not the brace beyond the start bar) and d on the
             * right (a thick double bar) */
            for (int x = best0 - 1; x >= 0 && best0 - x <= 0.5 * d; x--) {
                if (staff_column(b, w, h, ly, r, x) == 0)
                    break;
                best0 = x;
            }
            for (int x = best1 + 1; x < w && x - best1 <= d; x++) {
                if (staff_column(b, w, h, ly, r, x) == 0)
                    break;
                best1 = x;
            }
            if (ncand == capc) {
                capc *= 2;
                staff_cand *nc = realloc(cand, sizeof *nc * capc);
                if (!nc) {
                    st = lec_error_set(err, LEC_ENOMEM, "detect: out of memory");
                    goto out;
                }
                cand = nc;
            }
            staff_cand *c = &cand[ncand++];
            memcpy(c->idx, idx, sizeof idx);
            c->x0 = best0;
            c->x1 = best1 + 1;
            c->score = score;
        }
    }
    qsort(cand, ncand, sizeof *cand, cmp_cand);
    double widest = 0;
    size_t cap = 16;
    res->staves = malloc(sizeof(lec_import_staff) * cap);
    if (!res->staves) {
        st = lec_error_set(err, LEC_ENOMEM, "detect: out of memory");
        goto out;
    }
    for (size_t ci = 0; ci < ncand; ci++) {
        staff_cand *c = &cand[ci];
        int clash = 0;
        for (int m = 0; m < 5; m++)
            clash |= bd[c->idx[m]].used;
        double y0 = bd[c->idx[0]].y, y4 = bd[c->idx[4]].y;
        for (size_t j = 0; j < res->n_staves && !clash; j++) {
            const lec_import_staff *o = &res->staves[j];
            double ox = fmin(o->box.x1, c->x1) - fmax(o->box.x0, c->x0);
            if (ox > 0 && y0 <= o->line_y[4] && y4 >= o->line_y[0])
                clash = 1;
        }
        if (clash)
            continue;
        for (int m = 0; m < 5; m++)
            bd[c->idx[m]].used = 1;
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
            sf->line_y[m] = (float)bd[c->idx[m]].y;
        sf->staff_space_px = (float)((y4 - y0) / 4);
        sf->line_thickness_px = (float)tb;
        sf->box.x0 = (float)c->x0;
        sf->box.x1 = (float)c->x1;
        sf->box.y0 = (float)fmax(0, y0 - 0.5 * tb);
        sf->box.y1 = (float)fmin(h, y4 + 0.5 * tb);
        if (c->x1 - c->x0 > widest)
            widest = c->x1 - c->x0;
    }
    /* Drop fragments: far narrower than the page's staves (a stack of
     * beams), or narrower than half of them and within 3 staff spaces of a
     * wide staff (stacked ties of a chord or a blurred hairpin in the ledger
     * lines: no real staff sits that close to another). A short last system
     * (ragged-last) is far from the others and stays. Then order top to
     * bottom. */
    size_t kept = 0;
    for (size_t j = 0; j < res->n_staves; j++) {
        const lec_import_staff *sj = &res->staves[j];
        double wj = sj->box.x1 - sj->box.x0;
        int drop = wj < 0.15 * widest;
        for (size_t k = 0; k < res->n_staves && !drop && wj < 0.5 * widest; k++) {
            const lec_import_staff *sk = &res->staves[k];
            if (k == j || sk->box.x1 - sk->box.x0 < 0.5 * widest)
                continue;
            double ox = fmin(sj->box.x1, sk->box.x1) - fmax(sj->box.x0, sk->box.x0);
            double gap = fmax(sj->box.y0 - sk->box.y1, sk->box.y0 - sj->box.y1);
            drop = ox > 0 && gap < 3 * sk->staff_space_px;
        }
        if (!drop)
            res->staves[kept++] = res->staves[j];
    }
    res->n_staves = kept;
    qsort(res->staves, res->n_staves, sizeof *res->staves, cmp_staff_y);

    /* One-line staves (a RhythmicStaff, percussion) belong to a system:
     * an unused band that runs from a neighbouring staff's left edge over
     * most of its width and is joined to it by the start bar. */
    size_t n5 = res->n_staves;
    for (int j = 0; j < nb && n5 > 0; j++) {
        if (bd[j].used)
            continue;
        double y = bd[j].y;
        size_t above = n5, below = n5; /* nearest 5-line staves */
        int inside = 0;
        for (size_t q = 0; q < n5; q++) {
            const lec_import_staff *o = &res->staves[q];
            if (y >= o->line_y[0] - 1 && y <= o->line_y[4] + 1)
                inside = 1;
            if (o->line_y[4] < y)
                above = q;
            else if (below == n5 && o->line_y[0] > y)
                below = q;
        }
        if (inside)
            continue;
        int x0, x1;
        int lw = line_extent(bh, w, h, y, r, gmax, &x0, &x1);
        const size_t nbr[2] = {above, below};
        for (int side = 0; side < 2; side++) {
            if (nbr[side] == n5)
                continue;
            const lec_import_staff *o = &res->staves[nbr[side]];
            double ow = o->box.x1 - o->box.x0;
            if (lw < 0.8 * ow || fabs(x0 - o->box.x0) > 1.5 * o->staff_space_px ||
                fabs(y - (side ? o->line_y[0] : o->line_y[4])) > 12 * o->staff_space_px)
                continue;
            /* the staves of a system share their extent; bh widens the
             * line's ends by its horizontal average */
            if (fabs(x1 - o->box.x1) <= 1.5 * o->staff_space_px)
                x1 = (int)o->box.x1;
            x0 = (int)o->box.x0;
            lec_import_staff one;
            for (int m = 0; m < 5; m++)
                one.line_y[m] = (float)y;
            one.staff_space_px = o->staff_space_px;
            one.line_thickness_px = (float)tb;
            one.box = (lec_box){(float)x0, (float)fmax(0, y - 0.5 * tb), (float)x1,
                                (float)fmin(h, y + 0.5 * tb)};
            if (!(side == 0 ? connected(b, ng, ink, paper_lv, w, h, o, &one, r) : connected(b, ng, ink, paper_lv, w, h, &one, o, r)))
                continue;
            if (res->n_staves == cap) {
                cap *= 2;
                lec_import_staff *ns = realloc(res->staves, sizeof *ns * cap);
                if (!ns) {
                    st = lec_error_set(err, LEC_ENOMEM, "detect: out of memory");
                    goto out;
                }
                res->staves = ns;
            }
            res->staves[res->n_staves++] = one;
            bd[j].used = 1;
            break;
        }
    }
    qsort(res->staves, res->n_staves, sizeof *res->staves, cmp_staff_y);
    res->staff_space_px = (float)d;
    res->line_thickness_px = (float)tb;

    /* systems: join neighbours connected at their left edge */
    res->systems = malloc(sizeof(lec_import_system) * (res->n_staves ? res->n_staves : 1));
    if (!res->systems) {
        st = lec_error_set(err, LEC_ENOMEM, "detect: out of memory");
        goto out;
    }
    for (size_t i = 0; i < res->n_staves; i++) {
        int join = 0;
        if (i > 0)
            join = connected(b, ng, ink, paper_lv, w, h, &res->staves[i - 1], &res->staves[i], r);
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
    free(ng);
    free(bh);
    free(P);
    free(bd);
    free(cand);
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

