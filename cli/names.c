/*
 * names.c — interned function names: each distinct name gets a dense id
 * (0, 1, ...) in first-seen order, and the id its copy. functab.c keys its
 * nodes by these ids; the report keys stacks by arrays of them.
 *
 * Names are copied (frames name their buffers only until the next frame)
 * and indexed by a libgomap map[string]id. Invariant: name[id] is the
 * copy the map's key points to, so both live and die together.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cli_names_init(cli_names *t) {
    memset(t, 0, sizeof *t);
    gomap_config cfg = {.alloc = NULL, .flags = GOMAP_UNPROFILED, .seed = 0};
    return gomap_new(&gomap_type_str_u64, 256, &cfg, &t->idx);
}

int64_t cli_names_id(cli_names *t, const char *name) {
    size_t len = strlen(name);
    uint64_t *v = gomap_lookup_str(t->idx, name, len);
    if (v)
        return (int64_t)*v;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        char **nn = realloc(t->name, cap * sizeof *nn);
        if (!nn)
            return -ENOMEM;
        t->name = nn;
        t->cap = cap;
    }
    char *copy = strdup(name);
    void *elem;
    if (!copy || gomap_assign_str(t->idx, copy, len, &elem) < 0) {
        free(copy);
        return -ENOMEM;
    }
    uint64_t id = t->n++;
    memcpy(elem, &id, sizeof id);
    t->name[id] = copy;
    return (int64_t)id;
}

void cli_names_free(cli_names *t) {
    for (size_t i = 0; i < t->n; i++)
        free(t->name[i]);
    free(t->name);
    gomap_free(t->idx);
    memset(t, 0, sizeof *t);
}
