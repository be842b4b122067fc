/* test_corpus_cli -- `lectern corpus check` on the shipped demo bundle
 * (loads, full coverage, draws pages), `lectern corpus build` refusing the
 * evaluation soundfont and bad options, and lec_proc's timeout / exit codes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lec_piece.h"
#include "lec_proc.h"
#include "lec_test.h"
#include "lec_util.h"

int main(void)
{
    char cmd[8192], out[16384], bundle[4096], png[4200];
    const char *scratch = lec_test_scratch_dir("test_corpus_cli");
    snprintf(bundle, sizeof bundle, "%s/assets/BurgmullerJFF__O100__25EF-16", lec_test_source_dir());

    /* the demo bundle: valid, valid split metadata, one rendering */
    lec_error err;
    lec_piece *p = lec_piece_load(bundle, &err);
    CHECKF(p != NULL, "%s", err.msg);
    if (p) {
        CHECK(strcmp(lec_piece_license(p), "Public Domain") == 0);
        CHECK(lec_piece_n_renderings(p) == 1);
        CHECK(lec_piece_n_events(p) > 100);
        /* its volta repeats are written in the upper staff only (the lower
         * staff is written out): played as printed, every note at its head's
         * printed time, hands together */
        CHECK(lec_piece_n_notes(p) == 261);
        const lec_piece_note *no = lec_piece_notes(p);
        const lec_piece_head *h = lec_piece_heads(p);
        size_t off = 0;
        for (size_t i = 0; i < lec_piece_n_notes(p); i++)
            off += no[i].head < 0 || no[i].t_wn != h[no[i].head].onset_wn;
        CHECKF(off == 0, "%zu notes not at their head's printed time", off);
    }
    lec_piece_destroy(p);

    snprintf(cmd, sizeof cmd, "'%s' corpus check '%s' --out '%s/chk'", lec_test_lectern(), bundle,
             scratch);
    int rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 0, "rc %d: %s", rc, out);
    CHECKF(strstr(out, "non-tied heads with an onset: 261 / 261 = 100.00%") != NULL, "%s", out);
    CHECK(strstr(out, "performed (MIDI) notes used") != NULL);
    snprintf(png, sizeof png, "%s/chk/check-page-1.png", scratch);
    struct stat st;
    CHECK(stat(png, &st) == 0 && st.st_size > 10000);

    /* bad bundle */
    snprintf(cmd, sizeof cmd, "'%s' corpus check '%s/nothing'", lec_test_lectern(), scratch);
    rc = lec_test_run(cmd, out, sizeof out);
    CHECK(rc == 1 && strstr(out, "piece.json") != NULL);

    /* the evaluation soundfont is refused */
    snprintf(cmd, sizeof cmd,
             "'%s' corpus build '%s' --out '%s/o' --soundfont /usr/share/sounds/sf3/MuseScore_General.sf3",
             lec_test_lectern(), bundle, scratch);
    rc = lec_test_run(cmd, out, sizeof out);
    CHECKF(rc == 2 && strstr(out, "reserved") != NULL, "rc %d: %s", rc, out);
    snprintf(cmd, sizeof cmd, "'%s' corpus build x.ly --out '%s/o' -j 0", lec_test_lectern(), scratch);
    CHECK(lec_test_run(cmd, out, sizeof out) == 2);
    snprintf(cmd, sizeof cmd, "'%s' corpus frobnicate", lec_test_lectern());
    CHECK(lec_test_run(cmd, out, sizeof out) == 2);

    /* corpus stats: the latest line of a piece wins; failures by cause; median */
    {
        char d[4200], f[4300];
        snprintf(d, sizeof d, "%s/stats", scratch);
        lec_mkdir_p(d, NULL);
        snprintf(f, sizeof f, "%s/.results.jsonl", d);
        const char *rows =
            "{\"id\":\"a\",\"ok\":false,\"cause\":\"lilypond\",\"bundles\":0,\"heads_nontied\":0,\"heads_with_onset\":0,\"perf_notes\":0,\"perf_with_head\":0,\"t_engrave_s\":1,\"t_audio_s\":0,\"t_total_s\":1}\n"
            "{\"id\":\"b\",\"ok\":true,\"cause\":\"\",\"bundles\":2,\"heads_nontied\":100,\"heads_with_onset\":90,\"perf_notes\":100,\"perf_with_head\":100,\"as_printed\":1,\"t_engrave_s\":1,\"t_audio_s\":1,\"t_total_s\":2}\n"
            "{\"id\":\"c\",\"ok\":false,\"cause\":\"lilypond-crash\",\"bundles\":0,\"heads_nontied\":0,\"heads_with_onset\":0,\"perf_notes\":0,\"perf_with_head\":0,\"t_engrave_s\":1,\"t_audio_s\":0,\"t_total_s\":1}\n"
            "{\"id\":\"a\",\"ok\":true,\"cause\":\"\",\"bundles\":1,\"heads_nontied\":50,\"heads_with_onset\":50,\"perf_notes\":60,\"perf_with_head\":57,\"t_engrave_s\":1,\"t_audio_s\":1,\"t_total_s\":2}\n";
        lec_write_file_atomic(f, rows, strlen(rows), NULL);
        snprintf(cmd, sizeof cmd, "'%s' corpus stats '%s'", lec_test_lectern(), d);
        rc = lec_test_run(cmd, out, sizeof out);
        CHECKF(rc == 0, "%s", out);
        CHECKF(strstr(out, "3 pieces tried: 2 built (66.7%, 3 bundles), 1 failed") != NULL, "%s", out);
        CHECKF(strstr(out, "failed by cause: lilypond-crash 1") != NULL, "%s", out);
        CHECKF(strstr(out, "median over pieces 95.00%, overall 93.33%, minimum 90.00%, 1 pieces below 97%") != NULL, "%s", out);
        CHECKF(strstr(out, "performed notes with a printed head: 98.12%") != NULL, "%s", out);
        CHECKF(strstr(out, "played as printed (repeats not in every staff): 1 bundles of 1 pieces") != NULL,
               "%s", out);
    }

    /* lec_proc: timeout kills, exit codes are reported, missing tools fail */
    lec_proc_result pr;
    const char *sleep_argv[] = {"sleep", "5", NULL};
    double t0 = lec_now_s();
    lec_status s = lec_proc_run(sleep_argv, NULL, NULL, NULL, 0.3, &pr, &err);
    CHECK(s == LEC_EEXTERNAL && pr.timed_out == 1 && strstr(err.msg, "timed out"));
    CHECK(lec_now_s() - t0 < 3.0);
    const char *false_argv[] = {"false", NULL};
    s = lec_proc_run(false_argv, NULL, NULL, NULL, 10, &pr, &err);
    CHECK(s == LEC_EEXTERNAL && pr.exit_code == 1 && !pr.timed_out);
    const char *none_argv[] = {"no-such-tool-lectern", NULL};
    s = lec_proc_run(none_argv, NULL, NULL, NULL, 10, &pr, &err);
    CHECK(s == LEC_EEXTERNAL && strstr(err.msg, "no-such-tool-lectern"));
    /* environment and working directory reach the child; output goes to the log */
    char logp[4200];
    snprintf(logp, sizeof logp, "%s/proc.log", scratch);
    const char *sh_argv[] = {"sh", "-c", "echo \"$LEC_X\" && pwd", NULL};
    const char *env[] = {"LEC_X=hello-env", NULL};
    s = lec_proc_run(sh_argv, "/tmp", env, logp, 10, &pr, &err);
    CHECK(s == LEC_OK && pr.exit_code == 0);
    char *text;
    size_t len;
    if (lec_read_file(logp, 0, &text, &len, &err) == LEC_OK) {
        CHECK(strcmp(text, "hello-env\n/tmp\n") == 0);
        free(text);
    } else {
        CHECK(0);
    }
    return lec_test_finish("test_corpus_cli");
}
