/*
 * go_test.c — external validation: every kind of profile this library
 * writes is accepted by google/pprof's Parse + CheckValid (pprofcheck) and by
 * `go tool pprof -raw/-top/-traces`; names and file:line of this binary show
 * up and `-list` prints its source; profiles written by Go's runtime/pprof
 * are read correctly and `mapprof top` agrees with `go tool pprof -top`;
 * the CLI's errors.
 */
#include "tests/pprof/pprof_test.h"

#include <execinfo.h>
#include <math.h>
#include <unistd.h>

/* ---- profiles of this process ---- */

static int gp_line;

__attribute__((noinline)) static int gp_alloc_site(void **buf, int max) {
    int n = (gp_line = __LINE__, backtrace(buf, max)); /* GP_LIST_MARKER */
    __asm__ volatile("" ::: "memory");
    return n;
}

__attribute__((noinline)) static int gp_caller_one(void **buf, int max) {
    int n = gp_alloc_site(buf, max);
    __asm__ volatile("" ::: "memory");
    return n;
}

__attribute__((noinline)) static int gp_caller_two(void **buf, int max) {
    /* differs from gp_caller_one, so identical code folding keeps both */
    int n = gp_alloc_site(buf, max - 1);
    __asm__ volatile("" ::: "memory");
    return n;
}

static void add_bt(pprof_builder *b, int which, const int64_t *v, const pprof_label *l, size_t nl) {
    void *buf[64];
    int n = which ? gp_caller_two(buf, 64) : gp_caller_one(buf, 64);
    /* Under ASan, backtrace() starts inside the sanitizer's interceptor:
     * drop leading frames outside this executable. */
    extern char __executable_start, etext;
    int first = 0;
    while (first < n && ((char *)buf[first] < &__executable_start || (char *)buf[first] > &etext))
        first++;
    uint64_t st[64];
    for (int i = first; i < n; i++)
        st[i - first] = (uint64_t)(uintptr_t)buf[i];
    n -= first;
    pprof_error err;
    int rc = pprof_builder_add_sample(b, st, (size_t)n, v, l, nl, PPROF_STACK_ALL_RETURN, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
}

/* Write a profile of `kind` with real stacks of this process. */
static void write_self(const char *path, enum pprof_kind kind, bool symbolize) {
    pprof_builder_config cfg = {0};
    pprof_config_for(kind, 0, &cfg);
    cfg.drop_frames = "backtrace";
    pprof_builder *b;
    CHECK_EQ_I(pprof_builder_new(&cfg, &b, NULL), 0);
    CHECK_EQ_I(pprof_builder_add_comment(b, "mapprof test profile", NULL), 0);
    int64_t v[5];
    for (int i = 0; i < 5; i++)
        v[i] = 1000 * (i + 1);
    pprof_label heap_l[] = {{.key = "bytes", .num = 512}};
    pprof_label grow_l[] = {{.key = "kind", .str = "double"},
                            {.key = "type", .str = "map[uint64]uint64"},
                            {.key = "from_B", .num = 3, .num_unit = "B"},
                            {.key = "to_B", .num = 4, .num_unit = "B"}};
    pprof_label maps_l[] = {{.key = "B", .num = 5, .num_unit = "B"},
                            {.key = "grows", .num = 2, .num_unit = "count"}};
    const pprof_label *l = kind == PPROF_KIND_HEAP   ? heap_l
                           : kind == PPROF_KIND_GROW ? grow_l
                           : kind == PPROF_KIND_MAPS ? maps_l
                                                     : NULL;
    size_t nl = kind == PPROF_KIND_HEAP   ? 1
                : kind == PPROF_KIND_GROW ? 4
                : kind == PPROF_KIND_MAPS ? 2
                                          : 0;
    for (int k = 0; k < 3; k++) {
        add_bt(b, 0, v, l, nl);
        add_bt(b, 1, v, l, nl);
        add_bt(b, 1, v, l, nl);
    }
    pprof_mappings *m;
    CHECK_EQ_I(pprof_mappings_new(NULL, &m, NULL), 0);
    CHECK_EQ_I(pprof_mappings_refresh(m, NULL), 0);
    pprof_symbolizer *s = NULL;
    if (symbolize)
        CHECK_EQ_I(pprof_symbolizer_new(NULL, &s, NULL), 0);
    pprof_profile *p;
    pprof_error err;
    int rc = pprof_builder_finish(b, m, s, &p, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    rc = pprof_profile_write_file(p, path, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    pprof_profile_free(p);
    pprof_symbolizer_free(s);
    pprof_mappings_free(m);
    pprof_builder_free(b);
}

static void write_empty(const char *path) {
    pprof_builder_config cfg = {0};
    pprof_config_for(PPROF_KIND_MAPS, 0, &cfg);
    pprof_builder *b;
    CHECK_EQ_I(pprof_builder_new(&cfg, &b, NULL), 0);
    pprof_profile *p;
    CHECK_EQ_I(pprof_builder_finish(b, NULL, NULL, &p, NULL), 0);
    CHECK_EQ_I(pprof_profile_write_file(p, path, NULL), 0);
    pprof_profile_free(p);
    pprof_builder_free(b);
}

static const char *const kinds[] = {"heap", "allocs", "mutex", "block", "grow", "maps"};

static void write_all(void) {
    char path[1100];
    for (int k = 0; k < 6; k++) {
        snprintf(path, sizeof path, "%s/%s.pb.gz", th_tmpdir(), kinds[k]);
        write_self(path, (enum pprof_kind)k, true);
    }
    write_self(tpath("unsym.pb.gz"), PPROF_KIND_HEAP, false);
    write_empty(tpath("empty.pb.gz"));
}

static char *go_pprof(const char *args, const char *file) {
    char *out = NULL;
    int rc = th_sh(&out, "cd '%s' && go tool pprof %s '%s' 2>&1", th_root(), args, file);
    CHECK_MSG(rc == 0, "go tool pprof %s %s failed:\n%s", args, file, out);
    CHECK_MSG(!strstr(out, "arning") && !strstr(out, "rror"), "go tool pprof %s:\n%s", args, out);
    return out;
}

TEST_TIMEOUT(pprof, go_validates_every_profile, 120) {
    NEED_TOOL("go");
    write_all();
    char *out = NULL;
    int rc = th_sh(&out, "'%s/pprofcheck' '%s'/*.pb.gz", th_build(), th_tmpdir());
    CHECK_MSG(rc == 0, "pprofcheck:\n%s", out);
    CHECK_CONTAINS(out, "empty.pb.gz samples=0");
    free(out);
    const char *files[] = {"heap", "allocs", "mutex", "block", "grow", "maps", "unsym", "empty"};
    for (int i = 0; i < 8; i++) {
        const char *f = tpath(files[i]);
        char path[1100];
        snprintf(path, sizeof path, "%s.pb.gz", f);
        free(go_pprof("-raw", path));
        free(go_pprof("-traces", path));
        out = go_pprof("-top", path);
        if (i < 7) /* unsym (6): go's own symbolizer names only DW_AT_name'd DIEs */
            CHECK_CONTAINS(out, "gp_alloc_site");
        if (i < 6)
            CHECK_CONTAINS(out, "gp_caller_two");
        free(out);
    }
    /* heap conventions as pprof sees them */
    out = go_pprof("-raw", tpath("heap.pb.gz"));
    CHECK_CONTAINS(out, "PeriodType: space bytes");
    CHECK_CONTAINS(out, "Period: 524288");
    CHECK_CONTAINS(out, "alloc_objects/count alloc_space/bytes inuse_objects/count "
                        "inuse_space/bytes\n");
    CHECK_CONTAINS(out, "bytes:[512]");
    free(out);
    out = go_pprof("-raw", tpath("allocs.pb.gz"));
    CHECK_CONTAINS(out, "alloc_space/bytes[dflt]");
    free(out);
    out = go_pprof("-raw", tpath("grow.pb.gz"));
    CHECK_CONTAINS(out, "grows/count bytes/bytes entries/count");
    CHECK_CONTAINS(out, "kind:[double]");
    CHECK_CONTAINS(out, "from_B:[3 B]");
    free(out);
    out = go_pprof("-tags", tpath("maps.pb.gz"));
    CHECK_CONTAINS(out, "grows");
    free(out);
    out = go_pprof("-sample_index=delay -top", tpath("mutex.pb.gz"));
    CHECK_CONTAINS(out, "Type: delay");
    free(out);
}

/* Some line of out contains both a and b (file names may be absolute). */
static void check_line_with(const char *out, const char *a, const char *b) {
    for (const char *p = out; (p = strstr(p, a)); p++) {
        const char *bol = p, *eol = strchr(p, '\n');
        while (bol > out && bol[-1] != '\n')
            bol--;
        const char *q = strstr(bol, b);
        if (q && (!eol || q < eol))
            return;
    }
    th_fail(__FILE__, __LINE__, "no line with \"%s\" and \"%s\" in:\n%s", a, b, out);
}

TEST_TIMEOUT(pprof, go_sees_functions_and_lines, 120) {
    NEED_TOOL("go");
    write_self(tpath("sym.pb.gz"), PPROF_KIND_HEAP, true);
    /* pre-symbolized: file:line of the sampling call, leaf frame */
    char *out = go_pprof("-lines -top -nodecount=5", tpath("sym.pb.gz"));
    char want[256];
    snprintf(want, sizeof want, "tests/pprof/go_test.c:%d", gp_line);
    check_line_with(out, "gp_alloc_site ", want);
    free(out);
    out = go_pprof("-raw", tpath("sym.pb.gz"));
    CHECK_CONTAINS(out, "[FN][FL][LN][IN]");
    CHECK_CONTAINS(out, "Comment: mapprof test profile");
    free(out);
    /* -list prints this file's source lines */
    out = go_pprof("-list=gp_alloc_site", tpath("sym.pb.gz"));
    CHECK_CONTAINS(out, "GP_LIST_MARKER");
    CHECK_CONTAINS(out, "ROUTINE ======================== gp_alloc_site");
    free(out);
    /* unsymbolized: pprof symbolizes from the mappings (start, offset) */
    write_self(tpath("raw.pb.gz"), PPROF_KIND_HEAP, false);
    out = go_pprof("-lines -top -nodecount=5", tpath("raw.pb.gz"));
    check_line_with(out, "gp_alloc_site ", want);
    free(out);
}

/* ---- top agreement ---- */

typedef struct row {
    char name[256];
    double flat, cum;
} row;

static double parse_value(const char *s) {
    char *end;
    double v = strtod(s, &end);
    static const struct {
        const char *u;
        double f;
    } units[] = {{"B", 1},    {"kB", 1024}, {"MB", 1048576}, {"GB", 1073741824.0}, {"ns", 1},
                 {"us", 1e3}, {"ms", 1e6},  {"s", 1e9},      {"hrs", 3.6e12},      {"", 1}};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (!strcmp(end, units[i].u))
            return v * units[i].f;
    th_fail(__FILE__, __LINE__, "unknown unit in \"%s\"", s);
}

/* Rows of a -top style table; returns the count, *total from the header. */
static int parse_top(const char *out, row *rows, int max, double *total) {
    const char *h = strstr(out, " of ");
    CHECK_MSG(h != NULL, "no total in:\n%s", out);
    char tot[64];
    CHECK(sscanf(h, " of %63s total", tot) == 1);
    *total = parse_value(tot);
    const char *p = strstr(out, "flat  flat%");
    CHECK(p != NULL);
    p = strchr(p, '\n') + 1;
    int n = 0;
    while (*p && n < max) {
        char f[64], fp[32], sp[32], c[64], cp[32];
        int used = 0;
        if (sscanf(p, "%63s %31s %31s %63s %31s %n", f, fp, sp, c, cp, &used) < 5)
            break;
        const char *name = p + used, *eol = strchr(name, '\n');
        size_t len = eol ? (size_t)(eol - name) : strlen(name);
        if (len > 9 && !memcmp(name + len - 9, " (inline)", 9))
            len -= 9;
        snprintf(rows[n].name, sizeof rows[n].name, "%.*s", (int)len, name);
        rows[n].flat = parse_value(f);
        rows[n].cum = parse_value(c);
        n++;
        p = eol ? eol + 1 : name + len;
    }
    return n;
}

static void compare_top(const char *file, const char *index) {
    char *mine = NULL, *go = NULL;
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "top --sample-index %s '%s'", index, file);
    int rc = run_tool(&mine, "mapprof", cmd);
    CHECK_MSG(rc == 0, "mapprof top failed:\n%s", mine);
    char args[128];
    snprintf(args, sizeof args, "-top -sample_index=%s", index);
    go = go_pprof(args, file);
    static row a[4096], b[512];
    double ta, tb;
    int na = parse_top(mine, a, 4096, &ta), nb = parse_top(go, b, 512, &tb);
    CHECK_MSG(nb > 0 && na >= nb, "rows: mine %d go %d\n%s\n%s", na, nb, mine, go);
    CHECK_MSG(fabs(ta - tb) <= 0.005 * tb + 1, "totals %f vs %f\n%s\n%s", ta, tb, mine, go);
    for (int i = 0; i < nb; i++) {
        int j = 0;
        while (j < na && strcmp(a[j].name, b[i].name))
            j++;
        CHECK_MSG(j < na, "%s missing from mapprof top:\n%s\n%s", b[i].name, mine, go);
        double tol = 0.005 * tb + 0.01 * b[i].flat + 1;
        CHECK_MSG(fabs(a[j].flat - b[i].flat) <= tol && fabs(a[j].cum - b[i].cum) <= tol,
                  "%s: flat/cum %f/%f vs go %f/%f\n%s\n%s", b[i].name, a[j].flat, a[j].cum,
                  b[i].flat, b[i].cum, mine, go);
        if (i == 0 && (nb == 1 || b[0].flat > b[1].flat)) /* same biggest row */
            CHECK_EQ_S(a[0].name, b[0].name);
    }
    free(mine);
    free(go);
}

TEST_TIMEOUT(pprof, go_runtime_profiles_read_and_top_agrees, 120) {
    NEED_TOOL("go");
    char *out = NULL;
    int rc = th_sh(&out, "'%s/goprof' '%s'", th_build(), th_tmpdir());
    CHECK_MSG(rc == 0, "goprof:\n%s", out);
    free(out);
    pprof_profile *p;
    pprof_error err;
    rc = pprof_profile_read_file(tpath("heap.pb.gz"), NULL, &p, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    const pprof_pb_profile *m = pprof_profile_msg(p);
    CHECK_EQ_U(m->n_sample_type, 4);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_S(pprof_profile_str(p, m->sample_type[i]->type), pprof_heap_types[i].type);
        CHECK_EQ_S(pprof_profile_str(p, m->sample_type[i]->unit), pprof_heap_types[i].unit);
    }
    CHECK_EQ_S(pprof_profile_str(p, m->period_type->type), "space");
    CHECK_EQ_I(m->period, 1);
    CHECK_EQ_I(pprof_profile_sample_index(p, NULL), 3);
    /* main.allocBig: 64 x 64 KiB still in use, found by walking ids */
    int64_t big = 0;
    for (size_t i = 0; i < m->n_sample; i++) {
        const pprof_pb_location *l = pprof_profile_location(p, m->sample[i]->location_id[0]);
        for (size_t j = 0; j < l->n_line; j++) {
            const pprof_pb_function *f = pprof_profile_function(p, l->line[j]->function_id);
            if (!strcmp(pprof_profile_str(p, f->name), "main.allocBig"))
                big += m->sample[i]->value[3];
        }
    }
    /* (plus the growing backing array of `keep`, which the GC may have freed) */
    CHECK_MSG(big >= 64 << 16 && big < (64 << 16) + 4096, "main.allocBig in use: %lld",
              (long long)big);
    pprof_profile_free(p);
    for (int k = 0; k < 2; k++) {
        rc = pprof_profile_read_file(tpath(k ? "block.pb.gz" : "mutex.pb.gz"), NULL, &p, &err);
        CHECK_MSG(rc == 0, "%s", err.msg);
        m = pprof_profile_msg(p);
        CHECK_EQ_U(m->n_sample_type, 2);
        CHECK_EQ_S(pprof_profile_str(p, m->sample_type[0]->type), "contentions");
        CHECK_EQ_S(pprof_profile_str(p, m->sample_type[1]->unit), "nanoseconds");
        CHECK_EQ_S(pprof_profile_str(p, m->period_type->type), "contentions");
        pprof_profile_free(p);
    }
    compare_top(tpath("heap.pb.gz"), "inuse_space");
    compare_top(tpath("heap.pb.gz"), "alloc_objects");
    compare_top(tpath("mutex.pb.gz"), "delay");
    compare_top(tpath("block.pb.gz"), "delay");
    compare_top(tpath("block.pb.gz"), "contentions");
    /* and on this project's own profiles */
    write_self(tpath("self.pb.gz"), PPROF_KIND_HEAP, true);
    compare_top(tpath("self.pb.gz"), "alloc_space");
}

/* ---- the CLI without Go ---- */

TEST(pprof, cli_top) {
    write_self(tpath("c.pb.gz"), PPROF_KIND_GROW, true);
    char *out = NULL;
    char args[1200];
    snprintf(args, sizeof args, "top -n 3 --sample-index bytes '%s'", tpath("c.pb.gz"));
    int rc = run_tool(&out, "mapprof", args);
    CHECK_MSG(rc == 0, "%s", out);
    CHECK_CONTAINS(out, "Type: bytes");
    CHECK_CONTAINS(out, "Showing nodes accounting for");
    CHECK_CONTAINS(out, "gp_alloc_site");
    CHECK_CONTAINS(out, "Showing top 3 nodes");
    free(out);
    /* two files merge: the total doubles */
    snprintf(args, sizeof args, "top --sample-index=grows '%s' '%s'", tpath("c.pb.gz"),
             tpath("c.pb.gz"));
    rc = run_tool(&out, "mapprof", args);
    CHECK_MSG(rc == 0, "%s", out);
    CHECK_CONTAINS(out, "of 18000 total"); /* 9 samples x 1000 grows, x2 */
    free(out);
}

static void cli_fails(const char *args, const char *needle) {
    char *out = NULL;
    int rc = run_tool(&out, "mapprof", args);
    CHECK_MSG(rc == 2, "mapprof %s: exit %d\n%s", args, rc, out);
    CHECK_CONTAINS(out, needle);
    size_t len = strlen(out);
    CHECK_MSG(len > 0 && strchr(out, '\n') == out + len - 1, "not one line: %s", out);
    free(out);
}

TEST(pprof, cli_errors) {
    char args[1200];
    const char *junk = tpath("junk.pb.gz");
    FILE *f = fopen(junk, "w");
    fputs("\x1f\x8b garbage that is not gzip", f);
    fclose(f);
    snprintf(args, sizeof args, "top '%s'", junk);
    cli_fails(args, "gzip");
    const char *text = tpath("text");
    f = fopen(text, "w");
    fputs("hello, world", f);
    fclose(f);
    snprintf(args, sizeof args, "top '%s'", text);
    cli_fails(args, "not a valid profile.proto message");
    cli_fails("top /nonexistent.pb.gz", "/nonexistent.pb.gz: No such file");
    cli_fails("top", "no profile given");
    cli_fails("frobnicate", "unknown verb");
    write_self(tpath("h.pb.gz"), PPROF_KIND_HEAP, false);
    snprintf(args, sizeof args, "top --sample-index nope '%s'", tpath("h.pb.gz"));
    cli_fails(args, "sample index \"nope\" must be one of: alloc_objects, alloc_space");
    write_self(tpath("m.pb.gz"), PPROF_KIND_MUTEX, false);
    snprintf(args, sizeof args, "top '%s' '%s'", tpath("h.pb.gz"), tpath("m.pb.gz"));
    cli_fails(args, "incompatible sample types");
}
