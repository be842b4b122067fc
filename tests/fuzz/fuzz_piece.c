/* fuzz_piece.c -- piece.json (engine/piece/lec_piece.h) from memory, no file
 * access (check_files = 0). A piece the loader accepts must keep the
 * header's promises: every index in range, boxes ordered and inside their
 * page, times finite; this target aborts (a finding) if one is broken. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "lec_piece.h"

static void require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_piece: accepted a piece that breaks: %s\n", what);
        abort();
    }
}

static int box_in_page(const lec_box *b, const lec_piece_page *pg)
{
    return isfinite(b->x0) && isfinite(b->y0) && isfinite(b->x1) && isfinite(b->y1) &&
           b->x0 <= b->x1 && b->y0 <= b->y1 && b->x0 >= 0 && b->y0 >= 0 &&
           b->x1 <= pg->width_px && b->y1 <= pg->height_px;
}

static void check_piece(const lec_piece *p)
{
    size_t np = lec_piece_n_pages(p), ns = lec_piece_n_systems(p), nst = lec_piece_n_staves(p);
    size_t nh = lec_piece_n_heads(p), nn = lec_piece_n_notes(p), ne = lec_piece_n_events(p);
    const lec_piece_page *pages = lec_piece_pages(p);
    const lec_piece_system *sys = lec_piece_systems(p);
    const lec_piece_staff *staves = lec_piece_staves(p);
    const lec_piece_head *heads = lec_piece_heads(p);
    const lec_piece_note *notes = lec_piece_notes(p);
    const lec_piece_event *events = lec_piece_events(p);
    for (size_t i = 0; i < np; i++)
        require(pages[i].width_px > 0 && pages[i].height_px > 0, "page size > 0");
    for (size_t i = 0; i < ns; i++) {
        require(sys[i].page >= 0 && (size_t)sys[i].page < np, "system page in range");
        require(box_in_page(&sys[i].box, &pages[sys[i].page]), "system box inside its page");
        require(sys[i].first_staff >= 0 && sys[i].n_staves >= 1 &&
                    (size_t)sys[i].first_staff + (size_t)sys[i].n_staves <= nst,
                "system staves in range");
    }
    for (size_t i = 0; i < nst; i++)
        require(isfinite(staves[i].staff_space_px) && staves[i].staff_space_px > 0,
                "staff space > 0");
    for (size_t i = 0; i < nh; i++) {
        const lec_piece_head *h = &heads[i];
        require(h->page >= 0 && (size_t)h->page < np, "head page in range");
        require(h->system >= 0 && (size_t)h->system < ns, "head system in range");
        require(sys[h->system].page == h->page, "head on its system's page");
        require(h->staff >= 0 && h->staff < sys[h->system].n_staves, "head staff in range");
        require(box_in_page(&h->box, &pages[h->page]), "head box inside its page");
        require(isfinite(h->onset_wn), "head onset finite");
    }
    for (size_t i = 0; i < nn; i++) {
        const lec_piece_note *n = &notes[i];
        require(isfinite(n->t_wn) && n->t_wn >= 0 && isfinite(n->dur_wn), "note time finite");
        require(n->head == -1 || (n->head >= 0 && (size_t)n->head < nh), "note head in range");
        require(n->event >= 0 && (size_t)n->event < ne, "note event in range");
    }
    for (size_t i = 0; i < ne; i++)
        require(events[i].first_note >= 0 && events[i].n_notes >= 0 &&
                    (size_t)events[i].first_note + (size_t)events[i].n_notes <= nn &&
                    isfinite(events[i].t_wn),
                "event notes in range");
    size_t nr = lec_piece_n_renderings(p);
    const lec_piece_rendering *r = lec_piece_renderings(p);
    for (size_t i = 0; i < nr; i++)
        require(isfinite(r[i].tempo_factor), "rendering tempo finite");
    char path[4096];
    for (size_t i = 0; i < np; i++)
        lec_piece_path(p, pages[i].image, path, sizeof path);
    (void)lec_piece_title(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lec_error err;
    lec_error_clear(&err);
    lec_piece *p = lec_piece_parse((const char *)data, size, "fuzzbundle", 0, &err);
    if (!p) {
        fuzz_check_error(err.code, &err, "fuzzbundle", "lec_piece_parse");
        return 0;
    }
    check_piece(p);
    lec_piece_destroy(p);
    return 0;
}
