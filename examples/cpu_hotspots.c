/*
 * cpu_hotspots — where a map-heavy program spends its CPU: build_index
 * inserts N keys into a map made without a size hint (every grow moves
 * all entries again), then query_index looks up 8*N random keys, half of
 * them absent. Under `mapprof run --cpu` the cpu profile splits the time
 * between those two functions, and under build_index shows the share of
 * the grows' evacuation (the cost a size hint would remove).
 */
#include "examples/example.h"
#include "map/gomap.h"

#include <stdint.h>
#include <stdio.h>

static uint64_t next_key(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

__attribute__((noinline)) static int build_index(gomap *m, size_t n) {
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        void *elem;
        if (gomap_assign_u64(m, next_key(&x) % (2 * n), &elem) < 0)
            return -1;
        *(uint64_t *)elem = i;
    }
    return 0;
}

__attribute__((noinline)) static size_t query_index(gomap *m, size_t n) {
    uint64_t x = 2463534242ull;
    size_t found = 0;
    for (size_t i = 0; i < 8 * n; i++)
        found += gomap_lookup_u64(m, next_key(&x) % (2 * n)) != NULL;
    return found;
}

int main(int argc, char **argv) {
    const char *name = example_name(argv);
    size_t n = example_count_arg(argc, argv, 2000000, (size_t)1 << 28, "keys to insert");
    gomap *m = NULL;
    if (gomap_new(&gomap_type_u64_u64, 0, NULL, &m) < 0 || build_index(m, n) < 0) {
        fprintf(stderr, "%s: out of memory\n", name);
        return 1;
    }
    size_t found = query_index(m, n);
    printf("%s: %zu keys, %zu of %zu lookups found\n", name, gomap_len(m), found, 8 * n);
    gomap_free(m);
    return 0;
}
