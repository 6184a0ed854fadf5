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

/* A map type defined by a library that is unloaded before the dump: the
 * grow profile keeps the type's name (the shim's copy), and the dump never
 * reads the unmapped original. */
TEST(shim, grow_type_name_outlives_its_library) {
    char *out = NULL, cmd[1200];
    snprintf(cmd, sizeof cmd, "%s '%s/tests/shim/libmaptype.so'", su_fixture("maptypeclose.dyn"),
             th_build());
    int rc = su_run(&out, "", cmd);
    CHECK_MSG(rc == 0, "status %d:\n%s", rc, out);
    CHECK_CONTAINS(out, "filled and closed");
    int pid = su_only_pid();
    pprof_profile *g = su_load(su_prof(pid, "grow"));
    const pprof_pb_profile *m = pprof_profile_msg(g);
    int named = 0;
    for (size_t i = 0; i < m->n_sample; i++)
        for (size_t j = 0; j < m->sample[i]->n_label; j++)
            named +=
                !strcmp(pprof_profile_str(g, m->sample[i]->label[j]->key), "type") &&
                !strcmp(pprof_profile_str(g, m->sample[i]->label[j]->str), "map[widget_id]uint64");
    CHECK_MSG(named > 0, "no grow sample names the unloaded library's type");
    pprof_profile_free(g);
    free(out);
}
