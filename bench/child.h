/*
 * child.h — running a benchmarked program as a child process: its
 * environment set (LD_PRELOAD and friends), stdout+stderr captured, its
 * CPU time and peak RSS taken from wait4. Static functions: each program
 * includes what it uses.
 */
#ifndef BENCH_CHILD_H
#define BENCH_CHILD_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct bench_child {
    double cpu_ms;     /* user + system */
    double maxrss_kb;  /* ru_maxrss */
    char out[1 << 16]; /* stdout + stderr, NUL-terminated (truncated) */
} bench_child;

/*
 * Run argv with LD_PRELOAD=preload (NULL: unset) and the "K=V" strings of
 * env (NULL-terminated list, may be NULL); exits the benchmark with the
 * child's output when it fails, since a figure from a failed run is no
 * figure.
 */
static void bench_child_run(const char *preload, char *const env[], char *const argv[],
                            bench_child *r) {
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        exit(1);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        if (preload)
            setenv("LD_PRELOAD", preload, 1);
        else
            unsetenv("LD_PRELOAD");
        for (size_t i = 0; env && env[i]; i++)
            putenv(env[i]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], r->out + len, sizeof r->out - 1 - len)) > 0 ||
           (n < 0 && errno == EINTR))
        if (n > 0)
            len += (size_t)n;
    r->out[len] = '\0';
    close(fds[0]);
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench: %s failed:\n%s\n", argv[0], r->out);
        exit(1);
    }
    r->cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    r->maxrss_kb = (double)ru.ru_maxrss;
}

#endif
