/*
 * oom_test.c — no memory for the shim's own work (fixture faulty.c).
 *
 * exhausted_heap_at_exit: the host takes every byte RLIMIT_AS leaves and
 * exits holding it; the exit-time dump finds no memory.
 * signal_dump_without_memory_then_final_dump: a MAPPROF_SIGNAL dump runs
 * while RLIMIT_AS equals the current size; then the limit is lifted and the
 * final dump must write all five complete profiles.
 * no_memory_at_dump_keeps_host: RLIMIT_AS set just above the current size
 * at 33 margins (0 to 16 MiB in 512 KiB steps) right before exit, so that
 * the dump runs out of memory at every stage: building, symbolizing,
 * compressing, writing. The host is faulty_big, whose sampled blocks come
 * from a unit with a large line table, as in a real program built with -g.
 *
 * Always: same stdout and exit status (5) as without the shim, nothing
 * partial or temporary left, every file written valid. libdw, used for
 * symbolization during the dump, is not safe when malloc fails (it
 * segfaults, trips an assertion, or calls exit(1) from its OOM handler):
 * the shim now symbolizes only after a trial allocation of what libdw may
 * need succeeds, else writes addresses only. Measured before that fix: margins 6 to 9 MiB end with
 * status 1 and "libdw: Cannot allocate memory"; with MAPPROF_SYMBOLS=full and libc6-dbg installed,
 * also SIGABRT ("Unexpected error.") and, before 72c70db, SIGSEGV inside
 * dwarf_getsrclines.
 */
#include "tests/stress/stress_util.h"

static const char *faulty(void) {
    return st_bin("faults", "faulty");
}

TEST_TIMEOUT(faults, exhausted_heap_at_exit, 30) {
    char cmd[800];
    snprintf(cmd, sizeof cmd, "'%s' exhaust", faulty());
    st_result r = st_same("MAPPROF_HEAP_RATE=65536", cmd);
    CHECK_EQ_I(r.rc, 5);
    printf("shim said:\n%s", r.err);
    st_audit();
    st_result_free(&r);
}

TEST_TIMEOUT(faults, signal_dump_without_memory_then_final_dump, 30) {
    char cmd[800];
    snprintf(cmd, sizeof cmd, "'%s' as-signal", faulty());
    st_result r = st_same("MAPPROF_HEAP_RATE=4096 MAPPROF_SIGNAL=USR2", cmd);
    CHECK_EQ_I(r.rc, 5);
    printf("shim said:\n%s", r.err);
    st_files f = st_audit();
    CHECK_EQ_I(f.n_pids, 1);
    st_check_complete(&f);
    st_result_free(&r);
}

/* libdw must never get the chance to kill the host. */
TEST_TIMEOUT(faults, no_memory_at_dump_keeps_host, 60) {
    const char *big = st_bin("faults", "faulty_big");
    char cmd[800];
    snprintf(cmd, sizeof cmd, "'%s' as 0", big);
    st_result plain = st_run(false, "", cmd);
    CHECK_EQ_I(plain.rc, 5);
    CHECK_EQ_S(plain.out, "mode as total 120000\n");
    char bad[4000] = "";
    size_t nbad = 0;
    int written = 0;
    for (long margin_k = 0; margin_k <= 16384; margin_k += 512) {
        CHECK_EQ_I(th_sh(NULL, "rm -f '%s'/*", st_out()), 0);
        snprintf(cmd, sizeof cmd, "'%s' as %ld", big, margin_k * 1024);
        st_result r = st_run(true, "MAPPROF_HEAP_RATE=4096", cmd);
        if (r.rc != plain.rc || strcmp(r.out, plain.out) != 0) {
            char *nl = strchr(r.err, '\n');
            nbad += (size_t)snprintf(bad + nbad, sizeof bad - nbad,
                                     "  margin %ld KiB: status %d, stderr: %.*s\n", margin_k, r.rc,
                                     nl ? (int)(nl - r.err) : 200, r.err);
            if (nbad >= sizeof bad)
                nbad = sizeof bad - 1;
        }
        written += st_audit().n_files;
        st_result_free(&r);
    }
    printf("%d profiles written over all margins\n", written);
    /* The sweep must reach margins where the dump succeeds, or it proves
     * nothing about the stages in between. */
    CHECK_MSG(written > 0, "no margin left enough memory for a dump");
    CHECK_MSG(nbad == 0,
              "SHIM BUG: the host's exit changed when the dump ran out of memory (status %d "
              "without the shim):\n%s",
              plain.rc, bad);
    st_result_free(&plain);
}
