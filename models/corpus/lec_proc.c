#include "lec_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lec_util.h"

extern char **environ;

lec_status lec_proc_run(const char *const *argv, const char *cwd, const char *const *env_extra,
                        const char *log_path, double timeout_s, lec_proc_result *res,
                        lec_error *err)
{
    lec_proc_result dummy;
    if (!res)
        res = &dummy;
    res->exit_code = -1;
    res->timed_out = 0;
    res->wall_s = 0.0;
    if (!argv || !argv[0])
        return lec_error_set(err, LEC_EINVAL, "lec_proc_run: empty command");

    /* environment = ours + extras (extras first so they win in getenv) */
    size_t n_env = 0, n_extra = 0;
    while (environ && environ[n_env])
        n_env++;
    while (env_extra && env_extra[n_extra])
        n_extra++;
    char **envp = calloc(n_env + n_extra + 1, sizeof *envp);
    if (!envp)
        return lec_error_set(err, LEC_ENOMEM, "%s: out of memory", argv[0]);
    size_t k = 0;
    for (size_t i = 0; i < n_extra; i++)
        envp[k++] = (char *)env_extra[i];
    for (size_t i = 0; i < n_env; i++)
        envp[k++] = environ[i];

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    const char *out = log_path ? log_path : "/dev/null";
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (cwd)
        posix_spawn_file_actions_addchdir_np(&fa, cwd);

    double t0 = lec_now_s();
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, (char *const *)argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    free(envp);
    if (rc != 0)
        return lec_error_set(err, LEC_EEXTERNAL, "%s: cannot start: %s", argv[0], strerror(rc));

    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            res->wall_s = lec_now_s() - t0;
            return lec_error_set(err, LEC_EEXTERNAL, "%s: waitpid: %s", argv[0], strerror(errno));
        }
        if (timeout_s > 0 && lec_now_s() - t0 > timeout_s) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            res->timed_out = 1;
            break;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    res->wall_s = lec_now_s() - t0;
    if (res->timed_out) {
        res->exit_code = 128 + SIGKILL;
        return lec_error_set(err, LEC_EEXTERNAL, "%s: timed out after %.0f s", argv[0], timeout_s);
    }
    if (WIFEXITED(status))
        res->exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        res->exit_code = 128 + WTERMSIG(status);
    if (res->exit_code != 0)
        return lec_error_set(err, LEC_EEXTERNAL, "%s: exited with status %d", argv[0],
                             res->exit_code);
    return LEC_OK;
}
