/*
 * mutex_test.c — the mutex and block profiles: contended sites appear
 * with their delay, and every lock's return code and errno are the same
 * with and without the shim for each mutex type; default mutexes, which
 * the shim locks itself, hold exactly glibc's bytes at every step.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

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
    /* Every other worker event is at the hand-off lock, which each of the
     * 4 workers takes once. (A ratio failed when a loaded machine ran the
     * workers one after another: 2 of 4 events at the sites.) */
    CHECK_MSG(all - at_site <= 4, "%lld of %lld contentions at the sites", (long long)at_site,
              (long long)all);
    pprof_profile_free(b);
    su_go_raw_ok(su_prof(pid, "mutex"));
    su_go_raw_ok(su_prof(pid, "block"));
    free(out);
}

/* Every profile file of the run in su_dir() says whether the shim's own
 * lock and unlock for default mutexes were on ("mutex_inline=1"). */
static void all_say(const char *what) {
    DIR *d = opendir(su_dir());
    CHECK(d != NULL);
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, ".pb.gz"))
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", su_dir(), e->d_name);
        pprof_profile *p = su_load(path);
        const pprof_pb_profile *m = pprof_profile_msg(p);
        CHECK(m->n_comment >= 2);
        CHECK_CONTAINS(pprof_profile_str(p, m->comment[1]), what);
        pprof_profile_free(p);
        files++;
    }
    closedir(d);
    CHECK(files >= 2); /* the parent's and the fork child's */
}

TEST(shim, mutex_default_kind_fields_match_glibc) {
    char *plain = NULL, *shimmed = NULL, *quiet = NULL;
    int rc = th_sh(&plain, "%s", su_fixture("mutexwords"));
    CHECK_MSG(rc == 0, "mutexwords fails without the shim:\n%s", plain);
    CHECK_CONTAINS(plain, "all agree");
    /* Default profiles: sampled waiters switch unlocks to the charging
     * path now and then. */
    rc = su_run(&shimmed, "MAPPROF_PROFILES=heap,mutex", su_fixture("mutexwords"));
    CHECK_EQ_I(rc, 0);
    CHECK_EQ_S(shimmed, plain);
    all_say("mutex_inline=1");
    /* No lock profile: every unlock is the shim's own, sleepers or not. */
    rc = su_run(&quiet, "MAPPROF_PROFILES=heap", su_fixture("mutexwords"));
    CHECK_EQ_I(rc, 0);
    CHECK_EQ_S(quiet, plain);
    free(plain);
    free(shimmed);
    free(quiet);
}

/* Another interposer of lock/unlock preloaded after the shim: the shim
 * forwards every call to it (no own fast path), and destroyed mutexes
 * still fail with EINVAL as in glibc. */
TEST(shim, mutex_next_interposer_sees_every_lock) {
    char *plain = NULL, *out = NULL;
    int rc = th_sh(&plain, "%s", su_fixture("mutexwords"));
    CHECK_MSG(rc == 0, "mutexwords fails without the shim:\n%s", plain);
    char lib[600];
    snprintf(lib, sizeof lib, "%s/tests/shim/libfwdlock.so", th_build());
    rc = th_sh(&out, "cd '%s' && env LD_PRELOAD='%s %s' MAPPROF_OUT='%s/mp' %s", su_dir(), su_so(),
               lib, su_dir(), su_fixture("mutexwords"));
    CHECK_MSG(rc == 0, "%s", out);
    CHECK_CONTAINS(out, "all agree");
    CHECK_CONTAINS(out, "fwdlock: saw the locks");
    all_say("mutex_inline=0");
    free(plain);
    free(out);
}
