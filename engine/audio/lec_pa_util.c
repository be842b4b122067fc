/* lec_pa_util.c -- see lec_pa_util.h. */
#include "lec_pa_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *lec_pa_error_text(PaError e)
{
    if (e == paUnanticipatedHostError) {
        const PaHostErrorInfo *hi = Pa_GetLastHostErrorInfo();
        if (hi && hi->errorText && *hi->errorText)
            return hi->errorText;
    }
    return Pa_GetErrorText(e);
}

static int channels(const PaDeviceInfo *d, lec_pa_dir dir)
{
    return dir == LEC_PA_OUTPUT ? d->maxOutputChannels : d->maxInputChannels;
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* The names of the devices of direction dir into buf (for "did you mean"
 * messages), "none" if there are none. */
static void list_devices(lec_pa_dir dir, char *buf, size_t cap)
{
    buf[0] = '\0';
    int count = Pa_GetDeviceCount();
    size_t len = 0;
    for (int i = 0; i < count && len + 1 < cap; i++) {
        const PaDeviceInfo *d = Pa_GetDeviceInfo(i);
        if (!d || channels(d, dir) <= 0)
            continue;
        int k = snprintf(buf + len, cap - len, "%s%d '%s'", len ? ", " : "", i, d->name);
        if (k < 0)
            break;
        len += (size_t)k;
    }
    if (!len)
        snprintf(buf, cap, "none");
}

lec_status lec_pa_find_device(const char *spec, lec_pa_dir dir, PaDeviceIndex *out,
                              lec_error *err)
{
    const char *what = dir == LEC_PA_OUTPUT ? "output" : "input";
    int count = Pa_GetDeviceCount();
    if (count < 0)
        return lec_error_set(err, LEC_EDEVICE, "PortAudio could not list devices: %s",
                             Pa_GetErrorText(count));
    char names[600];
    if (!spec || !*spec) {
        PaDeviceIndex d =
            dir == LEC_PA_OUTPUT ? Pa_GetDefaultOutputDevice() : Pa_GetDefaultInputDevice();
        if (d == paNoDevice)
            return lec_error_set(err, LEC_EDEVICE,
                                 "no audio %s device: PortAudio found %d device(s) and no "
                                 "default %s%s",
                                 what, count, what,
                                 dir == LEC_PA_INPUT ? " (is a microphone/interface connected?)"
                                                     : "");
        *out = d;
        return LEC_OK;
    }
    if (all_digits(spec)) {
        long idx = strtol(spec, NULL, 10);
        if (idx >= count) {
            list_devices(dir, names, sizeof names);
            return lec_error_set(err, LEC_EDEVICE,
                                 "audio device %ld does not exist: PortAudio lists %d device(s); "
                                 "%s devices: %s",
                                 idx, count, what, names);
        }
        const PaDeviceInfo *d = Pa_GetDeviceInfo((PaDeviceIndex)idx);
        if (!d || channels(d, dir) <= 0)
            return lec_error_set(err, LEC_EDEVICE, "audio device %ld ('%s') has no %s channels",
                                 idx, d ? d->name : "?", what);
        *out = (PaDeviceIndex)idx;
        return LEC_OK;
    }
    int found = -1, n_sub = 0, first_sub = -1, second_sub = -1;
    for (int i = 0; i < count; i++) {
        const PaDeviceInfo *d = Pa_GetDeviceInfo(i);
        if (!d || channels(d, dir) <= 0 || !d->name)
            continue;
        if (strcasecmp(d->name, spec) == 0) {
            found = i;
            break;
        }
        if (strcasestr(d->name, spec)) {
            if (n_sub == 0)
                first_sub = i;
            else if (n_sub == 1)
                second_sub = i;
            n_sub++;
        }
    }
    if (found < 0 && n_sub == 1)
        found = first_sub;
    if (found < 0 && n_sub > 1)
        return lec_error_set(err, LEC_EDEVICE,
                             "device name '%s' matches %d %s devices ('%s', '%s'%s); give "
                             "the index or a longer name",
                             spec, n_sub, what, Pa_GetDeviceInfo(first_sub)->name,
                             Pa_GetDeviceInfo(second_sub)->name, n_sub > 2 ? ", ..." : "");
    if (found < 0) {
        list_devices(dir, names, sizeof names);
        return lec_error_set(err, LEC_EDEVICE, "no audio %s device matches '%s'; %s devices: %s",
                             what, spec, what, names);
    }
    *out = (PaDeviceIndex)found;
    return LEC_OK;
}
