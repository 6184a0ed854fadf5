/*
 * heapprof.c — the heap profile's data: sampled blocks still alive, and
 * per-(stack, size class) counters, Go's memory-profile buckets.
 *
 * Buckets: Go keys its buckets by stack and size class (it records the
 * rounded size). A program allocating sizes spread over a range would
 * otherwise get one bucket per distinct size (tens of thousands on
 * bench-shim's heap workload, each a sample for the dump to build). So a
 * bucket holds one stack and one size class: 16-byte steps up to 1 KiB,
 * then 8 classes per power of two (steps of at most 12.5 %). Each bucket
 * keeps the exact requested bytes, so the `bytes` label is the blocks'
 * average requested size (exact when they are all alike, as Go's is).
 *
 * Unbiasing: each sampled block carries its own weight 1/(1-exp(-s/R)),
 * the inverse of its probability of being sampled (Go's scaleHeapSample
 * for one block), and buckets sum weights and weighted bytes, so the
 * estimate is exact in expectation whatever sizes share a bucket (with
 * equal sizes it equals Go's per-bucket scaling). Raw counts are kept for
 * the label and for tests. The live table maps a sampled block's address
 * to a small record (bucket, size, weight), and the address filter
 * (heapfilter.c) mirrors its keys so that free() looks here only for
 * addresses that may be in it. Records of freed blocks go to a spare list
 * for the next samples (it never holds more than the peak number of live
 * sampled blocks), so sampling takes no lock of mem.c's and clears no
 * memory. shim_ns estimates the time spent here from every 16th record
 * (two clock reads per record were a tenth of a sample's cost).
 *
 * Ordering rule: a block is inserted after the real
 * allocation returned and removed before the real free runs, so another
 * thread can never receive the address while it is still in the table. An
 * address already present on insert means a block was freed behind our
 * back (__libc_free, RTLD_DEEPBIND); the old entry is counted as freed and
 * as a conflict. Buckets are never freed (the table keeps pointers).
 * Everything runs with the guard set and under heap_lock, never while
 * unwinding, except the filter's racy read (heapfilter.c says why it is
 * sound).
 */
#include <errno.h>
#include <string.h>

#include "pprof/conventions.h"
#include "shim/shim.h"

typedef struct heap_bucket {
    struct heap_bucket *next; /* same-hash chain */
    const shim_stack *stack;
    uint64_t cls;             /* size class */
    int64_t alloc_n, alloc_b; /* sampled allocations: count, requested bytes */
    int64_t free_n;           /* of which freed */
    double w_alloc_n, w_alloc_b, w_free_n, w_free_b; /* the same, weighted */
} heap_bucket;

/* One live sampled block; on the spare list once freed. */
typedef struct live_block {
    union {
        heap_bucket *b;
        struct live_block *next_spare;
    };
    uint64_t size;
    double weight;
} live_block;

static shim_spin heap_lock;
static shim_table buckets; /* hash(stack, class) -> bucket chain */
static shim_table live;    /* block address -> live_block */
static uint64_t dropped, conflicts;
static live_block *spares; /* records of freed blocks, for the next samples */
static double live_bytes;  /* weighted bytes of the live sampled blocks (the timeline's) */

/* Add / remove a live entry, keeping the address filter in step
 * (heap_lock held). put: -1 no memory, 1 new, 0 replaced. */
static int live_put(void *p, live_block *lb) {
    int rc = shim_table_put(&live, (uint64_t)(uintptr_t)p, lb);
    if (rc == 1 && shim_heap_filter_add(p) < 0) {
        shim_table_del(&live, (uint64_t)(uintptr_t)p);
        rc = -1;
    }
    return rc;
}

static live_block *live_del(void *p) {
    live_block *lb = shim_table_del(&live, (uint64_t)(uintptr_t)p);
    if (lb)
        shim_heap_filter_del(p);
    return lb;
}

/* A record from the spare list, or fresh (heap_lock held; mem.c's lock is
 * innermost). Reusing records keeps mem.c's lock and memset off the
 * sampling path: a record is taken and given back once per sample. */
static live_block *spare_take(void) {
    live_block *lb = spares;
    if (lb) {
        spares = lb->next_spare;
        return lb;
    }
    return shim_calloc(sizeof *lb);
}

static void spare_give(live_block *lb) {
    lb->next_spare = spares;
    spares = lb;
}

static uint64_t bucket_key(const shim_stack *st, uint64_t cls) {
    return shim_hash64(st->hash ^ shim_hash64(cls + 1)) | 1;
}

static heap_bucket *bucket_for(const shim_stack *st, uint64_t cls) {
    uint64_t k = bucket_key(st, cls);
    heap_bucket *head = shim_table_get(&buckets, k);
    for (heap_bucket *b = head; b; b = b->next)
        if (b->stack == st && b->cls == cls)
            return b;
    heap_bucket *b = shim_calloc(sizeof *b);
    if (!b)
        return NULL;
    b->stack = st;
    b->cls = cls;
    b->next = head;
    if (shim_table_put(&buckets, k, b) < 0) {
        shim_free(b);
        return NULL;
    }
    return b;
}

/* The timeline's heap counter (heap_lock held): never below 0 (the
 * running sum of doubles may end a hair under it). */
static int64_t rounded_live(void) {
    return live_bytes > 0 ? (int64_t)(live_bytes + 0.5) : 0;
}

/* Count a live block as freed and keep its record for reuse (heap_lock
 * held). */
static void count_free(live_block *lb) {
    heap_bucket *b = lb->b;
    b->free_n++;
    b->w_free_n += lb->weight;
    b->w_free_b += lb->weight * (double)lb->size;
    live_bytes -= lb->weight * (double)lb->size;
    spare_give(lb);
}

/* Timing every record took two clock reads (a tenth of a sample in a busy
 * program) for a diagnostic (shim_ns): records 16i+1..16i+16 of
 * a thread are represented by the last of them, timed and counted
 * TIME_EVERY times. Records come at random (Poisson) points, so the
 * estimate does not alias with the program's own periods. Not the
 * sampler's generator: drawing from it would change which events a fixed
 * seed samples. A thread's first record is timed and counted once: its
 * libunwind cache is cold (milliseconds, where the others take a fraction
 * of a microsecond), and counted 16 times it was a third of the figure or
 * more. */
#define TIME_EVERY 16
static __thread unsigned records __attribute__((tls_model("initial-exec")));

void shim_heap_record(void *p, size_t size) {
    int saved = errno;
    int was = shim_enter();
    unsigned k = records++;
    bool timed = k % TIME_EVERY == 0;
    int64_t t0 = timed ? shim_now_ns() : 0;
    const shim_stack *st = shim_stack_here();
    double w = shim_heap_weight(size, shim_cfg.heap_rate);
    shim_spin_lock(&heap_lock);
    live_block *lb = st ? spare_take() : NULL;
    heap_bucket *b = lb ? bucket_for(st, shim_heap_size_class(size)) : NULL;
    if (!b) {
        dropped++;
        if (lb)
            spare_give(lb);
    } else {
        *lb = (live_block){.b = b, .size = size, .weight = w};
        live_block *old = shim_table_get(&live, (uint64_t)(uintptr_t)p);
        if (live_put(p, lb) < 0) {
            dropped++;
            spare_give(lb);
        } else {
            if (old) {
                count_free(old);
                conflicts++;
            }
            b->alloc_n++;
            b->alloc_b += (int64_t)size;
            b->w_alloc_n += w;
            b->w_alloc_b += w * (double)size;
            live_bytes += w * (double)size;
        }
    }
    int64_t live_now = rounded_live();
    shim_spin_unlock(&heap_lock);
    if (shim_cfg.trace && shim_recording())
        shim_trace_heap(live_now);
    if (timed)
        shim_account_ns((shim_now_ns() - t0) * (k == 0 ? 1 : TIME_EVERY));
    shim_leave(was);
    errno = saved;
}

void *shim_heap_detach(void *p) {
    if (!shim_heap_maybe_sampled(p))
        return NULL;
    int was = shim_enter();
    shim_spin_lock(&heap_lock);
    void *lb = live_del(p);
    shim_spin_unlock(&heap_lock);
    shim_leave(was);
    return lb;
}

void shim_heap_reattach(void *p, void *rec) {
    int was = shim_enter();
    shim_spin_lock(&heap_lock);
    if (live_put(p, rec) < 0)
        count_free(rec); /* cannot track it any more: treat as gone */
    shim_spin_unlock(&heap_lock);
    shim_leave(was);
}

void shim_heap_release(void *rec) {
    int was = shim_enter();
    shim_spin_lock(&heap_lock);
    count_free(rec);
    int64_t live_now = rounded_live();
    shim_spin_unlock(&heap_lock);
    if (shim_cfg.trace && shim_recording())
        shim_trace_heap(live_now);
    shim_leave(was);
}

/* One lock round: heap.c calls this only when the filter says "maybe". */
void shim_heap_forget(void *p) {
    int was = shim_enter();
    shim_spin_lock(&heap_lock);
    live_block *lb = live_del(p);
    if (lb)
        count_free(lb);
    int64_t live_now = rounded_live();
    shim_spin_unlock(&heap_lock);
    if (lb && shim_cfg.trace && shim_recording())
        shim_trace_heap(live_now);
    shim_leave(was);
}

struct snap_ctx {
    shim_snapshot *s;
};

static int64_t rounded(double x) {
    return (int64_t)(x + 0.5);
}

static void snap_bucket(uint64_t key, void *val, void *ctx) {
    (void)key;
    struct snap_ctx *c = ctx;
    for (heap_bucket *b = val; b; b = b->next) {
        if (b->alloc_n == 0)
            continue;
        shim_sample *sm = shim_snapshot_add(c->s, 1);
        if (!sm)
            return;
        sm->stack = b->stack;
        sm->values[0] = rounded(b->w_alloc_n);
        sm->values[1] = rounded(b->w_alloc_b);
        sm->values[2] = b->alloc_n == b->free_n ? 0 : rounded(b->w_alloc_n - b->w_free_n);
        sm->values[3] = b->alloc_n == b->free_n ? 0 : rounded(b->w_alloc_b - b->w_free_b);
        sm->labels[0] = (shim_label){PPROF_LABEL_BYTES, NULL, b->alloc_b / b->alloc_n, NULL};
    }
}

void shim_heap_snapshot(shim_snapshot *s) {
    struct snap_ctx c = {s};
    shim_spin_lock(&heap_lock);
    shim_table_each(&buckets, snap_bucket, &c);
    s->dropped += dropped;
    shim_spin_unlock(&heap_lock);
}

int64_t shim_heap_live_bytes(void) {
    if (!shim_profile_on(SHIM_PROF_HEAP))
        return -1;
    shim_spin_lock(&heap_lock);
    int64_t v = rounded_live();
    shim_spin_unlock(&heap_lock);
    return v;
}

uint64_t shim_heap_conflicts(void) {
    return __atomic_load_n(&conflicts, __ATOMIC_RELAXED);
}

void shim_heap_lock_all(bool lock) {
    if (lock)
        shim_spin_lock(&heap_lock);
    else
        shim_spin_unlock(&heap_lock);
}

void shim_heap_after_fork(void) {
    /* The child starts clean: its profile covers what it does itself.
     * Inherited blocks freed later are simply not found. */
    shim_table_clear(&buckets);
    shim_table_clear(&live);
    shim_heap_filter_clear();
    dropped = conflicts = 0;
    live_bytes = 0;
    shim_spin_unlock(&heap_lock);
}
