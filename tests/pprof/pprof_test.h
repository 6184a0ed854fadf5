/*
 * pprof_test.h — helpers shared by the pprof suite's test files: a counting
 * allocator, canned builder configs, and running the project's tools.
 */
#ifndef MAPPROF_PPROF_TEST_H
#define MAPPROF_PPROF_TEST_H

#include "tests/harness/test.h"

#include <errno.h>
#include <stdlib.h>

#include "pprof/conventions.h"
#include "pprof/internal.h"
#include "pprof/pprof.h"

/* An allocator that counts, so tests see every byte come back. */
typedef struct count_alloc {
    size_t live_bytes, live_blocks, total_blocks;
    size_t fail_after; /* 0: never fail; else fail the Nth allocation on */
} count_alloc;

static inline void *ca_alloc(size_t size, void *ctx) {
    count_alloc *c = ctx;
    if (c->fail_after && c->total_blocks + 1 >= c->fail_after)
        return NULL;
    void *p = aligned_alloc(16, (size + 15) & ~(size_t)15);
    if (p) {
        c->live_bytes += size;
        c->live_blocks++;
        c->total_blocks++;
    }
    return p;
}

static inline void ca_release(void *p, size_t size, void *ctx) {
    count_alloc *c = ctx;
    c->live_bytes -= size;
    c->live_blocks--;
    free(p);
}

static inline pprof_allocator ca_allocator(count_alloc *c) {
    return (pprof_allocator){ca_alloc, ca_release, c};
}

/* A profile path in the test's private directory. */
static inline char *tpath(const char *name) {
    static char buf[8][1024];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", th_tmpdir(), name);
    return b;
}

/* Run a program of the build dir on a file; returns the exit status. */
static inline int run_tool(char **out, const char *tool, const char *args) {
    return th_sh(out, "'%s/%s' %s", th_build(), tool, args);
}

#endif
