/*
 * gomap_faststr.c — string-key entry points, Go's map_faststr.go
 * (mapaccess2_faststr, mapassign_faststr, mapdelete_faststr).
 *
 * Keys are gomap_str {ptr, len} stored inline (16 bytes a slot); the map
 * never copies the bytes. Matching is tophash, then length, then pointer
 * equality, then memcmp. Unlike mapassign_faststr, an update keeps the stored
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

void *gomap_lookup_str(gomap *m, const char *p, size_t n) {
    if (m == NULL || m->count == 0)
        return NULL;
    check_kind(m);
    if (UNLIKELY(flags_load(m) & HASH_WRITING))
        gomap__throw(m, "concurrent map read and map write");
    gomap_str key = {p, n};
    if (m->B == 0 && m->oldbuckets == NULL) {
        void *e;
        if (lookup_one_bucket(m, &key, &e))
            return e;
    }
    size_t i;
    uint8_t *b = op_find(m, GOMAP_KEY_STR, &key, &i);
    return b != NULL ? bmap_elem(m, b, i) : NULL;
}

int gomap_assign_str(gomap *m, const char *p, size_t n, void **elem) {
    if (m == NULL)
        return -EINVAL;
    check_kind(m);
    gomap_str key = {p, n};
    return op_assign(m, GOMAP_KEY_STR, &key, elem);
}

int gomap_delete_str(gomap *m, const char *p, size_t n) {
    if (m == NULL || m->count == 0)
        return 0;
    check_kind(m);
    gomap_str key = {p, n};
    return op_delete(m, GOMAP_KEY_STR, &key);
}
