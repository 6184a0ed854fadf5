/*
 * sample.h — Poisson sampling of a stream of events weighted by size
 * (bytes for the heap profile, 1 per event for the others): exponential
 * gaps with a given mean, the scheme of Go's runtime.MemProfileRate.
 */
#ifndef SHIM_SAMPLE_H
#define SHIM_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

/* Per-thread sampler state. All-zero means "not started": the first
 * shim_sampler_take initializes it lazily, so zero-filled TLS is valid. */
typedef struct shim_sampler {
    int64_t left; /* weight until the next sample point */
    uint64_t rng; /* xorshift64* state, never 0 once started */
} shim_sampler;

/* Start a sampler from a seed (any value; 0 is remapped). */
void shim_sampler_seed(shim_sampler *s, uint64_t seed, uint64_t mean);

/*
 * Where lazily started samplers get their seeds: with fixed == true each
 * new sampler is seeded from (seed, the order in which samplers started),
 * so a deterministic program samples the same events on every run
 * (MAPPROF_SEED); otherwise from seed mixed with the sampler's address.
 * Call before threads start (the shim's constructor, a fork child).
 */
void shim_sampler_base_seed(uint64_t seed, bool fixed);

/* An exponentially distributed gap with the given mean (mean <= 1: 0). */
int64_t shim_sampler_gap(shim_sampler *s, uint64_t mean);

/* Uniform 64-bit random number from the sampler's generator. */
uint64_t shim_sampler_rand(shim_sampler *s);

/*
 * Account an event of weight w; true when it is sampled. The fast path is
 * one subtract and one branch; shim_sampler_cross, out of line, starts a
 * sampler on its first use and draws the next gap. An event of w is
 * sampled with probability 1 - exp(-w/mean).
 */
bool shim_sampler_cross(shim_sampler *s, uint64_t w, uint64_t mean);

/* A weight as a signed decrement: sizes above INT64_MAX (a failing
 * malloc(SIZE_MAX - k)) must not wrap negative and push the next sample
 * further away. left >= 0 before every decrement, so this cannot overflow. */
static inline int64_t shim_sampler_weight(uint64_t w) {
    return w > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)w;
}

static inline bool shim_sampler_take(shim_sampler *s, uint64_t w, uint64_t mean) {
    s->left -= shim_sampler_weight(w);
    if (__builtin_expect(s->left >= 0, 1))
        return false;
    return shim_sampler_cross(s, w, mean);
}

/* Heap buckets' size classes (heapprof.c): 16-byte steps up to 1 KiB,
 * then 8 classes per power of two; monotonic in size. */
uint64_t shim_heap_size_class(uint64_t size);

/* A sampled block's weight, the inverse of its probability of being
 * sampled at mean rate bytes: 1 / (1 - exp(-size / rate)); 1 when every
 * allocation is sampled (rate <= 1). */
double shim_heap_weight(uint64_t size, uint64_t rate);

#endif
