/*
 * gomap_hooks.c — finding the profiler's hooks, and Go's throw/fatal.
 *
 * Hooks are process-wide and resolved once: gomap_set_hooks() wins;
 * otherwise the first gomap_new looks up `mapprof_gomap_hooks` with
 * dlsym(RTLD_DEFAULT) (in libc since glibc 2.34, so no -ldl), which finds a
 * preloaded or linked-in libmapprof whether libgomap is static or shared.
 * The once-state is the pointer itself: UNRESOLVED until the lookup's CAS or
 * a gomap_set_hooks store, so an explicit install can never be overwritten
 * by a racing lookup. A hooks object of another version is ignored.
 * Each map copies the result into its header at creation (NULL when
 * GOMAP_UNPROFILED), so every hook point is one branch on the map.
 *
 * gomap__throw is Go's throw/fatal for misuse that cannot be recovered:
 * "fatal error: <msg>", a backtrace, the profiler's on_fatal, abort().
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <stdlib.h>
#include <unistd.h>

#include "map/gomap_internal.h"

static const char unresolved_tag;
#define UNRESOLVED ((const gomap_hooks *)(const void *)&unresolved_tag)

static const gomap_hooks *g_hooks = UNRESOLVED;

static const gomap_hooks *usable(const gomap_hooks *h) {
    return h != NULL && h->version == GOMAP_HOOKS_VERSION ? h : NULL;
}

void gomap_set_hooks(const gomap_hooks *h) {
    __atomic_store_n(&g_hooks, usable(h), __ATOMIC_RELEASE);
}

const gomap_hooks *gomap__hooks_resolve(void) {
    const gomap_hooks *h = __atomic_load_n(&g_hooks, __ATOMIC_ACQUIRE);
    if (LIKELY(h != UNRESOLVED))
        return h;
    const gomap_hooks *found = usable(dlsym(RTLD_DEFAULT, "mapprof_gomap_hooks"));
    const gomap_hooks *expected = UNRESOLVED;
    __atomic_compare_exchange_n(&g_hooks, &expected, found, false, __ATOMIC_ACQ_REL,
                                __ATOMIC_ACQUIRE);
    return __atomic_load_n(&g_hooks, __ATOMIC_ACQUIRE);
}

static void put(const char *s) {
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

void gomap__throw(const gomap *m, const char *msg) {
    put("fatal error: ");
    put(msg);
    put("\n\n");
    void *frames[64];
    int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, 2);
    const gomap_hooks *h = m != NULL ? m->hooks : NULL;
    if (h == NULL) {
        h = __atomic_load_n(&g_hooks, __ATOMIC_ACQUIRE);
        if (h == UNRESOLVED)
            h = NULL;
    }
    if (h != NULL && h->on_fatal != NULL)
        h->on_fatal(msg);
    abort();
}
