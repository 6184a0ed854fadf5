/*
 * mutex_kind0.c — glibc's default-mutex protocol (kind 0), run by the
 * shim itself so an uncontended lock+unlock costs what it costs without
 * us: forwarding alone (bench-shim's bare.so) was +13-28% on it.
 *
 * Kind 0 is PTHREAD_MUTEX_INITIALIZER, or a NULL or default attribute:
 * most mutexes of most programs. The protocol, as glibc 2.36 runs it for
 * that kind (its lowlevellock): lock word 0 free, 1 locked, 2 locked with
 * sleepers; the locker sets the owner to its kernel thread id and counts
 * itself in nusers, the unlocker clears the owner, uncounts itself, swaps
 * 0 into the word and wakes one sleeper (private futex) if it read 2;
 * while the process has one thread (__libc_single_threaded) plain loads
 * and stores stand for the atomics. glibc's condition waits, trylock and
 * contended lock work on the same fields, so the two mix freely.
 *
 * Preconditions, all implied by kind == 0 (any attribute that breaks one
 * sets a bit of the kind, and such mutexes are forwarded): the mutex is
 * process-private (the private futex is right), not robust (no robust
 * list to maintain), not recursive or error-checking (no count, no owner
 * check), and only the holder writes the owner and the user count, so
 * plain stores to them race with nothing. glibc only asserts that the
 * owner is 0 once acquired: a mutex found with an owner set is handed to
 * glibc's own lock, which asserts exactly as without us.
 *
 * Invariant: it is on only when shim_kind0_probe saw glibc's lock and
 * unlock (libc.so.6's, not another interposer's) produce exactly these
 * fields on a probe mutex; forced lock elision changes the kind and turns
 * it off. The owner id is cached per thread (shim_tls.tid), reset in a
 * fork child by an atfork handler registered before any other of the
 * shim's. Non-goals: other kinds, other glibc versions' layouts (the
 * probe refuses them).
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim/mutex_kind0.h"

static int self_tid(void) {
    if (SHIM_UNLIKELY(shim_tls_v.tid == 0))
        shim_tls_v.tid = (int)syscall(SYS_gettid);
    return shim_tls_v.tid;
}

__attribute__((noinline)) int shim_kind0_wake(pthread_mutex_t *m) {
    int saved = errno;
    syscall(SYS_futex, &m->__data.__lock, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    errno = saved;
    return 0;
}

/* Acquired by this thread's first lock, or with an owner already set (a
 * corrupted mutex: given back, and glibc's lock asserts with its own
 * message). */
__attribute__((noinline)) int shim_kind0_acquired_first(pthread_mutex_t *m) {
    if (m->__data.__owner != 0) {
        if (__atomic_exchange_n(&m->__data.__lock, 0, __ATOMIC_RELEASE) > 1)
            shim_kind0_wake(m);
        return shim_real.mutex_lock(m);
    }
    m->__data.__owner = self_tid();
    m->__data.__nusers++;
    return 0;
}

static void tid_after_fork(void) {
    shim_tls_v.tid = 0; /* the child's one thread has an id of its own */
}

bool shim_kind0_probe(void) {
    pthread_mutex_t t = PTHREAD_MUTEX_INITIALIZER;
    int tid = self_tid();
    bool ok = shim_real_in_libc((const void *)shim_real.mutex_lock) &&
              shim_real_in_libc((const void *)shim_real.mutex_unlock) &&
              shim_real.mutex_lock(&t) == 0 && t.__data.__lock == 1 && t.__data.__owner == tid &&
              t.__data.__nusers == 1 && t.__data.__count == 0 && t.__data.__kind == 0 &&
              shim_real.mutex_unlock(&t) == 0 && t.__data.__lock == 0 && t.__data.__owner == 0 &&
              t.__data.__nusers == 0 && t.__data.__kind == 0;
    /* First of the shim's fork handlers: a child's handlers may lock. */
    return ok && pthread_atfork(NULL, NULL, tid_after_fork) == 0;
}
