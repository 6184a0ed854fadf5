/*
 * expmath_test.c — pprof_log and pprof_expm1 against glibc's libm over the
 * ranges the samplers use (uniform (0, 1] for the gaps, -size/rate from
 * -745 to -1e-12 for the weights) and beyond, by relative error; and the
 * edge values.
 */
#include "tests/harness/test.h"

#include <float.h>
#include <math.h>

#include "pprof/pprof.h"

static uint64_t rnd(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double rel(double got, double want) {
    return want == 0 ? fabs(got) : fabs(got - want) / fabs(want);
}

TEST(pprof, expmath_log_matches_libm) {
    uint64_t s = th_seed() | 1;
    double worst = 0, at = 0;
    for (int i = 0; i < 400000; i++) {
        uint64_t r = rnd(&s);
        /* Half uniform in (0, 1] as the sampler draws, half log-uniform
         * over 1e-300..1e300. */
        double x = i % 2 ? (double)((r >> 11) + 1) * 0x1.0p-53
                         : exp(((double)(r >> 11) * 0x1.0p-53 - 0.5) * 1381.0);
        double e = rel(pprof_log(x), log(x));
        if (e > worst) {
            worst = e;
            at = x;
        }
    }
    CHECK_MSG(worst < 4 * DBL_EPSILON, "log: relative error %g at %.17g", worst, at);
    CHECK(pprof_log(1) == 0);
    CHECK(isinf(pprof_log(0)) && pprof_log(0) < 0);
    CHECK(isnan(pprof_log(-1)));
    CHECK(rel(pprof_log(0x1.0p-53), log(0x1.0p-53)) < 4 * DBL_EPSILON);
}

TEST(pprof, expmath_expm1_matches_libm) {
    uint64_t s = th_seed() | 1;
    double worst = 0, at = 0;
    for (int i = 0; i < 400000; i++) {
        uint64_t r = rnd(&s);
        double u = (double)(r >> 11) * 0x1.0p-53;
        /* -size/rate: log-uniform magnitudes 1e-12..745, mostly negative. */
        double x = -exp(u * 34.0 - 27.6);
        if (i % 8 == 0)
            x = -x < 700 ? -x : 700;
        double e = rel(pprof_expm1(x), expm1(x));
        if (e > worst) {
            worst = e;
            at = x;
        }
    }
    CHECK_MSG(worst < 4 * DBL_EPSILON, "expm1: relative error %g at %.17g", worst, at);
    CHECK(pprof_expm1(0) == 0);
    CHECK(pprof_expm1(-800) == -1);
    CHECK(isinf(pprof_expm1(800)));
    CHECK(rel(pprof_expm1(-1e-300), -1e-300) < DBL_EPSILON);
}
