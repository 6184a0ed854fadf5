/*
 * heap_test.c — the heap profile end to end: exact sites and sizes with
 * MAPPROF_HEAP_RATE=1, libc semantics preserved under the shim (the
 * fixture checks them itself), accuracy of the unbiased estimate at a
 * real sampling rate, both readers accept the file, and the host's
 * allocator left as it was: calloc's zeroing under glibc's perturb byte,
 * glibc's own trimming calls and the peak RSS.
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
 * read, not by 256 MiB (it is glibc's calloc, which does not memset fresh
 * mmapped chunks). */
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
    /* A big sampled block is glibc's own: its free and its realloc must
     * still be recognised (the address filter). */
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

/* calloc returns zeroed memory whatever glibc's perturb byte is, sampled
 * or not, for sizes across the mmap threshold, with the byte set each of
 * the three ways glibc offers. A sampled calloc once came from
 * memalign(4096) and skipped its memset on fresh mmapped chunks, which
 * glibc fills with the perturb byte too. At MAPPROF_HEAP_RATE=1 the
 * profile must hold every calloc, so the sampled path really ran. */
TEST(shim, heap_calloc_zeroed_under_perturb) {
    static const char *const ways[][2] = {
        {"MALLOC_PERTURB_=165", "env"},
        {"GLIBC_TUNABLES=glibc.malloc.perturb=165", "env"},
        {"", "mallopt"},
    };
    static const char *const rates[] = {"1", "524288", "1099511627776"};
    static const char *const scenarios[] = {"sweep", "edge", "low"};
    for (size_t w = 0; w < 3; w++)
        for (size_t r = 0; r < 3; r++)
            for (size_t c = 0; c < 3; c++) {
                char *out = NULL, env[160], cmd[600];
                CHECK_EQ_I(th_sh(NULL, "rm -f '%s'/mp.*", su_dir()), 0);
                snprintf(env, sizeof env, "%s MAPPROF_HEAP_RATE=%s", ways[w][0], rates[r]);
                snprintf(cmd, sizeof cmd, "%s %s %s", su_fixture("perturbcalloc"), ways[w][1],
                         scenarios[c]);
                int rc = su_run(&out, env, cmd);
                CHECK_MSG(rc == 0, "%s %s %s: rc %d\n%s", env, ways[w][1], scenarios[c], rc, out);
                long n = -1, bad = -1;
                const char *at = strstr(out, "callocs ");
                CHECK_MSG(at && sscanf(at, "callocs %ld nonzero %ld", &n, &bad) == 2, "%s", out);
                CHECK_EQ_I(bad, 0);
                if (r == 0) {
                    pprof_profile *p = su_load(su_prof(su_only_pid(), "heap"));
                    CHECK_EQ_I(su_sum(p, "alloc_objects", "one", -1), n);
                    pprof_profile_free(p);
                }
                free(out);
            }
}

/* Peak RSS (VmHWM, KiB) that churn reported, the median of three runs. */
static long churn_peak(const char *preload_env) {
    long v[3];
    for (int i = 0; i < 3; i++) {
        char *out = NULL;
        int rc = preload_env ? su_run(&out, preload_env, su_fixture("churn 1000000"))
                             : th_sh(&out, "%s 1000000", su_fixture("churn"));
        CHECK_MSG(rc == 0, "%s", out);
        const char *at = strstr(out, "peak_rss_kb ");
        CHECK_MSG(at && sscanf(at, "peak_rss_kb %ld", &v[i]) == 1, "%s", out);
        free(out);
    }
    long lo = v[0] < v[1] ? v[0] : v[1], hi = v[0] < v[1] ? v[1] : v[0];
    return v[2] < lo ? lo : v[2] > hi ? hi : v[2];
}

/* The host's own madvise/munmap/brk calls under strace, the shim's own
 * calls left out by their stacks (scripts/hostcalls.awk). */
static void host_calls(const char *preload_env, long n[3]) {
    char *out = NULL, cmd[2048];
    snprintf(cmd, sizeof cmd,
             "strace -f -qq -k -e trace=madvise,munmap,brk -o '%s/trace' %s 1000000 >/dev/null && "
             "awk -f '%s/scripts/hostcalls.awk' '%s/trace'",
             su_dir(), su_fixture("churn"), th_root(), su_dir());
    int rc = preload_env ? su_run(&out, preload_env, cmd) : th_sh(&out, "%s", cmd);
    CHECK_MSG(rc == 0, "%s", out);
    CHECK_MSG(sscanf(out, "madvise %ld munmap %ld brk %ld", &n[0], &n[1], &n[2]) == 3, "%s", out);
    free(out);
}

/* Sampling leaves glibc's behaviour alone on a malloc churn (2 threads,
 * blocks of 16 B-69 KiB in a sliding window, a mutex every 64 operations):
 * glibc trims its thread arenas with madvise as the window moves, and the
 * counts under the shim - at the default rate and at 1 sample per 4 KiB -
 * must be the plain run's within 10 % (or 2 calls). Page-aligned sampled
 * blocks once pinned arena memory: 1,041 madvise calls fell to ~200. The
 * peak RSS is at most the plain run's plus 3 MiB of the shim's own. */
TEST(shim, heap_sampling_keeps_allocator_calls_and_rss) {
    NEED_TOOL("strace");
    static const char *const names[] = {"madvise", "munmap", "brk"};
    long plain[3], shim[3];
    host_calls(NULL, plain);
    CHECK_MSG(plain[0] > 100, "the workload no longer trims (%ld madvise calls)", plain[0]);
    const char *envs[] = {"", "MAPPROF_HEAP_RATE=4096"};
    for (int e = 0; e < 2; e++) {
        host_calls(envs[e], shim);
        for (int k = 0; k < 3; k++) {
            long d = shim[k] - plain[k], tol = plain[k] / 10 > 2 ? plain[k] / 10 : 2;
            CHECK_MSG(d <= tol && -d <= tol, "%s: %ld calls under the shim (%s), %ld plain",
                      names[k], shim[k], envs[e], plain[k]);
        }
    }
    long rss_plain = churn_peak(NULL), rss_shim = churn_peak("");
    CHECK_MSG(rss_shim <= rss_plain + 3072, "peak RSS %ld KiB under the shim, %ld KiB plain",
              rss_shim, rss_plain);
}
