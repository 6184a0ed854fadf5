/*
 * thread.c — the threads the program starts.
 *
 * pthread_create: while the cpu profile runs, the new thread's start
 * routine is wrapped so that the thread arms its own CPU-time timer before
 * running the program's code and disarms it when that returns (cpu.c).
 * Otherwise, and for the shim's own threads (guard set), the call goes
 * straight through: no wrapper frame, no allocation. The wrapper's record
 * comes from the shim's memory and is freed by the new thread. Return
 * value, errno and the thread's result are the program's.
 */
#include <errno.h>

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
