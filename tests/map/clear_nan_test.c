/*
 * clear_nan_test.c — an iterator that outlived a completed grow walks the
 * retired array, where keys that cannot be looked up again (NaN: k != k)
 * are returned as they are; gomap_clear must stop it from returning them
 * (the map fuzzer found cleared NaN keys coming back).
 */
#include "tests/map/maptest.h"

#include <math.h>

static uint64_t f64_hash(const void *k, uint64_t seed) {
    double d;
    memcpy(&d, k, 8);
    if (d == 0)
        d = 0; /* +0 and -0 are equal keys */
    if (isnan(d))
        return seed ^ 0x5555; /* Go hashes NaN randomly; any value works */
    return gomap_hash_bytes(&d, 8, seed);
}

static bool f64_equal(const void *a, const void *b) {
    double x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    return x == y;
}

TEST(map, clear_stops_iterator_on_retired_array) {
    static const gomap_type t = {.name = "map[float64]float64",
                                 .key_size = 8,
                                 .elem_size = 8,
                                 .hash = f64_hash,
                                 .equal = f64_equal};
    for (int round = 0; round < 50; round++) {
        gomap *m = mt_new(&t, 0, NULL);
        void *e;
        double nanv = nan("");
        for (int i = 0; i < 3; i++)
            CHECK_EQ_I(gomap_assign(m, &nanv, &e), 1);
        for (int i = 0; i < 20; i++) {
            double d = i;
            CHECK(gomap_assign(m, &d, &e) >= 0);
        }
        gomap__finish_grow(m);
        gomap_iter it;
        void *k;
        gomap_iter_init(&it, m);
        CHECK(gomap_iter_next(&it, &k, &e));
        for (int i = 20; i < 200; i++) { /* the iterator's array is retired */
            double d = i;
            CHECK(gomap_assign(m, &d, &e) >= 0);
        }
        gomap__finish_grow(m);
        gomap_clear(m);
        CHECK_MAP(m);
        int returned = 0;
        while (gomap_iter_next(&it, &k, &e))
            returned++;
        CHECK_MSG(returned == 0, "round %d: %d keys returned after clear", round, returned);
        gomap_free(m);
    }
}
