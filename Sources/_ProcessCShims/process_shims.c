#define _GNU_SOURCE
#include "process_shims.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <pthread.h>
#include <unistd.h>

static void close_other_descriptors(int keep_min) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, keep_min, ~0U, 0) == 0) return;
#endif
    for (int fd = keep_min; fd < 65536; fd++) close(fd);
}

pid_t ai_spawn_supervised(const char *path, char *const argv[], char *const envp[], int stdout_fd, int stderr_fd) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -errno;
    pid_t parent = getpid();

    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        // Child: only async-signal-safe calls from here to execve.
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127); // the parent died before prctl took effect
        for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull < 0) goto fail;
        if (dup2(devnull, 0) < 0 || dup2(stdout_fd, 1) < 0 || dup2(stderr_fd, 2) < 0) goto fail;
        if (report[1] <= 2) goto fail;
        if (dup2(report[1], 3) < 0) goto fail;
        fcntl(3, F_SETFD, FD_CLOEXEC);
        close_other_descriptors(4);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(path, argv, envp);
    fail:;
        int err = errno;
        ssize_t ignored = write(3, &err, sizeof err);
        (void)ignored;
        _exit(127);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        return -fork_errno;
    }
    // The parent sets the group too, so a signal sent right after return already reaches it.
    setpgid(pid, pid);
    int child_errno = 0;
    ssize_t n;
    do { n = read(report[0], &child_errno, sizeof child_errno); } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == sizeof child_errno) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        return -child_errno;
    }
    return pid;
}

unsigned long long ai_process_start_time(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return 0;
    char buf[4096];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    // The command name (field 2) may contain spaces and parentheses; fields resume after the last ')'.
    char *p = strrchr(buf, ')');
    if (p == NULL) return 0;
    p++;
    unsigned long long value = 0;
    for (int field = 3; field <= 22 && *p; field++) {
        while (*p == ' ') p++;
        if (field == 22) {
            sscanf(p, "%llu", &value);
            break;
        }
        while (*p && *p != ' ') p++;
    }
    return value;
}

int ai_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int ai_accept_cloexec(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC); }
