/* lec_import_internal.h -- INTERNAL to lec_import: helpers its files share. */
#ifndef LEC_IMPORT_INTERNAL_H
#define LEC_IMPORT_INTERNAL_H

#include <stdlib.h>

/* Grows the array *p (capacity *cap elements of elem bytes) to hold at least
 * need elements, doubling. 1 ok, 0 out of memory (*p and *cap unchanged). */
static inline int lec_import_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 1;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np)
        return 0;
    *p = np;
    *cap = nc;
    return 1;
}

#endif
