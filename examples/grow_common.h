/*
 * grow_common.h — the loop shared by grow_nohint and grow_hint: insert N
 * distinct uint64 keys into one map and report what the map went through.
 * Only the hint differs between the two programs, so any difference in
 * their profiles is the cost of not sizing the map.
 */
#ifndef EXAMPLES_GROW_COMMON_H
#define EXAMPLES_GROW_COMMON_H

#include "examples/example.h"
#include "map/gomap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* load_users stands for the application code a profile should point at. */
__attribute__((noinline)) static int load_users(gomap *m, size_t n) {
    uint64_t x = 88172645463325252ull; /* xorshift64: distinct keys */
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        void *elem;
        int rc = gomap_assign_u64(m, x, &elem);
        if (rc < 0)
            return rc;
        *(uint64_t *)elem = i;
    }
    return 0;
}

static int example_grow_main(int argc, char **argv, int use_hint) {
    const char *name = example_name(argv);
    size_t n = example_count_arg(argc, argv, 1000000, (size_t)1 << 32, "keys to insert");
    gomap *m = NULL;
    if (gomap_new(&gomap_type_u64_u64, use_hint ? n : 0, NULL, &m) < 0) {
        fprintf(stderr, "%s: out of memory\n", name);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = load_users(m, n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc < 0) {
        fprintf(stderr, "%s: out of memory after %zu keys\n", name, gomap_len(m));
        gomap_free(m);
        return 1;
    }
    gomap_stats st;
    gomap_get_stats(m, &st);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("%s: %zu keys (hint %zu) in %.1f ms: B=%u, %zu buckets, %zu overflow, "
           "%llu grows, %.1f MiB held\n",
           name, st.count, use_hint ? n : (size_t)0, ms, st.B, st.buckets, st.overflow,
           (unsigned long long)st.grows, (double)st.bytes / (1024.0 * 1024.0));
    gomap_free(m);
    return 0;
}

#endif
