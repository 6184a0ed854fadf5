/*
 * heap.c — the malloc family, interposed: sampling by bytes on the way in,
 * forgetting sampled blocks on the way out.
 *
 * Fast path (malloc, free, calloc, realloc): this thread's byte countdown
 * (mean MAPPROF_HEAP_RATE) minus the request stays >= 0, the pointer is
 * not page-aligned (free), and glibc is the real allocator (shim_direct):
 * then the call goes straight to glibc, a tail call, with nothing else
 * looked at - no guard, no state, no configuration. Everything else
 * (a sample point crossed, a page-aligned free, before resolution, a
 * foreign allocator) takes the complete path below, which counts the
 * request itself, so the two never disagree. Bytes the shim allocates
 * itself (guard set) count down too but are never sampled: sample points
 * form a Poisson process over all bytes, and dropping those that land on
 * the shim's own bytes leaves the host's bytes sampled at the same rate.
 * Before the constructor nothing is counted (seeds must be reproducible);
 * when the heap profile is off or the shim has finished, the countdown is
 * parked at INT64_MAX so the fast path takes every call.
 * The sampling decision is made BEFORE the real call, so a sampled block
 * below SHIM_HEAP_BIG (128 KiB) can be allocated page-aligned
 * (memalign(4096)), and from that size on (with glibc) it is the program's
 * own block, recognised by glibc's chunk size word: free() then looks a
 * pointer up only when it is page-aligned or that big and some sampled
 * block is live, which rules out ~99.6 % of frees with an AND and a
 * compare (preload.md §4 (b)). Page-aligned blocks that were never sampled
 * (a freed sampled chunk comes back from glibc at the same address) are
 * then told apart without a lock by heapprof.c's filter. The cost is up
 * to 4 KiB of slack per live sampled small block (~2 K blocks per GiB of
 * live heap at the default rate), and a sampled small calloc memsets.
 * Not done: keeping freed sampled blocks for the next samples (to skip
 * memalign, ~750 instructions of a ~2,500-instruction sample): shared
 * between threads it moved blocks across glibc's arenas (lock waits, heap
 * trims, TLB shootdowns) and cost more CPU than it saved on bench-shim's
 * heap workload, in every interleaved run.
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

#define PAGE 4096u

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

/* shim_glibc_chunk_size(p) < SHIM_HEAP_BIG without masking the flags:
 * they are below 8 and SHIM_HEAP_BIG is a multiple of 8. */
static inline bool glibc_small(const void *p) {
    return ((const size_t *)p)[-1] < SHIM_HEAP_BIG;
}

static inline bool pow2(size_t a) {
    return a && !(a & (a - 1));
}

/* glibc serves requests above its mmap threshold with fresh (zero) pages
 * and marks such chunks with bit 1 (IS_MMAPPED) of the size word before
 * the block; its calloc skips the memset for them, and so does ours:
 * touching every page of a big sampled calloc would also raise RSS. */
static bool fresh_zero_pages(const void *p) {
    return shim_direct.malloc != NULL && (((const size_t *)p)[-1] & 2) != 0;
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
    t->own_alloc = 1;
    t->heap.left = -1; /* every call of this thread takes the complete path */
    return left;
}

void shim_own_alloc_end(int64_t left) {
    shim_tls_v.heap.left = left;
    shim_tls_v.own_alloc = 0;
}

/*
 * A sampled block, recorded after it exists: page-aligned (see top), except
 * from SHIM_HEAP_BIG bytes on with glibc, where it is exactly the block the
 * program would have had (free recognises it by glibc's chunk size word).
 * A page-aligned copy of a big block is larger than the program's, and
 * freeing it moves glibc's dynamic mmap threshold past the program's own
 * sizes, so later big blocks stayed in the arenas: peak RSS x1.37 on
 * bench-overhead's malloc workload, x2.16 on its map workload. Inlined
 * into its callers: one frame fewer for libunwind to walk (stack.c). align is
 * the caller's alignment (16 for malloc and calloc): malloc used to pass
 * PAGE here, which sent every big sampled malloc to memalign(4096) - the
 * same threshold effect, +24 MiB on bench-overhead's malloc workload.
 */
static inline __attribute__((always_inline)) void *sampled(size_t n, size_t align, bool zero) {
    int was = shim_enter();
    void *p;
    if (n >= SHIM_HEAP_BIG && shim_direct.malloc != NULL) {
        p = zero          ? shim_real.calloc(1, n)
            : align <= 16 ? shim_real.malloc(n)
                          : shim_real.memalign(align, n);
        zero = false;
    } else {
        p = shim_real.memalign(align < PAGE ? PAGE : align, n);
    }
    shim_leave(was);
    if (p) {
        if (zero && !fresh_zero_pages(p))
            memset(p, 0, n);
        shim_heap_record(p, n);
    }
    return p;
}

static __attribute__((noinline)) void *malloc_slow(size_t n) {
    if (SHIM_UNLIKELY(shim_tls_v.own_alloc))
        return own_alloc(n);
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return shim_boot_alloc(n, 16);
    if (SHIM_UNLIKELY(take_sample(n)))
        return sampled(n, 16, false);
    if (SHIM_UNLIKELY(shim_tls_v.probe))
        shim_tls_v.probe = 2; /* init.c: the process's malloc reaches us */
    int was = shim_enter();
    void *p = shim_real.malloc(n);
    shim_leave(was);
    return p;
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
        shim_heap_forget(p);
    int was = shim_enter();
    shim_real.free(p);
    shim_leave(was);
}

SHIM_EXPORT void free(void *p) {
    void (*direct)(void *) = shim_direct.free;
    /* Sampled blocks are page-aligned or big (see sampled), and the
     * shim's own and bootstrap blocks read as big (their marks): any other
     * pointer is glibc's alone. The chunk size word is on the line glibc's
     * free reads first anyway. */
    if (SHIM_LIKELY(direct != NULL && ((uintptr_t)p & (PAGE - 1)) != 0 && glibc_small(p)))
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
    if (!overflow && SHIM_UNLIKELY(take_sample(total)))
        return sampled(total, 16, true);
    int was = shim_enter();
    void *p = shim_real.calloc(n, size); /* overflow: NULL + ENOMEM, as glibc */
    shim_leave(was);
    return p;
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
    void *rec = shim_heap_maybe_sampled(p) ? shim_heap_detach(p) : NULL;
    if (SHIM_UNLIKELY(take_sample(n))) {
        int was = shim_enter();
        void *q;
        if (n >= SHIM_HEAP_BIG && shim_direct.malloc != NULL) {
            /* A big block needs no alignment (see sampled): glibc's own
             * realloc, which grows in place or with mremap instead of
             * holding both copies (and their pages) at once. */
            q = shim_real.realloc(p, n);
            shim_leave(was);
            if (!q) {
                if (rec)
                    shim_heap_reattach(p, rec); /* the old block is still live */
                return NULL;
            }
            if (rec)
                shim_heap_release(rec);
            shim_heap_record(q, n);
            return q;
        }
        /* A small sampled block is moved so it is page-aligned (tcmalloc
         * moves sampled reallocs too). */
        q = shim_real.memalign(PAGE, n);
        if (q) {
            size_t old = shim_real.malloc_usable_size(p);
            memcpy(q, p, old < n ? old : n);
            shim_real.free(p);
        }
        shim_leave(was);
        if (!q) {
            if (rec)
                shim_heap_reattach(p, rec);
            return NULL;
        }
        if (rec)
            shim_heap_release(rec);
        shim_heap_record(q, n);
        return q;
    }
    int was = shim_enter();
    void *q = shim_real.realloc(p, n);
    shim_leave(was);
    if (rec) {
        if (q)
            shim_heap_release(rec);
        else
            shim_heap_reattach(p, rec); /* the old block is still live */
    }
    return q;
}

SHIM_EXPORT void *realloc(void *p, size_t n) {
    void *(*direct)(void *, size_t) = shim_direct.realloc;
    /* Not NULL, not possibly sampled, not ours or the pool's (marks read
     * as big), not a free. */
    if (SHIM_LIKELY(direct != NULL && ((uintptr_t)p & (PAGE - 1)) != 0 && n != 0 &&
                    glibc_small(p) && fast_ok(n, (const void *)direct)))
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
    if (valid && SHIM_UNLIKELY(take_sample(n))) {
        int saved = errno;
        void *p = sampled(n, align, false);
        if (!p)
            return ENOMEM;
        errno = saved;
        *out = p;
        return 0;
    }
    int was = shim_enter();
    int rc = shim_real.posix_memalign(out, align, n);
    shim_leave(was);
    return rc;
}

/* memalign and aligned_alloc share glibc 2.36's rules (any alignment is
 * rounded up to a power of two); only powers of two are sampled, others
 * go to the real function untouched. */
static void *aligned(void *(*real)(size_t, size_t), size_t align, size_t n) {
    if (SHIM_UNLIKELY(!shim_real_ready()))
        return shim_boot_alloc(n, pow2(align) ? align : 16);
    if (pow2(align) && align <= 16 && SHIM_UNLIKELY(shim_tls_v.own_alloc))
        return own_alloc(n);
    if (pow2(align) && SHIM_UNLIKELY(take_sample(n)))
        return sampled(n, align, false);
    int was = shim_enter();
    void *p = (real ? real : shim_real.memalign)(align, n);
    shim_leave(was);
    return p;
}

SHIM_EXPORT void *memalign(size_t align, size_t n) {
    return aligned(shim_real.memalign, align, n);
}

SHIM_EXPORT void *aligned_alloc(size_t align, size_t n) {
    return aligned(shim_real.aligned_alloc, align, n);
}

/* valloc/pvalloc blocks are page-aligned already: record the real one. */
static void *page_alloc(void *(*real)(size_t), size_t n) {
    bool s = take_sample(n);
    int was = shim_enter();
    void *p = real(n);
    shim_leave(was);
    if (SHIM_UNLIKELY(s) && p)
        shim_heap_record(p, n);
    return p;
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
