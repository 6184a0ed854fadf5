/*
 * text_test.c — livetext.c's renderings of built profiles: Go's heap and
 * contention layouts with their totals, the threads profile grouped by
 * stack for debug=1 (largest group first) and one block per thread with
 * state, lock and wait for debug=2, and grow's every-value layout.
 */
#include <stdlib.h>

#include "pprof/conventions.h"
#include "shim/live.h"
#include "tests/harness/test.h"

/* Functions long enough that function + 8 lies inside them. */
static volatile int sink;
__attribute__((noinline)) void lt_waiter(void);
__attribute__((noinline)) void lt_waiter(void) {
    for (int i = 0; i < 4; i++)
        sink += i * sink + 1;
}
__attribute__((noinline)) void lt_reader(void);
__attribute__((noinline)) void lt_reader(void) {
    for (int i = 0; i < 4; i++)
        sink -= i * sink + 3;
}

static bool starts(const char *s, const char *prefix) {
    return !strncmp(s, prefix, strlen(prefix));
}

typedef struct sbuf {
    char *p;
    size_t n;
} sbuf;

static void emit(void *ctx, const char *s, size_t n) {
    sbuf *b = ctx;
    b->p = realloc(b->p, b->n + n + 1);
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static char *render(pprof_builder *b, const char *name, int debug) {
    pprof_mappings *maps = NULL;
    pprof_symbolizer *sym = NULL;
    pprof_error err = {0};
    CHECK_EQ_I(pprof_mappings_new(NULL, &maps, &err), 0);
    CHECK_EQ_I(pprof_mappings_refresh(maps, &err), 0);
    CHECK_EQ_I(pprof_symbolizer_new(NULL, &sym, &err), 0);
    pprof_profile *p = NULL;
    CHECK_EQ_I(pprof_builder_finish(b, maps, sym, &p, &err), 0);
    sbuf out = {0};
    shim_live_text(p, name, debug, emit, &out);
    pprof_profile_free(p);
    pprof_symbolizer_free(sym);
    pprof_mappings_free(maps);
    return out.p;
}

static const pprof_value_type thread_type[1] = {{"threads", "count"}};

static void add_thread(pprof_builder *b, void (*fn)(void), int tid, const char *state,
                       const char *lock, int64_t wait) {
    uint64_t stack[1] = {(uint64_t)(uintptr_t)fn + 8};
    int64_t one = 1;
    pprof_label l[5] = {
        {"thread", "worker", 0, NULL}, {"tid", NULL, tid, NULL}, {"state", state, 0, NULL}};
    size_t n = 3;
    if (lock) {
        l[n++] = (pprof_label){"lock", lock, 0, NULL};
        l[n++] = (pprof_label){"wait", NULL, wait, "nanoseconds"};
    }
    pprof_error err = {0};
    CHECK_EQ_I(pprof_builder_add_sample(b, stack, 1, &one, l, n, PPROF_STACK_ALL_RETURN, &err), 0);
}

TEST(live, text_threads) {
    pprof_builder_config cfg = {.sample_types = thread_type,
                                .n_sample_types = 1,
                                .period_type = {"threads", "count"},
                                .period = 1};
    pprof_builder *b = NULL;
    pprof_error err = {0};
    CHECK_EQ_I(pprof_builder_new(&cfg, &b, &err), 0);
    add_thread(b, lt_reader, 13, "syscall", NULL, 0);
    add_thread(b, lt_waiter, 11, "mutex", "0x1000", 2500000000);
    add_thread(b, lt_waiter, 12, "mutex", "0x1000", 1500000);
    char *t1 = render(b, "threads", 1);
    /* grouped by stack, largest group first, Go's count layout */
    CHECK_MSG(starts(t1, "threads profile: total 3\n2 @ 0x"), "%s", t1);
    char *one = strstr(t1, "\n1 @ 0x");
    CHECK_MSG(one && strstr(t1, "lt_waiter") < one && strstr(one, "lt_reader"), "%s", t1);
    char *t2 = render(b, "goroutine", 2);
    CHECK_CONTAINS(t2, "thread 11 \"worker\" [mutex on 0x1000, 2.500 seconds]:\nlt_waiter()\n\t");
    CHECK_CONTAINS(t2, "thread 12 \"worker\" [mutex on 0x1000, 1.500 ms]:\n");
    CHECK_CONTAINS(t2, "thread 13 \"worker\" [syscall]:\nlt_reader()\n\t");
    CHECK_CONTAINS(t2, "text_test.c:");
    free(t1);
    free(t2);
    pprof_builder_free(b);
}

TEST(live, text_heap_and_contention) {
    pprof_builder_config cfg = {0};
    pprof_config_for(PPROF_KIND_HEAP, 524288, &cfg);
    pprof_builder *b = NULL;
    pprof_error err = {0};
    CHECK_EQ_I(pprof_builder_new(&cfg, &b, &err), 0);
    uint64_t s1[1] = {(uint64_t)(uintptr_t)lt_waiter + 8},
             s2[1] = {(uint64_t)(uintptr_t)lt_reader + 8};
    int64_t v1[4] = {10, 1000, 2, 200}, v2[4] = {5, 50000, 5, 50000};
    CHECK_EQ_I(pprof_builder_add_sample(b, s1, 1, v1, NULL, 0, PPROF_STACK_ALL_RETURN, &err), 0);
    CHECK_EQ_I(pprof_builder_add_sample(b, s2, 1, v2, NULL, 0, PPROF_STACK_ALL_RETURN, &err), 0);
    char *t = render(b, "heap", 1);
    /* in-use first, as runtime/pprof; records by in-use bytes */
    CHECK_MSG(starts(t, "heap profile: 7: 50200 [15: 51000] @ heap/2\n"), "%s", t);
    char *r2 = strstr(t, "\n5: 50000 [5: 50000] @ 0x"), *r1 = strstr(t, "\n2: 200 [10: 1000] @ 0x");
    CHECK_MSG(r1 && r2 && r2 < r1, "%s", t);
    CHECK_CONTAINS(t, "\tlt_reader\t");
    free(t);
    pprof_builder_free(b);

    pprof_config_for(PPROF_KIND_MUTEX, 0, &cfg);
    CHECK_EQ_I(pprof_builder_new(&cfg, &b, &err), 0);
    int64_t c[2] = {3, 9000};
    CHECK_EQ_I(pprof_builder_add_sample(b, s1, 1, c, NULL, 0, PPROF_STACK_ALL_RETURN, &err), 0);
    t = render(b, "mutex", 1);
    CHECK_MSG(starts(t, "--- mutex:\ncycles/second=1000000000\nsampling period=1\n9000 3 @ 0x"),
              "%s", t);
    free(t);
    t = render(b, "block", 1);
    CHECK_MSG(starts(t, "--- contention:\n"), "%s", t);
    free(t);
    pprof_builder_free(b);

    pprof_config_for(PPROF_KIND_GROW, 0, &cfg);
    CHECK_EQ_I(pprof_builder_new(&cfg, &b, &err), 0);
    int64_t g[3] = {4, 4096, 100};
    pprof_label kind = {"kind", "double", 0, NULL};
    CHECK_EQ_I(pprof_builder_add_sample(b, s2, 1, g, &kind, 1, PPROF_STACK_ALL_RETURN, &err), 0);
    t = render(b, "grow", 1);
    CHECK_CONTAINS(
        t, "grow profile: grows/count=4 bytes/bytes=4096 entries/count=100\n4 4096 100 @ 0x");
    CHECK_CONTAINS(t, "# labels: {\"kind\":\"double\"}\n");
    free(t);
    pprof_builder_free(b);
}
