/*
 * concurrent_writes — the bug rwlock_map fixes: two threads write one map
 * with no lock. Like a Go map, a libgomap map allows one writer at a time;
 * it notices the second writer (a flag toggled around every write) and
 * stops the process with Go's message:
 *
 *     fatal error: concurrent map writes
 *
 * followed by a stack, then abort() (SIGABRT, exit status 134 in a shell).
 * Before aborting, libgomap calls the profiler's fatal hook, so under
 * mapprof every profile of the run is still written.
 *
 * The map is filled by one thread first (its grows land in the grow
 * profile at register_counters); the two racing threads then only update
 * existing keys in count_hits. Updates allocate nothing and move nothing,
 * so the race is caught by the check, never by a stray crash in a bucket
 * being rewritten under the other thread's feet. Detection is best-effort,
 * as in Go: if no race is seen within RACE_SECONDS the program says so and
 * exits 3.
 */
#include "examples/example.h"
#include "map/gomap.h"

#include <pthread.h>
#include <time.h>

#define COUNTERS     1000 /* keys of the shared map */
#define RACE_SECONDS 10

static gomap *hits; /* counter id -> hits; shared, and (the bug) unlocked */

__attribute__((noinline)) static int register_counters(void) {
    for (uint64_t id = 0; id < COUNTERS; id++) {
        void *elem;
        if (gomap_assign_u64(hits, id, &elem) < 0)
            return -1;
    }
    return 0;
}

/* One worker's loop: counts hits on the shared map, without a lock. */
__attribute__((noinline)) static void count_hits(uint64_t first) {
    time_t deadline = time(NULL) + RACE_SECONDS;
    for (uint64_t i = first;; i++) {
        void *elem;
        gomap_assign_u64(hits, i % COUNTERS, &elem); /* an existing key: an update */
        ++*(uint64_t *)elem;
        if (i % 65536 == 0 && time(NULL) > deadline)
            return;
    }
}

static void *worker(void *arg) {
    count_hits((uint64_t)(uintptr_t)arg);
    return NULL;
}

int main(int argc, char **argv) {
    const char *name = example_name(argv);
    (void)argc;
    if (gomap_new(&gomap_type_u64_u64, 0, NULL, &hits) < 0 || register_counters() < 0) {
        fprintf(stderr, "%s: out of memory\n", name);
        return 1;
    }
    printf("%s: %d counters registered; two threads now update them without a lock\n", name,
           COUNTERS);
    fflush(stdout); /* the abort below discards stdio buffers */
    pthread_t a, b;
    pthread_create(&a, NULL, worker, (void *)0);
    pthread_create(&b, NULL, worker, (void *)(COUNTERS / 2));
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("%s: no concurrent write detected in %d s (detection is best-effort)\n", name,
           RACE_SECONDS);
    gomap_free(hits);
    return 3;
}
