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
 *   lec_import_variant / lec_import_twin: page variants (clean, resampled,
 *                      degraded) and the imported twin of an annotated
 *                      bundle, to measure the follower on imported pages.
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
    int clean_page;       /* write pages cleaned up (lec_import_clean_page); default 1 */
} lec_import_config;

void lec_import_config_default(lec_import_config *cfg);

typedef struct lec_import_doc lec_import_doc;

/* Open a PDF (by its signature, not its name) or an image SDL2_image reads
 * (PNG, JPEG, BMP, TIFF, PNM; GIF is refused as unsafe). An image is one page; its size is read
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

/* Scan clean-up of a page, in place: divided by its background (the
 * detector's estimate: 90th percentile of 32 px blocks), then levels
 * stretched so that the ink class's 5th percentile becomes 0 and the paper
 * (median of the paper class minus twice its noise sd) becomes 255, clipped.
 * Gray paper, uneven lighting and paper noise of a scan become white paper,
 * as in the engravings the network was trained on; a clean engraving (ink 0,
 * paper 255, no noise) is unchanged. Boxes are unaffected. */
lec_status lec_import_clean_page(lec_import_image *img, lec_error *err);

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
/* A hook run by commit on piece.json's root object (cJSON) once the writer
 * has put in the pages, the systems and the empty annotations, before the
 * file is written: it may add or replace members (lec_import_twin attaches
 * the original's annotations there). A non-OK status aborts the commit. */
struct cJSON;
typedef lec_status (*lec_import_amend_fn)(void *user, struct cJSON *root, lec_error *err);
void lec_import_writer_set_amend(lec_import_writer *w, lec_import_amend_fn fn, void *user);
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

/* ---------------------------------------------------------------- page variants */

/* How a page is altered before detection, in `lectern import --evaluate` and
 * in twins: resampled by scale (area average / bilinear; 1 = untouched),
 * then, if degrade, lec_import_image_degrade with up to +-1.5 degrees of
 * rotation. The names: clean1, clean0.667, clean1.333, deg1, deg0.667,
 * deg1.333 (e.g. a 150 dpi page as 150, 100, 200 dpi). */
typedef struct lec_import_variant {
    const char *name;
    double scale;
    int degrade;
    int id; /* position in the list: part of the degradation seed */
} lec_import_variant;

#define LEC_IMPORT_VARIANT_MAX_ROT_DEG 1.5

/* The list of variants (*n of them), and one by name (NULL if unknown). */
const lec_import_variant *lec_import_variants(int *n);
const lec_import_variant *lec_import_variant_find(const char *name);
/* Degradation seed of page `page` (0-based) of the bundle named
 * `bundle_name` (its directory's base name): the same in --evaluate and in
 * twins, so a degraded twin's pages are the very pages --evaluate measured. */
uint64_t lec_import_variant_seed(const char *bundle_name, size_t page,
                                 const lec_import_variant *v);
/* Apply v to *img in place (the image is replaced). *rot_deg (may be NULL)
 * gets the rotation applied, 0 without degradation. */
lec_status lec_import_variant_apply(lec_import_image *img, const lec_import_variant *v,
                                    uint64_t seed, double *rot_deg, lec_error *err);

/* ---------------------------------------------------------------- twins */

/* The imported twin of an annotated bundle (the corpus builder's): what a
 * musician who imports the printed pages gets, scored with the original's
 * ground truth. Each page image of the bundle is read back from its PNG,
 * altered by the variant, and goes through the import pipeline exactly as
 * `lectern import PAGE.png...` (lec_import_detect: deskew, staves,
 * systems); pages without a detected system are left out (--skip-empty).
 * The twin's pages and systems are ONLY what import produced: the follower
 * reads nothing else of a bundle (pages, systems, staves' staff space).
 *
 * The original annotations are then attached for scoring only:
 *  - every head box is carried to the twin page by the known page transform
 *    (x scale, rotation applied by the degradation minus the rotation the
 *    detector removed, about the page centre);
 *  - it is assigned to the detected system that overlaps its original
 *    system (both boxes overlapping by at least half of the smaller one,
 *    horizontally and vertically) and, among those (a grand staff the
 *    detector split in two), the one nearest to the head vertically
 *    (0 inside its box: ledger-line heads lie outside the staff box); its
 *    staff is the nearest staff of that system;
 *  - a head whose original system has no such detected system is dropped
 *    ("no system"), and so is one whose x-centre lies more than half a staff
 *    space beyond the detected system's x extent ("outside": it has no place
 *    on the system's strip); the performed notes of a dropped head get
 *    head -1, so `lectern eval` leaves them out of the scoring;
 *  - performance, renderings and metadata are copied; the rendering files
 *    and the reference MIDI are hard-linked (symbolic links across file
 *    systems), so `lectern eval` takes the twin unchanged.
 * piece.json gets a "twin" object with the variant, the per-page transform
 * and the counts below. The twin is written atomically (lec_import_writer);
 * check = 1 also draws the detection into <out_dir>/check/page-N.png.
 * Refused: out_dir being the bundle itself; an existing out_dir unless
 * replace; a bundle on whose pages no system is found.
 * Thread safety: reads pages with lec_import_doc (SDL2_image): call it from
 * one thread at a time. */
typedef struct lec_import_twin_stats {
    int pages_original, pages;     /* pages in the original; in the twin */
    int systems_original, systems; /* original systems; detected ones in the twin */
    int systems_matched;  /* original systems matched one-to-one by a detected
                             one at IoU >= 0.8 (as --evaluate) */
    long heads, heads_kept;
    long heads_no_system; /* dropped: the original system was not detected */
    long heads_outside;   /* dropped: beyond the detected system's x extent */
    long notes_scored_original, notes_scored; /* performed notes with a printed head */
    double max_residual_rot_deg; /* max over pages of |rotation applied - removed| */
} lec_import_twin_stats;

/* v NULL = clean1, cfg NULL = lec_import_config_default. */
lec_status lec_import_twin(const char *bundle, const char *out_dir, const lec_import_variant *v,
                           const lec_import_config *cfg, int replace, int check,
                           lec_import_twin_stats *stats, lec_error *err);

#endif
