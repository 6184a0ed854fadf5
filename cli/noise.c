/*
 * noise.c — how much of a sampled profile's value is sampling noise.
 *
 * Profiles store unbiased estimates: each recorded event stands for 1/p
 * events, p its probability of being recorded. The raw records behind a
 * sample are recovered from the values and the rate, and their number k
 * is treated as binomial (Poisson when p is small): for a sample with
 * value V estimated from k records, Var(V) = (1 - p) * V^2 / k.
 *   heap (rate R = mean bytes between samples; from the shim's comment
 *     "heap_rate=R", else the profile's period): objects of average size
 *     s = space/objects were recorded with p = 1 - exp(-s/R), so
 *     k = objects * p, using the alloc_* or inuse_* pair of the chosen
 *     value (Go's and the shim's unbiasing);
 *   mutex/block and grow (1 in N events; "mutex_rate=N"/"grow_rate=N" in
 *     the shim's comment): p = 1/N, k = contentions/N or grows/N;
 *   everything else (maps, rates of 1, unknown profiles): exact, Var = 0.
 * A sample with a value but fewer than one estimated record counts as one
 * (conservative). When merged profiles carry several rates the largest is
 * used (the noisiest). Non-goals: correlations between samples (records
 * are independent in both samplers), variance of a value of 0.
 */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int type_index(const pprof_profile *p, const char *name) {
    const pprof_pb_profile *m = pprof_profile_msg(p);
    for (size_t k = 0; k < m->n_sample_type; k++)
        if (!strcmp(pprof_profile_str(p, m->sample_type[k]->type), name))
            return (int)k;
    return -1;
}

/* The largest "key=N" among the profile's "mapprof:" comments (0: none). */
static int64_t comment_rate(const pprof_profile *p, const char *key) {
    const pprof_pb_profile *m = pprof_profile_msg(p);
    size_t klen = strlen(key);
    int64_t best = 0;
    for (size_t i = 0; i < m->n_comment; i++) {
        const char *c = pprof_profile_str(p, m->comment[i]);
        if (strncmp(c, "mapprof:", 8))
            continue;
        for (const char *t = strstr(c, key); t; t = strstr(t + 1, key)) {
            if ((t != c && t[-1] != ' ') || t[klen] != '=')
                continue;
            long long v = strtoll(t + klen + 1, NULL, 10);
            if (v > best)
                best = v;
        }
    }
    return best;
}

void cli_sampling_of(const pprof_profile *p, int idx, cli_sampling *out) {
    *out = (cli_sampling){CLI_EXACT, -1, -1, 1};
    const pprof_pb_profile *m = pprof_profile_msg(p);
    const char *type = pprof_profile_str(p, m->sample_type[idx]->type);
    bool alloc = !strncmp(type, "alloc_", 6), inuse = !strncmp(type, "inuse_", 6);
    if (alloc || inuse) {
        int cnt = type_index(p, alloc ? "alloc_objects" : "inuse_objects");
        int spc = type_index(p, alloc ? "alloc_space" : "inuse_space");
        int64_t rate = comment_rate(p, "heap_rate");
        if (!rate && m->period_type && !strcmp(pprof_profile_str(p, m->period_type->unit), "bytes"))
            rate = m->period;
        if (cnt >= 0 && spc >= 0 && rate > 1)
            *out = (cli_sampling){CLI_HEAP_POISSON, cnt, spc, rate};
        return;
    }
    int cnt = type_index(p, "contentions");
    int64_t rate = cnt >= 0 ? comment_rate(p, "mutex_rate") : 0;
    if (cnt < 0 && (cnt = type_index(p, "grows")) >= 0)
        rate = comment_rate(p, "grow_rate");
    if (cnt >= 0 && rate > 1)
        *out = (cli_sampling){CLI_ONE_IN_N, cnt, -1, rate};
}

double cli_sample_variance(const cli_sampling *sm, const pprof_pb_sample *s, int idx, double *raw) {
    *raw = 0;
    double v = (double)s->value[idx];
    if (sm->model == CLI_EXACT || v == 0)
        return 0;
    double count = (double)s->value[sm->count_idx], p;
    if (sm->model == CLI_HEAP_POISSON) {
        double space = (double)s->value[sm->space_idx];
        if (count <= 0 || space <= 0)
            return 0;
        p = -expm1(-(space / count) / (double)sm->rate);
    } else {
        p = 1.0 / (double)sm->rate;
    }
    double k = fmax(round(count * p), 1);
    *raw = k;
    return (1 - p) * v * v / k;
}

void cli_sampling_describe(const cli_sampling *sm, char *buf, size_t n) {
    switch (sm->model) {
    case CLI_HEAP_POISSON:
        snprintf(buf, n, "heap sampling every %lld bytes on average", (long long)sm->rate);
        break;
    case CLI_ONE_IN_N:
        snprintf(buf, n, "1 in %lld events recorded", (long long)sm->rate);
        break;
    default:
        snprintf(buf, n, "not sampled");
        break;
    }
}
