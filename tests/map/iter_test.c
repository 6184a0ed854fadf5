/*
 * iter_test.c — properties of gomap_iter beyond the Go ports.
 *
 * - Random order: like Go, each iteration starts at a random bucket and slot
 *   offset, so repeated iterations over the same map differ (checked
 *   statistically, with failure odds far below 1e-9).
 * - Release: an iterator that ends (false from iter_next) or is stopped
 *   (iter_done) drops its hold on old bucket arrays; the memory comes back.
 * - Many iterators at once, interleaved, each seeing every key once.
 * - A model-checked random walk: iterations that start mid-grow, with random
 *   inserts, deletes and updates between iter_next calls. Every returned key
 *   is present at that moment with its current element, none twice, and
 *   every key present throughout is returned.
 */
#include "tests/map/maptest.h"

static uint64_t first_key(gomap *m) {
    gomap_iter it;
    gomap_iter_init(&it, m);
    void *k, *e;
    CHECK(gomap_iter_next(&it, &k, &e));
    uint64_t v;
    memcpy(&v, k, 8);
    gomap_iter_done(&it);
    return v;
}

TEST(map, iter_order_is_random) {
    static const size_t sizes[] = {3, 7, 8, 9, 20, 100, 1000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        gomap_config cfg = {.seed = 0}; /* random seeds, as in production */
        gomap *m = mt_new(&gomap_type_u64_u64, 0, &cfg);
        mt_fill_u64(m, 0, n);
        /* The first key over 400 iterations: at least min(n, 3) distinct values. */
        uint64_t firsts[8];
        size_t nf = 0;
        for (int i = 0; i < 400 && nf < 3; i++) {
            uint64_t f = first_key(m);
            bool dup = false;
            for (size_t j = 0; j < nf; j++)
                dup |= firsts[j] == f;
            if (!dup)
                firsts[nf++] = f;
        }
        CHECK_MSG(nf >= (n < 3 ? n : 3), "n=%zu: 400 iterations all started with %zu key(s)", n,
                  nf);
        /* Full orders: two iterations in a row rarely agree; 50 all equal is impossible. */
        uint64_t *o1 = calloc(n, 8), *o2 = calloc(n, 8);
        bool differ = false;
        for (int round = 0; round < 50 && !differ; round++) {
            uint64_t *o = round == 0 ? o1 : o2;
            gomap_iter it;
            gomap_iter_init(&it, m);
            void *k, *e;
            size_t i = 0;
            while (gomap_iter_next(&it, &k, &e))
                memcpy(&o[i++], k, 8);
            CHECK_EQ_U(i, n);
            if (round > 0)
                differ = memcmp(o1, o2, n * 8) != 0;
        }
        CHECK_MSG(differ, "n=%zu: 50 iterations returned the same order", n);
        free(o1);
        free(o2);
        gomap_free(m);
    }
    /* With a single bucket (n <= 8) the start slot alone varies: all 8 starts occur. */
    gomap *m = mt_new(&gomap_type_u64_u64, 0, NULL);
    mt_fill_u64(m, 0, 8);
    uint8_t hit[8] = {0};
    for (int i = 0; i < 2000; i++) {
        uint64_t f = first_key(m);
        for (uint64_t j = 0; j < 8; j++)
            if (f == mt_mix(j))
                hit[j] = 1;
    }
    for (int j = 0; j < 8; j++)
        CHECK_MSG(hit[j], "key %d of a full one-bucket map never came first in 2000 iterations", j);
    gomap_free(m);
}

TEST(map, iter_release_old_arrays) {
    for (int how = 0; how < 2; how++) { /* 0: iter_done early; 1: run to the end */
        mt_alloc a;
        mt_alloc_init(&a);
        gomap_config cfg = {.alloc = &a.a};
        gomap *m = mt_new(&gomap_type_u64_u64, 0, &cfg);
        mt_fill_u64(m, 0, 100);
        CHECK_EQ_I(gomap__finish_grow(m), 0);
        gomap_iter it;
        gomap_iter_init(&it, m);
        void *k, *e;
        CHECK(gomap_iter_next(&it, &k, &e));
        /* Two whole grows under the iterator: old generations it may still read. */
        mt_fill_u64(m, 100, 500);
        CHECK_EQ_I(gomap__finish_grow(m), 0);
        CHECK_MSG(gomap__iter_holds(m) >= 1, "a live iterator across grows holds nothing");
        gomap_stats st = mt_stats(m);
        CHECK(!st.growing);
        CHECK_EQ_U(st.bytes, a.live_bytes);
        size_t held = a.live_bytes;
        if (how == 0) {
            gomap_iter_done(&it);
        } else {
            size_t n = 1;
            while (gomap_iter_next(&it, &k, &e))
                n++;
            CHECK(n >= 100);
        }
        CHECK_EQ_U(gomap__iter_holds(m), 0);
        CHECK_MSG(a.live_bytes < held, "ending the iterator released nothing (%zu bytes held)",
                  held);
        st = mt_stats(m);
        CHECK_EQ_U(st.bytes, a.live_bytes);
        CHECK_MAP(m);
        gomap_free(m);
        CHECK_EQ_U(a.live, 0);
    }
}

TEST(map, iter_many_at_once) {
    const size_t n = 3000, nit = 64;
    gomap *m = mt_new(&gomap_type_u64_u64, 0, NULL);
    mt_fill_u64(m, 0, n);
    gomap_iter *its = calloc(nit, sizeof *its);
    uint8_t *seen = calloc(nit * n, 1);
    size_t *cnt = calloc(nit, sizeof *cnt);
    bool *live = calloc(nit, sizeof *live);
    for (size_t i = 0; i < nit; i++) {
        gomap_iter_init(&its[i], m);
        live[i] = true;
    }
    CHECK(gomap__iter_holds(m) <= nit);
    for (size_t left = nit; left > 0;) {
        for (size_t i = 0; i < nit; i++) {
            if (!live[i])
                continue;
            void *k, *e;
            if (!gomap_iter_next(&its[i], &k, &e)) {
                live[i] = false;
                left--;
                continue;
            }
            uint64_t v;
            memcpy(&v, e, 8); /* element = insertion index */
            CHECK(v < n);
            CHECK_MSG(!seen[i * n + v], "iterator %zu returned key #%" PRIu64 " twice", i, v);
            seen[i * n + v] = 1;
            cnt[i]++;
        }
    }
    for (size_t i = 0; i < nit; i++)
        CHECK_EQ_U(cnt[i], n);
    CHECK_EQ_U(gomap__iter_holds(m), 0);
    free(its);
    free(seen);
    free(cnt);
    free(live);
    gomap_free(m);
}

/* The random walk. Keys are u64 ids, elements the id's current version. */
TEST_TIMEOUT(map, iter_random_writes_between_steps, 120) {
    mt_rng r = mt_rng_for("iter_random_writes");
    const size_t R = 4000;
    uint8_t *present = calloc(R, 1), *seen = calloc(R, 1), *touched = calloc(R, 1);
    uint8_t *reborn = calloc(R, 1); /* re-inserted since it was returned */
    uint64_t *ver = calloc(R, 8);
    for (int round = 0; round < (int)mt_scale(300); round++) {
        gomap *m = mt_new(&gomap_type_u64_u64, 0, NULL);
        memset(present, 0, R);
        size_t count = 0;
        /* Fill to a random size; half the time stop right after a grow started. */
        size_t n = 1 + mt_below(&r, R / 2);
        for (uint64_t id = 0; id < R && count < n; id++) {
            if (mt_next(&r) & 1)
                continue;
            void *e;
            CHECK_EQ_I(gomap_assign_u64(m, id, &e), 1);
            memcpy(e, &ver[id], 8);
            present[id] = 1;
            count++;
            if ((round & 1) && mt_stats(m).growing && count > 8)
                break;
        }
        bool mid_grow = mt_stats(m).growing;
        memset(seen, 0, R);
        memset(touched, 0, R);
        memset(reborn, 0, R);
        unsigned wr = (unsigned)mt_below(&r, 4); /* writes per step: 0..3 */
        gomap_iter it;
        gomap_iter_init(&it, m);
        void *k, *e;
        while (gomap_iter_next(&it, &k, &e)) {
            uint64_t id, v;
            memcpy(&id, k, 8);
            memcpy(&v, e, 8);
            CHECK_MSG(id < R, "round %d: corrupt key %" PRIu64, round, id);
            CHECK_MSG(present[id], "round %d%s: key %" PRIu64 " returned while absent", round,
                      mid_grow ? " (mid-grow)" : "", id);
            /* Twice only as a new entry: deleted after it was returned and
             * inserted again (Go: a key created during iteration may or
             * may not be produced). */
            CHECK_MSG(!seen[id] || reborn[id], "round %d%s: key %" PRIu64 " returned twice", round,
                      mid_grow ? " (mid-grow)" : "", id);
            reborn[id] = 0;
            CHECK_MSG(v == ver[id],
                      "round %d: key %" PRIu64 " with version %" PRIu64 ", now %" PRIu64, round, id,
                      v, ver[id]);
            seen[id] = 1;
            for (unsigned w = 0; w < wr; w++) {
                uint64_t x = mt_below(&r, R);
                unsigned op = (unsigned)mt_below(&r, 3);
                if (op == 0 || !present[x]) { /* insert or update */
                    void *slot;
                    int rc = gomap_assign_u64(m, x, &slot);
                    CHECK_EQ_I(rc, present[x] ? 0 : 1);
                    reborn[x] |= !present[x] && seen[x];
                    count += !present[x];
                    present[x] = 1;
                    ver[x]++;
                    memcpy(slot, &ver[x], 8);
                    touched[x] |= 1;
                } else if (op == 1) {
                    CHECK_EQ_I(gomap_delete_u64(m, x), 1);
                    present[x] = 0;
                    count--;
                    touched[x] |= 2;
                } else {
                    void *slot;
                    CHECK_EQ_I(gomap_assign_u64(m, x, &slot), 0);
                    ver[x]++;
                    memcpy(slot, &ver[x], 8);
                }
            }
        }
        /* Present at the start and never inserted or deleted since: returned. */
        for (uint64_t id = 0; id < R; id++)
            if (present[id] && !touched[id])
                CHECK_MSG(seen[id], "round %d%s: key %" PRIu64 " present throughout, not returned",
                          round, mid_grow ? " (mid-grow)" : "", id);
        CHECK_EQ_U(gomap_len(m), count);
        CHECK_EQ_U(gomap__iter_holds(m), 0);
        CHECK_MAP(m);
        gomap_free(m);
    }
    free(present);
    free(seen);
    free(touched);
    free(reborn);
    free(ver);
}
