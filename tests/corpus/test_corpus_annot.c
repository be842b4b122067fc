/* test_corpus_annot -- the LilyPond side of the corpus builder, end to end
 * on snippets written for the test (one LilyPond run for all of them, ~3 s):
 * boxes, systems, pages, tied heads, grace notes, chords, two staves, a volta
 * repeat unfolded in the performance (position jumps back), a source
 * \unfoldRepeats MIDI score lending its tempo, exact onset times, and a
 * repeat written in one staff (or voice) only: played as printed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_corpus.h"
#include "lec_piece.h"
#include "lec_test.h"
#include "lec_util.h"

static const char *SNIPPETS =
    "\\version \"2.24.0\"\n"
    "\\header { title = \"Test\" composer = \"Nobody\" tagline = ##f }\n"
    /* mov1: two staves, chord, grace, tie into volta 1, repeat */
    "\\score { \\new PianoStaff <<\n"
    "  \\new Staff { \\tempo 4 = 120 \\repeat volta 2 { c'4 <e' g'> \\grace d'8 c'4 f'~ }\n"
    "              \\alternative { { f'1 } { g'1 } } }\n"
    "  \\new Staff { \\clef bass \\repeat volta 2 { c1 } \\alternative { { c1 } { c1 } } }\n"
    ">> \\layout { } }\n"
    /* mov2: a forced page break */
    "\\score { { c'1 \\pageBreak d'1 } \\layout { } }\n"
    /* mov3: printed with the repeat; the source's own MIDI score unfolds
     * it and sets the tempo */
    "m = { \\repeat volta 2 { c'4 d' e' f' } }\n"
    "\\score { \\m \\layout { } }\n"
    "\\score { \\unfoldRepeats \\m \\midi { \\tempo 4 = 60 } }\n"
    /* mov4: written-out and percent repeats */
    "\\score { { \\repeat unfold 2 { g'4 } \\repeat percent 2 { a'4 b' } } }\n"
    /* mov5: \unfoldRepeats in a printed score: printed folded, played unfolded */
    "\\score { \\unfoldRepeats { \\repeat volta 2 { c''4 d'' } } \\layout { } \\midi { } }\n"
    /* mov6: the repeat in the upper staff only, the lower staff written out
     * at the printed length (as some sources do): unfolding would play the
     * hands apart, so it is played as printed */
    "\\score { \\new PianoStaff <<\n"
    "  \\new Staff { \\repeat volta 2 { c''4 d'' e'' f'' } \\alternative { { g''1 } { a''1 } } }\n"
    "  \\new Staff { \\clef bass c4 c c c | d1 | e1 }\n"
    ">> \\layout { } }\n"
    /* mov7: the same in two voices of one staff */
    "\\score { \\new Staff << { \\repeat volta 2 { c''1 } \\alternative { { d''1 } { e''1 } } }\n"
    "  \\\\ { g'1 g' g' } >> \\layout { } }\n";

static int box_inside(lec_box a, lec_box b)
{
    return a.x0 >= b.x0 - 0.5f && a.x1 <= b.x1 + 0.5f && a.y0 >= b.y0 - 0.5f && a.y1 <= b.y1 + 0.5f;
}

/* seconds of performed note i at the score tempo (plain reference MIDI) */
static double score_s(const char *bundle, size_t i)
{
    char path[4200], *text;
    size_t len;
    snprintf(path, sizeof path, "%s/piece.json", bundle);
    if (lec_read_file(path, 0, &text, &len, NULL))
        return -1;
    /* find the i-th "score_s": occurrence (notes are written in order) */
    const char *p = text;
    for (size_t k = 0; p && k <= i; k++) {
        p = strstr(p, "\"score_s\":");
        if (p && k < i)
            p++;
    }
    double v = p ? atof(p + 10) : -1;
    free(text);
    return v;
}

/* 1 if the file reads and contains needle. */
static int file_has(const char *path, const char *needle)
{
    char *text = NULL;
    size_t l = 0;
    int ok = lec_read_file(path, 0, &text, &l, NULL) == LEC_OK && text && strstr(text, needle);
    free(text);
    return ok;
}

int main(void)
{
    const char *scratch = lec_test_scratch_dir("test_corpus_annot");
    char src[4200], out[4200], b1[4400], b2[4400], b3[4400];
    snprintf(src, sizeof src, "%s/snip.ly", scratch);
    snprintf(out, sizeof out, "%s/out", scratch);
    lec_write_file_atomic(src, SNIPPETS, strlen(SNIPPETS), NULL);
    lec_mkdir_p(out, NULL);

    lec_corpus_config cfg;
    lec_corpus_config_default(&cfg);
    cfg.audio = 0; /* renderings are tested by perform's tests */
    cfg.dpi = 100;
    char ly[4200];
    snprintf(ly, sizeof ly, "%s/models/corpus/lec_annot.ly", lec_test_source_dir());
    cfg.annot_ly = ly;
    lec_corpus_result res;
    lec_error err;
    char logp[4300];
    snprintf(logp, sizeof logp, "%s/snip.log", scratch);
    lec_status st = lec_corpus_build_piece(&cfg, src, "snip", out, logp, &res, &err);
    CHECKF(st == LEC_OK, "%s (log %s)", err.msg, logp);
    CHECK(res.n_bundles == 7);
    CHECK(res.heads_nontied == res.heads_nontied_with_onset);
    CHECK(res.n_as_printed == 2); /* mov6, mov7 */

    /* ---- mov1 */
    snprintf(b1, sizeof b1, "%s/snip__mov1", out);
    lec_piece *p = lec_piece_load(b1, &err);
    CHECKF(p != NULL, "%s", err.msg);
    if (p) {
        CHECK(strcmp(lec_piece_title(p), "Test") == 0);
        CHECK(lec_piece_n_systems(p) == 1);
        const lec_piece_system *sy = lec_piece_systems(p);
        CHECK(sy[0].n_staves == 2);
        const lec_piece_staff *sf = lec_piece_staves(p);
        CHECK(sf[0].box.y1 < sf[1].box.y0); /* top staff above bottom staff */
        /* 100 dpi, default staff size 20 pt: staff space = 20/4 pt = 5/72 in */
        CHECK_NEAR(sf[0].staff_space_px, 100.0 * 5.0 / 72.0, 0.05);
        const lec_piece_head *h = lec_piece_heads(p);
        size_t nh = lec_piece_n_heads(p);
        CHECK(nh == 11); /* c e g d(grace) c f f~ g | c c c */
        int n_tied = 0, n_bass = 0, n_grace = 0;
        for (size_t i = 0; i < nh; i++) {
            CHECK(box_inside(h[i].box, sy[h[i].system].box_notes));
            CHECK(h[i].box.x1 - h[i].box.x0 > 3 && h[i].box.x1 - h[i].box.x0 < 20);
            n_tied += h[i].tied;
            n_bass += h[i].staff == 1;
            if (h[i].grace_num != 0) {
                n_grace++;
                CHECK(h[i].pitch == 62 && h[i].grace_num * 8 == -h[i].grace_den);
            }
            if (h[i].staff == 1)
                CHECK(h[i].pitch == 48);
            /* x order follows time order within a staff */
            for (size_t j = 0; j < nh; j++)
                if (h[j].staff == h[i].staff && h[j].onset_wn > h[i].onset_wn + 1e-9)
                    CHECKF(h[j].box.x0 > h[i].box.x0, "head %zu (t %g) not right of %zu (t %g)",
                           j, h[j].onset_wn, i, h[i].onset_wn);
        }
        CHECK(n_tied == 1 && n_bass == 3 && n_grace == 1);
        for (size_t i = 0; i < nh; i++)
            if (h[i].tied)
                CHECK(h[i].pitch == 65 && h[i].onset_num == 1 && h[i].onset_den == 1);

        /* performance: 12 onset events, exactly at these whole-note times */
        /* the eighth grace sounds 1/4 of its value (1/32 wn) before the beat */
        const double t[] = {0, 0.25, 0.46875, 0.5, 0.75, 1, 2, 2.25, 2.46875, 2.5, 2.75, 3};
        const int nn[] = {2, 2, 1, 1, 1, 1, 2, 2, 1, 1, 1, 2};
        CHECK(lec_piece_n_events(p) == 12);
        const lec_piece_event *ev = lec_piece_events(p);
        const lec_piece_note *no = lec_piece_notes(p);
        for (size_t e = 0; e < 12 && e < lec_piece_n_events(p); e++) {
            CHECKF(ev[e].t_wn == t[e], "event %zu at %g, expected %g", e, ev[e].t_wn, t[e]);
            CHECKF(ev[e].n_notes == nn[e], "event %zu has %d notes", e, ev[e].n_notes);
        }
        if (lec_piece_n_events(p) == 12) {
            /* the repeat jumps back: event 6 plays the heads of event 0 */
            for (int k = 0; k < 2; k++)
                CHECK(no[ev[6].first_note + k].head == no[ev[0].first_note + k].head);
            CHECK(no[ev[6].first_note].head >= 0);
            /* tie: f' sounds from 3/4 for 1/4 + 1 whole note */
            const lec_piece_note *f = &no[ev[4].first_note];
            CHECK(f->pitch == 65 && fabs(f->dur_wn - 1.25) < 1e-9);
            /* the grace note is the third event */
            CHECK(no[ev[2].first_note].pitch == 62);
            /* exact seconds at quarter = 120: 1 whole note = 2 s (to half of the
             * 0.5 ms tick of the reference MIDI) */
            for (size_t e = 0; e < 12; e++)
                CHECK_NEAR(score_s(b1, (size_t)ev[e].first_note), 2.0 * t[e], 0.00025 + 1e-9);
        }
    }
    lec_piece_destroy(p);

    /* ---- mov2: \pageBreak gives two pages */
    snprintf(b2, sizeof b2, "%s/snip__mov2", out);
    p = lec_piece_load(b2, &err);
    CHECKF(p != NULL, "%s", err.msg);
    if (p) {
        CHECK(lec_piece_n_pages(p) == 2);
        CHECK(lec_piece_n_systems(p) == 2);
        CHECK(lec_piece_n_heads(p) == 2);
        if (lec_piece_n_heads(p) == 2) {
            CHECK(lec_piece_heads(p)[0].page == 0 && lec_piece_heads(p)[1].page == 1);
            CHECK(lec_piece_heads(p)[1].pitch == 62);
        }
        CHECK(lec_piece_systems(p)[1].page == 1);
    }
    lec_piece_destroy(p);

    /* ---- mov3: printed once, performed twice, tempo from the source's \midi */
    snprintf(b3, sizeof b3, "%s/snip__mov3", out);
    p = lec_piece_load(b3, &err);
    CHECKF(p != NULL, "%s", err.msg);
    if (p) {
        CHECK(lec_piece_n_heads(p) == 4);
        CHECK(lec_piece_n_notes(p) == 8);
        if (lec_piece_n_notes(p) == 8) {
            CHECK(lec_piece_notes(p)[4].head == lec_piece_notes(p)[0].head);
            CHECK(lec_piece_notes(p)[7].head == lec_piece_notes(p)[3].head);
            CHECK_NEAR(score_s(b3, 4), 4.0, 0.00025 + 1e-9); /* quarter = 60 */
        }
    }
    lec_piece_destroy(p);

    /* ---- mov4: \repeat unfold prints two heads, each played once; the
     * percent repeat plays the printed a' b' twice */
    snprintf(b3, sizeof b3, "%s/snip__mov4", out);
    p = lec_piece_load(b3, &err);
    CHECKF(p != NULL, "%s", err.msg);
    if (p) {
        CHECK(lec_piece_n_heads(p) == 4);
        CHECK(lec_piece_n_notes(p) == 6);
        if (lec_piece_n_notes(p) == 6) {
            const lec_piece_note *no = lec_piece_notes(p);
            CHECK(no[0].head != no[1].head && no[0].pitch == 67 && no[1].pitch == 67);
            CHECK(no[4].head == no[2].head && no[5].head == no[3].head && no[4].pitch == 69);
        }
    }
    lec_piece_destroy(p);

    /* ---- mov5 */
    snprintf(b3, sizeof b3, "%s/snip__mov5", out);
    p = lec_piece_load(b3, &err);
    CHECKF(p != NULL, "%s", err.msg);
    if (p) {
        CHECK(lec_piece_n_heads(p) == 2);
        CHECK(lec_piece_n_notes(p) == 4);
        if (lec_piece_n_notes(p) == 4)
            CHECK(lec_piece_notes(p)[2].head == lec_piece_notes(p)[0].head &&
                  lec_piece_notes(p)[2].pitch == 72);
    }
    lec_piece_destroy(p);

    /* ---- mov6, mov7: a repeat in one staff (or voice) only, the other
     * written out: played as printed, hands together, and said so */
    for (int mv = 6; mv <= 7; mv++) {
        snprintf(b3, sizeof b3, "%s/snip__mov%d", out, mv);
        p = lec_piece_load(b3, &err);
        CHECKF(p != NULL, "%s", err.msg);
        if (!p)
            continue;
        /* mov6: c'' d'' e'' f'' | g'' | a'' over c c c c | d | e;
         * mov7: c'' | d'' | e'' over g' | g' | g' */
        const double t6[] = {0, 0.25, 0.5, 0.75, 1, 2}, t7[] = {0, 1, 2};
        const double *t = mv == 6 ? t6 : t7;
        size_t ne = mv == 6 ? 6 : 3;
        const lec_piece_event *ev = lec_piece_events(p);
        const lec_piece_note *no = lec_piece_notes(p);
        const lec_piece_head *h = lec_piece_heads(p);
        CHECK(lec_piece_n_heads(p) == 2 * ne);
        CHECKF(lec_piece_n_events(p) == ne, "mov%d: %zu events", mv, lec_piece_n_events(p));
        CHECK(lec_piece_n_notes(p) == 2 * ne);
        for (size_t e = 0; e < ne && e < lec_piece_n_events(p); e++) {
            /* every lower note is struck with an upper one, at the printed time */
            CHECKF(ev[e].t_wn == t[e] && ev[e].n_notes == 2, "mov%d event %zu: %g wn, %d notes",
                   mv, e, ev[e].t_wn, ev[e].n_notes);
            if (ev[e].n_notes != 2)
                continue;
            const lec_piece_note *n0 = &no[ev[e].first_note], *n1 = n0 + 1;
            CHECK(n0->head >= 0 && n1->head >= 0);
            if (n0->head >= 0 && n1->head >= 0) {
                CHECK(h[n0->head].onset_wn == t[e] && h[n1->head].onset_wn == t[e]);
                CHECK(n0->pitch != n1->pitch);
                if (mv == 6)
                    CHECK(n0->staff != n1->staff);
            }
        }
        lec_piece_destroy(p);
        /* reported: piece.json and the piece log */
        char f[4600];
        snprintf(f, sizeof f, "%s/piece.json", b3);
        CHECK(file_has(f, "\"repeats\":\"as_printed\"") && file_has(f, "\"repeats_note\":\"repeats in "));
    }
    {
        char *text = NULL;
        size_t l = 0;
        CHECK(lec_read_file(logp, 0, &text, &l, NULL) == LEC_OK);
        CHECKF(text && strstr(text, "warning: snip__mov6: repeats in staff 1 only, staff 2 written "
                                    "out (their voices end together as printed, at 3 wn, but at 4 "
                                    "and 3 wn unfolded); played as printed"),
               "%s", text ? text : "");
        CHECK(text && strstr(text, "warning: snip__mov7: repeats in voice 1 of staff 1 only, voice 2 "
                                   "written out"));
        free(text);
        /* a repeat in both staves is unfolded */
        snprintf(b3, sizeof b3, "%s/snip__mov1/piece.json", out);
        CHECK(file_has(b3, "\"repeats\":\"unfolded\""));
    }

    /* two \book blocks: two output files, each with its own page 1 */
    char bsrc[4300];
    snprintf(b1, sizeof b1, "%s/books", scratch);
    lec_mkdir_p(b1, NULL);
    snprintf(bsrc, sizeof bsrc, "%s/books/books.ly", scratch);
    /* ... and an \include whose case differs from the file's name */
    const char *books = "\\version \"2.24.0\"\n"
                        "\\include \"Notes.ily\"\n"
                        "\\book { \\markup { Title page } \\pageBreak \\score { { c'1 } } }\n"
                        "\\book { \\score { \\mus } }\n";
    const char *notes = "mus = { d'1 e'1 }\n";
    lec_write_file_atomic(bsrc, books, strlen(books), NULL);
    snprintf(bsrc, sizeof bsrc, "%s/books/notes.ily", scratch);
    lec_write_file_atomic(bsrc, notes, strlen(notes), NULL);
    snprintf(bsrc, sizeof bsrc, "%s/books/books.ly", scratch);
    st = lec_corpus_build_piece(&cfg, bsrc, "books", out, logp, &res, &err);
    CHECKF(st == LEC_OK && res.n_bundles == 2, "%s", err.msg);
    snprintf(b2, sizeof b2, "%s/books__mov2", out);
    p = lec_piece_load(b2, &err);
    CHECKF(p != NULL, "%s", err.msg);
    if (p) {
        CHECK(lec_piece_n_pages(p) == 1 && lec_piece_n_heads(p) == 2);
        if (lec_piece_n_heads(p) == 2)
            CHECK(lec_piece_heads(p)[0].pitch == 62 && lec_piece_heads(p)[1].pitch == 64);
    }
    lec_piece_destroy(p);
    {
        /* book 1 starts with a title page without music: its score is on the
         * book's second image (global page index 1), not the first */
        char f[4600];
        snprintf(f, sizeof f, "%s/books__mov1/piece.json", out);
        CHECK(file_has(f, "\"engraved_page\":1"));
    }
    {
        /* the two bundles carry different page images (book 2's, not book 1's) */
        char f1[4600], f2[4600], *d1 = NULL, *d2 = NULL;
        size_t l1 = 0, l2 = 0;
        snprintf(f1, sizeof f1, "%s/books__mov1/pages/page-1.png", out);
        snprintf(f2, sizeof f2, "%s/books__mov2/pages/page-1.png", out);
        CHECK(lec_read_file(f1, 0, &d1, &l1, NULL) == LEC_OK);
        CHECK(lec_read_file(f2, 0, &d2, &l2, NULL) == LEC_OK);
        CHECK(d1 && d2 && (l1 != l2 || memcmp(d1, d2, l1) != 0));
        free(d1);
        free(d2);
    }

    /* resumable: a second run skips the finished piece */
    st = lec_corpus_build_piece(&cfg, src, "snip", out, logp, &res, &err);
    CHECK(st == LEC_OK && res.skipped == 1);

    /* a broken source fails with a cause, and leaves no bundle */
    char bad[4300];
    snprintf(bad, sizeof bad, "%s/bad/broken.ly", scratch);
    snprintf(b1, sizeof b1, "%s/bad", scratch);
    lec_mkdir_p(b1, NULL);
    const char *broken = "\\version \"2.24.0\"\n{ c'4 d'\n"; /* unterminated */
    lec_write_file_atomic(bad, broken, strlen(broken), NULL);
    st = lec_corpus_build_piece(&cfg, bad, "broken", out, logp, &res, &err);
    CHECK(st != LEC_OK);
    CHECKF(strcmp(res.cause, "lilypond") == 0 || strcmp(res.cause, "no-notes") == 0, "cause %s",
           res.cause);
    snprintf(b2, sizeof b2, "%s/broken", out);
    lec_piece *q = lec_piece_load(b2, &err);
    CHECK(q == NULL);
    return lec_test_finish("test_corpus_annot");
}
