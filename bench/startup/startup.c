/*
 * startup.c — what the shim costs a process that does almost nothing
 * (figures, not a test). Wall time of /bin/true, and of a shell loop
 * starting 1,000 of them, plainly, under a bare interposer (bench/shim's
 * bare.so: the floor of any LD_PRELOAD library) and under libmapprof.so
 * with MAPPROF_EMPTY=write (the default: every profile written, empty or
 * not) and skip. Variants alternate run by run so that a change in the
 * machine's load hits them alike; medians are printed.
 *
 * Usage: startup BUILD OUTDIR RUNS LOOP_RUNS
 */
#include "bench/bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { VARIANTS = 4 };
static const char *names[VARIANTS] = {"plain", "bare", "shim (write)", "shim (skip)"};
static char preload[VARIANTS][1100], outdir[1024];

/* Wall milliseconds of argv under variant v; output goes to /dev/null and
 * the profiles are removed afterwards (a directory that fills up makes
 * file creation slower run by run). */
static double run(int v, char *const argv[]) {
    fflush(stdout); /* else a child's freopen flushes our buffered lines again */
    double t0 = bench_now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(126);
        char prefix[1100];
        snprintf(prefix, sizeof prefix, "%s/mp", outdir);
        setenv("MAPPROF_OUT", prefix, 1);
        setenv("MAPPROF_EMPTY", v == 3 ? "skip" : "write", 1);
        if (preload[v][0])
            setenv("LD_PRELOAD", preload[v], 1);
        else
            unsetenv("LD_PRELOAD");
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "startup: %s failed (variant %s)\n", argv[0], names[v]);
        exit(1);
    }
    double t = bench_now_ms() - t0;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "find '%s' -name 'mp.*' -delete", outdir);
    if (system(cmd) != 0)
        exit(1);
    return t;
}

static void table(const char *what, char *const argv[], int runs) {
    double *t[VARIANTS];
    for (int v = 0; v < VARIANTS; v++)
        t[v] = calloc((size_t)runs, sizeof(double));
    for (int i = 0; i < runs; i++)
        for (int v = 0; v < VARIANTS; v++)
            t[v][i] = run(v, argv);
    double base = bench_median(t[1], runs);
    printf("%s, median of %d alternating runs:\n", what, runs);
    for (int v = 0; v < VARIANTS; v++) {
        double m = bench_median(t[v], runs);
        printf("  %-13s %9.2f ms  (x%.2f of bare)\n", names[v], m, m / base);
        free(t[v]);
    }
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: startup BUILD OUTDIR RUNS LOOP_RUNS\n");
        return 2;
    }
    snprintf(preload[1], sizeof preload[1], "%s/bench/shim_bare.so", argv[1]);
    snprintf(preload[2], sizeof preload[2], "%s/libmapprof.so", argv[1]);
    snprintf(preload[3], sizeof preload[3], "%s/libmapprof.so", argv[1]);
    snprintf(outdir, sizeof outdir, "%s", argv[2]);
    char *one[] = {"/bin/true", NULL};
    table("/bin/true", one, atoi(argv[3]));
    char *loop[] = {"/bin/sh", "-c", "i=0; while [ $i -lt 1000 ]; do /bin/true; i=$((i+1)); done",
                    NULL};
    table("sh loop of 1,000 /bin/true (the shell is preloaded too)", loop, atoi(argv[4]));
    return 0;
}
