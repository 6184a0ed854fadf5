/*
 * stacks.c — a program with N distinct allocation, grow and live-map
 * stacks for bench-live (the time to serve each profile): a binary tree of
 * calls 14 levels deep; each leaf reached allocates a block it keeps
 * (heap, allocs) and builds a map that grows once and stays alive (grow,
 * maps) — one or the other, so that each profile has N samples. Then it
 * waits for STOPFILE.
 *   stacks N STOPFILE heap|maps
 * Built with frame pointers and no inlining so every path is its own stack.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "map/gomap.h"

#define LEVELS 14

static void *kept[1 << LEVELS];
static gomap *maps[1 << LEVELS];
static int n_kept, want_maps;

__attribute__((noinline)) static void leaf(unsigned path) {
    if (!want_maps) {
        kept[n_kept++] = malloc(64 + path % 512);
        return;
    }
    gomap *m = NULL;
    if (gomap_new(&gomap_type_u64_u64, 0, NULL, &m) == 0)
        for (uint64_t k = 0; k < 9; k++) { /* 8 fit in one bucket: one grow */
            void *e;
            if (gomap_assign_u64(m, k, &e) >= 0)
                *(uint64_t *)e = k;
        }
    maps[n_kept++] = m;
}

static void walk(int level, unsigned path);

__attribute__((noinline)) static void left(int level, unsigned path) {
    walk(level + 1, path << 1);
}

__attribute__((noinline)) static void right(int level, unsigned path) {
    walk(level + 1, path << 1 | 1);
}

static unsigned limit;

__attribute__((noinline)) static void walk(int level, unsigned path) {
    if (level == LEVELS) {
        if (path < limit)
            leaf(path);
        return;
    }
    left(level, path);
    right(level, path);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: stacks N STOPFILE heap|maps\n");
        return 2;
    }
    want_maps = !strcmp(argv[3], "maps");
    limit = (unsigned)atoi(argv[1]);
    if (limit > 1u << LEVELS)
        limit = 1u << LEVELS;
    walk(0, 0);
    uintptr_t sum = 0; /* the blocks are used: the compiler keeps every malloc */
    for (int i = 0; i < n_kept; i++)
        sum ^= (uintptr_t)kept[i] ^ (uintptr_t)maps[i];
    printf("stacks=%d check=%d\n", n_kept, (int)(sum & 1));
    fflush(stdout);
    while (access(argv[2], F_OK) != 0) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}
