/*
 * examples_test.c — every example does what its README section says, read
 * off the real profiles: each example runs under libmapprof.so (the shim
 * tests' helpers, tests/shim/shim_util.h), its profiles are loaded with
 * pprof/'s reader and checked sample by sample, and `go tool pprof` reads
 * the same files as an outside check (NEED_TOOL: skipped without Go
 * locally, a failure under CI=true; those checks come last in each test).
 *
 * Exact where the program is deterministic (grow counts, grow kinds,
 * bucket array sizes), thresholds where it is not (lock contention).
 * Non-goal: the map's own behaviour, which tests/map/ covers.
 */
#include "tests/shim/shim_util.h"

/* $(B)/examples/<name> [args] */
static const char *ex_cmd(const char *name, const char *args) {
    static char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/examples/%s' %s", th_build(), name, args);
    return cmd;
}

/* String label `key` of a sample, or NULL. */
static const char *ex_str_label(const pprof_profile *p, const pprof_pb_sample *s, const char *key) {
    for (size_t i = 0; i < s->n_label; i++)
        if (!strcmp(pprof_profile_str(p, s->label[i]->key), key))
            return pprof_profile_str(p, s->label[i]->str);
    return NULL;
}

/* Sum of sample type `type` over samples with label kind=`kind` (NULL: any)
 * and a frame of function `fn` (NULL: any). */
static int64_t ex_sum_kind(const pprof_profile *p, const char *type, const char *kind,
                           const char *fn) {
    int idx = pprof_profile_sample_index(p, type);
    CHECK_MSG(idx >= 0, "no sample type %s", type);
    const pprof_pb_profile *m = pprof_profile_msg(p);
    int64_t sum = 0;
    for (size_t i = 0; i < m->n_sample; i++) {
        const char *k = ex_str_label(p, m->sample[i], "kind");
        if ((!kind || (k && !strcmp(k, kind))) && su_has_frame(p, m->sample[i], fn))
            sum += m->sample[i]->value[idx];
    }
    return sum;
}

/* Number of grows Go's rule gives n inserts into a map made without a
 * hint: one per B until n <= 6.5 * 2^B (8 at B = 0). */
static int expected_grows(uint64_t n) {
    int B = 0;
    while (n > 8 && n > 13 * ((UINT64_C(1) << B) / 2))
        B++;
    return B;
}

/* `go tool pprof ARGS FILE` succeeds; returns its output (free it). */
static char *ex_go_pprof(const char *args, const char *path) {
    NEED_TOOL("go");
    char *out = NULL;
    int rc = th_sh(&out, "go tool pprof %s '%s'", args, path);
    CHECK_MSG(rc == 0, "go tool pprof %s %s failed:\n%s", args, path, out);
    return out;
}

static int ex_count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

TEST_TIMEOUT(examples, grow_nohint_every_grow_doubles, 30) {
    char *out = NULL;
    int rc = su_run(&out, "", ex_cmd("grow_nohint", ""));
    CHECK_MSG(rc == 0, "grow_nohint failed:\n%s", out);
    int want = expected_grows(1000000); /* log2(10^6 / 6.5) rounded up */
    CHECK_EQ_I(want, 18);
    CHECK_CONTAINS(out, "1000000 keys (hint 0)");
    CHECK_CONTAINS(out, "18 grows");
    int pid = su_only_pid_of("grow");
    CHECK(pid > 0);
    pprof_profile *g = su_load(su_prof(pid, "grow"));
    CHECK_EQ_I(ex_sum_kind(g, "grows", NULL, NULL), want);
    CHECK_EQ_I(ex_sum_kind(g, "grows", "double", "load_users"), want);
    /* One grow from every B below the final one, each to B + 1. */
    const pprof_pb_profile *m = pprof_profile_msg(g);
    uint32_t seen = 0;
    for (size_t i = 0; i < m->n_sample; i++) {
        int64_t from = su_num_label(g, m->sample[i], "from_B");
        int64_t to = su_num_label(g, m->sample[i], "to_B");
        CHECK_MSG(from >= 0 && from < want && to == from + 1, "grow from_B=%lld to_B=%lld",
                  (long long)from, (long long)to);
        seen |= 1u << from;
    }
    CHECK_EQ_U(seen, (1u << want) - 1);
    pprof_profile_free(g);
    char *raw = ex_go_pprof("-raw", su_prof(pid, "grow"));
    CHECK_EQ_I(ex_count(raw, "kind:[double]"), want);
    CHECK_EQ_I(ex_count(raw, "kind:[same_size]"), 0);
    char *top = ex_go_pprof("-top -sample_index=grows", su_prof(pid, "grow"));
    CHECK_CONTAINS(top, "load_users");
    free(raw);
    free(top);
    free(out);
}

TEST_TIMEOUT(examples, grow_hint_never_grows, 30) {
    char *out = NULL;
    int rc = su_run(&out, "", ex_cmd("grow_hint", ""));
    CHECK_MSG(rc == 0, "grow_hint failed:\n%s", out);
    CHECK_CONTAINS(out, "1000000 keys (hint 1000000)");
    CHECK_CONTAINS(out, " 0 grows");
    int pid = su_only_pid_of("grow");
    CHECK(pid > 0);
    pprof_profile *g = su_load(su_prof(pid, "grow"));
    CHECK_EQ_I(ex_sum_kind(g, "grows", NULL, NULL), 0);
    pprof_profile_free(g);
    char *raw = ex_go_pprof("-raw", su_prof(pid, "grow"));
    CHECK_EQ_I(ex_count(raw, "kind:["), 0);
    free(raw);
    free(out);
}

TEST_TIMEOUT(examples, overflow_churn_same_size_grows, 30) {
    char *out = NULL;
    int rc = su_run(&out, "", ex_cmd("overflow_churn", ""));
    CHECK_MSG(rc == 0, "overflow_churn failed:\n%s", out);
    /* The program's own count (gomap_stats) is what the profile must show. */
    const char *p = strstr(out, "same-size grows");
    CHECK_MSG(p != NULL, "no summary line:\n%s", out);
    while (p > out && p[-1] == ' ')
        p--;
    while (p > out && p[-1] >= '0' && p[-1] <= '9')
        p--;
    long same_size = strtol(p, NULL, 10);
    CHECK_MSG(same_size > 0, "no same-size grow:\n%s", out);
    CHECK_CONTAINS(out, "6000 sessions, B=10");
    int pid = su_only_pid_of("grow");
    CHECK(pid > 0);
    pprof_profile *g = su_load(su_prof(pid, "grow"));
    CHECK_EQ_I(ex_sum_kind(g, "grows", "same_size", NULL), same_size);
    CHECK_EQ_I(ex_sum_kind(g, "grows", "same_size", "open_session"), same_size);
    CHECK_EQ_I(ex_sum_kind(g, "grows", "same_size", "open_initial_sessions"), 0);
    /* The doublings happened while the table filled up, not in the churn. */
    CHECK_EQ_I(ex_sum_kind(g, "grows", "double", "open_initial_sessions"), expected_grows(6000));
    const pprof_pb_profile *m = pprof_profile_msg(g);
    for (size_t i = 0; i < m->n_sample; i++) {
        const char *k = ex_str_label(g, m->sample[i], "kind");
        if (k && !strcmp(k, "same_size"))
            CHECK_EQ_I(su_num_label(g, m->sample[i], "from_B"),
                       su_num_label(g, m->sample[i], "to_B"));
    }
    pprof_profile_free(g);
    char *raw = ex_go_pprof("-raw", su_prof(pid, "grow"));
    CHECK_CONTAINS(raw, "kind:[same_size]");
    char *top =
        ex_go_pprof("-top -sample_index=grows -tagfocus=kind=same_size", su_prof(pid, "grow"));
    CHECK_CONTAINS(top, "open_session");
    free(raw);
    free(top);
    free(out);
}

TEST_TIMEOUT(examples, concurrent_writes_fatal_error_keeps_profiles, 30) {
    char *out = NULL;
    int rc = su_run(&out, "", ex_cmd("concurrent_writes", ""));
    if (rc == 3)
        SKIP("the race was not detected within 10 s (detection is best-effort)");
    CHECK_MSG(rc == 128 + 6, "expected SIGABRT (134), got %d:\n%s", rc, out);
    CHECK_CONTAINS(out, "fatal error: concurrent map writes");
    int pid = su_only_pid_of("grow");
    CHECK(pid > 0);
    static const char *const kinds[] = {"heap", "mutex", "block", "grow", "maps"};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        pprof_profile_free(su_load(su_prof(pid, kinds[k])));
    pprof_profile *g = su_load(su_prof(pid, "grow"));
    CHECK_EQ_I(ex_sum_kind(g, "grows", "double", "register_counters"), expected_grows(1000));
    pprof_profile_free(g);
    /* The map was alive when the process died: the maps profile has it. */
    pprof_profile *mp = su_load(su_prof(pid, "maps"));
    CHECK_EQ_I(su_sum(mp, "maps", "main", -1), 1);
    CHECK_EQ_I(su_sum(mp, "entries", "main", -1), 1000);
    pprof_profile_free(mp);
    CHECK_EQ_I(su_count_files(".tmp"), 0);
    su_go_raw_ok(su_prof(pid, "grow"));
    su_go_raw_ok(su_prof(pid, "maps"));
    free(out);
}

TEST_TIMEOUT(examples, rwlock_map_profiles_point_at_lock_sites, 30) {
    char *out = NULL;
    int rc = su_run(&out, "MAPPROF_PROFILES=mutex,block,grow", ex_cmd("rwlock_map", ""));
    CHECK_MSG(rc == 0, "rwlock_map failed:\n%s", out);
    CHECK_CONTAINS(out, "800000 entries");
    int pid = su_only_pid_of("block");
    CHECK(pid > 0);
    pprof_profile *b = su_load(su_prof(pid, "block"));
    int64_t all = su_sum(b, "contentions", NULL, -1);
    int64_t at_sites =
        su_sum(b, "contentions", "cache_put", -1) + su_sum(b, "contentions", "cache_get", -1);
    CHECK_MSG(su_sum(b, "contentions", "cache_put", -1) > 0, "no contention at cache_put");
    CHECK(su_sum(b, "delay", "cache_put", -1) > 0);
    CHECK_MSG(at_sites == all, "%lld of %lld contentions at cache_put/cache_get",
              (long long)at_sites, (long long)all);
    pprof_profile_free(b);
    pprof_profile *mu = su_load(su_prof(pid, "mutex"));
    int64_t delay = su_sum(mu, "delay", NULL, -1);
    CHECK(delay > 0);
    CHECK_EQ_I(su_sum(mu, "delay", "cache_put", -1) + su_sum(mu, "delay", "cache_get", -1), delay);
    pprof_profile_free(mu);
    pprof_profile *g = su_load(su_prof(pid, "grow"));
    CHECK_EQ_I(ex_sum_kind(g, "grows", "double", "cache_put"), expected_grows(800000));
    pprof_profile_free(g);
    char *top = ex_go_pprof("-top", su_prof(pid, "block"));
    CHECK_CONTAINS(top, "cache_put");
    free(top);
    su_go_raw_ok(su_prof(pid, "mutex"));
    free(out);
}

/* In-use blocks of at least 1 MiB allocated under load_cache: their sizes
 * (the `bytes` label), largest first. Returns how many there are. */
static int ex_big_inuse_blocks(const pprof_profile *p, int64_t sizes[4]) {
    int idx = pprof_profile_sample_index(p, "inuse_space");
    CHECK(idx >= 0);
    const pprof_pb_profile *m = pprof_profile_msg(p);
    int n = 0;
    for (size_t i = 0; i < m->n_sample; i++) {
        const pprof_pb_sample *s = m->sample[i];
        int64_t bytes = su_num_label(p, s, "bytes");
        if (bytes < (1 << 20) || s->value[idx] <= 0 || !su_has_frame(p, s, "load_cache"))
            continue;
        /* Sampled with probability ~1 at this size: exactly one block. */
        CHECK_EQ_I(s->value[idx], bytes);
        CHECK_MSG(n < 4, "more than 4 big blocks in use");
        sizes[n++] = bytes;
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && sizes[j] > sizes[j - 1]; j--) {
            int64_t t = sizes[j];
            sizes[j] = sizes[j - 1];
            sizes[j - 1] = t;
        }
    return n;
}

TEST_TIMEOUT(examples, memory_doubling_both_arrays_in_heap_profile, 30) {
    char *out = NULL;
    int rc = su_run(&out, "", ex_cmd("memory_doubling", ""));
    CHECK_MSG(rc == 0, "memory_doubling failed:\n%s", out);
    CHECK_CONTAINS(out, "851969 keys loaded; the last insert started a grow: growing, B=18");
    CHECK_CONTAINS(out, "the grow is over");
    int pid = su_only_pid_of("grow");
    CHECK(pid > 0);
    char growing[600];
    snprintf(growing, sizeof growing, "%s/mp.%d.heap-growing.pb.gz", su_dir(), pid);
    CHECK_CONTAINS(out, growing);

    /* During the grow: the B=17 array and the B=18 array, both in use. */
    pprof_profile *h = su_load(growing);
    int64_t sz[4];
    CHECK_EQ_I(ex_big_inuse_blocks(h, sz), 2);
    /* 2^18 + 2^14 buckets against 2^17 + 2^13 (1/16 preallocated
     * overflow), 144 bytes each, plus the same small constant. */
    CHECK_MSG(sz[0] > 2 * sz[1] - 4096 && sz[0] < 2 * sz[1], "arrays of %lld and %lld bytes",
              (long long)sz[0], (long long)sz[1]);
    CHECK_MSG(sz[1] >= (INT64_C(1) << 17) * 144, "old array %lld bytes", (long long)sz[1]);
    pprof_profile_free(h);

    /* After the grow: only the new array. */
    pprof_profile *e = su_load(su_prof(pid, "heap"));
    int64_t after[4];
    CHECK_EQ_I(ex_big_inuse_blocks(e, after), 1);
    CHECK_EQ_I(after[0], sz[0]);
    pprof_profile_free(e);

    char *top = ex_go_pprof("-top -sample_index=inuse_space", growing);
    CHECK_CONTAINS(top, "load_cache");
    CHECK_CONTAINS(top, "gomap__hash_grow");
    free(top);
    free(out);
}

TEST_TIMEOUT(examples, memory_doubling_runs_without_the_profiler, 30) {
    char *out = NULL;
    int rc = th_sh(&out, "%s", ex_cmd("memory_doubling", "1000"));
    CHECK_MSG(rc == 0, "memory_doubling failed:\n%s", out);
    CHECK_CONTAINS(out, "mapprof_dump not found: not running under mapprof");
    CHECK_CONTAINS(out, "1665 keys loaded; the last insert started a grow: growing, B=9");
    CHECK_CONTAINS(out, "the grow is over");
    free(out);
}

/* Without the profiler every example still runs and reports the same map
 * story (the profiles add where it happened, not what). */
TEST_TIMEOUT(examples, examples_run_without_the_profiler, 30) {
    char *out = NULL;
    CHECK_EQ_I(th_sh(&out, "%s", ex_cmd("grow_nohint", "100000")), 0);
    CHECK_CONTAINS(out, "14 grows");
    free(out);
    CHECK_EQ_I(th_sh(&out, "%s", ex_cmd("grow_hint", "100000")), 0);
    CHECK_CONTAINS(out, " 0 grows");
    free(out);
    CHECK_EQ_I(th_sh(&out, "%s", ex_cmd("overflow_churn", "3000")), 0);
    CHECK_CONTAINS(out, "3000 sessions, B=9"); /* 5.9 per bucket: about 20 same-size grows */
    CHECK(!strstr(out, " 0 same-size grows"));
    free(out);
    CHECK_EQ_I(th_sh(&out, "%s", ex_cmd("rwlock_map", "20000")), 0);
    CHECK_CONTAINS(out, "80000 entries");
    free(out);
    int rc = th_sh(&out, "%s", ex_cmd("concurrent_writes", ""));
    if (rc != 3) {
        CHECK_MSG(rc == 128 + 6, "concurrent_writes: status %d:\n%s", rc, out);
        CHECK_CONTAINS(out, "fatal error: concurrent map writes");
    }
    free(out);
    CHECK_EQ_I(th_sh(&out, "%s 0", ex_cmd("grow_nohint", "")), 2); /* usage */
    CHECK_CONTAINS(out, "usage: grow_nohint [N]");
    free(out);
}

/* cpu_hotspots: the cpu profile splits the time between the two phases,
 * lookups (8 per key) above the inserts, and shows the grows' evacuation
 * under build_index. */
TEST_TIMEOUT(examples, cpu_hotspots_cpu_profile_splits_phases, 60) {
    char *out = NULL;
    int rc = su_run(&out, "MAPPROF_PROFILES=cpu", ex_cmd("cpu_hotspots", "1000000"));
    CHECK_MSG(rc == 0, "%s", out);
    free(out);
    int pid = su_only_pid_of("cpu");
    CHECK(pid > 0);
    const char *path = su_prof(pid, "cpu");
    pprof_profile *p = su_load(path);
    int64_t all = su_sum(p, "cpu", NULL, -1), build = su_sum(p, "cpu", "build_index", -1),
            query = su_sum(p, "cpu", "query_index", -1), evac = su_sum(p, "cpu", "evacuate", -1);
    printf("build_index %.1f%%, query_index %.1f%%, evacuate %.1f%% of %lld ns\n",
           100.0 * build / all, 100.0 * query / all, 100.0 * evac / all, (long long)all);
    CHECK(build + query >= all * 9 / 10);
    CHECK(build >= all / 10);
    CHECK(query > build);
    CHECK(evac > 0 && evac < build);
    pprof_profile_free(p);
    char *top = ex_go_pprof("-top -cum", path);
    CHECK_CONTAINS(top, "query_index");
    CHECK_CONTAINS(top, "build_index");
    free(top);
}
