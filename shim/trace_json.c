/*
 * trace_json.c — the timeline's file: <MAPPROF_OUT>.<pid>.trace.json in
 * the Chrome Trace Event format (ui.perfetto.dev, chrome://tracing),
 * written at every dump from a copy of the rings (trace.c).
 *
 * Tracks, chosen so that complete (X) events on one track never overlap
 * unless nested (overlap is out of the format's spec):
 * - lock waits: the waiter's thread (a thread waits for one lock at a
 *   time);
 * - grows: lanes ("map grows", "map grows 2", ...), pseudo-threads with
 *   ids above any Linux tid (pid_max <= 2^22). Grows of different maps
 *   overlap in time, so each grow takes the first lane free at its start
 *   (greedy interval partitioning: as many lanes as grows ever evacuated
 *   at once). The thread that started a grow is in its args;
 * - the live heap: a process counter (C).
 * Instants (i): grows still evacuating at the dump (no end yet), and per
 * thread the count of events its full ring dropped, at its oldest kept
 * event. Timestamps are CLOCK_MONOTONIC in µs with ns decimals; events
 * are written sorted by time per track. otherData has the totals.
 *
 * The file appears whole or not at all: a temporary file in the same
 * directory (O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0644) renamed over it,
 * unlinked on any failure. Runs inside a dump (guard set, allocations
 * from mem.c). Non-goals: Perfetto's protobuf format, stacks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim/trace.h"

#define LANE_TID0 (1 << 30) /* grow lanes: above every tid */

extern int64_t shim_start_mono_ns;

typedef struct jw {
    int fd;
    int err; /* first errno */
    size_t n;
    char buf[64 * 1024];
} jw;

static void jw_flush(jw *w) {
    size_t done = 0;
    while (done < w->n && !w->err) {
        ssize_t k = write(w->fd, w->buf + done, w->n - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            w->err = k < 0 ? errno : EIO;
        else
            done += (size_t)k;
    }
    w->n = 0;
}

static void jw_printf(jw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jw_printf(jw *w, const char *fmt, ...) {
    for (int tries = 0; tries < 2; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(w->buf + w->n, sizeof w->buf - w->n, fmt, ap);
        va_end(ap);
        if (k >= 0 && (size_t)k < sizeof w->buf - w->n) {
            w->n += (size_t)k;
            return;
        }
        jw_flush(w); /* one event is far below the buffer's size */
    }
    w->err = w->err ? w->err : EOVERFLOW;
}

/* The per-event writers below format by hand: vsnprintf cost ~1,600
 * instructions a call, 7,000 an event, and a full flight recorder holds
 * 131,072 events. */
static void jw_put(jw *w, const char *s, size_t n) {
    if (n > sizeof w->buf - w->n)
        jw_flush(w);
    if (n > sizeof w->buf) { /* never: callers write short pieces */
        w->err = w->err ? w->err : EOVERFLOW;
        return;
    }
    memcpy(w->buf + w->n, s, n);
    w->n += n;
}

static void jw_lit(jw *w, const char *s) {
    jw_put(w, s, strlen(s));
}

static void jw_u64(jw *w, uint64_t v) {
    char d[24];
    size_t i = sizeof d;
    do
        d[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    jw_put(w, d + i, sizeof d - i);
}

static void jw_i64(jw *w, int64_t v) {
    if (v < 0)
        jw_put(w, "-", 1);
    jw_u64(w, v < 0 ? -(uint64_t)v : (uint64_t)v);
}

static void jw_hex(jw *w, uint64_t v) {
    char d[24];
    size_t i = sizeof d;
    do
        d[--i] = "0123456789abcdef"[v & 15];
    while ((v >>= 4) != 0);
    jw_put(w, "\"0x", 3);
    jw_put(w, d + i, sizeof d - i);
    jw_put(w, "\"", 1);
}

/* Length of the valid UTF-8 sequence of 2-4 bytes at s, else 0. */
static size_t utf8_len(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = p[0] >= 0xc2 && p[0] <= 0xdf   ? 2
               : p[0] >= 0xe0 && p[0] <= 0xef ? 3
               : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4
                                              : 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((n == 3 && p[0] == 0xe0 && p[1] < 0xa0) || (n == 3 && p[0] == 0xed && p[1] >= 0xa0) ||
        (n == 4 && p[0] == 0xf0 && p[1] < 0x90) || (n == 4 && p[0] == 0xf4 && p[1] >= 0x90))
        return 0; /* overlong, surrogate, beyond U+10FFFF */
    return n;
}

/* A JSON string's body: quotes, backslashes, control bytes and bytes that
 * are not valid UTF-8 escaped (\u00XX), so any type or thread name stays
 * valid JSON; at most ~400 bytes. */
static void jw_esc(jw *w, const char *s) {
    size_t n = 0;
    while (s && n < 400 && (unsigned char)s[n] >= 0x20 && (unsigned char)s[n] < 0x7f &&
           s[n] != '"' && s[n] != '\\')
        n++;
    if (!s || !s[n] || n == 400) { /* plain ASCII: as it is (the usual case) */
        jw_put(w, s, n);
        return;
    }
    char out[512];
    size_t o = 0;
    for (size_t i = 0; s[i] && o < sizeof out - 8; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t u = utf8_len(s + i);
        if (u > 1 && o + u < sizeof out - 8) {
            memcpy(out + o, s + i, u);
            o += u;
            i += u - 1;
        } else if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            o += (size_t)snprintf(out + o, sizeof out - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    jw_put(w, out, o);
}

static void jw_str(jw *w, const char *s) {
    jw_put(w, "\"", 1);
    jw_esc(w, s);
    jw_put(w, "\"", 1);
}

/* ,"key":µs with the ns as decimals. */
static void jw_us(jw *w, const char *key, int64_t ns) {
    uint64_t a = ns < 0 ? -(uint64_t)ns : (uint64_t)ns;
    char frac[4] = {'.', (char)('0' + a % 1000 / 100), (char)('0' + a % 100 / 10),
                    (char)('0' + a % 10)};
    jw_put(w, ",\"", 2);
    jw_lit(w, key);
    jw_put(w, ns < 0 ? "\":-" : "\":", ns < 0 ? 3 : 2);
    jw_u64(w, a / 1000);
    jw_put(w, frac, 4);
}

/* ,"pid":P,"tid":T */
static void jw_pid_tid(jw *w, int pid, int64_t tid) {
    jw_lit(w, ",\"pid\":");
    jw_i64(w, pid);
    jw_lit(w, ",\"tid\":");
    jw_i64(w, tid);
}

static const char *end_name(int flags) {
    switch (flags & TRACE_END_MASK) {
    case TRACE_END_EVACUATED:
        return "evacuated";
    case TRACE_END_CLEARED:
        return "cleared";
    case TRACE_END_ITER:
        return "old array released by the last iterator";
    case TRACE_END_NEXT:
        return "old array held by an iterator until the next grow";
    case TRACE_END_FREED:
        return "map freed";
    default:
        return "evacuating at dump";
    }
}

static int cmp_ts(const void *a, const void *b) {
    const trace_ev *x = a, *y = b;
    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static int cmp_tid_ts(const void *a, const void *b) {
    const trace_ev *x = a, *y = b;
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    return cmp_ts(a, b);
}

/* One thread's name: its current one when it still runs, else the one it
 * had at its first event. */
static void thread_name(int tid, const char *fallback, char *out, size_t cap) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t k = fd >= 0 ? read(fd, out, cap - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (k > 0) {
        out[k] = 0;
        out[strcspn(out, "\n")] = 0;
    } else {
        snprintf(out, cap, "%s", fallback && *fallback ? fallback : "thread");
    }
}

static void grow_name(jw *w, const trace_ev *g, const char *suffix) {
    jw_lit(w, "{\"name\":\"grow ");
    jw_esc(w, g->type && *g->type ? g->type : "map");
    jw_lit(w, " B ");
    jw_u64(w, g->from_B);
    jw_lit(w, "\u2192");
    jw_u64(w, g->to_B);
    jw_lit(w, g->flags & TRACE_SAME_SIZE ? " (same size)" : "");
    jw_lit(w, suffix);
    jw_put(w, "\"", 1);
}

static void grow_args(jw *w, const trace_ev *g, bool open) {
    jw_lit(w, ",\"args\":{\"map\":");
    jw_hex(w, g->addr);
    jw_lit(w, ",\"type\":");
    jw_str(w, g->type);
    jw_lit(w, ",\"from_B\":");
    jw_u64(w, g->from_B);
    jw_lit(w, ",\"to_B\":");
    jw_u64(w, g->to_B);
    jw_lit(w, g->flags & TRACE_SAME_SIZE ? ",\"same_size\":true" : ",\"same_size\":false");
    jw_lit(w, ",\"entries\":");
    jw_u64(w, g->entries);
    jw_lit(w, ",\"bytes\":");
    jw_u64(w, g->bytes);
    jw_lit(w, ",\"started_by_tid\":");
    jw_i64(w, g->tid);
    jw_lit(w, ",\"end\":\"");
    jw_lit(w, open ? end_name(0) : end_name(g->flags));
    jw_lit(w, "\"}}");
}

typedef struct ring_info {
    int tid;
    char name[16];
    uint64_t dropped;
    int64_t first_ts; /* oldest kept event (INT64_MAX: none) */
} ring_info;

typedef struct collected {
    trace_ev *ev; /* every kept event; open grows appended as kind 0 + flags */
    size_t n, n_open;
    ring_info *rings;
    size_t n_rings;
    uint64_t dropped;
} collected;

static int collect(collected *c) {
    memset(c, 0, sizeof *c);
    size_t room = 0;
    for (trace_ring *r = shim_trace_rings(); r; r = r->next) {
        c->n_rings++;
        room += r->cap; /* may grow meanwhile: copy_ring caps at room */
    }
    trace_grow *open = NULL;
    size_t n_open = shim_trace_copy_pending(&open);
    room += n_open;
    c->ev = shim_mem_alloc((room ? room : 1) * sizeof *c->ev);
    c->rings = shim_calloc((c->n_rings ? c->n_rings : 1) * sizeof *c->rings);
    if (!c->ev || !c->rings) {
        shim_free(open);
        return -ENOMEM;
    }
    size_t i = 0;
    for (trace_ring *r = shim_trace_rings(); r && i < c->n_rings; r = r->next, i++) {
        ring_info *ri = &c->rings[i];
        size_t k = shim_trace_copy_ring(r, c->ev + c->n, room - n_open - c->n, &ri->dropped);
        ri->tid = r->tid;
        memcpy(ri->name, r->name, sizeof ri->name);
        ri->first_ts = INT64_MAX;
        for (size_t j = 0; j < k; j++)
            if (c->ev[c->n + j].ts < ri->first_ts)
                ri->first_ts = c->ev[c->n + j].ts;
        c->n += k;
        c->dropped += ri->dropped;
    }
    c->n_rings = i;
    for (size_t j = 0; j < n_open; j++) {
        c->ev[c->n + j] = shim_trace_grow_ev(&open[j], 0, 0);
    }
    c->n_open = n_open;
    shim_free(open);
    c->dropped += shim_trace_lost();
    return 0;
}

/* Kept events sorted into runs: grows (finished, then open), lock waits by
 * (tid, ts), heap points by ts. */
typedef struct runs {
    trace_ev *grows, *open, *locks, *heap;
    size_t n_grows, n_open, n_locks, n_heap;
} runs;

static void split(collected *c, runs *r) {
    size_t closed = c->n;
    /* Partition [0, closed) stably by kind: grows, locks, heap. */
    trace_ev *tmp = shim_mem_alloc((closed ? closed : 1) * sizeof *tmp);
    size_t n = 0;
    memset(r, 0, sizeof *r);
    if (!tmp)
        return;
    for (int kind = TRACE_GROW; kind <= TRACE_HEAP; kind++) {
        size_t at = n;
        for (size_t i = 0; i < closed; i++)
            if (c->ev[i].kind == kind)
                tmp[n++] = c->ev[i];
        if (kind == TRACE_GROW)
            r->n_grows = n - at;
        else if (kind == TRACE_LOCK)
            r->n_locks = n - at;
        else
            r->n_heap = n - at;
    }
    memcpy(c->ev, tmp, n * sizeof *tmp);
    shim_free(tmp);
    r->grows = c->ev;
    r->locks = r->grows + r->n_grows;
    r->heap = r->locks + r->n_locks;
    r->open = c->ev + closed;
    r->n_open = c->n_open;
    qsort(r->grows, r->n_grows, sizeof *r->grows, cmp_ts);
    qsort(r->open, r->n_open, sizeof *r->open, cmp_ts);
    qsort(r->locks, r->n_locks, sizeof *r->locks, cmp_tid_ts);
    qsort(r->heap, r->n_heap, sizeof *r->heap, cmp_ts);
}

/* Lanes for finished grows (sorted by start): the first lane whose last
 * grow ended by this one's start. lane[i] receives grow i's lane; returns
 * the number of lanes (0 on no memory: everything goes to lane 0 then,
 * which is only wrong when grows overlap). */
static size_t assign_lanes(const trace_ev *g, size_t n, unsigned *lane) {
    int64_t *end = shim_mem_alloc((n ? n : 1) * sizeof *end);
    size_t lanes = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = 0;
        if (end) {
            while (l < lanes && end[l] > g[i].ts)
                l++;
            if (l == lanes)
                lanes++;
            end[l] = g[i].ts + g[i].dur;
        }
        lane[i] = (unsigned)l;
    }
    shim_free(end);
    return end ? lanes : n > 0;
}

static void write_meta(jw *w, int pid, int tid, const char *what, const char *name, bool *first) {
    jw_printf(w, "%s\n{\"name\":\"%s\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":",
              *first ? "" : ",", what, pid, tid);
    jw_str(w, name);
    jw_printf(w, "}}");
    *first = false;
}

static const char *reason_str(enum shim_dump_reason why) {
    static const char *const names[] = {"exit", "fatal", "signal", "interval", "request"};
    return (unsigned)why < sizeof names / sizeof names[0] ? names[why] : "?";
}

static void write_events(jw *w, const collected *c, const runs *r, const unsigned *lane,
                         size_t lanes, enum shim_dump_reason why, int64_t now, int64_t heap_now) {
    int pid = (int)getpid();
    bool first = true;
    char name[64];
    jw_printf(w, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[");
    thread_name(pid, "process", name, sizeof name);
    write_meta(w, pid, pid, "process_name", name, &first);
    size_t n_lanes = lanes > 0 ? lanes : (r->n_open > 0);
    for (size_t l = 0; l < n_lanes; l++) {
        char lname[32];
        snprintf(lname, sizeof lname, l ? "map grows %zu" : "map grows", l + 1);
        write_meta(w, pid, LANE_TID0 + (int)l, "thread_name", lname, &first);
        jw_printf(w,
                  ",\n{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
                  "\"args\":{\"sort_index\":%d}}",
                  pid, LANE_TID0 + (int)l, -100 + (int)l);
    }
    /* Thread names: every ring's thread and every waiter (a waiter has a ring). */
    for (size_t i = 0; i < c->n_rings; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = c->rings[j].tid == c->rings[i].tid;
        if (seen)
            continue;
        thread_name(c->rings[i].tid, c->rings[i].name, name, sizeof name);
        write_meta(w, pid, c->rings[i].tid, "thread_name", name, &first);
    }
    /* Finished and open grows merged by start, so lane 1 (which has both)
     * stays in time order. */
    for (size_t i = 0, j = 0; i < r->n_grows || j < r->n_open;) {
        bool open = j < r->n_open && (i == r->n_grows || r->open[j].ts < r->grows[i].ts);
        const trace_ev *g = open ? &r->open[j++] : &r->grows[i++];
        jw_lit(w, ",\n");
        grow_name(w, g, open ? " (evacuating at dump)" : "");
        jw_lit(w, open ? ",\"cat\":\"map.grow\",\"ph\":\"i\",\"s\":\"t\""
                       : ",\"cat\":\"map.grow\",\"ph\":\"X\"");
        jw_us(w, "ts", g->ts);
        if (!open)
            jw_us(w, "dur", g->dur);
        jw_pid_tid(w, pid, LANE_TID0 + (open ? 0 : (int)lane[i - 1]));
        grow_args(w, g, open);
    }
    /* Drops first: each is at its thread's oldest kept event. */
    for (size_t i = 0; i < c->n_rings; i++) {
        const ring_info *ri = &c->rings[i];
        if (!ri->dropped)
            continue;
        jw_printf(w,
                  ",\n{\"name\":\"trace ring full: %llu earlier events dropped\",\"cat\":"
                  "\"mapprof\",\"ph\":\"i\",\"s\":\"t\"",
                  (unsigned long long)ri->dropped);
        jw_us(w, "ts", ri->first_ts == INT64_MAX ? now : ri->first_ts);
        jw_printf(w, ",\"pid\":%d,\"tid\":%d,\"args\":{\"dropped\":%llu}}", pid, ri->tid,
                  (unsigned long long)ri->dropped);
    }
    for (size_t i = 0; i < r->n_locks; i++) {
        const trace_ev *e = &r->locks[i];
        jw_lit(w,
               e->flags == TRACE_LOCK_COND
                   ? ",\n{\"name\":\"lock wait (condition re-lock)\",\"cat\":\"lock\",\"ph\":\"X\""
                   : ",\n{\"name\":\"lock wait\",\"cat\":\"lock\",\"ph\":\"X\"");
        jw_us(w, "ts", e->ts);
        jw_us(w, "dur", e->dur);
        jw_pid_tid(w, pid, e->tid);
        jw_lit(w, ",\"args\":{\"lock\":");
        jw_hex(w, e->addr);
        jw_lit(w, ",\"wait_ns\":");
        jw_i64(w, e->dur);
        jw_lit(w, "}}");
    }
    /* The rings' points, the change not yet in a ring, the value now:
     * each only when it moves on in time and adds something. */
    int64_t last_ts = INT64_MIN, last_v = -1, pts, pv;
    bool pending = shim_trace_heap_pending(&pts, &pv);
    for (size_t i = 0; i < r->n_heap + 2; i++) {
        int64_t ts = i < r->n_heap ? r->heap[i].ts : i == r->n_heap ? pts : now;
        int64_t v = i < r->n_heap ? r->heap[i].dur : i == r->n_heap ? pv : heap_now;
        if (i >= r->n_heap &&
            ((i == r->n_heap && !pending) || v < 0 || v == last_v || ts < last_ts))
            continue;
        jw_lit(w, ",\n{\"name\":\"heap live bytes (sampled estimate)\",\"cat\":\"heap\","
                  "\"ph\":\"C\"");
        jw_us(w, "ts", ts);
        jw_pid_tid(w, pid, pid);
        jw_lit(w, ",\"args\":{\"bytes\":");
        jw_i64(w, v);
        jw_lit(w, "}}");
        last_ts = ts;
        last_v = v;
    }
    jw_printf(w,
              "\n],\"otherData\":{\"generator\":\"mapprof\",\"pid\":%d,\"reason\":\"%s\","
              "\"clock\":\"CLOCK_MONOTONIC\"",
              pid, reason_str(why));
    jw_us(w, "start_us", shim_start_mono_ns);
    jw_us(w, "dump_us", now);
    jw_printf(w,
              ",\"grows\":%zu,\"grows_evacuating\":%zu,\"lock_waits\":%zu,\"heap_points\":%zu,"
              "\"lock_threshold_ns\":%llu,\"ring_cap\":%u,\"ring_slots\":%llu,"
              "\"dropped_events\":%llu,\"lost_events\":%llu}}\n",
              r->n_grows, r->n_open, r->n_locks, r->n_heap,
              (unsigned long long)shim_cfg.trace_lock_ns, shim_cfg.trace_cap,
              (unsigned long long)shim_trace_slots(), (unsigned long long)c->dropped,
              (unsigned long long)shim_trace_lost());
}

/* Write the file atomically; 0 or -errno (msg says what failed). */
static int write_file(const collected *c, const runs *r, const unsigned *lane, size_t lanes,
                      enum shim_dump_reason why, char *msg, size_t cap) {
    static unsigned counter;
    char path[PATH_MAX + 64], tmp[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s.%d.trace.json", shim_cfg.out, (int)getpid());
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) + 1 : 0;
    snprintf(tmp, sizeof tmp, "%.*s.%s.tmp.%d.%u", dirlen, path, path + dirlen, (int)getpid(),
             __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    jw *w = shim_mem_alloc(sizeof *w);
    if (!w) {
        snprintf(msg, cap, "out of memory");
        return -ENOMEM;
    }
    w->n = 0;
    w->err = 0;
    w->fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (w->fd < 0) {
        int e = errno;
        snprintf(msg, cap, "cannot create %s: %s", tmp, strerror(e));
        shim_free(w);
        return -e;
    }
    (void)fchmod(w->fd, 0644);
    int64_t now = shim_now_ns();
    write_events(w, c, r, lane, lanes, why, now, shim_heap_live_bytes());
    jw_flush(w);
    int e = w->err;
    if (close(w->fd) < 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) < 0)
        e = errno;
    if (e) {
        unlink(tmp);
        snprintf(msg, cap, "%s: %s", path, strerror(e));
    }
    shim_free(w);
    return -e;
}

int shim_trace_write(enum shim_dump_reason why, bool *empty, char *msg, size_t cap) {
    collected c;
    *empty = false;
    int rc = collect(&c);
    if (rc == 0 && c.n == 0 && c.n_open == 0 && c.dropped == 0 && shim_cfg.skip_empty) {
        *empty = true;
    } else if (rc == 0) {
        runs r;
        split(&c, &r);
        unsigned *lane = shim_mem_alloc((r.n_grows ? r.n_grows : 1) * sizeof *lane);
        if (!lane || (c.n && !r.grows)) {
            rc = -ENOMEM;
        } else {
            size_t lanes = assign_lanes(r.grows, r.n_grows, lane);
            rc = write_file(&c, &r, lane, lanes, why, msg, cap);
        }
        shim_free(lane);
    }
    if (rc == -ENOMEM)
        snprintf(msg, cap, "out of memory");
    shim_free(c.ev);
    shim_free(c.rings);
    return rc;
}
