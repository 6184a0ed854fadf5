/*
 * table.c — the shim's own hash table: nonzero uint64 keys to pointers.
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones, so a long-running churn of sampled blocks never degrades
 * probes). Load factor at most 1/2: the tables are small (live sampled
 * blocks, stacks, maps) and probes stay ~1.5. Keys are mixed with a
 * fixed 64-bit finalizer because addresses are aligned and clustered.
 *
 * Why not libgomap: these tables are touched from inside malloc/free and
 * pthread hooks, so they must depend on nothing that could itself be
 * profiled, change behaviour, or be mid-rewrite; 100 lines are enough.
 * Memory comes from the shim's private allocator (mem.c); a failed growth
 * leaves the table unchanged. Not locked: callers lock.
 */
#include <string.h>

#include "shim/shim.h"

uint64_t shim_hash64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static size_t slot_of(const shim_table *t, uint64_t key) {
    return (size_t)shim_hash64(key) & (t->cap - 1);
}

void *shim_table_get(const shim_table *t, uint64_t key) {
    if (t->cap == 0)
        return NULL;
    for (size_t i = slot_of(t, key);; i = (i + 1) & (t->cap - 1)) {
        if (t->keys[i] == key)
            return t->vals[i];
        if (t->keys[i] == 0)
            return NULL;
    }
}

static void raw_put(shim_table *t, uint64_t key, void *val) {
    size_t i = slot_of(t, key);
    while (t->keys[i] != 0 && t->keys[i] != key)
        i = (i + 1) & (t->cap - 1);
    if (t->keys[i] == 0)
        t->len++;
    t->keys[i] = key;
    t->vals[i] = val;
}

static int grow(shim_table *t) {
    size_t cap = t->cap ? t->cap * 2 : 256;
    uint64_t *keys = shim_calloc(cap * sizeof *keys);
    void **vals = shim_calloc(cap * sizeof *vals);
    if (!keys || !vals) {
        shim_free(keys);
        shim_free(vals);
        return -1;
    }
    shim_table old = *t;
    t->keys = keys;
    t->vals = vals;
    t->cap = cap;
    t->len = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i])
            raw_put(t, old.keys[i], old.vals[i]);
    shim_free(old.keys);
    shim_free(old.vals);
    return 0;
}

int shim_table_put(shim_table *t, uint64_t key, void *val) {
    if ((t->len + 1) * 2 > t->cap && grow(t) < 0) {
        if (t->cap == 0 || t->len + 1 >= t->cap)
            return -1;
        /* could not grow but there is room: run fuller than planned */
    }
    size_t before = t->len;
    raw_put(t, key, val);
    return t->len != before;
}

void *shim_table_del(shim_table *t, uint64_t key) {
    if (t->cap == 0)
        return NULL;
    size_t mask = t->cap - 1, i = slot_of(t, key);
    while (t->keys[i] != key) {
        if (t->keys[i] == 0)
            return NULL;
        i = (i + 1) & mask;
    }
    void *val = t->vals[i];
    /* Backward shift: pull later members of the probe run into the hole
     * when their home slot does not lie cyclically in (hole, j]. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; t->keys[j] != 0; j = (j + 1) & mask) {
        size_t home = slot_of(t, t->keys[j]);
        bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            t->keys[hole] = t->keys[j];
            t->vals[hole] = t->vals[j];
            hole = j;
        }
    }
    t->keys[hole] = 0;
    t->vals[hole] = NULL;
    t->len--;
    return val;
}

void shim_table_each(const shim_table *t, void (*fn)(uint64_t key, void *val, void *ctx),
                     void *ctx) {
    for (size_t i = 0; i < t->cap; i++)
        if (t->keys[i])
            fn(t->keys[i], t->vals[i], ctx);
}

void shim_table_clear(shim_table *t) {
    if (t->cap) {
        memset(t->keys, 0, t->cap * sizeof *t->keys);
        memset(t->vals, 0, t->cap * sizeof *t->vals);
    }
    t->len = 0;
}
