/*
 * heapprof.c — the heap profile's data: sampled blocks still alive, and
 * per-(stack, block size) counters, Go's memory-profile buckets.
 *
 * A bucket counts sampled allocations and frees of one size from one
 * stack (raw, unscaled); Go's scaleHeapSample is applied when the
 * snapshot is taken, per bucket, so the unbiasing is exactly Go's. The
 * live table maps a sampled block's address to its bucket; heap.c makes
 * every sampled block page-aligned so free() only looks here for
 * page-aligned pointers, and only while shim_heap_live != 0.
 *
 * Ordering rule (preload.md §4): a block is inserted after the real
 * allocation returned and removed before the real free runs, so another
 * thread can never receive the address while it is still in the table. An
 * address already present on insert means a block was freed behind our
 * back (__libc_free, RTLD_DEEPBIND); the old entry is counted as freed and
 * as a conflict. Buckets are never freed (the table keeps pointers).
 * Everything runs with the guard set and under heap_lock, never while
 * unwinding.
 */
#include <errno.h>

#include "pprof/conventions.h"
#include "shim/shim.h"

typedef struct heap_bucket {
    struct heap_bucket *next; /* same-hash chain */
    const shim_stack *stack;
    uint64_t size;            /* requested bytes of every block here */
    int64_t alloc_n, alloc_b; /* sampled allocations: count, bytes */
    int64_t free_n, free_b;   /* of which freed */
} heap_bucket;

uint64_t shim_heap_live; /* entries in live; read racily by free() */

static shim_spin heap_lock;
static shim_table buckets; /* hash(stack, size) -> bucket chain */
static shim_table live;    /* block address -> bucket */
static uint64_t dropped, conflicts;

static uint64_t bucket_key(const shim_stack *st, uint64_t size) {
    return shim_hash64(st->hash ^ shim_hash64(size)) | 1;
}

static heap_bucket *bucket_for(const shim_stack *st, uint64_t size) {
    uint64_t k = bucket_key(st, size);
    heap_bucket *head = shim_table_get(&buckets, k);
    for (heap_bucket *b = head; b; b = b->next)
        if (b->stack == st && b->size == size)
            return b;
    heap_bucket *b = shim_calloc(sizeof *b);
    if (!b)
        return NULL;
    b->stack = st;
    b->size = size;
    b->next = head;
    if (shim_table_put(&buckets, k, b) < 0) {
        shim_free(b);
        return NULL;
    }
    return b;
}

static void count_free(heap_bucket *b) {
    b->free_n++;
    b->free_b += (int64_t)b->size;
}

void shim_heap_record(void *p, size_t size) {
    int saved = errno;
    int was = shim_enter();
    int64_t t0 = shim_now_ns();
    const shim_stack *st = shim_stack_here();
    shim_spin_lock(&heap_lock);
    heap_bucket *b = st ? bucket_for(st, size) : NULL;
    if (!b) {
        dropped++;
    } else {
        heap_bucket *old = shim_table_get(&live, (uint64_t)(uintptr_t)p);
        if (shim_table_put(&live, (uint64_t)(uintptr_t)p, b) < 0) {
            dropped++;
        } else {
            if (old) {
                count_free(old);
                conflicts++;
            }
            b->alloc_n++;
            b->alloc_b += (int64_t)size;
        }
    }
    __atomic_store_n(&shim_heap_live, live.len, __ATOMIC_RELAXED);
    shim_spin_unlock(&heap_lock);
    shim_account_ns(shim_now_ns() - t0);
    shim_leave(was);
    errno = saved;
}

void *shim_heap_detach(void *p) {
    int was = shim_enter();
    shim_spin_lock(&heap_lock);
    void *b = shim_table_del(&live, (uint64_t)(uintptr_t)p);
    __atomic_store_n(&shim_heap_live, live.len, __ATOMIC_RELAXED);
    shim_spin_unlock(&heap_lock);
    shim_leave(was);
    return b;
}

void shim_heap_reattach(void *p, void *rec) {
    int was = shim_enter();
    shim_spin_lock(&heap_lock);
    if (shim_table_put(&live, (uint64_t)(uintptr_t)p, rec) < 0)
        count_free(rec); /* cannot track it any more: treat as gone */
    __atomic_store_n(&shim_heap_live, live.len, __ATOMIC_RELAXED);
    shim_spin_unlock(&heap_lock);
    shim_leave(was);
}

void shim_heap_release(void *rec) {
    int was = shim_enter();
    shim_spin_lock(&heap_lock);
    count_free(rec);
    shim_spin_unlock(&heap_lock);
    shim_leave(was);
}

void shim_heap_forget(void *p) {
    void *b = shim_heap_detach(p);
    if (b)
        shim_heap_release(b);
}

struct snap_ctx {
    shim_snapshot *s;
    int64_t rate;
};

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
        pprof_scale_heap_sample(b->alloc_n, b->alloc_b, c->rate, &sm->values[0], &sm->values[1]);
        pprof_scale_heap_sample(b->alloc_n - b->free_n, b->alloc_b - b->free_b, c->rate,
                                &sm->values[2], &sm->values[3]);
        sm->labels[0] = (shim_label){PPROF_LABEL_BYTES, NULL, (int64_t)b->size, NULL};
    }
}

void shim_heap_snapshot(shim_snapshot *s) {
    struct snap_ctx c = {s, (int64_t)shim_cfg.heap_rate};
    shim_spin_lock(&heap_lock);
    shim_table_each(&buckets, snap_bucket, &c);
    s->dropped += dropped;
    shim_spin_unlock(&heap_lock);
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
    dropped = conflicts = 0;
    shim_heap_live = 0;
    shim_spin_unlock(&heap_lock);
}
