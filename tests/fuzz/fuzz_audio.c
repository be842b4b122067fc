/* fuzz_audio.c -- audio files through the source layer
 * (engine/audio/lec_source.h, LEC_SOURCE_FILE): libsndfile's format
 * detection and decoders, the truncation check, the mix-down to mono and the
 * libsamplerate conversion to 22050 Hz. The input is written to a temporary
 * file (the source opens paths). Every sample delivered must be finite and
 * within [-1, 1] (the header's promise, which the spectrogram relies on);
 * a failure must name the file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "lec_source.h"

/* Stop after this much output: a small compressed file may legitimately
 * decode to minutes of audio, and the fuzzer wants many inputs per second. */
#define MAX_SAMPLES (22050 * 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_temp_file(".audio", data, size);
    if (!path)
        return 0;
    lec_source_config cfg;
    lec_source_config_default(&cfg);
    cfg.kind = LEC_SOURCE_FILE;
    cfg.path = path;
    lec_error err;
    lec_error_clear(&err);
    lec_source *s = lec_source_create(&cfg, &err);
    if (!s) {
        fuzz_check_error(err.code, &err, path, "lec_source_create");
        return 0;
    }
    static float buf[4096];
    size_t total = 0;
    while (total < MAX_SAMPLES) {
        size_t n = 0;
        lec_status st = lec_source_read(s, buf, 4096, &n, 0, &err);
        if (st != LEC_OK) {
            fuzz_check_error(st, &err, path, "lec_source_read");
            break;
        }
        for (size_t i = 0; i < n; i++)
            if (!(buf[i] >= -1.0f && buf[i] <= 1.0f)) {
                fprintf(stderr, "fuzz_audio: sample %zu is %g, outside [-1, 1]\n", total + i,
                        (double)buf[i]);
                abort();
            }
        total += n;
        if (n == 0)
            break;
    }
    (void)lec_source_duration_s(s);
    lec_source_destroy(s);
    return 0;
}
