/*
 * stack.c — capturing call stacks (libunwind) and interning them.
 *
 * Capture uses unw_backtrace with UNW_CACHE_PER_THREAD: ~11-16 ns per
 * frame warm, no allocation, and (with the guard set) its internal
 * pthread locks pass through our interposers. It is warmed up once at
 * init, guard set, so its first-call setup (locks, mempools) happens
 * then and not inside a host's critical moment. The shim's own frames
 * are dropped by address: every leading frame inside the shim's
 * executable segment (found at init with dl_iterate_phdr) is skipped,
 * which is robust to inlining, unlike a fixed skip count.
 *
 * Interned stacks are immutable, never freed (profiles refer to them by
 * pointer across dumps) and shared by every profile kind; the intern
 * table is keyed by a 64-bit hash with a chain for full comparisons.
 * Never unwinds while holding a shim lock (the intern lock is taken after
 * the capture), so the loader lock can never be taken under ours.
 *
 * fork: libunwind has pthread mutexes of its own (its caches, mempools);
 * a fork while another thread is inside unw_backtrace would leave one
 * locked in the child, whose first unwind then waits forever. So unwinds
 * pass a gate: fork's prepare handler closes it and waits until no other
 * thread is unwinding (a thread forking from a signal handler that
 * interrupted its own unwind is not waited for).
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <link.h>
#include <pthread.h>
#include <string.h>

#include "shim/shim.h"

static uintptr_t own_lo, own_hi; /* the shim's executable segment */
static uint64_t failures;        /* captures that produced no frame */

/* Interned stacks by hash, in shards with a lock each on its own cache
 * line: every sampled event interns a stack, and with one lock the
 * threads of a lock-heavy program queued on it. */
#define SHARDS 16
static struct {
    _Alignas(64) shim_spin lock;
    shim_table table; /* hash -> shim_stack chain */
} interned[SHARDS];

/* Threads inside libunwind, counted in stripes on their own cache lines
 * (a thread always uses the same one): two updates of one shared counter
 * per unwind moved its line between the cores on every sampled event.
 * The fork gate reads the sum. */
static struct { _Alignas(64) int n; } unwinders[SHARDS];
static int fork_gate; /* atomic: 1 while a fork is being prepared */
static __thread int in_unwind __attribute__((tls_model("initial-exec")));

static int *my_stripe(void) {
    return &unwinders[shim_hash64((uintptr_t)&in_unwind) % SHARDS].n;
}

static int unwinders_sum(void) {
    int n = 0;
    for (int i = 0; i < SHARDS; i++)
        n += __atomic_load_n(&unwinders[i].n, __ATOMIC_SEQ_CST);
    return n;
}

static void unwind_enter(void) {
    int *stripe = my_stripe();
    for (;;) {
        while (__atomic_load_n(&fork_gate, __ATOMIC_ACQUIRE))
            sched_yield();
        __atomic_add_fetch(stripe, 1, __ATOMIC_SEQ_CST);
        if (!__atomic_load_n(&fork_gate, __ATOMIC_SEQ_CST))
            break;
        __atomic_sub_fetch(stripe, 1, __ATOMIC_SEQ_CST);
    }
    in_unwind++;
}

static void unwind_leave(void) {
    in_unwind--;
    __atomic_sub_fetch(my_stripe(), 1, __ATOMIC_RELEASE);
}

static int find_own(struct dl_phdr_info *info, size_t size, void *ctx) {
    (void)size;
    uintptr_t probe = (uintptr_t)ctx;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (probe >= lo && probe < hi) {
            own_lo = lo;
            own_hi = hi;
            return 1;
        }
    }
    return 0;
}

void shim_stack_init(void) {
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    unw_set_cache_size(unw_local_addr_space, 1024, 0);
    dl_iterate_phdr(find_own, (void *)(uintptr_t)&shim_stack_init);
    void *warm[8];
    unw_backtrace(warm, 8);
}

int shim_stack_capture(uint64_t *pcs, int cap) {
    void *buf[SHIM_MAX_DEPTH + 16];
    int want =
        cap + 16 > (int)(sizeof buf / sizeof buf[0]) ? (int)(sizeof buf / sizeof buf[0]) : cap + 16;
    /* libunwind validates addresses with read/write on a pipe: both are
     * cancellation points, and a cancel acted on inside a malloc or a
     * contended pthread_mutex_lock would end the thread holding the
     * program's lock (or ours). */
    int cancel;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    unwind_enter();
    int n = unw_backtrace(buf, want);
    unwind_leave();
    pthread_setcancelstate(cancel, NULL);
    int i = 0;
    while (i < n && (uintptr_t)buf[i] >= own_lo && (uintptr_t)buf[i] < own_hi)
        i++;
    int d = 0;
    for (; i < n && d < cap && buf[i]; i++)
        pcs[d++] = (uint64_t)(uintptr_t)buf[i];
    if (d == 0)
        __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
    return d;
}

/*
 * From a signal handler: unw_init_local2 starts at the interrupted
 * context, so the first frame is the exact PC that was running (not a
 * return address) and the handler's own frames never appear. Only the
 * documented signal-safe steps (init, step, get_reg) run. A thread that
 * was already inside libunwind (its per-thread cache is not reentrant) or
 * a fork being prepared (its gate must not wait for a handler) makes the
 * capture give up at once: -1, the caller records the time as not
 * unwound. The capture never blocks and takes no shim lock.
 */
int shim_stack_capture_signal(void *ucontext, uint64_t *pcs, int cap) {
    if (in_unwind || __atomic_load_n(&fork_gate, __ATOMIC_ACQUIRE))
        return -1;
    int *stripe = my_stripe();
    __atomic_add_fetch(stripe, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&fork_gate, __ATOMIC_SEQ_CST)) {
        __atomic_sub_fetch(stripe, 1, __ATOMIC_RELEASE);
        return -1;
    }
    in_unwind++;
    unw_cursor_t cur;
    int d = 0;
    if (unw_init_local2(&cur, (unw_context_t *)ucontext, UNW_INIT_SIGNAL_FRAME) == 0) {
        do {
            unw_word_t ip = 0;
            if (unw_get_reg(&cur, UNW_REG_IP, &ip) != 0 || ip == 0)
                break;
            pcs[d++] = (uint64_t)ip;
        } while (d < cap && unw_step(&cur) > 0);
    }
    unwind_leave();
    return d;
}

bool shim_stack_is_own(uint64_t pc) {
    return pc >= own_lo && pc < own_hi;
}

uint64_t shim_stack_failures(void) {
    return __atomic_load_n(&failures, __ATOMIC_RELAXED);
}

uint32_t shim_dl_gen = 1;

static uint64_t hash_pcs(const uint64_t *pcs, int depth, uint32_t gen) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)depth ^ ((uint64_t)gen << 32);
    for (int i = 0; i < depth; i++)
        h = shim_hash64(h ^ pcs[i]) + (uint64_t)i;
    return h | 1; /* 0 is the table's empty key */
}

const shim_stack *shim_stack_intern(const uint64_t *pcs, int depth) {
    uint32_t gen = __atomic_load_n(&shim_dl_gen, __ATOMIC_ACQUIRE);
    uint64_t h = hash_pcs(pcs, depth, gen);
    shim_spin *lock = &interned[h % SHARDS].lock;
    shim_table *table = &interned[h % SHARDS].table;
    shim_spin_lock(lock);
    shim_stack *head = shim_table_get(table, h);
    for (shim_stack *s = head; s; s = s->next)
        if (s->depth == (uint32_t)depth && s->gen == gen &&
            !memcmp(s->pcs, pcs, (size_t)depth * sizeof *pcs)) {
            shim_spin_unlock(lock);
            return s;
        }
    shim_stack *s = shim_calloc(sizeof *s + (size_t)depth * sizeof *pcs);
    if (s) {
        s->hash = h;
        s->depth = (uint32_t)depth;
        s->gen = gen;
        memcpy(s->pcs, pcs, (size_t)depth * sizeof *pcs);
        s->next = head;
        if (shim_table_put(table, h, s) < 0) {
            shim_free(s);
            s = NULL;
        }
    }
    shim_spin_unlock(lock);
    return s;
}

const shim_stack *shim_stack_here(void) {
    uint64_t pcs[SHIM_MAX_DEPTH];
    int d = shim_stack_capture(pcs, (int)shim_cfg.depth);
    return shim_stack_intern(pcs, d); /* depth 0 interns the empty stack */
}

void shim_stack_flush(void) {
    int was = shim_enter();
    unwind_enter();
    unw_flush_cache(unw_local_addr_space, 0, 0); /* cached unwind info of unmapped code */
    unwind_leave();
    shim_leave(was);
}

void shim_stack_lock_all(bool lock) {
    if (lock) {
        __atomic_store_n(&fork_gate, 1, __ATOMIC_SEQ_CST);
        while (unwinders_sum() > in_unwind)
            sched_yield();
        for (int i = 0; i < SHARDS; i++)
            shim_spin_lock(&interned[i].lock);
    } else {
        for (int i = SHARDS - 1; i >= 0; i--)
            shim_spin_unlock(&interned[i].lock);
        __atomic_store_n(&fork_gate, 0, __ATOMIC_RELEASE);
    }
}

void shim_stack_after_fork(void) {
    /* Locked by the fork prepare handler, so the table is consistent; the
     * interned stacks stay valid in the child. */
    for (int i = 0; i < SHARDS; i++)
        shim_spin_unlock(&interned[i].lock);
    for (int i = 0; i < SHARDS; i++) /* the only thread left is this one */
        __atomic_store_n(&unwinders[i].n, 0, __ATOMIC_RELAXED);
    __atomic_store_n(my_stripe(), in_unwind, __ATOMIC_RELAXED);
    __atomic_store_n(&fork_gate, 0, __ATOMIC_RELEASE);
}
