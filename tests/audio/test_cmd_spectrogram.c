/* test_cmd_spectrogram.c -- `lectern spectrogram` on files: bad input gives a
 * non-zero exit and a message naming the file (truncated WAV, text file named
 * .wav, empty file, missing file, audio shorter than a frame); a 96 kHz
 * 6-channel file works and puts its tone in the right band; CSV/PNG outputs,
 * --realtime pacing, --help and usage errors. */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lec_test.h"
#include "lec_util.h"

static const double PI = 3.14159265358979323846;
static char dir[4096];
static char out[65536];

static int write_tone(const char *path, int format, int rate, int channels, double seconds,
                      double hz)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf)
        return -1;
    long frames = (long)(seconds * rate);
    float *buf = malloc(sizeof(float) * (size_t)channels * (size_t)frames);
    /* the tone on every channel, with a different amplitude per channel */
    for (long i = 0; i < frames; i++)
        for (int c = 0; c < channels; c++)
            buf[i * channels + c] = (float)((0.1 + 0.1 * c) * sin(2 * PI * hz * i / rate));
    sf_count_t w = sf_writef_float(sf, buf, frames);
    free(buf);
    sf_close(sf);
    return w == frames ? 0 : -1;
}

static int run(const char *args)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s' spectrogram %s", lec_test_lectern(), args);
    return lec_test_run(cmd, out, sizeof out);
}

/* Non-zero exit (1, not a crash) and a message that names the file. */
static void expect_fail(const char *path, const char *needle)
{
    char args[8300];
    snprintf(args, sizeof args, "'%s'", path);
    int rc = run(args);
    CHECKF(rc == 1, "%s: exit %d (want 1): %s", path, rc, out);
    CHECKF(strstr(out, path) != NULL, "message does not name %s: %s", path, out);
    CHECKF(strstr(out, needle) != NULL, "message lacks '%s': %s", needle, out);
    CHECKF(strstr(out, "loudest band") == NULL, "a summary printed for bad input: %s", out);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s", lec_test_scratch_dir("test_cmd_spectrogram"));
    char path[4200], csv[4200], png[4200], args[16384];

    /* --- bad input --- */
    snprintf(path, sizeof path, "%s/missing.wav", dir);
    expect_fail(path, "no such file");

    snprintf(path, sizeof path, "%s/empty.wav", dir);
    fclose(fopen(path, "wb"));
    expect_fail(path, "empty file");

    snprintf(path, sizeof path, "%s/notes.wav", dir);
    FILE *fp = fopen(path, "w");
    fputs("RIFF? no: these are my practice notes, saved with the wrong name.\n", fp);
    fclose(fp);
    expect_fail(path, "not an audio file");

    snprintf(path, sizeof path, "%s/truncated.wav", dir);
    CHECK(write_tone(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 2.0, 440) == 0);
    struct stat sb;
    stat(path, &sb);
    CHECK(truncate(path, sb.st_size / 3) == 0);
    expect_fail(path, "truncated");

    snprintf(path, sizeof path, "%s/click.wav", dir);
    CHECK(write_tone(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 22050, 1, 0.02, 440) == 0);
    expect_fail(path, "too short");

    /* --- 96 kHz, 6 channels: accepted, mixed and resampled --- */
    snprintf(path, sizeof path, "%s/six96k.wav", dir);
    snprintf(csv, sizeof csv, "%s/six96k.csv", dir);
    snprintf(png, sizeof png, "%s/six96k.png", dir);
    CHECK(write_tone(path, SF_FORMAT_WAV | SF_FORMAT_PCM_24, 96000, 6, 1.5, 2000) == 0);
    snprintf(args, sizeof args, "'%s' --csv '%s' --png '%s'", path, csv, png);
    int rc = run(args);
    CHECKF(rc == 0, "96k 6ch: exit %d: %s", rc, out);
    CHECKF(strstr(out, "96000 Hz, 6 ch, 1.500 s") != NULL, "%s", out);
    CHECKF(strstr(out, "duration: 1.500 s") != NULL, "%s", out);
    /* 1.5 s = 33075 samples at 22050 Hz: frames end at (i+1)*1102 -> 30 */
    CHECKF(strstr(out, "frames: 30 ") != NULL, "%s", out);
    double centre = 0;
    const char *lb = strstr(out, "loudest band: ");
    CHECK(lb && sscanf(lb, "loudest band: %*d (centre %lf Hz)", &centre) == 1);
    CHECKF(fabs(centre / 2000.0 - 1) < 0.04, "2 kHz tone found at %.1f Hz", centre);
    CHECK(stat(csv, &sb) == 0 && sb.st_size > 1000);
    CHECK(stat(png, &sb) == 0 && sb.st_size > 1000);
    char *data = NULL;
    size_t len = 0;
    lec_error err;
    if (lec_read_file(png, 0, &data, &len, &err) == LEC_OK) {
        CHECK(len > 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0);
        free(data);
    }
    if (lec_read_file(csv, 0, &data, &len, &err) == LEC_OK) {
        int lines = 0;
        for (size_t i = 0; i < len; i++)
            lines += data[i] == '\n';
        CHECK(lines == 31); /* header + 30 frames */
        CHECK(strncmp(data, "time_s,", 7) == 0);
        free(data);
    }

    /* --- an output that cannot be written: error naming it, exit 1 --- */
    snprintf(args, sizeof args, "'%s' --csv '%s/no/such/dir/x.csv'", path, dir);
    rc = run(args);
    CHECKF(rc == 1 && strstr(out, "no/such/dir/x.csv"), "exit %d: %s", rc, out);

    /* --- FLAC replayed in real time: 0.6 s takes about 0.6 s --- */
    snprintf(path, sizeof path, "%s/short.flac", dir);
    CHECK(write_tone(path, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000, 1, 0.6, 440) == 0);
    snprintf(args, sizeof args, "'%s' --realtime", path);
    double t0 = lec_now_s();
    rc = run(args);
    double wall = lec_now_s() - t0;
    CHECKF(rc == 0, "realtime: exit %d: %s", rc, out);
    CHECKF(wall >= 0.55, "0.6 s replayed in %.3f s", wall);
    CHECKF(strstr(out, "replayed in real time") != NULL, "%s", out);

    /* --- help and usage --- */
    rc = run("--help");
    CHECK(rc == 0 && strstr(out, "usage: lectern spectrogram") && strstr(out, "--live") &&
          strstr(out, "--realtime") && strstr(out, "--png"));
    rc = run("");
    CHECKF(rc == 2, "no input: exit %d", rc);
    rc = run("a.wav b.wav");
    CHECKF(rc == 2, "two inputs: exit %d", rc);
    rc = run("--live --seconds -3");
    CHECKF(rc == 2 && strstr(out, "--seconds"), "bad seconds: exit %d: %s", rc, out);
    rc = run("x.wav --bogus");
    CHECKF(rc == 2 && strstr(out, "--bogus"), "unknown option: exit %d: %s", rc, out);
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "'%s' devices --help", lec_test_lectern());
    rc = lec_test_run(cmd, out, sizeof out);
    CHECK(rc == 0 && strstr(out, "usage: lectern devices"));
    return lec_test_finish("test_cmd_spectrogram");
}
