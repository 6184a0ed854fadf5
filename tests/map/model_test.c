/*
 * model_test.c — random operation sequences checked against a reference.
 *
 * Keys come from a finite universe of ids 0..R-1 and each key's bytes encode
 * its id, so the reference model is just two arrays (present[id], version[id])
 * whose correctness is obvious. Random mixes of assign (new and existing),
 * lookup (present and absent), delete (present and absent), clear, full and
 * abandoned iterations run in phases that grow, churn and shrink the map;
 * after every step len() must match the model and gomap__check() must pass
 * (every step on small runs, periodically on large ones).
 *
 * Key kinds: the uint64 fast path, the string fast path (mixed with the
 * generic entry points on the same maps), and generic keys of sizes 1, 3, 8,
 * 16, 24, 128, 129, 200 with elements of sizes 0, 1, 3, 8, 16, 24, 129, 200
 * and explicit alignments — including a custom hash and a deliberately weak
 * hash that forces long overflow chains and same-size grows.
 * Replay a failure with TEST_SEED=<seed printed by the runner>.
 */
#include "tests/map/maptest.h"

#include <stdio.h>

enum { K_GENERIC, K_U64, K_STR };

typedef struct spec {
    const char *name;
    int kind;
    uint32_t ksz, kalign, esz, ealign;
    gomap_hash_fn hash;
    gomap_equal_fn equal;
} spec;

/* ---- custom hashes for the generic path ----------------------------------- */

static uint64_t load64(const void *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* A good hash for 24-byte keys, independent of the library's. */
static uint64_t hash24(const void *key, uint64_t seed) {
    uint64_t h = seed ^ 0x243f6a8885a308d3ull;
    for (int i = 0; i < 3; i++)
        h = mt_mix(h ^ load64((const char *)key + 8 * i));
    return h;
}

static bool equal24(const void *a, const void *b) {
    return memcmp(a, b, 24) == 0;
}

/* A weak hash for 16-byte keys: only 4 bucket choices, 256 tophash values. */
static uint64_t hash16_weak(const void *key, uint64_t seed) {
    const char *k = key;
    return mt_mix(load64(k) ^ load64(k + 8) ^ seed) & 0xff00000000000003ull;
}

/* ---- string keys ------------------------------------------------------------ */

/* id 0 is the empty string; others are "<id>:" plus id-derived filler. */
static size_t str_for(uint64_t id, char *buf, size_t cap) {
    if (id == 0)
        return 0;
    int n = snprintf(buf, cap, "%" PRIu64 ":", id);
    size_t len = (size_t)n + mt_mix(id) % 30;
    for (size_t i = (size_t)n; i < len && i < cap; i++)
        buf[i] = (char)('a' + mt_mix(id * 131 + i) % 26);
    return len;
}

static bool str_id(gomap_str s, uint64_t *id) {
    if (s.len == 0) {
        *id = 0;
        return true;
    }
    if (s.len >= 64)
        return false;
    char tmp[64];
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = 0;
    char *end;
    uint64_t v = strtoull(tmp, &end, 10);
    if (*end != ':')
        return false;
    char buf[64];
    size_t n = str_for(v, buf, sizeof buf);
    if (n != s.len || memcmp(buf, s.ptr, n) != 0)
        return false;
    *id = v;
    return true;
}

/* ---- the run ---------------------------------------------------------------- */

typedef struct run {
    const spec *sp;
    gomap_type t;
    gomap *m;
    mt_rng r;
    size_t R;
    uint8_t *present;
    uint64_t *ver;
    size_t count;
    char **strs; /* K_STR: the key bytes, kept alive for the map */
    size_t *slen;
    uint8_t kbuf[256], ebuf[256];
    char sbuf[64];
    size_t step;
} run;

static uint64_t u64_key(uint64_t id) {
    return (id << 32) | ((id * 2654435761u) & 0xffffffffu);
}

static bool u64_id(uint64_t key, uint64_t *id) {
    *id = key >> 32;
    return u64_key(*id) == key;
}

/*
 * The key for id in the map's representation. A string key may point to a
 * copy of its bytes for lookups and deletes (the map must compare contents),
 * never for assign: the map keeps the caller's pointer (and Go replaces it on
 * an update too).
 */
static const void *key_of(run *x, uint64_t id, gomap_str *s, uint64_t *u, bool for_assign) {
    switch (x->sp->kind) {
    case K_U64:
        *u = u64_key(id);
        return u;
    case K_STR:
        s->len = x->slen[id];
        s->ptr = x->strs[id];
        if (!for_assign && (mt_next(&x->r) & 1)) { /* equal bytes elsewhere */
            memcpy(x->sbuf, x->strs[id], x->slen[id]);
            s->ptr = x->sbuf;
        }
        return s;
    default:
        mt_key_bytes(id, x->kbuf, x->sp->ksz);
        return x->kbuf;
    }
}

static bool decode_key(const run *x, const void *k, uint64_t *id) {
    switch (x->sp->kind) {
    case K_U64: {
        uint64_t v;
        memcpy(&v, k, 8);
        return u64_id(v, id) && *id < x->R;
    }
    case K_STR: {
        gomap_str s;
        memcpy(&s, k, sizeof s);
        return str_id(s, id) && *id < x->R;
    }
    default:
        return mt_key_id(k, x->sp->ksz, id) && *id < x->R;
    }
}

static size_t esz_of(const run *x) {
    return x->sp->kind == K_GENERIC ? x->sp->esz : 8;
}

static void check_elem(run *x, uint64_t id, const void *e, const char *what) {
    CHECK_MSG(e != NULL, "step %zu: %s(id %" PRIu64 "): no element for a present key", x->step,
              what, id);
    size_t ea = x->sp->kind == K_GENERIC ? x->sp->ealign : 8;
    if (ea)
        CHECK_MSG((uintptr_t)e % ea == 0, "step %zu: element %p not %zu-aligned", x->step, e, ea);
    CHECK_MSG(mt_elem_ok(id, x->ver[id], e, esz_of(x)),
              "step %zu: %s(id %" PRIu64 "): element bytes differ from version %" PRIu64, x->step,
              what, id, x->ver[id]);
}

static void op_assign(run *x, uint64_t id) {
    gomap_str s;
    uint64_t u;
    const void *k = key_of(x, id, &s, &u, true);
    void *e = NULL;
    int rc;
    bool fast = mt_next(&x->r) & 1;
    if (fast && x->sp->kind == K_U64)
        rc = gomap_assign_u64(x->m, u, &e);
    else if (fast && x->sp->kind == K_STR)
        rc = gomap_assign_str(x->m, s.ptr, s.len, &e);
    else
        rc = gomap_assign(x->m, k, &e);
    CHECK_MSG(rc == (x->present[id] ? 0 : 1), "step %zu: assign(id %" PRIu64 ") = %d, want %d",
              x->step, id, rc, x->present[id] ? 0 : 1);
    CHECK(e != NULL);
    size_t ea = x->sp->kind == K_GENERIC ? x->sp->ealign : 8;
    if (ea)
        CHECK_MSG((uintptr_t)e % ea == 0, "step %zu: element %p not %zu-aligned", x->step, e, ea);
    if (rc == 1) {
        /* A new key's element starts zeroed. */
        static const uint8_t zero[256];
        CHECK_MSG(memcmp(e, zero, esz_of(x)) == 0, "step %zu: new element not zeroed", x->step);
        x->present[id] = 1;
        x->count++;
    } else {
        CHECK_MSG(mt_elem_ok(id, x->ver[id], e, esz_of(x)),
                  "step %zu: assign(existing id %" PRIu64 ") returned another element", x->step,
                  id);
    }
    x->ver[id]++;
    mt_elem_bytes(id, x->ver[id], x->ebuf, esz_of(x));
    memcpy(e, x->ebuf, esz_of(x));
}

static void op_lookup(run *x, uint64_t id) {
    gomap_str s;
    uint64_t u;
    const void *k = key_of(x, id, &s, &u, false);
    void *e;
    bool fast = mt_next(&x->r) & 1;
    if (fast && x->sp->kind == K_U64)
        e = gomap_lookup_u64(x->m, u);
    else if (fast && x->sp->kind == K_STR)
        e = gomap_lookup_str(x->m, s.ptr, s.len);
    else
        e = gomap_lookup(x->m, k);
    if (x->present[id])
        check_elem(x, id, e, "lookup");
    else
        CHECK_MSG(e == NULL, "step %zu: lookup(absent id %" PRIu64 ") found %p", x->step, id, e);
}

static void op_delete(run *x, uint64_t id) {
    gomap_str s;
    uint64_t u;
    const void *k = key_of(x, id, &s, &u, false);
    int rc;
    bool fast = mt_next(&x->r) & 1;
    if (fast && x->sp->kind == K_U64)
        rc = gomap_delete_u64(x->m, u);
    else if (fast && x->sp->kind == K_STR)
        rc = gomap_delete_str(x->m, s.ptr, s.len);
    else
        rc = gomap_delete(x->m, k);
    CHECK_MSG(rc == (x->present[id] ? 1 : 0), "step %zu: delete(id %" PRIu64 ") = %d, want %d",
              x->step, id, rc, x->present[id] ? 1 : 0);
    if (x->present[id]) {
        x->present[id] = 0;
        x->count--;
    }
}

/* Iterate (all the way, or stop early); every present key exactly once. */
static void op_iterate(run *x, bool partial) {
    uint8_t *seen = calloc(x->R, 1);
    gomap_iter it;
    gomap_iter_init(&it, x->m);
    void *k, *e;
    size_t n = 0, stop = partial ? (size_t)mt_below(&x->r, x->count + 1) : SIZE_MAX;
    bool ended = false;
    while (n < stop) {
        if (!gomap_iter_next(&it, &k, &e)) {
            ended = true;
            break;
        }
        uint64_t id;
        CHECK_MSG(k && decode_key(x, k, &id), "step %zu: iteration returned a corrupt key",
                  x->step);
        CHECK_MSG(x->present[id], "step %zu: iteration returned absent id %" PRIu64, x->step, id);
        CHECK_MSG(!seen[id], "step %zu: iteration returned id %" PRIu64 " twice", x->step, id);
        size_t ka = x->sp->kind == K_GENERIC ? x->sp->kalign : 8;
        if (ka)
            CHECK_MSG((uintptr_t)k % ka == 0, "step %zu: key %p not %zu-aligned", x->step, k, ka);
        seen[id] = 1;
        check_elem(x, id, e, "iterate");
        n++;
    }
    if (!ended)
        gomap_iter_done(&it);
    else
        CHECK_MSG(n == x->count, "step %zu: iteration returned %zu keys, map has %zu", x->step, n,
                  x->count);
    free(seen);
}

static void op_clear(run *x) {
    gomap_clear(x->m);
    memset(x->present, 0, x->R);
    x->count = 0;
}

static void model_run(const spec *sp, size_t R, size_t steps, size_t check_every) {
    run x;
    memset(&x, 0, sizeof x);
    x.sp = sp;
    x.R = R;
    x.r = mt_rng_for(sp->name);
    x.r.s ^= R * 0x9e37u + steps;
    x.present = calloc(R, 1);
    x.ver = calloc(R, sizeof *x.ver);
    const gomap_type *t = &x.t;
    if (sp->kind == K_U64) {
        t = &gomap_type_u64_u64;
    } else if (sp->kind == K_STR) {
        t = &gomap_type_str_u64;
        x.strs = calloc(R, sizeof *x.strs);
        x.slen = calloc(R, sizeof *x.slen);
        for (size_t i = 0; i < R; i++) {
            x.strs[i] = malloc(64);
            x.slen[i] = str_for(i, x.strs[i], 64);
        }
    } else {
        x.t = (gomap_type){.name = sp->name,
                           .key_size = sp->ksz,
                           .elem_size = sp->esz,
                           .key_align = sp->kalign,
                           .elem_align = sp->ealign,
                           .kind = GOMAP_KEY_GENERIC,
                           .hash = sp->hash,
                           .equal = sp->equal};
    }
    gomap_config cfg = {.seed = mt_next(&x.r) | 1};
    bool hinted = mt_next(&x.r) & 1;
    size_t hint = hinted ? (size_t)mt_below(&x.r, R) : 0;
    CHECK_EQ_I(gomap_new(t, hint, (mt_next(&x.r) & 1) ? &cfg : NULL, &x.m), 0);
    printf("%s: R=%zu steps=%zu hint=%zu\n", sp->name, R, steps, hint);

    /* Phases of 1/8 of the run: insert-heavy, balanced, delete-heavy. */
    static const unsigned assign_pct[] = {70, 50, 30, 60, 45, 25, 80, 40};
    for (x.step = 0; x.step < steps; x.step++) {
        unsigned pa = assign_pct[(x.step * 8 / steps) % 8];
        uint64_t id = mt_below(&x.r, R);
        uint64_t dice = mt_below(&x.r, 100000);
        if (dice < 300000 / steps) /* about three clears per run */
            op_clear(&x);
        else if (dice < 300000 / steps + 100000 / (R + 50))
            op_iterate(&x, dice & 1);
        else {
            unsigned p = (unsigned)(dice % 100);
            if (p < pa * 2 / 3)
                op_assign(&x, id);
            else if (p < pa)
                op_lookup(&x, id);
            else if (p < pa + (100 - pa) * 2 / 3)
                op_delete(&x, id);
            else
                op_lookup(&x, id);
        }
        CHECK_MSG(gomap_len(x.m) == x.count, "step %zu: len %zu, model %zu", x.step, gomap_len(x.m),
                  x.count);
        if (x.step % check_every == 0)
            CHECK_MAP(x.m);
    }
    CHECK_MAP(x.m);
    op_iterate(&x, false);
    for (uint64_t id = 0; id < R; id++)
        op_lookup(&x, id);
    gomap_stats st = mt_stats(x.m);
    printf("%s: final len %zu B %u grows %" PRIu64 " same-size %" PRIu64 " overflow %zu\n",
           sp->name, st.count, st.B, st.grows, st.same_size_grows, st.overflow);
    CHECK_EQ_U(st.count, x.count);
    gomap_free(x.m);
    if (x.strs) {
        for (size_t i = 0; i < R; i++)
            free(x.strs[i]);
        free(x.strs);
        free(x.slen);
    }
    free(x.present);
    free(x.ver);
}

/* Small universes, gomap__check after every step; then a large run. */
static void model_both(const spec *sp, size_t smallR) {
    size_t bigR = 6000;
    if (sp->kind == K_GENERIC && sp->ksz == 1) /* a 1-byte key has 256 values */
        smallR = bigR = 256;
    model_run(sp, smallR, mt_scale(4000), 1);
    model_run(sp, bigR, mt_scale(80000), 997);
}

#define MODEL_TEST(tname, ...)                                                                     \
    TEST_TIMEOUT(map, model_##tname, 120) {                                                        \
        static const spec sp = {#tname, __VA_ARGS__};                                              \
        model_both(&sp, 300);                                                                      \
    }

MODEL_TEST(u64_fast, K_U64, 8, 8, 8, 8, NULL, NULL)
MODEL_TEST(str_fast, K_STR, 16, 8, 8, 8, NULL, NULL)
MODEL_TEST(k1_e1, K_GENERIC, 1, 1, 1, 1, NULL, NULL)
MODEL_TEST(k3_e3, K_GENERIC, 3, 1, 3, 1, NULL, NULL)
MODEL_TEST(k8_e0_set, K_GENERIC, 8, 8, 0, 0, NULL, NULL)
MODEL_TEST(k8_e16, K_GENERIC, 8, 4, 16, 8, NULL, NULL)
MODEL_TEST(k16_e1, K_GENERIC, 16, 8, 1, 1, NULL, NULL)
MODEL_TEST(k24_e24_customhash, K_GENERIC, 24, 8, 24, 8, hash24, equal24)
MODEL_TEST(k16_e8_weakhash, K_GENERIC, 16, 8, 8, 8, hash16_weak, NULL)
MODEL_TEST(k128_e128_inline, K_GENERIC, 128, 8, 128, 8, NULL, NULL)
MODEL_TEST(k129_e3_indirect_key, K_GENERIC, 129, 1, 3, 1, NULL, NULL)
MODEL_TEST(k4_e200_indirect_elem, K_GENERIC, 4, 4, 200, 8, NULL, NULL)
MODEL_TEST(k200_e129_both_indirect, K_GENERIC, 200, 8, 129, 1, NULL, NULL)
MODEL_TEST(k12_e6_align2, K_GENERIC, 12, 4, 6, 2, NULL, NULL)
MODEL_TEST(k3_e8_natural_align, K_GENERIC, 3, 0, 8, 0, NULL, NULL)
