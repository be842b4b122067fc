/* lec_import.h -- make a clean score (PDF or page images) followable: pages
 * rendered (poppler) or decoded (SDL2_image) to gray, deskewed, staff lines
 * found and grouped into staves and systems, written as a piece bundle
 * (models/corpus/README.md) with pages and systems but no note annotations.
 *
 * The pieces, in pipeline order:
 *   lec_import_doc     a PDF or an image file -> gray pages (size-checked
 *                      before anything big is allocated)
 *   lec_import_detect  gray page -> skew angle, staves, systems (deskews the
 *                      page in place)
 *   lec_import_writer  pages + systems -> bundle directory, atomically
 *                      (built in a temporary directory, then renamed)
 *   lec_import_draw_check  what the detector found, drawn onto a PNG
 *   lec_import_image_resample / _rotate / _degrade, lec_import_match:
 *                      the measurement against LilyPond's own boxes
 *                      (engine/import/README.md).
 *
 * Units: pixels of the page image (origin top-left, y down), degrees for
 * angles (positive = the page content is turned counter-clockwise on screen,
 * i.e. a line's right end is higher than its left end).
 * Pixels: uint8 gray, 255 = white paper, 0 = black ink, row-major.
 *
 * Thread safety: all objects belong to one thread; different objects may be
 * used from different threads, except that lec_import_doc for images uses
 * SDL2_image (not documented as thread-safe: open images from one thread).
 * Nothing here may be called on the audio callback (allocates, does I/O).
 */
#ifndef LEC_IMPORT_H
#define LEC_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "lec_error.h"
#include "lec_piece.h" /* lec_box */

/* ---------------------------------------------------------------- images */

typedef struct lec_import_image {
    int width_px, height_px;
    uint8_t *gray; /* (height_px, width_px), malloc'd, owned by the image */
} lec_import_image;

/* Allocate a white w x h image. Refuses sizes beyond LEC_IMPORT_MAX_SIDE_PX. */
lec_status lec_import_image_alloc(lec_import_image *img, int w, int h, lec_error *err);
void lec_import_image_free(lec_import_image *img); /* zeroes it; NULL-safe */

/* Hard limits: no page is ever decoded or allocated beyond them.
 * 16000 px is a 1.3 m long page at 300 dpi; 80 Mpx is A3 at 600 dpi. */
#define LEC_IMPORT_MAX_SIDE_PX 16000
#define LEC_IMPORT_MAX_AREA_PX 80000000.0

/* ---------------------------------------------------------------- input */

typedef struct lec_import_config {
    float dpi;            /* PDF rendering resolution; default 150 */
    const char *password; /* PDF user password, NULL = none */
    int max_side_px;      /* pages larger than this: PDFs are rendered at a lower
                             dpi (with a warning), images are refused;
                             default and upper bound LEC_IMPORT_MAX_SIDE_PX */
    double max_area_px;   /* same for width x height; default LEC_IMPORT_MAX_AREA_PX */
    float max_skew_deg;   /* deskew searches +-this; default 3, 0 = no deskew */
} lec_import_config;

void lec_import_config_default(lec_import_config *cfg);

typedef struct lec_import_doc lec_import_doc;

/* Open a PDF (by its signature, not its name) or an image SDL2_image reads
 * (PNG, JPEG, BMP, GIF, TIFF, PNM...). An image is one page; its size is read
 * from the file header first, and an image beyond the limits is refused
 * before it is decoded. Errors: missing file, encrypted PDF without (or with
 * a wrong) password, broken file, unknown format, a page too large. */
lec_import_doc *lec_import_doc_open(const char *path, const lec_import_config *cfg,
                                    lec_error *err);
int lec_import_doc_n_pages(const lec_import_doc *d);
/* 1 for PDFs (page size in points is known), 0 for images. */
int lec_import_doc_is_pdf(const lec_import_doc *d);
/* Render / decode page i (0-based) as gray into *out (allocated here; free
 * with lec_import_image_free). If a PDF page had to be rendered below the
 * configured dpi to stay within the limits, warn (if non-NULL) gets a
 * message, else warn[0] = 0. *dpi_out (may be NULL) gets the dpi used (0 for
 * images). */
lec_status lec_import_doc_page(lec_import_doc *d, int i, lec_import_image *out, float *dpi_out,
                               char *warn, size_t warn_cap, lec_error *err);
void lec_import_doc_destroy(lec_import_doc *d); /* NULL-safe */

/* ---------------------------------------------------------------- detector */

typedef struct lec_import_staff {
    lec_box box;           /* top edge of the top line to bottom edge of the bottom
                              line, x over the extent of the lines */
    float line_y[5];       /* line centres, px; all five equal for a one-line
                              staff (RhythmicStaff) joined to a system */
    float staff_space_px;  /* (line_y[4] - line_y[0]) / 4; a one-line staff
                              takes its neighbour's */
    float line_thickness_px;
} lec_import_staff;

typedef struct lec_import_system {
    lec_box box; /* union of its staves */
    int first_staff, n_staves;
} lec_import_system;

typedef struct lec_import_result {
    float skew_deg;          /* rotation found and removed (0 if none) */
    float staff_space_px;    /* page estimate from run lengths (0 if no staff) */
    float line_thickness_px;
    lec_import_staff *staves; /* top to bottom */
    size_t n_staves;
    lec_import_system *systems; /* top to bottom */
    size_t n_systems;
} lec_import_result;

/* Find the staves and systems of a page. If the page is rotated by more than
 * ~0.02 degrees (within +-cfg->max_skew_deg), img is replaced by the deskewed
 * page (same size, rotated about its centre, corners filled white) and the
 * boxes refer to it. A page without staves is not an error: n_systems = 0
 * (the caller decides). *res must be zeroed or previously freed; free it with
 * lec_import_result_free. */
lec_status lec_import_detect(lec_import_image *img, const lec_import_config *cfg,
                             lec_import_result *res, lec_error *err);
void lec_import_result_free(lec_import_result *res); /* zeroes it; NULL-safe */

/* ---------------------------------------------------------------- bundle */

typedef struct lec_import_writer lec_import_writer;

/* Start a bundle at out_dir: everything is written to "<out_dir>.tmp-<pid>"
 * first. out_dir must not exist unless replace is set (then an existing
 * bundle there is replaced at commit; a non-bundle directory is refused). */
lec_import_writer *lec_import_writer_create(const char *out_dir, const char *title,
                                            const char *source, int replace, lec_error *err);
/* Add a page (written as pages/page-N.png) with its systems. dpi 0 = unknown. */
lec_status lec_import_writer_add_page(lec_import_writer *w, const lec_import_image *img,
                                      const lec_import_result *res, float dpi, lec_error *err);
/* Write piece.json and move the bundle into place. Refuses a bundle without
 * any system. */
lec_status lec_import_writer_commit(lec_import_writer *w, lec_error *err);
/* Path of the temporary directory (for --check images written into it). */
const char *lec_import_writer_tmp_dir(const lec_import_writer *w);
/* Removes the temporary directory unless committed. NULL-safe. */
void lec_import_writer_destroy(lec_import_writer *w);

/* Draw the detection onto a copy of the page and save it as PNG at path:
 * staff lines (red), staff boxes (blue), system boxes (green) with their
 * number first_system + k (1-based in the drawing) in digits at the left. */
lec_status lec_import_draw_check(const char *path, const lec_import_image *img,
                                 const lec_import_result *res, int first_system,
                                 lec_error *err);

/* ---------------------------------------------------------------- measurement */

/* Resample by scale (out size = round(in size x scale)): area average when
 * shrinking, bilinear when enlarging. */
lec_status lec_import_image_resample(const lec_import_image *in, double scale,
                                     lec_import_image *out, lec_error *err);
/* Rotate by deg (see Units) about the centre into a same-size image, bilinear,
 * outside filled with the gray level fill (255 = white), or with the
 * nearest edge pixel if fill < 0. */
lec_status lec_import_image_rotate(const lec_import_image *in, double deg, int fill,
                                   lec_import_image *out, lec_error *err);

/* Scan-like degradation, deterministic for a seed. *rot_deg gets the rotation
 * applied (uniform in +-max_rot_deg), so that a caller can rotate reference
 * boxes. In order: rotation about the centre, Gaussian blur (sigma uniform in
 * [0.4, 1.0] px), uneven contrast (paper 255 -> 175..255 along a random
 * linear ramp plus a low-frequency wave, ink lifted to 0..70), Gaussian noise
 * (sd 6..14 levels), 0.02% salt-and-pepper specks. */
lec_status lec_import_image_degrade(lec_import_image *img, uint64_t seed, double max_rot_deg,
                                    double *rot_deg, lec_error *err);

/* Intersection over union of two boxes (0 if either is empty). */
double lec_box_iou(const lec_box *a, const lec_box *b);
/* Greedy one-to-one matching by decreasing IoU; pairs below iou_min do not
 * match. Returns the number of matched pairs (true positives). */
int lec_import_match(const lec_box *truth, int n_truth, const lec_box *found, int n_found,
                     double iou_min);

#endif
