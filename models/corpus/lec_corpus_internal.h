/* lec_corpus_internal.h -- shared by the corpus builder's .c files only:
 * the annotation records parsed from lec_annot.ly's TSV, the page geometry,
 * and small file helpers. Not a public header. */
#ifndef LEC_CORPUS_INTERNAL_H
#define LEC_CORPUS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "lec_corpus.h"
#include "lec_error.h"

#define ID_SCORE_STRIDE 10000000L /* lec_annot.ly: id = score * stride + n */

/* Grace notes are written with their own durations (an eighth grace is
 * -1/8 wn before the beat in LilyPond's moment) but played much faster:
 * they sound before the beat at a quarter of their written value, which is
 * close to what LilyPond's own MIDI does (measured: -1/8 -> 44 of 1536 ticks
 * per whole note, ours 48). */
#define GRACE_SCALE 0.25

/* ---- annotation records (page units until lec_corpus_layout, then px) */
typedef struct {
    int page_ly, sysrank, book;
    double box[4]; /* page units, y up */
    int64_t mn, md, gn, gd;
    int pitch;
    char origin[96];
    char staff_key[24];
    long id;
    int tied;
    /* derived */
    int score, sys, staff, out_index;
} head_t;

typedef struct {
    int page_ly, sysrank, book;
    double box[4];
    char key[24];
    double ss;
    int sys, index;
} staff_t;

typedef struct {
    char tag[16];
    long id;
    int64_t mn, md, gn, gd;
    int pitch;
    double dur;
    int vel;
    char origin[96];
} perf_t;

typedef struct {
    char tag[16];
    double t, v; /* t whole notes; v bpm or pedal value */
} cue_t;

/* A Voice-level context of a MIDI twin (lec_annot.ly's VEND line): its
 * creation moment and the end of its last note/rest/skip, main parts in
 * whole notes as exact rationals. */
typedef struct {
    char tag[16];
    int ordinal; /* creation order among the twin's voices */
    int64_t sn, sd, en, ed;
    long n_notes, first_id;
    char ctx[32]; /* context id, "-" if none */
} vend_t;

typedef struct {
    head_t *heads;
    size_t n_heads, cap_heads;
    staff_t *staves;
    size_t n_staves, cap_staves;
    perf_t *perf;
    size_t n_perf, cap_perf;
    cue_t *tempo;
    size_t n_tempo, cap_tempo;
    cue_t *pedal;
    size_t n_pedal, cap_pedal;
    long *ties;
    size_t n_ties, cap_ties;
    vend_t *vends;
    size_t n_vends, cap_vends;
    double paper_w, paper_h;
    int n_scores;
    char instruments[16][64];
    int n_instruments;
    char books[32][128]; /* output base names, in the order LilyPond wrote them */
    int n_books;
} annot_t;

typedef struct {
    char title[256], composer[128], license[128], source[256], opus[64], date[64];
    char source_path[1024];
} meta_t;

typedef struct {
    int sys_page, sysrank;
    double box[4], box_notes[4]; /* px */
    int first_staff, n_staves;
    int out_page;
} sys_t;


/* ---- small helpers */
static inline int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static inline int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static inline int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static inline double rat(int64_t n, int64_t d) { return (double)n / (double)d; }

/* Append a line to the per-piece log (no-op if log_path is NULL). */
void lec_corpus_log(const char *log_path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* rm -rf path (absent is fine). */
lec_status lec_corpus_rm_rf(const char *path, lec_error *err);
/* Width/height from a PNG's IHDR; 0 if it is not a PNG. */
int lec_corpus_png_size(const char *path, int *w, int *h);
lec_status lec_corpus_copy_file(const char *from, const char *to, lec_error *err);

/* ---- lec_corpus_annot.c */
lec_status lec_corpus_annot_parse(const char *path, annot_t *a, lec_error *err);
void lec_corpus_annot_free(annot_t *a);
/* Staves -> systems; heads -> (system, staff); everything to px (scale =
 * px per page unit); heads sorted by (score, time, staff, pitch). */
lec_status lec_corpus_layout(annot_t *a, double scale, sys_t **systems_out, size_t *n_sys_out,
                             lec_error *err);

/* ---- lec_corpus_bundle.c: the bundle of printed score k, built in a
 * temporary directory and renamed (or swapped) into out_dir/name. */
lec_status lec_corpus_write_bundle(const lec_corpus_config *cfg, annot_t *a, int k,
                                   sys_t *systems, size_t n_sys, char **pngs, int n_pngs,
                                   int page_base, const meta_t *meta, const char *out_dir,
                                   const char *name, const char *log_path, lec_corpus_result *res,
                                   lec_error *err);

#endif
