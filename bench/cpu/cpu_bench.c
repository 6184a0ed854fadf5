/*
 * cpu_bench.c — what the cpu profile costs its host, beside gperftools'
 * CPUPROFILE on the same runs (make bench-cpu).
 *
 * For each of bench-shim's workloads (work.c: heap = 2 threads of
 * malloc/free, mutex = uncontended lock/unlock, deep = 32-frame calls), the
 * configurations run in turn, round after round, so that the machine's
 * drifts hit all alike:
 *   plain | mapprof without cpu | mapprof cpu 100 Hz | mapprof cpu 1000 Hz |
 *   gperftools 100 Hz | gperftools 1000 Hz
 * "mapprof without cpu" is the shim with MAPPROF_PROFILES=grow (its hooks
 * interposed, nothing sampled for these workloads): the cpu profile's own
 * cost is the cpu runs against it; the shim's whole cost, against plain.
 * gperftools runs with LD_PRELOAD=libprofiler.so CPUPROFILE=<file>
 * CPUPROFILE_FREQUENCY=<hz> (its default process-wide ITIMER_PROF). The
 * figure is the child's CPU time (user+sys, wait4), median over RUNS;
 * targets for the cpu profile: <= +1 % at 100 Hz, <= +5 % at 1000 Hz.
 * That difference is within this machine's noise, so the cpu runs also
 * report what the shim measured itself (the cpu profile's comments): the
 * time spent in the signal handler and in draining, against the child's
 * CPU time (median over the runs).
 * Usage: cpu_bench BUILD_DIR OUT_DIR [RUNS] [ITERS]. Non-goal: pass/fail.
 */
#include "bench/bench.h"
#include "bench/child.h"
#include "bench/comment.h"

#define MAXRUNS 51
#define NCONF   6

static const char *gperf_lib(void) {
    static const char *const cands[] = {"/usr/lib/x86_64-linux-gnu/libprofiler.so.0",
                                        "/usr/lib/x86_64-linux-gnu/libprofiler.so",
                                        "/usr/lib/libprofiler.so.0"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
        if (access(cands[i], R_OK) == 0)
            return cands[i];
    return NULL;
}

/* handler_ns + drain_ns from the comments of the cpu profile in dir
 * (the only one: the directory is emptied after each run); -1 if none. */
static double own_ns(const char *dir, long long *runs) {
    char c[512];
    long long hn = 0, dn = 0;
    if (!bench_comment(dir, ".cpu.pb.gz", "handler_runs=", c, sizeof c) ||
        sscanf(c, "handler_runs=%lld handler_ns=%lld drain_ns=%lld", runs, &hn, &dn) != 3)
        return -1;
    return (double)(hn + dn);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: cpu_bench BUILD_DIR OUT_DIR [RUNS] [ITERS]\n");
        return 2;
    }
    char work[1024], shim[1024], mp_out[1100], gp_out[1100];
    snprintf(work, sizeof work, "%s/bench/shim_work", argv[1]);
    snprintf(shim, sizeof shim, "%s/libmapprof.so", argv[1]);
    snprintf(mp_out, sizeof mp_out, "MAPPROF_OUT=%s/mp", argv[2]);
    snprintf(gp_out, sizeof gp_out, "CPUPROFILE=%s/gperf.prof", argv[2]);
    int runs = argc > 3 ? atoi(argv[3]) : 9;
    if (runs < 1 || runs > MAXRUNS)
        runs = 9;
    const char *gperf = gperf_lib();
    if (!gperf)
        printf("gperftools' libprofiler.so not found (Debian libgoogle-perftools4): its columns "
               "are skipped\n");
    static const char *const names[NCONF] = {"plain",          "mapprof_nocpu", "mapprof_100hz",
                                             "mapprof_1000hz", "gperf_100hz",   "gperf_1000hz"};
    char *mp_env[3][4] = {
        {mp_out, "MAPPROF_PROFILES=grow", NULL, NULL},
        {mp_out, "MAPPROF_PROFILES=grow,cpu", "MAPPROF_CPU_HZ=100", NULL},
        {mp_out, "MAPPROF_PROFILES=grow,cpu", "MAPPROF_CPU_HZ=1000", NULL},
    };
    char *gp_env[2][3] = {
        {gp_out, "CPUPROFILE_FREQUENCY=100", NULL},
        {gp_out, "CPUPROFILE_FREQUENCY=1000", NULL},
    };
    static const struct {
        const char *mode, *iters;
    } loads[] = {{"heap", "20000000"}, {"mutex", "300000000"}, {"deep", "100000000"}};
    static bench_child c;
    static double cpu[NCONF][MAXRUNS], own[2][MAXRUNS];
    long long handler_runs[2] = {0, 0};
    for (size_t w = 0; w < sizeof loads / sizeof loads[0]; w++) {
        const char *iters = argc > 4 ? argv[4] : loads[w].iters;
        char *wargv[] = {work, (char *)loads[w].mode, (char *)iters, NULL};
        for (int i = 0; i < runs; i++)
            for (int k = 0; k < NCONF; k++) {
                bool gp = k >= 4;
                if (gp && !gperf) {
                    cpu[k][i] = 0;
                    continue;
                }
                const char *pre = k == 0 ? NULL : gp ? gperf : shim;
                char *const *env = k == 0 ? NULL : gp ? gp_env[k - 4] : mp_env[k - 1];
                bench_child_run(pre, env, wargv, &c);
                cpu[k][i] = c.cpu_ms;
                long long seen = 0;
                double ns = own_ns(argv[2], &seen); /* and empties the directory */
                if (k == 2 || k == 3) {             /* the shim's own account of the cpu profile */
                    own[k - 2][i] = ns / 1e6 / c.cpu_ms * 100;
                    handler_runs[k - 2] = seen;
                }
            }
        double med[NCONF];
        fprintf(stderr, "cpu_bench: %s done\n", loads[w].mode);
        for (int k = 0; k < NCONF; k++)
            med[k] = bench_median(cpu[k], runs);
        printf("cpu_overhead workload=%s iters=%s runs=%d", loads[w].mode, iters, runs);
        for (int k = 0; k < NCONF; k++)
            if (med[k] != 0)
                printf(" %s_cpu_ms=%.1f", names[k], med[k]);
        printf("\n  vs plain:");
        for (int k = 1; k < NCONF; k++)
            if (med[k] != 0)
                printf(" %s %+.2f%%", names[k], (med[k] / med[0] - 1) * 100);
        printf("\n  cpu profile alone (vs mapprof_nocpu): 100 Hz %+.2f%%, 1000 Hz %+.2f%%\n",
               (med[2] / med[1] - 1) * 100, (med[3] / med[1] - 1) * 100);
        printf("  cpu profile alone (its handler + draining, as the shim measured them, of the "
               "run's CPU time): 100 Hz %.3f%% (%lld handler runs), 1000 Hz %.3f%% (%lld)\n",
               bench_median(own[0], runs), handler_runs[0], bench_median(own[1], runs),
               handler_runs[1]);
        fflush(stdout);
    }
    return 0;
}
