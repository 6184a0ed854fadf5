/*
 * internal.h — declarations shared by the files of pprof/ (not installed).
 * Cross-file internals use the pprof__ prefix; tests may use them.
 */
#ifndef MAPPROF_PPROF_INTERNAL_H
#define MAPPROF_PPROF_INTERNAL_H

#include <stdarg.h>
#include <sys/types.h>

#include <protobuf-c/protobuf-c.h>

#include "map/gomap.h"
#include "pprof/pprof.h"

/* ---- memory (alloc.c) ---- */

/* The allocator to use: a copy of *a, or malloc/free when a is NULL. */
pprof_allocator pprof__allocator(const pprof_allocator *a);
/* size bytes, zeroed, or NULL. */
void *pprof__alloc(const pprof_allocator *a, size_t size);
void pprof__release(const pprof_allocator *a, void *p, size_t size);
/* Allocations that remember their size (for protobuf-c and zlib, whose
 * free callbacks get no size). */
void *pprof__halloc(const pprof_allocator *a, size_t size);
void pprof__hfree(const pprof_allocator *a, void *p);
/* protobuf-c and zlib views of an allocator (a must outlive their use). */
ProtobufCAllocator pprof__pbc_allocator(const pprof_allocator *a);
void *pprof__zalloc(void *opaque, unsigned items, unsigned size);
void pprof__zfree(void *opaque, void *p);

/* A bump arena of chained blocks from an allocator; freed all at once. */
typedef struct pprof__arena {
    pprof_allocator a;
    struct pprof__block *head; /* newest block first */
    char *cur;                 /* next free byte in head */
    size_t left;               /* bytes left in head */
} pprof__arena;

void pprof__arena_init(pprof__arena *ar, const pprof_allocator *a);
/* size bytes aligned to 16, zeroed, or NULL. */
void *pprof__arena_alloc(pprof__arena *ar, size_t size);
/* A NUL-terminated copy of s[0..n), or NULL. */
char *pprof__arena_strndup(pprof__arena *ar, const char *s, size_t n);
void pprof__arena_free(pprof__arena *ar);

/* libgomap memory from a pprof_allocator: fills *ga (which must stay at a
 * fixed address while maps use it) to route through *a. */
void pprof__gomap_alloc(gomap_alloc *ga, const pprof_allocator *a);
/* A profiler-internal map (GOMAP_UNPROFILED) whose memory comes from ga. */
int pprof__gomap_new(const gomap_type *t, size_t hint, const gomap_alloc *ga, gomap **out);

/* ---- errors (alloc.c) ---- */

/* Fill *err (if non-NULL) and return code (a negative errno). */
int pprof__err(pprof_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- gzip (gzip.c) ---- */

typedef int (*pprof__sink_fn)(void *ctx, const void *data, size_t len, pprof_error *err);
/* Compress data as one gzip member, handing output chunks to sink. */
int pprof__gzip(const pprof_allocator *a, const void *data, size_t len, int level,
                pprof__sink_fn sink, void *ctx, pprof_error *err);
/* Decompress gzip member(s) into a new buffer from a (at most max_out bytes). */
int pprof__gunzip(const pprof_allocator *a, const void *data, size_t len, size_t max_out,
                  uint8_t **out, size_t *out_len, size_t *out_cap, pprof_error *err);

/* ---- write seam (write.c) ---- */

/* write(2) as used by pprof_profile_write_file; tests replace it to inject
 * short writes and ENOSPC. Restore with NULL. */
typedef ssize_t (*pprof__write_fn)(int fd, const void *buf, size_t n);
void pprof__set_write_fn(pprof__write_fn fn);

/* ---- profile object (profile.c) ---- */

typedef struct pprof__idx {
    uint64_t id;
    const void *obj;
} pprof__idx;

struct pprof_profile {
    pprof_allocator a;
    pprof_pb_profile *msg;
    bool unpacked;   /* msg from protobuf_c_message_unpack (else arena-built) */
    pprof__arena ar; /* arena-built messages and the indices */
    pprof__idx *loc_idx, *fn_idx, *map_idx; /* sorted by id, in ar */
};

/* Allocate an empty profile object (msg NULL). */
int pprof__profile_new(const pprof_allocator *a, pprof_profile **out, pprof_error *err);
/* Build the id indices; error on id 0 or duplicates. */
int pprof__profile_index(pprof_profile *p, pprof_error *err);

#endif
