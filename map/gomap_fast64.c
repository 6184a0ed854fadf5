/*
 * gomap_fast64.c — uint64-key entry points, Go's map_fast64.go
 * (mapaccess2_fast64, mapassign_fast64, mapdelete_fast64).
 *
 * The algorithms are gomap_ops.h's, instantiated for GOMAP_KEY_U64: the hash
 * is inlined (one mum round), slots match by direct 8-byte compare without a
 * tophash check, and lookup skips hashing when B == 0. Calling these on a map
 * of another key kind is memory-corrupting misuse and throws.
 */
#include "map/gomap_internal.h"
#include "map/gomap_ops.h"

AI void check_kind(const gomap *m) {
    if (UNLIKELY(m->kind != GOMAP_KEY_U64))
        gomap__throw(m, "gomap: u64 operation on a map of another key kind");
}

void *gomap_lookup_u64(gomap *m, uint64_t key) {
    if (m == NULL || m->count == 0)
        return NULL;
    check_kind(m);
    return op_lookup(m, GOMAP_KEY_U64, &key);
}

static __attribute__((noinline)) int assign_slow(gomap *m, const void *key, uint64_t hash,
                                                 void **elem) {
    return op_assign_slow(m, GOMAP_KEY_U64, key, hash, elem);
}

int gomap_assign_u64(gomap *m, uint64_t key, void **elem) {
    if (m == NULL)
        return -EINVAL;
    check_kind(m);
    return op_assign(m, GOMAP_KEY_U64, &key, elem, assign_slow);
}

static __attribute__((noinline)) int delete_slow(gomap *m, const void *key, uint64_t hash) {
    return op_delete_at(m, GOMAP_KEY_U64, key, hash, true);
}

int gomap_delete_u64(gomap *m, uint64_t key) {
    if (m == NULL || m->count == 0)
        return 0;
    check_kind(m);
    return op_delete(m, GOMAP_KEY_U64, &key, delete_slow);
}
