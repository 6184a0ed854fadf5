/*
 * mutex_test.c — the mutex and block profiles: contended sites appear
 * with their delay, and every lock's return code and errno are the same
 * with and without the shim for each mutex type.
 */
#include "tests/shim/shim_util.h"

TEST(shim, mutex_return_codes_pass_through) {
    char *plain = NULL, *shimmed = NULL;
    int rc1 = th_sh(&plain, "%s", su_fixture("mutexsem"));
    CHECK_MSG(rc1 == 0, "mutexsem fails without the shim:\n%s", plain);
    int rc2 = su_run(&shimmed, "", su_fixture("mutexsem"));
    CHECK_EQ_I(rc2, 0);
    CHECK_EQ_S(shimmed, plain);
    int pid = su_only_pid();
    CHECK(pid > 0);
    pprof_profile *b = su_load(su_prof(pid, "block"));
    /* Each contended() call waits ~50 ms for the holder. */
    int64_t waited = su_sum(b, "delay", "contended", -1);
    CHECK_MSG(waited >= 4 * 40000000LL, "block delay at contended(): %lld ns", (long long)waited);
    CHECK(su_sum(b, "contentions", "contended", -1) >= 4);
    pprof_profile_free(b);
    pprof_profile *m = su_load(su_prof(pid, "mutex"));
    /* The holder's unlock in hold_for_a_while ended those waits. */
    CHECK(su_sum(m, "delay", "hold_for_a_while", -1) >= 4 * 30000000LL);
    pprof_profile_free(m);
    free(plain);
    free(shimmed);
}

TEST(shim, mutex_contended_sites) {
    char *out = NULL;
    int rc = su_run(&out, "MAPPROF_PROFILES=mutex,block", su_fixture("threads"));
    CHECK_MSG(rc == 0, "%s", out);
    CHECK_CONTAINS(out, "counter 80000 writes 8000");
    int pid = su_only_pid_of("block");
    CHECK(pid > 0);
    CHECK_EQ_I(su_count_files("heap"), 0); /* MAPPROF_PROFILES honoured */
    pprof_profile *b = su_load(su_prof(pid, "block"));
    /* main's only contention: re-taking qmu inside its condition wait
     * after each worker's broadcast (at most one per worker). */
    int64_t at_main = su_sum(b, "contentions", "main", -1);
    CHECK_MSG(at_main <= 4, "%lld contentions in main", (long long)at_main);
    int64_t all = su_sum(b, "contentions", NULL, -1) - at_main;
    int64_t at_site =
        su_sum(b, "contentions", "contended_lock", -1) + su_sum(b, "contentions", "rw_section", -1);
    /* Nearly every worker event is at one of the two sites (the hand-off
     * lock may see a few). */
    CHECK_MSG(at_site * 10 >= all * 9, "%lld of %lld contentions at the sites", (long long)at_site,
              (long long)all);
    pprof_profile_free(b);
    su_go_raw_ok(su_prof(pid, "mutex"));
    su_go_raw_ok(su_prof(pid, "block"));
    free(out);
}
