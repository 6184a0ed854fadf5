/*
 * map_fuzz_test.c — runs libgomap's libFuzzer target (fuzz/map_fuzz.c:
 * random operation programs checked against a reference model and
 * gomap__check after every step, under ASan+UBSan) for a short fixed time,
 * so CI fuzzes the map on every run; `make fuzz` runs longer.
 *
 * The corpus starts from the seeds fuzz.mk generates at build time
 * ($(B)/fuzz/map_seeds, one program per map type); new inputs go to this
 * test's temporary directory. A second test proves the run can fail: with
 * MAP_FUZZ_SABOTAGE the target deletes an entry behind its model's back and
 * must report it. A missing clang skips locally and fails under CI=true.
 */
#include "tests/harness/test.h"

#include <stdlib.h>
#include <sys/stat.h>

static char *run_fuzzer(int *rc, const char *env, int seconds) {
    char corpus[1200];
    snprintf(corpus, sizeof corpus, "%s/corpus", th_tmpdir());
    mkdir(corpus, 0755);
    char *out = NULL;
    *rc = th_sh(&out,
                "%s '%s/fuzz/map_fuzz' -max_total_time=%d -max_len=4096 -timeout=10 "
                "-print_final_stats=1 -artifact_prefix='%s/' '%s' '%s/fuzz/map_seeds' "
                ">'%s/fuzz.log' 2>&1",
                env, th_build(), seconds, th_tmpdir(), corpus, th_build(), th_tmpdir());
    free(out);
    char log[1200];
    snprintf(log, sizeof log, "%s/fuzz.log", th_tmpdir());
    out = th_read_file(log, NULL);
    CHECK_MSG(out != NULL, "no fuzzer log at %s", log);
    return out;
}

static const char *tail_of(const char *s) {
    size_t len = strlen(s);
    return len > 4000 ? s + len - 4000 : s;
}

TEST_TIMEOUT(fuzzmap, map_fuzz_15s, 90) {
    NEED_TOOL("clang");
    int rc;
    char *out = run_fuzzer(&rc, "", 15);
    CHECK_MSG(rc == 0, "fuzzer exit %d:\n%s", rc, tail_of(out));
    CHECK_MSG(strstr(out, "stat::number_of_executed_units") && !strstr(out, "ERROR:") &&
                  !strstr(out, "runtime error") && !strstr(out, "deadly signal") &&
                  !strstr(out, "map_fuzz: op"),
              "fuzzer output:\n%s", tail_of(out));
    /* The seeds were all read and run (one per type and variant). */
    CHECK_MSG(strstr(out, "INITED") != NULL, "corpus not loaded:\n%s", tail_of(out));
    free(out);
}

TEST_TIMEOUT(fuzzmap, sabotaged_map_is_caught, 60) {
    NEED_TOOL("clang");
    int rc;
    char *out = run_fuzzer(&rc, "MAP_FUZZ_SABOTAGE=1", 10);
    CHECK_MSG(rc != 0, "sabotaged run passed:\n%s", tail_of(out));
    CHECK_CONTAINS(out, "map_fuzz: op");
    CHECK_CONTAINS(out, "len ");
    free(out);
}
