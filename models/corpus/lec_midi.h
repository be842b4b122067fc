/* lec_midi.h -- Standard MIDI File (SMF) reader and writer.
 *
 * Reads format 0 and 1 files (format 2 is read too, its tracks merged on one
 * time line), with running status, meta events and sysex (sysex payloads are
 * skipped, their position kept as an event). Every length and offset is
 * bounds-checked: any byte sequence gives either a valid lec_midi or an
 * error naming the file, the track and the byte offset; it never crashes.
 * Writes format 0 or 1 files (no running status; note-on velocity 0 is kept
 * as written) through a temporary file + rename.
 *
 * Time: events carry absolute ticks. Seconds come from the tempo map (every
 * Set Tempo meta event on any track, 500000 us per quarter before the first
 * one), or from the SMPTE division (frames/s x ticks/frame) when the file
 * uses one, in which case tempo events are ignored as the SMF spec says.
 *
 * Thread safety: a lec_midi is not synchronised; concurrent reads of one
 * object (getters, lec_midi_tick_to_s, lec_midi_write) are safe, adding events
 * is not. Not for the audio callback (allocates).
 */
#ifndef LEC_MIDI_H
#define LEC_MIDI_H

#include <stddef.h>
#include <stdint.h>

#include "lec_error.h"

/* Status bytes of channel messages (upper nibble; the lower nibble is the
 * channel 0..15) and of the two non-channel kinds we keep. */
enum {
    LEC_MIDI_NOTE_OFF = 0x80,
    LEC_MIDI_NOTE_ON = 0x90,
    LEC_MIDI_POLY_PRESSURE = 0xA0,
    LEC_MIDI_CONTROL = 0xB0, /* data1 = controller (64 = sustain pedal), data2 = value */
    LEC_MIDI_PROGRAM = 0xC0, /* data1 = program (0 = acoustic grand piano) */
    LEC_MIDI_CHANNEL_PRESSURE = 0xD0,
    LEC_MIDI_PITCH_BEND = 0xE0,
    LEC_MIDI_SYSEX = 0xF0, /* F0 or F7 in the file; payload not kept */
    LEC_MIDI_META = 0xFF   /* data1 = meta type, payload in data/len */
};

/* Meta types we interpret. */
enum {
    LEC_MIDI_META_TEXT = 0x01,
    LEC_MIDI_META_TRACK_NAME = 0x03,
    LEC_MIDI_META_END_OF_TRACK = 0x2F,
    LEC_MIDI_META_TEMPO = 0x51, /* 3 bytes: microseconds per quarter note */
    LEC_MIDI_META_TIME_SIGNATURE = 0x58,
    LEC_MIDI_META_KEY_SIGNATURE = 0x59
};

typedef struct lec_midi_event {
    uint32_t tick;  /* absolute time in ticks of the file's division */
    uint16_t track; /* 0-based track (chunk) index */
    uint8_t status; /* channel messages: kind | channel; LEC_MIDI_META; LEC_MIDI_SYSEX */
    uint8_t data1;  /* note / controller / program; meta type for LEC_MIDI_META */
    uint8_t data2;  /* velocity / value; 0 for one-byte messages and metas */
    uint32_t len;   /* meta payload length in bytes (0 otherwise) */
    const uint8_t *data; /* meta payload (len bytes), owned by the lec_midi; NULL if len == 0 */
    uint32_t seq;   /* order of insertion / order in the file: ties in tick keep this order */
} lec_midi_event;

typedef struct lec_midi lec_midi;

/* An empty file to fill with lec_midi_add_*. format 0 or 1; ticks_per_quarter
 * 1..32767 (metrical division). n_tracks >= 1 (format 0: exactly 1). */
lec_midi *lec_midi_create(int format, int ticks_per_quarter, int n_tracks, lec_error *err);

/* Parse a whole file / a buffer. name is used in error messages. Caps:
 * 65535 tracks, 8 M events, file at most 64 MiB. */
lec_midi *lec_midi_read(const char *path, lec_error *err);
lec_midi *lec_midi_parse(const uint8_t *bytes, size_t len, const char *name, lec_error *err);

void lec_midi_destroy(lec_midi *m); /* NULL-safe */

int lec_midi_format(const lec_midi *m);
int lec_midi_n_tracks(const lec_midi *m);
/* Metrical: ticks per quarter (> 0). SMPTE: the negative frame rate
 * (-24, -25, -29, -30) and lec_midi_smpte_ticks_per_frame() > 0. */
int lec_midi_division(const lec_midi *m);
int lec_midi_smpte_ticks_per_frame(const lec_midi *m);

/* All events of all tracks, sorted by (tick, track, seq): a merged time line.
 * End-of-track metas are included. The pointer is valid until the next
 * lec_midi_add_* call. */
size_t lec_midi_n_events(const lec_midi *m);
const lec_midi_event *lec_midi_events(const lec_midi *m);

/* Appending. Events may be added in any tick order; they are sorted stably
 * by tick within each track when read back or written. An End-of-track meta
 * is written automatically at the last event of each track (or at the tick
 * given by lec_midi_set_track_end if later). */
lec_status lec_midi_add_channel(lec_midi *m, int track, uint32_t tick, int status, int data1,
                                int data2, lec_error *err);
/* Meta event; payload copied. Adding an End-of-track meta is allowed but
 * only its tick is used (the writer emits exactly one, last). */
lec_status lec_midi_add_meta(lec_midi *m, int track, uint32_t tick, int type,
                             const void *payload, uint32_t len, lec_error *err);
lec_status lec_midi_add_tempo(lec_midi *m, int track, uint32_t tick, uint32_t us_per_quarter,
                              lec_error *err);
lec_status lec_midi_set_track_end(lec_midi *m, int track, uint32_t tick, lec_error *err);

/* Serialise (format/division as created) to a malloc'd buffer / to a file
 * written atomically. */
lec_status lec_midi_serialize(const lec_midi *m, uint8_t **bytes, size_t *len, lec_error *err);
lec_status lec_midi_write(const lec_midi *m, const char *path, lec_error *err);

/* Seconds at an absolute tick through the tempo map (exact: sums of
 * tick * us_per_quarter / division, in double). */
double lec_midi_tick_to_s(const lec_midi *m, uint32_t tick);
/* Inverse: the tick nearest to seconds s >= 0 (saturates at UINT32_MAX). */
uint32_t lec_midi_s_to_tick(const lec_midi *m, double s);
/* Seconds of the last event (usually End-of-track). */
double lec_midi_duration_s(const lec_midi *m);

/* Helpers on events. */
static inline int lec_midi_is_channel(const lec_midi_event *e)
{
    return e->status >= 0x80 && e->status < 0xF0;
}
static inline int lec_midi_kind(const lec_midi_event *e) { return e->status & 0xF0; }
static inline int lec_midi_channel(const lec_midi_event *e) { return e->status & 0x0F; }
/* Note-on with velocity > 0 (velocity 0 means note-off by convention). */
static inline int lec_midi_is_note_on(const lec_midi_event *e)
{
    return (e->status & 0xF0) == LEC_MIDI_NOTE_ON && e->data2 > 0;
}
static inline int lec_midi_is_note_off(const lec_midi_event *e)
{
    return (e->status & 0xF0) == LEC_MIDI_NOTE_OFF ||
           ((e->status & 0xF0) == LEC_MIDI_NOTE_ON && e->data2 == 0);
}

#endif
