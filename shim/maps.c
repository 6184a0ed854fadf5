/*
 * maps.c — the grow and maps profiles: mapprof_gomap_hooks, the object
 * every libgomap copy finds with dlsym(RTLD_DEFAULT) on its first
 * gomap_new.
 *
 * grow: one event per hashGrow (1 in MAPPROF_GROW_RATE, scaled back up at
 * record time), stacked where the inserting call happened, libgomap's own
 * frames at the leaf. Aggregated per (stack, kind, from_B, to_B, type).
 * maps: every live map remembers its creation stack in a record (the
 * cookie returned by on_new); a dump walks the live maps and reads
 * gomap_get_stats best-effort (a map written concurrently may give torn
 * numbers, never a crash: stats only reads header fields, and on_free
 * takes maps_lock before the map goes away, so no map is read after free).
 * on_fatal ("concurrent map writes") runs the final dump before libgomap
 * aborts.
 *
 * Hooks run inside map operations on the host's threads: they take the
 * guard, unwind before locking, and never touch the calling map.
 */
#include <errno.h>
#include <string.h>

#include "map/gomap.h"
#include "pprof/conventions.h"
#include "shim/shim.h"

typedef struct live_map {
    const gomap *m;
    const shim_stack *stack;
    const char *type; /* the map type's name, interned (its library may be unloaded) */
} live_map;

typedef struct grow_bucket {
    struct grow_bucket *next;
    const shim_stack *stack;
    const char *type;
    unsigned from_B, to_B;
    bool same_size;
    int64_t grows, bytes, entries;
} grow_bucket;

static shim_spin maps_lock;
static shim_table live_maps; /* gomap address -> live_map */
static shim_table grows;     /* hash -> grow_bucket chain */
static uint64_t dropped;

static bool on(enum shim_profile_kind k) {
    return !shim_tls_v.guard && shim_recording() && shim_profile_on(k);
}

static void *hk_new(const gomap *m, const gomap_type *t, size_t hint) {
    (void)hint;
    if (!on(SHIM_PROF_MAPS))
        return NULL;
    int saved = errno;
    int was = shim_enter();
    int64_t t0 = shim_now_ns();
    const shim_stack *st = shim_stack_here();
    live_map *lm = shim_calloc(sizeof *lm);
    if (lm) {
        lm->m = m;
        lm->stack = st;
        lm->type = shim_intern_str(t && t->name ? t->name : "");
    }
    shim_spin_lock(&maps_lock);
    if (lm && shim_table_put(&live_maps, (uint64_t)(uintptr_t)m, lm) < 0) {
        shim_free(lm);
        lm = NULL;
    }
    if (!lm)
        dropped++;
    shim_spin_unlock(&maps_lock);
    shim_account_ns(shim_now_ns() - t0);
    shim_leave(was);
    errno = saved;
    return lm;
}

static void hk_free(const gomap *m, void *cookie) {
    if (shim_trace_on())
        shim_trace_map_free(m);
    if (!cookie)
        return;
    int was = shim_enter();
    shim_spin_lock(&maps_lock);
    /* Only our own record: after a fork reset the table no longer has it. */
    live_map *lm = shim_table_get(&live_maps, (uint64_t)(uintptr_t)m);
    if (lm == cookie)
        shim_table_del(&live_maps, (uint64_t)(uintptr_t)m);
    else
        lm = NULL;
    shim_spin_unlock(&maps_lock);
    shim_free(lm);
    shim_leave(was);
}

static void hk_grow(const gomap *m, void *cookie, const gomap_grow_event *ev) {
    (void)cookie;
    if (shim_trace_on()) /* every grow, whatever MAPPROF_GROW_RATE samples */
        shim_trace_grow(m, ev);
    if (!on(SHIM_PROF_GROW) || !shim_one_in(shim_cfg.grow_rate))
        return;
    int saved = errno;
    int was = shim_enter();
    int64_t t0 = shim_now_ns();
    const shim_stack *st = shim_stack_here();
    const gomap_type *t = gomap_get_type(m);
    const char *type = shim_intern_str(t && t->name ? t->name : "");
    int64_t w = (int64_t)shim_cfg.grow_rate;
    uint64_t k = shim_hash64((st ? st->hash : 0) ^ ((uint64_t)ev->old_B << 8 | ev->new_B) ^
                             (uint64_t)(uintptr_t)type ^ (ev->same_size ? 0x5a5a : 0)) |
                 1;
    shim_spin_lock(&maps_lock);
    grow_bucket *head = st ? shim_table_get(&grows, k) : NULL, *b = head;
    while (b && !(b->stack == st && b->type == type && b->from_B == ev->old_B &&
                  b->to_B == ev->new_B && b->same_size == ev->same_size))
        b = b->next;
    if (!b && st && (b = shim_calloc(sizeof *b)) != NULL) {
        *b = (grow_bucket){head, st, type, ev->old_B, ev->new_B, ev->same_size, 0, 0, 0};
        if (shim_table_put(&grows, k, b) < 0) {
            shim_free(b);
            b = NULL;
        }
    }
    if (b) {
        b->grows += w;
        b->bytes += w * (int64_t)ev->bytes;
        b->entries += w * (int64_t)ev->entries;
    } else {
        dropped++;
    }
    shim_spin_unlock(&maps_lock);
    shim_account_ns(shim_now_ns() - t0);
    shim_leave(was);
    errno = saved;
}

static void hk_alloc(const gomap *m, void *cookie, enum gomap_alloc_kind kind, ptrdiff_t bytes) {
    /* Map memory is visible in the maps profile (bytes from the stats).
     * The timeline ends a grow when its old bucket array is let go. */
    (void)cookie;
    if (kind == GOMAP_ALLOC_BUCKETS && bytes < 0 && shim_trace_on())
        shim_trace_map_release(m, (uint64_t)-bytes);
}

static void hk_fatal(const char *msg) {
    (void)msg;
    shim_dump(SHIM_DUMP_FATAL, true);
}

SHIM_EXPORT const gomap_hooks mapprof_gomap_hooks = {
    .version = GOMAP_HOOKS_VERSION,
    .on_new = hk_new,
    .on_free = hk_free,
    .on_grow = hk_grow,
    .on_alloc = hk_alloc,
    .on_fatal = hk_fatal,
};

static void snap_grow(uint64_t key, void *val, void *ctx) {
    (void)key;
    for (grow_bucket *b = val; b; b = b->next) {
        shim_sample *sm = shim_snapshot_add(ctx, 4);
        if (!sm)
            return;
        sm->stack = b->stack;
        sm->values[0] = b->grows;
        sm->values[1] = b->bytes;
        sm->values[2] = b->entries;
        sm->labels[0] = (shim_label){
            PPROF_LABEL_KIND, b->same_size ? PPROF_KIND_SAME_SIZE : PPROF_KIND_DOUBLE, 0, NULL};
        sm->labels[1] = (shim_label){PPROF_LABEL_TYPE, b->type, 0, NULL};
        sm->labels[2] = (shim_label){PPROF_LABEL_FROM_B, NULL, b->from_B, PPROF_UNIT_B};
        sm->labels[3] = (shim_label){PPROF_LABEL_TO_B, NULL, b->to_B, PPROF_UNIT_B};
    }
}

void shim_grow_snapshot(shim_snapshot *s) {
    shim_spin_lock(&maps_lock);
    shim_table_each(&grows, snap_grow, s);
    s->dropped += dropped;
    shim_spin_unlock(&maps_lock);
}

static void snap_map(uint64_t key, void *val, void *ctx) {
    (void)key;
    live_map *lm = val;
    gomap_stats st;
    gomap_get_stats(lm->m, &st);
    shim_sample *sm = shim_snapshot_add(ctx, 3);
    if (!sm)
        return;
    sm->stack = lm->stack;
    sm->values[0] = 1;
    sm->values[1] = (int64_t)st.count;
    sm->values[2] = (int64_t)st.buckets;
    sm->values[3] = (int64_t)st.overflow;
    sm->values[4] = (int64_t)st.bytes;
    sm->labels[0] = (shim_label){PPROF_LABEL_B, NULL, st.B, PPROF_UNIT_B};
    sm->labels[1] = (shim_label){PPROF_LABEL_GROWS, NULL, (int64_t)st.grows, PPROF_UNIT_COUNT};
    sm->labels[2] = (shim_label){PPROF_LABEL_TYPE, lm->type, 0, NULL};
}

void shim_maps_snapshot(shim_snapshot *s) {
    shim_spin_lock(&maps_lock);
    shim_table_each(&live_maps, snap_map, s);
    s->dropped += dropped;
    shim_spin_unlock(&maps_lock);
}

void shim_maps_lock_all(bool lock) {
    if (lock)
        shim_spin_lock(&maps_lock);
    else
        shim_spin_unlock(&maps_lock);
}

void shim_maps_after_fork(void) {
    /* Live maps were copied into the child and stay live there: keep them
     * (the maps profile is a snapshot of state); grow events restart. */
    shim_table_clear(&grows);
    dropped = 0;
    shim_spin_unlock(&maps_lock);
}
