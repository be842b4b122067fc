/* soak.c -- the live path for a long time, with no sound hardware:
 *
 *   fake ALSA capture device (tests/audio/alsa_fake.h, streaming variant,
 *   paced at real time, 44.1 kHz stereo float) playing, in a loop, every
 *   rendering of a piece, each followed by silence, low noise and silence
 *     -> lec_source (PortAudio capture: callback -> lock-free ring ->
 *        resampling to the model rate on this thread)
 *     -> lec_follower (spectrogram, network, tracker): one position per frame
 *
 * and reports what a stage run must not show: memory growth (RSS after the
 * warm-up vs at the end, sampled along the way), ring overflows and the
 * audio they dropped, and frames with a position output vs the frames the
 * wall-clock time implies. Run under the ASan build it is also a leak check
 * (LeakSanitizer at exit); RSS figures are only meaningful in the normal
 * build (ASan's quarantine grows RSS by design), so --check ignores them
 * there.
 *
 *   lec_soak [--seconds N | --minutes M] [--model M.lnm --piece DIR | --full-size]
 *            [--stall-at S --stall-for S] [--vanish-at S] [--check] [--dir D]
 *
 * Without --model/--piece: models/lectern.lnm with the bundled demo piece if
 * that model exists, else a generated piece (tests/follow/follow_fixture.h)
 * and a tiny random model -- positions are then meaningless, but memory,
 * overflows and the frame count are what a soak measures. --full-size: a
 * random model of the shipped architecture (lec_nn_arch_default) on the demo
 * piece, for the real per-frame load.
 * Faults:
 *   --stall-at S --stall-for T  the processing thread sleeps T s at S s (a
 *       stalled follower): the ring (2 s) overflows; --check requires the
 *       overflow to be counted and reported, no further overflow after it,
 *       and a position for every frame again afterwards (>= 90% of the
 *       frame rate over the rest of the run);
 *   --vanish-at S  the device stops delivering at S s (as a device that was
 *       unplugged or died): --check requires the run to end with the
 *       source's error naming the device, within a few seconds, no crash.
 * Exit status: 0 ok (and every --check criterion met), 1 a criterion failed
 * or an unexpected error, 2 usage. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alsa_fake.h"
#include "follow_fixture.h"
#include "lec_follower.h"
#include "lec_model.h"
#include "lec_nn.h"
#include "lec_piece.h"
#include "lec_source.h"
#include "lec_test.h"
#include "lec_util.h"

#define DEV_RATE 44100
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* OpenBLAS: one thread for the follower, as a live app runs it (the other
 * core is the capture/audio side's); the header is not needed for this. */
void openblas_set_num_threads(int n);

/* ---- the program the fake device plays: mono at DEV_RATE, looped ---- */
typedef struct program {
    float *x;
    size_t n, pos;
    uint64_t rng;
} program;

static int append(program *p, const float *x, size_t n)
{
    float *nx = realloc(p->x, (p->n + n) * sizeof *nx);
    if (!nx)
        return -1;
    p->x = nx;
    if (x)
        memcpy(p->x + p->n, x, n * sizeof *x);
    else
        memset(p->x + p->n, 0, n * sizeof *x);
    p->n += n;
    return 0;
}

/* White noise, uniform in +-0.055: RMS 0.032 = -30 dBFS, a quiet room with
 * an audience; the tracker must treat it as "no music", not crash on it. */
static int append_noise(program *p, double s)
{
    size_t n = (size_t)(s * DEV_RATE), at = p->n;
    if (append(p, NULL, n))
        return -1;
    for (size_t i = 0; i < n; i++) {
        p->rng ^= p->rng << 13;
        p->rng ^= p->rng >> 7;
        p->rng ^= p->rng << 17;
        p->x[at + i] = (float)(((double)(p->rng >> 11) / 9007199254740992.0 * 2 - 1) * 0.055);
    }
    return 0;
}

/* Every rendering of the piece (read at DEV_RATE through the file source),
 * each followed by 2 s silence, 3 s noise, 1 s silence. */
static int build_program(program *p, const lec_piece *piece, double *loop_s)
{
    memset(p, 0, sizeof *p);
    p->rng = 0x9E3779B97F4A7C15ull;
    size_t nr = lec_piece_n_renderings(piece);
    for (size_t r = 0; r < nr; r++) {
        char path[4096];
        lec_piece_path(piece, lec_piece_renderings(piece)[r].audio, path, sizeof path);
        lec_source_config sc;
        lec_source_config_default(&sc);
        sc.kind = LEC_SOURCE_FILE;
        sc.path = path;
        sc.sample_rate = DEV_RATE;
        lec_error err;
        lec_source *s = lec_source_create(&sc, &err);
        if (!s) {
            fprintf(stderr, "soak: %s\n", err.msg);
            return -1;
        }
        float buf[8192];
        size_t n;
        while (lec_source_read(s, buf, 8192, &n, 0, &err) == LEC_OK && n > 0)
            if (append(p, buf, n))
                return -1;
        lec_source_destroy(s);
        if (append(p, NULL, 2 * DEV_RATE) || append_noise(p, 3.0) ||
            append(p, NULL, 1 * DEV_RATE))
            return -1;
    }
    if (p->n == 0) {
        fprintf(stderr, "soak: the piece has no renderings to play\n");
        return -1;
    }
    *loop_s = (double)p->n / DEV_RATE;
    return 0;
}

/* alsa_fake writer thread: the program as FLOAT_LE stereo, looped. */
static void gen(void *user, float *stereo, size_t n_frames)
{
    program *p = user;
    for (size_t i = 0; i < n_frames; i++) {
        float v = p->x[p->pos];
        p->pos = p->pos + 1 == p->n ? 0 : p->pos + 1;
        stereo[2 * i] = v;
        stereo[2 * i + 1] = v;
    }
}

/* ---- measurements ---- */
static double rss_mb(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (!fp)
        return -1;
    if (fscanf(fp, "%ld %ld", &size, &res) != 2)
        res = -1;
    fclose(fp);
    return res < 0 ? -1 : (double)res * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void usage(FILE *out)
{
    fprintf(out, "usage: lec_soak [--seconds N | --minutes M] [--model M.lnm --piece DIR | --full-size]\n"
                 "                [--stall-at S --stall-for S] [--vanish-at S] [--check] [--dir D]\n");
}

int main(int argc, char **argv)
{
    double seconds = 60, stall_at = -1, stall_for = 0, vanish_at = -1;
    const char *model_path = NULL, *piece_dir = NULL, *dir = NULL;
    int check = 0, full_size = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--check")) {
            check = 1;
            continue;
        }
        if (!strcmp(a, "--full-size")) {
            full_size = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--seconds"))
            seconds = atof(v);
        else if (!strcmp(a, "--minutes"))
            seconds = 60 * atof(v);
        else if (!strcmp(a, "--model"))
            model_path = v;
        else if (!strcmp(a, "--piece"))
            piece_dir = v;
        else if (!strcmp(a, "--stall-at"))
            stall_at = atof(v);
        else if (!strcmp(a, "--stall-for"))
            stall_for = atof(v);
        else if (!strcmp(a, "--vanish-at"))
            vanish_at = atof(v);
        else if (!strcmp(a, "--dir"))
            dir = v;
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!(seconds > 0) || (model_path == NULL) != (piece_dir == NULL)) {
        usage(stderr);
        return 2;
    }
    char scratch[4096], path[4300], mpath[4300];
    snprintf(scratch, sizeof scratch, "%s",
             dir ? dir
                 : lec_test_scratch_dir(vanish_at >= 0 ? "soak_vanish"
                                        : stall_at >= 0 ? "soak_stall"
                                                        : "soak"));
    lec_mkdir_p(scratch, NULL);

    /* the piece and the model */
    lec_error err;
    char shipped[4300], demo[4300];
    /* ctest sets LEC_SOURCE_DIR; by hand, the tree this was built from */
    const char *src_dir = getenv("LEC_SOURCE_DIR") ? getenv("LEC_SOURCE_DIR") : LEC_SOAK_SOURCE_DIR;
    snprintf(shipped, sizeof shipped, "%s/models/lectern.lnm", src_dir);
    snprintf(demo, sizeof demo, "%s/assets/BurgmullerJFF__O100__25EF-16", src_dir);
    if (!model_path && full_size) {
        /* the shipped architecture and front-end, random weights: the real
         * per-frame cost (network, windows), with the demo piece's real
         * pages and rendering */
        lec_nn_arch a;
        lec_nn_arch_default(&a);
        lec_model_info mi;
        lec_model_info_default(&mi);
        lec_nn_net *net = lec_nn_net_create(&a, &err);
        snprintf(mpath, sizeof mpath, "%s/full-size-random.lnm", scratch);
        if (!net || (lec_nn_net_init(net, 5), lec_model_save(mpath, net, &mi, NULL, &err))) {
            fprintf(stderr, "soak: %s\n", err.msg);
            lec_nn_net_destroy(net);
            return 1;
        }
        lec_nn_net_destroy(net);
        model_path = mpath;
        piece_dir = demo;
    }
    if (!model_path && access(shipped, R_OK) == 0) {
        model_path = shipped;
        piece_dir = demo;
    }
    if (!model_path) {
        snprintf(path, sizeof path, "%s/piece", scratch);
        snprintf(mpath, sizeof mpath, "%s/tiny.lnm", scratch);
        fix_opts fo = {.n_renderings = 2, .tempo = {1.0, 1.3}};
        if (fix_write_bundle(path, &fo) != 0 || fix_write_model(mpath, 0, 11) != 0)
            return 1;
        model_path = mpath;
        piece_dir = path;
    }
    lec_piece *piece = lec_piece_load(piece_dir, &err);
    lec_follow_model *model = piece ? lec_follow_model_load(model_path, &err) : NULL;
    if (!piece || !model) {
        fprintf(stderr, "soak: %s\n", err.msg);
        lec_piece_destroy(piece);
        return 1;
    }
    openblas_set_num_threads(1);
    lec_follower_config fc;
    lec_follower_config_default(&fc);
    fc.model = model;
    fc.piece = piece;
    lec_follower *f = lec_follower_create(&fc, &err);
    if (!f) {
        fprintf(stderr, "soak: %s\n", err.msg);
        return 1;
    }
    program prog;
    double loop_s = 0;
    if (build_program(&prog, piece, &loop_s) != 0)
        return 1;
    printf("soak: model %s, piece %s, program loop %.1f s (%zu renderings + silence/noise), "
           "run %.0f s%s\n",
           model_path, piece_dir, loop_s, lec_piece_n_renderings(piece), seconds,
           UNDER_ASAN ? " (ASan build: leak check at exit; RSS not meaningful)" : "");

    /* the device */
    lec_alsa_fake fake;
    if (lec_alsa_fake_start_stream(&fake, scratch, DEV_RATE, gen, &prog) != 0) {
        fprintf(stderr, "soak: cannot set up the fake ALSA device in %s\n", scratch);
        return 1;
    }
    if (vanish_at >= 0) {
        fake.stall_after_s = vanish_at;
        fake.vanish = 1;
    }
    setenv("HOME", fake.home, 1);
    setenv("JACK_NO_START_SERVER", "1", 1);
    const lec_model_info *info = lec_follow_model_info(model);
    lec_source_config sc;
    lec_source_config_default(&sc);
    sc.kind = LEC_SOURCE_CAPTURE;
    sc.device = "lectern_tone";
    sc.sample_rate = info->sample_rate;
    lec_source *src = lec_source_create(&sc, &err);
    if (!src) {
        fprintf(stderr, "soak: %s\n", err.msg);
        lec_alsa_fake_stop(&fake);
        return 1;
    }

    /* the loop: what a live follower thread does */
    enum { CHUNK = 2048, MAX_OUT = 64 };
    static float buf[CHUNK];
    static lec_follow_out out[MAX_OUT];
    const double fps = lec_follower_fps(f);
    double t0 = lec_now_s(), t_warm = t0 + fmax(5.0, 0.1 * seconds), next_sample = t0;
    double rss_warm = -1, rss_max = 0, cost_max = 0, cost_sum = 0;
    int64_t frames = 0, with_pos = 0, lost_frames = 0, over_budget = 0;
    int64_t frames_after_stall = 0;
    double t_stall_end = -1;
    uint64_t overflows_after_stall = 0;
    int stalled = 0, device_error = 0;
    char device_msg[LEC_ERROR_MSG_MAX] = "";
    double t_error = -1;
    printf("soak: %8s %10s %10s %10s %9s\n", "t_s", "frames", "with_pos", "overflows", "rss_MB");
    for (;;) {
        double now = lec_now_s(), t = now - t0;
        if (t >= seconds)
            break;
        if (now >= next_sample) {
            double r = rss_mb();
            rss_max = fmax(rss_max, r);
            printf("soak: %8.0f %10lld %10lld %10llu %9.1f\n", t, (long long)frames,
                   (long long)with_pos, (unsigned long long)lec_source_overflows(src), r);
            fflush(stdout);
            next_sample += seconds >= 600 ? 300 : 10;
        }
        if (rss_warm < 0 && now >= t_warm)
            rss_warm = rss_mb();
        if (stall_at >= 0 && !stalled && t >= stall_at) {
            stalled = 1;
            sleep_s(stall_for); /* the follower thread hangs (e.g. swapped out) */
            t_stall_end = lec_now_s() - t0;
        }
        size_t n = 0;
        lec_status st = lec_source_read(src, buf, CHUNK, &n, 200, &err);
        if (st != LEC_OK) {
            device_error = 1;
            t_error = lec_now_s() - t0;
            snprintf(device_msg, sizeof device_msg, "%s", err.msg);
            printf("soak: capture stopped at %.1f s: %s\n", t_error, err.msg);
            fflush(stdout);
            break;
        }
        size_t done = 0;
        while (done < n) {
            size_t used = 0;
            int k = lec_follower_process(f, buf + done, n - done, &used, out, MAX_OUT, &err);
            if (k < 0) {
                fprintf(stderr, "soak: follower: %s\n", err.msg);
                return 1;
            }
            done += used;
            for (int j = 0; j < k; j++) {
                frames++;
                if (out[j].system >= 0 && isfinite(out[j].strip_x_px) && out[j].page >= 0)
                    with_pos++;
                lost_frames += out[j].lost != 0;
                cost_max = fmax(cost_max, out[j].cost_s);
                cost_sum += out[j].cost_s;
                over_budget += out[j].cost_s > 1.0 / fps;
                if (t_stall_end >= 0 && lec_now_s() - t0 > t_stall_end + 2.5)
                    frames_after_stall++;
            }
        }
        if (t_stall_end >= 0 && lec_now_s() - t0 <= t_stall_end + 2.5)
            overflows_after_stall = lec_source_overflows(src); /* settle: the backlog */
    }
    double t_end = lec_now_s() - t0;
    double rss_end = rss_mb();
    uint64_t overflows = lec_source_overflows(src), dropped = lec_source_dropped_samples(src),
             dev_over = lec_source_device_overflows(src);
    double delivered_s = lec_source_position_s(src);
    double dropped_s = (double)dropped / lec_source_input_rate_hz(src);
    /* Every delivered sample must end up in a frame (floor(samples / hop));
     * wall time implies t_end * fps, the gap being dropped audio and the
     * device's start-up. */
    double expected = delivered_s * fps, expected_wall = t_end * fps;
    lec_source_destroy(src);
    lec_alsa_fake_stop(&fake);

    printf("soak: ---- summary (%.1f s of wall time) ----\n", t_end);
    printf("soak: audio delivered %.1f s, dropped %.3f s; ring overflows %llu, device "
           "overflows %llu\n",
           delivered_s, dropped_s, (unsigned long long)overflows, (unsigned long long)dev_over);
    printf("soak: frames %lld, with a position %lld (%.2f%%); the delivered audio makes %.0f, "
           "wall time %.0f; lost-tracking frames %lld\n",
           (long long)frames, (long long)with_pos, frames ? 100.0 * with_pos / frames : 0.0,
           expected, expected_wall, (long long)lost_frames);
    printf("soak: frame cost mean %.2f ms, max %.2f ms, over the %.1f ms budget %lld\n",
           frames ? 1e3 * cost_sum / frames : 0.0, 1e3 * cost_max, 1e3 / fps,
           (long long)over_budget);
    printf("soak: RSS after warm-up %.1f MB, at the end %.1f MB (growth %+.2f MB), max %.1f MB\n",
           rss_warm, rss_end, rss_end - rss_warm, rss_max);

    int fail = device_error && vanish_at < 0;
    if (check) {
        if (vanish_at >= 0) {
            CHECKF(device_error, "the device vanished at %.0f s but the run did not notice",
                   vanish_at);
            CHECKF(strstr(device_msg, "lectern_tone") != NULL, "message does not name the "
                   "device: %s", device_msg);
            /* stall_s (2 s) after the last audio, plus what the FIFO held */
            CHECKF(t_error > vanish_at - 1.0 && t_error < vanish_at + 5.0,
                   "error at %.1f s for a device gone at %.1f s", t_error, vanish_at);
        } else {
            CHECKF(!device_error, "capture failed: %s", device_msg);
            CHECKF(t_end >= seconds - 1, "ended early at %.1f s", t_end);
            CHECKF(frames == with_pos, "%lld of %lld frames without a position",
                   (long long)(frames - with_pos), (long long)frames);
            CHECKF(fabs((double)frames - expected) <= 2,
                   "%lld frames for %.0f implied by the audio", (long long)frames, expected);
            /* the device's start-up (PortAudio opening ALSA) takes well under 1 s */
            CHECKF(delivered_s + dropped_s > t_end - 1.5,
                   "the device delivered %.1f s in %.1f s", delivered_s + dropped_s, t_end);
            if (stall_at >= 0) {
                CHECKF(overflows >= 1 && dropped > 0, "a %.1f s stall of a 2 s ring was not "
                       "counted as an overflow", stall_for);
                CHECKF(overflows == overflows_after_stall,
                       "overflows went on after the stall (%llu then %llu)",
                       (unsigned long long)overflows_after_stall,
                       (unsigned long long)overflows);
                double rest = t_end - (t_stall_end + 2.5);
                CHECKF(frames_after_stall >= 0.9 * rest * fps,
                       "after the stall: %lld frames in %.1f s (%.0f expected)",
                       (long long)frames_after_stall, rest, rest * fps);
            } else {
                CHECKF(overflows == 0 && dropped == 0, "%llu ring overflows at normal load",
                       (unsigned long long)overflows);
            }
            /* RSS: allocator noise is well under a megabyte; a per-frame leak of
             * even 16 bytes is 1.2 MB an hour at 20 frames/s. */
            if (!UNDER_ASAN)
                CHECKF(rss_end - rss_warm < 2.0, "RSS grew %.2f MB after the warm-up",
                       rss_end - rss_warm);
        }
        fail = lec_test_finish("soak") != 0;
    }
    lec_follower_destroy(f);
    lec_follow_model_destroy(model);
    lec_piece_destroy(piece);
    free(prog.x);
    return fail;
}
