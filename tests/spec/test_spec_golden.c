/* test_spec_golden.c -- lec_spec against an independent reference.
 *
 * The reference here is written from the description (madmom's
 * LogarithmicFilterbank as summarised in lec_spec.h), in double precision and
 * deliberately by different means than the library: a naive O(N * bins) DFT
 * instead of FFTW, a brute-force nearest-bin search instead of a binary
 * search, a dense (bands x bins) weight matrix evaluated bin by bin. It never
 * calls library internals. Then a few facts derivable by hand: silence is
 * exactly 0, a tone at a band's centre peaks in that band, a unit click gives
 * log10(1 + w[pos]) in every band (unit-area filters), and the MSMD front end
 * (16 bands/octave, 30..6000 Hz) has the 92 bands its papers report.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lec_spec.h"
#include "lec_test.h"

static const double PI = 3.14159265358979323846;

/* ---- reference ------------------------------------------------------- */

typedef struct {
    int n_bins, n_bands;
    double *w;      /* (n_bands, n_bins) dense filterbank */
    double *centre; /* (n_bands) Hz of the centre bin */
} ref_fb;

static void ref_fb_build(ref_fb *fb, const lec_spec_config *c)
{
    const int n_bins = c->frame_size / 2; /* Nyquist bin dropped, as madmom */
    const double bin_hz = (double)c->sample_rate / c->frame_size;
    int bins[4096], n = 0;
    /* every grid frequency 440 * 2^(j/bpo) inside [fmin, fmax], ascending */
    for (int j = -20 * c->bands_per_octave; j <= 20 * c->bands_per_octave; j++) {
        double f = 440.0 * pow(2.0, (double)j / c->bands_per_octave);
        if (f < c->fmin_hz || f > c->fmax_hz)
            continue;
        int best = 0;
        for (int k = 1; k < n_bins; k++) /* nearest bin; '<=' sends a tie up */
            if (fabs(f - k * bin_hz) <= fabs(f - best * bin_hz))
                best = k;
        int dup = 0;
        for (int i = 0; i < n; i++)
            dup |= bins[i] == best;
        if (!dup)
            bins[n++] = best;
    }
    fb->n_bins = n_bins;
    fb->n_bands = n - 2;
    fb->w = calloc((size_t)(n_bins * (n > 2 ? n - 2 : 1)), sizeof(double));
    fb->centre = calloc((size_t)(n > 2 ? n - 2 : 1), sizeof(double));
    for (int b = 0; b < fb->n_bands; b++) {
        int lo = bins[b], mid = bins[b + 1], hi = bins[b + 2];
        double sum = 0;
        double *row = fb->w + (size_t)b * n_bins;
        for (int k = 0; k < n_bins; k++) {
            double v = 0;
            if (k > lo && k < mid)
                v = (double)(k - lo) / (mid - lo); /* rising edge, 0 at lo */
            else if (k >= mid && k < hi)
                v = 1.0 - (double)(k - mid) / (hi - mid); /* 1 at mid, >0 at hi-1 */
            row[k] = v;
            sum += v;
        }
        for (int k = 0; k < n_bins; k++)
            row[k] /= sum;
        fb->centre[b] = mid * bin_hz;
    }
}

static void ref_fb_free(ref_fb *fb)
{
    free(fb->w);
    free(fb->centre);
}

/* Frames of x by the contract's causal framing, naive DFT. out is
 * (n_frames, n_bands), n_frames = n / hop. */
static double *ref_frames(const lec_spec_config *c, const ref_fb *fb, const float *x, size_t n,
                          size_t *n_frames)
{
    const int N = c->frame_size, hop = c->hop_size;
    *n_frames = n / (size_t)hop;
    double *out = calloc(*n_frames * (size_t)fb->n_bands + 1, sizeof(double));
    double *frame = malloc(sizeof(double) * N);
    double *mag = malloc(sizeof(double) * fb->n_bins);
    double *cs = malloc(sizeof(double) * N), *sn = malloc(sizeof(double) * N);
    for (int m = 0; m < N; m++) {
        cs[m] = cos(2 * PI * m / N);
        sn[m] = sin(2 * PI * m / N);
    }
    /* the highest bin any band touches bounds the DFT work */
    int kmax = 0;
    for (int b = 0; b < fb->n_bands; b++)
        for (int k = 0; k < fb->n_bins; k++)
            if (fb->w[(size_t)b * fb->n_bins + k] != 0 && k > kmax)
                kmax = k;
    for (size_t i = 0; i < *n_frames; i++) {
        long end = (long)(i + 1) * hop; /* exclusive; frame ends at sample end */
        for (int m = 0; m < N; m++) {
            long t = end - N + m;
            double w = 0.5 - 0.5 * cos(2 * PI * m / (N - 1)); /* np.hanning */
            frame[m] = t >= 0 ? w * x[t] : 0.0;
        }
        for (int k = 0; k <= kmax; k++) {
            double re = 0, im = 0;
            for (int m = 0; m < N; m++) {
                int idx = (int)(((long)k * m) % N);
                re += frame[m] * cs[idx];
                im -= frame[m] * sn[idx];
            }
            mag[k] = sqrt(re * re + im * im);
        }
        for (int b = 0; b < fb->n_bands; b++) {
            double acc = 0;
            for (int k = 0; k <= kmax; k++)
                acc += fb->w[(size_t)b * fb->n_bins + k] * mag[k];
            out[i * fb->n_bands + b] = log10(1.0 + acc);
        }
    }
    free(frame);
    free(mag);
    free(cs);
    free(sn);
    return out;
}

/* ---- test signal ------------------------------------------------------ */

/* exponential sweep 50 Hz -> 0.45 sr, two steady tones, three clicks and a
 * bit of deterministic noise; amplitudes chosen so the log spans 0..~2.5 */
static float *make_signal(int sr, size_t n)
{
    float *x = malloc(sizeof(float) * n);
    const double T = (double)n / sr, f0 = 50.0, f1 = 0.45 * sr;
    const double k = log(f1 / f0) / T;
    unsigned s = 12345u;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / sr;
        double v = 0.4 * sin(2 * PI * f0 * (exp(k * t) - 1.0) / k);
        v += 0.2 * sin(2 * PI * 440.0 * t) + 0.1 * sin(2 * PI * 1234.5 * t + 0.3);
        s = s * 1664525u + 1013904223u;
        v += 1e-3 * ((double)(s >> 8) / (1u << 24) - 0.5);
        x[i] = (float)v;
    }
    size_t clicks[3] = {n / 5 + 17, n / 2 + 3, (4 * n) / 5 + 31};
    for (int c = 0; c < 3; c++)
        x[clicks[c]] += 0.9f;
    return x;
}

/* ---- checks ------------------------------------------------------------ */

static void check_against_reference(const lec_spec_config *c, double seconds, double tol)
{
    lec_error err;
    const size_t n = (size_t)(seconds * c->sample_rate);
    float *x = make_signal(c->sample_rate, n);
    ref_fb fb;
    ref_fb_build(&fb, c);

    lec_spec *s = lec_spec_create(c, &err);
    CHECKF(s != NULL, "%s", err.msg);
    if (!s)
        goto out;
    CHECKF(lec_spec_n_bands(s) == fb.n_bands, "bands: lib %d, reference %d", lec_spec_n_bands(s),
           fb.n_bands);
    if (lec_spec_n_bands(s) != fb.n_bands)
        goto out;

    /* the filterbank itself: centres and every weight */
    double wmax = 0;
    for (int b = 0; b < fb.n_bands; b++) {
        CHECK_NEAR(lec_spec_band_hz(s, b), fb.centre[b], 1e-3);
        int first = -1;
        const float *w = NULL;
        int len = lec_spec_band_weights(s, b, &first, &w);
        CHECK(len > 0 && first >= 0 && first + len <= fb.n_bins);
        for (int k = 0; k < fb.n_bins; k++) {
            double lib = (len > 0 && k >= first && k < first + len) ? w[k - first] : 0.0;
            double d = fabs(lib - fb.w[(size_t)b * fb.n_bins + k]);
            if (d > wmax)
                wmax = d;
        }
    }
    CHECKF(wmax < 1e-7, "filterbank weights differ by %g", wmax);

    /* frames */
    float *frames = NULL;
    size_t nf = 0;
    int nb = 0;
    CHECK(lec_spec_compute(c, x, n, &frames, &nf, &nb, &err) == LEC_OK);
    size_t rnf = 0;
    double *ref = ref_frames(c, &fb, x, n, &rnf);
    CHECK(nf == rnf && nb == fb.n_bands);
    double emax = 0, vmax = 0;
    if (frames && nf == rnf)
        for (size_t i = 0; i < nf * (size_t)nb; i++) {
            double d = fabs(frames[i] - ref[i]);
            if (d > emax)
                emax = d;
            if (ref[i] > vmax)
                vmax = ref[i];
        }
    printf("  sr %d frame %d hop %d %d bpo %g-%g Hz: %d bands, %zu frames, max |lib-ref| %.3g "
           "(values up to %.3g)\n",
           c->sample_rate, c->frame_size, c->hop_size, c->bands_per_octave, (double)c->fmin_hz,
           (double)c->fmax_hz, nb, nf, emax, vmax);
    CHECKF(emax <= tol, "max error %g > %g", emax, tol);
    CHECK(vmax > 0.5); /* the signal really excites the bands */
    free(frames);
    free(ref);
out:
    lec_spec_destroy(s);
    ref_fb_free(&fb);
    free(x);
}

static void check_silence(void)
{
    lec_spec_config c;
    lec_spec_config_default(&c);
    const size_t n = 10 * (size_t)c.hop_size + 7;
    float *x = calloc(n, sizeof(float));
    float *frames = NULL;
    size_t nf = 0;
    int nb = 0;
    lec_error err;
    CHECK(lec_spec_compute(&c, x, n, &frames, &nf, &nb, &err) == LEC_OK);
    CHECK(nf == 10);
    int nonzero = 0;
    for (size_t i = 0; i < nf * (size_t)nb; i++)
        nonzero += frames[i] != 0.0f; /* exactly 0, not merely small */
    CHECK(nonzero == 0);
    free(frames);
    free(x);
}

/* A sine at the centre frequency of band b (the exact frequency of its centre
 * bin): the centre bin gets the main lobe peak, the neighbouring triangles
 * have weight 0 there, so band b must be the maximum of the frame. */
static void check_tones_peak_in_their_band(void)
{
    lec_spec_config c;
    lec_spec_config_default(&c);
    lec_error err;
    lec_spec *s = lec_spec_create(&c, &err);
    CHECK(s != NULL);
    if (!s)
        return;
    const int nb = lec_spec_n_bands(s);
    const size_t n = (size_t)c.frame_size + 2 * (size_t)c.hop_size;
    float *x = malloc(sizeof(float) * n);
    float *out = malloc(sizeof(float) * nb * lec_spec_max_frames(s, n));
    int wrong = 0;
    for (int b = 0; b < nb; b++) {
        double f = lec_spec_band_hz(s, b);
        for (size_t i = 0; i < n; i++)
            x[i] = (float)(0.5 * sin(2 * PI * f * i / c.sample_rate + 0.7));
        lec_spec_reset(s);
        size_t got = lec_spec_process(s, x, n, out, lec_spec_max_frames(s, n));
        const float *last = out + (got - 1) * nb; /* window fully inside the tone */
        int arg = 0;
        for (int k = 1; k < nb; k++)
            if (last[k] > last[arg])
                arg = k;
        if (arg != b) {
            wrong++;
            fprintf(stderr, "tone %.2f Hz (band %d) peaks in band %d\n", f, b, arg);
        }
    }
    CHECK(wrong == 0);
    free(x);
    free(out);
    lec_spec_destroy(s);
}

/* A unit impulse at sample p: |X(k)| = w[pos] in every bin, where pos is its
 * place in the frame; unit-area filters turn that into exactly w[pos] per
 * band. Frames not containing p (or with pos at a zero of the window) are 0.
 * This pins the window shape, the normalisation and the framing together. */
static void check_click(int frame_size, int hop)
{
    lec_spec_config c;
    lec_spec_config_default(&c);
    c.frame_size = frame_size;
    c.hop_size = hop;
    const long p = 5 * (long)hop + hop / 3;
    const size_t n = (size_t)p + 3 * (size_t)frame_size;
    float *x = calloc(n, sizeof(float));
    x[p] = 1.0f;
    float *frames = NULL;
    size_t nf = 0;
    int nb = 0;
    lec_error err;
    CHECK(lec_spec_compute(&c, x, n, &frames, &nf, &nb, &err) == LEC_OK);
    int bad = 0, lit = 0;
    for (size_t i = 0; frames && i < nf; i++) {
        long start = (long)(i + 1) * hop - frame_size; /* first sample of frame i */
        long pos = p - start;
        double w = (pos >= 0 && pos < frame_size)
                       ? 0.5 - 0.5 * cos(2 * PI * pos / (frame_size - 1))
                       : 0.0;
        double expect = log10(1.0 + w);
        lit += expect > 0;
        for (int b = 0; b < nb; b++)
            if (fabs(frames[i * nb + b] - expect) > 2e-6 || (expect == 0 && frames[i * nb + b] != 0)) {
                if (bad++ < 5)
                    fprintf(stderr, "click: frame %zu band %d = %.8f, expected %.8f\n", i, b,
                            frames[i * nb + b], expect);
            }
    }
    CHECK(bad == 0);
    /* frames i = p/hop .. (p + frame_size)/hop - 1 contain the click */
    CHECK(lit >= frame_size / hop - 1 && lit <= frame_size / hop + 1);
    free(frames);
    free(x);
}

static void check_band_counts(void)
{
    lec_spec_config c;
    lec_error err;
    lec_spec_config_default(&c);
    /* MSMD (Dorfer et al.): 22050 Hz, frame 2048, 16 bands/octave, 30-6000 Hz
     * -> 92 bands, the spectrogram height reported for that data set */
    c.bands_per_octave = 16;
    c.fmin_hz = 30.0f;
    lec_spec *s = lec_spec_create(&c, &err);
    CHECK(s && lec_spec_n_bands(s) == 92);
    lec_spec_destroy(s);
    /* our default, 12 bands/octave from 60 Hz: 80 grid frequencies, but
     * below ~160 Hz semitones are less than a 10.8 Hz bin apart and merge:
     * 72 distinct bins -> 70 bands */
    lec_spec_config_default(&c);
    s = lec_spec_create(&c, &err);
    CHECK(s && lec_spec_n_bands(s) == 70);
    if (s) {
        /* the grid starts at 61.7 Hz (A4 * 2^(-34/12)); 61.7, 65.4 and
         * 69.3 Hz all round to bin 6 (64.6 Hz), 73.4 and 77.8 Hz to bin 7
         * (75.4 Hz): the first triangle is bins 6, 7, 8, centred at 75.4 Hz */
        CHECK_NEAR(lec_spec_band_hz(s, 0), 7 * 22050.0 / 2048, 1e-3);
        /* above ~370 Hz semitones are > 2 bins apart: consecutive centres
         * follow the semitone grid (ratio 2^(1/12) up to bin rounding) */
        int nb = lec_spec_n_bands(s);
        double r = lec_spec_band_hz(s, nb - 1) / lec_spec_band_hz(s, nb - 13);
        CHECK_NEAR(r, 2.0, 0.01);
    }
    lec_spec_destroy(s);

    /* both ends of [fmin, fmax] are included: 7040 Hz = A4 * 16 is on the
     * grid, and moving fmax just below it loses exactly one band (its bin,
     * 440 at 16 Hz spacing, is distinct from 6645 Hz's bin 415) */
    c.sample_rate = 16000;
    c.frame_size = 1000;
    c.hop_size = 500;
    c.bands_per_octave = 12;
    c.fmin_hz = 110.0f;
    c.fmax_hz = 7040.0f;
    s = lec_spec_create(&c, &err);
    c.fmax_hz = 7039.0f;
    lec_spec *s2 = lec_spec_create(&c, &err);
    CHECK(s && s2 && lec_spec_n_bands(s) == lec_spec_n_bands(s2) + 1);
    lec_spec_destroy(s);
    lec_spec_destroy(s2);
}

int main(void)
{
    lec_spec_config c;

    /* the default front end */
    lec_spec_config_default(&c);
    check_against_reference(&c, 1.5, 1e-5);
    /* a different rate, a non power-of-two frame, frame == hop, 24 bpo */
    c.sample_rate = 16000;
    c.frame_size = 1000;
    c.hop_size = 1000;
    c.bands_per_octave = 24;
    c.fmin_hz = 100.0f;
    c.fmax_hz = 7900.0f;
    check_against_reference(&c, 1.0, 1e-5);
    /* small hop, fmax right at Nyquist */
    c.sample_rate = 8000;
    c.frame_size = 512;
    c.hop_size = 80;
    c.bands_per_octave = 6;
    c.fmin_hz = 40.0f;
    c.fmax_hz = 4000.0f;
    check_against_reference(&c, 0.5, 1e-5);

    /* a tie: at 8000 Hz / 100 bins are exactly 80 Hz apart and 440 Hz is
     * exactly halfway between bins 5 and 6; madmom sends it up (480 Hz) */
    c.sample_rate = 8000;
    c.frame_size = 100;
    c.hop_size = 50;
    c.bands_per_octave = 1;
    c.fmin_hz = 200.0f;
    c.fmax_hz = 4000.0f;
    check_against_reference(&c, 0.5, 1e-5);
    {
        lec_error err;
        lec_spec *s = lec_spec_create(&c, &err);
        CHECK(s && lec_spec_n_bands(s) == 3 && lec_spec_band_hz(s, 0) == 480.0f);
        lec_spec_destroy(s);
    }

    check_silence();
    check_tones_peak_in_their_band();
    check_click(2048, 1102);
    check_click(1000, 1000);
    check_click(512, 80);
    check_band_counts();
    return lec_test_finish("test_spec_golden");
}
