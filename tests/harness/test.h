/*
 * test.h — the project's test harness, shared by every module's tests.
 *
 * A test is a function registered by TEST(suite, name) from any file linked
 * into build/tests/runner; the runner (runner.c) forks each one into its own
 * process with a timeout, so a crash, abort or hang fails only that test.
 *
 * Checks never compile out (they do not use assert) and print both operands.
 * A failed check ends the test process at once with exit status 1.
 *
 * SKIP() ends a test as skipped (exit status 77). NEED_TOOL() skips when a
 * program is missing — except under CI=true, where a missing tool is a
 * failure, so CI can never go green by skipping the Go-dependent tests.
 */
#ifndef MAPPROF_TEST_H
#define MAPPROF_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*th_fn)(void);

void th_register(const char *suite, const char *name, th_fn fn, int timeout_s);
void th_register_alone(const char *suite, const char *name, th_fn fn, int timeout_s);
_Noreturn void th_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void th_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Register a test with the default timeout (60 s, scaled by the runner). */
#define TEST(suite, name) TEST_TIMEOUT(suite, name, 0)

#define TEST_TIMEOUT(suite, name, secs)                                                            \
    static void th_test_##suite##_##name(void);                                                    \
    __attribute__((constructor)) static void th_reg_##suite##_##name(void) {                       \
        th_register(#suite, #name, th_test_##suite##_##name, (secs));                              \
    }                                                                                              \
    static void th_test_##suite##_##name(void)

/* A test that measures the machine (CPU time shares): it starts when no
 * other test runs, and none starts beside it. */
#define TEST_ALONE(suite, name, secs)                                                              \
    static void th_test_##suite##_##name(void);                                                    \
    __attribute__((constructor)) static void th_reg_##suite##_##name(void) {                       \
        th_register_alone(#suite, #name, th_test_##suite##_##name, (secs));                        \
    }                                                                                              \
    static void th_test_##suite##_##name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            th_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                                       \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            th_fail(__FILE__, __LINE__, __VA_ARGS__);                                              \
    } while (0)

#define CHECK_EQ_I(a, b)                                                                           \
    do {                                                                                           \
        long long th_a = (long long)(a), th_b = (long long)(b);                                    \
        if (th_a != th_b)                                                                          \
            th_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, th_a, th_b);             \
    } while (0)

#define CHECK_EQ_U(a, b)                                                                           \
    do {                                                                                           \
        unsigned long long th_a = (unsigned long long)(a), th_b = (unsigned long long)(b);         \
        if (th_a != th_b)                                                                          \
            th_fail(__FILE__, __LINE__, "%s == %s: %llu != %llu", #a, #b, th_a, th_b);             \
    } while (0)

#define CHECK_EQ_S(a, b)                                                                           \
    do {                                                                                           \
        const char *th_a = (a), *th_b = (b);                                                       \
        if (!th_a || !th_b || strcmp(th_a, th_b) != 0)                                             \
            th_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,                      \
                    th_a ? th_a : "(null)", th_b ? th_b : "(null)");                               \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                                \
    do {                                                                                           \
        const char *th_h = (hay), *th_n = (needle);                                                \
        if (!th_h || !strstr(th_h, th_n))                                                          \
            th_fail(__FILE__, __LINE__, "%s does not contain \"%s\":\n%s", #hay, th_n,             \
                    th_h ? th_h : "(null)");                                                       \
    } while (0)

#define SKIP(...) th_skip(__VA_ARGS__)

/* Skip when `prog` is not on PATH; fail instead under CI=true. */
void th_need_tool(const char *prog);
#define NEED_TOOL(prog) th_need_tool(prog)

/* True when running under CI (CI=true in the environment). */
bool th_ci(void);

/* Repository root and build directory (set by make; fall back to . and ./build). */
const char *th_root(void);
const char *th_build(void);

/* A fresh private directory for this test's files, removed when it passes. */
const char *th_tmpdir(void);

/*
 * Run a shell command line (formatted like printf) and return its exit
 * status (or 128+signal). When out is non-NULL, *out receives everything the
 * command wrote to stdout and stderr, NUL-terminated (free() it).
 */
int th_sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Read a whole file into a NUL-terminated malloc'd buffer; NULL on error. */
char *th_read_file(const char *path, size_t *len);

/* Seed for randomized tests: TEST_SEED from the environment, else time-based;
 * printed once so a failure can be replayed. */
uint64_t th_seed(void);

#endif
