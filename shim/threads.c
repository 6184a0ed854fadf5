/*
 * threads.c — the threads profile: the stack and state of every thread of
 * the process at one moment (the native analog of Go's goroutine profile;
 * on MAPPROF_SIGNAL it is Go's kill -QUIT).
 *
 * A capture lists /proc/self/task and asks each thread for its stack with
 * a real-time signal (MAPPROF_THREADS_SIGNAL) queued to that thread with
 * rt_tgsigqueueinfo, whose value names the capture and the thread's reply
 * slot. The handler, on the thread itself, unwinds the interrupted context
 * (stack.c, async-signal-safe), reads what the shim knows it is waiting
 * for (the mutex, rwlock or condition variable and since when: lock.h's
 * wait marks) and whether it was in a syscall, writes its slot and marks
 * it answered; the capturing thread waits for the answers, at most 200 ms
 * in all. A reply that comes later is ignored (the capture number moved
 * on); the reply buffer is never freed, so a late handler never writes
 * freed memory.
 *
 * Not every thread is signalled. One blocked in a call that any handler
 * cuts short with EINTR (poll, epoll_wait, select, nanosleep, sigtimedwait,
 * pause, ...: signal(7)) would see that EINTR: it is described from
 * /proc/self/task/<tid>/syscall instead (state syscall, the call's name,
 * its PC as the one frame). A thread that does not answer in time (it
 * blocks the signal, or is stopped) is reported with state no_answer, from
 * /proc the same way. The capturing thread itself and the shim's own
 * threads are left out.
 *
 * Samples: threads/count = 1 per thread; labels thread (name), tid, state
 * (running, mutex, rwlock, cond, syscall, no_answer), and when known
 * syscall (its name), lock (address, hex) with wait (ns since the wait
 * began). The stack's first frame is the interrupted PC (exact).
 *
 * Non-goals: threads created with raw clone outside the thread group;
 * stacks of threads that block the signal (no signal-free way exists to
 * unwind another thread of the same process safely).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "shim/shim.h"

#define MAX_THREADS  4096
#define ANSWER_NS    200000000 /* for all the answers of one capture */
#define MAX_OWN_TIDS 8

enum tstate { TS_RUNNING, TS_MUTEX, TS_RWLOCK, TS_COND, TS_SYSCALL, TS_NO_ANSWER, TS_SKIP };
static const char *const state_names[] = {"running", "mutex",     "rwlock", "cond",
                                          "syscall", "no_answer", "?"};

typedef struct reply {
    int tid;
    int answered; /* atomic: the handler finished */
    int state;
    int depth;
    long sys_nr; /* -1: unknown */
    const void *lock;
    int64_t since;
    char name[16];
    uint64_t pcs[]; /* stride - header words */
} reply;

static shim_spin capture_lock;
static unsigned char *buf; /* replies, `stride` bytes each; never freed */
static int buf_cap;        /* replies it holds */
static size_t stride;
static uint64_t gen;  /* atomic: the capture in progress (odd) or none (even) */
static int n_replies; /* atomic */
static int sig;       /* 0: no signal (every thread described from /proc) */
static const char *no_signal_why = "";
/* The last capture, for the profile's comments (under capture_lock). */
static int last_threads, last_asked, last_answered;
static int64_t last_capture_ns;
static int own_tids[MAX_OWN_TIDS]; /* the shim's own threads */
int shim_threads_marks;

static reply *at(int i) {
    return (reply *)(void *)(buf + (size_t)i * stride);
}

void shim_threads_own_thread(void) {
    int tid = (int)syscall(SYS_gettid);
    for (int i = 0; i < MAX_OWN_TIDS; i++) {
        int expected = 0;
        if (__atomic_compare_exchange_n(&own_tids[i], &expected, tid, false, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return;
    }
}

static bool is_own(int tid) {
    for (int i = 0; i < MAX_OWN_TIDS; i++)
        if (__atomic_load_n(&own_tids[i], __ATOMIC_RELAXED) == tid)
            return true;
    return false;
}

/* ------------------------------------------------------------ syscalls */

#if defined(__x86_64__)
/* Calls a handler always interrupts with EINTR, SA_RESTART or not
 * (signal(7)): those threads are not signalled. x86-64 numbers. */
static bool eintr_prone(long nr) {
    switch (nr) {
    case 7:   /* poll */
    case 23:  /* select */
    case 34:  /* pause */
    case 35:  /* nanosleep */
    case 128: /* rt_sigtimedwait */
    case 130: /* rt_sigsuspend */
    case 208: /* io_getevents */
    case 220: /* semtimedop */
    case 230: /* clock_nanosleep */
    case 232: /* epoll_wait */
    case 270: /* pselect6 */
    case 271: /* ppoll */
    case 281: /* epoll_pwait */
    case 441: /* epoll_pwait2 */
    case 65:  /* semop */
    case 70:  /* msgrcv */
    case 69:  /* msgsnd */
        return true;
    default:
        return false;
    }
}

static const char *syscall_name(long nr) {
    static const struct {
        long nr;
        const char *name;
    } names[] = {
        {0, "read"},
        {1, "write"},
        {7, "poll"},
        {17, "pread64"},
        {18, "pwrite64"},
        {19, "readv"},
        {20, "writev"},
        {23, "select"},
        {34, "pause"},
        {35, "nanosleep"},
        {42, "connect"},
        {43, "accept"},
        {44, "sendto"},
        {45, "recvfrom"},
        {46, "sendmsg"},
        {47, "recvmsg"},
        {61, "wait4"},
        {65, "semop"},
        {69, "msgsnd"},
        {70, "msgrcv"},
        {72, "fcntl"},
        {74, "fsync"},
        {128, "rt_sigtimedwait"},
        {130, "rt_sigsuspend"},
        {202, "futex"},
        {208, "io_getevents"},
        {220, "semtimedop"},
        {230, "clock_nanosleep"},
        {232, "epoll_wait"},
        {247, "waitid"},
        {257, "openat"},
        {270, "pselect6"},
        {271, "ppoll"},
        {281, "epoll_pwait"},
        {288, "accept4"},
        {299, "recvmmsg"},
        {307, "sendmmsg"},
        {441, "epoll_pwait2"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].nr == nr)
            return names[i].name;
    return NULL;
}

/*
 * Was the thread in a syscall when the signal came? The kernel leaves a
 * signature in the context it hands the handler: a call to be restarted
 * (SA_RESTART) has RIP back on its `syscall` instruction (0f 05) and RAX
 * holding the call's number again; a call cut short has RAX = -EINTR
 * right after that instruction. Both addresses are code the thread just
 * ran, so reading them is safe.
 */
static bool in_syscall(const ucontext_t *uc, long *nr) {
    const unsigned char *ip = (const unsigned char *)uc->uc_mcontext.gregs[REG_RIP];
    long rax = (long)uc->uc_mcontext.gregs[REG_RAX];
    if (ip && ip[0] == 0x0f && ip[1] == 0x05 && rax >= 0 && rax < 1024) {
        *nr = rax;
        return true;
    }
    if (ip && rax == -EINTR && ip[-2] == 0x0f && ip[-1] == 0x05) {
        *nr = -1;
        return true;
    }
    return false;
}
#else
static bool eintr_prone(long nr) {
    (void)nr;
    return false;
}
static const char *syscall_name(long nr) {
    (void)nr;
    return NULL;
}
static bool in_syscall(const ucontext_t *uc, long *nr) {
    (void)uc;
    (void)nr;
    return false;
}
#endif

/* ------------------------------------------------------------- handler */

static void on_capture(int signo, siginfo_t *si, void *uc) {
    if (si->si_code != SI_QUEUE || si->si_pid != getpid()) {
        shim_sig_not_ours(signo);
        return;
    }
    uint64_t v = (uint64_t)(uintptr_t)si->si_value.sival_ptr;
    uint32_t g = (uint32_t)(v >> 32), idx = (uint32_t)v;
    if (g != (uint32_t)__atomic_load_n(&gen, __ATOMIC_ACQUIRE) ||
        idx >= (uint32_t)__atomic_load_n(&n_replies, __ATOMIC_ACQUIRE))
        return; /* a capture that gave up on us */
    int saved = errno;
    reply *r = at((int)idx);
    if (r->tid != (int)syscall(SYS_gettid)) {
        errno = saved;
        return;
    }
    int kind = shim_tls_v.wait_kind;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    long nr = -1;
    if (kind != SHIM_WAIT_NONE) {
        r->state = kind == SHIM_WAIT_MUTEX    ? TS_MUTEX
                   : kind == SHIM_WAIT_RWLOCK ? TS_RWLOCK
                                              : TS_COND;
        r->lock = shim_tls_v.wait_on;
        r->since = shim_tls_v.wait_since;
    } else if (in_syscall(uc, &nr)) {
        r->state = TS_SYSCALL;
        r->sys_nr = nr;
    } else {
        r->state = TS_RUNNING;
    }
    int was = shim_enter();
    int d = shim_stack_capture_signal(uc, r->pcs, (int)((stride - sizeof(reply)) / 8));
    shim_leave(was);
    /* A thread waiting inside an interposer (pthread_mutex_lock's, say)
     * shows the program's frames around the real call, as it would
     * without the shim. */
    int kept = 0;
    for (int i = 0; i < d; i++)
        if (!shim_stack_is_own(r->pcs[i]))
            r->pcs[kept++] = r->pcs[i];
    r->depth = kept;
    __atomic_store_n(&r->answered, 1, __ATOMIC_RELEASE);
    errno = saved;
}

/* ------------------------------------------------------------- capture */

struct tid_list {
    int *tids;
    int n, cap;
};

static void add_tid(int tid, void *ctx) {
    struct tid_list *l = ctx;
    if (l->n < l->cap)
        l->tids[l->n++] = tid;
}

/* The reply buffer for n threads (capture_lock held); false: no memory. */
static bool reserve(int n) {
    if (n <= buf_cap)
        return true;
    int want = n < 64 ? 64 : n;
    unsigned char *b = shim_calloc((size_t)want * stride);
    if (!b)
        return false;
    /* The old buffer is dropped, not freed: a late handler may still be
     * writing a slot of it. */
    __atomic_store_n(&buf, b, __ATOMIC_RELEASE);
    buf_cap = want;
    return true;
}

/* From /proc, for a thread not asked or not answering. */
static void describe_from_proc(reply *r, int state) {
    long nr = -1;
    uint64_t pc = 0;
    r->state = state;
    r->depth = 0;
    if (shim_proc_syscall(r->tid, &nr, &pc) == 1) {
        r->sys_nr = nr;
        if (pc) {
            r->pcs[0] = pc;
            r->depth = 1;
        }
    }
}

static void add_sample(shim_snapshot *s, const reply *r, int64_t now) {
    bool waits = r->state == TS_MUTEX || r->state == TS_RWLOCK || r->state == TS_COND;
    const char *sys = r->sys_nr >= 0 ? syscall_name(r->sys_nr) : NULL;
    int n = 3 + (waits ? 2 : 0) + (sys ? 1 : 0);
    shim_sample *sm = shim_snapshot_add(s, n);
    if (!sm)
        return;
    sm->stack = shim_stack_intern(r->pcs, r->depth);
    sm->values[0] = 1;
    int i = 0;
    sm->labels[i++] = (shim_label){"thread", shim_intern_str(r->name[0] ? r->name : "?"), 0, NULL};
    sm->labels[i++] = (shim_label){"tid", NULL, r->tid, NULL};
    sm->labels[i++] = (shim_label){"state", state_names[r->state], 0, NULL};
    if (sys)
        sm->labels[i++] = (shim_label){"syscall", sys, 0, NULL};
    if (waits) {
        char hex[32];
        snprintf(hex, sizeof hex, "%#llx", (unsigned long long)(uintptr_t)r->lock);
        sm->labels[i++] = (shim_label){"lock", shim_intern_str(hex), 0, NULL};
        sm->labels[i++] = (shim_label){"wait", NULL, now - r->since, "nanoseconds"};
    }
}

/* A capture of every thread into s (guard set by the caller). */
void shim_threads_snapshot(shim_snapshot *s) {
    static int tids_buf[MAX_THREADS];
    shim_spin_lock(&capture_lock);
    if (!stride)
        stride = sizeof(reply) + (size_t)shim_cfg.depth * sizeof(uint64_t);
    struct tid_list l = {tids_buf, 0, MAX_THREADS};
    shim_proc_each_task(add_tid, &l);
    if (!reserve(l.n)) {
        s->dropped += (uint64_t)l.n;
        shim_spin_unlock(&capture_lock);
        return;
    }
    int64_t t_start = shim_now_ns();
    pid_t pid = getpid(), self = (pid_t)syscall(SYS_gettid);
    uid_t uid = getuid();
    uint64_t g = __atomic_add_fetch(&gen, 1, __ATOMIC_ACQ_REL);
    __atomic_store_n(&n_replies, l.n, __ATOMIC_RELEASE);
    int use_sig = sig && shim_sig_holds(sig) ? sig : 0;
    int asked = 0;
    for (int i = 0; i < l.n; i++) {
        reply *r = at(i);
        memset(r, 0, sizeof *r);
        r->tid = l.tids[i];
        r->sys_nr = -1;
        if (r->tid == self || is_own(r->tid)) {
            r->state = TS_SKIP;
            continue;
        }
        long nr = -1;
        uint64_t pc = 0;
        if (!use_sig || (shim_proc_syscall(r->tid, &nr, &pc) == 1 && eintr_prone(nr))) {
            describe_from_proc(r, use_sig ? TS_SYSCALL : TS_NO_ANSWER);
            __atomic_store_n(&r->answered, 2, __ATOMIC_RELEASE);
            continue;
        }
        siginfo_t si;
        memset(&si, 0, sizeof si);
        si.si_signo = use_sig;
        si.si_code = SI_QUEUE;
        si.si_pid = pid;
        si.si_uid = uid;
        si.si_value.sival_ptr = (void *)(uintptr_t)(((uint64_t)(uint32_t)g << 32) | (uint32_t)i);
        if (syscall(SYS_rt_tgsigqueueinfo, pid, r->tid, use_sig, &si) != 0) {
            describe_from_proc(r, TS_NO_ANSWER); /* gone meanwhile, or no queue room */
            __atomic_store_n(&r->answered, 2, __ATOMIC_RELEASE);
            continue;
        }
        asked++;
    }
    /* Names meanwhile: the answers come in while /proc is read. */
    for (int i = 0; i < l.n; i++)
        if (at(i)->state != TS_SKIP)
            shim_proc_thread_name(at(i)->tid, at(i)->name);
    int64_t deadline = shim_now_ns() + ANSWER_NS;
    while (asked) {
        int missing = 0;
        for (int i = 0; i < l.n; i++)
            missing +=
                at(i)->state != TS_SKIP && !__atomic_load_n(&at(i)->answered, __ATOMIC_ACQUIRE);
        if (!missing || shim_now_ns() > deadline)
            break;
        struct timespec t = {0, 100000};
        nanosleep(&t, NULL);
    }
    __atomic_add_fetch(&gen, 1, __ATOMIC_ACQ_REL); /* late answers are ignored */
    last_capture_ns = shim_now_ns() - t_start;
    last_threads = l.n;
    last_asked = asked;
    last_answered = 0;
    for (int i = 0; i < l.n; i++)
        last_answered += __atomic_load_n(&at(i)->answered, __ATOMIC_ACQUIRE) == 1;
    int64_t now = shim_now_ns();
    for (int i = 0; i < l.n; i++) {
        reply *r = at(i);
        if (r->state == TS_SKIP)
            continue;
        if (!__atomic_load_n(&r->answered, __ATOMIC_ACQUIRE)) {
            describe_from_proc(r, TS_NO_ANSWER);
        } else if (r->state == TS_RUNNING) {
            /* The context's signature of a syscall can be missed (a call
             * the kernel restarts in a way that leaves no trace in it):
             * a thread /proc shows blocked in one now was in it. */
            long nr = -1;
            uint64_t pc = 0;
            if (shim_proc_syscall(r->tid, &nr, &pc) == 1 && nr >= 0) {
                r->state = TS_SYSCALL;
                r->sys_nr = nr;
            }
        }
        add_sample(s, r, now);
    }
    shim_spin_unlock(&capture_lock);
}

void shim_threads_describe(char *out, size_t cap) {
    snprintf(out, cap,
             "mapprof: threads_signal=%d threads=%d asked=%d answered=%d capture_ns=%lld%s%s", sig,
             last_threads, last_asked, last_answered, (long long)last_capture_ns, sig ? "" : " ",
             sig ? "" : no_signal_why + 9);
}

/* ----------------------------------------------------------- lifecycle */

static void install(int s) {
    shim_sig_install(s, on_capture);
}

static void threads_yield(void) {
    shim_log("threads: the program installs its own handler for signal %d; threads are "
             "described from /proc from now on (no stacks)",
             sig);
}

/* Take the capture signal, when the program left it at SIG_DFL (guard set;
 * idempotent). Without it captures still list every thread from /proc. */
void shim_threads_start(void) {
    __atomic_store_n(&shim_threads_marks, 1, __ATOMIC_RELAXED);
    if (sig || !shim_cfg.threads_signal)
        return;
    int s = shim_cfg.threads_signal;
    struct sigaction old;
    if (shim_real.sigaction(s, NULL, &old) != 0 || old.sa_handler != SIG_DFL ||
        s == shim_cfg.signal || s == shim_cfg.cpu_signal) {
        no_signal_why = "mapprof: threads signal in use by the program: states from /proc only";
        shim_log("threads: signal %d is in use (by the program, or another MAPPROF_ signal); "
                 "threads are described from /proc only (no stacks)",
                 s);
        return;
    }
    install(s);
    shim_sig_own(s, threads_yield);
    __atomic_store_n(&sig, s, __ATOMIC_RELEASE);
}

void shim_threads_exec_failed(void) {
    if (sig && shim_sig_holds(sig))
        install(sig); /* sigown.c may have set SIG_IGN for the new image */
}

void shim_threads_after_fork(void) {
    shim_spin_unlock(&capture_lock);
    for (int i = 0; i < MAX_OWN_TIDS; i++)
        own_tids[i] = 0; /* the shim's threads did not survive */
}

void shim_threads_lock_all(bool lock) {
    if (lock)
        shim_spin_lock(&capture_lock);
    else
        shim_spin_unlock(&capture_lock);
}
