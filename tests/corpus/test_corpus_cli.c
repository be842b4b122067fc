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
        /* the volta repeats are played: more events than distinct heads with onsets */
        CHECK(lec_piece_n_notes(p) > lec_piece_n_heads(p));
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
