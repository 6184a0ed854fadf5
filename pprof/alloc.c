/*
 * alloc.c — memory and error helpers for pprof/.
 *
 * Every allocation of the library goes through a pprof_allocator so the
 * shim can hand it memory that never re-enters its malloc hooks. Three
 * shapes are provided on top of the caller's alloc/release pair:
 *   - plain sized allocations (pprof__alloc/pprof__release), zeroed;
 *   - "headed" allocations that store their size in a 16-byte prefix, for
 *     protobuf-c and zlib whose free callbacks do not pass a size;
 *   - a bump arena (chained blocks, freed at once) for the many small,
 *     same-lifetime objects of a profile message and of caches.
 * Invariants: every pointer returned is 16-byte aligned (the allocator's
 * contract, the 16-byte header and 16-byte arena rounding keep it so).
 * Non-goals: freeing single arena objects, thread safety.
 */
#include "pprof/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *libc_alloc(size_t size, void *ctx) {
    (void)ctx;
    return malloc(size ? size : 1);
}

static void libc_release(void *p, size_t size, void *ctx) {
    (void)size;
    (void)ctx;
    free(p);
}

pprof_allocator pprof__allocator(const pprof_allocator *a) {
    if (a && a->alloc && a->release)
        return *a;
    return (pprof_allocator){libc_alloc, libc_release, NULL};
}

void *pprof__alloc(const pprof_allocator *a, size_t size) {
    void *p = a->alloc(size, a->ctx);
    if (p)
        memset(p, 0, size);
    return p;
}

void pprof__release(const pprof_allocator *a, void *p, size_t size) {
    if (p)
        a->release(p, size, a->ctx);
}

enum { HDR = 16 };

void *pprof__halloc(const pprof_allocator *a, size_t size) {
    if (size > SIZE_MAX - HDR)
        return NULL;
    char *p = a->alloc(size + HDR, a->ctx);
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof size);
    return p + HDR;
}

void pprof__hfree(const pprof_allocator *a, void *p) {
    if (!p)
        return;
    char *base = (char *)p - HDR;
    size_t size;
    memcpy(&size, base, sizeof size);
    a->release(base, size + HDR, a->ctx);
}

static void *pbc_alloc(void *data, size_t size) {
    return pprof__halloc(data, size);
}

static void pbc_free(void *data, void *p) {
    pprof__hfree(data, p);
}

ProtobufCAllocator pprof__pbc_allocator(const pprof_allocator *a) {
    return (ProtobufCAllocator){pbc_alloc, pbc_free, (void *)a};
}

void *pprof__zalloc(void *opaque, unsigned items, unsigned size) {
    return pprof__halloc(opaque, (size_t)items * size);
}

void pprof__zfree(void *opaque, void *p) {
    pprof__hfree(opaque, p);
}

/* ---- libgomap ---- */

static void *gm_alloc(size_t size, void *ctx) {
    return pprof__alloc(ctx, size);
}

static void gm_release(void *p, size_t size, void *ctx) {
    pprof__release(ctx, p, size);
}

void pprof__gomap_alloc(gomap_alloc *ga, const pprof_allocator *a) {
    *ga = (gomap_alloc){gm_alloc, gm_release, (void *)a};
}

int pprof__gomap_new(const gomap_type *t, size_t hint, const gomap_alloc *ga, gomap **out) {
    gomap_config cfg = {.alloc = ga, .flags = GOMAP_UNPROFILED, .seed = 0};
    return gomap_new(t, hint, &cfg, out);
}

/* ---- arena ---- */

struct pprof__block {
    struct pprof__block *next;
    size_t size;              /* bytes of the whole block, header included */
    _Alignas(16) char data[]; /* objects, 16-byte aligned */
};

enum { ARENA_BLOCK = 64 * 1024 };

void pprof__arena_init(pprof__arena *ar, const pprof_allocator *a) {
    memset(ar, 0, sizeof *ar);
    ar->a = pprof__allocator(a);
}

void *pprof__arena_alloc(pprof__arena *ar, size_t size) {
    size = (size + 15) & ~(size_t)15;
    if (size == 0)
        size = 16;
    if (size > ar->left) {
        size_t bsize = sizeof(struct pprof__block) + (size > ARENA_BLOCK / 4 ? size : ARENA_BLOCK);
        if (bsize < size)
            return NULL;
        struct pprof__block *blk = ar->a.alloc(bsize, ar->a.ctx);
        if (!blk)
            return NULL;
        blk->size = bsize;
        char *mem = blk->data;
        if (size > ARENA_BLOCK / 4 && ar->head) {
            /* A big object gets a block of its own behind the current one,
             * so the current block's free space is not wasted. */
            blk->next = ar->head->next;
            ar->head->next = blk;
            memset(mem, 0, size);
            return mem;
        }
        blk->next = ar->head;
        ar->head = blk;
        ar->cur = mem;
        ar->left = bsize - sizeof *blk;
    }
    void *p = ar->cur;
    ar->cur += size;
    ar->left -= size;
    memset(p, 0, size);
    return p;
}

char *pprof__arena_strndup(pprof__arena *ar, const char *s, size_t n) {
    char *p = pprof__arena_alloc(ar, n + 1);
    if (p && n)
        memcpy(p, s, n);
    return p;
}

void pprof__arena_free(pprof__arena *ar) {
    struct pprof__block *b = ar->head;
    while (b) {
        struct pprof__block *next = b->next;
        ar->a.release(b, b->size, ar->a.ctx);
        b = next;
    }
    ar->head = NULL;
    ar->cur = NULL;
    ar->left = 0;
}

/* ---- errors ---- */

int pprof__err(pprof_error *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}
