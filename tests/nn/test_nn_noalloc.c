/* test_nn_noalloc -- the per-frame path never allocates: after create,
 * lec_nn_infer (and a TRAIN forward + backward) make no malloc/calloc/
 * realloc/aligned_alloc/free call from lectern's code. The test is linked
 * with -Wl,--wrap for those symbols, which redirects every call made by the
 * statically linked lec_nn/lec_common objects to the counting wrappers below
 * (OpenBLAS is a shared library with its own preallocated buffers and is not
 * counted). The test checks that the counters do move for create, so that
 * it can fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_nn.h"
#include "lec_test.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t al, size_t n);
void __real_free(void *p);

static long n_alloc = 0, n_free = 0;
void *__wrap_malloc(size_t n)
{
    n_alloc++;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t a, size_t b)
{
    n_alloc++;
    return __real_calloc(a, b);
}
void *__wrap_realloc(void *p, size_t n)
{
    n_alloc++;
    return __real_realloc(p, n);
}
void *__wrap_aligned_alloc(size_t al, size_t n)
{
    n_alloc++;
    return __real_aligned_alloc(al, n);
}
void __wrap_free(void *p)
{
    if (p)
        n_free++;
    __real_free(p);
}

int main(void)
{
    lec_nn_arch a;
    lec_nn_arch_default(&a);
    a.score_h = 24, a.score_w = 32, a.spec_bands = 16, a.spec_frames = 8, a.n_out = 8;
    snprintf(a.score_layers, sizeof a.score_layers, "c4,p,c8,p,d16");
    snprintf(a.spec_layers, sizeof a.spec_layers, "c4,p,g");
    snprintf(a.head_layers, sizeof a.head_layers, "o20,d16");
    lec_error err;
    long before = n_alloc;
    lec_nn_net *net = lec_nn_net_create(&a, &err);
    CHECK(net != NULL);
    if (!net)
        return lec_test_finish("test_nn_noalloc");
    lec_nn_net_init(net, 3);
    lec_nn_ctx *inf = lec_nn_ctx_create(net, 1, 0, &err);
    lec_nn_ctx *tr = lec_nn_ctx_create(net, 4, 1, &err);
    CHECK(inf && tr);
    CHECK(n_alloc > before); /* the wrappers do see our allocations */
    size_t ss = (size_t)a.score_h * a.score_w, sa = (size_t)a.spec_bands * a.spec_frames;
    float *score = calloc(4 * ss, sizeof(float)), *spec = calloc(4 * sa, sizeof(float));
    float *targets = calloc(4 * (size_t)a.n_out, sizeof(float)), probs[8];
    for (size_t i = 0; i < 4 * ss; i++)
        score[i] = (float)(i % 11) / 11.0f;
    for (size_t i = 0; i < 4 * sa; i++)
        spec[i] = (float)(i % 5) / 5.0f;
    for (int n = 0; n < 4; n++)
        targets[n * a.n_out + n] = 1.0f;
    /* warm-up (OpenBLAS initialises itself on first use) */
    lec_nn_infer(inf, score, spec, probs, &err);
    long a0 = n_alloc, f0 = n_free;
    for (int i = 0; i < 50; i++)
        CHECK(lec_nn_infer(inf, score, spec, probs, &err) == LEC_OK);
    CHECKF(n_alloc == a0 && n_free == f0, "inference allocated %ld / freed %ld times",
           n_alloc - a0, n_free - f0);
    a0 = n_alloc, f0 = n_free;
    for (int i = 0; i < 5; i++) {
        lec_nn_ctx_zero_grad(tr);
        CHECK(lec_nn_forward(tr, score, spec, 4, LEC_NN_TRAIN, 9, 0, &err) == LEC_OK);
        lec_nn_backward(tr, targets, 4, 0.25f, 9, 0);
        lec_nn_update_running_stats(net, &tr, (int[]){4}, 1);
    }
    CHECKF(n_alloc == a0 && n_free == f0, "a training pass allocated %ld / freed %ld times",
           n_alloc - a0, n_free - f0);
    free(score), free(spec), free(targets);
    lec_nn_ctx_destroy(inf);
    lec_nn_ctx_destroy(tr);
    lec_nn_net_destroy(net);
    return lec_test_finish("test_nn_noalloc");
}
