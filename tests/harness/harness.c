/*
 * harness.c — helpers shared by tests: failure reporting, skips, tool checks,
 * shell commands with captured output, temporary directories, seeds.
 *
 * Everything here runs inside a forked test process, so failing means
 * printing a message and exiting; nothing needs cleaning up.
 */
#include "tests/harness/test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void th_fail(const char *file, int line, const char *fmt, ...) {
    fflush(stdout);
    fprintf(stderr, "%s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    fflush(stderr);
    _exit(1);
}

void th_skip(const char *fmt, ...) {
    fflush(stdout);
    fprintf(stderr, "skipped: ");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    fflush(stderr);
    _exit(77);
}

bool th_ci(void) {
    const char *ci = getenv("CI");
    return ci && (!strcmp(ci, "true") || !strcmp(ci, "1"));
}

void th_need_tool(const char *prog) {
    char *out = NULL;
    int rc = th_sh(&out, "command -v '%s'", prog);
    free(out);
    if (rc == 0)
        return;
    if (th_ci())
        th_fail(__FILE__, __LINE__, "required tool '%s' is missing (CI=true: not skipping)", prog);
    th_skip("'%s' not found on PATH", prog);
}

const char *th_root(void) {
    const char *r = getenv("MAPPROF_ROOT");
    return r && *r ? r : ".";
}

const char *th_build(void) {
    const char *b = getenv("MAPPROF_BUILD");
    return b && *b ? b : "build";
}

const char *th_tmpdir(void) {
    const char *d = getenv("TH_TMPDIR");
    return d && *d ? d : "/tmp";
}

int th_sh(char **out, const char *fmt, ...) {
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&cmd, fmt, ap);
    va_end(ap);
    if (n < 0)
        th_fail(__FILE__, __LINE__, "vasprintf failed");
    char *full = NULL;
    if (asprintf(&full, "( %s ) 2>&1", cmd) < 0)
        th_fail(__FILE__, __LINE__, "asprintf failed");
    free(cmd);
    fflush(NULL);
    FILE *p = popen(full, "r");
    if (!p)
        th_fail(__FILE__, __LINE__, "popen(%s) failed", full);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf)
                th_fail(__FILE__, __LINE__, "out of memory reading command output");
        }
        size_t got = fread(buf + len, 1, 4096, p);
        if (got == 0)
            break;
        len += got;
    }
    buf[len] = 0;
    int st = pclose(p);
    free(full);
    if (out)
        *out = buf;
    else
        free(buf);
    if (st < 0)
        return -1;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

char *th_read_file(const char *path, size_t *lenp) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 4096 + 1 > cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, 4096, f);
        if (got == 0)
            break;
        len += got;
    }
    fclose(f);
    if (buf) {
        buf[len] = 0;
        if (lenp)
            *lenp = len;
    }
    return buf;
}

uint64_t th_seed(void) {
    static uint64_t seed;
    static bool done;
    if (done)
        return seed;
    const char *s = getenv("TEST_SEED");
    if (s && *s) {
        seed = strtoull(s, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec;
        /* Fix it for every test forked after this point, and say it once. */
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRIu64, seed);
        setenv("TEST_SEED", buf, 1);
        printf("TEST_SEED=%s\n", buf);
    }
    done = true;
    return seed;
}
