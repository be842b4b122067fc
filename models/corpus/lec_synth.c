/* lec_synth.c -- fluidsynth subprocess -> mono FLAC; see lec_synth.h. */
#include "lec_synth.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sndfile.h>

#include "lec_midi.h"
#include "lec_util.h"

extern char **environ;

#define SYNTH_LOG_MAX 8192
#define SILENCE_ABS 1e-4 /* -80 dBFS: below this the tail counts as silence */
#define FADE_S 0.010

struct lec_synth {
    lec_synth_config cfg;
    char fluidsynth[1024];
    char soundfont[4096];
    char log[SYNTH_LOG_MAX];
};

static atomic_uint synth_counter;

void lec_synth_config_default(lec_synth_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->fluidsynth = "fluidsynth";
    cfg->sample_rate_hz = 22050;
    cfg->gain = 0.6;
    cfg->timeout_s = 600.0;
    cfg->release_s = 1.5;
    cfg->reverb = 1;
    cfg->chorus = 1;
    cfg->allow_eval_soundfont = 0;
    cfg->bits = 16;
}

/* "musescore-general", "MuseScore_General", "musescore general" ... : compare
 * the name with case and separators removed. */
static int name_is_eval(const char *s)
{
    char flat[4096];
    size_t n = 0;
    for (; *s && n + 1 < sizeof flat; s++)
        if (isalnum((unsigned char)*s))
            flat[n++] = (char)tolower((unsigned char)*s);
    flat[n] = '\0';
    return strstr(flat, "musescoregeneral") != NULL;
}

int lec_synth_is_eval_soundfont(const char *path)
{
    if (!path)
        return 0;
    if (name_is_eval(path))
        return 1;
    char *real = realpath(path, NULL); /* a symlink (default-GM.sf2...) may point there */
    int r = real && name_is_eval(real);
    free(real);
    return r;
}

lec_synth *lec_synth_create(const lec_synth_config *cfg, const char *soundfont, lec_error *err)
{
    lec_synth_config def;
    if (!cfg) {
        lec_synth_config_default(&def);
        cfg = &def;
    }
    if (!soundfont || !*soundfont) {
        lec_error_set(err, LEC_EINVAL, "synth: no soundfont given");
        return NULL;
    }
    if (cfg->sample_rate_hz < 8000 || cfg->sample_rate_hz > 96000) {
        lec_error_set(err, LEC_EINVAL, "synth: sample rate %d Hz out of 8000..96000",
                      cfg->sample_rate_hz);
        return NULL;
    }
    if (!(cfg->gain > 0 && cfg->gain < 10) || !(cfg->timeout_s > 0) ||
        !(cfg->release_s >= 0 && cfg->release_s <= 60)) {
        lec_error_set(err, LEC_EINVAL,
                      "synth: gain %g (0..10), timeout %g s or release %g s invalid", cfg->gain,
                      cfg->timeout_s, cfg->release_s);
        return NULL;
    }
    if (cfg->bits < 8 || cfg->bits > 16) {
        lec_error_set(err, LEC_EINVAL, "synth: %d bits out of 8..16", cfg->bits);
        return NULL;
    }
    if (!cfg->allow_eval_soundfont && lec_synth_is_eval_soundfont(soundfont)) {
        lec_error_set(err, LEC_EINVAL,
                      "%s: MuseScore General is reserved for unseen-sound evaluation "
                      "(set allow_eval_soundfont to use it)",
                      soundfont);
        return NULL;
    }
    FILE *fp = fopen(soundfont, "rb");
    if (!fp) {
        lec_error_set(err, LEC_EIO, "%s: cannot open soundfont: %s", soundfont, strerror(errno));
        return NULL;
    }
    unsigned char hdr[12];
    size_t got = fread(hdr, 1, sizeof hdr, fp);
    fclose(fp);
    if (got != sizeof hdr || memcmp(hdr, "RIFF", 4) != 0 || memcmp(hdr + 8, "sfbk", 4) != 0) {
        lec_error_set(err, LEC_EFORMAT, "%s: not a SoundFont (no RIFF sfbk header)", soundfont);
        return NULL;
    }
    lec_synth *s = calloc(1, sizeof *s);
    if (!s) {
        lec_error_set(err, LEC_ENOMEM, "synth: out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    snprintf(s->fluidsynth, sizeof s->fluidsynth, "%s",
             cfg->fluidsynth ? cfg->fluidsynth : "fluidsynth");
    s->cfg.fluidsynth = s->fluidsynth;
    snprintf(s->soundfont, sizeof s->soundfont, "%s", soundfont);
    return s;
}

void lec_synth_destroy(lec_synth *s) { free(s); }

const char *lec_synth_log(const lec_synth *s) { return s->log; }

/* The end of the sound in MIDI seconds: the last note-off, or the pedal-up
 * that releases it when the sustain pedal of its channel is down; the MIDI's
 * end if a note is never released. */
static double sound_end_s(const lec_midi *m)
{
    size_t n = lec_midi_n_events(m);
    const lec_midi_event *e = lec_midi_events(m);
    int pedal[16] = {0}, pending[16] = {0};
    int(*active)[128] = calloc(16, sizeof *active);
    if (!active)
        return lec_midi_duration_s(m);
    uint32_t end = 0;
    for (size_t i = 0; i < n; i++) {
        if (!lec_midi_is_channel(&e[i]))
            continue;
        int c = lec_midi_channel(&e[i]);
        if (lec_midi_is_note_on(&e[i])) {
            active[c][e[i].data1]++;
        } else if (lec_midi_is_note_off(&e[i])) {
            if (active[c][e[i].data1] > 0)
                active[c][e[i].data1]--;
            if (pedal[c])
                pending[c] = 1;
            else if (e[i].tick > end)
                end = e[i].tick;
        } else if (lec_midi_kind(&e[i]) == LEC_MIDI_CONTROL && e[i].data1 == 64) {
            int down = e[i].data2 >= 64;
            if (!down && pending[c] && e[i].tick > end)
                end = e[i].tick;
            if (!down)
                pending[c] = 0;
            pedal[c] = down;
        }
    }
    double s = lec_midi_tick_to_s(m, end);
    for (int c = 0; c < 16; c++) {
        int hanging = pending[c];
        for (int k = 0; k < 128 && !hanging; k++)
            hanging = active[c][k] > 0;
        if (hanging)
            s = lec_midi_duration_s(m);
    }
    free(active);
    return s;
}

/* Last non-empty line of the log, for error messages. */
static const char *last_line(const char *log, char *buf, size_t cap)
{
    size_t n = strlen(log);
    while (n && (log[n - 1] == '\n' || log[n - 1] == '\r' || log[n - 1] == ' '))
        n--;
    size_t b = n;
    while (b && log[b - 1] != '\n')
        b--;
    size_t len = n - b < cap - 1 ? n - b : cap - 1;
    memcpy(buf, log + b, len);
    buf[len] = '\0';
    return len ? buf : "(no output)";
}

static void read_log(lec_synth *s, const char *path)
{
    s->log[0] = '\0';
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return;
    /* keep the END of a long log: errors come last */
    if (fseek(fp, 0, SEEK_END) == 0) {
        long sz = ftell(fp);
        if (sz > SYNTH_LOG_MAX - 1)
            fseek(fp, sz - (SYNTH_LOG_MAX - 1), SEEK_SET);
        else
            fseek(fp, 0, SEEK_SET);
    }
    size_t n = fread(s->log, 1, SYNTH_LOG_MAX - 1, fp);
    s->log[n] = '\0';
    fclose(fp);
}

/* Run fluidsynth; returns LEC_OK if it exited with status 0 in time. */
static lec_status run_fluidsynth(lec_synth *s, const char *midi, const char *wav,
                                 const char *logpath, double *wall_s, lec_error *err)
{
    char rate[32], gain[32], midi_arg[4200];
    snprintf(rate, sizeof rate, "%d", s->cfg.sample_rate_hz);
    snprintf(gain, sizeof gain, "%g", s->cfg.gain);
    /* a file name starting with '-' would be taken for an option */
    snprintf(midi_arg, sizeof midi_arg, "%s%s", midi[0] == '-' ? "./" : "", midi);
    /* polyphony 512 (default 256): pedalled romantic textures with stereo
     * samples (2 voices a note) would otherwise have notes stolen */
    char *argv[] = {s->fluidsynth, "-n",
                    "-i",          "-q",
                    "-r",          rate,
                    "-g",          gain,
                    "-o",          "synth.polyphony=512",
                    "-R",          s->cfg.reverb ? "1" : "0",
                    "-C",          s->cfg.chorus ? "1" : "0",
                    "-O",          "float",
                    "-T",          "wav",
                    "-F",          (char *)wav,
                    s->soundfont,  midi_arg,
                    NULL};
    /* opened here, not in the child, so that a missing output directory is
     * reported as such rather than as a failure to run fluidsynth */
    int logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (logfd < 0)
        return lec_error_set(err, LEC_EIO, "%s: cannot create a temporary file: %s", logpath,
                             strerror(errno));
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        close(logfd);
        return lec_error_set(err, LEC_ENOMEM, "synth: cannot prepare subprocess");
    }
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, logfd, 2);
    pid_t pid;
    double t0 = lec_now_s();
    int rc = posix_spawnp(&pid, s->fluidsynth, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(logfd);
    if (rc != 0)
        return lec_error_set(err, LEC_EEXTERNAL, "synth: cannot run %s: %s", s->fluidsynth,
                             strerror(rc));
    int status = 0, timed_out = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return lec_error_set(err, LEC_EEXTERNAL, "synth: waitpid failed: %s", strerror(errno));
        if (lec_now_s() - t0 > s->cfg.timeout_s) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            timed_out = 1;
            break;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    *wall_s = lec_now_s() - t0;
    read_log(s, logpath);
    char line[512];
    if (timed_out)
        return lec_error_set(err, LEC_EEXTERNAL, "%s: fluidsynth (%s) timed out after %.0f s", midi,
                             s->soundfont, s->cfg.timeout_s);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return lec_error_set(err, LEC_EEXTERNAL, "%s: fluidsynth (%s) failed (%s %d): %s", midi,
                             s->soundfont, WIFEXITED(status) ? "exit" : "signal",
                             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                             last_line(s->log, line, sizeof line));
    return LEC_OK;
}

/* Read the WAV, downmix to mono, keep at most keep_frames. *out malloc'd. */
static lec_status read_mono(const char *wav, const char *midi, sf_count_t keep_max, float **out,
                            sf_count_t *n_out, int *rate, lec_error *err)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open(wav, SFM_READ, &info);
    if (!sf)
        return lec_error_set(err, LEC_EEXTERNAL, "%s: fluidsynth output unreadable: %s", midi,
                             sf_strerror(NULL));
    if (info.channels < 1 || info.channels > 8) {
        sf_close(sf);
        return lec_error_set(err, LEC_EEXTERNAL, "%s: fluidsynth output has %d channels", midi,
                             info.channels);
    }
    sf_count_t keep = info.frames < keep_max ? info.frames : keep_max;
    float *mono = malloc((size_t)(keep > 0 ? keep : 1) * sizeof *mono);
    float *buf = malloc(4096 * (size_t)info.channels * sizeof *buf);
    if (!mono || !buf) {
        free(mono);
        free(buf);
        sf_close(sf);
        return lec_error_set(err, LEC_ENOMEM, "%s: out of memory for %lld frames", midi,
                             (long long)keep);
    }
    sf_count_t done = 0;
    while (done < keep) {
        sf_count_t want = keep - done < 4096 ? keep - done : 4096;
        sf_count_t got = sf_readf_float(sf, buf, want);
        if (got <= 0)
            break;
        for (sf_count_t i = 0; i < got; i++) {
            float acc = 0.f;
            for (int c = 0; c < info.channels; c++)
                acc += buf[i * info.channels + c];
            mono[done + i] = acc / (float)info.channels;
        }
        done += got;
    }
    free(buf);
    sf_close(sf);
    *out = mono;
    *n_out = done;
    *rate = info.samplerate;
    return LEC_OK;
}

/* 16-bit FLAC of x (mono, |x| < 1). bits < 16 rounds the samples to
 * multiples of 2^(16 - bits): FLAC stores such "wasted bits" for free, so the
 * file shrinks by ~(16 - bits) bits a sample while the noise floor rises to
 * -6 * bits dBFS (14 bits: -84 dBFS, far below anything a spectrogram front
 * end resolves). Samples are converted here, not by libsndfile, so that the
 * rounding is exact. */
static lec_status write_flac(const char *path, const float *x, sf_count_t n, int rate, int bits,
                             lec_error *err)
{
    lec_atomic_file af;
    lec_status st = lec_atomic_open(&af, path, err);
    if (st != LEC_OK)
        return st;
    SF_INFO info = {.samplerate = rate, .channels = 1, .format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open_fd(fileno(af.fp), SFM_WRITE, &info, 0);
    if (!sf) {
        lec_atomic_abort(&af);
        return lec_error_set(err, LEC_EIO, "%s: cannot write FLAC: %s", path, sf_strerror(NULL));
    }
    /* FLAC level 8 (1.0): ~2% smaller than the default at little CPU cost */
    double level = 1.0;
    sf_command(sf, SFC_SET_COMPRESSION_LEVEL, &level, sizeof level);
    double q = ldexp(1.0, bits - 1); /* quantisation steps per unit */
    int shift = 16 - bits;
    short buf[4096];
    sf_count_t done = 0, w = 0;
    while (done < n) {
        sf_count_t k = n - done < 4096 ? n - done : 4096;
        for (sf_count_t i = 0; i < k; i++) {
            double v = lrint(x[done + i] * q);
            v = v > q - 1 ? q - 1 : v < -q ? -q : v;
            buf[i] = (short)((long)v * (1L << shift));
        }
        w += sf_writef_short(sf, buf, k);
        done += k;
    }
    int cerr = sf_close(sf);
    if (w != n || cerr != 0) {
        lec_atomic_abort(&af);
        return lec_error_set(err, LEC_EIO, "%s: FLAC write failed (disk full?)", path);
    }
    return lec_atomic_commit(&af, err);
}

lec_status lec_synth_render(lec_synth *s, const char *midi_path, const char *flac_path,
                            lec_synth_info *info, lec_error *err)
{
    lec_synth_info tmp_info;
    if (!info)
        info = &tmp_info;
    memset(info, 0, sizeof *info);
    s->log[0] = '\0';
    if (!midi_path || !flac_path)
        return lec_error_set(err, LEC_EINVAL, "synth: NULL path");
    lec_midi *m = lec_midi_read(midi_path, err);
    if (!m)
        return err ? err->code : LEC_EFORMAT;
    info->last_off_s = sound_end_s(m);
    lec_midi_destroy(m);

    unsigned k = atomic_fetch_add(&synth_counter, 1);
    char wav[4200], logp[4200];
    snprintf(wav, sizeof wav, "%s.synth%d_%u.wav", flac_path, (int)getpid(), k);
    snprintf(logp, sizeof logp, "%s.synth%d_%u.log", flac_path, (int)getpid(), k);
    lec_status st = run_fluidsynth(s, midi_path, wav, logp, &info->render_s, err);
    unlink(logp);
    if (st != LEC_OK) {
        unlink(wav);
        return st;
    }
    int rate = 0;
    float *x = NULL;
    sf_count_t n = 0;
    double keep_s = info->last_off_s + s->cfg.release_s;
    st = read_mono(wav, midi_path, (sf_count_t)ceil(keep_s * s->cfg.sample_rate_hz) + 1, &x, &n,
                   &rate, err);
    unlink(wav);
    if (st != LEC_OK)
        return st;
    if (rate != s->cfg.sample_rate_hz) {
        free(x);
        return lec_error_set(err, LEC_EEXTERNAL, "%s: fluidsynth wrote %d Hz, asked %d Hz",
                             midi_path, rate, s->cfg.sample_rate_hz);
    }
    /* audio shorter than the music means fluidsynth stopped early: the
     * ground truth would point past the end */
    sf_count_t off_frame = (sf_count_t)floor(info->last_off_s * rate);
    if (n < off_frame) {
        free(x);
        return lec_error_set(err, LEC_EEXTERNAL,
                             "%s: fluidsynth audio ends at %.3f s, before the last note-off %.3f s",
                             midi_path, (double)n / rate, info->last_off_s);
    }
    /* trim the silent part of the release tail (never before the last note-off) */
    sf_count_t end = n;
    while (end > off_frame && fabsf(x[end - 1]) < SILENCE_ABS)
        end--;
    if (end < 1)
        end = n < 1 ? 0 : 1;
    float peak = 0.f;
    for (sf_count_t i = 0; i < end; i++)
        if (fabsf(x[i]) > peak)
            peak = fabsf(x[i]);
    info->peak = peak;
    if (peak > 0.999f) {
        float g = 0.999f / peak;
        for (sf_count_t i = 0; i < end; i++)
            x[i] *= g;
        info->scaled = 1;
    }
    /* a short fade so a cut inside the tail does not click */
    sf_count_t fade = (sf_count_t)(FADE_S * rate);
    if (fade > end)
        fade = end;
    for (sf_count_t i = 0; i < fade; i++)
        x[end - 1 - i] *= (float)i / (float)fade;
    st = write_flac(flac_path, x, end, rate, s->cfg.bits, err);
    free(x);
    if (st != LEC_OK)
        return st;
    info->duration_s = (double)end / rate;
    return LEC_OK;
}
