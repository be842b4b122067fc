/* test_spec_bench.c -- `lectern bench frontend` runs, prints the ratio
 * against its FFTW baseline and writes valid JSON with the figures; bad
 * arguments are usage errors. No timing is asserted (DEVELOPERS.md): only
 * that the measurements exist, are positive and consistent. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "lec_test.h"
#include "lec_util.h"

static double num(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (x && b)
        x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsNumber(x) ? x->valuedouble : -1.0;
}

int main(void)
{
    const char *lectern = lec_test_lectern();
    const char *dir = lec_test_scratch_dir("test_spec_bench");
    char json[4200], cmd[9000], out[16384];
    snprintf(json, sizeof json, "%s/frontend.json", dir);

    snprintf(cmd, sizeof cmd, "'%s' bench --help", lectern);
    CHECK(lec_test_run(cmd, out, sizeof out) == 0 && strstr(out, "frontend"));
    snprintf(cmd, sizeof cmd, "'%s' bench frontend --help", lectern);
    CHECK(lec_test_run(cmd, out, sizeof out) == 0 && strstr(out, "FFTW_ESTIMATE"));
    snprintf(cmd, sizeof cmd, "'%s' bench", lectern);
    CHECK(lec_test_run(cmd, out, sizeof out) == 2);
    snprintf(cmd, sizeof cmd, "'%s' bench nosuchbench", lectern);
    CHECK(lec_test_run(cmd, out, sizeof out) == 2 && strstr(out, "nosuchbench"));
    snprintf(cmd, sizeof cmd, "'%s' bench frontend --seconds -3", lectern);
    CHECK(lec_test_run(cmd, out, sizeof out) == 2 && strstr(out, "--seconds"));
    snprintf(cmd, sizeof cmd, "'%s' bench frontend --json '%s/no/such/dir/x.json'", lectern, dir);
    CHECK(lec_test_run(cmd, out, sizeof out) == 1 && strstr(out, "no/such/dir"));

    snprintf(cmd, sizeof cmd, "'%s' bench frontend --seconds 2 --json '%s'", lectern, json);
    int rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 0, "rc %d: %s", rc, out);
    CHECK(strstr(out, "x a bare FFTW r2c of 2048") != NULL);
    CHECK(strstr(out, "real-time factor") != NULL);

    char *text = NULL;
    size_t len = 0;
    lec_error err;
    CHECK(lec_read_file(json, 0, &text, &len, &err) == LEC_OK);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    CHECKF(j != NULL, "not valid JSON: %s", text ? text : "(no file)");
    if (j) {
        CHECK(num(j, "config", "n_bands") == 70);
        CHECK(num(j, "frames", NULL) == 40); /* 2 s * 22050 / 1102 */
        double spec = num(j, "spectrogram_frame_us", "median");
        double fft = num(j, "fft_estimate_us", "median");
        double ratio = num(j, "ratio_spectrogram_to_fft_median", NULL);
        CHECK(spec > 0 && fft > 0);
        CHECK_NEAR(ratio, spec / fft, 0.01 * ratio + 1e-3);
        CHECK(num(j, "spectrogram_frame_us", "p99") >= spec);
        CHECK(num(j, "rtf_streaming_median", NULL) > 0 && num(j, "rtf_offline", NULL) > 0);
        cJSON_Delete(j);
    }
    free(text);
    return lec_test_finish("test_spec_bench");
}
