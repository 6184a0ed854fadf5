/*
 * diff_test.c — `mapprof diff`: the exact gate, the noise margin (its
 * formula, and by simulation its false-alarm and detection rates), the
 * growth listing, focus, and input errors.
 */
#include "tests/cli/cli_test.h"

#include <math.h>

#define RATE  524288
#define BLOCK 1024

/* A heap profile of k sampled blocks of BLOCK bytes at `stack`, unbiased
 * the way the shim does it; rate 1 means every allocation recorded. */
static void heap_file(const char *path, int64_t k, int64_t rate, int fn) {
    ct_sample s = {3, {CT_ALLOC, fn, CT_MAIN}, {0}, NULL};
    pprof_scale_heap_sample(k, k * BLOCK, rate, &s.v[0], &s.v[1]);
    s.v[2] = s.v[0];
    s.v[3] = s.v[1];
    char comment[128];
    snprintf(comment, sizeof comment,
             "mapprof: reason=exit heap_rate=%lld mutex_rate=1 grow_rate=1 seed=1 depth=64",
             (long long)rate);
    const char *comments[] = {comment, NULL};
    ct_write(path, PPROF_KIND_HEAP, rate, comments, &s, 1);
}

/* Sampling variance of one such file, computed here independently. */
static double heap_var(int64_t k, int64_t rate) {
    int64_t objs, space;
    pprof_scale_heap_sample(k, k * BLOCK, rate, &objs, &space);
    double p = 1 - exp(-(double)BLOCK / (double)rate);
    return (1 - p) * (double)space * (double)space / (double)k;
}

static double printed_margin(const char *out) {
    const char *m = strstr(out, "noise margin: ");
    CHECK_MSG(m && strchr(m, '['), "no margin in:\n%s", out);
    return strtod(strchr(m, '[') + 1, NULL);
}

TEST(cli, diff_exact_gate) {
    const ct_sample base[] = {{2, {CT_PARSE, CT_MAIN}, {10, 100000000}, NULL}};
    const ct_sample grown[] = {{2, {CT_PARSE, CT_MAIN}, {10, 100000000}, NULL},
                               {3, {CT_IDLE, CT_LOAD_USERS, CT_MAIN}, {2, 15000000}, NULL}};
    const char *b = ct_path("base.pb.gz"), *n = ct_path("new.pb.gz");
    ct_write(b, PPROF_KIND_MUTEX, 1, NULL, base, 1);
    ct_write(n, PPROF_KIND_MUTEX, 1, NULL, grown, 2);
    char *out;
    int rc = CT_RUN(&out, "diff '%s' '%s' --max-increase 10", b, n);
    CHECK_MSG(rc == 1, "rc %d:\n%s", rc, out);
    CHECK_CONTAINS(out, "base 100ms, new 115ms, change +15ms (+15.00%)");
    CHECK_CONTAINS(out, "noise margin: 0 [0 nanoseconds]");
    CHECK_CONTAINS(out, "FAIL");
    /* The grown function leads the list with its flat and cum deltas. */
    const char *list = strstr(out, "functions that grew most");
    CHECK_MSG(list, "%s", out);
    CHECK_CONTAINS(list, "+15ms        +15ms  ct_fn_idle");
    CHECK_MSG(strstr(list, "ct_fn_idle") < strstr(list, "ct_fn_load_users"), "%s", out);
    CHECK_MSG(!strstr(list, "ct_fn_parse"), "parse did not grow:\n%s", out);
    free(out);
    CT_EXPECT(0, NULL, "diff '%s' '%s' --max-increase 15", b, n);
    CT_EXPECT(0, NULL, "diff '%s' '%s' --max-increase 20%%", b, n);
    /* Without a limit: a report, exit 0. */
    CT_EXPECT(0, "report only", "diff '%s' '%s'", b, n);
    /* Focus on what did not change: no increase. */
    CT_EXPECT(0, "change 0", "diff '%s' '%s' --max-increase 0 --focus ct_fn_parse", b, n);
    /* Ignore the new path: no increase either. */
    CT_EXPECT(0, NULL, "diff '%s' '%s' --max-increase 0 --ignore load_users", b, n);
    /* A decrease never fails. */
    CT_EXPECT(0, NULL, "diff '%s' '%s' --max-increase 0", n, b);
}

TEST(cli, diff_noise_margin_formula) {
    const char *b = ct_path("b.pb.gz"), *n = ct_path("n.pb.gz");
    const char *b1 = ct_path("b1.pb.gz"), *n1 = ct_path("n1.pb.gz");
    /* 20 vs 26 sampled blocks: +30%, but well inside the noise. */
    heap_file(b, 20, RATE, CT_LOAD_USERS);
    heap_file(n, 26, RATE, CT_LOAD_USERS);
    char *out;
    int rc = CT_RUN(&out, "diff '%s' '%s' --max-increase 10 --sample-index alloc_space", b, n);
    CHECK_MSG(rc == 0, "rc %d:\n%s", rc, out);
    CHECK_CONTAINS(out, "but not the noise margin");
    CHECK_CONTAINS(out, "20 records");
    CHECK_CONTAINS(out, "26 records");
    double want = 3 * sqrt(heap_var(20, RATE) + heap_var(26, RATE));
    double got = printed_margin(out);
    CHECK_MSG(fabs(got - want) <= 0.005 * want, "margin %.0f, want %.0f:\n%s", got, want, out);
    free(out);
    /* --sigmas scales it. */
    rc = CT_RUN(&out, "diff '%s' '%s' --max-increase 10 --sample-index alloc_space --sigmas 1", b,
                n);
    got = printed_margin(out);
    CHECK_MSG(fabs(got - want / 3) <= 0.005 * want, "margin %.0f, want %.0f", got, want / 3);
    free(out);
    /* The same values recorded exhaustively (rate 1): no margin, it fails. */
    int64_t ob, sb, on, sn;
    pprof_scale_heap_sample(20, 20 * BLOCK, RATE, &ob, &sb);
    pprof_scale_heap_sample(26, 26 * BLOCK, RATE, &on, &sn);
    const ct_sample xb = {3, {CT_ALLOC, CT_LOAD_USERS, CT_MAIN}, {ob, sb, ob, sb}, NULL};
    const ct_sample xn = {3, {CT_ALLOC, CT_LOAD_USERS, CT_MAIN}, {on, sn, on, sn}, NULL};
    const char *one[] = {"mapprof: reason=exit heap_rate=1 mutex_rate=1 grow_rate=1", NULL};
    ct_write(b1, PPROF_KIND_HEAP, 1, one, &xb, 1);
    ct_write(n1, PPROF_KIND_HEAP, 1, one, &xn, 1);
    CT_EXPECT(1, "not sampled", "diff '%s' '%s' --max-increase 10", b1, n1);
    /* Many records: the same +30% stands far out of the noise. */
    heap_file(b, 20000, RATE, CT_LOAD_USERS);
    heap_file(n, 26000, RATE, CT_LOAD_USERS);
    rc = CT_RUN(&out, "diff '%s' '%s' --max-increase 10", b, n);
    CHECK_MSG(rc == 1, "rc %d:\n%s", rc, out);
    want = 3 * sqrt(heap_var(20000, RATE) + heap_var(26000, RATE));
    got = printed_margin(out);
    CHECK_MSG(fabs(got - want) <= 0.005 * want, "margin %.0f, want %.0f", got, want);
    free(out);
}

/* Knuth's Poisson sampler with a splitmix64 stream. */
static uint64_t rng_state;
static double uniform(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static int64_t poisson(double lambda) {
    double l = exp(-lambda), p = 1;
    int64_t k = 0;
    do {
        k++;
        p *= uniform();
    } while (p > l);
    return k - 1;
}

/* Fraction of trials in which diff fails with --max-increase 0. */
static double fail_rate(double lambda_base, double lambda_new, int trials) {
    const char *b = ct_path("mc_b.pb.gz"), *n = ct_path("mc_n.pb.gz");
    int fails = 0;
    for (int t = 0; t < trials; t++) {
        int64_t kb = poisson(lambda_base), kn = poisson(lambda_new);
        heap_file(b, kb ? kb : 1, RATE, CT_LOAD_USERS);
        heap_file(n, kn ? kn : 1, RATE, CT_LOAD_USERS);
        int rc = CT_RUN(NULL, "diff '%s' '%s' --max-increase 0 >/dev/null", b, n);
        CHECK_MSG(rc == 0 || rc == 1, "rc %d", rc);
        fails += rc == 1;
    }
    return (double)fails / trials;
}

/*
 * The documented behaviour: with no real change a 3-sigma margin almost
 * never fails a build (one-sided 3 sigma: ~0.13%; allow 2%), while a
 * tripling of the sampled allocations is caught nearly always.
 */
TEST_TIMEOUT(cli, diff_noise_simulation, 120) {
    rng_state = th_seed();
    double fa = fail_rate(50, 50, 150);
    CHECK_MSG(fa <= 0.02, "false alarms %.3f with no change", fa);
    double det = fail_rate(50, 150, 60);
    CHECK_MSG(det >= 0.95, "detected only %.3f of tripled profiles", det);
}

TEST(cli, diff_one_in_n_mutex) {
    /* 5 recorded contentions at 1 in 100: values scaled by 100. */
    const ct_sample s[] = {{2, {CT_PARSE, CT_MAIN}, {500, 5000000}, NULL}};
    const char *c100[] = {"mapprof: reason=exit heap_rate=524288 mutex_rate=100 grow_rate=1", NULL};
    const char *b = ct_path("mb.pb.gz"), *n = ct_path("mn.pb.gz");
    ct_write(b, PPROF_KIND_MUTEX, 1, c100, s, 1);
    ct_write(n, PPROF_KIND_MUTEX, 1, c100, s, 1);
    char *out;
    int rc = CT_RUN(&out, "diff '%s' '%s'", b, n);
    CHECK_MSG(rc == 0, "rc %d:\n%s", rc, out);
    CHECK_CONTAINS(out, "1 in 100 events recorded, 5 records");
    /* Var = (1 - 1/100) * V^2 / 5 per side. */
    double v = 5e6, want = 3 * sqrt(2 * 0.99 * v * v / 5);
    double got = printed_margin(out);
    CHECK_MSG(fabs(got - want) <= 0.005 * want, "margin %.0f, want %.0f", got, want);
    free(out);
}

TEST(cli, diff_input_errors) {
    const ct_sample s[] = {{2, {CT_PARSE, CT_MAIN}, {1, 2, 3, 4}, NULL}};
    const char *h = ct_path("h.pb.gz"), *m = ct_path("m.pb.gz"), *bad = ct_path("bad.pb.gz");
    ct_write(h, PPROF_KIND_HEAP, 0, NULL, s, 1);
    ct_write(m, PPROF_KIND_MUTEX, 0, NULL, s, 1);
    CHECK_EQ_I(th_sh(NULL, "printf 'not a profile' > '%s'", bad), 0);
    char cases[8][2048];
    snprintf(cases[0], sizeof cases[0], "diff '%s' '%s'", h, m);
    snprintf(cases[1], sizeof cases[1], "diff '%s'", h);
    snprintf(cases[2], sizeof cases[2], "diff '%s' '%s' '%s'", h, h, h);
    snprintf(cases[3], sizeof cases[3], "diff '%s' /nonexistent", h);
    snprintf(cases[4], sizeof cases[4], "diff '%s' '%s'", bad, h);
    snprintf(cases[5], sizeof cases[5], "diff '%s' '%s' --max-increase x", h, h);
    snprintf(cases[6], sizeof cases[6], "diff '%s' '%s' --max-increase -5", h, h);
    snprintf(cases[7], sizeof cases[7], "diff '%s' '%s' --sigmas", h, h);
    ct_check_errors((const char(*)[2048])cases, sizeof cases / sizeof *cases);
}
