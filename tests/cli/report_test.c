/*
 * report_test.c — `mapprof report`: the normalization table, clustering
 * on constructed stacks with known groups, and end to end on profiles
 * with known values, checked from outside: Python's csv module and XML
 * parser (tests/cli/scripts/check_report.py), headless Chromium running
 * the page's own script; and the input errors (one line, status 2, no
 * directory left behind).
 */
#include "cli/cli.h"
#include "tests/cli/cli_test.h"

#include <dirent.h>
#include <sys/stat.h>

TEST(cli, report_normalize_table) {
    static const char *const cases[][2] = {
        {"parse.cold", "parse"},
        {"hash.isra.0", "hash"},
        {"emit.part.1", "emit"},
        {"scan.constprop.0", "scan"},
        {"hash.isra.0.constprop.1", "hash"},
        {"walk.part.2.cold", "walk"},
        {"init.lto_priv.0", "init"},
        {"run.localalias", "run"},
        {"std::vector<int>::push_back(int const&)", "std::vector<int>::push_back(int const&)"},
        {"a.b", "a.b"},
        {".cold", ".cold"},           /* all suffix: kept */
        {"f.isra.", "f.isra."},       /* no number */
        {"f.isra.12a", "f.isra.12a"}, /* not a number */
        {"isra.3", "isra.3"},         /* no leading dot */
        {"g.constprop.10", "g"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[256], again[256];
        cli_normalize_name(cases[i][0], out, sizeof out);
        CHECK_EQ_S(out, cases[i][1]);
        cli_normalize_name(out, again, sizeof again); /* idempotent */
        CHECK_EQ_S(again, out);
    }
}

TEST(cli, report_frame_distance) {
    const uint32_t a[] = {1, 2, 3, 4}, b[] = {1, 9, 3, 4}, c[] = {2, 3, 4}, d[] = {5, 6, 7, 8};
    CHECK_EQ_I(cli_frame_distance(a, 4, a, 4, 3), 0);
    CHECK_EQ_I(cli_frame_distance(a, 4, b, 4, 3), 1); /* substitution */
    CHECK_EQ_I(cli_frame_distance(a, 4, c, 3, 3), 1); /* deletion */
    CHECK_EQ_I(cli_frame_distance(a, 4, d, 4, 8), 4);
    CHECK_EQ_I(cli_frame_distance(a, 4, d, 4, 2), 3); /* over the limit: limit + 1 */
}

/* Three families of stacks around three leaders, each member one frame
 * from its leader and at least three from the other families: distance 1
 * finds exactly the families, whatever the input order; distance 0
 * separates every stack. */
TEST(cli, report_cluster_known_groups) {
    enum { N = 12 };
    static const uint32_t st[N][5] = {
        {1, 2, 3, 4, 5},
        {1, 2, 3, 4, 6},
        {9, 2, 3, 4, 5},
        {1, 2, 3, 4, 0}, /* A */
        {20, 21, 22, 23},
        {20, 21, 22, 24},
        {20, 21, 99, 23},
        {0}, /* B */
        {40, 41, 42},
        {40, 41, 42, 43},
        {0},
        {0}, /* C */
    };
    static const int len[N] = {5, 5, 5, 4, 4, 4, 4, 0, 3, 4, 0, 0};
    static const int family[N] = {0, 0, 0, 0, 1, 1, 1, 3, 2, 2, 3, 3};
    cli_stack s[N];
    int used = 0;
    int fam[N];
    for (int i = 0; i < N; i++) {
        if (len[i] == 0)
            continue;
        s[used] = (cli_stack){st[i], len[i], 1000 - i * 10, 1};
        fam[used++] = family[i];
    }
    uint64_t r = th_seed() | 1;
    for (int round = 0; round < 20; round++) {
        /* a random permutation of the input */
        for (int i = used - 1; i > 0; i--) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            int j = (int)(r % (uint64_t)(i + 1));
            cli_stack t = s[i];
            s[i] = s[j];
            s[j] = t;
            int tf = fam[i];
            fam[i] = fam[j];
            fam[j] = tf;
        }
        size_t of[N], k;
        CHECK_EQ_I(cli_cluster(s, (size_t)used, 1, of, &k), 0);
        CHECK_EQ_U(k, 3);
        for (int i = 0; i < used; i++)
            for (int j = 0; j < used; j++)
                CHECK_MSG((of[i] == of[j]) == (fam[i] == fam[j]), "stacks %d and %d", i, j);
        /* Clusters are numbered by their leader's value: family A first. */
        for (int i = 0; i < used; i++)
            if (s[i].value == 1000)
                CHECK_EQ_U(of[i], 0);
        CHECK_EQ_I(cli_cluster(s, (size_t)used, 0, of, &k), 0);
        CHECK_EQ_U(k, (size_t)used);
    }
}

static void write_inputs(const char *dir) {
    CHECK_EQ_I(th_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir), 0);
    char path[1200];
    /* heap: two stacks that differ in one frame (one cluster at distance
     * 1), one elsewhere; values: alloc_objects, alloc_space, inuse_... */
    ct_sample heap[] = {
        {3, {CT_ALLOC, CT_GROW, CT_MAIN}, {4, 4000, 1, 1000}, NULL},
        {3, {CT_ALLOC, CT_PARSE, CT_MAIN}, {2, 2000, 2, 2000}, NULL},
        {3, {CT_IDLE, CT_LOAD_USERS, CT_MAIN}, {1, 100, 1, 100}, NULL},
        {3, {CT_ALLOC, CT_GROW, CT_MAIN}, {1, 500, 1, 500}, NULL},
    };
    snprintf(path, sizeof path, "%s/run.42.heap.pb.gz", dir);
    static const char *const comments[] = {"mapprof: reason=exit heap_rate=1", NULL};
    ct_write(path, PPROF_KIND_HEAP, 1, comments, heap, 4);
    ct_sample mu[] = {
        {2, {CT_PARSE, CT_MAIN}, {3, 300000}, NULL},
        {2, {CT_GROW, CT_MAIN}, {1, 700000}, NULL},
    };
    snprintf(path, sizeof path, "%s/run.42.mutex.pb.gz", dir);
    ct_write(path, PPROF_KIND_MUTEX, 1, NULL, mu, 2);
    snprintf(path, sizeof path, "%s/run.42.grow.pb.gz", dir);
    ct_write(path, PPROF_KIND_GROW, 1, NULL, NULL, 0);
}

TEST(cli, report_end_to_end) {
    NEED_TOOL("python3");
    const char *in = ct_path("report-in"), *out = ct_path("report-out");
    write_inputs(in);
    CHECK_EQ_I(th_sh(NULL, "rm -rf '%s'", out), 0);
    char *o = ct_expect(0, "wrote",
                        "report -o '%s' '%s'/run.42.heap.pb.gz '%s'/run.42.mutex.pb.gz "
                        "'%s'/run.42.grow.pb.gz 2>&1",
                        out, in, in, in);
    free(o);
    /* Heap's default sample index is inuse_space: 1000 + 2000 + 100 + 500. */
    char *py = NULL;
    int rc = th_sh(&py,
                   "python3 '%s/tests/cli/scripts/check_report.py' '%s' heap=3600 "
                   "mutex=1000000 grow=0",
                   th_root(), out);
    CHECK_MSG(rc == 0, "%s", py);
    free(py);
    char *csv = NULL;
    CHECK_EQ_I(th_sh(&csv, "cat '%s/clusters.csv'", out), 0);
    /* The two ct_fn_alloc stacks (grow/parse callers) are one cluster led
     * by the heavier (parse: 2000 in use, grow: 1000 + 500 merged into one
     * sample by the builder); two-frame stacks with different leaves are
     * not clustered (a third of 2 frames is 0). */
    CHECK_CONTAINS(csv, "heap,0,2,3500,bytes,2,ct_fn_alloc <- ct_fn_parse <- ct_fn_main\r\n");
    CHECK_CONTAINS(csv, "heap,1,1,100,bytes,1,ct_fn_idle <- ct_fn_load_users <- ct_fn_main\r\n");
    CHECK_CONTAINS(csv, "mutex,0,1,700000,nanoseconds,1,ct_fn_grow <- ct_fn_main\r\n");
    CHECK_CONTAINS(csv, "mutex,1,1,300000,nanoseconds,1,ct_fn_parse <- ct_fn_main\r\n");
    free(csv);
    char *html = NULL;
    CHECK_EQ_I(th_sh(&html, "cat '%s/index.html'", out), 0);
    CHECK_CONTAINS(html, "No samples in this profile");
    CHECK_CONTAINS(html, "mapprof: reason=exit heap_rate=1");
    CHECK_CONTAINS(html, "href=\"heap.flame.svg\"");
    free(html);
    /* --sample-index where the kind has it, the default elsewhere. */
    CHECK_EQ_I(th_sh(NULL, "rm -rf '%s'", out), 0);
    CT_EXPECT(0, NULL, "report -o '%s' --sample-index alloc_space '%s'/*.pb.gz 2>&1", out, in);
    rc = th_sh(&py, "python3 '%s/tests/cli/scripts/check_report.py' '%s' heap=6600 mutex=1000000",
               th_root(), out);
    CHECK_MSG(rc == 0, "%s", py);
    free(py);
}

/* The page's own script ran in a real browser: it marks the body with the
 * number of sections it found, and Chromium's DOM dump shows the mark. */
TEST_TIMEOUT(cli, report_page_renders_in_chromium, 120) {
    NEED_TOOL("chromium");
    const char *in = ct_path("report-in2"), *out = ct_path("report-out2");
    write_inputs(in);
    CHECK_EQ_I(th_sh(NULL, "rm -rf '%s' '%s'", out, ct_path("chromium-profile")), 0);
    CT_EXPECT(0, NULL, "report -o '%s' '%s'/*.pb.gz 2>&1", out, in);
    char *dom = NULL;
    const char *flags = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                        "--disable-background-networking --disable-component-update "
                        "--disable-sync";
    int rc = th_sh(&dom,
                   "timeout 90 chromium %s --user-data-dir='%s' --dump-dom "
                   "'file://%s/index.html' 2>/dev/null",
                   flags, ct_path("chromium-profile"), out);
    CHECK_MSG(rc == 0, "chromium: %d\n%s", rc, dom);
    CHECK_CONTAINS(dom, "data-rendered=\"3\"");
    free(dom);
    rc = th_sh(&dom,
               "timeout 90 chromium %s --user-data-dir='%s' --window-size=1200,800 "
               "--screenshot='%s/shot.png' 'file://%s/heap.flame.svg' >/dev/null 2>&1; "
               "test -s '%s/shot.png'",
               flags, ct_path("chromium-profile"), in, out, in);
    CHECK_MSG(rc == 0, "no screenshot of the flame graph:\n%s", dom);
    free(dom);
}

static int tmp_siblings(const char *dir) {
    char *out = NULL;
    th_sh(&out, "ls -d '%s'.tmp.* 2>/dev/null | wc -l", dir);
    int n = atoi(out);
    free(out);
    return n;
}

TEST(cli, report_bad_input) {
    const char *in = ct_path("report-bad"), *out = ct_path("report-bad-out");
    write_inputs(in);
    CHECK_EQ_I(th_sh(NULL,
                     "rm -rf '%s' '%s'.tmp.* && printf 'garbage' >'%s/bad.heap.pb.gz' && "
                     ": >'%s/empty.heap.pb.gz' && mkdir -p '%s/exists'",
                     out, out, in, in, in),
               0);
    char cases[6][2048];
    snprintf(cases[0], sizeof cases[0], "report -o '%s' '%s/bad.heap.pb.gz'", out, in);
    snprintf(cases[1], sizeof cases[1], "report -o '%s' '%s/empty.heap.pb.gz'", out, in);
    snprintf(cases[2], sizeof cases[2], "report -o '%s' '%s/missing.pb.gz'", out, in);
    snprintf(cases[3], sizeof cases[3], "report -o '%s/exists' '%s/run.42.heap.pb.gz'", in, in);
    snprintf(cases[4], sizeof cases[4], "report '%s/run.42.heap.pb.gz'", in);
    snprintf(cases[5], sizeof cases[5], "report -o '%s' --distance x '%s/run.42.heap.pb.gz'", out,
             in);
    ct_check_errors((const char(*)[2048])cases, 6);
    struct stat st;
    CHECK_MSG(stat(out, &st) != 0, "%s was created by a failed report", out);
    CHECK_EQ_I(tmp_siblings(out), 0);
    /* Mixed sample types under one kind name: refused, nothing written. */
    CHECK_EQ_I(th_sh(NULL, "cp '%s/run.42.mutex.pb.gz' '%s/run.43.heap.pb.gz'", in, in), 0);
    char *o = NULL;
    int rc = CT_RUN(&o, "report -o '%s' '%s/run.42.heap.pb.gz' '%s/run.43.heap.pb.gz' 2>&1", out,
                    in, in);
    CHECK_ONE_LINE_ERROR(rc, o);
    CHECK_CONTAINS(o, "incompatible sample types");
    free(o);
    CHECK_MSG(stat(out, &st) != 0, "%s was created by a failed report", out);
    CHECK_EQ_I(tmp_siblings(out), 0);
}

/* The indexed clustering against the plain definition (every stack, by
 * decreasing value, joins the first leader within the limit, comparing
 * with every leader), on random stacks over a small vocabulary so that
 * near-identical stacks are common; distances 0 to 3 exercise both
 * indexes (symmetric deletion up to 2, near-leaf frames beyond). */
TEST(cli, report_cluster_model) {
    enum { N = 1500 };
    static uint32_t fr[N][12];
    static cli_stack s[N];
    uint64_t r = th_seed() | 1;
    for (int i = 0; i < N; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        int n = 1 + (int)(r % 12);
        for (int j = 0; j < n; j++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            fr[i][j] = (uint32_t)(r % 6); /* few names: many near misses */
        }
        s[i] = (cli_stack){fr[i], n, (int64_t)(r % 1000), 1};
    }
    for (int d = 0; d <= 3; d++) {
        static size_t of[N], order_[N], leader[N];
        size_t k;
        CHECK_EQ_I(cli_cluster(s, N, d, of, &k), 0);
        /* The model: order by value desc, length asc, frames; ties of
         * identical stacks are interchangeable, so compare partitions. */
        for (int i = 0; i < N; i++)
            order_[i] = (size_t)i;
        for (int i = 1; i < N; i++) /* insertion sort, the same order */
            for (int j = i; j > 0; j--) {
                const cli_stack *a = &s[order_[j - 1]], *b = &s[order_[j]];
                int c = a->value != b->value ? (a->value > b->value ? -1 : 1)
                        : a->n != b->n       ? (a->n < b->n ? -1 : 1)
                                             : memcmp(a->frames, b->frames, (size_t)a->n * 4);
                if (c <= 0)
                    break;
                size_t t = order_[j];
                order_[j] = order_[j - 1];
                order_[j - 1] = t;
            }
        size_t nl = 0;
        static size_t model[N];
        for (int q = 0; q < N; q++) {
            const cli_stack *x = &s[order_[q]];
            size_t c = nl;
            for (size_t l = 0; l < nl && c == nl; l++) {
                const cli_stack *y = &s[leader[l]];
                int lim = (x->n < y->n ? x->n : y->n) / 3;
                lim = lim < d ? lim : d;
                if (cli_frame_distance(x->frames, x->n, y->frames, y->n, lim) <= lim)
                    c = l;
            }
            if (c == nl)
                leader[nl++] = order_[q];
            model[order_[q]] = c;
        }
        CHECK_EQ_U(k, nl);
        for (int i = 0; i < N; i++)
            CHECK_MSG(of[i] == model[i], "distance %d: stack %d in cluster %zu, model %zu", d, i,
                      of[i], model[i]);
    }
}

/* `mapprof run --report DIR -- CMD`: the run's own profiles (not an
 * earlier run's, with the same prefix) go through the report; the
 * program's exit status stays the run's. */
TEST(cli, report_from_run) {
#ifdef MAPPROF_SANITIZE
    SKIP("needs libmapprof.so, which a sanitized build does not have");
#endif
    const char *dir = ct_path("report-run"), *out = ct_path("report-run-out");
    CHECK_EQ_I(th_sh(NULL, "rm -rf '%s' '%s' && mkdir -p '%s'", dir, out, dir), 0);
    write_inputs(ct_path("report-run-old"));
    CHECK_EQ_I(th_sh(NULL, "cp '%s'/run.42.mutex.pb.gz '%s/p.1.mutex.pb.gz'",
                     ct_path("report-run-old"), dir),
               0);
    char *o = NULL;
    int rc = CT_RUN(&o,
                    "run -o '%s/p' --profiles heap,grow --heap-rate 1 --report '%s' -- "
                    "/bin/sh -c 'echo hi; exit 3' 2>&1",
                    dir, out);
    CHECK_MSG(rc == 3, "exit %d:\n%s", rc, o);
    CHECK_CONTAINS(o, "mapprof report: wrote");
    free(o);
    char *csv = NULL;
    CHECK_EQ_I(th_sh(&csv, "cat '%s/clusters.csv'", out), 0);
    CHECK_CONTAINS(csv, "\nheap,0,");
    CHECK_MSG(!strstr(csv, "mutex"), "an earlier run's profile was reported:\n%s", csv);
    free(csv);
    /* the page says what ran (the shim's cmdline comment) */
    char *html = NULL;
    CHECK_EQ_I(th_sh(&html, "cat '%s/index.html'", out), 0);
    CHECK_CONTAINS(html, "mapprof: cmdline=/bin/sh -c echo hi; exit 3");
    free(html);
}

/* A huge profile: a gzip stream that inflates past the reader's 1 GiB
 * limit (a decompression bomb of 1.1 GiB of zeros, 1 MiB on disk) is
 * refused with one line and exit 2 (memory bounded by that limit), nothing
 * written. */
TEST_TIMEOUT(cli, report_huge_profile, 120) {
    const char *in = ct_path("report-huge"), *out = ct_path("report-huge-out");
    CHECK_EQ_I(th_sh(NULL,
                     "rm -rf '%s' '%s' && mkdir -p '%s' && head -c 1153433600 /dev/zero | "
                     "gzip -1 >'%s/bomb.heap.pb.gz'",
                     in, out, in, in),
               0);
    char *o = NULL;
    int rc = CT_RUN(&o, "report -o '%s' '%s/bomb.heap.pb.gz' 2>&1", out, in);
    CHECK_ONE_LINE_ERROR(rc, o);
    CHECK_CONTAINS(o, "larger than the limit");
    free(o);
    struct stat st;
    CHECK_MSG(stat(out, &st) != 0, "%s was created by a failed report", out);
    CHECK_EQ_I(tmp_siblings(out), 0);
    th_sh(NULL, "rm -rf '%s'", in);
}
