/* lec_piece.h -- a piece bundle: page images, staff systems, note heads,
 * performance order (repeats unfolded) and audio renderings with ground truth.
 * Written by the corpus builder (models/corpus), format in
 * models/corpus/README.md. The loader validates everything it returns:
 * indices are in range, boxes lie inside their page, times are finite,
 * page images exist and have the declared size. Any byte sequence gives a
 * piece or an error naming the file and the problem, never a crash.
 *
 * Units: pixels of the page images (origin top-left, y down), whole notes
 * for musical time, seconds for audio time.
 *
 * Thread safety: a lec_piece is immutable after load; concurrent reads are
 * safe. Not for the audio callback (load allocates and reads files).
 */
#ifndef LEC_PIECE_H
#define LEC_PIECE_H

#include <stddef.h>
#include <stdint.h>

#include "lec_error.h"

#define LEC_PIECE_FORMAT "lectern-piece"
#define LEC_PIECE_VERSION 1

typedef struct lec_box {
    float x0, y0, x1, y1; /* px, x0 <= x1, y0 <= y1 */
} lec_box;

typedef struct lec_piece_page {
    char image[256]; /* path relative to the bundle, e.g. "pages/page-1.png" */
    int width_px, height_px;
} lec_piece_page;

typedef struct lec_piece_staff {
    lec_box box;          /* the staff lines */
    float staff_space_px; /* distance of two staff lines */
} lec_piece_staff;

typedef struct lec_piece_system {
    int page;
    lec_box box;          /* union of its staves */
    lec_box box_notes;    /* grown to include every head (ledger lines) */
    int first_staff, n_staves; /* into lec_piece_staves() */
} lec_piece_system;

typedef struct lec_piece_head {
    int page, system, staff; /* staff: 0 = top staff of its system */
    lec_box box;
    int pitch;              /* MIDI */
    int64_t onset_num, onset_den; /* printed musical onset, whole notes (main part) */
    int64_t grace_num, grace_den; /* grace part (<= 0), 0/1 for ordinary notes */
    double onset_wn;        /* main + grace as a float */
    int tied;               /* tied continuation: sounds, but no onset */
    char origin[96];        /* file:line:column of the note in the source */
} lec_piece_head;

/* One performed note in the unfolded score. */
typedef struct lec_piece_note {
    double t_wn;     /* performance time, whole notes from the start (>= 0) */
    double dur_wn;   /* sounding duration incl. tied continuations */
    int pitch;
    int velocity;    /* 0 = unspecified */
    int head;        /* printed head index, -1 if it has none */
    int staff;
    int event;       /* index of its onset event */
} lec_piece_note;

/* An onset event of the performance order: all notes struck together. */
typedef struct lec_piece_event {
    double t_wn;
    int first_note, n_notes; /* into lec_piece_notes(), consecutive */
} lec_piece_event;

typedef struct lec_piece_rendering {
    char name[64];
    char audio[256];        /* relative path of the FLAC */
    char midi[256];
    char soundfont[128];
    double tempo_factor;
    int humanized;
    double duration_s;
    double *onset_s;        /* per performed note (n_notes), ground truth */
    double *event_onset_s;  /* per event: earliest onset of its notes */
} lec_piece_rendering;

typedef struct lec_piece lec_piece;

/* Load dir/piece.json and each rendering's ground truth, check the page
 * images (PNG signature and IHDR size; pixels are not decoded). */
lec_piece *lec_piece_load(const char *dir, lec_error *err);
/* Same from an in-memory piece.json (dir used for images/renderings and
 * messages; check_files = 0 skips every file access: for fuzzing). */
lec_piece *lec_piece_parse(const char *json, size_t len, const char *dir, int check_files,
                           lec_error *err);
void lec_piece_destroy(lec_piece *p); /* NULL-safe */

const char *lec_piece_dir(const lec_piece *p);
const char *lec_piece_title(const lec_piece *p);
const char *lec_piece_composer(const lec_piece *p);
const char *lec_piece_license(const lec_piece *p);
const char *lec_piece_source(const lec_piece *p);

size_t lec_piece_n_pages(const lec_piece *p);
const lec_piece_page *lec_piece_pages(const lec_piece *p);
size_t lec_piece_n_systems(const lec_piece *p);
const lec_piece_system *lec_piece_systems(const lec_piece *p);
size_t lec_piece_n_staves(const lec_piece *p);
const lec_piece_staff *lec_piece_staves(const lec_piece *p);
size_t lec_piece_n_heads(const lec_piece *p);
const lec_piece_head *lec_piece_heads(const lec_piece *p);
size_t lec_piece_n_notes(const lec_piece *p);
const lec_piece_note *lec_piece_notes(const lec_piece *p);
size_t lec_piece_n_events(const lec_piece *p);
const lec_piece_event *lec_piece_events(const lec_piece *p);
size_t lec_piece_n_renderings(const lec_piece *p);
const lec_piece_rendering *lec_piece_renderings(const lec_piece *p);

/* Full path of a file of the bundle (page image, audio): dir + "/" + rel. */
void lec_piece_path(const lec_piece *p, const char *rel, char *buf, size_t cap);

#endif
