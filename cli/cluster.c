/*
 * cluster.c — grouping near-identical stacks for the report.
 *
 * Stacks are sequences of interned frame ids (normalize.c). Two stacks are
 * near-identical when the edit distance between their frame sequences
 * (insertions, deletions and substitutions of whole frames: Levenshtein
 * over frames, not characters) is at most the threshold, and at most a
 * third of the shorter one's frames: two-frame stacks that differ in
 * their leaf are two hot spots, not one. Grouping is a
 * leader clustering, which is agglomerative in one deterministic pass:
 * stacks are taken by decreasing value (ties: fewer frames, then frame
 * ids), each joins the first cluster whose leader is within the threshold,
 * or leads a new one. The leader, the heaviest member, is the cluster's
 * representative stack.
 *
 * Cost: comparing against every leader is O(stacks x clusters); a 64-bit
 * signature of each stack's frames (one bit per frame id mod 64) bounds
 * the distance from below (a substitution changes the set of frames by at
 * most two, so the distance is at least half the signatures' differing
 * bits, rounded up), which rejects most unrelated leaders with one
 * popcount; a banded dynamic program with an early exit does the rest.
 * Invariants: the result depends only on the input stacks and values, not
 * on their order. Non-goals: optimal clustering (a stack may sit closer to
 * a later leader than to its own).
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t signature(const uint32_t *f, int n) {
    uint64_t s = 0;
    for (int i = 0; i < n; i++)
        s |= (uint64_t)1 << (f[i] % 64);
    return s;
}

int cli_frame_distance(const uint32_t *a, int na, const uint32_t *b, int nb, int limit) {
    if (abs(na - nb) > limit)
        return limit + 1;
    int prev[CLI_CLUSTER_MAX_DEPTH + 1], cur[CLI_CLUSTER_MAX_DEPTH + 1];
    for (int j = 0; j <= nb; j++)
        prev[j] = j;
    for (int i = 1; i <= na; i++) {
        cur[0] = i;
        int best = cur[0];
        for (int j = 1; j <= nb; j++) {
            int d = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < d)
                d = prev[j] + 1;
            if (cur[j - 1] + 1 < d)
                d = cur[j - 1] + 1;
            cur[j] = d;
            if (d < best)
                best = d;
        }
        if (best > limit)
            return limit + 1; /* every later row is at least this */
        memcpy(prev, cur, (size_t)(nb + 1) * sizeof *cur);
    }
    return prev[nb] <= limit ? prev[nb] : limit + 1;
}

typedef struct order {
    const cli_stack *s;
    size_t i;
} order;

static int cmp_stack(const void *x, const void *y) {
    const cli_stack *a = ((const order *)x)->s, *b = ((const order *)y)->s;
    if (a->value != b->value)
        return a->value > b->value ? -1 : 1;
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    return memcmp(a->frames, b->frames, (size_t)a->n * sizeof *a->frames);
}

int cli_cluster(const cli_stack *stacks, size_t n, int distance, size_t *cluster_of,
                size_t *n_clusters) {
    order *o = malloc((n ? n : 1) * sizeof *o);
    size_t *leaders = malloc((n ? n : 1) * sizeof *leaders);
    uint64_t *sig = malloc((n ? n : 1) * sizeof *sig);
    if (!o || !leaders || !sig) {
        free(o);
        free(leaders);
        free(sig);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        o[i] = (order){&stacks[i], i};
        sig[i] = signature(stacks[i].frames, stacks[i].n);
    }
    qsort(o, n, sizeof *o, cmp_stack);
    size_t k = 0;
    for (size_t r = 0; r < n; r++) {
        const cli_stack *s = o[r].s;
        size_t i = o[r].i, c = k;
        for (size_t l = 0; l < k; l++) {
            const cli_stack *lead = &stacks[leaders[l]];
            int bound = (__builtin_popcountll(sig[i] ^ sig[leaders[l]]) + 1) / 2;
            if (bound > distance)
                continue;
            int limit = (s->n < lead->n ? s->n : lead->n) / 3;
            limit = limit < distance ? limit : distance;
            if (bound > limit)
                continue;
            if (cli_frame_distance(s->frames, s->n, lead->frames, lead->n, limit) <= limit) {
                c = l;
                break;
            }
        }
        if (c == k)
            leaders[k++] = i;
        cluster_of[i] = c;
    }
    *n_clusters = k;
    free(o);
    free(leaders);
    free(sig);
    return 0;
}
