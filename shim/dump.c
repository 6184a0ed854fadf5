/*
 * dump.c — turning the recorded data into pprof files.
 *
 * A dump runs on an ordinary thread (the exiting one, the helper thread
 * for signals and intervals, the thread that hit a fatal map error),
 * never in a signal handler. It holds the guard throughout, so libdw,
 * libelf, zlib and protobuf-c are never sampled, and everything it
 * allocates comes from the shim's own memory, never glibc's (mem.c). It
 * holds dump_lock, a spinlock taken with a bounded wait for the
 * final dump (a final dump that cannot get the lock within ~1 s gives up
 * rather than deadlock, e.g. exit() from a signal handler that
 * interrupted a dump).
 *
 * Per enabled profile: producers copy their data into a snapshot under
 * their own lock (no unwinding, no I/O there); then, with no producer
 * lock held, a pprof_builder is filled, finished against the mappings
 * (refreshed first; entries of unloaded libraries are kept by pprof/) and
 * the symbolizer (both kept across dumps as caches), and written
 * atomically to <MAPPROF_OUT>.<pid>.<kind>.pb.gz (and the timeline, with
 * MAPPROF_TRACE=1, to <MAPPROF_OUT>.<pid>.trace.json). Comments record the
 * rates, the seed, dropped samples, unwind failures and the shim's time.
 * A profile without samples needs neither mappings nor symbols: a process
 * that recorded nothing (most of a test suite's short processes) pays for
 * five small files, or for none with MAPPROF_EMPTY=skip.
 *
 * Only the process the data belongs to writes: a vfork child (same
 * memory, different pid) or a fork child that has not been reset yet
 * never does. Non-goals: incremental/delta profiles, dumping from
 * signal handlers, surviving SIGKILL.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pprof/conventions.h"
#include "pprof/pprof.h"
#include "shim/shim.h"

static shim_spin dump_lock;
static int final_done;     /* atomic: the final dump ran (or is running) */
static int final_finished; /* atomic: ... and its files are written */
static pid_t final_tid;    /* the thread writing the final dump */
static pprof_mappings *maps;
static pprof_symbolizer *sym;

/* pprof/'s memory: the shim's own, like everything a dump allocates. */
static void *pp_alloc(size_t size, void *ctx) {
    (void)ctx;
    return shim_mem_alloc(size);
}

static void pp_release(void *p, size_t size, void *ctx) {
    (void)size;
    (void)ctx;
    shim_free(p);
}

static const pprof_allocator pp_allocator = {pp_alloc, pp_release, NULL};

struct shim_snap_chunk {
    shim_snap_chunk *next;
    size_t used, cap; /* bytes of data[] */
    _Alignas(8) unsigned char data[];
};

#define SNAP_CHUNK (256 * 1024 - 64) /* one mapping, header included */

static size_t record_size(int n_labels) {
    return sizeof(shim_sample) + (size_t)n_labels * sizeof(shim_label);
}

shim_sample *shim_snapshot_add(shim_snapshot *s, int n_labels) {
    size_t need = record_size(n_labels);
    shim_snap_chunk *c = s->last;
    if (!c || c->cap - c->used < need) {
        c = shim_calloc(SNAP_CHUNK);
        if (!c) {
            s->dropped++;
            return NULL;
        }
        c->next = NULL;
        c->used = 0;
        c->cap = SNAP_CHUNK - offsetof(shim_snap_chunk, data);
        if (s->last)
            s->last->next = c;
        else
            s->first = c;
        s->last = c;
    }
    shim_sample *sm = (shim_sample *)(void *)(c->data + c->used);
    c->used += need;
    s->n++;
    memset(sm, 0, need);
    sm->n_labels = n_labels;
    return sm;
}

void shim_snapshot_each(const shim_snapshot *s, void (*fn)(const shim_sample *, void *),
                        void *ctx) {
    for (const shim_snap_chunk *c = s->first; c; c = c->next)
        for (size_t off = 0; off < c->used;) {
            const shim_sample *sm = (const shim_sample *)(const void *)(c->data + off);
            fn(sm, ctx);
            off += record_size(sm->n_labels);
        }
}

void shim_snapshot_free(shim_snapshot *s) {
    for (shim_snap_chunk *c = s->first, *next; c; c = next) {
        next = c->next;
        shim_free(c);
    }
    memset(s, 0, sizeof *s);
}

static enum pprof_kind pprof_kind_of(enum shim_profile_kind k) {
    switch (k) {
    case SHIM_PROF_HEAP:
        return PPROF_KIND_HEAP;
    case SHIM_PROF_MUTEX:
        return PPROF_KIND_MUTEX;
    case SHIM_PROF_BLOCK:
        return PPROF_KIND_BLOCK;
    case SHIM_PROF_GROW:
        return PPROF_KIND_GROW;
    case SHIM_PROF_CPU:
        return PPROF_KIND_CPU;
    case SHIM_PROF_THREADS:
        return PPROF_KIND_THREADS;
    default:
        return PPROF_KIND_MAPS;
    }
}

static const char *reason_name(enum shim_dump_reason why) {
    switch (why) {
    case SHIM_DUMP_EXIT:
        return "exit";
    case SHIM_DUMP_FATAL:
        return "fatal";
    case SHIM_DUMP_SIGNAL:
        return "signal";
    case SHIM_DUMP_REQUEST:
        return "request";
    case SHIM_DUMP_LIVE:
        return "live";
    default:
        return "interval";
    }
}

extern int64_t shim_start_wall_ns, shim_start_mono_ns;

/* Returns 0 when the file was written. */
struct add_ctx {
    pprof_builder *b;
    pprof_error *err;
    int rc;
    unsigned flags; /* pprof stack flags: cpu leaves are exact PCs */
    int64_t sign;   /* -1: a baseline, subtracted (delta = now - base; the
                     * builder sums samples with the same stack and labels) */
};

static void add_sample(const shim_sample *sm, void *ctx) {
    struct add_ctx *ac = ctx;
    if (ac->rc != 0)
        return;
    pprof_label labels[SHIM_MAX_LABELS];
    for (int j = 0; j < sm->n_labels; j++)
        labels[j] = (pprof_label){sm->labels[j].key, sm->labels[j].str, sm->labels[j].num,
                                  sm->labels[j].unit};
    const shim_stack *st = sm->stack;
    const uint64_t *pcs = st ? st->pcs : NULL;
    uint64_t moved[SHIM_MAX_DEPTH];
    if (st && maps && st->gen < pprof_mappings_last_death(maps)) {
        /* Captured before a library went away: a library loaded at the
         * same place since then must not claim these addresses. */
        for (uint32_t i = 0; i < st->depth; i++)
            moved[i] = pprof_mappings_address_at(maps, st->pcs[i], st->gen);
        pcs = moved;
    }
    int64_t values[5];
    for (int i = 0; i < 5; i++)
        values[i] = ac->sign * sm->values[i];
    ac->rc = pprof_builder_add_sample(ac->b, pcs, st ? st->depth : 0, values, labels,
                                      (size_t)sm->n_labels, ac->flags, ac->err);
}

/* "mapprof: cmdline=ARGS": the process's arguments (/proc/self/cmdline),
 * space-separated, bytes outside printable ASCII as \xNN, at most what
 * fits (then "..."): what ran, for the report and for pprof's comments. */
static void cmdline_comment(char *out, size_t cap) {
    unsigned char raw[384];
    ssize_t n = -1;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, raw, sizeof raw);
        close(fd);
    }
    size_t o = (size_t)snprintf(out, cap, "mapprof: cmdline=");
    for (ssize_t i = 0; i < n && o + 8 < cap; i++) {
        unsigned char c = raw[i];
        if (c == 0 && i + 1 < n)
            out[o++] = ' ';
        else if (c >= 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else if (c != 0)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    if (n == (ssize_t)sizeof raw && o + 4 < cap)
        o += (size_t)snprintf(out + o, cap - o, "...");
    out[o] = 0;
}

/* A producer's copy of kind k's data, taken under its own lock. */
static void take_snapshot(enum shim_profile_kind k, shim_snapshot *s) {
    switch (k) {
    case SHIM_PROF_HEAP:
        shim_heap_snapshot(s);
        break;
    case SHIM_PROF_GROW:
        shim_grow_snapshot(s);
        break;
    case SHIM_PROF_MAPS:
        shim_maps_snapshot(s);
        break;
    case SHIM_PROF_CPU:
        shim_cpu_snapshot(s);
        break;
    case SHIM_PROF_THREADS:
        shim_threads_snapshot(s);
        break;
    default:
        shim_contention_snapshot(k, s);
        break;
    }
}

/* What build_one makes: kind k from snapshot s (consumed) minus base (if
 * any, consumed), with the given time span. */
struct build_req {
    enum shim_profile_kind k;
    enum shim_dump_reason why;
    bool allocs; /* heap shown as allocations (default sample type) */
    shim_snapshot *snap, *base;
    int64_t time_nanos, duration_nanos;
};

/* Builds the profile of req. Returns 0 with *out set; otherwise pprof's
 * error code, its text in msg. */
static int build_one(const struct build_req *req, const pprof_mappings *use_maps,
                     pprof_symbolizer *use_sym, pprof_profile **out, char *msg, size_t cap) {
    enum shim_profile_kind k = req->k;
    shim_snapshot s = *req->snap;
    pprof_builder_config cfg = {.alloc = &pp_allocator};
    pprof_config_for(req->allocs ? PPROF_KIND_ALLOCS : pprof_kind_of(k),
                     k == SHIM_PROF_CPU ? shim_cpu_period_ns() : (int64_t)shim_cfg.heap_rate, &cfg);
    cfg.time_nanos = req->time_nanos;
    cfg.duration_nanos = req->duration_nanos;
    cfg.skip_zero_samples = req->base != NULL;
    pprof_builder *b = NULL;
    pprof_profile *prof = NULL;
    pprof_error err = {0};
    char line[512];
    int rc = pprof_builder_new(&cfg, &b, &err);
    if (rc == 0) {
        snprintf(line, sizeof line,
                 "mapprof: reason=%s heap_rate=%llu mutex_rate=%llu grow_rate=%llu seed=%s%llu "
                 "depth=%u",
                 reason_name(req->why), (unsigned long long)shim_cfg.heap_rate,
                 (unsigned long long)shim_cfg.mutex_rate, (unsigned long long)shim_cfg.grow_rate,
                 shim_cfg.seed_set ? "" : "random:", (unsigned long long)shim_cfg.seed,
                 shim_cfg.depth);
        pprof_builder_add_comment(b, line, NULL);
        snprintf(line, sizeof line,
                 "mapprof: samples_dropped=%llu unwind_failures=%llu address_conflicts=%llu "
                 "shim_ns=%lld mutex_inline=%d",
                 (unsigned long long)s.dropped, (unsigned long long)shim_stack_failures(),
                 (unsigned long long)shim_heap_conflicts(), (long long)shim_own_ns(),
                 (int)shim_mutex_inline());
        pprof_builder_add_comment(b, line, NULL);
        cmdline_comment(line, sizeof line);
        pprof_builder_add_comment(b, line, NULL);
        if (k == SHIM_PROF_CPU) {
            shim_cpu_describe(line, sizeof line);
            pprof_builder_add_comment(b, line, NULL);
        }
        if (k == SHIM_PROF_THREADS) {
            shim_threads_describe(line, sizeof line);
            pprof_builder_add_comment(b, line, NULL);
        }
    }
    /* cpu and threads stacks start at an interrupted PC, not a return address */
    bool exact_leaf = k == SHIM_PROF_CPU || k == SHIM_PROF_THREADS;
    struct add_ctx ac = {b, &err, rc, exact_leaf ? 0u : (unsigned)PPROF_STACK_ALL_RETURN, 1};
    if (rc == 0)
        shim_snapshot_each(&s, add_sample, &ac);
    ac.sign = -1;
    if (req->base && ac.rc == 0)
        shim_snapshot_each(req->base, add_sample, &ac);
    rc = ac.rc;
    shim_snapshot_free(&s); /* each stage frees what it consumed: a lower peak */
    if (req->base)
        shim_snapshot_free(req->base);
    if (rc == 0)
        rc = pprof_builder_finish(b, use_maps, use_sym, &prof, &err);
    pprof_builder_free(b);
    if (rc != 0)
        snprintf(msg, cap, "%s", err.msg);
    *out = prof;
    return rc;
}

/* Writes kind k from its snapshot s (consumed). Returns 0 when written;
 * otherwise pprof's error code, its text in msg. */
static int write_one(enum shim_profile_kind k, enum shim_dump_reason why, shim_snapshot *snap,
                     const pprof_mappings *use_maps, pprof_symbolizer *use_sym, char *msg,
                     size_t cap) {
    struct build_req req = {.k = k, .why = why, .snap = snap};
    req.time_nanos = shim_start_wall_ns;
    req.duration_nanos = shim_now_ns() - shim_start_mono_ns;
    pprof_profile *prof = NULL;
    int rc = build_one(&req, use_maps, use_sym, &prof, msg, cap);
    if (rc != 0)
        return rc;
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s.%d.%s.pb.gz", shim_cfg.out, (int)getpid(),
             shim_profile_name(k));
    pprof_error err = {0};
    rc = pprof_profile_write_file(prof, path, &err);
    if (rc != 0)
        snprintf(msg, cap, "%s", err.msg);
    pprof_profile_free(prof);
    return rc;
}

static bool lock_dump(bool final) {
    if (!final) {
        shim_spin_lock(&dump_lock);
        return true;
    }
    int64_t deadline = shim_now_ns() + 1000000000;
    while (__atomic_exchange_n(&dump_lock.locked, 1, __ATOMIC_ACQUIRE)) {
        if (shim_now_ns() > deadline)
            return false;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return true;
}

/*
 * A second final dump comes from a thread that is about to end the process
 * too (exit, _exit, a fatal map error: two racing writers both detect the
 * race). Returning at once would let it abort while the first thread is
 * still writing, losing every file; so it waits for the writer, bounded
 * (5 s) in case the writer is stuck, and not at all when it is the writer
 * itself (a nested exit).
 */
static void wait_final_dump(void) {
    if (__atomic_load_n(&final_tid, __ATOMIC_ACQUIRE) == gettid())
        return;
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 5000 && !__atomic_load_n(&final_finished, __ATOMIC_ACQUIRE); i++)
        nanosleep(&ms, NULL);
}

/*
 * libdw has no way to report an allocation failure: it prints and calls
 * exit(1), which would change the host's exit status. So the symbolizer
 * only runs when a trial allocation of the memory it may need succeeds
 * (it fails under RLIMIT_AS or a strict overcommit policy); otherwise the
 * profiles are written with addresses only (go tool pprof can symbolize
 * them later) and one line says so.
 */
static bool room_to_symbolize(void) {
    size_t need = shim_cfg.full_symbols ? (size_t)96 << 20 : (size_t)24 << 20;
    void *p = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return false;
    munmap(p, need);
    return true;
}

/* One line per failed dump, and none when a later dump fails with the
 * same error code (a missing directory under MAPPROF_INTERVAL must not
 * flood stderr). */
static void report_failure(int failed, int wanted, int code, const char *first) {
    static int last_code;
    if (code == last_code)
        return;
    last_code = code;
    shim_log("cannot write %d of %d profiles: %s", failed, wanted, first);
}

struct dump_job {
    enum shim_dump_reason why;
    int failed;
};

/* The mappings (refreshed) and the symbolizer a profile with samples
 * needs; NULL symbolizer when there is none or no room for it (*nosym). */
static pprof_symbolizer *prepare_symbols(bool *nosym) {
    pprof_error err = {0};
    if (!maps && pprof_mappings_new(&pp_allocator, &maps, &err) != 0)
        maps = NULL;
    if (!sym && pprof_symbolizer_new(&pp_allocator, &sym, &err) != 0)
        sym = NULL;
    if (sym)
        pprof_symbolizer_separate_debug(sym, shim_cfg.full_symbols);
    if (maps) {
        pprof_mappings_set_generation(maps, __atomic_load_n(&shim_dl_gen, __ATOMIC_RELAXED));
        pprof_mappings_refresh(maps, NULL);
    }
    *nosym = sym && !room_to_symbolize();
    return *nosym ? NULL : sym;
}

/* MAPPROF_EMPTY=skip: one line naming the profiles not written, when that
 * set changes (interval dumps would repeat it). */
static void report_skipped(const char *names) {
    static char said[64];
    if (!names[0] || !strcmp(names, said))
        return;
    snprintf(said, sizeof said, "%s", names);
    shim_log("no samples, not written (MAPPROF_EMPTY=skip):%s", names);
}

/*
 * The dump proper, under dump_lock, on the dump stack; everything it
 * allocates comes from the shim's own memory (mem.c says why). Mappings
 * and symbols are prepared only when a profile has samples: a profile
 * without samples has no locations to resolve, and reading every mapped
 * ELF file's build id was most of what a short process paid at exit.
 */
static void dump_locked(struct dump_job *job) {
    int64_t left = shim_own_alloc_begin();
    int64_t t0 = shim_now_ns();
    pprof_symbolizer *use_sym = NULL;
    bool prepared = false, nosym = false;
    char first[320] = "", msg[256], skipped[64] = "";
    int wanted = 0, first_code = 0;
    for (int k = 0; k < SHIM_PROF_COUNT; k++) {
        if (!shim_profile_on((enum shim_profile_kind)k))
            continue;
        const char *name = shim_profile_name((enum shim_profile_kind)k);
        shim_snapshot s = {0};
        take_snapshot((enum shim_profile_kind)k, &s);
        bool empty = s.n == 0 && s.dropped == 0;
        if (empty && shim_cfg.skip_empty) {
            size_t at = strlen(skipped);
            snprintf(skipped + at, sizeof skipped - at, " %s", name);
            continue;
        }
        wanted++;
        if (!empty && !prepared) {
            prepared = true;
            use_sym = prepare_symbols(&nosym);
        }
        int rc = write_one((enum shim_profile_kind)k, job->why, &s, empty ? NULL : maps,
                           empty ? NULL : use_sym, msg, sizeof msg);
        if (rc != 0 && job->failed++ == 0) {
            first_code = rc;
            snprintf(first, sizeof first, "%s: %s", name, msg);
        }
    }
    if (shim_cfg.trace) { /* the timeline, beside the profiles (trace_json.c) */
        bool none;
        int rc = shim_trace_write(job->why, &none, msg, sizeof msg);
        if (none) {
            size_t at = strlen(skipped);
            snprintf(skipped + at, sizeof skipped - at, " trace");
        } else if (wanted++, rc != 0 && job->failed++ == 0) {
            first_code = rc;
            snprintf(first, sizeof first, "trace: %s", msg);
        }
    }
    report_skipped(skipped);
    /* One line per dump: when every profile failed, that failure says it. */
    if (nosym && job->failed < wanted)
        shim_log("low on memory: profiles written without symbols (go tool pprof can add them "
                 "from the binaries)");
    if (job->failed)
        report_failure(job->failed, wanted, first_code, first);
    shim_account_ns(shim_now_ns() - t0);
    shim_own_alloc_end(left);
}

/*
 * Dumps run on a stack of their own: symbolization (libdw's line tables)
 * needs more than 128 KiB, while the thread calling exit() may have a
 * 16 KiB stack (PTHREAD_STACK_MIN) or run under `ulimit -s 128`. 1 MiB
 * with a guard page, mapped at the first dump and kept; only the holder of
 * dump_lock uses it. Without it (no memory), the dump runs where it is.
 */
#define DUMP_STACK (1u << 20)
static void *dump_stack;
static struct dump_job *current_job;
static ucontext_t dump_ctx, caller_ctx;

static void dump_trampoline(void) {
    dump_locked(current_job);
}

static void dump_on_own_stack(struct dump_job *job) {
    if (!dump_stack) {
        void *m = mmap(NULL, DUMP_STACK + 4096, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (m != MAP_FAILED && mprotect(m, 4096, PROT_NONE) == 0)
            dump_stack = m;
        else if (m != MAP_FAILED)
            munmap(m, DUMP_STACK + 4096);
    }
    if (!dump_stack || getcontext(&dump_ctx) != 0) {
        dump_locked(job);
        return;
    }
    dump_ctx.uc_stack.ss_sp = (char *)dump_stack + 4096;
    dump_ctx.uc_stack.ss_size = DUMP_STACK;
    dump_ctx.uc_link = &caller_ctx;
    current_job = job;
    makecontext(&dump_ctx, dump_trampoline, 0);
    if (swapcontext(&caller_ctx, &dump_ctx) != 0)
        dump_locked(job);
}

int shim_dump(enum shim_dump_reason why, bool final) {
    if (getpid() != shim_pid())
        return -1; /* vfork child (shares our memory) or an unreset fork child */
    int st = __atomic_load_n(&shim_state, __ATOMIC_ACQUIRE);
    if (st != SHIM_ACTIVE && st != SHIM_FINISHED)
        return -1;
    if (final && shim_tls_v.guard) {
        /* exit() from a signal handler that interrupted the shim on this
         * thread: a producer lock may be held right here, so the dump
         * would wait forever for itself. */
        shim_log("final dump skipped: the process exited from inside the profiler (a signal "
                 "handler called exit)");
        return -1;
    }
    if (final && __atomic_exchange_n(&final_done, 1, __ATOMIC_ACQ_REL)) {
        int saved = errno;
        wait_final_dump();
        errno = saved;
        return -1;
    }
    if (final)
        __atomic_store_n(&final_tid, gettid(), __ATOMIC_RELEASE);
    if (!final && __atomic_load_n(&final_done, __ATOMIC_ACQUIRE))
        return -1;
    struct dump_job job = {why, 0};
    int saved = errno;
    int was = shim_enter();
    /* File I/O and libunwind's probes are cancellation points: a cancel
     * acted on here would leave dump_lock held forever. */
    int cancel;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    if (final) /* stop recording first: the snapshot is the last word */
        __atomic_store_n(&shim_state, SHIM_FINISHED, __ATOMIC_RELEASE);
    if (lock_dump(final)) {
        dump_on_own_stack(&job);
        shim_spin_unlock(&dump_lock);
    } else {
        shim_log("final dump skipped: another dump did not finish within 1 s");
        job.failed = 1;
    }
    if (final) {
        shim_cpu_stop();
        __atomic_store_n(&final_finished, 1, __ATOMIC_RELEASE);
    }
    pthread_setcancelstate(cancel, NULL);
    shim_leave(was);
    errno = saved;
    return job.failed ? -1 : 0;
}

/*
 * Around dlclose. Before: remember every mapping (pprof/ keeps entries of
 * unloaded libraries) so the closing library's frames still resolve.
 * After: refresh with the next generation; if a library really went away
 * it is stamped with it, and stacks captured from now on carry it, so
 * they are told apart from older ones at the same addresses.
 */
void shim_dump_note_dl(bool after_close) {
    int saved = errno;
    int was = shim_enter();
    shim_spin_lock(&dump_lock);
    pprof_error err = {0};
    if (!maps && pprof_mappings_new(&pp_allocator, &maps, &err) != 0)
        maps = NULL;
    if (maps) {
        uint32_t gen = __atomic_load_n(&shim_dl_gen, __ATOMIC_RELAXED);
        pprof_mappings_set_generation(maps, after_close ? gen + 1 : gen);
        pprof_mappings_refresh(maps, NULL);
        if (after_close && pprof_mappings_last_death(maps) == gen + 1)
            __atomic_store_n(&shim_dl_gen, gen + 1, __ATOMIC_RELEASE);
    }
    shim_spin_unlock(&dump_lock);
    shim_leave(was);
    errno = saved;
}

void shim_dump_lock_all(bool lock) {
    if (lock)
        shim_spin_lock(&dump_lock);
    else
        shim_spin_unlock(&dump_lock);
}

void shim_dump_after_fork(void) {
    /* The child writes its own files; caches stay valid (same mappings). */
    final_done = 0;
    final_finished = 0;
    final_tid = 0;
    shim_spin_unlock(&dump_lock);
}

void shim_take_snapshot(enum shim_profile_kind k, shim_snapshot *s) {
    take_snapshot(k, s);
}

/*
 * The live endpoint's build (on the server's thread, which holds the guard
 * and allocates from mem.c for life): kind k as it is now, minus base when
 * given, symbolized with the dump's caches under dump_lock. The profile's
 * memory is the shim's own.
 */
int shim_dump_build(enum shim_profile_kind k, bool allocs, shim_snapshot *base,
                    int64_t base_wall_ns, pprof_profile **out, char *msg, size_t cap) {
    int was = shim_enter();
    int64_t left = shim_own_alloc_begin();
    shim_snapshot s = {0};
    take_snapshot(k, &s);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    struct build_req req = {.k = k, .why = SHIM_DUMP_LIVE, .allocs = allocs, .snap = &s};
    if (base) {
        req.base = base;
        req.time_nanos = now;
        req.duration_nanos = now - base_wall_ns;
    } else {
        req.time_nanos = shim_start_wall_ns;
        req.duration_nanos = shim_now_ns() - shim_start_mono_ns;
    }
    shim_spin_lock(&dump_lock);
    bool empty = s.n == 0 && (!base || base->n == 0);
    bool nosym = false;
    pprof_symbolizer *use_sym = empty ? NULL : prepare_symbols(&nosym);
    int rc = build_one(&req, empty ? NULL : maps, use_sym, out, msg, cap);
    shim_spin_unlock(&dump_lock);
    shim_own_alloc_end(left);
    shim_leave(was);
    return rc;
}

/* The function containing pc (an address from a stack, as pprof's /symbol
 * asks), innermost inlined frame first; -1 when unknown. */
int shim_dump_symbol(uint64_t pc, char *name, size_t cap) {
    int was = shim_enter();
    int64_t left = shim_own_alloc_begin();
    shim_spin_lock(&dump_lock);
    bool nosym = false;
    pprof_symbolizer *use_sym = prepare_symbols(&nosym);
    const pprof_frame *frames = NULL;
    size_t n = 0;
    pprof_error err = {0};
    int rc = -1;
    if (use_sym && maps && pprof_symbolize(use_sym, maps, pc, &frames, &n, NULL, &err) == 0 &&
        n > 0 && frames[0].name[0]) {
        snprintf(name, cap, "%s", frames[0].name);
        rc = 0;
    }
    shim_spin_unlock(&dump_lock);
    shim_own_alloc_end(left);
    shim_leave(was);
    return rc;
}
