/* lec_test.h -- minimal test helpers. A test is a small program: it returns 0
 * when every check passed, 1 otherwise, and prints each failed check with its
 * file:line. Keep tests fast (CI: 2 cores, the whole suite twice, with and
 * without sanitizers). */
#ifndef LEC_TEST_H
#define LEC_TEST_H

#include <math.h>
#include <stdio.h>

extern int lec_test_failures;
extern int lec_test_checks;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        lec_test_checks++;                                                           \
        if (!(cond)) {                                                               \
            lec_test_failures++;                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECKF(cond, ...)                                                         \
    do {                                                                          \
        lec_test_checks++;                                                        \
        if (!(cond)) {                                                            \
            lec_test_failures++;                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
        }                                                                         \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                              \
    do {                                                                                   \
        double lec_a_ = (a), lec_b_ = (b);                                                 \
        lec_test_checks++;                                                                 \
        if (!(fabs(lec_a_ - lec_b_) <= (tol))) {                                           \
            lec_test_failures++;                                                           \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s=%.9g vs %s=%.9g (tol %g)\n",     \
                    __FILE__, __LINE__, #a, lec_a_, #b, lec_b_, (double)(tol));            \
        }                                                                                  \
    } while (0)

/* Print a summary line and return the exit status for main(). */
int lec_test_finish(const char *name);

/* Paths: the source tree (for committed fixtures) and a per-test scratch
 * directory under the build tree that is created fresh. Both return static
 * storage valid until the next call of the same function. */
const char *lec_test_source_dir(void);
const char *lec_test_scratch_dir(const char *test_name);
/* Path of the built `lectern` executable. */
const char *lec_test_lectern(void);
/* Run a shell command, capturing stdout+stderr into out (NUL-terminated,
 * truncated to cap); returns the exit status (or -1). */
int lec_test_run(const char *cmd, char *out, size_t cap);

#endif
