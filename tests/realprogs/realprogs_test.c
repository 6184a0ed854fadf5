/*
 * realprogs_test.c — scripts/realprogs.sh from the test suite, so CI runs
 * it: twelve real programs (python3, perl, git, sort, gzip, xz -T2,
 * sqlite3, make -j2 with cc, a threaded C fixture, awk, tar, find|xargs),
 * each run with and without the shim; the script checks identical stdout,
 * stderr and exit status, complete and valid profiles from every process,
 * and no stray file (see the script's header).
 *
 * The corpus runs four times: as it is, with the cpu profile at 100 and
 * 1000 Hz (REALPROGS_CPU_HZ), and with the timeline (REALPROGS_TRACE). This test checks the
 * script's verdict and its table: exit status 0, a final "N passed, 0 failed" line, and at least
 * ten cases passed unless programs are missing locally (under CI=true the script fails instead of
 * skipping, so CI cannot pass by skipping). Timings: about 20 s on a
 * loaded 2-core machine; the timeout leaves room for a slow CI runner.
 */
#include <stdlib.h>
#include <unistd.h>

#include "tests/harness/test.h"

/* The script with extra environment `env` ("" for none); checks its verdict. */
static void run_corpus(const char *env) {
#ifdef MAPPROF_SANITIZE
    SKIP("needs an uninstrumented build (the shim is not built under SAN=1)");
#endif
    NEED_TOOL("go"); /* pprofcheck */
    char *out = NULL;
    int rc = th_sh(&out, "%s TMPDIR='%s' '%s/scripts/realprogs.sh' '%s'", env, th_tmpdir(),
                   th_root(), th_build());
    printf("%s", out);
    CHECK_MSG(rc == 0, "scripts/realprogs.sh failed (status %d)", rc);
    const char *last = strstr(out, "realprogs: ");
    while (last && strstr(last + 1, "realprogs: "))
        last = strstr(last + 1, "realprogs: ");
    int pass = -1, fail = -1, skip = -1;
    CHECK_MSG(last && sscanf(last, "realprogs: %d passed, %d failed, %d skipped", &pass, &fail,
                             &skip) == 3,
              "no summary line in the output");
    CHECK_EQ_I(fail, 0);
    CHECK_MSG(pass + skip >= 12, "only %d cases ran", pass + skip);
    if (th_ci())
        CHECK_EQ_I(skip, 0);
    CHECK_MSG(pass >= 10 || skip > 0, "only %d cases passed", pass);
    free(out);
}

TEST_TIMEOUT(realprogs, real_programs_under_the_shim, 150) {
    run_corpus("");
}

/* The cpu profile's timer signals change nothing either, at Go's rate and
 * at the highest. */
TEST_TIMEOUT(realprogs, real_programs_with_cpu_at_100hz, 150) {
    run_corpus("REALPROGS_CPU_HZ=100");
}

TEST_TIMEOUT(realprogs, real_programs_with_cpu_at_1000hz, 150) {
    run_corpus("REALPROGS_CPU_HZ=1000");
}

/* The timeline changes nothing either, and every process's trace.json is
 * valid (tests/shim/scripts/check_trace.py). */
TEST_TIMEOUT(realprogs, real_programs_with_the_timeline, 150) {
    NEED_TOOL("python3");
    run_corpus("REALPROGS_TRACE=1");
}
