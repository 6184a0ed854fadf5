/*
 * misuse_test.c — Go's detection of concurrent misuse, made deterministic.
 *
 * A hook runs inside the map operation that fired it, while the operation
 * holds the hashWriting flag, so a hook that touches the same map is exactly
 * a second writer/reader/iterator caught in the critical section. Each
 * scenario runs in a forked child: it must die by SIGABRT, print Go's
 * "fatal error: concurrent map ..." line on stderr, and call the on_fatal
 * hook first (the hook leaves a marker file with the message it got).
 * Re-entries tested: assign, delete, clear (-> "concurrent map writes"),
 * lookup (-> "concurrent map read and map write"), iter_next on an iterator
 * set up before (-> "concurrent map iteration and map write"), from on_grow
 * and from on_alloc. Controls: the same hooks doing nothing, and a hook that
 * touches a different map, do not abort. Last, a realistic race: two threads
 * writing one map until the runtime notices.
 */
#include "tests/map/maptest.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

enum reentry { RE_NONE, RE_ASSIGN, RE_DELETE, RE_CLEAR, RE_LOOKUP, RE_ITER, RE_OTHER_MAP };

static gomap *target, *other;
static gomap_iter target_it;
static enum reentry action;
static bool armed;
static char marker[4300];

static void reenter(void) {
    if (!armed)
        return;
    armed = false;
    void *e, *k;
    uint64_t key = 12345;
    switch (action) {
    case RE_NONE:
        break;
    case RE_ASSIGN:
        gomap_assign_u64(target, 777777, &e);
        break;
    case RE_DELETE:
        gomap_delete_u64(target, mt_mix(0));
        break;
    case RE_CLEAR:
        gomap_clear(target);
        break;
    case RE_LOOKUP:
        gomap_lookup(target, &key);
        break;
    case RE_ITER:
        gomap_iter_next(&target_it, &k, &e);
        break;
    case RE_OTHER_MAP:
        gomap_assign_u64(other, 1, &e);
        gomap_lookup_u64(other, 1);
        break;
    }
}

static void hook_grow(const gomap *m, void *cookie, const gomap_grow_event *ev) {
    (void)cookie;
    (void)ev;
    if (m == target)
        reenter();
}

static void hook_alloc(const gomap *m, void *cookie, enum gomap_alloc_kind kind, ptrdiff_t bytes) {
    (void)cookie;
    (void)kind;
    if (m == target && bytes > 0)
        reenter();
}

/* Appends: racing writers may both be caught and both call on_fatal; a
 * truncating open by the second could empty the file just before the first
 * thread's abort ends the process. */
static void hook_fatal(const char *msg) {
    int fd = open(marker, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        ssize_t w = write(fd, msg, strlen(msg));
        (void)w;
        close(fd);
    }
}

/* Child: set up the target (iterator first when needed), arm, then grow it. */
static void child(enum reentry what, bool via_alloc) {
    static gomap_hooks h = {.version = GOMAP_HOOKS_VERSION, .on_fatal = hook_fatal};
    if (via_alloc)
        h.on_alloc = hook_alloc;
    else
        h.on_grow = hook_grow;
    gomap_set_hooks(&h);
    target = mt_new(&gomap_type_u64_u64, 0, NULL);
    other = mt_new(&gomap_type_u64_u64, 0, NULL);
    mt_fill_u64(target, 0, 8); /* B = 0, full: the 9th insert grows */
    void *k, *e;
    gomap_iter_init(&target_it, target);
    if (!gomap_iter_next(&target_it, &k, &e))
        _exit(3);
    action = what;
    armed = true;
    mt_fill_u64(target, 8, 9);
    /* Still here: no abort. Exit 0 if the hook ran (control cases), 4 if not. */
    _exit(armed ? 4 : 0);
}

typedef struct outcome {
    int status;
    char *err;  /* the child's stderr */
    char *mark; /* what on_fatal received, or NULL when it was not called */
} outcome;

static outcome run_child(enum reentry what, bool via_alloc) {
    snprintf(marker, sizeof marker, "%s/fatal.%d.%d", th_tmpdir(), (int)what, (int)via_alloc);
    char errpath[4200];
    snprintf(errpath, sizeof errpath, "%s/stderr.%d.%d", th_tmpdir(), (int)what, (int)via_alloc);
    unlink(marker);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            _exit(5);
        dup2(fd, 2);
        close(fd);
        alarm(30);
        child(what, via_alloc);
    }
    outcome o = {0};
    CHECK(waitpid(pid, &o.status, 0) == pid);
    o.err = th_read_file(errpath, NULL);
    o.mark = th_read_file(marker, NULL);
    return o;
}

static void expect_fatal(enum reentry what, bool via_alloc, const char *msg) {
    outcome o = run_child(what, via_alloc);
    const char *hook = via_alloc ? "on_alloc" : "on_grow";
    CHECK_MSG(WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGABRT,
              "re-entry %d from %s: child status %#x (exit %d), want SIGABRT; stderr:\n%s",
              (int)what, hook, o.status, WIFEXITED(o.status) ? WEXITSTATUS(o.status) : -1,
              o.err ? o.err : "");
    char want[128];
    snprintf(want, sizeof want, "fatal error: %s", msg);
    CHECK_CONTAINS(o.err, want);
    CHECK_MSG(o.mark != NULL, "re-entry %d from %s: on_fatal was not called before abort",
              (int)what, hook);
    CHECK_CONTAINS(o.mark, msg);
    free(o.err);
    free(o.mark);
}

TEST(map, misuse_write_in_write) {
    expect_fatal(RE_ASSIGN, false, "concurrent map writes");
    expect_fatal(RE_DELETE, false, "concurrent map writes");
    expect_fatal(RE_CLEAR, false, "concurrent map writes");
}

TEST(map, misuse_read_in_write) {
    expect_fatal(RE_LOOKUP, false, "concurrent map read and map write");
}

TEST(map, misuse_iterate_in_write) {
    expect_fatal(RE_ITER, false, "concurrent map iteration and map write");
}

TEST(map, misuse_from_alloc_hook) {
    expect_fatal(RE_ASSIGN, true, "concurrent map writes");
    expect_fatal(RE_LOOKUP, true, "concurrent map read and map write");
    expect_fatal(RE_ITER, true, "concurrent map iteration and map write");
}

/* Controls: hooks that do nothing, or touch another map, must not abort. */
TEST(map, misuse_controls_do_not_abort) {
    for (int via_alloc = 0; via_alloc < 2; via_alloc++) {
        enum reentry acts[] = {RE_NONE, RE_OTHER_MAP};
        for (int i = 0; i < 2; i++) {
            outcome o = run_child(acts[i], via_alloc);
            CHECK_MSG(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0,
                      "control %d (via_alloc %d): status %#x; stderr:\n%s", (int)acts[i], via_alloc,
                      o.status, o.err ? o.err : "");
            CHECK(o.mark == NULL);
            free(o.err);
            free(o.mark);
        }
    }
}

/* ---- a real race ---------------------------------------------------------- */

static gomap *shared;

static void *writer(void *arg) {
    uint64_t base = (uint64_t)(uintptr_t)arg;
    for (uint64_t i = 0;; i++) {
        void *e;
        uint64_t k = base + (i % 512);
        if (gomap_assign_u64(shared, k, &e) >= 0 && (i & 1))
            gomap_delete_u64(shared, k);
    }
    return NULL;
}

TEST_TIMEOUT(map, misuse_two_threads_race, 60) {
    char errpath[4200], mark[4200];
    snprintf(errpath, sizeof errpath, "%s/race.stderr", th_tmpdir());
    snprintf(mark, sizeof mark, "%s/race.fatal", th_tmpdir());
    snprintf(marker, sizeof marker, "%s", mark);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        close(fd);
        alarm(40); /* no detection at all: SIGALRM, reported below */
        static const gomap_hooks h = {.version = GOMAP_HOOKS_VERSION, .on_fatal = hook_fatal};
        gomap_set_hooks(&h);
        /* Presized: the race corrupts counters at worst, never freed memory. */
        gomap_new(&gomap_type_u64_u64, 4096, NULL, &shared);
        pthread_t t1, t2;
        pthread_create(&t1, NULL, writer, (void *)(uintptr_t)0);
        pthread_create(&t2, NULL, writer, (void *)(uintptr_t)100);
        pthread_join(t1, NULL);
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    char *err = th_read_file(errpath, NULL);
    CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
              "racing writers: child status %#x (%s), want SIGABRT; stderr:\n%s", status,
              WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited", err ? err : "");
    CHECK_CONTAINS(err, "fatal error: concurrent map writes");
    char *m = th_read_file(mark, NULL);
    CHECK_MSG(m != NULL, "on_fatal was not called");
    CHECK_CONTAINS(m, "concurrent map writes");
    free(err);
    free(m);
}
