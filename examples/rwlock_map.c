/*
 * rwlock_map — the usual fix for concurrent_writes: one map behind a
 * pthread rwlock, shared by WRITERS threads that add entries (cache_put,
 * write lock) and READERS threads that look entries up (cache_get, read
 * lock). Correct, but every writer excludes everyone else, and a write
 * that starts a grow allocates the new bucket array while holding the
 * lock, so the whole pool waits for it.
 *
 * Under mapprof the contention shows up at the lock sites:
 * - block profile (who waited, and how long): cache_put and cache_get,
 *   at their pthread_rwlock_wrlock / _rdlock calls;
 * - mutex profile (who made them wait): cache_put and cache_get again,
 *   at the unlock that ended a contended wait, charged with the delay;
 * - grow profile: the map's grows, all inside cache_put.
 * Reading them tells where to split the lock or pre-size the map.
 * Non-goal: a fast concurrent map (shard it, or use per-thread maps).
 */
#include "examples/example.h"
#include "map/gomap.h"

#include <inttypes.h>
#include <pthread.h>

#define WRITERS 4
#define READERS 2

typedef struct cache {
    pthread_rwlock_t lock; /* guards map: writers exclusive, readers shared */
    gomap *map;            /* key -> value */
} cache;

static cache shared = {.lock = PTHREAD_RWLOCK_INITIALIZER};
static size_t ops_per_thread;

__attribute__((noinline)) static int cache_put(cache *c, uint64_t key, uint64_t value) {
    pthread_rwlock_wrlock(&c->lock);
    void *elem;
    int rc = gomap_assign_u64(c->map, key, &elem);
    if (rc >= 0)
        *(uint64_t *)elem = value;
    pthread_rwlock_unlock(&c->lock);
    return rc < 0 ? rc : 0;
}

__attribute__((noinline)) static bool cache_get(cache *c, uint64_t key, uint64_t *value) {
    pthread_rwlock_rdlock(&c->lock);
    uint64_t *v = gomap_lookup_u64(c->map, key);
    if (v)
        *value = *v;
    pthread_rwlock_unlock(&c->lock);
    return v != NULL;
}

/* Writer w stores keys w, w + WRITERS, w + 2*WRITERS, ...: distinct keys. */
static void *writer(void *arg) {
    uint64_t w = (uint64_t)(uintptr_t)arg;
    for (uint64_t i = 0; i < ops_per_thread; i++)
        if (cache_put(&shared, w + i * WRITERS, i) < 0)
            return (void *)1;
    return NULL;
}

/* Readers probe the hot keys 0..4095, which the writers store first. */
static void *reader(void *arg) {
    uint64_t x = 0x9e3779b97f4a7c15ull * ((uint64_t)(uintptr_t)arg + 1), hits = 0, v;
    for (uint64_t i = 0; i < ops_per_thread; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        hits += cache_get(&shared, x % 4096, &v);
    }
    return (void *)(uintptr_t)hits;
}

int main(int argc, char **argv) {
    const char *name = example_name(argv);
    ops_per_thread = example_count_arg(argc, argv, 200000, 100000000, "operations per thread");
    if (gomap_new(&gomap_type_u64_u64, 0, NULL, &shared.map) < 0) {
        fprintf(stderr, "%s: out of memory\n", name);
        return 1;
    }
    pthread_t threads[WRITERS + READERS];
    for (uintptr_t t = 0; t < WRITERS + READERS; t++)
        pthread_create(&threads[t], NULL, t < WRITERS ? writer : reader, (void *)t);
    uint64_t failed = 0, hits = 0;
    for (int t = 0; t < WRITERS + READERS; t++) {
        void *ret;
        pthread_join(threads[t], &ret);
        if (t < WRITERS)
            failed += ret != NULL;
        else
            hits += (uint64_t)(uintptr_t)ret;
    }
    gomap_stats st;
    gomap_get_stats(shared.map, &st);
    printf("%s: %d writers x %zu puts, %d readers x %zu gets (%" PRIu64 " hits): %zu entries, "
           "B=%u, %" PRIu64 " grows\n",
           name, WRITERS, ops_per_thread, READERS, ops_per_thread, hits, st.count, st.B, st.grows);
    gomap_free(shared.map);
    return failed ? 1 : 0;
}
