/*
 * cond.c — condition variables in the lock profiles: the mutex a waiter
 * releases and re-takes inside pthread_cond_{wait,timedwait,clockwait}.
 *
 * glibc releases and re-takes the mutex inside the condition wait with
 * internal functions that the lock/unlock interposers never see. The
 * release is charged like an unlock (the waiter's holder stack, before the
 * real wait). The re-lock is timed from the other side: a registered
 * waiter (`conds`: cond -> its waiters on which mutex) is marked "pending"
 * by the pthread_cond_signal/broadcast that wakes it, and from then on it
 * is a waiter on the mutex in contention.c's table, so the holder's unlock
 * (usually the signaller's) is charged exactly as for a blocked
 * pthread_mutex_lock. Its clock starts WAKE_NS after the signal (a woken
 * thread cannot try the mutex sooner), so the usual signal-then-unlock
 * hand-off is not charged. When the waiter returns it leaves the table; if
 * an unlock was charged meanwhile (it really had to wait for the mutex)
 * its block sample is return time - clock start.
 *
 * Invariants: pending marks are counted per cond, not per thread (glibc
 * does not say which waiter a signal wakes): whichever waiter returns next
 * consumes one, which keeps the waiting table balanced through spurious
 * wake-ups, timeouts and cancellation (a cleanup handler). A waiter that
 * could not be registered (no memory) never leaves either. cond_lock is
 * taken before contention.c's lock, never after.
 * Non-goals: timing a re-lock after a timeout or a spurious wake-up, and
 * the wait for the signal itself (that is the program waiting for work,
 * not for a lock). The condvar functions are forwarded to the GLIBC_2.3.2
 * ones.
 */
#include <errno.h>
#include <pthread.h>

#include "shim/lock.h"

/* A thread woken by a futex needs microseconds to run: a woken condition
 * waiter is counted as trying the mutex from this long after the signal,
 * so signal-then-unlock hand-offs are not charged. */
#define WAKE_NS 2000

typedef struct condrec {
    pthread_mutex_t *m;  /* the mutex of the waiters (POSIX: one at a time) */
    int n_waiters;       /* threads inside our condition-wait wrappers */
    int n_pending;       /* woken by a sampled signal, not yet returned */
    int64_t pending_sum; /* sum of their clock starts (signal + WAKE_NS) */
    uint64_t pcharges;   /* the mutex's charging unlocks at the latest wake-up */
} condrec;

static shim_spin cond_lock;
static shim_table conds; /* cond address -> condrec */
static int n_conds;      /* atomic: condrec entries */

/* The mutex is about to be released inside a condition wait. */
static void release_in_wait(pthread_mutex_t *m) {
    if (SHIM_LIKELY(!shim_maybe_waited(m)))
        return;
    int64_t delay = 0;
    int was = shim_enter();
    int n = shim_charge_unlock(m, &delay);
    shim_leave(was);
    if (n > 0)
        shim_after_unlock(n, delay);
}

/* A thread enters a condition wait on (c, m). False when it could not be
 * registered (no memory). */
static bool cond_begin(pthread_cond_t *c, pthread_mutex_t *m) {
    shim_spin_lock(&cond_lock);
    condrec *r = shim_table_get(&conds, (uint64_t)(uintptr_t)c);
    if (!r && (r = shim_calloc(sizeof *r)) != NULL) {
        if (shim_table_put(&conds, (uint64_t)(uintptr_t)c, r) < 0) {
            shim_free(r);
            r = NULL;
        } else {
            r->m = m;
            __atomic_add_fetch(&n_conds, 1, __ATOMIC_RELAXED);
        }
    }
    if (r)
        r->n_waiters++;
    shim_spin_unlock(&cond_lock);
    return r != NULL;
}

/* The thread left its condition wait at t1 (returned or cancelled): it
 * consumes one pending mark, if any. Returns the re-lock time to record,
 * or -1 (no sampled wake-up, or nobody held the mutex meanwhile). */
static int64_t cond_end(pthread_cond_t *c, int64_t t1) {
    int64_t relock = -1;
    shim_spin_lock(&cond_lock);
    condrec *r = shim_table_get(&conds, (uint64_t)(uintptr_t)c);
    if (r && r->n_pending > 0) {
        int64_t start = r->pending_sum / r->n_pending;
        r->pending_sum -= start;
        r->n_pending--;
        if (shim_wait_end_pending(r->m, r->pcharges))
            relock = t1 > start ? t1 - start : 0;
    }
    if (r && --r->n_waiters == 0) {
        shim_table_del(&conds, (uint64_t)(uintptr_t)c);
        __atomic_sub_fetch(&n_conds, 1, __ATOMIC_RELAXED);
        shim_free(r);
    }
    shim_spin_unlock(&cond_lock);
    return relock;
}

static void cond_cancelled(void *c) {
    int was = shim_enter();
    cond_end(c, 0);
    shim_leave(was);
}

typedef struct cond_call {
    enum { WAIT, TIMEDWAIT, CLOCKWAIT } kind;
    clockid_t clk;
    const struct timespec *abstime;
} cond_call;

static int cond_real(pthread_cond_t *c, pthread_mutex_t *m, const cond_call *k) {
    switch (k->kind) {
    case WAIT:
        return shim_real.cond_wait(c, m);
    case TIMEDWAIT:
        return shim_real.cond_timedwait(c, m, k->abstime);
    default:
        return shim_real.cond_clockwait(c, m, k->clk, k->abstime);
    }
}

static int cond_wait_marked(pthread_cond_t *c, pthread_mutex_t *m, const cond_call *k);

/* The wait, marked for the threads profile. */
static int cond_wait_common(pthread_cond_t *c, pthread_mutex_t *m, const cond_call *k) {
    if (!shim_lock_profiling())
        return cond_real(c, m, k);
    shim_wait_mark(c, SHIM_WAIT_COND);
    int rc = cond_wait_marked(c, m, k);
    shim_wait_unmark();
    return rc;
}

static int cond_wait_marked(pthread_cond_t *c, pthread_mutex_t *m, const cond_call *k) {
    release_in_wait(m);
    int saved = errno;
    int was = shim_enter();
    bool registered = cond_begin(c, m);
    shim_leave(was);
    errno = saved;
    if (!registered)
        return cond_real(c, m, k);
    int rc;
    /* A cancelled wait unwinds through here with the mutex re-taken: the
     * handler keeps the waiting table balanced. */
    pthread_cleanup_push(cond_cancelled, c);
    rc = cond_real(c, m, k);
    pthread_cleanup_pop(0);
    saved = errno;
    was = shim_enter();
    int64_t now = shim_now_ns(), relock = cond_end(c, now);
    if (relock >= 0)
        shim_block_event(relock);
    if (relock >= 0 && shim_cfg.trace && shim_recording())
        shim_trace_lock_wait(m, now - relock, now, 1);
    shim_leave(was);
    errno = saved;
    return rc;
}

SHIM_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EAGAIN;
    cond_call k = {WAIT, 0, NULL};
    return cond_wait_common(c, m, &k);
}

SHIM_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                                       const struct timespec *abstime) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EAGAIN;
    cond_call k = {TIMEDWAIT, 0, abstime};
    return cond_wait_common(c, m, &k);
}

SHIM_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk,
                                       const struct timespec *abstime) {
    if (SHIM_UNLIKELY(!shim_real_ready()) || !shim_real.cond_clockwait)
        return EINVAL;
    cond_call k = {CLOCKWAIT, clk, abstime};
    return cond_wait_common(c, m, &k);
}

/* A signal (all = false) or broadcast is about to wake registered waiters
 * of c: each one still unmarked is, with probability 1 in the mutex rate,
 * marked pending and counted as waiting for the mutex from now. */
static void cond_wake(pthread_cond_t *c, bool all) {
    int saved = errno;
    int was = shim_enter();
    int64_t now = shim_now_ns(), start = now + WAKE_NS;
    shim_spin_lock(&cond_lock);
    condrec *r = shim_table_get(&conds, (uint64_t)(uintptr_t)c);
    int idle = r ? r->n_waiters - r->n_pending : 0, k = 0;
    for (int i = 0; i < (all ? idle : idle > 0); i++)
        k += shim_one_in(shim_cfg.mutex_rate);
    uint64_t pcharges;
    if (k > 0 && shim_wait_begin(r->m, start, k, true, &pcharges)) {
        r->n_pending += k;
        r->pending_sum += (int64_t)k * start;
        r->pcharges = pcharges;
    }
    shim_spin_unlock(&cond_lock);
    shim_account_ns(shim_now_ns() - now);
    shim_leave(was);
    errno = saved;
}

/* One load of n_conds: no registered condition waiter anywhere. */
SHIM_EXPORT int pthread_cond_signal(pthread_cond_t *c) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EINVAL;
    if (__atomic_load_n(&n_conds, __ATOMIC_RELAXED) != 0 && shim_lock_profiling())
        cond_wake(c, false);
    return shim_real.cond_signal(c);
}

SHIM_EXPORT int pthread_cond_broadcast(pthread_cond_t *c) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EINVAL;
    if (__atomic_load_n(&n_conds, __ATOMIC_RELAXED) != 0 && shim_lock_profiling())
        cond_wake(c, true);
    return shim_real.cond_broadcast(c);
}

void shim_cond_lock_all(bool lock) {
    if (lock)
        shim_spin_lock(&cond_lock);
    else
        shim_spin_unlock(&cond_lock);
}

void shim_cond_after_fork(void) {
    shim_table_clear(&conds);
    n_conds = 0;
    shim_spin_unlock(&cond_lock);
}
