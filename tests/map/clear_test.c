/*
 * clear_test.c — gomap_clear (Go's mapclear, clear(m)).
 *
 * Go's clear empties the map but keeps B and the bucket array (maps never
 * shrink), drops the overflow buckets and any grow in progress, gives the
 * map a new hash seed, and stops live iterators from returning the cleared
 * entries (issue 59411). Checked: after growth, in the middle of a grow,
 * during an iteration (also with inserts after the clear), with out-of-line
 * keys whose memory must come back, and the reseeding (also Go's reseed when
 * a delete empties the map).
 */
#include "tests/map/maptest.h"

TEST(map, clear_after_growth_keeps_B) {
    mt_alloc a;
    mt_alloc_init(&a);
    gomap_config cfg = {.alloc = &a.a};
    gomap *m = mt_new(&gomap_type_u64_u64, 0, &cfg);
    mt_fill_u64(m, 0, 5000);
    CHECK_EQ_I(gomap__finish_grow(m), 0);
    gomap_stats before = mt_stats(m);
    CHECK_EQ_U(before.B, 10);
    gomap_clear(m);
    gomap_stats st = mt_stats(m);
    CHECK_EQ_U(st.count, 0);
    CHECK_EQ_U(gomap_len(m), 0);
    CHECK_EQ_U(st.B, before.B);
    CHECK_EQ_U(st.buckets, before.buckets);
    CHECK(!st.growing);
    CHECK_EQ_U(st.old_buckets, 0);
    CHECK_EQ_U(st.overflow, 0);
    CHECK_EQ_U(st.noverflow, 0);
    CHECK_EQ_U(st.grows, before.grows);
    CHECK(st.bytes <= before.bytes);
    CHECK_EQ_U(st.bytes, a.live_bytes);
    CHECK_MAP(m);
    for (uint64_t i = 0; i < 5000; i++)
        CHECK(gomap_lookup_u64(m, mt_mix(i)) == NULL);
    /* Refilling to the old size needs no grow. */
    mt_fill_u64(m, 0, 5000);
    st = mt_stats(m);
    CHECK_EQ_U(st.grows, before.grows);
    CHECK_EQ_U(st.B, before.B);
    CHECK_MAP(m);
    gomap_clear(m);
    gomap_clear(m); /* twice, and on an empty map */
    CHECK_MAP(m);
    gomap_free(m);
    CHECK_EQ_U(a.live, 0);
}

TEST(map, clear_mid_grow) {
    for (int round = 0; round < 20; round++) {
        mt_alloc a;
        mt_alloc_init(&a);
        gomap_config cfg = {.alloc = &a.a};
        gomap *m = mt_new(&gomap_type_u64_u64, 0, &cfg);
        /* 13 * 2^7 / 2 = 832 entries fit B = 7; the next insert starts a grow to B = 8. */
        mt_fill_u64(m, 0, 833 + (uint64_t)round);
        gomap_stats st = mt_stats(m);
        CHECK_MSG(st.growing, "round %d: expected a grow in progress (B %u)", round, st.B);
        gomap_clear(m);
        st = mt_stats(m);
        CHECK(!st.growing);
        CHECK_EQ_U(st.old_buckets, 0);
        CHECK_EQ_U(st.B, 8);
        CHECK_EQ_U(st.count, 0);
        CHECK_EQ_U(st.bytes, a.live_bytes);
        CHECK_MAP(m);
        mt_fill_u64(m, 0, 500);
        CHECK_EQ_U(gomap_len(m), 500);
        CHECK_MAP(m);
        gomap_free(m);
        CHECK_EQ_U(a.live, 0);
    }
}

/* 3000 rounds: an iterator standing in a preallocated overflow bucket at
 * the clear (the case that once returned a refilled key twice) came up in
 * about 1 run in 70 with 200 rounds. */
TEST(map, clear_during_iteration) {
    mt_rng r = mt_rng_for("clear_iter");
    for (int round = 0; round < (int)mt_scale(3000); round++) {
        gomap *m = mt_new(&gomap_type_u64_u64, 0, NULL);
        size_t n = 1 + mt_below(&r, 1000);
        mt_fill_u64(m, 0, n);
        bool grow_first = mt_next(&r) & 1;
        size_t steps = mt_below(&r, n);
        bool refill = mt_next(&r) & 1;
        gomap_iter it;
        gomap_iter_init(&it, m);
        void *k, *e;
        for (size_t i = 0; i < steps; i++)
            CHECK(gomap_iter_next(&it, &k, &e));
        if (grow_first) /* the iterator now holds an old generation */
            mt_fill_u64(m, n, 2 * n + 20);
        gomap_clear(m);
        CHECK_MAP(m);
        /* Keys inserted after the clear may be returned; cleared ones never. */
        if (refill)
            for (uint64_t i = 0; i < 50; i++) {
                void *slot;
                CHECK_EQ_I(gomap_assign_u64(m, (1ull << 63) | i, &slot), 1);
            }
        uint8_t seen[50] = {0};
        while (gomap_iter_next(&it, &k, &e)) {
            uint64_t v;
            memcpy(&v, k, 8);
            CHECK_MSG(refill && (v >> 63) && (v & ~(1ull << 63)) < 50,
                      "round %d: cleared key %#" PRIx64 " returned after clear", round, v);
            CHECK(!seen[v & 63]);
            seen[v & 63] = 1;
        }
        CHECK_EQ_U(gomap__iter_holds(m), 0);
        CHECK_MAP(m);
        gomap_free(m);
    }
}

/* Out-of-line keys and elements: clear gives their memory back. */
TEST(map, clear_releases_indirect) {
    static const gomap_type t = {.name = "map[[300]byte][140]byte",
                                 .key_size = 300,
                                 .elem_size = 140,
                                 .key_align = 4,
                                 .elem_align = 4,
                                 .kind = GOMAP_KEY_GENERIC};
    mt_alloc a;
    mt_alloc_init(&a);
    gomap_config cfg = {.alloc = &a.a};
    gomap *m = mt_new(&t, 0, &cfg);
    uint8_t kb[300];
    for (uint64_t i = 0; i < 500; i++) {
        mt_key_bytes(i, kb, sizeof kb);
        void *e;
        CHECK_EQ_I(gomap_assign(m, kb, &e), 1);
    }
    CHECK_EQ_I(gomap__finish_grow(m), 0);
    size_t full = a.live_bytes;
    CHECK(full >= 500 * (300 + 140));
    gomap_clear(m);
    gomap_stats st = mt_stats(m);
    CHECK_MSG(a.live_bytes + 500 * (300 + 140) <= full,
              "clear kept out-of-line memory: %zu bytes before, %zu after", full, a.live_bytes);
    CHECK_EQ_U(st.bytes, a.live_bytes);
    CHECK_MAP(m);
    gomap_free(m);
    CHECK_EQ_U(a.live, 0);
}

/* A new hash seed on clear, and when a delete takes the count to 0 (Go reseeds both). */
TEST(map, clear_reseeds) {
    gomap *m = mt_new(&gomap_type_u64_u64, 0, NULL);
    mt_fill_u64(m, 0, 100);
    uint64_t s0 = gomap__seed(m);
    gomap_clear(m);
    uint64_t s1 = gomap__seed(m);
    CHECK_MSG(s0 != s1, "clear kept the hash seed %#" PRIx64, s0);
    mt_fill_u64(m, 0, 3);
    for (uint64_t i = 0; i < 3; i++)
        CHECK_EQ_I(gomap_delete_u64(m, mt_mix(i)), 1);
    uint64_t s2 = gomap__seed(m);
    CHECK_MSG(s2 != s1, "deleting the last key kept the hash seed %#" PRIx64, s1);
    mt_fill_u64(m, 0, 200);
    CHECK_MAP(m);
    for (uint64_t i = 0; i < 200; i++)
        CHECK(gomap_lookup_u64(m, mt_mix(i)) != NULL);
    gomap_free(m);
}
