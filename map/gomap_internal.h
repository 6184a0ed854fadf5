/*
 * gomap_internal.h — layout, constants and inline helpers shared by the
 * map/ sources. Not installed; included by the map/ sources only.
 *
 * Layout (Go's bmap, runtime/map.go): a bucket is
 *     uint8_t tophash[8]; key keys[8]; elem elems[8]; bucket *overflow;
 * keys/elems larger than 128 bytes are stored by pointer (indirect). The
 * overflow pointer sits at bucketsize - 8.
 *
 * C-only additions (Go's GC does this work for Go):
 * - Every bucket array is allocated with a gen_hdr in front of it. The
 *   header records the allocation size and heads the singly linked list of
 *   non-preallocated overflow buckets chained into that array (Go's
 *   extra.overflow / extra.oldoverflow), so a generation is freed as one
 *   unit. A retired generation (grow finished or clear while an iterator
 *   still held it) is parked on gomap.retired via gen_hdr.retired_next.
 * - Every fresh overflow bucket and every indirect key/elem block carries a
 *   16-byte blk_hdr in front, whose link threads the generation list, the
 *   spare list or the deferred-free list without any extra allocation: so no
 *   bookkeeping step can fail once an operation has its memory.
 */
#ifndef GOMAP_INTERNAL_H
#define GOMAP_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "map/gomap.h"

#define GOMAP_HIDDEN __attribute__((visibility("hidden")))
#define LIKELY(x)    __builtin_expect(!!(x), 1)
#define UNLIKELY(x)  __builtin_expect(!!(x), 0)

/* Go's constants (map.go / internal/abi/map.go). */
#define BUCKET_CNT_BITS 3
#define BUCKET_CNT      8 /* slots per bucket */
#define DATA_OFFSET     8 /* offset of keys: sizeof tophash[8], 8-aligned */
#define MAX_KEY_SIZE    128
#define MAX_ELEM_SIZE   128
#define LOAD_FACTOR_NUM 13 /* load factor 6.5 = 13/2 */
#define LOAD_FACTOR_DEN 2

/* tophash states (map.go:82-91). Values >= MIN_TOPHASH are live slots. */
enum {
    EMPTY_REST = 0,      /* this slot and every later slot of the chain empty */
    EMPTY_ONE = 1,       /* this slot is empty */
    EVACUATED_X = 2,     /* live entry moved to the X (low) half of the new array */
    EVACUATED_Y = 3,     /* ... moved to Y (high half); must be EVACUATED_X + 1 */
    EVACUATED_EMPTY = 4, /* slot was empty when its bucket was evacuated */
    MIN_TOPHASH = 5,     /* smallest tophash of a live entry */
};

/* hmap.flags (map.go:93-97). Accessed with relaxed atomics, see flags_*. */
enum {
    ITERATOR = 1,       /* an iterator may be using buckets */
    OLD_ITERATOR = 2,   /* an iterator may be using oldbuckets */
    HASH_WRITING = 4,   /* a writer is inside its critical section */
    SAME_SIZE_GROW = 8, /* the current grow is to an array of the same size */
};

#define NO_CHECK SIZE_MAX /* iterator: no bucket filter (Go's noCheck) */

/* Header in front of every bucket array. 48 bytes keep the buckets 16-aligned. */
typedef struct gen_hdr {
    size_t bytes;                 /* whole allocation, header included */
    size_t nbuckets;              /* 2^B plus the preallocated overflow buckets */
    struct blk_hdr *ovf;          /* fresh overflow buckets chained into this array */
    struct gen_hdr *retired_next; /* on gomap.retired */
    size_t novf;                  /* length of ovf */
    size_t pad_;
} gen_hdr;

/* Header in front of every fresh overflow bucket and indirect key/elem. */
typedef struct blk_hdr {
    struct blk_hdr *next;
    size_t bytes; /* whole allocation, header included */
} blk_hdr;

#define GEN_HDR_SIZE sizeof(gen_hdr)
#define BLK_HDR_SIZE sizeof(blk_hdr)

struct gomap {
    /* Go's hmap. count first, as in Go (len reads it). */
    size_t count;       /* live entries */
    uint8_t flags;      /* ITERATOR | OLD_ITERATOR | HASH_WRITING | SAME_SIZE_GROW */
    uint8_t B;          /* log2 of the bucket count; <= 63 */
    uint16_t noverflow; /* approximate overflow count, exact below B = 16 */
    uint8_t kind;       /* enum gomap_key_kind of the type */
    uint8_t indirect_key, indirect_elem; /* slot holds a pointer (size > 128) */
    uint8_t fixed_seed;                  /* cfg->seed was nonzero: deterministic rng */
    uint64_t hash0;                      /* hash seed; new one when count drops to 0 and on clear */
    uint8_t *buckets;                    /* 2^B buckets; NULL while B == 0 and never written */
    uint8_t *oldbuckets;                 /* previous array, non-NULL only while growing */
    size_t nevacuate;                    /* old buckets below this are all evacuated */
    size_t grow_at;                      /* count at which an insert may grow: see set_grow_at */
    bool elems_dirty;                    /* small elems may be left unzeroed: ZERO_ON_INSERT_MAX */
    uint8_t *next_overflow;              /* next free preallocated overflow bucket, or NULL */

    /* Type layout, resolved once (Go's maptype). */
    /* keysize/elemsize are Go's names for the slot sizes; the type's own
     * sizes (gomap_type's key_size/elem_size) are *_type_size here. */
    uint32_t bucketsize;     /* DATA_OFFSET + 8*keysize + 8*elemsize + 8 */
    uint32_t keysize;        /* key slot size (8 when indirect) */
    uint32_t elemsize;       /* elem slot size (8 when indirect) */
    uint32_t elemoff;        /* DATA_OFFSET + 8*keysize */
    uint32_t key_type_size;  /* the type's key size */
    uint32_t elem_type_size; /* the type's elem size */
    gomap_hash_fn hash;      /* NULL: gomap__hash_mem over key_type_size bytes */
    gomap_equal_fn equal;    /* NULL: memcmp over key_type_size bytes */
    const gomap_type *t;

    /* Profiler: NULL hooks when unprofiled; one branch per hook point. */
    const gomap_hooks *hooks;
    void *cookie;

    /* Memory. */
    void *(*alloc_fn)(size_t size, void *ctx);
    void (*release_fn)(void *p, size_t size, void *ctx);
    void *alloc_ctx;
    blk_hdr *spare; /* fresh, never used overflow buckets kept for evacuate */
    size_t nspare;
    blk_hdr *deferred;     /* indirect blocks freed while iterators were live */
    blk_hdr *deferred_ovf; /* fresh overflow buckets dropped by clear under iterators */
    gen_hdr *retired;      /* generations kept alive for iterators */
    size_t iters;          /* live iterators (atomic) */
    uint64_t rng;          /* per-map rng state when fixed_seed */

    /* Statistics. */
    size_t novf_cur, novf_old; /* overflow buckets linked into buckets/oldbuckets */
    size_t bytes;              /* everything held, header included */
    uint64_t grows, same_size_grows;
};

/* ---- flags: relaxed atomics, never a locked RMW on the hot path ---- */

static inline uint8_t flags_load(const gomap *m) {
    return __atomic_load_n(&m->flags, __ATOMIC_RELAXED);
}
static inline void flags_store(gomap *m, uint8_t f) {
    __atomic_store_n(&m->flags, f, __ATOMIC_RELAXED);
}

/* ---- layout helpers (map.go bucketShift/bucketMask/tophash/overflow) ---- */

static inline size_t bucket_shift(unsigned b) {
    return (size_t)1 << (b & 63);
}
static inline size_t bucket_mask(unsigned b) {
    return bucket_shift(b) - 1;
}
static inline uint8_t tophash(uint64_t hash) {
    uint8_t top = (uint8_t)(hash >> 56);
    if (top < MIN_TOPHASH)
        top += MIN_TOPHASH;
    return top;
}
static inline bool is_empty(uint8_t x) {
    return x <= EMPTY_ONE;
}
static inline bool evacuated(const uint8_t *b) {
    uint8_t h = b[0];
    return h > EMPTY_ONE && h < MIN_TOPHASH;
}
static inline uint8_t *bucket_at(const gomap *m, uint8_t *arr, size_t i) {
    return arr + i * m->bucketsize;
}
/* Prefetch every cache line of bucket b (for writing when rw): the first
 * three lines unconditionally (the u64 and string kinds' buckets have at
 * least 80 bytes; a prefetch past a bucket is harmless), the last byte, and
 * a loop only for buckets over 192 bytes. Fewer instructions than one loop
 * over all lines: 6 instead of 11 for the 144-byte u64 bucket (see
 * op_assign). always_inline: GCC 12 marks a function holding only
 * prefetches pure and deletes the calls (dse1) when it does not inline. */
static inline __attribute__((always_inline)) void prefetch_bucket(const gomap *m, const uint8_t *b,
                                                                  int rw) {
    size_t n = m->bucketsize;
    if (rw) {
        __builtin_prefetch(b, 1);
        __builtin_prefetch(b + 64, 1);
        __builtin_prefetch(b + 128, 1);
        __builtin_prefetch(b + n - 1, 1);
        for (size_t off = 192; off < n - 1; off += 64)
            __builtin_prefetch(b + off, 1);
    } else {
        __builtin_prefetch(b, 0);
        __builtin_prefetch(b + 64, 0);
        __builtin_prefetch(b + 128, 0);
        __builtin_prefetch(b + n - 1, 0);
        for (size_t off = 192; off < n - 1; off += 64)
            __builtin_prefetch(b + off, 0);
    }
}
static inline uint8_t *bmap_overflow(const gomap *m, const uint8_t *b) {
    uint8_t *p;
    memcpy(&p, b + m->bucketsize - sizeof(void *), sizeof p);
    return p;
}
static inline void bmap_setoverflow(const gomap *m, uint8_t *b, uint8_t *ovf) {
    memcpy(b + m->bucketsize - sizeof(void *), &ovf, sizeof ovf);
}
static inline uint8_t *bmap_key(const gomap *m, uint8_t *b, size_t i) {
    return b + DATA_OFFSET + i * m->keysize;
}
static inline uint8_t *bmap_elem(const gomap *m, uint8_t *b, size_t i) {
    return b + m->elemoff + i * m->elemsize;
}
static inline void *load_ptr(const void *slot) {
    void *p;
    memcpy(&p, slot, sizeof p);
    return p;
}
static inline void store_ptr(void *slot, const void *p) {
    memcpy(slot, &p, sizeof p);
}
/* String key bytes equal: an empty key may be (NULL, 0), and memcmp with a
 * NULL pointer is undefined even for length 0. */
static inline bool str_bytes_equal(const char *a, const char *b, size_t n) {
    return n == 0 || a == b || memcmp(a, b, n) == 0;
}
static inline uint64_t load_u64(const void *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
/*
 * SWAR over a bucket's 8 tophash bytes read as one word, slot i in byte i.
 * swar_zero_bytes flags every zero byte of x in its top bit; the lowest flag
 * is exact, higher ones may be false (a borrow from a zero byte below), so
 * callers take the lowest flag or re-check the slot's byte.
 *
 * Why: the slot-by-slot scan ends at a data-dependent position, one
 * mispredicted branch per operation, which also throws away the next
 * operations' work that the CPU ran ahead into while this one's bucket
 * miss was pending. Matching the tophash in a word and then visiting only
 * the candidates (nearly always one) leaves branches the predictor gets
 * right, although it executes more instructions. The earlier branch-free
 * scans that lost compared all 8 keys at once, waiting for every key line;
 * this one still touches only the matching slot.
 */
#define SWAR_LO 0x0101010101010101ull
#define SWAR_HI 0x8080808080808080ull
static inline uint64_t tophash_word(const uint8_t *b) {
    uint64_t w = load_u64(b);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* Store a word in tophash_word's byte order. */
static inline void store_tophash_word(uint8_t *b, uint64_t w) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    memcpy(b, &w, 8);
}
static inline uint64_t swar_zero_bytes(uint64_t x) {
    return (x - SWAR_LO) & ~x & SWAR_HI;
}
/* Candidate slots whose tophash may equal top (re-check b[i] == top). */
static inline uint64_t swar_match(uint64_t w, uint8_t top) {
    return swar_zero_bytes(w ^ (SWAR_LO * top));
}
/* Flags of empty slots (EMPTY_REST or EMPTY_ONE); only the lowest is exact. */
static inline uint64_t swar_empty(uint64_t w) {
    return swar_zero_bytes(w & ~SWAR_LO);
}
/* The chain ends in this bucket: its last slot is emptyRest (an emptyRest
 * anywhere makes every later slot of the chain emptyRest). One compare
 * where a zero-byte test of the word took four. */
static inline bool swar_chain_ends(uint64_t w) {
    return (uint8_t)(w >> 56) == EMPTY_REST;
}
static inline size_t swar_slot(uint64_t flags) {
    return (size_t)__builtin_ctzll(flags) >> 3;
}
static inline bool growing(const gomap *m) {
    return m->oldbuckets != NULL;
}
static inline bool same_size_grow(const gomap *m) {
    return (flags_load(m) & SAME_SIZE_GROW) != 0;
}
/* noldbuckets: buckets in the old array (map.go noldbuckets). */
static inline size_t noldbuckets(const gomap *m) {
    unsigned ob = m->B;
    if (!same_size_grow(m))
        ob--;
    return bucket_shift(ob);
}
static inline size_t oldbucketmask(const gomap *m) {
    return noldbuckets(m) - 1;
}
static inline gen_hdr *gen_of(uint8_t *arr) {
    return (gen_hdr *)(void *)(arr - GEN_HDR_SIZE);
}
static inline uint8_t *blk_data(blk_hdr *h) {
    return (uint8_t *)h + BLK_HDR_SIZE;
}
static inline blk_hdr *blk_of(void *data) {
    return (blk_hdr *)(void *)((uint8_t *)data - BLK_HDR_SIZE);
}

/* overLoadFactor (map.go): count > 8 && count > 6.5 * 2^B. */
static inline bool over_load_factor(size_t count, unsigned b) {
    return count > BUCKET_CNT && count > LOAD_FACTOR_NUM * (bucket_shift(b) / LOAD_FACTOR_DEN);
}
/* tooManyOverflowBuckets (map.go): noverflow >= 2^min(B, 15). */
static inline bool too_many_overflow_buckets(uint16_t noverflow, unsigned b) {
    if (b > 15)
        b = 15;
    return noverflow >= (uint16_t)(1u << b);
}

/*
 * grow_at: the count at or above which mapassign's grow test (overLoadFactor
 * || tooManyOverflowBuckets) may hold, folded into one field so the insert
 * fast path makes one compare, not two computed tests: 13*2^(B-1) (8 at
 * B = 0), or 0 once noverflow has reached its limit. Recomputed whenever B
 * or noverflow change; the slow path still evaluates Go's exact tests.
 */
static inline size_t grow_at_for(unsigned b, uint16_t noverflow) {
    if (too_many_overflow_buckets(noverflow, b))
        return 0;
    if (b == 0)
        return BUCKET_CNT;
    return b >= 60 ? SIZE_MAX : LOAD_FACTOR_NUM * (bucket_shift(b) / LOAD_FACTOR_DEN);
}
static inline void set_grow_at(gomap *m) {
    m->grow_at = grow_at_for(m->B, m->noverflow);
}

/* ---- hashing (gomap_hash.c documents the design) ---- */

#define HASH_P0 0x2d358dccaa6c78a5ull
#define HASH_P1 0x8bb84b93962eacc9ull
#define HASH_P2 0x4b33a62ed433d4a3ull
#define HASH_P3 0x4d5a2da51de1aa47ull

/* 64x64 -> 128 multiply, folded by xor ("mum"). */
static inline uint64_t mum(uint64_t a, uint64_t b) {
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}
static inline uint64_t hash_u64_inline(uint64_t k, uint64_t seed) {
    return mum(k ^ seed ^ HASH_P0, ((k << 32) | (k >> 32)) ^ HASH_P1);
}
GOMAP_HIDDEN uint64_t gomap__hash_mem(const void *p, size_t n, uint64_t seed);
/* Short inputs, 4 to 16 bytes, as two words a and b that together cover
 * every byte: the first and last 8 bytes from 8 up (two loads, where
 * wyhash's four 4-byte reads cost 25 instructions in lookup_str_hit's
 * 16-byte keys), the first and last 4 from 4 to 7. */
static inline void hash_short_words(const uint8_t *p, size_t n, uint64_t *a, uint64_t *b) {
    if (n >= 8) {
        *a = load_u64(p);
        *b = load_u64(p + n - 8);
    } else {
        uint32_t w0, w1;
        memcpy(&w0, p, 4);
        memcpy(&w1, p + n - 4, 4);
        *a = w0;
        *b = w1;
    }
}
/* gomap__hash_mem with its short-input path (4 <= n <= 16) inline, the same
 * function of the bytes. */
static inline uint64_t hash_mem_inline(const void *data, size_t n, uint64_t seed) {
    if (!LIKELY(n >= 4 && n <= 16))
        return gomap__hash_mem(data, n, seed);
    uint64_t a, b;
    hash_short_words(data, n, &a, &b);
    return mum(HASH_P1 ^ n, mum(a ^ HASH_P1, b ^ seed ^ HASH_P0));
}
GOMAP_HIDDEN uint64_t gomap__hash_u64_key(const void *key, uint64_t seed);
GOMAP_HIDDEN uint64_t gomap__hash_str_key(const void *key, uint64_t seed);
GOMAP_HIDDEN bool gomap__equal_str_key(const void *a, const void *b);
GOMAP_HIDDEN bool gomap__equal_u64_key(const void *a, const void *b);
/* Per-thread PRNG seeded once from getrandom (Go's rand()). */
GOMAP_HIDDEN uint64_t gomap__rand(void);
/* The map's rng: deterministic when the seed was fixed, else gomap__rand. */
GOMAP_HIDDEN uint64_t gomap__map_rand(gomap *m);

/* The map's hash of a key through the type (NULL: bytes of the key). */
static inline uint64_t map_hash(const gomap *m, const void *key) {
    if (m->hash != NULL)
        return m->hash(key, m->hash0);
    return gomap__hash_mem(key, m->key_type_size, m->hash0);
}

/* ---- hooks and fatal errors (gomap_hooks.c) ---- */

GOMAP_HIDDEN const gomap_hooks *gomap__hooks_resolve(void);
/* Go's throw/fatal: message, stack, on_fatal hook, abort. */
GOMAP_HIDDEN __attribute__((noreturn, cold)) void gomap__throw(const gomap *m, const char *msg);

static inline void hook_alloc(const gomap *m, enum gomap_alloc_kind kind, ptrdiff_t bytes) {
    if (UNLIKELY(m->hooks != NULL) && m->hooks->on_alloc)
        m->hooks->on_alloc(m, m->cookie, kind, bytes);
}

/* ---- memory (gomap.c) ---- */

GOMAP_HIDDEN void *gomap__mem_alloc(gomap *m, size_t n);
GOMAP_HIDDEN void gomap__mem_release(gomap *m, void *p, size_t n);
/* makeBucketArray: a zeroed array of 2^b buckets (+1/16 preallocated
 * overflow buckets when b >= 4); *next_ovf receives nextOverflow. */
GOMAP_HIDDEN uint8_t *gomap__make_bucket_array(gomap *m, unsigned b, uint8_t **next_ovf);
/* Free a generation: its array and its fresh overflow buckets. */
GOMAP_HIDDEN void gomap__free_gen(gomap *m, uint8_t *arr);
/* A generation nobody can reach any more: free it, or park it for iterators. */
GOMAP_HIDDEN void gomap__retire_gen(gomap *m, uint8_t *arr);
/* Free (or defer while iterators live) an indirect key/elem block. */
GOMAP_HIDDEN void gomap__free_indirect(gomap *m, void *data);
/* Free everything parked for iterators; called when the last one ends. */
GOMAP_HIDDEN void gomap__release_parked(gomap *m);
/* newoverflow: chain a new overflow bucket after b, or NULL (no memory). */
GOMAP_HIDDEN uint8_t *gomap__newoverflow(gomap *m, uint8_t *b);
/* Make sure n overflow buckets can be had without allocating. */
GOMAP_HIDDEN int gomap__reserve_overflow(gomap *m, size_t n);

/* ---- growth (gomap_grow.c) ---- */

GOMAP_HIDDEN int gomap__hash_grow(gomap *m);
GOMAP_HIDDEN int gomap__grow_work(gomap *m, size_t bucket);

/* ---- lookup used by the iterator (mapaccessK) ---- */
GOMAP_HIDDEN bool gomap__access_k(gomap *m, const void *key, void **kout, void **eout);

static inline size_t iters_load(const gomap *m) {
    return __atomic_load_n(&m->iters, __ATOMIC_ACQUIRE);
}

#endif
