/* lectern demo -- no arguments: the bundled piece (assets/) replayed with its
 * audio and followed by the shipped model (models/lectern.lnm), exactly as
 * `lectern replay` does. The data are looked for, in order, under --data DIR,
 * next to the executable (an installed PREFIX/bin/lectern ->
 * PREFIX/share/lectern; a build tree's build/app/lectern -> the source tree)
 * and in the source tree this binary was built from. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "follow_app.h"

#define DEMO_PIECE "assets/BurgmullerJFF__O100__25EF-16"
#define DEMO_MODEL "models/lectern.lnm"

#ifndef LEC_SOURCE_DIR
#define LEC_SOURCE_DIR ""
#endif
#ifndef LEC_INSTALL_DATADIR
#define LEC_INSTALL_DATADIR ""
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: lectern demo [options]\n\n"
               "The stage demo: the bundled piece (" DEMO_PIECE ")\n"
               "replayed through the audio output with its rendering and followed live by the\n"
               "shipped model (" DEMO_MODEL "), as `lectern replay` does.\n"
               "Window keys: space pause, Left/Right one system, Home restart, R relocalise,\n"
               "click a system, F fullscreen, Q quit.\n\n"
               "options:\n"
               "  --data DIR        where assets/ and models/ are [found next to the executable\n"
               "                    or in the source tree]\n"
               "  --device D        audio output device [the default output]\n");
    fa_help_common(f);
    fprintf(f, "  (--model M replaces the shipped model)\n"
               "\nExit status: 0 ok, 1 error, 2 usage, %d no display / no audio device\n"
               "(then try: lectern demo --headless --record demo.mp4).\n",
            FA_EXIT_NO_ENV);
}

static int is_file(const char *p) { return access(p, R_OK) == 0; }

/* Candidate data roots, most specific first; returns how many. */
static int candidates(const char *data, char roots[][PATH_MAX], int max)
{
    int n = 0;
    if (data) {
        snprintf(roots[n++], PATH_MAX, "%s", data);
        return n;
    }
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0'; /* the executable's directory */
        if (n < max)
            snprintf(roots[n++], PATH_MAX, "%s/../share/lectern", exe);
        if (n < max)
            snprintf(roots[n++], PATH_MAX, "%s/../..", exe);
        if (n < max)
            snprintf(roots[n++], PATH_MAX, "%s/..", exe);
    }
    if (*LEC_INSTALL_DATADIR && n < max)
        snprintf(roots[n++], PATH_MAX, "%s", LEC_INSTALL_DATADIR);
    if (*LEC_SOURCE_DIR && n < max)
        snprintf(roots[n++], PATH_MAX, "%s", LEC_SOURCE_DIR);
    return n;
}

int lec_demo_find(const char *data, char *bundle, size_t bcap, char *model, size_t mcap,
                  char *where, size_t wcap)
{
    char roots[6][PATH_MAX], probe[PATH_MAX + 80];
    int n = candidates(data, roots, 6);
    size_t len = 0;
    where[0] = '\0';
    for (int i = 0; i < n; i++) {
        snprintf(probe, sizeof probe, "%s/" DEMO_PIECE "/piece.json", roots[i]);
        if (is_file(probe)) {
            snprintf(bundle, bcap, "%s/" DEMO_PIECE, roots[i]);
            snprintf(model, mcap, "%s/" DEMO_MODEL, roots[i]);
            return 0;
        }
        if (len + 2 < wcap)
            len += (size_t)snprintf(where + len, wcap - len, " %s", roots[i]);
        len = len < wcap ? len : wcap - 1;
    }
    return -1;
}

int lec_cmd_demo(int argc, char **argv)
{
    if (lec_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    fa_opts o;
    const char *data = NULL;
    int st = fa_parse_cmdline(&o, "demo", argc, argv, usage, NULL, 0, "--data", &data);
    if (st >= 0)
        return st;
    char bundle[PATH_MAX + 64], model[PATH_MAX + 64], where[4 * PATH_MAX];
    if (lec_demo_find(data, bundle, sizeof bundle, model, sizeof model, where, sizeof where) !=
        0) {
        fprintf(stderr,
                "lectern demo: the demo piece (" DEMO_PIECE "/piece.json) is not in:%s\n"
                "  give the directory that holds assets/ with --data DIR\n",
                where);
        return 1;
    }
    if (!o.model) {
        if (!is_file(model)) {
            fprintf(stderr,
                    "lectern demo: the shipped model is missing: %s does not exist\n"
                    "  models/README.md tells how it is trained (models/recipe.sh); "
                    "or give one with --model M\n",
                    model);
            return 1;
        }
        o.model = model;
    }
    o.bundle = bundle;
    /* the bundle's (first) rendering is the demo's audio */
    return lec_replay_run(&o, "");
}
