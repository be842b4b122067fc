/* test_train_cli -- `lectern train` end to end on generated bundles
 * (synth_bundle.c) with a tiny architecture:
 *   - a few hundred steps: the loss falls clearly, validation accuracy beats
 *     chance (1/B) by a wide margin, the model file loads and carries the
 *     metadata (data description, validation accuracy; outside class in the
 *     runs that have it);
 *   - --until + --resume continues from the checkpoint (step count goes on)
 *     and ends with exactly the weights of an uninterrupted run (1 thread);
 *   - SIGTERM during training leaves a loadable checkpoint, exit status 0;
 *   - bad inputs: no bundles, only valid-split bundles, a corrupt bundle
 *     among good ones (skipped with a warning naming it), bad --arch,
 *     missing --out, --resume without a checkpoint. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lec_model.h"
#include "lec_test.h"
#include "lec_train.h"
#include "lec_util.h"
#include "synth_bundle.h"

#define ARCH                                                                               \
    "win=48x24 ss=2 buckets=8 frames=20 score=c8,p,c16,p,d32 spec=c8,p,c16,p,d32 head=d32"
/* the bucket head: the score tower ends in a 16 x 3 x 8 map, 8 = the buckets */
#define ARCH_BUCKET                                                                        \
    "win=64x24 ss=2 buckets=8 frames=20 bucket_head=1 score=c8,p,c16,p,c16,p "            \
    "spec=c8,p,c16,p,d32 head=d32"

static char g_out[1 << 16];
static char g_dir[4096];

static int run(const char *args)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' train %s", g_dir, lec_test_lectern(), args);
    int rc = lec_test_run(cmd, g_out, sizeof g_out);
    return rc;
}

/* mean of the first / last n "step ... loss X" lines */
static void loss_curve(const char *log, double *first, double *last)
{
    double v[4096];
    int n = 0;
    for (const char *p = log; (p = strstr(p, "\nstep ")) != NULL && n < 4096; p++) {
        const char *l = strstr(p, " loss ");
        if (l)
            v[n++] = atof(l + 6);
    }
    *first = *last = -1.0;
    if (n >= 4) {
        *first = (v[0] + v[1]) / 2.0;
        *last = (v[n - 1] + v[n - 2]) / 2.0;
    }
}

static double meta_f(const lec_meta *m, const char *key)
{
    double v = -1.0;
    lec_meta_get_float(m, key, &v, NULL, NULL);
    return v;
}

static int same_weights(const char *a, const char *b)
{
    lec_model_file *fa = NULL, *fb = NULL;
    int same = lec_model_file_read(a, &fa, NULL) == LEC_OK &&
               lec_model_file_read(b, &fb, NULL) == LEC_OK && fa->n_tensors == fb->n_tensors;
    for (int i = 0; same && i < fa->n_tensors; i++) {
        const lec_model_tensor *x = &fa->tensors[i];
        const lec_model_tensor *y = lec_model_file_find(fb, x->name);
        size_t n = 1;
        for (int d = 0; d < x->ndim; d++)
            n *= (size_t)x->dims[d];
        same = y && y->ndim == x->ndim && memcmp(x->dims, y->dims, sizeof x->dims) == 0 &&
               memcmp(x->data, y->data, n * sizeof(float)) == 0;
    }
    lec_model_file_free(fa);
    lec_model_file_free(fb);
    return same;
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "%s", lec_test_scratch_dir("test_train_cli"));
    const char *sf[] = {"Synth.sf2", "Other.sf2"};
    char p[8192];
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s/data/t%d", g_dir, i);
        CHECK(synth_bundle_write(p, (uint64_t)(10 + i), "train", sf, 2) == 0);
    }
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/data/v%d", g_dir, i);
        CHECK(synth_bundle_write(p, (uint64_t)(100 + i), "valid", sf, 1) == 0);
    }
    const char *common = "--data data --cache cache --arch '" ARCH "' --batch 16 "
                         "--valid-samples 400 --progress-every 25";

    /* ---- a short training: the loss falls, validation beats chance. Plain
     * samples, no outside class (the default), so that the tiny network learns within
     * seconds (about 0.35 after 600 steps; chance is 1/8) */
    char args[8192];
    snprintf(args, sizeof args,
             "%s --out m1.lnm --steps 600 --valid-every 300 --batch 32 --lr 3e-3 "
             "--no-augment",
             common);
    int rc = run(args);
    CHECKF(rc == 0, "exit %d:\n%s", rc, g_out);
    double l0, l1;
    loss_curve(g_out, &l0, &l1);
    CHECKF(l0 > 0 && l1 > 0 && l1 < l0 - 0.07, "loss %.3f -> %.3f", l0, l1);
    CHECK(strstr(g_out, "6 training bundles") && strstr(g_out, "2 validation bundles"));
    snprintf(p, sizeof p, "%s/m1.lnm", g_dir);
    lec_model_info info;
    lec_meta meta;
    lec_meta_init(&meta);
    lec_nn_net *net = lec_model_load(p, &info, &meta, NULL);
    CHECK(net != NULL);
    if (net) {
        const lec_nn_arch *a = lec_nn_net_arch(net);
        CHECK(a->score_w == 48 && a->score_h == 24 && a->spec_frames == 20 && a->n_out == 8);
        CHECK(info.buckets == 8 && info.window_width_px == 48 && info.staff_space_px == 2.0);
        CHECK(a->score_std > 0.0f && a->spec_std > 0.0f && a->score_mean > 0.0f);
        int64_t oc = -1, np = -1;
        lec_meta_get_int(&meta, "model.outside_class", &oc, NULL, NULL);
        lec_meta_get_int(&meta, "data.train_n_pieces", &np, NULL, NULL);
        CHECK(oc == 0 && np == 6);
        double acc = meta_f(&meta, "valid.bucket_accuracy");
        double acc1 = meta_f(&meta, "valid.bucket_accuracy_pm1");
        CHECKF(acc > 0.25 && acc1 > acc, "valid acc %.3f +-1 %.3f (chance 0.125)", acc, acc1);
        printf("short training: loss %.3f -> %.3f, valid acc %.3f (+-1 %.3f)\n", l0, l1, acc,
               acc1);
        /* --evaluate measures the same figure from the model file alone */
        rc = run("--evaluate m1.lnm --valid data/v0 data/v1 --cache cache --valid-samples 400");
        const char *b = strstr(g_out, "bucket accuracy ");
        CHECKF(rc == 0 && b && fabs(atof(b + 16) - acc) < 1e-4, "exit %d: %s", rc, g_out);
    }
    lec_nn_net_destroy(net);
    lec_meta_free(&meta);

    /* ---- the same task with the bucket head: learns (at least as well), and
     * the model file says it is a bucket head */
    rc = run("--data data --cache cache --arch '" ARCH_BUCKET "' --valid-samples 400 "
             "--progress-every 25 --out mb.lnm --steps 600 --valid-every 300 --batch 32 "
             "--lr 3e-3 --no-augment");
    CHECKF(rc == 0, "exit %d:\n%s", rc, g_out);
    snprintf(p, sizeof p, "%s/mb.lnm", g_dir);
    lec_meta_init(&meta);
    net = lec_model_load(p, &info, &meta, NULL);
    CHECK(net != NULL);
    if (net) {
        const lec_nn_arch *a = lec_nn_net_arch(net);
        CHECK(a->bucket_head == 1 && a->n_out == 8 && info.buckets == 8);
        double acc = meta_f(&meta, "valid.bucket_accuracy");
        CHECKF(acc > 0.25, "bucket head: valid acc %.3f (chance 0.125)", acc);
        printf("short training, bucket head: valid acc %.3f\n", acc);
        /* --init: a new run from mb.lnm's weights keeps what it learnt (20 steps
         * at a small rate; from scratch 20 steps stay near chance) */
        rc = run("--data data --cache cache --init mb.lnm --arch 'win=48x24' --valid-samples 400 "
                 "--out mi.lnm --steps 20 --valid-every 1000 --lr 1e-5 --no-augment");
        CHECKF(rc == 0 && strstr(g_out, "starting from mb.lnm") && strstr(g_out, "--arch is ignored"),
               "exit %d: %s", rc, g_out);
        lec_meta mi;
        lec_meta_init(&mi);
        lec_model_info ii;
        snprintf(p, sizeof p, "%s/mi.lnm", g_dir);
        lec_nn_net *ni = lec_model_load(p, &ii, &mi, NULL);
        CHECK(ni && lec_nn_net_arch(ni)->bucket_head == 1 && ii.buckets == 8);
        double acc_i = meta_f(&mi, "valid.bucket_accuracy");
        CHECKF(acc_i > acc - 0.1 && acc_i > 0.25, "--init: valid acc %.3f (was %.3f)", acc_i, acc);
        lec_nn_net_destroy(ni);
        lec_meta_free(&mi);
        rc = run("--data data --cache cache --init nothing.lnm --out mj.lnm --steps 2");
        CHECKF(rc == 1 && strstr(g_out, "--init") && strstr(g_out, "nothing.lnm"), "exit %d: %s",
               rc, g_out);
    }
    lec_nn_net_destroy(net);
    lec_meta_free(&meta);
    /* a score tower whose width is not the bucket count is refused by name */
    rc = run("--data data --cache cache --out x.lnm --steps 2 --arch 'win=48x24 ss=2 buckets=8 "
             "frames=20 bucket_head=1 score=c8,p,c16,p spec=c8,p,d16'");
    CHECKF(rc == 2 && strstr(g_out, "must equal the number of buckets 8"), "exit %d: %s", rc,
           g_out);
    rc = run("--data data --cache cache --out x.lnm --outside --arch '" ARCH_BUCKET "'");
    CHECKF(rc == 2 && strstr(g_out, "--outside needs the dense head"), "exit %d: %s", rc, g_out);

    /* ---- --dump-samples: pictures of what the network sees, and their list */
    rc = run("--data data --cache cache --arch '" ARCH "' --dump-samples dump --dump-n 3");
    CHECKF(rc == 0, "exit %d: %s", rc, g_out);
    for (int k = 0; k < 3; k++) {
        char f[4096];
        struct stat sb;
        snprintf(f, sizeof f, "%s/dump/train-%04d.png", g_dir, k);
        CHECKF(stat(f, &sb) == 0 && sb.st_size > 200, "%s", f);
        snprintf(f, sizeof f, "%s/dump/valid-%04d.png", g_dir, k);
        CHECKF(stat(f, &sb) == 0 && sb.st_size > 200, "%s", f);
    }
    {
        char f[4096];
        snprintf(f, sizeof f, "%s/dump/train-samples.tsv", g_dir);
        char *tsv = NULL;
        size_t len = 0;
        CHECK(lec_read_file(f, 0, &tsv, &len, NULL) == LEC_OK && tsv);
        int lines = 0;
        for (size_t k = 0; tsv && k < len; k++)
            lines += tsv[k] == '\n';
        CHECKF(lines == 4, "%d lines in %s", lines, f); /* header + 3 samples */
        free(tsv);
    }

    /* ---- interrupted + resumed == uninterrupted (one thread: bitwise) */
    snprintf(args, sizeof args,
             "%s --threads 1 --out full.lnm --steps 60 --valid-every 1000 --outside", common);
    CHECK(run(args) == 0);
    snprintf(args, sizeof args,
             "%s --threads 1 --out part.lnm --steps 60 --until 30 --valid-every 1000 --outside",
             common);
    rc = run(args);
    CHECKF(rc == 0 && strstr(g_out, "stopped at step 30 of 60"), "exit %d:\n%s", rc, g_out);
    snprintf(p, sizeof p, "%s/part.lnm.ckpt", g_dir);
    lec_train *tr = lec_train_resume(p, NULL, NULL);
    CHECK(tr && lec_train_step_count(tr) == 30);
    lec_train_destroy(tr);
    rc = run("--out part.lnm --resume --threads 1 --cache cache");
    CHECKF(rc == 0 && strstr(g_out, "resuming part.lnm.ckpt at step 30 of 60") &&
               strstr(g_out, "final step 60"),
           "exit %d:\n%s", rc, g_out);
    char a_[8192], b_[8192];
    snprintf(a_, sizeof a_, "%s/full.lnm", g_dir);
    snprintf(b_, sizeof b_, "%s/part.lnm", g_dir);
    CHECK(same_weights(a_, b_));
    /* these runs have the outside class (recorded for --resume): n_out = B + 1 */
    lec_meta_init(&meta);
    net = lec_model_load(a_, &info, &meta, NULL);
    CHECK(net && lec_nn_net_arch(net)->n_out == 9 && info.buckets == 9);
    {
        int64_t oc = -1;
        lec_meta_get_int(&meta, "model.outside_class", &oc, NULL, NULL);
        CHECK(oc == 1 && meta_f(&meta, "valid.outside_accuracy") >= 0.0);
    }
    lec_nn_net_destroy(net);
    lec_meta_free(&meta);

    /* ---- SIGTERM: checkpoint written, loadable, exit 0 */
    {
        char cmd[16384];
        snprintf(cmd, sizeof cmd,
                 "cd '%s' && ('%s' train %s --out sig.lnm --steps 100000 --valid-every 100000 "
                 "--checkpoint-minutes 0 > sig.log 2>&1 & pid=$!; sleep 3; kill -TERM $pid; "
                 "wait $pid)",
                 g_dir, lec_test_lectern(), common);
        rc = lec_test_run(cmd, g_out, sizeof g_out);
        CHECKF(rc == 0, "exit %d", rc);
        snprintf(p, sizeof p, "%s/sig.lnm.ckpt", g_dir);
        tr = lec_train_resume(p, NULL, NULL);
        CHECK(tr && lec_train_step_count(tr) >= 1);
        lec_train_destroy(tr);
        snprintf(p, sizeof p, "%s/sig.log", g_dir);
        char *log = NULL;
        size_t len = 0;
        CHECK(lec_read_file(p, 0, &log, &len, NULL) == LEC_OK && log &&
              strstr(log, "stopped at step") && strstr(log, "signal"));
        free(log);
    }

    /* ---- bad inputs */
    snprintf(p, sizeof p, "%s/empty", g_dir);
    lec_mkdir_p(p, NULL);
    rc = run("--data empty --out x.lnm --cache cache");
    CHECKF(rc == 1 && strstr(g_out, "no training bundles"), "exit %d: %s", rc, g_out);
    rc = run("--data data/v0 data/v1 --out x.lnm --cache cache");
    CHECKF(rc == 1 && strstr(g_out, "only valid-split"), "exit %d: %s", rc, g_out);
    rc = run("--data data --out x.lnm --arch 'win=48x24 foo=1'");
    CHECKF(rc == 2 && strstr(g_out, "unknown key 'foo'"), "exit %d: %s", rc, g_out);
    rc = run("--data data --out x.lnm --arch 'win=48x24 ss=2 score=c8,q'");
    CHECKF(rc == 2, "exit %d: %s", rc, g_out);
    rc = run("--data data");
    CHECKF(rc == 2 && strstr(g_out, "--out"), "exit %d: %s", rc, g_out);
    rc = run("--out nothing.lnm --resume");
    CHECKF(rc == 1 && strstr(g_out, "nothing.lnm.ckpt"), "exit %d: %s", rc, g_out);
    /* a corrupt bundle among good ones: skipped, named, training goes on */
    snprintf(p, sizeof p, "%s/data/t0/audio/r0.json", g_dir);
    lec_write_file_atomic(p, "{\"note_onset_s\":[", 17, NULL);
    snprintf(args, sizeof args, "%s --out m2.lnm --steps 5 --valid-every 1000", common);
    rc = run(args);
    CHECKF(rc == 0 && strstr(g_out, "warning: skipping bundle") && strstr(g_out, "data/t0") &&
               strstr(g_out, "5 pieces"),
           "exit %d: %s", rc, g_out);
    /* --help tells the truth about the options it lists */
    rc = run("--help");
    CHECK(rc == 0 && strstr(g_out, "--resume") && strstr(g_out, "--split-from-index") &&
          strstr(g_out, "MuseScore") && strstr(g_out, "--init MODEL"));
    return lec_test_finish("test_train_cli");
}
