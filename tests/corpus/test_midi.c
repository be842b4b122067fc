/* test_midi.c -- lec_midi: parsing a hand-assembled file (running status,
 * metas, sysex, tempo changes) against hand-computed times, writer round
 * trips, SMPTE time, argument errors, and a mutation fuzz (no crash, every
 * failure has a message). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lec_midi.h"
#include "lec_test.h"

/* Format 1, 2 tracks, 96 ticks per quarter.
 * Track 0: tempo 500000 us/q at 0, name "Test", tempo 1000000 at tick 192.
 * Track 1: program 5; note-on 60 at 0; running-status note-on 62 at 96;
 * sysex at 96; note-on 60 vel 0 (= off) at 192; note-off 62 at 576; pedal down at 576.
 * Seconds: tick 96 -> 0.5, 192 -> 1.0, 576 -> 1.0 + 384/96 * 1.0 = 5.0. */
static const uint8_t golden[] = {
    'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 1, 0, 2, 0, 96,
    'M', 'T', 'r', 'k', 0, 0, 0, 27,
    0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20,
    0x00, 0xFF, 0x03, 0x04, 'T', 'e', 's', 't',
    0x81, 0x40, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40,
    0x00, 0xFF, 0x2F, 0x00,
    'M', 'T', 'r', 'k', 0, 0, 0, 33,
    0x00, 0xC0, 0x05,
    0x00, 0x90, 0x3C, 0x64,
    0x60, 0x3E, 0x50,
    0x00, 0xF0, 0x03, 0x01, 0x02, 0xF7,
    0x60, 0x90, 0x3C, 0x00,
    0x83, 0x00, 0x80, 0x3E, 0x40,
    0x00, 0xB0, 0x40, 0x7F,
    0x00, 0xFF, 0x2F, 0x00,
};

static void test_golden(void)
{
    lec_error err = {0};
    lec_midi *m = lec_midi_parse(golden, sizeof golden, "golden", &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (!m)
        return;
    CHECK(lec_midi_format(m) == 1);
    CHECK(lec_midi_n_tracks(m) == 2);
    CHECK(lec_midi_division(m) == 96);
    CHECK(lec_midi_n_events(m) == 12);
    const lec_midi_event *e = lec_midi_events(m);
    /* merged order: tick, then track, then file order */
    static const struct { uint32_t tick; int track, status, d1, d2; } want[] = {
        {0, 0, 0xFF, 0x51, 0},   {0, 0, 0xFF, 0x03, 0},   {0, 1, 0xC0, 5, 0},
        {0, 1, 0x90, 60, 100},   {96, 1, 0x90, 62, 80},   {96, 1, 0xF0, 0, 0},
        {192, 0, 0xFF, 0x51, 0}, {192, 0, 0xFF, 0x2F, 0}, {192, 1, 0x90, 60, 0},
        {576, 1, 0x80, 62, 64},  {576, 1, 0xB0, 64, 127}, {576, 1, 0xFF, 0x2F, 0},
    };
    for (size_t i = 0; i < 12 && i < lec_midi_n_events(m); i++) {
        CHECKF(e[i].tick == want[i].tick && e[i].track == want[i].track &&
                   e[i].status == want[i].status && e[i].data1 == want[i].d1 &&
                   e[i].data2 == want[i].d2,
               "event %zu: tick %u track %u status %02X %d %d", i, e[i].tick, e[i].track,
               e[i].status, e[i].data1, e[i].data2);
    }
    CHECK(e[1].len == 4 && memcmp(e[1].data, "Test", 4) == 0);
    CHECK(lec_midi_is_note_on(&e[3]) && !lec_midi_is_note_off(&e[3]));
    CHECK(lec_midi_is_note_off(&e[8]) && !lec_midi_is_note_on(&e[8]));
    CHECK(lec_midi_is_note_off(&e[9]));
    CHECK(lec_midi_channel(&e[3]) == 0 && lec_midi_kind(&e[10]) == LEC_MIDI_CONTROL);
    CHECK_NEAR(lec_midi_tick_to_s(m, 0), 0.0, 1e-12);
    CHECK_NEAR(lec_midi_tick_to_s(m, 96), 0.5, 1e-12);
    CHECK_NEAR(lec_midi_tick_to_s(m, 192), 1.0, 1e-12);
    CHECK_NEAR(lec_midi_tick_to_s(m, 576), 5.0, 1e-12);
    CHECK_NEAR(lec_midi_duration_s(m), 5.0, 1e-12);
    CHECK(lec_midi_s_to_tick(m, 0.5) == 96);
    CHECK(lec_midi_s_to_tick(m, 3.0) == 384);
    CHECK(lec_midi_s_to_tick(m, -1.0) == 0);

    /* round trip through the writer (sysex payloads are not kept, so the
     * sysex event disappears; everything else is identical) */
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK(lec_midi_serialize(m, &bytes, &len, &err) == LEC_OK);
    lec_midi *r = bytes ? lec_midi_parse(bytes, len, "roundtrip", &err) : NULL;
    CHECKF(r != NULL, "%s", err.msg);
    if (r) {
        CHECK(lec_midi_n_events(r) == 11);
        const lec_midi_event *f = lec_midi_events(r);
        size_t j = 0;
        for (size_t i = 0; i < 12 && j < lec_midi_n_events(r); i++) {
            if (e[i].status == LEC_MIDI_SYSEX)
                continue;
            CHECKF(f[j].tick == e[i].tick && f[j].track == e[i].track &&
                       f[j].status == e[i].status && f[j].data1 == e[i].data1 &&
                       f[j].data2 == e[i].data2 && f[j].len == e[i].len,
                   "roundtrip event %zu", j);
            j++;
        }
        CHECK_NEAR(lec_midi_tick_to_s(r, 576), 5.0, 1e-12);
    }
    lec_midi_destroy(r);
    free(bytes);
    lec_midi_destroy(m);

    /* every strict prefix is an error with a message, never a crash */
    int prefix_errors = 0;
    for (size_t n = 0; n < sizeof golden; n++) {
        lec_error e2 = {0};
        lec_midi *t = lec_midi_parse(golden, n, "prefix", &e2);
        if (!t && e2.code == LEC_EFORMAT && strstr(e2.msg, "prefix"))
            prefix_errors++;
        lec_midi_destroy(t);
    }
    CHECK(prefix_errors == (int)sizeof golden);
}

static void test_writer(void)
{
    lec_error err = {0};
    lec_midi *m = lec_midi_create(1, 480, 2, &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (!m)
        return;
    /* out of tick order on purpose; ties keep insertion order */
    CHECK(lec_midi_add_channel(m, 1, 960, 0x90, 64, 90, &err) == LEC_OK);
    CHECK(lec_midi_add_channel(m, 1, 480, 0x91, 60, 70, &err) == LEC_OK);
    CHECK(lec_midi_add_channel(m, 1, 480, 0xB1, 64, 127, &err) == LEC_OK);
    CHECK(lec_midi_add_channel(m, 1, 0, 0xC1, 0, 0, &err) == LEC_OK);
    CHECK(lec_midi_add_tempo(m, 0, 0, 600000, &err) == LEC_OK);
    CHECK(lec_midi_add_tempo(m, 0, 960, 300000, &err) == LEC_OK);
    CHECK(lec_midi_add_channel(m, 1, 1920, 0x80, 64, 0, &err) == LEC_OK);
    CHECK(lec_midi_set_track_end(m, 1, 2400, &err) == LEC_OK);
    const lec_midi_event *e = lec_midi_events(m);
    size_t n = lec_midi_n_events(m);
    CHECK(n == 7);
    for (size_t i = 1; i < n; i++)
        CHECK(e[i - 1].tick <= e[i].tick);
    CHECK(e[2].status == 0x91 && e[3].status == 0xB1); /* insertion order at tick 480 */
    /* 0.6 s a quarter for 2 quarters, then 0.3 s a quarter */
    CHECK_NEAR(lec_midi_tick_to_s(m, 960), 1.2, 1e-12);
    CHECK_NEAR(lec_midi_tick_to_s(m, 1920), 1.8, 1e-12);
    CHECK_NEAR(lec_midi_duration_s(m), 1.2 + 3 * 0.3, 1e-12);
    for (uint32_t t = 0; t < 3000; t += 37)
        CHECK(lec_midi_s_to_tick(m, lec_midi_tick_to_s(m, t)) == t);

    const char *dir = lec_test_scratch_dir("test_midi");
    char path[4200];
    snprintf(path, sizeof path, "%s/w.mid", dir);
    CHECK(lec_midi_write(m, path, &err) == LEC_OK);
    lec_midi *r = lec_midi_read(path, &err);
    CHECKF(r != NULL, "%s", err.msg);
    if (r) {
        /* + 2 End-of-track metas */
        CHECK(lec_midi_n_events(r) == n + 2);
        CHECK(lec_midi_format(r) == 1 && lec_midi_division(r) == 480 && lec_midi_n_tracks(r) == 2);
        const lec_midi_event *f = lec_midi_events(r);
        size_t j = 0;
        for (size_t i = 0; i < lec_midi_n_events(r); i++) {
            if (f[i].status == LEC_MIDI_META && f[i].data1 == LEC_MIDI_META_END_OF_TRACK)
                continue;
            CHECKF(j < n && f[i].tick == e[j].tick && f[i].status == e[j].status &&
                       f[i].data1 == e[j].data1 && f[i].data2 == e[j].data2,
                   "written event %zu", i);
            j++;
        }
        CHECK_NEAR(lec_midi_duration_s(r), 2.1, 1e-12); /* End-of-track at 2400 */
    }
    lec_midi_destroy(r);

    /* argument errors */
    CHECK(lec_midi_add_channel(m, 2, 0, 0x90, 1, 1, &err) == LEC_EINVAL);
    CHECK(lec_midi_add_channel(m, 0, 0, 0x90, 128, 1, &err) == LEC_EINVAL);
    CHECK(lec_midi_add_channel(m, 0, 0, 0xF0, 1, 1, &err) == LEC_EINVAL);
    CHECK(lec_midi_add_tempo(m, 0, 0, 0, &err) == LEC_EINVAL);
    CHECK(lec_midi_add_meta(m, 0, 0, 200, NULL, 0, &err) == LEC_EINVAL);
    lec_midi_destroy(m);
    CHECK(lec_midi_create(2, 480, 1, &err) == NULL && err.code == LEC_EINVAL);
    CHECK(lec_midi_create(0, 480, 2, &err) == NULL && err.code == LEC_EINVAL);
    CHECK(lec_midi_create(1, 0, 1, &err) == NULL && err.code == LEC_EINVAL);
    CHECK(lec_midi_create(1, 40000, 1, &err) == NULL && err.code == LEC_EINVAL);
    lec_midi_destroy(NULL);

    /* format 0: one track; an End-of-track meta only moves the track end */
    m = lec_midi_create(0, 96, 1, &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (m) {
        CHECK(lec_midi_add_channel(m, 0, 10, 0x90, 60, 1, &err) == LEC_OK);
        CHECK(lec_midi_add_meta(m, 0, 500, LEC_MIDI_META_END_OF_TRACK, NULL, 0, &err) == LEC_OK);
        CHECK(lec_midi_n_events(m) == 1);
        uint8_t *bytes = NULL;
        size_t len = 0;
        CHECK(lec_midi_serialize(m, &bytes, &len, &err) == LEC_OK);
        lec_midi *r0 = bytes ? lec_midi_parse(bytes, len, "format0", &err) : NULL;
        CHECKF(r0 != NULL, "%s", err.msg);
        if (r0) {
            CHECK(lec_midi_format(r0) == 0 && lec_midi_n_tracks(r0) == 1);
            CHECK(lec_midi_n_events(r0) == 2 && lec_midi_events(r0)[1].tick == 500);
        }
        lec_midi_destroy(r0);
        free(bytes);
    }
    lec_midi_destroy(m);

    snprintf(path, sizeof path, "%s/missing.mid", dir);
    CHECK(lec_midi_read(path, &err) == NULL && err.code == LEC_EIO &&
          strstr(err.msg, "missing.mid"));
}

static void test_smpte_and_errors(void)
{
    /* -25 fps x 40 ticks per frame: 1 tick = 1 ms; the tempo event is ignored */
    static const uint8_t smpte[] = {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0xE7, 40,
                                    'M', 'T', 'r', 'k', 0, 0, 0, 16,
                                    0x00, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40,
                                    0x87, 0x68, 0x90, 0x3C, 0x40, /* delta 1000 */
                                    0x00, 0xFF, 0x2F, 0x00};
    lec_error err = {0};
    lec_midi *m = lec_midi_parse(smpte, sizeof smpte, "smpte", &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (m) {
        CHECK(lec_midi_division(m) == -25 && lec_midi_smpte_ticks_per_frame(m) == 40);
        CHECK_NEAR(lec_midi_tick_to_s(m, 1000), 1.0, 1e-12);
        CHECK(lec_midi_s_to_tick(m, 2.5) == 2500);
    }
    lec_midi_destroy(m);

    /* specific malformations, each with a recognisable message */
    uint8_t b[sizeof golden];
    memcpy(b, golden, sizeof b);
    b[0] = 'X';
    CHECK(lec_midi_parse(b, sizeof b, "bad", &err) == NULL && strstr(err.msg, "MThd"));
    memcpy(b, golden, sizeof b);
    b[58] = 0x05; /* first status byte of track 1 becomes a data byte: no running status */
    CHECK(lec_midi_parse(b, sizeof b, "bad", &err) == NULL && strstr(err.msg, "running status"));
    memcpy(b, golden, sizeof b);
    b[25] = 0x7F; /* tempo meta length 0x7F runs past the track */
    CHECK(lec_midi_parse(b, sizeof b, "bad", &err) == NULL && strstr(err.msg, "past the track"));
    memcpy(b, golden, sizeof b);
    b[11] = 3; /* 3 tracks declared, 2 present */
    CHECK(lec_midi_parse(b, sizeof b, "bad", &err) == NULL && strstr(err.msg, "declares 3"));
    memcpy(b, golden, sizeof b);
    b[22] = 0xFF, b[23] = 0xFF, b[24] = 0xFF, b[25] = 0xFF, b[26] = 0x7F; /* 5-byte delta */
    CHECK(lec_midi_parse(b, sizeof b, "bad", &err) == NULL && strstr(err.msg, "delta"));
    CHECK(lec_midi_parse(NULL, 0, "bad", &err) == NULL && err.code == LEC_EFORMAT);
}

/* Mutations of valid files: random byte changes, insertions, deletions and
 * truncations. Every result is either a valid object (whose time queries and
 * serialisation work) or an error with a message. ASan/UBSan catch the rest. */
static void test_fuzz(void)
{
    uint64_t s = 0x12345678ull;
    uint8_t buf[sizeof golden + 16];
    int ok = 0, failed = 0, bad_msg = 0;
    for (int it = 0; it < 20000; it++) {
        size_t len = sizeof golden;
        memcpy(buf, golden, len);
        int nmut = 1 + (int)(s % 4);
        for (int k = 0; k < nmut; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)(s >> 33) % len;
            uint8_t val = (uint8_t)(s >> 20);
            switch ((s >> 60) & 3) {
            case 0: buf[pos] = val; break;
            case 1: buf[pos] ^= (uint8_t)(1u << ((s >> 40) & 7)); break;
            case 2:
                if (len < sizeof buf) {
                    memmove(buf + pos + 1, buf + pos, len - pos);
                    buf[pos] = val;
                    len++;
                }
                break;
            default:
                if (len > 1) {
                    memmove(buf + pos, buf + pos + 1, len - pos - 1);
                    len--;
                }
            }
        }
        lec_error err = {0};
        lec_midi *m = lec_midi_parse(buf, len, "fuzz", &err);
        if (m) {
            ok++;
            size_t n = lec_midi_n_events(m);
            const lec_midi_event *e = lec_midi_events(m);
            double prev = 0.0;
            for (size_t i = 0; i < n; i++) {
                double t = lec_midi_tick_to_s(m, e[i].tick);
                if (t < prev - 1e-9)
                    bad_msg++; /* time must not run backwards along the merged list */
                prev = t;
            }
            uint8_t *out = NULL;
            size_t olen = 0;
            if (lec_midi_serialize(m, &out, &olen, &err) == LEC_OK) {
                lec_midi *r = lec_midi_parse(out, olen, "refuzz", &err);
                if (!r)
                    bad_msg++; /* what we write we must read */
                lec_midi_destroy(r);
            }
            free(out);
            lec_midi_destroy(m);
        } else {
            failed++;
            if (err.code == LEC_OK || !err.msg[0])
                bad_msg++;
        }
    }
    CHECK(bad_msg == 0);
    CHECK(ok > 100 && failed > 100); /* the fuzz reached both outcomes */
}

int main(void)
{
    test_golden();
    test_writer();
    test_smpte_and_errors();
    test_fuzz();
    return lec_test_finish("test_midi");
}
