/*
 * cli_test.h — helpers for the `mapprof` command's tests: run the built
 * command, check the one-line error rule, and write input profiles with
 * known values through pprof/'s builder.
 *
 * Profiles are built from stacks of the functions ct_fn[] defined here
 * (real code in the test binary, resolved by pprof/'s symbolizer), so
 * frames carry real names (ct_fn_main, ct_fn_load_users, ...) and real
 * mappings, exactly like profiles the shim writes.
 */
#ifndef TESTS_CLI_TEST_H
#define TESTS_CLI_TEST_H

#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "pprof/conventions.h"
#include "pprof/pprof.h"
#include "tests/harness/test.h"

/* Distinct bodies, so identical-code folding cannot merge them. */
#define CT_FN(name, k)                                                                             \
    __attribute__((noinline, used)) static int name(int x) {                                       \
        __asm__ volatile("" ::: "memory");                                                         \
        return x * (k) + (k);                                                                      \
    }
CT_FN(ct_fn_main, 3)
CT_FN(ct_fn_load_users, 5)
CT_FN(ct_fn_parse, 7)
CT_FN(ct_fn_grow, 11)
CT_FN(ct_fn_alloc, 13)
CT_FN(ct_fn_idle, 17)

enum { CT_MAIN, CT_LOAD_USERS, CT_PARSE, CT_GROW, CT_ALLOC, CT_IDLE, CT_NFN };
static const char *const ct_names[CT_NFN] = {"ct_fn_main", "ct_fn_load_users", "ct_fn_parse",
                                             "ct_fn_grow", "ct_fn_alloc",      "ct_fn_idle"};

static inline uint64_t ct_pc(int fn) {
    int (*const fns[CT_NFN])(int) = {ct_fn_main, ct_fn_load_users, ct_fn_parse,
                                     ct_fn_grow, ct_fn_alloc,      ct_fn_idle};
    return (uint64_t)(uintptr_t)fns[fn] + 2;
}

/* One sample: a stack of ct_fn indices, leaf first, and its values. */
typedef struct ct_sample {
    int depth;
    int stack[8];
    int64_t v[5];
    const char *label; /* optional string label "tag" */
} ct_sample;

/*
 * Write a profile of `kind` (pprof_config_for) with the given period and
 * comments (NULL-terminated list, may be NULL) to path.
 */
static inline void ct_write(const char *path, enum pprof_kind kind, int64_t period,
                            const char *const *comments, const ct_sample *s, size_t n) {
    pprof_builder_config cfg = {0};
    pprof_config_for(kind, period, &cfg);
    pprof_builder *b;
    pprof_error err = {0};
    CHECK_MSG(pprof_builder_new(&cfg, &b, &err) == 0, "builder: %s", err.msg);
    for (size_t i = 0; comments && comments[i]; i++)
        CHECK(pprof_builder_add_comment(b, comments[i], &err) == 0);
    for (size_t i = 0; i < n; i++) {
        uint64_t pcs[8];
        for (int j = 0; j < s[i].depth; j++)
            pcs[j] = ct_pc(s[i].stack[j]);
        pprof_label l = {"tag", s[i].label, 0, NULL};
        CHECK_MSG(pprof_builder_add_sample(b, pcs, (size_t)s[i].depth, s[i].v, &l,
                                           s[i].label ? 1 : 0, 0, &err) == 0,
                  "add_sample: %s", err.msg);
    }
    static pprof_mappings *maps;
    static pprof_symbolizer *sym;
    if (!maps) {
        CHECK(pprof_mappings_new(NULL, &maps, &err) == 0);
        CHECK_MSG(pprof_mappings_refresh(maps, &err) == 0, "%s", err.msg);
        CHECK(pprof_symbolizer_new(NULL, &sym, &err) == 0);
    }
    pprof_profile *p;
    CHECK_MSG(pprof_builder_finish(b, maps, sym, &p, &err) == 0, "finish: %s", err.msg);
    CHECK_MSG(pprof_profile_write_file(p, path, &err) == 0, "write: %s", err.msg);
    pprof_profile_free(p);
    pprof_builder_free(b);
}

/* A path in the test's private directory. */
static inline const char *ct_path(const char *name) {
    static char buf[8][1024];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", th_tmpdir(), name);
    return b;
}

static inline const char *ct_mapprof(void) {
    static char p[1024];
    snprintf(p, sizeof p, "%s/mapprof", th_build());
    return p;
}

/* Run `mapprof ARGS` (a shell fragment); *out gets stdout+stderr. */
#define CT_RUN(out, ...) ct_run_(out, __VA_ARGS__)
__attribute__((format(printf, 2, 3))) static inline int ct_run_(char **out, const char *fmt, ...) {
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return th_sh(out, "'%s' %s", ct_mapprof(), args);
}

/*
 * Run `mapprof ARGS`, check its exit status and (when contains is not
 * NULL) that its output contains a string; returns the output (free it).
 */
__attribute__((format(printf, 3, 4))) static inline char *ct_expect(int want, const char *contains,
                                                                    const char *fmt, ...) {
    char args[4096], *out;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int rc = th_sh(&out, "'%s' %s", ct_mapprof(), args);
    CHECK_MSG(rc == want, "mapprof %s: exit %d, want %d:\n%s", args, rc, want, out);
    if (contains)
        CHECK_CONTAINS(out, contains);
    return out;
}

/* ct_expect without keeping the output. */
#define CT_EXPECT(want, contains, ...) free(ct_expect((want), (contains), __VA_ARGS__))

/* The input-error rule: exit 2 and exactly one line starting "mapprof". */
#define CHECK_ONE_LINE_ERROR(rc, out)                                                              \
    do {                                                                                           \
        CHECK_MSG((rc) == 2, "exit %d, want 2; output:\n%s", (rc), (out));                         \
        CHECK_MSG(!strncmp((out), "mapprof", 7), "not a mapprof line:\n%s", (out));                \
        const char *nl_ = strchr((out), '\n');                                                     \
        CHECK_MSG(nl_ &&nl_[1] == 0, "not exactly one line:\n%s", (out));                          \
    } while (0)

/* Each mapprof command line (a shell fragment) is an input error. */
static inline void ct_check_errors(const char (*cases)[2048], size_t n) {
    for (size_t i = 0; i < n; i++) {
        char *out;
        int rc = CT_RUN(&out, "%s 2>&1 >/dev/null", cases[i]);
        CHECK_MSG(rc == 2, "%s: rc %d:\n%s", cases[i], rc, out);
        CHECK_ONE_LINE_ERROR(rc, out);
        free(out);
    }
}

#endif
