/*
 * diag_test.c — how much the shim says when a dump fails: one clear line
 * per failed dump, not one per profile kind, and not again at every
 * interval for the same cause.
 *
 * Each case runs the fixture once with a fault that makes every write of
 * a dump fail (missing directory, EFBIG at the first byte, no memory) and
 * counts `mapprof:` lines; the interval case keeps the process alive for
 * 2.5 s with MAPPROF_INTERVAL=1 and a missing directory (two periodic
 * dumps and the final one, all failing the same way).
 *
 * The shim once printed one line per profile kind per dump (five per dump,
 * fifteen in the interval case); now one per dump, none when a later dump
 * fails the same way. The host-safety side of the same faults is covered
 * by outdir_test.c and oom_test.c.
 */
#include "tests/stress/stress_util.h"

static int lines_for(const char *env, const char *args) {
    char cmd[2000];
    snprintf(cmd, sizeof cmd,
             "{ '%s' %s 2>&1 >&3 3>&-; echo $? >rc.txt; } 3>&1 | LD_PRELOAD= cat >&2",
             st_bin("faults", "faulty"), args);
    st_result r = st_run(true, env, cmd);
    CHECK_EQ_I(st_read_long(st_work(), "rc.txt"), 5);
    int n = st_diag_lines(r.err);
    printf("%s %s: %d lines\n%s", env, args, n, r.err);
    st_result_free(&r);
    return n;
}

TEST_TIMEOUT(faults, one_diagnostic_per_failed_dump, 30) {
    char missing[800];
    snprintf(missing, sizeof missing, "MAPPROF_OUT='%s/missing/mp'", st_dir());
    int n_missing = lines_for(missing, "plain");
    int n_efbig = lines_for("", "fsize 0");
    int n_oom = lines_for("", "exhaust");
    char interval[900];
    snprintf(interval, sizeof interval, "%s MAPPROF_INTERVAL=1", missing);
    int n_interval = lines_for(interval, "sleep 2500");
    CHECK_MSG(n_missing == 1 && n_efbig == 1 && n_oom == 1 && n_interval == 1,
              "SHIM ISSUE: lines per failed dump: missing directory %d, EFBIG %d, no memory %d; "
              "three failing dumps with MAPPROF_INTERVAL=1: %d (expected 1 each)",
              n_missing, n_efbig, n_oom, n_interval);
}
