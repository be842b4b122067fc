/* cmd_bench.c -- `lectern bench <what>`: dispatches to the benchmarks in
 * app/bench_<what>.c. To add one, write app/bench_<what>.c with
 * `int lec_bench_<what>(int argc, char **argv)`, declare it in bench.h, add a
 * line to the table below and the file to app/CMakeLists.txt. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "commands.h"

static const lec_command benches[] = {
    {"frontend", "streaming spectrogram: cost per frame vs a bare FFTW r2c, real-time factor",
     lec_bench_frontend},
    {"nn", "network: inference ms per window, training samples/s vs sgemm roofline and PyTorch",
     lec_bench_nn},
    {"track", "whole follower (spectrogram + network + tracker): real-time factor vs network-only",
     lec_bench_track},
    {"latency", "capture callback -> position on screen: median/p99 ms, split hop/buffer/net/render",
     lec_bench_latency},
};
#define N_BENCHES (sizeof benches / sizeof benches[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: lectern bench <what> [options]\n\n"
                 "Benchmarks. Each prints its figure as a ratio against a baseline measured\n"
                 "in the same run (timings alone depend on the machine).\n\nbenchmarks:\n");
    for (size_t i = 0; i < N_BENCHES; i++)
        fprintf(out, "  %-10s %s\n", benches[i].name, benches[i].summary);
    fprintf(out, "\n`lectern bench <what> --help` describes each.\n");
}

int lec_cmd_bench(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < N_BENCHES; i++)
        if (strcmp(argv[1], benches[i].name) == 0)
            return benches[i].run(argc - 1, argv + 1);
    fprintf(stderr, "lectern bench: unknown benchmark '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}

int lec_bench_pin_cpu(void)
{
    int cpu = sched_getcpu();
    if (cpu < 0)
        return -1;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? cpu : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

lec_bench_stats lec_bench_summarise(double *v, size_t n)
{
    lec_bench_stats s = {0, 0, 0, 0, n};
    if (n == 0)
        return s;
    qsort(v, n, sizeof *v, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    s.mean = sum / (double)n;
    s.min = v[0];
    s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    /* nearest rank: the smallest value with at least 99% of samples <= it */
    size_t r = (size_t)((99 * n + 99) / 100); /* ceil(0.99 n) */
    s.p99 = v[(r > 0 ? r : 1) - 1];
    return s;
}
