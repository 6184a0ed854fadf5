/*
 * init.c — the shim's lifecycle: start-up, exit, fork, exec, _exit, the
 * dump helper thread (signals and intervals), dlclose.
 *
 * Start-up (constructor, guard set): resolve the real functions, parse
 * MAPPROF_* with secure_getenv (no allocation), check that our malloc is
 * really the one the process uses (not when the program defines malloc
 * itself or ASan came first: then say so once and stay pass-through),
 * warm libunwind, register the final dump with atexit (registered here, it
 * runs after the program's own exit handlers and destructors), register
 * fork handlers, and start the helper thread if a signal or interval asks
 * for one. Only then does recording start (shim_state = SHIM_ACTIVE).
 *
 * fork: prepare takes every shim lock (guard set) so the child inherits
 * consistent tables; the child resets its tables and records its own pid,
 * so it writes <out>.<childpid>.* with only what it did itself. The
 * helper thread does not survive fork (periodic/signal dumps are a parent
 * feature). vfork/posix_spawn children run no handlers but have another
 * pid, and shim_dump never writes from a pid it does not own. exec keeps
 * profiling: LD_PRELOAD is inherited and the new image starts afresh.
 *
 * Signals: the handler only writes one byte to a pipe (async-signal-safe);
 * the helper thread, started with every signal blocked so it never steals
 * the program's signals (shim_spawn, which the live endpoint's thread
 * uses too), reads it and dumps. The same thread drains the
 * cpu profile's per-thread rings (cpu.c); a fork child that profiles cpu
 * starts a helper of its own for that alone.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "shim/shim.h"

int shim_state;
shim_config shim_cfg;
int64_t shim_start_wall_ns, shim_start_mono_ns;
static pid_t owner_pid;
static int pipe_fds[2] = {-1, -1};

extern void *shim_hook_malloc(size_t);

pid_t shim_pid(void) {
    return __atomic_load_n(&owner_pid, __ATOMIC_RELAXED);
}

/*
 * Is the process's malloc ours? dlsym(RTLD_DEFAULT) finds the definition
 * the program's references bind to. If it is not our address it may
 * still be ours: a non-PIE executable that takes malloc's address has a
 * canonical PLT entry that dlsym returns, and that stub jumps to us. So
 * call it once with the probe armed and see whether our hook runs. A
 * program defining malloc, or ASan loaded first, never reaches us.
 */
static bool malloc_is_ours(void) {
    void *(*m)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "malloc");
    if (m == shim_hook_malloc)
        return true;
    void (*f)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "free");
    if (!m || !f)
        return false;
    /* A negative countdown sends the call down heap.c's complete path,
     * where the probe is looked at. */
    shim_sampler saved = shim_tls_v.heap;
    shim_tls_v.heap.left = INT64_MIN / 2;
    shim_tls_v.probe = 1;
    void *p = m(1);
    bool ours = shim_tls_v.probe == 2;
    shim_tls_v.probe = 0;
    shim_tls_v.heap = saved;
    f(p);
    return ours;
}

static const char *env_get(const char *name, void *ctx) {
    (void)ctx;
    return secure_getenv(name);
}

static void env_diag(const char *line, void *ctx) {
    (void)ctx;
    /* config.c already starts its lines with "mapprof: ". */
    shim_log("%s", line + (strncmp(line, "mapprof: ", 9) ? 0 : 9));
}

static void final_dump(void) {
    shim_dump(SHIM_DUMP_EXIT, true);
}

/* With MAPPROF_SEED each fork child seeds its samplers from its parent's
 * seed and its fork number there, so runs stay reproducible and no two
 * processes of a tree (siblings, or a child and a grandchild) sample the
 * same points. */
static uint64_t forks, lineage_seed;

/* A fork child's helper only drains the cpu profile: the signal pipe is
 * shared with the parent, and periodic dumps are a parent feature. */
static bool drain_only;
static int helper_running; /* atomic */
static void start_thread(void);

void shim_helper_ensure(void) {
    if (!__atomic_exchange_n(&helper_running, 1, __ATOMIC_ACQ_REL))
        start_thread();
}

static void fork_prepare(void) {
    shim_tls_v.guard++; /* stays set until parent/child below */
    __atomic_add_fetch(&forks, 1, __ATOMIC_RELAXED);
    shim_dump_lock_all(true);
    shim_threads_lock_all(true);
    shim_cpu_lock_all(true);
    shim_mutex_lock_all(true);
    shim_maps_lock_all(true);
    shim_heap_lock_all(true);
    shim_stack_lock_all(true);
    shim_trace_lock_all(true);
    shim_strings_lock_all(true);
    shim_mem_lock_all(true); /* innermost: taken under the others */
}

static void fork_parent(void) {
    shim_mem_lock_all(false);
    shim_strings_lock_all(false);
    shim_trace_lock_all(false);
    shim_stack_lock_all(false);
    shim_heap_lock_all(false);
    shim_maps_lock_all(false);
    shim_mutex_lock_all(false);
    shim_cpu_lock_all(false);
    shim_threads_lock_all(false);
    shim_dump_lock_all(false);
    shim_tls_v.guard--;
}

static void fork_child(void) {
    __atomic_store_n(&owner_pid, getpid(), __ATOMIC_RELAXED);
    shim_start_mono_ns = shim_now_ns();
    shim_mem_lock_all(false);
    shim_strings_lock_all(false); /* consistent: locked by prepare */
    shim_stack_after_fork();
    shim_heap_after_fork();
    shim_maps_after_fork();
    shim_mutex_after_fork();
    shim_dump_after_fork();
    shim_trace_after_fork();
    if (!shim_cfg.seed_set) /* a fresh random seed, recorded as at start */
        lineage_seed = shim_hash64((uint64_t)shim_start_mono_ns ^ (uint64_t)getpid());
    else
        lineage_seed = shim_hash64(lineage_seed ^ shim_hash64(forks));
    shim_cfg.seed = lineage_seed;
    shim_sampler_base_seed(lineage_seed, true);
    forks = 0; /* the child's own children count from here */
    shim_tls_v.heap = (shim_sampler){0};
    shim_tls_v.event = (shim_sampler){0};
    if (__atomic_load_n(&shim_state, __ATOMIC_RELAXED) == SHIM_FINISHED)
        __atomic_store_n(&shim_state, SHIM_ACTIVE, __ATOMIC_RELAXED);
    shim_threads_after_fork();
    shim_cpu_after_fork();
    helper_running = 0;  /* threads do not survive fork */
    if (shim_cpu_on()) { /* timers and threads are not inherited: re-arm, drain */
        drain_only = true;
        shim_helper_ensure();
    }
    shim_http_after_fork(); /* never the parent's socket; maybe our own */
    shim_tls_v.guard--;
}

static void on_signal(int sig) {
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    (void)!write(pipe_fds[1], &b, 1);
    errno = saved;
}

/*
 * The helper thread: signal and interval dumps, and the cpu profile's
 * drain ticks. It wakes for the earliest of the three and does what is
 * due; it returns when recording stops or nothing is left to do.
 */
static void *helper(void *arg) {
    (void)arg;
    shim_tls_v.guard = 1; /* this thread belongs to the shim entirely */
    shim_threads_own_thread();
    bool dumps = !drain_only;
    const int64_t every = (int64_t)shim_cfg.interval * 1000000000;
    int64_t next = shim_now_ns() + every;
    for (;;) {
        int cpu_ms = shim_cpu_on() ? shim_cpu_drain_ms() : -1; /* a live window may open */
        int fd = dumps ? pipe_fds[0] : -1;
        int wait_ms = -1;
        if (dumps && every) {
            int64_t left = (next - shim_now_ns()) / 1000000;
            wait_ms = left < 0 ? 0 : (int)left;
        }
        if (cpu_ms >= 0 && (wait_ms < 0 || cpu_ms < wait_ms))
            wait_ms = cpu_ms;
        if (fd < 0 && wait_ms < 0) {
            /* nothing left to wait for; shim_helper_ensure starts another */
            __atomic_store_n(&helper_running, 0, __ATOMIC_RELEASE);
            return NULL;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = fd >= 0 ? poll(&pfd, 1, wait_ms) : poll(NULL, 0, wait_ms);
        if (__atomic_load_n(&shim_state, __ATOMIC_ACQUIRE) != SHIM_ACTIVE)
            return NULL;
        if (cpu_ms >= 0)
            shim_cpu_tick();
        if (r > 0 && (pfd.revents & (POLLNVAL | POLLERR | POLLHUP))) {
            /* The program closed our pipe (daemons close every fd): stop
             * watching it rather than spin, keep the rest. */
            pipe_fds[0] = -1;
        } else if (r > 0) {
            unsigned char buf[64];
            if (read(fd, buf, sizeof buf) > 0)
                shim_dump(SHIM_DUMP_SIGNAL, false);
        }
        if (dumps && every && shim_now_ns() >= next) {
            shim_dump(SHIM_DUMP_INTERVAL, false);
            next = shim_now_ns() + every;
        }
    }
}

/* The signal pipe, moved to high descriptor numbers so that a program
 * closing and reopening low fds is unlikely to collide with it. */
static int make_pipe(void) {
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        int hi = fcntl(p[i], F_DUPFD_CLOEXEC, 900);
        if (hi >= 0) {
            close(p[i]);
            p[i] = hi;
        }
    }
    pipe_fds[0] = p[0];
    pipe_fds[1] = p[1];
    return 0;
}

static void start_helper(void) {
    if (shim_cfg.signal) {
        struct sigaction old;
        if (make_pipe() != 0) {
            shim_log("MAPPROF_SIGNAL: cannot create a pipe; signal dumps are off");
        } else if (sigaction(shim_cfg.signal, NULL, &old) == 0 && old.sa_handler != SIG_DFL &&
                   old.sa_handler != SIG_IGN) {
            shim_log("MAPPROF_SIGNAL: signal %d already has a handler; signal dumps are off",
                     shim_cfg.signal);
        } else {
            struct sigaction sa = {0};
            sa.sa_handler = on_signal;
            sa.sa_flags = SA_RESTART;
            sigemptyset(&sa.sa_mask);
            sigaction(shim_cfg.signal, &sa, NULL);
        }
    }
    if (!shim_cfg.signal && !shim_cfg.interval && !shim_cpu_on())
        return;
    shim_helper_ensure();
}

int shim_spawn(void *(*fn)(void *), void *arg, size_t stack) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the new thread inherits it */
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (stack)
        pthread_attr_setstacksize(&attr, stack);
    /* libc's own pthread_create: thread.c's wrapper is for the program's
     * threads (a cpu timer on a shim thread would sample the shim) */
    int rc = shim_real_ready() && shim_real.pthread_create
                 ? shim_real.pthread_create(&th, &attr, fn, arg)
                 : EAGAIN;
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* The helper thread. */
static void start_thread(void) {
    if (shim_spawn(helper, NULL, 0) != 0) {
        __atomic_store_n(&helper_running, 0, __ATOMIC_RELEASE);
        shim_log(drain_only ? "cpu: cannot start the helper thread in a fork child; its cpu "
                              "samples beyond a few per thread are counted, not unwound"
                            : "cannot start the helper thread; signal and interval dumps and "
                              "cpu draining are off");
    }
}

__attribute__((constructor)) static void shim_init(void) {
    int saved = errno;
    int was = shim_enter();
    if (!shim_real_ready())
        goto out;
    shim_mutex_init();
    char cwd[PATH_MAX];
    const char *dir = getcwd(cwd, sizeof cwd);
    shim_config_parse(&shim_cfg, env_get, env_diag, NULL, dir);
    if (getauxval(AT_SECURE)) {
        __atomic_store_n(&shim_state, SHIM_INACTIVE, __ATOMIC_RELEASE);
        goto out; /* setuid/setgid: never write files for another user */
    }
    if (!malloc_is_ours()) {
        shim_log("inactive: malloc is not interposed (the program defines its own malloc, or a "
                 "sanitizer runtime was loaded first); no profiles will be written");
        __atomic_store_n(&shim_state, SHIM_INACTIVE, __ATOMIC_RELEASE);
        goto out;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    shim_start_wall_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    shim_start_mono_ns = shim_now_ns();
    owner_pid = getpid();
    /* A random seed is recorded in shim_cfg.seed too: the profiles'
     * comments print it, so MAPPROF_SEED=<it> replays the sampling. */
    if (!shim_cfg.seed_set)
        shim_cfg.seed = shim_hash64((uint64_t)shim_start_wall_ns ^ (uint64_t)owner_pid);
    lineage_seed = shim_cfg.seed;
    shim_sampler_base_seed(shim_cfg.seed, true);
    shim_stack_init();
    atexit(final_dump);
    /* quick_exit runs these, then glibc's internal _exit (not our hook). */
    at_quick_exit(final_dump);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    __atomic_store_n(&shim_state, SHIM_ACTIVE, __ATOMIC_RELEASE);
    shim_cpu_start();
    if (shim_profile_on(SHIM_PROF_THREADS))
        shim_threads_start();
    start_helper();
    shim_http_start(dir); /* MAPPROF_HTTP: the live endpoint (http.c) */
out:
    shim_leave(was);
    errno = saved;
}

SHIM_EXPORT void _exit(int status) {
    if (shim_real_ready() && !shim_tls_v.guard)
        shim_dump(SHIM_DUMP_EXIT, true);
    shim_real.exit_(status);
    __builtin_unreachable();
}

SHIM_EXPORT void _Exit(int status) {
    if (shim_real_ready() && !shim_tls_v.guard)
        shim_dump(SHIM_DUMP_EXIT, true);
    shim_real.Exit_(status);
    __builtin_unreachable();
}

SHIM_EXPORT int dlclose(void *handle) {
    if (!shim_real_ready())
        return -1;
    if (!shim_tls_v.guard && __atomic_load_n(&shim_state, __ATOMIC_RELAXED) == SHIM_ACTIVE)
        shim_dump_note_dl(false);
    /* No guard around the real call: it runs the library's destructors,
     * which are the program's code. cpu samples meanwhile are counted but
     * not unwound: the unwind information may be going away. */
    shim_tls_v.no_unwind++;
    int rc = shim_real.dlclose(handle);
    shim_stack_flush();
    shim_tls_v.no_unwind--;
    if (!shim_tls_v.guard && __atomic_load_n(&shim_state, __ATOMIC_RELAXED) == SHIM_ACTIVE)
        shim_dump_note_dl(true);
    return rc;
}
