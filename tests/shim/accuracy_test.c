/*
 * accuracy_test.c — the profiles' numbers against known truths, as
 * statistics: the heap profile's unbiased estimates averaged over 20
 * seeds at the default rate (fixture heaptruth), and the mutex/block
 * delays against the delay the program measured itself (mutexdelay, and
 * condrelock for the re-lock inside condition waits).
 *
 * Heap: a site of N blocks of s bytes is sampled per block with
 * p = 1 - exp(-s/R) and Go's unbiasing divides by p, so one run's
 * relative sd is sqrt((1/p - 1) / N) (about sqrt(R / bytes) for small
 * blocks) and the mean of 20 independent seeds has that over sqrt(20).
 * The test computes this from the fixture's printed truth and first
 * checks that the +-2 % tolerance is at least 4 sd (so a pass is not luck
 * and a failure is a bug, p < 1e-4 per site), then compares. Non-goal:
 * the single-run spread (heap_test.c checks one run loosely).
 */
#include <math.h>

#include "tests/shim/shim_util.h"

#define SEEDS     20
#define RATE      524288.0
#define TOL       0.02
#define MAX_SITES 8

typedef struct site {
    char name[32];
    double size, count;
} site;

/* Parse the fixture's `site NAME size S count N` lines. */
static int parse_sites(const char *out, site *s) {
    int n = 0;
    for (const char *l = out; l && *l && n < MAX_SITES; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
        if (sscanf(l, "site %31s size %lf count %lf", s[n].name, &s[n].size, &s[n].count) == 3)
            n++;
    return n;
}

/* The heap profile written by run `seed` (prefix s<seed>). */
static pprof_profile *load_seed(int seed) {
    DIR *d = opendir(su_dir());
    CHECK(d != NULL);
    struct dirent *e;
    char path[1024] = "";
    while ((e = readdir(d))) {
        int sd, pid;
        char kind[16];
        if (sscanf(e->d_name, "s%d.%d.%15[a-z].pb.gz", &sd, &pid, kind) == 3 && sd == seed &&
            !strcmp(kind, "heap")) {
            CHECK_MSG(!path[0], "two heap profiles for seed %d", seed);
            snprintf(path, sizeof path, "%s/%s", su_dir(), e->d_name);
        }
    }
    closedir(d);
    CHECK_MSG(path[0], "no heap profile for seed %d", seed);
    return su_load(path);
}

TEST_TIMEOUT(shim, heap_accuracy_mean_of_20_seeds, 240) {
    /* Two runs at a time (2 cores); each holds ~3 GiB for ~2 s. */
    char *out = NULL;
    int rc = th_sh(&out,
                   "cd '%s' && seq 1 %d | xargs -P 2 -I@ sh -c 'LD_PRELOAD=%s MAPPROF_OUT=%s/s@ "
                   "MAPPROF_SEED=@ MAPPROF_PROFILES=heap %s >out.@ 2>&1'",
                   su_dir(), SEEDS, su_so(), su_dir(), su_fixture("heaptruth"));
    CHECK_MSG(rc == 0, "a heaptruth run failed (%d):\n%s", rc, out);
    free(out);
    char path[600];
    snprintf(path, sizeof path, "%s/out.1", su_dir());
    char *first = th_read_file(path, NULL);
    CHECK(first != NULL);
    CHECK_MSG(!strstr(first, "mapprof:"), "diagnostics:\n%s", first);
    site s[MAX_SITES];
    int ns = parse_sites(first, s);
    CHECK_EQ_I(ns, 5);

    double est_inuse[MAX_SITES] = {0}, est_alloc[MAX_SITES] = {0};
    for (int seed = 1; seed <= SEEDS; seed++) {
        snprintf(path, sizeof path, "%s/out.%d", su_dir(), seed);
        char *o = th_read_file(path, NULL);
        CHECK_EQ_S(o, first); /* same truth every run */
        free(o);
        pprof_profile *p = load_seed(seed);
        CHECK_EQ_I(pprof_profile_msg(p)->period, (int64_t)RATE);
        for (int i = 0; i < ns; i++) {
            est_inuse[i] += (double)su_sum(p, "inuse_space", s[i].name, -1) / SEEDS;
            est_alloc[i] += (double)su_sum(p, "alloc_space", s[i].name, -1) / SEEDS;
        }
        pprof_profile_free(p);
    }
    for (int i = 0; i < ns; i++) {
        double truth = s[i].size * s[i].count;
        double p = 1 - exp(-s[i].size / RATE);
        double sd_mean = sqrt((1 / p - 1) / s[i].count / SEEDS);
        bool churn = !strncmp(s[i].name, "churn", 5);
        double est = churn ? est_alloc[i] : est_inuse[i];
        double rel = est / truth - 1;
        printf("%-10s %s truth=%.0f mean=%.0f err=%+.2f%% sd_of_mean=%.2f%% (%.1f sd)\n", s[i].name,
               churn ? "alloc_space" : "inuse_space", truth, est, rel * 100, sd_mean * 100,
               rel / sd_mean);
        CHECK_MSG(4 * sd_mean <= TOL, "%s: tolerance %.1f%% is only %.1f sd: enlarge the fixture",
                  s[i].name, TOL * 100, TOL / sd_mean);
        CHECK_MSG(fabs(rel) <= TOL, "%s: mean estimate %.0f vs truth %.0f (%+.2f%%)", s[i].name,
                  est, truth, rel * 100);
        if (churn)
            CHECK_MSG(est_inuse[i] == 0, "%s: freed blocks still in use: %.0f", s[i].name,
                      est_inuse[i]);
    }
    free(first);
}

/* Numeric value of `key N` in the fixture output. */
static long long out_value(const char *out, const char *key) {
    const char *p = strstr(out, key);
    CHECK_MSG(p != NULL, "no %s in:\n%s", key, out);
    return strtoll(p + strlen(key), NULL, 10);
}

static void check_within(int64_t got, long long truth, double tol, const char *what) {
    double rel = (double)got / (double)truth - 1;
    printf("%s: profile %lld ns, measured %lld ns (%+.2f%%)\n", what, (long long)got, truth,
           rel * 100);
    CHECK_MSG(fabs(rel) <= tol, "%s: %lld ns in the profile, %lld ns measured (%+.1f%%)", what,
              (long long)got, truth, rel * 100);
}

TEST(shim, mutex_delay_matches_measured) {
    char *out = NULL;
    int rc = su_run(&out, "MAPPROF_PROFILES=mutex,block", su_fixture("mutexdelay"));
    CHECK_MSG(rc == 0, "mutexdelay failed:\n%s", out);
    CHECK_MSG(!strstr(out, "mapprof:"), "diagnostics:\n%s", out);
    long long n = out_value(out, "contentions "), waited = out_value(out, "waited_ns ");
    CHECK_EQ_I(n, 25);
    CHECK(waited > 0);
    int pid = su_only_pid_of("block");
    CHECK(pid > 0);
    pprof_profile *b = su_load(su_prof(pid, "block"));
    CHECK_EQ_I(su_sum(b, "contentions", "waiter_lock", -1), n);
    check_within(su_sum(b, "delay", "waiter_lock", -1), waited, 0.10, "block at waiter_lock");
    pprof_profile_free(b);
    pprof_profile *m = su_load(su_prof(pid, "mutex"));
    CHECK_EQ_I(su_sum(m, "contentions", "holder_unlock", -1), n);
    check_within(su_sum(m, "delay", "holder_unlock", -1), waited, 0.10, "mutex at holder_unlock");
    pprof_profile_free(m);
    free(out);
}

/* The re-lock inside pthread_cond_wait happens in glibc, out of the lock
 * hooks' sight: the waiter's block time and the holder's mutex charge
 * must still match what the fixture measured, a free re-lock must not
 * count, and a cancelled waiter must leave no phantom behind. */
TEST(shim, cond_relock_delay_matches_measured) {
    char *out = NULL;
    int rc = su_run(&out, "MAPPROF_PROFILES=mutex,block", su_fixture("condrelock"));
    CHECK_MSG(rc == 0, "condrelock failed:\n%s", out);
    CHECK_MSG(!strstr(out, "mapprof:"), "diagnostics:\n%s", out);
    long long a_block = out_value(out, "a_block_ns "), a_mutex = out_value(out, "a_mutex_ns ");
    long long b_block = out_value(out, "b_block_ns "), b_holder = out_value(out, "b_holder_ns ");
    CHECK(out_value(out, "c_waits ") >= 8);
    int pid = su_only_pid_of("block");
    CHECK(pid > 0);
    pprof_profile *b = su_load(su_prof(pid, "block"));
    CHECK_EQ_I(su_sum(b, "contentions", "waiter_a_wait", -1), 8);
    check_within(su_sum(b, "delay", "waiter_a_wait", -1), a_block, 0.10, "block at waiter_a_wait");
    CHECK_EQ_I(su_sum(b, "contentions", "waiter_b_wait", -1), 24);
    check_within(su_sum(b, "delay", "waiter_b_wait", -1), b_block, 0.10, "block at waiter_b_wait");
    /* Signalled without the mutex held: the re-lock never waited. */
    CHECK_EQ_I(su_sum(b, "contentions", "waiter_c_wait", -1), 0);
    int64_t block_all = su_sum(b, "delay", NULL, -1);
    pprof_profile_free(b);
    pprof_profile *m = su_load(su_prof(pid, "mutex"));
    check_within(su_sum(m, "delay", "signaller_unlock", -1), a_mutex + b_holder, 0.10,
                 "mutex at signaller_unlock");
    CHECK_EQ_I(su_sum(m, "contentions", "signaller_unlock", -1), 8 + 24);
    /* The queue of broadcast waiters charges each other on release. */
    CHECK(su_sum(m, "contentions", "waiter_b_unlock", -1) >= 8);
    CHECK_EQ_I(su_sum(m, "contentions", "later_unlock", -1), 0);
    /* Every waited nanosecond is charged to some holder. */
    check_within(su_sum(m, "delay", NULL, -1), block_all, 0.10, "mutex total vs block total");
    pprof_profile_free(m);
    free(out);
}
