/* perform_bench.c -- measure the performance/audio side on a real MIDI file
 * (e.g. LilyPond's output for a corpus piece): its notes are taken as the
 * performed note list (staff = track - 1), its tempo map and pedal through
 * lec_perform_cues_from_midi; then for each soundfont, plain and humanized:
 * MIDI written, rendered to FLAC; prints render seconds per audio minute and
 * FLAC kB per audio minute. Not a test (timings are machine-dependent).
 *
 * usage: perform_bench FILE.mid OUTDIR [--tempo F] [--bits N] [--dry] SOUNDFONT...
 *   --dry: reverb and chorus off; --bits N: FLAC resolution (lec_synth_config.bits)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lec_midi.h"
#include "lec_perform.h"
#include "lec_synth.h"
#include "lec_util.h"

/* Pair note-ons with note-offs per (channel, pitch) in time order. */
static lec_perform_note *notes_from_midi(const lec_midi *m, size_t *n_out)
{
    size_t n = lec_midi_n_events(m), cnt = 0;
    const lec_midi_event *e = lec_midi_events(m);
    lec_perform_note *notes = calloc(n + 1, sizeof *notes);
    static long open_on[16][128]; /* index into notes + 1, 0 = none */
    memset(open_on, 0, sizeof open_on);
    double wn = 1.0 / (4.0 * lec_midi_division(m));
    for (size_t i = 0; notes && i < n; i++) {
        if (!lec_midi_is_channel(&e[i]))
            continue;
        int c = lec_midi_channel(&e[i]), k = e[i].data1;
        if (lec_midi_is_note_off(&e[i]) || lec_midi_is_note_on(&e[i])) {
            if (open_on[c][k]) { /* close the sounding one */
                lec_perform_note *o = &notes[open_on[c][k] - 1];
                o->duration_wn = e[i].tick * wn - o->onset_wn;
                if (o->duration_wn <= 0)
                    o->duration_wn = 1.0 / 64;
                open_on[c][k] = 0;
            }
        }
        if (lec_midi_is_note_on(&e[i])) {
            notes[cnt] = (lec_perform_note){
                e[i].tick * wn, 1.0 / 4, k, e[i].data2, e[i].track > 0 ? e[i].track - 1 : 0,
                (int64_t)cnt};
            open_on[c][k] = (long)cnt + 1;
            cnt++;
        }
    }
    *n_out = cnt;
    return notes;
}

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s FILE.mid OUTDIR [--tempo F] [--bits N] [--dry] SOUNDFONT...\n",
                argv[0]);
        return 2;
    }
    lec_error err = {0};
    double factor = 1.0;
    int first_sf = 3, dry = 0, bits = 16;
    if (argc > first_sf + 2 && strcmp(argv[first_sf], "--tempo") == 0) {
        factor = atof(argv[first_sf + 1]);
        first_sf += 2;
    }
    if (argc > first_sf + 2 && strcmp(argv[first_sf], "--bits") == 0) {
        bits = atoi(argv[first_sf + 1]);
        first_sf += 2;
    }
    if (argc > first_sf + 1 && strcmp(argv[first_sf], "--dry") == 0) {
        dry = 1;
        first_sf++;
    }
    lec_midi *m = lec_midi_read(argv[1], &err);
    if (!m) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    size_t n = 0, nt = 0, np = 0;
    lec_perform_note *notes = notes_from_midi(m, &n);
    lec_perform_tempo *tempo = NULL;
    lec_perform_pedal *pedal = NULL;
    if (!notes || lec_perform_cues_from_midi(m, &tempo, &nt, &pedal, &np, &err) != LEC_OK) {
        fprintf(stderr, "%s\n", notes ? err.msg : "out of memory");
        return 1;
    }
    printf("%s: %zu notes, %zu tempo points, %zu pedal events\n", argv[1], n, nt, np);
    lec_perform_score sc = {notes, n, tempo, nt, pedal, np};
    lec_mkdir_p(argv[2], NULL);
    int rc = 0;
    for (int h = 0; h < 2; h++) {
        lec_perform_config pc;
        lec_perform_config_default(&pc);
        pc.tempo_factor = factor;
        pc.humanize = h;
        pc.seed = 7;
        double t0 = lec_now_s();
        lec_perform *p = lec_perform_create(&pc, &sc, &err);
        if (!p) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double t_perf = lec_now_s() - t0;
        char mid[4200];
        snprintf(mid, sizeof mid, "%s/%s.mid", argv[2], h ? "human" : "plain");
        if (lec_perform_write_midi(p, mid, &err) != LEC_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        printf("%s: performance %.1f s long, computed in %.1f ms\n", h ? "humanized" : "plain",
               lec_perform_last_off_s(p), 1e3 * t_perf);
        for (int a = first_sf; a < argc; a++) {
            lec_synth_config cfg;
            lec_synth_config_default(&cfg);
            cfg.reverb = cfg.chorus = !dry;
            cfg.bits = bits;
            lec_synth *s = lec_synth_create(&cfg, argv[a], &err);
            if (!s) {
                fprintf(stderr, "%s\n", err.msg);
                rc = 1;
                continue;
            }
            const char *base = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
            char flac[4300];
            snprintf(flac, sizeof flac, "%s/%s-%s.flac", argv[2], h ? "human" : "plain", base);
            lec_synth_info info;
            t0 = lec_now_s();
            if (lec_synth_render(s, mid, flac, &info, &err) != LEC_OK) {
                fprintf(stderr, "%s\n", err.msg);
                rc = 1;
            } else {
                double total = lec_now_s() - t0, min = info.duration_s / 60.0;
                printf("  %-16s audio %6.1f s  fluidsynth %5.2f s  total %5.2f s  "
                       "= %5.2f s per audio minute, FLAC %6.0f kB per minute, peak %.2f%s\n",
                       base, info.duration_s, info.render_s, total, total / min,
                       file_size(flac) / 1024.0 / min, info.peak, info.scaled ? " (scaled)" : "");
            }
            lec_synth_destroy(s);
        }
        lec_perform_destroy(p);
    }
    free(notes);
    free(tempo);
    free(pedal);
    lec_midi_destroy(m);
    return rc;
}
