/*
 * mutex_kind0.h — the hot half of glibc's default-mutex protocol (kind 0),
 * inlined into mutex.c's pthread_mutex_lock/unlock; mutex_kind0.c holds
 * the rest, the preconditions and the probe that turns it on.
 */
#ifndef SHIM_MUTEX_KIND0_H
#define SHIM_MUTEX_KIND0_H

#include <pthread.h>
#include <sys/single_threaded.h>

#include "shim/shim.h"

/* The cold paths (mutex_kind0.c): this thread's first lock or an owner
 * already set, and the futex wake of a sleeper. Both return 0 or the
 * result of glibc's own call. */
int shim_kind0_acquired_first(pthread_mutex_t *m);
int shim_kind0_wake(pthread_mutex_t *m);
/* Does glibc's lock/unlock pair produce exactly the fields the protocol
 * below assumes (and are they libc.so.6's)? Registers the fork handler
 * that resets the cached thread id. */
bool shim_kind0_probe(void);

/* Lock kind-0 m; a word found taken goes to busy(m), a tail call (so is
 * the cold path): the hot path keeps no stack frame. */
static inline __attribute__((always_inline)) int shim_kind0_lock(pthread_mutex_t *m,
                                                                 int (*busy)(pthread_mutex_t *)) {
    int *word = &m->__data.__lock, free_ = 0;
    bool taken;
    if (__libc_single_threaded) {
        taken = __atomic_load_n(word, __ATOMIC_RELAXED) == 0;
        if (taken)
            __atomic_store_n(word, 1, __ATOMIC_RELAXED);
    } else {
        taken =
            __atomic_compare_exchange_n(word, &free_, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
    }
    if (SHIM_UNLIKELY(!taken))
        return busy(m);
    int tid = shim_tls_v.tid;
    if (SHIM_UNLIKELY(tid == 0 || m->__data.__owner != 0))
        return shim_kind0_acquired_first(m);
    m->__data.__owner = tid;
    m->__data.__nusers++;
    return 0;
}

/* Unlock kind-0 m, held by this thread. */
static inline __attribute__((always_inline)) int shim_kind0_unlock(pthread_mutex_t *m) {
    m->__data.__owner = 0;
    m->__data.__nusers--;
    if (__libc_single_threaded)
        __atomic_store_n(&m->__data.__lock, 0, __ATOMIC_RELEASE);
    else if (SHIM_UNLIKELY(__atomic_exchange_n(&m->__data.__lock, 0, __ATOMIC_RELEASE) > 1))
        return shim_kind0_wake(m);
    return 0;
}

#endif
