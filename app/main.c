/* lectern -- real-time score following in sheet music images. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const lec_command commands[] = {
    {"devices", "list audio input/output devices", lec_cmd_devices},
    {"spectrogram", "compute the log-filterbank spectrogram of audio (file or live) to PNG/CSV",
     lec_cmd_spectrogram},
    {"bench", "benchmarks: frontend, nn, track, latency", lec_cmd_bench},
    {"corpus", "build annotated piece bundles from LilyPond sources; check a bundle",
     lec_cmd_corpus},
    {"eval", "follow renderings of piece bundles causally; EVALUATION.md figures, plots, jump tests",
     lec_cmd_eval},
    {"train", "train the network on piece bundles; checkpoints, --resume", lec_cmd_train},
    {"import", "make a score (PDF or page images) followable: pages + staff systems; --evaluate",
     lec_cmd_import},
    {"show", "show a bundle's pages with a rendering's true position (window or headless video)",
     lec_cmd_show},
    {"follow", "listen to the microphone and highlight the current position live", lec_cmd_follow},
    {"replay", "play an audio file and follow it, highlight in sync (or headless to video)",
     lec_cmd_replay},
    {"demo", "the stage demo: the bundled piece replayed and followed by the shipped model",
     lec_cmd_demo},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: lectern <command> [options]\n\n"
                 "Follows a piano performance in sheet-music images.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`lectern <command> --help` describes each command.\n");
}

int lec_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("lectern %s\n", LEC_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "lectern: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
