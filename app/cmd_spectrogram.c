/* cmd_spectrogram.c -- `lectern spectrogram`: an audio file (optionally
 * replayed in real time) or live input through lec_source and the streaming
 * lec_spec, summarised on stdout and optionally written as CSV and PNG. */
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "lec_devices.h"
#include "lec_source.h"
#include "lec_spec.h"
#include "lec_util.h"

static volatile sig_atomic_t g_stop = 0;
static void on_sigint(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void help(FILE *out)
{
    fprintf(out,
            "usage: lectern spectrogram AUDIO_FILE [--realtime] [--seconds S] [--png OUT.png] "
            "[--csv OUT.csv]\n"
            "       lectern spectrogram --live [--device D] [--seconds S] [--png OUT.png] "
            "[--csv OUT.csv]\n\n"
            "Computes the log-filterbank spectrogram the follower listens with (the\n"
            "lec_spec defaults: 22050 Hz, frame 2048, hop 1102, 12 bands per octave from\n"
            "60 Hz to 6 kHz, log10(1 + x)) frame by frame as the audio arrives, and prints\n"
            "a summary: duration, frames, bands, and the band with the highest mean\n"
            "energy with its centre frequency.\n\n"
            "  AUDIO_FILE     any file libsndfile reads (WAV, FLAC, Ogg, AIFF, ...), any\n"
            "                 rate and channel count: mixed to mono, resampled to 22050 Hz\n"
            "  --realtime     replay the file no faster than real time (as if it were live)\n"
            "  --live         capture from an input device instead (PortAudio)\n"
            "  --device D     input device: index or part of its name (see `lectern\n"
            "                 devices`); default: the default input device\n"
            "  --seconds S    stop after S seconds of audio (live default: 5; a file stops\n"
            "                 at its end otherwise). Ctrl-C also stops and keeps the result\n"
            "  --png OUT.png  write an image: time on x, bands upwards (low at the bottom)\n"
            "  --csv OUT.csv  write the frames: header 'time_s' + each band's centre Hz;\n"
            "                 one row per frame, time_s = the end of the frame\n"
            "  --verbose      keep ALSA/JACK's own diagnostics on stderr (normally hidden)\n\n"
            "Exit status: 0 on success; 1 if the input cannot be read (missing, empty,\n"
            "not audio, truncated, no or failing device) or an output cannot be written;\n"
            "2 for bad arguments.\n");
}

/* ---- outputs ------------------------------------------------------------ */

static int write_csv(const char *path, const float *frames, size_t n_frames, int n_bands,
                     const lec_spec *spec, double hop_s)
{
    lec_atomic_file af;
    lec_error err;
    if (lec_atomic_open(&af, path, &err) != LEC_OK) {
        fprintf(stderr, "lectern spectrogram: %s\n", err.msg);
        return 1;
    }
    fprintf(af.fp, "time_s");
    for (int b = 0; b < n_bands; b++)
        fprintf(af.fp, ",%.2f", lec_spec_band_hz(spec, b));
    fputc('\n', af.fp);
    for (size_t i = 0; i < n_frames; i++) {
        fprintf(af.fp, "%.4f", (double)(i + 1) * hop_s);
        const float *f = frames + i * (size_t)n_bands;
        for (int b = 0; b < n_bands; b++)
            fprintf(af.fp, ",%.6g", f[b]);
        fputc('\n', af.fp);
    }
    if (lec_atomic_commit(&af, &err) != LEC_OK) {
        fprintf(stderr, "lectern spectrogram: %s\n", err.msg);
        return 1;
    }
    return 0;
}

/* A dark-to-bright colour map (black, purple, red, orange, pale yellow, like
 * 'inferno'): perceptually ordered so louder always reads as brighter. */
static void colormap(double v, double *r, double *g, double *b)
{
    static const double stops[5][3] = {
        {0.00, 0.00, 0.02}, {0.34, 0.06, 0.43}, {0.73, 0.21, 0.33}, {0.98, 0.55, 0.04},
        {0.99, 1.00, 0.64}};
    if (v < 0)
        v = 0;
    if (v > 1)
        v = 1;
    double x = v * 4;
    int i = (int)x;
    if (i > 3)
        i = 3;
    double t = x - i;
    *r = stops[i][0] + t * (stops[i + 1][0] - stops[i][0]);
    *g = stops[i][1] + t * (stops[i + 1][1] - stops[i][1]);
    *b = stops[i][2] + t * (stops[i + 1][2] - stops[i][2]);
}

static cairo_status_t png_write(void *closure, const unsigned char *data, unsigned int len)
{
    FILE *fp = closure;
    return fwrite(data, 1, len, fp) == len ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

static int write_png(const char *path, const float *frames, size_t n_frames, int n_bands,
                     const lec_spec *spec, double hop_s, const char *title)
{
    /* Geometry: each frame gets px_w pixels (at least ~800 px of plot for
     * short inputs); very long inputs average frames_per_px frames per column
     * so the width stays within cairo's 32767 px limit. */
    const int max_cols = 16000;
    size_t frames_per_px = (n_frames + max_cols - 1) / max_cols;
    if (frames_per_px < 1)
        frames_per_px = 1;
    int cols = (int)((n_frames + frames_per_px - 1) / frames_per_px);
    int px_w = cols >= 800 ? 1 : (800 + cols - 1) / cols;
    if (px_w > 64)
        px_w = 64;
    int band_h = n_bands >= 400 ? 1 : 400 / n_bands;
    const int left = 64, right = 16, top = 28, bottom = 40;
    int plot_w = cols * px_w, plot_h = n_bands * band_h;
    int W = left + plot_w + right, H = top + plot_h + bottom;

    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        fprintf(stderr, "lectern spectrogram: %s: cannot create a %dx%d image: %s\n", path, W, H,
                cairo_status_to_string(cairo_surface_status(surf)));
        cairo_surface_destroy(surf);
        return 1;
    }
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);

    float vmax = 1e-12f;
    for (size_t i = 0; i < n_frames * (size_t)n_bands; i++)
        if (frames[i] > vmax)
            vmax = frames[i];
    for (int c = 0; c < cols; c++) {
        size_t f0 = (size_t)c * frames_per_px, f1 = f0 + frames_per_px;
        if (f1 > n_frames)
            f1 = n_frames;
        for (int b = 0; b < n_bands; b++) {
            double acc = 0;
            for (size_t f = f0; f < f1; f++)
                acc += frames[f * (size_t)n_bands + (size_t)b];
            double r, g, bl;
            colormap(acc / (double)(f1 - f0) / vmax, &r, &g, &bl);
            cairo_set_source_rgb(cr, r, g, bl);
            /* band 0 (lowest) at the bottom of the plot */
            cairo_rectangle(cr, left + c * px_w, top + (n_bands - 1 - b) * band_h, px_w, band_h);
            cairo_fill(cr);
        }
    }

    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 11);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, left - 0.5, top - 0.5, plot_w + 1, plot_h + 1);
    cairo_stroke(cr);
    /* Frequency ticks: the band nearest each round frequency. */
    static const double hz_ticks[] = {60, 100, 200, 300, 500, 1000, 2000, 3000, 5000, 8000};
    float lo = lec_spec_band_hz(spec, 0), hi = lec_spec_band_hz(spec, n_bands - 1);
    for (size_t t = 0; t < sizeof hz_ticks / sizeof hz_ticks[0]; t++) {
        if (hz_ticks[t] < lo * 0.97 || hz_ticks[t] > hi * 1.03)
            continue;
        int best = 0;
        for (int b = 1; b < n_bands; b++)
            if (fabs(log(lec_spec_band_hz(spec, b) / hz_ticks[t])) <
                fabs(log(lec_spec_band_hz(spec, best) / hz_ticks[t])))
                best = b;
        double y = top + (n_bands - 1 - best) * band_h + band_h / 2.0;
        char lab[32];
        if (hz_ticks[t] >= 1000)
            snprintf(lab, sizeof lab, "%gk", hz_ticks[t] / 1000);
        else
            snprintf(lab, sizeof lab, "%g", hz_ticks[t]);
        cairo_move_to(cr, left - 6, y);
        cairo_line_to(cr, left, y);
        cairo_stroke(cr);
        cairo_text_extents_t ext;
        cairo_text_extents(cr, lab, &ext);
        cairo_move_to(cr, left - 9 - ext.width, y + ext.height / 2);
        cairo_show_text(cr, lab);
    }
    cairo_move_to(cr, 4, top - 10);
    cairo_show_text(cr, "Hz");
    /* Time ticks: the smallest round step that leaves >= 60 px per label. */
    double total_s = (double)n_frames * hop_s;
    double px_per_s = plot_w / (total_s > 0 ? total_s : 1);
    static const double steps[] = {0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800};
    double step = steps[sizeof steps / sizeof steps[0] - 1];
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (steps[i] * px_per_s >= 60) {
            step = steps[i];
            break;
        }
    for (double ts = 0; ts <= total_s + 1e-9; ts += step) {
        double x = left + ts * px_per_s;
        cairo_move_to(cr, x, top + plot_h);
        cairo_line_to(cr, x, top + plot_h + 5);
        cairo_stroke(cr);
        char lab[32];
        snprintf(lab, sizeof lab, "%g", ts);
        cairo_text_extents_t ext;
        cairo_text_extents(cr, lab, &ext);
        cairo_move_to(cr, x - ext.width / 2, top + plot_h + 18);
        cairo_show_text(cr, lab);
    }
    cairo_move_to(cr, left + plot_w / 2.0 - 30, top + plot_h + 34);
    cairo_show_text(cr, "time (s)");
    cairo_move_to(cr, left + 30, top - 10);
    cairo_show_text(cr, title);
    cairo_destroy(cr);
    cairo_surface_flush(surf);

    lec_atomic_file af;
    lec_error err;
    if (lec_atomic_open(&af, path, &err) != LEC_OK) {
        fprintf(stderr, "lectern spectrogram: %s\n", err.msg);
        cairo_surface_destroy(surf);
        cairo_debug_reset_static_data();
        FcFini();
        return 1;
    }
    cairo_status_t cs = cairo_surface_write_to_png_stream(surf, png_write, af.fp);
    cairo_surface_destroy(surf);
    /* Drop cairo's font caches, then fontconfig's (all cairo objects are
     * gone by now): they live until exit anyway, but a leak checker would
     * report them on every run. */
    cairo_debug_reset_static_data();
    FcFini();
    if (cs != CAIRO_STATUS_SUCCESS) {
        lec_atomic_abort(&af);
        fprintf(stderr, "lectern spectrogram: %s: cannot write PNG: %s\n", path,
                cairo_status_to_string(cs));
        return 1;
    }
    if (lec_atomic_commit(&af, &err) != LEC_OK) {
        fprintf(stderr, "lectern spectrogram: %s\n", err.msg);
        return 1;
    }
    return 0;
}

/* ---- the command -------------------------------------------------------- */

int lec_cmd_spectrogram(int argc, char **argv)
{
    if (lec_wants_help(argc, argv)) {
        help(stdout);
        return 0;
    }
    const char *file = NULL, *png = NULL, *csv = NULL, *device = NULL;
    int live = 0, realtime = 0, verbose = 0;
    double seconds = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (strcmp(a, "--live") == 0) {
            live = 1;
        } else if (strcmp(a, "--realtime") == 0) {
            realtime = 1;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            verbose = 1;
        } else if ((strcmp(a, "--png") == 0 || strcmp(a, "--csv") == 0 ||
                    strcmp(a, "--device") == 0 || strcmp(a, "--seconds") == 0)) {
            if (!has_val) {
                fprintf(stderr, "lectern spectrogram: %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--png") == 0) {
                png = v;
            } else if (strcmp(a, "--csv") == 0) {
                csv = v;
            } else if (strcmp(a, "--device") == 0) {
                device = v;
            } else {
                char *end;
                seconds = strtod(v, &end);
                if (*end || !(seconds > 0) || seconds > 86400) {
                    fprintf(stderr,
                            "lectern spectrogram: --seconds wants a number of seconds in (0, "
                            "86400], not '%s'\n",
                            v);
                    return 2;
                }
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "lectern spectrogram: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!file) {
            file = a;
        } else {
            fprintf(stderr, "lectern spectrogram: one audio file at a time ('%s' and '%s')\n",
                    file, a);
            return 2;
        }
    }
    if (live == (file != NULL)) {
        fprintf(stderr, "lectern spectrogram: give an AUDIO_FILE or --live (see --help)\n");
        return 2;
    }
    if (live && realtime) {
        fprintf(stderr, "lectern spectrogram: --realtime is for files; live input is real time\n");
        return 2;
    }
    if (!live && device) {
        fprintf(stderr, "lectern spectrogram: --device only applies with --live\n");
        return 2;
    }
    if (live && seconds == 0)
        seconds = 5;
    if (!verbose)
        lec_audio_silence_backend_logs();

    lec_error err;
    lec_spec_config scfg;
    lec_spec_config_default(&scfg);
    lec_spec *spec = lec_spec_create(&scfg, &err);
    if (!spec) {
        fprintf(stderr, "lectern spectrogram: %s\n", err.msg);
        return 1;
    }
    lec_source_config cfg;
    lec_source_config_default(&cfg);
    cfg.kind = live ? LEC_SOURCE_CAPTURE : realtime ? LEC_SOURCE_FILE_REALTIME : LEC_SOURCE_FILE;
    cfg.path = file;
    cfg.device = device;
    cfg.sample_rate = scfg.sample_rate; /* the spectrogram's rate decides */
    lec_source *src = lec_source_create(&cfg, &err);
    if (!src) {
        fprintf(stderr, "lectern spectrogram: %s\n", err.msg);
        lec_spec_destroy(spec);
        return 1;
    }

    int n_bands = lec_spec_n_bands(spec);
    const size_t chunk = 1024; /* samples per read: ~46 ms at 22050 Hz */
    float *in = malloc(chunk * sizeof(float));
    /* Frames one read can complete: chunk / hop, +1 for a frame straddling
     * the previous read, +1 spare. */
    size_t max_new = chunk / (size_t)scfg.hop_size + 2;
    float *fresh = malloc(max_new * (size_t)n_bands * sizeof(float));
    uint64_t target = seconds > 0 ? (uint64_t)llround(seconds * scfg.sample_rate) : UINT64_MAX;
    double dur = lec_source_duration_s(src);
    size_t cap_frames = 64;
    if (dur > 0)
        cap_frames = (size_t)(dur * scfg.sample_rate / scfg.hop_size) + 2;
    else if (seconds > 0)
        cap_frames = (size_t)(seconds * scfg.sample_rate / scfg.hop_size) + 2;
    float *frames = malloc(cap_frames * (size_t)n_bands * sizeof(float));
    if (!in || !fresh || !frames) {
        fprintf(stderr, "lectern spectrogram: out of memory\n");
        free(in);
        free(fresh);
        free(frames);
        lec_source_destroy(src);
        lec_spec_destroy(spec);
        return 1;
    }
    size_t n_frames = 0;

    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old_sa);
    g_stop = 0;

    lec_progress prog;
    int show_progress = live || realtime;
    if (show_progress)
        lec_progress_begin(&prog, live ? "capturing" : "replaying",
                           (int64_t)(target != UINT64_MAX ? target : (uint64_t)(dur * scfg.sample_rate)));
    int rc = 0;
    uint64_t got_total = 0;
    while (got_total < target && !g_stop && !lec_source_finished(src)) {
        size_t want = chunk;
        if (target - got_total < want)
            want = (size_t)(target - got_total);
        size_t got = 0;
        lec_status st = lec_source_read(src, in, want, &got, 200, &err);
        if (st != LEC_OK) {
            fprintf(stderr, "lectern spectrogram: %s\n", err.msg);
            rc = 1;
            break;
        }
        got_total += got;
        size_t room = lec_spec_max_frames(spec, got);
        if (room > max_new) /* cannot happen with the sizing above */
            room = max_new;
        size_t nf = lec_spec_process(spec, in, got, fresh, room);
        if (n_frames + nf > cap_frames) {
            size_t nc = (n_frames + nf) * 2;
            float *p = realloc(frames, nc * (size_t)n_bands * sizeof(float));
            if (!p) {
                fprintf(stderr, "lectern spectrogram: out of memory after %zu frames\n", n_frames);
                rc = 1;
                break;
            }
            frames = p;
            cap_frames = nc;
        }
        memcpy(frames + n_frames * (size_t)n_bands, fresh, nf * (size_t)n_bands * sizeof(float));
        n_frames += nf;
        if (show_progress)
            lec_progress_update(&prog, (int64_t)got_total, NULL);
    }
    if (show_progress)
        lec_progress_end(&prog, NULL);
    sigaction(SIGINT, &old_sa, NULL);
    if (g_stop && !live && rc == 0) {
        fprintf(stderr, "lectern spectrogram: interrupted\n");
        rc = 1;
    }

    double hop_s = (double)scfg.hop_size / scfg.sample_rate;
    if (rc == 0 && n_frames == 0) {
        fprintf(stderr,
                "lectern spectrogram: %s: audio too short for one spectrogram frame (%llu "
                "samples at %d Hz; a frame ends every %d samples)\n",
                lec_source_name(src), (unsigned long long)got_total, scfg.sample_rate,
                scfg.hop_size);
        rc = 1;
    }
    if (rc == 0) {
        if (live)
            printf("source: live device '%s' (%.0f Hz, %d ch, input latency %.1f ms)\n",
                   lec_source_name(src), lec_source_input_rate_hz(src),
                   lec_source_input_channels(src), 1000 * lec_source_input_latency_s(src));
        else
            printf("source: %s (%.0f Hz, %d ch, %.3f s%s)\n", lec_source_name(src),
                   lec_source_input_rate_hz(src), lec_source_input_channels(src), dur,
                   realtime ? ", replayed in real time" : "");
        printf("duration: %.3f s (%llu samples at %d Hz)%s\n",
               (double)got_total / scfg.sample_rate, (unsigned long long)got_total,
               scfg.sample_rate, g_stop ? " (stopped by Ctrl-C)" : "");
        printf("frames: %zu (frame %d, hop %d = %.1f ms)\n", n_frames, scfg.frame_size,
               scfg.hop_size, 1000 * hop_s);
        printf("bands: %d (%.1f Hz .. %.1f Hz, %d per octave)\n", n_bands,
               lec_spec_band_hz(spec, 0), lec_spec_band_hz(spec, n_bands - 1),
               scfg.bands_per_octave);
        int best = 0;
        double best_mean = -1;
        for (int b = 0; b < n_bands; b++) {
            double s = 0;
            for (size_t i = 0; i < n_frames; i++)
                s += frames[i * (size_t)n_bands + (size_t)b];
            s /= (double)n_frames;
            if (s > best_mean) {
                best_mean = s;
                best = b;
            }
        }
        printf("loudest band: %d (centre %.1f Hz), mean log energy %.4f\n", best,
               lec_spec_band_hz(spec, best), best_mean);
        if (live)
            printf("overflows: %llu ring (%llu samples dropped), %llu reported by the device\n",
                   (unsigned long long)lec_source_overflows(src),
                   (unsigned long long)lec_source_dropped_samples(src),
                   (unsigned long long)lec_source_device_overflows(src));
        if (csv) {
            rc |= write_csv(csv, frames, n_frames, n_bands, spec, hop_s);
            if (!rc)
                printf("wrote %s\n", csv);
        }
        if (png && rc == 0) {
            char title[700];
            snprintf(title, sizeof title, "%s%s", live ? "live: " : "", lec_source_name(src));
            rc |= write_png(png, frames, n_frames, n_bands, spec, hop_s, title);
            if (!rc)
                printf("wrote %s\n", png);
        }
    }
    free(in);
    free(fresh);
    free(frames);
    lec_source_destroy(src);
    lec_spec_destroy(spec);
    return rc;
}
