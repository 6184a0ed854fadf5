/*
 * gomap_grow.c — incremental growth: hashGrow, growWork, evacuate and
 * advanceEvacuationMark (map.go:1139-1391), plus evacuate_fast64/_faststr
 * by compile-time specialisation of one evacuate body.
 *
 * Invariants (map.go:83-85, 1231-1240):
 * - An old bucket's chain is either wholly evacuated (every tophash in
 *   EVACUATED_X/Y/EMPTY) or not at all, except inside evacuate().
 * - Old buckets below nevacuate are evacuated. A new bucket whose old bucket
 *   is not evacuated is still empty: writers call grow_work for their bucket
 *   before touching it, and only writers (assign/delete) advance a grow.
 * - evacuate() cannot fail halfway: before it marks anything it counts the
 *   live entries n of the old chain and reserves ceil(n/8)-1 overflow buckets
 *   (enough for X and Y together, since ceil(x/8)+ceil(y/8) <= ceil(n/8)+1),
 *   from the preallocated pool or the spare list. If that reservation cannot
 *   be allocated, nothing has changed and -ENOMEM propagates.
 * - hash_grow allocates the new array first; if it cannot, it does nothing
 *   and the caller continues with the (overloaded but valid) map.
 *
 * C difference: Go clears evacuated old key/elem memory to help the GC; C
 * has no GC and never clears it, which also keeps iterators' snapshots
 * readable. The old generation is freed (or parked for iterators) when the
 * grow completes.
 */
#include <errno.h>

#include "map/gomap_check.h"
#include "map/gomap_internal.h"
#include "map/gomap_ops.h"

/* hashGrow (map.go:1139-1180). Returns -ENOMEM and changes nothing when the
 * new array cannot be allocated. */
int gomap__hash_grow(gomap *m) {
    /* Too many entries: double. Otherwise too many overflow buckets: keep
     * the size and let evacuation compact the chains. */
    unsigned bigger = over_load_factor(m->count + 1, m->B) ? 1 : 0;
    uint8_t *next_ovf;
    uint8_t *nb = gomap__make_bucket_array(m, m->B + bigger, &next_ovf);
    if (nb == NULL)
        return -ENOMEM;
    uint8_t f = flags_load(m);
    uint8_t nf = f & (uint8_t) ~(ITERATOR | OLD_ITERATOR);
    if (f & ITERATOR)
        nf |= OLD_ITERATOR; /* iterators on buckets now use oldbuckets */
    if (!bigger)
        nf |= SAME_SIZE_GROW;
    flags_store(m, nf);
    gomap_grow_event ev = {
        .old_B = m->B,
        .new_B = m->B + bigger,
        .same_size = !bigger,
        .entries = m->count,
        .noverflow = m->noverflow,
        .bytes = gen_of(nb)->bytes,
    };
    m->B = (uint8_t)(m->B + bigger);
    m->oldbuckets = m->buckets;
    m->buckets = nb;
    m->nevacuate = 0;
    m->noverflow = 0;
    set_grow_at(m);
    m->next_overflow = next_ovf;
    m->novf_old = m->novf_cur;
    m->novf_cur = 0;
    m->grows++;
    if (!bigger)
        m->same_size_grows++;
    if (UNLIKELY(m->hooks != NULL) && m->hooks->on_grow != NULL)
        m->hooks->on_grow(m, m->cookie, &ev);
    /* The actual copying is done incrementally by grow_work and evacuate. */
    return 0;
}

/* advanceEvacuationMark (map.go:1369-1391). */
static void advance_evacuation_mark(gomap *m, size_t newbit) {
    m->nevacuate++;
    /* Look at no more than 1024 buckets, to keep each write O(1). */
    size_t stop = m->nevacuate + 1024;
    if (stop > newbit)
        stop = newbit;
    while (m->nevacuate != stop && evacuated(bucket_at(m, m->oldbuckets, m->nevacuate)))
        m->nevacuate++;
    if (m->nevacuate == newbit) {
        /* Growing is all done: drop the old generation. */
        gomap__retire_gen(m, m->oldbuckets);
        m->oldbuckets = NULL;
        m->novf_old = 0;
        flags_store(m, flags_load(m) & (uint8_t)~SAME_SIZE_GROW);
    }
}

typedef struct evac_dst {
    uint8_t *b; /* current destination bucket */
    size_t i;   /* next free slot in b */
} evac_dst;

/* evacuate (map.go:1255-1367) for one key kind. */
AI int evacuate_kind(gomap *m, size_t oldbucket, int kind) {
    uint8_t *b = bucket_at(m, m->oldbuckets, oldbucket);
    size_t newbit = noldbuckets(m);
    if (!evacuated(b)) {
        /* Reserve the destination overflow buckets first (see top). */
        size_t n = 0;
        for (uint8_t *c = b; c != NULL; c = bmap_overflow(m, c))
            for (size_t i = 0; i < BUCKET_CNT; i++)
                n += c[i] >= MIN_TOPHASH;
        if (n > BUCKET_CNT && gomap__reserve_overflow(m, (n + BUCKET_CNT - 1) / BUCKET_CNT - 1))
            return -ENOMEM;

        bool same = same_size_grow(m);
        evac_dst xy[2];
        xy[0].b = bucket_at(m, m->buckets, oldbucket);
        xy[0].i = 0;
        /* Only compute Y in a doubling grow: it would be out of range. */
        xy[1].b = same ? NULL : bucket_at(m, m->buckets, oldbucket + newbit);
        xy[1].i = 0;
        bool iter = (flags_load(m) & ITERATOR) != 0;

        for (; b != NULL; b = bmap_overflow(m, b)) {
            for (size_t i = 0; i < BUCKET_CNT; i++) {
                uint8_t top = b[i];
                if (is_empty(top)) {
                    b[i] = EVACUATED_EMPTY;
                    continue;
                }
                if (UNLIKELY(top < MIN_TOPHASH))
                    gomap__throw(m, "bad map state");
                uint8_t *k = bmap_key(m, b, i);
                unsigned use_y = 0;
                if (!same) {
                    void *k2 = op_slot_key(m, kind, k);
                    uint64_t hash = op_hash(m, kind, k2);
                    if (kind == GOMAP_KEY_GENERIC && iter && m->equal != NULL &&
                        !m->equal(k2, k2)) {
                        /* A key != itself (NaN): an iterator decides its half
                         * by the tophash low bit, so evacuation must too
                         * (map.go:1299-1312). Requires EVACUATED_X+1 == Y. */
                        use_y = top & 1;
                        top = tophash(hash);
                    } else if (hash & newbit) {
                        use_y = 1;
                    }
                }
                b[i] = (uint8_t)(EVACUATED_X + use_y);
                evac_dst *dst = &xy[use_y];
                if (dst->i == BUCKET_CNT) {
                    dst->b = gomap__newoverflow(m, dst->b);
                    assert(dst->b != NULL); /* reserved above */
                    dst->i = 0;
                }
                dst->b[dst->i] = top;
                /* Indirect keys/elems move by pointer: the slot copy is it. */
                memcpy(bmap_key(m, dst->b, dst->i), k, m->keysize);
                memcpy(bmap_elem(m, dst->b, dst->i), bmap_elem(m, b, i), m->elemsize);
                dst->i++;
            }
        }
    }
    if (oldbucket == m->nevacuate)
        advance_evacuation_mark(m, newbit);
    return 0;
}

static int evacuate(gomap *m, size_t oldbucket) {
    switch (m->kind) {
    case GOMAP_KEY_U64:
        return evacuate_kind(m, oldbucket, GOMAP_KEY_U64);
    case GOMAP_KEY_STR:
        return evacuate_kind(m, oldbucket, GOMAP_KEY_STR);
    default:
        return evacuate_kind(m, oldbucket, GOMAP_KEY_GENERIC);
    }
}

/* growWork (map.go:1231-1240): evacuate the old bucket behind the bucket
 * about to be used, then one more to make progress. */
int gomap__grow_work(gomap *m, size_t bucket) {
    int rc = evacuate(m, bucket & oldbucketmask(m));
    if (rc != 0)
        return rc;
    if (growing(m))
        rc = evacuate(m, m->nevacuate);
    /* Failing the second (progress) step is harmless: the first one already
     * made the caller's bucket usable. */
    (void)rc;
    return 0;
}

int gomap__finish_grow(gomap *m) {
    if (m == NULL)
        return 0;
    op_write_begin(m);
    int rc = 0;
    while (growing(m) && rc == 0)
        rc = evacuate(m, m->nevacuate);
    op_write_end(m);
    return rc;
}
