/*
 * gomap_ops.h — the lookup/assign/delete algorithms of map.go, written once
 * and specialised at compile time for a key kind, the way Go's runtime keeps
 * mapaccess2/mapassign/mapdelete (map.go) beside their _fast64 and _faststr
 * copies. Every function takes `kind` as a compile-time constant; with
 * always_inline the other kinds' branches vanish, so gomap.c, gomap_fast64.c
 * and gomap_faststr.c each get a straight-line copy with no function-pointer
 * calls for u64/str keys.
 *
 * Key convention: `key` points to key_size bytes (a uint64_t for U64, a
 * gomap_str for STR), as the generic API receives it.
 *
 * Kind differences, as in Go:
 * - U64 (map_fast64.go): slots are matched by comparing the key directly and
 *   checking the slot is not empty; no tophash compare, no emptyRest stop on
 *   lookup/delete. Lookup skips hashing when B == 0 (one bucket).
 * - STR (map_faststr.go): tophash, then length, then pointer equality, then
 *   memcmp.
 * - GENERIC (map.go): tophash, then type equal (or memcmp); keys/elems may be
 *   indirect.
 * Unlike Go, an update never rewrites the stored key (see op_assign), and
 * the u64/str insert fast path (op_assign) and gomap_lookup_str pick their
 * candidate slots by matching the tophash byte in a word (swar_match) for
 * both kinds: an equal key has an equal tophash, so the result is Go's.
 */
#ifndef GOMAP_OPS_H
#define GOMAP_OPS_H

#include <errno.h>

#include "map/gomap_internal.h"

#define AI static inline __attribute__((always_inline))

AI uint64_t op_hash(const gomap *m, int kind, const void *key) {
    if (kind == GOMAP_KEY_U64)
        return hash_u64_inline(load_u64(key), m->hash0);
    if (kind == GOMAP_KEY_STR) {
        const gomap_str *s = key;
        /* Short keys hashed inline: fewer instructions per lookup leave
         * room for the next lookup's miss in the out-of-order window. */
        return hash_mem_inline(s->ptr, s->len, m->hash0);
    }
    return map_hash(m, key);
}

/* Slot i's key and elem slots. The key size, hence the elems' offset, is a
 * constant for the u64 and string kinds: one load and multiply fewer per
 * operation than bmap_key/bmap_elem. */
AI uint8_t *op_key_at(const gomap *m, int kind, uint8_t *b, size_t i) {
    if (kind == GOMAP_KEY_U64)
        return b + DATA_OFFSET + i * 8;
    if (kind == GOMAP_KEY_STR)
        return b + DATA_OFFSET + i * sizeof(gomap_str);
    return bmap_key(m, b, i);
}
AI uint8_t *op_elem_at(const gomap *m, int kind, uint8_t *b, size_t i) {
    if (kind == GOMAP_KEY_U64)
        return b + DATA_OFFSET + BUCKET_CNT * 8 + i * m->elemsize;
    if (kind == GOMAP_KEY_STR)
        return b + DATA_OFFSET + BUCKET_CNT * sizeof(gomap_str) + i * m->elemsize;
    return bmap_elem(m, b, i);
}

/* The stored key behind a slot (follows the indirection). */
AI void *op_slot_key(const gomap *m, int kind, uint8_t *slot) {
    if (kind == GOMAP_KEY_GENERIC && m->indirect_key)
        return load_ptr(slot);
    return slot;
}

AI bool op_keyeq(const gomap *m, int kind, uint8_t *slot, const void *key) {
    if (kind == GOMAP_KEY_U64)
        return load_u64(slot) == load_u64(key);
    if (kind == GOMAP_KEY_STR) {
        gomap_str a;
        const gomap_str *b = key;
        memcpy(&a, slot, sizeof a);
        return a.len == b->len && str_bytes_equal(a.ptr, b->ptr, a.len);
    }
    void *k = op_slot_key(m, kind, slot);
    if (m->equal)
        return m->equal(key, k);
    return memcmp(key, k, m->key_type_size) == 0;
}

/*
 * mapaccessK's search (map.go:541-582, mapaccess2 :479-538): the bucket and
 * slot holding key, or NULL. Consults the old bucket while it is not
 * evacuated. The caller has ruled out count == 0.
 */
AI uint8_t *op_find(gomap *m, int kind, const void *key, size_t *slot) {
    uint8_t *b;
    if (kind == GOMAP_KEY_U64 && m->B == 0 && m->oldbuckets == NULL) {
        b = m->buckets; /* mapaccess2_fast64: one bucket, skip hashing */
    } else {
        uint64_t hash = op_hash(m, kind, key);
        size_t mask = bucket_mask(m->B);
        b = bucket_at(m, m->buckets, hash & mask);
        /* String buckets are 208 bytes (4-5 lines) and a hit reads the
         * tophash line, then the key slot's line, then the elem's: fetch
         * them all now, in parallel, not one miss after the other. U64
         * lookups measured no gain (the key slots share the tophash
         * line). */
        if (kind == GOMAP_KEY_STR)
            prefetch_bucket(m, b, 0);
        if (UNLIKELY(m->oldbuckets != NULL)) {
            if (!same_size_grow(m))
                mask >>= 1; /* there used to be half as many buckets */
            uint8_t *oldb = bucket_at(m, m->oldbuckets, hash & mask);
            if (!evacuated(oldb))
                b = oldb;
        }
        if (kind != GOMAP_KEY_U64) {
            /* Go's slot-by-slot scan. A branch per slot lets the CPU run
             * ahead into the next lookup while this bucket's cache misses
             * are pending; a branch-free SWAR match over the 8 tophash bytes
             * measured faster only when the map fits in cache. */
            uint8_t top = tophash(hash);
            for (; b != NULL; b = bmap_overflow(m, b)) {
                for (size_t i = 0; i < BUCKET_CNT; i++) {
                    if (b[i] != top) {
                        if (b[i] == EMPTY_REST)
                            return NULL;
                        continue;
                    }
                    if (op_keyeq(m, kind, op_key_at(m, kind, b, i), key)) {
                        *slot = i;
                        return b;
                    }
                }
            }
            return NULL;
        }
    }
    /* U64: compare keys directly, accept non-empty slots, stop at the first
     * match (map_fast64.go). Folding the 8 compares into a mask made every
     * lookup wait for all of the bucket's key lines. Unrolled, each slot is
     * a compare and a branch, so more lookups fit in the out-of-order
     * window. */
    uint64_t k = load_u64(key);
    for (; b != NULL; b = bmap_overflow(m, b)) {
#pragma GCC unroll 8
        for (size_t i = 0; i < BUCKET_CNT; i++) {
            if (load_u64(b + DATA_OFFSET + i * 8) == k && !is_empty(b[i])) {
                *slot = i;
                return b;
            }
        }
    }
    return NULL;
}

AI void *op_elem_of(const gomap *m, int kind, uint8_t *b, size_t i) {
    uint8_t *e = op_elem_at(m, kind, b, i);
    if (kind == GOMAP_KEY_GENERIC && m->indirect_elem)
        return load_ptr(e);
    return e;
}

/* mapaccess2 (map.go:479): the element of key, or NULL. */
AI void *op_lookup(gomap *m, int kind, const void *key) {
    if (m == NULL || m->count == 0)
        return NULL;
    if (UNLIKELY(flags_load(m) & HASH_WRITING))
        gomap__throw(m, "concurrent map read and map write");
    size_t i;
    uint8_t *b = op_find(m, kind, key, &i);
    if (b == NULL)
        return NULL;
    return op_elem_of(m, kind, b, i);
}

/* Entry/exit halves of the writer protocol (map.go:631-638, :721-729). */
AI void op_write_begin(gomap *m) {
    uint8_t f = flags_load(m);
    flags_store(m, f ^ HASH_WRITING);
}
AI void op_write_end(gomap *m) {
    uint8_t f = flags_load(m);
    if (UNLIKELY(!(f & HASH_WRITING)))
        gomap__throw(m, "concurrent map writes");
    flags_store(m, f & (uint8_t)~HASH_WRITING);
}

/* Allocate an indirect key/elem block (zeroed), reporting it. */
AI void *op_alloc_indirect(gomap *m, size_t size) {
    blk_hdr *h = gomap__mem_alloc(m, BLK_HDR_SIZE + size);
    if (h == NULL)
        return NULL;
    h->bytes = BLK_HDR_SIZE + size;
    hook_alloc(m, GOMAP_ALLOC_INDIRECT, (ptrdiff_t)h->bytes);
    return blk_data(h);
}
AI void op_unalloc_indirect(gomap *m, void *p) {
    if (p != NULL) {
        blk_hdr *h = blk_of(p);
        size_t n = h->bytes;
        gomap__mem_release(m, h, n);
        hook_alloc(m, GOMAP_ALLOC_INDIRECT, -(ptrdiff_t)n);
    }
}

/*
 * Small inline elements (at most 16 bytes) are not cleared by delete, which
 * only sets elems_dirty; while that is set, an insert zeroes its element.
 * Delete's clearing dirtied a line it otherwise only read, or not even that
 * (the element of slot i is rarely on the line of its key), plus a memset
 * call; the insert writes its element's line anyway (its caller fills the
 * element). elems_dirty keeps fresh and cleared maps (clear zeroes the
 * array and resets it) from paying for the store. Larger elements keep Go's
 * clearing in delete. Either way a new key finds its element zeroed.
 * (Go's mapdelete_fast64 clears.)
 */
#define ZERO_ON_INSERT_MAX 16
AI bool op_zero_on_insert(const gomap *m) {
    return m->elemsize <= ZERO_ON_INSERT_MAX && !m->indirect_elem;
}
AI void op_zero_small(uint8_t *e, size_t n) {
    uint64_t z = 0;
    if (LIKELY(n >= 8)) {
        memcpy(e, &z, 8);
        memcpy(e + n - 8, &z, 8);
    } else if (n >= 4) {
        memcpy(e, &z, 4);
        memcpy(e + n - 4, &z, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            e[i] = 0;
    }
}

/*
 * mapassign after the hash, with hashWriting set (map.go:639-729): the whole
 * algorithm, lazy bucket array, grow work, grow trigger, overflow buckets and
 * indirect blocks included. op_assign's fast path hands over to it (through
 * a noinline copy per key kind) whenever it meets one of those.
 */
AI int op_assign_slow(gomap *m, int kind, const void *key, uint64_t hash, void **elemp) {
    int rc;
    uint8_t *elem = NULL;
    if (UNLIKELY(m->buckets == NULL)) {
        uint8_t *unused;
        m->buckets = gomap__make_bucket_array(m, 0, &unused);
        if (m->buckets == NULL) {
            rc = -ENOMEM;
            goto out;
        }
    }
again:;
    size_t bucket = hash & bucket_mask(m->B);
    /* Fetch the whole bucket for writing before grow_work and the scan:
     * the key and elem stores of an insert hit other lines than the tophash
     * load, and their misses now overlap it. In delete it measured no
     * gain, so delete has none. */
    if (kind != GOMAP_KEY_GENERIC)
        prefetch_bucket(m, bucket_at(m, m->buckets, bucket), 1);
    if (UNLIKELY(m->oldbuckets != NULL) && gomap__grow_work(m, bucket) != 0) {
        rc = -ENOMEM;
        goto out;
    }
    uint8_t *b = bucket_at(m, m->buckets, bucket);
    uint8_t top = tophash(hash);
    uint8_t *insertb = NULL;
    size_t inserti = 0;
    for (;;) {
        for (size_t i = 0; i < BUCKET_CNT; i++) {
            if (kind == GOMAP_KEY_U64) {
                if (is_empty(b[i])) {
                    if (insertb == NULL) {
                        insertb = b;
                        inserti = i;
                    }
                    if (b[i] == EMPTY_REST)
                        goto notfound;
                    continue;
                }
                if (load_u64(b + DATA_OFFSET + i * 8) != load_u64(key))
                    continue;
            } else {
                if (b[i] != top) {
                    if (is_empty(b[i]) && insertb == NULL) {
                        insertb = b;
                        inserti = i;
                    }
                    if (b[i] == EMPTY_REST)
                        goto notfound;
                    continue;
                }
                uint8_t *k = bmap_key(m, b, i);
                if (!op_keyeq(m, kind, k, key))
                    continue;
                /* No key update (Go's needkeyupdate / faststr pointer swap):
                 * Go rewrites the key so the GC can free the old string; in C
                 * the map keeps the bytes it was given at insertion, so a
                 * caller may update through a temporary copy of the key. */
            }
            elem = op_elem_of(m, kind, b, i);
            rc = 0;
            goto out;
        }
        uint8_t *ovf = bmap_overflow(m, b);
        if (ovf == NULL)
            break;
        b = ovf;
    }
notfound:
    /* Growing invalidates what we found: start over (map.go:692-697). A grow
     * that cannot allocate is skipped: the map is overloaded but valid. */
    if (m->oldbuckets == NULL &&
        (over_load_factor(m->count + 1, m->B) || too_many_overflow_buckets(m->noverflow, m->B))) {
        if (gomap__hash_grow(m) == 0)
            goto again;
    }
    /* Every allocation happens before the map is touched. */
    void *kmem = NULL, *vmem = NULL;
    if (kind == GOMAP_KEY_GENERIC && m->indirect_key) {
        kmem = op_alloc_indirect(m, m->key_type_size);
        if (kmem == NULL) {
            rc = -ENOMEM;
            goto out;
        }
    }
    if (kind == GOMAP_KEY_GENERIC && m->indirect_elem) {
        vmem = op_alloc_indirect(m, m->elem_type_size);
        if (vmem == NULL) {
            op_unalloc_indirect(m, kmem);
            rc = -ENOMEM;
            goto out;
        }
    }
    if (insertb == NULL) {
        insertb = gomap__newoverflow(m, b);
        if (insertb == NULL) {
            op_unalloc_indirect(m, kmem);
            op_unalloc_indirect(m, vmem);
            rc = -ENOMEM;
            goto out;
        }
        inserti = 0;
    }
    uint8_t *k = bmap_key(m, insertb, inserti);
    if (kind == GOMAP_KEY_U64) {
        memcpy(k, key, 8);
    } else if (kind == GOMAP_KEY_STR) {
        memcpy(k, key, sizeof(gomap_str));
    } else if (kmem != NULL) {
        store_ptr(k, kmem);
        memcpy(kmem, key, m->key_type_size);
    } else {
        memcpy(k, key, m->key_type_size);
    }
    elem = bmap_elem(m, insertb, inserti);
    if (vmem != NULL) {
        store_ptr(elem, vmem);
        elem = vmem;
    } else if (m->elems_dirty) {
        op_zero_small(elem, m->elemsize); /* see ZERO_ON_INSERT_MAX */
    }
    insertb[inserti] = (kind == GOMAP_KEY_U64) ? tophash(hash) : top;
    m->count++;
    rc = 1;
out:
    op_write_end(m);
    if (elemp != NULL)
        *elemp = rc >= 0 ? elem : NULL;
    return rc;
}

typedef int (*assign_slow_fn)(gomap *m, const void *key, uint64_t hash, void **elemp);

/*
 * mapassign (map.go:615-730; map_fast64.go:113; map_faststr.go:223).
 *
 * U64 and STR keys get a fast path for the common case, not growing and the
 * key found or inserted into a free slot of its chain without a grow: it is
 * Go's loop, minus every rare branch, which `slow` (op_assign_slow, out of
 * line, reached by a tail call) takes over from scratch. The fast path
 * makes no call, and one compare (grow_at) stands for Go's two grow tests.
 * Fewer instructions per insert let more inserts' cache misses overlap in
 * the out-of-order window; the tophash-word scan matters in churned maps,
 * where a slot-by-slot scan walks holes and mispredicts where it stops.
 */
AI int op_assign(gomap *m, int kind, const void *key, void **elemp, assign_slow_fn slow) {
    if (UNLIKELY(flags_load(m) & HASH_WRITING))
        gomap__throw(m, "concurrent map writes");
    uint64_t hash = op_hash(m, kind, key);
    /* Set hashWriting after hashing: a hash that crashes wrote nothing. */
    op_write_begin(m);
    if (kind == GOMAP_KEY_GENERIC || UNLIKELY(m->buckets == NULL) ||
        UNLIKELY(m->oldbuckets != NULL))
        return slow(m, key, hash, elemp);
    uint8_t *b = bucket_at(m, m->buckets, hash & bucket_mask(m->B));
    /* See op_assign_slow for the prefetch. */
    prefetch_bucket(m, b, 1);
    uint8_t top = tophash(hash);
    uint8_t *insertb = NULL;
    size_t inserti = 0;
    uint64_t insertw = 0; /* insertb's tophash word as loaded */
    uint8_t *elem;
    /* Go's scan, by tophash word (see swar_match). An equal key has an equal
     * hash, so only slots with the key's tophash can hold it: for u64 keys
     * too, which Go compares in every non-empty slot. The first empty slot
     * is the lowest empty flag; an emptyRest ends the chain. */
    for (;;) {
        uint64_t w = tophash_word(b);
        for (uint64_t mt = swar_match(w, top); mt != 0; mt &= mt - 1) {
            size_t i = swar_slot(mt);
            if (b[i] != top)
                continue;
            if (kind == GOMAP_KEY_U64 ? load_u64(op_key_at(m, kind, b, i)) != load_u64(key)
                                      : !op_keyeq(m, kind, op_key_at(m, kind, b, i), key))
                continue;
            elem = op_elem_at(m, kind, b, i);
            op_write_end(m);
            if (elemp != NULL)
                *elemp = elem;
            return 0;
        }
        if (insertb == NULL) {
            uint64_t empty = swar_empty(w);
            if (empty != 0) {
                insertb = b;
                inserti = swar_slot(empty);
                insertw = w;
            }
        }
        if (swar_chain_ends(w))
            goto notfound;
        uint8_t *ovf = bmap_overflow(m, b);
        if (ovf == NULL)
            break;
        b = ovf;
    }
notfound:
    /* A grow may be due, or the chain is full: the slow path decides. */
    if (UNLIKELY(insertb == NULL) || UNLIKELY(m->count >= m->grow_at))
        return slow(m, key, hash, elemp);
    memcpy(op_key_at(m, kind, insertb, inserti), key,
           kind == GOMAP_KEY_U64 ? 8 : sizeof(gomap_str));
    /* The whole tophash word is stored, not the byte: the next insert into
     * this bucket loads it as a word, and a byte store cannot be forwarded
     * to a wider load (a stall of ~12 cycles per insert when a small map
     * fills one bucket). */
    insertw = (insertw & ~((uint64_t)0xff << (8 * inserti))) | ((uint64_t)top << (8 * inserti));
    store_tophash_word(insertb, insertw);
    m->count++;
    elem = op_elem_at(m, kind, insertb, inserti);
    if (m->elems_dirty)
        op_zero_small(elem, m->elemsize); /* see ZERO_ON_INSERT_MAX */
    op_write_end(m);
    if (elemp != NULL)
        *elemp = elem;
    return 1;
}

/* mapdelete after the hash, with hashWriting set (map.go:759-855). Only the
 * out-of-line copy (op_delete's `slow`) runs grow work; the fast path never
 * sees a growing map. */
AI int op_delete_at(gomap *m, int kind, const void *key, uint64_t hash, bool may_grow) {
    int rc = 0;
    size_t bucket = hash & bucket_mask(m->B);
    if (may_grow && m->oldbuckets != NULL && gomap__grow_work(m, bucket) != 0) {
        rc = -ENOMEM;
        goto out;
    }
    uint8_t *b = bucket_at(m, m->buckets, bucket);
    uint8_t *borig = b;
    uint8_t top = tophash(hash);
    size_t i;
    /* Go's scan. u64 keys are compared directly in every non-empty slot
     * (map_fast64.go): the key loads need not wait for the tophash line, so
     * with no prefetch one miss is pending, not two in a row. A tophash-word
     * scan (as op_assign's), with or without prefetching the bucket, measured
     * no faster in delete_insert_u64. */
    for (; b != NULL; b = bmap_overflow(m, b)) {
#pragma GCC unroll 8
        for (i = 0; i < BUCKET_CNT; i++) {
            uint8_t *k = op_key_at(m, kind, b, i);
            if (kind == GOMAP_KEY_U64) {
                if (load_u64(k) != load_u64(key) || is_empty(b[i]))
                    continue;
            } else {
                if (b[i] != top) {
                    if (b[i] == EMPTY_REST)
                        goto out;
                    continue;
                }
                if (!op_keyeq(m, kind, k, key))
                    continue;
            }
            goto found;
        }
    }
    goto out;
found:;
    uint8_t *k = op_key_at(m, kind, b, i);
    uint8_t *e = op_elem_at(m, kind, b, i);
    if (kind == GOMAP_KEY_GENERIC && m->indirect_key) {
        gomap__free_indirect(m, load_ptr(k));
        store_ptr(k, NULL);
    }
    if (kind == GOMAP_KEY_GENERIC && m->indirect_elem) {
        gomap__free_indirect(m, load_ptr(e));
        store_ptr(e, NULL);
    } else if (op_zero_on_insert(m)) {
        m->elems_dirty = true; /* the next inserts zero their elem */
    } else {
        memset(e, 0, m->elemsize); /* a new key finds its elem zeroed */
    }
    b[i] = EMPTY_ONE;
    /* If the bucket now ends in a run of empties, turn them into emptyRest,
     * walking backwards across the chain (map.go:809). */
    if (i == BUCKET_CNT - 1) {
        uint8_t *ovf = bmap_overflow(m, b);
        if (ovf != NULL && ovf[0] != EMPTY_REST)
            goto not_last;
    } else if (b[i + 1] != EMPTY_REST) {
        goto not_last;
    }
    for (;;) {
        b[i] = EMPTY_REST;
        if (i == 0) {
            if (b == borig)
                break; /* beginning of the initial bucket: done */
            uint8_t *c = b;
            for (b = borig; bmap_overflow(m, b) != c; b = bmap_overflow(m, b)) {
            }
            i = BUCKET_CNT - 1;
        } else {
            i--;
        }
        if (b[i] != EMPTY_ONE)
            break;
    }
not_last:
    m->count--;
    /* Reset the seed so an attacker cannot keep colliding (issue 25237). */
    if (m->count == 0)
        m->hash0 = gomap__map_rand(m);
    rc = 1;
out:
    op_write_end(m);
    return rc;
}

typedef int (*delete_slow_fn)(gomap *m, const void *key, uint64_t hash);

/* mapdelete (map.go:741-855; map_fast64.go:304; map_faststr.go:330). A
 * growing map goes to `slow` (op_delete_at with grow work, out of line), so
 * the common path calls nothing and saves few registers. */
AI int op_delete(gomap *m, int kind, const void *key, delete_slow_fn slow) {
    if (m == NULL || m->count == 0)
        return 0;
    if (UNLIKELY(flags_load(m) & HASH_WRITING))
        gomap__throw(m, "concurrent map writes");
    uint64_t hash = op_hash(m, kind, key);
    op_write_begin(m);
    if (UNLIKELY(m->oldbuckets != NULL))
        return slow(m, key, hash);
    return op_delete_at(m, kind, key, hash, false);
}

#endif
