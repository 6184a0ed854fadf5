/*
 * shim.h — declarations shared by the files of libmapprof.so (internal,
 * not installed). Names crossing files are prefixed shim_; everything else
 * is static in its file.
 *
 * Threading model in one paragraph: every hook first checks the per-thread
 * guard (shim_tls.guard, initial-exec TLS, zero in new threads). While it
 * is set the hook forwards straight to the real function. The shim sets it
 * around everything it does itself, including its calls to the real
 * allocator, to libunwind, to pprof/ and to libc, so nothing the shim does
 * is ever recorded and no shim lock is ever taken twice on one thread. Shim
 * locks are spinlocks (shim_spin) and never go through the interposers.
 */
#ifndef SHIM_SHIM_H
#define SHIM_SHIM_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "shim/config.h"
#include "shim/sample.h"

#define SHIM_LIKELY(x)   __builtin_expect(!!(x), 1)
#define SHIM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SHIM_EXPORT      __attribute__((visibility("default")))

/* ------------------------------------------------------------ per thread */

/* Plain data only (no destructors): zero-filled TLS is the valid start. */
typedef struct shim_tls {
    int guard;          /* nonzero: inside the shim, hooks pass through */
    int resolving;      /* this thread is running the dlsym bootstrap */
    int probe;          /* init.c's liveness probe: 1 armed, 2 reached our malloc */
    shim_sampler heap;  /* bytes until the next heap sample */
    shim_sampler event; /* generator for 1-in-N event sampling */
    int tid;            /* this thread's kernel id, 0 until mutex_kind0.c needs it */
    int own_alloc;      /* a dump runs: the malloc family serves from mem.c */
    int no_unwind;      /* in dlclose: cpu samples here are not unwound (cpu.c) */
    /* What this thread waits for now (lock.h's shim_wait_mark), read by
     * the threads profile's handler on this thread: */
    int wait_kind;       /* enum shim_wait_kind; written last */
    const void *wait_on; /* the mutex, rwlock or condition variable */
    int64_t wait_since;  /* monotonic ns */
} shim_tls;

enum shim_wait_kind { SHIM_WAIT_NONE, SHIM_WAIT_MUTEX, SHIM_WAIT_RWLOCK, SHIM_WAIT_COND };

extern __thread shim_tls shim_tls_v __attribute__((tls_model("initial-exec")));

/* Enter the shim: returns the previous guard, to hand to shim_leave. The
 * signal fences keep the compiler from moving shim work outside the
 * guarded region (a signal handler on this thread must see the guard). */
static inline int shim_enter(void) {
    int was = shim_tls_v.guard;
    shim_tls_v.guard = 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return was;
}

static inline void shim_leave(int was) {
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    shim_tls_v.guard = was;
}

/* 1-in-n decision on this thread's generator (n <= 1: always). */
bool shim_one_in(uint64_t n);

/* Start a detached thread of the shim's with every signal blocked, so it
 * never takes one of the program's (stack: bytes, 0 for the default).
 * pthread_create's result. */
int shim_spawn(void *(*fn)(void *), void *arg, size_t stack);

/* ------------------------------------------------------------- spinlock */

/* Test-and-test-and-set with sched_yield: never calls pthread, never
 * allocates, so it is usable from every hook. Held only for table
 * updates (no unwinding, no I/O, no dl_iterate_phdr under a shim lock). */
typedef struct shim_spin {
    int locked;
} shim_spin;

void shim_spin_lock(shim_spin *l);
static inline void shim_spin_unlock(shim_spin *l) {
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------- real functions */

typedef struct shim_real_fns {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*malloc_usable_size)(void *);
    int (*mutex_lock)(pthread_mutex_t *);
    int (*mutex_trylock)(pthread_mutex_t *);
    int (*mutex_timedlock)(pthread_mutex_t *, const struct timespec *);
    int (*mutex_clocklock)(pthread_mutex_t *, clockid_t, const struct timespec *);
    int (*mutex_unlock)(pthread_mutex_t *);
    int (*rwlock_rdlock)(pthread_rwlock_t *);
    int (*rwlock_tryrdlock)(pthread_rwlock_t *);
    int (*rwlock_timedrdlock)(pthread_rwlock_t *, const struct timespec *);
    int (*rwlock_clockrdlock)(pthread_rwlock_t *, clockid_t, const struct timespec *);
    int (*rwlock_wrlock)(pthread_rwlock_t *);
    int (*rwlock_trywrlock)(pthread_rwlock_t *);
    int (*rwlock_timedwrlock)(pthread_rwlock_t *, const struct timespec *);
    int (*rwlock_clockwrlock)(pthread_rwlock_t *, clockid_t, const struct timespec *);
    int (*rwlock_unlock)(pthread_rwlock_t *);
    int (*cond_wait)(pthread_cond_t *, pthread_mutex_t *);
    int (*cond_timedwait)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
    int (*cond_clockwait)(pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *);
    int (*cond_signal)(pthread_cond_t *);
    int (*cond_broadcast)(pthread_cond_t *);
    void (*exit_)(int);
    void (*Exit_)(int);
    void *(*dlopen)(const char *, int);
    int (*dlclose)(void *);
    int (*pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    int (*sigwait)(const sigset_t *, int *);
    int (*sigwaitinfo)(const sigset_t *, siginfo_t *);
    int (*sigtimedwait)(const sigset_t *, siginfo_t *, const struct timespec *);
    int (*signalfd)(int, const sigset_t *, int);
    int (*sigaction)(int, const struct sigaction *, struct sigaction *);
    sighandler_t (*signal)(int, sighandler_t);
    sighandler_t (*sysv_signal)(int, sighandler_t);
    int (*execve)(const char *, char *const[], char *const[]);
    int (*execv)(const char *, char *const[]);
    int (*execvp)(const char *, char *const[]);
    int (*execvpe)(const char *, char *const[], char *const[]);
    int (*fexecve)(int, char *const[], char *const[]);
} shim_real_fns;

/* Filled once by shim_real_resolve; each member non-NULL when done (a
 * member libc lacks stays NULL and its hook returns ENOSYS-like failure). */
extern shim_real_fns shim_real;

/* Resolve every real function (idempotent, thread-safe). Returns false
 * when called recursively from inside the resolution on this thread: the
 * caller must then use the bootstrap pool. */
bool shim_real_resolve(void);
static inline bool shim_real_ready(void) {
    return SHIM_LIKELY(__atomic_load_n(&shim_real.malloc, __ATOMIC_ACQUIRE) != NULL) ||
           shim_real_resolve();
}
/* Is the object defining f glibc itself (libc.so.6)? */
bool shim_real_in_libc(const void *f);
/*
 * The fast paths' view of the real functions: glibc's malloc, free, calloc
 * and realloc when they are the next definitions (the usual case), else
 * NULL, which sends every call down the complete path. Called directly,
 * without the guard: glibc's allocator calls no interposable function. A
 * foreign allocator (a preloaded tcmalloc) may take pthread locks or
 * allocate, so its calls keep the guard. Published after shim_real.
 */
typedef struct shim_direct_fns {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
} shim_direct_fns;
extern shim_direct_fns shim_direct;

/* Bootstrap bump pool for allocations made while dlsym runs. Each block
 * is preceded by SHIM_BOOT_MARK, like shim_calloc blocks by SHIM_MEM_MARK
 * (see there): no glibc chunk size, and above SHIM_MARK_MIN. */
#define SHIM_BOOT_MARK      0xd1f7e5a3b007b008ull
#define SHIM_BOOT_POOL_SIZE (64 * 1024)
extern unsigned char shim_boot_pool[SHIM_BOOT_POOL_SIZE];
void *shim_boot_alloc(size_t size, size_t align);
static inline bool shim_boot_owns(const void *p) {
    return (uintptr_t)p - (uintptr_t)shim_boot_pool < SHIM_BOOT_POOL_SIZE;
}
size_t shim_boot_avail(const void *p); /* bytes from p to the pool's end */

/* --------------------------------------------------------------- state */

enum shim_state {
    SHIM_OFF = 0,      /* constructor not run yet: record nothing */
    SHIM_ACTIVE = 1,   /* recording */
    SHIM_INACTIVE = 2, /* cannot work here (said so once): pass-through */
    SHIM_FINISHED = 3, /* final dump done: pass-through */
};

extern int shim_state;       /* enum shim_state, atomic */
extern shim_config shim_cfg; /* read-only once active */

static inline bool shim_recording(void) {
    return __atomic_load_n(&shim_state, __ATOMIC_RELAXED) == SHIM_ACTIVE;
}
static inline bool shim_profile_on(enum shim_profile_kind k) {
    return (shim_cfg.profiles >> k) & 1u;
}

/* Monotonic nanoseconds (vDSO, no allocation). */
int64_t shim_now_ns(void);
/* Nanoseconds spent in the shim's slow paths and dumps (comments). */
void shim_account_ns(int64_t ns);
int64_t shim_own_ns(void);

/* ---------------------------------------------------------------- log */

/* One "mapprof: ..." line on stderr with write(2); errno preserved. */
void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------- tables */

/* Open-addressing table from nonzero 64-bit keys to pointers (table.c).
 * Not locked: callers hold their lock and the guard. Memory comes from
 * the real allocator. */
typedef struct shim_table {
    uint64_t *keys; /* 0 = empty slot */
    void **vals;
    size_t cap; /* power of two, or 0 before first insert */
    size_t len;
} shim_table;

void *shim_table_get(const shim_table *t, uint64_t key);
/* Insert or overwrite; returns -1 when memory ran out (table unchanged),
 * 1 when key was new, 0 when overwritten. */
int shim_table_put(shim_table *t, uint64_t key, void *val);
/* Remove key; returns its value or NULL. */
void *shim_table_del(shim_table *t, uint64_t key);
/* Visit every entry (no modification during the walk). */
void shim_table_each(const shim_table *t, void (*fn)(uint64_t key, void *val, void *ctx),
                     void *ctx);
/* Forget everything (memory kept). */
void shim_table_clear(shim_table *t);

uint64_t shim_hash64(uint64_t x);

/* Allocation for shim tables and records (mem.c): private mmap'd memory,
 * never the host's arenas. Zeroed, 16-byte aligned, errno preserved. */
void *shim_calloc(size_t size);
void *shim_mem_alloc(size_t size); /* not zeroed */
void shim_free(void *p);
size_t shim_mem_usable(const void *p); /* bytes usable at p (a shim_calloc block) */
/* The word before every shim_calloc block, where glibc keeps a chunk's
 * size: bit 3 set, so no glibc chunk (16-byte multiples, flags in bits
 * 0-2) has it, and above SHIM_MARK_MIN, so the free/realloc fast paths
 * send the block to their slow paths. */
#define SHIM_MEM_MARK 0xd1f7e5a3c0de0008ull
static inline bool shim_mem_owns(const void *p) {
    return ((const uint64_t *)p)[-1] == SHIM_MEM_MARK;
}
void shim_mem_lock_all(bool lock); /* around fork */

/* -------------------------------------------------------------- stacks */

/* An interned call stack: immutable once published, never freed. */
typedef struct shim_stack {
    struct shim_stack *next; /* same-hash chain */
    uint64_t hash;
    uint32_t depth;
    uint32_t gen;   /* shim_dl_gen when captured (part of the identity) */
    uint64_t pcs[]; /* leaf first, return addresses */
} shim_stack;

/* Library-unload generation (starts at 1): advanced by dlclose when a
 * library really went away, so that addresses captured before can be told
 * from those of a library loaded at the same place later. Atomic. */
extern uint32_t shim_dl_gen;

/* Prepare libunwind (caching policy, warm-up) and find the shim's own
 * text range. Call with the guard set. */
void shim_stack_init(void);
/* Capture the caller's stack, the shim's frames skipped, into pcs (cap
 * >= shim_cfg.depth); returns the depth (0: unwind failed, counted). */
int shim_stack_capture(uint64_t *pcs, int cap);
/* The same from a signal handler, async-signal-safe: the stack of the
 * context the signal interrupted (ucontext: the handler's third
 * argument), its exact PC first. -1 when this thread cannot be unwound
 * now (it was inside libunwind, or a fork is being prepared). */
int shim_stack_capture_signal(void *ucontext, uint64_t *pcs, int cap);
/* Is pc in the shim's own code (async-signal-safe)? */
bool shim_stack_is_own(uint64_t pc);
/* The interned copy of pcs[0..depth), or NULL when out of memory. */
const shim_stack *shim_stack_intern(const uint64_t *pcs, int depth);
/* A capture + intern in one call; NULL on failure (counted). */
const shim_stack *shim_stack_here(void);
uint64_t shim_stack_failures(void);
void shim_stack_after_fork(void);
void shim_stack_lock_all(bool lock); /* around fork */
void shim_stack_flush(void);         /* after dlclose */

/* ------------------------------------------------------------ strings */

/* strings.c: the one lasting copy of s (never freed; "?" without memory). */
const char *shim_intern_str(const char *s);
void shim_strings_lock_all(bool lock); /* around fork (innermost but mem's) */

/* ---------------------------------------------------------- /proc/self */

/* proc.c: no allocation. Each task's tid to fn; the count, -1 on error. */
int shim_proc_each_task(void (*fn)(int tid, void *ctx), void *ctx);
bool shim_proc_thread_name(int tid, char out[16]);
/* A hex mask line of the thread's status ("SigPnd:", "SigBlk:"). */
bool shim_proc_status_mask(int tid, const char *field, uint64_t *mask);
/* 1: blocked in syscall *nr at *pc; 0: running; -1: unreadable. */
int shim_proc_syscall(int tid, long *nr, uint64_t *pc);

/* --------------------------------------------------------------- heap */

/* Around a dump: this thread's malloc family serves from mem.c (heap.c).
 * begin returns the countdown to hand back to end. */
int64_t shim_own_alloc_begin(void);
void shim_own_alloc_end(int64_t left);
/* Record a sampled block p of size bytes (guard not set by caller). */
void shim_heap_record(void *p, size_t size);
/* The block p is being freed: forget it if sampled. Cheap when not. */
void shim_heap_forget(void *p);
/*
 * Sampled blocks are the very blocks glibc returned to the program, so
 * free() and realloc() tell them apart by address: one bit per 16-byte
 * slot of a 4 MiB window (shim_heap_filter, 32 KiB; heapfilter.c),
 * set while a live sampled block's address falls in that slot. A clear
 * bit proves "not sampled" with a shift, a mask and one load; a set bit
 * sends the call to the lookup under heapprof.c's lock. glibc's blocks are
 * 16-byte aligned, so two live blocks share a slot only when their
 * addresses differ by a multiple of 4 MiB; and addresses freed close in
 * time are close in memory, so their bits share cache lines.
 */
#define SHIM_HEAP_FILTER_SLOTS ((size_t)1 << 18)
extern uint64_t shim_heap_filter[SHIM_HEAP_FILTER_SLOTS / 64];
static inline size_t shim_heap_filter_slot(const void *p) {
    return ((uintptr_t)p >> 4) & (SHIM_HEAP_FILTER_SLOTS - 1);
}
/* Is p possibly a live sampled block (false proves it is not). */
static inline bool shim_heap_maybe_sampled(const void *p) {
    size_t i = shim_heap_filter_slot(p);
    return (__atomic_load_n(&shim_heap_filter[i / 64], __ATOMIC_RELAXED) >> (i % 64)) & 1;
}
/* Keep the filter (heapfilter.c; the caller serialises changes): add
 * returns -1 when it could not count p (no memory; nothing changed). */
int shim_heap_filter_add(const void *p);
void shim_heap_filter_del(const void *p); /* p was added and is leaving */
void shim_heap_filter_clear(void);
/* The shim's own blocks (SHIM_MEM_MARK) and the bootstrap pool's
 * (SHIM_BOOT_MARK) carry a mark where glibc keeps a chunk's size, and the
 * marks read as at least this: the free/realloc fast paths go straight to
 * glibc only for chunk size words below it (one compare with an immediate),
 * and the slow paths forward the rare glibc chunk of 2 GiB or more. */
#define SHIM_MARK_MIN ((size_t)1 << 31)
/* Detach p's record for realloc (NULL when not sampled) and put it back. */
void *shim_heap_detach(void *p);
void shim_heap_reattach(void *p, void *rec);
void shim_heap_release(void *rec);  /* realloc moved/freed the block */
uint64_t shim_heap_conflicts(void); /* address conflicts seen */

/* ----------------------------------------------------- profile output */

/* One profile's samples handed to the dump (dump.c): a stack, values,
 * labels. Producers (heapprof.c, maps.c, contention.c) fill these under their lock
 * into a snapshot, then the dump builds outside every lock. */
#define SHIM_MAX_LABELS 5
typedef struct shim_label {
    const char *key;
    const char *str; /* NULL: numeric */
    int64_t num;
    const char *unit; /* numeric unit or NULL */
} shim_label;

/* Records are as long as their labels need (a heap sample: 88 bytes), in
 * chunks that never move: a dump of tens of thousands of heap buckets
 * must not cost its host tens of MiB (shim memory target: 8 MiB). */
typedef struct shim_sample {
    const shim_stack *stack;
    int64_t values[5];
    int n_labels;
    shim_label labels[]; /* n_labels */
} shim_sample;

typedef struct shim_snap_chunk shim_snap_chunk;

typedef struct shim_snapshot {
    shim_snap_chunk *first, *last;
    size_t n;
    uint64_t dropped; /* events lost (no memory, table full) */
} shim_snapshot;

/* Append a zeroed sample with room for n_labels (<= SHIM_MAX_LABELS)
 * labels, n_labels set; NULL when out of memory (counted as dropped). */
shim_sample *shim_snapshot_add(shim_snapshot *s, int n_labels);
/* Visit the samples in insertion order. */
void shim_snapshot_each(const shim_snapshot *s, void (*fn)(const shim_sample *, void *), void *ctx);
void shim_snapshot_free(shim_snapshot *s);

/* Producers: fill the snapshot of one kind (called with the guard set). */
void shim_heap_snapshot(shim_snapshot *s);
void shim_grow_snapshot(shim_snapshot *s);
void shim_maps_snapshot(shim_snapshot *s);
void shim_contention_snapshot(enum shim_profile_kind k, shim_snapshot *s);

/* Reset recorded data in a fork child (locks already re-initialized). */
void shim_heap_after_fork(void);
void shim_maps_after_fork(void);
void shim_mutex_after_fork(void);
/* Enable mutex.c's own lock/unlock for default mutexes if glibc's agree. */
void shim_mutex_init(void);
bool shim_mutex_inline(void); /* is it on (profile comments) */
/* Take / release every producer lock around fork. */
void shim_heap_lock_all(bool lock);
void shim_maps_lock_all(bool lock);
void shim_mutex_lock_all(bool lock);

/* The cpu profile (cpu.c; thread.c starts threads through it). start:
 * from the constructor, once recording; tick: from the helper thread
 * every shim_cpu_drain_ms() while shim_cpu_on(), drains the threads'
 * rings and reaps gone threads. */
void shim_cpu_start(void);
bool shim_cpu_on(void);
/* A live /debug/pprof/profile window (see cpu.c): begin false when the
 * signal is the program's; every begin is matched by an end. */
bool shim_cpu_live_begin(void);
void shim_cpu_live_end(void);
void shim_cpu_tick(void);
int shim_cpu_drain_ms(void);
void shim_cpu_stop(void); /* the final dump is written: no more signals */
void shim_cpu_thread_begin(void);
void shim_cpu_thread_end(void);
void shim_cpu_snapshot(shim_snapshot *s);
int64_t shim_cpu_period_ns(void);
void shim_cpu_describe(char *buf, size_t cap); /* one comment line */
void shim_cpu_lock_all(bool lock);
void shim_cpu_after_fork(void);
/* The threads profile (threads.c): start takes the capture signal (from
 * the constructor when the profile is on, or by the live endpoint;
 * idempotent); own_thread marks the calling thread as the shim's (left
 * out of captures); snapshot captures every thread now. */
void shim_threads_start(void);
extern int shim_threads_marks; /* atomic: lock waits are marked for captures */
void shim_threads_own_thread(void);
void shim_threads_snapshot(shim_snapshot *s);
void shim_threads_describe(char *buf, size_t cap); /* a comment line: the last capture */
void shim_threads_exec_failed(void);
void shim_threads_lock_all(bool lock);
void shim_threads_after_fork(void);

/* Around an exec on this thread (sigown.c): the cpu timer stops, and is
 * armed again when the exec failed. */
void shim_cpu_exec_begin(void);
void shim_cpu_exec_failed(void);

/* The signals the shim takes (sigown.c): own — s now has the shim's
 * handler, yield is called (once, guard set) when the program installs a
 * handler of its own; holds — s is the shim's and not yielded; not_ours —
 * from the shim's handler, for a signal that is not the shim's own: the
 * effect of the program's disposition (async-signal-safe). */
bool shim_sig_install(int s, void (*handler)(int, siginfo_t *, void *)); /* SA_RESTART */
void shim_sig_own(int s, void (*yield)(void));
bool shim_sig_holds(int s);
void shim_sig_not_ours(int s);

/* Why a dump runs (comments only). */
enum shim_dump_reason {
    SHIM_DUMP_EXIT,
    SHIM_DUMP_FATAL,
    SHIM_DUMP_SIGNAL,
    SHIM_DUMP_INTERVAL,
    SHIM_DUMP_REQUEST, /* mapprof_dump() */
    SHIM_DUMP_LIVE     /* the live endpoint (http.c) */
};

/* Write every enabled profile. final: the last dump (stops recording
 * first, never twice). Returns without writing in a vfork child or a
 * process other than the one recorded. Thread-safe. 0: every enabled
 * profile was written; -1: not (inactive, after the final dump, or an
 * error, which was logged). */
int shim_dump(enum shim_dump_reason why, bool final);
/* Note a dlopen/dlclose: mappings refresh before the next dump. */
void shim_dump_note_dl(bool after_close);
void shim_dump_after_fork(void);
void shim_dump_lock_all(bool lock);

/* The live endpoint (http.c, live.c). */
typedef struct pprof_profile pprof_profile;
/* A producer's copy of kind k's data now (its own lock taken inside). */
void shim_take_snapshot(enum shim_profile_kind k, shim_snapshot *s);
/* Kind k's profile now, symbolized, minus base (taken base_wall_ns, wall
 * clock; consumed) when base is non-NULL. allocs: heap with default
 * sample type alloc_space. 0 with *out (pprof_profile_free); else an error
 * code with its text in msg. */
int shim_dump_build(enum shim_profile_kind k, bool allocs, shim_snapshot *base,
                    int64_t base_wall_ns, pprof_profile **out, char *msg, size_t cap);
/* The function containing pc, for /symbol; 0 when found. */
int shim_dump_symbol(uint64_t pc, char *name, size_t cap);
/* Start the server if MAPPROF_HTTP asks (constructor, guard set; cwd for
 * relative unix socket paths). */
void shim_http_start(const char *cwd);
/* Fork child: close the parent's server, start the child's own if the
 * address allows one per process. */
void shim_http_after_fork(void);

/* ------------------------------------------------------------- trace */

/* The timeline (MAPPROF_TRACE=1; trace.c, trace_json.c). Is the calling
 * thread's event one to trace (tracing, recording, not the shim's own). */
static inline bool shim_trace_on(void) {
    return shim_cfg.trace && !shim_tls_v.guard && shim_recording();
}
struct gomap;
struct gomap_grow_event;
/* Map hooks (maps.c), called when shim_trace_on(): a grow started; the map
 * released a bucket array of `bytes`; the map is being freed. */
void shim_trace_grow(const struct gomap *m, const struct gomap_grow_event *ev);
void shim_trace_map_release(const struct gomap *m, uint64_t bytes);
void shim_trace_map_free(const struct gomap *m);
/* With the guard set, for a host event while shim_cfg.trace: a lock wait
 * from t0 to t1 (traced when at least MAPPROF_TRACE_LOCK_NS; how: 0 an
 * acquisition, 1 a condition wait's re-lock); the heap's live bytes. */
void shim_trace_lock_wait(const void *lock, int64_t t0, int64_t t1, int how);
void shim_trace_heap(int64_t live_bytes);
int64_t shim_heap_live_bytes(void); /* heapprof.c: estimated, -1 when not profiling */
/* Write <out>.<pid>.trace.json (in a dump): 0, or -errno with msg set;
 * *empty when MAPPROF_EMPTY=skip left it out. */
int shim_trace_write(enum shim_dump_reason why, bool *empty, char *msg, size_t cap);
void shim_trace_lock_all(bool lock);
void shim_trace_after_fork(void);

/* Lifecycle (init.c). */
pid_t shim_pid(void);          /* the pid this image profiles as */
void shim_helper_ensure(void); /* the helper thread runs (it drains the cpu rings) */

#endif
