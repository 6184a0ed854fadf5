/*
 * stress_util.h — helpers shared by the stress, faults and realprogs
 * modules: run a command twice (plainly, then with libmapprof.so preloaded
 * into every process it starts), compare what the host did, and audit the
 * profile directory.
 *
 * The audit is the safety contract in one place: every entry of the
 * output directory must be named <prefix>.<pid>.<kind>.pb.gz (a temporary
 * or otherwise stray file fails the test), and every file must pass
 * google/pprof's Parse + CheckValid (build/pprofcheck), which only a
 * complete gzip stream holding a complete protobuf message does. Files are
 * grouped by pid so tests can ask "did this process write all five?".
 *
 * A failure message starting "SHIM BUG" names a host-harming defect these
 * tests found in the shim once (all fixed): a regression shows as such.
 *
 * Static functions (each test file includes what it uses). Non-goals:
 * checking profile values (tests/shim/ does that).
 */
#ifndef TESTS_STRESS_UTIL_H
#define TESTS_STRESS_UTIL_H

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pprof/pprof.h"
#include "tests/harness/test.h"
#include "tests/shim/shim_util.h" /* su_e2e */

#define ST_KINDS    5
#define ST_ALL_KIND ((1u << ST_KINDS) - 1)
static const char *const st_kinds[ST_KINDS] = {"heap", "mutex", "block", "grow", "maps"};

/* End-to-end tests need an uninstrumented process (see su_e2e). */
#define st_e2e su_e2e

/* The test's private directory (fresh per test process). */
static inline const char *st_dir(void) {
    st_e2e();
    static char dir[512];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/st", th_tmpdir());
        CHECK_EQ_I(th_sh(NULL, "rm -rf '%s' && mkdir -p '%s/out' '%s/work'", dir, dir, dir), 0);
    }
    return dir;
}

/* Where profiles go (prefix <out>/mp) and where commands run. */
static inline const char *st_out(void) {
    static char d[600];
    snprintf(d, sizeof d, "%s/out", st_dir());
    return d;
}
static inline const char *st_work(void) {
    static char d[600];
    snprintf(d, sizeof d, "%s/work", st_dir());
    return d;
}

static inline const char *st_so(void) {
    st_e2e();
    static char so[512];
    snprintf(so, sizeof so, "%s/libmapprof.so", th_build());
    CHECK_MSG(access(so, R_OK) == 0, "%s is missing: run make first", so);
    return so;
}

/* A fixture program built by a module's fragment: $(B)/tests/<module>/<name>. */
static inline const char *st_bin(const char *module, const char *name) {
    st_e2e();
    static char path[4][600];
    static int i;
    char *p = path[i++ % 4];
    snprintf(p, 600, "%s/tests/%s/%s", th_build(), module, name);
    CHECK_MSG(access(p, R_OK) == 0, "fixture %s is missing: run make test", p);
    return p;
}

/* build/pprofcheck (google/pprof's parser); needs Go, which CI must have. */
static inline const char *st_pprofcheck(void) {
    static char path[512];
    NEED_TOOL("go");
    snprintf(path, sizeof path, "%s/pprofcheck", th_build());
    CHECK_MSG(access(path, X_OK) == 0, "%s is missing: make %s", path, path);
    return path;
}

/* What one run did: exit status, stdout, stderr (malloc'd strings). */
typedef struct st_result {
    int rc;
    char *out, *err;
} st_result;

static inline void st_result_free(st_result *r) {
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

static inline char *st_slurp(const char *dir, const char *name) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *s = th_read_file(path, NULL);
    CHECK_MSG(s != NULL, "cannot read %s", path);
    return s;
}

/*
 * Run `cmd` in st_work() with stdout and stderr captured separately. With
 * shim, LD_PRELOAD and MAPPROF_OUT=<out>/mp are exported (so every child
 * inherits them) before `env` (VAR=value ..., exported too).
 */
static inline st_result st_run(bool shim, const char *env, const char *cmd) {
    st_result r = {0};
    const char *tag = shim ? "shim" : "plain";
    if (shim)
        r.rc = th_sh(NULL,
                     "cd '%s' && export LD_PRELOAD='%s' MAPPROF_OUT='%s/mp' %s && { %s ; } "
                     ">%s.out 2>%s.err",
                     st_work(), st_so(), st_out(), env, cmd, tag, tag);
    else
        r.rc = th_sh(NULL, "cd '%s' && { %s ; } >%s.out 2>%s.err", st_work(), cmd, tag, tag);
    char name[32];
    snprintf(name, sizeof name, "%s.out", tag);
    r.out = st_slurp(st_work(), name);
    snprintf(name, sizeof name, "%s.err", tag);
    r.err = st_slurp(st_work(), name);
    return r;
}

/*
 * A shell command line that runs `cmd` in the background and sends it
 * SIGUSR2 every 10 ms until it ends, exiting with its status and leaving
 * the number of signals sent in ../signals.sent (st_dir()/signals.sent).
 * The first signal waits until the process has a handler for SIGUSR2
 * (SigCgt bit 11): before the shim's constructor ran, SIGUSR2 would
 * rightly kill it. Builtins only, apart from sleep (run without the shim):
 * every program the loop started would write profiles of its own.
 */
static inline void st_with_signals(char *buf, size_t cap, const char *cmd) {
    int n = snprintf(buf, cap,
                     "%s & pid=$!; n=0; "
                     "while kill -0 $pid 2>/dev/null; do "
                     "  m=; while read -r k v; do [ \"$k\" = SigCgt: ] && m=$v; done "
                     "    </proc/$pid/status 2>/dev/null; "
                     "  if [ -n \"$m\" ] && [ $(( 0x$m >> 11 & 1 )) = 1 ]; then "
                     "    kill -USR2 $pid 2>/dev/null && n=$((n + 1)); "
                     "  fi; LD_PRELOAD= sleep 0.01; "
                     "done; wait $pid; rc=$?; echo $n >../signals.sent; exit $rc",
                     cmd);
    CHECK_MSG(n > 0 && (size_t)n < cap, "command too long");
}

/* Number of lines of s that start with "mapprof:". */
static inline int st_diag_lines(const char *s) {
    int n = 0;
    for (const char *p = s; p && *p;) {
        if (!strncmp(p, "mapprof:", 8))
            n++;
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

/* s without its lines that start with "mapprof:" (malloc'd). */
static inline char *st_strip_diag(const char *s) {
    char *o = malloc(strlen(s) + 1);
    CHECK(o != NULL);
    size_t n = 0;
    for (const char *p = s; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
        if (strncmp(p, "mapprof:", 8)) {
            memcpy(o + n, p, len);
            n += len;
        }
        p += len;
    }
    o[n] = 0;
    return o;
}

/*
 * Run cmd plainly and under the shim; the host must not notice: same exit
 * status, same stdout, same stderr apart from `mapprof:` lines. Returns
 * the shim run (its stderr holds the shim's diagnostics).
 */
static inline st_result st_same(const char *env, const char *cmd) {
    st_result plain = st_run(false, "", cmd);
    st_result shim = st_run(true, env, cmd);
    CHECK_EQ_I(shim.rc, plain.rc);
    CHECK_EQ_S(shim.out, plain.out);
    char *se = st_strip_diag(shim.err);
    CHECK_EQ_S(se, plain.err);
    free(se);
    st_result_free(&plain);
    return shim;
}

/* The files an output directory holds, by pid. */
#define ST_MAX_PIDS 512
typedef struct st_files {
    int n_files;
    int n_pids;
    int pid[ST_MAX_PIDS];
    unsigned kinds[ST_MAX_PIDS]; /* bit k: st_kinds[k] written */
} st_files;

static inline int st_pid_index(const st_files *f, int pid) {
    for (int i = 0; i < f->n_pids; i++)
        if (f->pid[i] == pid)
            return i;
    return -1;
}

/* Kinds written by pid (bit mask, 0 when none). */
static inline unsigned st_kinds_of(const st_files *f, int pid) {
    int i = st_pid_index(f, pid);
    return i < 0 ? 0 : f->kinds[i];
}

/*
 * Audit directory `dir` holding profiles with prefix `prefix` ("mp"):
 * nothing but <prefix>.<pid>.<kind>.pb.gz, and every file accepted by
 * pprofcheck (one run over all of them).
 */
static inline st_files st_audit_dir(const char *dir, const char *prefix) {
    st_files f = {0};
    DIR *d = opendir(dir);
    CHECK_MSG(d != NULL, "cannot open %s", dir);
    struct dirent *e;
    char fmt[64];
    snprintf(fmt, sizeof fmt, "%s.%%d.%%15[a-z].pb.gz%%n", prefix);
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int pid = 0, used = 0, k = -1;
        char kind[16];
        int got = sscanf(e->d_name, fmt, &pid, kind, &used);
        CHECK_MSG(got == 2 && e->d_name[used] == 0 && pid > 0,
                  "stray file in the output directory %s: %s (temporary or partial file left "
                  "behind?)",
                  dir, e->d_name);
        for (int i = 0; i < ST_KINDS; i++)
            if (!strcmp(kind, st_kinds[i]))
                k = i;
        CHECK_MSG(k >= 0, "unknown profile kind in %s: %s", dir, e->d_name);
        int i = st_pid_index(&f, pid);
        if (i < 0) {
            CHECK_MSG(f.n_pids < ST_MAX_PIDS, "more than %d pids in %s", ST_MAX_PIDS, dir);
            i = f.n_pids++;
            f.pid[i] = pid;
        }
        f.kinds[i] |= 1u << k;
        f.n_files++;
    }
    closedir(d);
    if (f.n_files > 0) {
        char *out = NULL;
        int rc = th_sh(&out, "cd '%s' && '%s' ./*.pb.gz", dir, st_pprofcheck());
        CHECK_MSG(rc == 0, "pprofcheck rejected a profile in %s:\n%s", dir, out);
        /* One "ok" line per file: a file pprofcheck never saw is a failure too. */
        int oks = 0;
        for (const char *p = out; (p = strstr(p, "ok ")); p += 3)
            oks++;
        CHECK_MSG(oks == f.n_files, "pprofcheck checked %d of %d files:\n%s", oks, f.n_files, out);
        free(out);
    }
    return f;
}

static inline st_files st_audit(void) {
    return st_audit_dir(st_out(), "mp");
}

/* Every pid that wrote anything wrote all five kinds. */
static inline void st_check_complete(const st_files *f) {
    for (int i = 0; i < f->n_pids; i++)
        CHECK_MSG(f->kinds[i] == ST_ALL_KIND, "pid %d wrote kinds 0x%x, not all five (0x%x)",
                  f->pid[i], f->kinds[i], ST_ALL_KIND);
}

/* Loading and summing profiles: shim_util.h's helpers. */
#define st_load su_load
#define st_sum  su_sum

/* Path of the `kind` profile of pid in st_out(). */
static inline const char *st_prof(int pid, const char *kind) {
    static char path[4][700];
    static int i;
    char *p = path[i++ % 4];
    snprintf(p, 700, "%s/mp.%d.%s.pb.gz", st_out(), pid, kind);
    return p;
}

/* Does profile p have a comment containing `needle`? */
static inline bool st_has_comment(const pprof_profile *p, const char *needle) {
    const pprof_pb_profile *m = pprof_profile_msg(p);
    for (size_t i = 0; i < m->n_comment; i++)
        if (strstr(pprof_profile_str(p, m->comment[i]), needle))
            return true;
    return false;
}

/* Read an integer from a small file written by a fixture (-1: none). */
static inline long st_read_long(const char *dir, const char *name) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *s = th_read_file(path, NULL);
    long v = s ? strtol(s, NULL, 10) : -1;
    free(s);
    return v;
}

#endif
