/*
 * live_bench.c — what the live endpoint costs (make bench-live).
 *
 *   idle     CPU time (user+sys of every thread, from wait4) of bench-shim's
 *            workloads (heap: 2 threads of malloc/free; mutex_mt:
 *            uncontended locks beside an idle thread) under the shim alone
 *            and under the shim with MAPPROF_HTTP=0 (the endpoint up, no
 *            client), alternating, medians; goal <= 0.5 %. With valgrind:
 *            callgrind instruction counts of one heap run each (repeatable
 *            on a loaded machine).
 *   serve    a program with 10,000 distinct stacks (stacks.c: one kept
 *            block per stack, MAPPROF_HEAP_RATE=1, for heap and allocs; or
 *            one grown and live map per stack, for grow and maps) serves
 *            each profile; curl's time_total, the first request
 *            (which loads the symbol tables) and the median of the next
 *            BENCH runs; debug=0 and debug=1; goal <= 50 ms.
 * Usage: live_bench BUILD_DIR OUT_DIR [RUNS]. Non-goal: pass/fail.
 */
#include "bench/bench.h"
#include "bench/child.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXRUNS 101

static char work[1024], shim[1024], outdir[1024], stacks[1024];

static double run_cpu(const char *http, char *const argv[], long long *ir) {
    static bench_child c;
    char prefix[1100];
    snprintf(prefix, sizeof prefix, "MAPPROF_OUT=%s/mp", outdir);
    char *envs[] = {prefix, (char *)http, NULL};
    bench_child_run(shim, envs, argv, &c);
    const char *p = strstr(c.out, "Collected : ");
    if (ir)
        *ir = p ? atoll(p + 12) : 0;
    return c.cpu_ms;
}

static double pct(double a, double b) {
    return (a / b - 1) * 100;
}

static void idle(int runs) {
    const char *modes[2][3] = {{"heap", "5000000", "heap 2x5000000"},
                               {"mutex_mt", "20000000", "mutex_mt 20000000"}};
    for (int md = 0; md < 2; md++) {
        static double cpu[2][MAXRUNS];
        char *argv[] = {work, (char *)modes[md][0], (char *)modes[md][1], NULL};
        for (int i = 0; i < runs; i++)
            for (int k = 0; k < 2; k++)
                cpu[k][i] = run_cpu(k ? "MAPPROF_HTTP=0" : NULL, argv, NULL);
        double a = bench_median(cpu[0], runs), b = bench_median(cpu[1], runs);
        printf("idle_endpoint workload=%s runs=%d shim_cpu_ms=%.1f shim_http_cpu_ms=%.1f "
               "http_vs_shim=%+.2f%% (goal <= 0.5%%)\n",
               modes[md][2], runs, a, b, pct(b, a));
    }
    if (system("valgrind --version >/dev/null 2>&1") != 0) {
        printf("callgrind skipped: valgrind not installed\n");
        return;
    }
    long long ir[2];
    char *cg[] = {
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", work, "heap", "200000",
        NULL};
    for (int k = 0; k < 2; k++)
        run_cpu(k ? "MAPPROF_HTTP=0" : NULL, cg, &ir[k]);
    printf("idle_endpoint callgrind heap 2x200000 shim_ir=%lld shim_http_ir=%lld "
           "http_vs_shim=%+.2f%%\n",
           ir[0], ir[1], pct((double)ir[1], (double)ir[0]));
}

/* curl's time_total in ms for url (output discarded); -1 on failure. */
static double fetch_ms(const char *url) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "curl -s -f -o /dev/null -w '%%{time_total}' '%s'", url);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    double s = -1;
    if (fscanf(p, "%lf", &s) != 1)
        s = -1;
    return pclose(p) == 0 ? s * 1000 : -1;
}

static void serve(int runs, const char *mode) {
    char stop[1100], cmd[8192];
    snprintf(stop, sizeof stop, "%s/stop", outdir);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && rm -f stop sv.* stacks.out && (LD_PRELOAD='%s' MAPPROF_OUT='%s/sv' "
             "MAPPROF_HTTP=0 MAPPROF_HEAP_RATE=1 '%s' 10000 '%s' %s > '%s/stacks.out' 2>&1 &)",
             outdir, shim, outdir, stacks, stop, mode, outdir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot start %s\n", stacks);
        exit(1);
    }
    char pat[1200], addr[256] = "";
    snprintf(pat, sizeof pat, "%s/sv.*.http", outdir);
    for (int i = 0; i < 500 && !addr[0]; i++) {
        glob_t g;
        if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc) {
            FILE *f = fopen(g.gl_pathv[0], "r");
            if (f && fgets(addr, sizeof addr, f))
                addr[strcspn(addr, "\n")] = 0;
            if (f)
                fclose(f);
        }
        globfree(&g);
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    if (!addr[0]) {
        fprintf(stderr, "the stacks program announced no address\n");
        exit(1);
    }
    /* wait until the program has built its stacks */
    char outf[1200];
    snprintf(outf, sizeof outf, "%s/stacks.out", outdir);
    for (int i = 0; i < 1500; i++) {
        FILE *f = fopen(outf, "r");
        char line[128] = "";
        if (f) {
            if (!fgets(line, sizeof line, f))
                line[0] = 0;
            fclose(f);
        }
        if (strstr(line, "stacks="))
            break;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    const char *heap_names[] = {"heap", "allocs"}, *map_names[] = {"grow", "maps"};
    const char **names = strcmp(mode, "maps") ? heap_names : map_names;
    for (int dbg = 0; dbg < 2; dbg++)
        for (size_t n = 0; n < 2; n++) {
            char url[512];
            snprintf(url, sizeof url, "http://%s/debug/pprof/%s%s", addr, names[n],
                     dbg ? "?debug=1" : "");
            double first = fetch_ms(url);
            static double t[MAXRUNS];
            for (int i = 0; i < runs; i++)
                t[i] = fetch_ms(url);
            printf("serve stacks=10000 profile=%s debug=%d first_ms=%.1f median_ms=%.1f "
                   "(goal <= 50)\n",
                   names[n], dbg, first, bench_median(t, runs));
        }
    FILE *f = fopen(stop, "w");
    if (f)
        fclose(f);
    struct timespec ts = {0, 300000000}; /* let it exit before the next run */
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: live_bench BUILD_DIR OUT_DIR [RUNS]\n");
        return 2;
    }
    snprintf(work, sizeof work, "%s/bench/shim_work", argv[1]);
    snprintf(shim, sizeof shim, "%s/libmapprof.so", argv[1]);
    snprintf(stacks, sizeof stacks, "%s/bench/live_stacks", argv[1]);
    if (!realpath(argv[2], outdir))
        snprintf(outdir, sizeof outdir, "%s", argv[2]);
    char abs[1024];
    if (realpath(shim, abs))
        snprintf(shim, sizeof shim, "%s", abs);
    if (realpath(stacks, abs))
        snprintf(stacks, sizeof stacks, "%s", abs);
    int runs = argc > 3 ? atoi(argv[3]) : 11;
    if (runs < 1 || runs > MAXRUNS)
        runs = 11;
    serve(runs, "heap");
    serve(runs, "maps");
    idle(runs);
    return 0;
}
