/*
 * mem.c — the shim's private memory for its long-lived records and tables
 * (shim_calloc/shim_free), kept out of the host's malloc arenas.
 *
 * Why: records made while sampling (heap buckets, interned stacks, map and
 * lock records) live until exit. Taken from glibc they land wherever the
 * sampling thread's arena top is, one small pinned chunk at a time, so the
 * host's heap can no longer coalesce or trim around them (on bench-shim's
 * heap workload that alone grew the two thread arenas many times over).
 * Here they come from mmap'd regions of our own, so the host's heap
 * behaves exactly as without us.
 *
 * It also serves every allocation made during a dump (heap.c routes the
 * malloc family there while shim_tls.own_alloc is set: libdw, libelf, zlib,
 * protobuf-c, glibc's own helpers), so a dump never enters glibc's
 * allocator: exit() called from a signal handler that interrupted malloc
 * ran the final dump inside the interrupted malloc's state and corrupted
 * the heap ("corrupted double-linked list", 1 run in 20 of a program
 * whose SIGALRM handler exits), and dumps no longer leave garbage in the
 * host's arenas. Such blocks can reach free()/realloc() later, so each one
 * says it is ours where glibc keeps a chunk's size word (SHIM_MEM_MARK,
 * which no glibc chunk can hold, just before the block): the hooks' fast
 * paths read that word anyway and send such a block to its slow path.
 *
 * Layout: requests up to MEM_SMALL_MAX bytes round up to a size class
 * (16-byte steps to 128 B, then powers of two to 64 KiB) carved from 1 MiB
 * regions, and are recycled through
 * per-class free lists (regions are never unmapped: the records they hold
 * are few and mostly immortal, and a dump's freed blocks serve the next
 * dump). Larger requests (table arrays, dump buffers) get their own
 * mapping, unmapped on free, so a table that doubles gives its old array
 * back to the system. Every block has a 16-byte header holding its class
 * or mapping size and the mark; blocks are 16-byte aligned, and zeroed
 * except from shim_mem_alloc (malloc's contract: a dump's libraries).
 *
 * Thread-safety: one spinlock (innermost: callers may hold producer locks,
 * nothing is called with it held). Around fork it is held (lock_all) so
 * the child never inherits it taken. errno is preserved. Non-goals:
 * returning small-class memory to the system, speed beyond "a few ns".
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "shim/shim.h"

#define MEM_HDR       16u
#define MEM_CLASSES   17 /* 16, 32, ..., 128 B, then 256 B .. 64 KiB */
#define MEM_SMALL_MAX (64u << 10)
#define MEM_REGION    (1u << 20)
#define MEM_LARGE     0xffffffffu

typedef struct mem_hdr {
    uint32_t cls;   /* class index, or MEM_LARGE */
    uint32_t pages; /* mapping size in pages, for large blocks */
    uint64_t mark;  /* SHIM_MEM_MARK, where glibc keeps a chunk's size */
} mem_hdr;

_Static_assert(sizeof(mem_hdr) == MEM_HDR, "header keeps 16-byte alignment");

typedef struct mem_free {
    struct mem_free *next;
} mem_free;

static shim_spin mem_lock;
static mem_free *free_lists[MEM_CLASSES];
static unsigned char *bump, *bump_end; /* rest of the current region */

/* Records are mostly 40-130 bytes (a heap bucket with its header is 72):
 * 16-byte steps up to 128 keep the waste small where the numbers are. */
static size_t class_size(unsigned c) {
    return c < 8 ? (size_t)(c + 1) * 16 : (size_t)256 << (c - 8);
}

static unsigned class_of(size_t total) {
    unsigned c = 0;
    while (class_size(c) < total)
        c++;
    return c;
}

static void *map_pages(size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void *small_alloc(unsigned cls, bool zero) {
    size_t size = class_size(cls);
    shim_spin_lock(&mem_lock);
    mem_free *f = free_lists[cls];
    if (f) {
        free_lists[cls] = f->next;
    } else {
        if ((size_t)(bump_end - bump) < size) {
            /* The tail of the old region (< 64 KiB) is abandoned. */
            unsigned char *r = map_pages(MEM_REGION);
            if (!r) {
                shim_spin_unlock(&mem_lock);
                return NULL;
            }
            bump = r;
            bump_end = r + MEM_REGION;
        }
        f = (mem_free *)(void *)bump;
        bump += size;
    }
    shim_spin_unlock(&mem_lock);
    if (zero)
        memset(f, 0, size); /* recycled blocks are dirty; fresh pages cost nothing extra */
    return f;
}

static void *mem_alloc(size_t size, bool zero) {
    int saved = errno;
    if (size > SIZE_MAX - MEM_HDR - 4096) {
        errno = saved;
        return NULL;
    }
    size_t total = size + MEM_HDR;
    mem_hdr *h;
    if (total <= MEM_SMALL_MAX) {
        unsigned cls = class_of(total);
        h = small_alloc(cls, zero);
        if (h)
            h->cls = cls;
    } else {
        size_t mapped = (total + 4095) & ~(size_t)4095;
        h = mapped >> 12 < MEM_LARGE ? map_pages(mapped) : NULL; /* zero-filled */
        if (h) {
            h->cls = MEM_LARGE;
            h->pages = (uint32_t)(mapped >> 12);
        }
    }
    if (h)
        h->mark = SHIM_MEM_MARK;
    errno = saved;
    return h ? (unsigned char *)h + MEM_HDR : NULL;
}

void *shim_calloc(size_t size) {
    return mem_alloc(size, true);
}

void *shim_mem_alloc(size_t size) {
    return mem_alloc(size, false);
}

void shim_free(void *p) {
    if (!p)
        return;
    int saved = errno;
    mem_hdr *h = (mem_hdr *)(void *)((unsigned char *)p - MEM_HDR);
    if (h->cls == MEM_LARGE) {
        munmap(h, (size_t)h->pages << 12);
    } else {
        unsigned cls = h->cls;
        mem_free *f = (mem_free *)(void *)h;
        shim_spin_lock(&mem_lock);
        f->next = free_lists[cls];
        free_lists[cls] = f;
        shim_spin_unlock(&mem_lock);
    }
    errno = saved;
}

size_t shim_mem_usable(const void *p) {
    const mem_hdr *h = (const mem_hdr *)(const void *)((const unsigned char *)p - MEM_HDR);
    return (h->cls == MEM_LARGE ? (size_t)h->pages << 12 : class_size(h->cls)) - MEM_HDR;
}

void shim_mem_lock_all(bool lock) {
    if (lock)
        shim_spin_lock(&mem_lock);
    else
        shim_spin_unlock(&mem_lock);
}
