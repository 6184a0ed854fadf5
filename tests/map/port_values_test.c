/*
 * port_values_test.c — Go's map_test.go scenarios about what a map stores.
 *
 * - big keys and elements (> 128 bytes are stored out of line): the map keeps
 *   its own copy of the key, the element it hands out is the one a lookup
 *   and an iteration return, and the 128/129-byte boundary behaves the same;
 * - a set (0-byte elements): presence must still be visible through lookup;
 * - custom hash/equal on the generic path: keys that are equal without being
 *   bytewise equal (case-insensitive names; structs whose padding differs);
 * - non-reflexive keys (k != k, Go's NaN), via a custom equal: every assign
 *   adds an entry, lookup and delete never find one, iteration and clear see
 *   them all, also while iterating across a grow (TestGrowWithNaN);
 * - many small maps alive at once; operations on empty and NULL maps;
 *   gomap_new rejecting malformed types.
 */
#include "tests/map/maptest.h"

#include <strings.h>

static gomap_type generic(const char *name, uint32_t ks, uint32_t es, uint32_t ka, uint32_t ea) {
    gomap_type t = {.name = name,
                    .key_size = ks,
                    .elem_size = es,
                    .key_align = ka,
                    .elem_align = ea,
                    .kind = GOMAP_KEY_GENERIC};
    return t;
}

/* TestBigItems and the inline/indirect boundary, for keys and for elements. */
TEST(map, port_big_keys_and_elems) {
    static const uint32_t sizes[][2] = {{256, 256}, {128, 128}, {129, 129}, {128, 129},
                                        {129, 128}, {8, 256},   {256, 8},   {200, 0}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint32_t ks = sizes[s][0], es = sizes[s][1];
        gomap_type t = generic("big", ks, es, 8, es ? 8 : 0);
        mt_alloc a;
        mt_alloc_init(&a);
        gomap_config cfg = {.alloc = &a.a, .seed = 99};
        gomap *m = NULL;
        int rc = gomap_new(&t, 0, &cfg, &m);
        CHECK_MSG(rc == 0, "gomap_new(key %u, elem %u bytes, align 8) = %d", ks, es, rc);
        const size_t n = 300;
        uint8_t kb[256], eb[256];
        for (uint64_t i = 0; i < n; i++) {
            mt_key_bytes(i, kb, ks);
            void *e;
            CHECK_EQ_I(gomap_assign(m, kb, &e), 1);
            mt_elem_bytes(i, 1, eb, es);
            memcpy(e, eb, es);
            memset(kb, 0xEE, sizeof kb); /* the map must have copied the key */
        }
        CHECK_MAP(m);
        /* Writing through a looked-up element changes the stored element. */
        for (uint64_t i = 0; i < n; i += 3) {
            mt_key_bytes(i, kb, ks);
            void *e = gomap_lookup(m, kb);
            CHECK(e != NULL);
            CHECK(mt_elem_ok(i, 1, e, es));
            mt_elem_bytes(i, 2, eb, es);
            memcpy(e, eb, es);
        }
        uint8_t seen[300] = {0};
        gomap_iter it;
        gomap_iter_init(&it, m);
        void *k, *e;
        size_t cnt = 0;
        while (gomap_iter_next(&it, &k, &e)) {
            uint64_t id;
            CHECK_MSG(mt_key_id(k, ks, &id) && id < n, "%u/%u: corrupt key from iteration", ks, es);
            CHECK(!seen[id]);
            seen[id] = 1;
            cnt++;
            CHECK_MSG(mt_elem_ok(id, id % 3 == 0 ? 2 : 1, e, es), "%u/%u: element of %" PRIu64, ks,
                      es, id);
            CHECK_EQ_U((uintptr_t)k % 8, 0);
        }
        CHECK_EQ_U(cnt, n);
        for (uint64_t i = 0; i < n; i += 2) {
            mt_key_bytes(i, kb, ks);
            CHECK_EQ_I(gomap_delete(m, kb), 1);
            CHECK(gomap_lookup(m, kb) == NULL);
        }
        gomap_stats st = mt_stats(m);
        CHECK_EQ_U(st.count, n / 2);
        /* Out-of-line keys and elements are counted in bytes. */
        size_t per = (ks > 128 ? ks : 0) + (es > 128 ? es : 0);
        CHECK_MSG(st.bytes >= st.count * per, "%u/%u: bytes %zu < %zu entries * %zu", ks, es,
                  st.bytes, st.count, per);
        CHECK_EQ_U(st.bytes, a.live_bytes);
        CHECK_MAP(m);
        gomap_free(m);
        CHECK_EQ_U(a.live, 0);
    }
}

/* map[uint64]struct{}: a present key must still be told from an absent one. */
TEST(map, port_zero_size_elems) {
    gomap_type t = generic("map[uint64]struct{}", 8, 0, 8, 0);
    gomap *m = mt_new(&t, 0, NULL);
    for (uint64_t i = 0; i < 2000; i += 2) {
        void *e = NULL;
        CHECK_EQ_I(gomap_assign(m, &i, &e), 1);
        CHECK_EQ_I(gomap_assign(m, &i, &e), 0);
    }
    CHECK_EQ_U(gomap_len(m), 1000);
    for (uint64_t i = 0; i < 2000; i++)
        CHECK_MSG((gomap_lookup(m, &i) != NULL) == (i % 2 == 0), "set membership of %" PRIu64, i);
    size_t cnt = 0;
    gomap_iter it;
    gomap_iter_init(&it, m);
    void *k, *e;
    while (gomap_iter_next(&it, &k, &e)) {
        uint64_t v;
        memcpy(&v, k, 8);
        CHECK(v % 2 == 0 && v < 2000);
        cnt++;
    }
    CHECK_EQ_U(cnt, 1000);
    CHECK_MAP(m);
    gomap_free(m);
}

/* Case-insensitive names: equal keys with different bytes. */
typedef struct name16 {
    char s[16];
} name16;

static uint64_t name_hash(const void *k, uint64_t seed) {
    const name16 *n = k;
    uint64_t h = seed ^ 0xcbf29ce484222325ull;
    for (int i = 0; i < 16 && n->s[i]; i++) {
        char c = n->s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        h = (h ^ (uint8_t)c) * 0x100000001b3ull;
    }
    return mt_mix(h);
}

static bool name_eq(const void *a, const void *b) {
    return strncasecmp(((const name16 *)a)->s, ((const name16 *)b)->s, 16) == 0;
}

/* A padded struct: equality ignores the padding, so the hash must too. */
typedef struct padded {
    uint32_t a;
    uint8_t b;
    uint8_t pad[3];
} padded;

static uint64_t padded_hash(const void *k, uint64_t seed) {
    const padded *p = k;
    return mt_mix(seed ^ ((uint64_t)p->a << 8 | p->b));
}

static bool padded_eq(const void *x, const void *y) {
    const padded *p = x, *q = y;
    return p->a == q->a && p->b == q->b;
}

TEST(map, port_custom_hash_equal) {
    gomap_type t = generic("map[name]int", 16, 8, 1, 8);
    t.hash = name_hash;
    t.equal = name_eq;
    gomap *m = mt_new(&t, 0, NULL);
    mt_rng r = mt_rng_for("custom_names");
    for (uint64_t i = 0; i < 1500; i++) {
        name16 n = {{0}};
        snprintf(n.s, sizeof n.s, "name%05" PRIu64, i);
        void *e;
        CHECK_EQ_I(gomap_assign(m, &n, &e), 1);
        memcpy(e, &i, 8);
    }
    for (uint64_t i = 0; i < 1500; i++) {
        name16 n = {{0}};
        snprintf(n.s, sizeof n.s, "NAME%05" PRIu64, i);
        for (int j = 0; j < 4; j++) /* random case */
            if (mt_next(&r) & 1)
                n.s[j] = (char)(n.s[j] - 'A' + 'a');
        uint64_t *e = gomap_lookup(m, &n);
        CHECK_MSG(e && *e == i, "lookup(%s) failed", n.s);
        void *slot;
        CHECK_EQ_I(gomap_assign(m, &n, &slot), 0);
        CHECK(slot == e);
    }
    CHECK_EQ_U(gomap_len(m), 1500);
    name16 up = {"NAME00007"};
    CHECK_EQ_I(gomap_delete(m, &up), 1);
    name16 low = {"name00007"};
    CHECK(gomap_lookup(m, &low) == NULL);
    CHECK_MAP(m);
    gomap_free(m);

    gomap_type pt = generic("map[padded]int", sizeof(padded), 8, 4, 8);
    pt.hash = padded_hash;
    pt.equal = padded_eq;
    m = mt_new(&pt, 0, NULL);
    for (uint32_t i = 0; i < 1000; i++) {
        padded p = {i * 7, (uint8_t)i, {(uint8_t)mt_next(&r), 1, 2}};
        void *e;
        CHECK_EQ_I(gomap_assign(m, &p, &e), 1);
        memcpy(e, &p.a, 4);
    }
    for (uint32_t i = 0; i < 1000; i++) {
        padded p = {i * 7, (uint8_t)i, {(uint8_t)mt_next(&r), 9, 9}};
        uint32_t *e = gomap_lookup(m, &p);
        CHECK_MSG(e && *e == i * 7, "padded key %u not found with other padding", i);
    }
    CHECK_MAP(m);
    gomap_free(m);
}

/* Non-reflexive keys: all-ones payloads compare unequal even to themselves. */
static bool nan_key(uint64_t v) {
    return (v >> 52) == 0xfff;
}

static bool nan_eq(const void *a, const void *b) {
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    return x == y && !nan_key(x);
}

static uint64_t nan_hash(const void *k, uint64_t seed) {
    uint64_t v;
    memcpy(&v, k, 8);
    return mt_mix(v ^ seed);
}

TEST(map, port_nonreflexive_keys) {
    gomap_type t = generic("map[float64]int (NaN)", 8, 8, 8, 8);
    t.hash = nan_hash;
    t.equal = nan_eq;
    mt_rng r = mt_rng_for("nan");
    for (int round = 0; round < (int)mt_scale(50); round++) {
        gomap *m = mt_new(&t, 0, NULL);
        const uint64_t nan = 0xfff8000000000001ull;
        uint64_t want_sum = 0;
        for (uint64_t i = 1; i <= 3; i++) {
            void *e;
            CHECK_EQ_I(gomap_assign(m, &nan, &e), 1); /* a new entry every time */
            memcpy(e, &i, 8);
            want_sum += i;
        }
        CHECK_EQ_U(gomap_len(m), 3);
        CHECK(gomap_lookup(m, &nan) == NULL);
        CHECK_EQ_I(gomap_delete(m, &nan), 0);
        CHECK_EQ_U(gomap_len(m), 3);
        for (uint64_t i = 0; i < 5; i++) {
            void *e;
            CHECK_EQ_I(gomap_assign(m, &i, &e), 1);
            memset(e, 0, 8);
        }
        /* TestGrowWithNaN: grow while ranging; all three NaNs still come out. */
        uint64_t nans = 0, sum = 0;
        bool grown = false;
        gomap_iter it;
        gomap_iter_init(&it, m);
        void *k, *e;
        while (gomap_iter_next(&it, &k, &e)) {
            uint64_t v, ev;
            memcpy(&v, k, 8);
            memcpy(&ev, e, 8);
            if (nan_key(v)) {
                nans++;
                sum += ev;
            }
            if (!grown) {
                for (int j = 0; j < 200; j++) {
                    uint64_t x = 1000 + mt_below(&r, 1u << 30);
                    void *slot;
                    CHECK(gomap_assign(m, &x, &slot) >= 0);
                }
                grown = true;
            }
        }
        CHECK_MSG(nans == 3 && sum == want_sum,
                  "round %d: iteration across a grow returned %" PRIu64 " NaN keys (sum %" PRIu64
                  "), want 3 (sum %" PRIu64 ")",
                  round, nans, sum, want_sum);
        CHECK_MAP(m);
        gomap_clear(m);
        CHECK_EQ_U(gomap_len(m), 0);
        gomap_iter_init(&it, m);
        CHECK(!gomap_iter_next(&it, &k, &e));
        CHECK_MAP(m);
        gomap_free(m);
    }
}

/* Many small maps alive at once; a small empty map allocates only its header. */
TEST(map, port_many_small_maps) {
    const size_t n = mt_scale(20000);
    mt_alloc a;
    mt_alloc_init(&a);
    gomap_config cfg = {.alloc = &a.a};
    gomap **maps = calloc(n, sizeof *maps);
    for (size_t i = 0; i < n; i++) {
        size_t before = a.nalloc;
        maps[i] = mt_new(i % 3 ? &gomap_type_u64_u64 : &gomap_type_str_u64, i % 9, &cfg);
        CHECK_MSG(a.nalloc - before == 1, "gomap_new(hint %zu) made %zu allocations, want 1", i % 9,
                  a.nalloc - before);
        for (uint64_t j = 0; j < i % 10; j++) {
            void *e;
            if (i % 3)
                CHECK_EQ_I(gomap_assign_u64(maps[i], j * 1000 + i, &e), 1);
            else
                CHECK_EQ_I(gomap_assign_str(maps[i], "0123456789", j, &e), 1);
            memcpy(e, &i, 8);
        }
    }
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ_U(gomap_len(maps[i]), i % 10);
        for (uint64_t j = 0; j < i % 10; j++) {
            uint64_t *e = i % 3 ? gomap_lookup_u64(maps[i], j * 1000 + i)
                                : gomap_lookup_str(maps[i], "0123456789", j);
            CHECK(e && *e == i);
        }
        CHECK(i % 3 == 0 || !gomap_lookup_u64(maps[i], 999999));
        if (i % 97 == 0)
            CHECK_MAP(maps[i]);
        gomap_free(maps[i]);
    }
    CHECK_EQ_U(a.live, 0);
    free(maps);
}

/* Every operation on a new, an emptied, and a NULL map. */
TEST(map, port_empty_map_ops) {
    gomap *m = mt_new(&gomap_type_u64_u64, 0, NULL);
    CHECK(gomap_get_type(m) == &gomap_type_u64_u64);
    for (int pass = 0; pass < 3; pass++) {
        CHECK_EQ_U(gomap_len(m), 0);
        CHECK(gomap_lookup_u64(m, 0) == NULL);
        uint64_t k0 = 42;
        CHECK(gomap_lookup(m, &k0) == NULL);
        CHECK_EQ_I(gomap_delete_u64(m, 1), 0);
        CHECK_EQ_I(gomap_delete(m, &k0), 0);
        gomap_iter it;
        gomap_iter_init(&it, m);
        void *k = NULL, *e = NULL;
        CHECK(!gomap_iter_next(&it, &k, &e));
        gomap_clear(m);
        CHECK_EQ_U(gomap_len(m), 0);
        CHECK_EQ_U(gomap__iter_holds(m), 0);
        CHECK_MAP(m);
        if (pass == 0) { /* emptied by deletes after a grow */
            mt_fill_u64(m, 0, 100);
            for (uint64_t i = 0; i < 100; i++)
                CHECK_EQ_I(gomap_delete_u64(m, mt_mix(i)), 1);
        } else if (pass == 1) { /* emptied by clear */
            mt_fill_u64(m, 0, 100);
            gomap_clear(m);
        }
    }
    gomap_free(m);
    /* The string map with the empty string as a key. */
    m = mt_new(&gomap_type_str_u64, 0, NULL);
    CHECK(gomap_lookup_str(m, "", 0) == NULL);
    void *e;
    CHECK_EQ_I(gomap_assign_str(m, "", 0, &e), 1);
    CHECK(gomap_lookup_str(m, "x", 0) == e); /* length 0: same key */
    CHECK(gomap_lookup_str(m, "x", 1) == NULL);
    CHECK_EQ_I(gomap_delete_str(m, "y", 0), 1);
    gomap_free(m);
    /* NULL maps. */
    CHECK_EQ_U(gomap_len(NULL), 0);
    gomap_free(NULL);
    CHECK_EQ_I(gomap__check(NULL, NULL, 0), 0);
}

/* Go's empty string may have a nil data pointer; (NULL, 0) is the empty key. */
TEST(map, port_empty_string_null_pointer) {
    gomap *m = mt_new(&gomap_type_str_u64, 0, NULL);
    void *e;
    CHECK_EQ_I(gomap_assign_str(m, "", 0, &e), 1);
    CHECK(gomap_lookup_str(m, NULL, 0) == e);
    void *slot;
    CHECK_EQ_I(gomap_assign_str(m, NULL, 0, &slot), 0);
    CHECK_EQ_I(gomap_delete_str(m, NULL, 0), 1);
    CHECK(gomap_lookup_str(m, NULL, 0) == NULL);
    CHECK_MAP(m);
    gomap_free(m);
}

TEST(map, port_new_rejects_bad_types) {
    gomap_type bad[] = {
        generic("key_align 3", 8, 8, 3, 8),          generic("key_align 16", 16, 8, 16, 8),
        generic("elem_align 6", 8, 12, 8, 6),        generic("elem_align 32", 8, 32, 8, 32),
        generic("u64 kind, 4-byte key", 4, 8, 4, 8),
    };
    bad[4].kind = GOMAP_KEY_U64;
    gomap_type s = generic("str kind, 8-byte key", 8, 8, 8, 8);
    s.kind = GOMAP_KEY_STR;
    gomap_type unk = generic("kind 7", 8, 8, 8, 8);
    unk.kind = (enum gomap_key_kind)7;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0] + 2; i++) {
        const gomap_type *t = i < 5 ? &bad[i] : i == 5 ? &s : &unk;
        gomap *m = NULL;
        int rc = gomap_new(t, 0, NULL, &m);
        CHECK_MSG(rc == -EINVAL, "gomap_new(%s) = %d, want -EINVAL", t->name, rc);
    }
    gomap *m = NULL;
    CHECK_EQ_I(gomap_new(NULL, 0, NULL, &m), -EINVAL);
    /* The fast kinds hand out inline element slots: no element > 128 B. */
    gomap_type big = generic("u64 kind, 200-byte element", 8, 200, 8, 8);
    big.kind = GOMAP_KEY_U64;
    CHECK_EQ_I(gomap_new(&big, 0, NULL, &m), -EINVAL);
    big.kind = GOMAP_KEY_STR;
    big.key_size = sizeof(gomap_str);
    CHECK_EQ_I(gomap_new(&big, 0, NULL, &m), -EINVAL);
    big.elem_size = 128; /* the largest inline element */
    CHECK_EQ_I(gomap_new(&big, 0, NULL, &m), 0);
    gomap_free(m);
}
