/*
 * gomap_check.c — invariant checker and test seams (gomap_check.h).
 *
 * gomap__check walks the whole map read-only and reports the first broken
 * invariant. It is O(entries + buckets) and meant for tests, which call it
 * after every operation. It trusts nothing it has not bounded: chain walks
 * stop after more buckets than the map can own (a cycle).
 */
#include <stdarg.h>
#include <stdio.h>

#include "map/gomap_check.h"
#include "map/gomap_internal.h"

static int fail(char *why, size_t whylen, const char *fmt, ...) {
    if (why != NULL && whylen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

#define FAIL(...) return fail(why, whylen, __VA_ARGS__)

static bool key_reflexive(const gomap *m, const void *k) {
    return m->kind != GOMAP_KEY_GENERIC || m->equal == NULL || m->equal(k, k);
}

/* Check one chain of a non-evacuated bucket: tophash states, emptyRest
 * discipline, placement (hash & mask == idx). Adds live slots to *live and
 * chain length beyond the head to *novf. */
static int check_chain(const gomap *m, uint8_t *b, size_t idx, size_t mask, const char *arr,
                       size_t limit, size_t *live, size_t *novf, char *why, size_t whylen) {
    bool rest = false;
    size_t n = 0;
    for (uint8_t *c = b; c != NULL; c = bmap_overflow(m, c)) {
        if (n++ > limit)
            FAIL("%s bucket %zu: overflow chain longer than %zu (cycle?)", arr, idx, limit);
        if (c != b)
            (*novf)++;
        for (size_t i = 0; i < BUCKET_CNT; i++) {
            uint8_t top = c[i];
            if (rest && top != EMPTY_REST)
                FAIL("%s bucket %zu: slot %zu (tophash %u) after emptyRest", arr, idx, i, top);
            if (top == EMPTY_REST)
                rest = true;
            if (top <= EMPTY_ONE) {
                /* Unless a delete left some dirty, every empty slot's
                 * inline element is zero (a new key finds it zeroed). */
                if (!m->elems_dirty && !m->indirect_elem) {
                    const uint8_t *e = bmap_elem(m, c, i);
                    for (size_t j = 0; j < m->elemsize; j++)
                        if (e[j] != 0)
                            FAIL("%s bucket %zu slot %zu: empty slot with a nonzero elem", arr, idx,
                                 i);
                }
                continue;
            }
            if (top < MIN_TOPHASH)
                FAIL("%s bucket %zu: illegal tophash %u in a live bucket", arr, idx, top);
            (*live)++;
            void *k = bmap_key(m, c, i);
            if (m->indirect_key)
                k = load_ptr(k);
            if (k == NULL)
                FAIL("%s bucket %zu: NULL indirect key", arr, idx);
            if (m->indirect_elem && load_ptr(bmap_elem(m, c, i)) == NULL)
                FAIL("%s bucket %zu: NULL indirect elem", arr, idx);
            if (!key_reflexive(m, k))
                continue; /* NaN-like: placed by tophash bit, not by hash */
            uint64_t h = map_hash(m, k);
            if ((h & mask) != idx)
                FAIL("%s bucket %zu: key hashes to bucket %zu", arr, idx, (size_t)(h & mask));
            if (tophash(h) != top)
                FAIL("%s bucket %zu slot %zu: tophash %u, hash says %u", arr, idx, i, top,
                     tophash(h));
        }
    }
    return 0;
}

int gomap__check(const gomap *m, char *why, size_t whylen) {
    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (m == NULL)
        return 0;
    uint8_t f = flags_load(m);
    if (f & ~(ITERATOR | OLD_ITERATOR | HASH_WRITING | SAME_SIZE_GROW))
        FAIL("flags 0x%x: unknown bits", f);
    if (f & HASH_WRITING)
        FAIL("flags 0x%x: hashWriting set outside a write", f);
    if ((f & SAME_SIZE_GROW) && m->oldbuckets == NULL)
        FAIL("sameSizeGrow set while not growing");
    if (m->B > 60)
        FAIL("B = %u out of range", m->B);
    if (m->grow_at != grow_at_for(m->B, m->noverflow))
        FAIL("grow_at %zu, want %zu (B = %u, noverflow %u)", m->grow_at,
             grow_at_for(m->B, m->noverflow), m->B, m->noverflow);
    if (m->buckets == NULL) {
        if (m->B != 0 || m->count != 0 || m->oldbuckets != NULL)
            FAIL("no buckets but B = %u, count = %zu", m->B, m->count);
        return 0;
    }
    size_t nb = bucket_shift(m->B);
    size_t limit = m->bytes / m->bucketsize + 1; /* more buckets than bytes: cycle */
    size_t live = 0, novf_cur = 0, novf_old = 0;
    size_t nold = 0;
    if (m->oldbuckets != NULL) {
        nold = noldbuckets(m);
        if (m->nevacuate >= nold)
            FAIL("nevacuate %zu >= old buckets %zu while growing", m->nevacuate, nold);
        for (size_t i = 0; i < nold; i++) {
            uint8_t *b = bucket_at(m, m->oldbuckets, i);
            if (evacuated(b)) {
                size_t n = 0;
                for (uint8_t *c = b; c != NULL; c = bmap_overflow(m, c)) {
                    if (n++ > limit)
                        FAIL("old bucket %zu: overflow chain cycle", i);
                    if (c != b)
                        novf_old++;
                    for (size_t s = 0; s < BUCKET_CNT; s++)
                        if (c[s] < EVACUATED_X || c[s] > EVACUATED_EMPTY)
                            FAIL("old bucket %zu: partly evacuated (slot %zu tophash %u)", i, s,
                                 c[s]);
                }
                continue;
            }
            if (i < m->nevacuate)
                FAIL("old bucket %zu below nevacuate %zu not evacuated", i, m->nevacuate);
            if (check_chain(m, b, i, nold - 1, "old", limit, &live, &novf_old, why, whylen))
                return -1;
        }
    }
    for (size_t i = 0; i < nb; i++) {
        uint8_t *b = bucket_at(m, m->buckets, i);
        if (evacuated(b))
            FAIL("new bucket %zu has evacuated marks", i);
        if (m->oldbuckets != NULL && !evacuated(bucket_at(m, m->oldbuckets, i & (nold - 1)))) {
            /* Not yet a destination: must still be empty. */
            if (b[0] != EMPTY_REST || bmap_overflow(m, b) != NULL)
                FAIL("new bucket %zu filled before its old bucket %zu was evacuated", i,
                     i & (nold - 1));
        }
        if (check_chain(m, b, i, nb - 1, "new", limit, &live, &novf_cur, why, whylen))
            return -1;
    }
    if (live != m->count)
        FAIL("count %zu but %zu live slots", m->count, live);
    if (novf_cur != m->novf_cur)
        FAIL("%zu overflow buckets chained, counter says %zu", novf_cur, m->novf_cur);
    if (m->oldbuckets != NULL && novf_old != m->novf_old)
        FAIL("%zu old overflow buckets chained, counter says %zu", novf_old, m->novf_old);
    if (m->B < 16 && m->noverflow != (uint16_t)novf_cur)
        FAIL("noverflow %u but %zu overflow buckets (B = %u)", m->noverflow, novf_cur, m->B);
    gen_hdr *g = gen_of(m->buckets);
    if (g->nbuckets != nb + (m->B >= 4 ? bucket_shift(m->B - 4) : 0))
        FAIL("array has %zu buckets, want 2^%u + prealloc", g->nbuckets, m->B);
    if (m->next_overflow != NULL) {
        uint8_t *lo = bucket_at(m, m->buckets, nb);
        uint8_t *last = bucket_at(m, m->buckets, g->nbuckets - 1);
        if (m->next_overflow < lo || m->next_overflow > last ||
            (size_t)(m->next_overflow - lo) % m->bucketsize != 0)
            FAIL("nextOverflow outside the preallocated pool");
        if (bmap_overflow(m, last) != m->buckets)
            FAIL("last preallocated bucket lost its sentinel");
    }
    return 0;
}

uint64_t gomap__seed(const gomap *m) {
    return m != NULL ? m->hash0 : 0;
}

size_t gomap__iter_holds(const gomap *m) {
    return m != NULL ? iters_load(m) : 0;
}
