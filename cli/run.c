/*
 * run.c — `mapprof run [OPTIONS] -- CMD [ARGS...]`: run a program with
 * libmapprof.so preloaded and report the profiles it wrote.
 *
 * Options become the shim's environment (MAPPROF_OUT, MAPPROF_PROFILES,
 * ...), validated by the shim's own parser (shim/config.c, linked in), so
 * a value `run` accepts is exactly a value the shim accepts; a bad flag is
 * refused up front instead of being replaced by a default in the child.
 * The library goes at the end of any LD_PRELOAD already set (a sanitizer
 * runtime listed there must stay first).
 *
 * Refusals (exit 2, one line) before anything runs: a command not found, a
 * static executable (no PT_INTERP, elfinterp.c: the preload could never
 * load), no libmapprof.so (MAPPROF_LIB, else next to this executable, else
 * ../lib/mapprof/ and ../lib/ of the installed layouts).
 *
 * Process model: fork + exec, child in our process group so terminal job
 * control and tty reads keep working. The signals listed in `forwarded`
 * are blocked in mapprof before the fork (the child gets its original mask
 * back before exec) and received synchronously with sigwaitinfo, so there
 * is no handler and no async-signal-safety concern. Each one is sent on to
 * the child — except those the kernel raised for the terminal (si_code
 * SI_KERNEL: Ctrl-C, Ctrl-\, hangup, window size), which the kernel already
 * delivered to the whole foreground group, child included. A signal sent
 * with kill() to the whole process group therefore reaches the child twice;
 * termination signals are idempotent, which is why that is accepted.
 *
 * Exit status: the child's. A child killed by a signal makes mapprof die
 * of the same signal (default action restored, core dumps disabled so the
 * child's core file is not overwritten), so a shell sees the same status;
 * if that does not end the process, 128 + signal. Exec failures after the
 * fork come back through a close-on-exec pipe and exit 2.
 *
 * Profiles: every file named <prefix>.<pid>.<kind>.pb.gz that appears or
 * changes (inode, size, mtime) during the run is listed on stderr, one
 * "mapprof: wrote PATH" line each — forked children write under their own
 * pids. stdout is never touched. Non-goals: a pty, running as another
 * user, setuid programs (ld.so ignores LD_PRELOAD paths with '/' there).
 */
#include "cli/cli.h"
#include "shim/config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUN_USAGE                                                                                  \
    "usage: mapprof run [-o PREFIX] [--profiles LIST] [--heap-rate N] [--mutex-rate N] "           \
    "[--grow-rate N] [--seed N] [--interval S] [--depth N] [--signal SIG] [--symbols fast|full] "  \
    "[--empty write|skip] [--cpu] [--cpu-hz N] [--cpu-signal SIG] [--trace] [--http ADDR] "        \
    "[--report DIR] "                                                                              \
    "-- CMD [ARGS...]"

/* Flags that set a shim variable, in option order. */
static const struct runflag {
    const char *name, *var;
} runflags[] = {
    {"output", "MAPPROF_OUT"},
    {"profiles", "MAPPROF_PROFILES"},
    {"heap-rate", "MAPPROF_HEAP_RATE"},
    {"mutex-rate", "MAPPROF_MUTEX_RATE"},
    {"grow-rate", "MAPPROF_GROW_RATE"},
    {"seed", "MAPPROF_SEED"},
    {"interval", "MAPPROF_INTERVAL"},
    {"depth", "MAPPROF_DEPTH"},
    {"signal", "MAPPROF_SIGNAL"},
    {"symbols", "MAPPROF_SYMBOLS"},
    {"empty", "MAPPROF_EMPTY"},
    {"cpu-hz", "MAPPROF_CPU_HZ"},
    {"cpu-signal", "MAPPROF_CPU_SIGNAL"},
    {"http", "MAPPROF_HTTP"}, /* the live endpoint: ADDR as MAPPROF_HTTP */
};
#define NFLAGS (sizeof runflags / sizeof *runflags)

typedef struct run_env {
    const char *val[NFLAGS]; /* flag values, NULL when not given */
    const char *report;      /* --report DIR: mapprof report over the files written */
    bool cpu;                /* --cpu: the cpu profile as well */
    char profiles[256];      /* --profiles (or MAPPROF_PROFILES, or all) + ",cpu" */
    bool trace;              /* --trace: MAPPROF_TRACE=1 (the timeline) */
    int only;                /* validation: the one flag visible, -1: all + environ */
    char diag[512];          /* first diagnostic of the shim's parser */
} run_env;

static const char *run_getenv(const char *name, void *ctx) {
    run_env *e = ctx;
    for (size_t i = 0; i < NFLAGS; i++)
        if (!strcmp(name, runflags[i].var)) {
            if (e->only >= 0)
                return (size_t)e->only == i ? e->val[i] : NULL;
            return e->val[i] ? e->val[i] : getenv(name);
        }
    return e->only >= 0 ? NULL : getenv(name);
}

static void run_diag(const char *line, void *ctx) {
    run_env *e = ctx;
    if (!e->diag[0])
        snprintf(e->diag, sizeof e->diag, "%s", line);
}

/* Each given flag through the shim's parser alone; 2 after a refusal. */
static int validate(run_env *e, const char *cwd, shim_config *cfg) {
    for (size_t i = 0; i < NFLAGS; i++) {
        if (!e->val[i])
            continue;
        e->only = (int)i;
        e->diag[0] = 0;
        if (shim_config_parse(cfg, run_getenv, run_diag, e, cwd) > 0) {
            /* "mapprof: ignoring VAR="v": WHY; using DFLT" -> WHY */
            const char *why = strstr(e->diag, "\": ");
            const char *end = why ? strstr(why, "; using ") : NULL;
            if (why && end)
                return cli_fail("run", "bad --%s \"%s\": %.*s", runflags[i].name, e->val[i],
                                (int)(end - why - 3), why + 3);
            return cli_fail("run", "bad --%s \"%s\": %s", runflags[i].name, e->val[i], e->diag);
        }
    }
    e->only = -1;
    shim_config_parse(cfg, run_getenv, NULL, e, cwd);
    return 0;
}

#define OPT_REPORT (256 + (int)NFLAGS)
#define OPT_CPU    (OPT_REPORT + 1)
#define OPT_TRACE  (OPT_REPORT + 2)

static int run_option(void *ctx, int c, const char *arg) {
    run_env *e = ctx;
    if (c == OPT_REPORT)
        e->report = arg;
    else if (c == OPT_CPU)
        e->cpu = true;
    else if (c == OPT_TRACE)
        e->trace = true;
    else
        e->val[c == 'o' ? 0 : c - 256] = arg;
    return 0;
}

static int parse_args(int argc, char **argv, run_env *e) {
    struct option opts[NFLAGS + 4];
    for (size_t i = 0; i < NFLAGS; i++)
        opts[i] = (struct option){runflags[i].name, required_argument, NULL, 256 + (int)i};
    opts[NFLAGS] = (struct option){"report", required_argument, NULL, OPT_REPORT};
    opts[NFLAGS + 1] = (struct option){"cpu", no_argument, NULL, OPT_CPU};
    opts[NFLAGS + 2] = (struct option){"trace", no_argument, NULL, OPT_TRACE};
    opts[NFLAGS + 3] = (struct option){NULL, 0, NULL, 0};
    memset(e, 0, sizeof *e);
    /* "+": options end at CMD, whose own options are not ours. */
    cli_verb_options vo = {"run", RUN_USAGE, "+o:h", opts, NULL, run_option, e};
    int rc = cli_options(argc, argv, &vo);
    if (rc)
        return rc;
    if (optind >= argc)
        return cli_fail("run", "no command given (%s)", RUN_USAGE);
    if (e->cpu) { /* what would be profiled anyway, and cpu */
        const char *base = e->val[1] ? e->val[1] : getenv("MAPPROF_PROFILES");
        int n = snprintf(e->profiles, sizeof e->profiles, "%s,cpu", base && *base ? base : "all");
        if (n < 0 || (size_t)n >= sizeof e->profiles)
            return cli_fail("run", "--profiles too long");
        e->val[1] = e->profiles;
    }
    return 0;
}

/* The executable CMD names, as execvp would find it; 2 after a refusal. */
static int resolve(const char *cmd, char *out, size_t n) {
    if (!*cmd)
        return cli_fail("run", "empty command name");
    if (strchr(cmd, '/')) {
        if (access(cmd, F_OK) < 0)
            return cli_fail("run", "%s: %s", cmd, strerror(errno));
        snprintf(out, n, "%s", cmd);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, ":");
        struct stat st;
        snprintf(out, n, "%.*s%s%s", (int)len, p, len ? "/" : "", cmd);
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
            return 0;
        p += len + (p[len] == ':');
    }
    return cli_fail("run", "%s: command not found", cmd);
}

static int check_dynamic(const char *path) {
    int rc = cli_elf_has_interp(path);
    if (rc == 0)
        return cli_fail("run",
                        "%s is statically linked (no PT_INTERP): LD_PRELOAD cannot load "
                        "libmapprof.so into it; rebuild it dynamically linked",
                        path);
    if (rc < 0 && rc != -ENOEXEC)
        return cli_fail("run", "%s: %s", path, strerror(-rc));
    return 0; /* dynamic, or not ELF (a #! script): the kernel decides */
}

/* libmapprof.so as an absolute path; 2 after a refusal. */
static int find_lib(char *out, size_t n) {
    char cand[3][PATH_MAX + 64];
    int ncand = 0;
    const char *env = getenv("MAPPROF_LIB");
    if (env && *env) {
        if (!realpath(env, out) || access(out, R_OK) < 0)
            return cli_fail("run", "MAPPROF_LIB=%s: %s", env, strerror(errno));
    } else {
        char exe[PATH_MAX];
        ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (len <= 0)
            return cli_fail("run", "cannot find libmapprof.so: /proc/self/exe: %s",
                            strerror(errno));
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        *slash = 0;
        snprintf(cand[ncand++], sizeof cand[0], "%s/libmapprof.so", exe);
        snprintf(cand[ncand++], sizeof cand[0], "%s/../lib/mapprof/libmapprof.so", exe);
        snprintf(cand[ncand++], sizeof cand[0], "%s/../lib/libmapprof.so", exe);
        int i = 0;
        while (i < ncand && (access(cand[i], R_OK) < 0 || !realpath(cand[i], out)))
            i++;
        if (i == ncand)
            return cli_fail("run",
                            "cannot find libmapprof.so (looked in %s/, %s/../lib/mapprof/, "
                            "%s/../lib/; set MAPPROF_LIB)",
                            exe, exe, exe);
    }
    if (strpbrk(out, ": ") || strlen(out) >= n)
        return cli_fail("run", "%s: a path with ':' or ' ' cannot go into LD_PRELOAD", out);
    return 0;
}

/* ---- the profile files of a prefix: before and after ---- */

typedef struct pfile {
    char name[NAME_MAX + 1];
    ino_t ino;
    off_t size;
    struct timespec mtime;
} pfile;

typedef struct plist {
    pfile *f;
    size_t n, cap;
} plist;

/* <base>.<digits>.<lowercase kind>.pb.gz, or <base>.<digits>.trace.json
 * (the timeline, which the report draws) */
static bool profile_name(const char *name, const char *base) {
    size_t bl = strlen(base);
    if (strncmp(name, base, bl) || name[bl] != '.')
        return false;
    const char *p = name + bl + 1;
    if (!(*p >= '0' && *p <= '9'))
        return false;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p++ != '.' || !(*p >= 'a' && *p <= 'z'))
        return false;
    if (!strcmp(p, "trace.json"))
        return true;
    while ((*p >= 'a' && *p <= 'z') || *p == '_')
        p++;
    return !strcmp(p, ".pb.gz");
}

static void scan(const char *dir, const char *base, plist *l) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        struct stat st;
        if (!profile_name(e->d_name, base) || fstatat(dirfd(d), e->d_name, &st, 0) < 0)
            continue;
        if (l->n == l->cap) {
            size_t cap = l->cap ? 2 * l->cap : 32;
            pfile *nf = realloc(l->f, cap * sizeof *nf);
            if (!nf)
                break;
            l->f = nf;
            l->cap = cap;
        }
        pfile *f = &l->f[l->n++];
        snprintf(f->name, sizeof f->name, "%s", e->d_name);
        f->ino = st.st_ino;
        f->size = st.st_size;
        f->mtime = st.st_mtim;
    }
    closedir(d);
}

static bool unchanged(const plist *before, const pfile *f) {
    for (size_t i = 0; i < before->n; i++) {
        const pfile *b = &before->f[i];
        if (!strcmp(b->name, f->name))
            return b->ino == f->ino && b->size == f->size && b->mtime.tv_sec == f->mtime.tv_sec &&
                   b->mtime.tv_nsec == f->mtime.tv_nsec;
    }
    return false;
}

static int cmp_pfile(const void *x, const void *y) {
    return strcmp(((const pfile *)x)->name, ((const pfile *)y)->name);
}

/* Split a prefix into its directory ("/" for the root, "." for none)
 * and the file name part, which is returned. */
static const char *split_prefix(const char *prefix, char *dir, size_t n) {
    const char *slash = strrchr(prefix, '/');
    if (!slash) {
        snprintf(dir, n, ".");
        return prefix;
    }
    snprintf(dir, n, "%.*s", slash == prefix ? 1 : (int)(slash - prefix), prefix);
    return slash + 1;
}

/* Lists the profiles the run wrote; with report_dir, runs `mapprof report`
 * over them. Returns the report's status (0 without one). */
static int report(const char *prefix, const plist *before, int wstatus, const char *report_dir) {
    char dir[PATH_MAX];
    const char *base = split_prefix(prefix, dir, sizeof dir);
    plist after = {0};
    scan(dir, base, &after);
    if (after.n > 1) /* f is NULL when empty */
        qsort(after.f, after.n, sizeof *after.f, cmp_pfile);
    size_t shown = 0;
    char **rargv = calloc(after.n + 4, sizeof *rargv);
    int rargc = 0;
    if (rargv) {
        rargv[rargc++] = "report";
        rargv[rargc++] = "-o";
        rargv[rargc++] = (char *)report_dir;
    }
    for (size_t i = 0; i < after.n; i++) {
        if (unchanged(before, &after.f[i]))
            continue;
        fprintf(stderr, "mapprof: wrote %s%s%s\n", dir, strcmp(dir, "/") ? "/" : "",
                after.f[i].name);
        if (rargv && asprintf(&rargv[rargc], "%s/%s", dir, after.f[i].name) >= 0)
            rargc++;
        shown++;
    }
    int status = 0;
    if (report_dir && shown)
        status = rargv ? cli_report(rargc, rargv) : cli_fail("run", "out of memory");
    for (int i = 3; rargv && i < rargc; i++)
        free(rargv[i]);
    free(rargv);
    if (!shown && WIFSIGNALED(wstatus))
        fprintf(stderr,
                "mapprof: no profiles written to %s.<pid>.<kind>.pb.gz: the program was killed "
                "by signal %d before it could write them\n",
                prefix, WTERMSIG(wstatus));
    else if (!shown)
        fprintf(stderr,
                "mapprof: no profiles written to %s.<pid>.<kind>.pb.gz (was the shim active? "
                "see its messages above)\n",
                prefix);
    free(after.f);
    return status;
}

/* ---- running ---- */

static const int forwarded[] = {SIGHUP,   SIGINT,  SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,   SIGALRM,
                                SIGWINCH, SIGXCPU, SIGXFSZ, SIGPWR,  SIGURG,  SIGVTALRM, SIGPROF};

static void forward_set(sigset_t *set) {
    sigemptyset(set);
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
        sigaddset(set, forwarded[i]);
    for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
        sigaddset(set, s);
}

/* Die of sig like the child did, or exit 128 + sig. */
static _Noreturn void die_like(int sig) {
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    signal(sig, SIG_DFL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    fflush(NULL);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    raise(sig);
    exit(128 + sig);
}

static int set_env(const char *lib, const run_env *e, const char *prefix) {
    for (size_t i = 0; i < NFLAGS; i++)
        if (e->val[i] && setenv(runflags[i].var, e->val[i], 1) < 0)
            return -1;
    if (setenv("MAPPROF_OUT", prefix, 1) < 0 || (e->trace && setenv("MAPPROF_TRACE", "1", 1) < 0))
        return -1;
    const char *old = getenv("LD_PRELOAD");
    if (!old || !*old)
        return setenv("LD_PRELOAD", lib, 1);
    size_t n = strlen(old) + strlen(lib) + 2;
    char *v = malloc(n);
    if (!v)
        return -1;
    snprintf(v, n, "%s:%s", old, lib);
    int rc = setenv("LD_PRELOAD", v, 1);
    free(v);
    return rc;
}

/* Fork, exec, forward signals, wait. *wstatus: the child's wait status. */
static int supervise(const char *path, char **args, int *wstatus) {
    sigset_t fwd, waitset, old;
    forward_set(&fwd);
    waitset = fwd;
    sigaddset(&waitset, SIGCHLD);
    /* An inherited SIG_IGN for SIGCHLD would make the kernel reap the child. */
    struct sigaction dfl = {.sa_handler = SIG_DFL}, oldchld;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGCHLD, &dfl, &oldchld);
    sigprocmask(SIG_BLOCK, &waitset, &old);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return cli_fail("run", "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return cli_fail("run", "fork: %s", strerror(errno));
    if (pid == 0) {
        close(pfd[0]);
        sigaction(SIGCHLD, &oldchld, NULL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        execv(path, args);
        int e = errno;
        ssize_t w = write(pfd[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(pfd[1]);
    int child_errno = 0;
    ssize_t r;
    while ((r = read(pfd[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR)
        ;
    close(pfd[0]);
    if (r == (ssize_t)sizeof child_errno) {
        waitpid(pid, wstatus, 0);
        return cli_fail("run", "cannot execute %s: %s", path, strerror(child_errno));
    }
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&waitset, &si);
        if (sig < 0)
            continue; /* EINTR (e.g. a stop/continue) */
        if (sig == SIGCHLD) {
            pid_t w = waitpid(pid, wstatus, WNOHANG);
            if (w == pid)
                return 0;
            if (w < 0 && errno == ECHILD)
                return cli_fail("run", "lost track of the child process");
            continue;
        }
        if (si.si_code != SI_KERNEL)
            kill(pid, sig);
    }
}

int cli_run(int argc, char **argv) {
    run_env e;
    int status = parse_args(argc, argv, &e);
    if (status)
        return status < 0 ? 0 : status;
    char cwd[PATH_MAX], path[PATH_MAX + NAME_MAX + 2], lib[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return cli_fail("run", "getcwd: %s", strerror(errno));
    static shim_config cfg; /* large (PATH_MAX); not on the stack */
    if ((status = validate(&e, cwd, &cfg)) || (status = resolve(argv[optind], path, sizeof path)) ||
        (status = check_dynamic(path)) || (status = find_lib(lib, sizeof lib)))
        return status;
    if (set_env(lib, &e, cfg.out) < 0)
        return cli_fail("run", "out of memory");
    plist before = {0};
    char dir[PATH_MAX];
    const char *base = split_prefix(cfg.out, dir, sizeof dir);
    scan(dir, base, &before);
    int ws = 0;
    status = supervise(path, argv + optind, &ws);
    /* The program's status stays the run's; a failed report says so in
     * its one line (the profiles are there for `mapprof report` again). */
    if (status == 0)
        report(cfg.out, &before, ws, e.report);
    free(before.f);
    if (status)
        return status;
    if (WIFSIGNALED(ws))
        die_like(WTERMSIG(ws));
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 2;
}
