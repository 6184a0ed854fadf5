/*
 * strings.c — interned strings: one copy of each distinct string, in the
 * shim's memory, alive until the process ends.
 *
 * Profiles hold label strings from the moment an event is recorded until
 * a dump writes them, and what the host handed the shim may be gone by
 * then: a map type's name lives in the library that defines the type,
 * which dlclose can unmap. Interning copies the text once (by content, so
 * equal names share one pointer, which recorders may compare), and the
 * copy never moves or goes away. A process has few distinct names (map
 * types, thread names, lock addresses as text), so nothing is ever freed.
 * Non-goal: strings that change per event (use a label number instead).
 */
#include <string.h>

#include "shim/shim.h"

static shim_table strings; /* content hash (probed on collision) -> copy */
static shim_spin strings_lock;

const char *shim_intern_str(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *c = s; *c; c++)
        h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
    h |= 1;
    int was = shim_enter();
    shim_spin_lock(&strings_lock);
    const char *have = shim_table_get(&strings, h);
    for (; have && strcmp(have, s); h = shim_hash64(h) | 1, have = shim_table_get(&strings, h))
        ;
    if (!have) {
        size_t n = strlen(s) + 1;
        char *copy = shim_calloc(n);
        if (copy) {
            memcpy(copy, s, n);
            if (shim_table_put(&strings, h, copy) < 0) {
                shim_free(copy);
                copy = NULL;
            }
        }
        have = copy;
    }
    shim_spin_unlock(&strings_lock);
    shim_leave(was);
    return have ? have : "?";
}

void shim_strings_lock_all(bool lock) {
    if (lock)
        shim_spin_lock(&strings_lock);
    else
        shim_spin_unlock(&strings_lock);
}
