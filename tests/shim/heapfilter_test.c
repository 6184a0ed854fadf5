/*
 * heapfilter_test.c — the heap profile's address filter (shim/heapfilter.c)
 * against a model: a multiset of live addresses, many of them crowded into
 * a few slots (addresses 4 MiB apart), added and removed at random. At
 * every step the filter must say "maybe" for every live address (a "no"
 * would lose a sampled block's free) and "no" for every slot the model
 * says is empty (a stale "maybe" would send frees to the lock for
 * nothing, forever).
 */
#include "tests/harness/test.h"

#include "shim/shim.h"

enum { LIVE = 4096 };
static uintptr_t live[LIVE];
static int n_live;

static uint64_t rnd(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Live model addresses in p's slot. */
static int in_slot(uintptr_t p) {
    int n = 0;
    for (int i = 0; i < n_live; i++)
        n += shim_heap_filter_slot((void *)live[i]) == shim_heap_filter_slot((void *)p);
    return n;
}

TEST(shim, heap_filter_model) {
    const uintptr_t window = (uintptr_t)SHIM_HEAP_FILTER_SLOTS * 16;
    uint64_t r = th_seed() | 1;
    shim_heap_filter_clear();
    n_live = 0;
    for (int step = 0; step < 60000; step++) {
        uint64_t k = rnd(&r);
        if (n_live > 0 && (k % 2 == 0 || n_live == LIVE)) {
            int i = (int)((k >> 8) % (uint64_t)n_live);
            uintptr_t p = live[i];
            live[i] = live[--n_live];
            shim_heap_filter_del((void *)p);
            CHECK_EQ_I(shim_heap_maybe_sampled((void *)p), in_slot(p) > 0);
        } else {
            /* Half the addresses crowd into 8 slots, 4 MiB apart from each
             * other; the rest spread over 1 GiB (distinct by construction:
             * the multiset may hold one address twice, as glibc may not,
             * but the filter counts blocks, not addresses). */
            uintptr_t p = (k >> 1) % 2
                              ? 0x7f0000000000u + ((k >> 8) % 8) * 16 + ((k >> 16) % 64) * window
                              : 0x7f1000000000u + ((k >> 8) % (1u << 26)) * 16;
            CHECK_EQ_I(shim_heap_filter_add((void *)p), 0);
            live[n_live++] = p;
            CHECK(shim_heap_maybe_sampled((void *)p));
        }
        if (step % 997 == 0)
            for (int i = 0; i < n_live; i++)
                CHECK_MSG(shim_heap_maybe_sampled((void *)live[i]), "step %d: live %#lx missed",
                          step, (unsigned long)live[i]);
    }
    while (n_live > 0) {
        uintptr_t p = live[--n_live];
        shim_heap_filter_del((void *)p);
        CHECK_EQ_I(shim_heap_maybe_sampled((void *)p), in_slot(p) > 0);
    }
    for (size_t w = 0; w < SHIM_HEAP_FILTER_SLOTS / 64; w++)
        CHECK_MSG(shim_heap_filter[w] == 0, "word %zu still %#llx with nothing live", w,
                  (unsigned long long)shim_heap_filter[w]);
}
