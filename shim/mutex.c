/*
 * mutex.c — the pthread mutex and rwlock interposers: untimed and nearly
 * free while a lock is free, timed (contention.c) only when it is taken.
 *
 * Which path a call takes is decided by one small state, `paths`, derived
 * in one place (paths_update) from two facts: kind0, the default-mutex
 * protocol verified at start (mutex_kind0.c), and waiters, some sampled
 * waiter registered in contention.c's table. The uncontended paths read
 * only `paths` and the mutex:
 *
 *   state                | lock, kind 0  | lock, other kinds   | unlock, kind 0 | unlock, other
 *   ---------------------+---------------+---------------------+----------------+---------------
 *   before first use     | (as below)    | stub: resolves      | (as below)     | stub: resolves
 *   kind0 off            | word test     | word test + glibc   | glibc          | glibc
 *   kind0 on             | inline        | word test + glibc   | inline         | glibc
 *   waiters (either)     | as above      | as above            | charging path  | charging path
 *
 * "word test": a lock word that reads 0 is free (every glibc kind keeps 0
 * for "unlocked"; priority-protected ones never read 0 and go the slow
 * way) and glibc's lock is tail-called; a lock found taken is tried once
 * more (trylock), and only EBUSY leads to timing. The lock can be taken
 * between the test and glibc's compare-and-swap (or the inline one's), a
 * window of a few instructions; such a wait goes untimed
 * (tests/shim/mutex_test.c checks the delay stays within 10% under heavy
 * contention). The charging path (mutex_unlock_slow) charges the holder
 * for its waiters (contention.c); switched when the count of waited-on
 * locks leaves or reaches 0, so an unlock that read `paths` just before a
 * waiter registered goes uncharged, once.
 *
 * Return codes pass through unchanged for every mutex type: trylock's
 * result is final unless it is EBUSY (an ERRORCHECK owner re-locking gets
 * EBUSY and then EDEADLK from the real lock; no event is recorded; a
 * RECURSIVE owner's trylock succeeds; robust EOWNERDEAD means acquired).
 * Shim locks are spinlocks (never these interposers), and everything runs
 * with the guard set, so libunwind's own pthread locks pass through.
 * Non-goals: spinlocks and barriers; condition variables are cond.c's.
 */
#include <errno.h>
#include <limits.h>

#include "shim/lock.h"
#include "shim/mutex_kind0.h"

/* A kind no mutex has: NO_KIND switches an inline path off. Not -1: glibc
 * writes that kind into a destroyed mutex, whose lock and unlock must keep
 * failing with EINVAL in glibc. */
#define NO_KIND INT_MIN

static int lock_stub(pthread_mutex_t *m);
static int unlock_stub(pthread_mutex_t *m);
static int mutex_unlock_slow(pthread_mutex_t *m);

/* What the uncontended paths read (see the table above); fields are read
 * with relaxed loads and written by paths_update only. */
static struct {
    int lock_kind;                    /* 0 when kind 0 locks inline, else NO_KIND */
    int unlock_kind;                  /* 0 when kind 0 unlocks inline, else NO_KIND */
    int (*lock)(pthread_mutex_t *);   /* a free non-inline mutex: glibc's lock */
    int (*unlock)(pthread_mutex_t *); /* a non-inline unlock: glibc's, or charging */
} paths = {NO_KIND, NO_KIND, lock_stub, unlock_stub};

static shim_spin paths_lock;
static bool kind0, waiters; /* the facts paths derive from (paths_lock) */

static void paths_update(void) {
    int (*unlock)(pthread_mutex_t *) = waiters ? mutex_unlock_slow : shim_real.mutex_unlock;
    if (unlock) /* else the stub stays until glibc's is resolved */
        __atomic_store_n(&paths.unlock, unlock, __ATOMIC_RELAXED);
    __atomic_store_n(&paths.lock_kind, kind0 ? 0 : NO_KIND, __ATOMIC_RELAXED);
    __atomic_store_n(&paths.unlock_kind, kind0 && !waiters ? 0 : NO_KIND, __ATOMIC_RELAXED);
}

void shim_lock_paths_waiters(const int *n_waiting) {
    shim_spin_lock(&paths_lock);
    waiters = __atomic_load_n(n_waiting, __ATOMIC_RELAXED) > 0;
    paths_update();
    shim_spin_unlock(&paths_lock);
}

void shim_mutex_init(void) {
    bool ok = shim_kind0_probe();
    shim_spin_lock(&paths_lock);
    kind0 = ok;
    paths_update();
    shim_spin_unlock(&paths_lock);
}

bool shim_mutex_inline(void) {
    return __atomic_load_n(&paths.lock_kind, __ATOMIC_RELAXED) == 0;
}

static int lock_stub(pthread_mutex_t *m) {
    if (SHIM_UNLIKELY(!shim_real_ready()) || !shim_real.mutex_lock)
        return EAGAIN; /* only inside our own dlsym, which takes no mutex */
    __atomic_store_n(&paths.lock, shim_real.mutex_lock, __ATOMIC_RELAXED);
    return shim_real.mutex_lock(m);
}

static int unlock_stub(pthread_mutex_t *m) {
    if (SHIM_UNLIKELY(!shim_real_ready()) || !shim_real.mutex_unlock)
        return EAGAIN;
    /* Only if still the stub: a waiter may have switched it already. */
    int (*stub)(pthread_mutex_t *) = unlock_stub;
    __atomic_compare_exchange_n(&paths.unlock, &stub, shim_real.mutex_unlock, false,
                                __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return mutex_unlock_slow(m);
}

/* One real locking call, for contention.c to make while it times it. */
typedef struct lock_call {
    enum { MUTEX, MUTEX_TIMED, MUTEX_CLOCK, RD, WR, RD_TIMED, WR_TIMED, RD_CLOCK, WR_CLOCK } op;
    void *lock;
    clockid_t clk;
    const struct timespec *abstime;
} lock_call;

static int acquire(const void *arg) {
    const lock_call *k = arg;
    pthread_mutex_t *m = k->lock;
    pthread_rwlock_t *l = k->lock;
    switch (k->op) {
    case MUTEX:
        return shim_real.mutex_lock(m);
    case MUTEX_TIMED:
        return shim_real.mutex_timedlock(m, k->abstime);
    case MUTEX_CLOCK:
        return shim_real.mutex_clocklock(m, k->clk, k->abstime);
    case RD:
        return shim_real.rwlock_rdlock(l);
    case WR:
        return shim_real.rwlock_wrlock(l);
    case RD_TIMED:
        return shim_real.rwlock_timedrdlock(l, k->abstime);
    case WR_TIMED:
        return shim_real.rwlock_timedwrlock(l, k->abstime);
    case RD_CLOCK:
        return shim_real.rwlock_clockrdlock(l, k->clk, k->abstime);
    default:
        return shim_real.rwlock_clockwrlock(l, k->clk, k->abstime);
    }
}

/* The untimed attempt before a wait: glibc's trylock of the same kind. */
static int try_acquire(const lock_call *k) {
    switch (k->op) {
    case MUTEX:
    case MUTEX_TIMED:
    case MUTEX_CLOCK:
        return shim_real.mutex_trylock(k->lock);
    case RD:
    case RD_TIMED:
    case RD_CLOCK:
        return shim_real.rwlock_tryrdlock(k->lock);
    default:
        return shim_real.rwlock_trywrlock(k->lock);
    }
}

/* A lock call that may wait: untimed while not profiling or when the
 * trylock settles it; otherwise the timed, contended path. A timed-out
 * wait counts as a wait (it was one), except for plain pthread_mutex_lock,
 * which cannot time out. */
static int lock_or_wait(const lock_call *k) {
    if (!shim_lock_profiling())
        return acquire(k);
    int rc = try_acquire(k);
    if (SHIM_LIKELY(rc != EBUSY))
        return rc;
    return shim_contended(k->lock, acquire, k, k->op != MUTEX,
                          k->op >= RD ? SHIM_WAIT_RWLOCK : SHIM_WAIT_MUTEX);
}

/* A mutex whose lock word read taken (or before resolution). */
static __attribute__((noinline)) int mutex_lock_busy(pthread_mutex_t *m) {
    int (*try)(pthread_mutex_t *) = __atomic_load_n(&shim_real.mutex_trylock, __ATOMIC_RELAXED);
    int rc = try ? try(m) : -1;
    if (SHIM_LIKELY(rc != EBUSY && try != NULL))
        return rc;
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EAGAIN; /* only inside our own dlsym, which takes no mutex */
    if (rc != EBUSY)   /* the trylock was not made (unresolved) */
        rc = shim_real.mutex_trylock(m);
    if (rc != EBUSY)
        return rc;
    if (!shim_lock_profiling())
        return shim_real.mutex_lock(m);
    lock_call k = {MUTEX, m, 0, NULL};
    return shim_contended(m, acquire, &k, false, SHIM_WAIT_MUTEX);
}

SHIM_EXPORT int pthread_mutex_lock(pthread_mutex_t *m) {
    if (SHIM_LIKELY(__atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) ==
                    __atomic_load_n(&paths.lock_kind, __ATOMIC_RELAXED)))
        return shim_kind0_lock(m, mutex_lock_busy);
    if (SHIM_LIKELY(__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) == 0))
        return __atomic_load_n(&paths.lock, __ATOMIC_RELAXED)(m);
    return mutex_lock_busy(m);
}

SHIM_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EAGAIN;
    lock_call k = {MUTEX_TIMED, m, 0, abstime};
    return lock_or_wait(&k);
}

SHIM_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk,
                                        const struct timespec *abstime) {
    if (SHIM_UNLIKELY(!shim_real_ready()) || !shim_real.mutex_clocklock)
        return EINVAL;
    lock_call k = {MUTEX_CLOCK, m, clk, abstime};
    return lock_or_wait(&k);
}

/* An unlock that may have waiters to charge: the holder's stack goes to
 * the mutex profile after the real unlock. */
static int unlock_charged(void *lock, int (*real_unlock)(void *)) {
    int64_t delay = 0;
    int was = shim_enter();
    int n = shim_charge_unlock(lock, &delay);
    shim_leave(was);
    int rc = real_unlock(lock);
    if (n > 0 && rc == 0)
        shim_after_unlock(n, delay);
    return rc;
}

static int real_mutex_unlock(void *m) {
    return shim_real.mutex_unlock(m);
}

static int real_rwlock_unlock(void *l) {
    return shim_real.rwlock_unlock(l);
}

static int mutex_unlock_slow(pthread_mutex_t *m) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EAGAIN;
    if (!shim_maybe_waited(m) || !shim_lock_profiling())
        return shim_real.mutex_unlock(m);
    return unlock_charged(m, real_mutex_unlock);
}

SHIM_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m) {
    if (SHIM_LIKELY(__atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) ==
                    __atomic_load_n(&paths.unlock_kind, __ATOMIC_RELAXED)))
        return shim_kind0_unlock(m);
    return __atomic_load_n(&paths.unlock, __ATOMIC_RELAXED)(m);
}

SHIM_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EAGAIN;
    lock_call k = {RD, l, 0, NULL};
    return lock_or_wait(&k);
}

SHIM_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EAGAIN;
    lock_call k = {WR, l, 0, NULL};
    return lock_or_wait(&k);
}

SHIM_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *t) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EAGAIN;
    lock_call k = {RD_TIMED, l, 0, t};
    return lock_or_wait(&k);
}

SHIM_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *t) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EAGAIN;
    lock_call k = {WR_TIMED, l, 0, t};
    return lock_or_wait(&k);
}

SHIM_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t c,
                                           const struct timespec *t) {
    if (SHIM_UNLIKELY(!shim_real_ready()) || !shim_real.rwlock_clockrdlock)
        return EINVAL;
    lock_call k = {RD_CLOCK, l, c, t};
    return lock_or_wait(&k);
}

SHIM_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t c,
                                           const struct timespec *t) {
    if (SHIM_UNLIKELY(!shim_real_ready()) || !shim_real.rwlock_clockwrlock)
        return EINVAL;
    lock_call k = {WR_CLOCK, l, c, t};
    return lock_or_wait(&k);
}

SHIM_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EAGAIN;
    if (SHIM_LIKELY(!shim_maybe_waited(l)) || !shim_lock_profiling())
        return shim_real.rwlock_unlock(l);
    return unlock_charged(l, real_rwlock_unlock);
}

void shim_mutex_lock_all(bool lock) {
    if (lock) {
        shim_cond_lock_all(true);
        shim_contention_lock_all(true);
        shim_spin_lock(&paths_lock);
    } else {
        shim_spin_unlock(&paths_lock);
        shim_contention_lock_all(false);
        shim_cond_lock_all(false);
    }
}

void shim_mutex_after_fork(void) {
    shim_spin_unlock(&paths_lock);
    shim_contention_after_fork(); /* the child's waiters were other threads */
    shim_cond_after_fork();
}
