/* test_piece -- the bundle reader: a hand-written valid bundle loads with
 * the right values; every kind of bad input gives an error naming the file
 * and the problem; truncations and byte flips of a valid piece.json never
 * crash (run under ASan in CI). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lec_piece.h"
#include "lec_test.h"
#include "lec_util.h"

/* 2 pages 100x200 px; 1 system, 2 staves; 3 heads (one tied); 3 performed
 * notes in 2 events (the repeat plays head 0 again); 1 rendering. */
static const char *VALID =
    "{\"format\":\"lectern-piece\",\"version\":1,\"title\":\"T\",\"composer\":\"C\","
    "\"license\":\"Public Domain\",\"source\":\"S\","
    "\"pages\":[{\"image\":\"pages/page-1.png\",\"width_px\":100,\"height_px\":200},"
    "{\"image\":\"pages/page-2.png\",\"width_px\":100,\"height_px\":200}],"
    "\"systems\":[{\"page\":1,\"box\":[10,20,90,80],\"box_notes\":[10,15,90,85],"
    "\"staves\":[{\"box\":[10,20,90,40],\"staff_space_px\":5},{\"box\":[10,60,90,80],\"staff_space_px\":5}]}],"
    "\"heads\":["
    "{\"page\":1,\"system\":0,\"staff\":0,\"box\":[20,25,25,30],\"pitch\":60,\"onset\":\"0/1\",\"grace\":\"0/1\",\"onset_wn\":0,\"tied\":false,\"origin\":\"a.ly:1:2\"},"
    "{\"page\":1,\"system\":0,\"staff\":1,\"box\":[20,65,25,70],\"pitch\":48,\"onset\":\"0/1\",\"grace\":\"0/1\",\"onset_wn\":0,\"tied\":false,\"origin\":\"a.ly:2:2\"},"
    "{\"page\":1,\"system\":0,\"staff\":0,\"box\":[40,25,45,30],\"pitch\":60,\"onset\":\"1/4\",\"grace\":\"0/1\",\"onset_wn\":0.25,\"tied\":true,\"origin\":\"a.ly:1:5\"}],"
    "\"performance\":{\"notes\":["
    "{\"t_wn\":0,\"dur_wn\":0.5,\"pitch\":60,\"velocity\":0,\"head\":0,\"staff\":0},"
    "{\"t_wn\":0,\"dur_wn\":0.5,\"pitch\":48,\"velocity\":64,\"head\":1,\"staff\":1},"
    "{\"t_wn\":0.5,\"dur_wn\":0.5,\"pitch\":60,\"velocity\":0,\"head\":0,\"staff\":0}],"
    "\"events\":[{\"t_wn\":0,\"first_note\":0,\"n_notes\":2,\"heads\":[0,1]},"
    "{\"t_wn\":0.5,\"first_note\":2,\"n_notes\":1,\"heads\":[0]}]},"
    "\"renderings\":[{\"name\":\"r\",\"audio\":\"audio/r.flac\",\"midi\":\"audio/r.mid\","
    "\"truth\":\"audio/r.json\",\"soundfont\":\"x.sf2\",\"tempo_factor\":1,\"humanized\":false,"
    "\"duration_s\":3}]}";

static const char *TRUTH = "{\"note_onset_s\":[0,0.01,1],\"event_onset_s\":[0,1]}";

static void write_png_header(const char *path, int w, int h)
{
    unsigned char b[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    b[16] = (unsigned char)(w >> 24); b[17] = (unsigned char)(w >> 16);
    b[18] = (unsigned char)(w >> 8); b[19] = (unsigned char)w;
    b[20] = (unsigned char)(h >> 24); b[21] = (unsigned char)(h >> 16);
    b[22] = (unsigned char)(h >> 8); b[23] = (unsigned char)h;
    lec_write_file_atomic(path, b, sizeof b, NULL);
}

static char g_dir[4096];

static void make_bundle(const char *json)
{
    char p[4200];
    char cmd[8500];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s/pages' '%s/audio'", g_dir, g_dir, g_dir);
    CHECK(system(cmd) == 0);
    snprintf(p, sizeof p, "%s/piece.json", g_dir);
    lec_write_file_atomic(p, json, strlen(json), NULL);
    snprintf(p, sizeof p, "%s/pages/page-1.png", g_dir);
    write_png_header(p, 100, 200);
    snprintf(p, sizeof p, "%s/pages/page-2.png", g_dir);
    write_png_header(p, 100, 200);
    snprintf(p, sizeof p, "%s/audio/r.flac", g_dir);
    lec_write_file_atomic(p, "fLaC", 4, NULL);
    snprintf(p, sizeof p, "%s/audio/r.json", g_dir);
    lec_write_file_atomic(p, TRUTH, strlen(TRUTH), NULL);
}

/* VALID with the first occurrence of `from` replaced by `to`. */
static char *variant(const char *from, const char *to)
{
    const char *at = strstr(VALID, from);
    if (!at) {
        fprintf(stderr, "test bug: %s not in VALID\n", from);
        exit(1);
    }
    size_t n = strlen(VALID) - strlen(from) + strlen(to) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%.*s%s%s", (int)(at - VALID), VALID, to, at + strlen(from));
    return s;
}

static void expect_error(const char *from, const char *to, lec_status code, const char *needle)
{
    char *s = variant(from, to);
    make_bundle(s);
    lec_error err;
    lec_error_clear(&err);
    lec_piece *p = lec_piece_load(g_dir, &err);
    CHECKF(p == NULL, "%s -> %s loaded", from, to);
    CHECKF(err.code == code, "%s -> %s: code %d, msg %s", from, to, err.code, err.msg);
    CHECKF(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
    CHECKF(strstr(err.msg, "piece.json") != NULL || strstr(err.msg, g_dir) != NULL,
           "message '%s' does not name the file", err.msg);
    lec_piece_destroy(p);
    free(s);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "%s/b", lec_test_scratch_dir("test_piece"));
    lec_error err;

    /* the valid bundle */
    make_bundle(VALID);
    lec_piece *p = lec_piece_load(g_dir, &err);
    CHECKF(p != NULL, "%s", err.msg);
    if (p) {
        CHECK(strcmp(lec_piece_title(p), "T") == 0);
        CHECK(strcmp(lec_piece_license(p), "Public Domain") == 0);
        CHECK(lec_piece_n_pages(p) == 2);
        CHECK(lec_piece_pages(p)[1].height_px == 200);
        CHECK(lec_piece_n_systems(p) == 1 && lec_piece_systems(p)[0].page == 1);
        CHECK(lec_piece_systems(p)[0].n_staves == 2 && lec_piece_n_staves(p) == 2);
        CHECK_NEAR(lec_piece_staves(p)[1].box.y0, 60, 0);
        CHECK(lec_piece_n_heads(p) == 3);
        CHECK(lec_piece_heads(p)[2].tied == 1 && lec_piece_heads(p)[0].tied == 0);
        CHECK(lec_piece_heads(p)[2].onset_num == 1 && lec_piece_heads(p)[2].onset_den == 4);
        CHECK(strcmp(lec_piece_heads(p)[1].origin, "a.ly:2:2") == 0);
        CHECK(lec_piece_n_notes(p) == 3 && lec_piece_n_events(p) == 2);
        CHECK(lec_piece_notes(p)[2].event == 1 && lec_piece_notes(p)[1].event == 0);
        CHECK(lec_piece_notes(p)[2].head == 0); /* the repeat plays head 0 again */
        CHECK(lec_piece_n_renderings(p) == 1);
        const lec_piece_rendering *r = lec_piece_renderings(p);
        CHECK_NEAR(r->onset_s[1], 0.01, 1e-12);
        CHECK_NEAR(r->event_onset_s[1], 1.0, 1e-12);
    }
    lec_piece_destroy(p);
    lec_piece_destroy(NULL);

    /* missing / corrupt piece.json */
    p = lec_piece_load("/nonexistent/bundle", &err);
    CHECK(p == NULL && err.code == LEC_EIO && strstr(err.msg, "/nonexistent/bundle/piece.json"));
    make_bundle("{\"format\": \"lectern-piece\", ");
    p = lec_piece_load(g_dir, &err);
    CHECK(p == NULL && err.code == LEC_EFORMAT && strstr(err.msg, "not valid JSON"));

    /* wrong format / version */
    expect_error("lectern-piece", "something-else", LEC_EFORMAT, "format");
    expect_error("\"version\":1", "\"version\":2", LEC_EUNSUPPORTED, "version 2");
    expect_error("\"version\":1", "\"version\":\"1\"", LEC_EFORMAT, "version");
    /* missing page image / wrong size */
    expect_error("pages/page-2.png", "pages/page-3.png", LEC_EIO, "missing");
    expect_error("\"width_px\":100,\"height_px\":200}]", "\"width_px\":100,\"height_px\":201}]",
                 LEC_EFORMAT, "100x200");
    expect_error("pages/page-1.png", "../x.png", LEC_EFORMAT, "inside the bundle");
    /* out-of-range boxes and indices */
    expect_error("[20,25,25,30]", "[20,25,25,300]", LEC_EFORMAT, "outside");
    expect_error("[20,25,25,30]", "[30,25,20,30]", LEC_EFORMAT, "inverted");
    expect_error("[20,25,25,30]", "[20,25,30]", LEC_EFORMAT, "4 numbers");
    expect_error("\"system\":0,\"staff\":1", "\"system\":3,\"staff\":1", LEC_EFORMAT, "heads[1].system");
    expect_error("\"system\":0,\"staff\":1", "\"system\":0,\"staff\":2", LEC_EFORMAT, "heads[1].staff");
    expect_error("\"pitch\":48,\"onset\"", "\"pitch\":128,\"onset\"", LEC_EFORMAT, "pitch");
    expect_error("\"onset\":\"1/4\"", "\"onset\":\"1/0\"", LEC_EFORMAT, "fraction");
    expect_error("\"head\":1", "\"head\":3", LEC_EFORMAT, "notes[1].head");
    expect_error("\"t_wn\":0.5,\"dur_wn\"", "\"t_wn\":-1,\"dur_wn\"", LEC_EFORMAT, "t_wn");
    expect_error("\"first_note\":2", "\"first_note\":1", LEC_EFORMAT, "events[1]");
    expect_error("\"page\":1,\"system\":0,\"staff\":0,\"box\":[20",
                 "\"page\":0,\"system\":0,\"staff\":0,\"box\":[20", LEC_EFORMAT, "page");
    expect_error("audio/r.json", "audio/none.json", LEC_EIO, "ground truth");

    /* fuzz-style: every truncation and many byte flips of a valid file must
     * give a piece or an error, never a crash (check_files = 0: no I/O) */
    size_t n = strlen(VALID);
    char *buf = malloc(n + 1);
    int n_ok = 0, n_err = 0;
    for (size_t k = 0; k < n; k++) {
        memcpy(buf, VALID, k);
        buf[k] = '\0';
        lec_piece *q = lec_piece_parse(buf, k, "fuzz", 0, &err);
        if (q) n_ok++; else n_err++;
        lec_piece_destroy(q);
    }
    CHECK(n_err == (int)n); /* no proper prefix of an object is valid JSON */
    uint32_t rng = 12345;
    const char subst[] = "0-9.e\"{}[],:x \\";
    for (int it = 0; it < 4000; it++) {
        memcpy(buf, VALID, n + 1);
        for (int f = 0; f < 3; f++) {
            rng = rng * 1664525u + 1013904223u;
            size_t pos = (rng >> 8) % n;
            rng = rng * 1664525u + 1013904223u;
            buf[pos] = subst[(rng >> 8) % (sizeof subst - 1)];
        }
        lec_piece *q = lec_piece_parse(buf, n, "fuzz", 0, &err);
        if (q) {
            n_ok++;
            /* whatever loaded is consistent */
            for (size_t i = 0; i < lec_piece_n_notes(q); i++) {
                int h = lec_piece_notes(q)[i].head;
                CHECK(h >= -1 && h < (int)lec_piece_n_heads(q));
            }
        } else {
            n_err++;
            CHECK(err.msg[0] != '\0');
        }
        lec_piece_destroy(q);
    }
    CHECK(n_ok > 0 && n_err > 0);
    free(buf);
    return lec_test_finish("test_piece");
}
