/*
 * maps_test.c — grow and maps profiles of a libgomap program, with
 * libgomap linked statically and dynamically: the grow count equals the
 * program's own count exactly, and the maps profile lists the live maps.
 */
#include "tests/shim/shim_util.h"

static void check_maps(const char *fixture) {
    char *out = NULL;
    int rc = su_run(&out, "", su_fixture(fixture));
    CHECK_MSG(rc == 0, "%s failed:\n%s", fixture, out);
    unsigned long long grows = 0;
    int live = 0;
    const char *line = strstr(out, "grows ");
    CHECK_MSG(line && sscanf(line, "grows %llu live %d", &grows, &live) == 2, "output:\n%s", out);
    int pid = su_only_pid();
    CHECK(pid > 0);
    pprof_profile *g = su_load(su_prof(pid, "grow"));
    CHECK_EQ_I(su_sum(g, "grows", NULL, -1), (long long)grows);
    CHECK(su_sum(g, "grows", "fill_u64", -1) > 0);
    CHECK(su_sum(g, "grows", "fill_str", -1) > 0);
    pprof_profile_free(g);
    pprof_profile *m = su_load(su_prof(pid, "maps"));
    CHECK_EQ_I(su_sum(m, "maps", NULL, -1), live);
    CHECK_EQ_I(su_sum(m, "maps", "fill_u64", -1), 2);
    CHECK_EQ_I(su_sum(m, "entries", "fill_u64", -1), 2000);
    CHECK_EQ_I(su_sum(m, "maps", "fill_str", -1), 1);
    pprof_profile_free(m);
    su_go_raw_ok(su_prof(pid, "grow"));
    su_go_raw_ok(su_prof(pid, "maps"));
    free(out);
}

TEST(shim, maps_static_libgomap) {
    check_maps("maps");
}

TEST(shim, maps_dynamic_libgomap) {
    check_maps("maps.dyn");
}

TEST(shim, fatal_map_error_flushes_profiles) {
    char *out = NULL;
    int rc = su_run(&out, "", su_fixture("maprace"));
    if (rc == 3)
        SKIP("the race was not detected within 10 s");
    CHECK_MSG(rc == 128 + 6, "expected SIGABRT, got %d:\n%s", rc, out);
    CHECK_CONTAINS(out, "fatal error: concurrent map");
    int pid = su_only_pid();
    CHECK(pid > 0);
    pprof_profile *g = su_load(su_prof(pid, "grow"));
    CHECK(su_sum(g, "grows", "main", -1) > 0);
    pprof_profile_free(g);
    pprof_profile *m = su_load(su_prof(pid, "maps"));
    CHECK_EQ_I(su_sum(m, "maps", "main", -1), 1);
    pprof_profile_free(m);
    CHECK_EQ_I(su_count_files(".tmp"), 0);
    free(out);
}
