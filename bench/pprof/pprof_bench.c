/*
 * pprof_bench.c — the cost of a profile dump: 10,000 distinct stacks of
 * depth 32 over real code addresses of this process (its own text and
 * libc's), symbolized by libdw with a warm cache, gzip'd and written
 * atomically. The target is <= 50 ms per dump (finish + write). Also prints
 * the cold (first) dump, the cost of adding the samples, and the file size.
 *
 *   pprof_bench [DIR] [REPS]     (DIR default /tmp, REPS default 7)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/addrpool.h"
#include "bench/bench.h"
#include "pprof/conventions.h"
#include "pprof/pprof.h"

enum { STACKS = 10000, DEPTH = 32, POOL = 4096 };

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
    return bench_next(&rng);
}

static void die(const char *what, const pprof_error *err) {
    fprintf(stderr, "pprof_bench: %s: %s\n", what, err->msg);
    exit(1);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    if (reps < 1)
        reps = 1;
    pprof_error err;
    pprof_mappings *maps;
    if (pprof_mappings_new(NULL, &maps, &err) || pprof_mappings_refresh(maps, &err))
        die("mappings", &err);

    /* Address pool: spread over the main executable's and libc's text. */
    static uint64_t pool[POOL];
    size_t np = bench_address_pool(maps, pool, POOL);

    pprof_builder_config cfg = {0};
    pprof_config_for(PPROF_KIND_HEAP, 0, &cfg);
    pprof_builder *b;
    if (pprof_builder_new(&cfg, &b, &err))
        die("builder", &err);
    double t0 = bench_now_ms();
    for (int s = 0; s < STACKS; s++) {
        uint64_t st[DEPTH];
        for (int d = 0; d < DEPTH; d++)
            st[d] = pool[next() % np];
        st[0] = pool[(size_t)s % np]; /* plus randomness: distinct stacks */
        int64_t v[4] = {1, 512, 1, 512};
        pprof_label l = {.key = "bytes", .num = 512};
        if (pprof_builder_add_sample(b, st, DEPTH, v, &l, 1, PPROF_STACK_ALL_RETURN, &err))
            die("add_sample", &err);
    }
    double t_add = bench_now_ms() - t0;
    if (pprof_builder_sample_count(b) != STACKS) {
        fprintf(stderr, "pprof_bench: %zu distinct stacks, expected %d\n",
                pprof_builder_sample_count(b), STACKS);
        return 1;
    }

    pprof_symbolizer *sym;
    if (pprof_symbolizer_new(NULL, &sym, &err))
        die("symbolizer", &err);
    char path[4096];
    snprintf(path, sizeof path, "%s/pprof_bench.%ld.pb.gz", dir, (long)getpid());
    double *dump = calloc((size_t)reps + 1, sizeof *dump);
    size_t nloc = 0, nfn = 0;
    for (int r = 0; r <= reps; r++) { /* r == 0: cold symbolizer cache */
        double a = bench_now_ms();
        pprof_profile *p;
        if (pprof_builder_finish(b, maps, sym, &p, &err))
            die("finish", &err);
        double mid = bench_now_ms();
        if (pprof_profile_write_file(p, path, &err))
            die("write", &err);
        dump[r] = bench_now_ms() - a;
        if (r == 0) {
            nloc = pprof_profile_msg(p)->n_location;
            nfn = pprof_profile_msg(p)->n_function;
            printf("cold dump (symbolize %zu addresses): %.1f ms (finish %.1f ms)\n", nloc, dump[0],
                   mid - a);
        }
        pprof_profile_free(p);
    }
    struct stat st;
    stat(path, &st);
    qsort(dump + 1, (size_t)reps, sizeof *dump, bench_cmp_double);
    printf("samples: %d stacks x depth %d, %zu locations, %zu functions; add: %.1f ms\n", STACKS,
           DEPTH, nloc, nfn, t_add);
    printf("file: %lld bytes gzip'd\n", (long long)st.st_size);
    printf("warm dump (finish + gzip + write), %d runs: min %.1f ms, median %.1f ms, max %.1f "
           "ms (target <= 50 ms)\n",
           reps, dump[1], dump[1 + reps / 2], dump[reps]);
    unlink(path);
    int ok = dump[1 + reps / 2] <= 50.0;
    printf("%s\n", ok ? "PASS" : "OVER TARGET");
    free(dump);
    pprof_symbolizer_free(sym);
    pprof_builder_free(b);
    pprof_mappings_free(maps);
    return 0;
}
