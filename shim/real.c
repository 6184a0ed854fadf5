/*
 * real.c — finding the functions the shim interposes (dlsym(RTLD_NEXT)),
 * and the bootstrap pool that serves allocations made while doing so.
 *
 * Resolution is lazy: every hook calls shim_real_ready() first, so hooks
 * work before the constructor (a DT_NEEDED library's constructor runs
 * earlier and allocates). The first caller resolves everything; a thread
 * that arrives meanwhile spins until it is done. If dlsym itself allocates
 * (older glibc, other libcs), the nested malloc on the resolving thread
 * sees `resolving` set and is served from a static bump pool; free()
 * ignores pool pointers (see heap.c), and the pool is never reused.
 * shim_real.malloc is stored last with release order: readers that see it
 * non-NULL see every other member.
 *
 * pthread_cond_* are pinned to GLIBC_2.3.2 (the NPTL implementation), as
 * mutrace does: plain dlsym may hand out the old 2.2.5 one elsewhere.
 * Non-goal: surviving an exhausted pool (it aborts with a message, which
 * only a libc allocating > 64 KiB inside dlsym could trigger).
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim/shim.h"

shim_real_fns shim_real;
shim_direct_fns shim_direct;

_Alignas(64) unsigned char shim_boot_pool[SHIM_BOOT_POOL_SIZE];
static size_t boot_used; /* atomic bump offset */

void *shim_boot_alloc(size_t size, size_t align) {
    if (align < 16)
        align = 16;
    for (;;) {
        size_t cur = __atomic_load_n(&boot_used, __ATOMIC_RELAXED);
        size_t start = (cur + 16 + align - 1) & ~(align - 1); /* room for the mark */
        if (start + size < start || start + size > sizeof shim_boot_pool) {
            static const char msg[] = "mapprof: bootstrap pool exhausted\n";
            (void)!write(2, msg, sizeof msg - 1);
            abort();
        }
        if (__atomic_compare_exchange_n(&boot_used, &cur, start + size, false, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
            /* Where glibc keeps a chunk's size: free()/realloc()'s fast
             * paths then send the block to their slow paths, which know
             * the pool, without a range test of their own. */
            uint64_t mark = SHIM_BOOT_MARK;
            memcpy(shim_boot_pool + start - 8, &mark, sizeof mark);
            return shim_boot_pool + start; /* static storage: already zero */
        }
    }
}

size_t shim_boot_avail(const void *p) {
    return (size_t)(shim_boot_pool + sizeof shim_boot_pool - (const unsigned char *)p);
}

/* Is the object defining f glibc itself (libc.so.6)? */
bool shim_real_in_libc(const void *f) {
    Dl_info info;
    if (!f || !dladdr(f, &info) || !info.dli_fname)
        return false;
    const char *slash = strrchr(info.dli_fname, '/');
    const char *base = slash ? slash + 1 : info.dli_fname;
    return strncmp(base, "libc.so", 7) == 0;
}

/* shim_direct: only when the whole malloc family is glibc's. */
static void publish_direct(void *m) {
    if (!shim_real_in_libc(m) || !shim_real_in_libc((void *)shim_real.free) ||
        !shim_real_in_libc((void *)shim_real.calloc) ||
        !shim_real_in_libc((void *)shim_real.realloc))
        return;
    shim_direct.free = shim_real.free;
    shim_direct.calloc = shim_real.calloc;
    shim_direct.realloc = shim_real.realloc;
    __atomic_store_n((void **)&shim_direct.malloc, m, __ATOMIC_RELEASE);
}

static void *next(const char *name) {
    return dlsym(RTLD_NEXT, name);
}

static void *next_cond(const char *name) {
    void *f = dlvsym(RTLD_NEXT, name, "GLIBC_2.3.2");
    return f ? f : dlsym(RTLD_NEXT, name);
}

#define SET(member, name) *(void **)&r.member = next(name)

static int resolve_state; /* 0 none, 1 running, 2 done */

bool shim_real_resolve(void) {
    int st = __atomic_load_n(&resolve_state, __ATOMIC_ACQUIRE);
    if (st == 2)
        return true;
    if (shim_tls_v.resolving)
        return false; /* nested inside our own dlsym: use the pool */
    int expected = 0;
    if (!__atomic_compare_exchange_n(&resolve_state, &expected, 1, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&resolve_state, __ATOMIC_ACQUIRE) != 2)
            ; /* another thread is in dlsym (microseconds) */
        return true;
    }
    int was = shim_enter();
    shim_tls_v.resolving = 1;
    shim_real_fns r = {0};
    SET(free, "free");
    SET(calloc, "calloc");
    SET(realloc, "realloc");
    SET(posix_memalign, "posix_memalign");
    SET(aligned_alloc, "aligned_alloc");
    SET(memalign, "memalign");
    SET(valloc, "valloc");
    SET(pvalloc, "pvalloc");
    SET(malloc_usable_size, "malloc_usable_size");
    SET(mutex_lock, "pthread_mutex_lock");
    SET(mutex_trylock, "pthread_mutex_trylock");
    SET(mutex_timedlock, "pthread_mutex_timedlock");
    SET(mutex_clocklock, "pthread_mutex_clocklock");
    SET(mutex_unlock, "pthread_mutex_unlock");
    SET(rwlock_rdlock, "pthread_rwlock_rdlock");
    SET(rwlock_tryrdlock, "pthread_rwlock_tryrdlock");
    SET(rwlock_timedrdlock, "pthread_rwlock_timedrdlock");
    SET(rwlock_clockrdlock, "pthread_rwlock_clockrdlock");
    SET(rwlock_wrlock, "pthread_rwlock_wrlock");
    SET(rwlock_trywrlock, "pthread_rwlock_trywrlock");
    SET(rwlock_timedwrlock, "pthread_rwlock_timedwrlock");
    SET(rwlock_clockwrlock, "pthread_rwlock_clockwrlock");
    SET(rwlock_unlock, "pthread_rwlock_unlock");
    *(void **)&r.cond_wait = next_cond("pthread_cond_wait");
    *(void **)&r.cond_timedwait = next_cond("pthread_cond_timedwait");
    *(void **)&r.cond_clockwait = next("pthread_cond_clockwait");
    *(void **)&r.cond_signal = next_cond("pthread_cond_signal");
    *(void **)&r.cond_broadcast = next_cond("pthread_cond_broadcast");
    SET(exit_, "_exit");
    SET(Exit_, "_Exit");
    SET(dlopen, "dlopen");
    SET(dlclose, "dlclose");
    SET(pthread_create, "pthread_create");
    SET(sigwait, "sigwait");
    SET(sigwaitinfo, "sigwaitinfo");
    SET(sigtimedwait, "sigtimedwait");
    SET(signalfd, "signalfd");
    SET(sigaction, "sigaction");
    SET(signal, "signal");
    SET(sysv_signal, "sysv_signal");
    SET(execve, "execve");
    SET(execv, "execv");
    SET(execvp, "execvp");
    SET(execvpe, "execvpe");
    SET(fexecve, "fexecve");
    void *m = next("malloc");
    r.malloc = NULL;
    shim_real = r;
    __atomic_store_n((void **)&shim_real.malloc, m, __ATOMIC_RELEASE);
    shim_tls_v.resolving = 0;
    shim_leave(was);
    if (!m) {
        static const char msg[] = "mapprof: cannot find the real malloc\n";
        (void)!write(2, msg, sizeof msg - 1);
        abort();
    }
    publish_direct(m);
    __atomic_store_n(&resolve_state, 2, __ATOMIC_RELEASE);
    return true;
}
