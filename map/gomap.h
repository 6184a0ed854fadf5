/*
 * gomap.h — libgomap: Go's classic hash map (hmap, Go 1.19-1.23) in C.
 *
 * The map keeps Go's design: 2^B buckets of 8 slots with a tophash byte per
 * slot, keys and elements stored inline (by pointer above 128 bytes),
 * overflow buckets, load factor 6.5, incremental evacuation into a doubled
 * (or same-size) bucket array, and Go's best-effort detection of concurrent
 * misuse. It reports grow events, bucket allocations and map lifetimes to a
 * profiler (libmapprof) when one is present.
 *
 * Conventions
 * - Functions that can fail return 0 on success or a negative errno
 *   (-ENOMEM, -EINVAL). Allocation failure never aborts: the map is left
 *   valid and its contents unchanged by the failed call. A grow whose new
 *   bucket array cannot be allocated is not an error: the insert goes on in
 *   the current array (overloaded, so slower) and the grow is retried by a
 *   later insert; -ENOMEM comes only when the entry itself has no room.
 * - A map is not thread-safe, exactly like a Go map: concurrent readers are
 *   fine, a writer needs exclusive access. Misuse that is caught prints Go's
 *   message ("fatal error: concurrent map writes", ...) and a stack to
 *   stderr, calls the profiler's fatal hook, then aborts.
 * - Pointers returned into the map (elements, keys) stay valid until the next
 *   write to the map (assign, delete, clear, free), as in Go's runtime.
 * - String keys (gomap_str) store a pointer and a length; the map never
 *   copies the bytes, so the caller keeps them alive while the key is in the
 *   map.
 */
#ifndef GOMAP_H
#define GOMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GOMAP_API __attribute__((visibility("default")))

typedef struct gomap gomap; /* opaque: Go's hmap */

/* A string key: pointer + length, as a Go string header. */
typedef struct gomap_str {
    const char *ptr;
    size_t len;
} gomap_str;

/* Seeded hash of a key; must depend on every byte that equality looks at. */
typedef uint64_t (*gomap_hash_fn)(const void *key, uint64_t seed);
/* Key equality; NULL in a type means bytewise comparison (memcmp). */
typedef bool (*gomap_equal_fn)(const void *a, const void *b);

/* Which fast path a type may use (Go's mapassign_fast64 / _faststr). */
enum gomap_key_kind {
    GOMAP_KEY_GENERIC = 0, /* any key: hash + equal from the type */
    GOMAP_KEY_U64 = 1,     /* 8-byte integer keys, gomap_*_u64 */
    GOMAP_KEY_STR = 2,     /* gomap_str keys, gomap_*_str */
};

/*
 * A map type: what Go's compiler puts into a maptype. Types are usually
 * static constants; the map keeps a pointer to its type for its lifetime.
 * key_align and elem_align must be powers of two <= 8 (0 means natural
 * alignment derived from the size), and an inline key or element's size a
 * multiple of its alignment (else gomap_new returns -EINVAL). Keys or
 * elements larger than 128 bytes are stored indirectly, as in Go. For the
 * U64 and STR kinds hash and equal are ignored: the fast paths and the
 * generic calls must agree, so both use the built-in functions; their
 * elements must be inline (elem_size <= 128, else -EINVAL), as Go uses its
 * fast paths only then: use GOMAP_KEY_GENERIC for bigger elements. Updating an
 * existing key never rewrites the stored key (Go rewrites it for its GC).
 */
typedef struct gomap_type {
    const char *name; /* e.g. "map[uint64]uint64"; labels profile samples */
    uint32_t key_size;
    uint32_t elem_size; /* may be 0 (a set) */
    uint32_t key_align;
    uint32_t elem_align;
    enum gomap_key_kind kind;
    gomap_hash_fn hash;   /* NULL: gomap_hash_bytes over key_size bytes */
    gomap_equal_fn equal; /* NULL: memcmp over key_size bytes */
} gomap_type;

/* Ready-made types. */
GOMAP_API extern const gomap_type gomap_type_u64_u64; /* map[uint64]uint64 */
GOMAP_API extern const gomap_type gomap_type_str_u64; /* map[string]uint64 */

/*
 * Memory for a map's header, buckets, overflow buckets and indirect
 * keys/elements. alloc must return zeroed, 16-byte aligned memory or NULL.
 * release gets the size that was allocated. NULL config members mean calloc
 * and free.
 */
typedef struct gomap_alloc {
    void *(*alloc)(size_t size, void *ctx);
    void (*release)(void *p, size_t size, void *ctx);
    void *ctx;
} gomap_alloc;

enum {
    /* Never report this map to a profiler (used by the profiler itself). */
    GOMAP_UNPROFILED = 1u << 0,
};

typedef struct gomap_config {
    const gomap_alloc *alloc; /* NULL: calloc/free */
    uint32_t flags;           /* GOMAP_UNPROFILED, ... */
    uint64_t seed;            /* nonzero: fixed hash seed (tests); 0: random */
} gomap_config;

/*
 * makemap: a map for at least `hint` entries without growing (B chosen by
 * Go's rule: smallest B with hint <= 6.5 * 2^B, hint <= 8 giving B = 0).
 * Buckets are allocated lazily when B == 0. cfg may be NULL.
 * Returns 0 and *out, or -EINVAL (bad type) / -ENOMEM.
 */
GOMAP_API int gomap_new(const gomap_type *t, size_t hint, const gomap_config *cfg, gomap **out);
/* Frees the map and everything it allocated. NULL is a no-op. */
GOMAP_API void gomap_free(gomap *m);
/* Number of entries (len(m)). NULL map: 0. */
GOMAP_API size_t gomap_len(const gomap *m);
GOMAP_API const gomap_type *gomap_get_type(const gomap *m);

/* Generic operations (any key kind). key points to key_size bytes. */
/* mapaccess2: the element of key, or NULL when absent. */
GOMAP_API void *gomap_lookup(gomap *m, const void *key);
/*
 * mapassign: find or insert key; *elem receives the element slot (zeroed
 * for a new key) for the caller to write. Returns 1 when the key was
 * inserted, 0 when it existed, -ENOMEM when memory ran out (map unchanged).
 */
GOMAP_API int gomap_assign(gomap *m, const void *key, void **elem);
/* mapdelete: returns 1 when a key was removed, 0 when absent, -ENOMEM when
 * a pending evacuation step could not allocate (map unchanged). */
GOMAP_API int gomap_delete(gomap *m, const void *key);
/* mapclear: removes every entry, keeps B and the bucket array (as Go). */
GOMAP_API void gomap_clear(gomap *m);

/* uint64 fast paths (type kind GOMAP_KEY_U64). */
GOMAP_API void *gomap_lookup_u64(gomap *m, uint64_t key);
GOMAP_API int gomap_assign_u64(gomap *m, uint64_t key, void **elem);
GOMAP_API int gomap_delete_u64(gomap *m, uint64_t key);

/* string fast paths (type kind GOMAP_KEY_STR). */
GOMAP_API void *gomap_lookup_str(gomap *m, const char *p, size_t n);
GOMAP_API int gomap_assign_str(gomap *m, const char *p, size_t n, void **elem);
GOMAP_API int gomap_delete_str(gomap *m, const char *p, size_t n);

/*
 * Iteration in randomized order (Go's range). Every key present for the
 * whole iteration is returned exactly once; keys inserted or deleted during
 * iteration may or may not be seen. The map may be written between calls by
 * the iterating thread (insertions may grow it). gomap_iter_next returns
 * false at the end, after which the iterator is finished; call
 * gomap_iter_done to stop early (it releases the old bucket arrays the
 * iterator kept alive). The struct is public only so it can live on the
 * stack; its fields are private.
 */
typedef struct gomap_iter {
    uint64_t opaque_[14];
} gomap_iter;

GOMAP_API void gomap_iter_init(gomap_iter *it, gomap *m);
GOMAP_API bool gomap_iter_next(gomap_iter *it, void **key, void **elem);
GOMAP_API void gomap_iter_done(gomap_iter *it);

/* A snapshot of a map's shape, for tests, examples and the profiler. */
typedef struct gomap_stats {
    size_t count;     /* entries */
    unsigned B;       /* log2 of the bucket count */
    size_t buckets;   /* 2^B */
    size_t overflow;  /* overflow buckets in use (new and old arrays) */
    size_t noverflow; /* Go's (approximate) noverflow counter */
    uint64_t grows;   /* grows started since creation */
    uint64_t same_size_grows;
    bool growing;       /* an evacuation is in progress */
    size_t old_buckets; /* buckets in the old array while growing, else 0 */
    size_t nevacuate;   /* evacuation cursor while growing */
    size_t bytes;       /* bytes held: header, arrays, overflow, indirect */
} gomap_stats;

GOMAP_API void gomap_get_stats(const gomap *m, gomap_stats *st);

/* The hash functions the map uses (see map/gomap_hash.c for the design). */
GOMAP_API uint64_t gomap_hash_bytes(const void *p, size_t n, uint64_t seed);
GOMAP_API uint64_t gomap_hash_u64(uint64_t key, uint64_t seed);

/*
 * Profiler hooks.
 *
 * A profiler (libmapprof.so) defines the symbol `mapprof_gomap_hooks` (a
 * gomap_hooks object). The first gomap_new in a process looks it up with
 * dlsym(RTLD_DEFAULT), so hooks work whether libgomap is linked statically
 * or dynamically and whether or not the profiler is preloaded;
 * gomap_set_hooks installs hooks explicitly (tests, embedders) and wins over
 * the lookup. With no profiler, each hook point costs one predictable
 * branch. Hooks run on the thread that triggered them, inside the map
 * operation: they must not touch the map that called them.
 */
enum gomap_alloc_kind {
    GOMAP_ALLOC_BUCKETS = 0,  /* a bucket array (makemap, hashGrow, clear) */
    GOMAP_ALLOC_OVERFLOW = 1, /* an overflow bucket not from the prealloc pool */
    GOMAP_ALLOC_INDIRECT = 2, /* an out-of-line key or element (> 128 bytes) */
};

typedef struct gomap_grow_event {
    unsigned old_B, new_B; /* equal for a same-size grow */
    bool same_size;        /* too many overflow buckets, not too many entries */
    size_t entries;        /* count when the grow started */
    size_t noverflow;      /* overflow counter when the grow started */
    size_t bytes;          /* bytes of the new bucket array */
} gomap_grow_event;

#define GOMAP_HOOKS_VERSION 1

typedef struct gomap_hooks {
    uint32_t version; /* GOMAP_HOOKS_VERSION */
    /* A map was created; the returned cookie is passed to later hooks. */
    void *(*on_new)(const gomap *m, const gomap_type *t, size_t hint);
    /* A map is being freed (its last stats are still readable). */
    void (*on_free)(const gomap *m, void *cookie);
    /* hashGrow started a grow. */
    void (*on_grow)(const gomap *m, void *cookie, const gomap_grow_event *ev);
    /* The map allocated (bytes > 0) or released (bytes < 0) memory. */
    void (*on_alloc)(const gomap *m, void *cookie, enum gomap_alloc_kind kind, ptrdiff_t bytes);
    /* A fatal misuse is about to abort the process: flush what you can. */
    void (*on_fatal)(const char *msg);
} gomap_hooks;

/* Install hooks (NULL removes them and disables the dlsym lookup). Maps
 * created before the call keep reporting to the hooks they started with. */
GOMAP_API void gomap_set_hooks(const gomap_hooks *h);

#ifdef __cplusplus
}
#endif

#endif
