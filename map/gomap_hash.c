/*
 * gomap_hash.c — the map's seeded hash functions and random numbers.
 *
 * Design: wyhash (Wang Yi, final version 4, public domain), re-implemented
 * from its published description, not copied. The core is "mum": a 64x64 ->
 * 128-bit multiply whose halves are xor-folded, which mixes every input bit
 * into every output bit in one ~3-cycle instruction.
 * - u64 keys: one mum round, mum(k ^ seed ^ P0, rot32(k) ^ P1); the key
 *   enters both factors so neither half of the product is linear in it. Go's
 *   map takes the bucket from the low bits and the tophash from the top byte,
 *   and the xor-fold feeds both from the full product.
 * - bytes: inputs up to 16 bytes are read as two overlapping words (the
 *   first and last 8 bytes, or 4 below 8, or three bytes below 4), longer
 *   inputs are absorbed 16 bytes a round into the seed; the last 16 bytes
 *   finish. The length is folded in at the end so prefixes differ.
 * - rand: wyrand (a Weyl sequence through mum), per thread, seeded once from
 *   getrandom(2); a map with a fixed seed draws from its own sequence so
 *   tests are reproducible.
 * Not a cryptographic hash; a random per-map seed (reset when the map empties)
 * is what resists collision flooding, as in Go.
 */
#include <sys/random.h>
#include <time.h>

#include "map/gomap_internal.h"

static inline uint64_t rd64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

uint64_t gomap__hash_mem(const void *data, size_t n, uint64_t seed) {
    const uint8_t *p = data;
    uint64_t a, b;
    seed ^= HASH_P0;
    if (LIKELY(n <= 16)) {
        if (n >= 4) {
            hash_short_words(p, n, &a, &b);
        } else if (n > 0) {
            a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t i = n;
        if (i > 48) {
            uint64_t s1 = seed, s2 = seed;
            do {
                seed = mum(rd64(p) ^ HASH_P1, rd64(p + 8) ^ seed);
                s1 = mum(rd64(p + 16) ^ HASH_P2, rd64(p + 24) ^ s1);
                s2 = mum(rd64(p + 32) ^ HASH_P3, rd64(p + 40) ^ s2);
                p += 48;
                i -= 48;
            } while (i > 48);
            seed ^= s1 ^ s2;
        }
        while (i > 16) {
            seed = mum(rd64(p) ^ HASH_P1, rd64(p + 8) ^ seed);
            p += 16;
            i -= 16;
        }
        a = rd64(p + i - 16);
        b = rd64(p + i - 8);
    }
    return mum(HASH_P1 ^ n, mum(a ^ HASH_P1, b ^ seed));
}

uint64_t gomap_hash_bytes(const void *p, size_t n, uint64_t seed) {
    return gomap__hash_mem(p, n, seed);
}

uint64_t gomap_hash_u64(uint64_t key, uint64_t seed) {
    return hash_u64_inline(key, seed);
}

uint64_t gomap__hash_u64_key(const void *key, uint64_t seed) {
    return hash_u64_inline(load_u64(key), seed);
}

uint64_t gomap__hash_str_key(const void *key, uint64_t seed) {
    gomap_str s;
    memcpy(&s, key, sizeof s);
    return gomap__hash_mem(s.ptr, s.len, seed);
}

bool gomap__equal_u64_key(const void *a, const void *b) {
    return load_u64(a) == load_u64(b);
}

bool gomap__equal_str_key(const void *a, const void *b) {
    gomap_str x, y;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    return x.len == y.len && (x.ptr == y.ptr || memcmp(x.ptr, y.ptr, x.len) == 0);
}

static __thread uint64_t tl_rng;
static __thread bool tl_seeded;

static uint64_t wyrand(uint64_t *state) {
    *state += HASH_P0;
    return mum(*state, *state ^ HASH_P1);
}

uint64_t gomap__rand(void) {
    if (UNLIKELY(!tl_seeded)) {
        uint64_t s = 0;
        if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
            /* No entropy yet (early boot): mix time and addresses. */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            s = mum((uint64_t)ts.tv_nsec ^ HASH_P2, (uint64_t)(uintptr_t)&s ^ HASH_P3) ^
                (uint64_t)ts.tv_sec;
        }
        tl_rng = s;
        tl_seeded = true;
    }
    return wyrand(&tl_rng);
}

uint64_t gomap__map_rand(gomap *m) {
    if (m->fixed_seed)
        return wyrand(&m->rng);
    return gomap__rand();
}
