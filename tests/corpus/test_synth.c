/* test_synth.c -- lec_synth with the small TimGM6mb soundfont: the FLAC is
 * mono 22050 Hz with the expected length; each note's onset, detected from
 * the audio here, lies within 20 ms of the ground truth and never before it
 * (so fluidsynth adds no offset: audio t = MIDI t), plain and humanized;
 * tempo 0.5 doubles the detected onsets; reduced FLAC resolution (bits)
 * rounds every sample and shrinks the file; evaluation soundfonts are
 * refused; failures (missing fluidsynth, timeout, missing directory, not a
 * MIDI file, bad soundfont) leave an existing output untouched and no
 * temporaries. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>

#include "lec_perform.h"
#include "lec_synth.h"
#include "lec_test.h"

#define SF_SMALL "/usr/share/sounds/sf2/TimGM6mb.sf2"
#define N_NOTES 5

/* Separated short notes (1/16 whole = 0.125 s at quarter = 120), one per
 * second from 0.5 s, both staves, different pitches; one starts at 0. */
static const lec_perform_note notes[N_NOTES] = {
    {0.0, 1.0 / 16, 64, 100, 0, 10},  {0.25, 1.0 / 16, 60, 100, 0, 11},
    {0.75, 1.0 / 16, 67, 100, 0, 12}, {1.25, 1.0 / 16, 72, 100, 0, 13},
    {1.75, 1.0 / 16, 48, 100, 1, 14},
};
static const lec_perform_tempo tempo[] = {{0.0, 120.0}};

static lec_perform *perform_h(double factor, int humanize, const char *mid)
{
    lec_perform_config cfg;
    lec_perform_config_default(&cfg);
    cfg.tempo_factor = factor;
    cfg.humanize = humanize;
    cfg.seed = 5;
    lec_perform_score sc = {notes, N_NOTES, tempo, 1, NULL, 0};
    lec_error err = {0};
    lec_perform *p = lec_perform_create(&cfg, &sc, &err);
    CHECKF(p != NULL, "%s", err.msg);
    if (p)
        CHECKF(lec_perform_write_midi(p, mid, &err) == LEC_OK, "%s", err.msg);
    return p;
}

static lec_perform *perform(double factor, const char *mid) { return perform_h(factor, 0, mid); }

/* Read a mono FLAC fully; checks its format. */
static float *read_flac(const char *path, long *n)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    CHECKF(sf != NULL, "%s: %s", path, sf_strerror(NULL));
    if (!sf)
        return NULL;
    CHECK(info.channels == 1);
    CHECK(info.samplerate == 22050);
    CHECK((info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_FLAC);
    float *x = malloc((size_t)(info.frames + 1) * sizeof *x);
    *n = (long)sf_readf_float(sf, x, info.frames);
    sf_close(sf);
    return x;
}

/* Onset of the note expected near t (s): the first sample after t - 60 ms
 * whose 1 ms-frame peak exceeds the background (the peak in the 60..30 ms
 * before the search window) + 10% of the rise to the note's peak within
 * t + 150 ms. Independent of lec_perform: only the audio is used. */
static double detect_onset(const float *x, long n, double t)
{
    const double sr = 22050.0;
    long a = (long)((t - 0.06) * sr), b = (long)((t + 0.15) * sr);
    long g0 = (long)((t - 0.09) * sr), g1 = a;
    if (a < 0)
        a = 0;
    if (g0 < 0)
        g0 = 0;
    if (b > n)
        b = n;
    float bg = 0.f, pk = 0.f;
    for (long i = g0; i < g1; i++)
        bg = fmaxf(bg, fabsf(x[i]));
    for (long i = a; i < b; i++)
        pk = fmaxf(pk, fabsf(x[i]));
    float thr = bg + 0.1f * (pk - bg);
    for (long i = a; i < b; i++)
        if (fabsf(x[i]) > thr)
            return i / sr;
    return -1.0;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int c = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        c += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return c;
}

static void test_render(const char *dir)
{
    char mid1[4200], mid2[4200], flac1[4200], flac2[4200];
    snprintf(mid1, sizeof mid1, "%s/t1.mid", dir);
    snprintf(mid2, sizeof mid2, "%s/t05.mid", dir);
    snprintf(flac1, sizeof flac1, "%s/t1.flac", dir);
    snprintf(flac2, sizeof flac2, "%s/t05.flac", dir);
    lec_perform *p1 = perform(1.0, mid1), *p2 = perform(0.5, mid2);
    lec_synth_config cfg;
    lec_synth_config_default(&cfg);
    lec_error err = {0};
    lec_synth *s = lec_synth_create(&cfg, SF_SMALL, &err);
    CHECKF(s != NULL, "%s", err.msg);
    if (!s || !p1 || !p2)
        goto done;
    lec_synth_info i1, i2;
    CHECKF(lec_synth_render(s, mid1, flac1, &i1, &err) == LEC_OK, "%s\nlog: %s", err.msg,
           lec_synth_log(s));
    CHECKF(lec_synth_render(s, mid2, flac2, &i2, &err) == LEC_OK, "%s\nlog: %s", err.msg,
           lec_synth_log(s));
    /* last note ends at 1.8125 wn = 3.625 s (x2 at tempo 0.5) */
    CHECK_NEAR(i1.last_off_s, 3.625, 0.001);
    CHECK_NEAR(i2.last_off_s, 7.25, 0.001);
    CHECK(i1.peak > 0.01 && i1.render_s > 0);
    long n1 = 0, n2 = 0;
    float *x1 = read_flac(flac1, &n1), *x2 = read_flac(flac2, &n2);
    if (!x1 || !x2) {
        free(x1);
        free(x2);
        goto done;
    }
    /* length: between the last note-off and note-off + release (1.5 s) */
    CHECK(n1 / 22050.0 >= 3.625 && n1 / 22050.0 <= 3.625 + 1.5 + 0.001);
    CHECK_NEAR(i1.duration_s, n1 / 22050.0, 1e-9);
    CHECK(n2 / 22050.0 >= 7.25 && n2 / 22050.0 <= 7.25 + 1.5 + 0.001);
    const lec_perform_onset *o1 = lec_perform_onsets(p1), *o2 = lec_perform_onsets(p2);
    double sum = 0;
    printf("onsets (truth s -> detected-truth ms), tempo 1 | tempo 0.5:\n");
    for (int k = 0; k < N_NOTES; k++) {
        double d1 = detect_onset(x1, n1, o1[k].onset_s);
        double d2 = detect_onset(x2, n2, o2[k].onset_s);
        printf("  %6.3f -> %+6.1f ms | %6.3f -> %+6.1f ms\n", o1[k].onset_s,
               1e3 * (d1 - o1[k].onset_s), o2[k].onset_s, 1e3 * (d2 - o2[k].onset_s));
        CHECKF(fabs(d1 - o1[k].onset_s) <= 0.020, "note %d tempo 1", k);
        /* sound never precedes its MIDI time (no negative offset) */
        CHECKF(d1 - o1[k].onset_s > -0.002, "note %d early", k);
        CHECKF(fabs(d2 - o2[k].onset_s) <= 0.020, "note %d tempo 0.5", k);
        /* tempo 0.5 doubles the times: in the truth and in the audio */
        CHECK_NEAR(o2[k].onset_s, 2 * o1[k].onset_s, 0.0005);
        CHECK_NEAR(d2, 2 * d1, 0.020); /* the latency does not double, hence 20 ms */
        sum += d1 - o1[k].onset_s;
    }
    /* reduced resolution: every sample a multiple of 2^(16-12), smaller file */
    {
        char flac12[4300];
        snprintf(flac12, sizeof flac12, "%s/t1_12bit.flac", dir);
        lec_synth_config c12;
        lec_synth_config_default(&c12);
        c12.bits = 12;
        lec_synth *s12 = lec_synth_create(&c12, SF_SMALL, &err);
        CHECKF(s12 && lec_synth_render(s12, mid1, flac12, NULL, &err) == LEC_OK, "%s", err.msg);
        lec_synth_destroy(s12);
        SF_INFO inf;
        memset(&inf, 0, sizeof inf);
        SNDFILE *sf = sf_open(flac12, SFM_READ, &inf);
        CHECK(sf != NULL && inf.frames == n1);
        int off_grid = 0, nonzero = 0;
        short buf[4096];
        sf_count_t got;
        while (sf && (got = sf_readf_short(sf, buf, 4096)) > 0)
            for (sf_count_t i = 0; i < got; i++) {
                off_grid += buf[i] % 16 != 0;
                nonzero += buf[i] != 0;
            }
        if (sf)
            sf_close(sf);
        CHECK(off_grid == 0 && nonzero > 1000);
        struct stat a, b;
        CHECK(stat(flac1, &a) == 0 && stat(flac12, &b) == 0 && b.st_size < a.st_size * 0.85);
    }
    /* humanized: the audio follows the humanized ground truth too */
    {
        char midh[4300], flach[4300];
        snprintf(midh, sizeof midh, "%s/th.mid", dir);
        snprintf(flach, sizeof flach, "%s/th.flac", dir);
        lec_perform *ph = perform_h(1.0, 1, midh);
        long nh = 0;
        float *xh = NULL;
        if (ph && lec_synth_render(s, midh, flach, NULL, &err) == LEC_OK)
            xh = read_flac(flach, &nh);
        CHECKF(xh != NULL, "%s", err.msg);
        if (xh) {
            const lec_perform_onset *oh = lec_perform_onsets(ph);
            double moved = 0;
            for (int k = 0; k < N_NOTES; k++) {
                double d = detect_onset(xh, nh, oh[k].onset_s);
                CHECKF(fabs(d - oh[k].onset_s) <= 0.020 && d - oh[k].onset_s > -0.002,
                       "humanized note %d: truth %.4f detected %.4f", k, oh[k].onset_s, d);
                moved = fmax(moved, fabs(oh[k].onset_s - o1[k].onset_s));
            }
            CHECK(moved > 0.025); /* the humanized truth really differs from the plain one */
        }
        free(xh);
        lec_perform_destroy(ph);
    }
    /* the note at t = 0 starts at the first samples: no lead-in */
    CHECK(detect_onset(x1, n1, 0.0) < 0.010);
    printf("  mean offset %.1f ms\n", 1e3 * sum / N_NOTES);
    free(x1);
    free(x2);
done:
    lec_synth_destroy(s);
    lec_perform_destroy(p1);
    lec_perform_destroy(p2);
}

static void test_refusals(const char *dir)
{
    char path[4200], link[4200], junk[4200];
    lec_error err = {0};
    lec_synth_config cfg;
    lec_synth_config_default(&cfg);
    CHECK(lec_synth_is_eval_soundfont("/usr/share/sounds/sf3/MuseScore_General.sf3"));
    CHECK(lec_synth_is_eval_soundfont("/opt/musescore-general-soundfont-lossless/x.sf2"));
    CHECK(!lec_synth_is_eval_soundfont(SF_SMALL));
    CHECK(!lec_synth_is_eval_soundfont("/usr/share/sounds/sf2/FluidR3_GM.sf2"));

    /* a real soundfont copied under a reserved name, and a link to it */
    snprintf(path, sizeof path, "%s/MuseScore_General-HQ.sf2", dir);
    snprintf(link, sizeof link, "%s/piano.sf2", dir);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && ln -sf MuseScore_General-HQ.sf2 '%s'", SF_SMALL,
             path, link);
    CHECK(system(cmd) == 0);
    CHECK(lec_synth_create(&cfg, path, &err) == NULL && err.code == LEC_EINVAL &&
          strstr(err.msg, "reserved"));
    CHECK(lec_synth_create(&cfg, link, &err) == NULL && strstr(err.msg, "reserved"));
    cfg.allow_eval_soundfont = 1;
    lec_synth *s = lec_synth_create(&cfg, link, &err);
    CHECKF(s != NULL, "%s", err.msg);
    lec_synth_destroy(s);
    cfg.allow_eval_soundfont = 0;

    snprintf(junk, sizeof junk, "%s/junk.sf2", dir);
    FILE *fp = fopen(junk, "wb");
    if (fp) {
        fputs("RIFX not a soundfont", fp);
        fclose(fp);
    }
    CHECK(lec_synth_create(&cfg, junk, &err) == NULL && err.code == LEC_EFORMAT &&
          strstr(err.msg, "junk.sf2"));
    snprintf(junk, sizeof junk, "%s/none.sf2", dir);
    CHECK(lec_synth_create(&cfg, junk, &err) == NULL && err.code == LEC_EIO);
    cfg.sample_rate_hz = 100;
    CHECK(lec_synth_create(&cfg, SF_SMALL, &err) == NULL && err.code == LEC_EINVAL);
    lec_synth_config_default(&cfg);
    cfg.bits = 17;
    CHECK(lec_synth_create(&cfg, SF_SMALL, &err) == NULL && strstr(err.msg, "bits"));
}

static void test_failures(const char *base)
{
    char dir[4200], mid[4200], flac[4200];
    snprintf(dir, sizeof dir, "%s/fail", base);
    snprintf(mid, sizeof mid, "%s/f.mid", base);
    snprintf(flac, sizeof flac, "%s/out.flac", dir);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && printf old > '%s'", dir, flac);
    CHECK(system(cmd) == 0);
    lec_perform *p = perform(1.0, mid);
    lec_error err = {0};
    lec_synth_config cfg;
    lec_synth_config_default(&cfg);
    cfg.fluidsynth = "/nonexistent/fluidsynth";
    lec_synth *s = lec_synth_create(&cfg, SF_SMALL, &err);
    CHECKF(s != NULL, "%s", err.msg);
    if (s)
        CHECK(lec_synth_render(s, mid, flac, NULL, &err) == LEC_EEXTERNAL &&
              strstr(err.msg, "/nonexistent/fluidsynth"));
    lec_synth_destroy(s);

    lec_synth_config_default(&cfg);
    cfg.timeout_s = 0.001; /* fluidsynth needs far longer to load the soundfont */
    s = lec_synth_create(&cfg, SF_SMALL, &err);
    if (s)
        CHECK(lec_synth_render(s, mid, flac, NULL, &err) == LEC_EEXTERNAL &&
              strstr(err.msg, "timed out"));
    /* not a MIDI file: refused before fluidsynth runs, naming the file */
    if (s)
        CHECK(lec_synth_render(s, SF_SMALL, flac, NULL, &err) == LEC_EFORMAT &&
              strstr(err.msg, "TimGM6mb"));
    lec_synth_destroy(s);

    /* output directory missing: an I/O error naming it, not a fluidsynth failure */
    lec_synth_config_default(&cfg);
    s = lec_synth_create(&cfg, SF_SMALL, &err);
    char nodir[4300];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.flac", base);
    if (s)
        CHECK(lec_synth_render(s, mid, nodir, NULL, &err) == LEC_EIO &&
              strstr(err.msg, "no/such/dir"));
    lec_synth_destroy(s);

    /* the old output survives, and nothing else is left in the directory */
    char buf[16] = {0};
    FILE *fp = fopen(flac, "rb");
    if (fp) {
        CHECK(fread(buf, 1, sizeof buf - 1, fp) == 3);
        fclose(fp);
    }
    CHECK(strcmp(buf, "old") == 0);
    CHECK(count_files(dir) == 1);
    lec_perform_destroy(p);
}

int main(void)
{
    const char *d = lec_test_scratch_dir("test_synth");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", d);
    if (access(SF_SMALL, R_OK) != 0) {
        fprintf(stderr, "test_synth: %s missing (package timgm6mb-soundfont)\n", SF_SMALL);
        return 1;
    }
    test_render(dir);
    test_refusals(dir);
    test_failures(dir);
    return lec_test_finish("test_synth");
}
