/*
 * report_bench.c — what `mapprof report` costs (figures, not a test):
 * clustering 10,000 distinct normalized stacks (cli/cluster.c, target
 * <= 1 s), and the whole command on 10 profiles of 10,000 distinct stacks
 * each (target <= 2 s). Stacks are 8 to 24 frames over real addresses of
 * this program's and libc's text (symbolized names, as a dump writes
 * them), drawn so that they share callers the way real call trees do.
 *
 *   report_bench MAPPROF DIR [REPS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/addrpool.h"
#include "bench/bench.h"
#include "cli/cli.h"
#include "pprof/conventions.h"

enum { STACKS = 10000, FILES = 10, POOL = 4096, MAXD = 24 };

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
    return bench_next(&rng);
}

static void die(const char *what, const pprof_error *err) {
    fprintf(stderr, "report_bench: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

/* A stack: a root path shared by many (callers near the root come from a
 * small set), leaves from the whole pool. */
static int make_stack(uint64_t *st, const uint64_t *pool, size_t np) {
    int depth = 8 + (int)(next() % (MAXD - 8 + 1));
    for (int d = 0; d < depth; d++) {
        size_t spread = (size_t)(d + 1) * np / (size_t)depth; /* narrow at the root */
        st[depth - 1 - d] = pool[next() % (spread ? spread : 1)];
    }
    return depth;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: report_bench MAPPROF DIR [REPS]\n");
        return 2;
    }
    const char *mapprof = argv[1], *dir = argv[2];
    int reps = argc > 3 ? atoi(argv[3]) : 5;
    pprof_error err;
    pprof_mappings *maps;
    if (pprof_mappings_new(NULL, &maps, &err) || pprof_mappings_refresh(maps, &err))
        die("mappings", &err);
    static uint64_t pool[POOL];
    size_t np = bench_address_pool(maps, pool, POOL);
    pprof_symbolizer *sym;
    if (pprof_symbolizer_new(NULL, &sym, &err))
        die("symbolizer", &err);
    char files[FILES][4200];
    for (int f = 0; f < FILES; f++) {
        pprof_builder_config cfg = {0};
        pprof_config_for(PPROF_KIND_HEAP, 0, &cfg);
        pprof_builder *b;
        if (pprof_builder_new(&cfg, &b, &err))
            die("builder", &err);
        while (pprof_builder_sample_count(b) < STACKS) {
            uint64_t st[MAXD];
            int d = make_stack(st, pool, np);
            int64_t v[4] = {1, 1 + (int64_t)(next() % 100000), 1, 1 + (int64_t)(next() % 1000)};
            if (pprof_builder_add_sample(b, st, (size_t)d, v, NULL, 0, PPROF_STACK_ALL_RETURN,
                                         &err))
                die("add_sample", &err);
        }
        pprof_profile *p;
        snprintf(files[f], sizeof files[f], "%s/bench.%d.heap.pb.gz", dir, f);
        if (pprof_builder_finish(b, maps, sym, &p, &err) ||
            pprof_profile_write_file(p, files[f], &err))
            die("write", &err);
        pprof_profile_free(p);
        pprof_builder_free(b);
    }

    /* Clustering alone, on the first profile's normalized stacks. */
    cli_profset ps;
    if (cli_profset_load(&ps, "bench", (char *const[]){files[0]}, 1, NULL))
        die("load", NULL);
    cli_names names;
    cli_names_init(&names);
    const pprof_pb_profile *m = pprof_profile_msg(ps.p[0]);
    cli_stack *stacks = calloc(m->n_sample, sizeof *stacks);
    uint32_t *ids = calloc(m->n_sample * 8, sizeof *ids);
    size_t n = 0;
    for (size_t i = 0; i < m->n_sample; i++) {
        cli_frames it;
        cli_frames_init(&it, ps.p[0], m->sample[i]);
        uint32_t *f = ids + n * 8;
        int d = 0;
        char buf[512];
        for (const char *name; d < 8 && (name = cli_frames_next(&it));) {
            cli_normalize_name(name, buf, sizeof buf);
            f[d++] = (uint32_t)cli_names_id(&names, buf);
        }
        stacks[n++] = (cli_stack){f, d, m->sample[i]->value[1], 1};
    }
    size_t *of = calloc(n, sizeof *of), k = 0;
    double *t = calloc((size_t)reps, sizeof *t);
    for (int r = 0; r < reps; r++) {
        double a = bench_now_ms();
        if (cli_cluster(stacks, n, 1, of, &k))
            die("cluster", NULL);
        t[r] = bench_now_ms() - a;
    }
    qsort(t, (size_t)reps, sizeof *t, bench_cmp_double);
    printf("cluster %zu stacks (depth <= 8, distance 1): %zu clusters, median %.1f ms (min %.1f, "
           "max %.1f; target <= 1000 ms)\n",
           n, k, t[reps / 2], t[0], t[reps - 1]);

    /* The whole command on the ten profiles. */
    for (int r = 0; r < reps; r++) {
        char cmd[50000];
        int len = snprintf(cmd, sizeof cmd, "rm -rf '%s/out' && '%s' report -o '%s/out'", dir,
                           mapprof, dir);
        for (int f = 0; f < FILES; f++)
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " '%s'", files[f]);
        snprintf(cmd + len, sizeof cmd - (size_t)len, " 2>/dev/null");
        double a = bench_now_ms();
        if (system(cmd) != 0)
            die("mapprof report", NULL);
        t[r] = bench_now_ms() - a;
    }
    qsort(t, (size_t)reps, sizeof *t, bench_cmp_double);
    printf("mapprof report on %d profiles x %d distinct stacks: median %.1f ms (min %.1f, max "
           "%.1f; target <= 2000 ms)\n",
           FILES, STACKS, t[reps / 2], t[0], t[reps - 1]);
    return 0;
}
