/* fuzz_annot.c -- the LilyPond annotation output (the TSV lec_annot.ly
 * writes while engraving: BOOK, PAPER, NOTE, STAFF, TIE, PERF, TEMPO, PEDAL,
 * SCORE, VEND lines) as the corpus builder reads it: lec_corpus_annot_parse,
 * then lec_corpus_layout (staves -> systems, heads -> staves, page units ->
 * px).
 * The file comes from an external program, so it is input like any other. */
#include <stdlib.h>
#include <string.h> /* lec_corpus_internal.h uses strlen/strcmp */

#include "fuzz_util.h"
#include "lec_corpus_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_temp_file(".tsv", data, size);
    if (!path)
        return 0;
    annot_t a;
    lec_error err;
    lec_error_clear(&err);
    lec_status st = lec_corpus_annot_parse(path, &a, &err);
    if (st != LEC_OK) {
        fuzz_check_error(st, &err, path, "lec_corpus_annot_parse");
        return 0;
    }
    sys_t *sys = NULL;
    size_t n_sys = 0;
    /* as the builder: scale = page image width (A4 at 150 dpi) / paper width */
    st = lec_corpus_layout(&a, 1240.0 / a.paper_w, &sys, &n_sys, &err);
    if (st == LEC_OK) {
        /* every head assigned to a system must point at one that exists */
        for (size_t i = 0; i < a.n_heads; i++)
            if (a.heads[i].sys >= (int)n_sys)
                abort();
    }
    free(sys);
    lec_corpus_annot_free(&a);
    return 0;
}
