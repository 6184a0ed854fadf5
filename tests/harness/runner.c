/*
 * runner.c — runs every registered test in its own process.
 *
 * Each test is forked into a new process group with its output captured in a
 * log file under build/tests/tmp/<suite>.<name>/. The parent enforces the
 * timeout by killing the whole group, so a test that crashes, aborts, hangs or
 * leaves children behind cannot take the run down or hide other results.
 * Up to -j tests run at once (default: number of CPUs).
 *
 * Usage: runner [-j N] [--timeout-scale K] [--list] [-v] [PATTERN...]
 * A PATTERN is a glob over "suite.name"; without glob characters it matches
 * as a substring. The last line is always "N passed, N failed, N skipped".
 *
 * Exit status: 0 when no test failed, 1 otherwise.
 */
#include "tests/harness/test.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Under ASan, each passing test also passes LeakSanitizer: its process ends
 * with _exit, which would otherwise skip the leak check. */
#if defined(__SANITIZE_ADDRESS__)
#define TH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TH_ASAN 1
#endif
#endif
#ifdef TH_ASAN
void __lsan_do_leak_check(void);
#endif

#define TH_DEFAULT_TIMEOUT 60
#define TH_SKIP_STATUS     77

struct th_test {
    const char *suite, *name;
    th_fn fn;
    int timeout_s;
    bool alone; /* TEST_ALONE: runs with no other test beside it */
    char full[160];
};

static struct th_test *tests;
static size_t ntests, captests;

void th_register(const char *suite, const char *name, th_fn fn, int timeout_s) {
    if (ntests == captests) {
        captests = captests ? 2 * captests : 256;
        tests = realloc(tests, captests * sizeof *tests);
        if (!tests) {
            perror("runner: realloc");
            exit(2);
        }
    }
    struct th_test *t = &tests[ntests++];
    t->suite = suite;
    t->name = name;
    t->fn = fn;
    t->timeout_s = timeout_s > 0 ? timeout_s : TH_DEFAULT_TIMEOUT;
    t->alone = false;
    snprintf(t->full, sizeof t->full, "%s.%s", suite, name);
}

void th_register_alone(const char *suite, const char *name, th_fn fn, int timeout_s) {
    th_register(suite, name, fn, timeout_s);
    tests[ntests - 1].alone = true;
}

static int cmp_test(const void *a, const void *b) {
    return strcmp(((const struct th_test *)a)->full, ((const struct th_test *)b)->full);
}

static bool matches(const char *full, char **pats, int npats) {
    if (npats == 0)
        return true;
    for (int i = 0; i < npats; i++) {
        if (strpbrk(pats[i], "*?[")) {
            if (fnmatch(pats[i], full, 0) == 0)
                return true;
        } else if (strstr(full, pats[i])) {
            return true;
        }
    }
    return false;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct th_slot {
    pid_t pid;
    struct th_test *t;
    double start, deadline;
    char dir[4400];
    bool timed_out;
};

static void print_log(const char *dir) {
    char path[4500];
    snprintf(path, sizeof path, "%s/log", dir);
    size_t len = 0;
    char *log = th_read_file(path, &len);
    if (!log)
        return;
    /* Show the tail: the end of a long log is where the failure is. */
    const size_t max = 16000;
    const char *p = len > max ? log + len - max : log;
    if (len > max)
        printf("    ... (%zu bytes of log above cut; see %s)\n", len - max, path);
    for (const char *line = p; *line;) {
        const char *nl = strchr(line, '\n');
        int n = nl ? (int)(nl - line) : (int)strlen(line);
        printf("    | %.*s\n", n, line);
        line += n + (nl ? 1 : 0);
    }
    free(log);
}

static void child_run(struct th_test *t, const char *dir) {
    setpgid(0, 0);
    char path[4500];
    snprintf(path, sizeof path, "%s/log", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0) {
        dup2(nul, 0);
        close(nul);
    }
    setenv("TH_TMPDIR", dir, 1);
    setvbuf(stdout, NULL, _IONBF, 0);
    t->fn();
    fflush(NULL);
#ifdef TH_ASAN
    __lsan_do_leak_check();
#endif
    _exit(0);
}

static void rm_rf(const char *dir) {
    char *out = NULL;
    th_sh(&out, "rm -rf '%s'", dir);
    free(out);
}

int main(int argc, char **argv) {
    int jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
    double scale = 1.0;
    bool list = false, verbose = false;
    char **pats = calloc((size_t)argc, sizeof *pats);
    int npats = 0;
    const char *env_jobs = getenv("TEST_JOBS");
    if (env_jobs && atoi(env_jobs) > 0)
        jobs = atoi(env_jobs);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-j") && i + 1 < argc)
            jobs = atoi(argv[++i]);
        else if (!strncmp(argv[i], "-j", 2) && argv[i][2] >= '0' && argv[i][2] <= '9')
            jobs = atoi(argv[i] + 2); /* -jN, as make spells it */
        else if (!strcmp(argv[i], "--timeout-scale") && i + 1 < argc)
            scale = atof(argv[++i]);
        else if (!strcmp(argv[i], "--list"))
            list = true;
        else if (!strcmp(argv[i], "-v"))
            verbose = true;
        else if (argv[i][0] == '-') {
            fprintf(stderr,
                    "usage: runner [-j N] [--timeout-scale K] [--list] [-v] [PATTERN...]\n");
            return 2;
        } else
            pats[npats++] = argv[i];
    }
    if (jobs < 1)
        jobs = 1;
    if (scale <= 0)
        scale = 1.0;

    qsort(tests, ntests, sizeof *tests, cmp_test);
    if (list) {
        for (size_t i = 0; i < ntests; i++)
            if (matches(tests[i].full, pats, npats))
                printf("%s\n", tests[i].full);
        free(pats);
        free(tests);
        return 0;
    }

    char base[4000];
    snprintf(base, sizeof base, "%s/tests/tmp", th_build());
    char *out = NULL;
    th_sh(&out, "mkdir -p '%s'", base);
    free(out);
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct th_slot *slots = calloc((size_t)jobs, sizeof *slots);
    char **failed = calloc(ntests + 1, sizeof *failed);
    size_t next = 0, running = 0, npass = 0, nfail = 0, nskip = 0;
    bool alone_running = false;
    double t0 = now_s();
    th_seed();

    for (;;) {
        /* Start tests while there are free slots; a TEST_ALONE test waits
         * for the others to finish, and nothing starts beside it. */
        while (running < (size_t)jobs && next < ntests && !alone_running) {
            struct th_test *t = &tests[next];
            if (!matches(t->full, pats, npats)) {
                next++;
                continue;
            }
            if (t->alone && running > 0)
                break;
            next++;
            alone_running = t->alone;
            struct th_slot *s = NULL;
            for (int k = 0; k < jobs; k++)
                if (!slots[k].pid) {
                    s = &slots[k];
                    break;
                }
            s->t = t;
            s->timed_out = false;
            snprintf(s->dir, sizeof s->dir, "%s/%s", base, t->full);
            rm_rf(s->dir);
            mkdir(s->dir, 0755);
            fflush(NULL);
            pid_t pid = fork();
            if (pid < 0) {
                perror("runner: fork");
                return 2;
            }
            if (pid == 0)
                child_run(t, s->dir);
            setpgid(pid, pid);
            s->pid = pid;
            s->start = now_s();
            s->deadline = s->start + t->timeout_s * scale;
            running++;
        }
        if (running == 0)
            break;

        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid == 0) {
            double now = now_s();
            for (int k = 0; k < jobs; k++)
                if (slots[k].pid && !slots[k].timed_out && now > slots[k].deadline) {
                    slots[k].timed_out = true;
                    kill(-slots[k].pid, SIGKILL);
                }
            usleep(2000);
            continue;
        }
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            perror("runner: waitpid");
            return 2;
        }
        struct th_slot *s = NULL;
        for (int k = 0; k < jobs; k++)
            if (slots[k].pid == pid)
                s = &slots[k];
        if (!s)
            continue; /* not one of ours */
        /* Reap stragglers the test left in its group. */
        kill(-pid, SIGKILL);
        running--;
        if (s->t->alone)
            alone_running = false;
        s->pid = 0;
        double dt = now_s() - s->start;
        const char *verdict;
        bool show = verbose;
        if (s->timed_out) {
            verdict = "FAIL";
            printf("FAIL %s (timeout after %.0fs)\n", s->t->full, s->t->timeout_s * scale);
            show = true;
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            verdict = "PASS";
            printf("PASS %s (%.2fs)\n", s->t->full, dt);
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == TH_SKIP_STATUS) {
            verdict = "SKIP";
            printf("SKIP %s\n", s->t->full);
            show = true;
        } else {
            verdict = "FAIL";
            if (WIFSIGNALED(status))
                printf("FAIL %s (killed by signal %d: %s)\n", s->t->full, WTERMSIG(status),
                       strsignal(WTERMSIG(status)));
            else
                printf("FAIL %s (exit %d)\n", s->t->full, WEXITSTATUS(status));
            show = true;
        }
        if (show)
            print_log(s->dir);
        if (verdict[0] == 'P') {
            npass++;
            rm_rf(s->dir);
        } else if (verdict[0] == 'S') {
            nskip++;
            rm_rf(s->dir);
        } else {
            failed[nfail++] = s->t->full;
        }
    }

    printf("\nran in %.1fs\n", now_s() - t0);
    for (size_t i = 0; i < nfail; i++)
        printf("failed: %s\n", failed[i]);
    if (npass + nfail + nskip == 0)
        printf("runner: no test matched\n");
    printf("%zu passed, %zu failed, %zu skipped\n", npass, nfail, nskip);
    free(failed);
    free(slots);
    free(pats);
    free(tests);
    return nfail ? 1 : 0;
}
