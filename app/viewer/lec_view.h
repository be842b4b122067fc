/* lec_view.h -- the score viewer: page images with the follower's position
 * as a marker, drawn in an SDL2 window or, with the very same drawing code,
 * into an offscreen surface for headless recording (PNG frames or a video
 * through ffmpeg).
 *
 * Threads (see lec_view_sync.h for the mechanisms):
 *   follower thread(s): lec_view_publish() the latest position, and
 *                       lec_view_poll_command() what the user asked for
 *                       (pause, nudge, restart, relocalise, seek, quit); both
 *                       wait-free, no allocation: safe on the tracking thread.
 *   render thread:      everything else (lec_view_window_*, lec_view_record_*),
 *                       which SDL requires to be the thread that initialised
 *                       the video subsystem (the main thread) for windows.
 * The viewer never blocks the follower; a slow display only means frames
 * show a later snapshot.
 *
 * What is drawn: the pages (lec_view_layout.h: placement, page turning), a
 * faint box around the current system, a vertical bar at the position
 * (LEC_VIEW_MARKER_RGB, the system's staff height plus one staff space above
 * and below, ~0.7 staff space wide, >= 3 px) -- orange and translucent while
 * the follower is lost --, a small confidence bar in the bottom-right corner
 * (green; orange while lost), a pause sign (top-right) while paused and, in
 * the normal (non-stage) mode, one dot per page at the bottom. Page images
 * are resampled by area averaging to the output scale when the layout
 * changes (allocates; not per frame), so small windows stay legible.
 *
 * Stage mode (fullscreen): black surround, the same marker, the indicator
 * smaller and dimmer, no page dots, no title updates.
 *
 * Keyboard/mouse (window): space pause/resume, Left/Right nudge one system,
 * Home restart, R relocalise, Q/Escape quit, F toggle stage mode (fullscreen),
 * left click on a system: seek there. All but F become lec_view_cmd for the
 * follower.
 */
#ifndef LEC_VIEW_H
#define LEC_VIEW_H

#include <stdint.h>

#include "lec_error.h"
#include "lec_piece.h"
#include "lec_view_sync.h"

/* The marker colour (pages are grayscale, so this never occurs in them). */
#define LEC_VIEW_MARKER_R 235
#define LEC_VIEW_MARKER_G 20
#define LEC_VIEW_MARKER_B 60

typedef struct lec_view_config {
    int width_px, height_px; /* window's initial size / recording size (1280 x 800) */
    int fullscreen;          /* start in stage mode (window only) */
    int pages_per_view;      /* 0 = automatic, 1 or 2 */
    float turn_frac_single;  /* see lec_view_layout.h (0.75) */
    float turn_frac_double;  /* (0) */
    double fps;              /* window: frame-rate cap when vsync is not available
                                (60); recording uses lec_view_record_config.fps */
    const char *title;       /* window title prefix; NULL = the piece's title */
} lec_view_config;

void lec_view_config_default(lec_view_config *cfg);

typedef struct lec_view lec_view;

/* Loads and decodes every page image of p (gray), which must outlive the
 * view. NULL + message naming the file on failure. No SDL video needed. */
lec_view *lec_view_create(const lec_piece *p, const lec_view_config *cfg, lec_error *err);
void lec_view_destroy(lec_view *v); /* NULL-safe; closes the window */

/* --- follower side: any thread, wait-free, never allocate --- */
void lec_view_publish(lec_view *v, const lec_view_pos *pos);
/* 1 and *cmd filled if the user asked for something; one consumer thread. */
int lec_view_poll_command(lec_view *v, lec_view_cmd *cmd);

/* --- render thread --- */
/* The latest published position (or the last one read if a write races). 0
 * if none was published yet. */
int lec_view_latest(lec_view *v, lec_view_pos *out);
/* Queue a command as if the user had pressed a key (tests, scripts). */
int lec_view_send_command(lec_view *v, const lec_view_cmd *cmd);

/* Window. open: initialises SDL video, creates the window and a renderer
 * (accelerated with vsync, else software). Fails with LEC_EDEVICE and a
 * message suggesting --headless when there is no display. */
lec_status lec_view_window_open(lec_view *v, lec_error *err);
/* Handle pending events without waiting (keys -> commands, resize, hide,
 * renderer resets). *quit = 1 once the user asked to quit or closed the
 * window (a QUIT command has then been queued for the follower too). */
lec_status lec_view_window_events(lec_view *v, int *quit, lec_error *err);
/* 0 while the window is minimised or hidden: skip drawing, wait for events. */
int lec_view_window_visible(const lec_view *v);
/* Draw the latest snapshot into the back buffer; *drawn (may be NULL) gets
 * the snapshot used (valid = 0 if none). Fails (LEC_EDEVICE) only after the
 * renderer has failed for a second in a row (display gone). */
lec_status lec_view_window_draw(lec_view *v, lec_view_pos *drawn, lec_error *err);
/* Save the back buffer just drawn (before present) as PNG (atomic write). */
lec_status lec_view_window_screenshot(lec_view *v, const char *png_path, lec_error *err);
/* Show the frame; sleeps as needed so that frames are >= 1/fps apart. */
void lec_view_window_present(lec_view *v);
void lec_view_window_close(lec_view *v); /* NULL-safe, idempotent */
int lec_view_window_stage(const lec_view *v); /* 1 in stage (fullscreen) mode */

/* --- headless recording (render thread; no display needed) --- */
typedef struct lec_view_record_config {
    int width_px, height_px; /* frame size (the view config's size if 0) */
    double fps;              /* frame rate (30) */
    const char *audio_path;  /* video only: muxed in if non-NULL (AAC) */
    double audio_offset_s;   /* video only: audio time of the first frame */
} lec_view_record_config;

void lec_view_record_config_default(lec_view_record_config *cfg);

typedef struct lec_view_record lec_view_record;

/* out: a path ending in .mp4, .mkv, .mov or .webm -> a video written by
 * ffmpeg through a pipe (LEC_EEXTERNAL if ffmpeg is not installed); anything
 * else is a directory (created) receiving frame-000000.png, ... The video is
 * written to a temporary file and renamed at finish, PNG frames each
 * atomically. A writer to ffmpeg gets EPIPE, not SIGPIPE, only if the process
 * ignores SIGPIPE: callers should do signal(SIGPIPE, SIG_IGN). */
lec_view_record *lec_view_record_create(lec_view *v, const char *out,
                                        const lec_view_record_config *cfg, lec_error *err);
/* Render the latest published snapshot as the next frame and write it. */
lec_status lec_view_record_frame(lec_view_record *r, lec_error *err);
int64_t lec_view_record_n_frames(const lec_view_record *r);
/* The last frame rendered (XRGB8888 surface: SDL_Surface*, as void* to keep
 * SDL out of this header); for tests and screenshots. */
const void *lec_view_record_surface(const lec_view_record *r);
/* Video: close the pipe, wait for ffmpeg, rename into place. PNG: no-op. */
lec_status lec_view_record_finish(lec_view_record *r, lec_error *err);
/* NULL-safe; a video not finished is discarded (ffmpeg stopped, temporary removed). */
void lec_view_record_destroy(lec_view_record *r);

/* One offscreen frame of position pos at w x h into png_path (README
 * screenshots, tests). stage = 1 draws the stage-mode look. */
lec_status lec_view_render_png(lec_view *v, const lec_view_pos *pos, int w, int h, int stage,
                               const char *png_path, lec_error *err);

#endif
