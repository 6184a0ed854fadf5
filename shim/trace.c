/*
 * trace.c — the timeline (MAPPROF_TRACE=1): timestamped events kept in a
 * bounded ring per thread, written at every dump as
 * <MAPPROF_OUT>.<pid>.trace.json (trace_json.c).
 *
 * Events:
 * - a map grow, from hashGrow to the end of its evacuation. The start is
 *   the on_grow hook; the grow then sits in `pending` (map address ->
 *   grow) until libgomap lets go of the old bucket array, seen as the
 *   release of a bucket array (on_alloc, negative bytes) while the map's
 *   evacuation cursor has reached the old array's size (the grow is done:
 *   exact), or as the release of the old array itself (a gomap_clear during
 *   the grow, or the array an iterator kept until it ended), or as the
 *   map's next grow or its gomap_free. The finished grow is one record,
 *   kept in the ring of the thread that finished it; grows still evacuating
 *   at a dump are written from `pending`. Every grow is traced, whatever
 *   MAPPROF_GROW_RATE samples for the grow profile.
 * - a contended lock wait of at least MAPPROF_TRACE_LOCK_NS (contention.c
 *   times every contended acquisition while tracing; cond.c's re-lock after
 *   a condition wait, when its wake-up was sampled), in the waiter's ring.
 * - the heap profile's live bytes (estimated, as inuse_space), from the
 *   threads that record or free a sampled block, at most one point per
 *   TRACE_HEAP_NS; the last change inside that window is written later
 *   with its own time (shim_trace_heap), and every dump adds the current
 *   value.
 *
 * Memory: a ring starts at 16 events (56 bytes each) and doubles up to
 * MAPPROF_TRACE_CAP; all rings together hold at most 16 x MAPPROF_TRACE_CAP
 * events (7 MiB at the default 8192): a ring that cannot grow wraps where
 * it is, a thread that gets no ring counts its events as lost. A full
 * ring overwrites its oldest events and counts them: the file keeps each
 * thread's latest events and says how many were dropped (a flight
 * recorder: a long run's dump shows its recent past). Memory comes from mem.c, never the host's
 * arenas; rings are never freed (a thread's events outlive it).
 *
 * Threads: a ring is written by its thread only, under its own spinlock,
 * which a dump takes to copy it; `pending` has one spinlock. Callers hold
 * the guard (nothing here is ever recorded) and call only for the host's
 * events. After fork the child clears every ring (its events are its own).
 * Non-goals: stacks per event (the profiles have them), streaming.
 */
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "map/gomap.h"
#include "shim/trace.h"

#define RING_MIN      16u
#define TOTAL_FACTOR  16u
#define TRACE_HEAP_NS 1000000 /* at most one heap point per ms */

static trace_ring *rings;    /* every ring ever made (push-only, atomic head) */
static uint64_t slots_total; /* atomic: event slots allocated, all rings */
static uint64_t lost;        /* atomic: events with no ring to go to (no memory) */
static __thread trace_ring *my_ring __attribute__((tls_model("initial-exec")));

static shim_spin pending_lock;
static shim_table pending; /* gomap address -> trace_grow (evacuating) */
static int n_pending;      /* atomic: entries in pending */

static shim_spin heap_spin;   /* the heap points' window (innermost but mem's) */
static int64_t heap_last_ns;  /* time of the last heap point written to a ring */
static trace_ev heap_pending; /* a change inside the window (kind 0: none) */

/* Map type names, copied: a type's name lives in the library that defines
 * it, which may be unloaded before the dump reads the event. Keyed by the
 * name's address; a different name at a reused address replaces the entry
 * (events keep their copy). pending_lock held. */
#define TYPE_NAME_MAX 128
static shim_table type_names;

static const char *type_copy(const char *name) {
    uint64_t key = (uint64_t)(uintptr_t)name | 1;
    char *c = shim_table_get(&type_names, key);
    if (c && !strncmp(c, name, TYPE_NAME_MAX - 1))
        return c;
    size_t n = strnlen(name, TYPE_NAME_MAX - 1);
    c = shim_mem_alloc(n + 1);
    if (!c)
        return "?";
    memcpy(c, name, n);
    c[n] = 0;
    if (shim_table_put(&type_names, key, c) < 0) {
        shim_free(c);
        return "?";
    }
    return c; /* a replaced copy stays: older events point at it */
}

static int my_tid(void) {
    if (!shim_tls_v.tid)
        shim_tls_v.tid = (int)gettid();
    return shim_tls_v.tid;
}

/* The calling thread's ring, made on its first event (NULL: no memory). */
static trace_ring *ring_here(void) {
    trace_ring *r = my_ring;
    if (SHIM_LIKELY(r != NULL))
        return r;
    unsigned n = shim_cfg.trace_cap < RING_MIN ? shim_cfg.trace_cap : RING_MIN;
    /* The budget holds for the first slots too: a program that starts
     * thousands of threads gets rings until it is spent, then counts its
     * events as lost. */
    uint64_t limit = (uint64_t)shim_cfg.trace_cap * TOTAL_FACTOR;
    if (__atomic_add_fetch(&slots_total, n, __ATOMIC_RELAXED) > limit) {
        __atomic_sub_fetch(&slots_total, n, __ATOMIC_RELAXED);
        return NULL;
    }
    r = shim_calloc(sizeof *r);
    trace_ev *ev = r ? shim_mem_alloc((size_t)n * sizeof *ev) : NULL;
    if (!ev) {
        __atomic_sub_fetch(&slots_total, n, __ATOMIC_RELAXED);
        shim_free(r);
        return NULL;
    }
    r->ev = ev;
    r->cap = n;
    r->tid = my_tid();
    (void)prctl(PR_GET_NAME, r->name, 0, 0, 0);
    r->name[sizeof r->name - 1] = 0;
    r->next = __atomic_load_n(&rings, __ATOMIC_RELAXED);
    while (
        !__atomic_compare_exchange_n(&rings, &r->next, r, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        ;
    my_ring = r;
    return r;
}

/* Room for one more event without overwriting: grow the ring if the caps
 * allow (the owner alone changes ev and cap, so it allocates unlocked). */
static void ring_grow(trace_ring *r) {
    if (r->head < r->cap || r->cap >= shim_cfg.trace_cap || r->full)
        return;
    uint64_t limit = (uint64_t)shim_cfg.trace_cap * TOTAL_FACTOR;
    unsigned n = r->cap * 2 > shim_cfg.trace_cap ? shim_cfg.trace_cap : r->cap * 2;
    if (__atomic_add_fetch(&slots_total, n - r->cap, __ATOMIC_RELAXED) > limit) {
        __atomic_sub_fetch(&slots_total, n - r->cap, __ATOMIC_RELAXED);
        r->full = true; /* the budget is spent: wrap from now on */
        return;
    }
    trace_ev *ev = shim_mem_alloc((size_t)n * sizeof *ev);
    if (!ev) {
        __atomic_sub_fetch(&slots_total, n - r->cap, __ATOMIC_RELAXED);
        r->full = true;
        return;
    }
    shim_spin_lock(&r->lock);
    trace_ev *old = r->ev;
    memcpy(ev, old, (size_t)r->cap * sizeof *ev); /* not wrapped yet: in order */
    r->ev = ev;
    r->cap = n;
    shim_spin_unlock(&r->lock);
    shim_free(old);
}

static void push(const trace_ev *e) {
    trace_ring *r = ring_here();
    if (!r) {
        __atomic_add_fetch(&lost, 1, __ATOMIC_RELAXED);
        return;
    }
    ring_grow(r);
    shim_spin_lock(&r->lock);
    if (r->head >= r->cap)
        r->dropped++;
    r->ev[r->head % r->cap] = *e;
    r->head++;
    shim_spin_unlock(&r->lock);
}

/* ------------------------------------------------------------- grows */

/* Close grow g (taken out of pending) at `now`, how = TRACE_END_*. */
static void grow_close(trace_grow *g, int64_t now, int how) {
    trace_ev e = shim_trace_grow_ev(g, now, how);
    push(&e);
    shim_free(g);
}

static trace_grow *pending_take(uint64_t key) {
    trace_grow *g = shim_table_del(&pending, key);
    if (g)
        __atomic_sub_fetch(&n_pending, 1, __ATOMIC_RELAXED);
    return g;
}

void shim_trace_grow(const gomap *m, const gomap_grow_event *ev) {
    int saved = errno;
    int was = shim_enter();
    int64_t now = shim_now_ns();
    const gomap_type *t = gomap_get_type(m);
    trace_grow *g = shim_calloc(sizeof *g);
    if (g) {
        *g = (trace_grow){.start = now,
                          .map = (uint64_t)(uintptr_t)m,
                          .entries = ev->entries,
                          .bytes = ev->bytes,
                          .type = t && t->name ? t->name : NULL,
                          .tid = my_tid(),
                          .from_B = (uint8_t)ev->old_B,
                          .to_B = (uint8_t)ev->new_B,
                          .flags = ev->same_size ? TRACE_SAME_SIZE : 0};
    }
    uint64_t key = (uint64_t)(uintptr_t)m;
    shim_spin_lock(&pending_lock);
    if (g)
        g->type = g->type ? type_copy(g->type) : "";
    /* A grow starts only once the previous one is evacuated: that one's
     * old array was still held by an iterator, its end is at most now. */
    trace_grow *prev = pending_take(key);
    if (g && shim_table_put(&pending, key, g) < 0) {
        shim_free(g);
        g = NULL;
    }
    if (g)
        __atomic_add_fetch(&n_pending, 1, __ATOMIC_RELAXED);
    shim_spin_unlock(&pending_lock);
    if (!g)
        __atomic_add_fetch(&lost, 1, __ATOMIC_RELAXED);
    if (prev)
        grow_close(prev, now, TRACE_END_NEXT);
    shim_leave(was);
    errno = saved;
}

/* Buckets per array of 2^b (2^(b-4) preallocated overflow buckets from b = 4). */
static uint64_t nbuckets(unsigned b) {
    return ((uint64_t)1 << b) + (b >= 4 ? (uint64_t)1 << (b - 4) : 0);
}

/*
 * Is `n` the size of g's old array? Arrays are header + nbuckets(B) x
 * bucket size; g->bytes is the new one's. Same-size: equal. Doubling: the
 * difference gives the bucket size, which must divide it exactly and
 * leave a header of at most 256 bytes (an older array of a smaller B,
 * held by an iterator, fails that).
 */
static bool is_old_array(const trace_grow *g, uint64_t n) {
    if (g->flags & TRACE_SAME_SIZE)
        return n == g->bytes;
    uint64_t dn = nbuckets(g->to_B) - nbuckets(g->from_B);
    if (n >= g->bytes || dn == 0 || (g->bytes - n) % dn)
        return false;
    uint64_t bs = (g->bytes - n) / dn, body = nbuckets(g->from_B) * bs;
    return n >= body && n - body <= 256;
}

void shim_trace_map_release(const gomap *m, uint64_t bytes) {
    if (__atomic_load_n(&n_pending, __ATOMIC_RELAXED) == 0)
        return;
    int saved = errno;
    int was = shim_enter();
    gomap_stats st;
    gomap_get_stats(m, &st); /* the calling thread is the map's writer (or last iterator) */
    uint64_t key = (uint64_t)(uintptr_t)m;
    int how = 0;
    shim_spin_lock(&pending_lock);
    trace_grow *g = shim_table_get(&pending, key);
    if (g && st.growing && st.nevacuate == st.old_buckets)
        how = TRACE_END_EVACUATED;
    else if (g && is_old_array(g, bytes))
        how = st.growing ? TRACE_END_CLEARED : TRACE_END_ITER;
    if (how)
        g = pending_take(key);
    shim_spin_unlock(&pending_lock);
    if (how)
        grow_close(g, shim_now_ns(), how);
    shim_leave(was);
    errno = saved;
}

void shim_trace_map_free(const gomap *m) {
    if (__atomic_load_n(&n_pending, __ATOMIC_RELAXED) == 0)
        return;
    int saved = errno;
    int was = shim_enter();
    shim_spin_lock(&pending_lock);
    trace_grow *g = pending_take((uint64_t)(uintptr_t)m);
    shim_spin_unlock(&pending_lock);
    if (g)
        grow_close(g, shim_now_ns(), TRACE_END_FREED);
    shim_leave(was);
    errno = saved;
}

/* ------------------------------------------------------- locks, heap */

void shim_trace_lock_wait(const void *lock, int64_t t0, int64_t t1, int how) {
    if (t1 - t0 < (int64_t)shim_cfg.trace_lock_ns)
        return;
    trace_ev e = {.ts = t0,
                  .dur = t1 - t0,
                  .addr = (uint64_t)(uintptr_t)lock,
                  .tid = my_tid(),
                  .kind = TRACE_LOCK,
                  .flags = (uint8_t)how};
    push(&e);
}

/*
 * At most one point per TRACE_HEAP_NS, and none lost at the end of a
 * burst: a change inside the window is kept as the pending point (time
 * and value, the latest wins) and written, with its own time, before the
 * next point that is due, or by the dump. So the line is exact wherever
 * the heap rests for a window or more.
 */
void shim_trace_heap(int64_t live_bytes) {
    int64_t now = shim_now_ns();
    trace_ev due[2];
    int n = 0;
    shim_spin_lock(&heap_spin);
    if (now - heap_last_ns < TRACE_HEAP_NS) {
        heap_pending =
            (trace_ev){.ts = now, .dur = live_bytes, .tid = my_tid(), .kind = TRACE_HEAP};
    } else {
        if (heap_pending.kind)
            due[n++] = heap_pending;
        heap_pending.kind = 0;
        due[n++] = (trace_ev){.ts = now, .dur = live_bytes, .tid = my_tid(), .kind = TRACE_HEAP};
        heap_last_ns = now;
    }
    shim_spin_unlock(&heap_spin);
    for (int i = 0; i < n; i++)
        push(&due[i]);
}

bool shim_trace_heap_pending(int64_t *ts, int64_t *v) {
    shim_spin_lock(&heap_spin);
    bool any = heap_pending.kind != 0;
    *ts = heap_pending.ts;
    *v = heap_pending.dur;
    shim_spin_unlock(&heap_spin);
    return any;
}

/* ------------------------------------------------------------ dumps */

trace_ring *shim_trace_rings(void) {
    return __atomic_load_n(&rings, __ATOMIC_ACQUIRE);
}

uint64_t shim_trace_lost(void) {
    return __atomic_load_n(&lost, __ATOMIC_RELAXED);
}

size_t shim_trace_copy_ring(trace_ring *r, trace_ev *out, size_t room, uint64_t *dropped) {
    shim_spin_lock(&r->lock);
    size_t n = r->head < r->cap ? (size_t)r->head : r->cap;
    if (n > room)
        n = room;
    for (size_t i = 0; i < n; i++) /* oldest first */
        out[i] = r->ev[(r->head - n + i) % r->cap];
    *dropped = r->dropped + (r->head - r->dropped - n);
    shim_spin_unlock(&r->lock);
    return n;
}

struct pending_ctx {
    trace_grow *out;
    size_t room, n;
};

static void copy_pending(uint64_t key, void *val, void *ctx) {
    (void)key;
    struct pending_ctx *pc = ctx;
    if (pc->n < pc->room)
        pc->out[pc->n++] = *(const trace_grow *)val;
}

size_t shim_trace_copy_pending(trace_grow **out) {
    shim_spin_lock(&pending_lock);
    size_t n = pending.len;
    trace_grow *a = n ? shim_mem_alloc(n * sizeof *a) : NULL;
    struct pending_ctx pc = {a, a ? n : 0, 0};
    shim_table_each(&pending, copy_pending, &pc);
    shim_spin_unlock(&pending_lock);
    *out = a;
    return pc.n;
}

uint64_t shim_trace_slots(void) {
    return __atomic_load_n(&slots_total, __ATOMIC_RELAXED);
}

void shim_trace_lock_all(bool lock) {
    if (lock)
        shim_spin_lock(&pending_lock);
    else
        shim_spin_unlock(&pending_lock);
}

static void free_pending(uint64_t key, void *val, void *ctx) {
    (void)key, (void)ctx;
    shim_free(val);
}

void shim_trace_after_fork(void) {
    /* Other threads' rings may be locked mid-write: they are not the
     * child's, so every ring starts empty and unlocked. */
    for (trace_ring *r = rings; r; r = r->next) {
        r->lock.locked = 0;
        r->head = 0;
        r->dropped = 0;
    }
    if (my_ring) /* the forking thread keeps its ring under its new tid */
        my_ring->tid = (int)gettid();
    lost = 0;
    heap_last_ns = 0;
    heap_pending.kind = 0;
    heap_spin.locked = 0;
    shim_table_each(&pending, free_pending, NULL);
    shim_table_clear(&pending);
    n_pending = 0;
    shim_spin_unlock(&pending_lock);
}
