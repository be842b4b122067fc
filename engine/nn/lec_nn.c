#include "lec_nn.h"

#include <cblas.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_nn_layers.h"

/* Conv GEMMs process as many samples at once as fit in this many floats of
 * workspace (32 MB): big enough that the GEMM's N dimension (samples x H x W)
 * is in the thousands even for the deepest layers, small enough for memory. */
#define CONV_WS_TARGET ((size_t)8 << 20)

enum { OP_CONV, OP_DENSE, OP_POOL, OP_GAP, OP_DROP, OP_CONCAT, OP_OUT };
enum { T_SCORE = 0, T_SPEC = 1, T_HEAD = 2 };

typedef struct op {
    int kind, tower, index; /* index: position in its tower (tensor names) */
    int in_c, in_h, in_w;
    int out_c, out_h, out_w;
    int k;        /* conv kernel size */
    float p;      /* dropout probability */
    int bn;       /* BN follows */
    int rows;     /* rows per sample: 1, or B for head ops with bucket_head */
    int act;      /* -1 none */
    /* parameter offsets (floats) or -1 */
    long w, b, g, be, rm, rv;
} op;

struct lec_nn_net {
    lec_nn_arch arch;
    op *ops;
    int n_ops;
    int n_score, n_spec; /* ops [0,n_score) score tower, then spec tower, then concat/head/out */
    int head_rows;       /* rows per sample after the concatenation: 1, or B (bucket_head) */
    lec_nn_tensor *tensors;
    int n_tensors, cap_tensors;
    float *params;
    size_t n_params;
    size_t max_act; /* largest activation per sample (floats) */
    int max_bn_c;
};

typedef struct opbuf {
    float *z;          /* conv/dense output before BN (BN input); pre-activation */
    float *out;        /* op output (after BN + activation, in place) */
    float *mean, *rstd; /* BN batch statistics (C) */
} opbuf;

struct lec_nn_ctx {
    const lec_nn_net *net;
    int max_n, training, last_n, last_train;
    int max_tower_n; /* batch limit of the two towers (<= max_n with lec_nn_ctx_create_eval) */
    int want_input_grad;
    float *mem;
    opbuf *b;
    float *xs, *xa;      /* normalised inputs */
    float *ga, *gb, *gspec;
    float *grads;
    float *probs;
    float *dscore, *dspec;
    float *ws;
    size_t ws_floats;
};

void lec_nn_arch_default(lec_nn_arch *a)
{
    /* engine/nn/README.md explains these choices and their measurements */
    memset(a, 0, sizeof *a);
    a->score_h = 120;    /* the unrolled strip's height: 24 staff spaces x 5 px */
    a->score_w = 160;    /* 32 staff spaces, about a bar of piano music */
    a->spec_bands = 70;  /* engine/spec default: 12 bands/octave, 60-6000 Hz */
    a->spec_frames = 40; /* 2 s at 20 frames/s */
    a->n_out = 32;       /* one bucket per staff space (5 px) */
    snprintf(a->score_layers, sizeof a->score_layers, "c8,p,c16,p,c32,p,c64,p,d128");
    snprintf(a->spec_layers, sizeof a->spec_layers, "c16,p,c32,p,c48,p,c64,p,d128");
    snprintf(a->head_layers, sizeof a->head_layers, "o30,d128");
    a->act = LEC_NN_ACT_ELU;
    a->batchnorm = 1;
    a->score_mean = 0.0f;
    a->score_std = 1.0f;
    a->spec_mean = 0.0f;
    a->spec_std = 1.0f;
}

const lec_nn_arch *lec_nn_net_arch(const lec_nn_net *net) { return &net->arch; }
float *lec_nn_net_params(lec_nn_net *net) { return net->params; }
const float *lec_nn_net_params_const(const lec_nn_net *net) { return net->params; }
size_t lec_nn_net_n_params(const lec_nn_net *net) { return net->n_params; }
int lec_nn_net_n_tensors(const lec_nn_net *net) { return net->n_tensors; }
const lec_nn_tensor *lec_nn_net_tensor(const lec_nn_net *net, int i)
{
    return (i >= 0 && i < net->n_tensors) ? &net->tensors[i] : NULL;
}
const lec_nn_tensor *lec_nn_net_find(const lec_nn_net *net, const char *name)
{
    for (int i = 0; i < net->n_tensors; i++)
        if (strcmp(net->tensors[i].name, name) == 0)
            return &net->tensors[i];
    return NULL;
}

/* ------------------------------------------------------------ construction */

static const char *tower_name(int t) { return t == T_SCORE ? "score" : t == T_SPEC ? "spec" : "head"; }

static long add_tensor(lec_nn_net *net, const char *prefix, const char *suffix, int ndim,
                       const int *dims, int trainable, int decay)
{
    if (net->n_tensors == net->cap_tensors) {
        int cap = net->cap_tensors ? 2 * net->cap_tensors : 32;
        lec_nn_tensor *t = realloc(net->tensors, sizeof *t * (size_t)cap);
        if (!t)
            return -2;
        net->tensors = t;
        net->cap_tensors = cap;
    }
    lec_nn_tensor *t = &net->tensors[net->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s.%s", prefix, suffix);
    t->ndim = ndim;
    size_t sz = 1;
    for (int i = 0; i < ndim; i++) {
        t->dims[i] = dims[i];
        sz *= (size_t)dims[i];
    }
    /* every tensor starts on a 16-float (64 B) boundary of the block so that
     * the model file can map tensors 1:1 with aligned data */
    net->n_params = (net->n_params + 15) & ~(size_t)15;
    t->offset = net->n_params;
    t->size = sz;
    t->trainable = trainable;
    t->decay = decay;
    net->n_params += sz;
    return (long)t->offset;
}

static lec_status push_op(lec_nn_net *net, const op *o, int *cap, lec_error *err)
{
    if (net->n_ops == *cap) {
        int c = *cap ? 2 * *cap : 16;
        op *p = realloc(net->ops, sizeof *p * (size_t)c);
        if (!p)
            return lec_error_set(err, LEC_ENOMEM, "network: out of memory");
        net->ops = p;
        *cap = c;
    }
    net->ops[net->n_ops++] = *o;
    return LEC_OK;
}

/* Parses one layer list; (c,h,w) is the input shape and is updated to the
 * output shape. */
static lec_status parse_layers(lec_nn_net *net, const char *spec, int tower, int *c, int *h,
                               int *w, int *cap, lec_error *err)
{
    const char *tn = tower_name(tower);
    const char *s = spec;
    int index = 0;
    while (*s) {
        while (*s == ' ' || *s == ',')
            s++;
        if (!*s)
            break;
        const char *tok = s;
        while (*s && *s != ',')
            s++;
        int len = (int)(s - tok);
        while (len > 0 && tok[len - 1] == ' ')
            len--;
        char t[32];
        if (len <= 0 || len >= (int)sizeof t)
            return lec_error_set(err, LEC_EINVAL, "%s layers \"%s\": bad token length", tn, spec);
        memcpy(t, tok, (size_t)len);
        t[len] = '\0';
        op o;
        memset(&o, 0, sizeof o);
        o.tower = tower;
        o.index = index;
        o.in_c = *c, o.in_h = *h, o.in_w = *w;
        o.act = -1;
        o.rows = 1;
        o.w = o.b = o.g = o.be = o.rm = o.rv = -1;
        char *end = NULL;
        if (t[0] == 'c' || t[0] == 'd') {
            long n = strtol(t + 1, &end, 10);
            long k = 3;
            if (t[0] == 'c' && *end == 'k')
                k = strtol(end + 1, &end, 10);
            if (end == t + 1 || *end || n < 1 || n > 4096 || k < 1 || k > 11 || k % 2 == 0)
                return lec_error_set(err, LEC_EINVAL,
                                     "%s layers \"%s\": bad token \"%s\" (want cN, cNkK with odd "
                                     "K, or dN, N in 1..4096)",
                                     tn, spec, t);
            o.kind = t[0] == 'c' ? OP_CONV : OP_DENSE;
            o.k = (int)k;
            o.out_c = (int)n;
            o.out_h = o.kind == OP_CONV ? *h : 1;
            o.out_w = o.kind == OP_CONV ? *w : 1;
            o.bn = net->arch.batchnorm;
            o.act = net->arch.act;
        } else if (strcmp(t, "p") == 0) {
            if (*h < 2 || *w < 2)
                return lec_error_set(err, LEC_EINVAL,
                                     "%s layers \"%s\": pooling a %dx%d map (layer %d)", tn, spec,
                                     *h, *w, index);
            o.kind = OP_POOL;
            o.out_c = *c, o.out_h = *h / 2, o.out_w = *w / 2;
        } else if (strcmp(t, "g") == 0) {
            o.kind = OP_GAP;
            o.out_c = *c, o.out_h = 1, o.out_w = 1;
        } else if (t[0] == 'o') {
            long p = strtol(t + 1, &end, 10);
            if (end == t + 1 || *end || p < 0 || p > 90)
                return lec_error_set(err, LEC_EINVAL,
                                     "%s layers \"%s\": bad dropout \"%s\" (want oP, P in 0..90 "
                                     "percent)",
                                     tn, spec, t);
            o.kind = OP_DROP;
            o.p = (float)p / 100.0f;
            o.out_c = *c, o.out_h = *h, o.out_w = *w;
        } else {
            return lec_error_set(err, LEC_EINVAL, "%s layers \"%s\": unknown token \"%s\"", tn,
                                 spec, t);
        }
        if (tower == T_HEAD && o.kind != OP_DENSE && o.kind != OP_DROP)
            return lec_error_set(err, LEC_EINVAL,
                                 "head layers \"%s\": only dense (dN) and dropout (oP) allowed "
                                 "after the concatenation, got \"%s\"",
                                 spec, t);
        lec_status st = push_op(net, &o, cap, err);
        if (st)
            return st;
        *c = o.out_c, *h = o.out_h, *w = o.out_w;
        index++;
    }
    return LEC_OK;
}

lec_status lec_nn_arch_validate(const lec_nn_arch *a, lec_error *err)
{
    if (a->score_h < 1 || a->score_w < 1 || a->score_h > 4096 || a->score_w > 4096)
        return lec_error_set(err, LEC_EINVAL, "network: bad score window %dx%d", a->score_h,
                             a->score_w);
    if (a->spec_bands < 1 || a->spec_frames < 1 || a->spec_bands > 4096 ||
        a->spec_frames > 4096)
        return lec_error_set(err, LEC_EINVAL, "network: bad spectrogram excerpt %dx%d",
                             a->spec_bands, a->spec_frames);
    if (a->n_out < 2 || a->n_out > 4096)
        return lec_error_set(err, LEC_EINVAL, "network: bad number of buckets %d", a->n_out);
    if (a->act != LEC_NN_ACT_RELU && a->act != LEC_NN_ACT_ELU)
        return lec_error_set(err, LEC_EINVAL, "network: unknown activation %d", a->act);
    if (a->batchnorm != 0 && a->batchnorm != 1)
        return lec_error_set(err, LEC_EINVAL, "network: batchnorm must be 0 or 1");
    if (a->bucket_head != 0 && a->bucket_head != 1)
        return lec_error_set(err, LEC_EINVAL, "network: bucket_head must be 0 or 1");
    if (!(a->score_std > 0.0f) || !(a->spec_std > 0.0f) || !isfinite(a->score_mean) ||
        !isfinite(a->spec_mean) || !isfinite(a->score_std) || !isfinite(a->spec_std))
        return lec_error_set(err, LEC_EINVAL, "network: bad input normalisation");
    if (!memchr(a->score_layers, 0, sizeof a->score_layers) ||
        !memchr(a->spec_layers, 0, sizeof a->spec_layers) ||
        !memchr(a->head_layers, 0, sizeof a->head_layers))
        return lec_error_set(err, LEC_EINVAL, "network: layer description too long");
    return LEC_OK;
}

static void add_params(lec_nn_net *net, op *o)
{
    char prefix[32];
    if (o->kind == OP_OUT)
        snprintf(prefix, sizeof prefix, "out");
    else
        snprintf(prefix, sizeof prefix, "%s.%d", tower_name(o->tower), o->index);
    int in_feat = o->in_c * o->in_h * o->in_w;
    if (o->kind == OP_CONV) {
        int d[4] = {o->out_c, o->in_c, o->k, o->k};
        o->w = add_tensor(net, prefix, "w", 4, d, 1, 1);
    } else if (o->kind == OP_DENSE || o->kind == OP_OUT) {
        int d[2] = {o->out_c, in_feat};
        o->w = add_tensor(net, prefix, "w", 2, d, 1, 1);
    } else {
        return;
    }
    int dc[1] = {o->out_c};
    if (o->bn) {
        /* a bias before BN is cancelled by the mean subtraction: omit it */
        o->g = add_tensor(net, prefix, "bn.g", 1, dc, 1, 0);
        o->be = add_tensor(net, prefix, "bn.b", 1, dc, 1, 0);
        o->rm = add_tensor(net, prefix, "bn.rm", 1, dc, 0, 0);
        o->rv = add_tensor(net, prefix, "bn.rv", 1, dc, 0, 0);
    } else {
        o->b = add_tensor(net, prefix, "b", 1, dc, 1, 0);
    }
}

lec_nn_net *lec_nn_net_create(const lec_nn_arch *arch, lec_error *err)
{
    if (lec_nn_arch_validate(arch, err))
        return NULL;
    lec_nn_net *net = calloc(1, sizeof *net);
    if (!net) {
        lec_error_set(err, LEC_ENOMEM, "network: out of memory");
        return NULL;
    }
    net->arch = *arch;
    int cap = 0;
    int c = 1, h = arch->score_h, w = arch->score_w;
    if (parse_layers(net, arch->score_layers, T_SCORE, &c, &h, &w, &cap, err))
        goto fail;
    net->n_score = net->n_ops;
    int fs = c * h * w;
    net->head_rows = 1;
    if (arch->bucket_head) {
        if (w != arch->n_out) {
            lec_error_set(err, LEC_EINVAL,
                          "network: bucket head: the score tower \"%s\" ends with a %dx%dx%d map; "
                          "its width must equal the number of buckets %d (window width / 2^pools)",
                          arch->score_layers, c, h, w, arch->n_out);
            goto fail;
        }
        fs = c * h; /* one column per bucket */
        net->head_rows = arch->n_out;
    }
    c = 1, h = arch->spec_bands, w = arch->spec_frames;
    if (parse_layers(net, arch->spec_layers, T_SPEC, &c, &h, &w, &cap, err))
        goto fail;
    net->n_spec = net->n_ops - net->n_score;
    int fa = c * h * w;
    op cat;
    memset(&cat, 0, sizeof cat);
    cat.kind = OP_CONCAT;
    cat.tower = T_HEAD;
    cat.act = -1;
    cat.w = cat.b = cat.g = cat.be = cat.rm = cat.rv = -1;
    cat.in_c = fs; /* sizes of the two parts */
    cat.in_h = fa;
    cat.in_w = 1;
    cat.out_c = fs + fa, cat.out_h = 1, cat.out_w = 1;
    cat.rows = net->head_rows;
    if (push_op(net, &cat, &cap, err))
        goto fail;
    c = fs + fa, h = 1, w = 1;
    const int first_head = net->n_ops;
    if (parse_layers(net, arch->head_layers, T_HEAD, &c, &h, &w, &cap, err))
        goto fail;
    for (int i = first_head; i < net->n_ops; i++)
        net->ops[i].rows = net->head_rows;
    op out;
    memset(&out, 0, sizeof out);
    out.kind = OP_OUT;
    out.tower = T_HEAD;
    out.act = -1;
    out.in_c = c, out.in_h = h, out.in_w = w;
    out.out_c = arch->bucket_head ? 1 : arch->n_out, out.out_h = 1, out.out_w = 1;
    out.rows = net->head_rows;
    if (push_op(net, &out, &cap, err))
        goto fail;
    for (int i = 0; i < net->n_ops; i++) {
        op *o = &net->ops[i];
        add_params(net, o);
        size_t in = (size_t)o->in_c * o->in_h * o->in_w * o->rows;
        size_t ou = (size_t)o->out_c * o->out_h * o->out_w * o->rows;
        if (o->kind == OP_CONCAT)
            in = ou;
        if (in > net->max_act)
            net->max_act = in;
        if (ou > net->max_act)
            net->max_act = ou;
        if (o->bn && o->out_c > net->max_bn_c)
            net->max_bn_c = o->out_c;
    }
    for (int i = 0; i < net->n_tensors; i++)
        if (net->tensors[i].offset > (size_t)1 << 30) {
            lec_error_set(err, LEC_EINVAL, "network: too many parameters");
            goto fail;
        }
    if (net->n_params > ((size_t)1 << 28)) {
        lec_error_set(err, LEC_EINVAL, "network: %zu parameters is too many", net->n_params);
        goto fail;
    }
    net->params = aligned_alloc(64, ((net->n_params * sizeof(float)) + 63) & ~(size_t)63);
    if (!net->params) {
        lec_error_set(err, LEC_ENOMEM, "network: out of memory for %zu parameters",
                      net->n_params);
        goto fail;
    }
    memset(net->params, 0, net->n_params * sizeof(float));
    return net;
fail:
    lec_nn_net_destroy(net);
    return NULL;
}

void lec_nn_net_destroy(lec_nn_net *net)
{
    if (!net)
        return;
    free(net->ops);
    free(net->tensors);
    free(net->params);
    free(net);
}

static double gauss(uint64_t seed, uint64_t i)
{
    /* Box-Muller on two counter-based uniforms in (0,1) */
    uint64_t a = lec_nn_hash64(seed ^ lec_nn_hash64(2 * i));
    uint64_t b = lec_nn_hash64(seed ^ lec_nn_hash64(2 * i + 1));
    double u1 = ((double)(a >> 11) + 0.5) / 9007199254740992.0;
    double u2 = (double)(b >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void lec_nn_net_init(lec_nn_net *net, uint64_t seed)
{
    memset(net->params, 0, net->n_params * sizeof(float));
    for (int i = 0; i < net->n_ops; i++) {
        const op *o = &net->ops[i];
        if (o->w < 0)
            continue;
        size_t fan_in = (size_t)o->in_c * (o->kind == OP_CONV ? (size_t)o->k * o->k
                                                              : (size_t)o->in_h * o->in_w);
        /* He et al. 2015 for ReLU-like units; the output layer gets a smaller
         * scale so that the first soft-max is close to uniform */
        double sd = sqrt(2.0 / (double)fan_in) * (o->kind == OP_OUT ? 0.1 : 1.0);
        size_t n = (size_t)o->out_c * fan_in;
        uint64_t s = lec_nn_hash64(seed + 0x1000 * (uint64_t)(i + 1));
        for (size_t j = 0; j < n; j++)
            net->params[o->w + (long)j] = (float)(sd * gauss(s, j));
        if (o->bn)
            for (int c = 0; c < o->out_c; c++) {
                net->params[o->g + c] = 1.0f;
                net->params[o->rv + c] = 1.0f;
            }
    }
}

static double op_fwd_flops(const op *o)
{
    if (o->kind == OP_CONV)
        return 2.0 * o->out_c * o->in_c * o->k * o->k * (double)o->out_h * o->out_w;
    if (o->kind == OP_DENSE || o->kind == OP_OUT)
        return 2.0 * o->out_c * (double)o->in_c * o->in_h * o->in_w * o->rows;
    return 0.0;
}

double lec_nn_net_flops_forward(const lec_nn_net *net)
{
    double f = 0.0;
    for (int i = 0; i < net->n_ops; i++)
        f += op_fwd_flops(&net->ops[i]);
    return f;
}

static int first_of_tower(const lec_nn_net *net, int i)
{
    return i == 0 || i == net->n_score;
}

double lec_nn_net_flops_train(const lec_nn_net *net)
{
    double f = 0.0;
    for (int i = 0; i < net->n_ops; i++) {
        double x = op_fwd_flops(&net->ops[i]);
        /* forward + weight gradient + input gradient (none for tower inputs) */
        f += x * (first_of_tower(net, i) ? 2.0 : 3.0);
    }
    return f;
}

/* --------------------------------------------------------------------- ctx */

static size_t op_ws(const op *o, int n)
{
    if (o->kind != OP_CONV)
        return 0;
    size_t per = lec_nn_conv2d_ws_floats(o->in_c, o->in_h, o->in_w, o->out_c, o->k, 1);
    size_t nb = CONV_WS_TARGET / per;
    if (nb < 1)
        nb = 1;
    if (nb > (size_t)n)
        nb = (size_t)n;
    return nb * per;
}

static lec_nn_ctx *ctx_create(const lec_nn_net *net, int max_batch, int tower_batch,
                              int training, lec_error *err);

lec_nn_ctx *lec_nn_ctx_create(const lec_nn_net *net, int max_batch, int training,
                              lec_error *err)
{
    return ctx_create(net, max_batch, max_batch, training, err);
}

lec_nn_ctx *lec_nn_ctx_create_eval(const lec_nn_net *net, int tower_batch, int head_batch,
                                   lec_error *err)
{
    if (tower_batch < 1 || tower_batch > head_batch) {
        lec_error_set(err, LEC_EINVAL, "network: tower batch %d outside 1..%d (the head's)",
                      tower_batch, head_batch);
        return NULL;
    }
    return ctx_create(net, head_batch, tower_batch, 0, err);
}

static lec_nn_ctx *ctx_create(const lec_nn_net *net, int max_batch, int tower_batch,
                              int training, lec_error *err)
{
    if (max_batch < 1 || max_batch > 65536) {
        lec_error_set(err, LEC_EINVAL, "network: bad maximum batch size %d", max_batch);
        return NULL;
    }
    lec_nn_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx)
        ctx->b = calloc((size_t)net->n_ops, sizeof *ctx->b);
    if (!ctx || !ctx->b) {
        if (ctx)
            free(ctx);
        lec_error_set(err, LEC_ENOMEM, "network: out of memory");
        return NULL;
    }
    ctx->net = net;
    ctx->max_n = max_batch;
    ctx->max_tower_n = tower_batch;
    ctx->training = training ? 1 : 0;
    const size_t N = (size_t)max_batch, NT = (size_t)tower_batch;
    const lec_nn_arch *a = &net->arch;
    /* two passes: size, then carve (each piece rounded to 16 floats) */
    float *base = NULL;
    for (int pass = 0; pass < 2; pass++) {
        size_t off = 0;
#define CARVE(ptr, nfl)                                                        \
    do {                                                                       \
        size_t n_ = (nfl);                                                     \
        if (pass)                                                              \
            (ptr) = base + off;                                                \
        off += (n_ + 15) & ~(size_t)15;                                        \
    } while (0)
        CARVE(ctx->xs, NT * a->score_h * a->score_w);
        CARVE(ctx->xa, NT * a->spec_bands * a->spec_frames);
        size_t wsmax = 0;
        for (int i = 0; i < net->n_ops; i++) {
            const op *o = &net->ops[i];
            opbuf *b = &ctx->b[i];
            const int tower_op = i < net->n_score + net->n_spec;
            size_t ou = (tower_op ? NT : N) * o->out_c * o->out_h * o->out_w * o->rows;
            CARVE(b->out, ou);
            if (o->bn && training)
                CARVE(b->z, ou); /* the BN input must survive until backward */
            if (o->bn) {
                CARVE(b->mean, o->out_c);
                CARVE(b->rstd, o->out_c);
            }
            size_t ws = op_ws(o, tower_op ? tower_batch : max_batch);
            if (ws > wsmax)
                wsmax = ws;
        }
        CARVE(ctx->ws, wsmax);
        if (pass)
            ctx->ws_floats = wsmax;
        if (training) {
            CARVE(ctx->ga, N * net->max_act);
            CARVE(ctx->gb, N * net->max_act);
            CARVE(ctx->gspec, N * net->max_act);
            CARVE(ctx->grads, net->n_params);
            CARVE(ctx->dscore, N * a->score_h * a->score_w);
            CARVE(ctx->dspec, N * a->spec_bands * a->spec_frames);
        }
        CARVE(ctx->probs, N * a->n_out);
#undef CARVE
        if (!pass) {
            base = aligned_alloc(64, off * sizeof(float) + 64);
            if (!base) {
                lec_error_set(err, LEC_ENOMEM,
                              "network: out of memory for activations (%zu MB, batch %d)",
                              off * sizeof(float) >> 20, max_batch);
                free(ctx->b);
                free(ctx);
                return NULL;
            }
            memset(base, 0, off * sizeof(float));
            ctx->mem = base;
        }
    }
    return ctx;
}

void lec_nn_ctx_destroy(lec_nn_ctx *ctx)
{
    if (!ctx)
        return;
    free(ctx->mem);
    free(ctx->b);
    free(ctx);
}

int lec_nn_ctx_max_batch(const lec_nn_ctx *ctx) { return ctx->max_n; }
int lec_nn_ctx_max_tower_batch(const lec_nn_ctx *ctx) { return ctx->max_tower_n; }
const float *lec_nn_ctx_logits(const lec_nn_ctx *ctx) { return ctx->b[ctx->net->n_ops - 1].out; }
const float *lec_nn_ctx_probs(const lec_nn_ctx *ctx) { return ctx->probs; }
const float *lec_nn_ctx_dscore(const lec_nn_ctx *ctx) { return ctx->dscore; }
const float *lec_nn_ctx_dspec(const lec_nn_ctx *ctx) { return ctx->dspec; }
float *lec_nn_ctx_grads(lec_nn_ctx *ctx) { return ctx->grads; }
void lec_nn_ctx_want_input_grad(lec_nn_ctx *ctx, int on) { ctx->want_input_grad = on ? 1 : 0; }
void lec_nn_ctx_zero_grad(lec_nn_ctx *ctx)
{
    if (ctx->grads)
        memset(ctx->grads, 0, ctx->net->n_params * sizeof(float));
}

static uint64_t drop_seed(uint64_t seed, int op_index)
{
    return lec_nn_hash64(seed ^ (0x5bd1e995ULL * (uint64_t)(op_index + 1)));
}

/* The part of a conv/dense/out op after its GEMM: z (n, out_c, out_h, out_w)
 * holds the pre-BN output (b->z, or b->out itself); BN (batch statistics in
 * TRAIN mode, the running ones in EVAL mode) and the activation, into b->out. */
static void op_post(lec_nn_ctx *ctx, int i, float *z, int n, lec_nn_mode mode)
{
    const lec_nn_net *net = ctx->net;
    const op *o = &net->ops[i];
    opbuf *b = &ctx->b[i];
    const float *P = net->params;
    const size_t total = (size_t)n * o->out_c * o->out_h * o->out_w;
    if (o->bn) { /* BN and the activation in one pass */
        if (mode == LEC_NN_TRAIN)
            lec_nn_batchnorm_act_forward_train(b->out, b->mean, b->rstd, z, P + o->g, P + o->be,
                                               o->act, n, o->out_c, o->out_h * o->out_w);
        else
            lec_nn_batchnorm_act_forward_eval(b->out, z, P + o->g, P + o->be, P + o->rm,
                                              P + o->rv, o->act, n, o->out_c,
                                              o->out_h * o->out_w);
        return;
    }
    if (z != b->out)
        memcpy(b->out, z, sizeof(float) * total);
    if (o->act == LEC_NN_ACT_RELU)
        lec_nn_relu_forward(b->out, b->out, total);
    else if (o->act == LEC_NN_ACT_ELU)
        lec_nn_elu_forward(b->out, b->out, total);
}

/* One op forward; in is (n, in_c, in_h, in_w). */
static void op_forward(lec_nn_ctx *ctx, int i, const float *in, int n, lec_nn_mode mode,
                       uint64_t seed, uint64_t sample0)
{
    const lec_nn_net *net = ctx->net;
    const op *o = &net->ops[i];
    opbuf *b = &ctx->b[i];
    const float *P = net->params;
    const size_t ou = (size_t)o->out_c * o->out_h * o->out_w;
    const size_t total = (size_t)n * ou;
    switch (o->kind) {
    case OP_CONV:
    case OP_DENSE:
    case OP_OUT: {
        float *z = b->z ? b->z : b->out;
        const float *bias = o->b >= 0 ? P + o->b : NULL;
        if (o->kind == OP_CONV)
            lec_nn_conv2d_forward(z, in, P + o->w, bias, ctx->ws, ctx->ws_floats, n, o->in_c,
                                  o->in_h, o->in_w, o->out_c, o->k);
        else
            lec_nn_dense_forward(z, in, P + o->w, bias, n, o->in_c * o->in_h * o->in_w,
                                 o->out_c);
        op_post(ctx, i, z, n, mode);
        break;
    }
    case OP_POOL:
        lec_nn_maxpool2_forward(b->out, in, n, o->in_c, o->in_h, o->in_w);
        break;
    case OP_GAP:
        lec_nn_avgpool_forward(b->out, in, n, o->in_c, o->in_h, o->in_w);
        break;
    case OP_DROP:
        lec_nn_dropout_forward(b->out, in, mode == LEC_NN_TRAIN ? o->p : 0.0f,
                               drop_seed(seed, i), sample0 * ou, total);
        break;
    default:
        break;
    }
}

/* bucket_head concatenation. map is the score tower's output (n, C, h, B):
 * its column b holds fs = C*h values; vec is the spectrogram embedding
 * (n, fa). out (n, B, fs + fa): row (s, b) = [map[s, :, :, b], vec[s]]. */
static void bucket_concat_forward(float *out, const float *map, const float *vec, int n, int fs,
                                  int B, int fa)
{
    const int row = fs + fa;
    for (int s = 0; s < n; s++) {
        const float *m = map + (size_t)s * fs * B;
        for (int b = 0; b < B; b++) {
            float *o = out + ((size_t)s * B + b) * row;
            for (int k = 0; k < fs; k++)
                o[k] = m[(size_t)k * B + b];
            memcpy(o + fs, vec + (size_t)s * fa, sizeof(float) * (size_t)fa);
        }
    }
}

/* Its backward: dout (n, B, fs + fa) -> dmap (n, C, h, B), dvec (n, fa)
 * (the spectrogram embedding feeds all B rows: its gradient is their sum). */
static void bucket_concat_backward(float *dmap, float *dvec, const float *dout, int n, int fs,
                                   int B, int fa)
{
    const int row = fs + fa;
    for (int s = 0; s < n; s++) {
        float *m = dmap + (size_t)s * fs * B;
        float *v = dvec + (size_t)s * fa;
        memset(v, 0, sizeof(float) * (size_t)fa);
        for (int b = 0; b < B; b++) {
            const float *g = dout + ((size_t)s * B + b) * row;
            for (int k = 0; k < fs; k++)
                m[(size_t)k * B + b] = g[k];
            for (int k = 0; k < fa; k++)
                v[k] += g[fs + k];
        }
    }
}

static void normalise(float *dst, const float *src, size_t n, float mean, float std)
{
    const float inv = 1.0f / std;
    for (size_t i = 0; i < n; i++)
        dst[i] = (src[i] - mean) * inv;
}

lec_status lec_nn_forward(lec_nn_ctx *ctx, const float *score, const float *spec, int n,
                          lec_nn_mode mode, uint64_t seed, uint64_t sample0, lec_error *err)
{
    if (n < 1 || n > ctx->max_tower_n)
        return lec_error_set(err, LEC_EINVAL, "network: batch of %d outside 1..%d", n,
                             ctx->max_tower_n);
    if (mode == LEC_NN_TRAIN && !ctx->training)
        return lec_error_set(err, LEC_EINVAL, "network: TRAIN forward on an inference context");
    const lec_nn_net *net = ctx->net;
    const lec_nn_arch *a = &net->arch;
    normalise(ctx->xs, score, (size_t)n * a->score_h * a->score_w, a->score_mean, a->score_std);
    normalise(ctx->xa, spec, (size_t)n * a->spec_bands * a->spec_frames, a->spec_mean,
              a->spec_std);
    const float *in = ctx->xs;
    for (int i = 0; i < net->n_score; i++) {
        op_forward(ctx, i, in, n, mode, seed, sample0);
        in = ctx->b[i].out;
    }
    const float *fs = in;
    in = ctx->xa;
    for (int i = net->n_score; i < net->n_score + net->n_spec; i++) {
        op_forward(ctx, i, in, n, mode, seed, sample0);
        in = ctx->b[i].out;
    }
    const int ic = net->n_score + net->n_spec;
    const op *cat = &net->ops[ic];
    const int R = net->head_rows;
    if (R > 1)
        bucket_concat_forward(ctx->b[ic].out, fs, in, n, cat->in_c, R, cat->in_h);
    else
        lec_nn_concat_forward(ctx->b[ic].out, fs, in, n, cat->in_c, cat->in_h);
    in = ctx->b[ic].out;
    /* the head sees R rows per sample: (n * R, features) */
    for (int i = ic + 1; i < net->n_ops; i++) {
        op_forward(ctx, i, in, n * R, mode, seed, sample0 * (uint64_t)R);
        in = ctx->b[i].out;
    }
    ctx->last_n = n;
    ctx->last_train = mode == LEC_NN_TRAIN;
    return LEC_OK;
}

/* ------------------------------------------- the EVAL forward in three parts */

/* Index of the first dense layer after the concatenation (skipping dropouts,
 * which are the identity in EVAL mode): the layer whose weights
 * W (OC, fs + fa) are split into a score half and a spectrogram half. The
 * output layer always exists, so there is one. */
static int first_head_dense(const lec_nn_net *net)
{
    int i = net->n_score + net->n_spec + 1;
    while (net->ops[i].kind == OP_DROP)
        i++;
    return i;
}

size_t lec_nn_score_embed_floats(const lec_nn_net *net)
{
    const op *cat = &net->ops[net->n_score + net->n_spec];
    return (size_t)cat->in_c * (size_t)net->head_rows; /* fs per row x R rows */
}

size_t lec_nn_spec_embed_floats(const lec_nn_net *net)
{
    return (size_t)net->ops[net->n_score + net->n_spec].in_h;
}

size_t lec_nn_head_part_floats(const lec_nn_net *net)
{
    return (size_t)net->head_rows * (size_t)net->ops[first_head_dense(net)].out_c;
}

size_t lec_nn_head_spec_part_floats(const lec_nn_net *net)
{
    return (size_t)net->ops[first_head_dense(net)].out_c;
}

static lec_status check_n(const lec_nn_ctx *ctx, int n, lec_error *err)
{
    if (n < 1 || n > ctx->max_n)
        return lec_error_set(err, LEC_EINVAL, "network: batch of %d outside 1..%d", n,
                             ctx->max_n);
    return LEC_OK;
}

static lec_status check_tower_n(const lec_nn_ctx *ctx, int n, lec_error *err)
{
    if (n < 1 || n > ctx->max_tower_n)
        return lec_error_set(err, LEC_EINVAL, "network: tower batch of %d outside 1..%d", n,
                             ctx->max_tower_n);
    return LEC_OK;
}

/* Ops [first, last) on n samples from in; returns the last output (or in). */
static const float *run_ops(lec_nn_ctx *ctx, int first, int last, const float *in, int n)
{
    for (int i = first; i < last; i++) {
        op_forward(ctx, i, in, n, LEC_NN_EVAL, 0, 0);
        in = ctx->b[i].out;
    }
    return in;
}

lec_status lec_nn_forward_score_tower(lec_nn_ctx *ctx, const float *score, int n, float *emb,
                                      lec_error *err)
{
    if (check_tower_n(ctx, n, err))
        return err->code;
    const lec_nn_net *net = ctx->net;
    const lec_nn_arch *a = &net->arch;
    normalise(ctx->xs, score, (size_t)n * a->score_h * a->score_w, a->score_mean, a->score_std);
    const float *out = run_ops(ctx, 0, net->n_score, ctx->xs, n);
    memcpy(emb, out, sizeof(float) * (size_t)n * lec_nn_score_embed_floats(net));
    ctx->last_train = 0;
    return LEC_OK;
}

lec_status lec_nn_forward_spec_tower(lec_nn_ctx *ctx, const float *spec, int n, float *emb,
                                     lec_error *err)
{
    if (check_tower_n(ctx, n, err))
        return err->code;
    const lec_nn_net *net = ctx->net;
    const lec_nn_arch *a = &net->arch;
    normalise(ctx->xa, spec, (size_t)n * a->spec_bands * a->spec_frames, a->spec_mean,
              a->spec_std);
    const float *out = run_ops(ctx, net->n_score, net->n_score + net->n_spec, ctx->xa, n);
    memcpy(emb, out, sizeof(float) * (size_t)n * lec_nn_spec_embed_floats(net));
    ctx->last_train = 0;
    return LEC_OK;
}

lec_status lec_nn_forward_head(lec_nn_ctx *ctx, const float *score_emb, const float *spec_emb,
                               int spec_shared, int n, lec_error *err)
{
    if (check_n(ctx, n, err))
        return err->code;
    const lec_nn_net *net = ctx->net;
    const int ic = net->n_score + net->n_spec, R = net->head_rows;
    const op *cat = &net->ops[ic];
    const int fs = cat->in_c, fa = cat->in_h;
    const size_t se = (size_t)fs * (size_t)R, sa = spec_shared ? 0 : (size_t)fa;
    /* the concatenation exactly as lec_nn_forward builds it (the same values
     * in the same places), so the head ops below compute the same bits */
    float *c = ctx->b[ic].out;
    for (int s = 0; s < n; s++) {
        if (R > 1)
            bucket_concat_forward(c + (size_t)s * R * (fs + fa), score_emb + (size_t)s * se,
                                  spec_emb + (size_t)s * sa, 1, fs, R, fa);
        else
            lec_nn_concat_forward(c + (size_t)s * (fs + fa), score_emb + (size_t)s * se,
                                  spec_emb + (size_t)s * sa, 1, fs, fa);
    }
    run_ops(ctx, ic + 1, net->n_ops, c, n * R);
    ctx->last_n = n;
    ctx->last_train = 0;
    return LEC_OK;
}

lec_status lec_nn_head_score_part(const lec_nn_net *net, const float *score_emb, int n,
                                  float *part, lec_error *err)
{
    if (n < 1)
        return lec_error_set(err, LEC_EINVAL, "network: head score part of %d windows", n);
    const int f = first_head_dense(net), R = net->head_rows;
    const op *o = &net->ops[f];
    const int fs = net->ops[net->n_score + net->n_spec].in_c;
    const int IC = o->in_c * o->in_h * o->in_w, OC = o->out_c;
    const float *W = net->params + o->w; /* (OC, IC): columns [0, fs) read the score part */
    if (R == 1) {
        /* part (n, OC) = emb (n, fs) W[:, :fs]^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, OC, fs, 1.0f, score_emb, fs, W,
                    IC, 0.0f, part, OC);
        return LEC_OK;
    }
    /* bucket head: the embedding is a map (fs, R) per window (column r =
     * bucket r's features); part (R, OC) = map^T (R, fs) W[:, :fs]^T */
    for (int s = 0; s < n; s++)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, R, OC, fs, 1.0f,
                    score_emb + (size_t)s * fs * R, R, W, IC, 0.0f, part + (size_t)s * R * OC,
                    OC);
    return LEC_OK;
}

void lec_nn_head_spec_part(const lec_nn_net *net, const float *spec_emb, float *part)
{
    const int f = first_head_dense(net);
    const op *o = &net->ops[f];
    const int fs = net->ops[net->n_score + net->n_spec].in_c;
    const int IC = o->in_c * o->in_h * o->in_w, OC = o->out_c, fa = IC - fs;
    /* part (OC) = W[:, fs:] e (+ the layer's bias: added once here, not per window) */
    cblas_sgemv(CblasRowMajor, CblasNoTrans, OC, fa, 1.0f, net->params + o->w + fs, IC, spec_emb,
                1, 0.0f, part, 1);
    if (o->b >= 0)
        for (int k = 0; k < OC; k++)
            part[k] += net->params[o->b + k];
}

lec_status lec_nn_forward_head_parts(lec_nn_ctx *ctx, const float *const *score_parts,
                                     const float *spec_part, int n, lec_error *err)
{
    if (check_n(ctx, n, err))
        return err->code;
    const lec_nn_net *net = ctx->net;
    const int f = first_head_dense(net), R = net->head_rows;
    const op *o = &net->ops[f];
    const int OC = o->out_c;
    opbuf *b = &ctx->b[f];
    float *z = b->z ? b->z : b->out; /* the layer's pre-BN output (n R, OC) */
    for (int s = 0; s < n; s++) {
        const float *p = score_parts[s];
        float *zs = z + (size_t)s * R * OC;
        for (int r = 0; r < R; r++)
            for (int k = 0; k < OC; k++)
                zs[(size_t)r * OC + k] = p[(size_t)r * OC + k] + spec_part[k];
    }
    op_post(ctx, f, z, n * R, LEC_NN_EVAL);
    run_ops(ctx, f + 1, net->n_ops, b->out, n * R);
    ctx->last_n = n;
    ctx->last_train = 0;
    return LEC_OK;
}

/* Backward of op i: g holds dL/d(output) (n, out size) and may be clobbered;
 * writes dL/d(input) into dinp (or skips it when dinp is NULL). */
static void op_backward(lec_nn_ctx *ctx, int i, const float *in, float *g, float *dinp, int n,
                        uint64_t seed, uint64_t sample0)
{
    const lec_nn_net *net = ctx->net;
    const op *o = &net->ops[i];
    opbuf *b = &ctx->b[i];
    const float *P = net->params;
    float *G = ctx->grads;
    const size_t ou = (size_t)o->out_c * o->out_h * o->out_w;
    const size_t total = (size_t)n * ou;
    switch (o->kind) {
    case OP_CONV:
    case OP_DENSE:
    case OP_OUT: {
        if (o->act == LEC_NN_ACT_RELU)
            lec_nn_relu_backward(g, g, b->out, total);
        else if (o->act == LEC_NN_ACT_ELU)
            lec_nn_elu_backward(g, g, b->out, total);
        const float *z = b->z ? b->z : b->out;
        if (o->bn)
            lec_nn_batchnorm_backward(g, G + o->g, G + o->be, g, z, b->mean, b->rstd, P + o->g, n,
                                      o->out_c, o->out_h * o->out_w);
        float *db = o->b >= 0 ? G + o->b : NULL;
        if (o->kind == OP_CONV)
            lec_nn_conv2d_backward(dinp, G + o->w, db, g, in, P + o->w, ctx->ws, ctx->ws_floats,
                                   n, o->in_c, o->in_h, o->in_w, o->out_c, o->k);
        else
            lec_nn_dense_backward(dinp, G + o->w, db, g, in, P + o->w, n,
                                  o->in_c * o->in_h * o->in_w, o->out_c);
        break;
    }
    case OP_POOL:
        if (dinp)
            lec_nn_maxpool2_backward(dinp, g, in, b->out, n, o->in_c, o->in_h, o->in_w);
        break;
    case OP_GAP:
        if (dinp)
            lec_nn_avgpool_backward(dinp, g, n, o->in_c, o->in_h, o->in_w);
        break;
    case OP_DROP:
        if (dinp)
            lec_nn_dropout_backward(dinp, g, o->p, drop_seed(seed, i), sample0 * ou, total);
        break;
    default:
        break;
    }
}

/* Backward through ops [first, last] (one chain). On entry *cur holds the
 * gradient of op last's output and *other is free. The chain input's gradient
 * goes to dext when given, else (want) to the ping-pong buffer that is *cur on
 * return, else nowhere. */
static void chain_backward(lec_nn_ctx *ctx, int first, int last, const float *chain_in,
                           float *dext, int want, float **cur, float **other, int n,
                           uint64_t seed, uint64_t sample0)
{
    for (int i = last; i >= first; i--) {
        const float *in = i == first ? chain_in : ctx->b[i - 1].out;
        float *dinp = *other;
        if (i == first)
            dinp = want ? (dext ? dext : *other) : NULL;
        op_backward(ctx, i, in, *cur, dinp, n, seed, sample0);
        if (dinp == *other) {
            float *t = *cur;
            *cur = *other;
            *other = t;
        }
    }
}

double lec_nn_backward(lec_nn_ctx *ctx, const float *targets, int n, float scale, uint64_t seed,
                       uint64_t sample0)
{
    const lec_nn_net *net = ctx->net;
    const lec_nn_arch *a = &net->arch;
    if (!ctx->training || !ctx->last_train || n != ctx->last_n)
        return NAN; /* BN statistics / activations are not from a TRAIN forward of n */
    const int last = net->n_ops - 1, ic = net->n_score + net->n_spec;
    const float *logits = ctx->b[last].out;
    double loss = lec_nn_softmax_xent_forward(ctx->probs, logits, targets, n, a->n_out);
    float *cur = ctx->ga, *other = ctx->gb;
    lec_nn_softmax_xent_backward(cur, logits, targets, scale, n, a->n_out);
    /* head (ops ic+1 .. last), whose input is the concatenation; R rows per sample */
    const int R = net->head_rows;
    chain_backward(ctx, ic + 1, last, ctx->b[ic].out, NULL, 1, &cur, &other, n * R, seed,
                   sample0 * (uint64_t)R);
    /* cur holds d(concat): score part -> other, spec part -> gspec */
    const op *cat = &net->ops[ic];
    if (R > 1)
        bucket_concat_backward(other, ctx->gspec, cur, n, cat->in_c, R, cat->in_h);
    else
        lec_nn_concat_backward(other, ctx->gspec, cur, n, cat->in_c, cat->in_h);
    float *t = cur;
    cur = other;
    other = t;
    const size_t ns = (size_t)n * a->score_h * a->score_w;
    const size_t na = (size_t)n * a->spec_bands * a->spec_frames;
    const int want = ctx->want_input_grad;
    if (net->n_score > 0)
        chain_backward(ctx, 0, net->n_score - 1, ctx->xs, ctx->dscore, want, &cur, &other, n,
                       seed, sample0);
    else if (want)
        memcpy(ctx->dscore, cur, sizeof(float) * ns);
    memcpy(ctx->ga, ctx->gspec, sizeof(float) * (size_t)n * cat->in_h);
    cur = ctx->ga;
    other = ctx->gb;
    if (net->n_spec > 0)
        chain_backward(ctx, net->n_score, ic - 1, ctx->xa, ctx->dspec, want, &cur, &other, n,
                       seed, sample0);
    else if (want)
        memcpy(ctx->dspec, cur, sizeof(float) * na);
    if (!want)
        return loss;
    /* back to raw input units */
    for (size_t i = 0; i < ns; i++)
        ctx->dscore[i] /= a->score_std;
    for (size_t i = 0; i < na; i++)
        ctx->dspec[i] /= a->spec_std;
    return loss;
}

void lec_nn_update_running_stats(lec_nn_net *net, lec_nn_ctx *const *ctxs, const int *counts,
                                 int n_ctx)
{
    long total = 0;
    for (int k = 0; k < n_ctx; k++)
        total += counts[k];
    if (total <= 0)
        return;
    float mean[4096], rstd[4096];
    for (int i = 0; i < net->n_ops; i++) {
        const op *o = &net->ops[i];
        if (!o->bn)
            continue;
        long S = (long)o->out_h * o->out_w;
        for (int c = 0; c < o->out_c; c++) {
            /* combine shard statistics: pooled mean and the mean of the
             * shard variances around the pooled mean (exact for one shard) */
            double m = 0.0, v = 0.0;
            for (int k = 0; k < n_ctx; k++)
                m += (double)counts[k] / (double)total * ctxs[k]->b[i].mean[c];
            for (int k = 0; k < n_ctx; k++) {
                double r = ctxs[k]->b[i].rstd[c];
                double vk = 1.0 / (r * r) - LEC_NN_BN_EPS;
                double d = ctxs[k]->b[i].mean[c] - m;
                v += (double)counts[k] / (double)total * (vk + d * d);
            }
            mean[c] = (float)m;
            rstd[c] = (float)(1.0 / sqrt(v + LEC_NN_BN_EPS));
        }
        lec_nn_batchnorm_running(net->params + o->rm, net->params + o->rv, mean, rstd, o->out_c,
                                 total * S * o->rows);
    }
}

lec_status lec_nn_infer(lec_nn_ctx *ctx, const float *score, const float *spec, float *probs,
                        lec_error *err)
{
    lec_status st = lec_nn_forward(ctx, score, spec, 1, LEC_NN_EVAL, 0, 0, err);
    if (st)
        return st;
    lec_nn_softmax(probs, lec_nn_ctx_logits(ctx), 1, ctx->net->arch.n_out);
    return LEC_OK;
}

int lec_nn_ctx_train_gemms(const lec_nn_ctx *ctx, int n, lec_nn_gemm *out, int cap)
{
    const lec_nn_net *net = ctx->net;
    int k = 0;
#define EMIT(TA, TB, MM, NN, KK, CNT)                                                         \
    do {                                                                                      \
        if (out && k < cap)                                                                   \
            out[k] = (lec_nn_gemm){.ta = (TA), .tb = (TB), .M = (MM), .N = (NN), .K = (KK),   \
                                   .count = (CNT)};                                           \
        k++;                                                                                  \
    } while (0)
    for (int i = 0; i < net->n_ops; i++) {
        const op *o = &net->ops[i];
        int first = first_of_tower(net, i);
        if (o->kind == OP_CONV) {
            int nb = lec_nn_conv2d_chunk(ctx->ws_floats, n, o->in_c, o->in_h, o->in_w, o->out_c,
                                         o->k);
            int hw = o->in_h * o->in_w, ckk = o->in_c * o->k * o->k;
            int full = n / nb, rest = n % nb;
            for (int part = 0; part < 2; part++) {
                int m = part ? rest : nb, cnt = part ? (rest ? 1 : 0) : full;
                if (!cnt)
                    continue;
                EMIT(0, 0, o->out_c, m * hw, ckk, cnt);
                EMIT(0, 1, o->out_c, ckk, m * hw, cnt);
                if (!first)
                    EMIT(1, 0, ckk, m * hw, o->out_c, cnt);
            }
        } else if (o->kind == OP_DENSE || o->kind == OP_OUT) {
            int ic = o->in_c * o->in_h * o->in_w, m = n * o->rows;
            EMIT(0, 1, m, o->out_c, ic, 1);
            EMIT(1, 0, o->out_c, ic, m, 1);
            EMIT(0, 0, m, ic, o->out_c, 1);
        }
    }
#undef EMIT
    return k;
}

void lec_nn_spec_excerpt(float *dst, const float *frames, long n_frames, int n_bands, long end,
                         int excerpt_frames)
{
    for (int f = 0; f < excerpt_frames; f++) {
        long src = end - excerpt_frames + f;
        const float *fr = (src >= 0 && src < n_frames) ? frames + (size_t)src * n_bands : NULL;
        for (int b = 0; b < n_bands; b++)
            dst[(size_t)b * excerpt_frames + f] = fr ? fr[b] : 0.0f;
    }
}
