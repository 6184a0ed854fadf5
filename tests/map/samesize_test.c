/*
 * samesize_test.c — same-size grow under insert/delete churn (Go 1.8's fix
 * for golang/go#16070: overflow buckets piling up at a constant entry count).
 *
 * A custom hash with low entropy in its low bits sends each run of 64
 * consecutive keys to one bucket; a sliding window (insert key i, delete key
 * i-64) keeps the count constant and far below the load factor while it
 * leaves emptied overflow chains behind in every bucket it passes. Go's rule
 * (noverflow >= 2^min(B,15)) must then start same-size grows that compact the
 * chains: same_size_grows > 0, B never changes, the overflow bucket count
 * stays bounded, and the contents stay right. A second test runs random churn
 * with the library's own hash and checks memory stays bounded.
 */
#include "tests/map/maptest.h"

static uint64_t window_hash(const void *k, uint64_t seed) {
    uint64_t v;
    memcpy(&v, k, 8);
    (void)seed;
    /* Low 16 bits: the run of 64 the key belongs to; high bits: well mixed. */
    return (mt_mix(v) & ~0xffffull) | ((v / 64) & 0xffff);
}

TEST(map, samesize_grow_under_churn) {
    static const gomap_type t = {.name = "map[uint64]uint64 (low-entropy hash)",
                                 .key_size = 8,
                                 .elem_size = 8,
                                 .key_align = 8,
                                 .elem_align = 8,
                                 .kind = GOMAP_KEY_GENERIC,
                                 .hash = window_hash};
    const uint64_t W = 64, steps = mt_scale(200000);
    gomap *m = mt_new(&t, 100, NULL); /* B = 4: 16 buckets, room for 104 */
    CHECK_EQ_U(mt_stats(m).B, 4);
    for (uint64_t i = 0; i < W; i++) {
        void *e;
        CHECK_EQ_I(gomap_assign(m, &i, &e), 1);
        memcpy(e, &i, 8);
    }
    size_t max_overflow = 0;
    bool was_growing = false;
    for (uint64_t i = W; i < W + steps; i++) {
        void *e;
        CHECK_EQ_I(gomap_assign(m, &i, &e), 1);
        memcpy(e, &i, 8);
        uint64_t old = i - W;
        CHECK_EQ_I(gomap_delete(m, &old), 1);
        gomap_stats st = mt_stats(m);
        CHECK_EQ_U(st.count, W);
        CHECK_MSG(st.B == 4, "step %" PRIu64 ": B changed to %u under churn at constant size", i,
                  st.B);
        if (st.overflow > max_overflow)
            max_overflow = st.overflow;
        if (st.growing != was_growing || i % 4096 == 0) {
            CHECK_MAP(m);
            if (st.growing)
                CHECK_EQ_U(st.old_buckets, 16);
        }
        was_growing = st.growing;
    }
    gomap_stats st = mt_stats(m);
    printf("churn: %" PRIu64 " steps, %" PRIu64 " same-size grows, max overflow %zu\n", steps,
           st.same_size_grows, max_overflow);
    CHECK_MSG(st.same_size_grows > 0, "no same-size grow after %" PRIu64 " churn steps", steps);
    CHECK_EQ_U(st.grows, st.same_size_grows);
    /*
     * Without same-size grows every run of 64 keys would leave 8 buckets of
     * chain behind (steps / 8 in all); with them the count stays near the
     * 2^B = 16 threshold plus the live chains.
     */
    CHECK_MSG(max_overflow <= 64, "overflow buckets reached %zu", max_overflow);
    for (uint64_t i = W + steps - W; i < W + steps; i++) {
        uint64_t *e = gomap_lookup(m, &i);
        CHECK(e && *e == i);
    }
    uint64_t gone = steps / 2;
    CHECK(gomap_lookup(m, &gone) == NULL);
    CHECK_MAP(m);
    gomap_free(m);
}

/* Random churn at a constant size with the real hash: memory stays bounded. */
TEST(map, samesize_churn_memory_bounded) {
    mt_rng r = mt_rng_for("churn_bounded");
    const size_t n = 5000, steps = mt_scale(400000);
    gomap *m = mt_new(&gomap_type_u64_u64, 0, NULL);
    uint64_t *live = malloc(n * sizeof *live);
    for (size_t i = 0; i < n; i++) {
        live[i] = mt_next(&r);
        void *e;
        CHECK_EQ_I(gomap_assign_u64(m, live[i], &e), 1);
    }
    CHECK_EQ_I(gomap__finish_grow(m), 0);
    gomap_stats st0 = mt_stats(m);
    size_t max_bytes = 0;
    for (size_t s = 0; s < steps; s++) {
        size_t j = mt_below(&r, n);
        CHECK_EQ_I(gomap_delete_u64(m, live[j]), 1);
        live[j] = mt_next(&r);
        void *e;
        CHECK_EQ_I(gomap_assign_u64(m, live[j], &e), 1);
        if (s % 1024 == 0) {
            gomap_stats st = mt_stats(m);
            if (st.bytes > max_bytes)
                max_bytes = st.bytes;
            CHECK_EQ_U(st.count, n);
        }
    }
    gomap_stats st = mt_stats(m);
    printf("random churn: B %u -> %u, bytes %zu -> max %zu, same-size grows %" PRIu64 "\n", st0.B,
           st.B, st0.bytes, max_bytes, st.same_size_grows);
    CHECK_EQ_U(st.B, st0.B);
    CHECK_MSG(max_bytes <= 4 * st0.bytes, "memory grew from %zu to %zu bytes at constant size",
              st0.bytes, max_bytes);
    CHECK_MAP(m);
    for (size_t i = 0; i < n; i++)
        CHECK(gomap_lookup_u64(m, live[i]) != NULL);
    free(live);
    gomap_free(m);
}
