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
 * Cost: a stack is compared only with candidate leaders, found by index.
 * Up to 2 edits (the default threshold is 1), by symmetric deletion: two
 * stacks within L edits have a common sequence left after deleting at most
 * L frames from each, so each leader is indexed under the hashes of its
 * sequences with up to L frames deleted (1 + n + n(n-1)/2 keys at most),
 * and a stack looks up its own. Beyond 2 edits the keys would explode, so
 * leaders are indexed by their first 2L + 1 frames instead: within L edits
 * one of a stack's first L + 1 frames survives, at most L positions away.
 * A 64-bit signature of the frames then bounds the distance from below
 * (an edit changes the set of frames by at most two), and a banded dynamic
 * program with an early exit decides. bench/report has the figures.
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

/* Leaders by index key (keys_of): lists in one array. */
typedef struct index_ent {
    size_t leader, next; /* next: 1 + index of the next entry, 0 ends */
} index_ent;

typedef struct leader_index {
    gomap *head; /* key -> 1 + first entry */
    index_ent *e;
    size_t n, cap;
} leader_index;

static int index_add(leader_index *ix, uint64_t key, size_t leader) {
    if (ix->n == ix->cap) {
        size_t cap = ix->cap ? 2 * ix->cap : 1024;
        index_ent *ne = realloc(ix->e, cap * sizeof *ne);
        if (!ne)
            return -ENOMEM;
        ix->e = ne;
        ix->cap = cap;
    }
    void *elem;
    uint64_t *h = gomap_lookup_u64(ix->head, key);
    uint64_t first = h ? *h : 0;
    if (!h && gomap_assign_u64(ix->head, key, &elem) < 0)
        return -ENOMEM;
    ix->e[ix->n] = (index_ent){leader, first};
    uint64_t at = ++ix->n;
    memcpy(h ? (void *)h : elem, &at, sizeof at);
    return 0;
}

static uint64_t seq_hash(const uint32_t *f, int n, uint64_t skip_a, uint64_t skip_b) {
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < n; i++)
        if ((uint64_t)i != skip_a && (uint64_t)i != skip_b)
            h = (h ^ f[i]) * 0x100000001b3ull + (h >> 29);
    return h;
}

/* The index keys of stack s for threshold d: symmetric-deletion hashes
 * (d <= 2) or near-leaf frames (d > 2, tagged apart); returns how many. */
static int keys_of(const cli_stack *s, int d, bool leader, uint64_t *keys) {
    int n = s->n, k = 0, limit = n / 3 < d ? n / 3 : d;
    if (d > 2) {
        for (int q = 0; q < n && q <= (leader ? 2 * d : d); q++)
            keys[k++] = ((uint64_t)1 << 63) | s->frames[q];
        return k;
    }
    keys[k++] = seq_hash(s->frames, n, UINT64_MAX, UINT64_MAX);
    for (int a = 0; limit >= 1 && a < n; a++) {
        keys[k++] = seq_hash(s->frames, n, (uint64_t)a, UINT64_MAX);
        for (int b = a + 1; limit >= 2 && b < n; b++)
            keys[k++] = seq_hash(s->frames, n, (uint64_t)a, (uint64_t)b);
    }
    return k;
}

#define MAX_KEYS (1 + CLI_CLUSTER_MAX_DEPTH + CLI_CLUSTER_MAX_DEPTH * CLI_CLUSTER_MAX_DEPTH / 2)

int cli_cluster(const cli_stack *stacks, size_t n, int distance, size_t *cluster_of,
                size_t *n_clusters) {
    order *o = malloc((n ? n : 1) * sizeof *o);
    size_t *leaders = malloc((n ? n : 1) * sizeof *leaders);
    uint64_t *sig = malloc((n ? n : 1) * sizeof *sig);
    size_t *seen = calloc(n ? n : 1, sizeof *seen); /* 1 + the stack that last saw a leader */
    uint64_t *keys = malloc(MAX_KEYS * sizeof *keys);
    leader_index ix = {0};
    gomap_config cfg = {.alloc = NULL, .flags = GOMAP_UNPROFILED, .seed = 0};
    int rc = -ENOMEM;
    if (!o || !leaders || !sig || !seen || !keys ||
        gomap_new(&gomap_type_u64_u64, 1024, &cfg, &ix.head))
        goto out;
    for (size_t i = 0; i < n; i++) {
        o[i] = (order){&stacks[i], i};
        sig[i] = signature(stacks[i].frames, stacks[i].n);
    }
    qsort(o, n, sizeof *o, cmp_stack);
    size_t k = 0;
    for (size_t r = 0; r < n; r++) {
        const cli_stack *s = o[r].s;
        size_t i = o[r].i, c = k;
        int nk = keys_of(s, distance, false, keys);
        for (int q = 0; q < nk; q++) {
            uint64_t *h = gomap_lookup_u64(ix.head, keys[q]);
            for (uint64_t at = h ? *h : 0; at; at = ix.e[at - 1].next) {
                size_t l = ix.e[at - 1].leader;
                if (l >= c || seen[l] == r + 1)
                    continue; /* a later leader than one found, or compared */
                seen[l] = r + 1;
                const cli_stack *lead = &stacks[leaders[l]];
                int limit = (s->n < lead->n ? s->n : lead->n) / 3;
                limit = limit < distance ? limit : distance;
                int bound = (__builtin_popcountll(sig[i] ^ sig[leaders[l]]) + 1) / 2;
                if (bound <= limit &&
                    cli_frame_distance(s->frames, s->n, lead->frames, lead->n, limit) <= limit)
                    c = l;
            }
        }
        if (c == k) {
            leaders[k] = i;
            nk = keys_of(s, distance, true, keys);
            for (int q = 0; q < nk; q++)
                if (index_add(&ix, keys[q], k) < 0)
                    goto out;
            k++;
        }
        cluster_of[i] = c;
    }
    *n_clusters = k;
    rc = 0;
out:
    free(o);
    free(leaders);
    free(sig);
    free(seen);
    free(keys);
    free(ix.e);
    gomap_free(ix.head);
    return rc;
}
