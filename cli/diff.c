/*
 * diff.c — `mapprof diff BASE NEW [--max-increase PCT] [--sigmas Z]
 * [--sample-index NAME] [--focus RE] [--ignore RE] [-n N]`: a regression
 * gate between two profiles of the same kind.
 *
 * Totals are taken over the samples the filters keep. With --max-increase
 * the verb fails (exit 1) only when the increase NEW - BASE exceeds both
 *   the limit   BASE * PCT / 100 (0 when BASE <= 0), and
 *   the margin  Z * sqrt(Var(BASE) + Var(NEW)), Z = 3 by default,
 * where the variances come from noise.c's model of how each file was
 * sampled (0 for unsampled profiles, so the margin vanishes and the limit
 * alone decides). Requiring both means a sampled profile cannot fail a
 * build on noise that a rerun would not reproduce (3 sigma: about 1 false
 * alarm in 740 unchanged runs), while a real regression larger than the
 * limit still fails once it stands out of the noise. The margin, the raw
 * records behind each total and the sampling model are printed, so the
 * decision can be checked by hand.
 *
 * Whatever the outcome, the functions that grew most are listed with their
 * flat and cum deltas (NEW - BASE, pprof's function granularity). Without
 * --max-increase the report is printed and the exit status is 0.
 * Non-goals: pprof's -normalize, several files per side (merge them first).
 */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIFF_USAGE                                                                                 \
    "usage: mapprof diff BASE NEW [--max-increase PCT] [--sigmas Z] [--sample-index NAME] "        \
    "[--focus REGEX] [--ignore REGEX] [-n N]"

typedef struct side {
    cli_functab *t;
    int sign; /* +1 new, -1 base */
    cli_sampling sm;
    int idx;
    int64_t total;
    double var, raw;
} side;

static int add_side(void *ctx, const pprof_profile *p, const pprof_pb_sample *s, int64_t v) {
    side *sd = ctx;
    double raw;
    sd->total += v;
    sd->var += cli_sample_variance(&sd->sm, s, sd->idx, &raw);
    sd->raw += raw;
    return cli_functab_add(sd->t, p, s, sd->sign * v) < 0;
}

static int cmp_growth(const void *x, const void *y) {
    const cli_fnode *a = x, *b = y;
    if (a->flat != b->flat)
        return a->flat > b->flat ? -1 : 1;
    if (a->cum != b->cum)
        return a->cum > b->cum ? -1 : 1;
    return strcmp(a->name, b->name);
}

static void signed_value(char *buf, size_t n, double v, const char *unit) {
    char tmp[48];
    cli_format_value(tmp, sizeof tmp, v, unit);
    snprintf(buf, n, "%s%s", v > 0 ? "+" : "", tmp);
}

static void print_growth(cli_functab *t, long limit, const char *unit) {
    if (t->n > 1) /* nodes is NULL when empty */
        qsort(t->nodes, t->n, sizeof *t->nodes, cmp_growth);
    printf("functions that grew most (NEW - BASE):\n%12s %12s  %s\n", "flat", "cum", "function");
    long shown = 0;
    for (size_t i = 0; i < t->n && shown < limit; i++) {
        const cli_fnode *nd = &t->nodes[i];
        if (nd->flat <= 0 && nd->cum <= 0)
            continue;
        char a[64], b[64];
        signed_value(a, sizeof a, (double)nd->flat, unit);
        signed_value(b, sizeof b, (double)nd->cum, unit);
        printf("%12s %12s  %s\n", a, b, nd->name);
        shown++;
    }
    if (!shown)
        printf("  (none)\n");
}

typedef struct diff_opts {
    cli_select sel;
    double max_pct, sigmas; /* max_pct < 0: no gate */
    long limit;
} diff_opts;

static int parse_num(const char *opt, const char *s, bool pct, double *out) {
    char *end;
    *out = strtod(s, &end);
    if (pct && *end == '%')
        end++;
    if (end == s || *end || !isfinite(*out) || *out < 0)
        return cli_fail("diff", "bad %s value \"%s\" (a non-negative number)", opt, s);
    return 0;
}

static int diff_option(void *ctx, int c, const char *arg) {
    diff_opts *o = ctx;
    if (c == 'm')
        return parse_num("--max-increase", arg, true, &o->max_pct);
    if (c == 'z')
        return parse_num("--sigmas", arg, false, &o->sigmas);
    return cli_parse_count("diff", "-n", arg, &o->limit);
}

static int parse_args(int argc, char **argv, diff_opts *o) {
    static const struct option opts[] = {
        {"max-increase", required_argument, NULL, 'm'},
        {"sigmas", required_argument, NULL, 'z'},
        {NULL, 0, NULL, 0},
    };
    *o = (diff_opts){{NULL, NULL, NULL}, -1, 3, 10};
    cli_verb_options vo = {"diff", DIFF_USAGE, "n:h", opts, &o->sel, diff_option, o};
    int rc = cli_options(argc, argv, &vo);
    if (rc)
        return rc;
    if (argc - optind != 2)
        return cli_fail("diff", "need exactly two profiles, BASE and NEW (%s)", DIFF_USAGE);
    return 0;
}

/* Print the totals, the margin and the verdict; returns the exit status. */
static int verdict(const diff_opts *o, const cli_profset *ps, const cli_filter *f, const side *base,
                   const side *nw) {
    const char *unit = ps->unit;
    double delta = (double)nw->total - (double)base->total;
    double pct = base->total > 0 ? 100.0 * delta / (double)base->total : 0;
    char b[64], n[64], d[64], m[64], l[64], db[128], dn[128], filt[512];
    cli_format_value(b, sizeof b, (double)base->total, unit);
    cli_format_value(n, sizeof n, (double)nw->total, unit);
    signed_value(d, sizeof d, delta, unit);
    printf("mapprof diff: %s: base %s, new %s, change %s", ps->type, b, n, d);
    if (base->total > 0)
        printf(" (%+.2f%%)", pct);
    cli_filter_describe(f, filt, sizeof filt);
    printf("%s%s\n", *filt ? " -- " : "", *filt ? filt + 2 : "");
    double margin = o->sigmas * sqrt(base->var + nw->var);
    cli_format_value(m, sizeof m, margin, unit);
    cli_sampling_describe(&base->sm, db, sizeof db);
    cli_sampling_describe(&nw->sm, dn, sizeof dn);
    printf("noise margin: %s [%.0f %s] = %g sigma (base: %s, %.0f records; new: %s, %.0f "
           "records)\n",
           m, margin, unit, o->sigmas, db, base->raw, dn, nw->raw);
    if (o->max_pct < 0) {
        printf("no --max-increase given: report only\n");
        return 0;
    }
    double limit = base->total > 0 ? (double)base->total * o->max_pct / 100.0 : 0;
    cli_format_value(l, sizeof l, limit, unit);
    printf("limit: +%g%% of base = %s%s\n", o->max_pct, l,
           base->total > 0 ? "" : " (base total is not positive: only the noise margin applies)");
    if (delta > limit && delta > margin) {
        printf("FAIL: the increase %s exceeds both the limit %s and the noise margin %s\n", d, l,
               m);
        return 1;
    }
    if (delta > limit)
        printf("ok: the increase %s exceeds the limit %s but not the noise margin %s\n", d, l, m);
    else
        printf("ok: the change %s is within the limit %s\n", d, l);
    return 0;
}

int cli_diff(int argc, char **argv) {
    diff_opts o;
    int status = parse_args(argc, argv, &o);
    if (status)
        return status < 0 ? 0 : status;
    cli_filter f;
    if (cli_filter_init(&f, "diff", o.sel.focus, o.sel.ignore))
        return 2;
    cli_profset ps;
    cli_functab t = {0};
    status = cli_profset_load(&ps, "diff", argv + optind, 2, o.sel.index_name);
    if (status == 0 && cli_functab_init(&t) < 0)
        status = cli_fail("diff", "out of memory");
    if (status == 0) {
        side base = {&t, -1, {0}, ps.idx, 0, 0, 0}, nw = {&t, +1, {0}, ps.idx, 0, 0, 0};
        cli_sampling_of(ps.p[0], ps.idx, &base.sm);
        cli_sampling_of(ps.p[1], ps.idx, &nw.sm);
        if (cli_profset_each(&ps, 0, 1, &f, add_side, &base) ||
            cli_profset_each(&ps, 1, 1, &f, add_side, &nw))
            status = cli_fail("diff", "out of memory");
        if (status == 0) {
            status = verdict(&o, &ps, &f, &base, &nw);
            print_growth(&t, o.limit, ps.unit);
            status = cli_flush("diff", status);
        }
    }
    cli_functab_free(&t);
    cli_profset_free(&ps);
    cli_filter_free(&f);
    return status;
}
