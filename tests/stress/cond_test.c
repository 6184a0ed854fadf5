/*
 * cond_test.c — condition variables under the shim (fixture
 * stress_cond.c): producers and consumers on a bounded queue with every
 * kind of wait, signal and broadcast, and idle waiters cancelled while a
 * wake-up is in flight. The shim's condition-wait hooks keep per-cond
 * counts of woken waiters; any imbalance or a lock order mistake there
 * shows as a hang (SIGALRM from the fixture's watchdog, status 142), a
 * wrong sum, or a mutex left locked. Run at two mutex rates, since a
 * sampled wake-up takes a different path from an unsampled one.
 */
#include "tests/stress/stress_util.h"

TEST_TIMEOUT(stress, cond_queue_and_cancel, 90) {
    char cmd[800];
    snprintf(cmd, sizeof cmd, "'%s' 15", st_bin("stress", "stress_cond"));
    st_result plain = st_run(false, "", cmd);
    CHECK_EQ_I(plain.rc, 0);
    CHECK_EQ_S(plain.out, "15 rounds of 6000 items, mutex free\n");
    const char *envs[] = {"MAPPROF_MUTEX_RATE=1 MAPPROF_HEAP_RATE=4096", "MAPPROF_MUTEX_RATE=3"};
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_I(th_sh(NULL, "rm -f '%s'/mp.*", st_out()), 0);
        st_result shim = st_run(true, envs[i], cmd);
        CHECK_MSG(shim.rc == plain.rc && !strcmp(shim.out, plain.out),
                  "SHIM BUG (%s): status %d (142: hang, killed by the watchdog), output \"%s\"",
                  envs[i], shim.rc, shim.out);
        st_files f = st_audit();
        CHECK_EQ_I(f.n_pids, 1);
        st_check_complete(&f);
        st_result_free(&shim);
    }
    st_result_free(&plain);
}
