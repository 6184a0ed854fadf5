/*
 * top.c — `mapprof top [-n N] [--sample-index NAME] FILE...`: the total and
 * a flat/cum table by function, laid out like `go tool pprof -top`.
 *
 * Semantics follow pprof's function granularity: a sample's frames are its
 * locations' lines, innermost inlined frame first; `flat` is charged to the
 * very first frame (the leaf), `cum` once to every distinct function on the
 * stack. A location without lines is named by its mapping ("[libc.so.6]")
 * or, without one, by its address. Several files are merged (their sample
 * types must agree). Values print with pprof's automatic units (B/kB/MB…,
 * ns/us/ms/s); rows are sorted by flat, then name (pprof's FlatNameOrder).
 * Non-goals: pprof's node-fraction pruning, drop_frames, focus/ignore.
 */
#include "cli/cli.h"
#include "map/gomap.h"
#include "pprof/pprof.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct node {
    const char *name;
    int64_t flat, cum;
    uint64_t seen; /* sample serial that last added to cum */
} node;

typedef struct table {
    gomap *idx; /* name -> index into nodes */
    node *nodes;
    size_t n, cap;
    int64_t total;
    uint64_t serial;
} table;

static node *get_node(table *t, const char *name) {
    size_t len = strlen(name);
    uint64_t *v = gomap_lookup_str(t->idx, name, len);
    if (v)
        return &t->nodes[*v];
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 256;
        node *nn = realloc(t->nodes, t->cap * sizeof *nn);
        if (!nn)
            return NULL;
        t->nodes = nn;
    }
    char *copy = strdup(name);
    void *elem;
    if (!copy || gomap_assign_str(t->idx, copy, len, &elem) < 0)
        return NULL;
    uint64_t i = t->n++;
    memcpy(elem, &i, sizeof i);
    t->nodes[i] = (node){copy, 0, 0, 0};
    return &t->nodes[i];
}

/* A display name for a location without lines. */
static const char *loc_name(const pprof_profile *p, const pprof_pb_location *l, char *buf,
                            size_t n) {
    const pprof_pb_mapping *m = pprof_profile_mapping(p, l->mapping_id);
    const char *file = m ? pprof_profile_str(p, m->filename) : "";
    if (*file) {
        const char *base = strrchr(file, '/');
        snprintf(buf, n, "[%s]", base ? base + 1 : file);
    } else {
        snprintf(buf, n, "%#" PRIx64, l->address);
    }
    return buf;
}

static int add_profile(table *t, const pprof_profile *p, int idx) {
    const pprof_pb_profile *m = pprof_profile_msg(p);
    char buf[512];
    for (size_t i = 0; i < m->n_sample; i++) {
        const pprof_pb_sample *s = m->sample[i];
        int64_t v = s->value[idx];
        t->total += v;
        t->serial++;
        bool leaf = true;
        for (size_t j = 0; j < s->n_location_id; j++) {
            const pprof_pb_location *l = pprof_profile_location(p, s->location_id[j]);
            size_t nl = l->n_line ? l->n_line : 1;
            for (size_t k = 0; k < nl; k++) {
                const char *name;
                if (l->n_line) {
                    const pprof_pb_function *f = pprof_profile_function(p, l->line[k]->function_id);
                    name = pprof_profile_str(p, f->name);
                    if (!*name)
                        name = pprof_profile_str(p, f->system_name);
                    if (!*name)
                        name = loc_name(p, l, buf, sizeof buf);
                } else {
                    name = loc_name(p, l, buf, sizeof buf);
                }
                node *nd = get_node(t, name);
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
        }
    }
    return 0;
}

static int cmp_node(const void *x, const void *y) {
    const node *a = x, *b = y;
    int64_t fa = llabs(a->flat), fb = llabs(b->flat);
    if (fa != fb)
        return fa > fb ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* pprof's automatic scaling: the largest unit not above the value. */
static void label(char *buf, size_t n, int64_t value, const char *unit) {
    static const struct {
        const char *unit, *name;
        double factor;
    } scales[] = {
        {"bytes", "B", 1},
        {"bytes", "kB", 1024.0},
        {"bytes", "MB", 1048576.0},
        {"bytes", "GB", 1073741824.0},
        {"bytes", "TB", 1099511627776.0},
        {"nanoseconds", "ns", 1},
        {"nanoseconds", "us", 1e3},
        {"nanoseconds", "ms", 1e6},
        {"nanoseconds", "s", 1e9},
        {"nanoseconds", "hrs", 3600e9},
    };
    double v = (double)value;
    const char *uname = "";
    double factor = 1;
    for (size_t i = 0; i < sizeof scales / sizeof *scales; i++)
        if (!strcmp(unit, scales[i].unit) && (fabs(v) >= scales[i].factor || factor == 1)) {
            if (fabs(v) >= scales[i].factor || !*uname) {
                uname = scales[i].name;
                factor = scales[i].factor;
            }
        }
    char num[64];
    snprintf(num, sizeof num, "%.2f", v / factor);
    size_t len = strlen(num);
    if (len > 3 && !strcmp(num + len - 3, ".00"))
        num[len - 3] = 0;
    if (!strcmp(num, "0") || !strcmp(num, "-0"))
        snprintf(buf, n, "0");
    else
        snprintf(buf, n, "%s%s", num, uname);
}

static void percent(char *buf, size_t n, int64_t value, int64_t total) {
    double r = total ? fabs((double)value / (double)total) * 100 : 0;
    if (r >= 99.95 && r <= 100.05)
        snprintf(buf, n, "  100%%");
    else if (r >= 1.0)
        snprintf(buf, n, "%5.2f%%", r);
    else
        snprintf(buf, n, "%5.2g%%", r);
}

static int fail(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "mapprof top: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 2;
}

int cli_top(int argc, char **argv) {
    static const struct option opts[] = {
        {"sample-index", required_argument, NULL, 's'},
        {"sample_index", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long limit = -1;
    const char *index_name = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': {
            char *end;
            limit = strtol(optarg, &end, 10);
            if (*end || limit < 0)
                return fail("bad -n value \"%s\"%s", optarg, "");
            break;
        }
        case 's':
            index_name = optarg;
            break;
        case 'h':
            printf("usage: mapprof top [-n N] [--sample-index NAME] FILE...\n");
            return 0;
        default:
            return fail("usage: mapprof top [-n N] [--sample-index NAME] FILE...%s%s", "", "");
        }
    }
    if (optind >= argc)
        return fail("no profile given (usage: mapprof top [-n N] [--sample-index NAME] "
                    "FILE...)%s%s",
                    "", "");

    table t = {0};
    gomap_config cfg = {.alloc = NULL, .flags = GOMAP_UNPROFILED, .seed = 0};
    if (gomap_new(&gomap_type_str_u64, 256, &cfg, &t.idx) < 0)
        return fail("out of memory%s%s", "", "");
    int idx = -1;
    char type[128] = "", unit[64] = "";
    pprof_profile *first = NULL;
    int status = 0;
    for (int i = optind; i < argc && status == 0; i++) {
        pprof_profile *p;
        pprof_error err;
        if (pprof_profile_read_file(argv[i], NULL, &p, &err) < 0) {
            status = fail("%s%s", err.msg, "");
            break;
        }
        const pprof_pb_profile *m = pprof_profile_msg(p);
        if (!first) {
            idx = pprof_profile_sample_index(p, index_name);
            if (idx < 0) {
                char names[512] = "";
                for (size_t k = 0; k < m->n_sample_type; k++) {
                    size_t len = strlen(names);
                    snprintf(names + len, sizeof names - len, "%s%s", k ? ", " : "",
                             pprof_profile_str(p, m->sample_type[k]->type));
                }
                status = fail(m->n_sample_type ? "sample index \"%s\" must be one of: %s"
                                               : "%s%s: profile has no sample types",
                              m->n_sample_type ? index_name : argv[i], names);
                pprof_profile_free(p);
                break;
            }
            snprintf(type, sizeof type, "%s", pprof_profile_str(p, m->sample_type[idx]->type));
            snprintf(unit, sizeof unit, "%s", pprof_profile_str(p, m->sample_type[idx]->unit));
            first = p;
        } else {
            const pprof_pb_profile *f = pprof_profile_msg(first);
            bool ok = f->n_sample_type == m->n_sample_type;
            for (size_t k = 0; ok && k < m->n_sample_type; k++)
                ok = !strcmp(pprof_profile_str(first, f->sample_type[k]->type),
                             pprof_profile_str(p, m->sample_type[k]->type)) &&
                     !strcmp(pprof_profile_str(first, f->sample_type[k]->unit),
                             pprof_profile_str(p, m->sample_type[k]->unit));
            if (!ok) {
                status = fail("%s: incompatible sample types with %s", argv[i], argv[optind]);
                pprof_profile_free(p);
                break;
            }
        }
        if (add_profile(&t, p, idx) < 0)
            status = fail("out of memory%s%s", "", "");
        if (p != first)
            pprof_profile_free(p);
    }
    if (status == 0) {
        qsort(t.nodes, t.n, sizeof *t.nodes, cmp_node);
        size_t shown = limit >= 0 && (size_t)limit < t.n ? (size_t)limit : t.n;
        int64_t shown_flat = 0;
        for (size_t i = 0; i < shown; i++)
            shown_flat += t.nodes[i].flat;
        char a[64], b[64], pc[16], ps[16], pcum[16];
        printf("Type: %s\n", type);
        label(a, sizeof a, shown_flat, unit);
        label(b, sizeof b, t.total, unit);
        percent(pc, sizeof pc, shown_flat, t.total);
        printf("Showing nodes accounting for %s, %s of %s total\n", a, pc + strspn(pc, " "), b);
        if (shown < t.n)
            printf("Showing top %zu nodes out of %zu\n", shown, t.n);
        printf("%10s %5s%% %5s%% %10s %5s%%\n", "flat", "flat", "sum", "cum", "cum");
        int64_t sum = 0;
        for (size_t i = 0; i < shown; i++) {
            const node *nd = &t.nodes[i];
            sum += nd->flat;
            label(a, sizeof a, nd->flat, unit);
            label(b, sizeof b, nd->cum, unit);
            percent(pc, sizeof pc, nd->flat, t.total);
            percent(ps, sizeof ps, sum, t.total);
            percent(pcum, sizeof pcum, nd->cum, t.total);
            printf("%10s %s %s %10s %s  %s\n", a, pc, ps, b, pcum, nd->name);
        }
        if (fflush(stdout) != 0) {
            perror("mapprof top: stdout");
            status = 1;
        }
    }
    for (size_t i = 0; i < t.n; i++)
        free((char *)t.nodes[i].name);
    free(t.nodes);
    gomap_free(t.idx);
    pprof_profile_free(first);
    return status;
}
