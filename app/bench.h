/* bench.h -- `lectern bench <what>`. Each benchmark is one file
 * app/bench_<what>.c with one entry point listed in the table in
 * cmd_bench.c; it takes (argc, argv) with argv[0] = <what>, handles --help,
 * and returns the exit status like a command (0 ok, 1 failure, 2 usage).
 *
 * Rule (DEVELOPERS.md): a benchmark reports its figure as a ratio against a
 * baseline measured in the same run, so numbers survive a change of machine.
 */
#ifndef LEC_BENCH_H
#define LEC_BENCH_H

#include <stddef.h>

int lec_bench_frontend(int argc, char **argv);
int lec_bench_nn(int argc, char **argv);
int lec_bench_track(int argc, char **argv);
int lec_bench_latency(int argc, char **argv);

/* Shared helpers (cmd_bench.c). */

/* Pins the calling thread to the CPU it is running on, so that one core's
 * timings are not mixed with another's. Returns that CPU, or -1 if pinning
 * failed (the benchmark still runs, single-threaded). */
int lec_bench_pin_cpu(void);

/* Timing summary of n samples (sorted in place): median, p99 (nearest rank)
 * and mean, in the samples' unit. */
typedef struct lec_bench_stats {
    double median, p99, mean, min;
    size_t n;
} lec_bench_stats;
lec_bench_stats lec_bench_summarise(double *v, size_t n);

#endif
