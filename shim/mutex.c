/*
 * mutex.c — the mutex and block profiles: pthread mutex and rwlock
 * interposers, timed only when they block.
 *
 * Default mutexes (kind 0, most of them) are locked and unlocked here with
 * glibc's own protocol, checked against glibc at start (see
 * pthread_mutex_lock), so their uncontended pair costs what it costs
 * without us; other kinds whose lock word reads free are tail-called to
 * glibc. A lock found taken is tried first (trylock), and only EBUSY
 * leads to timing (no guard, state or clock on the uncontended paths).
 * A contended acquisition is sampled 1 in
 * MAPPROF_MUTEX_RATE (values scaled back by the rate at record time, as
 * Go >= 1.20 does).
 *
 * block (Go's block profile): the waiter's stack, charged with the time
 * it waited. mutex (Go's mutex profile): the stack of the holder at the
 * unlock that ended a contended section, charged with the delay it caused.
 * For the latter a sampled waiter registers (lock address, start time) in
 * `waiting` before it blocks; an unlock finding waiters charges them
 * now - start each, restarts their clocks (the next holder is charged from
 * here), then unwinds after the real unlock. While no sampled waiter is
 * registered, unlocks jump straight to glibc (fast_unlock). Waiter time
 * after the last unlock it saw (wake-up latency) is charged to nobody.
 *
 * Return codes pass through unchanged for every mutex type: trylock's
 * result is final unless it is EBUSY (an ERRORCHECK owner re-locking gets
 * EBUSY and then EDEADLK from the real lock; no event is recorded; a
 * RECURSIVE owner's trylock succeeds; robust EOWNERDEAD means acquired).
 * Shim locks are spinlocks (never these interposers), and everything runs
 * with the guard set, so libunwind's own pthread locks pass through.
 * Condition waits: glibc releases and re-takes the mutex inside
 * pthread_cond_{wait,timedwait,clockwait} with internal functions our
 * lock/unlock hooks never see. The release is charged like an unlock (the
 * waiter's holder stack, before the real wait). The re-lock is timed from
 * the other side: a registered waiter (`conds`: cond -> its waiters on
 * which mutex) is marked "pending" by the pthread_cond_signal/broadcast
 * that wakes it, and from then on it is a waiter on the mutex in
 * `waiting`, so the holder's unlock (usually the signaller's) is charged
 * exactly as for a blocked pthread_mutex_lock. Its clock starts WAKE_NS
 * after the signal (a woken thread cannot try the mutex sooner), so the
 * usual signal-then-unlock hand-off is not charged. When the waiter
 * returns it leaves `waiting`; if an unlock was charged meanwhile (it
 * really had to wait for the mutex) its block sample is return time -
 * clock start. Pending marks are counted per cond, not per
 * thread (glibc does not say which waiter a signal wakes): whichever
 * waiter returns next consumes one, which keeps `waiting` balanced through
 * spurious wake-ups, timeouts and cancellation (a cleanup handler). Not
 * timed: a re-lock after a timeout or a spurious wake-up, and the wait for
 * the signal itself (that is the program waiting for work, not for a
 * lock). The condvar functions are forwarded to the GLIBC_2.3.2 ones.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim/shim.h"

typedef struct waitrec {
    int n;              /* sampled waiters blocked on this lock */
    int64_t start_sum;  /* sum of their (re)started clocks */
    int np;             /* condition waiters woken to re-take it (pending) */
    int64_t pstart_sum; /* sum of their (re)started clocks */
    uint64_t pcharges;  /* unlocks that charged pending ones */
} waitrec;

/* A thread woken by a futex needs microseconds to run: a woken condition
 * waiter is counted as trying the mutex from this long after the signal,
 * so signal-then-unlock hand-offs are not charged. */
#define WAKE_NS 2000

typedef struct condrec {
    pthread_mutex_t *m;  /* the mutex of the waiters (POSIX: one at a time) */
    int n_waiters;       /* threads inside our condition-wait wrappers */
    int n_pending;       /* woken by a sampled signal, not yet returned */
    int64_t pending_sum; /* sum of their clock starts (signal + WAKE_NS) */
    uint64_t pcharges;   /* m's waitrec pcharges at the latest wake-up */
} condrec;

/* The shim's own time (profile comments) is estimated from one event in
 * TIME_EVERY of each thread, counted TIME_EVERY times: two clock reads per
 * event on both sides of a contended lock were a third of their cost. The
 * first timed event is a thread's TIME_EVERY-th, so one cold first unwind
 * is not multiplied. */
#define TIME_EVERY 16
static __thread unsigned events __attribute__((tls_model("initial-exec")));

static inline bool time_this(void) {
    return ++events % TIME_EVERY == 0;
}

static inline int64_t clock_if(bool timed) {
    return timed ? shim_now_ns() : 0;
}

static inline void account_since(bool timed, int64_t t0) {
    if (timed)
        shim_account_ns((shim_now_ns() - t0) * TIME_EVERY);
}

typedef struct cont_bucket {
    int64_t count, delay_ns;
} cont_bucket;

static shim_spin wait_lock, rec_lock;
static shim_table waiting; /* lock address -> waitrec */
static int n_waiting;      /* atomic: waitrec entries */
/* Lock-free presence filter over `waiting`: waitrec entries per address
 * hash (under wait_lock, read without it). An unlock whose lock has no
 * entry skips the clock, the lock and the lookup: with sampled waiters on
 * one lock, every other lock's unlock took the charging path for nothing
 * (half of them on bench-overhead's mutex workload, inside the critical
 * section). A racing registration goes uncharged, as with n_waiting. */
#define WAITED_BITS 8
static uint32_t waited[1u << WAITED_BITS];
static shim_table buckets[2]; /* [0] mutex, [1] block: stack -> bucket */
static shim_table conds;      /* cond address -> condrec, under wait_lock */
static int n_conds;           /* atomic: condrec entries */
static uint64_t dropped;

static bool profiling(void) {
    return !shim_tls_v.guard && shim_recording() &&
           (shim_profile_on(SHIM_PROF_MUTEX) || shim_profile_on(SHIM_PROF_BLOCK));
}

static void record(int which, const shim_stack *st, int64_t count, int64_t delay) {
    shim_spin_lock(&rec_lock);
    cont_bucket *b = st ? shim_table_get(&buckets[which], (uint64_t)(uintptr_t)st) : NULL;
    if (!b && st && (b = shim_calloc(sizeof *b)) != NULL &&
        shim_table_put(&buckets[which], (uint64_t)(uintptr_t)st, b) < 0) {
        shim_free(b);
        b = NULL;
    }
    if (b) {
        b->count += count;
        b->delay_ns += delay;
    } else {
        dropped++;
    }
    shim_spin_unlock(&rec_lock);
}

/*
 * The uncontended paths' view of the real lock and unlock: never NULL, a
 * resolving stub until the first call. pthread_mutex_lock tests the lock
 * word before its tail call; pthread_mutex_unlock tests nothing: while
 * some sampled waiter is registered (n_waiting > 0) fast_unlock is
 * mutex_unlock_slow, which charges the holder, and otherwise the real
 * unlock. Switched under wait_lock with n_waiting; an unlock that read the
 * pointer just before a waiter registered goes uncharged, as it would
 * have after reading n_waiting.
 */
static int lock_stub(pthread_mutex_t *m);
static int unlock_stub(pthread_mutex_t *m);
static int mutex_unlock_slow(pthread_mutex_t *m);
static int (*fast_lock)(pthread_mutex_t *) = lock_stub;
static int (*fast_unlock)(pthread_mutex_t *) = unlock_stub;

/* Default mutexes handled here (see pthread_mutex_lock): 0 on, NO_KIND
 * off. Not -1: glibc writes that kind into a destroyed mutex, whose lock
 * and unlock must keep failing with EINVAL in glibc. */
#define NO_KIND INT_MIN
static int inline_kind = NO_KIND, inline_unlock_kind = NO_KIND;

/* After n_waiting changed (wait_lock held, or a fork child alone). */
static void unlock_path_update(void) {
    int (*f)(pthread_mutex_t *) = n_waiting ? mutex_unlock_slow : shim_real.mutex_unlock;
    if (f)
        __atomic_store_n(&fast_unlock, f, __ATOMIC_RELAXED);
    __atomic_store_n(&inline_unlock_kind,
                     n_waiting ? NO_KIND : __atomic_load_n(&inline_kind, __ATOMIC_RELAXED),
                     __ATOMIC_RELAXED);
}

/* The record of `key` in t, created zeroed (and *fresh set) when absent;
 * NULL when memory ran out. wait_lock held. */
static void *rec_get_or_add(shim_table *t, const void *key, size_t size, bool *fresh) {
    void *r = shim_table_get(t, (uint64_t)(uintptr_t)key);
    *fresh = false;
    if (!r && (r = shim_calloc(size)) != NULL) {
        if (shim_table_put(t, (uint64_t)(uintptr_t)key, r) < 0) {
            shim_free(r);
            r = NULL;
        } else {
            *fresh = true;
        }
    }
    return r;
}

static uint32_t *waited_slot(const void *lock) {
    return &waited[((uint64_t)(uintptr_t)lock >> 3) * 0x9e3779b97f4a7c15ull >> (64 - WAITED_BITS)];
}

static bool maybe_waited(const void *lock) {
    return __atomic_load_n(waited_slot(lock), __ATOMIC_RELAXED) != 0;
}

/* `k` waiters on `lock` from t0 on (pending: woken condition waiters);
 * wait_lock held. Returns the lock's record, or NULL when memory ran out
 * (they are then not charged). */
static waitrec *wait_begin_locked(const void *lock, int64_t t0, int k, bool pending) {
    bool fresh;
    waitrec *w = rec_get_or_add(&waiting, lock, sizeof *w, &fresh);
    if (fresh) {
        __atomic_add_fetch(waited_slot(lock), 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&n_waiting, 1, __ATOMIC_RELAXED);
        unlock_path_update();
    }
    if (w && pending) {
        w->np += k;
        w->pstart_sum += (int64_t)k * t0;
    } else if (w) {
        w->n += k;
        w->start_sum += (int64_t)k * t0;
    }
    return w;
}

static void wait_begin(const void *lock, int64_t t0) {
    shim_spin_lock(&wait_lock);
    wait_begin_locked(lock, t0, 1, false);
    shim_spin_unlock(&wait_lock);
}

/* A waiter acquired: leave the table. Its clock may have been restarted
 * by unlocks, so remove its share as the average restart. wait_lock held. */
static void wait_end_locked(const void *lock, bool pending) {
    waitrec *w = shim_table_get(&waiting, (uint64_t)(uintptr_t)lock);
    if (w && pending && w->np > 0) {
        w->pstart_sum -= w->pstart_sum / w->np;
        w->np--;
    } else if (w && !pending && w->n > 0) {
        w->start_sum -= w->start_sum / w->n;
        w->n--;
    }
    if (w) {
        if (w->n == 0 && w->np == 0) {
            shim_table_del(&waiting, (uint64_t)(uintptr_t)lock);
            __atomic_sub_fetch(waited_slot(lock), 1, __ATOMIC_RELAXED);
            __atomic_sub_fetch(&n_waiting, 1, __ATOMIC_RELAXED);
            unlock_path_update();
            shim_free(w);
        }
    }
}

static void wait_end(const void *lock) {
    shim_spin_lock(&wait_lock);
    wait_end_locked(lock, false);
    shim_spin_unlock(&wait_lock);
}

/* Before a real unlock: the delay this holder caused to sampled waiters,
 * and the number of them (0: nothing to charge). */
static int charge_unlock(const void *lock, int64_t *delay) {
    int n = 0;
    int64_t now = shim_now_ns();
    shim_spin_lock(&wait_lock);
    waitrec *w = shim_table_get(&waiting, (uint64_t)(uintptr_t)lock);
    if (w && w->n > 0) {
        n = w->n;
        *delay = (int64_t)n * now - w->start_sum;
        w->start_sum = (int64_t)n * now;
    }
    /* Pending condition waiters whose clocks have started (on average). */
    if (w && w->np > 0 && (int64_t)w->np * now > w->pstart_sum) {
        n += w->np;
        *delay += (int64_t)w->np * now - w->pstart_sum;
        w->pstart_sum = (int64_t)w->np * now;
        w->pcharges++;
    }
    shim_spin_unlock(&wait_lock);
    return n;
}

/* The contended path shared by every lock kind: `acquire` is the real
 * blocking call. Returns its result unchanged. The waiter's stack is
 * unwound before it waits (it is the same stack after): done after the
 * acquisition, the unwind lengthened the program's critical section by
 * ~0.5 us per contended acquisition and multiplied the contention.
 * Inside the critical section only two short table updates remain. */
#define CONTENDED(lock, acquire, ok)                                                               \
    do {                                                                                           \
        if (!shim_one_in(shim_cfg.mutex_rate))                                                     \
            return (acquire);                                                                      \
        int saved_ = errno;                                                                        \
        int was_ = shim_enter();                                                                   \
        bool timed_ = time_this();                                                                 \
        int64_t ts_ = clock_if(timed_);                                                            \
        const shim_stack *st_ = shim_profile_on(SHIM_PROF_BLOCK) ? shim_stack_here() : NULL;       \
        int64_t t0_ = shim_now_ns();                                                               \
        if (shim_profile_on(SHIM_PROF_MUTEX))                                                      \
            wait_begin(lock, t0_);                                                                 \
        errno = saved_;                                                                            \
        int rc_ = (acquire);                                                                       \
        saved_ = errno;                                                                            \
        int64_t t1_ = shim_now_ns();                                                               \
        if (shim_profile_on(SHIM_PROF_MUTEX))                                                      \
            wait_end(lock);                                                                        \
        if ((ok) && shim_profile_on(SHIM_PROF_BLOCK)) {                                            \
            int64_t r_ = (int64_t)shim_cfg.mutex_rate;                                             \
            record(1, st_, r_, r_ *(t1_ - t0_));                                                   \
        }                                                                                          \
        if (timed_) /* the unwind; table updates are not timed */                                  \
            shim_account_ns((t0_ - ts_) * TIME_EVERY);                                             \
        shim_leave(was_);                                                                          \
        errno = saved_;                                                                            \
        return rc_;                                                                                \
    } while (0)

/* Acquired, or timed out waiting (a contended wait as well). */
#define WAITED(rc) ((rc) == 0 || (rc) == EOWNERDEAD || (rc) == ETIMEDOUT)

static void after_unlock(int n, int64_t delay) {
    int saved = errno;
    int was = shim_enter();
    bool timed = time_this();
    int64_t t0 = clock_if(timed);
    int64_t r = (int64_t)shim_cfg.mutex_rate;
    if (shim_profile_on(SHIM_PROF_MUTEX)) /* else only condition waits asked */
        record(0, shim_stack_here(), r * n, r * delay);
    account_since(timed, t0);
    shim_leave(was);
    errno = saved;
}

static __attribute__((noinline)) int mutex_lock_slow(pthread_mutex_t *m, int rc) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EAGAIN; /* only inside our own dlsym, which takes no mutex */
    if (rc != EBUSY)   /* the trylock was not made (unresolved) */
        rc = shim_real.mutex_trylock(m);
    if (rc != EBUSY)
        return rc;
    if (!profiling())
        return shim_real.mutex_lock(m);
    CONTENDED(m, shim_real.mutex_lock(m), rc_ == 0 || rc_ == EOWNERDEAD);
}

static int lock_stub(pthread_mutex_t *m) {
    if (SHIM_UNLIKELY(!shim_real_ready()) || !shim_real.mutex_lock)
        return EAGAIN; /* only inside our own dlsym, which takes no mutex */
    __atomic_store_n(&fast_lock, shim_real.mutex_lock, __ATOMIC_RELAXED);
    return shim_real.mutex_lock(m);
}

static int unlock_stub(pthread_mutex_t *m) {
    if (SHIM_UNLIKELY(!shim_real_ready()) || !shim_real.mutex_unlock)
        return EAGAIN;
    /* Only if still the stub: a waiter may have switched it already. */
    int (*stub)(pthread_mutex_t *) = unlock_stub;
    __atomic_compare_exchange_n(&fast_unlock, &stub, shim_real.mutex_unlock, false,
                                __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return mutex_unlock_slow(m);
}

static __attribute__((noinline)) int mutex_lock_busy(pthread_mutex_t *m) {
    int (*try)(pthread_mutex_t *) = __atomic_load_n(&shim_real.mutex_trylock, __ATOMIC_RELAXED);
    int rc = try ? try(m) : -1;
    if (SHIM_LIKELY(rc != EBUSY && try != NULL))
        return rc;
    return mutex_lock_slow(m, rc);
}

/*
 * Default mutexes (kind 0: PTHREAD_MUTEX_INITIALIZER, or a NULL or default
 * attribute; most mutexes of most programs) are locked and unlocked here
 * with glibc's own protocol, so the uncontended pair costs what it costs
 * without us: forwarding alone (bench-shim's bare.so) was +13-28% on it.
 * The protocol, as glibc 2.36 runs it for kind 0 (its lowlevellock): lock
 * word 0 free, 1 locked, 2 locked with sleepers; the locker sets the owner
 * to its kernel thread id and counts itself in nusers, the unlocker clears
 * the owner, uncounts itself, swaps 0 into the word and wakes one sleeper
 * (private futex) if it read 2; while the process has one thread
 * (__libc_single_threaded) plain loads and stores stand for the atomics.
 * glibc's condition waits, trylock and contended lock work on the same
 * fields, so the two mix freely. It is turned on by shim_mutex_init only
 * when the lock and unlock the shim would forward to are glibc's and a
 * probe mutex locked and unlocked by them shows exactly these fields
 * (forced lock elision changes the kind, and turns it off). Before that,
 * and for every other kind, lock and unlock forward (below).
 * inline_kind is 0 when on and NO_KIND when off; inline_unlock_kind
 * is inline_kind while no sampled waiter is registered, so the charging
 * unlock (fast_unlock) takes over without one more test.
 * The owner id is cached per thread (shim_tls.tid, reset in a fork child
 * by an atfork handler registered before any other of the shim's);
 * for kind 0 glibc only asserts that it is 0 once acquired.
 */
static inline bool kind_is(const pthread_mutex_t *m, const int *kind) {
    return __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) ==
           __atomic_load_n(kind, __ATOMIC_RELAXED);
}

static int self_tid(void) {
    if (SHIM_UNLIKELY(shim_tls_v.tid == 0))
        shim_tls_v.tid = (int)syscall(SYS_gettid);
    return shim_tls_v.tid;
}

static __attribute__((noinline)) int wake_one(pthread_mutex_t *m) {
    int saved = errno;
    syscall(SYS_futex, &m->__data.__lock, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    errno = saved;
    return 0;
}

/* Acquired kind 0, by this thread's first lock or with an owner already
 * set (a corrupted mutex: glibc asserts, so it is handed back and glibc's
 * lock does, with its own message). A tail call, so the hot path keeps no
 * stack frame. */
static __attribute__((noinline)) int acquired_first(pthread_mutex_t *m) {
    if (m->__data.__owner != 0) {
        if (__atomic_exchange_n(&m->__data.__lock, 0, __ATOMIC_RELEASE) > 1)
            wake_one(m);
        return shim_real.mutex_lock(m);
    }
    m->__data.__owner = self_tid();
    m->__data.__nusers++;
    return 0;
}

static void tid_after_fork(void) {
    shim_tls_v.tid = 0; /* the child's one thread has an id of its own */
}

bool shim_mutex_inline(void) {
    return __atomic_load_n(&inline_kind, __ATOMIC_RELAXED) == 0;
}

void shim_mutex_init(void) {
    pthread_mutex_t t = PTHREAD_MUTEX_INITIALIZER;
    int tid = self_tid();
    bool ok = shim_real_in_libc((const void *)shim_real.mutex_lock) &&
              shim_real_in_libc((const void *)shim_real.mutex_unlock) &&
              shim_real.mutex_lock(&t) == 0 && t.__data.__lock == 1 && t.__data.__owner == tid &&
              t.__data.__nusers == 1 && t.__data.__count == 0 && t.__data.__kind == 0 &&
              shim_real.mutex_unlock(&t) == 0 && t.__data.__lock == 0 && t.__data.__owner == 0 &&
              t.__data.__nusers == 0 && t.__data.__kind == 0;
    /* First of the shim's fork handlers: a child's handlers may lock. */
    if (ok && pthread_atfork(NULL, NULL, tid_after_fork) != 0)
        ok = false;
    shim_spin_lock(&wait_lock);
    __atomic_store_n(&inline_kind, ok ? 0 : NO_KIND, __ATOMIC_RELAXED);
    unlock_path_update();
    shim_spin_unlock(&wait_lock);
}

/*
 * Any other kind: a mutex whose lock word reads 0 is free (every glibc
 * mutex kind keeps 0 for "unlocked"; priority-protected ones never read 0
 * and go the slow way), and the real lock is tail-called, so an
 * uncontended lock costs one load more than without us. The lock can be
 * taken by another thread between that load and the real lock's
 * compare-and-swap (or, for kind 0, the one here fail), a window of a few
 * instructions; such a wait goes untimed (tests/shim/mutex_test.c checks
 * the delay stays within 10% under heavy contention). Otherwise: trylock,
 * and only EBUSY leads to timing.
 */
SHIM_EXPORT int pthread_mutex_lock(pthread_mutex_t *m) {
    if (SHIM_LIKELY(kind_is(m, &inline_kind))) {
        int *word = &m->__data.__lock, free_ = 0;
        bool taken;
        if (__libc_single_threaded) {
            taken = __atomic_load_n(word, __ATOMIC_RELAXED) == 0;
            if (taken)
                __atomic_store_n(word, 1, __ATOMIC_RELAXED);
        } else {
            taken = __atomic_compare_exchange_n(word, &free_, 1, false, __ATOMIC_ACQUIRE,
                                                __ATOMIC_RELAXED);
        }
        if (SHIM_UNLIKELY(!taken))
            return mutex_lock_busy(m);
        int tid = shim_tls_v.tid;
        if (SHIM_UNLIKELY(tid == 0 || m->__data.__owner != 0))
            return acquired_first(m);
        m->__data.__owner = tid;
        m->__data.__nusers++;
        return 0;
    }
    if (SHIM_LIKELY(__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) == 0))
        return __atomic_load_n(&fast_lock, __ATOMIC_RELAXED)(m);
    return mutex_lock_busy(m);
}

SHIM_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EAGAIN;
    if (!profiling())
        return shim_real.mutex_timedlock(m, abstime);
    int rc = shim_real.mutex_trylock(m);
    if (SHIM_LIKELY(rc != EBUSY))
        return rc;
    CONTENDED(m, shim_real.mutex_timedlock(m, abstime), WAITED(rc_));
}

SHIM_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk,
                                        const struct timespec *abstime) {
    if (SHIM_UNLIKELY(!shim_real_ready()) || !shim_real.mutex_clocklock)
        return EINVAL;
    if (!profiling())
        return shim_real.mutex_clocklock(m, clk, abstime);
    int rc = shim_real.mutex_trylock(m);
    if (SHIM_LIKELY(rc != EBUSY))
        return rc;
    CONTENDED(m, shim_real.mutex_clocklock(m, clk, abstime), WAITED(rc_));
}

static int mutex_unlock_slow(pthread_mutex_t *m) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EAGAIN;
    if (!maybe_waited(m) || !profiling())
        return shim_real.mutex_unlock(m);
    int64_t delay = 0;
    int was = shim_enter();
    int n = charge_unlock(m, &delay);
    shim_leave(was);
    int rc = shim_real.mutex_unlock(m);
    if (n > 0 && rc == 0)
        after_unlock(n, delay);
    return rc;
}

/* Kind 0 here (see pthread_mutex_lock) unless a sampled waiter is
 * registered; otherwise one indirect jump: the real unlock, or the
 * charging path while sampled waiters are registered (see fast_unlock). */
SHIM_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m) {
    if (SHIM_LIKELY(kind_is(m, &inline_unlock_kind))) {
        m->__data.__owner = 0;
        m->__data.__nusers--;
        if (__libc_single_threaded)
            __atomic_store_n(&m->__data.__lock, 0, __ATOMIC_RELEASE);
        else if (SHIM_UNLIKELY(__atomic_exchange_n(&m->__data.__lock, 0, __ATOMIC_RELEASE) > 1))
            return wake_one(m);
        return 0;
    }
    return __atomic_load_n(&fast_unlock, __ATOMIC_RELAXED)(m);
}

#define RW_LOCK(real_try, real_lock, ...)                                                          \
    if (SHIM_UNLIKELY(!shim_real_ready()))                                                         \
        return EAGAIN;                                                                             \
    if (!profiling())                                                                              \
        return real_lock(__VA_ARGS__);                                                             \
    int rc = real_try(l);                                                                          \
    if (SHIM_LIKELY(rc != EBUSY))                                                                  \
        return rc;                                                                                 \
    CONTENDED(l, real_lock(__VA_ARGS__), WAITED(rc_))

SHIM_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l) {
    RW_LOCK(shim_real.rwlock_tryrdlock, shim_real.rwlock_rdlock, l);
}

SHIM_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l) {
    RW_LOCK(shim_real.rwlock_trywrlock, shim_real.rwlock_wrlock, l);
}

SHIM_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *t) {
    RW_LOCK(shim_real.rwlock_tryrdlock, shim_real.rwlock_timedrdlock, l, t);
}

SHIM_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *t) {
    RW_LOCK(shim_real.rwlock_trywrlock, shim_real.rwlock_timedwrlock, l, t);
}

SHIM_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t c,
                                           const struct timespec *t) {
    if (!shim_real_ready() || !shim_real.rwlock_clockrdlock)
        return EINVAL;
    RW_LOCK(shim_real.rwlock_tryrdlock, shim_real.rwlock_clockrdlock, l, c, t);
}

SHIM_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t c,
                                           const struct timespec *t) {
    if (!shim_real_ready() || !shim_real.rwlock_clockwrlock)
        return EINVAL;
    RW_LOCK(shim_real.rwlock_trywrlock, shim_real.rwlock_clockwrlock, l, c, t);
}

SHIM_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EAGAIN;
    if (SHIM_LIKELY(!maybe_waited(l)) || !profiling())
        return shim_real.rwlock_unlock(l);
    int64_t delay = 0;
    int was = shim_enter();
    int n = charge_unlock(l, &delay);
    shim_leave(was);
    int rc = shim_real.rwlock_unlock(l);
    if (n > 0 && rc == 0)
        after_unlock(n, delay);
    return rc;
}

/* The mutex is about to be released inside a condition wait. */
static void release_in_wait(pthread_mutex_t *m) {
    if (SHIM_LIKELY(!maybe_waited(m)))
        return;
    int64_t delay = 0;
    int was = shim_enter();
    int n = charge_unlock(m, &delay);
    shim_leave(was);
    if (n > 0)
        after_unlock(n, delay);
}

/* A thread enters a condition wait on (c, m); wait_lock taken here.
 * False when it could not be registered (no memory): it must then not
 * leave either, or it would take another waiter's place. */
static bool cond_begin(pthread_cond_t *c, pthread_mutex_t *m) {
    shim_spin_lock(&wait_lock);
    bool fresh;
    condrec *r = rec_get_or_add(&conds, c, sizeof *r, &fresh);
    if (fresh) {
        r->m = m;
        __atomic_add_fetch(&n_conds, 1, __ATOMIC_RELAXED);
    }
    if (r)
        r->n_waiters++;
    shim_spin_unlock(&wait_lock);
    return r != NULL;
}

/* The thread left its condition wait at t1 (returned or cancelled): it
 * consumes one pending mark, if any. Returns the re-lock time to record,
 * or -1 (no sampled wake-up, or nobody held the mutex meanwhile). */
static int64_t cond_end(pthread_cond_t *c, int64_t t1) {
    int64_t relock = -1;
    shim_spin_lock(&wait_lock);
    condrec *r = shim_table_get(&conds, (uint64_t)(uintptr_t)c);
    if (r && r->n_pending > 0) {
        int64_t start = r->pending_sum / r->n_pending;
        r->pending_sum -= start;
        r->n_pending--;
        waitrec *w = shim_table_get(&waiting, (uint64_t)(uintptr_t)r->m);
        if (w && w->pcharges != r->pcharges)
            relock = t1 > start ? t1 - start : 0;
        wait_end_locked(r->m, true);
    }
    if (r && --r->n_waiters == 0) {
        shim_table_del(&conds, (uint64_t)(uintptr_t)c);
        __atomic_sub_fetch(&n_conds, 1, __ATOMIC_RELAXED);
        shim_free(r);
    }
    shim_spin_unlock(&wait_lock);
    return relock;
}

static void cond_cancelled(void *c) {
    int was = shim_enter();
    cond_end(c, 0);
    shim_leave(was);
}

typedef struct cond_call {
    int kind; /* 0 wait, 1 timedwait, 2 clockwait */
    clockid_t clk;
    const struct timespec *abstime;
} cond_call;

static int cond_real(pthread_cond_t *c, pthread_mutex_t *m, const cond_call *k) {
    return k->kind == 0   ? shim_real.cond_wait(c, m)
           : k->kind == 1 ? shim_real.cond_timedwait(c, m, k->abstime)
                          : shim_real.cond_clockwait(c, m, k->clk, k->abstime);
}

static int cond_wait_common(pthread_cond_t *c, pthread_mutex_t *m, const cond_call *k) {
    if (!profiling())
        return cond_real(c, m, k);
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
     * handler keeps `waiting` balanced. */
    pthread_cleanup_push(cond_cancelled, c);
    rc = cond_real(c, m, k);
    pthread_cleanup_pop(0);
    saved = errno;
    was = shim_enter();
    int64_t relock = cond_end(c, shim_now_ns());
    if (relock >= 0 && shim_profile_on(SHIM_PROF_BLOCK)) {
        bool timed = time_this();
        int64_t t0 = clock_if(timed), r = (int64_t)shim_cfg.mutex_rate;
        record(1, shim_stack_here(), r, r * relock);
        account_since(timed, t0);
    }
    shim_leave(was);
    errno = saved;
    return rc;
}

SHIM_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EAGAIN;
    cond_call k = {0, 0, NULL};
    return cond_wait_common(c, m, &k);
}

SHIM_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                                       const struct timespec *abstime) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EAGAIN;
    cond_call k = {1, 0, abstime};
    return cond_wait_common(c, m, &k);
}

SHIM_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk,
                                       const struct timespec *abstime) {
    if (SHIM_UNLIKELY(!shim_real_ready()) || !shim_real.cond_clockwait)
        return EINVAL;
    cond_call k = {2, clk, abstime};
    return cond_wait_common(c, m, &k);
}

/* A signal (all = 0) or broadcast (all = 1) is about to wake registered
 * waiters of c: each one still unmarked is, with probability 1 in the
 * mutex rate, marked pending and counted as waiting for the mutex from now. */
static void cond_wake(pthread_cond_t *c, int all) {
    int saved = errno;
    int was = shim_enter();
    int64_t now = shim_now_ns(), start = now + WAKE_NS;
    shim_spin_lock(&wait_lock);
    condrec *r = shim_table_get(&conds, (uint64_t)(uintptr_t)c);
    int idle = r ? r->n_waiters - r->n_pending : 0, k = 0;
    for (int i = 0; i < (all ? idle : idle > 0); i++)
        k += shim_one_in(shim_cfg.mutex_rate);
    waitrec *w = k > 0 ? wait_begin_locked(r->m, start, k, true) : NULL;
    if (w) {
        r->n_pending += k;
        r->pending_sum += (int64_t)k * start;
        r->pcharges = w->pcharges;
    }
    shim_spin_unlock(&wait_lock);
    shim_account_ns(shim_now_ns() - now);
    shim_leave(was);
    errno = saved;
}

/* One load of n_conds: no registered condition waiter anywhere. */
SHIM_EXPORT int pthread_cond_signal(pthread_cond_t *c) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EINVAL;
    if (__atomic_load_n(&n_conds, __ATOMIC_RELAXED) != 0 && profiling())
        cond_wake(c, 0);
    return shim_real.cond_signal(c);
}

SHIM_EXPORT int pthread_cond_broadcast(pthread_cond_t *c) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return EINVAL;
    if (__atomic_load_n(&n_conds, __ATOMIC_RELAXED) != 0 && profiling())
        cond_wake(c, 1);
    return shim_real.cond_broadcast(c);
}

struct snap_ctx {
    shim_snapshot *s;
};

static void snap_bucket(uint64_t key, void *val, void *ctx) {
    cont_bucket *b = val;
    shim_sample *sm = shim_snapshot_add(((struct snap_ctx *)ctx)->s, 0);
    if (!sm)
        return;
    sm->stack = (const shim_stack *)(uintptr_t)key;
    sm->values[0] = b->count;
    sm->values[1] = b->delay_ns;
}

void shim_contention_snapshot(enum shim_profile_kind k, shim_snapshot *s) {
    struct snap_ctx c = {s};
    shim_spin_lock(&rec_lock);
    shim_table_each(&buckets[k == SHIM_PROF_BLOCK ? 1 : 0], snap_bucket, &c);
    s->dropped += dropped;
    shim_spin_unlock(&rec_lock);
}

void shim_mutex_lock_all(bool lock) {
    if (lock) {
        shim_spin_lock(&wait_lock);
        shim_spin_lock(&rec_lock);
    } else {
        shim_spin_unlock(&rec_lock);
        shim_spin_unlock(&wait_lock);
    }
}

void shim_mutex_after_fork(void) {
    /* Waiters were other threads, which do not exist in the child. */
    shim_table_clear(&waiting);
    n_waiting = 0;
    memset(waited, 0, sizeof waited);
    unlock_path_update();
    shim_table_clear(&conds);
    n_conds = 0;
    shim_table_clear(&buckets[0]);
    shim_table_clear(&buckets[1]);
    dropped = 0;
    shim_spin_unlock(&rec_lock);
    shim_spin_unlock(&wait_lock);
}
