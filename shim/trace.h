/*
 * trace.h — what trace.c (the timeline's rings) and trace_json.c (its
 * Chrome Trace Event writer) share. Internal to the shim.
 */
#ifndef SHIM_TRACE_H
#define SHIM_TRACE_H

#include "shim/shim.h"

enum trace_kind { TRACE_GROW = 1, TRACE_LOCK, TRACE_HEAP };

/* flags of a grow: how it ended (TRACE_END_*) and whether it kept its size */
enum {
    TRACE_END_EVACUATED = 1, /* the last old bucket was evacuated (exact) */
    TRACE_END_CLEARED = 2,   /* gomap_clear dropped the old array mid-grow (exact) */
    TRACE_END_ITER = 3,      /* evacuated earlier; an iterator held the old array until now */
    TRACE_END_NEXT = 4,      /* ... and the map's next grow started before it let go */
    TRACE_END_FREED = 5,     /* gomap_free during the grow */
    TRACE_END_MASK = 7,
    TRACE_SAME_SIZE = 8,
};

/* flags of a lock wait */
enum { TRACE_LOCK_ACQUIRE = 0, TRACE_LOCK_COND = 1 };

/* One event (56 bytes): a finished grow, a lock wait, a heap point. */
typedef struct trace_ev {
    int64_t ts;       /* start (grow, wait) or time (heap), CLOCK_MONOTONIC ns */
    int64_t dur;      /* grow, wait: ns; heap: live bytes */
    uint64_t addr;    /* the map or the lock */
    uint64_t entries; /* grow: entries when it started */
    uint64_t bytes;   /* grow: bytes of the new bucket array */
    const char *type; /* grow: the map type's name (trace.c's copy) */
    int32_t tid;      /* the thread the event belongs to (a grow: the one that started it) */
    uint8_t kind, from_B, to_B, flags;
} trace_ev;

/* A grow still evacuating (trace.c's pending table). */
typedef struct trace_grow {
    int64_t start;
    uint64_t map, entries, bytes;
    const char *type;
    int32_t tid;
    uint8_t from_B, to_B, flags;
} trace_grow;

/* A grow as an event: ending at `end` (ns) with flags `how`, or still open
 * (end 0: no duration, how 0). */
static inline trace_ev shim_trace_grow_ev(const trace_grow *g, int64_t end, int how) {
    return (trace_ev){.ts = g->start,
                      .dur = end ? end - g->start : 0,
                      .addr = g->map,
                      .entries = g->entries,
                      .bytes = g->bytes,
                      .type = g->type,
                      .tid = g->tid,
                      .kind = TRACE_GROW,
                      .from_B = g->from_B,
                      .to_B = g->to_B,
                      .flags = (uint8_t)((g->flags & TRACE_SAME_SIZE) | how)};
}

typedef struct trace_ring {
    struct trace_ring *next; /* every ring, newest first */
    shim_spin lock;          /* the owner's writes against a dump's copy */
    int tid;
    char name[16];    /* the thread's name when its first event came */
    bool full;        /* may not grow any more: wraps */
    unsigned cap;     /* slots in ev */
    uint64_t head;    /* events written since start (ev[head % cap] is next) */
    uint64_t dropped; /* events overwritten */
    trace_ev *ev;
} trace_ring;

/* For the writer, at a dump (guard set). */
trace_ring *shim_trace_rings(void);
/* Copy r's kept events, oldest first, into out (at most room); *dropped
 * receives the ring's count of lost events. Returns the count copied. */
size_t shim_trace_copy_ring(trace_ring *r, trace_ev *out, size_t room, uint64_t *dropped);
/* The grows still evacuating, in a block from shim_mem_alloc (*out, free
 * with shim_free; NULL when none or no memory). */
size_t shim_trace_copy_pending(trace_grow **out);
uint64_t shim_trace_lost(void); /* events that found no memory */
/* The heap's last change not yet in a ring (false: none). */
bool shim_trace_heap_pending(int64_t *ts, int64_t *v);
uint64_t shim_trace_slots(void); /* event slots allocated, all rings */

#endif
