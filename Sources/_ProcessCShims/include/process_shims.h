#ifndef AI_SYSADMIN_PROCESS_SHIMS_H
#define AI_SYSADMIN_PROCESS_SHIMS_H
#include <sys/types.h>

/// Starts `path` with `argv` and `envp` in a new process group with PR_SET_PDEATHSIG=SIGKILL, stdin from
/// /dev/null and stdout/stderr to the write ends given. All other descriptors are closed in the child.
///
/// PDEATHSIG fires when the *thread* that forked exits, so call this only from a thread that lives as long
/// as the process. Returns the pid, or -errno; when exec fails the errno is reported through a CLOEXEC pipe.
pid_t ai_spawn_supervised(const char *path, char *const argv[], char *const envp[], int stdout_fd, int stderr_fd);

/// Field 22 of /proc/PID/stat (start time in clock ticks since boot), or 0 when the process does not exist.
/// Together with the pid it identifies one process, even after the pid is reused.
unsigned long long ai_process_start_time(pid_t pid);


/// pipe2(fds, O_CLOEXEC): Glibc's Swift overlay does not export the GNU-only call.
int ai_pipe_cloexec(int fds[2]);

/// accept4(fd, NULL, NULL, SOCK_CLOEXEC), for the same reason.
int ai_accept_cloexec(int fd);
#endif
