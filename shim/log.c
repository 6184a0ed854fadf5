/*
 * log.c — the shim's only way to talk: one "mapprof: ..." line on stderr.
 *
 * Formats into a stack buffer with vsnprintf (no allocation for the
 * formats used here: no %ls, no floating point beyond %f of small values)
 * and writes it with write(2), retrying EINTR and short writes, so it is
 * safe from every hook and from the fork child. errno is preserved.
 * Non-goals: log levels, log files, rate limiting (callers log once).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "shim/shim.h"

void shim_log(const char *fmt, ...) {
    int saved = errno;
    int was = shim_enter();
    char line[512];
    int n = snprintf(line, sizeof line, "mapprof: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    int cancel; /* write is a cancellation point; a log line is not one */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    const char *p = line;
    while (len > 0) {
        ssize_t w = write(2, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        len -= (size_t)w;
    }
    pthread_setcancelstate(cancel, NULL);
    shim_leave(was);
    errno = saved;
}
