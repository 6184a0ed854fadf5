/*
 * expmath.c — the natural logarithm and exp(x) - 1 in double precision,
 * for the heap sampler's gaps and weights (shim/sample.c) and Go's heap
 * scaling (conventions.c), so that neither pprof/ nor the preloaded shim
 * links libm: in a host that does not use libm itself, loading it for
 * three functions cost ~0.5 MiB of resident pages (its IFUNC resolvers
 * run over its whole text at load) and part of every process's start-up.
 *
 * Method: log by x = m * 2^e with m in [sqrt(1/2), sqrt(2)), log(m) =
 * 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172, by its odd series to
 * s^25; expm1 by x = k ln2 + r, |r| <= ln2/2, the Taylor series of
 * expm1(r) to r^17, then 2^k (expm1(r) + 1) - 1 arranged to round once. Both stay within a few ulps
 * of glibc's (tests/pprof/expmath_test.c compares them over the ranges used). Invariants: no libm
 * call, no errno change. Non-goals: correct rounding, subnormal arguments to log, speed beyond "a
 * sample's worth".
 */
#include <stdint.h>
#include <string.h>

#include "pprof/pprof.h"

#define LN2_HI 6.93147180369123816490e-01 /* ln 2, upper bits (exact times small k) */
#define LN2_LO 1.90821492927058770002e-10 /* ln 2 - LN2_HI */
#define LOG2E  1.44269504088896338700e+00

static double with_exponent(double m, int e) {
    uint64_t bits;
    memcpy(&bits, &m, sizeof bits);
    bits = (bits & ~(UINT64_C(0x7ff) << 52)) | ((uint64_t)(e + 1023) << 52);
    memcpy(&m, &bits, sizeof m);
    return m;
}

double pprof_log(double x) {
    if (!(x > 0))
        return x == 0 ? -1.0 / 0.0 : 0.0 / 0.0;
    if (x == 1.0 / 0.0)
        return x;
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    int e = (int)((bits >> 52) & 0x7ff) - 1023; /* normal numbers only */
    double m = with_exponent(x, 0);             /* [1, 2) */
    if (m > 1.41421356237309504880) {
        m *= 0.5;
        e++;
    }
    double s = (m - 1) / (m + 1), s2 = s * s, term = s, sum = 0;
    for (int n = 1; n <= 25; n += 2) {
        sum += term / n;
        term *= s2;
    }
    return 2 * sum + e * LN2_LO + e * LN2_HI;
}

double pprof_expm1(double x) {
    if (x != x || x > 709.0)
        return x != x ? x : 1.0 / 0.0;
    if (x < -745.0)
        return -1.0;
    double kd = x * LOG2E;
    int k = (int)(kd < 0 ? kd - 0.5 : kd + 0.5);
    double r = (x - k * LN2_HI) - k * LN2_LO; /* |r| <= ln2/2 */
    /* r (1 + r/2 (1 + r/3 (1 + ...))): Horner from the smallest term. */
    double p = 1;
    for (int n = 18; n >= 2; n--)
        p = 1 + p * r / n;
    double sum = r * p;
    if (k == 0)
        return sum;
    /* 2^k (sum + 1) - 1 = 2^k (sum - (2^-k - 1)): 2^-k - 1 is exact for
     * |k| <= 52, so one rounding, where sum + 1 would drop sum's low bits. */
    if (k >= -52 && k <= 52)
        return (sum - (with_exponent(1.0, -k) - 1)) * with_exponent(1.0, k);
    /* k in [-1075, 1023]: scale in two steps so that 2^k itself never
     * leaves the normal range (the -1 then decides nothing or all). */
    double half = with_exponent(1.0, k / 2), rest = with_exponent(1.0, k - k / 2);
    return (sum + 1) * half * rest - 1;
}
