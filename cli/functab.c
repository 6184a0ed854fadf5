/*
 * functab.c — flat and cum totals per function name, pprof's function
 * granularity: a sample's value goes to `flat` of its first frame (the
 * leaf) and to `cum` of every distinct function on its stack, once even
 * when the function recurses. `top` prints such a table; `diff` fills one
 * with the new profile's values and the base's negated, so flat and cum
 * are the deltas.
 *
 * Names are interned (names.c); nodes are indexed by name id and stay in
 * first-seen order until a caller sorts them. Non-goals: per-line or
 * per-address granularity.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cli_functab_init(cli_functab *t) {
    memset(t, 0, sizeof *t);
    return cli_names_init(&t->names);
}

static cli_fnode *get_node(cli_functab *t, const char *name) {
    int64_t id = cli_names_id(&t->names, name);
    if (id < 0)
        return NULL;
    if ((size_t)id < t->n)
        return &t->nodes[id];
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        cli_fnode *nn = realloc(t->nodes, cap * sizeof *nn);
        if (!nn)
            return NULL;
        t->nodes = nn;
        t->cap = cap;
    }
    t->nodes[t->n] = (cli_fnode){t->names.name[id], 0, 0, 0};
    return &t->nodes[t->n++];
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
    free(t->nodes);
    cli_names_free(&t->names);
    memset(t, 0, sizeof *t);
}
