/* cmd_devices.c -- `lectern devices`: the audio devices PortAudio sees. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "lec_devices.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: lectern devices [--verbose]\n\n"
            "Lists the audio devices PortAudio finds: index, name, host API, maximum\n"
            "input and output channels, default sample rate. '*' marks the default\n"
            "input device (used by `lectern spectrogram --live` when no --device is\n"
            "given), '+' the default output. Pass the index or part of the name to\n"
            "--device.\n\n"
            "  --verbose   keep ALSA/JACK's own diagnostics on stderr (normally hidden)\n\n"
            "Exit status: 0 if at least one device was found; 1 if there is none or\n"
            "PortAudio fails (with a message saying which); 2 for bad arguments.\n");
}

int lec_cmd_devices(int argc, char **argv)
{
    if (lec_wants_help(argc, argv)) {
        help(stdout);
        return 0;
    }
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
            verbose = 1;
        } else {
            fprintf(stderr, "lectern devices: unknown argument '%s'\n\n", argv[i]);
            help(stderr);
            return 2;
        }
    }
    if (!verbose)
        lec_audio_silence_backend_logs();
    lec_device_info *d = NULL;
    int n = 0;
    lec_error err;
    if (lec_devices_list(&d, &n, &err) != LEC_OK) {
        fprintf(stderr, "lectern devices: %s\n", err.msg);
        return 1;
    }
    if (n == 0) {
        fprintf(stderr,
                "lectern devices: no audio devices found (PortAudio sees no ALSA card, no "
                "ALSA device in ~/.asoundrc and no JACK server)\n");
        free(d);
        return 1;
    }
    printf("%5s  %-32s %-10s %4s %4s %9s\n", "index", "name", "host API", "in", "out",
           "rate Hz");
    for (int i = 0; i < n; i++) {
        char mark[3] = {d[i].is_default_input ? '*' : ' ', d[i].is_default_output ? '+' : ' ', 0};
        printf("%3d %s %-32s %-10s %4d %4d %9.0f\n", d[i].index, mark, d[i].name, d[i].host_api,
               d[i].max_input_channels, d[i].max_output_channels, d[i].default_rate_hz);
    }
    printf("\n* default input   + default output   (%d device%s)\n", n, n == 1 ? "" : "s");
    free(d);
    return 0;
}
