/* fuzz_midi.c -- Standard MIDI Files (models/corpus/lec_midi.h), which the
 * corpus builder reads back from LilyPond and the renderer writes. A file the
 * parser accepts must survive a round trip: serialize it, parse that again,
 * and get the same number of channel messages (else abort: a finding). */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "lec_midi.h"

/* Channel messages (notes, controllers...): what the performance is made of.
 * Metas and sysex may legitimately change in a round trip (one End-of-track
 * per track is written; sysex payloads are not kept). */
static size_t n_channel(const lec_midi *m)
{
    size_t n = lec_midi_n_events(m), c = 0;
    const lec_midi_event *e = lec_midi_events(m);
    for (size_t i = 0; i < n; i++)
        c += e[i].status >= 0x80 && e[i].status < 0xF0;
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lec_error err;
    lec_error_clear(&err);
    lec_midi *m = lec_midi_parse(data, size, "fuzz.mid", &err);
    if (!m) {
        fuzz_check_error(err.code, &err, "fuzz.mid", "lec_midi_parse");
        return 0;
    }
    size_t n = n_channel(m);
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (lec_midi_serialize(m, &bytes, &len, &err) == LEC_OK) {
        lec_midi *m2 = lec_midi_parse(bytes, len, "roundtrip.mid", &err);
        if (!m2) {
            fprintf(stderr, "fuzz_midi: its own output does not parse: %s\n", err.msg);
            abort();
        }
        if (n_channel(m2) != n) {
            fprintf(stderr, "fuzz_midi: round trip changed the channel message count %zu -> %zu\n",
                    n, n_channel(m2));
            abort();
        }
        lec_midi_destroy(m2);
        free(bytes);
    }
    lec_midi_destroy(m);
    return 0;
}
