/*
 * cpusig.c — the cpu profile's signal stays invisible to the program.
 *
 * While the cpu profile holds its signal (MAPPROF_CPU_SIGNAL, SIGPROF by
 * default; it takes it only when the program left it at SIG_DFL), the
 * program's view of that signal is kept as if the shim were absent:
 *
 *   sigaction / signal / sysv_signal: a query answers the program's own
 *     disposition (SIG_DFL, or SIG_IGN once it asked for that). Setting
 *     SIG_DFL or SIG_IGN is recorded and emulated by cpu.c's handler
 *     (a kill() of the signal then terminates or is ignored as it would
 *     be). Installing a handler means the program uses the signal: the
 *     cpu profile yields it first (timers deleted, pending timer signals
 *     delivered to the shim, one line), then the program's handler is
 *     installed exactly as asked. coreutils sort does this (its cleanup
 *     handler covers SIGPROF), and so does any program that profiles
 *     itself.
 *   sigwait, sigwaitinfo, sigtimedwait, signalfd: a program that blocks
 *     every signal and waits for them synchronously (a daemon's signal
 *     thread) would receive a pending timer signal; the signal is taken out
 *     of the set it waits for (unless it is the only member: then the
 *     program asked for exactly that signal and gets its call unchanged).
 *   the exec family: a timer signal pending at execve would survive into
 *     the new image, where its disposition is back to SIG_DFL and kills
 *     it. Before the real call the thread deletes its timer and takes any
 *     pending timer signal; a failed exec re-arms it. A program that had
 *     set SIG_IGN gets it ignored in the new image, as without the shim.
 *
 * Everything else passes straight through, and so does every call while
 * the profile does not hold a signal or from the shim itself (guard).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "shim/shim.h"

/* Does the cpu profile hold s right now (and the call is the program's)? */
static bool held(int s) {
    return !shim_tls_v.guard && s > 0 && shim_cpu_holds(s);
}

static void program_view(struct sigaction *old) {
    memset(old, 0, sizeof *old);
    old->sa_handler = shim_cpu_program_ignores() ? SIG_IGN : SIG_DFL;
}

/* The program sets the disposition of the held signal: see the header. */
static int set_held(int s, const struct sigaction *act, struct sigaction *old) {
    struct sigaction prev;
    program_view(&prev);
    if (act->sa_handler == SIG_DFL || act->sa_handler == SIG_IGN) {
        shim_cpu_program_disposition(act->sa_handler == SIG_IGN);
    } else {
        int was = shim_enter();
        shim_cpu_yield();
        shim_leave(was);
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
            program_view(old);
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

/* set without the held signal in *out; returns the set to pass on. */
static const sigset_t *without_held(const sigset_t *set, sigset_t *out) {
    int s = shim_cfg.cpu_signal;
    if (!set || !held(s) || sigismember(set, s) != 1)
        return set;
    *out = *set;
    sigdelset(out, s);
    return sigisemptyset(out) ? set : out;
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
    if (!held(shim_cfg.cpu_signal))
        return false;
    int saved = errno;
    int was = shim_enter();
    shim_cpu_exec_begin();
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
    shim_leave(was);
    errno = saved;
}

#define REAL_OR_ENOSYS(f)                                                                          \
    do {                                                                                           \
        if (!shim_real_ready() || !shim_real.f) {                                                  \
            errno = ENOSYS;                                                                        \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

SHIM_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    REAL_OR_ENOSYS(execve);
    bool b = exec_begin();
    int rc = shim_real.execve(path, argv, envp);
    exec_failed(b);
    return rc;
}

SHIM_EXPORT int execv(const char *path, char *const argv[]) {
    REAL_OR_ENOSYS(execv);
    bool b = exec_begin();
    int rc = shim_real.execv(path, argv);
    exec_failed(b);
    return rc;
}

SHIM_EXPORT int execvp(const char *file, char *const argv[]) {
    REAL_OR_ENOSYS(execvp);
    bool b = exec_begin();
    int rc = shim_real.execvp(file, argv);
    exec_failed(b);
    return rc;
}

SHIM_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    REAL_OR_ENOSYS(execvpe);
    bool b = exec_begin();
    int rc = shim_real.execvpe(file, argv, envp);
    exec_failed(b);
    return rc;
}

SHIM_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
    REAL_OR_ENOSYS(fexecve);
    bool b = exec_begin();
    int rc = shim_real.fexecve(fd, argv, envp);
    exec_failed(b);
    return rc;
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

SHIM_EXPORT int execl(const char *path, const char *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    size_t n = count_args(arg, ap);
    char *argv[n];
    argv[0] = (char *)arg;
    for (size_t i = 1; i < n; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    return execv(path, argv);
}

SHIM_EXPORT int execlp(const char *file, const char *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    size_t n = count_args(arg, ap);
    char *argv[n];
    argv[0] = (char *)arg;
    for (size_t i = 1; i < n; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    return execvp(file, argv);
}

SHIM_EXPORT int execle(const char *path, const char *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    size_t n = count_args(arg, ap);
    char *argv[n];
    argv[0] = (char *)arg;
    for (size_t i = 1; i < n; i++)
        argv[i] = va_arg(ap, char *);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return execve(path, argv, envp);
}
