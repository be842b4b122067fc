/* test_follow_cache.c -- the score-window cache of the follower
 * (hmm/lec_follower.h, hmm/FOLLOWER.md "Speed") and the tracker's window grid:
 *   - tracker grid_px: every window origin the tracker asks for (tracking,
 *     searching, probes, after clicks at both ends of the strip) is a multiple
 *     of the grid or the last origin W - win_w, and that last origin is used;
 *     bad grids are refused;
 *   - the cache: one entry per grid origin (count and bytes as documented),
 *     NULL off the grid, each entry equal to the score tower + split first
 *     head layer computed directly on lec_unroll_window; progress reported up
 *     to the total;
 *   - the follower with the cache (default) against the follower with the
 *     full forward (net_cache = 0) on the same grid, frame by frame over a
 *     whole rendering: the same windows, bucket probabilities equal to float
 *     rounding, the same positions; for the plain head with BN, the same with
 *     random BN statistics, and the bucket head;
 *   - a shared cache gives bit-identical outputs to the follower's own;
 *   - bad inputs: a cache of another model or strip, bad net_cache /
 *     window_grid_px, a zero grid. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "follow_fixture.h"
#include "lec_follower.h"
#include "lec_source.h"
#include "lec_test.h"
#include "lec_tracker.h"
#include "lec_util.h"

/* ---- the tracker's grid */
static void test_tracker_grid(void)
{
    const float W = 1003, win = 64, g = 8;
    const float last = W - win; /* 939: not a multiple of 8 */
    float s0[2] = {0, 500}, s1[2] = {500, W};
    lec_tracker_config c;
    lec_tracker_config_default(&c);
    c.strip_w_px = W;
    c.n_systems = 2;
    c.sys_start_px = s0;
    c.sys_end_px = s1;
    c.staff_space_px = 4;
    c.win_w_px = win;
    c.n_buckets = 16;
    c.fps = 20;
    c.grid_px = g;
    lec_error err;
    lec_tracker *t = lec_tracker_create(&c, &err);
    CHECKF(t != NULL, "%s", err.msg);
    if (!t)
        return;
    float x0[64], probs[64 * 16];
    uint32_t rng = 99;
    int bad = 0, n_last = 0, n_total = 0, n_search = 0;
    for (int fr = 0; fr < 3000; fr++) {
        if (fr % 250 == 100)
            lec_tracker_set_position(t, fr % 500 == 100 ? W : (float)(rng % 1003));
        if (fr % 400 == 300)
            lec_tracker_relocalise(t);
        int n = lec_tracker_windows(t, x0, 64);
        for (int i = 0; i < n; i++) {
            n_total++;
            n_last += x0[i] == last;
            if (!(x0[i] >= 0 && x0[i] <= last) ||
                (x0[i] != last && fmodf(x0[i], g) != 0.0f))
                bad++;
        }
        /* noisy rows with a peak: the belief moves, tracks and gets lost */
        for (int i = 0; i < n * 16; i++) {
            rng = rng * 1664525u + 1013904223u;
            probs[i] = 0.02f + (float)(rng >> 8) / 16777216.0f * ((i % 16) == (fr / 7) % 16);
        }
        lec_track_state st;
        CHECK(lec_tracker_update(t, probs, n, 1.0f, &st, &err) == LEC_OK);
        n_search += st.lost;
    }
    CHECKF(bad == 0, "%d of %d window origins off the %g px grid", bad, n_total, (double)g);
    CHECKF(n_last > 0 && n_total > 3000 && n_search > 0, "last origin used %d times of %d",
           n_last, n_total);
    lec_tracker_destroy(t);
    /* the grid must be a whole, non-negative number of px */
    c.grid_px = 2.5f;
    CHECK(lec_tracker_create(&c, &err) == NULL && strstr(err.msg, "grid"));
    c.grid_px = -1;
    CHECK(lec_tracker_create(&c, &err) == NULL && strstr(err.msg, "grid"));
}

/* ---- follower against follower, frame by frame */
typedef struct compare {
    int frames, frames_net, same_windows, same_pos;
    double max_dp, max_dx;
} compare;

static compare run_pair(lec_follower *a, lec_follower *b, const float *x, size_t n)
{
    compare c = {0};
    size_t ia = 0, ib = 0;
    lec_error err;
    while (ia < n && ib < n) {
        lec_follow_out oa, ob;
        size_t ua = 0, ub = 0;
        int ga = lec_follower_process(a, x + ia, n - ia, &ua, &oa, 1, &err);
        int gb = lec_follower_process(b, x + ib, n - ib, &ub, &ob, 1, &err);
        ia += ua, ib += ub;
        if (ga != 1 || gb != 1)
            break;
        c.frames++;
        const float *xa, *xb, *pa, *pb;
        int na = lec_follower_last_windows(a, &xa, &pa);
        int nb = lec_follower_last_windows(b, &xb, &pb);
        c.frames_net += na > 0;
        if (na == nb && memcmp(xa, xb, sizeof(float) * (size_t)na) == 0) {
            c.same_windows++;
            int B = lec_follow_model_buckets(lec_follower_model(a));
            for (int i = 0; i < na * B; i++) {
                double d = fabs((double)pa[i] - (double)pb[i]);
                c.max_dp = d > c.max_dp ? d : c.max_dp;
            }
        }
        c.same_pos += oa.strip_x_px == ob.strip_x_px;
        c.max_dx = fmax(c.max_dx, fabs((double)oa.strip_x_px - (double)ob.strip_x_px));
    }
    return c;
}

static int n_progress, progress_bad;
static int64_t progress_last, progress_total;
static void on_progress(void *user, int64_t done, int64_t total)
{
    (void)user;
    n_progress++;
    if (done <= progress_last || done > total)
        progress_bad++;
    progress_last = done;
    progress_total = total;
}

/* The model's parameters with random BN statistics (so that BN is not the
 * identity in the comparison) */
static void perturb_bn(lec_nn_net *net)
{
    uint32_t rng = 7;
    float *p = lec_nn_net_params(net);
    for (int i = 0; i < lec_nn_net_n_tensors(net); i++) {
        const lec_nn_tensor *t = lec_nn_net_tensor(net, i);
        size_t L = strlen(t->name);
        int rv = L > 6 && !strcmp(t->name + L - 6, ".bn.rv");
        int other = L > 3 && strstr(t->name, ".bn.") != NULL;
        if (!rv && !other)
            continue;
        for (size_t k = 0; k < t->size; k++) {
            rng = rng * 1664525u + 1013904223u;
            float u = (float)(rng >> 8) / 16777216.0f; /* [0, 1) */
            p[t->offset + k] = rv ? 0.5f + u : (t->name[L - 1] == 'g' ? 0.5f + u : u - 0.5f);
        }
    }
}

/* global: the tracker's observation mode (-1 automatic). In the global mode an
 * untrained network's logits are near-ties all over the strip, so rounding
 * can move the position: there only windows and probabilities must agree. */
static void compare_paths(const char *what, const lec_follow_model *m, const lec_piece *piece,
                          const float *x, size_t n, int global)
{
    lec_error err;
    lec_follower_config ca;
    lec_follower_config_default(&ca);
    ca.model = m;
    ca.piece = piece;
    ca.start = LEC_FOLLOW_START_ANYWHERE;
    ca.global_obs = global;
    lec_follower *a = lec_follower_create(&ca, &err);
    CHECKF(a != NULL, "%s: %s", what, err.msg);
    lec_follower_config cb = ca;
    cb.net_cache = 0;
    cb.window_grid_px = a ? lec_follow_cache_grid_px(lec_follower_cache(a)) : 8;
    lec_follower *b = lec_follower_create(&cb, &err);
    CHECKF(b != NULL, "%s: %s", what, err.msg);
    if (a && b) {
        CHECK(lec_follower_cache(b) == NULL);
        compare c = run_pair(a, b, x, n);
        printf("  %-34s %d frames (%d with the network): same windows %d, same positions %d, "
               "max |dp| %.2g, max |dx| %.2g px\n",
               what, c.frames, c.frames_net, c.same_windows, c.same_pos, c.max_dp, c.max_dx);
        CHECKF(c.frames > 250 && c.frames_net > c.frames / 2, "%s: %d frames", what, c.frames);
        /* the same windows every frame; positions equal up to the rounding of
         * the probabilities (the tracker refines x continuously) */
        CHECKF(c.same_windows == c.frames && (global == 1 || c.max_dx < 0.01),
               "%s: windows differ in %d of %d frames, positions by up to %g px", what,
               c.frames - c.same_windows, c.frames, c.max_dx);
        CHECKF(c.max_dp < 1e-5, "%s: probabilities differ by %g", what, c.max_dp);
    }
    lec_follower_destroy(a);
    lec_follower_destroy(b);
}

int main(void)
{
    test_tracker_grid();

    const char *dir = lec_test_scratch_dir("test_follow_cache");
    char bdir[4200], mpath[4200], apath[4300];
    snprintf(bdir, sizeof bdir, "%s/piece", dir);
    snprintf(mpath, sizeof mpath, "%s/tiny.lnm", dir);
    fix_opts fo = {.n_renderings = 1, .tempo = {1.0, 1.0}};
    CHECK(fix_write_bundle(bdir, &fo) == 0);
    CHECK(fix_write_model(mpath, 0, 7) == 0);
    lec_error err;
    lec_piece *piece = lec_piece_load(bdir, &err);
    CHECKF(piece != NULL, "%s", err.msg);
    lec_follow_model *model = piece ? lec_follow_model_load(mpath, &err) : NULL;
    CHECKF(model != NULL, "%s", err.msg);
    if (!piece || !model)
        return lec_test_finish("test_follow_cache");
    lec_piece_path(piece, lec_piece_renderings(piece)[0].audio, apath, sizeof apath);
    size_t n = 0;
    float *x = fix_read_audio(apath, &n);
    CHECK(x != NULL && n > 22050 * 10);
    const lec_nn_net *net = lec_follow_model_net(model);
    const lec_nn_arch *arch = lec_nn_net_arch(net);

    /* ---- the cache itself, on the follower's strip */
    lec_unroll_config uc;
    lec_follow_model_unroll_config(model, &uc);
    lec_unroll *u = lec_unroll_create(piece, &uc, &err);
    CHECKF(u != NULL, "%s", err.msg);
    const int grid = 8; /* the automatic grid: window 64 px / 8 */
    lec_follow_cache *cache = lec_follow_cache_create(model, u, grid, on_progress, NULL, &err);
    CHECKF(cache != NULL, "%s", err.msg);
    if (!u || !cache || !x)
        return lec_test_finish("test_follow_cache");
    int W = lec_unroll_width_px(u), last = W - arch->score_w;
    int want = last / grid + 1 + (last % grid != 0);
    size_t part = lec_nn_head_part_floats(net);
    CHECKF(lec_follow_cache_n_origins(cache) == want, "%d origins, want %d",
           lec_follow_cache_n_origins(cache), want);
    CHECK(lec_follow_cache_bytes(cache) == sizeof(float) * (size_t)want * part);
    CHECK(lec_follow_cache_grid_px(cache) == grid && lec_follow_cache_build_s(cache) >= 0);
    CHECKF(n_progress > 0 && progress_bad == 0 && progress_last == want &&
               progress_total == want,
           "progress: %d calls, %d bad, last %lld of %lld", n_progress, progress_bad,
           (long long)progress_last, (long long)progress_total);
    CHECK(lec_follow_cache_part(cache, 0) != NULL && lec_follow_cache_part(cache, last) != NULL);
    CHECK(lec_follow_cache_part(cache, grid + 1) == NULL &&
          lec_follow_cache_part(cache, -grid) == NULL &&
          lec_follow_cache_part(cache, last + 1) == NULL);
    {
        /* entries equal the score tower + score part computed directly */
        lec_nn_ctx *ctx = lec_nn_ctx_create(net, 1, 0, &err);
        float *win = malloc(sizeof(float) * (size_t)arch->score_h * arch->score_w);
        float *emb = malloc(sizeof(float) * lec_nn_score_embed_floats(net));
        float *p = malloc(sizeof(float) * part);
        int origins[] = {0, grid, 5 * grid, (last / grid) * grid, last};
        double worst = 0, scale = 0;
        for (size_t k = 0; ctx && k < sizeof origins / sizeof origins[0]; k++) {
            lec_unroll_window(u, origins[k], arch->score_w, win);
            CHECK(lec_nn_forward_score_tower(ctx, win, 1, emb, &err) == LEC_OK);
            CHECK(lec_nn_head_score_part(net, emb, 1, p, &err) == LEC_OK);
            const float *c = lec_follow_cache_part(cache, origins[k]);
            for (size_t j = 0; c && j < part; j++) {
                worst = fmax(worst, fabs((double)c[j] - (double)p[j]));
                scale = fmax(scale, fabs((double)p[j]));
            }
        }
        CHECKF(scale > 1e-3 && worst <= 1e-5 * (1 + scale), "cache entries off by %g (scale %g)",
               worst, scale);
        free(win), free(emb), free(p);
        lec_nn_ctx_destroy(ctx);
    }

    /* ---- cached vs full forward, the same grid, frame by frame */
    compare_paths("plain head (BN identity)", model, piece, x, n, -1);
    {
        lec_nn_net *n2 = lec_nn_net_create(arch, &err);
        memcpy(lec_nn_net_params(n2), lec_nn_net_params_const(net),
               sizeof(float) * lec_nn_net_n_params(net));
        perturb_bn(n2);
        lec_model_info info;
        fix_tiny_info(&info, arch);
        lec_follow_model *m2 = lec_follow_model_from_net(n2, &info, 0, "bn", &err);
        CHECKF(m2 != NULL, "%s", err.msg);
        if (m2)
            compare_paths("plain head, random BN statistics", m2, piece, x, n, -1);
        lec_follow_model_destroy(m2);
        lec_nn_net_destroy(n2);
    }
    {
        /* bucket head: score tower ends with a (4, 10, 16) map, one column per bucket */
        lec_nn_arch ab;
        fix_tiny_arch(&ab, 0);
        snprintf(ab.score_layers, sizeof ab.score_layers, "c4,p,c4,p");
        snprintf(ab.head_layers, sizeof ab.head_layers, "d8");
        ab.bucket_head = 1;
        lec_nn_net *n3 = lec_nn_net_create(&ab, &err);
        CHECKF(n3 != NULL, "%s", err.msg);
        if (n3) {
            lec_nn_net_init(n3, 5);
            perturb_bn(n3);
            lec_model_info info;
            fix_tiny_info(&info, &ab);
            lec_follow_model *m3 = lec_follow_model_from_net(n3, &info, 0, "bucket", &err);
            CHECKF(m3 != NULL, "%s", err.msg);
            if (m3) {
                compare_paths("bucket head, belief windows", m3, piece, x, n, 0);
                compare_paths("bucket head, global", m3, piece, x, n, 1);
            }
            lec_follow_model_destroy(m3);
            lec_nn_net_destroy(n3);
        }
    }

    /* ---- a shared cache: bit-identical to the follower's own */
    {
        lec_follower_config c1;
        lec_follower_config_default(&c1);
        c1.model = model;
        c1.piece = piece;
        c1.unroll = u;
        lec_follower *own = lec_follower_create(&c1, &err);
        lec_follower_config c2 = c1;
        c2.cache = cache;
        c2.window_grid_px = 3; /* ignored: the shared cache's grid wins */
        lec_follower *shared = lec_follower_create(&c2, &err);
        CHECKF(own && shared, "%s", err.msg);
        if (own && shared) {
            CHECK(lec_follower_cache(shared) == cache && lec_follower_cache(own) != cache);
            compare c = run_pair(own, shared, x, n);
            CHECKF(c.frames > 250 && c.same_windows == c.frames && c.same_pos == c.frames &&
                       c.max_dp == 0,
                   "shared cache: %d frames, same windows %d, positions %d, max dp %g",
                   c.frames, c.same_windows, c.same_pos, c.max_dp);
        }
        lec_follower_destroy(own);
        lec_follower_destroy(shared);

        /* bad inputs */
        lec_follower_config c3 = c1;
        c3.net_cache = 2;
        CHECK(lec_follower_create(&c3, &err) == NULL && strstr(err.msg, "net_cache"));
        c3 = c1;
        c3.window_grid_px = -4;
        CHECK(lec_follower_create(&c3, &err) == NULL && strstr(err.msg, "grid"));
        CHECK(lec_follow_cache_create(model, u, 0, NULL, NULL, &err) == NULL &&
              strstr(err.msg, "grid"));
        /* a cache of another model (same shapes) is refused */
        char m2path[4300];
        snprintf(m2path, sizeof m2path, "%s/tiny2.lnm", dir);
        CHECK(fix_write_model(m2path, 0, 8) == 0);
        lec_follow_model *other = lec_follow_model_load(m2path, &err);
        CHECK(other != NULL);
        c3 = c2;
        c3.model = other;
        CHECK(other && lec_follower_create(&c3, &err) == NULL &&
              strstr(err.msg, "another model"));
        lec_follow_model_destroy(other);
        /* a cache of another strip (other margin) is refused */
        lec_unroll_config uc2 = uc;
        uc2.margin_x_ss = uc.margin_x_ss + 3;
        lec_unroll *u2 = lec_unroll_create(piece, &uc2, &err);
        lec_follow_cache *c_other = u2 ? lec_follow_cache_create(model, u2, grid, NULL, NULL, &err)
                                       : NULL;
        CHECK(c_other != NULL);
        c3 = c1;
        c3.unroll = NULL;
        c3.cache = c_other;
        CHECK(c_other && lec_follower_create(&c3, &err) == NULL &&
              strstr(err.msg, "another model or strip"));
        lec_follow_cache_destroy(c_other);
        lec_unroll_destroy(u2);
    }

    lec_follow_cache_destroy(cache);
    lec_unroll_destroy(u);
    free(x);
    lec_follow_model_destroy(model);
    lec_piece_destroy(piece);
    return lec_test_finish("test_follow_cache");
}
