/*
 * api.c — the public API declared in shim/mapprof.h: on-demand dumps.
 *
 * The functions here are the only exported symbols a program calls on
 * purpose (the rest are interposers). They run on the caller's thread and
 * reuse the dump path of the periodic dumps, so they obey the same rules:
 * no dump after the final one, only the recorded pid writes.
 * Non-goal: resetting the recorded data (profiles stay cumulative, as Go's).
 */
#include "shim/mapprof.h"
#include "shim/shim.h"

SHIM_EXPORT int mapprof_dump(void) {
    return shim_dump(SHIM_DUMP_REQUEST, false);
}
