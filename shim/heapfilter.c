/*
 * heapfilter.c — the address filter that lets free() and realloc() skip
 * every block that is not a live sampled block, without a lock.
 *
 * Sampled blocks are glibc's own (heap.c), so nothing in the pointer says
 * "sampled". shim.h's shim_heap_maybe_sampled reads one bit per 16-byte
 * slot of a 4 MiB window; this file keeps the bits. A slot's bit is set
 * while at least one live sampled block falls in it. Two live blocks share
 * a slot only when their addresses are a multiple of 4 MiB apart, so the
 * count beyond the first lives in a small table (`crowded`, slot -> extra
 * blocks) rather than in a counter per slot: 2^18 byte counters touched at
 * random would cost 256 KiB of the host's RSS.
 *
 * Invariants: bit(slot) == (live blocks in slot > 0), and crowded holds
 * exactly the slots with two or more (value = count - 1). Callers
 * serialise every change (heapprof.c's heap_lock), so whole-word stores
 * lose no update; readers are racy but sound: a block's bit is set before
 * its malloc returns, so its free (which happens after, for the program)
 * sees it, and only the last block leaving a slot clears it.
 * Non-goals: knowing which block is in a slot (heapprof.c's table does).
 */
#include <string.h>

#include "shim/shim.h"

uint64_t shim_heap_filter[SHIM_HEAP_FILTER_SLOTS / 64];
static shim_table crowded; /* slot + 1 -> live blocks in it beyond the first */

static void store(size_t i, bool on) {
    uint64_t bit = (uint64_t)1 << (i % 64), w = shim_heap_filter[i / 64];
    __atomic_store_n(&shim_heap_filter[i / 64], on ? w | bit : w & ~bit, __ATOMIC_RELAXED);
}

int shim_heap_filter_add(const void *p) {
    size_t i = shim_heap_filter_slot(p);
    if (!shim_heap_maybe_sampled(p)) {
        store(i, true);
        return 0;
    }
    uintptr_t extra = (uintptr_t)shim_table_get(&crowded, i + 1);
    return shim_table_put(&crowded, i + 1, (void *)(extra + 1)) < 0 ? -1 : 0;
}

void shim_heap_filter_del(const void *p) {
    size_t i = shim_heap_filter_slot(p);
    uintptr_t extra = (uintptr_t)shim_table_get(&crowded, i + 1);
    if (extra == 0)
        store(i, false);
    else if (extra == 1)
        shim_table_del(&crowded, i + 1);
    else
        shim_table_put(&crowded, i + 1, (void *)(extra - 1)); /* overwrite: no allocation */
}

void shim_heap_filter_clear(void) {
    shim_table_clear(&crowded);
    memset(shim_heap_filter, 0, sizeof shim_heap_filter);
}
