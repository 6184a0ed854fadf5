/*
 * sigown.c — the signals the shim takes for itself stay the program's.
 *
 * The shim takes a signal only when the program left it at SIG_DFL: the
 * cpu profile's timer signal (MAPPROF_CPU_SIGNAL) and the threads
 * profile's capture signal (MAPPROF_THREADS_SIGNAL). While it holds one,
 * the program's view of that signal is kept as if the shim were absent:
 *
 *   sigaction / signal / sysv_signal: a query answers the program's own
 *     disposition (SIG_DFL, or SIG_IGN once it asked for that). Setting
 *     SIG_DFL or SIG_IGN is recorded, and the shim's handler gives a
 *     signal that is not its own (a kill, a sigqueue from elsewhere) that
 *     effect (shim_sig_not_ours). Installing a handler means the program
 *     uses the signal: the shim yields it first (the owner's yield: timers
 *     deleted, pending signals of its own taken, one line), then the
 *     program's handler is installed exactly as asked. coreutils sort does
 *     this for SIGPROF (its cleanup handler), and so does any program that
 *     profiles itself.
 *   sigwait, sigwaitinfo, sigtimedwait, signalfd: a program that blocks
 *     every signal and waits for them synchronously (a daemon's signal
 *     thread) would receive one of the shim's pending signals; held
 *     signals are taken out of the set it waits for (unless that empties
 *     it: then the program asked for exactly those, and gets its call
 *     unchanged).
 *   the exec family: a signal of the shim pending at execve would survive
 *     into the new image, where its disposition is back to SIG_DFL and
 *     kills it. Before the real call the thread stops its cpu timer and
 *     takes any pending held signal; a failed exec re-arms it. A program
 *     that had set SIG_IGN gets it ignored in the new image, as without
 *     the shim.
 *
 * Everything else passes straight through, and so does every call while
 * no signal is held or from the shim itself (guard).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim/shim.h"

#define MAX_OWNED 2

static struct owned {
    int sig;             /* 0: unused slot */
    int ignores;         /* atomic: the program set SIG_IGN */
    int yielded;         /* atomic: the program took it back */
    void (*yield)(void); /* the owner lets go (called once, guard set) */
} owned[MAX_OWNED];

static struct owned *find(int s) {
    for (int i = 0; i < MAX_OWNED; i++)
        if (s > 0 && __atomic_load_n(&owned[i].sig, __ATOMIC_ACQUIRE) == s)
            return &owned[i];
    return NULL;
}

bool shim_sig_install(int s, void (*handler)(int, siginfo_t *, void *)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    /* SA_RESTART: the program's read, write, futex waits... resume; what
     * signal(7) says a handler always interrupts (poll, nanosleep, ...)
     * can see EINTR, as under any profiler's signal. */
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return shim_real.sigaction(s, &sa, NULL) == 0;
}

void shim_sig_own(int s, void (*yield)(void)) {
    for (int i = 0; i < MAX_OWNED; i++)
        if (!owned[i].sig || owned[i].sig == s) {
            owned[i].yield = yield;
            owned[i].ignores = 0;
            owned[i].yielded = 0;
            __atomic_store_n(&owned[i].sig, s, __ATOMIC_RELEASE);
            return;
        }
}

bool shim_sig_holds(int s) {
    struct owned *o = find(s);
    return o && !__atomic_load_n(&o->yielded, __ATOMIC_ACQUIRE);
}

/* From a handler: a signal that is not the shim's own, given the effect
 * of the program's disposition. SIG_IGN: nothing. SIG_DFL (every held
 * signal ends the process by default; config.c allows no other): restore
 * the default and send it again to this thread; it is delivered when the
 * handler returns and ends the process as it would have. */
void shim_sig_not_ours(int s) {
    struct owned *o = find(s);
    if (o && __atomic_load_n(&o->ignores, __ATOMIC_RELAXED))
        return;
    int saved = errno;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    shim_real.sigaction(s, &dfl, NULL);
    syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), s);
    errno = saved;
}

/* Does the shim hold s right now (and the call is the program's)? */
static bool held(int s) {
    return !shim_tls_v.guard && shim_sig_holds(s);
}

static void program_view(int s, struct sigaction *old) {
    struct owned *o = find(s);
    memset(old, 0, sizeof *old);
    old->sa_handler = o && __atomic_load_n(&o->ignores, __ATOMIC_RELAXED) ? SIG_IGN : SIG_DFL;
}

/* The program sets the disposition of a held signal: see the header. */
static int set_held(int s, const struct sigaction *act, struct sigaction *old) {
    struct owned *o = find(s);
    struct sigaction prev;
    program_view(s, &prev);
    if (act->sa_handler == SIG_DFL || act->sa_handler == SIG_IGN) {
        __atomic_store_n(&o->ignores, act->sa_handler == SIG_IGN, __ATOMIC_RELAXED);
    } else {
        if (!__atomic_exchange_n(&o->yielded, 1, __ATOMIC_ACQ_REL)) {
            int was = shim_enter();
            o->yield();
            shim_leave(was);
        }
        if (shim_real.sigaction(s, act, NULL) != 0)
            return -1;
    }
    if (old)
        *old = prev;
    return 0;
}

SHIM_EXPORT int sigaction(int s, const struct sigaction *act, struct sigaction *old) {
    if (!shim_real_ready() || !shim_real.sigaction) {
        errno = ENOSYS;
        return -1;
    }
    if (!held(s))
        return shim_real.sigaction(s, act, old);
    if (!act) {
        if (old)
            program_view(s, old);
        return 0;
    }
    return set_held(s, act, old);
}

/* signal(): BSD semantics (glibc's): restart, the signal blocked meanwhile. */
static sighandler_t set_handler(int s, sighandler_t h, int flags) {
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = h;
    act.sa_flags = flags;
    sigemptyset(&act.sa_mask);
    if (!(flags & SA_NODEFER))
        sigaddset(&act.sa_mask, s);
    return set_held(s, &act, &old) == 0 ? old.sa_handler : SIG_ERR;
}

SHIM_EXPORT sighandler_t signal(int s, sighandler_t h) {
    if (!shim_real_ready() || !shim_real.signal) {
        errno = ENOSYS;
        return SIG_ERR;
    }
    if (!held(s))
        return shim_real.signal(s, h);
    return set_handler(s, h, SA_RESTART);
}

SHIM_EXPORT sighandler_t sysv_signal(int s, sighandler_t h) {
    if (!shim_real_ready() || !shim_real.sysv_signal) {
        errno = ENOSYS;
        return SIG_ERR;
    }
    if (!held(s))
        return shim_real.sysv_signal(s, h);
    return set_handler(s, h, SA_RESETHAND | SA_NODEFER);
}

/* ------------------------------------------------------ synchronous waits */

/* set without the held signals in *out; returns the set to pass on. */
static const sigset_t *without_held(const sigset_t *set, sigset_t *out) {
    if (!set || shim_tls_v.guard)
        return set;
    bool changed = false;
    for (int i = 0; i < MAX_OWNED; i++) {
        int s = __atomic_load_n(&owned[i].sig, __ATOMIC_ACQUIRE);
        if (!s || !held(s) || sigismember(set, s) != 1)
            continue;
        if (!changed)
            *out = *set;
        changed = true;
        sigdelset(out, s);
    }
    return !changed || sigisemptyset(out) ? set : out;
}

SHIM_EXPORT int sigwait(const sigset_t *set, int *sig) {
    if (!shim_real_ready() || !shim_real.sigwait)
        return ENOSYS;
    sigset_t copy;
    return shim_real.sigwait(without_held(set, &copy), sig);
}

SHIM_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info) {
    if (!shim_real_ready() || !shim_real.sigwaitinfo) {
        errno = ENOSYS;
        return -1;
    }
    sigset_t copy;
    return shim_real.sigwaitinfo(without_held(set, &copy), info);
}

SHIM_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *t) {
    if (!shim_real_ready() || !shim_real.sigtimedwait) {
        errno = ENOSYS;
        return -1;
    }
    sigset_t copy;
    return shim_real.sigtimedwait(without_held(set, &copy), info, t);
}

SHIM_EXPORT int signalfd(int fd, const sigset_t *mask, int flags) {
    if (!shim_real_ready() || !shim_real.signalfd) {
        errno = ENOSYS;
        return -1;
    }
    sigset_t copy;
    return shim_real.signalfd(fd, without_held(mask, &copy), flags);
}

/* ------------------------------------------------------------------ exec */

/* Before an exec on this thread; returns whether to call exec_failed. */
static bool exec_begin(void) {
    sigset_t mine, old;
    sigemptyset(&mine);
    bool any = false;
    for (int i = 0; i < MAX_OWNED; i++) {
        int s = __atomic_load_n(&owned[i].sig, __ATOMIC_ACQUIRE);
        if (s && held(s)) {
            sigaddset(&mine, s);
            any = true;
        }
    }
    if (!any)
        return false;
    int saved = errno;
    int was = shim_enter();
    shim_cpu_exec_begin(); /* no new timer signal for this thread */
    pthread_sigmask(SIG_BLOCK, &mine, &old);
    struct timespec zero = {0, 0};
    while (shim_real.sigtimedwait(&mine, NULL, &zero) > 0)
        ;
    for (int i = 0; i < MAX_OWNED; i++)
        if (owned[i].sig && sigismember(&mine, owned[i].sig) == 1 &&
            __atomic_load_n(&owned[i].ignores, __ATOMIC_RELAXED)) {
            /* An ignored signal stays ignored in the new image; a
             * handler (the shim's) would be reset to SIG_DFL. */
            struct sigaction ign;
            memset(&ign, 0, sizeof ign);
            ign.sa_handler = SIG_IGN;
            shim_real.sigaction(owned[i].sig, &ign, NULL);
        }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    shim_leave(was);
    errno = saved;
    return true;
}

static void exec_failed(bool began) {
    if (!began)
        return;
    int saved = errno;
    int was = shim_enter();
    shim_cpu_exec_failed();
    shim_threads_exec_failed();
    shim_leave(was);
    errno = saved;
}

/* The real exec f(args), between exec_begin and (when it returns: it
 * failed) exec_failed; ENOSYS when libc has no f. */
#define AROUND_EXEC(f, ...)                                                                        \
    do {                                                                                           \
        if (!shim_real_ready() || !shim_real.f) {                                                  \
            errno = ENOSYS;                                                                        \
            return -1;                                                                             \
        }                                                                                          \
        bool began = exec_begin();                                                                 \
        int rc = shim_real.f(__VA_ARGS__);                                                         \
        exec_failed(began);                                                                        \
        return rc;                                                                                 \
    } while (0)

SHIM_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    AROUND_EXEC(execve, path, argv, envp);
}

SHIM_EXPORT int execv(const char *path, char *const argv[]) {
    AROUND_EXEC(execv, path, argv);
}

SHIM_EXPORT int execvp(const char *file, char *const argv[]) {
    AROUND_EXEC(execvp, file, argv);
}

SHIM_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    AROUND_EXEC(execvpe, file, argv, envp);
}

SHIM_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
    AROUND_EXEC(fexecve, fd, argv, envp);
}

/* execl, execle, execlp: the list becomes an argv on this stack, as
 * glibc's own do, then the v-form above runs. */
static size_t count_args(const char *arg0, va_list ap) {
    size_t n = 1;
    va_list c;
    va_copy(c, ap);
    for (const char *a = arg0; a; a = va_arg(c, const char *))
        n++;
    va_end(c);
    return n; /* arguments + the NULL */
}

/* Declares char *argv[] holding arg and the rest of the list up to and
 * including its NULL (read from ap). */
#define ARGV_FROM_LIST(argv, arg, ap)                                                              \
    size_t argv##_n = count_args(arg, ap);                                                         \
    char *argv[argv##_n];                                                                          \
    argv[0] = (char *)(arg);                                                                       \
    for (size_t i_ = 1; i_ < argv##_n; i_++)                                                       \
    argv[i_] = va_arg(ap, char *)

SHIM_EXPORT int execl(const char *path, const char *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    ARGV_FROM_LIST(argv, arg, ap);
    va_end(ap);
    return execv(path, argv);
}

SHIM_EXPORT int execlp(const char *file, const char *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    ARGV_FROM_LIST(argv, arg, ap);
    va_end(ap);
    return execvp(file, argv);
}

SHIM_EXPORT int execle(const char *path, const char *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    ARGV_FROM_LIST(argv, arg, ap);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return execve(path, argv, envp);
}
