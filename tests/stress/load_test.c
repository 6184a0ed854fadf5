/*
 * load_test.c — the shim under concurrent load (fixture stress_load.c):
 * many threads allocating through every malloc entry point and contending
 * on a mutex, an rwlock and a condition variable; threads starting and
 * exiting while dumps run, dumps triggered by MAPPROF_SIGNAL (sent by the
 * process itself every 2 ms, or from outside) and by MAPPROF_INTERVAL.
 *
 * Each test checks what the host sees (same stdout, stderr and exit status
 * as without the shim: no deadlock, no crash, no lost work), that every
 * file left in the output directory is a complete, valid profile with no
 * temporary file beside it, and for dump tests that intermediate versions
 * really were written and are valid too (the fixture hard-links each new
 * version before the next rename replaces it).
 *
 * Timeouts are far above the normal run time (about 1-3 s each on a loaded
 * 2-core machine): hitting one means a deadlock.
 */
#include "tests/stress/stress_util.h"

static const char *fixture(void) {
    return st_bin("stress", "stress_load");
}

/* The only pid that wrote profiles, which must be all five, written by
 * the final dump (not left over from a signal or periodic one: the final
 * dump must not be skipped because another dump was running). */
static int only_complete_pid(const st_files *f) {
    CHECK_EQ_I(f->n_pids, 1);
    st_check_complete(f);
    pprof_profile *p = st_load(st_prof(f->pid[0], "heap"));
    CHECK_MSG(st_has_comment(p, "reason=exit"), "the heap profile is not the final dump's");
    pprof_profile_free(p);
    return f->pid[0];
}

TEST_TIMEOUT(stress, threads_alloc_and_lock, 30) {
    char cmd[800];
    snprintf(cmd, sizeof cmd, "'%s' 16 30000 churn 10", fixture());
    st_result r = st_same("MAPPROF_HEAP_RATE=2048", cmd);
    CHECK_EQ_I(st_diag_lines(r.err), 0);
    st_files f = st_audit();
    int pid = only_complete_pid(&f);
    pprof_profile *heap = st_load(st_prof(pid, "heap"));
    CHECK_MSG(st_sum(heap, "alloc_objects", "work", -1) > 1000,
              "too few heap samples in work(): %lld",
              (long long)st_sum(heap, "alloc_objects", "work", -1));
    pprof_profile_free(heap);
    pprof_profile *block = st_load(st_prof(pid, "block"));
    CHECK_MSG(st_sum(block, "contentions", NULL, -1) > 0, "no contention recorded");
    pprof_profile_free(block);
    st_result_free(&r);
}

/* Every allocation sampled: the slow path (unwind, table insert) runs on
 * every call of every thread at once. */
TEST_TIMEOUT(stress, threads_every_allocation_sampled, 30) {
    char cmd[800];
    snprintf(cmd, sizeof cmd, "'%s' 8 8000 churn 4", fixture());
    st_result r = st_same("MAPPROF_HEAP_RATE=1", cmd);
    CHECK_EQ_I(st_diag_lines(r.err), 0);
    st_files f = st_audit();
    int pid = only_complete_pid(&f);
    pprof_profile *heap = st_load(st_prof(pid, "heap"));
    /* 8 workers x 8000 + 4 waves x 4 x (300 + 200) iterations, one
     * allocation each, plus realloc's second block in 1 of 6. */
    CHECK_MSG(st_sum(heap, "alloc_objects", "work", -1) >= 8 * 8000 + 16 * 500,
              "alloc_objects in work(): %lld",
              (long long)st_sum(heap, "alloc_objects", "work", -1));
    pprof_profile_free(heap);
    st_result_free(&r);
}

/* Run the fixture in watch mode; returns the versions it saw and audits
 * them. */
static long watched_run(const char *env, const char *extra) {
    char links[700], cmd[2000];
    snprintf(links, sizeof links, "%s/links", st_dir());
    CHECK_EQ_I(th_sh(NULL, "mkdir -p '%s'", links), 0);
    snprintf(cmd, sizeof cmd, "'%s' 6 20000 churn 6 watch '%s' %s", fixture(), links, extra);
    st_result r = st_same(env, cmd);
    CHECK_EQ_I(st_diag_lines(r.err), 0);
    st_files f = st_audit();
    only_complete_pid(&f);
    long versions = st_read_long(st_dir(), "links.versions");
    st_files lf = st_audit_dir(links, "mp");
    printf("%ld heap versions seen, %d intermediate files valid\n", versions, lf.n_files);
    CHECK_MSG(lf.n_files >= versions, "%d files linked for %ld versions", lf.n_files, versions);
    st_result_free(&r);
    return versions;
}

TEST_TIMEOUT(stress, thread_churn_during_signal_dumps, 30) {
    long v = watched_run("MAPPROF_SIGNAL=USR2 MAPPROF_HEAP_RATE=4096", "signal");
    CHECK_MSG(v >= 3, "only %ld signal dumps observed while threads came and went", v);
}

TEST_TIMEOUT(stress, thread_churn_during_interval_dumps, 30) {
    long v = watched_run("MAPPROF_INTERVAL=1 MAPPROF_HEAP_RATE=4096", "");
    CHECK_MSG(v >= 2, "only %ld interval dumps observed in the run", v);
}

/*
 * Signals from outside, as an operator would send them, while 12 threads
 * allocate and lock and threads come and go; the fixture keeps working
 * until it has seen three signal dumps land.
 */
TEST_TIMEOUT(stress, external_signals_under_load, 30) {
    char links[700], cmd[1600];
    snprintf(links, sizeof links, "%s/links", st_dir());
    CHECK_EQ_I(th_sh(NULL, "mkdir -p '%s'", links), 0);
    snprintf(cmd, sizeof cmd, "'%s' 12 30000 churn 10 watch '%s'", fixture(), links);
    st_result plain = st_run(false, "", cmd);
    CHECK_EQ_I(plain.rc, 0);
    char loop[3000];
    st_with_signals(loop, sizeof loop, cmd);
    st_result shim = st_run(true, "MAPPROF_SIGNAL=USR2 MAPPROF_HEAP_RATE=4096", loop);
    CHECK_EQ_I(shim.rc, plain.rc);
    CHECK_EQ_S(shim.out, plain.out);
    CHECK_EQ_I(st_diag_lines(shim.err), 0);
    long sent = st_read_long(st_dir(), "signals.sent");
    long versions = st_read_long(st_dir(), "links.versions");
    printf("%ld signals sent, %ld heap versions seen\n", sent, versions);
    CHECK_MSG(versions >= 3, "only %ld signal dumps observed (%ld signals sent)", versions, sent);
    st_files f = st_audit();
    only_complete_pid(&f);
    st_audit_dir(links, "mp");
    st_result_free(&plain);
    st_result_free(&shim);
}
