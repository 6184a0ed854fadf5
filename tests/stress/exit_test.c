/*
 * exit_test.c — every way a process ends, with four threads allocating and
 * locking at that moment (fixture stress_exit.c): return from main,
 * exit(), _exit(), _Exit(), quick_exit(), abort(), exit() from a non-main
 * thread, pthread_exit() from main.
 *
 * For every way: no deadlock (timeout), the exit status and stdout of a
 * run without the shim, and whatever was written is complete and valid
 * with no temporary file left. Where the process ends through exit
 * handlers or _exit/_Exit (which the shim interposes), the five profiles
 * must be there. abort() ends without any handler: files are optional but
 * must be valid if present.
 *
 * quick_exit() runs at_quick_exit handlers and then glibc's internal _exit,
 * not the interposed one: the shim registers its final dump with
 * at_quick_exit too, and quick_exit_writes_profiles checks it.
 *
 * exit() from a thread with a PTHREAD_STACK_MIN (16 KiB) stack, or from
 * main with `ulimit -s 128`, runs the final dump on that stack; libdw's
 * dwarf_getsrclines needs more (its line tables start on the stack): the
 * shim runs dumps on a stack of its own, which final_dump_on_small_stack
 * checks (the host died of SIGSEGV before).
 *
 * exit() from a signal handler that interrupted the shim's own sampling
 * code (which holds a shim lock): the final dump, run by that same thread,
 * would spin forever on the lock the interrupted code holds; the shim
 * skips that dump with one line instead. The fixture's watchdog turns a
 * hang into status 111; before the fix about one run in three hung, so
 * exit_in_signal_handler runs 20 and stops at the first bad one.
 *
 * The final dump must be the one that produced the files: the heap
 * profile's comment says reason=exit (a leftover periodic or signal dump
 * would say otherwise).
 */
#include "tests/stress/stress_util.h"

/* The files of the only pid are complete and come from the final dump. */
static void check_final(const st_files *f, const char *mode) {
    CHECK_MSG(f->n_pids == 1, "%s: %d pids wrote profiles", mode, f->n_pids);
    st_check_complete(f);
    pprof_profile *p = st_load(st_prof(f->pid[0], "heap"));
    CHECK_MSG(st_has_comment(p, "reason=exit"), "%s: the heap profile is not the final dump's",
              mode);
    pprof_profile_free(p);
}

static void check_final_files(const char *mode) {
    st_files f = st_audit();
    check_final(&f, mode);
}

static st_files run_mode(const char *mode) {
    CHECK_EQ_I(th_sh(NULL, "rm -f '%s'/*", st_out()), 0);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "'%s' %s", st_bin("stress", "stress_exit"), mode);
    st_result r = st_same("MAPPROF_HEAP_RATE=4096", cmd);
    CHECK_MSG(strstr(r.out, "ending by"), "%s: no output", mode);
    CHECK_EQ_I(st_diag_lines(r.err), 0);
    printf("%s: status %d\n", mode, r.rc);
    st_result_free(&r);
    return st_audit();
}

TEST_TIMEOUT(stress, exit_paths_keep_status_and_flush, 60) {
    static const char *const flushing[] = {"return", "exit",        "_exit",
                                           "_Exit",  "thread_exit", "pthread_exit"};
    for (size_t i = 0; i < sizeof flushing / sizeof flushing[0]; i++) {
        st_files f = run_mode(flushing[i]);
        check_final(&f, flushing[i]);
    }
    /* No handler runs: nothing to demand but validity and no leftovers. */
    st_files f = run_mode("abort");
    CHECK_MSG(f.n_pids <= 1, "abort: %d pids wrote profiles", f.n_pids);
    f = run_mode("quick_exit");
    CHECK_MSG(f.n_pids <= 1, "quick_exit: %d pids wrote profiles", f.n_pids);
}

/* quick_exit() flushes through at_quick_exit. */
TEST_TIMEOUT(stress, quick_exit_writes_profiles, 30) {
    st_files f = run_mode("quick_exit");
    CHECK_MSG(f.n_pids == 1,
              "SHIM BUG: quick_exit() wrote no profile (%d pids): the at_quick_exit path "
              "reaches glibc's internal _exit, which the shim does not see",
              f.n_pids);
    check_final(&f, "quick_exit");
}

/* The final dump must not run on the exiting thread's own stack: a 16 KiB
 * thread stack, and a 128 KiB main stack (`ulimit -s 128`, with which the
 * fixture runs fine by itself). */
TEST_TIMEOUT(stress, final_dump_on_small_stack, 30) {
    static const char *const cases[][2] = {
        {"", "small_stack_exit"},
        {"ulimit -s 128 && ", "return"},
    };
    char bad[1000] = "";
    size_t nbad = 0;
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_I(th_sh(NULL, "rm -f '%s'/*", st_out()), 0);
        char cmd[800];
        snprintf(cmd, sizeof cmd, "%s'%s' %s", cases[i][0], st_bin("stress", "stress_exit"),
                 cases[i][1]);
        st_result plain = st_run(false, "", cmd);
        st_result shim = st_run(true, "MAPPROF_HEAP_RATE=4096", cmd);
        CHECK_MSG(plain.rc == (i == 0 ? 8 : 3), "%s: status %d without the shim", cmd, plain.rc);
        printf("%s: status %d without the shim, %d with\n", cmd, plain.rc, shim.rc);
        if (shim.rc != plain.rc)
            nbad += (size_t)snprintf(bad + nbad, sizeof bad - nbad,
                                     "  %s%s: status %d under the shim, %d without\n", cases[i][0],
                                     cases[i][1], shim.rc, plain.rc);
        else
            check_final_files(cases[i][1]);
        st_result_free(&plain);
        st_result_free(&shim);
    }
    CHECK_MSG(nbad == 0,
              "SHIM BUG: the final dump overflowed a small stack (139 = SIGSEGV, in libdw's "
              "dwarf_getsrclines):\n%s",
              bad);
}

/* A final dump started by a thread interrupted inside the shim must not
 * wait for that thread's own lock. */
TEST_TIMEOUT(stress, exit_in_signal_handler, 60) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "i=0; rc=10; while [ $i -lt 20 ]; do '%s' signal_exit >/dev/null; rc=$?; "
             "[ $rc = 10 ] || break; i=$((i + 1)); done; echo \"runs $i status $rc\"",
             st_bin("stress", "stress_exit"));
    st_result plain = st_run(false, "", cmd);
    CHECK_EQ_S(plain.out, "runs 20 status 10\n");
    st_result shim = st_run(true, "MAPPROF_HEAP_RATE=1", cmd);
    CHECK_MSG(!strcmp(shim.out, plain.out),
              "SHIM BUG: exit() from a SIGALRM handler hung under the shim (%s; status 111 = "
              "killed by the fixture's watchdog after 3 s): the final dump waits for a shim lock "
              "held by the code the signal interrupted",
              shim.out);
    st_audit();
    st_result_free(&plain);
    st_result_free(&shim);
}
