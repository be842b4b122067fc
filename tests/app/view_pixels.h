/* view_pixels.h -- reading viewer screenshots in tests: where the pages are,
 * which page each is (by its count of black squares, view_bundle.h), and
 * where the marker is. Independent of the viewer's layout code: pages are
 * found as light rectangles on the dark background. */
#ifndef VIEW_PIXELS_H
#define VIEW_PIXELS_H

#include <stdint.h>

typedef struct vp_img {
    int w, h;
    uint8_t *rgb; /* (h, w, 3) */
} vp_img;

typedef struct vp_page {
    int x0, y0, x1, y1; /* inclusive-exclusive screen rect */
    int page;           /* page index from its marks, -1 if unreadable */
} vp_page;

int vp_load(const char *png, vp_img *img); /* 0 ok */
void vp_free(vp_img *img);
/* strong marker colour (LEC_VIEW_MARKER_*), loose enough for video codecs */
int vp_is_marker(const uint8_t *px, int loose);
/* Pages found left to right (at most max); returns how many. */
int vp_find_pages(const vp_img *img, vp_page *pages, int max);
/* Bounding box and count of marker pixels. Returns the count. */
int vp_marker_box(const vp_img *img, int loose, int *x0, int *y0, int *x1, int *y1);


/* Check a frame of the view_bundle piece: the pages shown are exactly
 * pages[0..n_pages) (left to right); if marker_page >= 0 the marker is on
 * that page at page x (within tol_px output px), spanning the system's staff
 * height plus one staff space each way; if marker_page < 0, no marker.
 * Counts failures through lec_test.h; returns 0 if all passed. */
int vp_check_frame(const char *png, const int *pages, int n_pages, int marker_page,
                   int system, float page_x, float tol_px, int loose);
#endif
