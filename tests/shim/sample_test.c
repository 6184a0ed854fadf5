/*
 * sample_test.c — the byte sampler against the law it promises: gaps with
 * mean R, and an event of w bytes sampled with probability 1 - exp(-w/R),
 * the probability pprof/'s unbiasing divides by. Statistical checks use
 * bounds of several standard deviations, so they fail only on a real bias.
 */
#include "tests/harness/test.h"

#include "shim/sample.h"

#include <math.h>

TEST(shim, sample_gap_mean_is_rate) {
    shim_sampler s;
    shim_sampler_seed(&s, th_seed(), 1000);
    const int n = 400000;
    double sum = 0, sumsq = 0;
    for (int i = 0; i < n; i++) {
        double g = (double)shim_sampler_gap(&s, 1000);
        CHECK(g >= 0);
        sum += g;
        sumsq += g * g;
    }
    double mean = sum / n, var = sumsq / n - mean * mean;
    /* Exponential: sd == mean; the mean of n gaps has sd 1000/sqrt(n) ~ 1.6. */
    CHECK_MSG(fabs(mean - 1000) < 10, "mean gap %.2f", mean);
    CHECK_MSG(fabs(sqrt(var) - 1000) < 20, "gap sd %.2f", sqrt(var));
}

TEST(shim, sample_probability_matches_formula) {
    static const uint64_t sizes[] = {16, 256, 4096, 65536, 524288, 2097152};
    const uint64_t rate = 524288;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        shim_sampler s = {0};
        shim_sampler_base_seed(th_seed() + k, true);
        const int n = 200000;
        int hit = 0;
        for (int i = 0; i < n; i++)
            hit += shim_sampler_take(&s, sizes[k], rate);
        double p = 1 - exp(-(double)sizes[k] / (double)rate);
        double sd = sqrt(p * (1 - p) / n);
        double got = (double)hit / n;
        CHECK_MSG(fabs(got - p) < 5 * sd + 1e-5, "size %llu: sampled %.6f, expected %.6f (sd %.6f)",
                  (unsigned long long)sizes[k], got, p, sd);
    }
}

TEST(shim, sample_rate_one_takes_everything) {
    shim_sampler s = {0};
    shim_sampler_base_seed(1, true);
    for (int i = 1; i < 1000; i++)
        CHECK(shim_sampler_take(&s, (uint64_t)i, 1));
    CHECK(!shim_sampler_take(&s, 0, 1)); /* a zero-byte event carries no weight */
}

/* A fixed base seed reproduces the same decisions; another seed does not. */
TEST(shim, sample_fixed_seed_is_reproducible) {
    int runs[3][64];
    const uint64_t seeds[3] = {42, 42, 43};
    for (int r = 0; r < 3; r++) {
        shim_sampler_base_seed(seeds[r], true);
        shim_sampler s = {0};
        for (int i = 0; i < 64; i++) {
            int hits = 0;
            for (int j = 0; j < 1000; j++)
                hits += shim_sampler_take(&s, 100, 4096);
            runs[r][i] = hits;
        }
    }
    CHECK(!memcmp(runs[0], runs[1], sizeof runs[0]));
    CHECK(memcmp(runs[0], runs[2], sizeof runs[0]) != 0);
}

TEST(shim, sample_huge_weight_does_not_wrap) {
    /* A failing malloc(SIZE_MAX - k) must not push later samples away. */
    shim_sampler s = {0};
    shim_sampler_seed(&s, 7, 1);
    CHECK(shim_sampler_take(&s, UINT64_MAX - 100, 1));
    CHECK(shim_sampler_take(&s, 100, 1));
    shim_sampler_seed(&s, 7, 1000);
    CHECK(shim_sampler_take(&s, UINT64_MAX - 4096, 1000));
    CHECK(s.left >= 0);
}

/* Size classes: monotonic, 16-byte steps to 1 KiB, then no class wider
 * than 1/8 of its sizes (the `bytes` label stays within 12.5 %). */
TEST(shim, heap_size_classes) {
    uint64_t prev = shim_heap_size_class(0), lo = 0;
    CHECK_EQ_U(shim_heap_size_class(16), 1);
    CHECK_EQ_U(shim_heap_size_class(17), 2);
    CHECK_EQ_U(shim_heap_size_class(1024), 64);
    for (uint64_t s = 1; s < (1u << 22); s += 1 + s / 4096) {
        uint64_t c = shim_heap_size_class(s);
        CHECK_MSG(c == prev || c == prev + 1, "size %" PRIu64 ": class %" PRIu64 " after %" PRIu64,
                  s, c, prev);
        if (c != prev) {
            lo = s;
            prev = c;
        }
        CHECK_MSG(s <= 1024 ? s - lo < 16 : (s - lo) * 8 <= lo,
                  "size %" PRIu64 " in class from %" PRIu64, s, lo);
    }
    CHECK(shim_heap_size_class(UINT64_MAX) > shim_heap_size_class(UINT64_MAX / 2));
}

/* The per-block weight makes the byte-sampler's estimate unbiased for any
 * mix of sizes: a Monte Carlo run over 4,000 streams of mixed blocks. */
TEST(shim, heap_weight_unbiased) {
    const uint64_t rate = 65536;
    double est = 0, truth = 0;
    uint64_t r = th_seed() | 1;
    for (int run = 0; run < 4000; run++) {
        shim_sampler s;
        shim_sampler_seed(&s, r + (uint64_t)run, rate);
        for (int i = 0; i < 2000; i++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            uint64_t size = r % 8 == 0 ? 4096 + (r >> 8) % 200000 : 1 + (r >> 8) % 600;
            truth += (double)size;
            if (shim_sampler_take(&s, size, rate))
                est += shim_heap_weight(size, rate) * (double)size;
        }
    }
    double rel = est / truth - 1;
    CHECK_MSG(rel > -0.01 && rel < 0.01, "estimate off by %.2f%%", rel * 100);
    CHECK(shim_heap_weight(100, 1) == 1);
    CHECK(shim_heap_weight(0, 512) == 1);
}
