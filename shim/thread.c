/*
 * thread.c — the threads the program starts, and the signal waits that
 * must never see the cpu profile's signal.
 *
 * pthread_create: while the cpu profile runs, the new thread's start
 * routine is wrapped so that the thread arms its own CPU-time timer before
 * running the program's code and disarms it when that returns (cpu.c).
 * Otherwise, and for the shim's own threads (guard set), the call goes
 * straight through: no wrapper frame, no allocation. The wrapper's record
 * comes from the shim's memory and is freed by the new thread. Return
 * value, errno and the thread's result are the program's.
 *
 * sigwait, sigwaitinfo, sigtimedwait, signalfd: a program that blocks
 * every signal and waits for them synchronously (a daemon's signal thread)
 * would otherwise receive the timer signal and act on it. While the cpu
 * profile runs, the signal is taken out of the set the program waits for
 * (unless it is the only member: then the program asked for exactly that
 * signal, and gets its own call unchanged).
 */
#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>

#include "shim/shim.h"

struct start {
    void *(*fn)(void *);
    void *arg;
};

static void *thread_start(void *p) {
    struct start st = *(struct start *)p;
    int was = shim_enter();
    shim_free(p);
    shim_leave(was);
    shim_cpu_thread_begin();
    void *ret = st.fn(st.arg);
    shim_cpu_thread_end();
    return ret;
}

SHIM_EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *),
                               void *arg) {
    if (!shim_real_ready() || !shim_real.pthread_create)
        return EAGAIN;
    if (shim_tls_v.guard || !shim_cpu_on() || !shim_recording())
        return shim_real.pthread_create(th, attr, fn, arg);
    int saved = errno;
    int was = shim_enter();
    struct start *st = shim_calloc(sizeof *st);
    shim_leave(was);
    errno = saved;
    if (!st)
        return shim_real.pthread_create(th, attr, fn, arg);
    st->fn = fn;
    st->arg = arg;
    int rc = shim_real.pthread_create(th, attr, thread_start, st);
    if (rc != 0) {
        was = shim_enter();
        shim_free(st);
        shim_leave(was);
        errno = saved;
    }
    return rc;
}

/* set without the cpu signal in *out; returns the set to pass on. */
static const sigset_t *without_cpu_signal(const sigset_t *set, sigset_t *out) {
    int s = shim_cpu_on() ? shim_cfg.cpu_signal : 0;
    if (!set || !s || sigismember(set, s) != 1)
        return set;
    *out = *set;
    sigdelset(out, s);
    return sigisemptyset(out) ? set : out;
}

SHIM_EXPORT int sigwait(const sigset_t *set, int *sig) {
    if (!shim_real_ready() || !shim_real.sigwait)
        return ENOSYS;
    sigset_t copy;
    return shim_real.sigwait(without_cpu_signal(set, &copy), sig);
}

SHIM_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info) {
    if (!shim_real_ready() || !shim_real.sigwaitinfo) {
        errno = ENOSYS;
        return -1;
    }
    sigset_t copy;
    return shim_real.sigwaitinfo(without_cpu_signal(set, &copy), info);
}

SHIM_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *t) {
    if (!shim_real_ready() || !shim_real.sigtimedwait) {
        errno = ENOSYS;
        return -1;
    }
    sigset_t copy;
    return shim_real.sigtimedwait(without_cpu_signal(set, &copy), info, t);
}

SHIM_EXPORT int signalfd(int fd, const sigset_t *mask, int flags) {
    if (!shim_real_ready() || !shim_real.signalfd) {
        errno = ENOSYS;
        return -1;
    }
    sigset_t copy;
    return shim_real.signalfd(fd, without_cpu_signal(mask, &copy), flags);
}
