/*
 * lock.h — what the lock-profile files share: mutex.c (the mutex and
 * rwlock interposers and the paths they take), mutex_kind0.c (glibc's
 * default-mutex protocol), cond.c (condition variables) and contention.c
 * (who waits on which lock, and the mutex and block records).
 */
#ifndef SHIM_LOCK_H
#define SHIM_LOCK_H

#include "shim/shim.h"

/* Is the calling thread's lock event one the profiles want (not the
 * shim's own, recording, mutex or block profile or the timeline on). */
static inline bool shim_lock_profiling(void) {
    return !shim_tls_v.guard && shim_recording() &&
           (shim_profile_on(SHIM_PROF_MUTEX) || shim_profile_on(SHIM_PROF_BLOCK) ||
            __atomic_load_n(&shim_threads_marks, __ATOMIC_RELAXED) || shim_cfg.trace);
}

/* This thread is about to wait for `on` (the threads profile shows it,
 * with how long): the kind is written last, behind a signal fence, so a
 * handler on this thread that sees it sees the rest. */
static inline void shim_wait_mark(const void *on, enum shim_wait_kind kind) {
    shim_tls_v.wait_on = on;
    shim_tls_v.wait_since = shim_now_ns();
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    shim_tls_v.wait_kind = kind;
}

static inline void shim_wait_unmark(void) {
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    shim_tls_v.wait_kind = SHIM_WAIT_NONE;
}

/* ------------------------------------------------------- contention.c */

/*
 * Lock-free presence filter over the waiting table: how many locks with
 * registered waiters hash to each slot (changed under the table's lock,
 * read without it). An unlock whose slot is 0 has nothing to charge and
 * skips the clock, the lock and the lookup; a waiter registering at that
 * moment goes uncharged once.
 */
#define SHIM_WAIT_FILTER_BITS 8
extern uint32_t shim_wait_filter[1u << SHIM_WAIT_FILTER_BITS];
static inline uint32_t *shim_wait_filter_slot(const void *lock) {
    return &shim_wait_filter[((uint64_t)(uintptr_t)lock >> 3) * 0x9e3779b97f4a7c15ull >>
                             (64 - SHIM_WAIT_FILTER_BITS)];
}
static inline bool shim_maybe_waited(const void *lock) {
    return __atomic_load_n(shim_wait_filter_slot(lock), __ATOMIC_RELAXED) != 0;
}

/* k sampled waiters on `lock` from t0 on; pending: condition waiters
 * woken to re-take it (*pcharges then receives the lock's count of
 * charging unlocks). False when memory ran out (they go uncharged). */
bool shim_wait_begin(const void *lock, int64_t t0, int k, bool pending, uint64_t *pcharges);
/* One of them acquired (or gave up). */
void shim_wait_end(const void *lock);
/* A pending condition waiter returned: leaves the table; true when an
 * unlock charged pending waiters since its wake-up (count pcharges). */
bool shim_wait_end_pending(const void *lock, uint64_t pcharges);
/* Before a real unlock: the delay this holder caused to the sampled
 * waiters, and how many they are (0: nothing to charge). */
int shim_charge_unlock(const void *lock, int64_t *delay);
/* After a real unlock that charged n waiters: the holder's stack, in the
 * mutex profile. */
void shim_after_unlock(int n, int64_t delay);
/* One block event of `delay` ns at the caller's stack (a condition
 * waiter's re-lock). */
void shim_block_event(int64_t delay);

/* A contended acquisition: `acquire(call)` is the real blocking call; its
 * result is returned unchanged. Sampled 1 in MAPPROF_MUTEX_RATE. A wait
 * that ends in ETIMEDOUT counts as a wait when timeout_waited. */
int shim_contended(const void *lock, int (*acquire)(const void *call), const void *call,
                   bool timeout_waited, enum shim_wait_kind kind);

void shim_contention_lock_all(bool lock);
void shim_contention_after_fork(void);

/* ------------------------------------------------------------- cond.c */

void shim_cond_lock_all(bool lock);
void shim_cond_after_fork(void);

/* ------------------------------------------------------------ mutex.c */

/* The count of locks with registered waiters became non-zero or zero:
 * the unlock path is re-derived from *n_waiting (atomic), read under
 * mutex.c's own lock, so racing changes from two shards of contention.c
 * leave the path that the last count asks for. */
void shim_lock_paths_waiters(const int *n_waiting);

#endif
