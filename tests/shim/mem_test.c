/*
 * mem_test.c — the shim's private allocator (shim/mem.c) against a model:
 * random sizes across every class and the mapped path, blocks filled with
 * a pattern owned by their slot and checked before they are freed (an
 * overlap or a stray write shows as a wrong byte), zeroed and 16-byte
 * aligned on return, errno untouched; and the shim's hash table on top of
 * it against a reference array.
 */
#include "tests/harness/test.h"

#include "shim/shim.h"

#include <errno.h>

typedef struct {
    unsigned char *p;
    size_t n;
    unsigned char tag;
} blk;

static uint64_t rnd(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

TEST(shim, mem_model) {
    enum { SLOTS = 512 };
    static blk b[SLOTS];
    uint64_t r = th_seed() | 1;
    for (int step = 0; step < 200000; step++) {
        blk *x = &b[rnd(&r) % SLOTS];
        if (x->p) {
            for (size_t i = 0; i < x->n; i++)
                CHECK_MSG(x->p[i] == x->tag, "step %d: byte %zu of a %zu-byte block changed", step,
                          i, x->n);
            shim_free(x->p);
            x->p = NULL;
            continue;
        }
        uint64_t k = rnd(&r);
        /* Mostly record-sized, some up to 2 KiB, 1 in 64 mapped (up to 40 KiB). */
        size_t n = k % 64 == 0  ? 2049 + (k >> 8) % 40000
                   : k % 8 == 0 ? (k >> 8) % 2100
                                : 1 + (k >> 8) % 200;
        errno = 1234;
        x->p = shim_calloc(n);
        CHECK_EQ_I(errno, 1234);
        CHECK(x->p != NULL);
        CHECK_EQ_U((uintptr_t)x->p % 16, 0);
        for (size_t i = 0; i < n; i++)
            CHECK_MSG(x->p[i] == 0, "step %d: byte %zu of a fresh %zu-byte block not zero", step, i,
                      n);
        x->n = n;
        x->tag = (unsigned char)(1 + step % 255);
        memset(x->p, x->tag, n);
    }
    for (int i = 0; i < SLOTS; i++)
        shim_free(b[i].p);
    shim_free(NULL);
    CHECK(shim_calloc(SIZE_MAX - 8) == NULL);
}

TEST(shim, table_model) {
    enum { KEYS = 4096 };
    static void *ref[KEYS];
    shim_table t = {0};
    uint64_t r = th_seed() | 1;
    for (int step = 0; step < 300000; step++) {
        uint64_t k = 1 + rnd(&r) % KEYS;
        uint64_t key = k << 12; /* clustered like page-aligned addresses */
        size_t i = (size_t)(k - 1);
        switch (rnd(&r) % 3) {
        case 0:
            CHECK(shim_table_get(&t, key) == ref[i]);
            break;
        case 1: {
            void *v = (void *)(uintptr_t)(rnd(&r) | 1);
            int rc = shim_table_put(&t, key, v);
            CHECK_EQ_I(rc, ref[i] ? 0 : 1);
            ref[i] = v;
            break;
        }
        default:
            CHECK(shim_table_del(&t, key) == ref[i]);
            ref[i] = NULL;
        }
    }
    size_t live = 0;
    for (int i = 0; i < KEYS; i++) {
        live += ref[i] != NULL;
        CHECK(shim_table_get(&t, (uint64_t)(i + 1) << 12) == ref[i]);
    }
    CHECK_EQ_U(t.len, live);
    shim_table_clear(&t);
    CHECK_EQ_U(t.len, 0);
    CHECK(shim_table_get(&t, 1u << 12) == NULL);
}
