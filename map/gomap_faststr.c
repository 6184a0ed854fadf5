/*
 * gomap_faststr.c — string-key entry points, Go's map_faststr.go
 * (mapaccess2_faststr, mapassign_faststr, mapdelete_faststr).
 *
 * Keys are gomap_str {ptr, len} stored inline (16 bytes a slot); the map
 * never copies the bytes. Matching is tophash, then length, then pointer
 * equality, then memcmp (a lookup of a 4- to 16-byte key compares two words
 * inline instead). Unlike mapassign_faststr, an update keeps the stored
 * pointer (Go swaps it so the GC can free the old string; a C caller may
 * update through a temporary copy of the key).
 *
 * Lookup on a one-bucket map (B == 0, not growing) skips hashing, as Go:
 * short keys (< 32 bytes) are compared against every slot of equal length;
 * for long keys the first and last 4 bytes pre-filter, and if two slots pass
 * the filter the key is hashed after all.
 */
#include "map/gomap_internal.h"
#include "map/gomap_ops.h"

AI void check_kind(const gomap *m) {
    if (UNLIKELY(m->kind != GOMAP_KEY_STR))
        gomap__throw(m, "gomap: string operation on a map of another key kind");
}

static inline gomap_str slot_str(const uint8_t *b, size_t i) {
    gomap_str s;
    memcpy(&s, b + DATA_OFFSET + i * sizeof(gomap_str), sizeof s);
    return s;
}

/* mapaccess2_faststr's B == 0 path (map_faststr.go:13-106). Returns true
 * when it decided (*out is the element or NULL), false to hash. */
static inline bool lookup_one_bucket(gomap *m, const gomap_str *key, void **out) {
    uint8_t *b = m->buckets;
    *out = NULL;
    if (key->len < 32) {
        /* Short key: doing lots of comparisons is fine. */
        for (size_t i = 0; i < BUCKET_CNT; i++) {
            gomap_str k = slot_str(b, i);
            if (k.len != key->len || is_empty(b[i])) {
                if (b[i] == EMPTY_REST)
                    break;
                continue;
            }
            if (str_bytes_equal(k.ptr, key->ptr, key->len)) {
                *out = bmap_elem(m, b, i);
                return true;
            }
        }
        return true;
    }
    /* Long key: try not to do more full comparisons than necessary. */
    size_t keymaybe = BUCKET_CNT;
    for (size_t i = 0; i < BUCKET_CNT; i++) {
        gomap_str k = slot_str(b, i);
        if (k.len != key->len || is_empty(b[i])) {
            if (b[i] == EMPTY_REST)
                break;
            continue;
        }
        if (k.ptr == key->ptr) {
            *out = bmap_elem(m, b, i);
            return true;
        }
        if (memcmp(k.ptr, key->ptr, 4) != 0)
            continue;
        if (memcmp(k.ptr + key->len - 4, key->ptr + key->len - 4, 4) != 0)
            continue;
        if (keymaybe != BUCKET_CNT)
            return false; /* two candidates: let the hash tell them apart */
        keymaybe = i;
    }
    if (keymaybe != BUCKET_CNT) {
        gomap_str k = slot_str(b, keymaybe);
        if (memcmp(k.ptr, key->ptr, key->len) == 0)
            *out = bmap_elem(m, b, keymaybe);
    }
    return true;
}

/* Keys of 4 to 16 bytes (the fast path's): two strings of the same length
 * n are equal when their first and last words are, compared inline, not
 * through a memcmp call. */
static inline bool short_eq(const char *a, const char *b, size_t n) {
    if (LIKELY(n >= 8))
        return ((load_u64(a) ^ load_u64(b)) | (load_u64(a + n - 8) ^ load_u64(b + n - 8))) == 0;
    uint32_t a0, a1, b0, b1;
    memcpy(&a0, a, 4);
    memcpy(&a1, a + n - 4, 4);
    memcpy(&b0, b, 4);
    memcpy(&b1, b + n - 4, 4);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* Everything but the fast path: the one-bucket map, growing maps, keys
 * shorter than 4 or longer than 16 bytes. */
static __attribute__((noinline)) void *lookup_slow(gomap *m, const char *p, size_t n) {
    gomap_str key = {p, n};
    if (m->B == 0 && m->oldbuckets == NULL) {
        void *e;
        if (lookup_one_bucket(m, &key, &e))
            return e;
    }
    size_t i;
    uint8_t *b = op_find(m, GOMAP_KEY_STR, &key, &i);
    return b != NULL ? op_elem_at(m, GOMAP_KEY_STR, b, i) : NULL;
}

/*
 * mapaccess2_faststr (map_faststr.go:116). The common case, a key of 4 to
 * 16 bytes in a map with B > 0 that is not growing, makes no call: the hash
 * and the key compare inline, every other case in lookup_slow. A hit
 * waits for one cache miss (its bucket, all lines prefetched at once); fewer
 * instructions per lookup let more lookups' misses overlap (figures:
 * bench/RESULTS.md, "libgomap's fast paths").
 */
void *gomap_lookup_str(gomap *m, const char *p, size_t n) {
    if (m == NULL || m->count == 0)
        return NULL;
    check_kind(m);
    if (UNLIKELY(flags_load(m) & HASH_WRITING))
        gomap__throw(m, "concurrent map read and map write");
    /* 4 <= n <= 16: hash_mem_inline then makes no call, and neither does
     * anything else on this path, so it saves few registers. */
    if (UNLIKELY(n - 4 > 12 || m->B == 0 || m->oldbuckets != NULL))
        return lookup_slow(m, p, n);
    uint64_t hash = hash_mem_inline(p, n, m->hash0);
    uint8_t *b = bucket_at(m, m->buckets, hash & bucket_mask(m->B));
    prefetch_bucket(m, b, 0);
    uint8_t top = tophash(hash);
    /* Candidates by tophash word, not slot by slot: see swar_match. */
    do {
        uint64_t w = tophash_word(b);
        for (uint64_t mt = swar_match(w, top); mt != 0; mt &= mt - 1) {
            size_t i = swar_slot(mt);
            if (b[i] != top)
                continue;
            gomap_str k = slot_str(b, i);
            if (k.len == n && short_eq(k.ptr, p, n))
                return op_elem_at(m, GOMAP_KEY_STR, b, i);
        }
        if (swar_chain_ends(w))
            return NULL;
        b = bmap_overflow(m, b);
    } while (b != NULL);
    return NULL;
}

static __attribute__((noinline)) int assign_slow(gomap *m, const void *key, uint64_t hash,
                                                 void **elem) {
    return op_assign_slow(m, GOMAP_KEY_STR, key, hash, elem);
}

int gomap_assign_str(gomap *m, const char *p, size_t n, void **elem) {
    if (m == NULL)
        return -EINVAL;
    check_kind(m);
    gomap_str key = {p, n};
    return op_assign(m, GOMAP_KEY_STR, &key, elem, assign_slow);
}

static __attribute__((noinline)) int delete_slow(gomap *m, const void *key, uint64_t hash) {
    return op_delete_at(m, GOMAP_KEY_STR, key, hash, true);
}

int gomap_delete_str(gomap *m, const char *p, size_t n) {
    if (m == NULL || m->count == 0)
        return 0;
    check_kind(m);
    gomap_str key = {p, n};
    return op_delete(m, GOMAP_KEY_STR, &key, delete_slow);
}
