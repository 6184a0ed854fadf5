/*
 * heap_test.c — the heap profile end to end: exact sites and sizes with
 * MAPPROF_HEAP_RATE=1, libc semantics preserved under the shim (the
 * fixture checks them itself), accuracy of the unbiased estimate at a
 * real sampling rate, and both readers accept the file.
 */
#include "tests/shim/shim_util.h"

TEST(shim, heap_exact_sites) {
    char *out = NULL;
    int rc = su_run(&out, "MAPPROF_HEAP_RATE=1", su_fixture("heapsites"));
    CHECK_MSG(rc == 0, "heapsites failed under the shim:\n%s", out);
    CHECK_CONTAINS(out, "heapsites ok");
    CHECK_MSG(!strstr(out, "mapprof:"), "unexpected diagnostics:\n%s", out);
    int pid = su_only_pid();
    CHECK(pid > 0);
    pprof_profile *p = su_load(su_prof(pid, "heap"));
    CHECK_EQ_I(su_sum(p, "inuse_objects", "site_malloc", 1000), 10);
    CHECK_EQ_I(su_sum(p, "inuse_space", "site_malloc", 1000), 10000);
    CHECK_EQ_I(su_sum(p, "inuse_objects", "site_calloc", 3000), 5);
    CHECK_EQ_I(su_sum(p, "inuse_objects", "site_realloc", 5000), 4);
    CHECK_EQ_I(su_sum(p, "alloc_objects", "site_realloc", 10), 4);
    CHECK_EQ_I(su_sum(p, "inuse_objects", "site_realloc", 10), 0);
    CHECK_EQ_I(su_sum(p, "inuse_objects", "site_memalign", 2000), 3);
    CHECK_EQ_I(su_sum(p, "alloc_objects", "site_freed", 700), 8);
    CHECK_EQ_I(su_sum(p, "inuse_objects", "site_freed", 700), 0);
    const pprof_pb_profile *m = pprof_profile_msg(p);
    CHECK_EQ_I(m->period, 1);
    CHECK(m->n_comment >= 2);
    CHECK_CONTAINS(pprof_profile_str(p, m->comment[0]), "heap_rate=1");
    pprof_profile_free(p);
    su_go_raw_ok(su_prof(pid, "heap"));
    CHECK_EQ_I(su_count_files(".tmp"), 0);
    free(out);
}

TEST(shim, heap_semantics_without_sampling) {
    /* The default rate: almost nothing sampled, the fast paths run. */
    char *out = NULL;
    int rc = su_run(&out, "", su_fixture("heapsites"));
    CHECK_MSG(rc == 0, "heapsites failed under the shim:\n%s", out);
    CHECK_CONTAINS(out, "heapsites ok");
    free(out);
}

static void check_close(int64_t got, int64_t want, const char *what) {
    double rel = (double)(got - want) / (double)want;
    CHECK_MSG(rel > -0.25 && rel < 0.25, "%s: estimated %lld, true %lld (%.1f%%)", what,
              (long long)got, (long long)want, rel * 100);
}

TEST(shim, heap_accuracy) {
    char *out = NULL;
    int rc = su_run(&out, "MAPPROF_HEAP_RATE=65536 MAPPROF_SEED=42", su_fixture("accuracy"));
    CHECK_MSG(rc == 0, "accuracy failed:\n%s", out);
    int pid = su_only_pid();
    CHECK(pid > 0);
    pprof_profile *p = su_load(su_prof(pid, "heap"));
    check_close(su_sum(p, "inuse_space", "live_small", -1), 40000 * 512, "live_small");
    check_close(su_sum(p, "inuse_space", "live_big", -1), 2000 * 10000, "live_big");
    CHECK_EQ_I(su_sum(p, "inuse_space", "churn", -1), 0);
    check_close(su_sum(p, "alloc_space", "churn", -1), 200000 * 256, "churn allocs");
    pprof_profile_free(p);
    free(out);
}

/* A sampled big calloc stays lazily zeroed: RSS grows by the few pages
 * read, not by 256 MiB (glibc's fresh mmapped chunks are not memset). */
TEST(shim, heap_big_calloc_not_touched) {
    char *out = NULL;
    int rc = su_run(&out, "MAPPROF_HEAP_RATE=1", su_fixture("bigcalloc"));
    CHECK_MSG(rc == 0, "%s", out);
    long kb = -1;
    const char *at = strstr(out, "rss_growth_kb ");
    CHECK(at && sscanf(at, "rss_growth_kb %ld", &kb) == 1);
    CHECK_MSG(kb < 16 * 1024, "RSS grew by %ld KiB", kb);
    pprof_profile *p = su_load(su_prof(su_only_pid(), "heap"));
    CHECK_EQ_I(su_sum(p, "alloc_space", "main", -1) >= (int64_t)256 << 20, 1);
    /* A big sampled block is glibc's own (not page-aligned): its free must
     * still be recognised, by glibc's chunk size word. */
    CHECK_EQ_I(su_sum(p, "inuse_space", "main", (int64_t)256 << 20), 0);
    CHECK_EQ_I(su_sum(p, "alloc_objects", "main", (int64_t)256 << 20), 1);
    CHECK_EQ_I(su_sum(p, "alloc_objects", "main", (int64_t)512 << 20), 1);
    CHECK_EQ_I(su_sum(p, "inuse_space", "main", (int64_t)512 << 20), 0);
    pprof_profile_free(p);
    free(out);
}

/* A big sampled malloc is the block glibc would have returned, not a
 * memalign(4096) copy: malloc once asked sampled() for page alignment,
 * and freeing those larger mmapped chunks moved glibc's dynamic mmap
 * threshold past the program's sizes (+24 MiB peak RSS on bench-overhead's
 * malloc workload). With the threshold pinned, glibc serves 1 MiB from a
 * fresh mapping, 16 bytes past a page boundary. */
TEST(shim, heap_big_sampled_malloc_is_glibcs_own) {
    if (access("/usr/bin/python3", X_OK) != 0)
        SKIP("no /usr/bin/python3");
    char *out = NULL;
    int rc = su_run(&out, "MAPPROF_HEAP_RATE=1 MALLOC_MMAP_THRESHOLD_=131072",
                    "/usr/bin/python3 -c 'import ctypes; l = ctypes.CDLL(None); "
                    "l.malloc.restype = ctypes.c_void_p; l.malloc.argtypes = [ctypes.c_size_t]; "
                    "print(\"offset\", l.malloc(1 << 20) % 4096)'");
    CHECK_MSG(rc == 0, "%s", out);
    CHECK_CONTAINS(out, "offset 16\n");
    free(out);
}
