/*
 * port_iter_test.c — Go's map_test.go iteration scenarios, restated in C.
 *
 * Go's range guarantees, which gomap_iter promises too: a key present for the
 * whole iteration is returned exactly once; a key deleted before it is
 * reached is not returned; nothing is returned twice, even when inserts during
 * the iteration grow the map (once or several times) under the iterator.
 * Scenarios: grow-and-delete (TestIterGrowAndDelete), grow with the original
 * keys tracked (TestIterGrowWithGC), delete-while-ranging, the pop pattern
 * (range, delete, break), and updates seen by a later step. Each runs many
 * times (random iteration starts and seeds) for an inline and an indirect
 * key type.
 */
#include "tests/map/maptest.h"

typedef struct kt {
    const gomap_type *t;
    size_t ksz, esz;
} kt;

static const gomap_type big_t = {.name = "map[[160]byte][136]byte",
                                 .key_size = 160,
                                 .elem_size = 136,
                                 .key_align = 8,
                                 .elem_align = 8,
                                 .kind = GOMAP_KEY_GENERIC};

static const kt types[] = {{&gomap_type_u64_u64, 8, 8}, {&big_t, 160, 136}};

static void put(const kt *t, gomap *m, uint64_t id, uint64_t ver) {
    uint8_t kb[160], eb[136];
    mt_key_bytes(id, kb, t->ksz);
    void *e = NULL;
    int rc = gomap_assign(m, kb, &e);
    CHECK_MSG(rc == 0 || rc == 1, "assign(%" PRIu64 ") = %d", id, rc);
    mt_elem_bytes(id, ver, eb, t->esz);
    memcpy(e, eb, t->esz);
}

static int del(const kt *t, gomap *m, uint64_t id) {
    uint8_t kb[160];
    mt_key_bytes(id, kb, t->ksz);
    int rc = gomap_delete(m, kb);
    CHECK_MSG(rc == 0 || rc == 1, "delete(%" PRIu64 ") = %d", id, rc);
    return rc;
}

static uint64_t key_id(const kt *t, const void *k) {
    uint64_t id;
    CHECK_MSG(mt_key_id(k, t->ksz, &id), "iteration returned a corrupt key");
    return id;
}

static gomap *fresh(const kt *t, size_t hint, mt_rng *r) {
    gomap_config cfg = {.seed = mt_next(r) | 1};
    return mt_new(t->t, hint, &cfg);
}

/* TestIterGrowAndDelete: grow and delete every odd key on the first step. */
TEST(map, port_iter_grow_and_delete) {
    mt_rng r = mt_rng_for("grow_and_delete");
    for (int round = 0; round < (int)mt_scale(200); round++) {
        const kt *t = &types[round & 1];
        gomap *m = fresh(t, 4, &r);
        for (uint64_t i = 0; i < 100; i++)
            put(t, m, i, 0);
        uint8_t seen[1000] = {0};
        bool first = true;
        uint64_t first_id = 0;
        gomap_iter it;
        gomap_iter_init(&it, m);
        void *k, *e;
        while (gomap_iter_next(&it, &k, &e)) {
            uint64_t id = key_id(t, k);
            CHECK_MSG(id < 1000 && !seen[id], "round %d: key %" PRIu64 " returned twice", round,
                      id);
            seen[id] = 1;
            CHECK(mt_elem_ok(id, 0, e, t->esz));
            if (first) {
                first = false;
                first_id = id;
                for (uint64_t i = 100; i < 1000; i++)
                    put(t, m, i, 0);
                for (uint64_t i = 1; i < 1000; i += 2)
                    del(t, m, i);
                CHECK_MAP(m);
            } else {
                CHECK_MSG((id & 1) == 0, "round %d: deleted odd key %" PRIu64 " returned", round,
                          id);
            }
        }
        for (uint64_t i = 0; i < 100; i += 2)
            CHECK_MSG(seen[i] || i == first_id, "round %d: key %" PRIu64 " never returned", round,
                      i);
        CHECK_EQ_U(gomap_len(m), 500);
        CHECK_MAP(m);
        gomap_free(m);
    }
}

/* TestIterGrowWithGC: the 16 original keys are all seen once across a big grow. */
TEST(map, port_iter_grow_keeps_original_keys) {
    mt_rng r = mt_rng_for("grow_with_gc");
    for (int round = 0; round < (int)mt_scale(300); round++) {
        const kt *t = &types[round & 1];
        gomap *m = fresh(t, 4, &r);
        for (uint64_t i = 0; i < 16; i++)
            put(t, m, i, 0);
        for (uint64_t i = 8; i < 16; i++)
            put(t, m, i, 1); /* updates */
        uint32_t mask = 0;
        bool grown = false;
        gomap_iter it;
        gomap_iter_init(&it, m);
        void *k, *e;
        while (gomap_iter_next(&it, &k, &e)) {
            uint64_t id = key_id(t, k);
            if (id < 16) {
                CHECK_MSG(!(mask & (1u << id)), "round %d: key %" PRIu64 " returned twice", round,
                          id);
                mask |= 1u << id;
                CHECK(mt_elem_ok(id, id >= 8, e, t->esz));
            }
            if (!grown) {
                /* Several grows (B 1 -> 7) while the iterator sits in B = 1. */
                for (uint64_t i = 100; i < 1000; i++)
                    put(t, m, i, 0);
                grown = true;
            }
        }
        CHECK_MSG(mask == 0xffff, "round %d: original keys seen: %#x", round, mask);
        CHECK_MAP(m);
        gomap_free(m);
    }
}

/* Steady inserts on every step: many grows and evacuations under the iterator. */
TEST(map, port_iter_insert_every_step) {
    mt_rng r = mt_rng_for("insert_every_step");
    for (int round = 0; round < (int)mt_scale(60); round++) {
        const kt *t = &types[round & 1];
        size_t n0 = 1 + mt_below(&r, 300);
        gomap *m = fresh(t, 0, &r);
        for (uint64_t i = 0; i < n0; i++)
            put(t, m, i, 0);
        uint8_t *seen = calloc(n0, 1);
        uint64_t next = 1000000;
        size_t orig = 0;
        gomap_iter it;
        gomap_iter_init(&it, m);
        void *k, *e;
        while (gomap_iter_next(&it, &k, &e)) {
            uint64_t id = key_id(t, k);
            if (id < n0) {
                CHECK_MSG(!seen[id], "round %d: key %" PRIu64 " returned twice", round, id);
                seen[id] = 1;
                orig++;
            }
            for (int j = 0; j < 7; j++)
                put(t, m, next++, 0);
        }
        CHECK_MSG(orig == n0, "round %d: %zu of %zu original keys returned", round, orig, n0);
        CHECK_MAP(m);
        free(seen);
        gomap_free(m);
    }
}

/* for k := range m { delete(m, k) } — and deleting a key ahead of the iterator. */
TEST(map, port_iter_delete_while_ranging) {
    mt_rng r = mt_rng_for("delete_while_ranging");
    for (int round = 0; round < (int)mt_scale(100); round++) {
        const kt *t = &types[round & 1];
        size_t n = 1 + mt_below(&r, 2000);
        gomap *m = fresh(t, 0, &r);
        for (uint64_t i = 0; i < n; i++)
            put(t, m, i, 0);
        uint8_t *gone = calloc(n, 1), *seen = calloc(n, 1);
        size_t returned = 0;
        gomap_iter it;
        gomap_iter_init(&it, m);
        void *k, *e;
        while (gomap_iter_next(&it, &k, &e)) {
            uint64_t id = key_id(t, k);
            CHECK_MSG(id < n && !seen[id] && !gone[id],
                      "round %d: key %" PRIu64 " returned twice or after its deletion", round, id);
            seen[id] = 1;
            returned++;
            CHECK_EQ_I(del(t, m, id), 1);
            gone[id] = 1;
            uint64_t other = mt_below(&r, n); /* also delete one not reached yet */
            CHECK_EQ_I(del(t, m, other), gone[other] ? 0 : 1);
            gone[other] = 1;
        }
        for (uint64_t i = 0; i < n; i++)
            CHECK_MSG(seen[i] || gone[i], "round %d: key %" PRIu64 " never returned", round, i);
        CHECK_EQ_U(gomap_len(m), 0);
        CHECK_MAP(m);
        free(gone);
        free(seen);
        gomap_free(m);
    }
}

/* The pop pattern (Go's MapPop benchmark): range, delete the first key, break. */
TEST(map, port_iter_pop) {
    mt_rng r = mt_rng_for("pop");
    for (int round = 0; round < 4; round++) {
        const kt *t = &types[round & 1];
        size_t n = mt_scale(2000);
        gomap *m = fresh(t, 0, &r);
        for (uint64_t i = 0; i < n; i++)
            put(t, m, i, 0);
        for (size_t left = n; left > 0; left--) {
            gomap_iter it;
            gomap_iter_init(&it, m);
            void *k, *e;
            CHECK_MSG(gomap_iter_next(&it, &k, &e), "%zu keys left but iteration is empty", left);
            uint8_t kb[160];
            memcpy(kb, k, t->ksz);
            gomap_iter_done(&it);
            CHECK_EQ_I(gomap_delete(m, kb), 1);
            CHECK_EQ_U(gomap_len(m), left - 1);
        }
        gomap_iter it;
        gomap_iter_init(&it, m);
        void *k, *e;
        CHECK(!gomap_iter_next(&it, &k, &e));
        CHECK_EQ_U(gomap__iter_holds(m), 0);
        CHECK_MAP(m);
        gomap_free(m);
    }
}

/* Updates made during the iteration are what a later step returns. */
TEST(map, port_iter_sees_updates) {
    mt_rng r = mt_rng_for("sees_updates");
    for (int round = 0; round < (int)mt_scale(100); round++) {
        const kt *t = &types[round & 1];
        size_t n = 1 + mt_below(&r, 500);
        gomap *m = fresh(t, 0, &r);
        uint64_t *ver = calloc(n, sizeof *ver);
        uint8_t *seen = calloc(n, 1);
        for (uint64_t i = 0; i < n; i++)
            put(t, m, i, 0);
        gomap_iter it;
        gomap_iter_init(&it, m);
        void *k, *e;
        uint64_t extra = n;
        while (gomap_iter_next(&it, &k, &e)) {
            uint64_t id = key_id(t, k);
            if (id < n) {
                CHECK(!seen[id]);
                seen[id] = 1;
                CHECK_MSG(mt_elem_ok(id, ver[id], e, t->esz),
                          "round %d: key %" PRIu64 " returned with a stale element", round, id);
            }
            uint64_t u = mt_below(&r, n);
            put(t, m, u, ++ver[u]);
            if (mt_next(&r) & 1)
                put(t, m, extra++, 0); /* and grow now and then */
        }
        for (uint64_t i = 0; i < n; i++)
            CHECK(seen[i]);
        CHECK_MAP(m);
        free(ver);
        free(seen);
        gomap_free(m);
    }
}
