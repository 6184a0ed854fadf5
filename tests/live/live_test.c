/*
 * live_test.c — the live endpoint (MAPPROF_HTTP) end to end, with real
 * clients: go tool pprof on every profile, google/pprof's parser
 * (pprofcheck) and Parca's checks on every download, Parca's and Alloy's
 * scrape sequences, Go's error semantics, hostile clients (garbage,
 * slowloris, hundreds in parallel, hang-ups mid-reply), hosts that use
 * libevent or handle SIGPIPE, scraping during a multithreaded workload,
 * fork, unix sockets and the loopback rule.
 */
#include <sys/stat.h>

#include "tests/live/live_util.h"

static const char *prog_cmd(long rounds, int threads, const char *pipe_mode) {
    static char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %%s/stop %ld %d %s", lv_fixture("liveprog"), rounds, threads,
             pipe_mode);
    return cmd;
}

/* CPU time (user+system) of process pid so far, in seconds (/proc). */
static double proc_cpu_secs(int pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    char *st = th_read_file(path, NULL);
    CHECK_MSG(st != NULL, "cannot read %s", path);
    const char *p = strrchr(st, ')');
    unsigned long long ut = 0, stime = 0;
    /* after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
     * stime */
    CHECK(p &&
          sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stime) == 2);
    free(st);
    return (double)(ut + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* "Total samples = 1.93s" or "= 990ms" of go tool pprof -top, in seconds. */
static double total_secs(const char *top) {
    const char *tot = strstr(top, "Total samples = ");
    double v = 0;
    char unit[4] = "";
    if (!tot || sscanf(tot, "Total samples = %lf%3[a-z]", &v, unit) != 2)
        return -1;
    return !strcmp(unit, "ms") ? v / 1000 : !strcmp(unit, "us") ? v / 1e6 : v;
}

static const char *pprofcheck(void) {
    static char path[512];
    NEED_TOOL("go");
    snprintf(path, sizeof path, "%s/pprofcheck", lv_build());
    CHECK_MSG(access(path, X_OK) == 0, "%s is missing: make %s", path, path);
    return path;
}

/* GET path into run-dir file `save`: status 200, Content-Type prefix. */
static void fetch(const lv_run *r, const char *path, const char *type, const char *save) {
    char *out = NULL;
    char args[1400];
    snprintf(args, sizeof args, "get '%s' '%s' 200 '%s' '%s/%s'", r->addr, path, type, r->dir,
             save);
    int rc = th_sh(&out, "%s %s", lv_client(), args);
    CHECK_MSG(rc == 0, "GET %s: %s", path, out);
    free(out);
}

/* client.py VERB ADDR [EXTRA...]: must succeed. */
static void run_client(const lv_run *r, const char *verb, const char *extra) {
    char *out = NULL;
    char args[1400];
    snprintf(args, sizeof args, "%s '%s' %s", verb, r->addr, extra);
    int rc = th_sh(&out, "%s %s", lv_client(), args);
    CHECK_MSG(rc == 0, "client.py %s: %s", verb, out);
    free(out);
}

/* The body and headers of GET path (any status). */
static char *get_text(const lv_run *r, const char *path) {
    char *out = NULL;
    char args[1400];
    snprintf(args, sizeof args, "get '%s' '%s'", r->addr, path);
    th_sh(&out, "%s %s", lv_client(), args);
    return out;
}

/* pprofcheck and Parca's checks on run-dir files. */
static void valid(const lv_run *r, const char *files) {
    char *out = NULL;
    int rc = th_sh(&out, "cd '%s' && %s %s", r->dir, pprofcheck(), files);
    CHECK_MSG(rc == 0, "pprofcheck %s: %s", files, out);
    free(out);
    rc = th_sh(&out, "cd '%s' && %s validate %s", r->dir, lv_client(), files);
    CHECK_MSG(rc == 0, "validate %s: %s", files, out);
    free(out);
}

static const struct {
    const char *name, *text_head, *must; /* must: a function go tool pprof shows */
} kinds[] = {
    {"heap", "heap profile: ", "keep_site"},
    {"allocs", "heap profile: ", "temp_site"},
    {"mutex", "--- mutex:", NULL},
    {"block", "--- contention:", NULL},
    {"grow", "grow profile: grows/count=", "grow_map"},
    {"maps", "maps profile: maps/count=", "grow_map"},
};

TEST_TIMEOUT(live, go_tool_pprof_every_profile, 300) {
    NEED_TOOL("go");
    lv_run r;
    lv_start(&r, "gp", "MAPPROF_HTTP=0 MAPPROF_HEAP_RATE=4096", prog_cmd(3000, 4, "default"));
    /* the work is done when the program waits: wait for it to be idle */
    lv_sleep_ms(500);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        char *out = NULL;
        int rc = th_sh(&out, "cd '%s' && PPROF_TMPDIR='%s' go tool pprof -raw '%s/debug/pprof/%s'",
                       r.dir, r.dir, r.url, kinds[i].name);
        CHECK_MSG(rc == 0, "go tool pprof -raw %s: %s", kinds[i].name, out);
        CHECK_CONTAINS(out, "Samples:");
        if (kinds[i].must)
            CHECK_CONTAINS(out, kinds[i].must);
        free(out);
        rc = th_sh(&out, "cd '%s' && PPROF_TMPDIR='%s' go tool pprof -top '%s/debug/pprof/%s'",
                   r.dir, r.dir, r.url, kinds[i].name);
        CHECK_MSG(rc == 0, "go tool pprof -top %s: %s", kinds[i].name, out);
        CHECK_CONTAINS(out, "flat%");
        if (kinds[i].must)
            CHECK_CONTAINS(out, kinds[i].must);
        free(out);
        char path[64], save[64];
        snprintf(path, sizeof path, "/debug/pprof/%s", kinds[i].name);
        snprintf(save, sizeof save, "%s.pb.gz", kinds[i].name);
        fetch(&r, path, "application/octet-stream", save);
        valid(&r, save);
        snprintf(path, sizeof path, "/debug/pprof/%s?debug=1", kinds[i].name);
        char *txt = get_text(&r, path);
        CHECK_CONTAINS(txt, "content-type: text/plain; charset=utf-8");
        CHECK_CONTAINS(txt, kinds[i].text_head);
        if (kinds[i].must)
            CHECK_CONTAINS(txt, kinds[i].must);
        free(txt);
    }
    /* mapprof's own commands take URLs */
    char *top = NULL;
    int trc = th_sh(&top, "%s/mapprof top '%s/debug/pprof/allocs'", lv_build(), r.url);
    CHECK_MSG(trc == 0, "%s", top);
    CHECK_CONTAINS(top, "temp_site");
    free(top);
    trc = th_sh(&top, "%s/mapprof top '%s/debug/pprof/nonexistent'", lv_build(), r.url);
    CHECK_EQ_I(trc, 2);
    CHECK_CONTAINS(top, "could not fetch the profile");
    free(top);
    /* the heap's text is Go's legacy format: pprof itself reads it back */
    char *out = NULL;
    int rc =
        th_sh(&out, "cd '%s' && PPROF_TMPDIR='%s' go tool pprof -raw '%s/debug/pprof/heap?debug=1'",
              r.dir, r.dir, r.url);
    CHECK_MSG(rc == 0, "go tool pprof on heap?debug=1: %s", out);
    CHECK_CONTAINS(out, "keep_site");
    free(out);
    CHECK_EQ_I(lv_stop(&r), 0);
}

/* Play one scraper's sequence `rounds` times at `interval` seconds against
 * liveprog started with env; every reply passes pprofcheck too. */
static void scrape(const char *who, const char *env, int interval, int rounds, int profiles) {
    NEED_TOOL("go");
    lv_run r;
    lv_start(&r, who, env, prog_cmd(3000, 4, "default"));
    char extra[600], want[64];
    snprintf(extra, sizeof extra, "'%s' %s %d", r.dir, who, interval);
    snprintf(want, sizeof want, "%s scrape ok: %d profiles", who, profiles);
    for (int round = 0; round < rounds; round++) {
        char *out = NULL;
        char args[1400];
        snprintf(args, sizeof args, "scrape '%s' %s", r.addr, extra);
        int rc = th_sh(&out, "%s %s", lv_client(), args);
        CHECK_MSG(rc == 0, "%s", out);
        CHECK_CONTAINS(out, want);
        free(out);
    }
    char files[64];
    snprintf(files, sizeof files, "%s-*.pb.gz", who);
    valid(&r, files);
    CHECK_EQ_I(lv_stop(&r), 0);
}

/* Parca: every profile as configured, twice; the cpu profile on from the
 * start (the window only reads it). */
TEST_TIMEOUT(live, parca_scrape_sequence, 120) {
    scrape("parca", "MAPPROF_HTTP=0 MAPPROF_PROFILES=all,cpu", 1, 2, 8);
}

/* Alloy: the cpu profile off, so process_cpu opens sampling windows. */
TEST_TIMEOUT(live, alloy_scrape_sequence, 120) {
    scrape("alloy", "MAPPROF_HTTP=0", 2, 1, 7);
}

TEST_TIMEOUT(live, go_semantics, 120) {
    NEED_TOOL("curl");
    lv_run r;
    lv_start(&r, "sem", "MAPPROF_HTTP=0 MAPPROF_HEAP_RATE=4096", prog_cmd(2000, 2, "default"));
    char *t = get_text(&r, "/debug/pprof/nonexistent");
    CHECK_CONTAINS(t, "x-go-pprof: 1");
    CHECK_CONTAINS(t, "Unknown profile");
    free(t);
    t = get_text(&r, "/elsewhere");
    CHECK_CONTAINS(t, "404 page not found");
    free(t);
    t = get_text(&r, "/debug/pprof/heap?seconds=0");
    CHECK_CONTAINS(t, "invalid value for \"seconds\" - must be a positive integer");
    CHECK_CONTAINS(t, "x-go-pprof: 1");
    free(t);
    t = get_text(&r, "/debug/pprof/heap?seconds=1&debug=1");
    CHECK_CONTAINS(t, "seconds and debug params are incompatible");
    free(t);
    t = get_text(&r, "/debug/pprof/maps?seconds=1");
    CHECK_CONTAINS(t, "\"seconds\" parameter is not supported for this profile type");
    free(t);
    t = get_text(&r, "/debug/pprof/heap?seconds=601");
    CHECK_CONTAINS(t, "MAPPROF_HTTP_MAX_SECONDS");
    free(t);
    /* 405 with Allow for anything but GET (POST only on symbol) */
    char *out = NULL;
    int rc = th_sh(&out, "curl -s -i -X POST --data x 'http://%s/debug/pprof/heap'", r.addr);
    CHECK_EQ_I(rc, 0);
    CHECK_CONTAINS(out, "HTTP/1.1 405");
    CHECK_CONTAINS(out, "Allow: GET, HEAD");
    free(out);
    rc = th_sh(&out, "curl -s -i 'http://%s/debug/pprof'", r.addr);
    CHECK_CONTAINS(out, "HTTP/1.1 301");
    CHECK_CONTAINS(out, "Location: /debug/pprof/");
    free(out);
    /* cmdline: the arguments joined by NUL, as Go's os.Args */
    rc = th_sh(&out, "curl -s 'http://%s/debug/pprof/cmdline' | tr '\\0' '|'", r.addr);
    char want[1024];
    snprintf(want, sizeof want, "%s|%s/stop|2000|2|default", lv_fixture("liveprog"), r.dir);
    CHECK_EQ_S(out, want);
    free(out);
    /* symbol: GET counts, POST resolves addresses taken from a profile */
    t = get_text(&r, "/debug/pprof/symbol");
    CHECK_CONTAINS(t, "num_symbols: 1");
    free(t);
    rc = th_sh(&out,
               "curl -s 'http://%s/debug/pprof/heap?debug=1' | grep -m1 'keep_site' | cut -f2 | "
               "tr -d '\\n'",
               r.addr);
    CHECK_MSG(rc == 0 && !strncmp(out, "0x", 2), "no keep_site address: %s", out);
    char pc[64];
    snprintf(pc, sizeof pc, "%s", out);
    free(out);
    rc = th_sh(&out, "curl -s --data '%s+0x1+junk' 'http://%s/debug/pprof/symbol'", pc, r.addr);
    snprintf(want, sizeof want, "num_symbols: 1\n%s keep_site\n", pc);
    CHECK_EQ_S(out, want);
    free(out);
    /* binary replies as Go sets them */
    rc = th_sh(&out, "curl -s -D- -o /dev/null 'http://%s/debug/pprof/allocs'", r.addr);
    CHECK_CONTAINS(out, "Content-Type: application/octet-stream");
    CHECK_CONTAINS(out, "Content-Disposition: attachment; filename=\"allocs\"");
    CHECK_CONTAINS(out, "X-Content-Type-Options: nosniff");
    free(out);
    /* goroutine (Go's name) is the threads profile: one block per thread */
    t = get_text(&r, "/debug/pprof/goroutine?debug=2");
    CHECK_CONTAINS(t, "\"liveprog\" [");
    free(t);
    CHECK_EQ_I(lv_stop(&r), 0);
}

/* seconds=N: the difference over N seconds, while other requests are
 * answered at once. The program allocates only after the delta starts. */
TEST_TIMEOUT(live, delta_while_responsive, 120) {
    NEED_TOOL("curl");
    NEED_TOOL("go");
    lv_run r;
    lv_start(&r, "delta", "MAPPROF_HTTP=0", prog_cmd(30000, 2, "default"));
    char *out = NULL;
    int rc = th_sh(&out,
                   "cd '%s' && (curl -s -D delta.h -o delta.pb.gz "
                   "'http://%s/debug/pprof/allocs?seconds=3' & "
                   "sleep 0.5; s=$(date +%%s%%N); curl -s -o now.pb.gz 'http://%s/debug/pprof/heap'"
                   " && e=$(date +%%s%%N) && echo ms=$(( (e - s) / 1000000 )); wait)",
                   r.dir, r.addr, r.addr);
    CHECK_EQ_I(rc, 0);
    int ms = -1;
    sscanf(strstr(out, "ms=") ? strstr(out, "ms=") : "ms=-1", "ms=%d", &ms);
    CHECK_MSG(ms >= 0 && ms < 2000, "a heap request during a 3 s delta took %d ms", ms);
    free(out);
    char *h = lv_file(&r, "delta.h");
    CHECK_CONTAINS(h, "filename=\"allocs-delta\"");
    free(h);
    valid(&r, "delta.pb.gz now.pb.gz");
    /* duration_nanos of the delta is its span */
    rc = th_sh(&out, "cd '%s' && PPROF_TMPDIR=. go tool pprof -raw delta.pb.gz | head -8", r.dir);
    CHECK_EQ_I(rc, 0);
    CHECK_CONTAINS(out, "Duration: 3.");
    free(out);
    CHECK_EQ_I(lv_stop(&r), 0);
}

TEST_TIMEOUT(live, garbage_and_oversized_requests, 120) {
    lv_run r;
    lv_start(&r, "garbage", "MAPPROF_HTTP=0", prog_cmd(2000, 2, "default"));
    run_client(&r, "garbage", "");
    CHECK_EQ_I(lv_stop(&r), 0);
    char *o = lv_file(&r, "out");
    CHECK_CONTAINS(o, "eintr=0 sigpipe=0");
    free(o);
    /* at most one stderr line per kind of error */
    char *e = lv_file(&r, "err");
    int lines = 0;
    for (char *p = e; (p = strchr(p, '\n')); p++)
        lines++;
    CHECK_MSG(lines <= 8, "stderr has %d lines:\n%s", lines, e);
    free(e);
}

TEST_TIMEOUT(live, slowloris_dropped, 150) {
    lv_run r;
    lv_start(&r, "slow", "MAPPROF_HTTP=0", prog_cmd(2000, 2, "default"));
    run_client(&r, "slowloris", "20");
    CHECK_EQ_I(lv_stop(&r), 0);
}

TEST_TIMEOUT(live, hundreds_of_parallel_clients, 240) {
    lv_run r;
    lv_start(&r, "par", "MAPPROF_HTTP=0", prog_cmd(2000, 2, "default"));
    run_client(&r, "parallel", "300");
    CHECK_EQ_I(lv_stop(&r), 0);
}

/* Clients hanging up mid-reply: the SIGPIPE stays with the server's
 * thread, whatever the host does with SIGPIPE. */
static void disconnects(const char *mode) {
    lv_run plain, r;
    lv_spawn(&plain, "plain", "", prog_cmd(2000, 2, mode), false);
    CHECK_EQ_I(lv_stop(&plain), 0);
    char tag[32];
    snprintf(tag, sizeof tag, "disc-%s", mode);
    lv_start(&r, tag, "MAPPROF_HTTP=0", prog_cmd(2000, 2, mode));
    run_client(&r, "disconnect", "60");
    CHECK_EQ_I(lv_stop(&r), 0);
    char *a = lv_file(&plain, "out"), *b = lv_file(&r, "out");
    CHECK_EQ_S(b, a);
    CHECK_CONTAINS(b, "sigpipe=0");
    free(a);
    free(b);
}

TEST_TIMEOUT(live, disconnect_sigpipe_default, 120) {
    disconnects("default");
}

TEST_TIMEOUT(live, disconnect_sigpipe_ignored, 120) {
    disconnects("ignore");
}

TEST_TIMEOUT(live, disconnect_sigpipe_handled, 120) {
    disconnects("handle");
}

/* A host using libevent itself: same output with the endpoint on. */
TEST_TIMEOUT(live, host_uses_libevent, 120) {
    char *plain = NULL, *shimmed = NULL;
    lv_e2e();
    int rc1 = th_sh(&plain, "%s", lv_fixture("evhost"));
    char dir[600];
    snprintf(dir, sizeof dir, "%s/ev", th_tmpdir());
    int rc2 = th_sh(&shimmed,
                    "mkdir -p '%s' && cd '%s' && LD_PRELOAD=%s/libmapprof.so MAPPROF_OUT=ev "
                    "MAPPROF_HTTP=0 %s 2>/dev/null",
                    dir, dir, lv_build(), lv_fixture("evhost"));
    CHECK_EQ_I(rc1, 0);
    CHECK_EQ_I(rc2, rc1);
    CHECK_CONTAINS(plain, "ticks=40 replies=40");
    CHECK_EQ_S(shimmed, plain);
    free(plain);
    free(shimmed);
}

/* Scrapes every 100 ms during a multithreaded workload: the host prints
 * exactly what it prints alone (no EINTR in its sleeps and polls). */
TEST_TIMEOUT(live, scrape_every_100ms_same_output, 240) {
    NEED_TOOL("curl");
    lv_run plain, r;
    lv_spawn(&plain, "plain", "", prog_cmd(60000, 4, "default"), false);
    CHECK_EQ_I(lv_stop(&plain), 0);
    lv_start(&r, "s100", "MAPPROF_HTTP=0", prog_cmd(60000, 4, "default"));
    char *out = NULL;
    int rc = th_sh(&out,
                   "n=0; for i in $(seq 1 30); do for p in heap mutex grow maps block allocs; do "
                   "curl -s -f -o /dev/null 'http://%s/debug/pprof/'$p || exit 1; done; "
                   "n=$((n+1)); sleep 0.1; done; echo rounds=$n",
                   r.addr);
    CHECK_MSG(rc == 0, "%s", out);
    CHECK_CONTAINS(out, "rounds=30");
    free(out);
    CHECK_EQ_I(lv_stop(&r), 0);
    char *a = lv_file(&plain, "out"), *b = lv_file(&r, "out");
    CHECK_EQ_S(b, a);
    CHECK_CONTAINS(b, "eintr=0");
    free(a);
    free(b);
}

/* fork: the child never holds the parent's listening socket; with port 0
 * it serves on its own port; the parent keeps serving after the child
 * exits. */
TEST_TIMEOUT(live, fork_child_own_server, 120) {
    lv_run r;
    const char *py = "/usr/bin/python3 -c \"import os,sys,time\n"
                     "stop=sys.argv[1]\n"
                     "pid=os.fork()\n"
                     "if pid==0:\n"
                     "  time.sleep(1.5)\n"
                     "  def socks(p):\n"
                     "    out=set()\n"
                     "    for fd in os.listdir('/proc/%%d/fd'%%p):\n"
                     "      try:\n"
                     "        l=os.readlink('/proc/%%d/fd/%%s'%%(p,fd))\n"
                     "      except OSError: continue\n"
                     "      if l.startswith('socket:'): out.add(l)\n"
                     "    return out\n"
                     "  shared=socks(os.getppid()) & socks(os.getpid())\n"
                     "  print('shared=%%d'%%len(shared)); sys.stdout.flush(); os._exit(0)\n"
                     "os.waitpid(pid,0)\n"
                     "while not os.path.exists(stop): time.sleep(0.05)\n"
                     "print('parent done')\" %s/stop";
    lv_start(&r, "fork", "MAPPROF_HTTP=0", py);
    char child_http[700];
    /* the child announces its own address after its delay */
    for (int i = 0; i < 200; i++) {
        char *o = lv_file(&r, "out");
        bool done = strstr(o, "shared=") != NULL;
        free(o);
        if (done)
            break;
        lv_sleep_ms(50);
    }
    char *out = NULL;
    int rc = th_sh(&out, "ls '%s' | grep -c 'http$'", r.dir);
    CHECK_MSG(atoi(out) == 2, "expected the parent's and the child's .http files: %s", out);
    free(out);
    (void)child_http;
    /* the parent still serves after its child exited */
    fetch(&r, "/debug/pprof/heap", "application/octet-stream", "after.pb.gz");
    CHECK_EQ_I(lv_stop(&r), 0);
    char *o = lv_file(&r, "out");
    CHECK_CONTAINS(o, "shared=0\nparent done\n");
    free(o);
    char *e = lv_file(&r, "err");
    int lines = 0;
    for (char *p = e; (p = strstr(p, "live profiles at")); p++)
        lines++;
    CHECK_MSG(lines == 2, "expected two announcements:\n%s", e);
    free(e);
    (void)rc;
}

/* A fixed port: a fork child starts no server (the port is the parent's). */
TEST_TIMEOUT(live, fork_fixed_port_child_silent, 120) {
    lv_e2e();
    char *port = NULL;
    th_sh(&port, "/usr/bin/python3 -c \"import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); "
                 "print(s.getsockname()[1], end='')\"");
    char env[128];
    snprintf(env, sizeof env, "MAPPROF_HTTP=127.0.0.1:%s", port);
    lv_run r;
    const char *py = "/usr/bin/python3 -c \"import os,sys,time\n"
                     "pid=os.fork()\n"
                     "if pid==0:\n"
                     "  time.sleep(1.0); os._exit(0)\n"
                     "os.waitpid(pid,0)\n"
                     "while not os.path.exists(sys.argv[1]): time.sleep(0.05)\n"
                     "print('ok')\" %s/stop";
    lv_start(&r, "fixed", env, py);
    CHECK_CONTAINS(r.addr, port);
    lv_sleep_ms(1500);
    fetch(&r, "/debug/pprof/heap", "application/octet-stream", "h.pb.gz");
    char *out = NULL;
    th_sh(&out, "ls '%s' | grep -c 'http$'", r.dir);
    CHECK_EQ_I(atoi(out), 1);
    free(out);
    CHECK_EQ_I(lv_stop(&r), 0);
    /* gone at exit: it would send a scraper to a port someone else may own */
    th_sh(&out, "ls '%s' | grep -c 'http$'", r.dir);
    CHECK_EQ_I(atoi(out), 0);
    free(out);
    free(port);
}

TEST_TIMEOUT(live, unix_socket_0600_never_replaces, 120) {
    NEED_TOOL("curl");
    lv_run r;
    char env[700];
    snprintf(env, sizeof env, "MAPPROF_HTTP=unix:%s/sock.%%p", lv_tmp());
    lv_start(&r, "unix", env, prog_cmd(2000, 2, "default"));
    CHECK(!strncmp(r.addr, "unix:", 5));
    struct stat st;
    CHECK_EQ_I(lstat(r.addr + 5, &st), 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK_EQ_I(st.st_mode & 0777, 0600);
    char *out = NULL;
    int rc = th_sh(&out, "curl -s -f --unix-socket '%s' -o '%s/u.pb.gz' http://x/debug/pprof/heap",
                   r.addr + 5, r.dir);
    CHECK_MSG(rc == 0, "%s", out);
    free(out);
    valid(&r, "u.pb.gz");
    CHECK_EQ_I(lv_stop(&r), 0);
    CHECK_MSG(lstat(r.addr + 5, &st) != 0, "%s is left behind after exit", r.addr + 5);
    /* a regular file and a symlink at the path are left alone */
    char file[600], link[600];
    snprintf(file, sizeof file, "%s/regular", lv_tmp());
    snprintf(link, sizeof link, "%s/link", lv_tmp());
    CHECK_EQ_I(th_sh(NULL, "echo keep > '%s' && ln -s '%s' '%s'", file, file, link), 0);
    const char *paths[] = {file, link};
    for (int i = 0; i < 2; i++) {
        rc = th_sh(
            &out,
            "cd '%s' && LD_PRELOAD=%s/libmapprof.so MAPPROF_OUT=x MAPPROF_HTTP='unix:%s' /bin/true",
            th_tmpdir(), lv_build(), paths[i]);
        CHECK_EQ_I(rc, 0);
        CHECK_CONTAINS(out, "not a socket (not replaced)");
        free(out);
        char *k = th_read_file(file, NULL);
        CHECK_EQ_S(k, "keep\n");
        free(k);
        CHECK_EQ_I(lstat(link, &st), 0);
        CHECK(S_ISLNK(st.st_mode));
    }
}

TEST_TIMEOUT(live, non_loopback_needs_public, 60) {
    lv_e2e();
    char *out = NULL;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/pub", th_tmpdir());
    int rc = th_sh(&out,
                   "mkdir -p '%s' && cd '%s' && LD_PRELOAD=%s/libmapprof.so MAPPROF_OUT=mp "
                   "MAPPROF_HTTP=0.0.0.0:0 /bin/true; ls",
                   dir, dir, lv_build());
    CHECK_EQ_I(rc, 0);
    CHECK_CONTAINS(out, "not a loopback address: refused (set MAPPROF_HTTP_PUBLIC=1");
    CHECK(strstr(out, ".http") == NULL);
    free(out);
    rc = th_sh(&out,
               "cd '%s' && LD_PRELOAD=%s/libmapprof.so MAPPROF_OUT=mq MAPPROF_HTTP=0.0.0.0:0 "
               "MAPPROF_HTTP_PUBLIC=1 /bin/true",
               dir, lv_build());
    CHECK_EQ_I(rc, 0);
    CHECK_CONTAINS(out, "live profiles at http://0.0.0.0:");
    free(out);
    rc = th_sh(
        &out,
        "cd '%s' && LD_PRELOAD=%s/libmapprof.so MAPPROF_OUT=mr MAPPROF_HTTP=host:80 /bin/true", dir,
        lv_build());
    CHECK_CONTAINS(out, "ignoring MAPPROF_HTTP=\"host:80\"");
    free(out);
    /* IPv6 loopback */
    rc = th_sh(&out,
               "cd '%s' && LD_PRELOAD=%s/libmapprof.so MAPPROF_OUT=ms MAPPROF_HTTP='[::1]:0' "
               "/bin/true",
               dir, lv_build());
    CHECK_EQ_I(rc, 0);
    CHECK_MSG(strstr(out, "live profiles at http://[::1]:") || strstr(out, "bind"), "%s", out);
    free(out);
}

/* The real-program corpus with the endpoint on in every process: same
 * output, status and profiles (scripts/realprogs.sh, REALPROGS_HTTP). */
TEST_TIMEOUT(live, real_programs_with_endpoint, 300) {
    lv_e2e();
    NEED_TOOL("go");
    char *out = NULL;
    int rc = th_sh(&out, "REALPROGS_HTTP=0 TMPDIR=$(cd '%s' && pwd) '%s/scripts/realprogs.sh' '%s'",
                   th_tmpdir(), th_root(), lv_build());
    printf("%s", out);
    CHECK_MSG(rc == 0, "scripts/realprogs.sh with MAPPROF_HTTP=0 failed (status %d)", rc);
    CHECK_CONTAINS(out, " 0 failed");
    free(out);
}

/* /profile: the cpu profile over seconds=N, whether the program runs with
 * the cpu profile or not (then the request opens a sampling window). */
TEST_TIMEOUT(live, cpu_profile_over_seconds, 120) {
    NEED_TOOL("go");
    lv_run r;
    lv_start(&r, "cpu", "MAPPROF_HTTP=0 MAPPROF_PROFILES=all,cpu",
             "/usr/bin/python3 -c \"import os,sys\nwhile not os.path.exists(sys.argv[1]): "
             "sum(range(1000))\" %s/stop");
    double c0 = proc_cpu_secs(r.pid);
    fetch(&r, "/debug/pprof/profile?seconds=2", "application/octet-stream", "cpu.pb.gz");
    double c1 = proc_cpu_secs(r.pid);
    valid(&r, "cpu.pb.gz");
    char *out = NULL;
    int rc = th_sh(&out, "cd '%s' && PPROF_TMPDIR=. go tool pprof -top cpu.pb.gz", r.dir);
    CHECK_MSG(rc == 0, "%s", out);
    CHECK_CONTAINS(out, "Duration: 2");
    double secs = total_secs(out);
    /* the profile's total is the CPU time the process used meanwhile (its
     * /proc counters, 10 ms ticks, bracket the window) */
    CHECK_MSG(secs >= (c1 - c0) * 0.7 - 0.05 && secs <= (c1 - c0) * 1.1 + 0.05,
              "%.2f s of cpu in the profile, %.2f s by /proc:\n%s", secs, c1 - c0, out);
    free(out);
    char *h = get_text(&r, "/debug/pprof/");
    CHECK_CONTAINS(h, "profile");
    free(h);
    CHECK_EQ_I(lv_stop(&r), 0);
    /* without the cpu profile the request opens a sampling window */
    lv_start(&r, "nocpu", "MAPPROF_HTTP=0",
             "/usr/bin/python3 -c \"import os,sys\nwhile not os.path.exists(sys.argv[1]): "
             "sum(range(1000))\" %s/stop");
    c0 = proc_cpu_secs(r.pid);
    fetch(&r, "/debug/pprof/profile?seconds=1", "application/octet-stream", "cpu1.pb.gz");
    c1 = proc_cpu_secs(r.pid);
    valid(&r, "cpu1.pb.gz");
    rc = th_sh(&out, "cd '%s' && PPROF_TMPDIR=. go tool pprof -top cpu1.pb.gz", r.dir);
    CHECK_MSG(rc == 0, "%s", out);
    secs = total_secs(out);
    CHECK_MSG(secs >= (c1 - c0) * 0.7 - 0.05 && secs <= (c1 - c0) * 1.1 + 0.05 && secs > 0,
              "%.2f s of cpu in the profile, %.2f s by /proc:\n%s", secs, c1 - c0, out);
    free(out);
    CHECK_EQ_I(lv_stop(&r), 0);
}

/* A host that closes descriptors it thinks are its own (daemons close
 * everything, bash closes pipe ends twice): the endpoint holds no low
 * descriptor for long (its socket is moved high, the loop is poll's), so
 * it keeps serving, and libevent never writes on the host's stderr. */
TEST_TIMEOUT(live, host_closes_low_descriptors, 60) {
    lv_run r;
    lv_start(&r, "closer", "MAPPROF_HTTP=0",
             "/usr/bin/python3 -c \"import os,sys,time\nos.closerange(3, 200)\n"
             "while not os.path.exists(sys.argv[1]): time.sleep(0.02)\nprint('done')\" %s/stop");
    lv_sleep_ms(300);
    fetch(&r, "/debug/pprof/heap", "application/octet-stream", "h.pb.gz");
    fetch(&r, "/debug/pprof/heap?debug=1", "text/plain", "h.txt");
    CHECK_EQ_I(lv_stop(&r), 0);
    char *e = lv_file(&r, "err");
    CHECK_MSG(strstr(e, "[warn]") == NULL && strstr(e, "stopped") == NULL, "%s", e);
    free(e);
}

/* threads?debug=2: four threads waiting on one mutex held by a fifth show
 * as waiting on that lock at the waiter's call site, for as long as the
 * program measured (within 10%); the holder in read() as in a syscall;
 * debug=1 groups the four; goroutine is the same profile. */
TEST_TIMEOUT(live, threads_lock_waiters, 120) {
    NEED_TOOL("go");
    lv_run r;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s %%s/stop", lv_fixture("lockhold"));
    lv_start(&r, "threads", "MAPPROF_HTTP=0", cmd);
    char *o = NULL;
    for (int i = 0; i < 500; i++) {
        free(o);
        o = lv_file(&r, "out");
        if (strstr(o, "started 3 "))
            break;
        lv_sleep_ms(20);
    }
    char lock[64] = "";
    long long started[4] = {0};
    CHECK_MSG(sscanf(o, "lock %63s", lock) == 1, "%s", o);
    for (int i = 0; i < 4; i++) {
        char key[32];
        snprintf(key, sizeof key, "started %d ", i);
        const char *p = strstr(o, key);
        CHECK_MSG(p && sscanf(p + strlen(key), "%lld", &started[i]) == 1, "%s", o);
    }
    free(o);
    lv_sleep_ms(700); /* waits long enough to measure */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long t0 = (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
    fetch(&r, "/debug/pprof/threads?debug=2", "text/plain", "t2.txt");
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long t1 = (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
    char *t = lv_file(&r, "t2.txt");
    for (int i = 0; i < 4; i++) {
        char head[128];
        snprintf(head, sizeof head, "\"waiter-%d\" [mutex on %s, ", i, lock);
        const char *p = strstr(t, head);
        CHECK_MSG(p, "no block for waiter-%d waiting on %s:\n%s", i, lock, t);
        double v = 0;
        char unit[16] = "";
        CHECK_MSG(sscanf(p + strlen(head), "%lf %15[a-z]", &v, unit) == 2, "%s", p);
        double ns = v * (!strcmp(unit, "seconds") ? 1e9 : !strcmp(unit, "ms") ? 1e6 : 6e10);
        double lo = (double)(t0 - started[i]), hi = (double)(t1 - started[i]);
        CHECK_MSG(ns >= lo * 0.9 && ns <= hi * 1.1,
                  "waiter-%d waited %.0f ns by the profile, %.0f-%.0f ns by the program", i, ns, lo,
                  hi);
        const char *frames = strstr(p, "]:\n");
        const char *end = frames ? strstr(frames, "\n\n") : NULL;
        const char *site = frames ? strstr(frames, "wait_for_lock()") : NULL;
        CHECK_MSG(site && (!end || site < end), "waiter-%d's stack lacks wait_for_lock:\n%s", i, p);
    }
    CHECK_MSG(strstr(t, "\"holder\" [syscall"), "the holder is not in a syscall:\n%s", t);
    free(t);
    fetch(&r, "/debug/pprof/threads?debug=1", "text/plain", "t1.txt");
    t = lv_file(&r, "t1.txt");
    CHECK_CONTAINS(t, "threads profile: total ");
    CHECK_CONTAINS(t, "\n4 @ 0x");
    free(t);
    fetch(&r, "/debug/pprof/goroutine?debug=1", "text/plain", "g1.txt");
    t = lv_file(&r, "g1.txt");
    CHECK_CONTAINS(t, "goroutine profile: total ");
    free(t);
    fetch(&r, "/debug/pprof/threads", "application/octet-stream", "threads.pb.gz");
    valid(&r, "threads.pb.gz");
    char *out = NULL;
    int rc = th_sh(&out,
                   "cd '%s' && PPROF_TMPDIR=. go tool pprof -raw -tagfocus=state=mutex "
                   "threads.pb.gz",
                   r.dir);
    CHECK_MSG(rc == 0, "%s", out);
    CHECK_CONTAINS(out, "wait_for_lock");
    free(out);
    CHECK_EQ_I(lv_stop(&r), 0);
}

/* A SIGPIPE raised on the server's thread (what a write to a reset
 * connection does) stays there: the thread blocks it and consumes it at
 * the next request, and the host, which leaves SIGPIPE at its default
 * (death), lives on and prints what it prints alone. The signal is sent
 * with tgkill to the thread named mapprof-http, as the kernel would. */
TEST_TIMEOUT(live, sigpipe_on_server_thread_consumed, 60) {
    lv_run plain, r;
    lv_spawn(&plain, "plain", "", prog_cmd(2000, 2, "default"), false);
    CHECK_EQ_I(lv_stop(&plain), 0);
    lv_start(&r, "pipe", "MAPPROF_HTTP=0", prog_cmd(2000, 2, "default"));
    char *out = NULL;
    int rc = th_sh(&out,
                   "/usr/bin/python3 -c \"import ctypes,os,sys\n"
                   "pid=int(sys.argv[1]); n=0\n"
                   "for t in os.listdir('/proc/%%d/task' %% pid):\n"
                   "  if open('/proc/%%d/task/%%s/comm' %% (pid, t)).read().strip() == "
                   "'mapprof-http':\n"
                   "    ctypes.CDLL(None).syscall(234, pid, int(t), 13); n += 1; print('tid', t)\n"
                   "print('signalled', n)\" %d",
                   r.pid);
    CHECK_MSG(rc == 0 && strstr(out, "signalled 1"), "%s", out);
    int tid = 0;
    CHECK(sscanf(strstr(out, "tid ") + 4, "%d", &tid) == 1);
    free(out);
    char status[96];
    snprintf(status, sizeof status, "/proc/%d/task/%d/status", r.pid, tid);
    fetch(&r, "/debug/pprof/heap", "application/octet-stream", "h.pb.gz");
    char *st = th_read_file(status, NULL);
    CHECK(st != NULL);
    const char *pnd = strstr(st, "\nSigPnd:\t");
    unsigned long long mask = ~0ull;
    CHECK(pnd && sscanf(pnd + 9, "%llx", &mask) == 1);
    CHECK_MSG(!(mask & (1ull << 12)), "SIGPIPE still pending on the server's thread:\n%s", st);
    free(st);
    CHECK_EQ_I(lv_stop(&r), 0);
    char *a = lv_file(&plain, "out"), *b = lv_file(&r, "out");
    CHECK_EQ_S(b, a);
    free(a);
    free(b);
}

/* exec: the new image serves at the same %p path (same pid); the old
 * image's socket closed on exec, so the new one finds it stale, replaces
 * it and serves its own profiles. */
TEST_TIMEOUT(live, exec_serves_new_image, 60) {
    lv_run r;
    char env[700], cmd[1200];
    snprintf(env, sizeof env, "MAPPROF_HTTP=unix:%s/x.%%p MAPPROF_HEAP_RATE=4096", lv_tmp());
    snprintf(cmd, sizeof cmd, "/bin/sh -c 'sleep 0.3; exec %s %%s/stop 3000 2 default'",
             lv_fixture("liveprog"));
    lv_start(&r, "exec", env, cmd);
    /* until the exec: sh's own server answers, without liveprog's sites */
    char *out = NULL;
    int rc = 1;
    for (int i = 0; i < 100; i++, lv_sleep_ms(100)) {
        free(out);
        out = NULL;
        rc = th_sh(&out, "curl -s -f --unix-socket '%s' 'http://x/debug/pprof/heap?debug=1'",
                   r.addr + 5);
        if (rc == 0 && strstr(out, "keep_site"))
            break;
    }
    CHECK_MSG(rc == 0, "%s", out);
    CHECK_CONTAINS(out, "keep_site");
    free(out);
    CHECK_EQ_I(lv_stop(&r), 0);
    /* the same path announced twice (sh, then liveprog); sleep, a child
     * image, serves on its own pid's path */
    char *e = lv_file(&r, "err");
    int n = 0;
    for (const char *p = e; (p = strstr(p, r.addr)); p++)
        n++;
    CHECK_MSG(n == 2, "expected sh's and liveprog's announcements of %s:\n%s", r.addr, e);
    free(e);
}
