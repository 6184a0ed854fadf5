/*
 * maptest.h — helpers shared by the libgomap tests (tests/map/NAME_test.c).
 *
 * Everything is static inline so that each test file takes only what it
 * uses. What is here:
 * - a seeded PRNG (splitmix64) derived from th_seed() and a per-test tag, so a
 *   failing run replays with TEST_SEED=<printed seed>;
 * - CHECK_MAP(m): gomap__check() with its explanation on failure;
 * - Go's growth rules (overLoadFactor, makemap's B), computed independently
 *   of the implementation;
 * - a counting, failure-injecting allocator for gomap_config.alloc that also
 *   verifies every release (right size, live block, no double release);
 * - key/element encodings for model-based tests: a key is an integer id
 *   written into key_size bytes (the rest of the bytes derived from the id),
 *   so a returned key can be decoded back to its id and checked byte by byte.
 */
#ifndef MAPPROF_TESTS_MAP_MAPTEST_H
#define MAPPROF_TESTS_MAP_MAPTEST_H

#include "map/gomap.h"
#include "map/gomap_check.h"
#include "tests/harness/test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- randomness ---------------------------------------------------------- */

static inline uint64_t mt_mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

typedef struct mt_rng {
    uint64_t s;
} mt_rng;

static inline uint64_t mt_next(mt_rng *r) {
    r->s += 0x9e3779b97f4a7c15ull;
    return mt_mix(r->s);
}

/* Uniform-enough value in [0, n); n > 0. */
static inline uint64_t mt_below(mt_rng *r, uint64_t n) {
    return (uint64_t)(((unsigned __int128)mt_next(r) * n) >> 64);
}

/* A generator for one test: th_seed() (printed by the runner) mixed with a tag. */
static inline mt_rng mt_rng_for(const char *tag) {
    uint64_t h = 1469598103934665603ull;
    for (const char *p = tag; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    mt_rng r = {mt_mix(th_seed() ^ h)};
    return r;
}

/* ---- checks ---------------------------------------------------------------- */

#define CHECK_MAP(m)                                                                               \
    do {                                                                                           \
        char mt_why_[1024] = "";                                                                   \
        if (gomap__check((m), mt_why_, sizeof mt_why_) != 0)                                       \
            th_fail(__FILE__, __LINE__, "gomap__check(%s) failed: %s", #m, mt_why_);               \
    } while (0)

static inline bool mt_sanitized(void) {
#if defined(MAPPROF_SANITIZE) && MAPPROF_SANITIZE
    return true;
#else
    return getenv("MAPPROF_SANITIZE") != NULL;
#endif
}

/* Scale a workload size down under the sanitizers (ASan is ~3-10x slower). */
static inline size_t mt_scale(size_t n) {
    return mt_sanitized() ? (n + 3) / 4 : n;
}

static inline gomap_stats mt_stats(const gomap *m) {
    gomap_stats st;
    memset(&st, 0xA5, sizeof st);
    gomap_get_stats(m, &st);
    return st;
}

/* ---- Go's growth rules (map.go overLoadFactor / makemap) ------------------- */

/* count > bucketCnt && count > loadFactorNum * (2^B / loadFactorDen) */
static inline bool mt_over_load(uint64_t count, unsigned B) {
    return count > 8 && count > 13 * ((UINT64_C(1) << B) / 2);
}

/* makemap: the smallest B that holds hint entries without growing. */
static inline unsigned mt_makemap_B(uint64_t hint) {
    unsigned B = 0;
    while (mt_over_load(hint, B))
        B++;
    return B;
}

/* ---- a counting allocator with countdown failure injection ------------------ */

/*
 * Each block carries a 16-byte header with its size and a magic word, so a
 * release with the wrong size, of a block never handed out, or twice, fails
 * the test at once. fail_after counts the allocations that may still
 * succeed; once it reaches 0, the next fail_count allocations fail (-1:
 * every one until the test changes the settings). fail_after < 0 never fails.
 */
typedef struct mt_alloc {
    gomap_alloc a;
    long fail_after;
    long fail_count;
    size_t nalloc, nrelease, nfailed;
    size_t live, live_bytes, peak_bytes;
} mt_alloc;

#define MT_ALLOC_MAGIC 0x6d61706d61676963ull /* "mapmagic" */
#define MT_ALLOC_DEAD  0x6465616462656566ull

static inline void *mt_alloc_fn(size_t size, void *ctx) {
    mt_alloc *a = ctx;
    if (a->fail_after == 0 && a->fail_count != 0) {
        if (a->fail_count > 0)
            a->fail_count--;
        a->nfailed++;
        return NULL;
    }
    if (a->fail_after > 0)
        a->fail_after--;
    uint64_t *h = calloc(1, size + 16);
    if (!h)
        th_fail(__FILE__, __LINE__, "test allocator: calloc(%zu) failed", size + 16);
    h[0] = size;
    h[1] = MT_ALLOC_MAGIC;
    a->nalloc++;
    a->live++;
    a->live_bytes += size;
    if (a->live_bytes > a->peak_bytes)
        a->peak_bytes = a->live_bytes;
    return h + 2;
}

static inline void mt_release_fn(void *p, size_t size, void *ctx) {
    mt_alloc *a = ctx;
    if (!p)
        th_fail(__FILE__, __LINE__, "test allocator: release(NULL, %zu)", size);
    uint64_t *h = (uint64_t *)p - 2;
    if (h[1] == MT_ALLOC_DEAD)
        th_fail(__FILE__, __LINE__, "test allocator: double release of %p (%zu bytes)", p, size);
    if (h[1] != MT_ALLOC_MAGIC)
        th_fail(__FILE__, __LINE__, "test allocator: release of unknown block %p", p);
    if (h[0] != size)
        th_fail(__FILE__, __LINE__,
                "test allocator: block %p allocated with %" PRIu64 " bytes released with %zu", p,
                h[0], size);
    h[1] = MT_ALLOC_DEAD;
    a->nrelease++;
    a->live--;
    a->live_bytes -= size;
    free(h);
}

static inline void mt_alloc_init(mt_alloc *a) {
    memset(a, 0, sizeof *a);
    a->a.alloc = mt_alloc_fn;
    a->a.release = mt_release_fn;
    a->a.ctx = a;
    a->fail_after = -1;
}

/* ---- key and element encodings for model-based tests ----------------------- */

/* The id in the first min(ksz, 8) bytes (little-endian), id-derived filler after. */
static inline void mt_key_bytes(uint64_t id, void *out, size_t ksz) {
    uint8_t *p = out;
    size_t n = ksz < 8 ? ksz : 8;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(id >> (8 * i));
    for (size_t i = n; i < ksz; i += 8) {
        uint64_t w = mt_mix(id * 0x9e3779b97f4a7c15ull + i);
        for (size_t j = 0; j < 8 && i + j < ksz; j++)
            p[i + j] = (uint8_t)(w >> (8 * j));
    }
}

/* Decode a key written by mt_key_bytes; false when any byte is wrong. */
static inline bool mt_key_id(const void *key, size_t ksz, uint64_t *id) {
    const uint8_t *p = key;
    size_t n = ksz < 8 ? ksz : 8;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    uint8_t buf[512];
    if (ksz > sizeof buf)
        th_fail(__FILE__, __LINE__, "key too large for mt_key_id");
    mt_key_bytes(v, buf, ksz);
    if (memcmp(buf, key, ksz) != 0)
        return false;
    *id = v;
    return true;
}

/* Element contents for (id, version): every byte depends on both. */
static inline void mt_elem_bytes(uint64_t id, uint64_t ver, void *out, size_t esz) {
    uint8_t *p = out;
    for (size_t i = 0; i < esz; i += 8) {
        uint64_t w = mt_mix(id * 0x2545f4914f6cdd1dull ^ (ver << 20) ^ i);
        for (size_t j = 0; j < 8 && i + j < esz; j++)
            p[i + j] = (uint8_t)(w >> (8 * j));
    }
}

static inline bool mt_elem_ok(uint64_t id, uint64_t ver, const void *elem, size_t esz) {
    uint8_t buf[512];
    if (esz > sizeof buf)
        th_fail(__FILE__, __LINE__, "elem too large for mt_elem_ok");
    mt_elem_bytes(id, ver, buf, esz);
    return memcmp(buf, elem, esz) == 0;
}

/* Fill a u64 map with keys mix(i) -> i for i in [from, to); checks every step's result. */
static inline void mt_fill_u64(gomap *m, uint64_t from, uint64_t to) {
    for (uint64_t i = from; i < to; i++) {
        void *e = NULL;
        int rc = gomap_assign_u64(m, mt_mix(i), &e);
        if (rc != 1)
            th_fail(__FILE__, __LINE__, "assign_u64(key #%" PRIu64 ") = %d, want 1", i, rc);
        memcpy(e, &i, sizeof i);
    }
}

/* A u64 map made with gomap_new; fails the test on error. */
static inline gomap *mt_new(const gomap_type *t, size_t hint, const gomap_config *cfg) {
    gomap *m = NULL;
    int rc = gomap_new(t, hint, cfg, &m);
    if (rc != 0 || !m)
        th_fail(__FILE__, __LINE__, "gomap_new(%s, %zu) = %d", t->name ? t->name : "?", hint, rc);
    return m;
}

#endif
