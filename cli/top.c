/*
 * top.c — `mapprof top [-n N] [--sample-index NAME] [--focus RE]
 * [--ignore RE] FILE...`: the total and a flat/cum table by function,
 * laid out like `go tool pprof -top`.
 *
 * Semantics follow pprof's function granularity (functab.c); several files
 * are summed (their sample types must agree). --focus/--ignore drop whole
 * samples before anything is counted, so percentages are of the kept total
 * — pprof's own behaviour for -focus. Values print with pprof's automatic
 * units (units.c); rows are sorted by |flat|, then name (pprof's
 * FlatNameOrder). Non-goals: pprof's node-fraction pruning, drop_frames.
 */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOP_USAGE                                                                                  \
    "usage: mapprof top [-n N] [--sample-index NAME] [--focus REGEX] [--ignore REGEX] FILE..."

static int cmp_node(const void *x, const void *y) {
    const cli_fnode *a = x, *b = y;
    int64_t fa = llabs(a->flat), fb = llabs(b->flat);
    if (fa != fb)
        return fa > fb ? -1 : 1;
    return strcmp(a->name, b->name);
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

static void print_table(cli_functab *t, int64_t total, long limit, const cli_profset *ps) {
    if (t->n > 1) /* nodes is NULL when empty */
        qsort(t->nodes, t->n, sizeof *t->nodes, cmp_node);
    size_t shown = limit >= 0 && (size_t)limit < t->n ? (size_t)limit : t->n;
    int64_t shown_flat = 0;
    for (size_t i = 0; i < shown; i++)
        shown_flat += t->nodes[i].flat;
    char a[64], b[64], pc[16], ps_[16], pcum[16];
    printf("Type: %s\n", ps->type);
    cli_format_value(a, sizeof a, (double)shown_flat, ps->unit);
    cli_format_value(b, sizeof b, (double)total, ps->unit);
    percent(pc, sizeof pc, shown_flat, total);
    printf("Showing nodes accounting for %s, %s of %s total\n", a, pc + strspn(pc, " "), b);
    if (shown < t->n)
        printf("Showing top %zu nodes out of %zu\n", shown, t->n);
    printf("%10s %5s%% %5s%% %10s %5s%%\n", "flat", "flat", "sum", "cum", "cum");
    int64_t sum = 0;
    for (size_t i = 0; i < shown; i++) {
        const cli_fnode *nd = &t->nodes[i];
        sum += nd->flat;
        cli_format_value(a, sizeof a, (double)nd->flat, ps->unit);
        cli_format_value(b, sizeof b, (double)nd->cum, ps->unit);
        percent(pc, sizeof pc, nd->flat, total);
        percent(ps_, sizeof ps_, sum, total);
        percent(pcum, sizeof pcum, nd->cum, total);
        printf("%10s %s %s %10s %s  %s\n", a, pc, ps_, b, pcum, nd->name);
    }
}

struct top_ctx {
    cli_functab *t;
    int64_t total;
};

static int top_add(void *ctx, const pprof_profile *p, const pprof_pb_sample *s, int64_t v) {
    struct top_ctx *tc = ctx;
    tc->total += v;
    return cli_functab_add(tc->t, p, s, v) < 0;
}

static int top_option(void *ctx, int c, const char *arg) {
    (void)c; /* only -n */
    return cli_parse_count("top", "-n", arg, ctx);
}

int cli_top(int argc, char **argv) {
    long limit = -1;
    cli_select sel;
    cli_verb_options vo = {"top", TOP_USAGE, "n:h", NULL, &sel, top_option, &limit};
    int status = cli_options(argc, argv, &vo);
    if (status)
        return status < 0 ? 0 : status;
    cli_filter f;
    if (cli_filter_init(&f, "top", sel.focus, sel.ignore))
        return 2;
    cli_profset ps;
    cli_functab t;
    status = cli_profset_load(&ps, "top", argv + optind, (size_t)(argc - optind), sel.index_name);
    if (status == 0 && cli_functab_init(&t) < 0)
        status = cli_fail("top", "out of memory");
    else if (status == 0) {
        struct top_ctx tc = {&t, 0};
        if (cli_profset_each(&ps, 0, ps.n, &f, top_add, &tc))
            status = cli_fail("top", "out of memory");
        int64_t total = tc.total;
        if (status == 0) {
            print_table(&t, total, limit, &ps);
            status = cli_flush("top", status);
        }
        cli_functab_free(&t);
    }
    cli_profset_free(&ps);
    cli_filter_free(&f);
    return status;
}
