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
 * Both tables are sharded by key (lock address, stack), each shard with
 * its own spinlock on its own cache line: a contended event takes them
 * twice on each side, and with one lock per table the threads of a
 * lock-heavy program queued on the profiler's locks instead of their own
 * (spinning, then sched_yield).
 *
 * Invariants: a lock is in its shard's `waiting` table exactly while it
 * has a registered waiter; shim_wait_filter counts those entries per slot
 * and n_waiting in all; the unlock path is re-derived from n_waiting
 * (shim_lock_paths_waiters) whenever it becomes 0 or leaves it. A shard's
 * lock guards its tables and its slots' filter writes. Spinlocks are taken
 * with the guard set, one at a time, and never while unwinding.
 * Non-goals: exact attribution when more waiters than the rate samples
 * are queued (each sampled one stands for `rate`).
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

#define SHARDS 16
typedef struct shard {
    _Alignas(64) shim_spin lock;
    shim_table waiting;    /* lock address -> waitrec */
    shim_table buckets[2]; /* [0] mutex, [1] block: stack -> bucket */
    uint64_t dropped;
} shard;

static shard shards[SHARDS];
static int n_waiting; /* atomic: locks with registered waiters, all shards */

static shard *shard_of(const void *key) {
    return &shards[shim_hash64((uint64_t)(uintptr_t)key) % SHARDS];
}

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
    shard *sh = shard_of(st);
    shim_table *t = &sh->buckets[which == SHIM_PROF_BLOCK];
    shim_spin_lock(&sh->lock);
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
        sh->dropped++;
    }
    shim_spin_unlock(&sh->lock);
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
    shard *sh = shard_of(lock);
    shim_spin_lock(&sh->lock);
    waitrec *w = shim_table_get(&sh->waiting, (uint64_t)(uintptr_t)lock);
    if (!w && (w = shim_calloc(sizeof *w)) != NULL) {
        if (shim_table_put(&sh->waiting, (uint64_t)(uintptr_t)lock, w) < 0) {
            shim_free(w);
            w = NULL;
        } else {
            __atomic_add_fetch(shim_wait_filter_slot(lock), 1, __ATOMIC_RELAXED);
            if (__atomic_add_fetch(&n_waiting, 1, __ATOMIC_RELAXED) == 1)
                shim_lock_paths_waiters(&n_waiting);
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
    shim_spin_unlock(&sh->lock);
    return w != NULL;
}

/* A waiter leaves: its clock may have been restarted by unlocks, so its
 * share is removed as the average restart. sh's lock held. */
static void wait_end_locked(shard *sh, const void *lock, waitrec *w, bool pending) {
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
        shim_table_del(&sh->waiting, (uint64_t)(uintptr_t)lock);
        __atomic_sub_fetch(shim_wait_filter_slot(lock), 1, __ATOMIC_RELAXED);
        if (__atomic_sub_fetch(&n_waiting, 1, __ATOMIC_RELAXED) == 0)
            shim_lock_paths_waiters(&n_waiting);
        shim_free(w);
    }
}

void shim_wait_end(const void *lock) {
    shard *sh = shard_of(lock);
    shim_spin_lock(&sh->lock);
    wait_end_locked(sh, lock, shim_table_get(&sh->waiting, (uint64_t)(uintptr_t)lock), false);
    shim_spin_unlock(&sh->lock);
}

bool shim_wait_end_pending(const void *lock, uint64_t pcharges) {
    shard *sh = shard_of(lock);
    shim_spin_lock(&sh->lock);
    waitrec *w = shim_table_get(&sh->waiting, (uint64_t)(uintptr_t)lock);
    bool charged = w && w->pcharges != pcharges;
    wait_end_locked(sh, lock, w, true);
    shim_spin_unlock(&sh->lock);
    return charged;
}

int shim_charge_unlock(const void *lock, int64_t *delay) {
    int n = 0;
    int64_t now = shim_now_ns();
    shard *sh = shard_of(lock);
    shim_spin_lock(&sh->lock);
    waitrec *w = shim_table_get(&sh->waiting, (uint64_t)(uintptr_t)lock);
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
    shim_spin_unlock(&sh->lock);
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
                   bool timeout_waited, enum shim_wait_kind kind) {
    shim_wait_mark(lock, kind);
    /* The timeline (MAPPROF_TRACE) times every contended acquisition. */
    bool sampled = shim_one_in(shim_cfg.mutex_rate), trace = shim_cfg.trace;
    if (!sampled && !trace) {
        int rc = acquire(call);
        shim_wait_unmark();
        return rc;
    }
    int saved = errno;
    int was = shim_enter();
    bool timed = time_this();
    int64_t ts = timed ? shim_now_ns() : 0;
    bool block = sampled && shim_profile_on(SHIM_PROF_BLOCK),
         mutex = sampled && shim_profile_on(SHIM_PROF_MUTEX);
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
    if (trace && shim_recording())
        shim_trace_lock_wait(lock, t0, t1, 0);
    if (timed) /* the unwind; table updates are not timed */
        shim_account_ns((t0 - ts) * TIME_EVERY);
    shim_wait_unmark();
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
    for (int i = 0; i < SHARDS; i++) {
        shim_spin_lock(&shards[i].lock);
        shim_table_each(&shards[i].buckets[k == SHIM_PROF_BLOCK], snap_bucket, &c);
        s->dropped += shards[i].dropped;
        shim_spin_unlock(&shards[i].lock);
    }
}

void shim_contention_lock_all(bool lock) {
    for (int i = 0; i < SHARDS; i++) {
        if (lock)
            shim_spin_lock(&shards[i].lock);
        else
            shim_spin_unlock(&shards[SHARDS - 1 - i].lock);
    }
}

void shim_contention_after_fork(void) {
    /* Waiters were other threads, which do not exist in the child. */
    memset(shim_wait_filter, 0, sizeof shim_wait_filter);
    n_waiting = 0;
    shim_lock_paths_waiters(&n_waiting);
    for (int i = 0; i < SHARDS; i++) {
        shim_table_clear(&shards[i].waiting);
        shim_table_clear(&shards[i].buckets[0]);
        shim_table_clear(&shards[i].buckets[1]);
        shards[i].dropped = 0;
        shim_spin_unlock(&shards[i].lock);
    }
}
