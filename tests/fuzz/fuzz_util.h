/* fuzz_util.h -- shared by the fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * Each target defines LLVMFuzzerTestOneInput. Built two ways:
 *   - with clang and -fsanitize=fuzzer (LEC_FUZZ=ON): a libFuzzer binary
 *     fuzz_<target> that mutates the seed corpus tests/fuzz/corpus/<target>;
 *   - with any compiler, linked with fuzz_replay.c: a ctest test that runs
 *     every committed seed and past crash through the same function.
 * A target "fails" by crashing: a sanitizer report, or abort() from
 * fuzz_check_error when a parser rejects input without a message naming the
 * file (the project's rule: bad input -> clear error naming the file). */
#ifndef LEC_FUZZ_UTIL_H
#define LEC_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "lec_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Write data to a per-process temporary file whose name ends with suffix
 * (on /dev/shm when it exists, so a run does not wear a disk) and return its
 * path (static storage). The file is removed at exit. Parsers that only take
 * a path (libsndfile, SDL2_image, poppler, the TSV reader) read it there.
 * Returns NULL if the file cannot be written (the caller skips the input).
 * A crashing process leaves the file behind on purpose: when the crash is in
 * an uninstrumented library that corrupted the heap, libFuzzer's crash-*
 * artifact can be garbage, but this file is the input (tests/fuzz/run keeps
 * it as input-at-exit-*). */
const char *fuzz_temp_file(const char *suffix, const uint8_t *data, size_t size);

/* A rejected input must come with a status and a message naming the file
 * (name: a substring of the path or display name given to the parser).
 * Aborts (= a finding) otherwise. */
void fuzz_check_error(lec_status st, const lec_error *err, const char *name, const char *what);

#endif
