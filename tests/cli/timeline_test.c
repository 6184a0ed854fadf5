/*
 * timeline_test.c — the report's timeline: `mapprof run --trace --report`
 * on real programs (rwlock_map: grows, lock waits and the heap; the shim's
 * tracegrow fixture: a grow still evacuating at exit), the SVG parsed by
 * an XML parser and every bar checked against the trace's events
 * (tests/cli/scripts/check_timeline.py), the page rendered by headless
 * Chromium (its own script counts the bars it sees), a trace found beside
 * the profiles, and bad traces refused with one line and no directory.
 */
#include <sys/stat.h>

#include "tests/cli/cli_test.h"

static void need_shim(void) {
#ifdef MAPPROF_SANITIZE
    SKIP("needs libmapprof.so, which a sanitized build does not have");
#endif
}

/* The one trace of prefix dir/p (its path, static). */
static const char *only_trace(const char *dir) {
    static char path[1024];
    char *out = NULL;
    CHECK_EQ_I(th_sh(&out, "ls '%s'/p.*.trace.json", dir), 0);
    CHECK_MSG(strchr(out, '\n') == strrchr(out, '\n'), "more than one trace:\n%s", out);
    snprintf(path, sizeof path, "%.*s", (int)strcspn(out, "\n"), out);
    free(out);
    return path;
}

static void check_timeline(const char *out, const char *trace, const char *expect) {
    NEED_TOOL("python3");
    char *py = NULL;
    int rc = th_sh(&py, "python3 '%s/tests/cli/scripts/check_timeline.py' '%s' '%s'", th_root(),
                   out, trace);
    CHECK_MSG(rc == 0, "%s", py);
    CHECK_CONTAINS(py, expect);
    free(py);
}

/* A count the shim's otherData reports (the trace's own totals). */
static long other(const char *trace, const char *key) {
    char *out = NULL;
    CHECK_EQ_I(th_sh(&out,
                     "python3 -c \"import json,sys; print(json.load(open(sys.argv[1]))"
                     "['otherData']['%s'])\" '%s'",
                     key, trace),
               0);
    long v = atol(out);
    free(out);
    return v;
}

TEST_TIMEOUT(cli, timeline_from_run, 120) {
    need_shim();
    NEED_TOOL("python3");
    const char *dir = ct_path("tl-run"), *out = ct_path("tl-run-out");
    CHECK_EQ_I(th_sh(NULL, "rm -rf '%s' '%s' && mkdir -p '%s'", dir, out, dir), 0);
    char *o = NULL;
    int rc = CT_RUN(&o, "run -o '%s/p' --trace --report '%s' -- '%s/examples/rwlock_map' 2>&1", dir,
                    out, th_build());
    CHECK_MSG(rc == 0, "exit %d:\n%s", rc, o);
    CHECK_CONTAINS(o, ".trace.json\n");
    CHECK_CONTAINS(o, "mapprof report: wrote");
    /* The program's own count: "..., B=17, 17 grows". */
    const char *g = strstr(o, " grows\n");
    while (g && g > o && g[-1] >= '0' && g[-1] <= '9')
        g--;
    CHECK_MSG(g != NULL, "no grow count in:\n%s", o);
    long grows = atol(g);
    free(o);
    const char *trace = only_trace(dir);
    char want[64];
    snprintf(want, sizeof want, "ok %ld grows, ", other(trace, "grows"));
    CHECK_EQ_I(other(trace, "grows") + other(trace, "grows_evacuating"), grows);
    CHECK(grows > 10);
    CHECK(other(trace, "lock_waits") > 0);
    CHECK(other(trace, "heap_points") > 0);
    check_timeline(out, trace, want);
    char *html = NULL;
    CHECK_EQ_I(th_sh(&html, "cat '%s/index.html'", out), 0);
    CHECK_CONTAINS(html, "ui.perfetto.dev");
    CHECK_CONTAINS(html, "timeline: rwlock_map");
    free(html);
}

/* The page in a real browser: its script counts the timeline's bars. */
TEST_TIMEOUT(cli, timeline_renders_in_chromium, 180) {
    need_shim();
    NEED_TOOL("chromium");
    NEED_TOOL("python3");
    const char *dir = ct_path("tl-chr"), *out = ct_path("tl-chr-out");
    CHECK_EQ_I(th_sh(NULL, "rm -rf '%s' '%s' '%s' && mkdir -p '%s'", dir, out,
                     ct_path("tl-chromium-profile"), dir),
               0);
    char *o = NULL;
    int rc = CT_RUN(&o, "run -o '%s/p' --trace --report '%s' -- '%s/tests/shim/tracegrow' 2>&1",
                    dir, out, th_build());
    CHECK_MSG(rc == 0, "exit %d:\n%s", rc, o);
    free(o);
    const char *trace = only_trace(dir);
    long bars =
        other(trace, "grows") + other(trace, "grows_evacuating") + other(trace, "lock_waits");
    CHECK_EQ_I(other(trace, "grows_evacuating"), 1);
    check_timeline(out, trace, ", 1 open, ");
    const char *flags = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                        "--disable-background-networking --disable-component-update "
                        "--disable-sync";
    char *dom = NULL;
    rc = th_sh(&dom,
               "timeout 90 chromium %s --user-data-dir='%s' --dump-dom 'file://%s/index.html' "
               "2>/dev/null",
               flags, ct_path("tl-chromium-profile"), out);
    CHECK_MSG(rc == 0, "chromium: %d\n%s", rc, dom);
    char mark[64];
    snprintf(mark, sizeof mark, "data-timeline-bars=\"%ld\"", bars);
    CHECK_CONTAINS(dom, mark);
    free(dom);
    rc = th_sh(&dom,
               "timeout 90 chromium %s --user-data-dir='%s' --window-size=1200,800 "
               "--screenshot='%s/shot.png' 'file://%s/index.html' >/dev/null 2>&1; "
               "test -s '%s/shot.png'",
               flags, ct_path("tl-chromium-profile"), dir, out, dir);
    CHECK_MSG(rc == 0, "no screenshot of the report:\n%s", dom);
    free(dom);
}

/* `mapprof report` over profiles alone finds the trace of their <out>.<pid>. */
TEST(cli, timeline_found_beside_profiles) {
    need_shim();
    NEED_TOOL("python3");
    const char *dir = ct_path("tl-side"), *out = ct_path("tl-side-out");
    CHECK_EQ_I(th_sh(NULL, "rm -rf '%s' '%s' && mkdir -p '%s'", dir, out, dir), 0);
    char *o = NULL;
    int rc = CT_RUN(&o, "run -o '%s/p' --trace -- '%s/tests/shim/tracegrow' 2>&1", dir, th_build());
    CHECK_MSG(rc == 0, "exit %d:\n%s", rc, o);
    free(o);
    CT_EXPECT(0, "wrote", "report -o '%s' '%s'/p.*.grow.pb.gz 2>&1", out, dir);
    check_timeline(out, only_trace(dir), "ok ");
    /* Without a trace: no timeline section. */
    CHECK_EQ_I(th_sh(NULL, "rm -rf '%s' && rm '%s'/p.*.trace.json", out, dir), 0);
    CT_EXPECT(0, "wrote", "report -o '%s' '%s'/p.*.grow.pb.gz 2>&1", out, dir);
    char *html = NULL;
    CHECK_EQ_I(th_sh(&html, "cat '%s/index.html'", out), 0);
    CHECK_MSG(!strstr(html, "class=\"timeline\""), "a timeline without a trace");
    free(html);
}

TEST(cli, timeline_bad_traces) {
    const char *in = ct_path("tl-bad"), *out = ct_path("tl-bad-out");
    CHECK_EQ_I(th_sh(NULL,
                     "rm -rf '%s' '%s' && mkdir -p '%s' && cd '%s' && "
                     "printf 'garbage' >a.trace.json && : >b.trace.json && "
                     "printf '[1,2]' >c.trace.json && printf '{\"traceEvents\":{}}' "
                     ">d.trace.json && printf '{\"traceEvents\":[{\"ph\":\"X\",\"cat\":"
                     "\"map.grow\",\"ts\":1,\"tid\":1}]}' >e.trace.json && "
                     "printf '{\"traceEvents\":[{\"ph\":\"C\",\"cat\":\"heap\",\"ts\":1,"
                     "\"tid\":1,\"args\":{\"x\":\"y\"}}]}' >f.trace.json && "
                     "printf '{\"traceEvents\":[{\"ph\":\"X\",\"cat\":\"lock\",\"ts\":1,"
                     "\"dur\":-5,\"tid\":1,\"args\":{}}]}' >g.trace.json && "
                     "printf '{\"traceEvents\":[{\"ph\":\"X\",\"cat\":\"lock\",\"ts\":1e300,"
                     "\"dur\":5,\"tid\":1,\"args\":{}}]}' >h.trace.json && "
                     "printf '{\"traceEvents\":[{\"ph\":\"i\",\"cat\":\"map.grow\",\"ts\":-3,"
                     "\"s\":\"t\",\"tid\":1,\"args\":{}}]}' >i.trace.json",
                     in, out, in, in),
               0);
    const char *names = "abcdefghi";
    char cases[9][2048];
    for (int i = 0; i < 9; i++)
        snprintf(cases[i], sizeof cases[i], "report -o '%s' '%s/%c.trace.json'", out, in, names[i]);
    ct_check_errors((const char(*)[2048])cases, 9);
    struct stat st;
    CHECK_MSG(stat(out, &st) != 0, "%s was created by a failed report", out);
    /* Another tool's events are left out, not refused. */
    CHECK_EQ_I(th_sh(NULL,
                     "printf '{\"traceEvents\":[{\"ph\":\"X\",\"cat\":\"gpu\",\"ts\":1,"
                     "\"dur\":3,\"pid\":1,\"tid\":1,\"name\":\"draw\"}]}' >'%s/other.trace.json'",
                     in),
               0);
    char *o = ct_expect(0, "wrote", "report -o '%s' '%s/other.trace.json' 2>&1", out, in);
    free(o);
    char *html = NULL;
    CHECK_EQ_I(th_sh(&html, "cat '%s/index.html'", out), 0);
    CHECK_CONTAINS(html, "No events in this trace.");
    free(html);
}

/* A dense trace (3,000 short waits 10 us apart on two threads, then two
 * long ones): bars less than a pixel apart are drawn as one, every event
 * still accounted for on its thread; the long waits keep bars of their own. */
TEST(cli, timeline_thins_dense_traces) {
    NEED_TOOL("python3");
    const char *in = ct_path("tl-dense"), *out = ct_path("tl-dense-out");
    CHECK_EQ_I(th_sh(NULL, "rm -rf '%s' '%s' && mkdir -p '%s'", in, out, in), 0);
    CHECK_EQ_I(th_sh(NULL,
                     "python3 -c \"import json\n"
                     "ev = [{'name': 'thread_name', 'ph': 'M', 'pid': 1, 'tid': t, "
                     "'args': {'name': 'w'}} for t in (2, 3)]\n"
                     "w = lambda t, ts, d: {'name': 'lock wait', 'cat': 'lock', 'ph': 'X', "
                     "'ts': ts, 'dur': d, 'pid': 1, 'tid': t, 'args': {'lock': '0x1'}}\n"
                     "ev += [w(2 + i %% 2, 1000 + 10 * i, 5) for i in range(3000)]\n"
                     "ev += [w(2, 200000, 40000), w(3, 300000, 50000)]\n"
                     "json.dump({'traceEvents': ev, 'displayTimeUnit': 'ns'}, "
                     "open('%s/d.trace.json', 'w'))\"",
                     in),
               0);
    CT_EXPECT(0, "wrote", "report -o '%s' '%s/d.trace.json' 2>&1", out, in);
    char trace[1100];
    snprintf(trace, sizeof trace, "%s/d.trace.json", in);
    check_timeline(out, trace, "3002 waits");
    char *n = NULL;
    CHECK_EQ_I(th_sh(&n, "grep -c '<g class=' '%s/index.html'", out), 0);
    CHECK_MSG(atoi(n) >= 4 && atoi(n) <= 10, "%s bars for 3,002 waits", n);
    free(n);
}
