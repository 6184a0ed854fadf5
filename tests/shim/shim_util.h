/*
 * shim_util.h — helpers for the shim's end-to-end tests: run a fixture
 * (or any program) under LD_PRELOAD=libmapprof.so with a private output
 * prefix, load the profiles it wrote with pprof/'s reader, and sum sample
 * values by function name or label. Static functions: each test file
 * includes what it uses.
 */
#ifndef TESTS_SHIM_UTIL_H
#define TESTS_SHIM_UTIL_H

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include "pprof/pprof.h"
#include "tests/harness/test.h"

/*
 * End-to-end tests preload libmapprof.so into fixture programs. Under
 * ASan (make check) that cannot work: the sanitizer runtime must come first
 * in the process and owns malloc, so the shim would rightly stay inactive.
 * `make check` still runs the shim's unit tests; `make test` runs these.
 */
static inline void su_e2e(void) {
#ifdef MAPPROF_SANITIZE
    SKIP("end-to-end shim test: needs an uninstrumented process (run `make test`)");
#endif
}

/* A fresh output directory for one test; prefix = <dir>/mp. */
static inline const char *su_dir(void) {
    su_e2e();
    static char dir[512];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/shim.%d", th_tmpdir(), (int)getpid());
        CHECK_EQ_I(th_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir), 0);
    }
    return dir;
}

static inline const char *su_so(void) {
    su_e2e();
    static char so[512];
    snprintf(so, sizeof so, "%s/libmapprof.so", th_build());
    return so;
}

static inline const char *su_fixture(const char *name) {
    su_e2e();
    static char path[4][512];
    static int i;
    char *p = path[i++ % 4];
    snprintf(p, 512, "%s/tests/shim/%s", th_build(), name);
    return p;
}

/* Path of the profile `kind` written by pid into su_dir(). */
static inline const char *su_prof(int pid, const char *kind) {
    static char path[4][600];
    static int i;
    char *p = path[i++ % 4];
    snprintf(p, 600, "%s/mp.%d.%s.pb.gz", su_dir(), pid, kind);
    return p;
}

/* The pid of the only process that wrote a `want` profile (0: none, -1: more). */
static inline int su_only_pid_of(const char *want) {
    DIR *d = opendir(su_dir());
    CHECK(d != NULL);
    int pid = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int p;
        char kind[32];
        if (sscanf(e->d_name, "mp.%d.%31[a-z].pb.gz", &p, kind) == 2 && !strcmp(kind, want))
            pid = pid == 0 ? p : -1;
    }
    closedir(d);
    return pid;
}

static inline int su_only_pid(void) {
    return su_only_pid_of("heap");
}

/* Files in su_dir() whose name contains `needle`. */
static inline int su_count_files(const char *needle) {
    DIR *d = opendir(su_dir());
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, needle))
            n++;
    closedir(d);
    return n;
}

static inline pprof_profile *su_load(const char *path) {
    pprof_profile *p = NULL;
    pprof_error err = {0};
    int rc = pprof_profile_read_file(path, NULL, &p, &err);
    CHECK_MSG(rc == 0, "reading %s: %s", path, err.msg);
    return p;
}

/* Does the sample's stack contain a frame of function `fn` (NULL: any)? */
static inline bool su_has_frame(const pprof_profile *p, const pprof_pb_sample *s, const char *fn) {
    if (!fn)
        return true;
    for (size_t i = 0; i < s->n_location_id; i++) {
        const pprof_pb_location *l = pprof_profile_location(p, s->location_id[i]);
        for (size_t j = 0; l && j < l->n_line; j++) {
            const pprof_pb_function *f = pprof_profile_function(p, l->line[j]->function_id);
            if (f && !strcmp(pprof_profile_str(p, f->name), fn))
                return true;
        }
    }
    return false;
}

/* Numeric label `key` of a sample, or -1. */
static inline int64_t su_num_label(const pprof_profile *p, const pprof_pb_sample *s,
                                   const char *key) {
    for (size_t i = 0; i < s->n_label; i++)
        if (!strcmp(pprof_profile_str(p, s->label[i]->key), key))
            return s->label[i]->num;
    return -1;
}

/* Sum of sample type `type` over samples with a frame of `fn` and (when
 * bytes >= 0) numeric label bytes == bytes. */
static inline int64_t su_sum(const pprof_profile *p, const char *type, const char *fn,
                             int64_t bytes) {
    int idx = pprof_profile_sample_index(p, type);
    CHECK_MSG(idx >= 0, "no sample type %s", type);
    const pprof_pb_profile *m = pprof_profile_msg(p);
    int64_t sum = 0;
    for (size_t i = 0; i < m->n_sample; i++) {
        const pprof_pb_sample *s = m->sample[i];
        if (!su_has_frame(p, s, fn))
            continue;
        if (bytes >= 0 && su_num_label(p, s, "bytes") != bytes)
            continue;
        sum += s->value[idx];
    }
    return sum;
}

/* `go tool pprof -raw` accepts the file (skipped without Go, failed under CI). */
static inline void su_go_raw_ok(const char *path) {
    NEED_TOOL("go");
    char *out = NULL;
    int rc = th_sh(&out, "go tool pprof -raw '%s'", path);
    CHECK_MSG(rc == 0, "go tool pprof -raw %s failed:\n%s", path, out);
    CHECK_CONTAINS(out, "Samples:");
    free(out);
}

/* Run `cmd` under the shim with extra environment `env` ("" for none);
 * returns its exit status, *out gets stdout+stderr. */
static inline int su_run(char **out, const char *env, const char *cmd) {
    return th_sh(out, "cd '%s' && env LD_PRELOAD='%s' MAPPROF_OUT='%s/mp' %s %s", su_dir(), su_so(),
                 su_dir(), env, cmd);
}

#endif
