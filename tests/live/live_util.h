/*
 * live_util.h — helpers for the live endpoint's end-to-end tests: start a
 * program under the shim with MAPPROF_HTTP in a run directory of its own,
 * find the address it announced, run clients against it, stop it and
 * collect its output and exit status.
 */
#ifndef TESTS_LIVE_UTIL_H
#define TESTS_LIVE_UTIL_H

#include <dirent.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness/test.h"

static inline void lv_e2e(void) {
#ifdef MAPPROF_SANITIZE
    SKIP("end-to-end live test: needs an uninstrumented process (run `make test`)");
#endif
    NEED_TOOL("python3");
}

typedef struct lv_run {
    char dir[512];  /* run directory (absolute): mp.* profiles, out, err, rc, stop */
    char addr[700]; /* as announced: HOST:PORT, [V6]:PORT or unix:PATH */
    char url[720];  /* http://HOST:PORT (TCP only) */
    int pid;        /* the process that announced the address */
} lv_run;

/* The build directory as an absolute path (tests cd into run directories). */
static inline const char *lv_build(void) {
    static char abs[400];
    if (!abs[0]) {
        char full[PATH_MAX];
        CHECK(realpath(th_build(), full) != NULL && strlen(full) < sizeof abs);
        memcpy(abs, full, strlen(full) + 1);
    }
    return abs;
}

static inline const char *lv_fixture(const char *name) {
    static char path[4][512];
    static int i;
    char *p = path[i++ % 4];
    snprintf(p, 512, "%s/tests/live/%s", lv_build(), name);
    CHECK_MSG(access(p, X_OK) == 0, "fixture %s is missing: run make test", p);
    return p;
}

static inline const char *lv_client(void) {
    static char path[PATH_MAX + 64];
    char root[PATH_MAX];
    CHECK(realpath(th_root(), root) != NULL);
    snprintf(path, sizeof path, "/usr/bin/python3 %s/tests/live/scripts/client.py", root);
    return path;
}

/* th_tmpdir() as an absolute path. */
static inline const char *lv_tmp(void) {
    static char abs[400];
    if (!abs[0]) {
        char full[PATH_MAX];
        CHECK(realpath(th_tmpdir(), full) != NULL && strlen(full) < sizeof abs);
        memcpy(abs, full, strlen(full) + 1);
    }
    return abs;
}

static inline void lv_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* The first file matching pattern in r->dir, or "" (waits up to ms). */
static inline bool lv_glob(const lv_run *r, const char *pattern, int ms, char *out, size_t cap) {
    char pat[PATH_MAX + 64];
    snprintf(pat, sizeof pat, "%s/%s", r->dir, pattern);
    for (int waited = 0;; waited += 20) {
        glob_t g;
        if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
            snprintf(out, cap, "%s", g.gl_pathv[0]);
            globfree(&g);
            return true;
        }
        globfree(&g);
        if (waited >= ms)
            return false;
        lv_sleep_ms(20);
    }
}

/* Start `cmd` (its stop file is <dir>/stop, "%s" in cmd) under the shim
 * with env (e.g. "MAPPROF_HTTP=0"); no address wait. */
static inline void lv_spawn(lv_run *r, const char *tag, const char *env, const char *cmd,
                            bool shim) {
    lv_e2e();
    memset(r, 0, sizeof *r);
    char rel[512];
    snprintf(rel, sizeof rel, "%s/%s", th_tmpdir(), tag);
    CHECK_EQ_I(th_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", rel, rel), 0);
    char abs[PATH_MAX]; /* absolute: the program runs inside it */
    CHECK(realpath(rel, abs) != NULL && strlen(abs) < sizeof r->dir);
    memcpy(r->dir, abs, strlen(abs) + 1);
    char full[2048];
    snprintf(full, sizeof full, cmd, r->dir);
    char *out = NULL;
    char pre[512] = "";
    if (shim)
        snprintf(pre, sizeof pre, "LD_PRELOAD=%s/libmapprof.so", lv_build());
    int rc = th_sh(&out,
                   "cd '%s' && ( env %s MAPPROF_OUT='%s/mp' %s %s > out 2> err; echo $? > rc "
                   ") > /dev/null 2>&1 &",
                   r->dir, pre, r->dir, env, full);
    free(out);
    CHECK_EQ_I(rc, 0);
}

/* As lv_spawn with the shim, then wait for the announced address. */
static inline void lv_start(lv_run *r, const char *tag, const char *env, const char *cmd) {
    char e[1024];
    snprintf(e, sizeof e, "%s", env);
    lv_spawn(r, tag, e, cmd, true);
    char f[PATH_MAX + 64];
    if (!lv_glob(r, "mp.*.http", 20000, f, sizeof f)) {
        char errf[PATH_MAX + 8];
        snprintf(errf, sizeof errf, "%s/err", r->dir);
        char *err = th_read_file(errf, NULL);
        CHECK_MSG(false, "no .http file in %s; stderr:\n%s", r->dir, err ? err : "");
    }
    const char *base = strrchr(f, '/');
    if (!base || sscanf(base, "/mp.%d.http", &r->pid) != 1)
        r->pid = 0;
    char *txt = NULL;
    for (int i = 0; i < 100 && !(txt = th_read_file(f, NULL)); i++)
        lv_sleep_ms(10);
    CHECK(txt != NULL);
    size_t n = strcspn(txt, "\n");
    txt[n] = 0;
    snprintf(r->addr, sizeof r->addr, "%s", txt);
    snprintf(r->url, sizeof r->url, "http://%s", txt);
    free(txt);
}

/* Create the stop file and wait for the program's exit status. */
static inline int lv_stop(lv_run *r) {
    CHECK_EQ_I(th_sh(NULL, "touch '%s/stop'", r->dir), 0);
    char rcf[PATH_MAX + 8], *txt = NULL;
    snprintf(rcf, sizeof rcf, "%s/rc", r->dir);
    for (int i = 0; i < 3000; i++) {
        txt = th_read_file(rcf, NULL);
        if (txt && strchr(txt, '\n'))
            break;
        free(txt);
        txt = NULL;
        lv_sleep_ms(20);
    }
    CHECK_MSG(txt != NULL, "the program in %s did not exit within 60 s", r->dir);
    int rc = atoi(txt);
    free(txt);
    return rc;
}

/* A file of the run directory (malloc'd, "" when missing). */
static inline char *lv_file(const lv_run *r, const char *name) {
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", r->dir, name);
    char *t = th_read_file(p, NULL);
    return t ? t : strdup("");
}

static inline char *lv_file(const lv_run *r, const char *name);
/* Run the client; its output in *out (may be NULL). Returns its status. */
static inline int lv_cli(char **out, const char *fmt, const char *a1, const char *a2) {
    char args[2048];
    snprintf(args, sizeof args, fmt, a1, a2);
    return th_sh(out, "%s %s", lv_client(), args);
}

#endif
