/*
 * check.c — `mapprof check FILE... --max N [--sample-index NAME]
 * [--focus RE] [--ignore RE] [-n STACKS]`: a budget for CI.
 *
 * The total of the chosen value over the samples the filters keep (all
 * files summed) is compared with N, which may carry the sample type's
 * units (10MB, 5ms) or be a plain number. Within budget: exit 0 and one
 * "ok" line on stdout. Over budget: exit 1, a FAIL line and the heaviest
 * stacks (function names leaf first, each with its value and share), so a
 * CI log says at once which call path broke the budget — e.g. "no map
 * grows under load_users()" is `check grow.pb.gz --focus load_users
 * --max 0`.
 *
 * Stacks are aggregated by their frame names (not location ids), so the
 * same path through different addresses or files counts once. The check
 * itself is exact arithmetic on the recorded values; sampling noise is
 * diff's concern (a budget is a hard line). Non-goals: per-function
 * budgets in one call (run check once per budget), label filters.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_USAGE                                                                                \
    "usage: mapprof check FILE... --max N [--sample-index NAME] [--focus REGEX] "                  \
    "[--ignore REGEX] [-n STACKS]"

typedef struct stack_row {
    char *names; /* frame names, leaf first, '\n'-separated */
    int64_t value;
} stack_row;

typedef struct stacks {
    gomap *idx; /* names -> index into rows */
    stack_row *rows;
    size_t n, cap;
    int64_t total;
    char *key; /* scratch for the key being built */
    size_t keycap;
} stacks;

static int key_append(stacks *st, size_t *len, const char *name) {
    size_t nl = strlen(name);
    if (*len + nl + 2 > st->keycap) {
        size_t cap = st->keycap ? st->keycap : 1024;
        while (cap < *len + nl + 2)
            cap *= 2;
        char *nk = realloc(st->key, cap);
        if (!nk)
            return -1;
        st->key = nk;
        st->keycap = cap;
    }
    if (*len)
        st->key[(*len)++] = '\n';
    memcpy(st->key + *len, name, nl + 1);
    *len += nl;
    return 0;
}

static int add_stack(void *ctx, const pprof_profile *p, const pprof_pb_sample *s, int64_t v) {
    stacks *st = ctx;
    st->total += v;
    size_t len = 0;
    cli_frames it;
    cli_frames_init(&it, p, s);
    if (key_append(st, &len, "") < 0)
        return 1;
    for (const char *name; (name = cli_frames_next(&it));)
        if (key_append(st, &len, name) < 0)
            return 1;
    uint64_t *slot = gomap_lookup_str(st->idx, st->key, len);
    if (slot) {
        st->rows[*slot].value += v;
        return 0;
    }
    if (st->n == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 64;
        stack_row *nr = realloc(st->rows, cap * sizeof *nr);
        if (!nr)
            return 1;
        st->rows = nr;
        st->cap = cap;
    }
    char *copy = strndup(st->key, len);
    void *elem;
    if (!copy || gomap_assign_str(st->idx, copy, len, &elem) < 0) {
        free(copy);
        return 1;
    }
    uint64_t i = st->n++;
    memcpy(elem, &i, sizeof i);
    st->rows[i] = (stack_row){copy, v};
    return 0;
}

static int cmp_row(const void *x, const void *y) {
    const stack_row *a = x, *b = y;
    int64_t va = llabs(a->value), vb = llabs(b->value);
    if (va != vb)
        return va > vb ? -1 : 1;
    return strcmp(a->names, b->names);
}

static void print_stacks(stacks *st, long limit, const char *unit) {
    if (st->n > 1) /* rows is NULL when empty */
        qsort(st->rows, st->n, sizeof *st->rows, cmp_row);
    size_t shown = limit >= 0 && (size_t)limit < st->n ? (size_t)limit : st->n;
    printf("heaviest stacks (leaf first), %zu of %zu:\n", shown, st->n);
    for (size_t i = 0; i < shown; i++) {
        char v[64];
        cli_format_value(v, sizeof v, (double)st->rows[i].value, unit);
        double pc = st->total ? 100.0 * (double)st->rows[i].value / (double)st->total : 0;
        printf("  %s (%.2f%%)\n", v, pc);
        const char *names = st->rows[i].names;
        if (!*names)
            printf("      (no stack)\n");
        for (const char *line = names; *line;) {
            size_t n = strcspn(line, "\n");
            printf("      %.*s\n", (int)n, line);
            line += n + (line[n] == '\n');
        }
    }
}

typedef struct check_opts {
    const char *max_s;
    long limit;
} check_opts;

static int check_option(void *ctx, int c, const char *arg) {
    check_opts *o = ctx;
    if (c == 'm') {
        o->max_s = arg;
        return 0;
    }
    return cli_parse_count("check", "-n", arg, &o->limit);
}

int cli_check(int argc, char **argv) {
    static const struct option opts[] = {
        {"max", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    check_opts o = {NULL, 5};
    cli_select sel;
    cli_verb_options vo = {"check", CHECK_USAGE, "n:h", opts, &sel, check_option, &o};
    int status = cli_options(argc, argv, &vo);
    if (status)
        return status < 0 ? 0 : status;
    const char *max_s = o.max_s;
    if (!max_s)
        return cli_fail("check", "--max N is required (%s)", CHECK_USAGE);
    cli_filter f;
    if (cli_filter_init(&f, "check", sel.focus, sel.ignore))
        return 2;
    cli_profset ps;
    stacks st = {0};
    gomap_config gc = {.alloc = NULL, .flags = GOMAP_UNPROFILED, .seed = 0};
    int64_t max;
    const char *why;
    status = cli_profset_load(&ps, "check", argv + optind, (size_t)(argc - optind), sel.index_name);
    if (status == 0 && cli_parse_value(max_s, ps.unit, &max, &why) < 0)
        status =
            cli_fail("check", "bad --max \"%s\" for %s (%s): %s", max_s, ps.type, ps.unit, why);
    if (status == 0 && (gomap_new(&gomap_type_str_u64, 64, &gc, &st.idx) < 0 ||
                        cli_profset_each(&ps, 0, ps.n, &f, add_stack, &st)))
        status = cli_fail("check", "out of memory");
    if (status == 0) {
        char tot[64], lim[64], filt[512];
        cli_format_value(tot, sizeof tot, (double)st.total, ps.unit);
        cli_format_value(lim, sizeof lim, (double)max, ps.unit);
        cli_filter_describe(&f, filt, sizeof filt);
        bool over = st.total > max;
        printf("mapprof check: %s: %s %s %s max %s (%zu file%s%s)\n", over ? "FAIL" : "ok", ps.type,
               tot, over ? ">" : "<=", lim, ps.n, ps.n == 1 ? "" : "s", filt);
        if (over)
            print_stacks(&st, o.limit, ps.unit);
        status = cli_flush("check", over ? 1 : 0);
    }
    for (size_t i = 0; i < st.n; i++)
        free(st.rows[i].names);
    free(st.rows);
    free(st.key);
    gomap_free(st.idx);
    cli_profset_free(&ps);
    cli_filter_free(&f);
    return status;
}
