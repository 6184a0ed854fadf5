/*
 * cpu.c — the cpu profile: where the program's threads spend CPU time.
 *
 * Every thread of the program gets its own POSIX timer on its own CPU-time
 * clock (timer_create on the thread's CPU clock, SIGEV_THREAD_ID to that
 * thread), firing MAPPROF_CPU_HZ times per CPU-second it runs. A
 * process-wide ITIMER_PROF would do with one timer, but the kernel hands
 * its signal to whichever thread it likes and undercounts beyond a couple
 * of busy threads; a per-thread timer charges each thread exactly its own
 * time, and never fires while the thread sleeps.
 *
 * Threads: the main thread and any thread already running are armed when
 * the profile starts (found in /proc/self/task); later ones are armed by
 * thread.c's pthread_create wrapper as their first act, and disarm when
 * their start routine returns. Threads that end otherwise (pthread_exit,
 * cancellation) or were never ours are reaped by the drainer when their
 * tid is gone. A thread that starts with the signal blocked is not armed
 * (its signals would only pile up): it is counted in the comments.
 *
 * The handler (async-signal-safe, no lock, no allocation, no libdw)
 * unwinds the interrupted context (stack.c) straight into the next record
 * of its thread's ring, a single-producer single-consumer queue: the
 * handler advances head, the drainer (the shim's helper thread, every
 * drain period, and every snapshot) advances tail, interns the stacks and
 * adds them up by (stack, thread name). A ring that is full loses the
 * sample but not its time: it is counted and shown under a frame named
 * for the reason, like the samples that could not be unwound (the thread
 * was inside the profiler's own unwinding or a fork, or in dlclose), so
 * the profile's total stays the CPU time the timers measured.
 *
 * The signal: MAPPROF_CPU_SIGNAL (SIGPROF). Never taken from the program:
 * a handler or SIG_IGN already installed, the signal blocked on the
 * starting thread, or the dump signal chosen alike, switches the profile
 * off with one line. Once held, the program still sees the signal as its
 * own (sigown.c): its SIG_DFL/SIG_IGN are emulated for signals that are
 * not our timers', and a handler it installs makes the profile yield the
 * signal (timers deleted, pending timer signals taken first, one line).
 * A raw rt_sigaction behind libc's back is found at the next drain.
 *
 * Non-goals: wall-clock (off-CPU) sampling; threads created with raw
 * clone(); samples of the shim's own threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim/shim.h"

#define MAX_SLOTS   4096
#define RING        32u         /* records per thread: 2x what one drain period fills */
#define SLOT_MAGIC  0x6d617000u /* in a timer's sigval beside the slot index */
#define REAP_NS     1000000000  /* how often gone threads are looked for */
#define NAME_TTL_NS 1000000000  /* thread names are re-read at most this often */

/* Record word 0: depth (bits 0-15), why it has no stack (16-23), the
 * periods it stands for (32-63); the stack follows. */
enum lost {
    LOST_NONE = 0,
    LOST_BUSY,    /* inside the profiler's own unwinding, or a fork */
    LOST_FAILED,  /* libunwind found no frame */
    LOST_DLCLOSE, /* in dlclose: unwind info may be going away */
    LOST_FULL,    /* the ring was full (counted, no record) */
    LOST_COUNT
};

typedef struct cpu_slot {
    int tid;    /* 0: free (changed under cpu_lock) */
    bool armed; /* timer exists */
    bool done;  /* the thread's start routine returned: timer gone */
    timer_t timer;
    uint32_t head; /* atomic: next record the handler writes */
    uint32_t tail; /* atomic: next record the drainer reads */
    uint64_t full; /* atomic: samples lost to a full ring */
    int64_t name_at;
    char name[16];
    uint64_t *ring; /* RING records of stride words; kept when the slot is reused */
} cpu_slot;

/* A sum: CPU samples of one stack on threads of one name. */
typedef struct cpu_agg {
    struct cpu_agg *next; /* same-key chain */
    const shim_stack *stack;
    int64_t samples; /* signals handled there */
    double periods;  /* the CPU time they stand for, in periods (see drain_slot) */
    char name[16];
} cpu_agg;

static shim_spin cpu_lock; /* slots' tid/armed/name, the sums, draining */
static cpu_slot *slots[MAX_SLOTS];
static int n_slots;     /* high-water mark of used indexes */
static shim_table sums; /* key -> cpu_agg chain */
static unsigned stride; /* words per record: 1 + depth */
static int sig;         /* 0: the profile is off */
static int64_t period_ns;
static int64_t next_reap;
static bool stopped;       /* sampling ended (final dump, or the program took the signal) */
static int yielded;        /* atomic: the program took the signal (sigown.c) */
static int paused;         /* atomic: no live window and no cpu profile: timers off */
static uint64_t overruns;  /* expirations folded into one signal (diagnostic) */
static int64_t handler_ns; /* atomic: time inside the handler, all threads */
static int64_t drain_ns;   /* time draining (under cpu_lock) */
static uint64_t samples;   /* atomic: handler runs that recorded something */
static uint64_t unarmed;   /* threads not sampled (signal blocked, no slot, no timer) */

/* Distinct code for each reason, so a profile shows the reason as a frame.
 * noinline and a body each: identical empty functions could be folded. */
__attribute__((noinline)) static void mapprof_cpu_profiler_busy(void) {
    __asm__ volatile("" ::: "memory");
}
__attribute__((noinline)) static void mapprof_cpu_unwind_failed(void) {
    __asm__ volatile("nop" ::: "memory");
}
__attribute__((noinline)) static void mapprof_cpu_in_dlclose(void) {
    __asm__ volatile("nop; nop" ::: "memory");
}
__attribute__((noinline)) static void mapprof_cpu_buffer_full(void) {
    __asm__ volatile("nop; nop; nop" ::: "memory");
}

static uint64_t lost_pc(enum lost why) {
    void (*fn)(void) = why == LOST_BUSY      ? mapprof_cpu_profiler_busy
                       : why == LOST_DLCLOSE ? mapprof_cpu_in_dlclose
                       : why == LOST_FULL    ? mapprof_cpu_buffer_full
                                             : mapprof_cpu_unwind_failed;
    return (uint64_t)(uintptr_t)fn;
}

/* The CPU-time clock of thread tid (the kernel's encoding, as glibc's
 * pthread_getcpuclockid builds it: per-thread, scheduler time). */
static clockid_t thread_clock(int tid) {
    return (clockid_t)(((unsigned)~tid << 3) | 6);
}

static int self_tid(void) {
    if (SHIM_UNLIKELY(shim_tls_v.tid == 0))
        shim_tls_v.tid = (int)syscall(SYS_gettid);
    return shim_tls_v.tid;
}

/* ------------------------------------------------------------- handler */

static void on_tick(int signo, siginfo_t *si, void *uc) {
    uintptr_t v = (uintptr_t)si->si_value.sival_ptr;
    unsigned idx = (unsigned)(v & 0xfff);
    if (si->si_code != SI_TIMER || (uint32_t)(v & ~(uintptr_t)0xfff) != SLOT_MAGIC ||
        idx >= MAX_SLOTS) {
        shim_sig_not_ours(signo);
        return;
    }
    cpu_slot *s = __atomic_load_n(&slots[idx], __ATOMIC_ACQUIRE);
    int saved = errno;
    if (!s || __atomic_load_n(&s->tid, __ATOMIC_RELAXED) != self_tid()) {
        errno = saved;
        return;
    }
    /* The kernel checks CPU timers at its scheduler tick (often 4 ms), so
     * above the tick rate (or when its signal is late) one signal stands
     * for several periods: it says how many more in si_overrun, and the
     * drain counts them all (drain_slot). */
    uint64_t weight = 1;
    if (si->si_overrun > 0) {
        weight += (uint64_t)si->si_overrun;
        __atomic_add_fetch(&overruns, (uint64_t)si->si_overrun, __ATOMIC_RELAXED);
    }
    int64_t t0 = shim_now_ns(); /* clock_gettime: async-signal-safe (vDSO) */
    uint32_t h = __atomic_load_n(&s->head, __ATOMIC_RELAXED);
    if (h - __atomic_load_n(&s->tail, __ATOMIC_ACQUIRE) >= RING) {
        __atomic_add_fetch(&s->full, weight, __ATOMIC_RELAXED);
        errno = saved;
        return;
    }
    uint64_t *rec = s->ring + (size_t)(h % RING) * stride;
    enum lost why = LOST_NONE;
    int d = 0;
    if (shim_tls_v.no_unwind) {
        why = LOST_DLCLOSE;
    } else {
        /* The guard: libunwind's own pthread calls pass our interposers. */
        int was = shim_enter();
        d = shim_stack_capture_signal(uc, rec + 1, (int)stride - 1);
        shim_leave(was);
        why = d < 0 ? LOST_BUSY : d == 0 ? LOST_FAILED : LOST_NONE;
        if (d < 0)
            d = 0;
    }
    rec[0] = (uint64_t)d | (uint64_t)why << 16 | (weight > 0xffffffff ? 0xffffffff : weight) << 32;
    __atomic_store_n(&s->head, h + 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&samples, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&handler_ns, shim_now_ns() - t0, __ATOMIC_RELAXED);
    errno = saved;
}

/* --------------------------------------------------------------- slots */

/* Arm tid's timer in slot s (cpu_lock held). False: no timer. */
static bool arm(cpu_slot *s, int idx, int tid) {
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = sig;
    ev._sigev_un._tid = tid;
    ev.sigev_value.sival_ptr = (void *)(uintptr_t)(SLOT_MAGIC | (unsigned)idx);
    if (timer_create(thread_clock(tid), &ev, &s->timer) != 0)
        return false;
    struct itimerspec it = {{period_ns / 1000000000, period_ns % 1000000000},
                            {period_ns / 1000000000, period_ns % 1000000000}};
    if (timer_settime(s->timer, 0, &it, NULL) != 0) {
        timer_delete(s->timer);
        return false;
    }
    s->armed = true;
    return true;
}

static void disarm(cpu_slot *s) {
    if (s->armed)
        timer_delete(s->timer);
    s->armed = false;
}

/* The slot of tid (cpu_lock held): its old one (the tid was reused, or the
 * scan and the thread itself both registered it) or a free one. -1: none. */
static int slot_for(int tid) {
    int free_idx = -1;
    for (int i = 0; i < n_slots; i++) {
        cpu_slot *s = slots[i];
        if (s && s->tid == tid)
            return i;
        if (free_idx < 0 && (!s || !s->tid))
            free_idx = i;
    }
    if (free_idx < 0 && n_slots < MAX_SLOTS)
        free_idx = n_slots++;
    if (free_idx < 0)
        return -1;
    if (!slots[free_idx]) {
        cpu_slot *s = shim_calloc(sizeof *s);
        uint64_t *ring = s ? shim_calloc((size_t)RING * stride * sizeof(uint64_t)) : NULL;
        if (!ring) {
            shim_free(s);
            return -1;
        }
        s->ring = ring;
        __atomic_store_n(&slots[free_idx], s, __ATOMIC_RELEASE);
    }
    return free_idx;
}

static void add_sum(const shim_stack *st, const char *name, int64_t n, double periods);
static void drain_slot(cpu_slot *s);

/* Start sampling thread tid (guard set). */
static void register_tid(int tid) {
    shim_spin_lock(&cpu_lock);
    int idx = stopped ? -1 : slot_for(tid);
    cpu_slot *s = idx >= 0 ? slots[idx] : NULL;
    if (s && s->tid == tid) { /* a reused tid: the old thread's records first */
        drain_slot(s);
        disarm(s);
    }
    if (s) {
        __atomic_store_n(&s->tid, 0, __ATOMIC_RELAXED); /* the handler ignores it meanwhile */
        __atomic_store_n(&s->head, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->tail, 0, __ATOMIC_RELAXED);
        s->done = false;
        s->name[0] = 0;
        s->name_at = 0;
        __atomic_store_n(&s->tid, tid, __ATOMIC_RELEASE);
        if (!arm(s, idx, tid)) {
            s->tid = 0;
            s = NULL;
        }
    }
    if (!s && !stopped)
        unarmed++;
    shim_spin_unlock(&cpu_lock);
}

static bool sig_blocked_here(void) {
    sigset_t cur;
    return pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0 && sigismember(&cur, sig) == 1;
}

void shim_cpu_thread_begin(void) {
    if (!__atomic_load_n(&sig, __ATOMIC_ACQUIRE))
        return;
    int was = shim_enter();
    if (sig_blocked_here()) {
        /* Not a misconfiguration (xz's workers start with every signal
         * blocked): counted in the profile's comments, no line. */
        shim_spin_lock(&cpu_lock);
        unarmed++;
        shim_spin_unlock(&cpu_lock);
    } else {
        register_tid(self_tid());
    }
    shim_leave(was);
}

void shim_cpu_thread_end(void) {
    if (!__atomic_load_n(&sig, __ATOMIC_ACQUIRE))
        return;
    int was = shim_enter();
    int tid = self_tid();
    shim_spin_lock(&cpu_lock);
    for (int i = 0; i < n_slots; i++)
        if (slots[i] && slots[i]->tid == tid) {
            disarm(slots[i]);
            slots[i]->done = true; /* the drainer frees it once drained */
        }
    shim_spin_unlock(&cpu_lock);
    /* A signal already pending would be discarded at exit anyway; blocked
     * now, it cannot land in a slot the drainer is freeing. */
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_BLOCK, &one, NULL);
    shim_leave(was);
}

/* ------------------------------------------------------------ draining */

static uint64_t name_hash(const char *name) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *name; name++)
        h = (h ^ (unsigned char)*name) * 0x100000001b3ull;
    return h;
}

static void add_sum(const shim_stack *st, const char *name, int64_t n, double periods) {
    if (!st)
        return;
    uint64_t key = shim_hash64(st->hash ^ name_hash(name)) | 1;
    cpu_agg *head = shim_table_get(&sums, key);
    for (cpu_agg *a = head; a; a = a->next)
        if (a->stack == st && !strcmp(a->name, name)) {
            a->samples += n;
            a->periods += periods;
            return;
        }
    cpu_agg *a = shim_calloc(sizeof *a);
    if (!a)
        return;
    a->stack = st;
    a->samples = n;
    a->periods = periods;
    snprintf(a->name, sizeof a->name, "%s", name);
    a->next = head;
    if (shim_table_put(&sums, key, a) < 0)
        shim_free(a);
}

static void read_name(cpu_slot *s) {
    shim_proc_thread_name(s->tid, s->name); /* keeps the last name when it fails */
}

static const shim_stack *lost_stack(enum lost why) {
    uint64_t pc = lost_pc(why);
    return shim_stack_intern(&pc, 1);
}

/*
 * Move s's records into the sums (cpu_lock held). The periods a record
 * stands for (1 + the expirations its signal folded in) are spread evenly
 * over the records of this drain, not given to the one stack whose signal
 * came late: the folded periods ran at unknown places during this window,
 * and each record is an equally good sample of it. Tied to one stack,
 * they made a single late signal weigh 3 or 4 samples, and a loaded
 * machine (where the kernel folds more) moved the shares of a 3 s profile
 * by 5 points; spread, the shares are what the signals saw and the total
 * is still every period the timer counted.
 */
static void drain_slot(cpu_slot *s) {
    uint32_t t = __atomic_load_n(&s->tail, __ATOMIC_RELAXED);
    uint32_t h = __atomic_load_n(&s->head, __ATOMIC_ACQUIRE);
    uint64_t full = __atomic_exchange_n(&s->full, 0, __ATOMIC_RELAXED);
    if (t == h && !full)
        return;
    int64_t now = shim_now_ns();
    if (!s->name[0] || now - s->name_at > NAME_TTL_NS) {
        read_name(s);
        s->name_at = now;
    }
    uint64_t periods = 0;
    for (uint32_t i = t; i != h; i++)
        periods += s->ring[(size_t)(i % RING) * stride] >> 32;
    double each = h != t ? (double)periods / (double)(h - t) : 0;
    for (; t != h; t++) {
        const uint64_t *rec = s->ring + (size_t)(t % RING) * stride;
        int d = (int)(rec[0] & 0xffff);
        enum lost why = (enum lost)((rec[0] >> 16) & 0xff);
        add_sum(why == LOST_NONE ? shim_stack_intern(rec + 1, d) : lost_stack(why), s->name, 1,
                each);
    }
    __atomic_store_n(&s->tail, t, __ATOMIC_RELEASE);
    if (full)
        add_sum(lost_stack(LOST_FULL), s->name, (int64_t)full, (double)full);
}

/* Is our handler still the one installed? */
static bool handler_ours(void) {
    struct sigaction cur;
    return shim_real.sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
           cur.sa_sigaction == on_tick;
}

static void drain_all(bool reap) {
    pid_t pid = shim_pid();
    shim_spin_lock(&cpu_lock);
    int64_t t0 = shim_now_ns();
    for (int i = 0; i < n_slots; i++) {
        cpu_slot *s = slots[i];
        if (!s || !s->tid)
            continue;
        drain_slot(s);
        bool gone = s->done;
        if (!gone && reap) {
            errno = 0;
            gone = syscall(SYS_tgkill, pid, s->tid, 0) != 0 && errno == ESRCH;
        }
        if (gone) {
            disarm(s);
            __atomic_store_n(&s->tid, 0, __ATOMIC_RELEASE);
        }
    }
    drain_ns += shim_now_ns() - t0;
    shim_spin_unlock(&cpu_lock);
}

static void stop_all(void) {
    shim_spin_lock(&cpu_lock);
    stopped = true;
    for (int i = 0; i < n_slots; i++)
        if (slots[i])
            disarm(slots[i]);
    shim_spin_unlock(&cpu_lock);
}

void shim_cpu_tick(void) {
    if (!shim_cpu_on() || stopped)
        return;
    int was = shim_enter();
    int64_t now = shim_now_ns();
    bool reap = now >= next_reap;
    if (reap)
        next_reap = now + REAP_NS;
    if (shim_sig_holds(sig) && !handler_ours()) {
        /* Changed behind libc's back (a raw rt_sigaction, e.g. by another
         * runtime): sigown.c could not hand it over in order. */
        __atomic_store_n(&yielded, 1, __ATOMIC_RELEASE);
        stop_all();
        shim_log("cpu: the program installed its own handler for signal %d; cpu sampling "
                 "stopped (the profile covers the time before)",
                 sig);
    }
    drain_all(reap);
    shim_leave(was);
}

/* A ring holds RING records; a thread fills at most one per period of its
 * CPU time, so draining every RING/2 periods leaves room for a late drain. */
int shim_cpu_drain_ms(void) {
    int64_t ms = (int64_t)(RING / 2) * period_ns / 1000000;
    return ms < 5 ? 5 : ms > 200 ? 200 : (int)ms;
}

bool shim_cpu_on(void) {
    return __atomic_load_n(&sig, __ATOMIC_ACQUIRE) != 0 &&
           !__atomic_load_n(&paused, __ATOMIC_ACQUIRE);
}

/* ------------------------------------------------------------ snapshot */

struct snap_ctx {
    shim_snapshot *s;
};

static void snap_one(uint64_t key, void *val, void *ctx) {
    (void)key;
    struct snap_ctx *sc = ctx;
    for (cpu_agg *a = val; a; a = a->next) {
        shim_sample *sm = shim_snapshot_add(sc->s, 1);
        if (!sm)
            return;
        sm->stack = a->stack;
        sm->values[0] = a->samples;
        sm->values[1] = (int64_t)(a->periods * (double)period_ns + 0.5);
        sm->labels[0] = (shim_label){"thread", a->name, 0, NULL};
    }
}

void shim_cpu_snapshot(shim_snapshot *s) {
    if (sig)
        drain_all(false);
    shim_spin_lock(&cpu_lock);
    struct snap_ctx sc = {s};
    shim_table_each(&sums, snap_one, &sc);
    shim_spin_unlock(&cpu_lock);
}

int64_t shim_cpu_period_ns(void) {
    return period_ns ? period_ns : 1000000000 / SHIM_DEFAULT_CPU_HZ;
}

void shim_cpu_describe(char *buf, size_t cap) {
    int armed = 0;
    shim_spin_lock(&cpu_lock);
    for (int i = 0; i < n_slots; i++)
        armed += slots[i] && slots[i]->tid && slots[i]->armed;
    snprintf(buf, cap,
             "mapprof: cpu_hz=%u cpu_signal=%d threads_sampled_now=%d threads_not_sampled=%llu "
             "timer_overruns=%llu stopped=%d handler_runs=%llu handler_ns=%lld drain_ns=%lld",
             shim_cfg.cpu_hz, shim_cfg.cpu_signal, armed, (unsigned long long)unarmed,
             (unsigned long long)__atomic_load_n(&overruns, __ATOMIC_RELAXED), (int)stopped,
             (unsigned long long)__atomic_load_n(&samples, __ATOMIC_RELAXED),
             (long long)__atomic_load_n(&handler_ns, __ATOMIC_RELAXED), (long long)drain_ns);
    shim_spin_unlock(&cpu_lock);
}

/* ------------------------------------------------------------ lifecycle */

static void free_chain(uint64_t key, void *val, void *ctx) {
    (void)key;
    (void)ctx;
    for (cpu_agg *a = val, *next; a; a = next) {
        next = a->next;
        shim_free(a);
    }
}

/* After the final dump: delete every timer (the process is ending, and
 * its last destructors should not be interrupted for samples nobody will
 * write). */
void shim_cpu_stop(void) {
    if (__atomic_load_n(&sig, __ATOMIC_ACQUIRE) && !stopped)
        stop_all();
}

static void register_one(int tid, void *ctx) {
    (void)ctx;
    register_tid(tid);
}

/* Every thread already running (/proc/self/task). */
static void register_existing(void) {
    if (shim_proc_each_task(register_one, NULL) < 0)
        register_tid(self_tid());
}

static void cpu_yield(void);

static bool install_handler_for(int s) {
    return shim_sig_install(s, on_tick);
}

static void install_handler(void) {
    install_handler_for(sig);
}

/* Who owns the signal now: the program (a handler, SIG_IGN, or blocked on
 * this thread, when this thread is the program's), or nobody. NULL when
 * free. The live endpoint's thread blocks every signal: its mask says
 * nothing about the program (threads that block the signal are not armed). */
static const char *owned_by_program(int s, bool program_thread) {
    struct sigaction old;
    if (shim_real.sigaction(s, NULL, &old) != 0)
        return "cannot be examined";
    if (old.sa_handler != SIG_DFL) /* SIG_DFL is 0 in both members */
        return old.sa_handler == SIG_IGN ? "is ignored by the program"
                                         : "has a handler installed by the program";
    sigset_t cur;
    if (program_thread && pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0 && sigismember(&cur, s) == 1)
        return "is blocked by the program";
    if (s == shim_cfg.signal)
        return "is also MAPPROF_SIGNAL (the dump signal)";
    return NULL;
}

/* Take the signal and arm every running thread; false (said once) when
 * the program owns the signal. */
static bool start_sampling(bool program_thread) {
    if (__atomic_load_n(&sig, __ATOMIC_ACQUIRE))
        return !stopped;
    int s = shim_cfg.cpu_signal;
    const char *why = owned_by_program(s, program_thread);
    if (why) {
        shim_log("cpu: signal %d %s; the cpu profile is off (choose another with "
                 "MAPPROF_CPU_SIGNAL)",
                 s, why);
        return false;
    }
    stride = 1 + shim_cfg.depth;
    period_ns = 1000000000 / (int64_t)shim_cfg.cpu_hz;
    next_reap = shim_now_ns() + REAP_NS;
    if (!install_handler_for(s)) {
        shim_log("cpu: cannot install the handler for signal %d; the cpu profile is off", s);
        return false;
    }
    __atomic_store_n(&sig, s, __ATOMIC_RELEASE);
    shim_sig_own(s, cpu_yield);
    register_existing();
    return true;
}

void shim_cpu_start(void) {
    if (shim_profile_on(SHIM_PROF_CPU) && !start_sampling(true))
        shim_cfg.profiles &= ~(1u << SHIM_PROF_CPU);
}

/*
 * The live endpoint's /debug/pprof/profile?seconds=N: sampling for a
 * window, as Go starts CPU profiling for that request. When the cpu
 * profile is on anyway the window only reads it; otherwise begin arms
 * every thread (and new ones) and the last end disarms them again, so a
 * program pays for sampling, and sees its signals, only while asked.
 * The caller diffs two snapshots. begin: false when the signal is the
 * program's (said in one line).
 */
static int live_windows; /* under cpu_lock */

bool shim_cpu_live_begin(void) {
    int was = shim_enter();
    bool ok = start_sampling(false); /* called on the live endpoint's thread */
    if (ok) {
        shim_spin_lock(&cpu_lock);
        bool resume = live_windows++ == 0 && __atomic_load_n(&paused, __ATOMIC_RELAXED);
        __atomic_store_n(&paused, 0, __ATOMIC_RELEASE);
        shim_spin_unlock(&cpu_lock);
        if (resume)
            register_existing();
        shim_helper_ensure(); /* something must drain the rings */
    }
    shim_leave(was);
    return ok;
}

void shim_cpu_live_end(void) {
    int was = shim_enter();
    shim_spin_lock(&cpu_lock);
    bool pause = --live_windows == 0 && !shim_profile_on(SHIM_PROF_CPU);
    if (pause) {
        __atomic_store_n(&paused, 1, __ATOMIC_RELEASE);
        for (int i = 0; i < n_slots; i++)
            if (slots[i])
                disarm(slots[i]);
    }
    shim_spin_unlock(&cpu_lock);
    shim_leave(was);
}

/* Is our signal pending on thread tid (thread-directed: SigPnd)? */
static bool pending_on(int tid) {
    uint64_t mask = 0;
    return shim_proc_status_mask(tid, "SigPnd:", &mask) && ((mask >> (sig - 1)) & 1);
}

/*
 * The program installs a handler for our signal: delete every timer, then
 * wait (at most 100 ms) until no thread has a timer signal pending, so
 * that none reaches the program's handler. A running or sleeping thread
 * takes its pending signal at once; only one that blocks it keeps it.
 */
static void cpu_yield(void) {
    if (__atomic_exchange_n(&yielded, 1, __ATOMIC_ACQ_REL))
        return;
    stop_all();
    int tids[64], n = 0;
    shim_spin_lock(&cpu_lock);
    for (int i = 0; i < n_slots && n < 64; i++)
        if (slots[i] && slots[i]->tid)
            tids[n++] = slots[i]->tid;
    shim_spin_unlock(&cpu_lock);
    for (int tries = 0; tries < 100; tries++) {
        bool any = false;
        for (int i = 0; i < n && !any; i++)
            any = pending_on(tids[i]);
        if (!any)
            break;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    shim_log("cpu: the program installs its own handler for signal %d; cpu sampling stopped "
             "(the profile covers the time before)",
             sig);
}

/* This thread's slot index, or -1 (cpu_lock held). */
static int own_slot(void) {
    int tid = self_tid();
    for (int i = 0; i < n_slots; i++)
        if (slots[i] && slots[i]->tid == tid)
            return i;
    return -1;
}

/* Before exec on this thread (sigown.c then takes what is pending). */
void shim_cpu_exec_begin(void) {
    if (!__atomic_load_n(&sig, __ATOMIC_ACQUIRE))
        return;
    shim_spin_lock(&cpu_lock);
    int i = own_slot();
    if (i >= 0)
        disarm(slots[i]);
    shim_spin_unlock(&cpu_lock);
}

static void install_handler(void);

void shim_cpu_exec_failed(void) {
    if (!__atomic_load_n(&sig, __ATOMIC_ACQUIRE) || !shim_sig_holds(sig))
        return;
    install_handler(); /* sigown.c may have set SIG_IGN for the new image */
    shim_tls_v.tid = 0;
    register_tid(self_tid());
}

/* Take the out-of-handler lock around fork. */
void shim_cpu_lock_all(bool lock) {
    if (lock)
        shim_spin_lock(&cpu_lock);
    else
        shim_spin_unlock(&cpu_lock);
}

/*
 * The child has no timers (they are not inherited) and one thread: every
 * slot is forgotten, the sums too (the child profiles what it does), and
 * this thread is armed again.
 */
void shim_cpu_after_fork(void) {
    shim_spin_unlock(&cpu_lock);
    if (!sig)
        return;
    for (int i = 0; i < n_slots; i++)
        if (slots[i]) {
            slots[i]->armed = false;
            slots[i]->tid = 0;
            __atomic_store_n(&slots[i]->full, 0, __ATOMIC_RELAXED);
        }
    shim_table_each(&sums, free_chain, NULL);
    shim_table_clear(&sums);
    __atomic_store_n(&overruns, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&samples, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&handler_ns, 0, __ATOMIC_RELAXED);
    drain_ns = 0;
    unarmed = 0;
    shim_tls_v.tid = 0;
    if (!stopped)
        register_tid(self_tid());
}
