/*
 * gomap_iter.c — iteration in randomised order: mapiterinit/mapiternext
 * (map.go:877-1061).
 *
 * The iterator snapshots `buckets` and B, starts at a random bucket and a
 * random slot offset, and walks every bucket once, wrapping around. It stays
 * correct while the map grows under it:
 * - started during a grow that is still running (it.B == B), it reads the
 *   old bucket while that is not evacuated and keeps only the entries that
 *   belong to the new bucket it is visiting (checkBucket);
 * - when the map grew after it started, its snapshot slots read EVACUATED_X/Y
 *   and the current key/elem is fetched again with mapaccessK, so updates and
 *   deletions are seen and nothing is returned twice.
 * Guarantee: a key present for the whole iteration is returned exactly once.
 *
 * C-only: a live iterator holds a count on the map (`iters`); while it is
 * nonzero, generations the map is done with and deleted indirect blocks are
 * parked instead of freed, since the snapshot still points into them. The
 * hold is dropped when gomap_iter_next returns false or by gomap_iter_done;
 * the last one out frees what was parked.
 */
#include "map/gomap_internal.h"

typedef struct __attribute__((may_alias)) iter_state {
    gomap *m;         /* NULL: finished, or the map was empty */
    uint8_t *buckets; /* bucket array snapshot at init */
    uint8_t *bptr;    /* current bucket, NULL between buckets */
    size_t start_bucket;
    size_t bucket;       /* next bucket index to visit */
    size_t check_bucket; /* NO_CHECK, or the new bucket filtering an old one */
    uint8_t B;           /* B at init */
    uint8_t offset;      /* slot rotation */
    uint8_t i;           /* next slot in bptr */
    uint8_t wrapped;     /* already wrapped from the end to the beginning */
    uint8_t holding;     /* holds a count on m->iters */
} iter_state;

_Static_assert(sizeof(iter_state) <= sizeof(gomap_iter), "gomap_iter too small");

/* mapiterinit (map.go:877-921). */
void gomap_iter_init(gomap_iter *it, gomap *m) {
    iter_state *s = (iter_state *)(void *)it;
    memset(s, 0, sizeof *s);
    if (m == NULL || m->count == 0)
        return;
    s->m = m;
    s->B = m->B;
    s->buckets = m->buckets;
    /* Random start bucket and slot offset. */
    uint64_t r = gomap__rand();
    s->start_bucket = r & bucket_mask(m->B);
    s->offset = (uint8_t)((r >> (m->B & 63)) & (BUCKET_CNT - 1));
    s->bucket = s->start_bucket;
    s->check_bucket = NO_CHECK;
    /* Iterators may start concurrently (they are readers): atomic updates. */
    __atomic_fetch_add(&m->iters, 1, __ATOMIC_ACQ_REL);
    s->holding = 1;
    uint8_t f = flags_load(m);
    if ((f & (ITERATOR | OLD_ITERATOR)) != (ITERATOR | OLD_ITERATOR))
        __atomic_fetch_or(&m->flags, ITERATOR | OLD_ITERATOR, __ATOMIC_RELAXED);
}

static void iter_release(iter_state *s) {
    gomap *m = s->m;
    if (m != NULL && s->holding) {
        s->holding = 0;
        if (__atomic_sub_fetch(&m->iters, 1, __ATOMIC_ACQ_REL) == 0)
            gomap__release_parked(m);
    }
    s->m = NULL;
}

void gomap_iter_done(gomap_iter *it) {
    iter_release((iter_state *)(void *)it);
}

/* Does a key equal itself? False only for NaN-like generic keys. */
static bool reflexive(const gomap *m, const void *k) {
    return m->kind != GOMAP_KEY_GENERIC || m->equal == NULL || m->equal(k, k);
}

static __attribute__((noinline)) bool iter_next_slow(iter_state *s, gomap *m, void **keyp,
                                                     void **elemp);

/* The iterator may return slots in place without the general loop: no old
 * bucket to filter, keys and elems inline. */
static inline bool iter_simple(const iter_state *s, const gomap *m) {
    return s->check_bucket == NO_CHECK && !m->indirect_key && !m->indirect_elem;
}

/*
 * Step to the next bucket (or overflow bucket) and return its first live
 * slot, for iter_simple iterators that need not consult oldbuckets (not
 * growing, or the grow started after this iterator: its snapshot then reads
 * EVACUATED_X/Y and goes the slow way). Anything else (an evacuated slot,
 * the end of the walk, a bucket behind an unevacuated old one) saves the
 * state and continues in the general loop, iter_next_slow.
 */
static __attribute__((noinline)) bool iter_next_bucket(iter_state *s, gomap *m, void **keyp,
                                                       void **elemp) {
    uint8_t *b = s->bptr;
    size_t i = s->i;
    if (iter_simple(s, m) && (m->oldbuckets == NULL || s->B != m->B)) {
        size_t off = s->offset, bucket = s->bucket;
        size_t bsize = m->bucketsize;
        size_t nbuckets = bucket_shift(s->B);
        for (;;) {
            if (b == NULL) {
                if (bucket == s->start_bucket && s->wrapped)
                    break; /* the end: the slow path releases */
                b = s->buckets + bucket * bsize;
                if (++bucket == nbuckets) {
                    bucket = 0;
                    s->wrapped = 1;
                }
                i = 0;
            }
            for (; i < BUCKET_CNT; i++) {
                size_t offi = (i + off) & (BUCKET_CNT - 1);
                uint8_t top = b[offi];
                if (top >= MIN_TOPHASH) {
                    s->bucket = bucket;
                    s->bptr = b;
                    s->i = (uint8_t)(i + 1);
                    if (keyp != NULL)
                        *keyp = bmap_key(m, b, offi);
                    if (elemp != NULL)
                        *elemp = bmap_elem(m, b, offi);
                    return true;
                }
                if (top == EVACUATED_X || top == EVACUATED_Y)
                    goto slow;
            }
            b = bmap_overflow(m, b);
            i = 0;
        }
    slow:
        s->bucket = bucket;
        s->bptr = b;
        s->i = (uint8_t)i;
    }
    return iter_next_slow(s, m, keyp, elemp);
}

/*
 * mapiternext (map.go:937-1061), common case first: the rest of the current
 * bucket of an iter_simple iterator. A live slot there is returned in place,
 * exactly what the general loop would do, touching one field of the state
 * (s->i) and few registers; stepping to the next bucket is out of line
 * (~1 call in 5 at load 4-6.5): the general loop reloaded and stored the
 * whole state per element. Prefetching buckets ahead measured no gain (a
 * sequential walk). Figures: bench/RESULTS.md, "libgomap's fast paths".
 */
bool gomap_iter_next(gomap_iter *it, void **keyp, void **elemp) {
    iter_state *s = (iter_state *)(void *)it;
    gomap *m = s->m;
    if (m == NULL)
        return false;
    if (UNLIKELY(flags_load(m) & HASH_WRITING))
        gomap__throw(m, "concurrent map iteration and map write");
    uint8_t *b = s->bptr;
    if (LIKELY(b != NULL && iter_simple(s, m))) {
        size_t off = s->offset;
        for (size_t i = s->i; i < BUCKET_CNT; i++) {
            size_t offi = (i + off) & (BUCKET_CNT - 1);
            uint8_t top = b[offi];
            if (top >= MIN_TOPHASH) {
                s->i = (uint8_t)(i + 1);
                if (keyp != NULL)
                    *keyp = bmap_key(m, b, offi);
                if (elemp != NULL)
                    *elemp = bmap_elem(m, b, offi);
                return true;
            }
            if (top == EVACUATED_X || top == EVACUATED_Y) {
                s->i = (uint8_t)i;
                return iter_next_slow(s, m, keyp, elemp);
            }
        }
        s->i = BUCKET_CNT;
    }
    return iter_next_bucket(s, m, keyp, elemp);
}

static bool iter_next_slow(iter_state *s, gomap *m, void **keyp, void **elemp) {
    size_t bucket = s->bucket;
    uint8_t *b = s->bptr;
    size_t i = s->i;
    size_t check_bucket = s->check_bucket;
    size_t nbuckets = bucket_shift(s->B);
    for (;;) {
        if (b == NULL) {
            if (bucket == s->start_bucket && s->wrapped) {
                iter_release(s);
                return false;
            }
            if (m->oldbuckets != NULL && s->B == m->B) {
                /* Started mid-grow and the grow is not done: if the old
                 * bucket has not moved yet, read it, keeping only the
                 * entries bound for this new bucket. */
                size_t oldbucket = bucket & oldbucketmask(m);
                b = bucket_at(m, m->oldbuckets, oldbucket);
                if (!evacuated(b)) {
                    check_bucket = bucket;
                } else {
                    b = bucket_at(m, s->buckets, bucket);
                    check_bucket = NO_CHECK;
                }
            } else {
                b = bucket_at(m, s->buckets, bucket);
                check_bucket = NO_CHECK;
            }
            bucket++;
            if (bucket == nbuckets) {
                bucket = 0;
                s->wrapped = 1;
            }
            i = 0;
        }
        for (; i < BUCKET_CNT; i++) {
            size_t offi = (i + s->offset) & (BUCKET_CNT - 1);
            uint8_t top = b[offi];
            if (is_empty(top) || top == EVACUATED_EMPTY)
                continue;
            uint8_t *k = bmap_key(m, b, offi);
            if (m->indirect_key)
                k = load_ptr(k);
            uint8_t *e = bmap_elem(m, b, offi);
            if (check_bucket != NO_CHECK && !same_size_grow(m)) {
                /* Special case: iterating an old bucket during a doubling
                 * grow; skip entries that go to the other half. */
                if (reflexive(m, k)) {
                    uint64_t hash = map_hash(m, k);
                    if ((hash & bucket_mask(s->B)) != check_bucket)
                        continue;
                } else if ((check_bucket >> (s->B - 1)) != (size_t)(top & 1)) {
                    continue;
                }
            }
            if ((top != EVACUATED_X && top != EVACUATED_Y) || !reflexive(m, k)) {
                /* The entry is where the snapshot says (or cannot be looked
                 * up again): return it in place. */
                if (m->indirect_elem)
                    e = load_ptr(e);
            } else {
                /* The map grew since the snapshot: the current value may
                 * differ or the key may be gone; look it up again. */
                void *rk, *re;
                if (!gomap__access_k(m, k, &rk, &re))
                    continue;
                k = rk;
                e = re;
            }
            s->bucket = bucket;
            s->bptr = b;
            s->i = (uint8_t)(i + 1);
            s->check_bucket = check_bucket;
            if (keyp != NULL)
                *keyp = k;
            if (elemp != NULL)
                *elemp = e;
            return true;
        }
        b = bmap_overflow(m, b);
        i = 0;
    }
}
