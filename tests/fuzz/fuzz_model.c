/* fuzz_model.c -- model files (engine/nn/lec_model.h) as the follower loads
 * them: container parse, network from the tensors, one inference, and the
 * follower's consistency checks (lec_follow_model_load).
 *
 * The input's two CRC-32 fields and its total-size field are recomputed
 * before parsing: otherwise nearly every mutation dies at the checksum and
 * the fuzzer never reaches the index parser. The checksum checks themselves
 * are covered by tests/nn/test_nn_model. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "lec_follower.h"
#include "lec_model.h"
#include "lec_nn.h"

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A network input of at most this many floats gets one inference: enough
 * for every real architecture (the default is 100 x 400 + 92 x 40), and it
 * keeps a fuzzed giant window from costing seconds per input. */
#define MAX_INFER_FLOATS (1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > LEC_MODEL_MAX_BYTES)
        return 0;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    if (size >= 64) {
        put_u64(buf + 48, size);
        put_u32(buf + 56, lec_crc32(0, buf + 64, size - 64));
        put_u32(buf + 60, lec_crc32(0, buf, 60));
    }
    const char *path = fuzz_temp_file(".lnm", buf, size);

    /* 1. the container, from memory (takes buf) */
    lec_error err;
    lec_error_clear(&err);
    lec_model_file *f = NULL;
    lec_status st = lec_model_file_parse(buf, size, "fuzz.lnm", &f, &err);
    if (st != LEC_OK) {
        fuzz_check_error(st, &err, "fuzz.lnm", "lec_model_file_parse");
        return 0;
    }
    /* 2. the network and its info */
    lec_model_info info;
    lec_nn_net *net = lec_model_net_from_file(f, &info, &err);
    if (!net) {
        fuzz_check_error(err.code, &err, "fuzz.lnm", "lec_model_net_from_file");
        lec_model_file_free(f);
        return 0;
    }
    /* 3. one inference on silence and white paper: every buffer the
     * architecture implies must really exist */
    const lec_nn_arch *a = lec_nn_net_arch(net);
    size_t n_score = (size_t)a->score_h * (size_t)a->score_w;
    size_t n_spec = (size_t)a->spec_bands * (size_t)a->spec_frames;
    if (n_score + n_spec <= MAX_INFER_FLOATS) {
        lec_nn_ctx *ctx = lec_nn_ctx_create(net, 1, 0, &err);
        if (ctx) {
            float *score = calloc(n_score, sizeof(float));
            float *spec = calloc(n_spec, sizeof(float));
            float *probs = calloc((size_t)a->n_out, sizeof(float));
            /* no property of the output is asserted: finite weights can still
             * overflow to Inf in a pathological file; the point is memory safety */
            if (score && spec && probs)
                (void)lec_nn_infer(ctx, score, spec, probs, &err);
            free(score);
            free(spec);
            free(probs);
            lec_nn_ctx_destroy(ctx);
        }
    }
    lec_nn_net_destroy(net);
    lec_model_file_free(f);

    /* 4. the follower's checks, through the file path the app uses */
    if (path) {
        lec_follow_model *m = lec_follow_model_load(path, &err);
        if (!m)
            fuzz_check_error(err.code, &err, path, "lec_follow_model_load");
        lec_follow_model_destroy(m);
    }
    return 0;
}
