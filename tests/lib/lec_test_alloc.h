/* lec_test_alloc.h -- counting allocations, for the tests that check that a
 * path never allocates. Linking the lec_testalloc library wraps malloc,
 * calloc, realloc and free (-Wl,--wrap): every call made by the test and by
 * the statically linked lectern code is counted (shared libraries such as
 * OpenBLAS, with their own preallocated buffers, are not). Not thread-safe:
 * for single-threaded tests. */
#ifndef LEC_TEST_ALLOC_H
#define LEC_TEST_ALLOC_H

/* malloc, calloc and realloc calls, and free calls with a non-NULL pointer,
 * so far. */
long lec_test_allocs(void);

#endif
