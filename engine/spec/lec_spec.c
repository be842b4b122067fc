/* lec_spec.c -- rolling log-filterbank spectrogram: symmetric Hann window ->
 * FFTW r2c -> magnitude -> madmom-style logarithmic triangular filterbank ->
 * log10(1 + x). See lec_spec.h for the contract and the framing convention.
 *
 * Streaming state is a ring of `cap` samples indexed by a "virtual" sample
 * counter v that starts with the (frame_size - hop) leading zeros, so that
 * input sample t sits at v = t + frame_size - hop and frame i covers
 * v in [i*hop, i*hop + frame_size). Offline computation runs the very same
 * code on the whole signal, which is why offline and streaming frames are
 * bit-identical however the input is chunked.
 */
#include "lec_spec.h"

#include <fftw3.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LEC_SPEC_FREF_HZ 440.0 /* tuning reference (A4) of the log-spaced centres */

struct lec_spec {
    lec_spec_config cfg;
    int n_bins;  /* frame_size/2: bins 0..frame_size/2-1, Nyquist dropped (madmom) */
    int n_bands;
    int bin_lo, bin_hi; /* magnitudes needed: bins [bin_lo, bin_hi) */

    /* filterbank, sparse: band b has band_len[b] weights at band_off[b] in
     * weights[], applying to bins band_first[b] .. band_first[b]+band_len[b]-1 */
    int *band_first;
    int *band_len;
    int *band_off;
    float *weights;
    float *band_hz;

    float *window;          /* (frame_size) symmetric Hann */
    float *fft_in;          /* (frame_size) fftwf_malloc'd: windowed frame */
    fftwf_complex *fft_out; /* (frame_size/2 + 1) */
    float *mag;             /* (n_bins) magnitudes, only [bin_lo, bin_hi) used */
    fftwf_plan plan;

    float *ring;       /* (cap) samples, v mod cap */
    size_t cap;        /* frame_size + pending capacity */
    uint64_t written;  /* virtual samples stored so far (incl. leading zeros) */
    uint64_t frames;   /* frames written so far */
    unsigned long long dropped;
};

static pthread_mutex_t fftw_planner_mutex = PTHREAD_MUTEX_INITIALIZER;

void lec_spec_fftw_lock(void) { pthread_mutex_lock(&fftw_planner_mutex); }
void lec_spec_fftw_unlock(void) { pthread_mutex_unlock(&fftw_planner_mutex); }

void lec_spec_config_default(lec_spec_config *cfg)
{
    if (!cfg)
        return;
    cfg->sample_rate = 22050;
    cfg->frame_size = 2048;
    cfg->hop_size = 1102;
    cfg->fmin_hz = 60.0f;
    cfg->fmax_hz = 6000.0f;
    cfg->bands_per_octave = 12;
}

/* Limits that keep every size comfortably inside int/size_t arithmetic and
 * catch garbage read from a model file; real settings are far inside. */
#define MAX_SAMPLE_RATE 768000
#define MAX_FRAME_SIZE (1 << 20)
#define MAX_BANDS_PER_OCTAVE 96

static lec_status validate(const lec_spec_config *c, lec_error *err)
{
    if (!c)
        return lec_error_set(err, LEC_EINVAL, "spectrogram config: NULL config");
    if (c->sample_rate < 1000 || c->sample_rate > MAX_SAMPLE_RATE)
        return lec_error_set(err, LEC_EINVAL,
                             "spectrogram config: sample_rate %d Hz is out of range (1000..%d)",
                             c->sample_rate, MAX_SAMPLE_RATE);
    if (c->frame_size < 16 || c->frame_size > MAX_FRAME_SIZE)
        return lec_error_set(err, LEC_EINVAL,
                             "spectrogram config: frame_size %d samples is out of range (16..%d)",
                             c->frame_size, MAX_FRAME_SIZE);
    if (c->hop_size < 1)
        return lec_error_set(err, LEC_EINVAL,
                             "spectrogram config: hop_size %d must be at least 1 sample",
                             c->hop_size);
    if (c->hop_size > c->frame_size)
        return lec_error_set(err, LEC_EINVAL,
                             "spectrogram config: hop_size %d is larger than frame_size %d "
                             "(frames must overlap or touch: need frame_size >= hop_size)",
                             c->hop_size, c->frame_size);
    if (c->bands_per_octave < 1 || c->bands_per_octave > MAX_BANDS_PER_OCTAVE)
        return lec_error_set(err, LEC_EINVAL,
                             "spectrogram config: bands_per_octave %d is out of range (1..%d)",
                             c->bands_per_octave, MAX_BANDS_PER_OCTAVE);
    if (!isfinite(c->fmin_hz) || !(c->fmin_hz > 0.0f))
        return lec_error_set(err, LEC_EINVAL,
                             "spectrogram config: fmin_hz %g must be a positive frequency",
                             (double)c->fmin_hz);
    if (!isfinite(c->fmax_hz) || !(c->fmax_hz > c->fmin_hz))
        return lec_error_set(err, LEC_EINVAL,
                             "spectrogram config: fmax_hz %g must be above fmin_hz %g",
                             (double)c->fmax_hz, (double)c->fmin_hz);
    if ((double)c->fmax_hz > 0.5 * c->sample_rate)
        return lec_error_set(err, LEC_EINVAL,
                             "spectrogram config: fmax_hz %g is above the Nyquist frequency "
                             "%g Hz of sample_rate %d",
                             (double)c->fmax_hz, 0.5 * c->sample_rate, c->sample_rate);
    return LEC_OK;
}

/* Nearest FFT bin of f: the first bin at or above f, or the one below it if
 * that is strictly closer (a tie goes up), clipped to [0, n_bins-1]. This is
 * madmom's frequencies2bins (searchsorted + clip to [1, n-1] + compare). */
static int nearest_bin(double f, int n_bins, double bin_hz)
{
    /* binary search: first k with k*bin_hz >= f, in [0, n_bins] */
    int lo = 0, hi = n_bins;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if ((double)mid * bin_hz >= f)
            hi = mid;
        else
            lo = mid + 1;
    }
    int idx = lo < 1 ? 1 : (lo > n_bins - 1 ? n_bins - 1 : lo);
    double left = (double)(idx - 1) * bin_hz, right = (double)idx * bin_hz;
    if (f - left < right - f)
        idx -= 1;
    return idx;
}

/* Builds the filterbank into s (band arrays, weights, band_hz, bin range). */
static lec_status build_filterbank(lec_spec *s, lec_error *err)
{
    const lec_spec_config *c = &s->cfg;
    const int bpo = c->bands_per_octave;
    const double bin_hz = (double)c->sample_rate / c->frame_size;
    const double fmin = c->fmin_hz, fmax = c->fmax_hz;

    /* Centre frequencies fref * 2^(j/bpo) for j in [floor(log2(fmin/fref)*bpo),
     * ceil(log2(fmax/fref)*bpo)], kept if fmin <= f <= fmax. (madmom's
     * np.arange stops before the ceil, so it would drop an fmax lying exactly
     * on the grid; we keep it, as the range says.) At most
     * bpo * log2(fmax/fmin) + 3 candidates. */
    const long j0 = (long)floor(log2(fmin / LEC_SPEC_FREF_HZ) * bpo);
    const long j1 = (long)ceil(log2(fmax / LEC_SPEC_FREF_HZ) * bpo);
    const long n_cand = j1 - j0 + 1;
    int *bins = malloc(sizeof(int) * (size_t)(n_cand > 0 ? n_cand : 1));
    if (!bins)
        return lec_error_set(err, LEC_ENOMEM, "spectrogram: out of memory (filterbank)");
    int n_unique = 0;
    for (long j = j0; j <= j1; j++) {
        double f = LEC_SPEC_FREF_HZ * pow(2.0, (double)j / bpo);
        if (f < fmin || f > fmax)
            continue;
        int b = nearest_bin(f, s->n_bins, bin_hz);
        /* centres ascend, so bins do not decrease: dropping repeats of the
         * previous bin leaves the unique bins (coarse resolution at low f) */
        if (n_unique == 0 || bins[n_unique - 1] != b)
            bins[n_unique++] = b;
    }
    if (n_unique < 3) {
        free(bins);
        return lec_error_set(err, LEC_EINVAL,
                             "spectrogram config: %g..%g Hz with %d bands per octave maps to %d "
                             "distinct FFT bins of %g Hz (frame_size %d at %d Hz); a triangular "
                             "band needs 3: widen the range or use a longer frame",
                             fmin, fmax, bpo, n_unique, bin_hz, c->frame_size, c->sample_rate);
    }
    s->n_bands = n_unique - 2;
    const int nb = s->n_bands;
    s->band_first = calloc((size_t)nb, sizeof(int));
    s->band_len = calloc((size_t)nb, sizeof(int));
    s->band_off = calloc((size_t)nb, sizeof(int));
    s->band_hz = calloc((size_t)nb, sizeof(float));
    /* each triangle spans bins [start, stop) and consecutive ones overlap by
     * their half, so the total is < 2 * (last bin - first bin) + nb */
    size_t total = 0;
    for (int b = 0; b < nb; b++)
        total += (size_t)(bins[b + 2] - bins[b]) + 1;
    s->weights = calloc(total, sizeof(float));
    if (!s->band_first || !s->band_len || !s->band_off || !s->band_hz || !s->weights) {
        free(bins);
        return lec_error_set(err, LEC_ENOMEM, "spectrogram: out of memory (filterbank)");
    }

    double *tri = malloc(sizeof(double) * (size_t)(s->n_bins + 1));
    if (!tri) {
        free(bins);
        return lec_error_set(err, LEC_ENOMEM, "spectrogram: out of memory (filterbank)");
    }
    int off = 0;
    s->bin_lo = s->n_bins;
    s->bin_hi = 0;
    for (int b = 0; b < nb; b++) {
        int start = bins[b], centre = bins[b + 1], stop = bins[b + 2];
        if (stop - start < 2) { /* madmom's guard; cannot occur with unique bins */
            centre = start;
            stop = start + 1;
        }
        /* triangle over [start, stop): rising k/(centre-start) without the
         * centre, falling from 1 at the centre to 1/(stop-centre) at stop-1 */
        const int len = stop - start, c0 = centre - start;
        double sum = 0.0;
        for (int k = 0; k < len; k++) {
            tri[k] = k < c0 ? (double)k / c0 : 1.0 - (double)(k - c0) / (stop - centre);
            sum += tri[k];
        }
        /* keep only the non-zero span (the start bin has weight 0) */
        int k0 = 0, k1 = len;
        while (k0 < k1 && tri[k0] == 0.0)
            k0++;
        while (k1 > k0 && tri[k1 - 1] == 0.0)
            k1--;
        s->band_first[b] = start + k0;
        s->band_len[b] = k1 - k0;
        s->band_off[b] = off;
        for (int k = k0; k < k1; k++)
            s->weights[off++] = (float)(tri[k] / sum); /* unit area */
        s->band_hz[b] = (float)(centre * bin_hz);
        if (s->band_first[b] < s->bin_lo)
            s->bin_lo = s->band_first[b];
        if (s->band_first[b] + s->band_len[b] > s->bin_hi)
            s->bin_hi = s->band_first[b] + s->band_len[b];
    }
    free(tri);
    free(bins);
    return LEC_OK;
}

void lec_spec_destroy(lec_spec *s)
{
    if (!s)
        return;
    if (s->plan) {
        lec_spec_fftw_lock();
        fftwf_destroy_plan(s->plan);
        lec_spec_fftw_unlock();
    }
    fftwf_free(s->fft_in);
    fftwf_free(s->fft_out);
    free(s->band_first);
    free(s->band_len);
    free(s->band_off);
    free(s->weights);
    free(s->band_hz);
    free(s->window);
    free(s->mag);
    free(s->ring);
    free(s);
}

lec_spec *lec_spec_create(const lec_spec_config *cfg, lec_error *err)
{
    if (validate(cfg, err) != LEC_OK)
        return NULL;
    lec_spec *s = calloc(1, sizeof *s);
    if (!s) {
        lec_error_set(err, LEC_ENOMEM, "spectrogram: out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    const int N = cfg->frame_size;
    s->n_bins = N / 2;
    if (build_filterbank(s, err) != LEC_OK) {
        lec_spec_destroy(s);
        return NULL;
    }
    /* Pending room: one second of audio (at least a hop) beyond the frame
     * being assembled, for callers that pass a small max_frames. */
    size_t pending = (size_t)(cfg->sample_rate > cfg->hop_size ? cfg->sample_rate : cfg->hop_size);
    s->cap = (size_t)N + pending;
    s->window = malloc(sizeof(float) * (size_t)N);
    s->mag = calloc((size_t)s->n_bins, sizeof(float));
    s->ring = calloc(s->cap, sizeof(float));
    s->fft_in = fftwf_malloc(sizeof(float) * (size_t)N);
    s->fft_out = fftwf_malloc(sizeof(fftwf_complex) * (size_t)(N / 2 + 1));
    if (!s->window || !s->mag || !s->ring || !s->fft_in || !s->fft_out) {
        lec_error_set(err, LEC_ENOMEM, "spectrogram: out of memory (frame_size %d)", N);
        lec_spec_destroy(s);
        return NULL;
    }
    /* np.hanning(N): symmetric, zero at both ends */
    const double two_pi = 6.283185307179586476925286766559;
    for (int n = 0; n < N; n++)
        s->window[n] = (float)(0.5 - 0.5 * cos(two_pi * n / (N - 1)));
    memset(s->fft_in, 0, sizeof(float) * (size_t)N);

    lec_spec_fftw_lock();
    s->plan = fftwf_plan_dft_r2c_1d(N, s->fft_in, s->fft_out, FFTW_ESTIMATE);
    lec_spec_fftw_unlock();
    if (!s->plan) {
        lec_error_set(err, LEC_EEXTERNAL, "spectrogram: FFTW could not plan a real FFT of %d", N);
        lec_spec_destroy(s);
        return NULL;
    }
    lec_spec_reset(s);
    return s;
}

void lec_spec_reset(lec_spec *s)
{
    if (!s)
        return;
    /* the ring holds the (frame_size - hop) leading zeros at v = 0.. */
    memset(s->ring, 0, sizeof(float) * s->cap);
    s->written = (uint64_t)(s->cfg.frame_size - s->cfg.hop_size);
    s->frames = 0;
    s->dropped = 0;
}

int lec_spec_n_bands(const lec_spec *s) { return s ? s->n_bands : 0; }
const lec_spec_config *lec_spec_config_of(const lec_spec *s) { return s ? &s->cfg : NULL; }

float lec_spec_band_hz(const lec_spec *s, int b)
{
    if (!s || b < 0 || b >= s->n_bands)
        return 0.0f;
    return s->band_hz[b];
}

int lec_spec_band_weights(const lec_spec *s, int b, int *first_bin, const float **weights)
{
    if (!s || b < 0 || b >= s->n_bands)
        return 0;
    if (first_bin)
        *first_bin = s->band_first[b];
    if (weights)
        *weights = s->weights + s->band_off[b];
    return s->band_len[b];
}

size_t lec_spec_pending_capacity(const lec_spec *s)
{
    return s ? s->cap - (size_t)s->cfg.frame_size : 0;
}
unsigned long long lec_spec_dropped_samples(const lec_spec *s) { return s ? s->dropped : 0; }
unsigned long long lec_spec_frames_done(const lec_spec *s) { return s ? s->frames : 0; }

/* Frames complete once `written` virtual samples are stored. */
static uint64_t frames_ready(const lec_spec *s, uint64_t written)
{
    const uint64_t N = (uint64_t)s->cfg.frame_size, hop = (uint64_t)s->cfg.hop_size;
    return written >= N ? (written - N) / hop + 1 : 0;
}

size_t lec_spec_max_frames(const lec_spec *s, size_t n_samples)
{
    if (!s)
        return 0;
    uint64_t r = frames_ready(s, s->written + (uint64_t)n_samples) - s->frames;
    return r > SIZE_MAX ? SIZE_MAX : (size_t)r;
}

/* Frame s->frames (its samples are in the ring) -> out (n_bands). */
static void compute_frame(lec_spec *s, float *out)
{
    const size_t N = (size_t)s->cfg.frame_size;
    const size_t start = (size_t)((s->frames * (uint64_t)s->cfg.hop_size) % s->cap);
    const size_t first = N < s->cap - start ? N : s->cap - start;
    /* restrict: the buffers are distinct, which lets the compiler vectorise
     * these element-wise loops (results are the same, element by element) */
    const float *restrict w = s->window;
    const float *restrict ring = s->ring;
    float *restrict in = s->fft_in;
    for (size_t i = 0; i < first; i++)
        in[i] = ring[start + i] * w[i];
    for (size_t i = first; i < N; i++)
        in[i] = ring[i - first] * w[i];

    fftwf_execute(s->plan);

    /* (re, im) pairs; a sum of squares is never negative, so with
     * -fno-math-errno (engine/spec/CMakeLists.txt) this vectorises */
    const float *restrict X = (const float *)s->fft_out;
    float *restrict mag = s->mag;
    for (int k = s->bin_lo; k < s->bin_hi; k++)
        mag[k] = sqrtf(X[2 * k] * X[2 * k] + X[2 * k + 1] * X[2 * k + 1]);
    for (int b = 0; b < s->n_bands; b++) {
        const float *wt = s->weights + s->band_off[b];
        const float *m = s->mag + s->band_first[b];
        float acc = 0.0f;
        for (int k = 0; k < s->band_len[b]; k++)
            acc += wt[k] * m[k];
        out[b] = log10f(1.0f + acc);
    }
}

size_t lec_spec_process(lec_spec *s, const float *samples, size_t n, float *out,
                        size_t max_frames)
{
    if (!s || (n > 0 && !samples))
        return 0;
    if (!out) /* nowhere to write: keep the samples, as with max_frames = 0 */
        max_frames = 0;
    const uint64_t hop = (uint64_t)s->cfg.hop_size, N = (uint64_t)s->cfg.frame_size;
    size_t done = 0;
    for (;;) {
        /* emit every complete frame the caller has room for; this also frees
         * ring space, so arbitrarily long inputs stream through */
        while (done < max_frames && s->written >= s->frames * hop + N) {
            compute_frame(s, out + done * (size_t)s->n_bands);
            s->frames++;
            done++;
        }
        if (n == 0)
            break;
        /* the ring must keep every sample from the next frame's start on */
        const uint64_t used = s->written - s->frames * hop;
        const size_t room = used < s->cap ? s->cap - (size_t)used : 0;
        if (room == 0) {
            s->dropped += n;
            break;
        }
        const size_t take = n < room ? n : room;
        const size_t pos = (size_t)(s->written % s->cap);
        const size_t first = take < s->cap - pos ? take : s->cap - pos;
        memcpy(s->ring + pos, samples, sizeof(float) * first);
        memcpy(s->ring, samples + first, sizeof(float) * (take - first));
        s->written += take;
        samples += take;
        n -= take;
    }
    return done;
}

lec_status lec_spec_compute(const lec_spec_config *cfg, const float *x, size_t n,
                            float **frames, size_t *n_frames, int *n_bands, lec_error *err)
{
    if (!frames || !n_frames || !n_bands)
        return lec_error_set(err, LEC_EINVAL, "lec_spec_compute: NULL output argument");
    *frames = NULL;
    *n_frames = 0;
    *n_bands = 0;
    if (n > 0 && !x)
        return lec_error_set(err, LEC_EINVAL, "lec_spec_compute: NULL signal of %zu samples", n);
    lec_spec *s = lec_spec_create(cfg, err);
    if (!s)
        return err ? err->code : LEC_EINVAL;
    const size_t nf = n / (size_t)cfg->hop_size; /* frames ending at or before sample n */
    const size_t nb = (size_t)s->n_bands;
    float *out = NULL;
    if (nf > 0) {
        if (nf > SIZE_MAX / sizeof(float) / nb) {
            lec_spec_destroy(s);
            return lec_error_set(err, LEC_ENOMEM, "lec_spec_compute: %zu frames is too many", nf);
        }
        out = malloc(sizeof(float) * nf * nb);
        if (!out) {
            lec_spec_destroy(s);
            return lec_error_set(err, LEC_ENOMEM,
                                 "lec_spec_compute: out of memory for %zu frames x %zu bands", nf,
                                 nb);
        }
    }
    const size_t got = lec_spec_process(s, x, n, out, nf);
    const int nbi = s->n_bands;
    lec_spec_destroy(s);
    if (got != nf) { /* cannot happen: max_frames covers every frame */
        free(out);
        return lec_error_set(err, LEC_EINVAL, "lec_spec_compute: internal error: %zu of %zu frames",
                             got, nf);
    }
    *frames = out;
    *n_frames = nf;
    *n_bands = nbi;
    return LEC_OK;
}
