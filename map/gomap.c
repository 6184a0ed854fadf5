/*
 * gomap.c — map creation and destruction (makemap, makeBucketArray), the
 * generic operations (mapaccess2, mapassign, mapdelete, mapclear), overflow
 * bucket allocation (newoverflow, incrnoverflow) and the memory bookkeeping
 * that Go leaves to its garbage collector.
 *
 * Memory ownership (C-only; see gomap_internal.h for the headers):
 * - A generation is a bucket array plus the fresh overflow buckets chained
 *   into it. The current generation is `buckets`; while growing, `oldbuckets`
 *   is the previous one. When evacuation completes (or clear drops the old
 *   array), the old generation is freed at once if no iterator is live, else
 *   parked on `retired` until the last iterator ends: iterators read their
 *   snapshot array, keys included, after the map moved on.
 * - Indirect key/elem blocks deleted while an iterator is live are parked on
 *   `deferred` for the same reason (an old generation still points at them).
 * - `spare` holds fresh overflow buckets allocated ahead of an evacuation that
 *   turned out not to need them; newoverflow takes them before allocating.
 *
 * Allocation failure: every operation allocates all it needs before it
 * mutates the map, so a failed call returns -ENOMEM with the contents
 * unchanged (an evacuation step that completed before the failure may have
 * moved entries between arrays, which changes no lookup result).
 *
 * Non-goals: shrinking (Go never shrinks), thread safety (Go's best-effort
 * misuse detection only).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "map/gomap_internal.h"
#include "map/gomap_ops.h"

/* ---- memory ---- */

/*
 * Small blocks: malloc + memset, not calloc. glibc's calloc (2.36 here) never
 * takes the per-thread tcache fast path, malloc does; zeroing a few hundred
 * bytes costs less than _int_malloc (small maps: a header and a bucket
 * array per map, both freed at once). Big blocks keep calloc, which gets
 * zero pages from mmap without writing them.
 */
#define SMALL_ALLOC 4096
static void *default_alloc(size_t size, void *ctx) {
    (void)ctx;
    if (size <= SMALL_ALLOC) {
        void *p = malloc(size);
        /* Hide p from the optimiser, which folds malloc + memset back into
         * calloc. */
        __asm__("" : "+r"(p));
        if (p != NULL)
            memset(p, 0, size);
        return p;
    }
    return calloc(1, size);
}
static void default_release(void *p, size_t size, void *ctx) {
    (void)size;
    (void)ctx;
    free(p);
}

/* bytes is updated atomically: the last iterator out (a reader) may free
 * parked memory while other readers call gomap_get_stats. */
void *gomap__mem_alloc(gomap *m, size_t n) {
    void *p = m->alloc_fn(n, m->alloc_ctx);
    if (p != NULL)
        __atomic_fetch_add(&m->bytes, n, __ATOMIC_RELAXED);
    return p;
}

void gomap__mem_release(gomap *m, void *p, size_t n) {
    __atomic_fetch_sub(&m->bytes, n, __ATOMIC_RELAXED);
    m->release_fn(p, n, m->alloc_ctx);
}

/*
 * Big arrays: ask for transparent huge pages on the 2 MiB-aligned interior
 * before the first touch (THP runs in `madvise` mode here). At 2^20 keys
 * this removes most TLB misses of random bucket accesses, as Go's heap gets
 * huge pages for its arenas. Harmless if the memory came from elsewhere.
 */
#define HUGE_PAGE   ((uintptr_t)2 << 20)
#define HUGE_THRESH ((size_t)4 << 20)
static void advise_huge(void *p, size_t n) {
    uintptr_t lo = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    uintptr_t hi = ((uintptr_t)p + n) & ~(HUGE_PAGE - 1);
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

/* makeBucketArray (map.go:359-402), minus roundupsize: C has no size
 * classes to round up to, so exactly 2^(b-4) overflow buckets are added. */
uint8_t *gomap__make_bucket_array(gomap *m, unsigned b, uint8_t **next_ovf) {
    size_t base = bucket_shift(b);
    size_t nb = base;
    if (b >= 4)
        nb += bucket_shift(b - 4);
    if (b >= 48 || nb > (SIZE_MAX - GEN_HDR_SIZE) / m->bucketsize)
        return NULL;
    size_t bytes = GEN_HDR_SIZE + nb * m->bucketsize;
    gen_hdr *h = gomap__mem_alloc(m, bytes);
    if (h == NULL)
        return NULL;
    if (bytes >= HUGE_THRESH)
        advise_huge(h, bytes);
    h->bytes = bytes;
    h->nbuckets = nb;
    uint8_t *arr = (uint8_t *)h + GEN_HDR_SIZE;
    *next_ovf = NULL;
    if (nb != base) {
        /* The last preallocated bucket points back at the array: a non-nil
         * overflow pointer marks the end of the pool (map.go:390-397). */
        *next_ovf = bucket_at(m, arr, base);
        bmap_setoverflow(m, bucket_at(m, arr, nb - 1), arr);
    }
    hook_alloc(m, GOMAP_ALLOC_BUCKETS, (ptrdiff_t)bytes);
    return arr;
}

static void free_blk_list(gomap *m, blk_hdr *l, enum gomap_alloc_kind kind) {
    while (l != NULL) {
        blk_hdr *next = l->next;
        size_t n = l->bytes;
        gomap__mem_release(m, l, n);
        hook_alloc(m, kind, -(ptrdiff_t)n);
        l = next;
    }
}

void gomap__free_gen(gomap *m, uint8_t *arr) {
    gen_hdr *h = gen_of(arr);
    free_blk_list(m, h->ovf, GOMAP_ALLOC_OVERFLOW);
    size_t n = h->bytes;
    gomap__mem_release(m, h, n);
    hook_alloc(m, GOMAP_ALLOC_BUCKETS, -(ptrdiff_t)n);
}

void gomap__retire_gen(gomap *m, uint8_t *arr) {
    if (iters_load(m) == 0) {
        gomap__free_gen(m, arr);
        return;
    }
    gen_hdr *h = gen_of(arr);
    h->retired_next = m->retired;
    m->retired = h;
}

void gomap__free_indirect(gomap *m, void *data) {
    if (data == NULL)
        return;
    if (iters_load(m) != 0) {
        blk_hdr *h = blk_of(data);
        h->next = m->deferred;
        m->deferred = h;
        return;
    }
    op_unalloc_indirect(m, data);
}

/* Take a whole parked list; the thread that gets it alone frees it. */
#define CLAIM(field)                                                                               \
    (__atomic_load_n(&(field), __ATOMIC_ACQUIRE) != NULL                                           \
         ? __atomic_exchange_n(&(field), NULL, __ATOMIC_ACQ_REL)                                   \
         : NULL)

/* Called by a writer, or by a reader whose iterator took `iters` to 0.
 * Readers may get there concurrently (one ends an iterator as another
 * starts and ends one), so each list is claimed with an exchange (TSan
 * found the plain version racing). */
void gomap__release_parked(gomap *m) {
    gen_hdr *r = CLAIM(m->retired);
    while (r != NULL) {
        gen_hdr *next = r->retired_next;
        gomap__free_gen(m, (uint8_t *)r + GEN_HDR_SIZE);
        r = next;
    }
    free_blk_list(m, CLAIM(m->deferred), GOMAP_ALLOC_INDIRECT);
    free_blk_list(m, CLAIM(m->deferred_ovf), GOMAP_ALLOC_OVERFLOW);
}

/* incrnoverflow (map.go:220-237): exact below B = 16, then probabilistic so
 * the uint16 reaches ~2^15 when overflow buckets ~ buckets. */
static void incrnoverflow(gomap *m) {
    if (m->B < 16) {
        m->noverflow++;
    } else {
        uint64_t mask = ((uint64_t)1 << (m->B - 15)) - 1;
        if ((gomap__map_rand(m) & mask) == 0)
            m->noverflow++;
    }
    set_grow_at(m);
}

static size_t prealloc_left(const gomap *m) {
    if (m->next_overflow == NULL)
        return 0;
    gen_hdr *h = gen_of(m->buckets);
    uint8_t *end = m->buckets + h->nbuckets * m->bucketsize;
    return (size_t)(end - m->next_overflow) / m->bucketsize;
}

static blk_hdr *alloc_overflow_blk(gomap *m) {
    size_t n = BLK_HDR_SIZE + m->bucketsize;
    blk_hdr *h = gomap__mem_alloc(m, n);
    if (h != NULL) {
        h->bytes = n;
        hook_alloc(m, GOMAP_ALLOC_OVERFLOW, (ptrdiff_t)n);
    }
    return h;
}

int gomap__reserve_overflow(gomap *m, size_t n) {
    size_t have = prealloc_left(m) + m->nspare;
    while (have < n) {
        blk_hdr *h = alloc_overflow_blk(m);
        if (h == NULL)
            return -ENOMEM;
        h->next = m->spare;
        m->spare = h;
        m->nspare++;
        have++;
    }
    return 0;
}

/* newoverflow (map.go:239-265). */
uint8_t *gomap__newoverflow(gomap *m, uint8_t *b) {
    uint8_t *ovf;
    if (m->next_overflow != NULL) {
        /* Preallocated pool: nil overflow means more follow. */
        ovf = m->next_overflow;
        if (bmap_overflow(m, ovf) == NULL) {
            m->next_overflow = ovf + m->bucketsize;
        } else {
            bmap_setoverflow(m, ovf, NULL); /* the last one: drop the sentinel */
            m->next_overflow = NULL;
        }
    } else {
        blk_hdr *h = m->spare;
        if (h != NULL) {
            m->spare = h->next;
            m->nspare--;
        } else {
            h = alloc_overflow_blk(m);
            if (h == NULL)
                return NULL;
        }
        gen_hdr *g = gen_of(m->buckets);
        h->next = g->ovf;
        g->ovf = h;
        g->novf++;
        ovf = blk_data(h);
    }
    incrnoverflow(m);
    m->novf_cur++;
    bmap_setoverflow(m, b, ovf);
    return ovf;
}

/* ---- makemap / free ---- */

/* Largest power of two <= 8 dividing size (1 for 0). A ctz, not a loop:
 * gomap_new runs once per short-lived map (small_map_8_insert). */
static unsigned natural_align(uint32_t size) {
    if (size == 0)
        return 1;
    unsigned tz = (unsigned)__builtin_ctz(size);
    return 1u << (tz < 3 ? tz : 3);
}

/* Go's reflect_makemap checks: align a power of two <= 8, size a multiple
 * of it. Out-of-line items (> 128 bytes) sit in their own allocation, so
 * only the pointer in the slot needs aligning. */
static bool valid_align(uint32_t size, uint32_t align) {
    if (align == 0)
        align = natural_align(size);
    return align <= 8 && (align & (align - 1)) == 0 && (size > MAX_KEY_SIZE || size % align == 0);
}

/* makemap (map.go:318-351). */
int gomap_new(const gomap_type *t, size_t hint, const gomap_config *cfg, gomap **out) {
    if (out != NULL)
        *out = NULL;
    if (t == NULL || out == NULL || !valid_align(t->key_size, t->key_align) ||
        !valid_align(t->elem_size, t->elem_align))
        return -EINVAL;
    if (t->kind == GOMAP_KEY_U64 && t->key_size != 8)
        return -EINVAL;
    if (t->kind == GOMAP_KEY_STR && t->key_size != sizeof(gomap_str))
        return -EINVAL;
    if (t->kind != GOMAP_KEY_GENERIC && t->kind != GOMAP_KEY_U64 && t->kind != GOMAP_KEY_STR)
        return -EINVAL;
    /* The fast paths hand out inline element slots only (Go's compiler
     * uses mapassign_fast64/faststr only for elements <= 128 bytes). */
    if (t->kind != GOMAP_KEY_GENERIC && t->elem_size > MAX_ELEM_SIZE)
        return -EINVAL;
    const gomap_alloc *a = cfg != NULL ? cfg->alloc : NULL;
    void *(*afn)(size_t, void *) = a != NULL && a->alloc != NULL ? a->alloc : default_alloc;
    void (*rfn)(void *, size_t, void *) =
        a != NULL && a->release != NULL ? a->release : default_release;
    void *actx = a != NULL ? a->ctx : NULL;

    gomap *m = afn(sizeof *m, actx);
    if (m == NULL)
        return -ENOMEM;
    /* No memset: the allocator contract returns zeroed memory. */
    m->alloc_fn = afn;
    m->release_fn = rfn;
    m->alloc_ctx = actx;
    m->bytes = sizeof *m;
    m->t = t;
    m->kind = (uint8_t)t->kind;
    m->key_type_size = t->key_size;
    m->elem_type_size = t->elem_size;
    m->indirect_key = t->key_size > MAX_KEY_SIZE;
    m->indirect_elem = t->elem_size > MAX_ELEM_SIZE;
    m->keysize = m->indirect_key ? (uint32_t)sizeof(void *) : t->key_size;
    m->elemsize = m->indirect_elem ? (uint32_t)sizeof(void *) : t->elem_size;
    m->elemoff = DATA_OFFSET + BUCKET_CNT * m->keysize;
    m->bucketsize = m->elemoff + BUCKET_CNT * m->elemsize + (uint32_t)sizeof(void *);
    switch (t->kind) {
    case GOMAP_KEY_U64:
        m->hash = gomap__hash_u64_key;
        m->equal = gomap__equal_u64_key;
        break;
    case GOMAP_KEY_STR:
        m->hash = gomap__hash_str_key;
        m->equal = gomap__equal_str_key;
        break;
    default:
        m->hash = t->hash;
        m->equal = t->equal;
        break;
    }
    if (cfg != NULL && cfg->seed != 0) {
        m->fixed_seed = 1;
        m->rng = cfg->seed;
        m->hash0 = cfg->seed;
    } else {
        m->hash0 = gomap__rand();
    }

    if (cfg == NULL || !(cfg->flags & GOMAP_UNPROFILED))
        m->hooks = gomap__hooks_resolve();
    if (UNLIKELY(m->hooks != NULL) && m->hooks->on_new != NULL)
        m->cookie = m->hooks->on_new(m, t, hint);

    /* A hint whose buckets could never be allocated counts as 0 (map.go:319). */
    if (hint > ((size_t)1 << 40))
        hint = 0;
    unsigned b = 0;
    while (over_load_factor(hint, b))
        b++;
    m->B = (uint8_t)b;
    set_grow_at(m);
    if (b != 0) {
        m->buckets = gomap__make_bucket_array(m, b, &m->next_overflow);
        if (m->buckets == NULL) {
            gomap_free(m);
            return -ENOMEM;
        }
    }
    *out = m;
    return 0;
}

/* Free the indirect blocks owned by the live entries of one chain. */
static void free_chain_indirect(gomap *m, uint8_t *b) {
    for (; b != NULL; b = bmap_overflow(m, b)) {
        for (size_t i = 0; i < BUCKET_CNT; i++) {
            if (b[i] < MIN_TOPHASH)
                continue;
            if (m->indirect_key)
                gomap__free_indirect(m, load_ptr(bmap_key(m, b, i)));
            if (m->indirect_elem)
                gomap__free_indirect(m, load_ptr(bmap_elem(m, b, i)));
        }
    }
}

/* Indirect blocks of every live entry: new buckets, and old buckets not yet
 * evacuated (evacuated slots only copy pointers owned by the new array). */
static void free_all_indirect(gomap *m) {
    if (!m->indirect_key && !m->indirect_elem)
        return;
    if (m->buckets != NULL)
        for (size_t i = 0; i < bucket_shift(m->B); i++)
            free_chain_indirect(m, bucket_at(m, m->buckets, i));
    if (m->oldbuckets != NULL)
        for (size_t i = 0; i < noldbuckets(m); i++) {
            uint8_t *b = bucket_at(m, m->oldbuckets, i);
            if (!evacuated(b))
                free_chain_indirect(m, b);
        }
}

void gomap_free(gomap *m) {
    if (m == NULL)
        return;
    if (UNLIKELY(m->hooks != NULL) && m->hooks->on_free != NULL)
        m->hooks->on_free(m, m->cookie);
    /* The profiler has said goodbye to this map: free silently. */
    m->hooks = NULL;
    __atomic_store_n(&m->iters, 0, __ATOMIC_RELAXED);
    free_all_indirect(m);
    gomap__release_parked(m);
    if (m->oldbuckets != NULL)
        gomap__free_gen(m, m->oldbuckets);
    if (m->buckets != NULL)
        gomap__free_gen(m, m->buckets);
    free_blk_list(m, m->spare, GOMAP_ALLOC_OVERFLOW);
    m->release_fn(m, sizeof *m, m->alloc_ctx);
}

size_t gomap_len(const gomap *m) {
    return m != NULL ? m->count : 0;
}

const gomap_type *gomap_get_type(const gomap *m) {
    return m != NULL ? m->t : NULL;
}

/* ---- generic operations (map.go) ---- */

static __attribute__((noinline)) uint8_t *find_generic(gomap *m, const void *key, size_t *i) {
    return op_find(m, GOMAP_KEY_GENERIC, key, i);
}

/* mapaccessK (map.go:541): key and elem, no misuse check (iterator use). */
bool gomap__access_k(gomap *m, const void *key, void **kout, void **eout) {
    if (m->count == 0)
        return false;
    size_t i;
    uint8_t *b = find_generic(m, key, &i);
    if (b == NULL)
        return false;
    *kout = op_slot_key(m, GOMAP_KEY_GENERIC, bmap_key(m, b, i));
    *eout = op_elem_of(m, GOMAP_KEY_GENERIC, b, i);
    return true;
}

void *gomap_lookup(gomap *m, const void *key) {
    return op_lookup(m, GOMAP_KEY_GENERIC, key);
}

static __attribute__((noinline)) int assign_slow(gomap *m, const void *key, uint64_t hash,
                                                 void **elem) {
    return op_assign_slow(m, GOMAP_KEY_GENERIC, key, hash, elem);
}

int gomap_assign(gomap *m, const void *key, void **elem) {
    if (m == NULL)
        return -EINVAL; /* Go panics: assignment to entry in nil map */
    return op_assign(m, GOMAP_KEY_GENERIC, key, elem, assign_slow);
}

static __attribute__((noinline)) int delete_slow(gomap *m, const void *key, uint64_t hash) {
    return op_delete_at(m, GOMAP_KEY_GENERIC, key, hash, true);
}

int gomap_delete(gomap *m, const void *key) {
    return op_delete(m, GOMAP_KEY_GENERIC, key, delete_slow);
}

/* 2^B of an array: nbuckets also counts the preallocated overflow
 * buckets (2^(B-4) of them), so it is the largest power of two in it. */
static size_t gen_base_buckets(const gen_hdr *g) {
    size_t n = 1;
    while (n * 2 <= g->nbuckets)
        n *= 2;
    return n;
}

/* Mark every slot of every chain emptyRest so live iterators stop
 * (Go's markBucketsEmpty, issue 59411). */
static void mark_array_empty(gomap *m, uint8_t *arr, size_t n) {
    for (size_t i = 0; i < n; i++)
        for (uint8_t *b = bucket_at(m, arr, i); b != NULL; b = bmap_overflow(m, b))
            memset(b, EMPTY_REST, BUCKET_CNT);
}

/* mapclear (map.go:1075-1137): empty the map, keep B and the array. */
void gomap_clear(gomap *m) {
    if (m == NULL || m->count == 0)
        return;
    if (UNLIKELY(flags_load(m) & HASH_WRITING))
        gomap__throw(m, "concurrent map writes");
    op_write_begin(m);
    bool iters = iters_load(m) != 0;
    free_all_indirect(m);
    if (m->oldbuckets != NULL) {
        if (iters)
            mark_array_empty(m, m->oldbuckets, noldbuckets(m));
        gomap__retire_gen(m, m->oldbuckets);
        m->oldbuckets = NULL;
    }
    /* Arrays retired by finished grows are still walked by iterators that
     * started on them, and keys that cannot be looked up again (NaN) are
     * returned from there as they are: mark them empty too (the map
     * fuzzer found cleared NaN keys returned). */
    if (iters)
        for (gen_hdr *r = m->retired; r != NULL; r = r->retired_next)
            mark_array_empty(m, (uint8_t *)r + GEN_HDR_SIZE, gen_base_buckets(r));
    gen_hdr *g = gen_of(m->buckets);
    if (iters) {
        /* Overflow chains may be under an iterator: stop it, then park the
         * fresh overflow buckets until the last iterator ends. */
        mark_array_empty(m, m->buckets, bucket_shift(m->B));
        while (g->ovf != NULL) {
            blk_hdr *h = g->ovf;
            g->ovf = h->next;
            h->next = m->deferred_ovf;
            m->deferred_ovf = h;
        }
    } else {
        free_blk_list(m, g->ovf, GOMAP_ALLOC_OVERFLOW);
        g->ovf = NULL;
    }
    g->novf = 0;
    flags_store(m, flags_load(m) & (uint8_t)~SAME_SIZE_GROW);
    m->nevacuate = 0;
    m->noverflow = 0;
    set_grow_at(m);
    m->novf_cur = m->novf_old = 0;
    m->count = 0;
    m->hash0 = gomap__map_rand(m);
    /* makeBucketArray(t, B, h.buckets): zero and reuse, pool recovered. */
    memset(m->buckets, 0, g->nbuckets * m->bucketsize);
    m->elems_dirty = false;
    m->next_overflow = NULL;
    size_t base = bucket_shift(m->B);
    /* A live iterator may stand in a preallocated overflow bucket: handing
     * the pool out again could link that bucket into another chain, which
     * the iterator would then walk twice. The pool comes back at the next
     * grow instead. */
    if (g->nbuckets != base && !iters) {
        m->next_overflow = bucket_at(m, m->buckets, base);
        bmap_setoverflow(m, bucket_at(m, m->buckets, g->nbuckets - 1), m->buckets);
    }
    op_write_end(m);
}

void gomap_get_stats(const gomap *m, gomap_stats *st) {
    memset(st, 0, sizeof *st);
    if (m == NULL)
        return;
    st->count = m->count;
    st->B = m->B;
    st->buckets = bucket_shift(m->B);
    st->overflow = m->novf_cur + m->novf_old;
    st->noverflow = m->noverflow;
    st->grows = m->grows;
    st->same_size_grows = m->same_size_grows;
    st->growing = m->oldbuckets != NULL;
    st->old_buckets = m->oldbuckets != NULL ? noldbuckets(m) : 0;
    st->nevacuate = m->oldbuckets != NULL ? m->nevacuate : 0;
    st->bytes = __atomic_load_n(&m->bytes, __ATOMIC_RELAXED);
}
