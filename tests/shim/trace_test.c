/*
 * trace_test.c — the timeline (MAPPROF_TRACE=1): <out>.<pid>.trace.json
 * checked against the Chrome Trace Event format by Python's json module
 * (tests/shim/scripts/check_trace.py: required fields per phase, time
 * order and nesting per track, grow args, totals), then its counts
 * against independent truths: the grow profile's total and the program's
 * own count of grows, the fixture's measured contended waits, the ring's
 * drop count when MAPPROF_TRACE_CAP is small. A bad MAPPROF_TRACE gives
 * one line and no trace, and there is no file without the variable (the
 * parsing itself: config_test.c).
 */
#include "tests/shim/shim_util.h"

/* ------------------------------------------------------- end to end */

static const char *trace_path(int pid) {
    static char path[600];
    snprintf(path, sizeof path, "%s/mp.%d.trace.json", su_dir(), pid);
    return path;
}

/* Run the format checker; returns its one-line summary (JSON). */
static char *check_trace(int pid) {
    NEED_TOOL("python3");
    char *out = NULL;
    int rc = th_sh(&out, "python3 '%s/tests/shim/scripts/check_trace.py' '%s' 2>&1", th_root(),
                   trace_path(pid));
    CHECK_MSG(rc == 0, "check_trace.py %s:\n%s", trace_path(pid), out);
    return out;
}

/* A number of the checker's summary. */
static long long field(const char *summary, const char *key) {
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(summary, pat);
    CHECK_MSG(p != NULL, "no %s in %s", key, summary);
    return atoll(p + strlen(pat));
}

static void grows_match(const char *fixture) {
    char *out = NULL;
    int rc = su_run(&out, "MAPPROF_TRACE=1", su_fixture(fixture));
    CHECK_MSG(rc == 0, "%s failed:\n%s", fixture, out);
    unsigned long long grows = 0;
    int live = 0;
    const char *line = strstr(out, "grows ");
    CHECK_MSG(line && sscanf(line, "grows %llu live %d", &grows, &live) == 2, "output:\n%s", out);
    int pid = su_only_pid();
    CHECK(pid > 0);
    char *sum = check_trace(pid);
    pprof_profile *g = su_load(su_prof(pid, "grow"));
    long long profiled = su_sum(g, "grows", NULL, -1);
    pprof_profile_free(g);
    CHECK_EQ_I(profiled, (long long)grows);
    /* Every grow is in the trace: finished, or still evacuating at exit. */
    CHECK_EQ_I(field(sum, "grows") + field(sum, "grows_open"), profiled);
    CHECK_EQ_I(field(sum, "dropped"), 0);
    /* Maps filled to the end finish their last grow only when written
     * again: the kept ones may still be evacuating, every other grow ended. */
    CHECK(field(sum, "grows") >= profiled - live);
    CHECK_CONTAINS(sum, "\"evacuated\": ");
    CHECK(field(sum, "heap_points") > 0);
    free(sum);
    free(out);
}

TEST(shim, trace_grows_static_libgomap) {
    grows_match("maps");
}

TEST(shim, trace_grows_dynamic_libgomap) {
    grows_match("maps.dyn");
}

/* The grow profile sampled 1 in 3 still traces every grow. */
TEST(shim, trace_grows_whatever_the_grow_rate) {
    char *out = NULL;
    int rc = su_run(&out, "MAPPROF_TRACE=1 MAPPROF_GROW_RATE=3 MAPPROF_SEED=7", su_fixture("maps"));
    CHECK_MSG(rc == 0, "%s", out);
    unsigned long long grows = 0;
    int live = 0;
    const char *line = strstr(out, "grows ");
    CHECK(line && sscanf(line, "grows %llu live %d", &grows, &live) == 2);
    char *sum = check_trace(su_only_pid());
    CHECK_EQ_I(field(sum, "grows") + field(sum, "grows_open"), (long long)grows);
    free(sum);
    free(out);
}

/* mutexdelay: 25 waits of ~20 ms by one thread on one mutex. The mutex and
 * block profiles are off or sample 1 in 1000: the timeline times them all. */
static void lock_waits(const char *env) {
    char *out = NULL;
    int rc = su_run(&out, env, su_fixture("mutexdelay"));
    CHECK_MSG(rc == 0, "%s", out);
    int contentions = 0;
    long long waited = 0;
    const char *c = strstr(out, "contentions ");
    const char *w = strstr(out, "waited_ns ");
    CHECK_MSG(c && w && sscanf(c, "contentions %d", &contentions) == 1 &&
                  sscanf(w, "waited_ns %lld", &waited) == 1,
              "%s", out);
    char *sum = check_trace(su_only_pid());
    /* Every wait is above 1 ms. */
    CHECK_EQ_I(field(sum, "lock_waits"), contentions);
    CHECK_EQ_I(field(sum, "lock_threads"), 1);
    long long traced = field(sum, "lock_wait_ns");
    CHECK_MSG(traced <= waited && traced >= waited * 9 / 10, "traced %lld ns, measured %lld ns",
              traced, waited);
    free(sum);
    free(out);
}

TEST(shim, trace_lock_waits) {
    lock_waits("MAPPROF_TRACE=1 MAPPROF_PROFILES=heap");
}

TEST(shim, trace_lock_waits_whatever_the_mutex_rate) {
    lock_waits("MAPPROF_TRACE=1 MAPPROF_MUTEX_RATE=1000 MAPPROF_SEED=3");
}

TEST(shim, trace_lock_threshold) {
    char *out = NULL;
    int rc =
        su_run(&out, "MAPPROF_TRACE=1 MAPPROF_TRACE_LOCK_NS=500000000", su_fixture("mutexdelay"));
    CHECK_MSG(rc == 0, "%s", out);
    char *sum = check_trace(su_only_pid());
    CHECK_EQ_I(field(sum, "lock_waits"), 0);
    free(sum);
    free(out);
}

/* A ring of 16 events on a thread that finishes every grow: the file keeps
 * the latest 16, the drop count is the rest, shown as an instant too. */
TEST(shim, trace_ring_overflow_counts_drops) {
    char *out = NULL;
    int rc = su_run(&out, "MAPPROF_TRACE=1 MAPPROF_TRACE_CAP=16 MAPPROF_PROFILES=grow,maps",
                    su_fixture("maps"));
    CHECK_MSG(rc == 0, "%s", out);
    int pid = su_only_pid_of("grow");
    CHECK(pid > 0);
    char *sum = check_trace(pid);
    pprof_profile *g = su_load(su_prof(pid, "grow"));
    long long profiled = su_sum(g, "grows", NULL, -1);
    pprof_profile_free(g);
    long long kept = field(sum, "grows");
    CHECK_EQ_I(kept, 16);
    CHECK_EQ_I(kept + field(sum, "grows_open") + field(sum, "dropped"), profiled);
    CHECK_EQ_I(field(sum, "drop_instants"), 1);
    CHECK_EQ_I(field(sum, "dropped_in_instants"), field(sum, "dropped"));
    free(sum);
    free(out);
}

TEST(shim, trace_bad_value_is_off) {
    char *out = NULL, *plain = NULL;
    const char *fx = su_fixture("maps");
    int rc0 = th_sh(&plain, "'%s'", fx);
    int rc = su_run(&out, "MAPPROF_TRACE=yes", fx);
    CHECK_EQ_I(rc, rc0);
    const char *first = strstr(out, "mapprof: ");
    CHECK_MSG(first && strstr(first, "MAPPROF_TRACE") && !strstr(first + 1, "mapprof: "),
              "expected one mapprof: line:\n%s", out);
    /* The program's own output is unchanged, the line aside. */
    CHECK_CONTAINS(out, plain);
    CHECK_EQ_I(su_count_files("trace.json"), 0);
    CHECK(su_count_files("grow.pb.gz") == 1);
    free(out);
    free(plain);
}

TEST(shim, trace_off_by_default) {
    char *out = NULL;
    CHECK_EQ_I(su_run(&out, "", su_fixture("maps")), 0);
    CHECK_EQ_I(su_count_files("trace.json"), 0);
    CHECK_EQ_I(su_count_files(".tmp"), 0);
    free(out);
}

/* A fork child writes its own timeline (its own events only), both valid. */
TEST(shim, trace_fork_child_has_its_own) {
    char *out = NULL;
    int rc = su_run(&out, "MAPPROF_TRACE=1", su_fixture("forker"));
    CHECK_MSG(rc == 0, "%s", out);
    CHECK(su_count_files("trace.json") >= 2);
    DIR *d = opendir(su_dir());
    CHECK(d != NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid;
        if (sscanf(e->d_name, "mp.%d.trace.json", &pid) == 1)
            free(check_trace(pid));
    }
    closedir(d);
    CHECK_EQ_I(su_count_files(".tmp"), 0);
    free(out);
}

/* Each way a grow ends is told apart: one grow each cleared, freed,
 * released by an iterator and still evacuating; every other grow evacuated. */
TEST(shim, trace_grow_ends) {
    char *out = NULL;
    int rc = su_run(&out, "MAPPROF_TRACE=1", su_fixture("tracegrow"));
    CHECK_MSG(rc == 0, "%s", out);
    unsigned long long grows = 0;
    const char *line = strstr(out, "grows ");
    CHECK(line && sscanf(line, "grows %llu", &grows) == 1);
    char *sum = check_trace(su_only_pid());
    CHECK_EQ_I(field(sum, "grows") + field(sum, "grows_open"), (long long)grows);
    CHECK_EQ_I(field(sum, "cleared"), 1);
    CHECK_EQ_I(field(sum, "map freed"), 1);
    CHECK_EQ_I(field(sum, "old array released by the last iterator"), 1);
    CHECK_EQ_I(field(sum, "grows_open"), 1);
    CHECK_EQ_I(field(sum, "evacuated"), (long long)grows - 4);
    free(sum);
    free(out);
}

/* Every dump writes the timeline, not only the exit's: a mapprof_dump()
 * request mid-run leaves a valid trace saying so, with the heap as it was
 * (the 1 MiB block of phase_one live, every byte sampled, and little else),
 * and the exit dump replaces it. */
TEST(shim, trace_written_at_every_dump) {
    NEED_TOOL("python3");
    char *out = NULL, cmd[1600];
    /* exec keeps the pid, so $$ is the fixture's pid. */
    snprintf(cmd, sizeof cmd, "sh -c 'exec %s %s/mp.$$.trace.json %s/mid.trace.json'",
             su_fixture("dumpcall"), su_dir(), su_dir());
    int rc = su_run(&out, "MAPPROF_TRACE=1 MAPPROF_HEAP_RATE=1 MAPPROF_PROFILES=heap", cmd);
    CHECK_MSG(rc == 0, "%s", out);
    CHECK_CONTAINS(out, "dump=0");
    char *py = NULL;
    rc = th_sh(&py,
               "cd '%s' && python3 '%s/tests/shim/scripts/check_trace.py' mid.trace.json && "
               "python3 -c \"import json; d = json.load(open('mid.trace.json')); "
               "m = max(e['args']['bytes'] for e in d['traceEvents'] if e.get('cat') == 'heap'); "
               "print(d['otherData']['reason'], m, 1 << 20 <= m < (1 << 20) + 65536)\" && "
               "python3 -c \"import json, glob; "
               "print(json.load(open(glob.glob('mp.*.trace.json')[0]))['otherData']['reason'])\"",
               su_dir(), th_root());
    CHECK_MSG(rc == 0, "%s", py);
    CHECK_MSG(strstr(py, "\nrequest ") && strstr(py, " True\nexit\n"), "%s", py);
    CHECK_EQ_I(su_count_files(".tmp"), 0);
    free(py);
    free(out);
}

/* heapsteps: 8 MiB allocated and freed in two bursts with 30 ms rests.
 * The heap line has the peak at the first burst's time (not 1 MiB, its
 * first point, then a jump at the frees) and the drop at the second's
 * (not at the next allocation, 30 ms later). */
TEST(shim, trace_heap_line_follows_bursts) {
    NEED_TOOL("python3");
    char *out = NULL;
    int rc = su_run(&out, "MAPPROF_TRACE=1 MAPPROF_HEAP_RATE=1 MAPPROF_PROFILES=heap",
                    su_fixture("heapsteps"));
    CHECK_MSG(rc == 0, "%s", out);
    char *py = NULL;
    rc = th_sh(&py,
               "python3 '%s/tests/shim/scripts/check_trace.py' '%s' | python3 -c \""
               "import json, sys\n"
               "h = json.load(sys.stdin)['heap']\n"
               "i = max(range(len(h)), key=lambda k: h[k][1])\n"
               "low = [p for p in h[i + 1:] if p[1] < 65536]\n"
               "print('peak', 8 << 20 <= h[i][1] < (8 << 20) + 65536,\n"
               "      'at_burst', i + 1 < len(h) and h[i + 1][0] - h[i][0] > 20000,\n"
               "      'drop_at_free', bool(low) and h[-1][0] - low[0][0] > 20000, h)\"",
               th_root(), trace_path(su_only_pid()));
    CHECK_MSG(rc == 0, "%s", py);
    CHECK_MSG(strstr(py, "peak True at_burst True drop_at_free True"), "%s", py);
    free(py);
    free(out);
}

/* The trace cannot be written (its name is taken by a directory): one
 * mapprof: line names it, the profiles are written, the program's output
 * and status are its own, and no temporary file is left behind. */
TEST(shim, trace_write_failure_is_one_line) {
    char *out = NULL, *plain = NULL, cmd[1200];
    const char *fx = su_fixture("maps");
    CHECK_EQ_I(th_sh(&plain, "'%s'", fx), 0);
    /* exec keeps the pid, so $$ is the fixture's pid. */
    snprintf(cmd, sizeof cmd, "sh -c 'env -u LD_PRELOAD mkdir %s/mp.$$.trace.json && exec %s'",
             su_dir(), fx);
    int rc = su_run(&out, "MAPPROF_TRACE=1", cmd);
    CHECK_EQ_I(rc, 0);
    const char *line = strstr(out, "mapprof: ");
    CHECK_MSG(line && strstr(line, "trace:") && !strstr(line + 1, "mapprof: "),
              "expected one mapprof: line about the trace:\n%s", out);
    CHECK_CONTAINS(out, plain);
    CHECK_EQ_I(su_count_files("grow.pb.gz"), 1);
    CHECK_EQ_I(su_count_files(".tmp"), 0);
    free(out);
    free(plain);
}
