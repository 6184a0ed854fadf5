/*
 * config_test.c — MAPPROF_* parsing: defaults, valid values, and for every
 * kind of bad value exactly one "mapprof:" diagnostic naming the variable,
 * with the default kept. The environment is a table, not the process's.
 */
#include "tests/harness/test.h"

#include "shim/config.h"

#include <signal.h>

struct env {
    const char *kv[16][2];
    int ndiag;
    char last[512];
};

static const char *env_get(const char *name, void *ctx) {
    struct env *e = ctx;
    for (int i = 0; i < 16 && e->kv[i][0]; i++)
        if (!strcmp(e->kv[i][0], name))
            return e->kv[i][1];
    return NULL;
}

static void env_diag(const char *line, void *ctx) {
    struct env *e = ctx;
    e->ndiag++;
    snprintf(e->last, sizeof e->last, "%s", line);
}

static int parse1(shim_config *c, struct env *e, const char *cwd) {
    int n = shim_config_parse(c, env_get, env_diag, e, cwd);
    CHECK_EQ_I(n, e->ndiag);
    return n;
}

TEST(shim, config_defaults) {
    struct env e = {0};
    shim_config c;
    CHECK_EQ_I(parse1(&c, &e, "/work/dir"), 0);
    CHECK_EQ_S(c.out, "/work/dir/mapprof");
    /* every profile but cpu and threads, which must be named */
    CHECK_EQ_U(c.profiles,
               (1u << SHIM_PROF_COUNT) - 1 - (1u << SHIM_PROF_CPU) - (1u << SHIM_PROF_THREADS));
    CHECK_EQ_I(c.threads_signal, SIGRTMIN + 29);
    CHECK_EQ_U(c.cpu_hz, 100);
    CHECK_EQ_I(c.cpu_signal, SIGPROF);
    CHECK_EQ_U(c.heap_rate, 524288);
    CHECK_EQ_U(c.mutex_rate, 1);
    CHECK_EQ_U(c.grow_rate, 1);
    CHECK_EQ_U(c.depth, 64);
    CHECK_EQ_U(c.interval, 0);
    CHECK_EQ_I(c.signal, 0);
    CHECK(!c.seed_set);
    CHECK(!c.full_symbols);
    CHECK(!c.skip_empty);
}

TEST(shim, config_valid_values) {
    struct env e = {.kv = {{"MAPPROF_OUT", "out/prof"},
                           {"MAPPROF_PROFILES", "heap,grow"},
                           {"MAPPROF_HEAP_RATE", "1"},
                           {"MAPPROF_MUTEX_RATE", "10"},
                           {"MAPPROF_GROW_RATE", "3"},
                           {"MAPPROF_SEED", "0"},
                           {"MAPPROF_DEPTH", "32"},
                           {"MAPPROF_INTERVAL", "5"},
                           {"MAPPROF_SIGNAL", "SIGUSR2"},
                           {"MAPPROF_SYMBOLS", "full"},
                           {"MAPPROF_EMPTY", "skip"}}};
    shim_config c;
    CHECK_EQ_I(parse1(&c, &e, "/"), 0);
    CHECK_EQ_S(c.out, "/out/prof");
    CHECK_EQ_U(c.profiles, (1u << SHIM_PROF_HEAP) | (1u << SHIM_PROF_GROW));
    CHECK_EQ_U(c.heap_rate, 1);
    CHECK_EQ_U(c.mutex_rate, 10);
    CHECK_EQ_U(c.grow_rate, 3);
    CHECK(c.seed_set);
    CHECK_EQ_U(c.seed, 0);
    CHECK_EQ_U(c.depth, 32);
    CHECK_EQ_U(c.interval, 5);
    CHECK_EQ_I(c.signal, SIGUSR2);
    CHECK(c.full_symbols);
    CHECK(c.skip_empty);

    struct env abs = {.kv = {{"MAPPROF_OUT", "/tmp/x/p"}, {"MAPPROF_SIGNAL", "12"}}};
    CHECK_EQ_I(parse1(&c, &abs, "/elsewhere"), 0);
    CHECK_EQ_S(c.out, "/tmp/x/p");
    CHECK_EQ_I(c.signal, 12);
    struct env rt = {.kv = {{"MAPPROF_SIGNAL", "RTMIN+3"},
                            {"MAPPROF_PROFILES", "all"},
                            {"MAPPROF_EMPTY", "write"}}};
    CHECK_EQ_I(parse1(&c, &rt, "/"), 0);
    CHECK_EQ_I(c.signal, SIGRTMIN + 3);
    CHECK_EQ_U(c.profiles,
               (1u << SHIM_PROF_COUNT) - 1 - (1u << SHIM_PROF_CPU) - (1u << SHIM_PROF_THREADS));
    struct env cpu = {.kv = {{"MAPPROF_PROFILES", "all,cpu,threads"},
                             {"MAPPROF_CPU_HZ", "1000"},
                             {"MAPPROF_CPU_SIGNAL", "RTMIN+4"}}};
    CHECK_EQ_I(parse1(&c, &cpu, "/"), 0);
    CHECK_EQ_U(c.profiles, (1u << SHIM_PROF_COUNT) - 1);
    CHECK_EQ_U(c.cpu_hz, 1000);
    CHECK_EQ_I(c.cpu_signal, SIGRTMIN + 4);
    CHECK(!c.skip_empty);
}

/* One bad variable at a time: one line, naming it, and the default kept. */
TEST(shim, config_bad_values_fall_back) {
    static const char *bad[][2] = {
        {"MAPPROF_HEAP_RATE", "0"},
        {"MAPPROF_HEAP_RATE", "-5"},
        {"MAPPROF_HEAP_RATE", "12k"},
        {"MAPPROF_HEAP_RATE", ""},
        {"MAPPROF_HEAP_RATE", "99999999999999999999999"},
        {"MAPPROF_MUTEX_RATE", "0"},
        {"MAPPROF_GROW_RATE", "x"},
        {"MAPPROF_DEPTH", "0"},
        {"MAPPROF_DEPTH", "100000"},
        {"MAPPROF_INTERVAL", "1.5"},
        {"MAPPROF_SEED", "seed"},
        {"MAPPROF_SIGNAL", "SIGKILL"},
        {"MAPPROF_SIGNAL", "SEGV"},
        {"MAPPROF_SIGNAL", "NOPE"},
        {"MAPPROF_SIGNAL", "9999"},
        {"MAPPROF_PROFILES", "heap,gpu"},
        {"MAPPROF_CPU_HZ", "0"},
        {"MAPPROF_CPU_HZ", "1001"},
        {"MAPPROF_CPU_SIGNAL", "TSTP"},
        {"MAPPROF_CPU_SIGNAL", "SEGV"},
        {"MAPPROF_CPU_SIGNAL", "CHLD"},
        {"MAPPROF_THREADS_SIGNAL", "WINCH"},
        {"MAPPROF_PROFILES", ","},
        {"MAPPROF_OUT", ""},
        {"MAPPROF_OUT", "dir/"},
        {"MAPPROF_SYMBOLS", "lines"},
        {"MAPPROF_EMPTY", "no"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct env e = {.kv = {{bad[i][0], bad[i][1]}}};
        shim_config c, d;
        struct env none = {0};
        parse1(&d, &none, "/cwd");
        CHECK_MSG(parse1(&c, &e, "/cwd") == 1, "%s=\"%s\": %d diagnostics", bad[i][0], bad[i][1],
                  e.ndiag);
        CHECK_MSG(!strncmp(e.last, "mapprof: ", 9), "diagnostic: %s", e.last);
        CHECK_CONTAINS(e.last, bad[i][0]);
        CHECK_MSG(!memchr(e.last, '\n', strlen(e.last)), "one line: %s", e.last);
        /* Everything equals the defaults (a bad seed is "not set"). */
        CHECK_EQ_S(c.out, d.out);
        CHECK_EQ_U(c.profiles, d.profiles);
        CHECK_EQ_U(c.heap_rate, d.heap_rate);
        CHECK_EQ_U(c.mutex_rate, d.mutex_rate);
        CHECK_EQ_U(c.grow_rate, d.grow_rate);
        CHECK_EQ_U(c.depth, d.depth);
        CHECK_EQ_U(c.interval, d.interval);
        CHECK_EQ_I(c.signal, d.signal);
        CHECK_EQ_I(c.full_symbols, d.full_symbols);
        CHECK_EQ_I(c.skip_empty, d.skip_empty);
        CHECK(!c.seed_set);
    }
}

TEST(shim, config_long_out_is_rejected) {
    static char longp[PATH_MAX + 100];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    struct env e = {.kv = {{"MAPPROF_OUT", longp}}};
    shim_config c;
    CHECK_EQ_I(parse1(&c, &e, "/cwd"), 1);
    CHECK_EQ_S(c.out, "/cwd/mapprof");
}

/* The timeline's variables (MAPPROF_TRACE, _LOCK_NS, _CAP). */
TEST(shim, config_trace) {
    shim_config c;
    struct env none = {0};
    CHECK_EQ_I(parse1(&c, &none, "/"), 0);
    CHECK(!c.trace);
    CHECK_EQ_U(c.trace_lock_ns, 1000000);
    CHECK_EQ_U(c.trace_cap, 8192);
    struct env on = {.kv = {{"MAPPROF_TRACE", "1"},
                            {"MAPPROF_TRACE_LOCK_NS", "0"},
                            {"MAPPROF_TRACE_CAP", "16"}}};
    CHECK_EQ_I(parse1(&c, &on, "/"), 0);
    CHECK(c.trace);
    CHECK_EQ_U(c.trace_lock_ns, 0);
    CHECK_EQ_U(c.trace_cap, 16);
    struct env off = {.kv = {{"MAPPROF_TRACE", "0"}}};
    CHECK_EQ_I(parse1(&c, &off, "/"), 0);
    CHECK(!c.trace);
    static const char *bad[][2] = {
        {"MAPPROF_TRACE", "yes"},         {"MAPPROF_TRACE", "2"},
        {"MAPPROF_TRACE", "1 "},          {"MAPPROF_TRACE_LOCK_NS", "1ms"},
        {"MAPPROF_TRACE_LOCK_NS", "-1"},  {"MAPPROF_TRACE_CAP", "15"},
        {"MAPPROF_TRACE_CAP", "9999999"}, {"MAPPROF_TRACE_CAP", "x"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct env e = {.kv = {{bad[i][0], bad[i][1]}}};
        CHECK_MSG(parse1(&c, &e, "/") == 1, "%s=%s: %d lines", bad[i][0], bad[i][1], e.ndiag);
        CHECK_MSG(!strncmp(e.last, "mapprof: ", 9) && strstr(e.last, bad[i][0]), "line: %s",
                  e.last);
        CHECK(!c.trace);
        CHECK_EQ_U(c.trace_lock_ns, 1000000);
        CHECK_EQ_U(c.trace_cap, 8192);
    }
}
