/* test_perform.c -- lec_perform: the ground truth equals the written MIDI's
 * own tick->seconds times of its note-ons (read back with lec_midi), plain and
 * humanized; the plain times equal hand-computed ones; tempo factor 2 halves
 * the times; the humanized tempo stays within bounds, is smooth and actually
 * moves; asynchrony/jitter/velocity are bounded and keep the chord order;
 * same seed -> same bytes; MIDI constraints (program 0 everywhere, pedal on
 * every channel, no overlapping same-pitch notes); bad input errors; cues
 * from a LilyPond-style MIDI. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lec_midi.h"
#include "lec_perform.h"
#include "lec_test.h"

/* A two-staff piece: right hand eighth notes (including a repeated pitch
 * that overlaps itself), left hand half-note chords, 32 whole notes long. */
#define N_WN 32
static lec_perform_note notes[N_WN * 8 + N_WN * 4 + 4];
static size_t n_notes;

static void make_piece(void)
{
    n_notes = 0;
    for (int b = 0; b < N_WN; b++) {
        for (int k = 0; k < 8; k++)
            notes[n_notes] = (lec_perform_note){b + k / 8.0, 1.0 / 8, 60 + (k * 3 + b) % 12,
                                                0,           0,       (int64_t)n_notes},
            n_notes++;
        for (int h = 0; h < 2; h++)
            for (int c = 0; c < 2; c++)
                notes[n_notes] =
                    (lec_perform_note){b + h / 2.0, 0.5, 40 + c * 7, 70, 1, (int64_t)n_notes},
                n_notes++;
    }
    /* same pitch on one channel, overlapping (legato pedal notation) */
    notes[n_notes] = (lec_perform_note){N_WN, 0.75, 72, 90, 0, (int64_t)n_notes}, n_notes++;
    notes[n_notes] = (lec_perform_note){N_WN + 0.5, 0.5, 72, 90, 0, (int64_t)n_notes}, n_notes++;
    /* unison doubled in one staff (two voices), and a grace-like note at 0 */
    notes[n_notes] = (lec_perform_note){N_WN + 1, 0.25, 50, 0, 1, (int64_t)n_notes}, n_notes++;
    notes[n_notes] = (lec_perform_note){N_WN + 1, 0.5, 50, 0, 1, (int64_t)n_notes}, n_notes++;
}

/* tempo: quarter = 120 until 8 whole notes, then 60 */
static const lec_perform_tempo tempo[] = {{0.0, 120.0}, {8.0, 60.0}};
static const lec_perform_pedal pedal[] = {{0.0, 127}, {4.0, 0}, {4.0, 127}, {30.0, 0}};

/* Plain time at w: 2 s per whole note before 8, 4 s after; / factor. */
static double plain_s(double w, double factor)
{
    return (w <= 8 ? 2.0 * w : 16.0 + 4.0 * (w - 8)) / factor;
}

/* For every onset, find its note-on in the MIDI read back from disk and
 * compare seconds. Returns the number of onsets matched exactly. */
static size_t check_against_midi(const lec_perform *p, const char *path)
{
    lec_error err = {0};
    CHECKF(lec_perform_write_midi(p, path, &err) == LEC_OK, "%s", err.msg);
    lec_midi *m = lec_midi_read(path, &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (!m)
        return 0;
    size_t n = lec_midi_n_events(m), matched = 0;
    const lec_midi_event *e = lec_midi_events(m);
    const lec_perform_onset *o = lec_perform_onsets(p);
    int programs = 0, pedals = 0, channels = 0;
    int chan_seen[16] = {0};
    /* a note sounding per (channel, pitch): never two at once */
    int sounding[16][128];
    memset(sounding, 0, sizeof sounding);
    int overlap = 0;
    for (size_t i = 0; i < n; i++) {
        if (!lec_midi_is_channel(&e[i]))
            continue;
        int c = lec_midi_channel(&e[i]);
        if (lec_midi_kind(&e[i]) == LEC_MIDI_PROGRAM) {
            programs += e[i].data1 == 0 && e[i].tick == 0;
            chan_seen[c] = 1;
        }
        if (lec_midi_kind(&e[i]) == LEC_MIDI_CONTROL && e[i].data1 == 64)
            pedals++;
        if (lec_midi_is_note_on(&e[i])) {
            if (sounding[c][e[i].data1]++)
                overlap++;
        } else if (lec_midi_is_note_off(&e[i]) && sounding[c][e[i].data1] > 0) {
            sounding[c][e[i].data1]--;
        }
    }
    for (int c = 0; c < 16; c++)
        channels += chan_seen[c];
    CHECK(overlap == 0);
    CHECK(programs == channels && channels == 2);
    /* 4 pedal events x 2 channels + the final pedal-up on each */
    CHECK(pedals == 4 * 2 + 2);
    for (size_t k = 0; k < lec_perform_n_notes(p); k++) {
        int found = 0;
        for (size_t i = 0; i < n && !found; i++) {
            if (!lec_midi_is_note_on(&e[i]) || e[i].data1 != o[k].pitch ||
                lec_midi_channel(&e[i]) != o[k].channel)
                continue;
            double t = lec_midi_tick_to_s(m, e[i].tick);
            if (fabs(t - o[k].onset_s) < 1e-9 && e[i].data2 == o[k].velocity)
                found = 1;
        }
        matched += found;
    }
    /* the note's end is a note-off of that pitch at offset_s */
    size_t offs = 0;
    for (size_t k = 0; k < lec_perform_n_notes(p); k++)
        for (size_t i = 0; i < n; i++)
            if (lec_midi_is_note_off(&e[i]) && e[i].data1 == o[k].pitch &&
                lec_midi_channel(&e[i]) == o[k].channel &&
                fabs(lec_midi_tick_to_s(m, e[i].tick) - o[k].offset_s) < 1e-9) {
                offs++;
                break;
            }
    CHECK(offs == lec_perform_n_notes(p));
    CHECK_NEAR(lec_midi_duration_s(m), lec_perform_duration_s(p), 1e-9);
    lec_midi_destroy(m);
    return matched;
}

/* Sustain-pedal events of channel 0 in the performance's MIDI must be: down
 * at 0 (+ delay), up at 4 wn, down at 4 wn (+ delay), up at 30 wn, and the
 * final up at the end. delay = 0 plain, 48 ms (30 + 8 + 10) humanized. */
static void check_pedal(const lec_perform *p, double delay)
{
    const lec_midi *m = lec_perform_midi(p);
    const lec_midi_event *e = lec_midi_events(m);
    double want_t[5] = {lec_perform_seconds_at(p, 0) + delay, lec_perform_seconds_at(p, 4),
                        lec_perform_seconds_at(p, 4) + delay, lec_perform_seconds_at(p, 30),
                        lec_perform_duration_s(p)};
    int want_v[5] = {127, 0, 127, 0, 0};
    int k = 0;
    for (size_t i = 0; i < lec_midi_n_events(m); i++) {
        if (!lec_midi_is_channel(&e[i]) || lec_midi_kind(&e[i]) != LEC_MIDI_CONTROL ||
            lec_midi_channel(&e[i]) != 0 || e[i].data1 != 64)
            continue;
        if (k < 5) {
            CHECKF(e[i].data2 == want_v[k], "pedal %d value %d", k, e[i].data2);
            CHECK_NEAR(lec_midi_tick_to_s(m, e[i].tick), want_t[k], 0.00026);
        }
        k++;
    }
    CHECK(k == 5);
}

static lec_perform *perform(double factor, int humanize, uint64_t seed)
{
    lec_perform_config cfg;
    lec_perform_config_default(&cfg);
    cfg.tempo_factor = factor;
    cfg.humanize = humanize;
    cfg.seed = seed;
    lec_perform_score sc = {notes, n_notes, tempo, 2, pedal, 4};
    lec_error err = {0};
    lec_perform *p = lec_perform_create(&cfg, &sc, &err);
    CHECKF(p != NULL, "%s", err.msg);
    return p;
}

static void test_plain(const char *dir)
{
    char path[4200];
    lec_perform *p1 = perform(1.0, 0, 1), *p2 = perform(2.0, 0, 1), *ph = perform(0.5, 0, 1);
    if (!p1 || !p2 || !ph)
        goto done;
    const lec_perform_onset *o1 = lec_perform_onsets(p1), *o2 = lec_perform_onsets(p2),
                            *oh = lec_perform_onsets(ph);
    CHECK(lec_perform_n_notes(p1) == n_notes);
    int bad = 0, bad2 = 0, badh = 0;
    for (size_t i = 0; i < n_notes; i++) {
        /* exact up to the 0.5 ms tick grid */
        if (fabs(o1[i].onset_s - plain_s(notes[i].onset_wn, 1)) > 0.00025 + 1e-12)
            bad++;
        if (o1[i].id != notes[i].id || o1[i].pitch != notes[i].pitch)
            bad++;
        if (o1[i].velocity != (notes[i].velocity ? notes[i].velocity : 80))
            bad++;
        /* factor 2 halves all times, 0.5 doubles them (tick rounding only) */
        if (fabs(o2[i].onset_s - o1[i].onset_s / 2) > 0.0005 + 1e-12)
            bad2++;
        if (fabs(oh[i].onset_s - o1[i].onset_s * 2) > 0.0005 + 1e-12)
            badh++;
    }
    CHECK(bad == 0 && bad2 == 0 && badh == 0);
    CHECK_NEAR(lec_perform_seconds_at(p1, 10.0), plain_s(10.0, 1), 1e-9);
    CHECK_NEAR(lec_perform_seconds_at(p2, 10.0), plain_s(10.0, 2), 1e-9);
    CHECK_NEAR(lec_perform_seconds_at(p1, 100.0), plain_s(100.0, 1), 1e-6); /* extrapolated */
    CHECK_NEAR(lec_perform_tempo_multiplier_at(p1, 5.0), 1.0, 0);
    CHECK(isfinite(lec_perform_seconds_at(p1, 1e12)) && lec_perform_seconds_at(p1, NAN) == 0);
    /* last note-off: the unison pair ends at 33.5 wn; + 2 s tail */
    CHECK_NEAR(lec_perform_last_off_s(p1), plain_s(N_WN + 1.5, 1), 0.0005);
    CHECK_NEAR(lec_perform_duration_s(p1), lec_perform_last_off_s(p1) + 2.0, 1e-9);
    /* overlapping repeated pitch: first note cut one tick before the second */
    CHECK(o1[n_notes - 4].off_tick + 1 == o1[n_notes - 3].on_tick);
    /* the unison shares one MIDI note with the longer end */
    CHECK(o1[n_notes - 2].on_tick == o1[n_notes - 1].on_tick &&
          o1[n_notes - 2].off_tick == o1[n_notes - 1].off_tick);

    check_pedal(p1, 0.0);
    snprintf(path, sizeof path, "%s/plain.mid", dir);
    CHECK(check_against_midi(p1, path) == n_notes);
    snprintf(path, sizeof path, "%s/plain2.mid", dir);
    CHECK(check_against_midi(p2, path) == n_notes);
done:
    lec_perform_destroy(p1);
    lec_perform_destroy(p2);
    lec_perform_destroy(ph);
}

static void test_humanized(const char *dir)
{
    char path[4200];
    lec_perform *a = perform(1.0, 1, 42), *b = perform(1.0, 1, 42), *c = perform(1.0, 1, 43);
    lec_perform *plain = perform(1.0, 0, 42);
    if (!a || !b || !c || !plain)
        goto done;
    const lec_perform_onset *oa = lec_perform_onsets(a), *ob = lec_perform_onsets(b),
                            *oc = lec_perform_onsets(c), *op = lec_perform_onsets(plain);

    /* tempo curve: within [1/1.25, 1.25], smooth, and really varying */
    double mmin = 1e9, mmax = 0, max_step = 0, step = 1.0 / 64;
    for (double w = 0; w <= N_WN + 2; w += step) {
        double m = lec_perform_tempo_multiplier_at(a, w);
        mmin = fmin(mmin, m);
        mmax = fmax(mmax, m);
        double d = fabs(log(lec_perform_tempo_multiplier_at(a, w + step)) - log(m));
        max_step = fmax(max_step, d);
    }
    CHECKF(mmin >= 1 / 1.25 - 1e-12 && mmax <= 1.25 + 1e-12, "tempo %g..%g", mmin, mmax);
    CHECKF(mmax / mmin > 1.08, "tempo curve barely moves: %g..%g", mmin, mmax);
    /* |d log tempo / d wn| <= sum amp * 2 pi / period_min = ln(1.25) * 2 pi / 3 */
    CHECKF(max_step / step <= log(1.25) * 6.283185307179586 / 3.0 + 1e-9, "max slope %g / wn",
           max_step / step);
    /* the time map follows the curve: dT/dw = plain spw / multiplier */
    for (double w = 0.5; w < N_WN; w += 3.3) {
        double h = 1e-3;
        double slope =
            (lec_perform_seconds_at(a, w + h) - lec_perform_seconds_at(a, w - h)) / (2 * h);
        double want = (plain_s(w + h, 1) - plain_s(w - h, 1)) / (2 * h) /
                      lec_perform_tempo_multiplier_at(a, w);
        CHECK_NEAR(slope, want, 1e-5 * want);
    }

    /* asynchrony + jitter: bounded, nonzero, chord order kept */
    int moved = 0, too_far = 0, order = 0, async_nonzero = 0, vel_changed = 0, vel_bad = 0;
    for (size_t i = 0; i < n_notes; i++) {
        double smooth = lec_perform_seconds_at(a, notes[i].onset_wn);
        double d = oa[i].onset_s - smooth;
        if (fabs(d) > 0.0002)
            moved++;
        if (fabs(d) > (30 + 8) * 1e-3 + 0.00025 + 1e-12)
            too_far++;
        int v0 = notes[i].velocity ? notes[i].velocity : 80;
        if (oa[i].velocity != v0)
            vel_changed++;
        if (abs(oa[i].velocity - v0) > (int)ceil(0.15 * v0) + 1)
            vel_bad++;
        for (size_t j = 0; j < n_notes; j++)
            if (notes[j].onset_wn > notes[i].onset_wn + 1e-9 && oa[j].onset_s <= oa[i].onset_s)
                order++;
    }
    for (size_t i = 0; i + 1 < n_notes;
         i++) /* right hand note vs left-hand chord at the same time */
        for (size_t j = 0; j < n_notes; j++)
            if (notes[j].staff != notes[i].staff && notes[j].onset_wn == notes[i].onset_wn &&
                fabs(oa[j].onset_s - oa[i].onset_s) > 0.001)
                async_nonzero++;
    /* a unison of two voices in one staff stays one struck note */
    CHECK(oa[n_notes - 2].on_tick == oa[n_notes - 1].on_tick &&
          oa[n_notes - 2].off_tick == oa[n_notes - 1].off_tick);
    CHECK(moved > (int)n_notes / 2);
    CHECK(too_far == 0);
    CHECK(order == 0);
    CHECK(async_nonzero > 20);
    CHECK(vel_changed > (int)n_notes / 2 && vel_bad == 0);
    /* the humanized performance differs from the plain one by the curve */
    double maxdiff = 0;
    for (size_t i = 0; i < n_notes; i++)
        maxdiff = fmax(maxdiff, fabs(oa[i].onset_s - op[i].onset_s));
    CHECK(maxdiff > 0.5);

    /* same seed -> identical ground truth and identical MIDI bytes;
     * another seed -> different */
    int same = 1, diff = 0;
    for (size_t i = 0; i < n_notes; i++) {
        same &= oa[i].on_tick == ob[i].on_tick && oa[i].off_tick == ob[i].off_tick &&
                oa[i].velocity == ob[i].velocity;
        diff += oa[i].on_tick != oc[i].on_tick;
    }
    CHECK(same);
    CHECK(diff > (int)n_notes / 2);
    uint8_t *ba = NULL, *bb = NULL;
    size_t la = 0, lb = 0;
    lec_error err = {0};
    CHECK(lec_midi_serialize(lec_perform_midi(a), &ba, &la, &err) == LEC_OK);
    CHECK(lec_midi_serialize(lec_perform_midi(b), &bb, &lb, &err) == LEC_OK);
    CHECK(ba && bb && la == lb && memcmp(ba, bb, la) == 0);
    free(ba);
    free(bb);

    check_pedal(a, 0.048);
    snprintf(path, sizeof path, "%s/human.mid", dir);
    CHECK(check_against_midi(a, path) == n_notes);

    /* humanized at tempo factor 2: the smooth map is exactly halved */
    lec_perform *a2 = perform(2.0, 1, 42);
    if (a2) {
        CHECK_NEAR(lec_perform_seconds_at(a2, 20.0), lec_perform_seconds_at(a, 20.0) / 2, 1e-9);
        snprintf(path, sizeof path, "%s/human2.mid", dir);
        CHECK(check_against_midi(a2, path) == n_notes);
    }
    lec_perform_destroy(a2);
done:
    lec_perform_destroy(a);
    lec_perform_destroy(b);
    lec_perform_destroy(c);
    lec_perform_destroy(plain);
}

static void test_errors(void)
{
    lec_perform_config cfg;
    lec_perform_config_default(&cfg);
    lec_error err = {0};
    lec_perform_note bad[2] = {{0, 0.25, 60, 0, 0, 7}, {NAN, 0.25, 60, 0, 0, 8}};
    lec_perform_score sc = {bad, 2, NULL, 0, NULL, 0};
    CHECK(lec_perform_create(&cfg, &sc, &err) == NULL && err.code == LEC_EINVAL &&
          strstr(err.msg, "note 1 (id 8)"));
    bad[1] = (lec_perform_note){0, 0.25, 128, 0, 0, 9};
    CHECK(lec_perform_create(&cfg, &sc, &err) == NULL && strstr(err.msg, "pitch 128"));
    bad[1] = (lec_perform_note){0, 0, 60, 0, 0, 9};
    CHECK(lec_perform_create(&cfg, &sc, &err) == NULL && strstr(err.msg, "duration"));
    bad[1] = (lec_perform_note){1e5, 1, 60, 0, 0, 9}; /* 1e5 wn at 60 bpm = 111 h */
    CHECK(lec_perform_create(&cfg, &sc, &err) == NULL && strstr(err.msg, "24 h"));
    sc.n_notes = 1;
    cfg.tempo_factor = 0;
    CHECK(lec_perform_create(&cfg, &sc, &err) == NULL && strstr(err.msg, "tempo factor"));
    lec_perform_config_default(&cfg);
    lec_perform_tempo t[2] = {{0, 100}, {1, -3}};
    sc.tempo = t;
    sc.n_tempo = 2;
    CHECK(lec_perform_create(&cfg, &sc, &err) == NULL && strstr(err.msg, "tempo point 1"));
    t[1] = (lec_perform_tempo){-1, 100};
    CHECK(lec_perform_create(&cfg, &sc, &err) == NULL && err.code == LEC_EINVAL);
    sc.n_tempo = 0;
    lec_perform_pedal pd = {1.0, 300};
    sc.pedal = &pd;
    sc.n_pedal = 1;
    CHECK(lec_perform_create(&cfg, &sc, &err) == NULL && strstr(err.msg, "pedal event 0"));
    /* no tempo -> LilyPond's default quarter = 60: whole note = 4 s */
    sc.n_pedal = 0;
    lec_perform_note one[2] = {{0, 0.25, 60, 0, 0, 0}, {2.0, 0.25, 64, 0, 0, 1}};
    sc.notes = one;
    sc.n_notes = 2;
    lec_perform *p = lec_perform_create(&cfg, &sc, &err);
    CHECKF(p != NULL, "%s", err.msg);
    if (p)
        CHECK_NEAR(lec_perform_onsets(p)[1].onset_s, 8.0, 1e-12);
    lec_perform_destroy(p);
    /* empty score is valid: just program changes and the tail */
    sc.n_notes = 0;
    p = lec_perform_create(&cfg, &sc, &err);
    CHECKF(p != NULL, "%s", err.msg);
    if (p)
        CHECK(lec_perform_n_notes(p) == 0 && lec_perform_duration_s(p) == 2.0);
    lec_perform_destroy(p);
    lec_perform_destroy(NULL);
}

static void test_cues(void)
{
    /* LilyPond-style: 384 ticks a quarter, tempo track + two staves that both
     * carry the same pedal events */
    lec_error err = {0};
    lec_midi *m = lec_midi_create(1, 384, 3, &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (!m)
        return;
    lec_midi_add_tempo(m, 0, 0, 1000000, &err);      /* 60 bpm */
    lec_midi_add_tempo(m, 0, 4 * 384, 750000, &err); /* 80 bpm from 1 wn */
    lec_midi_add_tempo(m, 0, 4 * 384, 500000, &err); /* same tick: last wins, 120 */
    for (int t = 1; t <= 2; t++) {
        lec_midi_add_channel(m, t, 0, 0xB0 | (t - 1), 64, 127, &err);
        lec_midi_add_channel(m, t, 2 * 384, 0xB0 | (t - 1), 64, 0, &err);
        lec_midi_add_channel(m, t, 2 * 384, 0xB0 | (t - 1), 64, 127, &err);
        lec_midi_add_channel(m, t, 6 * 384, 0xB0 | (t - 1), 64, 0, &err);
        lec_midi_add_channel(m, t, 6 * 384, 0xB0 | (t - 1), 7, 100, &err); /* not pedal */
    }
    lec_perform_tempo *tp = NULL;
    lec_perform_pedal *pd = NULL;
    size_t nt = 0, np = 0;
    CHECK(lec_perform_cues_from_midi(m, &tp, &nt, &pd, &np, &err) == LEC_OK);
    CHECK(nt == 2);
    if (nt == 2) {
        CHECK_NEAR(tp[0].at_wn, 0, 0);
        CHECK_NEAR(tp[0].quarter_bpm, 60, 1e-12);
        CHECK_NEAR(tp[1].at_wn, 1.0, 0);
        CHECK_NEAR(tp[1].quarter_bpm, 120, 1e-12);
    }
    CHECK(np == 4);
    if (np == 4) {
        CHECK(pd[0].at_wn == 0 && pd[0].value == 127);
        CHECK(pd[1].at_wn == 0.5 && pd[1].value == 0);
        CHECK(pd[2].at_wn == 0.5 && pd[2].value == 127);
        CHECK(pd[3].at_wn == 1.5 && pd[3].value == 0);
    }
    free(tp);
    free(pd);
    lec_midi_destroy(m);
}

/* Random scores (notes on and off a grid, 1-4 staves, several tempi, pedal,
 * plain or humanized, factors 0.5..2): the invariants hold for every one --
 * each onset is a note-on of the written MIDI at exactly its ground-truth
 * time, the ground truth has its note-off, no pitch overlaps itself on a
 * channel, chords more than 3 ms apart keep their order. */
static double rnd(uint64_t *r)
{
    *r = *r * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*r >> 11) / 9007199254740992.0;
}

static void test_random(const char *dir)
{
    uint64_t r = 2024;
#define RND() rnd(&r)
    lec_perform_note *nt = malloc(300 * sizeof *nt);
    int failures_before = lec_test_failures;
    for (int it = 0; it < 30 && nt; it++) {
        size_t n = (size_t)(RND() * 300);
        for (size_t i = 0; i < n; i++) {
            /* one draw per statement: the order of evaluation inside an
             * initializer list is unspecified */
            double on = RND() < 0.7 ? floor(RND() * 256) / 16 : RND() * 16;
            double dur = 1.0 / 64 + RND() * 0.5;
            int pitch = 36 + (int)(RND() * 12);
            int vel = (int)(RND() * 128);
            int staff = (int)(RND() * 4);
            nt[i] = (lec_perform_note){on, dur, pitch, vel, staff, (int64_t)i};
        }
        lec_perform_tempo tp[5];
        size_t ntp = (size_t)(RND() * 5);
        for (size_t j = 0; j < ntp; j++) {
            double at = j * 3.0 + RND();
            tp[j] = (lec_perform_tempo){at, 30 + RND() * 210};
        }
        lec_perform_pedal pd[8];
        size_t npd = (size_t)(RND() * 8);
        for (size_t j = 0; j < npd; j++) {
            double at = RND() * 17;
            pd[j] = (lec_perform_pedal){at, RND() < 0.5 ? 0 : 127};
        }
        lec_perform_config cfg;
        lec_perform_config_default(&cfg);
        cfg.tempo_factor = 0.5 + RND() * 1.5;
        cfg.humanize = RND() < 0.6;
        cfg.seed = r;
        lec_perform_score sc = {nt, n, tp, ntp, pd, npd};
        lec_error err = {0};
        lec_perform *p = lec_perform_create(&cfg, &sc, &err);
        CHECKF(p != NULL, "random score %d: %s", it, err.msg);
        if (!p)
            continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/random%d.mid", dir, it);
        CHECK(lec_perform_write_midi(p, path, &err) == LEC_OK);
        lec_midi *m = lec_midi_read(path, &err);
        CHECKF(m != NULL, "%s", err.msg);
        const lec_perform_onset *o = lec_perform_onsets(p);
        if (m) {
            const lec_midi_event *e = lec_midi_events(m);
            size_t ne = lec_midi_n_events(m);
            int sounding[16][128], overlap = 0;
            memset(sounding, 0, sizeof sounding);
            for (size_t i = 0; i < ne; i++) {
                int c = lec_midi_channel(&e[i]);
                if (lec_midi_is_note_on(&e[i]) && sounding[c][e[i].data1]++)
                    overlap++;
                else if (lec_midi_is_note_off(&e[i]) && sounding[c][e[i].data1] > 0)
                    sounding[c][e[i].data1]--;
            }
            CHECKF(overlap == 0, "random score %d: %d overlaps", it, overlap);
            size_t unmatched = 0;
            for (size_t k = 0; k < n; k++) {
                int on = 0, off = 0;
                for (size_t i = 0; i < ne && !(on && off); i++) {
                    if (!lec_midi_is_channel(&e[i]) || e[i].data1 != o[k].pitch ||
                        lec_midi_channel(&e[i]) != o[k].channel)
                        continue;
                    double t = lec_midi_tick_to_s(m, e[i].tick);
                    on |= lec_midi_is_note_on(&e[i]) && fabs(t - o[k].onset_s) < 1e-9;
                    off |= lec_midi_is_note_off(&e[i]) && fabs(t - o[k].offset_s) < 1e-9;
                }
                unmatched += !(on && off) || o[k].offset_s <= o[k].onset_s;
            }
            CHECKF(unmatched == 0, "random score %d: %zu notes not in the MIDI", it, unmatched);
        }
        size_t swapped = 0;
        for (size_t a = 0; a < n; a++)
            for (size_t b = 0; b < n; b++)
                if (nt[b].onset_wn > nt[a].onset_wn &&
                    lec_perform_seconds_at(p, nt[b].onset_wn) -
                            lec_perform_seconds_at(p, nt[a].onset_wn) >
                        0.003 &&
                    o[b].onset_s <= o[a].onset_s)
                    swapped++;
        CHECKF(swapped == 0, "random score %d: %zu chord pairs swapped", it, swapped);
        lec_midi_destroy(m);
        lec_perform_destroy(p);
        if (lec_test_failures > failures_before + 5)
            break; /* enough to diagnose */
    }
    free(nt);
#undef RND
}

int main(void)
{
    const char *dir = lec_test_scratch_dir("test_perform");
    make_piece();
    test_plain(dir);
    test_humanized(dir);
    test_errors();
    test_cues();
    test_random(dir);
    return lec_test_finish("test_perform");
}
