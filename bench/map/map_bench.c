/*
 * map_bench.c — the libgomap side of `make bench-map`.
 *
 * What: the workloads of bench/map/go/map_bench.go, written the same way in
 * C against map/gomap.h, over the same keys (Marsaglia xorshift64 from seed
 * 88172645463325252): fills with and without a hint, hits, misses, delete +
 * insert churn, string keys, iteration and short-lived small maps. It uses
 * the uint64 and string fast paths, as Go's compiler emits
 * mapassign_fast64 / mapaccess2_faststr for these key types. Each workload
 * prints one line:
 *
 *   <name> ns=<best ns per op> sum=<checksum> ops=<ops per rep> reps=<r> all=<ns,ns,...> cpu=<best>
 *
 * Why: libgomap's performance target is "ratio C/Go <= 0.8 on every
 * workload"; bench/map/compare.sh runs both programs and prints the ratios.
 * The checksums must equal the Go program's: that proves both did the same
 * work, and it keeps the compiler from discarding any of it.
 *
 * How it times: CLOCK_MONOTONIC around the timed loop only; best (minimum)
 * of -r repetitions in-process. cpu= is the same with
 * CLOCK_PROCESS_CPUTIME_ID (the Go side counts all its threads, GC
 * included), which time-sharing on a busy machine disturbs less. Setup
 * (building the map a lookup runs on) and verification are not timed.
 * Maps are freed between repetitions, not timed, except in
 * small_map_8_insert, where freeing is part of the work (Go pays for
 * collecting those maps too). String lookups use a second copy of the
 * key bytes, so equal keys are compared byte by byte, not by pointer.
 *
 * Hooks: by default nothing is installed, so the map runs as it does with
 * no profiler present (one predictable branch per hook point). -H installs
 * no-op hooks that count their calls and adds hook_calls=<calls in the
 * timed region of one repetition> to the line: that shows how many hook
 * points are reached per operation, and what a profiler costs before it
 * does any work. A build with the hook points compiled out would need a
 * change in map/, so "no hook code at all" is not measured here.
 *
 * Non-goals: statistics beyond best-of-N (the machine is shared and noisy;
 * raw per-repetition figures are printed for judgement), other key types.
 */
#include "map/gomap.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define SEED 88172645463325252ull

static size_t n;
static uint64_t *keys; /* keys[i]: the i-th xorshift64 output */
static uint64_t *miss; /* the next n outputs: disjoint from keys */
static char *strs_a;   /* 16-char lowercase hex of keys[i]: inserted */
static char *strs_b;   /* the same text in separate memory: looked up */

static uint64_t hook_calls; /* -H: calls into the counting hooks */

static void *hook_new(const gomap *m, const gomap_type *t, size_t hint) {
    (void)m, (void)t, (void)hint;
    hook_calls++;
    return NULL;
}

static void hook_free(const gomap *m, void *cookie) {
    (void)m, (void)cookie;
    hook_calls++;
}

static void hook_grow(const gomap *m, void *cookie, const gomap_grow_event *ev) {
    (void)m, (void)cookie, (void)ev;
    hook_calls++;
}

static void hook_alloc(const gomap *m, void *cookie, enum gomap_alloc_kind kind, ptrdiff_t bytes) {
    (void)m, (void)cookie, (void)kind, (void)bytes;
    hook_calls++;
}

static void hook_fatal(const char *msg) {
    (void)msg;
}

static const gomap_hooks counting_hooks = {
    .version = GOMAP_HOOKS_VERSION,
    .on_new = hook_new,
    .on_free = hook_free,
    .on_grow = hook_grow,
    .on_alloc = hook_alloc,
    .on_fatal = hook_fatal,
};

static uint64_t xorshift64(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void die(const char *what) {
    fprintf(stderr, "map_bench_c: %s\n", what);
    exit(1);
}

/*
 * The workload's own input arrays (keys, key bytes) on huge pages, as Go's
 * runtime puts its heap, where the Go side's keys and strings live, on huge
 * pages: otherwise the C side alone pays TLB misses on reading its inputs.
 * Only the harness's data: the map's memory is the library's business.
 */
static void *xmalloc_huge(size_t size) {
    const size_t huge = (size_t)2 << 20;
    size_t rounded = (size + huge - 1) / huge * huge;
    void *p = aligned_alloc(huge, rounded);
    if (!p)
        die("out of memory");
    (void)madvise(p, rounded, MADV_HUGEPAGE);
    return p;
}

static void hex16(char *buf, uint64_t v) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        buf[i] = digits[v & 15];
        v >>= 4;
    }
}

static void gen_keys(unsigned log2n) {
    n = (size_t)1 << log2n;
    keys = xmalloc_huge(n * sizeof *keys);
    miss = xmalloc_huge(n * sizeof *miss);
    uint64_t x = SEED;
    for (size_t i = 0; i < n; i++)
        keys[i] = xorshift64(&x);
    for (size_t i = 0; i < n; i++)
        miss[i] = xorshift64(&x);
    /* Two copies, so that lookups compare bytes rather than find the very
     * same pointer (Go's faststr checks pointer equality first). */
    strs_a = xmalloc_huge(16 * n);
    strs_b = xmalloc_huge(16 * n);
    for (size_t i = 0; i < n; i++) {
        hex16(strs_a + 16 * i, keys[i]);
        hex16(strs_b + 16 * i, keys[i]);
    }
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The timed region: elapsed wall ns (returned), process CPU ns (left in
 * last_cpu_ns) and the hook calls made inside it. */
static uint64_t timed_hook_calls, hook_calls_at_start, cpu_at_start, last_cpu_ns;

static uint64_t timer_start(void) {
    hook_calls_at_start = hook_calls;
    cpu_at_start = cpu_ns();
    return now_ns();
}

static uint64_t timer_stop(uint64_t t0) {
    uint64_t ns = now_ns() - t0;
    last_cpu_ns = cpu_ns() - cpu_at_start;
    timed_hook_calls += hook_calls - hook_calls_at_start;
    return ns;
}

static gomap *new_map(const gomap_type *t, size_t hint) {
    gomap *m = NULL;
    if (__builtin_expect(gomap_new(t, hint, NULL, &m) != 0, 0))
        die("gomap_new failed");
    return m;
}

static inline void put_u64(gomap *m, uint64_t k, uint64_t v) {
    void *e;
    if (__builtin_expect(gomap_assign_u64(m, k, &e) < 0, 0))
        die("gomap_assign_u64 failed");
    memcpy(e, &v, sizeof v);
}

static inline void put_str(gomap *m, const char *p, uint64_t v) {
    void *e;
    if (__builtin_expect(gomap_assign_str(m, p, 16, &e) < 0, 0))
        die("gomap_assign_str failed");
    memcpy(e, &v, sizeof v);
}

static inline uint64_t load_u64(const void *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Untimed helpers. */

static gomap *build_u64(size_t hint) {
    gomap *m = new_map(&gomap_type_u64_u64, hint);
    for (size_t i = 0; i < n; i++)
        put_u64(m, keys[i], i + 1);
    return m;
}

static gomap *build_str(size_t hint) {
    gomap *m = new_map(&gomap_type_str_u64, hint);
    for (size_t i = 0; i < n; i++)
        put_str(m, strs_a + 16 * i, i + 1);
    return m;
}

/* Sum of v ^ k over ks (all must be present) plus len(m). */
static uint64_t check_u64(gomap *m, const uint64_t *ks) {
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) {
        const void *v = gomap_lookup_u64(m, ks[i]);
        if (v)
            s += load_u64(v) ^ ks[i];
    }
    return s + gomap_len(m);
}

static uint64_t check_str(gomap *m) {
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) {
        const void *v = gomap_lookup_str(m, strs_b + 16 * i, 16);
        if (v)
            s += load_u64(v) ^ keys[i];
    }
    return s + gomap_len(m);
}

/* Workloads: one repetition each; *ns gets the elapsed time, *ops the
 * number of operations it counts, the return value is the checksum. */

static uint64_t insert_u64(size_t hint, uint64_t *ns, size_t *ops) {
    uint64_t t0 = timer_start();
    gomap *m = new_map(&gomap_type_u64_u64, hint);
    for (size_t i = 0; i < n; i++)
        put_u64(m, keys[i], i + 1);
    *ns = timer_stop(t0);
    *ops = n;
    uint64_t s = check_u64(m, keys);
    gomap_free(m);
    return s;
}

static uint64_t insert_u64_nohint(uint64_t *ns, size_t *ops) {
    return insert_u64(0, ns, ops);
}

static uint64_t insert_u64_hint(uint64_t *ns, size_t *ops) {
    return insert_u64(n, ns, ops);
}

static uint64_t lookup_u64(const uint64_t *ks, uint64_t *ns, size_t *ops) {
    gomap *m = build_u64(n);
    uint64_t s = 0;
    uint64_t t0 = timer_start();
    for (size_t i = 0; i < n; i++) {
        const void *v = gomap_lookup_u64(m, ks[i]);
        if (v)
            s += load_u64(v) ^ ks[i];
    }
    *ns = timer_stop(t0);
    *ops = n;
    s += gomap_len(m);
    gomap_free(m);
    return s;
}

static uint64_t lookup_u64_hit(uint64_t *ns, size_t *ops) {
    return lookup_u64(keys, ns, ops);
}

static uint64_t lookup_u64_miss(uint64_t *ns, size_t *ops) {
    return lookup_u64(miss, ns, ops);
}

/* Steady-state churn on a map of n entries: one op is one delete of an old
 * key plus one insert of a new one. */
static uint64_t delete_insert_u64(uint64_t *ns, size_t *ops) {
    gomap *m = build_u64(n);
    uint64_t t0 = timer_start();
    for (size_t i = 0; i < n; i++) {
        if (__builtin_expect(gomap_delete_u64(m, keys[i]) < 0, 0))
            die("gomap_delete_u64 failed");
        put_u64(m, miss[i], n + i + 1);
    }
    *ns = timer_stop(t0);
    *ops = n;
    uint64_t s = check_u64(m, miss);
    gomap_free(m);
    return s;
}

static uint64_t insert_str_nohint(uint64_t *ns, size_t *ops) {
    uint64_t t0 = timer_start();
    gomap *m = new_map(&gomap_type_str_u64, 0);
    for (size_t i = 0; i < n; i++)
        put_str(m, strs_a + 16 * i, i + 1);
    *ns = timer_stop(t0);
    *ops = n;
    uint64_t s = check_str(m);
    gomap_free(m);
    return s;
}

static uint64_t lookup_str_hit(uint64_t *ns, size_t *ops) {
    gomap *m = build_str(n);
    uint64_t s = 0;
    uint64_t t0 = timer_start();
    for (size_t i = 0; i < n; i++) {
        const void *v = gomap_lookup_str(m, strs_b + 16 * i, 16);
        if (v)
            s += load_u64(v) ^ keys[i];
    }
    *ns = timer_stop(t0);
    *ops = n;
    s += gomap_len(m);
    gomap_free(m);
    return s;
}

static uint64_t iterate_u64(uint64_t *ns, size_t *ops) {
    gomap *m = build_u64(n);
    uint64_t s = 0;
    uint64_t t0 = timer_start();
    gomap_iter it;
    void *k, *v;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it, &k, &v))
        s += load_u64(k) ^ load_u64(v);
    *ns = timer_stop(t0);
    *ops = n;
    s += gomap_len(m);
    gomap_free(m);
    return s;
}

/* n/8 short-lived maps of 8 entries each: create without hint, 8 inserts,
 * one lookup, free (timed: Go pays for collecting them). One op is one key. */
static uint64_t small_map_8_insert(uint64_t *ns, size_t *ops) {
    uint64_t s = 0;
    uint64_t t0 = timer_start();
    for (size_t j = 0; j < n; j += 8) {
        gomap *m = new_map(&gomap_type_u64_u64, 0);
        for (size_t i = j; i < j + 8; i++)
            put_u64(m, keys[i], i + 1);
        const void *v = gomap_lookup_u64(m, keys[j]);
        s += (v ? load_u64(v) : 0) + gomap_len(m);
        gomap_free(m);
    }
    *ns = timer_stop(t0);
    *ops = n;
    return s;
}

typedef struct workload {
    const char *name;
    uint64_t (*run)(uint64_t *ns, size_t *ops);
} workload;

static const workload workloads[] = {
    {"insert_u64_nohint", insert_u64_nohint},   {"insert_u64_hint", insert_u64_hint},
    {"lookup_u64_hit", lookup_u64_hit},         {"lookup_u64_miss", lookup_u64_miss},
    {"delete_insert_u64", delete_insert_u64},   {"insert_str_nohint", insert_str_nohint},
    {"lookup_str_hit", lookup_str_hit},         {"iterate_u64", iterate_u64},
    {"small_map_8_insert", small_map_8_insert},
};
#define NWORKLOADS (sizeof workloads / sizeof workloads[0])

static void usage(void) {
    fprintf(stderr, "usage: map_bench_c [-r reps] [-n log2keys] [-H] [-l] [workload...]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int reps = 5;
    unsigned log2n = 20;
    bool hooks = false;
    int argi = 1;
    for (; argi < argc && argv[argi][0] == '-'; argi++) {
        const char *a = argv[argi];
        if (!strcmp(a, "-l")) {
            for (size_t w = 0; w < NWORKLOADS; w++)
                printf("%s\n", workloads[w].name);
            return 0;
        } else if (!strcmp(a, "-H")) {
            hooks = true;
        } else if (!strcmp(a, "-r") && argi + 1 < argc) {
            reps = atoi(argv[++argi]);
        } else if (!strcmp(a, "-n") && argi + 1 < argc) {
            log2n = (unsigned)atoi(argv[++argi]);
        } else {
            usage();
        }
    }
    if (reps < 1 || log2n < 3 || log2n > 28)
        usage();
    bool want[NWORKLOADS] = {0};
    bool any = argi < argc;
    for (int a = argi; a < argc; a++) {
        size_t w = 0;
        while (w < NWORKLOADS && strcmp(workloads[w].name, argv[a]))
            w++;
        if (w == NWORKLOADS) {
            fprintf(stderr, "map_bench_c: unknown workload \"%s\"\n", argv[a]);
            return 2;
        }
        want[w] = true;
    }
    if (hooks)
        gomap_set_hooks(&counting_hooks);
    gen_keys(log2n);
    for (size_t w = 0; w < NWORKLOADS; w++) {
        if (any && !want[w])
            continue;
        double best = -1, best_cpu = -1;
        uint64_t sum = 0;
        size_t ops = 0;
        char all[512] = "";
        size_t used = 0;
        timed_hook_calls = 0;
        for (int r = 0; r < reps; r++) {
            uint64_t ns;
            size_t o;
            uint64_t s = workloads[w].run(&ns, &o);
            double per = (double)ns / (double)o;
            double cpu = (double)last_cpu_ns / (double)o;
            if (best_cpu < 0 || cpu < best_cpu)
                best_cpu = cpu;
            if (r > 0 && s != sum) {
                fprintf(stderr, "map_bench_c: %s: checksum changed between repetitions\n",
                        workloads[w].name);
                return 1;
            }
            sum = s;
            ops = o;
            if (best < 0 || per < best)
                best = per;
            if (used < sizeof all)
                used +=
                    (size_t)snprintf(all + used, sizeof all - used, "%s%.2f", r ? "," : "", per);
        }
        printf("%s ns=%.2f sum=%" PRIu64 " ops=%zu reps=%d all=%s", workloads[w].name, best, sum,
               ops, reps, all);
        printf(" cpu=%.2f", best_cpu);
        if (hooks)
            printf(" hook_calls=%.0f", (double)timed_hook_calls / reps);
        printf("\n");
        fflush(stdout);
    }
    free(keys);
    free(miss);
    free(strs_a);
    free(strs_b);
    return 0;
}
