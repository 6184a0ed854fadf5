/*
 * gomap_check.h — test-only internals of libgomap (not part of the public
 * API; symbols use the gomap__ prefix and may change without notice).
 */
#ifndef GOMAP_CHECK_H
#define GOMAP_CHECK_H

#include <stddef.h>

#include "gomap.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Walk the whole map and verify Go's invariants: count equals the live slots
 * (old not-yet-evacuated buckets plus new buckets, no double counting),
 * tophash states are legal (live >= MIN_TOPHASH, emptyRest followed only by
 * empties through the chain), every live key sits in the bucket its hash
 * selects (in both arrays while growing), evacuated old buckets are wholly
 * evacuated, every old bucket below nevacuate is evacuated, overflow chains
 * are acyclic, noverflow is exact below B = 16, and flags are sane.
 * Returns 0 when all hold, else -1 with a description in why (if non-NULL,
 * truncated to whylen). Reads the map only; do not call concurrently with a
 * writer. A NULL map is valid (returns 0).
 */
GOMAP_API int gomap__check(const gomap *m, char *why, size_t whylen);

/* The map's hash seed (hash0), e.g. to verify reseeding on clear. */
GOMAP_API uint64_t gomap__seed(const gomap *m);

/*
 * Number of iterators currently holding the old generation(s) alive
 * (0 when none). Lets tests verify that gomap_iter_next's false return and
 * gomap_iter_done release their hold.
 */
GOMAP_API size_t gomap__iter_holds(const gomap *m);

/*
 * Finish any pending evacuation (growWork on every remaining old bucket).
 * Returns 0, or -ENOMEM (map unchanged from the failing step on).
 */
GOMAP_API int gomap__finish_grow(gomap *m);

#ifdef __cplusplus
}
#endif

#endif
