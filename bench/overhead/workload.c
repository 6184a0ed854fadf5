/*
 * workload.c — the three host programs of `make bench-overhead`, one per
 * argument, each a few hundred milliseconds of work that a profiler hooks:
 *
 *   malloc  2 threads; each keeps a ring of live blocks and replaces one per
 *           step with a block of a mixed size (mostly 16-512 B, some 4 KiB,
 *           a few 64 KiB-1 MiB), plus calloc and realloc; every block carries
 *           a pattern that is verified before it is freed
 *   mutex   4 threads on 2 mutexes with short critical sections, so locks are
 *           contended; the shared counters are checked at the end
 *   map     libgomap maps filled without a hint (every doubling is a grow
 *           event), looked up, half deleted, freed; u64 and string keys;
 *           lookups are checked
 *
 * Each prints nothing on success and exits 0; a failed check prints one line
 * and exits 1, so a profiler that breaks its host is seen. Sizes scale with
 * an optional second argument (default 1). Deterministic: fixed seeds, no
 * time-based decisions. Non-goal: realism beyond "hot paths a profiler
 * hooks, in proportions seen in services".
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map/gomap.h"

static int g_scale = 1;

static void fail(const char *what) {
    fprintf(stderr, "workload: check failed: %s\n", what);
    exit(1);
}

static uint64_t next(uint64_t *s) {
    *s += 0x9e3779b97f4a7c15ull;
    uint64_t x = *s;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* ---- malloc-heavy ---------------------------------------------------------- */

typedef struct block {
    unsigned char *p;
    size_t n;
} block;

/* Mixed sizes: 90% 16-512 B, 9% ~4 KiB, 1% 64 KiB-1 MiB. */
static size_t pick_size(uint64_t r) {
    unsigned c = (unsigned)(r % 100);
    if (c < 90)
        return 16 + (r >> 8) % 497;
    if (c < 99)
        return 4096 + (r >> 8) % 256;
    return ((size_t)64 << 10) + (r >> 8) % ((size_t)960 << 10);
}

static void stamp(block *b) {
    b->p[0] = (unsigned char)b->n;
    b->p[b->n - 1] = (unsigned char)(b->n >> 3);
}

static void verify(const block *b) {
    if (b->p[0] != (unsigned char)b->n || b->p[b->n - 1] != (unsigned char)(b->n >> 3))
        fail("block pattern");
}

enum { RING = 4096 };

static void *malloc_thread(void *arg) {
    uint64_t s = (uint64_t)(uintptr_t)arg;
    block *ring = calloc(RING, sizeof *ring);
    if (ring == NULL)
        fail("calloc ring");
    size_t steps = (size_t)1500000 * (size_t)g_scale;
    for (size_t i = 0; i < steps; i++) {
        uint64_t r = next(&s);
        block *b = &ring[r % RING];
        if (b->p != NULL) {
            verify(b);
            if ((r >> 40) % 8 == 0) { /* grow or shrink in place */
                size_t n = pick_size(next(&s));
                unsigned char *q = realloc(b->p, n);
                if (q == NULL)
                    fail("realloc");
                b->p = q;
                b->n = n;
                stamp(b);
                continue;
            }
            free(b->p);
        }
        b->n = pick_size(next(&s));
        b->p = (r >> 48) % 16 == 0 ? calloc(1, b->n) : malloc(b->n);
        if (b->p == NULL)
            fail("malloc");
        stamp(b);
    }
    for (size_t i = 0; i < RING; i++)
        if (ring[i].p != NULL) {
            verify(&ring[i]);
            free(ring[i].p);
        }
    free(ring);
    return NULL;
}

static void run_malloc(void) {
    pthread_t t[2];
    for (uintptr_t i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, malloc_thread, (void *)(i + 1)) != 0)
            fail("pthread_create");
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
}

/* ---- mutex-heavy ------------------------------------------------------------- */

static pthread_mutex_t g_mu[2] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER};
static uint64_t g_count[2], g_sum[2];

enum { MUTEX_THREADS = 4, MUTEX_STEPS = 2500000 };

static void *mutex_thread(void *arg) {
    uint64_t s = (uint64_t)(uintptr_t)arg;
    size_t steps = (size_t)MUTEX_STEPS * (size_t)g_scale;
    for (size_t i = 0; i < steps; i++) {
        uint64_t r = next(&s);
        int m = (int)(r & 1);
        pthread_mutex_lock(&g_mu[m]);
        /* A short critical section: a few dependent updates. */
        g_count[m]++;
        for (int k = 0; k < 8; k++)
            g_sum[m] = g_sum[m] * 31 + (r >> k);
        pthread_mutex_unlock(&g_mu[m]);
        /* Some work outside the lock, so threads also run in parallel. */
        for (int k = 0; k < 20; k++)
            r = next(&s);
        if (r == 0)
            fail("impossible");
    }
    return NULL;
}

static void run_mutex(void) {
    pthread_t t[MUTEX_THREADS];
    for (uintptr_t i = 0; i < MUTEX_THREADS; i++)
        if (pthread_create(&t[i], NULL, mutex_thread, (void *)(i + 1)) != 0)
            fail("pthread_create");
    for (int i = 0; i < MUTEX_THREADS; i++)
        pthread_join(t[i], NULL);
    if (g_count[0] + g_count[1] != (uint64_t)MUTEX_THREADS * MUTEX_STEPS * (uint64_t)g_scale)
        fail("lost updates");
}

/* ---- map-heavy ----------------------------------------------------------------- */

static void run_map(void) {
    for (int round = 0; round < 6 * g_scale; round++) {
        gomap *m;
        if (gomap_new(&gomap_type_u64_u64, 0, NULL, &m) != 0)
            fail("gomap_new");
        const uint64_t n = 300000;
        uint64_t s = (uint64_t)round;
        for (uint64_t i = 0; i < n; i++) {
            void *e;
            if (gomap_assign_u64(m, i * 0x9e3779b97f4a7c15ull, &e) < 0)
                fail("assign");
            *(uint64_t *)e = i;
        }
        for (uint64_t i = 0; i < n; i++) {
            uint64_t k = next(&s) % n;
            uint64_t *e = gomap_lookup_u64(m, k * 0x9e3779b97f4a7c15ull);
            if (e == NULL || *e != k)
                fail("lookup");
        }
        for (uint64_t i = 0; i < n; i += 2)
            gomap_delete_u64(m, i * 0x9e3779b97f4a7c15ull);
        if (gomap_len(m) != n / 2)
            fail("len after delete");
        gomap_free(m);

        /* String keys: the map keeps pointers, the keys live in one arena. */
        enum { NS = 60000, KL = 24 };
        char *arena = malloc((size_t)NS * KL);
        if (arena == NULL || gomap_new(&gomap_type_str_u64, 0, NULL, &m) != 0)
            fail("string map");
        for (uint64_t i = 0; i < NS; i++) {
            int len = snprintf(arena + i * KL, KL, "user:%llu:%d", (unsigned long long)i, round);
            void *e;
            if (gomap_assign_str(m, arena + i * KL, (size_t)len, &e) < 0)
                fail("assign_str");
            *(uint64_t *)e = i;
        }
        for (uint64_t i = 0; i < NS; i += 3) {
            char *k = arena + i * KL;
            uint64_t *e = gomap_lookup_str(m, k, strlen(k));
            if (e == NULL || *e != i)
                fail("lookup_str");
        }
        gomap_free(m);
        free(arena);
    }
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: workload malloc|mutex|map [scale]\n");
        return 2;
    }
    if (argc == 3)
        g_scale = atoi(argv[2]) > 0 ? atoi(argv[2]) : 1;
    if (strcmp(argv[1], "malloc") == 0)
        run_malloc();
    else if (strcmp(argv[1], "mutex") == 0)
        run_mutex();
    else if (strcmp(argv[1], "map") == 0)
        run_map();
    else {
        fprintf(stderr, "workload: unknown workload %s\n", argv[1]);
        return 2;
    }
    return 0;
}
