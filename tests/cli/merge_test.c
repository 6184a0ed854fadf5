/*
 * merge_test.c — `mapprof merge` and pprof_profile_merge: random profiles
 * merge to the sum of their parts (totals, per-function flat and cum, no
 * duplicate stacks), the header rules, profiles of real runs at different
 * load addresses, validation by google/pprof, and input errors.
 */
#include "tests/cli/cli_test.h"

#include <errno.h>

#define MAXP 6
#define MAXS 24

typedef struct sums {
    int64_t total[3];
    int64_t flat[CT_NFN][3], cum[CT_NFN][3];
} sums;

static void add_expected(sums *e, const ct_sample *s) {
    bool seen[CT_NFN] = {0};
    for (int k = 0; k < 3; k++) {
        e->total[k] += s->v[k];
        e->flat[s->stack[0]][k] += s->v[k];
    }
    for (int j = 0; j < s->depth; j++)
        if (!seen[s->stack[j]]) {
            seen[s->stack[j]] = true;
            for (int k = 0; k < 3; k++)
                e->cum[s->stack[j]][k] += s->v[k];
        }
}

static int fn_index(const char *name) {
    for (int i = 0; i < CT_NFN; i++)
        if (!strcmp(name, ct_names[i]))
            return i;
    return -1;
}

/* The same sums measured on a profile read back; also checks that no two
 * samples share a stack and labels. */
static void measure(const pprof_profile *p, sums *got) {
    const pprof_pb_profile *m = pprof_profile_msg(p);
    memset(got, 0, sizeof *got);
    char(*keys)[256] = calloc(m->n_sample + 1, sizeof *keys);
    for (size_t i = 0; i < m->n_sample; i++) {
        const pprof_pb_sample *s = m->sample[i];
        bool seen[CT_NFN] = {0};
        int len = 0;
        for (size_t j = 0; j < s->n_location_id; j++) {
            const pprof_pb_location *l = pprof_profile_location(p, s->location_id[j]);
            CHECK(l && l->n_line == 1);
            const pprof_pb_function *f = pprof_profile_function(p, l->line[0]->function_id);
            int fi = fn_index(pprof_profile_str(p, f->name));
            CHECK_MSG(fi >= 0, "unexpected frame %s", pprof_profile_str(p, f->name));
            len += snprintf(keys[i] + len, 256 - (size_t)len, "%d,", fi);
            for (int k = 0; k < 3; k++) {
                if (j == 0)
                    got->flat[fi][k] += s->value[k];
                if (!seen[fi])
                    got->cum[fi][k] += s->value[k];
            }
            seen[fi] = true;
        }
        for (size_t j = 0; j < s->n_label; j++)
            len += snprintf(keys[i] + len, 256 - (size_t)len, "|%s=%s",
                            pprof_profile_str(p, s->label[j]->key),
                            pprof_profile_str(p, s->label[j]->str));
        for (int k = 0; k < 3; k++)
            got->total[k] += s->value[k];
        for (size_t j = 0; j < i; j++)
            CHECK_MSG(strcmp(keys[i], keys[j]), "samples %zu and %zu both %s", j, i, keys[i]);
    }
    free(keys);
}

static void check_sums(const sums *want, const sums *got) {
    for (int k = 0; k < 3; k++) {
        CHECK_EQ_I(got->total[k], want->total[k]);
        for (int f = 0; f < CT_NFN; f++) {
            CHECK_EQ_I(got->flat[f][k], want->flat[f][k]);
            CHECK_EQ_I(got->cum[f][k], want->cum[f][k]);
        }
    }
}

static uint64_t rng;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* n random grow profiles into files in/0.. ; their expected sums. */
static int random_inputs(char paths[MAXP][1024], sums *want) {
    static const char *labels[] = {NULL, "a", "b"};
    int n = 2 + (int)(next_rand() % (MAXP - 1));
    memset(want, 0, sizeof *want);
    for (int i = 0; i < n; i++) {
        ct_sample s[MAXS];
        int ns = 1 + (int)(next_rand() % MAXS);
        for (int j = 0; j < ns; j++) {
            s[j].depth = 1 + (int)(next_rand() % 5);
            for (int d = 0; d < s[j].depth; d++)
                s[j].stack[d] = (int)(next_rand() % CT_NFN);
            for (int k = 0; k < 3; k++)
                s[j].v[k] = (int64_t)(next_rand() % 1000);
            s[j].label = labels[next_rand() % 3];
            add_expected(want, &s[j]);
        }
        snprintf(paths[i], 1024, "%s/in%d.pb.gz", th_tmpdir(), i);
        ct_write(paths[i], PPROF_KIND_GROW, 1, NULL, s, (size_t)ns);
    }
    return n;
}

static pprof_profile *read_ok(const char *path) {
    pprof_profile *p;
    pprof_error err = {0};
    CHECK_MSG(pprof_profile_read_file(path, NULL, &p, &err) == 0, "%s", err.msg);
    return p;
}

static void merge_files(char (*paths)[1024], int n, const char *out) {
    char args[8192] = "";
    for (int i = 0; i < n; i++)
        snprintf(args + strlen(args), sizeof args - strlen(args), " '%s'", paths[i]);
    char *o;
    int rc = CT_RUN(&o, "merge -o '%s'%s", out, args);
    CHECK_MSG(rc == 0, "rc %d:\n%s", rc, o);
    CHECK_CONTAINS(o, "mapprof merge: wrote");
    free(o);
}

TEST(cli, merge_random_sums) {
    rng = th_seed() | 1;
    for (int round = 0; round < 12; round++) {
        char paths[MAXP][1024];
        sums want, got;
        int n = random_inputs(paths, &want);
        const char *out = ct_path("merged.pb.gz");
        merge_files(paths, n, out);
        pprof_profile *p = read_ok(out);
        measure(p, &got);
        check_sums(&want, &got);
        /* Merging is associative: merged + nothing new = itself. */
        pprof_profile *again;
        pprof_error err = {0};
        const pprof_profile *ins[2] = {p, p};
        CHECK_MSG(pprof_profile_merge(ins, 2, NULL, &again, &err) == 0, "%s", err.msg);
        sums twice;
        measure(again, &twice);
        for (int k = 0; k < 3; k++)
            CHECK_EQ_I(twice.total[k], 2 * want.total[k]);
        CHECK_EQ_U(pprof_profile_msg(again)->n_sample, pprof_profile_msg(p)->n_sample);
        CHECK_EQ_U(pprof_profile_msg(again)->n_location, pprof_profile_msg(p)->n_location);
        pprof_profile_free(again);
        pprof_profile_free(p);
    }
}

TEST(cli, merge_validated_by_go) {
    NEED_TOOL("go");
    rng = th_seed() | 1;
    char paths[MAXP][1024];
    sums want;
    int n = random_inputs(paths, &want);
    const char *out = ct_path("merged.pb.gz");
    merge_files(paths, n, out);
    char *o;
    int rc = th_sh(&o, "'%s/pprofcheck' '%s'", th_build(), out);
    CHECK_MSG(rc == 0, "pprofcheck:\n%s", o);
    free(o);
    rc = th_sh(&o, "cd '%s' && go tool pprof -raw '%s'", th_tmpdir(), out);
    CHECK_MSG(rc == 0 && !strstr(o, "rror") && !strstr(o, "arning"), "go tool pprof -raw:\n%s", o);
    CHECK_CONTAINS(o, "grows/count bytes/bytes entries/count");
    free(o);
    /* Go's own total agrees with the inputs' (-sample_index=grows). */
    rc = th_sh(&o, "cd '%s' && go tool pprof -top -sample_index=grows '%s'", th_tmpdir(), out);
    CHECK_MSG(rc == 0, "%s", o);
    char total[64];
    snprintf(total, sizeof total, " of %lld total", (long long)want.total[0]);
    CHECK_CONTAINS(o, total);
    free(o);
}

TEST(cli, merge_header_rules) {
    const ct_sample s[] = {{2, {CT_ALLOC, CT_MAIN}, {1, 100, 1, 100}, NULL}};
    const char *ca[] = {"mapprof: x", "mapprof: y", NULL}, *cb[] = {"mapprof: y", "z", NULL};
    const char *a = ct_path("a.pb.gz"), *b = ct_path("b.pb.gz"), *out = ct_path("o.pb.gz");
    ct_write(a, PPROF_KIND_HEAP, 1000, ca, s, 1);
    ct_write(b, PPROF_KIND_HEAP, 2000, cb, s, 1);
    char *o;
    int rc = CT_RUN(&o, "merge -o '%s' '%s' '%s'", out, a, b);
    CHECK_MSG(rc == 0, "%s", o);
    free(o);
    pprof_profile *p = read_ok(out), *pa = read_ok(a);
    const pprof_pb_profile *m = pprof_profile_msg(p), *ma = pprof_profile_msg(pa);
    CHECK_EQ_I(m->period, 2000);
    CHECK_EQ_S(pprof_profile_str(p, m->period_type->type), "space");
    CHECK_EQ_U(m->n_comment, 3);
    CHECK_EQ_S(pprof_profile_str(p, m->comment[0]), "mapprof: x");
    CHECK_EQ_S(pprof_profile_str(p, m->comment[1]), "mapprof: y");
    CHECK_EQ_S(pprof_profile_str(p, m->comment[2]), "z");
    CHECK_EQ_U(m->n_sample, 1); /* the identical stacks were summed */
    CHECK_EQ_I(m->sample[0]->value[1], 200);
    CHECK_EQ_U(m->n_mapping, ma->n_mapping);
    CHECK_EQ_S(pprof_profile_str(p, m->mapping[0]->filename),
               pprof_profile_str(pa, ma->mapping[0]->filename));
    CHECK(m->time_nanos > 0 && m->time_nanos <= ma->time_nanos);
    pprof_profile_free(p);
    pprof_profile_free(pa);
}

TEST(cli, merge_input_errors) {
    const ct_sample s[] = {{2, {CT_ALLOC, CT_MAIN}, {1, 2, 3, 4}, NULL}};
    const char *h = ct_path("h.pb.gz"), *m = ct_path("m.pb.gz"), *bad = ct_path("bad.pb.gz");
    const char *out = ct_path("out.pb.gz");
    ct_write(h, PPROF_KIND_HEAP, 0, NULL, s, 1);
    ct_write(m, PPROF_KIND_MUTEX, 0, NULL, s, 1);
    CHECK_EQ_I(th_sh(NULL, "head -c 300 /dev/urandom > '%s'; echo old > '%s'", bad, out), 0);
    char cases[7][2048];
    snprintf(cases[0], sizeof cases[0], "merge -o '%s' '%s' '%s'", out, h, m);
    snprintf(cases[1], sizeof cases[1], "merge '%s' '%s'", h, h);
    snprintf(cases[2], sizeof cases[2], "merge -o '%s' '%s' '%s'", out, h, bad);
    snprintf(cases[3], sizeof cases[3], "merge -o '%s'", out);
    snprintf(cases[4], sizeof cases[4], "merge -o '%s' '%s' /nonexistent", out, h);
    snprintf(cases[5], sizeof cases[5], "merge -o /nonexistent/dir/out.pb.gz '%s'", h);
    snprintf(cases[6], sizeof cases[6], "merge -o '%s' '%s' --frob", out, h);
    ct_check_errors((const char(*)[2048])cases, sizeof cases / sizeof *cases);
    char *old = th_read_file(out, NULL);
    CHECK_EQ_S(old, "old\n"); /* never half-written */
    free(old);
    /* The library says why, too. */
    pprof_profile *ph = read_ok(h), *pm = read_ok(m), *res = NULL;
    const pprof_profile *ins[2] = {ph, pm};
    pprof_error err = {0};
    CHECK_EQ_I(pprof_profile_merge(ins, 2, NULL, &res, &err), -EINVAL);
    CHECK(res == NULL);
    CHECK_CONTAINS(err.msg, "sample types");
    CHECK_EQ_I(pprof_profile_merge(ins, 0, NULL, &res, &err), -EINVAL);
    pprof_profile_free(ph);
    pprof_profile_free(pm);
}

/* Every allocation failure is reported, and nothing leaks. */
static size_t live, fail_at, calls;
static void *fa_alloc(size_t size, void *ctx) {
    (void)ctx;
    if (fail_at && ++calls >= fail_at)
        return NULL;
    void *p = aligned_alloc(16, (size + 15) & ~(size_t)15);
    if (p)
        live++;
    return p;
}
static void fa_release(void *p, size_t size, void *ctx) {
    (void)size;
    (void)ctx;
    if (p)
        live--;
    free(p);
}

TEST(cli, merge_allocation_failures) {
    rng = th_seed() | 1;
    char paths[MAXP][1024];
    sums want;
    int n = random_inputs(paths, &want);
    pprof_profile *in[MAXP];
    for (int i = 0; i < n; i++)
        in[i] = read_ok(paths[i]);
    pprof_allocator a = {fa_alloc, fa_release, NULL};
    int failures = 0;
    for (fail_at = 1;; fail_at++) {
        calls = 0;
        live = 0;
        pprof_profile *out = NULL;
        pprof_error err = {0};
        int rc = pprof_profile_merge((const pprof_profile *const *)in, (size_t)n, &a, &out, &err);
        if (rc == 0) {
            pprof_profile_free(out);
            CHECK_EQ_U(live, 0);
            break;
        }
        CHECK_EQ_I(rc, -ENOMEM);
        CHECK(out == NULL);
        CHECK_CONTAINS(err.msg, "out of memory");
        CHECK_MSG(live == 0, "%zu blocks leaked after failing allocation %zu", live, fail_at);
        failures++;
    }
    CHECK(failures > 10);
    for (int i = 0; i < n; i++)
        pprof_profile_free(in[i]);
}

/*
 * Two runs of the same program load it at different addresses (ASLR):
 * merged, their identical stacks become one set of locations and samples,
 * and the totals add up.
 */
TEST(cli, merge_runs_at_different_addresses) {
#ifdef MAPPROF_SANITIZE
    SKIP("needs libmapprof.so, which a sanitized build does not have");
#endif
    char paths[2][1024];
    for (int i = 0; i < 2; i++) {
        char *out;
        int rc = th_sh(&out,
                       "'%s' run -o '%s/r%d' --heap-rate 1 --profiles heap -- "
                       "'%s/tests/cli/runfix' alloc 2>&1 >/dev/null",
                       ct_mapprof(), th_tmpdir(), i, th_build());
        CHECK_MSG(rc == 0 && sscanf(out, "mapprof: wrote %1023s", paths[i]) == 1, "%s", out);
        free(out);
    }
    const char *out = ct_path("runs.pb.gz");
    merge_files(paths, 2, out);
    pprof_profile *a = read_ok(paths[0]), *b = read_ok(paths[1]), *m = read_ok(out);
    const pprof_pb_profile *ma = pprof_profile_msg(a), *mb = pprof_profile_msg(b),
                           *mm = pprof_profile_msg(m);
    if (ma->mapping[0]->memory_start == mb->mapping[0]->memory_start)
        fprintf(stderr, "note: both runs loaded at the same address (ASLR off?)\n");
    /* The program's own stacks are the same in both runs: nothing doubles. */
    CHECK_MSG(mm->n_location < ma->n_location + mb->n_location, "locations %zu vs %zu + %zu",
              mm->n_location, ma->n_location, mb->n_location);
    CHECK_MSG(mm->n_mapping <= ma->n_mapping + 2, "mappings %zu vs %zu", mm->n_mapping,
              ma->n_mapping);
    for (int k = 0; k < 4; k++) {
        int64_t ta = 0, tb = 0, tm = 0;
        for (size_t i = 0; i < ma->n_sample; i++)
            ta += ma->sample[i]->value[k];
        for (size_t i = 0; i < mb->n_sample; i++)
            tb += mb->sample[i]->value[k];
        for (size_t i = 0; i < mm->n_sample; i++)
            tm += mm->sample[i]->value[k];
        CHECK_EQ_I(tm, ta + tb);
    }
    /* The fixture's 64 live blocks appear once per run, under one stack. */
    char *o = ct_expect(0, "inuse_space",
                        "top --focus alloc_pattern --sample-index inuse_space '%s'", out);
    CHECK_CONTAINS(o, "of 515.94kB total"); /* 2 x sum(4096..4159) = 528320 B */
    free(o);
    pprof_profile_free(a);
    pprof_profile_free(b);
    pprof_profile_free(m);
}
