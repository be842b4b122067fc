/* lec_test_alloc.c -- see lec_test_alloc.h. */
#include "lec_test_alloc.h"

#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);

static long g_allocs;

long lec_test_allocs(void) { return g_allocs; }

void *__wrap_malloc(size_t n)
{
    g_allocs++;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
    g_allocs++;
    return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
    g_allocs++;
    return __real_realloc(p, n);
}
void __wrap_free(void *p)
{
    if (p)
        g_allocs++;
    __real_free(p);
}
