/* test_spec_threads.c -- lec_spec_create/destroy on several threads at once
 * (FFTW's planner is not thread-safe; lec_spec serialises it) and one stream
 * per thread give the same frames as a single thread does. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lec_spec.h"
#include "lec_test.h"

#define N_THREADS 4
#define N_ROUNDS 25
#define N_SAMPLES 8000

static const int frame_sizes[] = {2048, 1024, 1500, 512, 4096};
static float signal_[N_SAMPLES];
static float *expected[5]; /* per frame size, computed single-threaded first */
static size_t expected_frames[5];

static void config_for(lec_spec_config *c, int i)
{
    lec_spec_config_default(c);
    c->frame_size = frame_sizes[i];
    c->hop_size = frame_sizes[i] / 4;
}

static void *worker(void *arg)
{
    long id = (long)arg;
    long failures = 0;
    for (int r = 0; r < N_ROUNDS; r++) {
        int i = (int)((id + r) % 5);
        lec_spec_config c;
        config_for(&c, i);
        lec_error err;
        lec_spec *s = lec_spec_create(&c, &err);
        if (!s) {
            failures++;
            continue;
        }
        size_t nf = lec_spec_max_frames(s, N_SAMPLES);
        float *out = malloc(sizeof(float) * nf * (size_t)lec_spec_n_bands(s));
        size_t got = lec_spec_process(s, signal_, N_SAMPLES, out, nf);
        if (got != expected_frames[i] ||
            memcmp(out, expected[i], sizeof(float) * got * (size_t)lec_spec_n_bands(s)) != 0)
            failures++;
        free(out);
        lec_spec_destroy(s);
    }
    return (void *)failures;
}

int main(void)
{
    for (int i = 0; i < N_SAMPLES; i++)
        signal_[i] = (float)(0.5 * sin(0.031 * i) + 0.25 * sin(0.17 * i * (1.0 + i / 40000.0)));
    for (int i = 0; i < 5; i++) {
        lec_spec_config c;
        config_for(&c, i);
        int nb;
        lec_error err;
        CHECK(lec_spec_compute(&c, signal_, N_SAMPLES, &expected[i], &expected_frames[i], &nb,
                               &err) == LEC_OK);
        CHECK(expected_frames[i] == (size_t)(N_SAMPLES / c.hop_size));
    }
    pthread_t th[N_THREADS];
    for (long t = 0; t < N_THREADS; t++)
        CHECK(pthread_create(&th[t], NULL, worker, (void *)t) == 0);
    long failures = 0;
    for (int t = 0; t < N_THREADS; t++) {
        void *r = NULL;
        pthread_join(th[t], &r);
        failures += (long)r;
    }
    CHECKF(failures == 0, "%ld of %d thread rounds failed or differed", failures,
           N_THREADS * N_ROUNDS);
    for (int i = 0; i < 5; i++)
        free(expected[i]);
    return lec_test_finish("test_spec_threads");
}
