/*
 * work.c — the workloads bench-shim times (shim_bench.c runs this binary
 * plainly, under bare.so and under libmapprof.so):
 *   work heap N    two threads, N malloc/free operations each on a ring of
 *                  1024 slots: mostly small blocks (16..1024 B), 1 in 16 a
 *                  large one (4..64 KiB), a shared pthread mutex taken
 *                  every 64 operations. Prints a checksum.
 *   work mutex N   N uncontended pthread_mutex_lock+unlock pairs; prints
 *                  `ns_per_op X` (in-process, CLOCK_MONOTONIC).
 *   work mutex_mt N  the same with a second, idle thread alive: glibc
 *                  (and the shim) then use atomic instructions.
 *   work deep N    N malloc+free pairs made 32 frames deep; prints
 *                  `ns_per_op X` (with MAPPROF_HEAP_RATE=1 every one is
 *                  sampled: unwind + aggregation + table insert/remove).
 * Built with frame pointers and no inlining so depth is real.
 * Non-goal: realism beyond "malloc-heavy and a lock now and then".
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t shared_sum;
static long iters;

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void *heap_thread(void *arg) {
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uintptr_t)arg + 1, sum = 0;
    unsigned char *ring[1024] = {0};
    for (long i = 0; i < iters; i++) {
        uint64_t r = xorshift(&rng);
        unsigned slot = (unsigned)(r & 1023);
        free(ring[slot]);
        size_t n = (r >> 10) % 16 == 0 ? 4096 + (size_t)((r >> 20) % 61440)
                                       : 16 + (size_t)((r >> 20) % 1009);
        ring[slot] = malloc(n);
        ring[slot][0] = (unsigned char)i;
        sum += ring[slot][0];
        if (i % 64 == 63) {
            pthread_mutex_lock(&mu);
            shared_sum += sum;
            pthread_mutex_unlock(&mu);
        }
    }
    for (int s = 0; s < 1024; s++)
        free(ring[s]);
    return NULL;
}

/* Keeps the process multi-threaded until main writes to the pipe. */
static void *idle(void *arg) {
    int *fd = arg;
    char c;
    while (read(fd[0], &c, 1) < 0)
        ;
    return NULL;
}

__attribute__((noinline)) static long deep(int depth) {
    if (depth > 1)
        return deep(depth - 1) + 1;
    void *volatile p = malloc(64);
    free(p);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3)
        return 2;
    iters = atol(argv[2]);
    if (!strcmp(argv[1], "heap")) {
        pthread_t t[2];
        for (uintptr_t i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, heap_thread, (void *)(i + 1));
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        printf("checksum %llu\n", (unsigned long long)shared_sum);
    } else if (!strcmp(argv[1], "mutex") || !strcmp(argv[1], "mutex_mt")) {
        pthread_t idler;
        int fd[2] = {-1, -1};
        if (!strcmp(argv[1], "mutex_mt") &&
            (pipe(fd) != 0 || pthread_create(&idler, NULL, idle, fd) != 0))
            return 1;
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            pthread_mutex_lock(&mu);
            shared_sum++;
            pthread_mutex_unlock(&mu);
        }
        printf("ns_per_op %.3f\n", (now_ns() - t0) / (double)iters);
        if (fd[1] >= 0 && (write(fd[1], "x", 1) != 1 || pthread_join(idler, NULL) != 0))
            return 1;
    } else if (!strcmp(argv[1], "deep")) {
        long s = 0;
        for (long i = 0; i < 1000; i++) /* warm-up: libunwind caches */
            s += deep(32);
        double t0 = now_ns();
        for (long i = 0; i < iters; i++)
            s += deep(32); /* 31 recursive frames + main = depth 32 */
        printf("ns_per_op %.3f\n", (now_ns() - t0) / (double)iters);
        return s == 32 * (iters + 1000) ? 0 : 1;
    } else {
        return 2;
    }
    return 0;
}
