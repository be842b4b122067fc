/* test_util.c -- crash-safe writes keep the old file on failure; errors name
 * the file; mkdir -p; whole-file reads. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lec_error.h"
#include "lec_test.h"
#include "lec_util.h"

int main(void)
{
    const char *dir = lec_test_scratch_dir("test_util");
    char path[4200], sub[4200];
    snprintf(path, sizeof path, "%s/a.txt", dir);
    snprintf(sub, sizeof sub, "%s/x/y/z", dir);
    lec_error err;

    CHECK(lec_mkdir_p(sub, &err) == LEC_OK);
    struct stat st;
    CHECK(stat(sub, &st) == 0 && S_ISDIR(st.st_mode));

    CHECK(lec_write_file_atomic(path, "hello", 5, &err) == LEC_OK);
    char *data = NULL;
    size_t len = 0;
    CHECK(lec_read_file(path, 0, &data, &len, &err) == LEC_OK);
    CHECK(len == 5 && data && memcmp(data, "hello", 5) == 0);
    free(data);

    /* an aborted write leaves the previous content and no temporary */
    lec_atomic_file af;
    CHECK(lec_atomic_open(&af, path, &err) == LEC_OK);
    fputs("partial", af.fp);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s", af.tmp);
    lec_atomic_abort(&af);
    CHECK(access(tmp, F_OK) != 0);
    CHECK(lec_read_file(path, 0, &data, &len, &err) == LEC_OK);
    CHECK(len == 5 && memcmp(data, "hello", 5) == 0);
    free(data);

    /* a write to a full device fails on commit and keeps nothing half-written */
    if (access("/dev/full", W_OK) == 0) {
        /* /dev/full cannot be renamed onto, so use the error path directly */
        FILE *fp = fopen("/dev/full", "wb");
        CHECK(fp != NULL);
        if (fp) {
            lec_atomic_file f2;
            memset(&f2, 0, sizeof f2);
            f2.fp = fp;
            snprintf(f2.path, sizeof f2.path, "%s", path);
            snprintf(f2.tmp, sizeof f2.tmp, "%s/never-created", dir);
            for (int i = 0; i < 10000; i++)
                fputs("0123456789", fp);
            CHECK(lec_atomic_commit(&f2, &err) == LEC_EIO);
            CHECK(strstr(err.msg, "a.txt") != NULL);
        }
        CHECK(lec_read_file(path, 0, &data, &len, &err) == LEC_OK);
        CHECK(len == 5);
        free(data);
    }

    /* errors name the file */
    char missing[4300];
    snprintf(missing, sizeof missing, "%s/missing.bin", dir);
    CHECK(lec_read_file(missing, 0, &data, &len, &err) == LEC_EIO);
    CHECK(strstr(err.msg, "missing.bin") != NULL);
    CHECK(lec_read_file(dir, 0, &data, &len, &err) == LEC_EIO);

    /* size limit */
    CHECK(lec_read_file(path, 3, &data, &len, &err) == LEC_EFORMAT);

    lec_error_set(&err, LEC_EIO, "x.wav: bad");
    lec_error_prefix(&err, "loading: ");
    CHECK(strcmp(err.msg, "loading: x.wav: bad") == 0);
    return lec_test_finish("test_util");
}
