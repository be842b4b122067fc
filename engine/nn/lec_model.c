#include "lec_model.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_util.h"

#define HEADER_SIZE 64u
#define MAX_META 4096u
#define MAX_TENSORS 65536u
#define MAX_STRING (1u << 20)

/* ------------------------------------------------------------------ crc32 */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t lec_crc32(uint32_t crc, const void *data, size_t n)
{
    /* reflected CRC-32 (IEEE 802.3, the one zlib.crc32 computes) */
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* --------------------------------------------------------------- metadata */

void lec_meta_init(lec_meta *m) { memset(m, 0, sizeof *m); }

static void entry_clear(lec_meta_entry *e)
{
    free(e->s);
    free(e->fa);
    e->s = NULL;
    e->fa = NULL;
}

void lec_meta_free(lec_meta *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n; i++)
        entry_clear(&m->e[i]);
    free(m->e);
    memset(m, 0, sizeof *m);
}

static int key_ok(const char *key)
{
    size_t n = strlen(key);
    if (n < 1 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (key[i] < 33 || key[i] > 126)
            return 0;
    return 1;
}

const lec_meta_entry *lec_meta_find(const lec_meta *m, const char *key)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->e[i].key, key) == 0)
            return &m->e[i];
    return NULL;
}

static lec_meta_entry *slot(lec_meta *m, const char *key, lec_error *err)
{
    if (!key_ok(key)) {
        lec_error_set(err, LEC_EINVAL, "metadata key \"%.80s\": want 1..63 printable characters",
                      key);
        return NULL;
    }
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->e[i].key, key) == 0) {
            entry_clear(&m->e[i]);
            return &m->e[i];
        }
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 32;
        lec_meta_entry *e = realloc(m->e, sizeof *e * (size_t)cap);
        if (!e) {
            lec_error_set(err, LEC_ENOMEM, "metadata: out of memory");
            return NULL;
        }
        m->e = e;
        m->cap = cap;
    }
    lec_meta_entry *e = &m->e[m->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->key, sizeof e->key, "%s", key);
    return e;
}

lec_status lec_meta_set_int(lec_meta *m, const char *key, int64_t v, lec_error *err)
{
    lec_meta_entry *e = slot(m, key, err);
    if (!e)
        return err ? err->code : LEC_EINVAL;
    e->type = LEC_META_INT;
    e->i = v;
    return LEC_OK;
}

lec_status lec_meta_set_float(lec_meta *m, const char *key, double v, lec_error *err)
{
    lec_meta_entry *e = slot(m, key, err);
    if (!e)
        return err ? err->code : LEC_EINVAL;
    e->type = LEC_META_FLOAT;
    e->f = v;
    return LEC_OK;
}

lec_status lec_meta_set_string(lec_meta *m, const char *key, const char *v, lec_error *err)
{
    size_t n = strlen(v);
    if (n > MAX_STRING)
        return lec_error_set(err, LEC_EINVAL, "metadata %s: string too long", key);
    char *s = malloc(n + 1);
    if (!s)
        return lec_error_set(err, LEC_ENOMEM, "metadata: out of memory");
    memcpy(s, v, n + 1);
    lec_meta_entry *e = slot(m, key, err);
    if (!e) {
        free(s);
        return err ? err->code : LEC_EINVAL;
    }
    e->type = LEC_META_STRING;
    e->s = s;
    e->n = (uint32_t)n;
    return LEC_OK;
}

lec_status lec_meta_set_floats(lec_meta *m, const char *key, const float *v, uint32_t n,
                               lec_error *err)
{
    if (n > MAX_STRING)
        return lec_error_set(err, LEC_EINVAL, "metadata %s: array too long", key);
    float *a = malloc(sizeof(float) * (n ? n : 1));
    if (!a)
        return lec_error_set(err, LEC_ENOMEM, "metadata: out of memory");
    if (n)
        memcpy(a, v, sizeof(float) * n);
    lec_meta_entry *e = slot(m, key, err);
    if (!e) {
        free(a);
        return err ? err->code : LEC_EINVAL;
    }
    e->type = LEC_META_FLOATS;
    e->fa = a;
    e->n = n;
    return LEC_OK;
}

lec_status lec_meta_copy(lec_meta *dst, const lec_meta *src, lec_error *err)
{
    for (int i = 0; i < src->n; i++) {
        const lec_meta_entry *e = &src->e[i];
        lec_status st = LEC_OK;
        switch (e->type) {
        case LEC_META_INT: st = lec_meta_set_int(dst, e->key, e->i, err); break;
        case LEC_META_FLOAT: st = lec_meta_set_float(dst, e->key, e->f, err); break;
        case LEC_META_STRING: st = lec_meta_set_string(dst, e->key, e->s, err); break;
        case LEC_META_FLOATS: st = lec_meta_set_floats(dst, e->key, e->fa, e->n, err); break;
        }
        if (st)
            return st;
    }
    return LEC_OK;
}

static const char *type_name(lec_meta_type t)
{
    switch (t) {
    case LEC_META_INT: return "int";
    case LEC_META_FLOAT: return "float";
    case LEC_META_STRING: return "string";
    case LEC_META_FLOATS: return "float array";
    default: return "unknown";
    }
}

static lec_status get_typed(const lec_meta *m, const char *key, lec_meta_type type,
                            const lec_meta_entry **out, const char *file, lec_error *err)
{
    const lec_meta_entry *e = lec_meta_find(m, key);
    if (!e)
        return lec_error_set(err, LEC_EFORMAT, "%s: metadata %s missing", file ? file : "model",
                             key);
    if (e->type != type && !(type == LEC_META_FLOAT && e->type == LEC_META_INT))
        return lec_error_set(err, LEC_EFORMAT, "%s: metadata %s has type %s, expected %s",
                             file ? file : "model", key, type_name(e->type), type_name(type));
    *out = e;
    return LEC_OK;
}

lec_status lec_meta_get_int(const lec_meta *m, const char *key, int64_t *v, const char *file,
                            lec_error *err)
{
    const lec_meta_entry *e;
    lec_status st = get_typed(m, key, LEC_META_INT, &e, file, err);
    if (!st)
        *v = e->i;
    return st;
}

lec_status lec_meta_get_float(const lec_meta *m, const char *key, double *v, const char *file,
                              lec_error *err)
{
    const lec_meta_entry *e;
    lec_status st = get_typed(m, key, LEC_META_FLOAT, &e, file, err);
    if (!st)
        *v = e->type == LEC_META_INT ? (double)e->i : e->f;
    return st;
}

lec_status lec_meta_get_string(const lec_meta *m, const char *key, const char **v,
                               const char *file, lec_error *err)
{
    const lec_meta_entry *e;
    lec_status st = get_typed(m, key, LEC_META_STRING, &e, file, err);
    if (!st)
        *v = e->s;
    return st;
}

/* ------------------------------------------------------------ byte buffers */

typedef struct wbuf {
    unsigned char *p;
    size_t n, cap;
    int oom;
} wbuf;

static void put(wbuf *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (src)
        memcpy(b->p + b->n, src, n);
    else
        memset(b->p + b->n, 0, n);
    b->n += n;
}
static void put_u8(wbuf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    put(b, &c, 1);
}
static void put_u16(wbuf *b, unsigned v)
{
    unsigned char c[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    put(b, c, 2);
}
static void put_u32(wbuf *b, uint32_t v)
{
    unsigned char c[4];
    for (int i = 0; i < 4; i++)
        c[i] = (unsigned char)(v >> (8 * i));
    put(b, c, 4);
}
static void put_u64(wbuf *b, uint64_t v)
{
    unsigned char c[8];
    for (int i = 0; i < 8; i++)
        c[i] = (unsigned char)(v >> (8 * i));
    put(b, c, 8);
}
static void put_f32(wbuf *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(b, u);
}
static void put_f64(wbuf *b, double f)
{
    uint64_t u;
    memcpy(&u, &f, 8);
    put_u64(b, u);
}
static void set_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void set_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* ------------------------------------------------------------------ write */

lec_status lec_model_file_write(const char *path, const lec_meta *meta,
                                const lec_model_tensor *tensors, int n_tensors, lec_error *err)
{
    if (n_tensors < 0 || (unsigned)n_tensors > MAX_TENSORS || (unsigned)meta->n > MAX_META)
        return lec_error_set(err, LEC_EINVAL, "%s: too many tensors or metadata entries", path);
    for (int i = 0; i < n_tensors; i++) {
        const lec_model_tensor *t = &tensors[i];
        if (!key_ok(t->name) || t->ndim < 1 || t->ndim > 4)
            return lec_error_set(err, LEC_EINVAL, "%s: bad tensor \"%s\" (name or rank)", path,
                                 t->name);
        for (int j = 0; j < i; j++)
            if (strcmp(tensors[j].name, t->name) == 0)
                return lec_error_set(err, LEC_EINVAL, "%s: duplicate tensor \"%s\"", path,
                                     t->name);
        for (int d = 0; d < t->ndim; d++)
            if (t->dims[d] < 1 || t->dims[d] > ((int64_t)1 << 30))
                return lec_error_set(err, LEC_EINVAL, "%s: tensor \"%s\" has a bad dimension",
                                     path, t->name);
    }
    wbuf b = {0};
    put(&b, NULL, HEADER_SIZE);
    for (int i = 0; i < meta->n; i++) {
        const lec_meta_entry *e = &meta->e[i];
        put_u16(&b, (unsigned)strlen(e->key));
        put(&b, e->key, strlen(e->key));
        put_u8(&b, (unsigned)e->type);
        switch (e->type) {
        case LEC_META_INT: put_u64(&b, (uint64_t)e->i); break;
        case LEC_META_FLOAT: put_f64(&b, e->f); break;
        case LEC_META_STRING:
            put_u32(&b, e->n);
            put(&b, e->s, e->n);
            break;
        case LEC_META_FLOATS:
            put_u32(&b, e->n);
            for (uint32_t k = 0; k < e->n; k++)
                put_f32(&b, e->fa[k]);
            break;
        }
    }
    uint64_t off = 0;
    for (int i = 0; i < n_tensors; i++) {
        const lec_model_tensor *t = &tensors[i];
        uint64_t cnt = 1;
        for (int d = 0; d < t->ndim; d++)
            cnt *= (uint64_t)t->dims[d];
        put_u16(&b, (unsigned)strlen(t->name));
        put(&b, t->name, strlen(t->name));
        put_u8(&b, 1);
        put_u8(&b, (unsigned)t->ndim);
        for (int d = 0; d < t->ndim; d++)
            put_u64(&b, (uint64_t)t->dims[d]);
        put_u64(&b, off);
        put_u64(&b, cnt * 4);
        off += (cnt * 4 + LEC_MODEL_ALIGN - 1) / LEC_MODEL_ALIGN * LEC_MODEL_ALIGN;
    }
    size_t index_size = b.n - HEADER_SIZE;
    size_t data_off = (b.n + LEC_MODEL_ALIGN - 1) / LEC_MODEL_ALIGN * LEC_MODEL_ALIGN;
    put(&b, NULL, data_off - b.n);
    for (int i = 0; i < n_tensors; i++) {
        const lec_model_tensor *t = &tensors[i];
        size_t cnt = 1;
        for (int d = 0; d < t->ndim; d++)
            cnt *= (size_t)t->dims[d];
        for (size_t k = 0; k < cnt; k++)
            put_f32(&b, t->data[k]);
        size_t pad = (cnt * 4 + LEC_MODEL_ALIGN - 1) / LEC_MODEL_ALIGN * LEC_MODEL_ALIGN - cnt * 4;
        put(&b, NULL, pad);
    }
    if (b.oom || b.n > LEC_MODEL_MAX_BYTES) {
        free(b.p);
        return lec_error_set(err, b.oom ? LEC_ENOMEM : LEC_EINVAL,
                             "%s: %s", path, b.oom ? "out of memory" : "model too large");
    }
    unsigned char *h = b.p;
    memcpy(h, LEC_MODEL_MAGIC, 8);
    set_u32(h + 8, LEC_MODEL_VERSION);
    set_u32(h + 12, HEADER_SIZE);
    set_u32(h + 16, (uint32_t)meta->n);
    set_u32(h + 20, (uint32_t)n_tensors);
    set_u64(h + 24, index_size);
    set_u64(h + 32, data_off);
    set_u64(h + 40, b.n - data_off);
    set_u64(h + 48, b.n);
    set_u32(h + 56, lec_crc32(0, b.p + HEADER_SIZE, b.n - HEADER_SIZE));
    set_u32(h + 60, lec_crc32(0, h, 60));
    lec_status st = lec_write_file_atomic(path, b.p, b.n, err);
    free(b.p);
    return st;
}

/* ------------------------------------------------------------------- read */

typedef struct rd {
    const unsigned char *p;
    size_t pos, end;
} rd;

static int need(rd *r, size_t n) { return r->end - r->pos >= n; }

static int cmp_off(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

lec_status lec_model_file_parse(unsigned char *buf, size_t len, const char *name,
                                lec_model_file **out, lec_error *err)
{
    *out = NULL;
    lec_model_file *f = calloc(1, sizeof *f);
    uint64_t *ranges = NULL;
    if (!f) {
        free(buf);
        return lec_error_set(err, LEC_ENOMEM, "%s: out of memory", name);
    }
    snprintf(f->path, sizeof f->path, "%s", name);
    f->buf = buf;
    f->len = len;
    lec_status st = LEC_EFORMAT;
#define FAIL(...)                                                                   \
    do {                                                                            \
        st = lec_error_set(err, LEC_EFORMAT, __VA_ARGS__);                          \
        goto fail;                                                                  \
    } while (0)
    if (len < 8 || memcmp(buf, LEC_MODEL_MAGIC, 8) != 0)
        FAIL("%s: not a lectern model file (bad magic)", name);
    if (len < HEADER_SIZE)
        FAIL("%s: truncated (%zu bytes, shorter than the %u-byte header)", name, len,
             HEADER_SIZE);
    uint32_t version = get_u32(buf + 8);
    if (get_u32(buf + 60) != lec_crc32(0, buf, 60))
        FAIL("%s: header checksum mismatch: the file is corrupted", name);
    if (version != LEC_MODEL_VERSION) {
        st = lec_error_set(err, LEC_EUNSUPPORTED,
                           "%s: model format version %u, this build reads version %u", name,
                           version, LEC_MODEL_VERSION);
        goto fail;
    }
    uint32_t hsize = get_u32(buf + 12), n_meta = get_u32(buf + 16), n_t = get_u32(buf + 20);
    uint64_t index_size = get_u64(buf + 24), data_off = get_u64(buf + 32),
             data_size = get_u64(buf + 40), file_size = get_u64(buf + 48);
    if (hsize != HEADER_SIZE)
        FAIL("%s: header size %u, expected %u", name, hsize, HEADER_SIZE);
    if (file_size != len)
        FAIL("%s: %s (header says %llu bytes, file has %zu)", name,
             file_size > len ? "truncated" : "trailing bytes", (unsigned long long)file_size,
             len);
    if (get_u32(buf + 56) != lec_crc32(0, buf + HEADER_SIZE, len - HEADER_SIZE))
        FAIL("%s: checksum mismatch: the file is corrupted", name);
    if (n_meta > MAX_META || n_t > MAX_TENSORS)
        FAIL("%s: %u metadata entries / %u tensors is beyond the limits", name, n_meta, n_t);
    if (data_off % LEC_MODEL_ALIGN || data_off > len || data_size != len - data_off ||
        index_size > data_off - HEADER_SIZE)
        FAIL("%s: inconsistent section sizes (index %llu, data at %llu + %llu, file %zu)", name,
             (unsigned long long)index_size, (unsigned long long)data_off,
             (unsigned long long)data_size, len);
    rd r = {buf, HEADER_SIZE, HEADER_SIZE + (size_t)index_size};
    for (uint32_t i = 0; i < n_meta; i++) {
        if (!need(&r, 2))
            FAIL("%s: metadata entry %u runs past the index", name, i);
        unsigned kl = buf[r.pos] | (unsigned)buf[r.pos + 1] << 8;
        r.pos += 2;
        if (kl < 1 || kl > 63 || !need(&r, kl + 1u))
            FAIL("%s: metadata entry %u has a bad key length %u", name, i, kl);
        char key[64];
        memcpy(key, buf + r.pos, kl);
        key[kl] = '\0';
        r.pos += kl;
        if (!key_ok(key))
            FAIL("%s: metadata entry %u has a non-printable key", name, i);
        if (lec_meta_find(&f->meta, key))
            FAIL("%s: duplicate metadata key %s", name, key);
        unsigned type = buf[r.pos++];
        lec_error e2;
        lec_status s2 = LEC_OK;
        if (type == LEC_META_INT) {
            if (!need(&r, 8))
                FAIL("%s: metadata %s runs past the index", name, key);
            s2 = lec_meta_set_int(&f->meta, key, (int64_t)get_u64(buf + r.pos), &e2);
            r.pos += 8;
        } else if (type == LEC_META_FLOAT) {
            if (!need(&r, 8))
                FAIL("%s: metadata %s runs past the index", name, key);
            uint64_t u = get_u64(buf + r.pos);
            double d;
            memcpy(&d, &u, 8);
            if (!isfinite(d))
                FAIL("%s: metadata %s is not a finite number", name, key);
            s2 = lec_meta_set_float(&f->meta, key, d, &e2);
            r.pos += 8;
        } else if (type == LEC_META_STRING || type == LEC_META_FLOATS) {
            if (!need(&r, 4))
                FAIL("%s: metadata %s runs past the index", name, key);
            uint32_t n = get_u32(buf + r.pos);
            r.pos += 4;
            uint64_t bytes = type == LEC_META_STRING ? n : (uint64_t)n * 4;
            if (n > MAX_STRING || !need(&r, bytes))
                FAIL("%s: metadata %s has a bad length %u", name, key, n);
            if (type == LEC_META_STRING) {
                if (memchr(buf + r.pos, 0, n))
                    FAIL("%s: metadata %s: string contains a NUL byte", name, key);
                char *s = malloc(n + 1u);
                if (!s) {
                    st = lec_error_set(err, LEC_ENOMEM, "%s: out of memory", name);
                    goto fail;
                }
                memcpy(s, buf + r.pos, n);
                s[n] = '\0';
                s2 = lec_meta_set_string(&f->meta, key, s, &e2);
                free(s);
            } else {
                float *a = malloc(sizeof(float) * (n ? n : 1));
                if (!a) {
                    st = lec_error_set(err, LEC_ENOMEM, "%s: out of memory", name);
                    goto fail;
                }
                for (uint32_t k = 0; k < n; k++) {
                    uint32_t u = get_u32(buf + r.pos + 4 * (size_t)k);
                    memcpy(&a[k], &u, 4);
                }
                s2 = lec_meta_set_floats(&f->meta, key, a, n, &e2);
                free(a);
            }
            r.pos += (size_t)bytes;
        } else {
            FAIL("%s: metadata %s has unknown type %u", name, key, type);
        }
        if (s2) {
            st = lec_error_set(err, s2, "%s: %s", name, e2.msg);
            goto fail;
        }
    }
    f->tensors = calloc(n_t ? n_t : 1, sizeof *f->tensors);
    ranges = calloc(n_t ? 2 * (size_t)n_t : 1, sizeof *ranges);
    if (!f->tensors || !ranges) {
        st = lec_error_set(err, LEC_ENOMEM, "%s: out of memory", name);
        goto fail;
    }
    for (uint32_t i = 0; i < n_t; i++) {
        lec_model_tensor *t = &f->tensors[i];
        if (!need(&r, 2))
            FAIL("%s: tensor entry %u runs past the index", name, i);
        unsigned nl = buf[r.pos] | (unsigned)buf[r.pos + 1] << 8;
        r.pos += 2;
        if (nl < 1 || nl > 63 || !need(&r, nl + 2u))
            FAIL("%s: tensor entry %u has a bad name length %u", name, i, nl);
        memcpy(t->name, buf + r.pos, nl);
        t->name[nl] = '\0';
        r.pos += nl;
        if (!key_ok(t->name))
            FAIL("%s: tensor entry %u has a non-printable name", name, i);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(f->tensors[j].name, t->name) == 0)
                FAIL("%s: duplicate tensor %s", name, t->name);
        unsigned dtype = buf[r.pos], ndim = buf[r.pos + 1];
        r.pos += 2;
        if (dtype != 1)
            FAIL("%s: tensor %s has unsupported dtype %u (only 1 = float32)", name, t->name,
                 dtype);
        if (ndim < 1 || ndim > 4 || !need(&r, 8u * ndim + 16u))
            FAIL("%s: tensor %s has a bad rank %u", name, t->name, ndim);
        t->ndim = (int)ndim;
        uint64_t cnt = 1;
        for (unsigned d = 0; d < ndim; d++) {
            uint64_t v = get_u64(buf + r.pos);
            r.pos += 8;
            if (v < 1 || v > ((uint64_t)1 << 30))
                FAIL("%s: tensor %s has a bad dimension %llu", name, t->name,
                     (unsigned long long)v);
            t->dims[d] = (int64_t)v;
            cnt *= v;
            if (cnt > ((uint64_t)1 << 30))
                FAIL("%s: tensor %s is too large", name, t->name);
        }
        uint64_t toff = get_u64(buf + r.pos), tbytes = get_u64(buf + r.pos + 8);
        r.pos += 16;
        if (tbytes != cnt * 4)
            FAIL("%s: tensor %s: %llu bytes for %llu floats", name, t->name,
                 (unsigned long long)tbytes, (unsigned long long)cnt);
        if (toff % LEC_MODEL_ALIGN)
            FAIL("%s: tensor %s: offset %llu not aligned to %u", name, t->name,
                 (unsigned long long)toff, LEC_MODEL_ALIGN);
        if (toff > data_size || tbytes > data_size - toff)
            FAIL("%s: tensor %s: bytes [%llu, %llu) outside the %llu-byte data section", name,
                 t->name, (unsigned long long)toff, (unsigned long long)(toff + tbytes),
                 (unsigned long long)data_size);
        ranges[2 * i] = toff;
        ranges[2 * i + 1] = toff + tbytes;
        /* the data offset is a multiple of 64 and malloc returns at least
         * 16-byte-aligned memory, so the floats are aligned for reading */
        t->data = (const float *)(const void *)(buf + data_off + toff);
        for (uint64_t k = 0; k < cnt; k++)
            if (!isfinite(t->data[k]))
                FAIL("%s: tensor %s: element %llu is not finite (NaN or Inf)", name, t->name,
                     (unsigned long long)k);
        f->n_tensors = (int)i + 1;
    }
    if (r.pos != r.end)
        FAIL("%s: %zu unexplained bytes at the end of the index", name, r.end - r.pos);
    qsort(ranges, n_t, 2 * sizeof *ranges, cmp_off);
    for (uint32_t i = 1; i < n_t; i++)
        if (ranges[2 * i] < ranges[2 * i - 1])
            FAIL("%s: tensors overlap in the data section (at byte %llu)", name,
                 (unsigned long long)ranges[2 * i]);
#undef FAIL
    free(ranges);
    *out = f;
    return LEC_OK;
fail:
    free(ranges);
    lec_model_file_free(f);
    return st;
}

lec_status lec_model_file_read(const char *path, lec_model_file **out, lec_error *err)
{
    char *data = NULL;
    size_t len = 0;
    *out = NULL;
    lec_status st = lec_read_file(path, LEC_MODEL_MAX_BYTES, &data, &len, err);
    if (st)
        return st;
    return lec_model_file_parse((unsigned char *)data, len, path, out, err);
}

void lec_model_file_free(lec_model_file *f)
{
    if (!f)
        return;
    lec_meta_free(&f->meta);
    free(f->tensors);
    free(f->buf);
    free(f);
}

const lec_model_tensor *lec_model_file_find(const lec_model_file *f, const char *name)
{
    for (int i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

/* ------------------------------------------------------------ the network */

void lec_model_info_default(lec_model_info *info)
{
    memset(info, 0, sizeof *info);
    info->sample_rate = 22050;
    info->frame_size = 2048;
    info->hop_size = 1102;
    info->fmin_hz = 60.0;
    info->fmax_hz = 6000.0;
    info->bands_per_octave = 12;
    lec_nn_arch a;
    lec_nn_arch_default(&a);
    info->staff_space_px = 5.0; /* engine/piece lec_unroll default */
    info->window_width_px = a.score_w;
    info->window_height_px = a.score_h;
    info->buckets = a.n_out;
}

lec_status lec_model_arch_to_meta(const lec_nn_arch *a, lec_meta *m, lec_error *err)
{
    lec_status st = LEC_OK;
    st = st ? st : lec_meta_set_int(m, "arch.score_h", a->score_h, err);
    st = st ? st : lec_meta_set_int(m, "arch.score_w", a->score_w, err);
    st = st ? st : lec_meta_set_int(m, "arch.spec_bands", a->spec_bands, err);
    st = st ? st : lec_meta_set_int(m, "arch.spec_frames", a->spec_frames, err);
    st = st ? st : lec_meta_set_int(m, "arch.n_out", a->n_out, err);
    st = st ? st : lec_meta_set_string(m, "arch.score_layers", a->score_layers, err);
    st = st ? st : lec_meta_set_string(m, "arch.spec_layers", a->spec_layers, err);
    st = st ? st : lec_meta_set_string(m, "arch.head_layers", a->head_layers, err);
    st = st ? st
            : lec_meta_set_string(m, "arch.activation",
                                  a->act == LEC_NN_ACT_ELU ? "elu" : "relu", err);
    st = st ? st : lec_meta_set_int(m, "arch.batchnorm", a->batchnorm, err);
    /* written only when set: files of the dense-head architecture stay as they were */
    if (a->bucket_head)
        st = st ? st : lec_meta_set_int(m, "arch.bucket_head", a->bucket_head, err);
    st = st ? st : lec_meta_set_float(m, "norm.score_mean", a->score_mean, err);
    st = st ? st : lec_meta_set_float(m, "norm.score_std", a->score_std, err);
    st = st ? st : lec_meta_set_float(m, "norm.spec_mean", a->spec_mean, err);
    st = st ? st : lec_meta_set_float(m, "norm.spec_std", a->spec_std, err);
    return st;
}

static lec_status get_int_range(const lec_meta *m, const char *key, int lo, int hi, int *v,
                                const char *file, lec_error *err)
{
    int64_t x;
    lec_status st = lec_meta_get_int(m, key, &x, file, err);
    if (st)
        return st;
    if (x < lo || x > hi)
        return lec_error_set(err, LEC_EFORMAT, "%s: metadata %s = %lld outside %d..%d",
                             file ? file : "model", key, (long long)x, lo, hi);
    *v = (int)x;
    return LEC_OK;
}

static lec_status get_str(const lec_meta *m, const char *key, char *dst, size_t cap,
                          const char *file, lec_error *err)
{
    const char *s;
    lec_status st = lec_meta_get_string(m, key, &s, file, err);
    if (st)
        return st;
    if (strlen(s) >= cap)
        return lec_error_set(err, LEC_EFORMAT, "%s: metadata %s too long", file ? file : "model",
                             key);
    snprintf(dst, cap, "%s", s);
    return LEC_OK;
}

static lec_status get_f(const lec_meta *m, const char *key, float *v, const char *file,
                        lec_error *err)
{
    double d;
    lec_status st = lec_meta_get_float(m, key, &d, file, err);
    if (!st)
        *v = (float)d;
    return st;
}

lec_status lec_model_arch_from_meta(const lec_meta *m, const char *file, lec_nn_arch *a,
                                    lec_error *err)
{
    memset(a, 0, sizeof *a);
    lec_status st = LEC_OK;
    const char *act = NULL;
    st = st ? st : get_int_range(m, "arch.score_h", 1, 4096, &a->score_h, file, err);
    st = st ? st : get_int_range(m, "arch.score_w", 1, 4096, &a->score_w, file, err);
    st = st ? st : get_int_range(m, "arch.spec_bands", 1, 4096, &a->spec_bands, file, err);
    st = st ? st : get_int_range(m, "arch.spec_frames", 1, 4096, &a->spec_frames, file, err);
    st = st ? st : get_int_range(m, "arch.n_out", 2, 4096, &a->n_out, file, err);
    st = st ? st
            : get_str(m, "arch.score_layers", a->score_layers, sizeof a->score_layers, file, err);
    st = st ? st
            : get_str(m, "arch.spec_layers", a->spec_layers, sizeof a->spec_layers, file, err);
    st = st ? st
            : get_str(m, "arch.head_layers", a->head_layers, sizeof a->head_layers, file, err);
    st = st ? st : lec_meta_get_string(m, "arch.activation", &act, file, err);
    st = st ? st : get_int_range(m, "arch.batchnorm", 0, 1, &a->batchnorm, file, err);
    if (!st && lec_meta_find(m, "arch.bucket_head")) /* optional: absent = 0 */
        st = get_int_range(m, "arch.bucket_head", 0, 1, &a->bucket_head, file, err);
    st = st ? st : get_f(m, "norm.score_mean", &a->score_mean, file, err);
    st = st ? st : get_f(m, "norm.score_std", &a->score_std, file, err);
    st = st ? st : get_f(m, "norm.spec_mean", &a->spec_mean, file, err);
    st = st ? st : get_f(m, "norm.spec_std", &a->spec_std, file, err);
    if (st)
        return st;
    if (strcmp(act, "relu") == 0)
        a->act = LEC_NN_ACT_RELU;
    else if (strcmp(act, "elu") == 0)
        a->act = LEC_NN_ACT_ELU;
    else
        return lec_error_set(err, LEC_EFORMAT, "%s: unknown activation \"%.40s\"",
                             file ? file : "model", act);
    return LEC_OK;
}

lec_status lec_model_info_to_meta(const lec_model_info *info, lec_meta *m, lec_error *err)
{
    lec_status st = LEC_OK;
    st = st ? st : lec_meta_set_int(m, "frontend.sample_rate", info->sample_rate, err);
    st = st ? st : lec_meta_set_int(m, "frontend.frame_size", info->frame_size, err);
    st = st ? st : lec_meta_set_int(m, "frontend.hop_size", info->hop_size, err);
    st = st ? st : lec_meta_set_float(m, "frontend.fmin_hz", info->fmin_hz, err);
    st = st ? st : lec_meta_set_float(m, "frontend.fmax_hz", info->fmax_hz, err);
    st = st ? st : lec_meta_set_int(m, "frontend.bands_per_octave", info->bands_per_octave, err);
    st = st ? st : lec_meta_set_float(m, "unroll.staff_space_px", info->staff_space_px, err);
    st = st ? st : lec_meta_set_int(m, "unroll.window_width_px", info->window_width_px, err);
    st = st ? st : lec_meta_set_int(m, "unroll.window_height_px", info->window_height_px, err);
    st = st ? st : lec_meta_set_int(m, "unroll.buckets", info->buckets, err);
    return st;
}

lec_status lec_model_info_from_meta(const lec_meta *m, const char *file, lec_model_info *info,
                                    lec_error *err)
{
    memset(info, 0, sizeof *info);
    lec_status st = LEC_OK;
    st = st ? st
            : get_int_range(m, "frontend.sample_rate", 1000, 384000, &info->sample_rate, file,
                            err);
    st = st ? st
            : get_int_range(m, "frontend.frame_size", 16, 1 << 20, &info->frame_size, file, err);
    st = st ? st : get_int_range(m, "frontend.hop_size", 1, 1 << 20, &info->hop_size, file, err);
    st = st ? st : lec_meta_get_float(m, "frontend.fmin_hz", &info->fmin_hz, file, err);
    st = st ? st : lec_meta_get_float(m, "frontend.fmax_hz", &info->fmax_hz, file, err);
    st = st ? st
            : get_int_range(m, "frontend.bands_per_octave", 1, 96, &info->bands_per_octave,
                            file, err);
    st = st ? st
            : lec_meta_get_float(m, "unroll.staff_space_px", &info->staff_space_px, file, err);
    st = st ? st
            : get_int_range(m, "unroll.window_width_px", 1, 1 << 16, &info->window_width_px,
                            file, err);
    st = st ? st
            : get_int_range(m, "unroll.window_height_px", 1, 1 << 16, &info->window_height_px,
                            file, err);
    st = st ? st : get_int_range(m, "unroll.buckets", 2, 4096, &info->buckets, file, err);
    if (st)
        return st;
    if (!(info->fmin_hz > 0.0) || !(info->fmax_hz > info->fmin_hz) ||
        info->fmax_hz > info->sample_rate / 2.0 || !(info->staff_space_px > 0.0))
        return lec_error_set(err, LEC_EFORMAT,
                             "%s: inconsistent front-end/unrolling metadata (fmin %g, fmax %g, "
                             "sample rate %d, staff space %g px)",
                             file ? file : "model", info->fmin_hz, info->fmax_hz,
                             info->sample_rate, info->staff_space_px);
    return LEC_OK;
}

/* The table entries of net's n_tensors parameter tensors, pointing into its
 * parameter block (the model file's view of the network). */
void lec_model_net_tensors(const lec_nn_net *net, lec_model_tensor *t)
{
    const float *P = lec_nn_net_params_const(net);
    for (int i = 0; i < lec_nn_net_n_tensors(net); i++) {
        const lec_nn_tensor *x = lec_nn_net_tensor(net, i);
        snprintf(t[i].name, sizeof t[i].name, "%s", x->name);
        t[i].ndim = x->ndim;
        for (int d = 0; d < x->ndim; d++)
            t[i].dims[d] = x->dims[d];
        t[i].data = P + x->offset;
    }
}

lec_status lec_model_save(const char *path, const lec_nn_net *net, const lec_model_info *info,
                          const lec_meta *extra, lec_error *err)
{
    const lec_nn_arch *a = lec_nn_net_arch(net);
    if (info->buckets != a->n_out)
        return lec_error_set(err, LEC_EINVAL, "%s: info says %d buckets, the network has %d",
                             path, info->buckets, a->n_out);
    lec_meta m;
    lec_meta_init(&m);
    int nt = lec_nn_net_n_tensors(net);
    lec_model_tensor *t = calloc((size_t)nt, sizeof *t);
    lec_status st = t ? LEC_OK : lec_error_set(err, LEC_ENOMEM, "%s: out of memory", path);
    if (!st && extra)
        st = lec_meta_copy(&m, extra, err);
    st = st ? st : lec_meta_set_string(&m, "lectern.kind", "model", err);
    st = st ? st : lec_model_arch_to_meta(a, &m, err);
    st = st ? st : lec_model_info_to_meta(info, &m, err);
    if (!st) {
        lec_model_net_tensors(net, t);
        st = lec_model_file_write(path, &m, t, nt, err);
    }
    free(t);
    lec_meta_free(&m);
    return st;
}

lec_nn_net *lec_model_net_from_file(const lec_model_file *f, lec_model_info *info,
                                    lec_error *err)
{
    lec_nn_arch a;
    lec_model_info inf;
    if (lec_model_arch_from_meta(&f->meta, f->path, &a, err) ||
        lec_model_info_from_meta(&f->meta, f->path, &inf, err))
        return NULL;
    if (inf.buckets != a.n_out) {
        lec_error_set(err, LEC_EFORMAT, "%s: unroll.buckets = %d but the network has %d outputs",
                      f->path, inf.buckets, a.n_out);
        return NULL;
    }
    lec_nn_net *net = lec_nn_net_create(&a, err);
    if (!net) {
        lec_error_prefix(err, "%s: ", f->path);
        return NULL;
    }
    float *P = lec_nn_net_params(net);
    for (int i = 0; i < lec_nn_net_n_tensors(net); i++) {
        const lec_nn_tensor *x = lec_nn_net_tensor(net, i);
        const lec_model_tensor *t = lec_model_file_find(f, x->name);
        if (!t) {
            lec_error_set(err, LEC_EFORMAT, "%s: tensor %s missing (the architecture needs it)",
                          f->path, x->name);
            goto fail;
        }
        int same = t->ndim == x->ndim;
        for (int d = 0; same && d < x->ndim; d++)
            same = t->dims[d] == x->dims[d];
        if (!same) {
            char want[64], got[64];
            int wn = 0, gn = 0;
            for (int d = 0; d < x->ndim; d++)
                wn += snprintf(want + wn, sizeof want - (size_t)wn, "%s%d", d ? "x" : "",
                               x->dims[d]);
            for (int d = 0; d < t->ndim; d++)
                gn += snprintf(got + gn, sizeof got - (size_t)gn, "%s%lld", d ? "x" : "",
                               (long long)t->dims[d]);
            lec_error_set(err, LEC_EFORMAT,
                          "%s: tensor %s has shape %s, the architecture needs %s", f->path,
                          x->name, got, want);
            goto fail;
        }
        memcpy(P + x->offset, t->data, sizeof(float) * x->size);
        if (strstr(x->name, ".bn.rv"))
            for (size_t k = 0; k < x->size; k++)
                if (!(P[x->offset + k] >= 0.0f)) {
                    lec_error_set(err, LEC_EFORMAT, "%s: tensor %s: negative variance", f->path,
                                  x->name);
                    goto fail;
                }
    }
    if (info)
        *info = inf;
    return net;
fail:
    lec_nn_net_destroy(net);
    return NULL;
}

lec_nn_net *lec_model_load(const char *path, lec_model_info *info, lec_meta *meta_out,
                           lec_error *err)
{
    lec_model_file *f = NULL;
    if (meta_out)
        lec_meta_init(meta_out);
    if (lec_model_file_read(path, &f, err))
        return NULL;
    lec_nn_net *net = lec_model_net_from_file(f, info, err);
    if (net && meta_out && lec_meta_copy(meta_out, &f->meta, err)) {
        lec_meta_free(meta_out);
        lec_nn_net_destroy(net);
        net = NULL;
    }
    lec_model_file_free(f);
    return net;
}
