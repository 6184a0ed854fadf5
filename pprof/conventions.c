/*
 * conventions.c — the sample type tables and unbiasing of conventions.h.
 * Pure data and arithmetic: no allocation, no state, thread-safe.
 */
#include "pprof/conventions.h"

const pprof_value_type pprof_heap_types[4] = {
    {PPROF_HEAP_ALLOC_OBJECTS, PPROF_UNIT_COUNT},
    {PPROF_HEAP_ALLOC_SPACE, PPROF_UNIT_BYTES},
    {PPROF_HEAP_INUSE_OBJECTS, PPROF_UNIT_COUNT},
    {PPROF_HEAP_INUSE_SPACE, PPROF_UNIT_BYTES},
};

const pprof_value_type pprof_contention_types[2] = {
    {PPROF_CONTENTIONS, PPROF_UNIT_COUNT},
    {PPROF_DELAY, PPROF_UNIT_NANOSECONDS},
};

const pprof_value_type pprof_grow_types[3] = {
    {PPROF_GROW_GROWS, PPROF_UNIT_COUNT},
    {PPROF_GROW_BYTES, PPROF_UNIT_BYTES},
    {PPROF_GROW_ENTRIES, PPROF_UNIT_COUNT},
};

const pprof_value_type pprof_cpu_types[2] = {
    {PPROF_CPU_SAMPLES, PPROF_UNIT_COUNT},
    {PPROF_CPU_CPU, PPROF_UNIT_NANOSECONDS},
};

const pprof_value_type pprof_threads_types[1] = {
    {PPROF_THREADS_THREADS, PPROF_UNIT_COUNT},
};

const pprof_value_type pprof_maps_types[5] = {
    {PPROF_MAPS_MAPS, PPROF_UNIT_COUNT},    {PPROF_MAPS_ENTRIES, PPROF_UNIT_COUNT},
    {PPROF_MAPS_BUCKETS, PPROF_UNIT_COUNT}, {PPROF_MAPS_OVERFLOW, PPROF_UNIT_COUNT},
    {PPROF_MAPS_BYTES, PPROF_UNIT_BYTES},
};

void pprof_config_for(enum pprof_kind kind, int64_t period, pprof_builder_config *cfg) {
    cfg->default_sample_type = NULL;
    switch (kind) {
    case PPROF_KIND_HEAP:
    case PPROF_KIND_ALLOCS:
        cfg->sample_types = pprof_heap_types;
        cfg->n_sample_types = 4;
        cfg->period_type = (pprof_value_type){PPROF_HEAP_PERIOD_TYPE, PPROF_UNIT_BYTES};
        cfg->period = period > 0 ? period : PPROF_HEAP_DEFAULT_RATE;
        if (kind == PPROF_KIND_ALLOCS)
            cfg->default_sample_type = PPROF_HEAP_ALLOC_SPACE;
        return;
    case PPROF_KIND_MUTEX:
    case PPROF_KIND_BLOCK:
        cfg->sample_types = pprof_contention_types;
        cfg->n_sample_types = 2;
        cfg->period_type = (pprof_value_type){PPROF_CONTENTIONS, PPROF_UNIT_COUNT};
        cfg->period = 1;
        return;
    case PPROF_KIND_GROW:
        cfg->sample_types = pprof_grow_types;
        cfg->n_sample_types = 3;
        cfg->period_type = (pprof_value_type){PPROF_GROW_GROWS, PPROF_UNIT_COUNT};
        cfg->period = 1;
        return;
    case PPROF_KIND_MAPS:
        cfg->sample_types = pprof_maps_types;
        cfg->n_sample_types = 5;
        cfg->period_type = (pprof_value_type){PPROF_MAPS_MAPS, PPROF_UNIT_COUNT};
        cfg->period = 1;
        return;
    case PPROF_KIND_CPU:
        cfg->sample_types = pprof_cpu_types;
        cfg->n_sample_types = 2;
        cfg->period_type = (pprof_value_type){PPROF_CPU_CPU, PPROF_UNIT_NANOSECONDS};
        cfg->period = period > 0 ? period : PPROF_CPU_DEFAULT_PERIOD;
        return;
    case PPROF_KIND_THREADS:
        cfg->sample_types = pprof_threads_types;
        cfg->n_sample_types = 1;
        cfg->period_type = (pprof_value_type){PPROF_THREADS_THREADS, PPROF_UNIT_COUNT};
        cfg->period = 1;
        return;
    }
}

void pprof_scale_heap_sample(int64_t count, int64_t size, int64_t rate, int64_t *out_count,
                             int64_t *out_size) {
    if (count == 0 || size == 0) {
        *out_count = 0;
        *out_size = 0;
        return;
    }
    if (rate <= 1) {
        *out_count = count;
        *out_size = size;
        return;
    }
    double avg = (double)size / (double)count;
    double scale = 1 / -pprof_expm1(-avg / (double)rate);
    *out_count = (int64_t)((double)count * scale);
    *out_size = (int64_t)((double)size * scale);
}
