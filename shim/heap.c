/*
 * heap.c — the malloc family, interposed: sampling by bytes on the way in,
 * forgetting sampled blocks on the way out.
 *
 * Fast path (malloc, free, calloc, realloc): this thread's byte countdown
 * (mean MAPPROF_HEAP_RATE) minus the request stays >= 0, the pointer is
 * not possibly a sampled block (free, realloc: shim.h's address filter),
 * and glibc is the real allocator (shim_direct): then the call goes
 * straight to glibc, a tail call, with nothing else looked at - no guard,
 * no state, no configuration. Everything else (a sample point crossed, a
 * filter hit, before resolution, a foreign allocator) takes the complete
 * path below, which counts the request itself, so the two never disagree.
 * Bytes the shim allocates itself (guard set) count down too but are never
 * sampled: sample points form a Poisson process over all bytes, and
 * dropping those that land on the shim's own bytes leaves the host's bytes
 * sampled at the same rate. Before the constructor nothing is counted
 * (seeds must be reproducible); when the heap profile is off or the shim
 * has finished, the countdown is parked at INT64_MAX so the fast path
 * takes every call.
 *
 * Invariant: a sampled call is the same call. It reaches the real function
 * with the program's own arguments and its block is recorded after it
 * returns, so glibc sees exactly the sequence of requests it would have
 * seen without the shim: same chunks, same bins, same arena trimming and
 * mmap threshold, and calloc's zeroing (MALLOC_PERTURB_ included) is
 * glibc's own. The shim's records live in its own memory (mem.c, never
 * the host's arenas). What this costs is at free and realloc: a sampled
 * block is an ordinary glibc block, so they ask the address filter (one
 * load from 32 KiB) instead of a property of the pointer.
 * Not done: handing sampled blocks out page-aligned so that free could
 * tell them by their address alone. memalign's slack chunks and the
 * aligned blocks pinned arena memory glibc would have trimmed (madvise
 * calls fell ~10x on a malloc churn, peak RSS nearly doubled), and glibc
 * fills fresh mmapped chunks with the perturb byte, which a calloc built
 * on memalign did not clear.
 *
 * Semantics kept exactly: errno (slow paths save/restore it; failures
 * set what the real function sets), calloc overflow (delegated to the
 * real calloc, which returns NULL + ENOMEM), realloc(NULL, n) = malloc,
 * realloc(p, 0) frees and returns NULL (glibc), a failed realloc leaves
 * the old block live (and tracked), invalid alignments go to the real
 * function untouched so it returns EINVAL/NULL as glibc does.
 * Bootstrap-pool pointers (handed out while dlsym ran) are never freed.
 * During a dump (shim_tls.own_alloc) this thread's countdown is parked
 * below zero so every call takes the complete path, which serves it from
 * the shim's own memory (mem.c says why); such blocks are recognised by
 * their mark wherever they are freed or resized later. Alignments above
 * 16, valloc and pvalloc still go to glibc then (the dump's libraries do
 * not ask for them).
 * malloc_usable_size and friends are not interposed: the program's blocks
 * are real glibc blocks (a dump's are not, and libdw, libelf, zlib and
 * protobuf-c never ask a block's size).
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "shim/shim.h"

#define PAGE 4096u /* valloc's alignment while dlsym runs */

/* The complete sampling decision for n bytes. */
static bool take_sample(size_t n) {
    shim_tls *t = &shim_tls_v;
    int st = __atomic_load_n(&shim_state, __ATOMIC_RELAXED);
    if (st == SHIM_OFF)
        return false;
    if (st != SHIM_ACTIVE || !shim_profile_on(SHIM_PROF_HEAP)) {
        t->heap.left = INT64_MAX;
        return false;
    }
    bool crossed = shim_sampler_take(&t->heap, n, shim_cfg.heap_rate);
    return crossed && !t->guard;
}

/* The fast-path test: commits the countdown when no sample point is
 * crossed, and says whether the call may go straight to glibc. "left >= n"
 * compared unsigned once left is known >= 0 is "left - n >= 0" without
 * clamping n to INT64_MAX first (a request above that, which cannot
 * succeed, takes the complete path). left < 0 only when init.c forces the
 * complete path for its probe. */
static inline bool fast_ok(size_t n, const void *direct) {
    shim_tls *t = &shim_tls_v;
    int64_t left = t->heap.left;
    /* Three separate tests: gcc and clang then emit test/branch pairs and
     * no flag juggling (one instruction fewer than the clamped subtract). */
    if (SHIM_UNLIKELY(direct == NULL))
        return false;
    if (SHIM_UNLIKELY(left < 0))
        return false;
    if (SHIM_UNLIKELY((uint64_t)left < n))
        return false;
    t->heap.left = (int64_t)((uint64_t)left - n);
    return true;
}

/* p carries no mark of the shim's (shim.h, SHIM_MARK_MIN): the word
 * before it is a glibc chunk size below 2 GiB, flags included. */
static inline bool unmarked(const void *p) {
    return ((const size_t *)p)[-1] < SHIM_MARK_MIN;
}

static inline bool pow2(size_t a) {
    return a && !(a & (a - 1));
}

/* A dump's allocation (shim_tls.own_alloc, see mem.c): the shim's own
 * memory, failing as malloc does. */
static void *own_alloc(size_t n) {
    void *p = shim_mem_alloc(n ? n : 1);
    if (!p)
        errno = ENOMEM;
    return p;
}

/* realloc of a block of the shim's own memory (made during a dump, and
 * possibly resized by a library later): it stays in the shim's memory. */
static void *own_realloc(void *p, size_t n) {
    if (n == 0) { /* as glibc: frees p, returns NULL */
        shim_free(p);
        return NULL;
    }
    void *q = own_alloc(n);
    if (q) {
        size_t old = shim_mem_usable(p);
        memcpy(q, p, old < n ? old : n);
        shim_free(p);
    }
    return q;
}

int64_t shim_own_alloc_begin(void) {
    shim_tls *t = &shim_tls_v;
    int64_t left = t->heap.left;
    t->own_alloc++;    /* nests: the live server's thread holds it for life */
    t->heap.left = -1; /* every call of this thread takes the complete path */
    return left;
}

void shim_own_alloc_end(int64_t left) {
    shim_tls_v.heap.left = left;
    shim_tls_v.own_alloc--;
}

/* The block of a sampled call, recorded once the real function returned
 * it (see top). Inlined: one frame fewer for libunwind to walk. */
static inline __attribute__((always_inline)) void *recorded(void *p, size_t n) {
    if (p)
        shim_heap_record(p, n);
    return p;
}

static __attribute__((noinline)) void *malloc_slow(size_t n) {
    if (SHIM_UNLIKELY(shim_tls_v.own_alloc))
        return own_alloc(n);
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return shim_boot_alloc(n, 16);
    bool s = take_sample(n);
    if (SHIM_UNLIKELY(shim_tls_v.probe))
        shim_tls_v.probe = 2; /* init.c: the process's malloc reaches us */
    int was = shim_enter();
    void *p = shim_real.malloc(n);
    shim_leave(was);
    return SHIM_UNLIKELY(s) ? recorded(p, n) : p;
}

SHIM_EXPORT void *malloc(size_t n) {
    void *(*direct)(size_t) = shim_direct.malloc;
    if (SHIM_LIKELY(fast_ok(n, (const void *)direct)))
        return direct(n);
    return malloc_slow(n);
}

static __attribute__((noinline)) void free_slow(void *p) {
    if (!p || SHIM_UNLIKELY(shim_boot_owns(p)))
        return;
    if (SHIM_UNLIKELY(shim_mem_owns(p))) {
        shim_free(p);
        return;
    }
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return; /* cannot happen: p came from somewhere resolved */
    if (SHIM_UNLIKELY(shim_heap_maybe_sampled(p)) && !shim_tls_v.guard)
        shim_heap_forget(p); /* before the real free: see heapprof.c */
    int was = shim_enter();
    shim_real.free(p);
    shim_leave(was);
}

SHIM_EXPORT void free(void *p) {
    void (*direct)(void *) = shim_direct.free;
    /* Not NULL, not possibly sampled (the filter), not the shim's own or
     * the pool's (their marks): glibc's alone. The chunk size word is on
     * the line glibc's free reads first anyway. */
    if (SHIM_LIKELY(direct != NULL && p != NULL && !shim_heap_maybe_sampled(p) && unmarked(p)))
        return direct(p);
    free_slow(p);
}

static __attribute__((noinline)) void *calloc_slow(size_t n, size_t size) {
    size_t total;
    bool overflow = __builtin_mul_overflow(n, size, &total);
    if (SHIM_UNLIKELY(shim_tls_v.own_alloc)) {
        void *p = overflow ? NULL : shim_calloc(total ? total : 1);
        if (!p)
            errno = ENOMEM;
        return p;
    }
    if (SHIM_UNLIKELY(!shim_real_ready())) {
        if (overflow) {
            errno = ENOMEM;
            return NULL;
        }
        return shim_boot_alloc(total, 16);
    }
    bool s = !overflow && take_sample(total);
    int was = shim_enter();
    void *p = shim_real.calloc(n, size); /* overflow: NULL + ENOMEM, as glibc */
    shim_leave(was);
    return SHIM_UNLIKELY(s) ? recorded(p, total) : p;
}

SHIM_EXPORT void *calloc(size_t n, size_t size) {
    void *(*direct)(size_t, size_t) = shim_direct.calloc;
    size_t total;
    if (SHIM_LIKELY(!__builtin_mul_overflow(n, size, &total) &&
                    fast_ok(total, (const void *)direct)))
        return direct(n, size);
    return calloc_slow(n, size);
}

static __attribute__((noinline)) void *realloc_slow(void *p, size_t n) {
    if (!p)
        return malloc(n);
    if (SHIM_UNLIKELY(shim_boot_owns(p))) {
        /* Move out of the pool; its blocks carry no size, copy what fits. */
        void *q = malloc(n);
        if (q) {
            size_t avail = shim_boot_avail(p);
            memcpy(q, p, n < avail ? n : avail);
        }
        return q;
    }
    if (SHIM_UNLIKELY(shim_mem_owns(p)))
        return own_realloc(p, n);
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return NULL;
    if (shim_tls_v.guard)
        return shim_real.realloc(p, n);
    if (n == 0) { /* glibc: frees p, returns NULL, errno untouched */
        free(p);
        return NULL;
    }
    void *rec = shim_heap_detach(p); /* before the real call: see heapprof.c */
    bool s = take_sample(n);
    int was = shim_enter();
    void *q = shim_real.realloc(p, n);
    shim_leave(was);
    if (!q) {
        if (rec)
            shim_heap_reattach(p, rec); /* the old block is still live */
        return NULL;
    }
    if (rec)
        shim_heap_release(rec);
    return SHIM_UNLIKELY(s) ? recorded(q, n) : q;
}

SHIM_EXPORT void *realloc(void *p, size_t n) {
    void *(*direct)(void *, size_t) = shim_direct.realloc;
    /* As free's test, and not a free. */
    if (SHIM_LIKELY(direct != NULL && p != NULL && !shim_heap_maybe_sampled(p) && n != 0 &&
                    unmarked(p) && fast_ok(n, (const void *)direct)))
        return direct(p, n);
    return realloc_slow(p, n);
}

SHIM_EXPORT int posix_memalign(void **out, size_t align, size_t n) {
    if (SHIM_UNLIKELY(!shim_real_ready())) {
        if (!pow2(align) || align % sizeof(void *))
            return EINVAL;
        *out = shim_boot_alloc(n, align);
        return 0;
    }
    bool valid = pow2(align) && align % sizeof(void *) == 0;
    if (valid && align <= 16 && SHIM_UNLIKELY(shim_tls_v.own_alloc)) {
        void *p = shim_mem_alloc(n ? n : 1);
        if (!p)
            return ENOMEM;
        *out = p;
        return 0;
    }
    bool s = take_sample(n);
    int was = shim_enter();
    int rc = shim_real.posix_memalign(out, align, n);
    shim_leave(was);
    if (SHIM_UNLIKELY(s) && rc == 0)
        recorded(*out, n);
    return rc;
}

/* memalign and aligned_alloc share glibc 2.36's rules (any alignment is
 * rounded up to a power of two), which the real function applies. */
static void *aligned(void *(*real)(size_t, size_t), size_t align, size_t n) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return shim_boot_alloc(n, pow2(align) ? align : 16);
    if (pow2(align) && align <= 16 && SHIM_UNLIKELY(shim_tls_v.own_alloc))
        return own_alloc(n);
    bool s = take_sample(n);
    int was = shim_enter();
    void *p = (real ? real : shim_real.memalign)(align, n);
    shim_leave(was);
    return SHIM_UNLIKELY(s) ? recorded(p, n) : p;
}

SHIM_EXPORT void *memalign(size_t align, size_t n) {
    return aligned(shim_real.memalign, align, n);
}

SHIM_EXPORT void *aligned_alloc(size_t align, size_t n) {
    return aligned(shim_real.aligned_alloc, align, n);
}

static void *page_alloc(void *(*real)(size_t), size_t n) {
    bool s = take_sample(n);
    int was = shim_enter();
    void *p = real(n);
    shim_leave(was);
    return SHIM_UNLIKELY(s) ? recorded(p, n) : p;
}

SHIM_EXPORT void *valloc(size_t n) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return shim_boot_alloc(n, PAGE);
    return page_alloc(shim_real.valloc, n);
}

SHIM_EXPORT void *pvalloc(size_t n) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return shim_boot_alloc((n + PAGE - 1) & ~(size_t)(PAGE - 1), PAGE);
    return page_alloc(shim_real.pvalloc, n);
}

/* The address the dynamic linker must resolve "malloc" to when the shim
 * is live (init.c compares dlsym(RTLD_DEFAULT, "malloc") with it; &malloc
 * would go through our own GOT to whoever won). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wunknown-warning-option"
#pragma GCC diagnostic ignored "-Wmissing-attributes"
extern void *shim_hook_malloc(size_t) __attribute__((alias("malloc"), visibility("hidden")));
#pragma GCC diagnostic pop
