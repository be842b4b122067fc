/* lec_midi.c -- Standard MIDI File reader/writer; see lec_midi.h. */
#include "lec_midi.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lec_util.h"

#define MIDI_MAX_FILE_BYTES ((size_t)64 << 20)
#define MIDI_MAX_EVENTS ((size_t)8 << 20)
#define MIDI_MAX_TRACKS 65535
#define ARENA_BLOCK 65536

/* Payload storage in blocks that never move, so that event->data stays valid
 * while the event array grows. */
typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    uint8_t data[];
} arena_block;

typedef struct tempo_point {
    uint32_t tick;
    uint32_t us_per_quarter;
    double s; /* seconds at tick */
} tempo_point;

struct lec_midi {
    int format;
    int division;  /* > 0 ticks per quarter; < 0 SMPTE frames per second (negated) */
    int smpte_tpf; /* ticks per frame (SMPTE only) */
    int n_tracks;
    uint32_t *track_end; /* n_tracks: requested End-of-track ticks (0 = none) */
    lec_midi_event *ev;  /* sorted by (tick, track, seq) at all times */
    size_t n, cap;
    uint32_t next_seq;
    arena_block *arena;
    tempo_point *tempo; /* sorted by tick; tempo[0].tick == 0 */
    size_t n_tempo;
};

/* ---------------------------------------------------------------- helpers */

static int ev_cmp(const lec_midi_event *a, const lec_midi_event *b)
{
    if (a->tick != b->tick)
        return a->tick < b->tick ? -1 : 1;
    if (a->track != b->track)
        return a->track < b->track ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}

static int ev_qsort_cmp(const void *a, const void *b) { return ev_cmp(a, b); }

static const uint8_t *arena_copy(lec_midi *m, const void *src, uint32_t len)
{
    if (len == 0)
        return NULL;
    arena_block *b = m->arena;
    if (!b || b->cap - b->used < len) {
        size_t cap = len > ARENA_BLOCK ? len : ARENA_BLOCK;
        arena_block *nb = malloc(sizeof *nb + cap);
        if (!nb)
            return NULL;
        nb->next = m->arena;
        nb->used = 0;
        nb->cap = cap;
        m->arena = nb;
        b = nb;
    }
    uint8_t *dst = b->data + b->used;
    memcpy(dst, src, len);
    b->used += len;
    return dst;
}

static int reserve_events(lec_midi *m, size_t extra)
{
    if (m->n + extra <= m->cap)
        return 1;
    size_t cap = m->cap ? m->cap : 256;
    while (cap < m->n + extra)
        cap *= 2;
    lec_midi_event *ne = realloc(m->ev, cap * sizeof *ne);
    if (!ne)
        return 0;
    m->ev = ne;
    m->cap = cap;
    return 1;
}

/* Rebuild the tempo table from the Set Tempo metas (few; O(n) scan). At one
 * tick the last tempo event (in merged order) wins. */
static int rebuild_tempo(lec_midi *m)
{
    size_t cnt = 1;
    for (size_t i = 0; i < m->n; i++)
        if (m->ev[i].status == LEC_MIDI_META && m->ev[i].data1 == LEC_MIDI_META_TEMPO)
            cnt++;
    tempo_point *t = malloc(cnt * sizeof *t);
    if (!t)
        return 0;
    size_t k = 0;
    t[k++] = (tempo_point){0, 500000, 0.0};
    for (size_t i = 0; i < m->n; i++) {
        const lec_midi_event *e = &m->ev[i];
        if (e->status != LEC_MIDI_META || e->data1 != LEC_MIDI_META_TEMPO || e->len != 3)
            continue;
        uint32_t us = ((uint32_t)e->data[0] << 16) | ((uint32_t)e->data[1] << 8) | e->data[2];
        if (us == 0)
            continue; /* meaningless; ignoring it keeps time monotone */
        if (t[k - 1].tick == e->tick)
            t[k - 1].us_per_quarter = us;
        else
            t[k++] = (tempo_point){e->tick, us, 0.0};
    }
    double div = m->division > 0 ? m->division : 1;
    for (size_t i = 1; i < k; i++)
        t[i].s = t[i - 1].s +
                 (double)(t[i].tick - t[i - 1].tick) * t[i - 1].us_per_quarter / (1e6 * div);
    free(m->tempo);
    m->tempo = t;
    m->n_tempo = k;
    return 1;
}

static lec_midi *midi_alloc(int format, int division, int tpf, int n_tracks)
{
    lec_midi *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->format = format;
    m->division = division;
    m->smpte_tpf = tpf;
    m->n_tracks = n_tracks;
    m->track_end = calloc((size_t)n_tracks, sizeof *m->track_end);
    if (!m->track_end || !rebuild_tempo(m)) {
        lec_midi_destroy(m);
        return NULL;
    }
    return m;
}

/* ---------------------------------------------------------------- create */

lec_midi *lec_midi_create(int format, int ticks_per_quarter, int n_tracks, lec_error *err)
{
    if (format != 0 && format != 1) {
        lec_error_set(err, LEC_EINVAL, "MIDI: format %d not writable (0 or 1)", format);
        return NULL;
    }
    if (ticks_per_quarter < 1 || ticks_per_quarter > 32767) {
        lec_error_set(err, LEC_EINVAL, "MIDI: ticks per quarter %d out of 1..32767",
                      ticks_per_quarter);
        return NULL;
    }
    if (n_tracks < 1 || n_tracks > MIDI_MAX_TRACKS || (format == 0 && n_tracks != 1)) {
        lec_error_set(err, LEC_EINVAL, "MIDI: %d tracks invalid for format %d", n_tracks, format);
        return NULL;
    }
    lec_midi *m = midi_alloc(format, ticks_per_quarter, 0, n_tracks);
    if (!m)
        lec_error_set(err, LEC_ENOMEM, "MIDI: out of memory");
    return m;
}

void lec_midi_destroy(lec_midi *m)
{
    if (!m)
        return;
    arena_block *b = m->arena;
    while (b) {
        arena_block *nx = b->next;
        free(b);
        b = nx;
    }
    free(m->ev);
    free(m->tempo);
    free(m->track_end);
    free(m);
}

/* ---------------------------------------------------------------- parse */

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Variable-length quantity: at most 4 bytes (28 bits). Returns 0 on error. */
static int read_vlq(const uint8_t *p, size_t end, size_t *pos, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        if (*pos >= end)
            return 0;
        uint8_t b = p[(*pos)++];
        v = (v << 7) | (b & 0x7F);
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

static int push_event(lec_midi *m, const lec_midi_event *e)
{
    if (m->n >= MIDI_MAX_EVENTS || !reserve_events(m, 1))
        return 0;
    m->ev[m->n++] = *e;
    return 1;
}

/* Parse one MTrk body p[0..len). Errors name the absolute file offset. */
static lec_status parse_track(lec_midi *m, const uint8_t *p, size_t len, size_t file_off, int track,
                              const char *name, lec_error *err)
{
    size_t pos = 0;
    uint64_t tick = 0;
    uint8_t running = 0;
    int ended = 0;
    while (pos < len && !ended) {
        uint32_t delta;
        if (!read_vlq(p, len, &pos, &delta))
            return lec_error_set(err, LEC_EFORMAT,
                                 "%s: track %d: bad or truncated delta time at byte %zu", name,
                                 track, file_off + pos);
        tick += delta;
        if (tick > UINT32_MAX)
            return lec_error_set(err, LEC_EFORMAT, "%s: track %d: time overflows at byte %zu", name,
                                 track, file_off + pos);
        if (pos >= len)
            return lec_error_set(err, LEC_EFORMAT, "%s: track %d: truncated event at byte %zu",
                                 name, track, file_off + pos);
        lec_midi_event e = {.tick = (uint32_t)tick, .track = (uint16_t)track, .seq = m->next_seq++};
        size_t ev_off = file_off + pos;
        uint8_t st = p[pos];
        if (st == 0xFF) {
            pos++;
            if (pos >= len)
                return lec_error_set(err, LEC_EFORMAT, "%s: track %d: truncated meta at byte %zu",
                                     name, track, ev_off);
            uint8_t type = p[pos++];
            uint32_t mlen;
            if (!read_vlq(p, len, &pos, &mlen) || mlen > len - pos)
                return lec_error_set(err, LEC_EFORMAT,
                                     "%s: track %d: meta event at byte %zu runs past the track end",
                                     name, track, ev_off);
            e.status = LEC_MIDI_META;
            e.data1 = type;
            e.len = mlen;
            if (mlen) {
                e.data = arena_copy(m, p + pos, mlen);
                if (!e.data)
                    return lec_error_set(err, LEC_ENOMEM, "%s: out of memory", name);
            }
            pos += mlen;
            if (type == LEC_MIDI_META_END_OF_TRACK)
                ended = 1;
        } else if (st == 0xF0 || st == 0xF7) {
            pos++;
            uint32_t slen;
            if (!read_vlq(p, len, &pos, &slen) || slen > len - pos)
                return lec_error_set(err, LEC_EFORMAT,
                                     "%s: track %d: sysex at byte %zu runs past the track end",
                                     name, track, ev_off);
            pos += slen; /* payload skipped: nothing we render depends on it */
            e.status = LEC_MIDI_SYSEX;
        } else {
            uint8_t status;
            if (st & 0x80) {
                if (st > 0xEF)
                    return lec_error_set(err, LEC_EFORMAT,
                                         "%s: track %d: invalid status byte 0x%02X at byte %zu",
                                         name, track, st, ev_off);
                status = st;
                running = st;
                pos++;
            } else {
                if (!running)
                    return lec_error_set(
                        err, LEC_EFORMAT,
                        "%s: track %d: data byte 0x%02X at byte %zu without a running status", name,
                        track, st, ev_off);
                status = running;
            }
            int kind = status & 0xF0;
            int nd = (kind == LEC_MIDI_PROGRAM || kind == LEC_MIDI_CHANNEL_PRESSURE) ? 1 : 2;
            if ((size_t)nd > len - pos)
                return lec_error_set(err, LEC_EFORMAT,
                                     "%s: track %d: truncated channel message at byte %zu", name,
                                     track, ev_off);
            for (int i = 0; i < nd; i++)
                if (p[pos + i] & 0x80)
                    return lec_error_set(err, LEC_EFORMAT,
                                         "%s: track %d: data byte 0x%02X >= 0x80 at byte %zu", name,
                                         track, p[pos + i], file_off + pos + i);
            e.status = status;
            e.data1 = p[pos];
            e.data2 = nd == 2 ? p[pos + 1] : 0;
            pos += nd;
        }
        if (!push_event(m, &e))
            return lec_error_set(err, m->n >= MIDI_MAX_EVENTS ? LEC_EFORMAT : LEC_ENOMEM,
                                 "%s: more than %zu events or out of memory", name,
                                 MIDI_MAX_EVENTS);
    }
    if (!ended) {
        /* Tolerated (some writers omit it): an implicit End-of-track keeps
         * "every track ends with one" true for callers. */
        lec_midi_event e = {.tick = (uint32_t)tick,
                            .track = (uint16_t)track,
                            .status = LEC_MIDI_META,
                            .data1 = LEC_MIDI_META_END_OF_TRACK,
                            .seq = m->next_seq++};
        if (!push_event(m, &e))
            return lec_error_set(err, LEC_ENOMEM, "%s: out of memory", name);
    }
    return LEC_OK;
}

lec_midi *lec_midi_parse(const uint8_t *b, size_t len, const char *name, lec_error *err)
{
    if (!name)
        name = "MIDI";
    if (!b || len < 14 || memcmp(b, "MThd", 4) != 0) {
        lec_error_set(err, LEC_EFORMAT, "%s: not a MIDI file (no MThd header)", name);
        return NULL;
    }
    if (len > MIDI_MAX_FILE_BYTES) {
        lec_error_set(err, LEC_EFORMAT, "%s: file too large (%zu bytes)", name, len);
        return NULL;
    }
    uint32_t hlen = be32(b + 4);
    if (hlen < 6 || hlen > len - 8) {
        lec_error_set(err, LEC_EFORMAT, "%s: bad MThd length %u", name, hlen);
        return NULL;
    }
    int format = (b[8] << 8) | b[9];
    int ntrks = (b[10] << 8) | b[11];
    int division = 0, tpf = 0;
    if (b[12] & 0x80) {
        int fps = -(int8_t)b[12];
        tpf = b[13];
        if ((fps != 24 && fps != 25 && fps != 29 && fps != 30) || tpf == 0) {
            lec_error_set(err, LEC_EFORMAT, "%s: bad SMPTE division %d fps x %d", name, fps, tpf);
            return NULL;
        }
        division = -fps;
    } else {
        division = (b[12] << 8) | b[13];
        if (division == 0) {
            lec_error_set(err, LEC_EFORMAT, "%s: division 0 ticks per quarter", name);
            return NULL;
        }
    }
    if (format > 2) {
        lec_error_set(err, LEC_EUNSUPPORTED, "%s: MIDI format %d unknown", name, format);
        return NULL;
    }
    if (ntrks < 1 || (format == 0 && ntrks != 1)) {
        lec_error_set(err, LEC_EFORMAT, "%s: %d tracks invalid for format %d", name, ntrks, format);
        return NULL;
    }
    lec_midi *m = midi_alloc(format, division, tpf, ntrks);
    if (!m) {
        lec_error_set(err, LEC_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    size_t pos = 8 + hlen;
    int track = 0;
    while (track < ntrks) {
        if (len - pos < 8) {
            lec_error_set(err, LEC_EFORMAT, "%s: header declares %d tracks, found %d", name, ntrks,
                          track);
            lec_midi_destroy(m);
            return NULL;
        }
        uint32_t clen = be32(b + pos + 4);
        if (clen > len - pos - 8) {
            lec_error_set(err, LEC_EFORMAT,
                          "%s: chunk at byte %zu (track %d) claims %u bytes, only %zu left", name,
                          pos, track, clen, len - pos - 8);
            lec_midi_destroy(m);
            return NULL;
        }
        if (memcmp(b + pos, "MTrk", 4) == 0) {
            if (parse_track(m, b + pos + 8, clen, pos + 8, track, name, err) != LEC_OK) {
                lec_midi_destroy(m);
                return NULL;
            }
            track++;
        } /* other chunk types are skipped, as the SMF spec asks */
        pos += 8 + (size_t)clen;
    }
    qsort(m->ev, m->n, sizeof *m->ev, ev_qsort_cmp);
    if (!rebuild_tempo(m)) {
        lec_error_set(err, LEC_ENOMEM, "%s: out of memory", name);
        lec_midi_destroy(m);
        return NULL;
    }
    return m;
}

lec_midi *lec_midi_read(const char *path, lec_error *err)
{
    char *data = NULL;
    size_t len = 0;
    if (lec_read_file(path, MIDI_MAX_FILE_BYTES, &data, &len, err) != LEC_OK)
        return NULL;
    lec_midi *m = lec_midi_parse((const uint8_t *)data, len, path, err);
    free(data);
    return m;
}

/* ---------------------------------------------------------------- getters */

int lec_midi_format(const lec_midi *m) { return m->format; }
int lec_midi_n_tracks(const lec_midi *m) { return m->n_tracks; }
int lec_midi_division(const lec_midi *m) { return m->division; }
int lec_midi_smpte_ticks_per_frame(const lec_midi *m) { return m->smpte_tpf; }
size_t lec_midi_n_events(const lec_midi *m) { return m->n; }
const lec_midi_event *lec_midi_events(const lec_midi *m) { return m->ev; }

/* ---------------------------------------------------------------- adding */

static lec_status insert_event(lec_midi *m, lec_midi_event *e, lec_error *err)
{
    if (m->n >= MIDI_MAX_EVENTS)
        return lec_error_set(err, LEC_EINVAL, "MIDI: more than %zu events", MIDI_MAX_EVENTS);
    if (!reserve_events(m, 1))
        return lec_error_set(err, LEC_ENOMEM, "MIDI: out of memory");
    e->seq = m->next_seq++;
    /* Events usually come in time order: append. Otherwise binary-search the
     * first event that sorts after e (e has the largest seq so far). */
    size_t at = m->n;
    if (m->n && ev_cmp(&m->ev[m->n - 1], e) > 0) {
        size_t lo = 0, hi = m->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (ev_cmp(&m->ev[mid], e) <= 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        at = lo;
        memmove(m->ev + at + 1, m->ev + at, (m->n - at) * sizeof *m->ev);
    }
    m->ev[at] = *e;
    m->n++;
    return LEC_OK;
}

static lec_status check_track(const lec_midi *m, int track, lec_error *err)
{
    if (track < 0 || track >= m->n_tracks)
        return lec_error_set(err, LEC_EINVAL, "MIDI: track %d out of 0..%d", track,
                             m->n_tracks - 1);
    return LEC_OK;
}

lec_status lec_midi_add_channel(lec_midi *m, int track, uint32_t tick, int status, int data1,
                                int data2, lec_error *err)
{
    if (check_track(m, track, err) != LEC_OK)
        return err ? err->code : LEC_EINVAL;
    if (status < 0x80 || status > 0xEF)
        return lec_error_set(err, LEC_EINVAL, "MIDI: status 0x%X is not a channel message",
                             (unsigned)status);
    int kind = status & 0xF0;
    int one = kind == LEC_MIDI_PROGRAM || kind == LEC_MIDI_CHANNEL_PRESSURE;
    if (data1 < 0 || data1 > 127 || (!one && (data2 < 0 || data2 > 127)))
        return lec_error_set(err, LEC_EINVAL, "MIDI: data bytes %d, %d out of 0..127", data1,
                             data2);
    lec_midi_event e = {.tick = tick,
                        .track = (uint16_t)track,
                        .status = (uint8_t)status,
                        .data1 = (uint8_t)data1,
                        .data2 = one ? 0 : (uint8_t)data2};
    return insert_event(m, &e, err);
}

lec_status lec_midi_add_meta(lec_midi *m, int track, uint32_t tick, int type, const void *payload,
                             uint32_t len, lec_error *err)
{
    if (check_track(m, track, err) != LEC_OK)
        return err ? err->code : LEC_EINVAL;
    if (type < 0 || type > 127)
        return lec_error_set(err, LEC_EINVAL, "MIDI: meta type %d out of 0..127", type);
    if (len > (1u << 24) || (len && !payload))
        return lec_error_set(err, LEC_EINVAL, "MIDI: meta payload of %u bytes invalid", len);
    if (type == LEC_MIDI_META_END_OF_TRACK)
        return lec_midi_set_track_end(m, track, tick, err);
    lec_midi_event e = {.tick = tick,
                        .track = (uint16_t)track,
                        .status = LEC_MIDI_META,
                        .data1 = (uint8_t)type,
                        .len = len};
    if (len) {
        e.data = arena_copy(m, payload, len);
        if (!e.data)
            return lec_error_set(err, LEC_ENOMEM, "MIDI: out of memory");
    }
    lec_status st = insert_event(m, &e, err);
    if (st == LEC_OK && type == LEC_MIDI_META_TEMPO && !rebuild_tempo(m))
        return lec_error_set(err, LEC_ENOMEM, "MIDI: out of memory");
    return st;
}

lec_status lec_midi_add_tempo(lec_midi *m, int track, uint32_t tick, uint32_t us_per_quarter,
                              lec_error *err)
{
    if (us_per_quarter == 0 || us_per_quarter > 0xFFFFFF)
        return lec_error_set(err, LEC_EINVAL, "MIDI: tempo %u us per quarter out of 1..16777215",
                             us_per_quarter);
    uint8_t b[3] = {(uint8_t)(us_per_quarter >> 16), (uint8_t)(us_per_quarter >> 8),
                    (uint8_t)us_per_quarter};
    return lec_midi_add_meta(m, track, tick, LEC_MIDI_META_TEMPO, b, 3, err);
}

lec_status lec_midi_set_track_end(lec_midi *m, int track, uint32_t tick, lec_error *err)
{
    if (check_track(m, track, err) != LEC_OK)
        return err ? err->code : LEC_EINVAL;
    if (tick > m->track_end[track])
        m->track_end[track] = tick;
    return LEC_OK;
}

/* ---------------------------------------------------------------- writing */

typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} wbuf;

static void wb_put(wbuf *w, const void *src, size_t len)
{
    if (w->oom)
        return;
    if (w->n + len > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->n + len)
            cap *= 2;
        uint8_t *np = realloc(w->p, cap);
        if (!np) {
            w->oom = 1;
            return;
        }
        w->p = np;
        w->cap = cap;
    }
    memcpy(w->p + w->n, src, len);
    w->n += len;
}

static void wb_byte(wbuf *w, uint8_t b) { wb_put(w, &b, 1); }

static void wb_be32(wbuf *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    wb_put(w, b, 4);
}

static void wb_vlq(wbuf *w, uint32_t v)
{
    uint8_t tmp[5];
    int n = 0;
    tmp[n++] = v & 0x7F;
    while ((v >>= 7) && n < 5)
        tmp[n++] = 0x80 | (v & 0x7F);
    while (n)
        wb_byte(w, tmp[--n]);
}

lec_status lec_midi_serialize(const lec_midi *m, uint8_t **bytes, size_t *len, lec_error *err)
{
    *bytes = NULL;
    *len = 0;
    wbuf w = {0};
    wb_put(&w, "MThd", 4);
    wb_be32(&w, 6);
    uint8_t hdr[6] = {0, (uint8_t)m->format, (uint8_t)(m->n_tracks >> 8), (uint8_t)m->n_tracks, 0,
                      0};
    if (m->division > 0) {
        hdr[4] = (uint8_t)(m->division >> 8);
        hdr[5] = (uint8_t)m->division;
    } else {
        hdr[4] = (uint8_t)(int8_t)m->division;
        hdr[5] = (uint8_t)m->smpte_tpf;
    }
    wb_put(&w, hdr, 6);
    for (int t = 0; t < m->n_tracks; t++) {
        wb_put(&w, "MTrk", 4);
        size_t len_at = w.n;
        wb_be32(&w, 0);
        uint32_t last = 0, end = m->track_end[t];
        for (size_t i = 0; i < m->n; i++) {
            const lec_midi_event *e = &m->ev[i];
            if (e->track != t)
                continue;
            if (e->tick > end)
                end = e->tick;
            if (e->status == LEC_MIDI_META && e->data1 == LEC_MIDI_META_END_OF_TRACK)
                continue; /* one End-of-track, written last */
            if (e->status == LEC_MIDI_SYSEX)
                continue; /* payload not kept when read */
            wb_vlq(&w, e->tick - last);
            last = e->tick;
            if (e->status == LEC_MIDI_META) {
                uint8_t h[2] = {0xFF, e->data1};
                wb_put(&w, h, 2);
                wb_vlq(&w, e->len);
                if (e->len)
                    wb_put(&w, e->data, e->len);
            } else {
                int kind = e->status & 0xF0;
                wb_byte(&w, e->status);
                wb_byte(&w, e->data1);
                if (kind != LEC_MIDI_PROGRAM && kind != LEC_MIDI_CHANNEL_PRESSURE)
                    wb_byte(&w, e->data2);
            }
        }
        wb_vlq(&w, end - last);
        uint8_t eot[3] = {0xFF, 0x2F, 0x00};
        wb_put(&w, eot, 3);
        if (w.oom)
            break;
        uint32_t tl = (uint32_t)(w.n - len_at - 4);
        w.p[len_at] = (uint8_t)(tl >> 24);
        w.p[len_at + 1] = (uint8_t)(tl >> 16);
        w.p[len_at + 2] = (uint8_t)(tl >> 8);
        w.p[len_at + 3] = (uint8_t)tl;
    }
    if (w.oom) {
        free(w.p);
        return lec_error_set(err, LEC_ENOMEM, "MIDI: out of memory serialising");
    }
    *bytes = w.p;
    *len = w.n;
    return LEC_OK;
}

lec_status lec_midi_write(const lec_midi *m, const char *path, lec_error *err)
{
    uint8_t *b;
    size_t n;
    lec_status st = lec_midi_serialize(m, &b, &n, err);
    if (st != LEC_OK)
        return lec_error_prefix(err, "%s: ", path);
    st = lec_write_file_atomic(path, b, n, err);
    free(b);
    return st;
}

/* ---------------------------------------------------------------- time */

double lec_midi_tick_to_s(const lec_midi *m, uint32_t tick)
{
    if (m->division < 0) {
        /* SMPTE: 29 means 29.97 drop-frame, i.e. 30000/1001 frames a second. */
        double fps = m->division == -29 ? 30000.0 / 1001.0 : -m->division;
        return tick / (fps * m->smpte_tpf);
    }
    size_t lo = 0, hi = m->n_tempo; /* last point with point.tick <= tick */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->tempo[mid].tick <= tick)
            lo = mid;
        else
            hi = mid;
    }
    const tempo_point *t = &m->tempo[lo];
    return t->s + (double)(tick - t->tick) * t->us_per_quarter / (1e6 * m->division);
}

uint32_t lec_midi_s_to_tick(const lec_midi *m, double s)
{
    if (!(s > 0))
        return 0;
    double ticks;
    if (m->division < 0) {
        double fps = m->division == -29 ? 30000.0 / 1001.0 : -m->division;
        ticks = s * fps * m->smpte_tpf;
    } else {
        size_t lo = 0, hi = m->n_tempo; /* last point with point.s <= s */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (m->tempo[mid].s <= s)
                lo = mid;
            else
                hi = mid;
        }
        const tempo_point *t = &m->tempo[lo];
        ticks = t->tick + (s - t->s) * 1e6 * m->division / t->us_per_quarter;
    }
    ticks = floor(ticks + 0.5);
    return ticks >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)ticks;
}

double lec_midi_duration_s(const lec_midi *m)
{
    uint32_t last = m->n ? m->ev[m->n - 1].tick : 0;
    for (int t = 0; t < m->n_tracks; t++)
        if (m->track_end[t] > last)
            last = m->track_end[t];
    return lec_midi_tick_to_s(m, last);
}
