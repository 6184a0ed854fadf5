/*
 * threads_test.c — the threads profile against what the program knows:
 * four threads blocked on one mutex held by a fifth show up waiting on
 * that address at their call site, for as long as the program measured
 * (within 10 %); the holder, blocked in read(), is in a syscall; a
 * sleeper in nanosleep is described without being signalled. Captures
 * never make read() fail with EINTR; how often poll and nanosleep do is
 * measured and printed (the race documented in threads.c).
 */
#include "tests/shim/shim_util.h"

static const char *str_label(const pprof_profile *p, const pprof_pb_sample *s, const char *key) {
    for (size_t i = 0; i < s->n_label; i++)
        if (!strcmp(pprof_profile_str(p, s->label[i]->key), key))
            return pprof_profile_str(p, s->label[i]->str);
    return NULL;
}

TEST_TIMEOUT(shim, threads_lock_waiters_and_syscalls, 60) {
    char *out = NULL;
    int rc = su_run(&out, "MAPPROF_PROFILES=threads MAPPROF_EMPTY=skip", su_fixture("lockwait"));
    CHECK_MSG(rc == 0, "lockwait failed:\n%s", out);
    CHECK_CONTAINS(out, "dump 0\n");
    unsigned long long lock = 0;
    const char *l = strstr(out, "lock 0x");
    CHECK(l && sscanf(l, "lock %llx", &lock) == 1);
    long long waited[4];
    for (int i = 0; i < 4; i++) {
        char key[32];
        snprintf(key, sizeof key, "waited %d ", i);
        const char *w = strstr(out, key);
        CHECK(w && sscanf(w + strlen(key), "%lld", &waited[i]) == 1);
    }
    int pid = su_only_pid_of("threads");
    CHECK(pid > 0);
    const char *path = su_prof(pid, "threads");
    pprof_profile *p = su_load(path);
    const pprof_pb_profile *m = pprof_profile_msg(p);
    CHECK_EQ_S(pprof_profile_str(p, m->sample_type[0]->type), "threads");
    int waiters = 0, holder = 0, sleeper = 0;
    char want[32];
    snprintf(want, sizeof want, "%#llx", lock);
    for (size_t i = 0; i < m->n_sample; i++) {
        const pprof_pb_sample *s = m->sample[i];
        const char *name = str_label(p, s, "thread"), *state = str_label(p, s, "state");
        CHECK(name && state);
        CHECK_EQ_I(s->value[0], 1);
        if (!strncmp(name, "waiter-", 7)) {
            int idx = name[7] - '0';
            CHECK_EQ_S(state, "mutex");
            CHECK_EQ_S(str_label(p, s, "lock"), want);
            CHECK(su_has_frame(p, s, "wait_for_lock"));
            CHECK(!su_has_frame(p, s, "shim_contended")); /* the shim's frames are left out */
            int64_t w = su_num_label(p, s, "wait");
            printf("%s waited %lld ns (program: %lld)\n", name, (long long)w, waited[idx]);
            CHECK_MSG(w >= waited[idx] * 9 / 10 && w <= waited[idx] * 11 / 10, "%s wait off", name);
            waiters++;
        } else if (!strcmp(name, "holder")) {
            CHECK_EQ_S(state, "syscall");
            CHECK_EQ_S(str_label(p, s, "syscall"), "read");
            CHECK(su_has_frame(p, s, "hold_until_told"));
            holder++;
        } else if (!strcmp(name, "sleeper")) {
            CHECK_EQ_S(state, "syscall");
            CHECK_EQ_S(str_label(p, s, "syscall"), "clock_nanosleep");
            sleeper++;
        }
    }
    CHECK_EQ_I(waiters, 4);
    CHECK_EQ_I(holder, 1);
    CHECK_EQ_I(sleeper, 1);
    pprof_profile_free(p);
    NEED_TOOL("go");
    char *chk = NULL;
    CHECK_MSG(th_sh(&chk, "'%s/pprofcheck' '%s'", th_build(), path) == 0, "%s", chk);
    free(chk);
    su_go_raw_ok(path);
    free(out);
}

TEST_TIMEOUT(shim, threads_captures_and_eintr, 60) {
    char *out = NULL;
    int rc =
        su_run(&out, "MAPPROF_PROFILES=threads MAPPROF_EMPTY=skip", su_fixture("quietsys 100"));
    CHECK_MSG(rc == 0, "%s", out);
    int caps = 0;
    long ns = -1, po = -1, rd = -1, calls = 0;
    const char *l = strstr(out, "captures ");
    CHECK(l && sscanf(l, "captures %d eintr nanosleep %ld poll %ld read %ld calls %ld", &caps, &ns,
                      &po, &rd, &calls) == 5);
    printf("100 captures: EINTR nanosleep %ld, poll %ld, read %ld (of %ld calls)\n", ns, po, rd,
           calls);
    CHECK_EQ_I(caps, 100);
    CHECK_EQ_I(rd, 0);
    /* Threads seen blocked in poll or nanosleep are not signalled; only
     * one that /proc shows runnable while still inside the call (woken,
     * not yet on a CPU) can be cut short. */
    CHECK_MSG(ns + po <= 30, "EINTR in %ld of 100 captures", ns + po);
    free(out);
}

/* Without the signal (the program owns it), captures still list every
 * thread from /proc, with one line saying why. */
TEST_TIMEOUT(shim, threads_without_the_signal, 60) {
    char *out = NULL, cmd[700];
    snprintf(cmd, sizeof cmd, "sh -c \"trap '' USR1; exec %s\"", su_fixture("lockwait"));
    int rc = su_run(&out, "MAPPROF_PROFILES=threads MAPPROF_EMPTY=skip MAPPROF_THREADS_SIGNAL=USR1",
                    cmd);
    CHECK_MSG(rc == 0, "%s", out);
    CHECK_CONTAINS(out, "mapprof: threads: signal 10 is in use");
    int pid = su_only_pid_of("threads");
    CHECK(pid > 0);
    pprof_profile *p = su_load(su_prof(pid, "threads"));
    const pprof_pb_profile *m = pprof_profile_msg(p);
    CHECK_EQ_I(m->n_sample, 6);
    for (size_t i = 0; i < m->n_sample; i++)
        CHECK_EQ_S(str_label(p, m->sample[i], "state"), "no_answer");
    pprof_profile_free(p);
    free(out);
}
