/*
 * dlsym_test.c — a profiler is found through dlsym, in both link modes.
 *
 * libgomap looks up `mapprof_gomap_hooks` with dlsym(RTLD_DEFAULT) at its
 * first gomap_new, so preloading a profiler must work whether the program
 * links libgomap statically or dynamically. The fixtures (built by
 * tests/map/map_tests.mk): libhooklib.so, which defines the symbol and prints
 * every grow at exit, and growprog linked both ways. Run with and without
 * LD_PRELOAD: grow events are reported exactly when preloaded, they are the
 * grows Go's rule predicts, and the program's own output is identical in all
 * four runs. gomap_set_hooks before the first map wins over the lookup, and
 * gomap_set_hooks(NULL) disables it.
 */
#include "tests/map/maptest.h"

#include <stdlib.h>

typedef struct res {
    int rc;
    char *out, *err;
} res;

static res run(const char *prog, bool preload, const char *args) {
    const char *dir = th_tmpdir();
    char *asan = NULL;
    /* A preloaded library ahead of a dynamic ASan runtime trips its link-order check. */
    const char *old = getenv("ASAN_OPTIONS");
    if (asprintf(&asan, "verify_asan_link_order=0%s%s", old ? ":" : "", old ? old : "") < 0)
        th_fail(__FILE__, __LINE__, "asprintf");
    char *log = NULL;
    res r;
    r.rc = th_sh(&log,
                 "cd '%s' && %s%s%s ASAN_OPTIONS='%s' '%s/tests/map/fixtures/%s' %s "
                 ">prog.out 2>prog.err",
                 dir, preload ? "LD_PRELOAD='" : "", preload ? th_build() : "",
                 preload ? "/tests/map/fixtures/libhooklib.so'" : "", asan, th_build(), prog, args);
    char path[4200];
    snprintf(path, sizeof path, "%s/prog.out", dir);
    r.out = th_read_file(path, NULL);
    snprintf(path, sizeof path, "%s/prog.err", dir);
    r.err = th_read_file(path, NULL);
    CHECK_MSG(r.out && r.err, "no output from %s (%s)", prog, log ? log : "");
    CHECK_MSG(r.rc == 0, "%s %s%s exited %d:\n%s%s", prog, args, preload ? " (preloaded)" : "",
              r.rc, r.out, r.err);
    free(log);
    free(asan);
    return r;
}

/* The hooklib report Go's rule predicts for n unhinted distinct inserts. */
static void expected_report(size_t n, char *buf, size_t cap) {
    size_t off = 0, grows = 0;
    unsigned B = 0;
    for (size_t count = 0; count < n; count++)
        if (mt_over_load(count + 1, B)) {
            off +=
                (size_t)snprintf(buf + off, cap - off,
                                 "hooklib: grow %u->%u entries=%zu same_size=0\n", B, B + 1, count);
            B++;
            grows++;
        }
    snprintf(buf + off, cap - off, "hooklib: maps=1 frees=1 grows=%zu\n", grows);
}

/* Lines of s that start with prefix, concatenated. */
static char *lines_with(const char *s, const char *prefix) {
    size_t cap = strlen(s) + 1, off = 0;
    char *o = malloc(cap);
    for (const char *l = s; *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) + 1 : strlen(l);
        if (!strncmp(l, prefix, strlen(prefix))) {
            memcpy(o + off, l, len);
            off += len;
        }
        l += len;
    }
    o[off] = 0;
    return o;
}

TEST(map, dlsym_preload_both_link_modes) {
    const size_t n = 3000;
    char args[32], want[4096];
    snprintf(args, sizeof args, "%zu", n);
    expected_report(n, want, sizeof want);
    char *first_out = NULL;
    const char *progs[] = {"growprog_static", "growprog_dynamic"};
    for (int p = 0; p < 2; p++) {
        for (int pre = 0; pre < 2; pre++) {
            res r = run(progs[p], pre, args);
            if (!first_out)
                first_out = strdup(r.out);
            CHECK_MSG(!strcmp(r.out, first_out), "%s%s: stdout differs:\n%s--- versus ---\n%s",
                      progs[p], pre ? " (preloaded)" : "", r.out, first_out);
            char *hl = lines_with(r.err, "hooklib:");
            if (pre)
                CHECK_MSG(!strcmp(hl, want), "%s preloaded: hooklib reported\n%s\nwant\n%s",
                          progs[p], hl, want);
            else
                CHECK_MSG(hl[0] == 0, "%s without preload: hooklib lines:\n%s", progs[p], hl);
            free(hl);
            free(r.out);
            free(r.err);
        }
    }
    CHECK_CONTAINS(first_out, "len=3000 B=9 grows=9");
    free(first_out);
}

TEST(map, dlsym_set_hooks_wins_and_null_disables) {
    const char *progs[] = {"growprog_static", "growprog_dynamic"};
    for (int p = 0; p < 2; p++) {
        res r = run(progs[p], true, "200 --set-hooks");
        char *hl = lines_with(r.err, "hooklib: grow");
        char *own = lines_with(r.err, "growprog: grow");
        CHECK_MSG(hl[0] == 0, "%s: preloaded hooks fired despite gomap_set_hooks:\n%s", progs[p],
                  hl);
        CHECK_EQ_S(own, "growprog: grow 0->1\ngrowprog: grow 1->2\ngrowprog: grow 2->3\n"
                        "growprog: grow 3->4\ngrowprog: grow 4->5\n");
        free(hl);
        free(own);
        free(r.out);
        free(r.err);
        r = run(progs[p], true, "200 --no-hooks");
        hl = lines_with(r.err, "hooklib: grow");
        CHECK_MSG(hl[0] == 0, "%s: gomap_set_hooks(NULL) did not disable the lookup:\n%s", progs[p],
                  hl);
        CHECK_CONTAINS(r.err, "hooklib: maps=0");
        free(hl);
        free(r.out);
        free(r.err);
    }
}
