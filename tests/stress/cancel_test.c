/*
 * cancel_test.c — deferred cancellation against the shim's hooks (fixture
 * stress_cancel.c): threads are cancelled only at pthread_testcancel,
 * never inside pthread_mutex_lock/unlock or malloc/free, which POSIX does
 * not make cancellation points. Under the shim the program must still end
 * with the same output and status (the fixture's watchdog turns a deadlock
 * into SIGALRM, status 142).
 *
 * It once deadlocked: when a lock is contended (or an allocation sampled)
 * the shim unwinds the stack with libunwind, which validates addresses
 * with read()/write() on a pipe, and those are cancellation points; a
 * pending cancel fired there, inside pthread_mutex_lock after the mutex
 * was taken, and the thread exited holding it. The shim now disables
 * cancellation around its own work.
 */
#include "tests/stress/stress_util.h"

TEST_TIMEOUT(stress, cancel_storm_no_deadlock, 60) {
    char cmd[800];
    snprintf(cmd, sizeof cmd, "'%s' 150", st_bin("stress", "stress_cancel"));
    st_result plain = st_run(false, "", cmd);
    CHECK_EQ_I(plain.rc, 0);
    CHECK_EQ_S(plain.out, "150 rounds, mutex free\n");
    st_result shim = st_run(true, "MAPPROF_HEAP_RATE=512", cmd);
    CHECK_MSG(shim.rc == plain.rc && !strcmp(shim.out, plain.out),
              "SHIM BUG: a pthread_cancel storm ended with status %d (142: deadlock, killed by "
              "the watchdog) and output \"%s\" under the shim; a thread was cancelled inside "
              "the shim's hook while holding the program's mutex",
              shim.rc, shim.out);
    st_files f = st_audit();
    CHECK_EQ_I(f.n_pids, 1);
    st_check_complete(&f);
    st_result_free(&plain);
    st_result_free(&shim);
}
