/* test_live.c -- the live path end to end with no sound hardware:
 * `lectern devices` and `lectern spectrogram --live` against an ALSA `file`
 * PCM playing a generated 1 kHz tone in real time (alsa_fake.h), checking
 * that the tone lands in the right band; plus the failure modes: no device
 * at all, unknown device, a device that stalls mid-stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alsa_fake.h"
#include "lec_test.h"
#include "lec_util.h"

#define TONE_HZ 1000.0

static char out[65536];

/* Parse the CSV lectern wrote: header "time_s,<hz>,...", rows of floats.
 * Returns the number of frames; fills band centres and per-band means. */
static int read_csv(const char *path, double *hz, double *mean, int *n_bands)
{
    char *data;
    size_t len;
    lec_error err;
    if (lec_read_file(path, 0, &data, &len, &err) != LEC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    char *save = NULL, *line = strtok_r(data, "\n", &save);
    int nb = 0;
    char *tok_save = NULL;
    for (char *t = strtok_r(line, ",", &tok_save); t; t = strtok_r(NULL, ",", &tok_save)) {
        if (nb > 0 && nb <= 256)
            hz[nb - 1] = atof(t);
        nb++;
    }
    nb -= 1;
    for (int b = 0; b < nb; b++)
        mean[b] = 0;
    int rows = 0;
    while ((line = strtok_r(NULL, "\n", &save))) {
        int col = 0;
        for (char *t = strtok_r(line, ",", &tok_save); t; t = strtok_r(NULL, ",", &tok_save)) {
            if (col > 0 && col <= nb)
                mean[col - 1] += atof(t);
            col++;
        }
        rows++;
    }
    for (int b = 0; b < nb && rows; b++)
        mean[b] /= rows;
    *n_bands = nb;
    free(data);
    return rows;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The tone must be in the loudest band, that band must be within a
 * semitone-and-a-bit of TONE_HZ, and it must stand far above the rest. */
static void check_tone(const char *csv, int expect_frames_min, int expect_frames_max)
{
    double hz[256], mean[256], sorted[256];
    int nb = 0;
    int rows = read_csv(csv, hz, mean, &nb);
    CHECKF(rows >= expect_frames_min && rows <= expect_frames_max, "%s: %d frames, want %d..%d",
           csv, rows, expect_frames_min, expect_frames_max);
    CHECK(nb > 40 && nb < 256);
    if (rows <= 0 || nb <= 0)
        return;
    int best = 0;
    for (int b = 1; b < nb; b++)
        if (mean[b] > mean[best])
            best = b;
    memcpy(sorted, mean, sizeof(double) * (size_t)nb);
    qsort(sorted, (size_t)nb, sizeof(double), cmp_double);
    double median = sorted[nb / 2];
    CHECKF(fabs(hz[best] / TONE_HZ - 1) < 0.07, "loudest band %d at %.1f Hz, tone %.0f Hz", best,
           hz[best], TONE_HZ);
    CHECKF(mean[best] > 10 * median + 0.05, "tone band mean %.4f vs median %.4f", mean[best],
           median);
}

int main(void)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", lec_test_scratch_dir("test_live"));
    const char *lectern = lec_test_lectern();
    lec_alsa_fake fake;
    CHECK(lec_alsa_fake_start(&fake, dir, TONE_HZ, 44100, 8.0) == 0);
    char env[8400], cmd[16384], csv[4200], png[4200];
    snprintf(env, sizeof env, "HOME='%s' JACK_NO_START_SERVER=1", fake.home);

    /* 1. devices: lists the fake device, marks a default input. */
    snprintf(cmd, sizeof cmd, "%s '%s' devices", env, lectern);
    int rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 0, "devices exit %d: %s", rc, out);
    CHECKF(strstr(out, "lectern_tone") != NULL, "fake device not listed: %s", out);
    CHECKF(strstr(out, "*") != NULL, "no default input marked: %s", out);
    CHECKF(strstr(out, "ALSA lib") == NULL, "ALSA chatter not silenced: %s", out);

    /* 2. capture 2 s by name: the tone in the right band, nothing dropped. */
    snprintf(csv, sizeof csv, "%s/live.csv", dir);
    snprintf(png, sizeof png, "%s/live.png", dir);
    snprintf(cmd, sizeof cmd,
             "%s '%s' spectrogram --live --device lectern_tone --seconds 2 --csv '%s' --png '%s'",
             env, lectern, csv, png);
    double t0 = lec_now_s();
    rc = lec_test_run(cmd, out, sizeof out);
    double wall = lec_now_s() - t0;
    CHECKF(rc == 0, "live capture exit %d: %s", rc, out);
    printf("live capture of 2 s took %.2f s wall\n%s", wall, out);
    CHECKF(strstr(out, "live device 'lectern_tone'") != NULL, "%s", out);
    CHECKF(strstr(out, "duration: 2.000 s") != NULL, "%s", out);
    CHECKF(strstr(out, "overflows: 0 ring (0 samples dropped)") != NULL, "%s", out);
    /* frame i ends at sample (i+1)*1102: 44100 samples complete 40 frames */
    check_tone(csv, 40, 40);
    struct stat st;
    CHECK(stat(png, &st) == 0 && st.st_size > 1000);
    /* Paced by the device, not by us: 2 s of audio cannot come much faster
     * than 2 s (the FIFO lets the device run ~0.1 s ahead at most). */
    CHECKF(wall > 1.5, "2 s captured in %.2f s: the device is not paced", wall);

    /* 3. the default input device, chosen with no --device. */
    snprintf(csv, sizeof csv, "%s/live_default.csv", dir);
    snprintf(cmd, sizeof cmd, "%s '%s' spectrogram --live --seconds 1 --csv '%s'", env, lectern,
             csv);
    rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 0, "default device exit %d: %s", rc, out);
    check_tone(csv, 20, 20);

    /* 4. a device that stops delivering mid-stream: clear error, no crash. */
    fake.stall_after_s = 0.5;
    fake.stall_for_s = 4.0;
    snprintf(cmd, sizeof cmd, "%s '%s' spectrogram --live --device lectern_tone --seconds 3", env,
             lectern);
    rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 1, "stalled device exit %d: %s", rc, out);
    CHECKF(strstr(out, "lectern_tone") && strstr(out, "no audio for"), "%s", out);
    fake.stall_after_s = 0;

    /* 5. unknown devices. */
    snprintf(cmd, sizeof cmd, "%s '%s' spectrogram --live --device 99 --seconds 1", env, lectern);
    rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 1 && strstr(out, "audio device 99 does not exist"), "exit %d: %s", rc, out);
    snprintf(cmd, sizeof cmd, "%s '%s' spectrogram --live --device nosuchmic --seconds 1", env,
             lectern);
    rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 1 && strstr(out, "no audio input device matches 'nosuchmic'"), "exit %d: %s", rc,
           out);
    lec_alsa_fake_stop(&fake);

    /* 6. no device at all. */
    char none[8400];
    lec_alsa_none_env(dir, none, sizeof none);
    snprintf(cmd, sizeof cmd, "%s '%s' spectrogram --live --seconds 1", none, lectern);
    rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 1, "no device: exit %d (a crash is >= 128): %s", rc, out);
    CHECKF(strstr(out, "no audio input device") != NULL, "%s", out);
    snprintf(cmd, sizeof cmd, "%s '%s' devices", none, lectern);
    rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 1 && strstr(out, "no audio devices found"), "devices with none: exit %d: %s", rc,
           out);
    return lec_test_finish("test_live");
}
