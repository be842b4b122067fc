#define _POSIX_C_SOURCE 200809L
#include "lec_test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

int lec_test_failures = 0;
int lec_test_checks = 0;

int lec_test_finish(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, lec_test_checks, lec_test_failures);
    return lec_test_failures ? 1 : 0;
}

const char *lec_test_source_dir(void)
{
    const char *s = getenv("LEC_SOURCE_DIR");
    return s ? s : ".";
}

const char *lec_test_scratch_dir(const char *test_name)
{
    static char buf[4096];
    const char *b = getenv("LEC_BINARY_DIR");
    snprintf(buf, sizeof buf, "%s/test-scratch/%s", b ? b : ".", test_name);
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", buf, buf);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot create scratch dir %s\n", buf);
    return buf;
}

const char *lec_test_lectern(void)
{
    static char buf[4096];
    const char *b = getenv("LEC_BINARY_DIR");
    snprintf(buf, sizeof buf, "%s/app/lectern", b ? b : ".");
    return buf;
}

int lec_test_run(const char *cmd, char *out, size_t cap)
{
    char full[8192];
    snprintf(full, sizeof full, "(%s) 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    size_t n = 0;
    if (out && cap) {
        n = fread(out, 1, cap - 1, p);
        out[n] = '\0';
        /* drain the rest so the child is not blocked on a full pipe */
        char sink[4096];
        while (fread(sink, 1, sizeof sink, p) > 0) {
        }
    } else {
        char sink[4096];
        while (fread(sink, 1, sizeof sink, p) > 0) {
        }
    }
    int st = pclose(p);
    if (st == -1)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}
