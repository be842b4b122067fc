/* follow_app.h -- what `lectern follow`, `lectern replay`, `lectern demo` and
 * `lectern bench latency` share around the follower (hmm/lec_follower.h)
 * and the viewer (app/viewer/lec_view.h):
 *   - the common options (model, window/recording, screenshots, log, --oracle)
 *     and their help text;
 *   - loading: bundle, model, unrolled strip, follower, view, with errors that
 *     name the file and the problem;
 *   - a follower output as a viewer position (lec_view_pos);
 *   - the viewer's commands applied to the follower (space pause, arrows nudge,
 *     Home restart, R relocalise, click = seek, Q quit);
 *   - the window loop on the main thread (SDL wants video there), which only
 *     reads the latest snapshot: it never blocks the follower;
 *   - the position log (CSV), kept in memory sized at load time so that the
 *     follower thread never allocates, written atomically at the end.
 *
 * Threads: fa_load/fa_unload/fa_window_loop/fa_log_write on the main thread;
 * fa_feed, fa_out_to_pos, fa_apply_command and fa_log_push on the follower's
 * thread (no allocation, no locks, no I/O).
 *
 * --oracle RENDERING (a diagnostic and test hook, as `lectern eval --oracle`):
 * the network is replaced by the ground truth of one of the bundle's
 * renderings at the audio time of each frame (lec_eval_oracle_softmax: a bump
 * on the true bucket with half of the mass, the rest flat). Everything else --
 * capture or playback, spectrogram and level (the activity still comes from
 * the audio), tracker, commands, viewer -- is the real path. It lets tests and
 * stage rehearsals run the whole application with an untrained model; the
 * positions it shows are not a measure of the network.
 */
#ifndef LEC_FOLLOW_APP_H
#define LEC_FOLLOW_APP_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "lec_follower.h"
#include "lec_piece.h"
#include "lec_unroll.h"
#include "lec_view.h"

#define FA_MAX_SHOTS 32

/* Exit status when the environment lacks what the command needs (no display,
 * no audio device): demos/run then falls back to --headless --record. */
#define FA_EXIT_NO_ENV 3

typedef struct fa_shot {
    double t;         /* audio time, s */
    const char *path; /* PNG */
    int done;
} fa_shot;

typedef struct fa_opts {
    const char *cmd;    /* "follow", "replay", "demo": prefix of messages */
    const char *bundle;
    const char *model;
    const char *device; /* audio input (follow) or output (replay) */
    const char *record; /* --headless --record OUT */
    const char *log_path;
    const char *oracle; /* rendering name or NULL */
    lec_follow_start start;
    int w, h, pages, fullscreen, headless, hold;
    double fps;     /* 0 = default (window 60, recording 30) */
    double until_s; /* < 0: to the end */
    int oracle_after_network; /* --oracle: run the network anyway, for its cost (benchmarks) */
    int allow_default_model;  /* no --model: a random network of the default architecture
                                 (costs only: benchmarks) */
    fa_shot shots[FA_MAX_SHOTS];
    int n_shots;
} fa_opts;

void fa_opts_default(fa_opts *o, const char *cmd);
/* The common options' help lines. */
void fa_help_common(FILE *f);
/* Parses the option at argv[*i] if it is a common one: 1 consumed (*i moved
 * past its value), 0 not a common option, -1 bad value (message printed). */
int fa_parse_opt(fa_opts *o, int argc, char **argv, int *i);
/* Checks option combinations once all are parsed; -1 (message printed) if
 * they do not go together. needs_headless_output: --headless needs --record,
 * --log or --screenshot-at. */
int fa_check_opts(fa_opts *o);

/* The command line of follow / replay / demo (after --help was handled):
 * fa_opts_default(o, cmd), then the common options, the command's own option
 * `opt` that takes a value (NULL: none; its value into *opt_value) and
 * exactly n_pos positional arguments into pos[0..n_pos). Returns -1 when the
 * command goes on, else its exit status 2 (message, and usage(stderr) where
 * it helps, printed). */
int fa_parse_cmdline(fa_opts *o, const char *cmd, int argc, char **argv, void (*usage)(FILE *),
                     const char **pos, int n_pos, const char *opt, const char **opt_value);

/* Position log: one row per follower frame. */
typedef struct fa_log_row {
    double t_s;
    int64_t frame;
    int system, page, lost;
    float page_x_px, strip_x_px, confidence, tempo;
} fa_log_row;

typedef struct fa_log {
    fa_log_row *rows;
    size_t n, cap;
    uint64_t dropped; /* rows past cap */
} fa_log;

typedef struct fa_oracle {
    const lec_unroll *u;
    int rendering, B;
    float win_w;
} fa_oracle;

typedef struct fa_ctx {
    lec_piece *piece;
    lec_follow_model *model;
    lec_unroll *unroll;
    lec_follower *follower;
    lec_view *view;
    fa_oracle oracle;
    fa_log log;
    int sample_rate; /* the model's, Hz */
    size_t hop;      /* samples per follower frame */
} fa_ctx;

/* Loads the bundle (pages checked), the model, the follower (with the truth
 * observer for --oracle) and the view; log_rows > 0 and o->log_path: room for
 * that many log rows. Prints "lectern CMD: <message>" and returns -1 on
 * failure (ctx partly filled: fa_unload it). */
int fa_load(fa_ctx *c, const fa_opts *o, size_t log_rows);
void fa_unload(fa_ctx *c);

/* Room for `rows` log rows when o->log_path is set (else nothing). 0, or -1
 * (message printed) when out of memory. */
int fa_log_alloc(fa_ctx *c, const fa_opts *o, size_t rows);

/* Rendering index of `name` in the bundle, or -1 (names printed). */
int fa_find_rendering(const lec_piece *p, const char *name, const char *cmd);

void fa_out_to_pos(const lec_follow_out *o, uint32_t flags, lec_view_pos *pos);

/* What the caller must do after fa_apply_command. */
#define FA_ACT_QUIT 1u
#define FA_ACT_PAUSE 2u   /* *paused changed: pause/resume the audio too */
#define FA_ACT_RESTART 4u /* back to the start (the follower was restarted) */
/* Applies one user command to the follower: nudge, seek, relocalise and
 * restart act on the follower directly; pause only toggles *paused (the
 * caller stops feeding audio, so the position holds). Never allocates. */
unsigned fa_apply_command(lec_follower *f, const lec_view_cmd *cmd, int *paused);

/* Feeds x[0..n) to the follower (follower thread: never allocates): every
 * output is logged, *last gets the newest and, with publish_to, is published
 * with `flags`. Returns the number of outputs, or -1 (err set). */
int fa_feed(fa_ctx *c, const float *x, size_t n, lec_follow_out *last, lec_view *publish_to,
            uint32_t flags, lec_error *err);

void fa_log_push(fa_log *l, const lec_follow_out *o);
/* Writes the CSV (atomic). 0 ok, -1 (message printed). */
int fa_log_write(const fa_log *l, const char *path, const char *cmd);

/* Window loop (main thread): opens the window (failure -> message suggesting
 * --headless, returns FA_EXIT_NO_ENV), then handles events, draws the latest
 * snapshot, takes the screenshots at their audio times and presents, until
 * the user quits, SIGINT (*stop_flag), *failed, or *finished has been on
 * screen for 0.3 s (unless o->hold). Sets *quit_out when the user quit.
 * Returns 0 or 1. */
int fa_window_loop(fa_ctx *c, fa_opts *o, atomic_int *finished, atomic_int *failed,
                   volatile int *stop_flag);

/* Screenshots of a headless run: every shot whose time is <= pos->time_s is
 * rendered from pos (w x h) and announced on stdout as
 * "screenshot FILE t=T page=P system=S x=X". Returns 0 or 1. */
int fa_headless_shots(fa_ctx *c, fa_opts *o, const lec_view_pos *pos);
/* 1 if a screenshot never found its frame (message printed). */
int fa_shots_missing(const fa_opts *o);

/* The headless recording (lec_view_record, o->w x o->h at o->fps) of the view
 * to `path`, with audio_path muxed in (NULL: none); ignores SIGPIPE (a dying
 * ffmpeg is an error to report, not a kill). NULL with err set. */
lec_view_record *fa_record_create(fa_ctx *c, const fa_opts *o, const char *path,
                                  const char *audio_path, lec_error *err);
/* After a run that ended with status rc: finishes rec (when rc is 0) and
 * destroys it (NULL: nothing to do). On success says "wrote N frames (WxH,
 * F fps) to PATH" on stdout, with audio_s >= 0 also "A s of audio in T s"
 * (T: seconds since t0, lec_now_s). Returns rc, or 1 if finishing failed
 * (message printed). */
int fa_record_finish(lec_view_record *rec, const fa_opts *o, int rc, const char *path,
                     double audio_s, double t0);

/* `lectern replay` once its options are parsed (cmd_replay.c; `lectern demo`
 * calls it too). audio: a file or the name of a rendering of the bundle.
 * Returns the exit status. */
int lec_replay_run(fa_opts *o, const char *audio);

/* The demo's bundle and model under `data` (NULL: looked for next to the
 * executable, then in the source tree; cmd_demo.c). Returns 0 if the bundle
 * was found (model is filled even when that file does not exist), else -1
 * with the places looked at in `where`. */
int lec_demo_find(const char *data, char *bundle, size_t bcap, char *model, size_t mcap,
                  char *where, size_t wcap);

/* Samples the file holds, read whole at `rate` (mono). */
float *fa_read_audio(const char *path, int rate, size_t *n, const char *cmd);

#endif
