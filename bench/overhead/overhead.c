/*
 * overhead.c — `make bench-overhead`: what mapprof costs its host next to
 * the heap profilers people already use, on the same three workloads
 * (bench/overhead/workload.c: malloc-heavy, mutex-heavy, map-heavy).
 *
 * Configurations, each a fresh process started the way its users start it:
 *   plain            the workload alone
 *   mapprof          LD_PRELOAD=libmapprof.so, default rates (heap sample
 *                    every 512 KiB on average, every contention, every grow)
 *   heaptrack        `heaptrack -o FILE workload` (every allocation; the
 *                    interpreter and compressor processes are counted too)
 *   gperftools       LD_PRELOAD=libtcmalloc.so.4 HEAPPROFILE=... (every
 *                    allocation; also swaps the allocator)
 *   tcmalloc         the same library without HEAPPROFILE: the allocator
 *                    swap alone, to read gperftools' row against
 *   jemalloc-prof    LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=prof:true,
 *                    lg_prof_sample:19 (512 KiB, mapprof's rate), prof_final
 *   jemalloc         the same library without profiling
 * Runs alternate (run r visits the configurations in an order rotated by r)
 * so that drift on a shared machine spreads over all of them; the table
 * gives medians of wall time, CPU time (user + system, children included,
 * from wait4's rusage) and peak RSS (ru_maxrss: the largest process), each
 * also as a ratio to plain, and the bytes of profile output written. A run
 * that does not exit 0 is reported and excluded. Profiler output goes to a
 * per-run directory under the output directory, removed after measuring.
 *
 * Non-goals: statistical tests, CPU pinning, instruction counts (bench-shim
 * has those for mapprof alone).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXRUNS 101

typedef struct config {
    const char *name;
    const char *needs; /* a file that must exist, or NULL */
    const char *pkg;   /* the Debian package that provides it */
    bool usable;
} config;

static const char *g_workload, *g_outdir, *g_mapprof, *g_heaptrack, *g_tcmalloc, *g_jemalloc;
static const char *g_scale = "1";

enum { C_PLAIN, C_MAPPROF, C_HEAPTRACK, C_GPERF, C_TCMALLOC, C_JEPROF, C_JEMALLOC, NCONF };
static config g_conf[NCONF];

static const char *const g_wls[] = {"malloc", "mutex", "map"};
#define NWL 3

typedef struct sample {
    double wall, cpu, rss_mib, out_kib;
} sample;

static sample g_samples[NWL][NCONF][MAXRUNS];
static int g_nsamples[NWL][NCONF];
static int g_failures[NWL][NCONF];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double g_tree_bytes;

static int add_size(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)ftw;
    if (flag == FTW_F && strcmp(path + strlen(path) - 4, "/log") != 0)
        g_tree_bytes += (double)st->st_size;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void print_log(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/log", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char line[512];
    for (int n = 0; n < 20 && fgets(line, sizeof line, f); n++)
        fprintf(stderr, "    | %s", line);
    fclose(f);
}

/* An absolute path: the child runs in its own directory. */
static const char *absolute(const char *p) {
    char *r = realpath(p, NULL);
    if (r == NULL) {
        perror(p);
        exit(2);
    }
    return r;
}

/* The child: environment for the configuration, output to DIR/log. */
static void exec_config(int c, const char *wl, const char *dir) {
    char log[4200], buf[4300];
    snprintf(log, sizeof log, "%s/log", dir);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int null = open("/dev/null", O_RDONLY);
    if (fd < 0 || null < 0 || chdir(dir) != 0)
        _exit(126);
    dup2(null, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    static const char *const clean[] = {"LD_PRELOAD",  "MALLOC_CONF",      "HEAPPROFILE",
                                        "MAPPROF_OUT", "MAPPROF_PROFILES", "MAPPROF_HEAP_RATE"};
    for (size_t i = 0; i < sizeof clean / sizeof clean[0]; i++)
        unsetenv(clean[i]);
    switch (c) {
    case C_MAPPROF:
        setenv("LD_PRELOAD", g_mapprof, 1);
        snprintf(buf, sizeof buf, "%s/mapprof", dir);
        setenv("MAPPROF_OUT", buf, 1);
        break;
    case C_HEAPTRACK:
        snprintf(buf, sizeof buf, "%s/heaptrack", dir);
        execl(g_heaptrack, "heaptrack", "-o", buf, g_workload, wl, g_scale, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", g_heaptrack, strerror(errno));
        _exit(127);
    case C_GPERF:
        setenv("LD_PRELOAD", g_tcmalloc, 1);
        snprintf(buf, sizeof buf, "%s/gperf", dir);
        setenv("HEAPPROFILE", buf, 1);
        break;
    case C_TCMALLOC:
        setenv("LD_PRELOAD", g_tcmalloc, 1);
        break;
    case C_JEPROF:
        setenv("LD_PRELOAD", g_jemalloc, 1);
        snprintf(buf, sizeof buf,
                 "prof:true,prof_final:true,lg_prof_sample:19,prof_prefix:%s/jeprof", dir);
        setenv("MALLOC_CONF", buf, 1);
        break;
    case C_JEMALLOC:
        setenv("LD_PRELOAD", g_jemalloc, 1);
        break;
    }
    execl(g_workload, "workload", wl, g_scale, (char *)NULL);
    fprintf(stderr, "exec %s: %s\n", g_workload, strerror(errno));
    _exit(127);
}

static void run_once(int w, int c, int run) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s-%s-%d", g_outdir, g_wls[w], g_conf[c].name, run);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        perror(dir);
        exit(2);
    }
    fflush(NULL);
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0)
        exec_config(c, g_wls[w], dir);
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid) {
        perror("wait4");
        exit(2);
    }
    double t1 = now();
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench-overhead: %s under %s, run %d: status %#x; log:\n", g_wls[w],
                g_conf[c].name, run, st);
        print_log(dir);
        g_failures[w][c]++;
    } else {
        g_tree_bytes = 0;
        nftw(dir, add_size, 16, FTW_PHYS);
        sample *s = &g_samples[w][c][g_nsamples[w][c]++];
        s->wall = t1 - t0;
        s->cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
        s->rss_mib = (double)ru.ru_maxrss / 1024.0;
        s->out_kib = g_tree_bytes / 1024.0;
    }
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of one field of the samples of (w, c); -1 when there are none. */
static double median(int w, int c, size_t field) {
    int n = g_nsamples[w][c];
    if (n == 0)
        return -1;
    double v[MAXRUNS];
    for (int i = 0; i < n; i++)
        v[i] = *(const double *)((const char *)&g_samples[w][c][i] + field);
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static bool file_exists(const char *p) {
    return p != NULL && access(p, R_OK) == 0;
}

/* Does this jemalloc build accept opt.prof? A build without --enable-prof
 * rejects it with "Invalid conf pair" on stderr. */
static bool jemalloc_has_prof(void) {
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "MALLOC_CONF=prof:true LD_PRELOAD='%s' /bin/true 2>&1", g_jemalloc);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return false;
    char buf[512] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = 0;
    pclose(p);
    return strstr(buf, "Invalid conf") == NULL;
}

static void usage(void) {
    fprintf(stderr, "usage: overhead WORKLOAD OUTDIR RUNS SCALE LIBMAPPROF HEAPTRACK "
                    "LIBTCMALLOC LIBJEMALLOC\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc != 9)
        usage();
    g_workload = absolute(argv[1]);
    g_outdir = absolute(argv[2]);
    int runs = atoi(argv[3]);
    g_scale = argv[4];
    g_mapprof = absolute(argv[5]);
    g_heaptrack = argv[6];
    g_tcmalloc = argv[7];
    g_jemalloc = argv[8];
    if (runs < 1 || runs > MAXRUNS)
        usage();
    g_conf[C_PLAIN] = (config){"plain", NULL, NULL, true};
    g_conf[C_MAPPROF] = (config){"mapprof", g_mapprof, NULL, true};
    g_conf[C_HEAPTRACK] = (config){"heaptrack", g_heaptrack, "heaptrack", true};
    g_conf[C_GPERF] = (config){"gperftools", g_tcmalloc, "libgoogle-perftools4", true};
    g_conf[C_TCMALLOC] = (config){"tcmalloc", g_tcmalloc, "libgoogle-perftools4", true};
    g_conf[C_JEPROF] = (config){"jemalloc-prof", g_jemalloc, "libjemalloc2", true};
    g_conf[C_JEMALLOC] = (config){"jemalloc", g_jemalloc, "libjemalloc2", true};

    char missing[256] = "";
    for (int c = 0; c < NCONF; c++) {
        if (g_conf[c].needs == NULL || file_exists(g_conf[c].needs))
            continue;
        g_conf[c].usable = false;
        if (g_conf[c].pkg != NULL && !strstr(missing, g_conf[c].pkg)) {
            strcat(missing, " ");
            strcat(missing, g_conf[c].pkg);
        }
        if (g_conf[c].pkg == NULL) {
            fprintf(stderr, "bench-overhead: %s not found (make builds it)\n", g_conf[c].needs);
            return 2;
        }
    }
    if (missing[0])
        printf("bench-overhead: missing peers, their columns are skipped; install with:\n"
               "  apt-get install -y --no-install-recommends%s\n",
               missing);
    bool je_prof = g_conf[C_JEPROF].usable && jemalloc_has_prof();
    if (g_conf[C_JEPROF].usable && !je_prof) {
        printf("bench-overhead: this jemalloc build has no heap profiling (--enable-prof); "
               "jemalloc-prof skipped\n");
        g_conf[C_JEPROF].usable = false;
    } else if (je_prof) {
        printf("bench-overhead: jemalloc (%s) accepts prof:true (built with --enable-prof)\n",
               g_jemalloc);
    }

    printf("bench-overhead: %d alternating runs per cell, workload scale %s, %ld CPUs online\n",
           runs, g_scale, sysconf(_SC_NPROCESSORS_ONLN));
    for (int r = 0; r < runs; r++) {
        for (int w = 0; w < NWL; w++)
            for (int k = 0; k < NCONF; k++) {
                int c = (k + r) % NCONF;
                if (g_conf[c].usable)
                    run_once(w, c, r);
            }
        fprintf(stderr, "bench-overhead: run %d/%d done\n", r + 1, runs);
    }

    printf("\n%-8s %-14s %8s %7s %8s %7s %9s %7s %10s\n", "workload", "profiler", "wall_s",
           "wall_x", "cpu_s", "cpu_x", "rss_MiB", "rss_x", "output_KiB");
    for (int w = 0; w < NWL; w++) {
        double pw = median(w, C_PLAIN, offsetof(sample, wall));
        double pc = median(w, C_PLAIN, offsetof(sample, cpu));
        double pr = median(w, C_PLAIN, offsetof(sample, rss_mib));
        for (int c = 0; c < NCONF; c++) {
            if (!g_conf[c].usable)
                continue;
            if (g_nsamples[w][c] == 0) {
                printf("%-8s %-14s   (all %d runs failed)\n", g_wls[w], g_conf[c].name,
                       g_failures[w][c]);
                continue;
            }
            double wall = median(w, c, offsetof(sample, wall));
            double cpu = median(w, c, offsetof(sample, cpu));
            double rss = median(w, c, offsetof(sample, rss_mib));
            double out = median(w, c, offsetof(sample, out_kib));
            printf("%-8s %-14s %8.3f %7.2f %8.3f %7.2f %9.1f %7.2f %10.0f", g_wls[w],
                   g_conf[c].name, wall, wall / pw, cpu, cpu / pc, rss, rss / pr, out);
            if (g_failures[w][c])
                printf("  (%d failed runs)", g_failures[w][c]);
            printf("\n");
        }
    }
    printf("\nwall_x, cpu_x, rss_x: median over the runs divided by plain's median. cpu: user +\n"
           "system of the process and its waited-for children (heaptrack's interpreter and\n"
           "compressor included). rss: ru_maxrss, the largest single process. output: bytes\n"
           "the profiler wrote. tcmalloc and jemalloc rows swap the allocator without\n"
           "profiling: read gperftools and jemalloc-prof against them.\n");
    return 0;
}
