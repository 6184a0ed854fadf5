/*
 * contention.c — who is waiting on which lock, and the mutex and block
 * profiles' records.
 *
 * block (Go's block profile): the waiter's stack, charged with the time
 * it waited. mutex (Go's mutex profile): the stack of the holder at the
 * unlock that ended a contended section, charged with the delay it caused.
 * For the latter a sampled waiter registers (lock address, start time) in
 * `waiting` before it blocks; an unlock finding waiters charges them
 * now - start each, restarts their clocks (the next holder is charged from
 * here), then unwinds after the real unlock. Waiter time after the last
 * unlock it saw (wake-up latency) is charged to nobody. Condition waiters
 * woken by a sampled signal wait for the mutex as "pending" waiters (cond.c
 * says why); they are charged the same way once their clocks have started.
 *
 * A contended acquisition is sampled 1 in MAPPROF_MUTEX_RATE; values are
 * scaled back by the rate at record time, as Go >= 1.20 does.
 *
 * Invariants: a lock is in `waiting` exactly while it has a registered
 * waiter, and shim_wait_filter counts those entries per slot; the unlock
 * path switches (shim_lock_paths_waiters) when the table becomes empty or
 * non-empty. wait_lock guards `waiting` and the filter's writes; rec_lock
 * the records. Both are spinlocks taken with the guard set, and never
 * while unwinding. Non-goals: exact attribution when more waiters than
 * the rate samples are queued (each sampled one stands for `rate`).
 */
#include <errno.h>
#include <string.h>

#include "shim/lock.h"

typedef struct waitrec {
    int n;              /* sampled waiters blocked on this lock */
    int64_t start_sum;  /* sum of their (re)started clocks */
    int np;             /* condition waiters woken to re-take it (pending) */
    int64_t pstart_sum; /* sum of their (re)started clocks */
    uint64_t pcharges;  /* unlocks that charged pending ones */
} waitrec;

typedef struct cont_bucket {
    int64_t count, delay_ns;
} cont_bucket;

uint32_t shim_wait_filter[1u << SHIM_WAIT_FILTER_BITS];

static shim_spin wait_lock, rec_lock;
static shim_table waiting;    /* lock address -> waitrec */
static shim_table buckets[2]; /* [0] mutex, [1] block: stack -> bucket */
static uint64_t dropped;

/* The shim's own time (profile comments) is estimated from one event in
 * TIME_EVERY of each thread, counted TIME_EVERY times: two clock reads per
 * event on both sides of a contended lock were a third of their cost. The
 * first timed event is a thread's TIME_EVERY-th, so one cold first unwind
 * is not multiplied. */
#define TIME_EVERY 16
static __thread unsigned events __attribute__((tls_model("initial-exec")));

static bool time_this(void) {
    return ++events % TIME_EVERY == 0;
}

static void record(enum shim_profile_kind which, const shim_stack *st, int64_t count,
                   int64_t delay) {
    shim_table *t = &buckets[which == SHIM_PROF_BLOCK];
    shim_spin_lock(&rec_lock);
    cont_bucket *b = st ? shim_table_get(t, (uint64_t)(uintptr_t)st) : NULL;
    if (!b && st && (b = shim_calloc(sizeof *b)) != NULL &&
        shim_table_put(t, (uint64_t)(uintptr_t)st, b) < 0) {
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

/* n events of `delay` ns in total at the caller's stack, scaled by the
 * rate; the unwind is timed for the shim's own time (table updates are
 * not). Guard set by the caller. */
static void record_here(enum shim_profile_kind which, int64_t n, int64_t delay) {
    bool timed = time_this();
    int64_t t0 = timed ? shim_now_ns() : 0, r = (int64_t)shim_cfg.mutex_rate;
    record(which, shim_stack_here(), r * n, r * delay);
    if (timed)
        shim_account_ns((shim_now_ns() - t0) * TIME_EVERY);
}

bool shim_wait_begin(const void *lock, int64_t t0, int k, bool pending, uint64_t *pcharges) {
    shim_spin_lock(&wait_lock);
    waitrec *w = shim_table_get(&waiting, (uint64_t)(uintptr_t)lock);
    if (!w && (w = shim_calloc(sizeof *w)) != NULL) {
        if (shim_table_put(&waiting, (uint64_t)(uintptr_t)lock, w) < 0) {
            shim_free(w);
            w = NULL;
        } else {
            __atomic_add_fetch(shim_wait_filter_slot(lock), 1, __ATOMIC_RELAXED);
            if (waiting.len == 1)
                shim_lock_paths_waiters(true);
        }
    }
    if (w && pending) {
        w->np += k;
        w->pstart_sum += (int64_t)k * t0;
        *pcharges = w->pcharges;
    } else if (w) {
        w->n += k;
        w->start_sum += (int64_t)k * t0;
    }
    shim_spin_unlock(&wait_lock);
    return w != NULL;
}

/* A waiter leaves: its clock may have been restarted by unlocks, so its
 * share is removed as the average restart. wait_lock held. */
static void wait_end_locked(const void *lock, waitrec *w, bool pending) {
    if (!w)
        return;
    if (pending && w->np > 0) {
        w->pstart_sum -= w->pstart_sum / w->np;
        w->np--;
    } else if (!pending && w->n > 0) {
        w->start_sum -= w->start_sum / w->n;
        w->n--;
    }
    if (w->n == 0 && w->np == 0) {
        shim_table_del(&waiting, (uint64_t)(uintptr_t)lock);
        __atomic_sub_fetch(shim_wait_filter_slot(lock), 1, __ATOMIC_RELAXED);
        if (waiting.len == 0)
            shim_lock_paths_waiters(false);
        shim_free(w);
    }
}

void shim_wait_end(const void *lock) {
    shim_spin_lock(&wait_lock);
    wait_end_locked(lock, shim_table_get(&waiting, (uint64_t)(uintptr_t)lock), false);
    shim_spin_unlock(&wait_lock);
}

bool shim_wait_end_pending(const void *lock, uint64_t pcharges) {
    shim_spin_lock(&wait_lock);
    waitrec *w = shim_table_get(&waiting, (uint64_t)(uintptr_t)lock);
    bool charged = w && w->pcharges != pcharges;
    wait_end_locked(lock, w, true);
    shim_spin_unlock(&wait_lock);
    return charged;
}

int shim_charge_unlock(const void *lock, int64_t *delay) {
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

void shim_after_unlock(int n, int64_t delay) {
    if (!shim_profile_on(SHIM_PROF_MUTEX)) /* only condition waits asked */
        return;
    int saved = errno;
    int was = shim_enter();
    record_here(SHIM_PROF_MUTEX, n, delay);
    shim_leave(was);
    errno = saved;
}

void shim_block_event(int64_t delay) {
    if (shim_profile_on(SHIM_PROF_BLOCK))
        record_here(SHIM_PROF_BLOCK, 1, delay);
}

/*
 * The waiter's stack is unwound before it waits (it is the same stack
 * after): done after the acquisition, the unwind lengthened the program's
 * critical section by ~0.5 us per contended acquisition and multiplied the
 * contention. Inside the critical section only two short table updates
 * remain.
 */
int shim_contended(const void *lock, int (*acquire)(const void *call), const void *call,
                   bool timeout_waited) {
    if (!shim_one_in(shim_cfg.mutex_rate))
        return acquire(call);
    int saved = errno;
    int was = shim_enter();
    bool timed = time_this();
    int64_t ts = timed ? shim_now_ns() : 0;
    bool block = shim_profile_on(SHIM_PROF_BLOCK), mutex = shim_profile_on(SHIM_PROF_MUTEX);
    const shim_stack *st = block ? shim_stack_here() : NULL;
    int64_t t0 = shim_now_ns();
    uint64_t unused;
    if (mutex)
        shim_wait_begin(lock, t0, 1, false, &unused);
    errno = saved;
    int rc = acquire(call);
    saved = errno;
    int64_t t1 = shim_now_ns();
    if (mutex)
        shim_wait_end(lock);
    /* Acquired (a robust owner's death included), or timed out waiting. */
    bool waited = rc == 0 || rc == EOWNERDEAD || (timeout_waited && rc == ETIMEDOUT);
    if (waited && block) {
        int64_t r = (int64_t)shim_cfg.mutex_rate;
        record(SHIM_PROF_BLOCK, st, r, r * (t1 - t0));
    }
    if (timed) /* the unwind; table updates are not timed */
        shim_account_ns((t0 - ts) * TIME_EVERY);
    shim_leave(was);
    errno = saved;
    return rc;
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
    shim_table_each(&buckets[k == SHIM_PROF_BLOCK], snap_bucket, &c);
    s->dropped += dropped;
    shim_spin_unlock(&rec_lock);
}

void shim_contention_lock_all(bool lock) {
    if (lock) {
        shim_spin_lock(&wait_lock);
        shim_spin_lock(&rec_lock);
    } else {
        shim_spin_unlock(&rec_lock);
        shim_spin_unlock(&wait_lock);
    }
}

void shim_contention_after_fork(void) {
    /* Waiters were other threads, which do not exist in the child. */
    shim_table_clear(&waiting);
    memset(shim_wait_filter, 0, sizeof shim_wait_filter);
    shim_lock_paths_waiters(false);
    shim_table_clear(&buckets[0]);
    shim_table_clear(&buckets[1]);
    dropped = 0;
    shim_spin_unlock(&rec_lock);
    shim_spin_unlock(&wait_lock);
}
