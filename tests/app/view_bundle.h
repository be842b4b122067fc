/* view_bundle.h -- a small generated piece bundle whose ground truth is
 * known in closed form, for the viewer tests.
 *
 * 3 pages of VB_PW x VB_PH px (white). Page p carries p + 1 black squares
 * (VB_MARK px, at y in [20, 20 + VB_MARK), x = 20 + 40 j) so that a test can
 * tell which page is on screen. Each page has 2 systems (2 staves of 5 lines,
 * staff space VB_SS) with staff box x in [50, 550]; system s of a page has
 * its top line at y = 150 + 350 s and its bottom line 140 px lower.
 * Systems are numbered 0..5 in reading order (page = system / 2).
 * Each system has 3 heads at page x 150, 300, 450; the performance plays the
 * 18 heads in order, event i at time vb_event_t(i) = 1 + 0.5 i s (system i/3,
 * x vb_head_x(i % 3)); the rendering lasts 10.5 s.
 * Between two heads of the same system the true position moves linearly. */
#ifndef VIEW_BUNDLE_H
#define VIEW_BUNDLE_H

#define VB_PW 600
#define VB_PH 800
#define VB_SS 10
#define VB_MARK 20
#define VB_PAGES 3
#define VB_SYSTEMS 6
#define VB_EVENTS 18
#define VB_DURATION_S 10.5

static inline double vb_event_t(int i) { return 1.0 + 0.5 * i; }
static inline float vb_head_x(int j) { return 150.0f + 150.0f * (float)j; }
static inline float vb_sys_top(int k) { return 150.0f + 350.0f * (float)(k % 2); }

/* Write the bundle into dir (created). with_audio: a real 10.5 s FLAC (a
 * quiet tone) instead of an empty placeholder. Returns 0 on success. */
int vb_write(const char *dir, int with_audio);

/* A quiet 440 Hz tone of duration_s, mono FLAC at 22050 Hz. 0 on success. */
int vb_write_tone(const char *path, double duration_s);
/* A rendering's ground truth (.truth.json): note and event i at t[i] s, n of
 * them. 0 on success. */
int vb_write_truth(const char *path, const double *t, int n);

/* Expected true page x at time t if t lies between two heads of the same
 * system (returns the system, else -1). */
int vb_truth(double t, float *page_x);

#endif
