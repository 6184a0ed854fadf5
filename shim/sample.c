/*
 * sample.c — exponential gaps for Poisson sampling by weight.
 *
 * Marking each byte with probability 1/R makes the distance between marks
 * exponential with mean R. Because the exponential distribution is
 * memoryless, drawing a fresh gap after each sampled event (instead of
 * carrying the remainder) keeps the sampling probability of an event of w
 * bytes at exactly 1 - exp(-w/R), which is what Go's scaleHeapSample (and
 * pprof/ conventions) assume when unbiasing.
 *
 * The generator is xorshift64* (Vigna, 2014): fast, never allocates, and
 * reproducible from MAPPROF_SEED. Not for cryptography.
 */
#include "shim/sample.h"

#include "pprof/pprof.h"

static uint64_t base_seed;
static bool base_fixed;
static uint64_t started; /* samplers started since the base seed was set */

void shim_sampler_base_seed(uint64_t seed, bool fixed) {
    __atomic_store_n(&base_seed, seed, __ATOMIC_RELAXED);
    __atomic_store_n(&base_fixed, fixed, __ATOMIC_RELAXED);
    __atomic_store_n(&started, 0, __ATOMIC_RELAXED);
}

bool shim_sampler_cross(shim_sampler *s, uint64_t w, uint64_t mean) {
    if (__builtin_expect(s->rng == 0, 0)) {
        /* First event of this sampler: start it, then count the event
         * against the fresh gap rather than sampling it unconditionally. */
        uint64_t n = __atomic_add_fetch(&started, 1, __ATOMIC_RELAXED);
        uint64_t seed = __atomic_load_n(&base_seed, __ATOMIC_RELAXED) + n * 0x9e3779b97f4a7c15ull;
        if (!__atomic_load_n(&base_fixed, __ATOMIC_RELAXED))
            seed ^= (uint64_t)(uintptr_t)s;
        shim_sampler_seed(s, seed, mean);
        s->left -= shim_sampler_weight(w);
        if (s->left >= 0)
            return false;
    }
    s->left = shim_sampler_gap(s, mean);
    return true;
}

void shim_sampler_seed(shim_sampler *s, uint64_t seed, uint64_t mean) {
    /* splitmix64 finalizer spreads nearby seeds (thread 1, 2, 3...). */
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    s->rng = z ? z : 0x2545f4914f6cdd1dull;
    s->left = shim_sampler_gap(s, mean);
}

uint64_t shim_sampler_rand(shim_sampler *s) {
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

int64_t shim_sampler_gap(shim_sampler *s, uint64_t mean) {
    if (mean <= 1)
        return 0; /* every event: "left -= w" goes negative at once */
    /* u uniform in (0, 1]: 53 random bits, never 0 so log(u) is finite. */
    double u = (double)((shim_sampler_rand(s) >> 11) + 1) * 0x1.0p-53;
    double g = -pprof_log(u) * (double)mean;
    if (g >= 9.2e18)
        g = 9.2e18;
    return (int64_t)g;
}

uint64_t shim_heap_size_class(uint64_t size) {
    if (size <= 1024)
        return (size + 15) / 16;
    unsigned e = 63u - (unsigned)__builtin_clzll(size); /* >= 10 */
    return 65 + (uint64_t)(e - 10) * 8 + ((size >> (e - 3)) & 7);
}

double shim_heap_weight(uint64_t size, uint64_t rate) {
    if (rate <= 1 || size == 0)
        return 1;
    return 1 / -pprof_expm1(-(double)size / (double)rate);
}
