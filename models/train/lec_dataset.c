#include "lec_dataset.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "lec_piece.h"
#include "lec_source.h"
#include "lec_spec.h"
#include "lec_unroll.h"
#include "lec_util.h"

/* ------------------------------------------------------------ randomness */

/* splitmix64: the whole random state of a sample is (seed, step, index), so
 * sample i of step s is reproducible in any order and on any thread. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* uniform in [0, 1) with 53 bits */
static double rng_u(rng *r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }
static double rng_range(rng *r, double lo, double hi) { return lo + (hi - lo) * rng_u(r); }
static int rng_int(rng *r, int n) { return n > 0 ? (int)(rng_u(r) * n) : 0; }

/* ------------------------------------------------------------ the dataset */

typedef struct rendering {
    int piece, index;      /* dataset piece, rendering index in its lec_piece */
    float *frames;         /* (n_frames, n_bands) log-filterbank frames */
    size_t n_frames;
    double duration_s;
    double t_first, t_last; /* first and last event onset, s */
    const double *ev_t;    /* event onsets (n_ev), from the lec_piece */
    size_t n_ev;
    float mean_lin;        /* mean of 10^y - 1 over all cells (noise floor reference) */
} rendering;

typedef struct piece {
    lec_piece *p;
    lec_unroll *u;
    char name[256];
} piece;

struct lec_dataset {
    lec_dataset_config cfg;
    char cache_dir[2048];
    int n_bands, B, H, W;
    piece *pieces;
    size_t n_pieces;
    rendering *rends;
    size_t n_rends;
    double *cum;           /* (n_rends) cumulative durations, for weighted choice */
    double total_s;
};

void lec_dataset_config_default(lec_dataset_config *c)
{
    memset(c, 0, sizeof *c);
    lec_model_info_default(&c->info);
    c->spec_frames = 40;
    c->margin_x_ss = 1.0f;
    c->outside_class = 0;
    c->outside_frac = 0.25f;
    c->sigma_buckets = 0.7f;
    c->onset_lag_s = 0.1f;
    c->augment = 0;
    c->score_scale = 0.1f;
    c->score_shift = 0.04f;
    c->score_rot_deg = 1.0f;
    c->blur_prob = 0.2f;
    c->tempo_range = 2.0f;
    c->gain_db = 10.0f;
    c->tilt_db = 6.0f;
    c->noise_prob = 0.5f;
    c->cache_dir = NULL;
    c->progress = 0;
}

size_t lec_dataset_n_pieces(const lec_dataset *ds) { return ds->n_pieces; }
size_t lec_dataset_n_renderings(const lec_dataset *ds) { return ds->n_rends; }
double lec_dataset_duration_s(const lec_dataset *ds) { return ds->total_s; }
const char *lec_dataset_piece_name(const lec_dataset *ds, size_t i)
{
    return i < ds->n_pieces ? ds->pieces[i].name : "";
}
const lec_dataset_config *lec_dataset_config_of(const lec_dataset *ds) { return &ds->cfg; }
int lec_dataset_n_buckets(const lec_dataset *ds) { return ds->B; }
int lec_dataset_n_bands(const lec_dataset *ds) { return ds->n_bands; }

void lec_dataset_destroy(lec_dataset *ds)
{
    if (!ds)
        return;
    for (size_t i = 0; i < ds->n_rends; i++)
        free(ds->rends[i].frames);
    for (size_t i = 0; i < ds->n_pieces; i++) {
        lec_unroll_destroy(ds->pieces[i].u);
        lec_piece_destroy(ds->pieces[i].p);
    }
    free(ds->rends);
    free(ds->pieces);
    free(ds->cum);
    free(ds);
}

/* ------------------------------------------------------------ bundle search */

typedef struct index_entry {
    char *dir;
    lec_split split;
} index_entry;

static lec_split split_of(const char *s)
{
    if (!s)
        return LEC_SPLIT_UNKNOWN;
    if (strcmp(s, "train") == 0)
        return LEC_SPLIT_TRAIN;
    if (strcmp(s, "valid") == 0)
        return LEC_SPLIT_VALID;
    return LEC_SPLIT_UNKNOWN;
}

static lec_status load_index(const char *path, index_entry **out, size_t *n, lec_error *err)
{
    char *txt = NULL;
    size_t len = 0;
    *out = NULL;
    *n = 0;
    if (lec_read_file(path, 64u << 20, &txt, &len, err))
        return err ? err->code : LEC_EIO;
    cJSON *root = cJSON_ParseWithLength(txt, len);
    free(txt);
    if (!root || !cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return lec_error_set(err, LEC_EFORMAT, "%s: not a JSON list of pieces", path);
    }
    int m = cJSON_GetArraySize(root);
    index_entry *e = calloc((size_t)(m > 0 ? m : 1), sizeof *e);
    if (!e) {
        cJSON_Delete(root);
        return lec_error_set(err, LEC_ENOMEM, "%s: out of memory", path);
    }
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, root)
    {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(it, "dir");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "suggested_split");
        if (!cJSON_IsString(d) || !cJSON_IsString(s))
            continue;
        e[k].dir = strdup(d->valuestring);
        e[k].split = split_of(s->valuestring);
        if (!e[k].dir) {
            for (size_t j = 0; j < k; j++)
                free(e[j].dir);
            free(e);
            cJSON_Delete(root);
            return lec_error_set(err, LEC_ENOMEM, "%s: out of memory", path);
        }
        k++;
    }
    cJSON_Delete(root);
    *out = e;
    *n = k;
    return LEC_OK;
}

/* source_path "mutopia-piano/GriegE/O12/x" matches index dir "GriegE/O12/x" */
static lec_split index_lookup(const index_entry *e, size_t n, const char *source_path)
{
    size_t ls = strlen(source_path);
    if (ls == 0)
        return LEC_SPLIT_UNKNOWN;
    for (size_t i = 0; i < n; i++) {
        size_t ld = strlen(e[i].dir);
        if (ld > ls)
            continue;
        if (strcmp(source_path + ls - ld, e[i].dir) == 0 &&
            (ld == ls || source_path[ls - ld - 1] == '/'))
            return e[i].split;
    }
    return LEC_SPLIT_UNKNOWN;
}

typedef struct path_list {
    char **p;
    size_t n, cap;
} path_list;

static int path_push(path_list *l, const char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **q = realloc(l->p, cap * sizeof *q);
        if (!q)
            return -1;
        l->p = q;
        l->cap = cap;
    }
    l->p[l->n] = strdup(s);
    if (!l->p[l->n])
        return -1;
    l->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Depth-first; a bundle's own subdirectories (pages/, audio/) are not
 * searched further. depth guards against symlink loops. */
static lec_status scan_dir(const char *dir, path_list *out, int depth, lec_error *err)
{
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/piece.json", dir);
    if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
        return path_push(out, dir) ? lec_error_set(err, LEC_ENOMEM, "out of memory") : LEC_OK;
    if (depth > 12)
        return LEC_OK;
    DIR *d = opendir(dir);
    if (!d)
        return depth == 0 ? lec_error_set(err, LEC_EIO, "%s: cannot open directory: %s", dir,
                                          strerror(errno))
                          : LEC_OK;
    path_list subs = {0};
    struct dirent *de;
    lec_status rc = LEC_OK;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue; /* ., .., and the builder's .work/.tmp-* directories */
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode) && path_push(&subs, p)) {
            rc = lec_error_set(err, LEC_ENOMEM, "out of memory");
            break;
        }
    }
    closedir(d);
    if (!rc && subs.n > 1)
        qsort(subs.p, subs.n, sizeof *subs.p, cmp_str);
    for (size_t i = 0; i < subs.n && !rc; i++)
        rc = scan_dir(subs.p[i], out, depth + 1, err);
    for (size_t i = 0; i < subs.n; i++)
        free(subs.p[i]);
    free(subs.p);
    return rc;
}

lec_status lec_bundle_find(const char *root, const char *index_path, lec_bundle_ref **refs,
                           size_t *n, lec_error *err)
{
    struct stat st;
    if (stat(root, &st) != 0)
        return lec_error_set(err, LEC_EIO, "%s: %s", root, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return lec_error_set(err, LEC_EINVAL, "%s: not a directory", root);
    index_entry *idx = NULL;
    size_t n_idx = 0;
    if (index_path && index_path[0] && load_index(index_path, &idx, &n_idx, err))
        return err ? err->code : LEC_EFORMAT;
    path_list found = {0};
    lec_status rc = scan_dir(root, &found, 0, err);
    if (!rc && found.n) {
        lec_bundle_ref *r = realloc(*refs, (*n + found.n) * sizeof *r);
        if (!r)
            rc = lec_error_set(err, LEC_ENOMEM, "out of memory");
        else
            *refs = r;
    }
    for (size_t i = 0; i < found.n && !rc; i++) {
        lec_bundle_ref *b = &(*refs)[*n];
        memset(b, 0, sizeof *b);
        snprintf(b->dir, sizeof b->dir, "%s", found.p[i]);
        const char *slash = strrchr(found.p[i], '/');
        snprintf(b->name, sizeof b->name, "%s", slash ? slash + 1 : found.p[i]);
        /* only the header keys matter here; a broken piece.json is reported
         * by the full loader later, with the JSON path of the problem */
        char pj[4200], *txt = NULL;
        size_t len = 0;
        snprintf(pj, sizeof pj, "%s/piece.json", found.p[i]);
        if (lec_read_file(pj, 256u << 20, &txt, &len, NULL) == LEC_OK) {
            cJSON *j = cJSON_ParseWithLength(txt, len);
            const cJSON *v;
            if ((v = cJSON_GetObjectItemCaseSensitive(j, "name")) && cJSON_IsString(v) &&
                v->valuestring[0])
                snprintf(b->name, sizeof b->name, "%s", v->valuestring);
            if ((v = cJSON_GetObjectItemCaseSensitive(j, "source_path")) && cJSON_IsString(v))
                snprintf(b->source_path, sizeof b->source_path, "%s", v->valuestring);
            if ((v = cJSON_GetObjectItemCaseSensitive(j, "split")) && cJSON_IsString(v))
                b->split = split_of(v->valuestring);
            cJSON_Delete(j);
            free(txt);
        }
        if (n_idx) {
            lec_split s = index_lookup(idx, n_idx, b->source_path);
            if (s != LEC_SPLIT_UNKNOWN)
                b->split = s;
        }
        (*n)++;
    }
    for (size_t i = 0; i < found.n; i++)
        free(found.p[i]);
    free(found.p);
    for (size_t i = 0; i < n_idx; i++)
        free(idx[i].dir);
    free(idx);
    return rc;
}

/* ------------------------------------------------------------ spectrogram cache */

#define CACHE_MAGIC "LECSPEC1"
#define CACHE_VERSION 1u

typedef struct cache_header {
    char magic[8];
    uint32_t version, n_bands;
    uint64_t n_frames;
    int32_t sample_rate, frame_size, hop_size, bands_per_octave;
    float fmin_hz, fmax_hz;
    uint64_t audio_size;
    int64_t audio_mtime;
    uint32_t data_crc;  /* CRC-32 of the float data: a damaged file is recomputed */
    uint32_t pad;
} cache_header;

static void cache_path(const lec_dataset *ds, const char *audio_abs, char *out, size_t cap)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a of the absolute path */
    for (const char *c = audio_abs; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ULL;
    const char *base = strrchr(audio_abs, '/');
    snprintf(out, cap, "%s/%016llx-%s.spec", ds->cache_dir, (unsigned long long)mix64(h),
             base ? base + 1 : audio_abs);
}

static void header_fill(const lec_dataset *ds, cache_header *h, size_t n_frames,
                        const struct stat *st)
{
    memset(h, 0, sizeof *h);
    memcpy(h->magic, CACHE_MAGIC, 8);
    h->version = CACHE_VERSION;
    h->n_bands = (uint32_t)ds->n_bands;
    h->n_frames = n_frames;
    const lec_model_info *in = &ds->cfg.info;
    h->sample_rate = in->sample_rate;
    h->frame_size = in->frame_size;
    h->hop_size = in->hop_size;
    h->bands_per_octave = in->bands_per_octave;
    h->fmin_hz = (float)in->fmin_hz;
    h->fmax_hz = (float)in->fmax_hz;
    h->audio_size = (uint64_t)st->st_size;
    h->audio_mtime = (int64_t)st->st_mtime;
}

/* A cache file is used only if everything that determines its content
 * matches (front end, the audio file's size and mtime) and the data is
 * complete and finite; anything else means recompute. */
static float *cache_load(const lec_dataset *ds, const char *cpath, const struct stat *ast,
                         size_t *n_frames)
{
    FILE *f = fopen(cpath, "rb");
    if (!f)
        return NULL;
    cache_header h, want;
    float *data = NULL;
    if (fread(&h, sizeof h, 1, f) != 1)
        goto bad;
    header_fill(ds, &want, (size_t)h.n_frames, ast);
    want.data_crc = h.data_crc;
    if (memcmp(&h, &want, sizeof h) != 0 || h.n_frames > (1u << 26))
        goto bad;
    size_t n = (size_t)h.n_frames * (size_t)h.n_bands;
    data = malloc(sizeof(float) * (n ? n : 1));
    if (!data || fread(data, sizeof(float), n, f) != n || fgetc(f) != EOF)
        goto bad;
    if (lec_crc32(0, data, sizeof(float) * n) != h.data_crc)
        goto bad;
    fclose(f);
    *n_frames = (size_t)h.n_frames;
    return data;
bad:
    free(data);
    fclose(f);
    return NULL;
}

static void cache_store(const lec_dataset *ds, const char *cpath, const struct stat *ast,
                        const float *frames, size_t n_frames)
{
    /* best effort: a cache that cannot be written only costs time */
    lec_atomic_file af;
    if (lec_atomic_open(&af, cpath, NULL))
        return;
    cache_header h;
    header_fill(ds, &h, n_frames, ast);
    size_t n = n_frames * (size_t)ds->n_bands;
    h.data_crc = lec_crc32(0, frames, sizeof(float) * n);
    if (fwrite(&h, sizeof h, 1, af.fp) != 1 || fwrite(frames, sizeof(float), n, af.fp) != n) {
        lec_atomic_abort(&af);
        return;
    }
    lec_atomic_commit(&af, NULL);
}

static lec_status compute_spec(const lec_dataset *ds, const char *audio, float **frames,
                               size_t *n_frames, lec_error *err)
{
    lec_source_config sc;
    lec_source_config_default(&sc);
    sc.kind = LEC_SOURCE_FILE;
    sc.path = audio;
    sc.sample_rate = ds->cfg.info.sample_rate;
    lec_source *src = lec_source_create(&sc, err);
    if (!src)
        return err ? err->code : LEC_EIO;
    double dur = lec_source_duration_s(src);
    size_t cap = (size_t)(dur > 0 ? dur * sc.sample_rate : 0) + 65536, n = 0;
    float *x = malloc(sizeof(float) * cap);
    lec_status st = x ? LEC_OK : lec_error_set(err, LEC_ENOMEM, "%s: out of memory", audio);
    while (!st) {
        if (cap - n < 16384) {
            float *y = realloc(x, sizeof(float) * cap * 2);
            if (!y) {
                st = lec_error_set(err, LEC_ENOMEM, "%s: out of memory", audio);
                break;
            }
            x = y;
            cap *= 2;
        }
        size_t got = 0;
        st = lec_source_read(src, x + n, cap - n, &got, 0, err);
        if (st || got == 0)
            break;
        n += got;
    }
    lec_source_destroy(src);
    int nb = 0;
    if (!st) {
        lec_spec_config cfg;
        lec_spec_config_default(&cfg);
        cfg.sample_rate = ds->cfg.info.sample_rate;
        cfg.frame_size = ds->cfg.info.frame_size;
        cfg.hop_size = ds->cfg.info.hop_size;
        cfg.fmin_hz = (float)ds->cfg.info.fmin_hz;
        cfg.fmax_hz = (float)ds->cfg.info.fmax_hz;
        cfg.bands_per_octave = ds->cfg.info.bands_per_octave;
        st = lec_spec_compute(&cfg, x, n, frames, n_frames, &nb, err);
        if (!st && nb != ds->n_bands) {
            free(*frames);
            *frames = NULL;
            st = lec_error_set(err, LEC_EINVAL, "%s: %d bands, expected %d", audio, nb,
                               ds->n_bands);
        }
    }
    free(x);
    return st;
}

/* ------------------------------------------------------------ create */

static void warnf(lec_dataset_warn_fn warn, void *user, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warnf(lec_dataset_warn_fn warn, void *user, const char *fmt, ...)
{
    if (!warn)
        return;
    char buf[LEC_ERROR_MSG_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    warn(user, buf);
}

static lec_status check_config(const lec_dataset_config *c, lec_error *err)
{
    const lec_model_info *in = &c->info;
    if (in->window_width_px < 4 || in->window_width_px > 4096 || in->window_height_px < 4 ||
        in->window_height_px > 1024)
        return lec_error_set(err, LEC_EINVAL, "dataset: window %dx%d px out of range",
                             in->window_width_px, in->window_height_px);
    if (!(in->staff_space_px >= 1.0 && in->staff_space_px <= 64.0))
        return lec_error_set(err, LEC_EINVAL, "dataset: staff space %g px outside [1, 64]",
                             in->staff_space_px);
    int B = in->buckets - (c->outside_class ? 1 : 0);
    if (B < 2 || B > in->window_width_px)
        return lec_error_set(err, LEC_EINVAL, "dataset: %d buckets for a window %d px wide", B,
                             in->window_width_px);
    if (c->spec_frames < 1 || c->spec_frames > 4096)
        return lec_error_set(err, LEC_EINVAL, "dataset: spec_frames %d outside 1..4096",
                             c->spec_frames);
    if (!(c->sigma_buckets > 0.0f && c->sigma_buckets < 100.0f) ||
        !(c->outside_frac >= 0.0f && c->outside_frac < 1.0f) || !(c->onset_lag_s >= 0.0f) ||
        !(c->score_scale >= 0.0f && c->score_scale < 0.5f) || !(c->score_shift >= 0.0f) ||
        !(c->score_rot_deg >= 0.0f && c->score_rot_deg <= 10.0f) ||
        !(c->tempo_range >= 1.0f && c->tempo_range <= 4.0f) || !(c->gain_db >= 0.0f) ||
        !(c->tilt_db >= 0.0f) || !(c->blur_prob >= 0.0f) || !(c->noise_prob >= 0.0f))
        return lec_error_set(err, LEC_EINVAL, "dataset: augmentation/target settings out of range");
    return LEC_OK;
}

static int is_eval_soundfont(const char *sf)
{
    /* MuseScore_General.sf2/.sf3 etc.: reserved for unseen-sound evaluation */
    for (const char *c = sf; *c; c++)
        if (strncasecmp(c, "musescore", 9) == 0)
            return 1;
    return 0;
}

lec_dataset *lec_dataset_create(const lec_bundle_ref *refs, size_t n_refs,
                                const lec_dataset_config *cfg, lec_dataset_warn_fn warn,
                                void *warn_user, lec_error *err)
{
    if (check_config(cfg, err))
        return NULL;
    lec_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) {
        lec_error_set(err, LEC_ENOMEM, "dataset: out of memory");
        return NULL;
    }
    ds->cfg = *cfg;
    ds->cfg.cache_dir = NULL; /* the caller's string need not outlive create */
    ds->H = cfg->info.window_height_px;
    ds->W = cfg->info.window_width_px;
    ds->B = cfg->info.buckets - (cfg->outside_class ? 1 : 0);
    {
        /* number of bands of this front end: from an actual lec_spec */
        lec_spec_config sc;
        lec_spec_config_default(&sc);
        sc.sample_rate = cfg->info.sample_rate;
        sc.frame_size = cfg->info.frame_size;
        sc.hop_size = cfg->info.hop_size;
        sc.fmin_hz = (float)cfg->info.fmin_hz;
        sc.fmax_hz = (float)cfg->info.fmax_hz;
        sc.bands_per_octave = cfg->info.bands_per_octave;
        lec_spec *s = lec_spec_create(&sc, err);
        if (!s) {
            lec_error_prefix(err, "dataset: front end: ");
            goto fail;
        }
        ds->n_bands = lec_spec_n_bands(s);
        lec_spec_destroy(s);
    }
    if (cfg->cache_dir && cfg->cache_dir[0]) {
        const lec_model_info *in = &cfg->info;
        snprintf(ds->cache_dir, sizeof ds->cache_dir, "%s/sr%d-f%d-h%d-%g-%g-b%d",
                 cfg->cache_dir, in->sample_rate, in->frame_size, in->hop_size, in->fmin_hz,
                 in->fmax_hz, in->bands_per_octave);
        if (lec_mkdir_p(ds->cache_dir, err)) {
            lec_error_prefix(err, "dataset: spectrogram cache: ");
            goto fail;
        }
    }
    ds->pieces = calloc(n_refs ? n_refs : 1, sizeof *ds->pieces);
    if (!ds->pieces) {
        lec_error_set(err, LEC_ENOMEM, "dataset: out of memory");
        goto fail;
    }
    size_t cap_r = 0;
    lec_progress prog;
    if (cfg->progress)
        lec_progress_begin(&prog, "loading bundles", (int64_t)n_refs);
    for (size_t b = 0; b < n_refs; b++) {
        if (cfg->progress)
            lec_progress_update(&prog, (int64_t)b, refs[b].name);
        lec_error e;
        lec_error_clear(&e);
        lec_piece *p = lec_piece_load(refs[b].dir, &e);
        if (!p) {
            warnf(warn, warn_user, "skipping bundle %s: %s", refs[b].dir, e.msg);
            continue;
        }
        lec_unroll_config uc;
        lec_unroll_config_default(&uc);
        uc.staff_space_px = (float)cfg->info.staff_space_px;
        uc.height_ss = (float)(cfg->info.window_height_px / cfg->info.staff_space_px);
        uc.margin_x_ss = cfg->margin_x_ss;
        lec_unroll *u = lec_unroll_create(p, &uc, &e);
        if (!u) {
            warnf(warn, warn_user, "skipping bundle %s: unrolling: %s", refs[b].dir, e.msg);
            lec_piece_destroy(p);
            continue;
        }
        if (lec_unroll_height_px(u) != ds->H) {
            warnf(warn, warn_user, "skipping bundle %s: strip height %d px, window %d px",
                  refs[b].dir, lec_unroll_height_px(u), ds->H);
            lec_unroll_destroy(u);
            lec_piece_destroy(p);
            continue;
        }
        const size_t pi = ds->n_pieces;
        size_t used = 0;
        const lec_piece_rendering *rs = lec_piece_renderings(p);
        for (size_t r = 0; r < lec_piece_n_renderings(p); r++) {
            if (!cfg->allow_eval_soundfont && is_eval_soundfont(rs[r].soundfont)) {
                warnf(warn, warn_user,
                      "%s: rendering %s refused: soundfont %s is reserved for evaluation",
                      refs[b].dir, rs[r].name, rs[r].soundfont);
                continue;
            }
            const size_t ne = lec_piece_n_events(p);
            double t0 = INFINITY, t1 = -INFINITY;
            for (size_t k = 0; k < ne; k++) {
                double t = rs[r].event_onset_s[k];
                if (isfinite(t)) {
                    t0 = t < t0 ? t : t0;
                    t1 = t > t1 ? t : t1;
                }
            }
            if (!(t1 > t0) || lec_unroll_truth_x(u, (int)r, t0) < 0.0f) {
                warnf(warn, warn_user, "%s: rendering %s skipped: no usable onset events",
                      refs[b].dir, rs[r].name);
                continue;
            }
            char audio[4096];
            lec_piece_path(p, rs[r].audio, audio, sizeof audio);
            struct stat ast;
            if (stat(audio, &ast) != 0) {
                warnf(warn, warn_user, "%s: rendering %s skipped: %s: %s", refs[b].dir,
                      rs[r].name, audio, strerror(errno));
                continue;
            }
            char abs[4096], cpath[8192];
            if (!realpath(audio, abs))
                snprintf(abs, sizeof abs, "%s", audio);
            float *frames = NULL;
            size_t nf = 0;
            if (ds->cache_dir[0]) {
                cache_path(ds, abs, cpath, sizeof cpath);
                frames = cache_load(ds, cpath, &ast, &nf);
            }
            if (!frames) {
                if (compute_spec(ds, audio, &frames, &nf, &e)) {
                    warnf(warn, warn_user, "%s: rendering %s skipped: %s", refs[b].dir,
                          rs[r].name, e.msg);
                    continue;
                }
                if (ds->cache_dir[0] && frames)
                    cache_store(ds, cpath, &ast, frames, nf);
            }
            if (nf < 2) {
                free(frames);
                warnf(warn, warn_user, "%s: rendering %s skipped: audio too short", refs[b].dir,
                      rs[r].name);
                continue;
            }
            if (ds->n_rends == cap_r) {
                size_t c2 = cap_r ? 2 * cap_r : 64;
                rendering *nr = realloc(ds->rends, c2 * sizeof *nr);
                if (!nr) {
                    free(frames);
                    lec_error_set(err, LEC_ENOMEM, "dataset: out of memory");
                    if (cfg->progress)
                        lec_progress_end(&prog, NULL);
                    lec_unroll_destroy(u);
                    lec_piece_destroy(p);
                    goto fail;
                }
                ds->rends = nr;
                cap_r = c2;
            }
            rendering *R = &ds->rends[ds->n_rends++];
            memset(R, 0, sizeof *R);
            R->piece = (int)pi;
            R->index = (int)r;
            R->frames = frames;
            R->n_frames = nf;
            R->duration_s = (double)nf * cfg->info.hop_size / cfg->info.sample_rate;
            R->t_first = t0;
            R->t_last = t1;
            R->ev_t = rs[r].event_onset_s;
            R->n_ev = ne;
            double s = 0.0;
            for (size_t i = 0; i < nf * (size_t)ds->n_bands; i++)
                s += expm1(frames[i] * 2.302585092994046);
            R->mean_lin = (float)(s / (double)(nf * (size_t)ds->n_bands));
            used++;
        }
        if (!used) {
            warnf(warn, warn_user, "skipping bundle %s: no usable rendering", refs[b].dir);
            lec_unroll_destroy(u);
            lec_piece_destroy(p);
            continue;
        }
        ds->pieces[pi].p = p;
        ds->pieces[pi].u = u;
        snprintf(ds->pieces[pi].name, sizeof ds->pieces[pi].name, "%s", refs[b].name);
        ds->n_pieces++;
    }
    if (cfg->progress)
        lec_progress_end(&prog, NULL);
    if (ds->n_rends == 0) {
        lec_error_set(err, LEC_EFORMAT, "dataset: no usable bundle among %zu found%s%s", n_refs,
                      n_refs ? ", first: " : "", n_refs ? refs[0].dir : "");
        goto fail;
    }
    ds->cum = malloc(sizeof(double) * ds->n_rends);
    if (!ds->cum) {
        lec_error_set(err, LEC_ENOMEM, "dataset: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < ds->n_rends; i++) {
        /* weight: the span we sample from (plus a second) */
        ds->total_s += ds->rends[i].duration_s;
        ds->cum[i] = (i ? ds->cum[i - 1] : 0.0) + ds->rends[i].duration_s;
    }
    return ds;
fail:
    lec_dataset_destroy(ds);
    return NULL;
}

/* ------------------------------------------------------------ sampling */

static float strip_ink(const uint8_t *pix, int w, int h, int x, int y)
{
    if (x < 0 || y < 0 || x >= w || y >= h)
        return 0.0f; /* blank paper */
    return 1.0f - (float)pix[(size_t)y * (size_t)w + (size_t)x] * (1.0f / 255.0f);
}

/* Bilinear ink at continuous strip coordinates (pixel j covers [j, j+1)). */
static float strip_bilinear(const uint8_t *pix, int w, int h, float sx, float sy)
{
    float fx = sx - 0.5f, fy = sy - 0.5f;
    int x0 = (int)floorf(fx), y0 = (int)floorf(fy);
    float ax = fx - (float)x0, ay = fy - (float)y0;
    float a = strip_ink(pix, w, h, x0, y0), b = strip_ink(pix, w, h, x0 + 1, y0);
    float c = strip_ink(pix, w, h, x0, y0 + 1), d = strip_ink(pix, w, h, x0 + 1, y0 + 1);
    return (1.0f - ay) * ((1.0f - ax) * a + ax * b) + ay * ((1.0f - ax) * c + ax * d);
}

static size_t pick_rendering(const lec_dataset *ds, double u)
{
    double v = u * ds->total_s;
    size_t lo = 0, hi = ds->n_rends - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ds->cum[mid] > v)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static void one_sample(const lec_dataset *ds, rng *g, float *score, float *spec, float *target,
                       lec_sample_info *info)
{
    const lec_dataset_config *c = &ds->cfg;
    const int H = ds->H, W = ds->W, B = ds->B, F = c->spec_frames, NB = ds->n_bands;
    const int n_out = c->info.buckets;
    const int aug = c->augment;
    const rendering *R = &ds->rends[pick_rendering(ds, rng_u(g))];
    const piece *P = &ds->pieces[R->piece];

    /* ---- time */
    double t;
    if (rng_u(g) < 0.5 && R->n_ev > 0) {
        const double e = R->ev_t[rng_int(g, (int)R->n_ev)];
        t = (isfinite(e) ? e : R->t_first) + rng_u(g) * c->onset_lag_s;
    } else {
        t = rng_range(g, R->t_first, R->t_last);
    }
    if (t > R->duration_s)
        t = R->duration_s;

    /* ---- spectrogram excerpt (spec_bands, F): newest column = last frame
     * whose end (i+1)*hop/sr <= t */
    const double fps = (double)c->info.sample_rate / (double)c->info.hop_size;
    long last = (long)floor(t * fps + 1e-9) - 1;
    if (last >= (long)R->n_frames)
        last = (long)R->n_frames - 1;
    double rate = 1.0; /* frames of the recording per excerpt column */
    if (aug && c->tempo_range > 1.0f)
        rate = exp(rng_range(g, -1.0, 1.0) * log((double)c->tempo_range));
    float gain = 1.0f, nf = 0.0f, tilt = 0.0f;
    if (aug) {
        gain = (float)pow(10.0, rng_range(g, -1.0, 1.0) * c->gain_db / 20.0);
        tilt = (float)(rng_range(g, -1.0, 1.0) * c->tilt_db); /* dB from lowest to highest band */
        if (rng_u(g) < c->noise_prob)
            nf = R->mean_lin * (float)pow(10.0, rng_range(g, -40.0, -10.0) / 20.0);
    }
    const int need_aug_spec = aug && (gain != 1.0f || tilt != 0.0f || nf > 0.0f);
    for (int j = 0; j < F; j++) {
        const double pos = (double)last - (double)(F - 1 - j) * rate;
        const long i0 = (long)floor(pos);
        const float a = (float)(pos - (double)i0);
        const float *f0 = (i0 >= 0 && i0 < (long)R->n_frames) ? R->frames + (size_t)i0 * NB : NULL;
        const float *f1 =
            (a > 0.0f && i0 + 1 >= 0 && i0 + 1 < (long)R->n_frames) ? R->frames + (size_t)(i0 + 1) * NB
                                                                   : NULL;
        for (int b = 0; b < NB; b++) {
            float y = (f0 ? (1.0f - a) * f0[b] : 0.0f) + (f1 ? a * f1[b] : 0.0f);
            spec[(size_t)b * F + j] = y;
        }
    }
    if (need_aug_spec) {
        for (int b = 0; b < NB; b++) {
            const float gb =
                gain * powf(10.0f, tilt * ((float)b / (float)(NB > 1 ? NB - 1 : 1) - 0.5f) / 20.0f);
            for (int j = 0; j < F; j++) {
                float *y = &spec[(size_t)b * F + j];
                float lin = expm1f(*y * 2.302585093f) * gb;
                if (nf > 0.0f)
                    lin += nf * (float)rng_range(g, 0.5, 1.5);
                *y = log1pf(lin > 0.0f ? lin : 0.0f) * 0.4342944819f;
            }
        }
    }

    /* ---- position and window */
    const float x = lec_unroll_truth_x(P->u, R->index, t);
    const int strip_w = lec_unroll_width_px(P->u);
    float kx = 1.0f, ky = 1.0f, dy = 0.0f, rot = 0.0f;
    int blur = 0;
    if (aug) {
        kx = (float)exp(rng_range(g, -1.0, 1.0) * log1p(c->score_scale));
        ky = (float)exp(rng_range(g, -1.0, 1.0) * log1p(c->score_scale));
        dy = (float)(rng_range(g, -1.0, 1.0) * c->score_shift * H);
        rot = (float)(rng_range(g, -1.0, 1.0) * c->score_rot_deg * 3.14159265358979 / 180.0);
        blur = rng_u(g) < c->blur_prob;
    }
    const float span = (float)W * kx; /* strip px the window covers */
    int outside = 0;
    float x0;
    if (c->outside_class && rng_u(g) < c->outside_frac) {
        outside = 1;
        x0 = 0.0f;
        int ok = 0;
        if (rng_u(g) < 0.5) {
            /* anywhere in the piece, as long as x is not inside */
            for (int k = 0; k < 8 && !ok; k++) {
                x0 = (float)rng_range(g, -0.5 * span, (double)strip_w - 0.5 * span);
                if (!aug)
                    x0 = floorf(x0);
                ok = !(x >= x0 && x < x0 + span);
            }
        }
        if (!ok) {
            /* right next to it: the windows a tracker scans around its belief */
            const float d = (float)rng_u(g) * span;
            x0 = rng_u(g) < 0.5 ? x + 1.0f + d : x - span - 1.0f - d;
            if (!aug)
                x0 = floorf(x0);
        }
    } else if (aug) {
        x0 = x - (float)rng_u(g) * span;
    } else {
        /* integer windows exactly as lec_unroll_window gives them: x0 in
         * floor(x) - (W-1) .. floor(x), each equally likely */
        x0 = floorf(x) - (float)rng_int(g, W);
    }
    if (!aug) {
        lec_unroll_window(P->u, (int)x0, W, score);
    } else {
        const uint8_t *pix = lec_unroll_pixels(P->u);
        const float cr = cosf(rot), sr = sinf(rot);
        const float cx = x0 + 0.5f * span, cy = 0.5f * (float)H + dy;
        for (int r = 0; r < H; r++) {
            const float wy = (float)r + 0.5f - 0.5f * (float)H;
            for (int col = 0; col < W; col++) {
                const float wx = (float)col + 0.5f - 0.5f * (float)W;
                const float sx = cx + (cr * wx - sr * wy) * kx;
                const float sy = cy + (sr * wx + cr * wy) * ky;
                score[(size_t)r * W + col] = strip_bilinear(pix, strip_w, H, sx, sy);
            }
        }
    }
    if (blur) {
        /* [1 2 1]/4 separable blur: rows through a buffer, columns in place
         * keeping the previous original value */
        float row[4096];
        for (int r = 0; r < H; r++) {
            float *s = score + (size_t)r * W;
            for (int col = 0; col < W; col++)
                row[col] = 0.25f * s[col > 0 ? col - 1 : col] + 0.5f * s[col] +
                           0.25f * s[col < W - 1 ? col + 1 : col];
            memcpy(s, row, sizeof(float) * (size_t)W);
        }
        for (int col = 0; col < W; col++) {
            float prev = score[col];
            for (int r = 0; r < H; r++) {
                float cur = score[(size_t)r * W + col];
                float next = score[(size_t)(r < H - 1 ? r + 1 : r) * W + col];
                score[(size_t)r * W + col] = 0.25f * prev + 0.5f * cur + 0.25f * next;
                prev = cur;
            }
        }
    }

    /* ---- target */
    memset(target, 0, sizeof(float) * (size_t)n_out);
    int bucket;
    if (outside) {
        bucket = B;
        target[B] = 1.0f;
    } else {
        const float cb = (x - x0) / span * (float)B; /* continuous bucket coordinate in [0, B) */
        bucket = (int)floorf(cb);
        bucket = bucket < 0 ? 0 : bucket >= B ? B - 1 : bucket;
        const float inv2s2 = 1.0f / (2.0f * c->sigma_buckets * c->sigma_buckets);
        float s = 0.0f;
        for (int b = 0; b < B; b++) {
            const float d = (float)b + 0.5f - cb;
            target[b] = expf(-d * d * inv2s2);
            s += target[b];
        }
        for (int b = 0; b < B; b++)
            target[b] /= s;
    }
    if (info) {
        info->piece = R->piece;
        info->rendering = R->index;
        info->t_s = t;
        info->last_frame = (int)last;
        info->x = x;
        info->x0 = x0;
        info->px_per_col = kx;
        info->outside = outside;
        info->bucket = bucket;
    }
}

void lec_dataset_sample(const lec_dataset *ds, uint64_t seed, int64_t step, int n, float *score,
                        float *spec, float *targets, lec_sample_info *info)
{
    const size_t ss = (size_t)ds->H * ds->W, sa = (size_t)ds->n_bands * ds->cfg.spec_frames;
    for (int i = 0; i < n; i++) {
        rng g = {mix64(mix64(seed ^ 0x6c656374ULL) + (uint64_t)step * 0x100000001b3ULL) ^
                 mix64((uint64_t)i + 0x5a5a5a5aULL)};
        one_sample(ds, &g, score + ss * i, spec + sa * i, targets + (size_t)ds->cfg.info.buckets * i,
                   info ? info + i : NULL);
    }
}

/* ------------------------------------------------------------ statistics */

lec_status lec_dataset_input_stats(const lec_dataset *ds, uint64_t seed, int n, float *score_mean,
                                   float *score_std, float *spec_mean, float *spec_std,
                                   lec_error *err)
{
    const int chunk = 16;
    const size_t ss = (size_t)ds->H * ds->W, sa = (size_t)ds->n_bands * ds->cfg.spec_frames;
    float *score = malloc(sizeof(float) * ss * chunk);
    float *spec = malloc(sizeof(float) * sa * chunk);
    float *tg = malloc(sizeof(float) * (size_t)ds->cfg.info.buckets * chunk);
    if (!score || !spec || !tg) {
        free(score);
        free(spec);
        free(tg);
        return lec_error_set(err, LEC_ENOMEM, "dataset statistics: out of memory");
    }
    double s1 = 0, s2 = 0, a1 = 0, a2 = 0;
    size_t ns = 0, na = 0;
    for (int done = 0, step = 0; done < n; step++) {
        int m = n - done < chunk ? n - done : chunk;
        lec_dataset_sample(ds, seed, step, m, score, spec, tg, NULL);
        for (size_t i = 0; i < ss * (size_t)m; i++) {
            s1 += score[i];
            s2 += (double)score[i] * score[i];
        }
        for (size_t i = 0; i < sa * (size_t)m; i++) {
            a1 += spec[i];
            a2 += (double)spec[i] * spec[i];
        }
        ns += ss * (size_t)m;
        na += sa * (size_t)m;
        done += m;
    }
    free(score);
    free(spec);
    free(tg);
    double ms = ns ? s1 / ns : 0.0, ma = na ? a1 / na : 0.0;
    double vs = ns ? s2 / ns - ms * ms : 1.0, va = na ? a2 / na - ma * ma : 1.0;
    *score_mean = (float)ms;
    *spec_mean = (float)ma;
    /* a constant input (degenerate data) keeps std 1 rather than dividing by 0 */
    *score_std = vs > 1e-12 ? (float)sqrt(vs) : 1.0f;
    *spec_std = va > 1e-12 ? (float)sqrt(va) : 1.0f;
    return LEC_OK;
}

/* ------------------------------------------------------------ evaluation */

lec_status lec_dataset_evaluate(const lec_dataset *ds, const lec_nn_net *net, uint64_t seed,
                                int n, lec_dataset_metrics *m, lec_error *err)
{
    memset(m, 0, sizeof *m);
    const lec_nn_arch *a = lec_nn_net_arch(net);
    const int n_out = ds->cfg.info.buckets, B = ds->B;
    if (a->score_h != ds->H || a->score_w != ds->W || a->spec_bands != ds->n_bands ||
        a->spec_frames != ds->cfg.spec_frames || a->n_out != n_out)
        return lec_error_set(err, LEC_EINVAL,
                             "evaluation: network inputs %dx%d / %dx%d -> %d do not match the "
                             "data %dx%d / %dx%d -> %d",
                             a->score_h, a->score_w, a->spec_bands, a->spec_frames, a->n_out,
                             ds->H, ds->W, ds->n_bands, ds->cfg.spec_frames, n_out);
    const int chunk = 32;
    const size_t ss = (size_t)ds->H * ds->W, sa = (size_t)ds->n_bands * ds->cfg.spec_frames;
    lec_nn_ctx *ctx = lec_nn_ctx_create(net, chunk, 0, err);
    if (!ctx)
        return err ? err->code : LEC_ENOMEM;
    float *score = malloc(sizeof(float) * ss * chunk);
    float *spec = malloc(sizeof(float) * sa * chunk);
    float *tg = malloc(sizeof(float) * (size_t)n_out * chunk);
    lec_sample_info *info = malloc(sizeof *info * chunk);
    lec_status st = LEC_OK;
    if (!score || !spec || !tg || !info)
        st = lec_error_set(err, LEC_ENOMEM, "evaluation: out of memory");
    double loss = 0.0;
    long c_in = 0, c_in1 = 0, c_out = 0, f_out = 0;
    for (int done = 0, step = 0; !st && done < n; step++) {
        int k = n - done < chunk ? n - done : chunk;
        lec_dataset_sample(ds, seed, step, k, score, spec, tg, info);
        st = lec_nn_forward(ctx, score, spec, k, LEC_NN_EVAL, 0, 0, err);
        if (st)
            break;
        const float *z = lec_nn_ctx_logits(ctx);
        for (int i = 0; i < k; i++) {
            const float *zi = z + (size_t)i * n_out, *ti = tg + (size_t)i * n_out;
            int am = 0;
            float zmax = zi[0];
            for (int j = 1; j < n_out; j++)
                if (zi[j] > zmax) {
                    zmax = zi[j];
                    am = j;
                }
            double se = 0.0;
            for (int j = 0; j < n_out; j++)
                se += exp((double)zi[j] - zmax);
            const double lse = zmax + log(se);
            for (int j = 0; j < n_out; j++)
                if (ti[j] > 0.0f)
                    loss -= ti[j] * ((double)zi[j] - lse);
            if (info[i].outside) {
                m->n_outside++;
                c_out += am == B;
            } else {
                m->n_inside++;
                c_in += am == info[i].bucket;
                c_in1 += am < B && abs(am - info[i].bucket) <= 1;
                f_out += am == B && ds->cfg.outside_class;
            }
        }
        done += k;
    }
    if (!st) {
        m->loss = n > 0 ? loss / n : 0.0;
        m->acc = m->n_inside ? (double)c_in / m->n_inside : 0.0;
        m->acc1 = m->n_inside ? (double)c_in1 / m->n_inside : 0.0;
        m->acc_outside = m->n_outside ? (double)c_out / m->n_outside : 0.0;
        m->false_outside = m->n_inside ? (double)f_out / m->n_inside : 0.0;
    }
    free(score);
    free(spec);
    free(tg);
    free(info);
    lec_nn_ctx_destroy(ctx);
    return st;
}
