/*
 * threads_bench.c — how long a threads capture takes (make bench-threads):
 * threads_work with N threads (two running, the others on a mutex or in
 * read()) under the shim with MAPPROF_PROFILES=threads, one capture
 * per run; the figure is the capture's own time as the shim measured it
 * (the profile's comment capture_ns: listing /proc/self/task, signalling
 * every thread, waiting for the answers), median over RUNS, for N = 10,
 * 100 and 1000. Target: <= 10 ms for 100 threads.
 * Usage: threads_bench BUILD_DIR OUT_DIR [RUNS]. Non-goal: pass/fail.
 */
#include "bench/bench.h"
#include "bench/child.h"
#include "bench/comment.h"

#define MAXRUNS 51

/* capture_ns and answered= of the threads profile in dir (then removed). */
static double capture_ms(const char *dir, int *answered) {
    char c[512];
    long long ns = 0;
    if (!bench_comment(dir, ".threads.pb.gz", "answered=", c, sizeof c) ||
        sscanf(c, "answered=%d capture_ns=%lld", answered, &ns) != 2)
        return -1;
    return (double)ns / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: threads_bench BUILD_DIR OUT_DIR [RUNS]\n");
        return 2;
    }
    char work[1024], shim[1024], out[1100];
    snprintf(work, sizeof work, "%s/bench/threads_work", argv[1]);
    snprintf(shim, sizeof shim, "%s/libmapprof.so", argv[1]);
    snprintf(out, sizeof out, "MAPPROF_OUT=%s/mp", argv[2]);
    int runs = argc > 3 ? atoi(argv[3]) : 11;
    if (runs < 1 || runs > MAXRUNS)
        runs = 11;
    char *env[] = {out, "MAPPROF_PROFILES=threads", "MAPPROF_EMPTY=skip", NULL};
    static bench_child c;
    static const char *const counts[] = {"10", "100", "1000"};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        double ms[MAXRUNS];
        int answered = 0, got = 0;
        char *wargv[] = {work, (char *)counts[k], NULL};
        for (int i = 0; i < runs; i++) {
            bench_child_run(shim, env, wargv, &c);
            double v = capture_ms(argv[2], &answered);
            if (v >= 0)
                ms[got++] = v;
        }
        if (!got) {
            printf("threads_capture threads=%s: no profile written\n", counts[k]);
            continue;
        }
        double sorted_min = ms[0], sorted_max = ms[0];
        for (int i = 1; i < got; i++) {
            sorted_min = ms[i] < sorted_min ? ms[i] : sorted_min;
            sorted_max = ms[i] > sorted_max ? ms[i] : sorted_max;
        }
        printf("threads_capture threads=%s runs=%d median_ms=%.2f min_ms=%.2f max_ms=%.2f "
               "answered=%d (target for 100: <= 10 ms)\n",
               counts[k], got, bench_median(ms, got), sorted_min, sorted_max, answered);
        fflush(stdout);
    }
    return 0;
}
