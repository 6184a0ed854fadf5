/*
 * conventions.h — the one place where mapprof's profile kinds are named.
 *
 * Every profile the project writes uses these sample types, units, period
 * types and label keys; readers, tests and docs refer to them here. Heap,
 * mutex and block follow Go's runtime/pprof exactly (so `go tool pprof`
 * aliases such as -inuse_space and Pyroscope's memory:* / mutex:* types
 * work); grow and maps are mapprof's own profiles of libgomap.
 *
 * heap   sample types alloc_objects/count, alloc_space/bytes,
 *        inuse_objects/count, inuse_space/bytes (this order);
 *        period_type space/bytes; period = the sampling rate in bytes
 *        (Go's MemProfileRate, default 524288); values unbiased with
 *        pprof_scale_heap_sample; numeric label "bytes" = block size
 *        (no unit: pprof infers bytes from the key). default_sample_type
 *        unset (pprof shows inuse_space); "alloc_space" for an allocs
 *        profile.
 * mutex, block
 *        contentions/count, delay/nanoseconds; period_type
 *        contentions/count; period 1 (values already scaled).
 * grow   (libgomap grow events) grows/count, bytes/bytes (new bucket
 *        arrays), entries/count (entries when the grow started); string
 *        labels kind = double|same_size, type = the map type name; numeric
 *        labels from_B, to_B (log2 bucket counts, unit "B").
 * maps   (live maps by creation site) maps/count, entries/count,
 *        buckets/count, overflow/count, bytes/bytes; numeric labels B
 *        (unit "B") and grows (unit "count").
 * cpu    as Go's CPU profile: samples/count, cpu/nanoseconds (= samples *
 *        period); period_type cpu/nanoseconds; period = 1e9 / the
 *        sampling rate in Hz (10000000 at Go's 100 Hz); duration_nanos
 *        set; stack[0] is the interrupted PC, not a return address.
 *        mapprof adds the string label "thread" (the thread's name).
 * threads
 *        (every thread at one moment) threads/count, 1 per thread;
 *        period_type threads/count, period 1; string labels thread
 *        (name), state (running|mutex|rwlock|cond|syscall|no_answer),
 *        syscall (its name, when known), lock (hex address, when waiting
 *        on one); numeric labels tid, wait (unit nanoseconds, since the
 *        wait on lock began). stack[0] is the interrupted PC.
 */
#ifndef MAPPROF_PPROF_CONVENTIONS_H
#define MAPPROF_PPROF_CONVENTIONS_H

#include <stdint.h>

#include "pprof/pprof.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Units. */
#define PPROF_UNIT_COUNT       "count"
#define PPROF_UNIT_BYTES       "bytes"
#define PPROF_UNIT_NANOSECONDS "nanoseconds"
#define PPROF_UNIT_B           "B" /* log2 of a bucket count */

/* heap */
#define PPROF_HEAP_ALLOC_OBJECTS "alloc_objects"
#define PPROF_HEAP_ALLOC_SPACE   "alloc_space"
#define PPROF_HEAP_INUSE_OBJECTS "inuse_objects"
#define PPROF_HEAP_INUSE_SPACE   "inuse_space"
#define PPROF_HEAP_PERIOD_TYPE   "space"
#define PPROF_HEAP_DEFAULT_RATE  524288 /* Go's default MemProfileRate */
#define PPROF_LABEL_BYTES        "bytes"

/* mutex and block */
#define PPROF_CONTENTIONS "contentions"
#define PPROF_DELAY       "delay"

/* grow */
#define PPROF_GROW_GROWS     "grows"
#define PPROF_GROW_BYTES     "bytes"
#define PPROF_GROW_ENTRIES   "entries"
#define PPROF_LABEL_KIND     "kind"
#define PPROF_KIND_DOUBLE    "double"
#define PPROF_KIND_SAME_SIZE "same_size"
#define PPROF_LABEL_FROM_B   "from_B"
#define PPROF_LABEL_TO_B     "to_B"
#define PPROF_LABEL_TYPE     "type"

/* maps */
#define PPROF_MAPS_MAPS     "maps"
#define PPROF_MAPS_ENTRIES  "entries"
#define PPROF_MAPS_BUCKETS  "buckets"
#define PPROF_MAPS_OVERFLOW "overflow"
#define PPROF_MAPS_BYTES    "bytes"
#define PPROF_LABEL_B       "B"
#define PPROF_LABEL_GROWS   "grows"

/* cpu */
#define PPROF_CPU_SAMPLES        "samples"
#define PPROF_CPU_CPU            "cpu"
#define PPROF_CPU_DEFAULT_PERIOD 10000000 /* 100 Hz */
#define PPROF_LABEL_THREAD       "thread"

/* threads */
#define PPROF_THREADS_THREADS "threads"
#define PPROF_LABEL_TID       "tid"
#define PPROF_LABEL_STATE     "state"
#define PPROF_LABEL_SYSCALL   "syscall"
#define PPROF_LABEL_LOCK      "lock"
#define PPROF_LABEL_WAIT      "wait"

/* Ready-made sample type lists (value order of every sample). */
PPROF_API extern const pprof_value_type pprof_heap_types[4];
PPROF_API extern const pprof_value_type pprof_contention_types[2]; /* mutex, block */
PPROF_API extern const pprof_value_type pprof_grow_types[3];
PPROF_API extern const pprof_value_type pprof_maps_types[5];
PPROF_API extern const pprof_value_type pprof_cpu_types[2];
PPROF_API extern const pprof_value_type pprof_threads_types[1];

enum pprof_kind {
    PPROF_KIND_HEAP,
    PPROF_KIND_ALLOCS, /* heap with default_sample_type alloc_space */
    PPROF_KIND_MUTEX,
    PPROF_KIND_BLOCK,
    PPROF_KIND_GROW,
    PPROF_KIND_MAPS,
    PPROF_KIND_CPU,
    PPROF_KIND_THREADS,
};

/*
 * Fill cfg's sample types, period type, period and default sample type for
 * a kind (other members untouched). period: the heap sampling rate in bytes
 * for heap/allocs (<= 0: Go's default), the nanoseconds between samples for
 * cpu (<= 0: 100 Hz), ignored (1) otherwise.
 */
PPROF_API void pprof_config_for(enum pprof_kind kind, int64_t period, pprof_builder_config *cfg);

/*
 * Go's scaleHeapSample (runtime/pprof/protomem.go): unbias `count` sampled
 * objects totalling `size` bytes taken with mean sampling distance `rate`
 * bytes. Each object of average size s = size/count was sampled with
 * probability 1 - exp(-s/rate), so both are multiplied by
 * 1 / (1 - exp(-s/rate)) and truncated. count or size 0 gives 0, 0;
 * rate <= 1 (every allocation recorded) returns them unchanged.
 */
PPROF_API void pprof_scale_heap_sample(int64_t count, int64_t size, int64_t rate,
                                       int64_t *out_count, int64_t *out_size);

#ifdef __cplusplus
}
#endif

#endif
