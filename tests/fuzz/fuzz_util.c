/* fuzz_util.c -- temporary input files and the error-message check. */
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_path[512];
static int g_registered;

static void remove_temp(void)
{
    if (g_path[0])
        unlink(g_path);
}

const char *fuzz_temp_file(const char *suffix, const uint8_t *data, size_t size)
{
    if (!g_registered) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NULL;
        if (!dir)
            dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(g_path, sizeof g_path, "%s/lec-fuzz-%ld%s", dir, (long)getpid(), suffix);
        atexit(remove_temp);
        g_registered = 1;
    }
    FILE *fp = fopen(g_path, "wb");
    if (!fp)
        return NULL;
    int ok = fwrite(data, 1, size, fp) == size;
    ok &= fclose(fp) == 0;
    return ok ? g_path : NULL;
}

void fuzz_check_error(lec_status st, const lec_error *err, const char *name, const char *what)
{
    if (st == LEC_OK || err->code != st || err->msg[0] == 0 || strstr(err->msg, name) == NULL) {
        fprintf(stderr,
                "fuzz: %s rejected the input without a proper message: status %d (err.code %d), "
                "message \"%s\" (must name \"%s\")\n",
                what, (int)st, (int)err->code, err->msg, name);
        abort();
    }
}
