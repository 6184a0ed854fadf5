/*
 * shim_bench.c — what libmapprof.so costs its host (make bench-shim).
 *
 * Runs bench/shim/work (work.c) as a child process, alternating
 *   plain | bare.so (the interposition floor: forward + TLS countdown) |
 *   libmapprof.so at the default rate
 * and prints medians:
 *   heap_overhead  CPU time (user+sys from wait4) of the 2-thread
 *                  malloc-heavy workload; targets shim <= plain+5 %,
 *                  <= bare+2 %
 *   callgrind      instructions (valgrind --tool=callgrind, one run each,
 *                  fewer iterations), when valgrind is installed
 *   mutex          ns per uncontended lock+unlock, plain, bare.so (which
 *                  forwards lock/unlock: the interposition floor) and the
 *                  shim; target <= plain+10 %
 *   sample_cost    ns added per allocation when every allocation is
 *                  sampled at depth 32 (MAPPROF_HEAP_RATE=1); target <= 2 µs
 *   shim_memory    peak RSS (ru_maxrss) added by the shim, dump included;
 *                  target <= 8 MiB
 * Usage: shim_bench BUILD_DIR OUT_DIR [RUNS] [HEAP_ITERS]. Profiles go
 * to OUT_DIR. Non-goals: pass/fail (this prints figures; tests assert
 * behaviour), isolating the machine's noise beyond medians.
 */
#include "bench/bench.h"
#include "bench/child.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct result {
    double cpu_ms, maxrss_kb, ns_per_op;
    long long ir;
} result;

static char work[1024], bare[1024], shim[1024], outdir[1024];

/* Run argv with LD_PRELOAD=preload (NULL: none) and `env` (NULL or
 * "K=V"), MAPPROF_OUT in outdir; fills *r from wait4 and the output. */
static void run(const char *preload, const char *env, char *const argv[], result *r) {
    static bench_child c;
    char prefix[1100];
    snprintf(prefix, sizeof prefix, "MAPPROF_OUT=%s/mp", outdir);
    char *envs[] = {prefix, (char *)env, NULL};
    bench_child_run(preload, envs, argv, &c);
    r->cpu_ms = c.cpu_ms;
    r->maxrss_kb = c.maxrss_kb;
    const char *p = strstr(c.out, "ns_per_op ");
    r->ns_per_op = p ? atof(p + 10) : 0;
    p = strstr(c.out, "Collected : ");
    r->ir = p ? atoll(p + 12) : 0;
}

static double pct(double a, double b) {
    return (a / b - 1) * 100;
}

#define MAXRUNS 101

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: shim_bench BUILD_DIR OUT_DIR [RUNS] [HEAP_ITERS]\n");
        return 2;
    }
    snprintf(work, sizeof work, "%s/bench/shim_work", argv[1]);
    snprintf(bare, sizeof bare, "%s/bench/shim_bare.so", argv[1]);
    snprintf(shim, sizeof shim, "%s/libmapprof.so", argv[1]);
    snprintf(outdir, sizeof outdir, "%s", argv[2]);
    int runs = argc > 3 ? atoi(argv[3]) : 11;
    if (runs < 1 || runs > MAXRUNS)
        runs = 11;
    const char *iters = argc > 4 ? argv[4] : "5000000";
    result r;

    /* heap: plain, bare, shim alternate so drifts hit all three alike */
    static double cpu[3][MAXRUNS], rss[3][MAXRUNS];
    const char *pre[3] = {NULL, bare, shim};
    char *heap_argv[] = {work, "heap", (char *)iters, NULL};
    for (int i = 0; i < runs; i++)
        for (int k = 0; k < 3; k++) {
            run(pre[k], NULL, heap_argv, &r);
            cpu[k][i] = r.cpu_ms;
            rss[k][i] = r.maxrss_kb;
        }
    double c[3], m[3];
    for (int k = 0; k < 3; k++) {
        c[k] = bench_median(cpu[k], runs);
        m[k] = bench_median(rss[k], runs);
    }
    printf("heap_overhead iters=2x%s runs=%d plain_cpu_ms=%.1f bare_cpu_ms=%.1f shim_cpu_ms=%.1f "
           "shim_vs_plain=%+.1f%% shim_vs_bare=%+.1f%% bare_vs_plain=%+.1f%% "
           "(targets <= 5%%, <= 2%%)\n",
           iters, runs, c[0], c[1], c[2], pct(c[2], c[0]), pct(c[2], c[1]), pct(c[1], c[0]));

    /* callgrind: one run each, fewer iterations */
    if (system("valgrind --version >/dev/null 2>&1") == 0) {
        long long ir[3];
        char *cg_argv[] = {"valgrind",
                           "--tool=callgrind",
                           "--callgrind-out-file=/dev/null",
                           work,
                           "heap",
                           "200000",
                           NULL};
        for (int k = 0; k < 3; k++) {
            run(pre[k], NULL, cg_argv, &r);
            ir[k] = r.ir;
        }
        printf("callgrind iters=2x200000 plain_ir=%lld bare_ir=%lld shim_ir=%lld "
               "shim_vs_plain=%+.1f%% shim_vs_bare=%+.1f%% bare_vs_plain=%+.1f%%\n",
               ir[0], ir[1], ir[2], pct((double)ir[2], (double)ir[0]),
               pct((double)ir[2], (double)ir[1]), pct((double)ir[1], (double)ir[0]));
    } else {
        printf("callgrind skipped: valgrind not installed\n");
    }

    /* uncontended mutex: alone (glibc's single-threaded plain stores), and
     * with an idle second thread (atomics) */
    const char *modes[2] = {"mutex", "mutex_mt"};
    for (int md = 0; md < 2; md++) {
        static double mu[3][MAXRUNS];
        char *mutex_argv[] = {work, (char *)modes[md], "20000000", NULL};
        const char *mpre[3] = {NULL, bare, shim};
        for (int i = 0; i < runs; i++)
            for (int k = 0; k < 3; k++) {
                run(mpre[k], NULL, mutex_argv, &r);
                mu[k][i] = r.ns_per_op;
            }
        double mp = bench_median(mu[0], runs), mb = bench_median(mu[1], runs),
               ms = bench_median(mu[2], runs);
        printf("mutex_uncontended%s plain_ns=%.2f bare_ns=%.2f shim_ns=%.2f "
               "shim_vs_plain=%+.1f%% bare_vs_plain=%+.1f%% shim_vs_bare=%+.1f%% "
               "(target <= 10%% vs plain)\n",
               md ? "_2threads" : "", mp, mb, ms, pct(ms, mp), pct(mb, mp), pct(ms, mb));
    }

    /* one sample: every allocation sampled at depth 32 */
    static double dp[2][MAXRUNS];
    char *deep_argv[] = {work, "deep", "200000", NULL};
    for (int i = 0; i < runs; i++)
        for (int k = 0; k < 2; k++) {
            run(k ? shim : NULL, "MAPPROF_HEAP_RATE=1", deep_argv, &r);
            dp[k][i] = r.ns_per_op;
        }
    double d0 = bench_median(dp[0], runs), d1 = bench_median(dp[1], runs);
    printf("sample_cost depth=32 plain_ns_per_alloc=%.1f shim_rate1_ns_per_alloc=%.1f "
           "per_sample_ns=%.1f (target <= 2000)\n",
           d0, d1, d1 - d0);

    /* memory: the heap workload above, and one site with one size */
    static double dm[2][MAXRUNS];
    char *deep_big[] = {work, "deep", "2000000", NULL};
    for (int i = 0; i < runs; i++)
        for (int k = 0; k < 2; k++) {
            run(k ? shim : NULL, NULL, deep_big, &r);
            dm[k][i] = r.maxrss_kb;
        }
    double e0 = bench_median(dm[0], runs), e1 = bench_median(dm[1], runs);
    printf("shim_memory heap_workload plain_maxrss_kb=%.0f shim_maxrss_kb=%.0f added_kb=%.0f; "
           "one_site plain_maxrss_kb=%.0f shim_maxrss_kb=%.0f added_kb=%.0f (target <= 8192)\n",
           m[0], m[2], m[2] - m[0], e0, e1, e1 - e0);
    return 0;
}
