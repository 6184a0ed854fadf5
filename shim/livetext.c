/*
 * livetext.c — a built profile rendered as the text that Go's
 * net/http/pprof serves for debug=1 and debug=2, from the profile itself
 * (sample types, labels, symbolized locations), so any kind renders.
 *
 * debug=1 layouts, chosen by the sample types:
 *   heap (alloc_objects, alloc_space, inuse_objects, inuse_space):
 *     "heap profile: I: IB [A: AB] @ heap/2" and one record per sample,
 *     "i: ib [a: ab] @ 0xpc ...", as runtime/pprof writes it. The values
 *     are already unbiased (the shim scales at record time), so the rate
 *     is written as heap/2 (sampling every byte), which tells a reader of
 *     the legacy format not to scale them again; the real rate is in a
 *     comment line.
 *   mutex and block (contentions, delay): "--- mutex:" / "--- contention:",
 *     "cycles/second=1000000000" (delays are nanoseconds), "sampling
 *     period=1" (counts already scaled), records "<delay> <count> @ pcs".
 *   a single count type (threads): "<name> profile: total N", then stacks
 *     grouped (per-thread labels dropped) as "<count> @ pcs", by count.
 *   anything else (grow, maps): "<name> profile: type/unit=total ...",
 *     records "<v1> <v2> ... @ pcs" with "# labels: {...}".
 * Every record is followed by its frames, "#\t0xaddr\tfunction\tfile:line"
 * (no +offset: the profile has no function entry addresses), and a blank
 * line. "@" lists return addresses (location address + 1), as Go does.
 * debug=2 (threads): one block per sample, "thread <tid> "<name>" [<state>
 * ...]:" then "function()\n\tfile:line" per frame, like Go's goroutine dump.
 * Records are sorted by their main value, largest first. Non-goals: the
 * "# runtime.MemStats" block (no Go runtime here).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/live.h"

/* Output is assembled in a 64 KiB buffer handed to emit when full: one
 * emit per 64 KiB, and numbers formatted by hand (printf was most of the
 * time for 10,000 stacks). */
#define TEXT_BUF 65536

typedef struct text_out {
    live_emit_fn emit;
    void *ctx;
    size_t n;
    char buf[TEXT_BUF];
} text_out;

static void flush(text_out *o) {
    if (o->n)
        o->emit(o->ctx, o->buf, o->n);
    o->n = 0;
}

static void put_mem(text_out *o, const char *s, size_t n) {
    while (n) {
        if (o->n == TEXT_BUF)
            flush(o);
        size_t k = TEXT_BUF - o->n < n ? TEXT_BUF - o->n : n;
        memcpy(o->buf + o->n, s, k);
        o->n += k;
        s += k;
        n -= k;
    }
}

static void put_str(text_out *o, const char *s) {
    put_mem(o, s, strlen(s));
}

static void put_hex(text_out *o, uint64_t v) {
    char t[20];
    int i = sizeof t;
    do {
        t[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    t[--i] = 'x';
    t[--i] = '0';
    put_mem(o, t + i, sizeof t - (size_t)i);
}

static void put_dec(text_out *o, int64_t v) {
    char t[24];
    int i = sizeof t;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        t[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        t[--i] = '-';
    put_mem(o, t + i, sizeof t - (size_t)i);
}

static void put(text_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_out *o, const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        put_mem(o, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

enum layout { L_HEAP, L_CONTENTION, L_COUNT, L_GENERIC };

static const char *str(const pprof_profile *p, int64_t i) {
    return pprof_profile_str(p, i);
}

static enum layout layout_of(const pprof_profile *p) {
    const pprof_pb_profile *m = pprof_profile_msg(p);
    if (m->n_sample_type == 4 && !strcmp(str(p, m->sample_type[0]->type), "alloc_objects"))
        return L_HEAP;
    if (m->n_sample_type == 2 && !strcmp(str(p, m->sample_type[0]->type), "contentions") &&
        !strcmp(str(p, m->sample_type[1]->type), "delay"))
        return L_CONTENTION;
    if (m->n_sample_type == 1 && !strcmp(str(p, m->sample_type[0]->unit), "count"))
        return L_COUNT;
    return L_GENERIC;
}

/* The value records are sorted by. */
static int64_t main_value(const pprof_pb_sample *s, enum layout l) {
    switch (l) {
    case L_HEAP:
        return s->n_value > 3 ? s->value[3] : 0;
    case L_CONTENTION:
        return s->n_value > 1 ? s->value[1] : 0;
    default:
        return s->n_value ? s->value[0] : 0;
    }
}

static enum layout sort_layout;

static int by_value(const void *a, const void *b) {
    const pprof_pb_sample *x = *(const pprof_pb_sample *const *)a;
    const pprof_pb_sample *y = *(const pprof_pb_sample *const *)b;
    int64_t vx = main_value(x, sort_layout), vy = main_value(y, sort_layout);
    return vx > vy ? -1 : vx < vy;
}

/* Orders by stack (location ids), for grouping. */
static int by_stack(const void *a, const void *b) {
    const pprof_pb_sample *x = *(const pprof_pb_sample *const *)a;
    const pprof_pb_sample *y = *(const pprof_pb_sample *const *)b;
    if (x->n_location_id != y->n_location_id)
        return x->n_location_id < y->n_location_id ? -1 : 1;
    for (size_t i = 0; i < x->n_location_id; i++)
        if (x->location_id[i] != y->location_id[i])
            return x->location_id[i] < y->location_id[i] ? -1 : 1;
    return 0;
}

static void put_pcs(text_out *o, const pprof_profile *p, const pprof_pb_sample *s) {
    put_str(o, " @");
    for (size_t i = 0; i < s->n_location_id; i++) {
        const pprof_pb_location *loc = pprof_profile_location(p, s->location_id[i]);
        put_str(o, " ");
        put_hex(o, loc ? loc->address + 1 : 0);
    }
    put_str(o, "\n");
}

/* Frame lines of a location (inlined calls first, as they were called). */
static void put_frames(text_out *o, const pprof_profile *p, const pprof_pb_sample *s, bool go2) {
    for (size_t i = 0; i < s->n_location_id; i++) {
        const pprof_pb_location *loc = pprof_profile_location(p, s->location_id[i]);
        if (!loc)
            continue;
        if (loc->n_line == 0) {
            const pprof_pb_mapping *mp = pprof_profile_mapping(p, loc->mapping_id);
            const char *file = mp ? str(p, mp->filename) : "";
            uint64_t off = mp ? loc->address - mp->memory_start + mp->file_offset : 0;
            if (go2)
                put(o, "0x%llx()\n\t%s+0x%llx\n", (unsigned long long)loc->address,
                    file[0] ? file : "?", (unsigned long long)off);
            else
                put(o, "#\t0x%llx\t%s+0x%llx\n", (unsigned long long)loc->address,
                    file[0] ? file : "?", (unsigned long long)off);
            continue;
        }
        for (size_t j = 0; j < loc->n_line; j++) {
            const pprof_pb_function *fn = pprof_profile_function(p, loc->line[j]->function_id);
            const char *name = fn ? str(p, fn->name) : "";
            const char *file = fn ? str(p, fn->filename) : "";
            if (go2) {
                put_str(o, name[0] ? name : "?");
                put_str(o, "()\n\t");
            } else {
                put_str(o, "#\t");
                put_hex(o, loc->address);
                put_str(o, "\t");
                put_str(o, name[0] ? name : "?");
                put_str(o, "\t");
            }
            put_str(o, file[0] ? file : "?");
            put_str(o, ":");
            put_dec(o, loc->line[j]->line);
            put_str(o, "\n");
        }
    }
}

static void put_labels(text_out *o, const pprof_profile *p, const pprof_pb_sample *s) {
    if (!s->n_label)
        return;
    put(o, "# labels: {");
    for (size_t i = 0; i < s->n_label; i++) {
        const Perftools__Profiles__Label *l = s->label[i];
        if (l->str)
            put(o, "%s\"%s\":\"%s\"", i ? ", " : "", str(p, l->key), str(p, l->str));
        else
            put(o, "%s\"%s\":%lld", i ? ", " : "", str(p, l->key), (long long)l->num);
    }
    put(o, "}\n");
}

static const Perftools__Profiles__Label *label(const pprof_profile *p, const pprof_pb_sample *s,
                                               const char *key) {
    for (size_t i = 0; i < s->n_label; i++)
        if (!strcmp(str(p, s->label[i]->key), key))
            return s->label[i];
    return NULL;
}

/* A wait as Go prints it for goroutines ("9 minutes"), finer below one
 * minute since native lock waits are short. */
static void put_wait(text_out *o, int64_t ns) {
    if (ns >= 60 * 1000000000ll)
        put(o, ", %lld minutes", (long long)(ns / (60 * 1000000000ll)));
    else if (ns >= 1000000000)
        put(o, ", %.3f seconds", (double)ns / 1e9);
    else
        put(o, ", %.3f ms", (double)ns / 1e6);
}

static void thread_dump(text_out *o, const pprof_profile *p, const pprof_pb_sample *const *v,
                        size_t n) {
    for (size_t i = 0; i < n; i++) {
        const pprof_pb_sample *s = v[i];
        const Perftools__Profiles__Label *tid = label(p, s, "tid");
        const Perftools__Profiles__Label *name = label(p, s, "thread");
        const Perftools__Profiles__Label *state = label(p, s, "state");
        const Perftools__Profiles__Label *lock = label(p, s, "lock");
        const Perftools__Profiles__Label *wait = label(p, s, "wait");
        put(o, "thread %lld \"%s\" [%s", tid ? (long long)tid->num : 0LL,
            name && name->str ? str(p, name->str) : "",
            state && state->str ? str(p, state->str) : "unknown");
        if (lock && lock->str)
            put(o, " on %s", str(p, lock->str));
        if (wait && !wait->str)
            put_wait(o, wait->num);
        put(o, "]:\n");
        put_frames(o, p, s, true);
        put(o, "\n");
    }
}

void shim_live_text(const pprof_profile *p, const char *name, int debug, live_emit_fn emit,
                    void *ctx) {
    text_out *o = malloc(sizeof *o);
    if (!o) {
        emit(ctx, "out of memory\n", 14);
        return;
    }
    o->emit = emit;
    o->ctx = ctx;
    o->n = 0;
    const pprof_pb_profile *m = pprof_profile_msg(p);
    enum layout l = layout_of(p);
    size_t n = m->n_sample;
    const pprof_pb_sample **v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        put(o, "out of memory\n");
        flush(o);
        free(o);
        return;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = m->sample[i];
    sort_layout = l; /* one server thread renders at a time */
    qsort(v, n, sizeof *v, by_value);
    if (debug >= 2 && l == L_COUNT) {
        thread_dump(o, p, v, n);
        free(v);
        flush(o);
        free(o);
        return;
    }
    int64_t tot[8] = {0};
    size_t nt = m->n_sample_type < 8 ? m->n_sample_type : 8;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < nt && j < v[i]->n_value; j++)
            tot[j] += v[i]->value[j];
    switch (l) {
    case L_HEAP:
        put(o, "heap profile: %lld: %lld [%lld: %lld] @ heap/2\n", (long long)tot[2],
            (long long)tot[3], (long long)tot[0], (long long)tot[1]);
        put(o,
            "# mapprof: values are unbiased estimates from sampling every %lld bytes on "
            "average\n",
            (long long)m->period);
        break;
    case L_CONTENTION:
        put(o, "--- %s:\ncycles/second=1000000000\nsampling period=1\n",
            !strcmp(name, "mutex") ? "mutex" : "contention");
        break;
    case L_COUNT:
        put(o, "%s profile: total %lld\n", name, (long long)tot[0]);
        break;
    default:
        put(o, "%s profile:", name);
        for (size_t j = 0; j < nt; j++)
            put(o, " %s/%s=%lld", str(p, m->sample_type[j]->type), str(p, m->sample_type[j]->unit),
                (long long)tot[j]);
        put(o, "\n");
        break;
    }
    if (l == L_COUNT) { /* group identical stacks, largest group first */
        qsort(v, n, sizeof *v, by_stack);
        size_t ng = 0;
        int64_t *cnt = malloc((n ? n : 1) * sizeof *cnt);
        if (!cnt) {
            free(v);
            flush(o);
            free(o);
            return;
        }
        for (size_t i = 0; i < n; i++) {
            if (ng && !by_stack(&v[ng - 1], &v[i])) {
                cnt[ng - 1] += v[i]->value[0];
                continue;
            }
            v[ng] = v[i];
            cnt[ng++] = v[i]->value[0];
        }
        for (size_t i = 0; i < ng; i++) { /* selection by count: few groups */
            size_t best = i;
            for (size_t j = i + 1; j < ng; j++)
                if (cnt[j] > cnt[best])
                    best = j;
            const pprof_pb_sample *ts = v[i];
            int64_t tc = cnt[i];
            v[i] = v[best];
            cnt[i] = cnt[best];
            v[best] = ts;
            cnt[best] = tc;
            put_dec(o, cnt[i]);
            put_pcs(o, p, v[i]);
            put_frames(o, p, v[i], false);
            put_str(o, "\n");
        }
        free(cnt);
        free(v);
        flush(o);
        free(o);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const pprof_pb_sample *s = v[i];
        const int64_t *x = s->value;
        if (l == L_HEAP && s->n_value == 4) {
            put_dec(o, x[2]);
            put_str(o, ": ");
            put_dec(o, x[3]);
            put_str(o, " [");
            put_dec(o, x[0]);
            put_str(o, ": ");
            put_dec(o, x[1]);
            put_str(o, "]");
        } else if (l == L_CONTENTION && s->n_value == 2) {
            put_dec(o, x[1]);
            put_str(o, " ");
            put_dec(o, x[0]);
        } else {
            for (size_t j = 0; j < s->n_value; j++) {
                if (j)
                    put_str(o, " ");
                put_dec(o, x[j]);
            }
        }
        put_pcs(o, p, s);
        if (l == L_GENERIC)
            put_labels(o, p, s);
        put_frames(o, p, s, false);
        put_str(o, "\n");
    }
    free(v);
    flush(o);
    free(o);
}
