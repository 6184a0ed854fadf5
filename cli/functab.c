/*
 * functab.c — flat and cum totals per function name, pprof's function
 * granularity: a sample's value goes to `flat` of its first frame (the
 * leaf) and to `cum` of every distinct function on its stack, once even
 * when the function recurses. `top` prints such a table; `diff` fills one
 * with the new profile's values and the base's negated, so flat and cum
 * are the deltas.
 *
 * Names are copied (frames name their buffers only until the next frame)
 * and indexed by a libgomap map[string]index; nodes stay in insertion
 * order until a caller sorts them. Non-goals: per-line or per-address
 * granularity.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cli_functab_init(cli_functab *t) {
    memset(t, 0, sizeof *t);
    gomap_config cfg = {.alloc = NULL, .flags = GOMAP_UNPROFILED, .seed = 0};
    return gomap_new(&gomap_type_str_u64, 256, &cfg, &t->idx);
}

static cli_fnode *get_node(cli_functab *t, const char *name) {
    size_t len = strlen(name);
    uint64_t *v = gomap_lookup_str(t->idx, name, len);
    if (v)
        return &t->nodes[*v];
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        cli_fnode *nn = realloc(t->nodes, cap * sizeof *nn);
        if (!nn)
            return NULL;
        t->nodes = nn;
        t->cap = cap;
    }
    char *copy = strdup(name);
    void *elem;
    if (!copy || gomap_assign_str(t->idx, copy, len, &elem) < 0) {
        free(copy);
        return NULL;
    }
    uint64_t i = t->n++;
    memcpy(elem, &i, sizeof i);
    t->nodes[i] = (cli_fnode){copy, 0, 0, 0};
    return &t->nodes[i];
}

int cli_functab_add(cli_functab *t, const pprof_profile *p, const pprof_pb_sample *s, int64_t v) {
    t->serial++;
    cli_frames it;
    cli_frames_init(&it, p, s);
    bool leaf = true;
    for (const char *name; (name = cli_frames_next(&it));) {
        cli_fnode *nd = get_node(t, name);
        if (!nd)
            return -ENOMEM;
        if (leaf)
            nd->flat += v;
        leaf = false;
        if (nd->seen != t->serial) {
            nd->seen = t->serial;
            nd->cum += v;
        }
    }
    return 0;
}

void cli_functab_free(cli_functab *t) {
    for (size_t i = 0; i < t->n; i++)
        free((char *)t->nodes[i].name);
    free(t->nodes);
    gomap_free(t->idx);
    memset(t, 0, sizeof *t);
}
