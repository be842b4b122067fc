/* alsa_fake.h -- a capture device for tests without sound hardware.
 *
 * Writes a private HOME with an .asoundrc that defines
 *   pcm.lectern_tone_raw  the ALSA `file` plugin over the `null` PCM: capture
 *                         data comes from `infile` (a generated raw tone)
 *   pcm.lectern_tone      a `plug` over it fixed to FLOAT_LE, 2 channels,
 *                         `rate` Hz: exactly what lectern's capture opens
 *                         (float32, min(max channels, 2), the device's
 *                         default rate), so the plug converts nothing
 *   pcm.!default          the same plug, so it is also the default device.
 * Why no conversion: alsa-lib 1.2.8's file plugin reads `infile` in
 * mmap_begin for ALL the frames offered, but a converting plugin above it
 * commits fewer (its own buffer wraps) and the rest of what was read is lost:
 * the tone arrives cut into 95-frame pieces. PortAudio itself commits what it
 * begins, so with a pass-through plug the stream is intact. The infile is
 * therefore FLOAT_LE stereo: the tone at 0.6 on the left, silence right.
 * Pacing: the `null` PCM has no clock, so on its own the device delivers
 * millions of frames per second. But the file plugin also WRITES everything
 * it captures to its `file`, which here is a FIFO that a thread of the test
 * drains at exactly real-time rate (pipe shrunk to one page): the plugin's
 * write blocks, and so capture runs at the wall clock's pace.
 * The drain can be told to stop reading after some audio (the device stalls,
 * as a failing device would) and to resume later.
 */
#ifndef LEC_ALSA_FAKE_H
#define LEC_ALSA_FAKE_H

#include <pthread.h>
#include <stdatomic.h>

typedef struct lec_alsa_fake {
    char home[4096];
    char fifo[4200];
    char tone[4200];
    int rate;
    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_int done;           /* the drain thread has ended */
    atomic_long sessions;      /* times the plugin opened the FIFO */
    double stall_after_s;      /* 0 = never: stop draining after this much audio */
    double stall_for_s;        /* then resume after this long */
    int vanish;                /* 1: at stall_after_s the device is gone for good
                                  instead: the drain closes its end of the FIFO, so
                                  the plugin's write fails (EPIPE) and the stream
                                  errors, as an unplugged device's would */
    /* streaming variant (lec_alsa_fake_start_stream) */
    void (*gen)(void *user, float *stereo, size_t n_frames);
    void *gen_user;
    pthread_t writer;
    int writer_started;
} lec_alsa_fake;

/* Create HOME under dir (dir/home), a tone of tone_hz at amplitude 0.5
 * lasting seconds, and start the drain thread. Returns 0 on success. */
int lec_alsa_fake_start(lec_alsa_fake *f, const char *dir, double tone_hz, int rate,
                        double seconds);
void lec_alsa_fake_stop(lec_alsa_fake *f);

/* The same device, but endless: `infile` is a second FIFO that a writer
 * thread fills with gen(user, stereo, n): n frames of FLOAT_LE stereo,
 * interleaved, generated on demand (e.g. looping renderings for a soak). The
 * writer runs ahead of the device by at most the pipe's 64 kB. gen runs on
 * the writer thread. SIGPIPE is ignored in the process (the plugin closes the
 * infile whenever PortAudio closes the PCM; the writer then reopens it). */
int lec_alsa_fake_start_stream(lec_alsa_fake *f, const char *dir, int rate,
                               void (*gen)(void *user, float *stereo, size_t n_frames),
                               void *user);

/* An ALSA setup with no usable device at all: writes dir/none/alsa.conf and
 * an empty HOME; `env` gets "HOME=... ALSA_CONFIG_PATH=..." for a shell. */
void lec_alsa_none_env(const char *dir, char *env, size_t cap);

#endif
