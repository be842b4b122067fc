/* test_spec_noalloc.c -- lec_spec_process never allocates (DEVELOPERS.md: the
 * per-frame path allocates nothing), including inside FFTW.
 *
 * Counting: in a normal build this program defines malloc & co itself, so
 * every allocation in the process -- ours, libc's, FFTW's shared library --
 * goes through a counter before glibc's allocator (__libc_malloc...). Under
 * AddressSanitizer that would bypass ASan's allocator, so there the counter
 * is ASan's own malloc hook (__sanitizer_install_malloc_and_free_hooks),
 * which sees the same calls. The test first proves the counter counts (a
 * deliberate malloc, and lec_spec_create, must register). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lec_spec.h"
#include "lec_test.h"

static atomic_long n_allocs;

#if defined(__SANITIZE_ADDRESS__) /* gcc */
#define LEC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) /* clang */
#define LEC_ASAN 1
#endif
#endif

#if defined(LEC_ASAN)
#define LEC_COUNTER "ASan malloc hook"
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
static void on_malloc(const volatile void *p, size_t n)
{
    (void)p;
    (void)n;
    atomic_fetch_add(&n_allocs, 1);
}
static void on_free(const volatile void *p) { (void)p; }
static void counter_install(void) { __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free); }
#else
#define LEC_COUNTER "malloc interposer"
/* glibc's allocator under its internal names (exported by libc.so.6) */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

void *malloc(size_t n)
{
    atomic_fetch_add(&n_allocs, 1);
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    atomic_fetch_add(&n_allocs, 1);
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    atomic_fetch_add(&n_allocs, 1);
    return __libc_realloc(p, n);
}
void *memalign(size_t al, size_t n)
{
    atomic_fetch_add(&n_allocs, 1);
    return __libc_memalign(al, n);
}
void *aligned_alloc(size_t al, size_t n)
{
    atomic_fetch_add(&n_allocs, 1);
    return __libc_memalign(al, n);
}
int posix_memalign(void **out, size_t al, size_t n)
{
    atomic_fetch_add(&n_allocs, 1);
    void *p = __libc_memalign(al, n);
    if (!p)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}
void free(void *p) { __libc_free(p); }
static void counter_install(void) {}
#endif

/* an allocation the compiler cannot remove, to prove the counter works */
static void *(*volatile malloc_ptr)(size_t) = malloc;

int main(void)
{
    counter_install();
    printf("counting with the %s\n", LEC_COUNTER);

    long before = atomic_load(&n_allocs);
    void *p = malloc_ptr(64);
    free(p);
    CHECKF(atomic_load(&n_allocs) > before, "the allocation counter does not count");

    lec_spec_config c;
    lec_spec_config_default(&c);
    lec_error err;
    before = atomic_load(&n_allocs);
    lec_spec *s = lec_spec_create(&c, &err);
    CHECK(s != NULL);
    CHECKF(atomic_load(&n_allocs) > before, "create allocates, yet nothing was counted");
    if (!s)
        return lec_test_finish("test_spec_noalloc");

    const size_t n = 2 * 22050;
    float *x = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(0.5 * sin(0.05 * (double)i) + 0.001 * (double)(i % 7));
    const int nb = lec_spec_n_bands(s);
    float *out = malloc(sizeof(float) * (size_t)nb * (n / c.hop_size + 2));

    /* every path through process: tiny and large chunks, frames pending
     * because max_frames is small, empty pushes, a drop, a reset */
    static const size_t chunks[] = {1, 7, 100, 1102, 1103, 4099, 9000};
    size_t got = 0;
    before = atomic_load(&n_allocs);
    for (int rep = 0; rep < 3; rep++) {
        size_t pos = 0;
        for (int i = 0; pos < n; i++) {
            size_t cnk = chunks[i % 7];
            if (cnk > n - pos)
                cnk = n - pos;
            size_t maxf = (i % 3 == 0) ? 1 : lec_spec_max_frames(s, cnk);
            got += lec_spec_process(s, x + pos, cnk, out, maxf);
            pos += cnk;
        }
        got += lec_spec_process(s, NULL, 0, out, lec_spec_max_frames(s, 0));
        lec_spec_reset(s);
    }
    got += lec_spec_process(s, x, n, out, 0); /* overflows the pending room */
    long during = atomic_load(&n_allocs) - before;
    printf("%zu frames, %lld samples dropped on purpose, %ld allocations while processing\n", got,
           lec_spec_dropped_samples(s), during);
    CHECK(got >= 3 * (n / c.hop_size));
    CHECK(lec_spec_dropped_samples(s) > 0);
    CHECKF(during == 0, "lec_spec_process allocated %ld times", during);

    lec_spec_destroy(s);
    free(x);
    free(out);
    return lec_test_finish("test_spec_noalloc");
}
