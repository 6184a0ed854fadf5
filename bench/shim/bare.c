/*
 * bare.c — the floor for bench-shim: an LD_PRELOAD interposer that does
 * the least any sampling heap profiler must do per call, and nothing
 * more. Each malloc-family call is forwarded to glibc's function found
 * with dlsym(RTLD_NEXT), after subtracting the size from a per-thread
 * byte countdown in initial-exec TLS (the sampler's fast path; when it
 * goes negative it is simply re-armed, nothing is recorded).
 *
 * pthread_mutex_lock/unlock are forwarded the same way (a tail call
 * through a pointer): the floor any lock-profiling interposer pays on an
 * uncontended lock.
 *
 * While dlsym runs (it may call calloc/malloc itself) requests are served
 * from a small static pool that free() recognizes and ignores.
 * Non-goals: profiling, errno care beyond glibc's, thread-safe lazy
 * resolution races (resolution is idempotent: every thread stores the
 * same pointers).
 */
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void *(*real_memalign)(size_t, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);

static __thread int64_t countdown __attribute__((tls_model("initial-exec")));
static __thread int resolving __attribute__((tls_model("initial-exec")));

static _Alignas(64) unsigned char pool[64 * 1024];
static size_t pool_used;

static void *pool_alloc(size_t n) {
    size_t off = __atomic_fetch_add(&pool_used, (n + 63) & ~(size_t)63, __ATOMIC_RELAXED);
    if (off + n > sizeof pool)
        return NULL;
    return pool + off;
}

static int in_pool(const void *p) {
    return (const unsigned char *)p >= pool && (const unsigned char *)p < pool + sizeof pool;
}

static void resolve(void) {
    resolving = 1;
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
    real_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    void *m = dlsym(RTLD_NEXT, "malloc");
    __atomic_store_n(&real_malloc, (void *(*)(size_t))m, __ATOMIC_RELEASE);
    resolving = 0;
}

static inline int ready(void) {
    if (__builtin_expect(__atomic_load_n(&real_malloc, __ATOMIC_ACQUIRE) != NULL, 1))
        return 1;
    if (resolving)
        return 0;
    resolve();
    return 1;
}

static inline void count(size_t n) {
    countdown -= (int64_t)n;
    if (__builtin_expect(countdown < 0, 0))
        countdown = 524288;
}

EXPORT void *malloc(size_t n) {
    if (!ready())
        return pool_alloc(n);
    count(n);
    return real_malloc(n);
}

EXPORT void free(void *p) {
    if (!p || in_pool(p))
        return;
    if (ready())
        real_free(p);
}

EXPORT void *calloc(size_t a, size_t b) {
    if (!ready())
        return pool_alloc(a * b); /* static pool: already zero */
    count(a * b);
    return real_calloc(a, b);
}

EXPORT void *realloc(void *p, size_t n) {
    if (!ready() || in_pool(p)) {
        void *q = ready() ? real_malloc(n) : pool_alloc(n);
        if (q && p)
            memcpy(q, p, n); /* pool blocks are at least n long or n is small */
        return q;
    }
    count(n);
    return real_realloc(p, n);
}

EXPORT void *memalign(size_t a, size_t n) {
    if (!ready())
        return NULL;
    count(n);
    return real_memalign(a, n);
}

EXPORT int posix_memalign(void **r, size_t a, size_t n) {
    if (!ready())
        return 12; /* ENOMEM */
    count(n);
    return real_posix_memalign(r, a, n);
}

EXPORT void *aligned_alloc(size_t a, size_t n) {
    if (!ready())
        return NULL;
    count(n);
    return real_aligned_alloc(a, n);
}

static int (*real_lock)(pthread_mutex_t *);
static int (*real_unlock)(pthread_mutex_t *);

EXPORT int pthread_mutex_lock(pthread_mutex_t *m) {
    int (*f)(pthread_mutex_t *) = __atomic_load_n(&real_lock, __ATOMIC_RELAXED);
    if (__builtin_expect(f == NULL, 0)) {
        f = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT, "pthread_mutex_lock");
        __atomic_store_n(&real_lock, f, __ATOMIC_RELAXED);
    }
    return f(m);
}

EXPORT int pthread_mutex_unlock(pthread_mutex_t *m) {
    int (*f)(pthread_mutex_t *) = __atomic_load_n(&real_unlock, __ATOMIC_RELAXED);
    if (__builtin_expect(f == NULL, 0)) {
        f = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT, "pthread_mutex_unlock");
        __atomic_store_n(&real_unlock, f, __ATOMIC_RELAXED);
    }
    return f(m);
}
