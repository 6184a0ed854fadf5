/*
 * addrpool.h — real code addresses for the benchmarks that build
 * profiles: spread evenly over the main executable's and libc's mapped
 * text, so that symbolization finds real functions, as in a dump.
 */
#ifndef BENCH_ADDRPOOL_H
#define BENCH_ADDRPOOL_H

#include <string.h>

#include "pprof/pprof.h"

/* Fill pool[0..cap) (half per object); returns how many were filled. */
static inline size_t bench_address_pool(const pprof_mappings *maps, uint64_t *pool, size_t cap) {
    size_t np = 0;
    for (size_t i = 0; i < pprof_mappings_count(maps) && np < cap; i++) {
        const pprof_mapping_info *mi = pprof_mappings_get(maps, i);
        if (!mi->main && !strstr(mi->path, "/libc.so"))
            continue;
        uint64_t span = mi->limit - mi->start;
        for (size_t k = 0; k < cap / 2 && np < cap; k++)
            pool[np++] = mi->start + 1 + span * k / (cap / 2);
    }
    return np;
}

#endif
