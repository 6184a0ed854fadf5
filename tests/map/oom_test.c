/*
 * oom_test.c — allocation-failure injection (SQLite faultsim style).
 *
 * The header promises that allocation failure never aborts and leaves the map
 * valid and unchanged. A countdown allocator lets N allocations succeed and
 * fails the next one (or every later one, until the failing call returns);
 * the same deterministic workload — fill with grows, overflow chains and
 * indirect keys/elements, updates, deletes, a clear, a refill and an
 * iteration with inserts in the middle — is replayed for every N from 0 to
 * the number of allocations a clean run makes, so every failure point is hit.
 * At each failure: the call returned -ENOMEM, gomap__check() passes, the
 * contents equal the model, and retrying once memory is back succeeds. At
 * gomap_free every block has come back, with the size it was allocated with.
 */
#include "tests/map/maptest.h"

#include <stdio.h>

typedef struct oom_run {
    const gomap_type *t;
    size_t ksz, esz; /* esz: element bytes the test writes and checks */
    size_t U;        /* key universe */
    mt_alloc a;
    gomap *m;
    uint8_t *present;
    uint64_t *ver;
    size_t count;
    size_t enomem, benign; /* -ENOMEM returns; failures the call absorbed */
    char **strs;
    size_t *slen;
    size_t step;
} oom_run;

static uint64_t key_u64(uint64_t id) {
    return mt_mix(id + 77);
}

static void key_for(oom_run *x, uint64_t id, uint8_t *kb, gomap_str *s, const void **k) {
    if (x->t->kind == GOMAP_KEY_U64) {
        uint64_t v = key_u64(id);
        memcpy(kb, &v, 8);
        *k = kb;
    } else if (x->t->kind == GOMAP_KEY_STR) {
        s->ptr = x->strs[id];
        s->len = x->slen[id];
        *k = s;
    } else {
        mt_key_bytes(id, kb, x->ksz);
        *k = kb;
    }
}

/* The whole map against the model: len, every id's presence and element. */
static void check_contents(oom_run *x, const char *when) {
    CHECK_MAP(x->m);
    CHECK_MSG(gomap_len(x->m) == x->count, "%s (step %zu): len %zu, model %zu", when, x->step,
              gomap_len(x->m), x->count);
    for (uint64_t id = 0; id < x->U; id++) {
        uint8_t kb[256];
        gomap_str s;
        const void *k;
        key_for(x, id, kb, &s, &k);
        void *e = gomap_lookup(x->m, k);
        CHECK_MSG((e != NULL) == (x->present[id] != 0),
                  "%s (step %zu): id %" PRIu64 " %s in the map but %s in the model", when, x->step,
                  id, e ? "present" : "absent", x->present[id] ? "present" : "absent");
        if (e)
            CHECK_MSG(mt_elem_ok(id, x->ver[id], e, x->esz),
                      "%s (step %zu): id %" PRIu64 " has a wrong element", when, x->step, id);
    }
}

/*
 * Run one map operation; on -ENOMEM check nothing changed, restore memory and
 * retry. op: 0 assign, 1 delete.
 */
static void do_op(oom_run *x, int op, uint64_t id) {
    uint8_t kb[256];
    gomap_str s;
    const void *k;
    key_for(x, id, kb, &s, &k);
    for (int attempt = 0;; attempt++) {
        size_t failed0 = x->a.nfailed;
        int rc;
        void *e = NULL;
        if (op == 0)
            rc = x->t->kind == GOMAP_KEY_U64 ? gomap_assign_u64(x->m, key_u64(id), &e)
                                             : gomap_assign(x->m, k, &e);
        else
            rc = x->t->kind == GOMAP_KEY_STR ? gomap_delete_str(x->m, s.ptr, s.len)
                                             : gomap_delete(x->m, k);
        bool failed = x->a.nfailed != failed0;
        if (rc == -ENOMEM) {
            CHECK_MSG(failed, "step %zu: %s returned -ENOMEM but no allocation failed", x->step,
                      op ? "delete" : "assign");
            x->enomem++;
            check_contents(x, op ? "after failed delete" : "after failed assign");
            CHECK_MSG(attempt == 0, "step %zu: retry with memory available failed", x->step);
            x->a.fail_after = -1; /* memory is back */
            continue;
        }
        if (failed) /* e.g. a grow skipped for want of memory: the insert still works */
            x->benign++;
        if (op == 0) {
            CHECK_MSG(rc == (x->present[id] ? 0 : 1), "step %zu: assign = %d", x->step, rc);
            CHECK(e != NULL);
            if (!x->present[id])
                x->count++;
            x->present[id] = 1;
            x->ver[id]++;
            uint8_t eb[256];
            mt_elem_bytes(id, x->ver[id], eb, x->esz);
            memcpy(e, eb, x->esz);
        } else {
            CHECK_MSG(rc == (x->present[id] ? 1 : 0), "step %zu: delete = %d", x->step, rc);
            if (x->present[id])
                x->count--;
            x->present[id] = 0;
        }
        if (failed)
            check_contents(x, "after an absorbed allocation failure");
        return;
    }
}

/* One replay of the workload with the given injection; returns allocations made. */
static size_t workload(oom_run *x, long fail_after, long fail_count) {
    mt_alloc_init(&x->a);
    x->a.fail_after = fail_after;
    x->a.fail_count = fail_count;
    memset(x->present, 0, x->U);
    memset(x->ver, 0, x->U * sizeof *x->ver);
    x->count = 0;
    x->step = 0;
    gomap_config cfg = {.alloc = &x->a.a, .seed = 0x5eed};
    x->m = NULL;
    int rc = gomap_new(x->t, 0, &cfg, &x->m);
    if (rc != 0) {
        CHECK_EQ_I(rc, -ENOMEM);
        CHECK_MSG(x->a.nfailed > 0, "gomap_new failed without an allocation failure");
        CHECK_EQ_U(x->a.live, 0);
        x->enomem++;
        x->a.fail_after = -1;
        CHECK_EQ_I(gomap_new(x->t, 0, &cfg, &x->m), 0);
    }
    mt_rng r = {0xfeedface};
    size_t fill = x->U * 3 / 4;
    /* 1. Fill (grows, overflow buckets, indirect blocks), with some updates. */
    for (uint64_t id = 0; id < fill; id++, x->step++) {
        do_op(x, 0, id);
        if (id % 5 == 0)
            do_op(x, 0, mt_below(&r, id + 1));
    }
    /* 2. Churn: delete and re-add, including keys inserted during an iteration. */
    gomap_iter it;
    gomap_iter_init(&it, x->m);
    void *k, *e;
    for (size_t i = 0; i < x->U / 2; i++, x->step++) {
        if (!gomap_iter_next(&it, &k, &e))
            break;
        do_op(x, 1, mt_below(&r, x->U));
        do_op(x, 0, fill + mt_below(&r, x->U - fill));
        do_op(x, 0, mt_below(&r, x->U));
    }
    gomap_iter_done(&it);
    check_contents(x, "after churn");
    /* 3. Clear, refill part way, delete everything, refill again. */
    size_t failed0 = x->a.nfailed;
    gomap_clear(x->m);
    if (x->a.nfailed != failed0)
        x->benign++;
    memset(x->present, 0, x->U);
    x->count = 0;
    check_contents(x, "after clear");
    for (uint64_t id = 0; id < x->U / 2; id++, x->step++)
        do_op(x, 0, id);
    for (uint64_t id = 0; id < x->U; id++, x->step++)
        do_op(x, 1, id);
    CHECK_EQ_U(gomap_len(x->m), 0);
    for (uint64_t id = 0; id < x->U; id += 2, x->step++)
        do_op(x, 0, id);
    check_contents(x, "at the end");
    gomap_free(x->m);
    CHECK_MSG(x->a.live == 0 && x->a.live_bytes == 0,
              "leak: %zu blocks, %zu bytes still allocated after gomap_free (fail_after %ld)",
              x->a.live, x->a.live_bytes, fail_after);
    CHECK_EQ_U(x->a.nalloc, x->a.nrelease);
    return x->a.nalloc;
}

static void sweep(const gomap_type *t, size_t esz, size_t U) {
    oom_run x;
    memset(&x, 0, sizeof x);
    x.t = t;
    x.ksz = t->key_size;
    x.esz = esz;
    x.U = U;
    x.present = calloc(U, 1);
    x.ver = calloc(U, sizeof *x.ver);
    if (t->kind == GOMAP_KEY_STR) {
        x.strs = calloc(U, sizeof *x.strs);
        x.slen = calloc(U, sizeof *x.slen);
        for (size_t i = 0; i < U; i++) {
            x.strs[i] = malloc(32);
            x.slen[i] = (size_t)snprintf(x.strs[i], 32, "key-%zu-%zu", i, i * 7919 % 1000);
        }
    }
    size_t total = workload(&x, -1, 0);
    CHECK_EQ_U(x.enomem, 0);
    size_t stride = mt_sanitized() ? 1 + total / 150 : 1;
    printf("%s: a clean run makes %zu allocations; sweeping every %zu\n", t->name, total, stride);
    size_t runs = 0;
    for (size_t n = 0; n <= total; n += stride) {
        for (long mode = 0; mode < 2; mode++) {
            size_t before = x.enomem + x.benign;
            workload(&x, (long)n, mode ? -1 : 1);
            runs++;
            if (n < total)
                CHECK_MSG(x.enomem + x.benign > before,
                          "fail_after %zu: the injected failure was never hit", n);
        }
    }
    printf("%s: %zu runs, %zu -ENOMEM returns, %zu failures absorbed\n", t->name, runs, x.enomem,
           x.benign);
    CHECK(x.enomem > 0);
    if (x.strs) {
        for (size_t i = 0; i < U; i++)
            free(x.strs[i]);
        free(x.strs);
        free(x.slen);
    }
    free(x.present);
    free(x.ver);
}

TEST_TIMEOUT(map, oom_sweep_u64, 120) {
    sweep(&gomap_type_u64_u64, 8, 400);
}

TEST_TIMEOUT(map, oom_sweep_str, 120) {
    sweep(&gomap_type_str_u64, 8, 300);
}

/* Indirect keys and elements: one extra allocation per entry. */
TEST_TIMEOUT(map, oom_sweep_indirect, 120) {
    static const gomap_type t = {.name = "map[[200]byte][150]byte",
                                 .key_size = 200,
                                 .elem_size = 150,
                                 .key_align = 8,
                                 .elem_align = 2,
                                 .kind = GOMAP_KEY_GENERIC};
    sweep(&t, 150, 120);
}

static bool eq_generic(const void *a, const void *b) {
    return memcmp(a, b, 16) == 0;
}

/* A weak hash: long overflow chains, so newoverflow fails too. */
static uint64_t weak16(const void *k, uint64_t seed) {
    uint64_t a, b;
    memcpy(&a, k, 8);
    memcpy(&b, (const char *)k + 8, 8);
    return mt_mix(a ^ b ^ seed) & 0xff00000000000001ull;
}

TEST_TIMEOUT(map, oom_sweep_overflow_chains, 120) {
    static const gomap_type t = {.name = "map[[16]byte]struct{} (weak hash)",
                                 .key_size = 16,
                                 .elem_size = 0,
                                 .key_align = 8,
                                 .kind = GOMAP_KEY_GENERIC,
                                 .hash = weak16,
                                 .equal = eq_generic};
    sweep(&t, 0, 200);
}

/* gomap_new with a hint allocates the header and the bucket array up front. */
TEST(map, oom_new_with_hint) {
    size_t needed = 0;
    for (long n = 0; n < 10; n++) {
        mt_alloc a;
        mt_alloc_init(&a);
        a.fail_after = n;
        a.fail_count = -1;
        gomap_config cfg = {.alloc = &a.a};
        gomap *m = NULL;
        int rc = gomap_new(&gomap_type_u64_u64, 1000, &cfg, &m);
        if (rc == 0) {
            needed = (size_t)n;
            CHECK_EQ_U(a.nfailed, 0);
            CHECK_EQ_U(mt_stats(m).B, mt_makemap_B(1000));
            CHECK_MAP(m);
            a.fail_after = -1;
            mt_fill_u64(m, 0, 1000);
            CHECK_EQ_U(mt_stats(m).grows, 0);
            gomap_free(m);
            CHECK_EQ_U(a.live, 0);
            break;
        }
        CHECK_EQ_I(rc, -ENOMEM);
        CHECK_MSG(a.live == 0, "gomap_new failed after %ld allocations and leaked %zu blocks", n,
                  a.live);
    }
    /* The header and the 2^8-bucket array at least. */
    CHECK_MSG(needed >= 2, "gomap_new(hint 1000) succeeded with only %zu allocations", needed);
}

/* Memory comes back in full at gomap_free, whatever the map went through. */
TEST(map, oom_no_leak_with_live_iterators_and_grows) {
    mt_alloc a;
    mt_alloc_init(&a);
    gomap_config cfg = {.alloc = &a.a};
    gomap *m = mt_new(&gomap_type_u64_u64, 0, &cfg);
    gomap_iter its[4];
    for (int i = 0; i < 4; i++) {
        mt_fill_u64(m, (uint64_t)i * 300, (uint64_t)(i + 1) * 300);
        gomap_iter_init(&its[i], m);
        void *k, *e;
        CHECK(gomap_iter_next(&its[i], &k, &e));
    }
    for (int i = 0; i < 4; i++)
        gomap_iter_done(&its[i]);
    CHECK_EQ_U(gomap__iter_holds(m), 0);
    CHECK_EQ_I(gomap__finish_grow(m), 0);
    gomap_stats st = mt_stats(m);
    CHECK_MSG(st.bytes == a.live_bytes,
              "stats.bytes %zu but the allocator holds %zu bytes for the map", st.bytes,
              a.live_bytes);
    gomap_free(m);
    CHECK_EQ_U(a.live, 0);
    CHECK_EQ_U(a.live_bytes, 0);
}
