/* lec_corpus.h -- the corpus builder: LilyPond sources -> piece bundles
 * (page images, staff systems, note-head boxes, performance order with
 * repeats unfolded, reference MIDI, audio renderings with ground truth).
 * The bundle format is described in models/corpus/README.md and read by
 * engine/piece/lec_piece.h.
 *
 * One piece = a directory of the mutopia tree (or one .ly file). Its sources
 * are copied to a work directory (the shared corpus is never modified),
 * convert-ly'd, engraved once per main file with lec_annot.ly hooked in;
 * every printed \score with notes becomes one bundle: <id> when the piece has
 * one, <id>__mov1, <id>__mov2 ... otherwise.
 *
 * Crash safety: each bundle is built in "<out>/.tmp-<name>-<pid>" and renamed
 * into place when complete (an older bundle of the same name is swapped out
 * atomically, so readers never see a partial one); "<out>/.done/<id>" marks a
 * finished piece, so a rerun skips it and redoes an interrupted one.
 *
 * Thread safety: lec_corpus_build_piece is reentrant; run pieces in parallel
 * in separate processes (the app does), since LilyPond is a subprocess anyway.
 */
#ifndef LEC_CORPUS_H
#define LEC_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "lec_error.h"

typedef struct lec_corpus_config {
    int dpi;                          /* page images, default 150 */
    double timeout_s;                 /* per convert-ly / lilypond run, default 600 */
    const char *const *soundfonts;    /* default FluidR3_GM.sf2 + TimGM6mb.sf2 */
    int n_soundfonts;
    const double *tempos;             /* tempo factors, default {1.0} */
    int n_tempos;
    int humanize;                     /* renderings with lec_perform's humanized timing */
    int allow_eval_soundfont;         /* MuseScore General: only for evaluation data */
    int audio;                        /* 0: no renderings (annotations + reference MIDI only) */
    const char *annot_ly;             /* default: the lec_annot.ly of the source tree */
    int keep_work;                    /* keep the work directory (debugging) */
} lec_corpus_config;

void lec_corpus_config_default(lec_corpus_config *cfg);

/* Outcome of one piece, for the batch summary. */
typedef struct lec_corpus_result {
    int skipped;             /* already built (.done marker present) */
    int n_bundles;
    char cause[32];          /* failure category ("" on success): convert-ly, lilypond, lilypond-crash,
                                lilypond-timeout, no-notes, pages, annotations, audio, io */
    int64_t heads, heads_nontied, heads_nontied_with_onset;
    int64_t perf_notes, perf_notes_with_head;
    int n_as_printed;        /* bundles played as printed: repeats not unfolded in every staff */
    double t_engrave_s, t_audio_s, t_total_s;
} lec_corpus_result;

/* Build one piece. src: a piece directory or a .ly file; id: the bundle name
 * prefix (e.g. "ChopinFF__O28__prelude-4"); out_dir must exist; log_path:
 * per-piece log (appended: commands, their output, what failed and why).
 * Returns LEC_OK if at least one bundle was built; on failure res->cause
 * says the category and err the details. */
lec_status lec_corpus_build_piece(const lec_corpus_config *cfg, const char *src, const char *id,
                                  const char *out_dir, const char *log_path,
                                  lec_corpus_result *res, lec_error *err);

/* Sources of a build: arg is a piece directory, a .ly file, a tree root
 * containing index.json, or an index.json. For a tree, every index entry is
 * listed (split filter "train"/"valid" or NULL for all). */
typedef struct lec_corpus_item {
    char src[1024];
    char id[256];
    char split[16];
} lec_corpus_item;

lec_status lec_corpus_list_sources(const char *arg, const char *split, lec_corpus_item **items,
                                   size_t *n_items, lec_error *err);

#endif
