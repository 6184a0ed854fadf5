/*
 * tsan_test.c — libgomap's concurrent-misuse detection under ThreadSanitizer.
 *
 * Runs the scenarios of tests/tsan/progs/racer.c (built with -fsanitize=thread
 * by tsan.mk) and checks two things:
 * - misuse still ends in Go's fatal error (SIGABRT and the exact message)
 *   under TSan, and the choreographed cases produce no TSan report on the way:
 *   the only cross-thread access before the throw is the hashWriting flag, so
 *   a report there would mean the flag is a plain access (a data race, UB in
 *   C) rather than the relaxed atomic the design calls for;
 * - correct concurrent use (readers only; writers behind a mutex; readers and
 *   a writer behind a rwlock; per-thread maps) produces no report at all,
 *   with halt_on_error=1 so the first report fails the run (exit 66).
 * A control runs a program with a deliberate race and expects a report, so
 * these tests can fail: TSan is active, and its reports reach the harness.
 * No suppressions: the one race these tests found in map/ (two readers
 * ending iterators at once, both freeing parked memory) is fixed.
 */
#include "tests/harness/test.h"

#include <stdlib.h>

/* 66: TSan found something (exitcode=66); 134: SIGABRT via the shell. */
enum { TSAN_EXIT = 66, ABORTED = 128 + 6 };

static int run(char **out, const char *scenario, const char *extra_opts) {
    return th_sh(out,
                 "TSAN_OPTIONS='halt_on_error=1 exitcode=%d second_deadlock_stack=1 %s' "
                 "timeout -s KILL 120 '%s/tsan/racer' %s",
                 TSAN_EXIT, extra_opts, th_build(), scenario);
}

static void expect_clean(const char *scenario) {
    char *out = NULL;
    int rc = run(&out, scenario, "");
    CHECK_MSG(rc == 0 && !strstr(out, "WARNING: ThreadSanitizer"),
              "racer %s: exit %d, want 0 and no TSan report:\n%s", scenario, rc, out);
    free(out);
}

static void expect_fatal(const char *scenario, const char *msg, bool clean) {
    char *out = NULL;
    int rc = run(&out, scenario, clean ? "" : "halt_on_error=0 report_bugs=0");
    char want[128];
    snprintf(want, sizeof want, "fatal error: %s\n", msg);
    CHECK_MSG(rc == ABORTED && strstr(out, want) != NULL,
              "racer %s: exit %d, want %d (SIGABRT) after \"%s\":\n%s", scenario, rc, ABORTED, msg,
              out);
    /* The throw must not be preceded by a different fatal message. */
    CHECK_MSG(strstr(out, "fatal error: ") == strstr(out, want), "racer %s:\n%s", scenario, out);
    if (clean)
        CHECK_MSG(!strstr(out, "ThreadSanitizer"), "racer %s: TSan reported before the throw:\n%s",
                  scenario, out);
    free(out);
}

TEST(tsan, control_deliberate_race_is_reported) {
    char *out = NULL;
    int rc = run(&out, "racy", "");
    CHECK_MSG(rc == TSAN_EXIT, "racer racy: exit %d, want %d:\n%s", rc, TSAN_EXIT, out);
    CHECK_CONTAINS(out, "WARNING: ThreadSanitizer: data race");
    CHECK_CONTAINS(out, "g_plain_counter");
    free(out);
}

TEST(tsan, fatal_write_write) {
    expect_fatal("ww", "concurrent map writes", true);
}

TEST(tsan, fatal_delete_write) {
    expect_fatal("dw", "concurrent map writes", true);
}

TEST(tsan, fatal_clear_write) {
    expect_fatal("cw", "concurrent map writes", true);
}

TEST(tsan, fatal_read_write) {
    expect_fatal("rw", "concurrent map read and map write", true);
}

TEST(tsan, fatal_iterate_write) {
    expect_fatal("iw", "concurrent map iteration and map write", true);
}

/* Free-running writers race on the map's data too, which TSan would report
 * (and halt on); only the outcome matters here. */
TEST_TIMEOUT(tsan, fatal_free_running_writers, 150) {
    expect_fatal("ww_free", "concurrent map writes", false);
}

TEST(tsan, clean_readers_only) {
    expect_clean("readers");
}

TEST(tsan, clean_writers_behind_mutex) {
    expect_clean("mutex");
}

TEST(tsan, clean_readers_and_writer_behind_rwlock) {
    expect_clean("rwlock");
}

TEST(tsan, clean_per_thread_maps) {
    expect_clean("perthread");
}
