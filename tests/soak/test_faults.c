/* test_faults.c -- what the user sees when the disk fills up or Ctrl-C comes
 * at a bad moment; nothing half-written may be left looking valid.
 * (The live faults -- a stalled follower, a device that vanishes -- are the
 * soak_stall / soak_vanish runs of soak.c; the SIGTERM case of training is in
 * tests/train/test_train_cli.)
 *
 *   1. disk full while `lectern train` writes its checkpoint and model
 *      (--resume of a checkpoint at step 10): exit 1, the message names the
 *      file; the old checkpoint still loads at step 10, the old model still
 *      loads with its weights, no temporary is left behind;
 *   2. disk full while `lectern import` writes a bundle: exit 1, the message
 *      names the bundle; no bundle and no temporary directory are left (this
 *      found a truncated page PNG committed into the bundle: IMG_SavePNG
 *      ignored the failing writes);
 *   3. disk full during `lectern corpus build` (the rendering does not fit):
 *      exit 1, the piece is reported failed; no bundle, no temporary, no
 *      "done" marker, so the next run builds it;
 *   4. SIGINT during `lectern train`: one Ctrl-C -> exit 0 and a loadable
 *      checkpoint; then five Ctrl-C in a row (an impatient user, some
 *      landing during the checkpoint write) -> still exit 0 and loadable;
 *      --resume continues from it.
 * "Disk full" is RLIMIT_FSIZE (ulimit -f) with SIGXFSZ ignored: every
 * write() that would grow a file past the limit fails (EFBIG), exactly the
 * code path of ENOSPC, without needing a small file system (mounting one
 * needs privileges CI may not have). */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lec_model.h"
#include "lec_test.h"
#include "lec_train.h"
#include "lec_util.h"
#include "synth_bundle.h"

#define ARCH "win=48x24 ss=2 buckets=8 frames=20 score=c8,p,c16,p,d32 spec=c8,p,c16,p,d32 head=d32"

static char g_dir[4096];
static char g_log[1 << 16];

/* Run `lectern <args>` (args starts with the command) in g_dir with stdout+stderr to g_log. fsize_limit > 0:
 * files may not grow beyond it (bytes). signals: after delay_s, send n_sig
 * SIGINTs spaced gap_s apart. Returns the exit status, or 128 + signal. */
static int run_lectern(const char *args, long fsize_limit, double delay_s, int n_sig,
                       double gap_s)
{
    char logpath[4200];
    snprintf(logpath, sizeof logpath, "%s/run.log", g_dir);
    fflush(NULL); /* else the child's freopen flushes our pending output a second time */
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (chdir(g_dir) != 0)
            _exit(127);
        FILE *lf = freopen(logpath, "w", stdout);
        if (!lf || dup2(fileno(stdout), 2) < 0)
            _exit(127);
        if (fsize_limit > 0) {
            signal(SIGXFSZ, SIG_IGN); /* else the kernel kills on the first failing write */
            struct rlimit rl = {(rlim_t)fsize_limit, (rlim_t)fsize_limit};
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
                _exit(127);
        }
        char cmd[16384];
        snprintf(cmd, sizeof cmd, "exec '%s' %s", lec_test_lectern(), args);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    if (n_sig > 0) {
        struct timespec ts = {(time_t)delay_s, (long)((delay_s - (time_t)delay_s) * 1e9)};
        nanosleep(&ts, NULL);
        for (int i = 0; i < n_sig; i++) {
            kill(pid, SIGINT);
            struct timespec g = {(time_t)gap_s, (long)((gap_s - (time_t)gap_s) * 1e9)};
            nanosleep(&g, NULL);
        }
    }
    int status = 0;
    waitpid(pid, &status, 0);
    char *text = NULL;
    size_t len = 0;
    g_log[0] = 0;
    if (lec_read_file(logpath, 0, &text, &len, NULL) == LEC_OK) {
        snprintf(g_log, sizeof g_log, "%s", text);
        free(text);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Files in dir whose name contains needle (temporaries: ".tmp"). */
static int count_named(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strstr(e->d_name, needle) != NULL;
    if (d)
        closedir(d);
    return n;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int64_t ckpt_step(const char *name)
{
    char p[4300];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    lec_error err;
    lec_train *tr = lec_train_resume(p, NULL, &err);
    if (!tr) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    int64_t s = lec_train_step_count(tr);
    lec_train_destroy(tr);
    return s;
}

static int model_loads(const char *name)
{
    char p[4300];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    lec_model_info info;
    lec_error err;
    lec_nn_net *net = lec_model_load(p, &info, NULL, &err);
    if (!net)
        fprintf(stderr, "%s\n", err.msg);
    lec_nn_net_destroy(net);
    return net != NULL;
}

static void read_bytes(const char *name, char **data, size_t *len)
{
    char p[4300];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    *data = NULL;
    *len = 0;
    lec_read_file(p, 0, data, len, NULL);
}

static const char *COMMON = "--data data --cache cache --arch '" ARCH "' --batch 16 "
                            "--valid-samples 100 --valid-every 1000 --threads 1";

static void test_disk_full_train(void)
{
    char args[8192];
    /* a checkpoint (and a model) at step 10 of 40 */
    snprintf(args, sizeof args, "train %s --out m.lnm --steps 40 --until 10", COMMON);
    int rc = run_lectern(args, 0, 0, 0, 0);
    CHECKF(rc == 0 && ckpt_step("m.lnm.ckpt") == 10, "exit %d: %s", rc, g_log);
    char p[4300];
    snprintf(p, sizeof p, "%s/m.lnm.ckpt", g_dir);
    long ck = file_size(p);
    CHECK(ck > 4096);
    char *old_model = NULL, *old_ckpt = NULL;
    size_t old_model_n = 0, old_ckpt_n = 0;
    read_bytes("m.lnm", &old_model, &old_model_n);
    read_bytes("m.lnm.ckpt", &old_ckpt, &old_ckpt_n);

    /* the disk fills up: files may not grow past half a checkpoint */
    rc = run_lectern("train --out m.lnm --resume --cache cache --checkpoint-minutes 0", ck / 2, 0, 0,
                     0);
    printf("disk full during training -> exit %d, the user sees:\n%s\n", rc, g_log);
    CHECKF(rc == 1, "exit %d: %s", rc, g_log);
    CHECKF(strstr(g_log, "m.lnm") != NULL, "the message does not name the file: %s", g_log);
    /* the last good state is intact and still loads */
    CHECK(ckpt_step("m.lnm.ckpt") == 10);
    CHECK(model_loads("m.lnm"));
    char *now = NULL;
    size_t now_n = 0;
    read_bytes("m.lnm.ckpt", &now, &now_n);
    CHECK(now && now_n == old_ckpt_n && memcmp(now, old_ckpt, now_n) == 0);
    free(now);
    read_bytes("m.lnm", &now, &now_n);
    CHECK(now && now_n == old_model_n && memcmp(now, old_model, now_n) == 0);
    free(now);
    CHECKF(count_named(g_dir, ".tmp") == 0, "a temporary was left in %s", g_dir);
    free(old_model);
    free(old_ckpt);

    /* space again: --resume carries on from step 10 */
    rc = run_lectern("train --out m.lnm --resume --cache cache", 0, 0, 0, 0);
    CHECKF(rc == 0 && strstr(g_log, "at step 10") && ckpt_step("m.lnm.ckpt") == 40,
           "exit %d: %s", rc, g_log);
}

static void test_disk_full_import(void)
{
    /* a page with staves to import: one of the bundles' page images */
    char page[4300], out[4300];
    snprintf(page, sizeof page, "%s/data/t0/pages/page-1.png", g_dir);
    snprintf(out, sizeof out, "%s/imported", g_dir);
    CHECK(file_size(page) > 0);
    /* 1 kB: the page PNG written into the bundle is 2 kB */
    int rc = run_lectern("import data/t0/pages/page-1.png --out imported", 1024, 0, 0, 0);
    printf("disk full during import -> exit %d, the user sees:\n%s\n", rc, g_log);
    CHECKF(rc == 1, "exit %d: %s", rc, g_log);
    CHECKF(strstr(g_log, "imported") != NULL, "the message does not name the bundle: %s", g_log);
    CHECKF(access(out, F_OK) != 0, "a bundle was left at %s", out);
    CHECKF(count_named(g_dir, "imported.tmp") == 0 && count_named(g_dir, ".tmp") == 0,
           "a temporary directory was left in %s", g_dir);
    /* and with space it works (the input was fine) */
    rc = run_lectern("import data/t0/pages/page-1.png --out imported", 0, 0, 0, 0);
    snprintf(page, sizeof page, "%s/imported/piece.json", g_dir);
    CHECKF(rc == 0 && file_size(page) > 0, "exit %d: %s", rc, g_log);
}

/* A small piece: two staves, a repeat, a tie, a grace note (7.2 s of audio). */
static const char *PIECE_LY =
    "\\version \"2.24.0\"\n"
    "\\header { title = \"T\" }\n"
    "\\score {\n"
    "  \\new PianoStaff <<\n"
    "    \\new Staff { \\tempo 4 = 100 \\repeat volta 2 { c'4 d'8 e'~ e'4 \\grace g'8 f'4 } "
    "g'2\\sustainOn a'\\sustainOff }\n"
    "    \\new Staff { \\clef bass c2 g,2 c1 }\n"
    "  >>\n"
    "  \\layout {}\n"
    "  \\midi {}\n"
    "}\n";

static void test_disk_full_corpus(void)
{
    char p[4300];
    snprintf(p, sizeof p, "%s/piece.ly", g_dir);
    CHECK(lec_write_file_atomic(p, PIECE_LY, strlen(PIECE_LY), NULL) == LEC_OK);
    snprintf(p, sizeof p, "%s/corpus", g_dir);
    CHECK(lec_mkdir_p(p, NULL) == LEC_OK);
    /* 600 kB: LilyPond's outputs fit, the 1.2 MB WAV of the rendering does not */
    const char *args = "corpus build piece.ly --out corpus "
                       "--soundfont /usr/share/sounds/sf2/TimGM6mb.sf2";
    int rc = run_lectern(args, 600 * 1024, 0, 0, 0);
    printf("disk full during a corpus build -> exit %d, the user sees:\n%s\n", rc, g_log);
    CHECKF(rc == 1 && strstr(g_log, "failed") && strstr(g_log, "piece"), "exit %d: %s", rc,
           g_log);
    /* no bundle, no temporary bundle, no "finished" marker: a rerun redoes it */
    CHECKF(count_named(p, "piece") == 0 && count_named(p, ".tmp") == 0,
           "something was left in %s", p);
    snprintf(p, sizeof p, "%s/corpus/.done/piece", g_dir);
    CHECK(access(p, F_OK) != 0);
    rc = run_lectern(args, 0, 0, 0, 0);
    snprintf(p, sizeof p, "%s/corpus/piece/piece.json", g_dir);
    CHECKF(rc == 0 && file_size(p) > 0, "with space again: exit %d: %s", rc, g_log);
}

static void test_sigint_train(void)
{
    char args[8192];
    /* checkpoints as often as possible (every step), so Ctrl-C can land
     * while one is being written */
    snprintf(args, sizeof args,
             "train %s --out s.lnm --steps 100000 --checkpoint-minutes 0", COMMON);
    int rc = run_lectern(args, 0, 3.0, 1, 0);
    CHECKF(rc == 0, "one Ctrl-C: exit %d: %s", rc, g_log);
    CHECKF(strstr(g_log, "stopped at step") && strstr(g_log, "signal"), "%s", g_log);
    int64_t s1 = ckpt_step("s.lnm.ckpt");
    CHECKF(s1 >= 1, "checkpoint after Ctrl-C: step %lld", (long long)s1);
    CHECK(model_loads("s.lnm"));

    /* five Ctrl-C, 0.1 s apart, after resuming */
    rc = run_lectern("train --out s.lnm --resume --cache cache --checkpoint-minutes 0", 0, 2.5, 5,
                     0.1);
    CHECKF(rc == 0, "five Ctrl-C: exit %d (a crash is >= 128): %s", rc, g_log);
    int64_t s2 = ckpt_step("s.lnm.ckpt");
    CHECKF(s2 >= s1, "checkpoint after five Ctrl-C: step %lld (was %lld)", (long long)s2,
           (long long)s1);
    CHECK(model_loads("s.lnm"));
    CHECKF(count_named(g_dir, ".tmp") == 0, "a temporary was left in %s", g_dir);
    printf("SIGINT: stopped at step %lld, then %lld after five Ctrl-C\n", (long long)s1,
           (long long)s2);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "%s", lec_test_scratch_dir("test_faults"));
    const char *sf[] = {"Synth.sf2"};
    char p[4300];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/data/t%d", g_dir, i);
        CHECK(synth_bundle_write(p, (uint64_t)(10 + i), "train", sf, 1) == 0);
    }
    snprintf(p, sizeof p, "%s/data/v0", g_dir);
    CHECK(synth_bundle_write(p, 100, "valid", sf, 1) == 0);
    test_disk_full_train();
    test_disk_full_import();
    test_disk_full_corpus();
    test_sigint_train();
    return lec_test_finish("test_faults");
}
