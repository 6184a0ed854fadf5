/*
 * hooks_test.c — the profiler hooks report exactly what the map does.
 *
 * A recorder installed with gomap_set_hooks checks, op by op against the
 * map's own stats: on_new gets the type and hint and its cookie comes back in
 * every later hook; each grow fires one on_grow whose old_B/new_B/same_size/
 * entries/noverflow are the values just before the triggering insert and
 * whose bytes match the bucket-array allocation it announces; the running
 * sum of on_alloc bytes tracks stats.bytes up to a constant (the header),
 * and stats.bytes equals what the allocator holds; out-of-line keys and
 * elements show up as GOMAP_ALLOC_INDIRECT; on_free fires once. Maps made
 * with GOMAP_UNPROFILED fire nothing, maps keep the hooks they were created
 * with, and gomap_set_hooks(NULL) turns reporting off for new maps.
 */
#include "tests/map/maptest.h"

typedef struct rec {
    const gomap *m;
    const gomap_type *t;
    size_t hint;
    int hooks_id; /* which hook table created it */
    size_t frees, grows, alloc_events, foreign;
    gomap_grow_event ev[64];
    long long net, net_kind[3];
    ptrdiff_t last_buckets; /* bytes of the last BUCKETS allocation */
} rec;

static rec recs[64];
static size_t nrec;
static size_t calls_without_cookie;
static const gomap *unprofiled;
static size_t unprofiled_calls;

static rec *cookie_rec(const gomap *m, void *cookie) {
    if (m == unprofiled && unprofiled)
        unprofiled_calls++;
    rec *r = cookie;
    if (!r || r < recs || r >= recs + nrec) {
        calls_without_cookie++;
        return NULL;
    }
    if (r->m != m)
        r->foreign++;
    return r;
}

static void *on_new_common(const gomap *m, const gomap_type *t, size_t hint, int id) {
    if (m == unprofiled && unprofiled)
        unprofiled_calls++;
    if (nrec == 64)
        return NULL;
    rec *r = &recs[nrec++];
    memset(r, 0, sizeof *r);
    r->m = m;
    r->t = t;
    r->hint = hint;
    r->hooks_id = id;
    return r;
}

static void *on_new1(const gomap *m, const gomap_type *t, size_t hint) {
    return on_new_common(m, t, hint, 1);
}

static void *on_new2(const gomap *m, const gomap_type *t, size_t hint) {
    return on_new_common(m, t, hint, 2);
}

static void on_free(const gomap *m, void *cookie) {
    rec *r = cookie_rec(m, cookie);
    if (r)
        r->frees++;
}

static void on_grow(const gomap *m, void *cookie, const gomap_grow_event *ev) {
    rec *r = cookie_rec(m, cookie);
    if (r && r->grows < 64)
        r->ev[r->grows] = *ev;
    if (r)
        r->grows++;
}

static void on_alloc(const gomap *m, void *cookie, enum gomap_alloc_kind kind, ptrdiff_t bytes) {
    rec *r = cookie_rec(m, cookie);
    if (!r)
        return;
    r->alloc_events++;
    r->net += bytes;
    if ((unsigned)kind < 3)
        r->net_kind[kind] += bytes;
    if (kind == GOMAP_ALLOC_BUCKETS && bytes > 0)
        r->last_buckets = bytes;
}

static const gomap_hooks hooks1 = {.version = GOMAP_HOOKS_VERSION,
                                   .on_new = on_new1,
                                   .on_free = on_free,
                                   .on_grow = on_grow,
                                   .on_alloc = on_alloc};
static const gomap_hooks hooks2 = {.version = GOMAP_HOOKS_VERSION,
                                   .on_new = on_new2,
                                   .on_free = on_free,
                                   .on_grow = on_grow,
                                   .on_alloc = on_alloc};

static rec *rec_of(const gomap *m) {
    for (size_t i = 0; i < nrec; i++)
        if (recs[i].m == m)
            return &recs[i];
    return NULL;
}

TEST(map, hooks_grow_events_and_accounting) {
    gomap_set_hooks(&hooks1);
    mt_alloc a;
    mt_alloc_init(&a);
    gomap_config cfg = {.alloc = &a.a};
    gomap *m = mt_new(&gomap_type_u64_u64, 0, &cfg);
    rec *r = rec_of(m);
    CHECK_MSG(r != NULL, "on_new was not called");
    CHECK(r->t == &gomap_type_u64_u64);
    CHECK_EQ_U(r->hint, 0);
    gomap_stats st = mt_stats(m);
    long long header = (long long)st.bytes - r->net;
    CHECK_MSG(header >= 0 && header <= 4096, "stats.bytes %zu vs on_alloc sum %lld", st.bytes,
              r->net);
    CHECK_EQ_U(st.bytes, a.live_bytes);
    size_t grows = 0;
    for (uint64_t i = 0; i < 20000; i++) {
        gomap_stats before = mt_stats(m);
        r->last_buckets = 0;
        mt_fill_u64(m, i, i + 1);
        if (i % 3 == 0) /* deletes and updates fire no grow */
            CHECK_EQ_I(gomap_delete_u64(m, mt_mix(i)), 1);
        st = mt_stats(m);
        CHECK_MSG(st.grows == r->grows,
                  "insert #%" PRIu64 ": stats.grows %" PRIu64 ", on_grow fired %zu times", i + 1,
                  st.grows, r->grows);
        if (st.grows != grows) {
            CHECK_EQ_U(st.grows, grows + 1);
            const gomap_grow_event *ev = &r->ev[grows < 64 ? grows : 63];
            if (grows < 64) {
                CHECK_EQ_U(ev->old_B, before.B);
                CHECK_EQ_U(ev->new_B, st.B);
                CHECK_EQ_U(ev->new_B, before.B + !ev->same_size);
                CHECK_EQ_U(ev->entries, before.count);
                CHECK_EQ_U(ev->noverflow, before.noverflow);
                CHECK_MSG(ev->same_size == (st.same_size_grows != before.same_size_grows),
                          "grow #%zu: same_size %d", grows + 1, ev->same_size);
                CHECK_MSG((ptrdiff_t)ev->bytes == r->last_buckets,
                          "grow to B=%u: event bytes %zu, BUCKETS allocation %td", ev->new_B,
                          ev->bytes, r->last_buckets);
                /* At least 2^B buckets of 8 + 8*8 + 8*8 + 8 bytes (Go's layout). */
                CHECK_MSG(ev->bytes >= ((size_t)144 << ev->new_B), "grow to B=%u: %zu bytes",
                          ev->new_B, ev->bytes);
            }
            grows++;
        }
        CHECK_MSG((long long)st.bytes - r->net == header,
                  "insert #%" PRIu64 ": stats.bytes %zu - on_alloc sum %lld != header %lld", i + 1,
                  st.bytes, r->net, header);
        CHECK_MSG(st.bytes == a.live_bytes, "insert #%" PRIu64 ": stats.bytes %zu, allocator %zu",
                  i + 1, st.bytes, a.live_bytes);
    }
    CHECK(grows >= 10);
    CHECK_EQ_U(r->foreign, 0);
    CHECK_EQ_U(r->net_kind[GOMAP_ALLOC_INDIRECT], 0);
    gomap_clear(m);
    st = mt_stats(m);
    CHECK_EQ_I((long long)st.bytes - r->net, header);
    CHECK_EQ_U(r->frees, 0);
    gomap_free(m);
    CHECK_EQ_U(r->frees, 1);
    CHECK_EQ_U(calls_without_cookie, 0);
    CHECK_EQ_U(a.live, 0);
}

TEST(map, hooks_indirect_allocations) {
    static const gomap_type t = {.name = "map[[136]byte][200]byte",
                                 .key_size = 136,
                                 .elem_size = 200,
                                 .key_align = 8,
                                 .elem_align = 8,
                                 .kind = GOMAP_KEY_GENERIC};
    gomap_set_hooks(&hooks1);
    gomap *m = mt_new(&t, 77, NULL);
    rec *r = rec_of(m);
    CHECK(r && r->hint == 77 && r->t == &t);
    uint8_t kb[136];
    for (uint64_t i = 0; i < 1000; i++) {
        mt_key_bytes(i, kb, sizeof kb);
        void *e;
        CHECK_EQ_I(gomap_assign(m, kb, &e), 1);
    }
    long long per = r->net_kind[GOMAP_ALLOC_INDIRECT] / 1000;
    CHECK_MSG(per >= 336 && r->net_kind[GOMAP_ALLOC_INDIRECT] == per * 1000,
              "INDIRECT bytes %lld for 1000 entries of 136+200 bytes",
              r->net_kind[GOMAP_ALLOC_INDIRECT]);
    for (uint64_t i = 0; i < 1000; i += 2) {
        mt_key_bytes(i, kb, sizeof kb);
        CHECK_EQ_I(gomap_delete(m, kb), 1);
        CHECK_EQ_I(r->net_kind[GOMAP_ALLOC_INDIRECT], per * (long long)gomap_len(m));
    }
    gomap_free(m);
    CHECK_EQ_U(r->frees, 1);
}

/* Same-size grows are reported as such (low-entropy churn, see samesize_test.c). */
static uint64_t run_hash(const void *k, uint64_t seed) {
    uint64_t v;
    memcpy(&v, k, 8);
    (void)seed;
    return (mt_mix(v) & ~0xffffull) | ((v / 64) & 0xffff);
}

TEST(map, hooks_same_size_grow_event) {
    static const gomap_type t = {.name = "churn",
                                 .key_size = 8,
                                 .elem_size = 8,
                                 .kind = GOMAP_KEY_GENERIC,
                                 .hash = run_hash};
    gomap_set_hooks(&hooks1);
    gomap *m = mt_new(&t, 100, NULL);
    rec *r = rec_of(m);
    CHECK(r != NULL);
    for (uint64_t i = 0; i < 20000 && r->grows < 3; i++) {
        void *e;
        CHECK_EQ_I(gomap_assign(m, &i, &e), 1);
        if (i >= 64) {
            uint64_t old = i - 64;
            CHECK_EQ_I(gomap_delete(m, &old), 1);
        }
    }
    CHECK_MSG(r->grows >= 1, "no grow event under churn");
    for (size_t g = 0; g < r->grows && g < 64; g++) {
        CHECK_MSG(r->ev[g].same_size && r->ev[g].old_B == 4 && r->ev[g].new_B == 4,
                  "grow %zu: same_size %d, B %u -> %u", g, r->ev[g].same_size, r->ev[g].old_B,
                  r->ev[g].new_B);
        CHECK_MSG(r->ev[g].noverflow >= 16, "same-size grow with noverflow %zu < 2^B",
                  r->ev[g].noverflow);
    }
    CHECK_EQ_U(mt_stats(m).same_size_grows, r->grows);
    gomap_free(m);
}

TEST(map, hooks_unprofiled_fires_nothing) {
    gomap_set_hooks(&hooks1);
    gomap_config cfg = {.flags = GOMAP_UNPROFILED};
    size_t n0 = nrec;
    gomap *m = mt_new(&gomap_type_u64_u64, 0, &cfg);
    unprofiled = m;
    CHECK_EQ_U(nrec, n0);
    mt_fill_u64(m, 0, 5000);
    for (uint64_t i = 0; i < 5000; i += 2)
        gomap_delete_u64(m, mt_mix(i));
    gomap_clear(m);
    mt_fill_u64(m, 0, 100);
    gomap_free(m);
    CHECK_EQ_U(unprofiled_calls, 0);
    CHECK_EQ_U(nrec, n0);
    CHECK_EQ_U(calls_without_cookie, 0);
}

TEST(map, hooks_maps_keep_their_hooks) {
    gomap_set_hooks(&hooks1);
    gomap *a = mt_new(&gomap_type_u64_u64, 0, NULL);
    gomap_set_hooks(&hooks2);
    gomap *b = mt_new(&gomap_type_u64_u64, 0, NULL);
    gomap_set_hooks(NULL);
    gomap *c = mt_new(&gomap_type_u64_u64, 0, NULL);
    CHECK(rec_of(a) && rec_of(a)->hooks_id == 1);
    CHECK(rec_of(b) && rec_of(b)->hooks_id == 2);
    CHECK(rec_of(c) == NULL);
    mt_fill_u64(a, 0, 100);
    mt_fill_u64(b, 0, 100);
    mt_fill_u64(c, 0, 100);
    CHECK_EQ_U(rec_of(a)->grows, mt_stats(a).grows);
    CHECK_EQ_U(rec_of(b)->grows, mt_stats(b).grows);
    CHECK(mt_stats(c).grows > 0);
    CHECK(rec_of(c) == NULL);
    gomap_free(a);
    gomap_free(b);
    gomap_free(c);
    CHECK_EQ_U(rec_of(a)->frees, 1);
    CHECK_EQ_U(rec_of(b)->frees, 1);
    CHECK_EQ_U(calls_without_cookie, 0);
}
