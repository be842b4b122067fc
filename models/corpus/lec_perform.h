/* lec_perform.h -- turn a list of performed notes in MUSICAL time into a MIDI
 * performance for synthesis, with the exact ground truth (onset seconds of
 * every note).
 *
 * Musical time: whole notes from the start of the unfolded (performed) score,
 * i.e. the time line of LilyPond's MIDI output with \unfoldRepeats:
 * whole notes = tick / (4 * ticks_per_quarter) of that file.
 *
 * Timing design (why the ground truth is exact): the MIDI we write has ONE
 * fixed tempo, LEC_PERFORM_US_PER_QUARTER at LEC_PERFORM_TICKS_PER_QUARTER,
 * so one tick is exactly LEC_PERFORM_TICK_S = 0.5 ms and seconds = tick *
 * 0.0005 for every event. The performance's time map (score tempo map x tempo
 * factor, x the humanized tempo curve, + asynchrony and jitter) is evaluated in
 * double precision and every event is placed at the nearest tick; the ground
 * truth is then computed FROM that tick, so it equals the MIDI file's own
 * tick->seconds time of the note-on exactly (tests read the file back).
 * Changing the tempo therefore rewrites the event times of the MIDI, never
 * the audio. Rounding to the 0.5 ms grid moves events by <= 0.25 ms from the
 * ideal curve, which is far below what matters (the synthesizer itself starts
 * notes on 64-sample blocks; see lec_synth.h).
 *
 * Output MIDI: format 1, track 0 = tempo; one track and one channel per staff
 * (channels 0..15 skipping 9, the GM drum channel; staves beyond 15 share the
 * last), program 0 (acoustic grand piano) at tick 0 on every channel used,
 * sustain pedal (CC64) events copied to every channel, and a pedal-up on
 * every channel at the end of the tail (cfg.tail_s after the last note-off),
 * which also keeps fluidsynth's player running until then. Within one tick:
 * note-offs, then pedal, then note-ons. A note that would still sound when the
 * same pitch starts again on the same channel is cut one tick before the new
 * note-on (MIDI cannot overlap a pitch); notes of one staff with the same
 * pitch and tick (a head shared by two voices) are sent as one MIDI note;
 * re-strikes of one pitch less than 2 ticks (1 ms) apart are moved to 2 ticks
 * apart. The ground truth always reports the ticks actually written.
 *
 * Humanized mode: log-tempo curve g(w) = sum of 3 sinusoids with periods
 * drawn log-uniformly in [tempo_period_min_wn, tempo_period_max_wn] and random
 * phases, amplitudes summing to r * ln(1 + tempo_dev), r in [0.6, 1]; local
 * tempo = score tempo x factor x exp(g(w)). Then, per (chord, staff), a hand
 * asynchrony (normal, sd async_ms/3, clipped at +-async_ms), per (chord,
 * staff, pitch) a jitter (sd jitter_ms/2, clipped) and a velocity factor
 * (1 + velocity_dev x clipped normal/2). The total shift of a note is clipped
 * at 0.4 x the time to the neighbouring chords, so chords never swap order.
 * Pedal-downs come async_ms + jitter_ms + 10 ms after their score time (legato
 * pedalling: the notes released by the new chord are not caught), but before
 * the next pedal event; pedal-ups stay on the smooth time map.
 * All draws are keyed hashes of (seed, what, where): reproducible and
 * independent of the order of the input notes.
 *
 * Thread safety: lec_perform objects are immutable after create; distinct
 * objects may be used from different threads. Not for the audio callback.
 */
#ifndef LEC_PERFORM_H
#define LEC_PERFORM_H

#include <stddef.h>
#include <stdint.h>

#include "lec_error.h"
#include "lec_midi.h"

#define LEC_PERFORM_TICKS_PER_QUARTER 1000
#define LEC_PERFORM_US_PER_QUARTER 500000 /* 120 quarters a minute, nominal */
#define LEC_PERFORM_TICK_S 0.0005         /* = US_PER_QUARTER / TICKS / 1e6 */

/* One performed note (a repeated passage gives a second note with its own,
 * later onset and possibly the same printed head). */
typedef struct lec_perform_note {
    double onset_wn;    /* performed onset, whole notes from the start, >= 0 */
    double duration_wn; /* sounding length, whole notes, > 0 */
    int pitch;          /* MIDI pitch 0..127 */
    int velocity;       /* 1..127; 0 = use cfg.default_velocity */
    int staff;          /* 0-based staff (0 = top staff, usually the right hand) */
    int64_t id;         /* caller's id (e.g. performance-order index), copied to the output */
} lec_perform_note;

/* Score tempo: from at_wn on, quarter_bpm quarter notes per minute (LilyPond
 * \tempo 4 = 96 -> 96; a Set Tempo of us microseconds -> 6e7 / us). */
typedef struct lec_perform_tempo {
    double at_wn;
    double quarter_bpm;
} lec_perform_tempo;

/* Sustain pedal: CC64 value (0 = up, 127 = down) at a musical time. */
typedef struct lec_perform_pedal {
    double at_wn;
    int value;
} lec_perform_pedal;

typedef struct lec_perform_score {
    const lec_perform_note *notes;
    size_t n_notes;
    /* Sorted by at_wn (ties: the last one wins). Empty -> 60 quarter/min from 0,
     * LilyPond's MIDI default. The first point applies from 0 whatever its at_wn. */
    const lec_perform_tempo *tempo;
    size_t n_tempo;
    const lec_perform_pedal *pedal; /* any order; ties keep given order */
    size_t n_pedal;
} lec_perform_score;

typedef struct lec_perform_config {
    double tempo_factor;  /* 2 = twice as fast as the score (times halved); 0.1..10 */
    int default_velocity; /* for notes with velocity 0; default 80 */
    double tail_s;        /* MIDI runs this long after the last note-off (release), default 2.0 */

    /* Humanized performance (seeded; same seed + input -> identical output). */
    int humanize;               /* 0 = plain (metronomic score tempo x factor) */
    uint64_t seed;
    double tempo_dev;           /* tempo stays within [1/(1+dev), 1+dev] x base; default 0.25 */
    double tempo_period_min_wn; /* the curve's sinusoids have periods in this range of */
    double tempo_period_max_wn; /*   whole notes (~bars): default 3..24 */
    double async_ms;            /* hand asynchrony per (chord, staff): at most this; default 30 */
    double jitter_ms;           /* extra per-note onset jitter: |j| <= jitter_ms, default 8 */
    double velocity_dev;        /* velocity x (1 +- velocity_dev), default 0.15 */
} lec_perform_config;

void lec_perform_config_default(lec_perform_config *cfg);

/* Ground truth of one note, in input order. */
typedef struct lec_perform_onset {
    int64_t id;
    double onset_s;  /* = tick * LEC_PERFORM_TICK_S of the note-on in the MIDI */
    double offset_s; /* time of its note-off */
    uint32_t on_tick, off_tick;
    int pitch, velocity, channel;
} lec_perform_onset;

typedef struct lec_perform lec_perform;

/* Compute the performance. Fails (LEC_EINVAL, naming the note index) on
 * NaN/negative times, pitch or velocity out of range, tempo <= 0, or a
 * performance longer than 24 hours. */
lec_perform *lec_perform_create(const lec_perform_config *cfg, const lec_perform_score *score,
                                lec_error *err);
void lec_perform_destroy(lec_perform *p); /* NULL-safe */

size_t lec_perform_n_notes(const lec_perform *p);
/* n_notes entries, same order as score->notes. */
const lec_perform_onset *lec_perform_onsets(const lec_perform *p);
/* The MIDI performance (owned by p). */
const lec_midi *lec_perform_midi(const lec_perform *p);
lec_status lec_perform_write_midi(const lec_perform *p, const char *path, lec_error *err);

/* The smooth time map (no asynchrony/jitter): seconds at musical time wn,
 * and the local tempo multiplier against the plain score tempo x factor
 * (1 when not humanized). Defined for wn >= 0 (extrapolated past the end). */
double lec_perform_seconds_at(const lec_perform *p, double wn);
double lec_perform_tempo_multiplier_at(const lec_perform *p, double wn);
/* End of the last note-off, seconds; and of the MIDI (last note-off + tail). */
double lec_perform_last_off_s(const lec_perform *p);
double lec_perform_duration_s(const lec_perform *p);

/* Read the score's tempo map and sustain-pedal events from LilyPond's own
 * MIDI file (whole notes = tick / (4 * division); metrical division only).
 * *tempo and *pedal are malloc'd (free()); either output pointer may be NULL
 * if not wanted. Pedal events of all channels are merged and deduplicated
 * (LilyPond writes one per staff). */
lec_status lec_perform_cues_from_midi(const lec_midi *m, lec_perform_tempo **tempo,
                                      size_t *n_tempo, lec_perform_pedal **pedal,
                                      size_t *n_pedal, lec_error *err);

#endif
