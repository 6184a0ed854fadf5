/*
 * map_fuzz.c — libFuzzer target for libgomap: the input is a program of map
 * operations, run against a gomap and a plain reference model side by side.
 *
 * Every operation's result is compared with the model (inserted or updated,
 * found or absent, the element's bytes, deleted or not, len), and after every
 * operation gomap__check verifies the map's internal invariants and the
 * bytes the map says it holds must equal what its allocator has handed out.
 * Covered: creation with a hint (B must follow Go's makemap rule), the
 * uint64 and string fast paths and the generic calls (mixed on one map, they
 * must agree), generic keys and elements of many sizes and alignments
 * including > 128 bytes (stored indirectly), a set (elem size 0), a weak
 * hash (long overflow chains, same-size grows), float keys (+0 == -0, NaN
 * never equal to itself), clear, forced evacuation, stats, up to two live
 * iterators stepped a few entries at a time with writes in between, and
 * allocation failure injected through gomap_config.alloc (a failed call
 * must leave the contents unchanged).
 *
 * Iterator rules checked (Go's range semantics): a returned key is present
 * now and its element has its current value; no entry is returned twice
 * (an entry deleted and inserted again is a new entry); when the iterator
 * ends, every entry present for the whole iteration was returned.
 *
 * Input format: the first byte picks the map type, then operations follow,
 * one opcode byte and its argument bytes each; missing bytes read as 0.
 * Inputs are decoded, never trusted: any byte string is a valid program.
 * Non-goals: concurrency (tests/tsan), hook events (tests/map), speed.
 *
 * Built with -DMAP_FUZZ_SEED_MAIN instead of -fsanitize=fuzzer, the file is
 * a program that writes the seed corpus into the directory it is given, so
 * no binary corpus lives in the repository.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map/gomap.h"
#include "map/gomap_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "map_fuzz: op %zu (%s): ", g_opno, g_opname);                              \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

#define ENSURE(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            FAIL(__VA_ARGS__);                                                                     \
    } while (0)

static size_t g_opno;
static const char *g_opname = "start";

static uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* ---- input ----------------------------------------------------------------- */

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static uint8_t rd8(reader *r) {
    if (r->n == 0)
        return 0;
    r->n--;
    return *r->p++;
}

static uint16_t rd16(reader *r) {
    uint16_t lo = rd8(r);
    return (uint16_t)(lo | (uint16_t)rd8(r) << 8);
}

/* ---- allocator: exact accounting and failure injection --------------------- */

/*
 * Blocks carry a header with their size and a magic word, so releasing with
 * the wrong size, twice, or a foreign pointer is caught at once. After
 * fail_after more successful allocations, the next fail_count fail.
 */
typedef struct fz_alloc {
    size_t live_bytes, live_blocks, failed;
    unsigned fail_after, fail_count;
} fz_alloc;

#define MAGIC_LIVE 0x6c69766566757a7aull
#define MAGIC_DEAD 0x64656164667a7a7aull

static void *fz_alloc_fn(size_t size, void *ctx) {
    fz_alloc *a = ctx;
    if (a->fail_count > 0) {
        if (a->fail_after == 0) {
            a->fail_count--;
            a->failed++;
            return NULL;
        }
        a->fail_after--;
    }
    uint64_t *h = calloc(1, size + 16);
    if (h == NULL)
        return NULL;
    h[0] = size;
    h[1] = MAGIC_LIVE;
    a->live_bytes += size;
    a->live_blocks++;
    return h + 2;
}

static void fz_release_fn(void *p, size_t size, void *ctx) {
    fz_alloc *a = ctx;
    ENSURE(p != NULL, "release(NULL, %zu)", size);
    uint64_t *h = (uint64_t *)p - 2;
    ENSURE(h[1] == MAGIC_LIVE, "release of a block that is not live (%#llx)",
           (unsigned long long)h[1]);
    ENSURE(h[0] == size, "block of %llu bytes released as %zu", (unsigned long long)h[0], size);
    h[1] = MAGIC_DEAD;
    a->live_bytes -= size;
    a->live_blocks--;
    free(h);
}

/* ---- map types ------------------------------------------------------------- */

enum api { API_GENERIC, API_U64, API_STR };
enum keymode { KEY_BYTES, KEY_U64, KEY_STR, KEY_FLOAT };

typedef struct ftype {
    gomap_type t;
    enum keymode km;
} ftype;

/* Weak on purpose: 8 distinct hashes, all with one tophash, so keys pile up
 * in overflow chains and same-size grows happen. */
static uint64_t weak_hash(const void *k, uint64_t seed) {
    (void)seed;
    return (uint64_t)(((const uint8_t *)k)[0] & 7) * 0x0101010101010101ull;
}

/* float64 keys as Go hashes them: -0 like +0; NaN anywhere (never equal). */
static uint64_t f64_hash(const void *k, uint64_t seed) {
    double d;
    memcpy(&d, k, 8);
    if (d == 0)
        d = 0;
    if (isnan(d))
        return seed ^ 0x5555;
    return gomap_hash_bytes(&d, 8, seed);
}

static bool f64_equal(const void *a, const void *b) {
    double x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    return x == y;
}

#define GEN(nm, ks, es, ka, ea)                                                                    \
    { .name = nm, .key_size = ks, .elem_size = es, .key_align = ka, .elem_align = ea }

static const ftype g_types[] = {
    {{0}, KEY_U64}, /* gomap_type_u64_u64, filled in at first use */
    {{0}, KEY_STR}, /* gomap_type_str_u64 */
    {GEN("k1e1", 1, 1, 1, 1), KEY_BYTES},
    {GEN("k4 set", 4, 0, 4, 0), KEY_BYTES},
    {GEN("k3e5", 3, 5, 1, 1), KEY_BYTES},
    {GEN("k12e20", 12, 20, 4, 4), KEY_BYTES},
    {GEN("k16e8", 16, 8, 8, 8), KEY_BYTES},
    {GEN("k128e128", 128, 128, 8, 8), KEY_BYTES},
    {GEN("k129e8 indirect key", 129, 8, 1, 8), KEY_BYTES},
    {GEN("k8e200 indirect elem", 8, 200, 8, 8), KEY_BYTES},
    {GEN("k200e300 indirect both", 200, 300, 8, 4), KEY_BYTES},
    {GEN("k24 set", 24, 0, 8, 0), KEY_BYTES},
    {{.name = "k8e8 weak hash",
      .key_size = 8,
      .elem_size = 8,
      .key_align = 8,
      .elem_align = 8,
      .hash = weak_hash},
     KEY_BYTES},
    {{.name = "float64",
      .key_size = 8,
      .elem_size = 8,
      .key_align = 8,
      .elem_align = 8,
      .hash = f64_hash,
      .equal = f64_equal},
     KEY_FLOAT},
};
#define NTYPES (sizeof g_types / sizeof g_types[0])

static const gomap_type *type_of(size_t i) {
    if (i == 0)
        return &gomap_type_u64_u64;
    if (i == 1)
        return &gomap_type_str_u64;
    return &g_types[i].t;
}

/* ---- keys ------------------------------------------------------------------- */

#define KEYSPACE 4096
#define MAXKEY   200

/* String keys live here for the whole run: the map keeps pointers. */
static char g_strpool[KEYSPACE][48];
static uint8_t g_strlen[KEYSPACE];

static void strpool_init(void) {
    static bool done;
    if (done)
        return;
    done = true;
    for (size_t id = 0; id < KEYSPACE; id++) {
        /* Lengths 0..47, both sides of faststr's 32-byte split; distinct
         * ids mostly give distinct strings, short ones collide on purpose. */
        size_t len = mix(id) % 48;
        for (size_t i = 0; i < len; i++)
            g_strpool[id][i] = (char)('a' + (mix(id * 64 + (i < 3 ? 0 : i)) + i) % 26);
        if (len >= 2) {
            g_strpool[id][0] = (char)('A' + id % 26);
            g_strpool[id][1] = (char)('A' + (id / 26) % 26);
        }
        g_strlen[id] = (uint8_t)len;
    }
}

typedef struct key {
    uint8_t bytes[MAXKEY]; /* what the map stores (for STR: a gomap_str) */
    uint8_t canon[MAXKEY]; /* what equality looks at (string bytes, +0 for -0) */
    size_t clen;
    uint64_t u64; /* KEY_U64 */
    bool nan;     /* KEY_FLOAT NaN: equal to nothing */
} key;

static void make_key(const ftype *ft, const gomap_type *t, uint32_t id, key *k) {
    memset(k, 0, sizeof *k);
    id %= KEYSPACE;
    switch (ft->km) {
    case KEY_U64:
        /* Small ids stay small (B = 0 fast path); odd ones spread. */
        k->u64 = (id & 1) ? mix(id) : id;
        memcpy(k->bytes, &k->u64, 8);
        memcpy(k->canon, &k->u64, 8);
        k->clen = 8;
        break;
    case KEY_STR: {
        gomap_str s = {g_strpool[id], g_strlen[id]};
        memcpy(k->bytes, &s, sizeof s);
        memcpy(k->canon, s.ptr, s.len);
        k->clen = s.len;
        break;
    }
    case KEY_FLOAT: {
        static const double special[] = {0.0, -0.0, INFINITY, -INFINITY, 1e-310, -1e300};
        double d;
        if (id % 16 == 0)
            d = nan("");
        else if (id % 16 < 7)
            d = special[id % 16 - 1];
        else
            d = (double)id * 0.5 - 100;
        memcpy(k->bytes, &d, 8);
        k->nan = isnan(d);
        if (d == 0)
            d = 0;
        memcpy(k->canon, &d, 8);
        k->clen = 8;
        break;
    }
    case KEY_BYTES: {
        size_t n = t->key_size;
        for (size_t i = 0; i < n; i++)
            k->bytes[i] = i < 4 ? (uint8_t)(id >> (8 * i))
                                : (uint8_t)(mix(id * 1000 + i / 8) >> ((i % 8) * 8));
        memcpy(k->canon, k->bytes, n);
        k->clen = n;
        break;
    }
    }
}

/* The canonical form of a key the map returned (iteration). */
static void key_from_map(const ftype *ft, const gomap_type *t, const void *p, key *k) {
    memset(k, 0, sizeof *k);
    switch (ft->km) {
    case KEY_STR: {
        gomap_str s;
        memcpy(&s, p, sizeof s);
        ENSURE(s.len < 48, "iterated string key of length %zu", s.len);
        memcpy(k->bytes, &s, sizeof s);
        memcpy(k->canon, s.ptr, s.len);
        k->clen = s.len;
        break;
    }
    case KEY_FLOAT: {
        double d;
        memcpy(&d, p, 8);
        memcpy(k->bytes, &d, 8);
        k->nan = isnan(d);
        if (d == 0)
            d = 0;
        memcpy(k->canon, &d, 8);
        k->clen = 8;
        break;
    }
    default:
        memcpy(k->bytes, p, t->key_size);
        memcpy(k->canon, p, t->key_size);
        k->clen = t->key_size;
        memcpy(&k->u64, p, 8 <= t->key_size ? 8 : t->key_size);
        break;
    }
}

/* ---- the reference model: chained hash of entries --------------------------- */

#define MAXENT  6000
#define MBUCKET 8192
#define NITER   2

typedef struct ment {
    uint8_t canon[MAXKEY];
    uint8_t raw[MAXKEY]; /* the bytes first inserted (+0 vs -0 kept) */
    size_t clen;
    uint64_t val;
    uint64_t serial; /* when inserted */
    uint32_t seen[NITER];
    int next; /* chain, or free list */
    bool live;
} ment;

typedef struct model {
    ment e[MAXENT];
    int head[MBUCKET];
    int free_head;
    size_t count; /* entries, NaN included */
    size_t nnan;
    uint64_t nan_serial[MAXENT]; /* NaN entries: insertion serials */
    uint64_t serial;
} model;

static model g_model;

static uint32_t mhash(const key *k) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < k->clen; i++)
        h = (h ^ k->canon[i]) * 1099511628211ull;
    return (uint32_t)(mix(h ^ k->clen) % MBUCKET);
}

static void model_reset(void) {
    model *md = &g_model;
    for (size_t i = 0; i < MBUCKET; i++)
        md->head[i] = -1;
    for (int i = 0; i < MAXENT; i++) {
        md->e[i].live = false;
        md->e[i].next = i + 1 < MAXENT ? i + 1 : -1;
    }
    md->free_head = 0;
    md->count = 0;
    md->nnan = 0;
}

static ment *model_find(const key *k) {
    if (k->nan)
        return NULL;
    for (int i = g_model.head[mhash(k)]; i >= 0; i = g_model.e[i].next) {
        ment *e = &g_model.e[i];
        if (e->clen == k->clen && memcmp(e->canon, k->canon, k->clen) == 0)
            return e;
    }
    return NULL;
}

static bool model_full(void) {
    return g_model.free_head < 0 || g_model.nnan == MAXENT;
}

static ment *model_insert(const key *k, size_t rawlen, uint64_t val) {
    model *md = &g_model;
    md->count++;
    if (k->nan) {
        md->nan_serial[md->nnan++] = md->serial++;
        return NULL;
    }
    int i = md->free_head;
    ment *e = &md->e[i];
    md->free_head = e->next;
    uint32_t b = mhash(k);
    memset(e->seen, 0, sizeof e->seen);
    memcpy(e->canon, k->canon, k->clen);
    memcpy(e->raw, k->bytes, rawlen);
    e->clen = k->clen;
    e->val = val;
    e->serial = md->serial++;
    e->live = true;
    e->next = md->head[b];
    md->head[b] = i;
    return e;
}

static void model_delete(const key *k) {
    model *md = &g_model;
    int *pp = &md->head[mhash(k)];
    while (*pp >= 0) {
        ment *e = &md->e[*pp];
        if (e->clen == k->clen && memcmp(e->canon, k->canon, k->clen) == 0) {
            int i = *pp;
            *pp = e->next;
            e->live = false;
            e->next = md->free_head;
            md->free_head = i;
            md->count--;
            return;
        }
        pp = &e->next;
    }
}

/* ---- elements ---------------------------------------------------------------- */

static uint8_t elem_byte(uint64_t val, size_t i) {
    return (uint8_t)(mix(val + i / 8) >> (i % 8 * 8)) ^ (uint8_t)i;
}

static void elem_write(void *e, size_t n, uint64_t val) {
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)e)[i] = elem_byte(val, i);
}

static void elem_expect(const void *e, size_t n, uint64_t val, const char *what) {
    ENSURE(e != NULL, "%s: NULL element for a present key", what);
    for (size_t i = 0; i < n; i++)
        ENSURE(((const uint8_t *)e)[i] == elem_byte(val, i),
               "%s: element byte %zu is %#x, want %#x", what, i, ((const uint8_t *)e)[i],
               elem_byte(val, i));
}

/* ---- the state of one run --------------------------------------------------- */

typedef struct fiter {
    bool live;
    gomap_iter it;
    uint64_t start_serial;
    uint32_t gen;
    size_t nan_seen;
} fiter;

static struct {
    gomap *m;
    size_t ti;
    const ftype *ft;
    const gomap_type *t;
    fz_alloc alloc;
    gomap_alloc galloc;
    fiter it[NITER];
    uint32_t iter_gen;
    uint32_t keyspace;
} S;

static void check_map(void) {
    char why[512] = "";
    ENSURE(gomap__check(S.m, why, sizeof why) == 0, "gomap__check: %s", why);
    ENSURE(gomap_len(S.m) == g_model.count, "len %zu, model %zu", gomap_len(S.m), g_model.count);
    if (S.m != NULL) {
        gomap_stats st;
        gomap_get_stats(S.m, &st);
        ENSURE(st.bytes == S.alloc.live_bytes, "stats.bytes %zu, allocator holds %zu", st.bytes,
               S.alloc.live_bytes);
    }
}

static void iter_drop(int slot) {
    if (S.it[slot].live)
        gomap_iter_done(&S.it[slot].it);
    S.it[slot].live = false;
}

static void map_drop(void) {
    for (int i = 0; i < NITER; i++)
        iter_drop(i);
    gomap_free(S.m);
    S.m = NULL;
    ENSURE(S.alloc.live_bytes == 0 && S.alloc.live_blocks == 0,
           "gomap_free left %zu bytes in %zu blocks", S.alloc.live_bytes, S.alloc.live_blocks);
    model_reset();
}

/* Go's makemap: the smallest B with hint <= 6.5 * 2^B (hint <= 8: B = 0). */
static unsigned makemap_B(size_t hint) {
    unsigned B = 0;
    while (hint > 8 && hint > 13 * (((size_t)1 << B) / 2))
        B++;
    return B;
}

static void op_create(size_t ti, size_t hint, uint64_t seed) {
    map_drop();
    S.ti = ti % NTYPES;
    S.ft = &g_types[S.ti];
    S.t = type_of(S.ti);
    gomap_config cfg = {.alloc = &S.galloc, .seed = seed};
    size_t failed = S.alloc.failed;
    int rc = gomap_new(S.t, hint, &cfg, &S.m);
    if (rc == -ENOMEM) {
        ENSURE(S.alloc.failed > failed, "gomap_new: -ENOMEM without a failed allocation");
        S.m = NULL;
        return;
    }
    ENSURE(rc == 0, "gomap_new(%s, %zu) = %d", S.t->name, hint, rc);
    gomap_stats st;
    gomap_get_stats(S.m, &st);
    ENSURE(st.B == makemap_B(hint), "hint %zu gave B = %u, want %u", hint, st.B, makemap_B(hint));
    ENSURE(st.count == 0 && !st.growing && st.grows == 0, "fresh map stats");
}

/* Which entry point a key operation uses: the fast path of the map's kind
 * or the generic call, chosen by the input. */
static bool use_fast(uint8_t sel) {
    return (sel & 1) && S.ft->km != KEY_BYTES && S.ft->km != KEY_FLOAT;
}

static int do_assign(const key *k, bool fast, void **e) {
    if (fast && S.ft->km == KEY_U64)
        return gomap_assign_u64(S.m, k->u64, e);
    if (fast && S.ft->km == KEY_STR) {
        gomap_str s;
        memcpy(&s, k->bytes, sizeof s);
        return gomap_assign_str(S.m, s.ptr, s.len, e);
    }
    return gomap_assign(S.m, k->bytes, e);
}

/* Lookups and deletes may pass the string from a different buffer: only
 * the bytes count. */
static void str_arg(const key *k, bool copy, char *buf, gomap_str *s) {
    if (S.ft->km != KEY_STR)
        return;
    memcpy(s, k->bytes, sizeof *s);
    if (copy) {
        memcpy(buf, s->ptr, s->len);
        s->ptr = buf;
    }
}

static void *do_lookup(const key *k, bool fast, bool copy) {
    char buf[48];
    gomap_str s;
    str_arg(k, copy, buf, &s);
    if (fast && S.ft->km == KEY_U64)
        return gomap_lookup_u64(S.m, k->u64);
    if (fast && S.ft->km == KEY_STR)
        return gomap_lookup_str(S.m, s.ptr, s.len);
    return gomap_lookup(S.m, S.ft->km == KEY_STR ? (const void *)&s : k->bytes);
}

static int do_delete(const key *k, bool fast, bool copy) {
    char buf[48];
    gomap_str s;
    str_arg(k, copy, buf, &s);
    if (fast && S.ft->km == KEY_U64)
        return gomap_delete_u64(S.m, k->u64);
    if (fast && S.ft->km == KEY_STR)
        return gomap_delete_str(S.m, s.ptr, s.len);
    return gomap_delete(S.m, S.ft->km == KEY_STR ? (const void *)&s : k->bytes);
}

static size_t raw_len(void) {
    return S.ft->km == KEY_STR ? sizeof(gomap_str) : S.t->key_size;
}

static void key_assign(uint32_t id, uint64_t val, uint8_t sel) {
    key k;
    make_key(S.ft, S.t, id % S.keyspace, &k);
    ment *me = model_find(&k);
    if (me == NULL && model_full())
        return;
    void *e = (void *)1;
    size_t failed = S.alloc.failed;
    int rc = do_assign(&k, use_fast(sel), &e);
    if (rc == -ENOMEM) {
        ENSURE(S.alloc.failed > failed, "assign: -ENOMEM without a failed allocation");
        ENSURE(e == NULL, "assign: -ENOMEM with an element pointer");
        if (me != NULL)
            elem_expect(do_lookup(&k, false, false), S.t->elem_size, me->val,
                        "after failed assign");
        else if (!k.nan)
            ENSURE(do_lookup(&k, false, false) == NULL, "failed assign inserted the key");
        return;
    }
    ENSURE(rc == (me == NULL ? 1 : 0), "assign returned %d, model %s", rc,
           me ? "has the key" : "lacks the key");
    ENSURE(e != NULL, "assign: NULL element");
    if (rc == 1) {
        for (size_t i = 0; i < S.t->elem_size; i++)
            ENSURE(((uint8_t *)e)[i] == 0, "new element byte %zu not zeroed", i);
        model_insert(&k, raw_len(), val);
    } else {
        elem_expect(e, S.t->elem_size, me->val, "existing element");
        me->val = val;
    }
    elem_write(e, S.t->elem_size, val);
}

static void key_lookup(uint32_t id, uint8_t sel) {
    key k;
    make_key(S.ft, S.t, id % S.keyspace, &k);
    ment *me = model_find(&k);
    void *e = do_lookup(&k, use_fast(sel), sel & 2);
    if (me == NULL)
        ENSURE(e == NULL, "lookup found an absent key");
    else
        elem_expect(e, S.t->elem_size, me->val, "lookup");
}

static void key_delete(uint32_t id, uint8_t sel) {
    key k;
    make_key(S.ft, S.t, id % S.keyspace, &k);
    ment *me = model_find(&k);
    size_t failed = S.alloc.failed;
    int rc = do_delete(&k, use_fast(sel), sel & 2);
    if (rc == -ENOMEM) {
        ENSURE(S.alloc.failed > failed, "delete: -ENOMEM without a failed allocation");
        if (me != NULL)
            elem_expect(do_lookup(&k, false, false), S.t->elem_size, me->val,
                        "after failed delete");
        return;
    }
    ENSURE(rc == (me != NULL), "delete returned %d, model %s", rc, me ? "has it" : "lacks it");
    if (me != NULL)
        model_delete(&k);
    ENSURE(k.nan || do_lookup(&k, false, false) == NULL, "deleted key still found");
}

static void op_clear(void) {
    gomap_clear(S.m);
    model *md = &g_model;
    for (int i = 0; i < MAXENT; i++)
        if (md->e[i].live) {
            key k = {.clen = md->e[i].clen};
            memcpy(k.canon, md->e[i].canon, k.clen);
            model_delete(&k);
        }
    md->count = 0;
    md->nnan = 0;
    /* NaN keys are counted, not identified: count afresh after a clear. */
    for (int i = 0; i < NITER; i++)
        S.it[i].nan_seen = 0;
}

/* Compare every model entry with the map. */
static void op_verify(void) {
    for (int i = 0; i < MAXENT; i++) {
        ment *me = &g_model.e[i];
        if (!me->live)
            continue;
        key k;
        memset(&k, 0, sizeof k);
        memcpy(k.bytes, me->raw, raw_len());
        memcpy(k.canon, me->canon, me->clen);
        k.clen = me->clen;
        if (S.ft->km == KEY_U64)
            memcpy(&k.u64, me->raw, 8);
        elem_expect(do_lookup(&k, i & 1, i & 2), S.t->elem_size, me->val, "verify");
    }
}

static void op_iter_start(int slot) {
    iter_drop(slot);
    fiter *f = &S.it[slot];
    gomap_iter_init(&f->it, S.m);
    f->live = true;
    f->start_serial = g_model.serial;
    f->gen = ++S.iter_gen;
    f->nan_seen = 0;
}

/* The iterator ended: every entry present since it started was returned. */
static void iter_finished(int slot) {
    fiter *f = &S.it[slot];
    f->live = false;
    for (int i = 0; i < MAXENT; i++) {
        ment *me = &g_model.e[i];
        ENSURE(!me->live || me->serial >= f->start_serial || me->seen[slot] == f->gen,
               "iterator %d ended without returning a key present throughout", slot);
    }
    size_t old_nans = 0;
    for (size_t i = 0; i < g_model.nnan; i++)
        old_nans += g_model.nan_serial[i] < f->start_serial;
    ENSURE(f->nan_seen >= old_nans && f->nan_seen <= g_model.nnan,
           "iterator %d returned %zu NaN keys; %zu present throughout, %zu now", slot, f->nan_seen,
           old_nans, g_model.nnan);
}

/* Step an iterator up to n times; mode 1 writes a key after every step,
 * mode 2 deletes the key just returned (both legal in Go's range). */
static void op_iter_step(int slot, unsigned n, unsigned mode, uint16_t arg) {
    fiter *f = &S.it[slot];
    if (!f->live)
        return;
    for (unsigned s = 0; s < n; s++) {
        void *kp = NULL, *ep = NULL;
        if (!gomap_iter_next(&f->it, &kp, &ep)) {
            iter_finished(slot);
            return;
        }
        ENSURE(kp != NULL, "iterator returned a NULL key");
        key k;
        key_from_map(S.ft, S.t, kp, &k);
        if (k.nan) {
            f->nan_seen++;
            ENSURE(f->nan_seen <= g_model.nnan,
                   "iterator %d returned more NaN keys than the map holds (%zu)", slot,
                   g_model.nnan);
        } else {
            ment *me = model_find(&k);
            ENSURE(me != NULL, "iterator returned a key that is not in the map");
            ENSURE(memcmp(me->raw, k.bytes, raw_len()) == 0, "iterated key bytes differ");
            ENSURE(me->seen[slot] != f->gen, "iterator %d returned a key twice", slot);
            me->seen[slot] = f->gen;
            elem_expect(ep, S.t->elem_size, me->val, "iterated element");
            if (mode == 2) {
                size_t failed = S.alloc.failed;
                int rc = do_delete(&k, false, false);
                ENSURE(rc == 1 || (rc == -ENOMEM && S.alloc.failed > failed),
                       "delete of the iterated key: %d", rc);
                if (rc == 1)
                    model_delete(&k);
            }
        }
        if (mode == 1)
            key_assign((uint32_t)arg + s * 7, arg ^ s, (uint8_t)s);
        if (mode != 0)
            check_map();
    }
}

static void op_stats(void) {
    gomap_stats st;
    gomap_get_stats(S.m, &st);
    ENSURE(st.count == g_model.count, "stats.count %zu, model %zu", st.count, g_model.count);
    ENSURE(st.buckets == (size_t)1 << st.B, "stats.buckets %zu with B = %u", st.buckets, st.B);
    ENSURE(st.growing == (st.old_buckets != 0), "growing %d with %zu old buckets", st.growing,
           st.old_buckets);
    if (st.growing) {
        ENSURE(st.old_buckets == st.buckets || st.old_buckets * 2 == st.buckets,
               "old array of %zu buckets for %zu", st.old_buckets, st.buckets);
        ENSURE(st.nevacuate < st.old_buckets, "nevacuate %zu of %zu", st.nevacuate, st.old_buckets);
    }
    ENSURE(st.same_size_grows <= st.grows, "same-size grows %llu > grows %llu",
           (unsigned long long)st.same_size_grows, (unsigned long long)st.grows);
}

static void op_finish_grow(void) {
    size_t failed = S.alloc.failed;
    int rc = gomap__finish_grow(S.m);
    ENSURE(rc == 0 || (rc == -ENOMEM && S.alloc.failed > failed), "finish_grow: %d", rc);
    if (rc == 0) {
        gomap_stats st;
        gomap_get_stats(S.m, &st);
        ENSURE(!st.growing, "still growing after gomap__finish_grow");
    }
}

enum {
    OP_CREATE,
    OP_ASSIGN,
    OP_LOOKUP,
    OP_DELETE,
    OP_CLEAR,
    OP_BULK_ASSIGN,
    OP_BULK_DELETE,
    OP_ITER_START,
    OP_ITER_STEP,
    OP_ITER_DONE,
    OP_STATS,
    OP_FAIL,
    OP_FINISH_GROW,
    OP_VERIFY,
    OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
    "create",     "assign",    "lookup",    "delete", "clear", "bulk_assign", "bulk_delete",
    "iter_start", "iter_step", "iter_done", "stats",  "fail",  "finish_grow", "verify"};

static bool g_trace; /* MAP_FUZZ_TRACE=1: print each operation (replaying a crash) */

static void run_op(reader *r) {
    uint8_t op = rd8(r) % OP_COUNT;
    g_opname = op_names[op];
    if (g_trace)
        fprintf(stderr, "op %zu %s: len %zu, %zu bytes of input left\n", g_opno, g_opname,
                g_model.count, r->n);
    if (S.m == NULL && op != OP_CREATE && op != OP_FAIL)
        return;
    switch (op) {
    case OP_CREATE: {
        uint8_t ti = rd8(r), h = rd8(r), sd = rd8(r), ks = rd8(r);
        /* Hints 0..~3000, dense near the small-map boundaries. */
        size_t hint = h < 64 ? h : (size_t)(h - 63) * 16;
        static const uint32_t spaces[] = {16, 256, 1024, KEYSPACE};
        S.keyspace = spaces[ks % 4];
        op_create(ti, hint, sd ? mix(sd) | 1 : 0);
        break;
    }
    case OP_ASSIGN: {
        uint16_t id = rd16(r);
        uint8_t v = rd8(r), sel = rd8(r);
        key_assign(id, v, sel);
        break;
    }
    case OP_LOOKUP: {
        uint16_t id = rd16(r);
        key_lookup(id, rd8(r));
        break;
    }
    case OP_DELETE: {
        uint16_t id = rd16(r);
        key_delete(id, rd8(r));
        break;
    }
    case OP_CLEAR:
        op_clear();
        break;
    case OP_BULK_ASSIGN:
    case OP_BULK_DELETE: {
        uint16_t start = rd16(r);
        size_t n = (size_t)rd8(r) * 4;
        uint8_t stride = rd8(r) | 1, sel = rd8(r);
        for (size_t i = 0; i < n; i++) {
            uint32_t id = start + (uint32_t)(i * stride);
            if (op == OP_BULK_ASSIGN)
                key_assign(id, i, sel);
            else
                key_delete(id, sel);
        }
        break;
    }
    case OP_ITER_START:
        op_iter_start(rd8(r) % NITER);
        break;
    case OP_ITER_STEP: {
        uint8_t slot = rd8(r) % NITER, n = rd8(r), mode = rd8(r) % 3;
        uint16_t arg = rd16(r);
        /* 255: to the end, without writes (each write step checks the whole map). */
        op_iter_step(slot, n == 255 ? UINT32_MAX : n, n == 255 ? 0 : mode, arg);
        break;
    }
    case OP_ITER_DONE:
        iter_drop(rd8(r) % NITER);
        break;
    case OP_STATS:
        op_stats();
        break;
    case OP_FAIL:
        /* Let `after` allocations through, then fail `count` (0: off). */
        S.alloc.fail_after = rd8(r);
        S.alloc.fail_count = rd8(r) % 8;
        break;
    case OP_FINISH_GROW:
        op_finish_grow();
        break;
    case OP_VERIFY:
        op_verify();
        break;
    }
    check_map();
}

/*
 * MAP_FUZZ_SABOTAGE=1 (tests only): at the end of each input, delete one
 * entry behind the model's back, as a map bug losing an entry would; the
 * run must then fail. Proves the checks are wired to the outcome.
 */
static bool g_sabotage;

static void sabotage(void) {
    for (int i = 0; i < MAXENT; i++) {
        ment *me = &g_model.e[i];
        if (!me->live)
            continue;
        key k;
        memset(&k, 0, sizeof k);
        memcpy(k.bytes, me->raw, raw_len());
        memcpy(&k.u64, me->raw, S.ft->km == KEY_U64 ? 8 : 0);
        S.alloc.fail_count = 0;
        if (do_delete(&k, false, false) == 1)
            break;
    }
    check_map();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    strpool_init();
    g_trace = getenv("MAP_FUZZ_TRACE") != NULL;
    g_sabotage = getenv("MAP_FUZZ_SABOTAGE") != NULL;
    memset(&S, 0, sizeof S);
    S.galloc = (gomap_alloc){.alloc = fz_alloc_fn, .release = fz_release_fn, .ctx = &S.alloc};
    model_reset();
    g_model.serial = 0;
    reader r = {data, size};
    g_opno = 0;
    g_opname = "create";
    S.keyspace = 256;
    op_create(rd8(&r), 0, 0);
    while (r.n > 0) {
        g_opno++;
        run_op(&r);
    }
    g_opname = "end";
    if (g_sabotage && S.m != NULL)
        sabotage();
    if (S.m != NULL) {
        S.alloc.fail_count = 0;
        op_verify();
        for (int i = 0; i < NITER; i++)
            op_iter_step(i, UINT32_MAX, 0, 0);
        op_iter_start(0);
        op_iter_step(0, UINT32_MAX, 0, 0);
    }
    map_drop();
    return 0;
}

/* ---- seed corpus ------------------------------------------------------------- */

#ifdef MAP_FUZZ_SEED_MAIN
typedef struct prog {
    uint8_t b[1024];
    size_t n;
} prog;

static void emit(prog *p, int nargs, ...) {
    va_list ap;
    va_start(ap, nargs);
    for (int i = 0; i < nargs && p->n < sizeof p->b; i++)
        p->b[p->n++] = (uint8_t)va_arg(ap, int);
    va_end(ap);
}

static void save(const char *dir, const char *name, const prog *p) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p->b, 1, p->n, f) != p->n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* One seed per type: fill past a few grows, iterate with writes and deletes
 * between steps, delete half, clear, refill with a hint; plus variants with
 * allocation failures and with a fast/generic API mix. */
int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    for (size_t t = 0; t < NTYPES; t++) {
        for (int variant = 0; variant < 3; variant++) {
            prog p = {.n = 0};
            emit(&p, 1, (int)t);
            emit(&p, 5, OP_CREATE, (int)t, 0, variant + 1, 2);
            if (variant == 2)
                emit(&p, 3, OP_FAIL, 40, 3);
            emit(&p, 6, OP_BULK_ASSIGN, 0, 0, 30, 1, variant);
            emit(&p, 2, OP_ITER_START, 0);
            emit(&p, 6, OP_ITER_STEP, 0, 10, 1, 5, 1);
            emit(&p, 6, OP_BULK_ASSIGN, 200, 0, 20, 3, 1);
            emit(&p, 6, OP_ITER_STEP, 0, 10, 2, 0, 0);
            emit(&p, 1, OP_STATS);
            emit(&p, 2, OP_ITER_START, 1);
            emit(&p, 4, OP_ASSIGN, 7, 0, 9);
            emit(&p, 4, OP_LOOKUP, 7, 0, 3);
            emit(&p, 4, OP_DELETE, 8, 0, 2);
            emit(&p, 6, OP_BULK_DELETE, 0, 0, 15, 2, 1);
            emit(&p, 6, OP_ITER_STEP, 1, 255, 0, 0, 0);
            emit(&p, 1, OP_FINISH_GROW);
            emit(&p, 1, OP_VERIFY);
            emit(&p, 6, OP_ITER_STEP, 0, 255, 1, 9, 0);
            emit(&p, 1, OP_CLEAR);
            emit(&p, 5, OP_CREATE, (int)t, 70, 0, 3);
            emit(&p, 6, OP_BULK_ASSIGN, 1, 0, 60, 5, 0);
            emit(&p, 1, OP_STATS);
            emit(&p, 2, OP_ITER_DONE, 0);
            char name[64];
            snprintf(name, sizeof name, "seed-type%02zu-v%d", t, variant);
            save(argv[1], name, &p);
        }
    }
    return 0;
}
#endif
