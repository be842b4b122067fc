/* lec_model.h -- the model file: one self-describing, checksummed file with
 * typed key/value metadata and a table of named float32 tensors (GGUF-like).
 *
 * Layout (all integers little-endian):
 *   header, 64 bytes
 *     0  char[8] magic "LECTNNMF"
 *     8  u32 format version (LEC_MODEL_VERSION)
 *    12  u32 header size (64)
 *    16  u32 number of metadata entries
 *    20  u32 number of tensors
 *    24  u64 index size in bytes (metadata + tensor table, from offset 64)
 *    32  u64 data offset (multiple of LEC_MODEL_ALIGN)
 *    40  u64 data size in bytes
 *    48  u64 total file size
 *    56  u32 CRC-32 of bytes [64, file size)
 *    60  u32 CRC-32 of header bytes [0, 60)
 *   index: metadata entries
 *     u16 key length, key bytes (printable ASCII), u8 type, then
 *     INT: i64 | FLOAT: f64 | STRING: u32 length + bytes | FLOATS: u32 n + n f32
 *   index: tensor entries
 *     u16 name length, name, u8 dtype (1 = f32), u8 ndim (1..4), u64 dims[ndim],
 *     u64 offset (from the data offset, multiple of LEC_MODEL_ALIGN), u64 bytes
 *   zero padding up to the data offset, then the tensor data.
 * A reader ignores metadata keys it does not know, so adding a
 * hyper-parameter is not a breaking change; changing the meaning of the
 * layout bumps LEC_MODEL_VERSION.
 *
 * Loading validates everything: magic, version, sizes against the file
 * length, both checksums, every length inside the index, tensor ranges,
 * alignment, overlaps, NaN/Inf values, and (lec_model_load) the tensor shapes
 * against the architecture in the metadata. Every error names the file.
 *
 * Thread safety: reentrant; no globals. Not for the audio callback.
 */
#ifndef LEC_MODEL_H
#define LEC_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "lec_error.h"
#include "lec_nn.h"

#define LEC_MODEL_MAGIC "LECTNNMF"
#define LEC_MODEL_VERSION 1u
#define LEC_MODEL_ALIGN 64u
#define LEC_MODEL_MAX_BYTES ((size_t)1 << 30)

/* ---- typed metadata ---- */
typedef enum {
    LEC_META_INT = 1,
    LEC_META_FLOAT = 2,
    LEC_META_STRING = 3,
    LEC_META_FLOATS = 4
} lec_meta_type;

typedef struct lec_meta_entry {
    char key[64];
    lec_meta_type type;
    int64_t i;
    double f;
    char *s;      /* STRING: NUL-terminated, malloc'd */
    float *fa;    /* FLOATS: malloc'd */
    uint32_t n;   /* FLOATS: count; STRING: length */
} lec_meta_entry;

typedef struct lec_meta {
    lec_meta_entry *e;
    int n, cap;
} lec_meta;

void lec_meta_init(lec_meta *m);
void lec_meta_free(lec_meta *m); /* NULL-safe; leaves an empty list */
/* Setters replace an existing key of any type. Keys: 1..63 printable chars. */
lec_status lec_meta_set_int(lec_meta *m, const char *key, int64_t v, lec_error *err);
lec_status lec_meta_set_float(lec_meta *m, const char *key, double v, lec_error *err);
lec_status lec_meta_set_string(lec_meta *m, const char *key, const char *v, lec_error *err);
lec_status lec_meta_set_floats(lec_meta *m, const char *key, const float *v, uint32_t n,
                               lec_error *err);
lec_status lec_meta_copy(lec_meta *dst, const lec_meta *src, lec_error *err);
const lec_meta_entry *lec_meta_find(const lec_meta *m, const char *key);
/* Typed getters: LEC_OK, or LEC_EFORMAT with "<file>: metadata <key> missing /
 * has type X, expected Y" (file may be NULL). FLOAT accepts an INT value. */
lec_status lec_meta_get_int(const lec_meta *m, const char *key, int64_t *v, const char *file,
                            lec_error *err);
lec_status lec_meta_get_float(const lec_meta *m, const char *key, double *v, const char *file,
                              lec_error *err);
lec_status lec_meta_get_string(const lec_meta *m, const char *key, const char **v,
                               const char *file, lec_error *err);

/* ---- the container ---- */
typedef struct lec_model_tensor {
    char name[64];
    int ndim;
    int64_t dims[4];
    const float *data; /* write: caller's data; read: points into the file buffer */
} lec_model_tensor;

typedef struct lec_model_file {
    char path[1024];
    lec_meta meta;
    lec_model_tensor *tensors;
    int n_tensors;
    unsigned char *buf; /* the whole file; tensors point into it */
    size_t len;
} lec_model_file;

/* Writes atomically (temporary + rename), so an interrupted save never leaves
 * a half-written model under path. Tensor names must be unique, 1..63 chars. */
lec_status lec_model_file_write(const char *path, const lec_meta *meta,
                                const lec_model_tensor *tensors, int n_tensors, lec_error *err);
/* Parses and validates a file image held in memory (takes ownership of buf,
 * which must come from malloc, also on failure). name is used in messages. */
lec_status lec_model_file_parse(unsigned char *buf, size_t len, const char *name,
                                lec_model_file **out, lec_error *err);
lec_status lec_model_file_read(const char *path, lec_model_file **out, lec_error *err);
void lec_model_file_free(lec_model_file *f); /* NULL-safe */
const lec_model_tensor *lec_model_file_find(const lec_model_file *f, const char *name);

uint32_t lec_crc32(uint32_t crc, const void *data, size_t n);

/* ---- the network in a model file ----
 * Parameters that travel with a model beyond the architecture: what the
 * audio front-end and the score unrolling must do for the network's inputs
 * to mean what they meant in training. */
typedef struct lec_model_info {
    /* audio front-end (engine/spec) */
    int sample_rate;        /* Hz */
    int frame_size;         /* samples */
    int hop_size;           /* samples */
    double fmin_hz, fmax_hz;
    int bands_per_octave;
    /* score unrolling (engine/piece) */
    double staff_space_px;  /* staff-line spacing after scaling, px */
    int window_width_px;    /* score window cut from the strip, px */
    int window_height_px;
    int buckets;            /* B, equal to the network's n_out */
} lec_model_info;

/* Front-end defaults of engine/spec and a window matching lec_nn_arch_default. */
void lec_model_info_default(lec_model_info *info);

/* Architecture <-> metadata ("arch.*", "norm.*"). */
lec_status lec_model_arch_to_meta(const lec_nn_arch *a, lec_meta *m, lec_error *err);
lec_status lec_model_arch_from_meta(const lec_meta *m, const char *file, lec_nn_arch *a,
                                    lec_error *err);
lec_status lec_model_info_to_meta(const lec_model_info *info, lec_meta *m, lec_error *err);
lec_status lec_model_info_from_meta(const lec_meta *m, const char *file, lec_model_info *info,
                                    lec_error *err);

/* Fill t[0 .. lec_nn_net_n_tensors(net)) with net's parameter tensors
 * (names, shapes, data pointing into the net's parameter block). */
void lec_model_net_tensors(const lec_nn_net *net, lec_model_tensor *t);

/* Save: architecture + info + extra (may be NULL; e.g. training data
 * description) + every parameter tensor, kind "model". */
lec_status lec_model_save(const char *path, const lec_nn_net *net, const lec_model_info *info,
                          const lec_meta *extra, lec_error *err);
/* Load a model (or the model part of a checkpoint): the network with its
 * parameters, its info, and (if meta_out is non-NULL) all metadata, which the
 * caller frees with lec_meta_free. */
lec_nn_net *lec_model_load(const char *path, lec_model_info *info, lec_meta *meta_out,
                           lec_error *err);
/* The same from an already parsed file (used for checkpoints). */
lec_nn_net *lec_model_net_from_file(const lec_model_file *f, lec_model_info *info,
                                    lec_error *err);

#endif
