/* test_nn_model -- model files: round trip (bit-exact parameters, metadata of
 * every type, front-end/unrolling info), then bad files: missing, empty,
 * wrong magic, wrong version, truncated at many lengths, trailing bytes,
 * bit flips everywhere (caught by the checksums), structurally bad files
 * with VALID checksums (recomputed, so the structural checks themselves are
 * exercised: overlapping/out-of-range/misaligned tensors, NaN, wrong shapes,
 * bad metadata), and a deterministic fuzz loop: random mutations of a valid
 * file, checksums recomputed half of the time; the loader must never crash
 * (ASan/UBSan build) and must either reject with a message naming the file
 * or load a network that produces finite outputs. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_model.h"
#include "lec_nn.h"
#include "lec_nn_layers.h"
#include "lec_test.h"
#include "lec_util.h"

static lec_nn_arch small_arch(void)
{
    lec_nn_arch a;
    lec_nn_arch_default(&a);
    a.score_h = 12, a.score_w = 16, a.spec_bands = 8, a.spec_frames = 6, a.n_out = 5;
    snprintf(a.score_layers, sizeof a.score_layers, "c4,p,c6,p,d8");
    snprintf(a.spec_layers, sizeof a.spec_layers, "c3,p,d6");
    snprintf(a.head_layers, sizeof a.head_layers, "o20,d7");
    a.score_mean = 0.25f, a.score_std = 1.5f;
    return a;
}

static void set_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
/* Recompute both checksums so that a mutation reaches the structural checks. */
static void fix_crc(unsigned char *b, size_t len)
{
    if (len < 64)
        return;
    set_u32(b + 56, lec_crc32(0, b + 64, len - 64));
    set_u32(b + 60, lec_crc32(0, b, 60));
}

static lec_status parse_copy(const unsigned char *img, size_t len, lec_model_file **f,
                             lec_error *err)
{
    unsigned char *b = malloc(len ? len : 1);
    memcpy(b, img, len);
    return lec_model_file_parse(b, len, "mutant.model", f, err);
}

/* Writes img to path and loads it as a network; returns the status. */
static lec_status load_image(const char *path, const unsigned char *img, size_t len,
                             lec_error *err, int check_outputs)
{
    lec_error e2;
    if (lec_write_file_atomic(path, img, len, &e2)) {
        fprintf(stderr, "cannot write %s: %s\n", path, e2.msg);
        return LEC_EIO;
    }
    lec_nn_net *net = lec_model_load(path, NULL, NULL, err);
    if (!net) {
        CHECKF(strstr(err->msg, path) != NULL, "message does not name the file: %s", err->msg);
        return err->code;
    }
    if (check_outputs) {
        /* whatever loaded must run and give finite outputs */
        const lec_nn_arch *a = lec_nn_net_arch(net);
        size_t ss = (size_t)a->score_h * a->score_w, sa = (size_t)a->spec_bands * a->spec_frames;
        float *s = calloc(ss, 4), *x = calloc(sa, 4), *p = calloc((size_t)a->n_out, 4);
        lec_nn_ctx *ctx = lec_nn_ctx_create(net, 1, 0, err);
        if (ctx && s && x && p) {
            CHECK(lec_nn_infer(ctx, s, x, p, err) == LEC_OK);
            int finite = 1;
            for (int k = 0; k < a->n_out; k++)
                finite &= isfinite(p[k]);
            CHECK(finite);
        }
        lec_nn_ctx_destroy(ctx);
        free(s), free(x), free(p);
    }
    lec_nn_net_destroy(net);
    return LEC_OK;
}

int main(void)
{
    const char *dir = lec_test_scratch_dir("test_nn_model");
    char path[4096], bad[4096];
    snprintf(path, sizeof path, "%s/m.model", dir);
    snprintf(bad, sizeof bad, "%s/bad.model", dir);
    lec_error err = {0};

    /* ---- round trip */
    lec_nn_arch a = small_arch();
    lec_nn_net *net = lec_nn_net_create(&a, &err);
    CHECKF(net != NULL, "%s", err.msg);
    if (!net)
        return lec_test_finish("test_nn_model");
    lec_nn_net_init(net, 42);
    /* non-trivial running statistics */
    float *P = lec_nn_net_params(net);
    for (int i = 0; i < lec_nn_net_n_tensors(net); i++) {
        const lec_nn_tensor *x = lec_nn_net_tensor(net, i);
        if (!x->trainable)
            for (size_t k = 0; k < x->size; k++)
                P[x->offset + k] = 0.5f + 0.01f * (float)k;
    }
    lec_model_info info;
    lec_model_info_default(&info);
    info.buckets = a.n_out;
    info.window_width_px = 300;
    info.staff_space_px = 5.5;
    lec_meta extra;
    lec_meta_init(&extra);
    float stats[3] = {1.5f, -2.0f, 3.25f};
    CHECK(lec_meta_set_string(&extra, "data.corpus", "unit test", &err) == LEC_OK);
    CHECK(lec_meta_set_floats(&extra, "norm.extra", stats, 3, &err) == LEC_OK);
    CHECK(lec_meta_set_int(&extra, "data.pieces", -7, &err) == LEC_OK);
    CHECK(lec_meta_set_float(&extra, "data.hours", 0.125, &err) == LEC_OK);
    CHECK(lec_meta_set_int(&extra, "bad key", 1, &err) == LEC_EINVAL);
    CHECK(lec_model_save(path, net, &info, &extra, &err) == LEC_OK);
    lec_model_info info2;
    lec_meta meta2;
    lec_nn_net *net2 = lec_model_load(path, &info2, &meta2, &err);
    CHECKF(net2 != NULL, "%s", err.msg);
    if (net2) {
        const lec_nn_arch *b = lec_nn_net_arch(net2);
        CHECK(b->score_h == a.score_h && b->score_w == a.score_w && b->spec_bands == a.spec_bands &&
              b->spec_frames == a.spec_frames && b->n_out == a.n_out && b->act == a.act &&
              b->batchnorm == a.batchnorm && b->score_mean == a.score_mean &&
              b->score_std == a.score_std && b->spec_mean == a.spec_mean &&
              b->spec_std == a.spec_std && strcmp(b->score_layers, a.score_layers) == 0 &&
              strcmp(b->spec_layers, a.spec_layers) == 0 &&
              strcmp(b->head_layers, a.head_layers) == 0);
        CHECK(lec_nn_net_n_params(net2) == lec_nn_net_n_params(net));
        CHECK(memcmp(lec_nn_net_params(net2), P, sizeof(float) * lec_nn_net_n_params(net)) == 0);
        CHECK(info2.window_width_px == 300 && info2.staff_space_px == 5.5 &&
              info2.sample_rate == info.sample_rate && info2.hop_size == info.hop_size &&
              info2.fmin_hz == info.fmin_hz && info2.bands_per_octave == info.bands_per_octave);
        const char *s = NULL;
        int64_t iv = 0;
        double dv = 0;
        CHECK(lec_meta_get_string(&meta2, "data.corpus", &s, path, &err) == LEC_OK && s &&
              strcmp(s, "unit test") == 0);
        CHECK(lec_meta_get_int(&meta2, "data.pieces", &iv, path, &err) == LEC_OK && iv == -7);
        CHECK(lec_meta_get_float(&meta2, "data.hours", &dv, path, &err) == LEC_OK && dv == 0.125);
        const lec_meta_entry *e = lec_meta_find(&meta2, "norm.extra");
        CHECK(e && e->type == LEC_META_FLOATS && e->n == 3 && memcmp(e->fa, stats, 12) == 0);
        CHECK(lec_meta_get_int(&meta2, "data.corpus", &iv, path, &err) == LEC_EFORMAT);
        CHECK(strstr(err.msg, "has type string") != NULL);
        CHECK(lec_meta_get_int(&meta2, "nope", &iv, path, &err) == LEC_EFORMAT);
        CHECK(strstr(err.msg, "missing") != NULL);
        lec_meta_free(&meta2);
        lec_nn_net_destroy(net2);
    }
    lec_meta_free(&extra);
    /* the save is atomic: no temporary left behind */
    char cmd[8300], out[256];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c tmp", dir);
    lec_test_run(cmd, out, sizeof out);
    CHECK(atoi(out) == 0);

    /* ---- bad files */
    char *img0 = NULL;
    size_t len = 0;
    CHECK(lec_read_file(path, 0, &img0, &len, &err) == LEC_OK);
    unsigned char *img = (unsigned char *)img0, *m = malloc(len + 16);
    lec_nn_net *x;

    snprintf(cmd, sizeof cmd, "%s/does-not-exist.model", dir);
    x = lec_model_load(cmd, NULL, NULL, &err);
    CHECK(x == NULL && err.code == LEC_EIO && strstr(err.msg, "does-not-exist.model"));

    CHECK(load_image(bad, img, 0, &err, 0) == LEC_EFORMAT);
    CHECK(strstr(err.msg, "bad magic") != NULL);

    memcpy(m, img, len);
    m[0] = 'X';
    CHECK(load_image(bad, m, len, &err, 0) == LEC_EFORMAT && strstr(err.msg, "bad magic"));

    memcpy(m, img, len);
    set_u32(m + 8, 2);
    fix_crc(m, len);
    CHECK(load_image(bad, m, len, &err, 0) == LEC_EUNSUPPORTED);
    CHECKF(strstr(err.msg, "version 2") != NULL, "%s", err.msg);

    /* truncation at many lengths: always rejected */
    int trunc_ok = 1;
    for (size_t cut = 1; cut < len; cut += 1 + cut / 7) {
        if (load_image(bad, img, cut, &err, 0) == LEC_OK)
            trunc_ok = 0;
    }
    CHECK(trunc_ok);
    CHECK(load_image(bad, img, len - 1, &err, 0) == LEC_EFORMAT);
    CHECKF(strstr(err.msg, "truncated") != NULL, "%s", err.msg);
    memcpy(m, img, len);
    memset(m + len, 0, 16);
    CHECK(load_image(bad, m, len + 16, &err, 0) == LEC_EFORMAT && strstr(err.msg, "trailing"));

    /* single bit flips anywhere: the checksums catch every one */
    int flips_ok = 1, n_flips = 0;
    for (size_t pos = 0; pos < len; pos += 1 + len / 300) {
        memcpy(m, img, len);
        m[pos] ^= (unsigned char)(1u << (pos % 8));
        lec_model_file *f = NULL;
        if (parse_copy(m, len, &f, &err) == LEC_OK)
            flips_ok = 0;
        lec_model_file_free(f);
        n_flips++;
    }
    CHECKF(flips_ok, "a bit flip was not detected (%d tried)", n_flips);
    memcpy(m, img, len);
    m[len - 3] ^= 0x10; /* in the tensor data */
    CHECK(load_image(bad, m, len, &err, 0) == LEC_EFORMAT && strstr(err.msg, "checksum"));

    /* structural damage behind valid checksums. Locate the first tensor
     * entry: it follows the metadata; find its name in the index. */
    const uint64_t data_off = get_u64(img + 32);
    unsigned char *t0 = NULL;
    for (size_t i = 64; i + 12 < data_off; i++)
        if (memcmp(img + i, "score.0.w", 9) == 0 && img[i - 2] == 9) {
            t0 = img + i;
            break;
        }
    CHECK(t0 != NULL);
    if (t0) {
        size_t name_pos = (size_t)(t0 - img);
        size_t dims_pos = name_pos + 9 + 2; /* after dtype, ndim */
        int ndim = img[name_pos + 10];
        size_t off_pos = dims_pos + 8 * (size_t)ndim;
        CHECK(ndim == 4);
        /* offset pointing past the data */
        memcpy(m, img, len);
        m[off_pos + 5] = 0x7f;
        fix_crc(m, len);
        CHECK(load_image(bad, m, len, &err, 0) == LEC_EFORMAT);
        CHECKF(strstr(err.msg, "outside") != NULL, "%s", err.msg);
        /* misaligned offset */
        memcpy(m, img, len);
        m[off_pos] = 4;
        fix_crc(m, len);
        CHECK(load_image(bad, m, len, &err, 0) == LEC_EFORMAT && strstr(err.msg, "aligned"));
        /* second tensor made to overlap the first: point its offset at 0 */
        size_t second = off_pos + 16;
        unsigned nl = img[second] | (unsigned)img[second + 1] << 8;
        unsigned nd = img[second + 2 + nl + 1];
        size_t off2 = second + 2 + nl + 2 + 8 * nd;
        memcpy(m, img, len);
        memset(m + off2, 0, 8);
        fix_crc(m, len);
        CHECK(load_image(bad, m, len, &err, 0) == LEC_EFORMAT);
        CHECKF(strstr(err.msg, "overlap") != NULL, "%s", err.msg);
        /* wrong shape for the architecture (dims 4x1x3x3 -> 2x2x3x3: bytes
         * mismatch caught first; make a consistent but wrong shape instead:
         * swap dims 0 and 1 of a 1-channel conv -> (1,4,3,3)) */
        memcpy(m, img, len);
        memcpy(m + dims_pos, img + dims_pos + 8, 8);
        memcpy(m + dims_pos + 8, img + dims_pos, 8);
        fix_crc(m, len);
        CHECK(load_image(bad, m, len, &err, 0) == LEC_EFORMAT);
        CHECKF(strstr(err.msg, "shape 1x4x3x3") && strstr(err.msg, "needs 4x1x3x3"), "%s",
               err.msg);
        /* NaN in the data */
        uint64_t toff = get_u64(img + off_pos);
        memcpy(m, img, len);
        float nanv = NAN;
        memcpy(m + data_off + toff + 8, &nanv, 4);
        fix_crc(m, len);
        CHECK(load_image(bad, m, len, &err, 0) == LEC_EFORMAT && strstr(err.msg, "not finite"));
        /* a tensor the architecture needs, renamed */
        memcpy(m, img, len);
        m[name_pos + 6] = 'X'; /* score.X.w */
        fix_crc(m, len);
        CHECK(load_image(bad, m, len, &err, 0) == LEC_EFORMAT && strstr(err.msg, "missing"));
    }
    /* an architecture string that does not parse */
    {
        lec_meta mm;
        lec_meta_init(&mm);
        lec_nn_arch b = small_arch();
        lec_model_arch_to_meta(&b, &mm, &err);
        lec_model_info_to_meta(&info, &mm, &err);
        lec_meta_set_string(&mm, "arch.score_layers", "c4,q9", &err);
        CHECK(lec_model_file_write(bad, &mm, NULL, 0, &err) == LEC_OK);
        x = lec_model_load(bad, NULL, NULL, &err);
        CHECK(x == NULL);
        CHECKF(strstr(err.msg, "unknown token \"q9\"") && strstr(err.msg, "bad.model"), "%s", err.msg);
        lec_meta_set_string(&mm, "arch.score_layers", "c4", &err);
        lec_meta_set_int(&mm, "unroll.buckets", 9, &err);
        CHECK(lec_model_file_write(bad, &mm, NULL, 0, &err) == LEC_OK);
        x = lec_model_load(bad, NULL, NULL, &err);
        CHECK(x == NULL && strstr(err.msg, "unroll.buckets"));
        lec_meta_set_int(&mm, "unroll.buckets", 5, &err);
        lec_meta_set_int(&mm, "arch.score_h", -3, &err);
        CHECK(lec_model_file_write(bad, &mm, NULL, 0, &err) == LEC_OK);
        x = lec_model_load(bad, NULL, NULL, &err);
        CHECK(x == NULL && strstr(err.msg, "arch.score_h"));
        lec_meta_free(&mm);
    }

    /* ---- fuzz: deterministic mutations; never crash; reject or load sanely */
    uint64_t r = 2016;
    int rejected = 0, loaded = 0;
    for (int it = 0; it < 400; it++) {
        memcpy(m, img, len);
        size_t mlen = len;
        int nmut = 1 + (int)(lec_nn_hash64(r++) % 4);
        for (int k = 0; k < nmut; k++) {
            uint64_t h = lec_nn_hash64(r++);
            /* bias towards the header and index, where structure lives */
            size_t pos = (h & 1) ? (size_t)((h >> 8) % (data_off + 8 < len ? data_off + 8 : len))
                                 : (size_t)((h >> 8) % len);
            switch ((h >> 4) % 4) {
            case 0: m[pos] ^= (unsigned char)(1u << ((h >> 40) % 8)); break;
            case 1: m[pos] = (unsigned char)(h >> 48); break;
            case 2: m[pos] = 0xff; break;
            case 3: mlen = pos + 1; break; /* truncate */
            }
        }
        if (it % 2)
            fix_crc(m, mlen);
        lec_status st = load_image(bad, m, mlen, &err, 1);
        if (st == LEC_OK)
            loaded++;
        else
            rejected++;
    }
    printf("fuzz: %d rejected, %d loaded (consistent)\n", rejected, loaded);
    CHECK(rejected > 300);

    free(img0);
    free(m);
    lec_nn_net_destroy(net);
    return lec_test_finish("test_nn_model");
}
