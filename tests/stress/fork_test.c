/*
 * fork_test.c — fork, fork+exec and vfork+exec storms under load (fixture
 * stress_fork.c): children are started from two threads at once while
 * three more allocate and lock, so fork often lands while a shim lock or
 * the allocator is busy in another thread.
 *
 * Checks: the parent's stdout (each child's exit status, in order) and
 * exit status are those of a run without the shim, so no child deadlocked
 * or crashed; the parent and every child wrote their own complete set of
 * five profiles under their own pid, all valid, and nothing else is in the
 * output directory (no temporary files, no profile under a wrong pid).
 */
#include "tests/stress/stress_util.h"

static void storm(const char *mode, int n, const char *env) {
    char pidfile[700], cmd[1600];
    snprintf(pidfile, sizeof pidfile, "%s/pids", st_dir());
    snprintf(cmd, sizeof cmd, "'%s' %s %d '%s'", st_bin("stress", "stress_fork"), mode, n, pidfile);
    st_result r = st_same(env, cmd);
    CHECK_EQ_I(r.rc, 0);
    CHECK_EQ_I(st_diag_lines(r.err), 0);
    st_files f = st_audit();
    st_check_complete(&f);
    CHECK_MSG(f.n_pids == n + 1, "%d pids wrote profiles, expected %d children + the parent",
              f.n_pids, n);
    /* Each child listed by the parent wrote under its own pid. */
    char *pids = th_read_file(pidfile, NULL);
    CHECK(pids != NULL);
    int listed = 0;
    for (char *p = pids; *p;) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        CHECK_MSG(st_kinds_of(&f, (int)pid) == ST_ALL_KIND, "child %ld wrote kinds 0x%x", pid,
                  st_kinds_of(&f, (int)pid));
        listed++;
        p = end + (*end == '\n');
    }
    CHECK_EQ_I(listed, n);
    free(pids);
    st_result_free(&r);
}

TEST_TIMEOUT(stress, fork_storm, 30) {
    storm("fork", 40, "MAPPROF_HEAP_RATE=1024");
}

TEST_TIMEOUT(stress, fork_exec_storm, 30) {
    storm("exec", 30, "MAPPROF_HEAP_RATE=1024");
}

/* fork, fork+exec and vfork+exec mixed, with the dump helper thread and a
 * signal handler in the parent (neither survives into a fork child). */
TEST_TIMEOUT(stress, mixed_spawn_storm_with_helper_thread, 30) {
    storm("mixed", 30, "MAPPROF_HEAP_RATE=1024 MAPPROF_SIGNAL=USR2 MAPPROF_INTERVAL=1");
}
