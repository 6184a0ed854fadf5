/*
 * stats_test.c — gomap_get_stats is a consistent picture of the map.
 *
 * Invariants checked op by op over random workloads: count == len,
 * buckets == 2^B, overflow >= noverflow while growing and == noverflow
 * otherwise (below B = 16 Go's counter is exact, and hashGrow resets it),
 * old_buckets is 2^(B-1) for a doubling grow and 2^B for a same-size one,
 * nevacuate stays within old_buckets and only moves forward, bytes equals
 * what the allocator holds. Go's evacuation pace: every write during a grow
 * evacuates at least one old bucket, so a grow ends within old_buckets
 * writes; reads never move it. Bytes at rest grow with B.
 */
#include "tests/map/maptest.h"

static void check_stats(const gomap *m, const mt_alloc *a, const gomap_stats *prev,
                        const char *when) {
    gomap_stats st = mt_stats(m);
    CHECK_MSG(st.count == gomap_len(m), "%s: count %zu, len %zu", when, st.count, gomap_len(m));
    CHECK_MSG(st.buckets == (size_t)1 << st.B, "%s: buckets %zu with B %u", when, st.buckets, st.B);
    if (st.growing) {
        if (st.old_buckets == st.buckets) /* same-size grow */
            CHECK_MSG(st.same_size_grows > 0, "%s: same-size old array, no same-size grow", when);
        else
            CHECK_MSG(st.old_buckets == st.buckets / 2, "%s: growing with old_buckets %zu, B %u",
                      when, st.old_buckets, st.B);
        CHECK_MSG(st.nevacuate < st.old_buckets, "%s: nevacuate %zu of %zu", when, st.nevacuate,
                  st.old_buckets);
        CHECK_MSG(st.overflow >= st.noverflow, "%s: overflow %zu < noverflow %zu", when,
                  st.overflow, st.noverflow);
        if (prev && prev->growing && prev->grows == st.grows)
            CHECK_MSG(st.nevacuate >= prev->nevacuate, "%s: nevacuate went back %zu -> %zu", when,
                      prev->nevacuate, st.nevacuate);
    } else {
        CHECK_MSG(st.old_buckets == 0, "%s: old_buckets %zu while not growing", when,
                  st.old_buckets);
        if (st.B < 16)
            CHECK_MSG(st.overflow == st.noverflow, "%s: overflow %zu, noverflow %zu", when,
                      st.overflow, st.noverflow);
    }
    CHECK_MSG(st.same_size_grows <= st.grows, "%s: same-size grows %" PRIu64 " > grows %" PRIu64,
              when, st.same_size_grows, st.grows);
    if (a)
        CHECK_MSG(st.bytes == a->live_bytes, "%s: bytes %zu, allocator %zu", when, st.bytes,
                  a->live_bytes);
}

static uint64_t weak(const void *k, uint64_t seed) {
    uint64_t v;
    memcpy(&v, k, 8);
    return mt_mix(v ^ seed) & 0xff0000000000000full;
}

TEST(map, stats_invariants_random_workload) {
    static const gomap_type weak_t = {
        .name = "weak", .key_size = 8, .elem_size = 8, .kind = GOMAP_KEY_GENERIC, .hash = weak};
    const gomap_type *types[] = {&gomap_type_u64_u64, &weak_t};
    mt_rng r = mt_rng_for("stats_random");
    for (int ti = 0; ti < 2; ti++) {
        mt_alloc a;
        mt_alloc_init(&a);
        gomap_config cfg = {.alloc = &a.a};
        gomap *m = mt_new(types[ti], 0, &cfg);
        gomap_stats prev = mt_stats(m);
        check_stats(m, &a, NULL, "new");
        const size_t steps = mt_scale(60000), R = 3000;
        for (size_t s = 0; s < steps; s++) {
            uint64_t k = mt_below(&r, R);
            unsigned p = (unsigned)mt_below(&r, 100);
            unsigned grow_bias = (s / 5000) % 2 ? 40 : 65;
            void *e;
            if (p < grow_bias)
                CHECK(gomap_assign(m, &k, &e) >= 0);
            else if (p < 97)
                CHECK(gomap_delete(m, &k) >= 0);
            else if (p < 99)
                gomap_lookup(m, &k);
            else if (mt_below(&r, 50) == 0)
                gomap_clear(m);
            char when[64];
            snprintf(when, sizeof when, "type %d step %zu", ti, s);
            check_stats(m, &a, &prev, when);
            prev = mt_stats(m);
        }
        gomap_stats st = mt_stats(m);
        printf("type %d: B %u grows %" PRIu64 " same-size %" PRIu64 " overflow %zu\n", ti, st.B,
               st.grows, st.same_size_grows, st.overflow);
        CHECK(st.grows > 0);
        gomap_free(m);
        CHECK_EQ_U(a.live, 0);
    }
}

TEST(map, stats_evacuation_pace) {
    mt_rng r = mt_rng_for("evac_pace");
    /* From B = 2: a grow from 2 old buckets ends in its own insert (growWork does 2). */
    for (unsigned B = 2; B <= 12; B++) {
        gomap *m = mt_new(&gomap_type_u64_u64, 0, NULL);
        size_t trigger = 13 * (((size_t)1 << B) / 2) + 1; /* the insert that grows to B+1 */
        mt_fill_u64(m, 0, trigger);
        gomap_stats st = mt_stats(m);
        CHECK_MSG(st.growing && st.B == B + 1, "B=%u: after %zu inserts growing=%d B=%u", B,
                  trigger, st.growing, st.B);
        CHECK_EQ_U(st.old_buckets, (size_t)1 << B);
        /* Reads do not move evacuation (Go: it advances only on writes). */
        for (int i = 0; i < 1000; i++)
            CHECK(gomap_lookup_u64(m, mt_mix(mt_below(&r, trigger))) != NULL);
        gomap_stats st2 = mt_stats(m);
        CHECK_EQ_U(st2.nevacuate, st.nevacuate);
        CHECK(st2.growing);
        /* Updates of existing keys are writes: at least one old bucket each. */
        size_t writes = 0;
        while (mt_stats(m).growing) {
            void *e;
            CHECK_EQ_I(gomap_assign_u64(m, mt_mix(mt_below(&r, trigger)), &e), 0);
            writes++;
            CHECK_MSG(writes <= st.old_buckets, "B=%u: still growing after %zu writes (%zu old)", B,
                      writes, st.old_buckets);
        }
        CHECK_MAP(m);
        st = mt_stats(m);
        CHECK_EQ_U(st.old_buckets, 0);
        CHECK_EQ_U(st.grows, B + 1);
        gomap_free(m);
    }
}

TEST(map, stats_bytes_grow_with_B) {
    mt_alloc a;
    mt_alloc_init(&a);
    gomap_config cfg = {.alloc = &a.a};
    gomap *m = mt_new(&gomap_type_u64_u64, 0, &cfg);
    size_t last_bytes = mt_stats(m).bytes;
    unsigned last_B = 0;
    size_t peak_growing = 0;
    for (uint64_t i = 0; i < 50000; i++) {
        mt_fill_u64(m, i, i + 1);
        gomap_stats st = mt_stats(m);
        if (st.growing) {
            /* Old and new arrays are both held: at least 1.5x the new array. */
            size_t floor = ((size_t)144 << st.B) + ((size_t)144 << (st.B - 1));
            CHECK_MSG(st.bytes >= floor, "B=%u growing: %zu bytes < %zu", st.B, st.bytes, floor);
            if (st.bytes > peak_growing)
                peak_growing = st.bytes;
            continue;
        }
        CHECK_MSG(st.bytes >= last_bytes, "insert #%" PRIu64 ": bytes fell from %zu to %zu", i + 1,
                  last_bytes, st.bytes);
        CHECK_MSG(st.bytes >= ((size_t)144 << st.B), "B=%u: %zu bytes", st.B, st.bytes);
        if (st.B > last_B && last_B > 0)
            CHECK(st.bytes > last_bytes);
        last_B = st.B;
        last_bytes = st.bytes;
        CHECK_EQ_U(st.bytes, a.live_bytes);
    }
    CHECK(peak_growing > last_bytes / 2);
    CHECK_EQ_U(a.peak_bytes >= peak_growing, 1);
    gomap_free(m);
}
