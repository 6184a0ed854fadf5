/*
 * fuzz_test.c — a short fixed-time run (20 s) of the reader's libFuzzer
 * target (fuzz/read_fuzz.c, ASan+UBSan), seeded with valid profiles, so CI
 * fuzzes on every run; `make fuzz` runs longer.
 */
#include "tests/pprof/pprof_test.h"

#include <sys/stat.h>

static void seed(const char *dir, const char *name, bool gzip) {
    pprof_builder_config cfg = {0};
    pprof_config_for(PPROF_KIND_GROW, 0, &cfg);
    cfg.drop_frames = "malloc";
    pprof_builder *b;
    CHECK_EQ_I(pprof_builder_new(&cfg, &b, NULL), 0);
    pprof_label l[] = {{.key = "kind", .str = "double"},
                       {.key = "to_B", .num = 4, .num_unit = "B"}};
    for (uint64_t i = 0; i < 4; i++) {
        uint64_t st[] = {0x1000 + i, 0x2000, 0x3000 + i};
        int64_t v[3] = {1, 2, 3};
        CHECK_EQ_I(pprof_builder_add_sample(b, st, 3, v, l, i % 3, 0, NULL), 0);
    }
    pprof_mappings *m;
    CHECK_EQ_I(pprof_mappings_new(NULL, &m, NULL), 0);
    pprof_profile *p;
    CHECK_EQ_I(pprof_builder_finish(b, m, NULL, &p, NULL), 0);
    uint8_t *d;
    size_t n;
    CHECK_EQ_I(pprof_profile_encode(p, gzip, &d, &n, NULL), 0);
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(d, 1, n, f) == n);
    fclose(f);
    pprof_profile_release_bytes(p, d, n);
    pprof_profile_free(p);
    pprof_mappings_free(m);
    pprof_builder_free(b);
}

TEST_TIMEOUT(pprof, fuzz_reader_20s, 90) {
    NEED_TOOL("clang");
    char corpus[1024];
    snprintf(corpus, sizeof corpus, "%s/corpus", th_tmpdir());
    CHECK_EQ_I(mkdir(corpus, 0755), 0);
    seed(corpus, "grow.pb", false);
    seed(corpus, "grow.pb.gz", true);
    char *out = NULL;
    int rc = th_sh(&out,
                   "'%s/fuzz/read_fuzz' -max_total_time=20 -max_len=16384 -print_final_stats=1 "
                   "-artifact_prefix='%s/' '%s' >'%s/fuzz.log' 2>&1",
                   th_build(), th_tmpdir(), corpus, th_tmpdir());
    free(out);
    out = th_read_file(tpath("fuzz.log"), NULL);
    CHECK(out != NULL);
    size_t len = strlen(out);
    const char *tail = len > 3000 ? out + len - 3000 : out;
    CHECK_MSG(rc == 0, "fuzzer exit %d:\n%s", rc, tail);
    CHECK_MSG(strstr(out, "stat::number_of_executed_units") && !strstr(out, "ERROR:") &&
                  !strstr(out, "runtime error") && !strstr(out, "deadly signal"),
              "fuzzer output:\n%s", tail);
    free(out);
}
