/*
 * dlopen_test.c — libraries loaded, used for allocation and unloaded while
 * the program keeps their blocks (fixture stress_dl.c, plugin
 * libstressplug.c built as _a and _b).
 *
 * dlopen_churn_symbolized: two threads load/allocate/dlclose the same
 * library 25 times each while a third allocates; with every allocation
 * sampled, the heap profile must hold exactly the 200 blocks of 1111 bytes
 * at the plugin's function, symbolized although the library is gone.
 *
 * dlopen_churn_during_signal_dumps: the same churn (150 rounds per thread)
 * while SIGUSR2 dumps are requested from outside every 10 ms, so dumps
 * refresh mappings and symbolize while libraries come and go.
 *
 * dlopen_reused_address_symbolized: library A and then library B are
 * loaded at the same address (the loader reuses the hole A left); blocks
 * allocated through A must be attributed to A's function, B's to B's (the
 * shim tags stacks with a generation advanced at each unload, and pprof/
 * moves A's old addresses into an alias mapping).
 */
#include "tests/stress/stress_util.h"

TEST_TIMEOUT(stress, dlopen_churn_symbolized, 30) {
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "'%s' churn '%s' 25", st_bin("stress", "stress_dl"),
             st_bin("stress", "libstressplug_a.so"));
    st_result r = st_same("MAPPROF_HEAP_RATE=1", cmd);
    CHECK_EQ_I(r.rc, 0);
    CHECK_EQ_S(r.out, "kept 200 blocks\n");
    CHECK_EQ_I(st_diag_lines(r.err), 0);
    st_files f = st_audit();
    CHECK_EQ_I(f.n_pids, 1);
    st_check_complete(&f);
    pprof_profile *p = st_load(st_prof(f.pid[0], "heap"));
    CHECK_EQ_I(st_sum(p, "inuse_objects", "plug_a_site", 1111), 200);
    CHECK_EQ_I(st_sum(p, "inuse_objects", "plug_alloc", 1111), 200);
    pprof_profile_free(p);
    st_result_free(&r);
}

TEST_TIMEOUT(stress, dlopen_churn_during_signal_dumps, 30) {
    char cmd[1600], loop[3000];
    snprintf(cmd, sizeof cmd, "'%s' churn '%s' 150", st_bin("stress", "stress_dl"),
             st_bin("stress", "libstressplug_a.so"));
    st_result plain = st_run(false, "", cmd);
    CHECK_EQ_S(plain.out, "kept 1200 blocks\n");
    st_with_signals(loop, sizeof loop, cmd);
    st_result shim = st_run(true, "MAPPROF_HEAP_RATE=1 MAPPROF_SIGNAL=USR2", loop);
    CHECK_EQ_I(shim.rc, plain.rc);
    CHECK_EQ_S(shim.out, plain.out);
    CHECK_EQ_I(st_diag_lines(shim.err), 0);
    long sent = st_read_long(st_dir(), "signals.sent");
    printf("%ld signals sent\n", sent);
    CHECK_MSG(sent >= 1, "no signal reached the process while it ran");
    st_files f = st_audit();
    CHECK_EQ_I(f.n_pids, 1);
    st_check_complete(&f);
    pprof_profile *p = st_load(st_prof(f.pid[0], "heap"));
    CHECK_MSG(st_has_comment(p, "reason=exit"), "the heap profile is not the final dump's");
    CHECK_EQ_I(st_sum(p, "inuse_objects", "plug_a_site", 1111), 1200);
    pprof_profile_free(p);
    st_result_free(&plain);
    st_result_free(&shim);
}

TEST_TIMEOUT(stress, dlopen_reused_address_symbolized, 30) {
    char cmd[1600], note[700];
    snprintf(note, sizeof note, "%s/note", st_dir());
    snprintf(cmd, sizeof cmd, "STRESS_DL_NOTE='%s' '%s' alternate '%s' '%s' 3", note,
             st_bin("stress", "stress_dl"), st_bin("stress", "libstressplug_a.so"),
             st_bin("stress", "libstressplug_b.so"));
    st_result r = st_same("MAPPROF_HEAP_RATE=1", cmd);
    CHECK_EQ_S(r.out, "kept 24 blocks\n");
    st_files f = st_audit();
    CHECK_EQ_I(f.n_pids, 1);
    char *n = th_read_file(note, NULL);
    printf("%s", n ? n : "no note\n");
    pprof_profile *p = st_load(st_prof(f.pid[0], "heap"));
    int64_t a_a = st_sum(p, "inuse_objects", "plug_a_site", 1111);
    int64_t b_b = st_sum(p, "inuse_objects", "plug_b_site", 2222);
    int64_t a_as_b = st_sum(p, "inuse_objects", "plug_b_site", 1111);
    int64_t b_as_a = st_sum(p, "inuse_objects", "plug_a_site", 2222);
    printf("A's blocks at A: %lld, at B: %lld; B's blocks at B: %lld, at A: %lld\n", (long long)a_a,
           (long long)a_as_b, (long long)b_b, (long long)b_as_a);
    CHECK_MSG(a_a == 12 && b_b == 12 && a_as_b == 0 && b_as_a == 0,
              "SHIM BUG: samples from an unloaded library are symbolized with the library "
              "loaded later at the same address (%s)",
              n ? n : "");
    free(n);
    pprof_profile_free(p);
    st_result_free(&r);
}
