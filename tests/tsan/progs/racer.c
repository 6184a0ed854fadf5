/*
 * racer.c — multi-threaded libgomap programs for ThreadSanitizer, built with
 * -fsanitize=thread together with a TSan-instrumented libgomap (tsan.mk) and
 * driven by tests/tsan/tsan_test.c. One program, one scenario per argument:
 *
 * Misuse that Go's detection must catch ("fatal error: ..." then abort):
 *   ww, dw, cw  a second thread assigns / deletes / clears while a writer is
 *               inside its critical section
 *   rw          a second thread looks up (concurrent map read and map write)
 *   iw          a second thread steps an iterator (... iteration and map write)
 *   ww_free     two free-running writers on one map, no choreography
 * The choreographed cases park the first writer inside its write, in the
 * on_grow hook (which runs while hashWriting is set), and only then let the
 * second thread in, so detection is deterministic and the only shared
 * accesses between the threads are the flag and data the first thread wrote
 * before the handshake: any TSan report there means the flag itself is a
 * plain (racy) access.
 *
 * Correct concurrent use that must produce no TSan report at all:
 *   readers     many threads look up, iterate (fully and partly), read len
 *               and stats of shared maps (one mid-grow), with no writer
 *   mutex       writers serialized by a mutex; each thread keeps an iterator
 *               open across unlocks, so the map's iterator bookkeeping moves
 *               between threads under proper happens-before
 *   rwlock      readers iterate under a read lock while writers take turns
 *               under the write lock (concurrent iterators start and end)
 *   perthread   each thread its own maps, created at the same moment as the
 *               first maps of the process (the one-time hooks lookup)
 * Control:
 *   racy        a plain data race on purpose: proves TSan is active and
 *               that the harness sees its reports
 *
 * Exit status: 0 when a correct-use scenario completes; 3 when a misuse
 * scenario was not caught; 2 for usage errors. Non-goal: timing-based
 * race hunting; the free-running case is the only nondeterministic one.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "map/gomap.h"

#define NTHREADS 4

static void die(const char *what) {
    fprintf(stderr, "racer: %s\n", what);
    _exit(2);
}

static uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static gomap *new_u64(size_t hint) {
    gomap *m;
    if (gomap_new(&gomap_type_u64_u64, hint, NULL, &m) != 0)
        die("gomap_new");
    return m;
}

static void put_u64(gomap *m, uint64_t k, uint64_t v) {
    void *e;
    if (gomap_assign_u64(m, k, &e) < 0)
        die("assign");
    *(uint64_t *)e = v;
}

/* ---- misuse: a writer parked inside its critical section ------------------ */

static gomap *g_map;
static gomap_iter g_it;
static sem_t g_inside; /* posted by the writer from inside its write */
static sem_t g_never;  /* never posted: the writer stays inside */

static void park_in_grow(const gomap *m, void *cookie, const gomap_grow_event *ev) {
    (void)m, (void)cookie, (void)ev;
    sem_post(&g_inside);
    for (;;)
        sem_wait(&g_never);
}

static void *parked_writer(void *arg) {
    (void)arg;
    /* 8 entries fill bucket 0 of a B = 0 map; the 9th insert grows. */
    for (uint64_t k = 100; k < 200; k++)
        put_u64(g_map, k, k);
    return NULL;
}

static void *second_thread(void *arg) {
    const char *mode = arg;
    sem_wait(&g_inside);
    void *k, *e;
    if (strcmp(mode, "ww") == 0)
        put_u64(g_map, 1, 1);
    else if (strcmp(mode, "dw") == 0)
        gomap_delete_u64(g_map, 0);
    else if (strcmp(mode, "cw") == 0)
        gomap_clear(g_map);
    else if (strcmp(mode, "rw") == 0)
        gomap_lookup_u64(g_map, 0);
    else if (strcmp(mode, "iw") == 0)
        gomap_iter_next(&g_it, &k, &e);
    return NULL;
}

static int misuse(const char *mode) {
    static const gomap_hooks hooks = {.version = GOMAP_HOOKS_VERSION, .on_grow = park_in_grow};
    gomap_set_hooks(&hooks);
    sem_init(&g_inside, 0, 0);
    sem_init(&g_never, 0, 0);
    g_map = new_u64(0);
    for (uint64_t k = 0; k < 8; k++)
        put_u64(g_map, k, k);
    /* The iterator is set up (and returns one entry) before any race. */
    void *k, *e;
    gomap_iter_init(&g_it, g_map);
    if (!gomap_iter_next(&g_it, &k, &e))
        die("iterator");
    pthread_t a, b;
    if (pthread_create(&b, NULL, second_thread, (void *)mode) != 0 ||
        pthread_create(&a, NULL, parked_writer, NULL) != 0)
        die("pthread_create");
    pthread_join(b, NULL);
    /* The second thread came back: its access went unnoticed. */
    fprintf(stderr, "racer: %s: not detected\n", mode);
    _exit(3);
}

/* Two writers with no choreography: Go's detection is best-effort, but a
 * tight loop of inserts and deletes on one map is caught within a few
 * thousand operations in practice. TSan reports the map's data races too,
 * so the test runs this one with halt_on_error=0. */
static pthread_barrier_t g_start;

static void *free_writer(void *arg) {
    uint64_t base = (uint64_t)(uintptr_t)arg << 32;
    pthread_barrier_wait(&g_start);
    for (uint64_t i = 0; i < 50000000; i++) {
        put_u64(g_map, base + (i & 4095), i);
        gomap_delete_u64(g_map, base + ((i * 7) & 4095));
    }
    return NULL;
}

static int misuse_free(void) {
    g_map = new_u64(0);
    pthread_barrier_init(&g_start, NULL, 2);
    pthread_t t[2];
    for (uintptr_t i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, free_writer, (void *)i) != 0)
            die("pthread_create");
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    fprintf(stderr, "racer: ww_free: not detected\n");
    return 3;
}

/* ---- correct use ---------------------------------------------------------- */

/* A big key (> 128 bytes: stored indirectly) whose first word is the id. */
typedef struct big_key {
    uint64_t id;
    uint8_t pad[152];
} big_key;

static const gomap_type big_type = {
    .name = "map[big_key]uint64", .key_size = sizeof(big_key), .elem_size = 8};

static big_key make_big(uint64_t id) {
    big_key k;
    memset(&k, (int)(id & 0xff), sizeof k);
    k.id = id;
    return k;
}

static char g_strs[2048][24]; /* string keys: the map keeps the pointers */

static gomap *g_u64, *g_u64_growing, *g_str, *g_big;
enum { NKEYS = 2000 };

static void build_shared(void) {
    g_u64 = new_u64(0);
    for (uint64_t k = 0; k < NKEYS; k++)
        put_u64(g_u64, mix(k), k);
    /* 6.5 * 2^B entries fit; one more starts a grow that readers then see
     * half done (evacuation advances only on writes). */
    g_u64_growing = new_u64(0);
    for (uint64_t k = 0; k <= 13 * 64; k++)
        put_u64(g_u64_growing, k, k);
    gomap_stats st;
    gomap_get_stats(g_u64_growing, &st);
    if (!st.growing)
        die("g_u64_growing is not growing");
    if (gomap_new(&gomap_type_str_u64, 0, NULL, &g_str) != 0 ||
        gomap_new(&big_type, 0, NULL, &g_big) != 0)
        die("gomap_new");
    for (uint64_t k = 0; k < 2048; k++) {
        int n = snprintf(g_strs[k], sizeof g_strs[k], "key-%llu", (unsigned long long)k);
        void *e;
        if (gomap_assign_str(g_str, g_strs[k], (size_t)n, &e) < 0)
            die("assign_str");
        *(uint64_t *)e = k;
    }
    for (uint64_t k = 0; k < 300; k++) {
        big_key bk = make_big(k);
        void *e;
        if (gomap_assign(g_big, &bk, &e) < 0)
            die("assign big");
        *(uint64_t *)e = k;
    }
}

static void free_shared(void) {
    gomap_free(g_u64);
    gomap_free(g_u64_growing);
    gomap_free(g_str);
    gomap_free(g_big);
}

static void check_elem(void *e, uint64_t want) {
    if (e == NULL || *(uint64_t *)e != want)
        die("wrong element");
}

/* Full iteration must visit exactly len(m) entries (no writer anywhere). */
static void iterate(gomap *m, size_t stop_after) {
    gomap_iter it;
    void *k, *e;
    size_t n = 0;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it, &k, &e)) {
        if (++n == stop_after) {
            gomap_iter_done(&it);
            return;
        }
    }
    if (n != gomap_len(m))
        die("iteration count");
}

static void *reader(void *arg) {
    uint64_t seed = (uint64_t)(uintptr_t)arg;
    pthread_barrier_wait(&g_start);
    for (int round = 0; round < 40; round++) {
        for (uint64_t i = 0; i < 200; i++) {
            uint64_t k = mix(seed * 1000003 + (uint64_t)round * 211 + i) % (2 * NKEYS);
            void *e = gomap_lookup_u64(g_u64, mix(k));
            if (k < NKEYS)
                check_elem(e, k);
            else if (e != NULL)
                die("phantom key");
            check_elem(gomap_lookup_u64(g_u64_growing, k % 800), k % 800);
            uint64_t s = k % 2048;
            check_elem(gomap_lookup_str(g_str, g_strs[s], strlen(g_strs[s])), s);
            big_key bk = make_big(k % 300);
            check_elem(gomap_lookup(g_big, &bk), k % 300);
        }
        iterate(g_u64, round % 3 == 0 ? SIZE_MAX : (size_t)round * 7 + 1);
        iterate(g_u64_growing, round % 2 ? SIZE_MAX : 9);
        iterate(g_str, round % 4 ? 5 : SIZE_MAX);
        iterate(g_big, SIZE_MAX);
        gomap_stats st;
        gomap_get_stats(g_u64_growing, &st);
        if (gomap_len(g_u64) != NKEYS || st.count != gomap_len(g_u64_growing))
            die("len");
    }
    return NULL;
}

static pthread_t g_threads[NTHREADS];

static void run_threads(void *(*fn)(void *)) {
    pthread_barrier_init(&g_start, NULL, NTHREADS);
    for (uintptr_t i = 0; i < NTHREADS; i++)
        if (pthread_create(&g_threads[i], NULL, fn, (void *)(i + 1)) != 0)
            die("pthread_create");
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(g_threads[i], NULL);
    pthread_barrier_destroy(&g_start);
}

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

/* Writers take turns; each thread's iterator lives across other threads'
 * writes (legal: the single-writer rule is about simultaneity). */
static void *locked_writer(void *arg) {
    uint64_t id = (uint64_t)(uintptr_t)arg;
    gomap_iter it;
    bool iterating = false;
    pthread_barrier_wait(&g_start);
    for (uint64_t i = 0; i < 10000; i++) {
        pthread_mutex_lock(&g_mu);
        uint64_t k = mix(id * 7919 + i) % 5000;
        put_u64(g_u64, k, k);
        if (i % 3 == 0)
            gomap_delete_u64(g_u64, mix(id + i * 13) % 5000);
        void *e = gomap_lookup_u64(g_u64, k);
        check_elem(e, k);
        if (!iterating && i % 50 == 0) {
            gomap_iter_init(&it, g_u64);
            iterating = true;
        }
        if (iterating) {
            void *ik, *ie;
            for (int s = 0; s < 4 && iterating; s++)
                iterating = gomap_iter_next(&it, &ik, &ie);
        }
        if (i % 997 == 0)
            gomap_clear(g_u64);
        pthread_mutex_unlock(&g_mu);
    }
    pthread_mutex_lock(&g_mu);
    if (iterating)
        gomap_iter_done(&it);
    pthread_mutex_unlock(&g_mu);
    return NULL;
}

static pthread_rwlock_t g_rw = PTHREAD_RWLOCK_INITIALIZER;

/* Thread 1 writes, the others read; iterators end inside the read lock. */
static void *rw_worker(void *arg) {
    uint64_t id = (uint64_t)(uintptr_t)arg;
    pthread_barrier_wait(&g_start);
    for (uint64_t i = 0; i < 400; i++) {
        if (id == 1) {
            pthread_rwlock_wrlock(&g_rw);
            for (uint64_t j = 0; j < 20; j++) {
                uint64_t k = mix(i * 20 + j) % 3000;
                put_u64(g_u64, k, k);
                if (j % 2)
                    gomap_delete_u64(g_u64, mix(i + j * 31) % 3000);
            }
            pthread_rwlock_unlock(&g_rw);
        } else {
            pthread_rwlock_rdlock(&g_rw);
            iterate(g_u64, i % 2 ? SIZE_MAX : 3);
            uint64_t k = mix(i * 20) % 3000;
            void *e = gomap_lookup_u64(g_u64, k);
            if (e != NULL)
                check_elem(e, k);
            pthread_rwlock_unlock(&g_rw);
        }
    }
    return NULL;
}

/* Each thread its own maps, the first maps of the process. */
static void *own_maps(void *arg) {
    uint64_t id = (uint64_t)(uintptr_t)arg;
    pthread_barrier_wait(&g_start);
    for (int round = 0; round < 5; round++) {
        gomap *m = new_u64(round == 0 ? 0 : 1000);
        for (uint64_t k = 0; k < 3000; k++)
            put_u64(m, mix(id * 100000 + k), k);
        for (uint64_t k = 0; k < 3000; k += 2)
            gomap_delete_u64(m, mix(id * 100000 + k));
        gomap_iter it;
        void *ik, *ie;
        size_t n = 0;
        for (gomap_iter_init(&it, m); gomap_iter_next(&it, &ik, &ie);) {
            if (n++ % 5 == 0)
                put_u64(m, mix(*(uint64_t *)ik + 1), 0); /* write while iterating */
        }
        gomap_free(m);
    }
    return NULL;
}

/* ---- control -------------------------------------------------------------- */

static long g_plain_counter;

static void *racy_incr(void *arg) {
    (void)arg;
    pthread_barrier_wait(&g_start);
    for (int i = 0; i < 100000; i++)
        g_plain_counter++;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2)
        die("usage: racer SCENARIO");
    const char *mode = argv[1];
    if (!strcmp(mode, "ww") || !strcmp(mode, "dw") || !strcmp(mode, "cw") || !strcmp(mode, "rw") ||
        !strcmp(mode, "iw"))
        return misuse(mode);
    if (!strcmp(mode, "ww_free"))
        return misuse_free();
    if (!strcmp(mode, "readers")) {
        build_shared();
        run_threads(reader);
        free_shared();
    } else if (!strcmp(mode, "mutex")) {
        g_u64 = new_u64(0);
        run_threads(locked_writer);
        gomap_free(g_u64);
    } else if (!strcmp(mode, "rwlock")) {
        g_u64 = new_u64(0);
        run_threads(rw_worker);
        gomap_free(g_u64);
    } else if (!strcmp(mode, "perthread")) {
        run_threads(own_maps);
    } else if (!strcmp(mode, "racy")) {
        run_threads(racy_incr);
        printf("%ld\n", g_plain_counter);
    } else {
        die("unknown scenario");
    }
    return 0;
}
