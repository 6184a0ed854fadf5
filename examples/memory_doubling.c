/*
 * memory_doubling — while a map grows, its old and new bucket arrays are
 * both alive: the peak is 1.5x the new array (3x the old one), not 1x.
 *
 * Go's hashGrow allocates the doubled array at once and moves entries
 * over incrementally, two old buckets per later write; the old array is
 * freed only when the last of its buckets has been evacuated. So a map
 * loaded up to the point where a grow starts holds both arrays until
 * enough writes follow (and forever if it is only read from then on).
 *
 * The example loads a cache of uint64 keys up to the first grow point at
 * or above N keys (default: 851,969 keys, the insert that grows B=17 to
 * B=18, a 40 MB array next to the 20 MB one), then asks the profiler for
 * a dump while the grow is in progress and keeps that heap profile as
 * <MAPPROF_OUT>.<pid>.heap-growing.pb.gz. It then rewrites the values
 * (update_cache), which finishes the evacuation and frees the old array;
 * the exit dump's heap profile shows only the new array. Compare the two
 * with `go tool pprof -top -sample_index=inuse_space`.
 *
 * mapprof_dump (shim/mapprof.h) is looked up with dlsym, so the program
 * runs the same without the profiler and says so. The cache is kept until
 * exit on purpose (the exit dump must still see it).
 */
#include "examples/example.h"
#include "map/gomap.h"

#include <dlfcn.h>
#include <unistd.h>

static gomap *cache; /* lives until exit: the exit heap profile shows it */

/* Keys are an xorshift64 sequence: distinct, and replayable for updates. */
static uint64_t next_key(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

#define KEY_SEED 88172645463325252ull

/*
 * The first grow point at or above n: a map made without a hint starts a
 * grow on the insert that takes it past 6.5 entries per bucket, i.e. on
 * insert 6.5 * 2^B + 1 (Go's overLoadFactor; 9 at B = 0).
 */
static size_t next_grow_point(size_t n) {
    size_t point = 9;
    for (unsigned B = 1; point < n; B++)
        point = 13 * ((size_t)1 << (B - 1)) + 1;
    return point;
}

__attribute__((noinline)) static int load_cache(size_t keys) {
    uint64_t x = KEY_SEED;
    for (size_t i = 0; i < keys; i++) {
        void *elem;
        if (gomap_assign_u64(cache, next_key(&x), &elem) < 0)
            return -1;
        *(uint64_t *)elem = i;
    }
    return 0;
}

/* Rewrites values until the grow is over: each write evacuates up to two
 * old buckets, so about old_buckets / 2 writes finish it. */
__attribute__((noinline)) static size_t update_cache(void) {
    uint64_t x = KEY_SEED;
    size_t writes = 0;
    gomap_stats st;
    for (gomap_get_stats(cache, &st); st.growing; gomap_get_stats(cache, &st)) {
        void *elem;
        if (gomap_assign_u64(cache, next_key(&x), &elem) < 0)
            break;
        ++*(uint64_t *)elem;
        writes++;
    }
    return writes;
}

/* Asks the profiler, when there is one, to write every profile now, and
 * keeps the heap profile under another name (the exit dump replaces the
 * files of this pid). */
static void dump_heap_profile_now(const char *name) {
    int (*dump)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "mapprof_dump");
    if (dump == NULL) {
        printf("%s: mapprof_dump not found: not running under mapprof, no profile written\n", name);
        return;
    }
    if (dump() != 0) {
        printf("%s: mapprof_dump failed (see the mapprof: line above)\n", name);
        return;
    }
    const char *out = getenv("MAPPROF_OUT") ? getenv("MAPPROF_OUT") : "mapprof";
    char from[4096], to[4096];
    snprintf(from, sizeof from, "%s.%d.heap.pb.gz", out, (int)getpid());
    snprintf(to, sizeof to, "%s.%d.heap-growing.pb.gz", out, (int)getpid());
    if (rename(from, to) != 0)
        perror(from);
    else
        printf("%s: heap profile during the grow: %s\n", name, to);
}

static double mib(size_t bytes) {
    return (double)bytes / (1024.0 * 1024.0);
}

int main(int argc, char **argv) {
    const char *name = example_name(argv);
    size_t n = example_count_arg(argc, argv, 800000, (size_t)1 << 30, "keys, at least");
    size_t keys = next_grow_point(n);
    if (gomap_new(&gomap_type_u64_u64, 0, NULL, &cache) < 0 || load_cache(keys) < 0) {
        fprintf(stderr, "%s: out of memory\n", name);
        return 1;
    }
    gomap_stats st;
    gomap_get_stats(cache, &st);
    printf("%s: %zu keys loaded; the last insert started a grow: %s, B=%u, "
           "old array %zu buckets + new array %zu buckets, %.1f MiB held\n",
           name, st.count, st.growing ? "growing" : "NOT growing", st.B, st.old_buckets, st.buckets,
           mib(st.bytes));
    fflush(stdout);
    dump_heap_profile_now(name);
    size_t writes = update_cache();
    gomap_get_stats(cache, &st);
    printf("%s: %zu updates later the grow is %s: %zu buckets, %.1f MiB held\n", name, writes,
           st.growing ? "still running" : "over, the old array is freed", st.buckets,
           mib(st.bytes));
    return 0;
}
