/*
 * merge.c — pprof_profile_merge: many profiles in, one profile out.
 *
 * The typical input is one file per process of a run (a program and its
 * forked children): same binaries, different load addresses, different
 * id numbering, different string tables. Everything is re-interned into
 * the output through libgomap maps keyed by byte strings of output ids:
 *   strings    the text itself
 *   functions  (name, system_name, filename, start_line)
 *   mappings   (build id, else file name; file offset; size rounded up to
 *              4 KiB) — pprof's own key, so ASLR differences cancel out.
 *              Anonymous mappings (neither) also key on their start.
 *              The first input's mapping wins; later ones are rebased
 *              onto it (address - their start + its start), and has_*
 *              flags stay true only when true in every merged mapping.
 *   locations  (mapping, rebased address, is_folded, lines)
 *   samples    (location ids, labels sorted by (key, str, num, unit)):
 *              values of identical samples are summed; overflow is an
 *              error (-EOVERFLOW), never a silent wrap.
 * Invariants: output ids are dense 1..n in first-seen order; every input
 * mapping is kept, used or not, so the first input's main binary stays
 * mapping[0]; every output object and
 * string lives in the output profile's arena; keys live in a scratch arena
 * freed on return; inputs are never modified.
 *
 * Header: sample types must be identical (type and unit, same order) and
 * period types too (both absent counts as equal); the period is the
 * largest; time_nanos the earliest; duration spans from the earliest start
 * to the latest end (the sum when a time is missing); drop/keep frames,
 * default sample type and doc url come from the first input that has
 * them; comments are the union in first-seen order. Non-goals: pprof's
 * "normalize", label-based filtering, merging different sample types.
 */
#include "pprof/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A growable array of pointers (or int64 values) in caller memory. */
typedef struct vec {
    void **v;
    size_t n, cap;
} vec;

typedef struct merger {
    pprof_allocator a;
    gomap_alloc ga;
    pprof__arena keys; /* interning keys (gomap keeps pointers to them) */
    pprof_profile *out;
    gomap *strs, *fns, *maps, *locs, *samples, *comments; /* key -> output index */
    vec strtab, fn, mapping, loc, sample, comment;
    uint64_t *kb; /* key under construction */
    size_t kn, kcap;
    size_t ntypes;
} merger;

/* Make room for one more of *n elements of size es in *arr (capacity
 * *cap), doubling from 64; the old array goes back to the allocator. */
static int grow(merger *mg, void *arr, size_t *cap, size_t n, size_t es) {
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? 2 * *cap : 64;
    void *old, *nv = pprof__alloc(&mg->a, ncap * es);
    if (!nv)
        return -ENOMEM;
    memcpy(&old, arr, sizeof old);
    if (n)
        memcpy(nv, old, n * es);
    pprof__release(&mg->a, old, *cap * es);
    memcpy(arr, &nv, sizeof nv);
    *cap = ncap;
    return 0;
}

static int vec_push(merger *mg, vec *v, void *item) {
    if (grow(mg, &v->v, &v->cap, v->n, sizeof *v->v) < 0)
        return -ENOMEM;
    v->v[v->n++] = item;
    return 0;
}

static void vec_free(merger *mg, vec *v) {
    pprof__release(&mg->a, v->v, v->cap * sizeof *v->v);
}

static int key_put(merger *mg, uint64_t x) {
    if (grow(mg, &mg->kb, &mg->kcap, mg->kn, sizeof *mg->kb) < 0)
        return -ENOMEM;
    mg->kb[mg->kn++] = x;
    return 0;
}

static int key_putn(merger *mg, const uint64_t *xs, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (key_put(mg, xs[i]) < 0)
            return -ENOMEM;
    return 0;
}

#define KEY(mg, ...)                                                                               \
    key_putn((mg), (const uint64_t[]){__VA_ARGS__},                                                \
             sizeof((const uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t))

/*
 * Look up bytes p[0..n) in m. Returns 1 and *idx when present; 0 after
 * inserting it with index `next` (the key copied into the scratch arena);
 * -ENOMEM.
 */
static int intern_bytes(merger *mg, gomap *m, const void *p, size_t n, uint64_t next,
                        uint64_t *idx) {
    uint64_t *v = gomap_lookup_str(m, p, n);
    if (v) {
        *idx = *v;
        return 1;
    }
    char *copy = pprof__arena_strndup(&mg->keys, p, n);
    void *elem;
    if (!copy || gomap_assign_str(m, copy, n, &elem) < 0)
        return -ENOMEM;
    memcpy(elem, &next, sizeof next);
    *idx = next;
    return 0;
}

/* The output string index of s. */
static int out_str(merger *mg, const char *s, int64_t *idx) {
    size_t len = strlen(s);
    uint64_t i;
    int rc = intern_bytes(mg, mg->strs, s, len, mg->strtab.n, &i);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        char *copy = pprof__arena_strndup(&mg->out->ar, s, len);
        if (!copy || vec_push(mg, &mg->strtab, copy) < 0)
            return -ENOMEM;
    }
    *idx = (int64_t)i;
    return 0;
}

/* An input string index translated to the output table. */
static int xstr(merger *mg, const pprof_profile *in, int64_t idx, int64_t *out) {
    return out_str(mg, pprof_profile_str(in, idx), out);
}

/* Intern the key in mg->kb into m; *isnew tells whether it was added. */
static int intern_key(merger *mg, gomap *m, uint64_t next, uint64_t *idx, bool *isnew) {
    int rc = intern_bytes(mg, m, mg->kb, mg->kn * sizeof *mg->kb, next, idx);
    *isnew = rc == 0;
    return rc < 0 ? rc : 0;
}

#define NEW(mg, T) ((T *)pprof__arena_alloc(&(mg)->out->ar, sizeof(T)))

static int merge_function(merger *mg, const pprof_profile *in, uint64_t id, uint64_t *out_id) {
    const pprof_pb_function *f = pprof_profile_function(in, id);
    int64_t name, sys, file;
    if (!f)
        return -ENOENT; /* the reader guarantees lines name known functions */
    if (xstr(mg, in, f->name, &name) < 0 || xstr(mg, in, f->system_name, &sys) < 0 ||
        xstr(mg, in, f->filename, &file) < 0)
        return -ENOMEM;
    mg->kn = 0;
    if (KEY(mg, (uint64_t)name, (uint64_t)sys, (uint64_t)file, (uint64_t)f->start_line) < 0)
        return -ENOMEM;
    uint64_t i;
    bool isnew;
    if (intern_key(mg, mg->fns, mg->fn.n, &i, &isnew) < 0)
        return -ENOMEM;
    if (isnew) {
        pprof_pb_function *x = NEW(mg, pprof_pb_function);
        if (!x)
            return -ENOMEM;
        *x = (pprof_pb_function)PERFTOOLS__PROFILES__FUNCTION__INIT;
        x->id = i + 1;
        x->name = name;
        x->system_name = sys;
        x->filename = file;
        x->start_line = f->start_line;
        if (vec_push(mg, &mg->fn, x) < 0)
            return -ENOMEM;
    }
    *out_id = i + 1;
    return 0;
}

/* *out: the output mapping for input mapping id (NULL when it has none). */
static int merge_mapping(merger *mg, const pprof_profile *in, uint64_t id, pprof_pb_mapping **out) {
    *out = NULL;
    const pprof_pb_mapping *m = pprof_profile_mapping(in, id);
    if (!m)
        return 0;
    int64_t file, bid;
    if (xstr(mg, in, m->filename, &file) < 0 || xstr(mg, in, m->build_id, &bid) < 0)
        return -ENOMEM;
    uint64_t size = m->memory_limit >= m->memory_start ? m->memory_limit - m->memory_start : 0;
    size = (size + 4095) & ~(uint64_t)4095;
    mg->kn = 0;
    int rc;
    if (bid)
        rc = KEY(mg, 1, (uint64_t)bid, m->file_offset, size);
    else if (file)
        rc = KEY(mg, 2, (uint64_t)file, m->file_offset, size);
    else
        rc = KEY(mg, 3, m->memory_start, m->file_offset, size);
    if (rc < 0)
        return -ENOMEM;
    uint64_t i;
    bool isnew;
    if (intern_key(mg, mg->maps, mg->mapping.n, &i, &isnew) < 0)
        return -ENOMEM;
    if (!isnew) {
        pprof_pb_mapping *x = mg->mapping.v[i];
        x->has_functions &= m->has_functions;
        x->has_filenames &= m->has_filenames;
        x->has_line_numbers &= m->has_line_numbers;
        x->has_inline_frames &= m->has_inline_frames;
        *out = x;
        return 0;
    }
    pprof_pb_mapping *x = NEW(mg, pprof_pb_mapping);
    if (!x)
        return -ENOMEM;
    *x = (pprof_pb_mapping)PERFTOOLS__PROFILES__MAPPING__INIT;
    x->id = i + 1;
    x->memory_start = m->memory_start;
    x->memory_limit = m->memory_limit;
    x->file_offset = m->file_offset;
    x->filename = file;
    x->build_id = bid;
    x->has_functions = m->has_functions;
    x->has_filenames = m->has_filenames;
    x->has_line_numbers = m->has_line_numbers;
    x->has_inline_frames = m->has_inline_frames;
    if (vec_push(mg, &mg->mapping, x) < 0)
        return -ENOMEM;
    *out = x;
    return 0;
}

static int merge_location(merger *mg, const pprof_profile *in, gomap *seen, uint64_t id,
                          uint64_t *out_id) {
    uint64_t *cached = gomap_lookup_u64(seen, id);
    if (cached) {
        *out_id = *cached;
        return 0;
    }
    const pprof_pb_location *l = pprof_profile_location(in, id);
    if (!l)
        return -ENOENT;
    const pprof_pb_mapping *im = pprof_profile_mapping(in, l->mapping_id);
    pprof_pb_mapping *om;
    int rc = merge_mapping(mg, in, l->mapping_id, &om);
    if (rc < 0)
        return rc;
    uint64_t addr = om ? l->address - im->memory_start + om->memory_start : l->address;
    uint64_t *fids = NULL;
    if (l->n_line && !(fids = pprof__arena_alloc(&mg->keys, l->n_line * sizeof *fids)))
        return -ENOMEM;
    for (size_t j = 0; j < l->n_line; j++)
        if ((rc = merge_function(mg, in, l->line[j]->function_id, &fids[j])) < 0)
            return rc;
    mg->kn = 0;
    rc = KEY(mg, om ? om->id : 0, addr, l->is_folded, l->n_line);
    for (size_t j = 0; j < l->n_line && rc == 0; j++)
        rc = KEY(mg, fids[j], (uint64_t)l->line[j]->line, (uint64_t)l->line[j]->column);
    uint64_t i;
    bool isnew;
    if (rc < 0 || intern_key(mg, mg->locs, mg->loc.n, &i, &isnew) < 0)
        return -ENOMEM;
    if (isnew) {
        pprof_pb_location *x = NEW(mg, pprof_pb_location);
        Perftools__Profiles__Line **lp = NULL;
        if (!x || (l->n_line && !(lp = pprof__arena_alloc(&mg->out->ar, l->n_line * sizeof *lp))))
            return -ENOMEM;
        *x = (pprof_pb_location)PERFTOOLS__PROFILES__LOCATION__INIT;
        x->id = i + 1;
        x->mapping_id = om ? om->id : 0;
        x->address = addr;
        x->is_folded = l->is_folded;
        for (size_t j = 0; j < l->n_line; j++) {
            Perftools__Profiles__Line *ln = NEW(mg, Perftools__Profiles__Line);
            if (!ln)
                return -ENOMEM;
            *ln = (Perftools__Profiles__Line)PERFTOOLS__PROFILES__LINE__INIT;
            ln->function_id = fids[j];
            ln->line = l->line[j]->line;
            ln->column = l->line[j]->column;
            lp[j] = ln;
        }
        x->n_line = l->n_line;
        x->line = lp;
        if (vec_push(mg, &mg->loc, x) < 0)
            return -ENOMEM;
    }
    void *elem;
    if (gomap_assign_u64(seen, id, &elem) < 0)
        return -ENOMEM;
    uint64_t oid = i + 1;
    memcpy(elem, &oid, sizeof oid);
    *out_id = oid;
    return 0;
}

static int cmp_label(const void *x, const void *y) {
    const int64_t *a = x, *b = y;
    for (int k = 0; k < 4; k++)
        if (a[k] != b[k])
            return a[k] < b[k] ? -1 : 1;
    return 0;
}

static int merge_sample(merger *mg, const pprof_profile *in, gomap *seen, const pprof_pb_sample *s,
                        pprof_error *err) {
    /* Translate first: merge_location reuses the key buffer. */
    uint64_t *ids = s->n_location_id ? pprof__arena_alloc(&mg->keys, s->n_location_id * 8) : NULL;
    int64_t *lab = s->n_label ? pprof__arena_alloc(&mg->keys, s->n_label * 4 * 8) : NULL;
    if ((s->n_location_id && !ids) || (s->n_label && !lab))
        return -ENOMEM;
    for (size_t j = 0; j < s->n_location_id; j++) {
        int rc = merge_location(mg, in, seen, s->location_id[j], &ids[j]);
        if (rc < 0)
            return rc;
    }
    for (size_t j = 0; j < s->n_label; j++) {
        const Perftools__Profiles__Label *l = s->label[j];
        int64_t *t = &lab[4 * j];
        t[2] = l->num;
        if (xstr(mg, in, l->key, &t[0]) < 0 || xstr(mg, in, l->str, &t[1]) < 0 ||
            xstr(mg, in, l->num_unit, &t[3]) < 0)
            return -ENOMEM;
    }
    int64_t *sorted = NULL;
    if (s->n_label) {
        if (!(sorted = pprof__arena_alloc(&mg->keys, s->n_label * 4 * 8)))
            return -ENOMEM;
        memcpy(sorted, lab, s->n_label * 4 * 8);
        qsort(sorted, s->n_label, 4 * 8, cmp_label);
    }
    mg->kn = 0;
    int rc = key_put(mg, s->n_location_id);
    for (size_t j = 0; j < s->n_location_id && rc == 0; j++)
        rc = key_put(mg, ids[j]);
    for (size_t j = 0; j < 4 * s->n_label && rc == 0; j++)
        rc = key_put(mg, (uint64_t)sorted[j]);
    uint64_t i;
    bool isnew;
    if (rc < 0 || intern_key(mg, mg->samples, mg->sample.n, &i, &isnew) < 0)
        return -ENOMEM;
    if (!isnew) {
        pprof_pb_sample *x = mg->sample.v[i];
        for (size_t k = 0; k < mg->ntypes; k++)
            if (__builtin_add_overflow(x->value[k], s->value[k], &x->value[k]))
                return pprof__err(err, -EOVERFLOW,
                                  "merge: sample values overflow 64 bits (value %zu)", k);
        return 0;
    }
    pprof__arena *ar = &mg->out->ar;
    pprof_pb_sample *x = NEW(mg, pprof_pb_sample);
    if (!x)
        return -ENOMEM;
    *x = (pprof_pb_sample)PERFTOOLS__PROFILES__SAMPLE__INIT;
    x->n_location_id = s->n_location_id;
    x->location_id = pprof__arena_alloc(ar, (s->n_location_id + 1) * sizeof *x->location_id);
    x->n_value = mg->ntypes;
    x->value = pprof__arena_alloc(ar, (mg->ntypes + 1) * sizeof *x->value);
    if (!x->location_id || !x->value)
        return -ENOMEM;
    if (s->n_location_id)
        memcpy(x->location_id, ids, s->n_location_id * sizeof *ids);
    memcpy(x->value, s->value, mg->ntypes * sizeof *x->value);
    if (s->n_label) {
        x->n_label = s->n_label;
        x->label = pprof__arena_alloc(ar, s->n_label * sizeof *x->label);
        if (!x->label)
            return -ENOMEM;
        for (size_t j = 0; j < s->n_label; j++) {
            Perftools__Profiles__Label *ol = NEW(mg, Perftools__Profiles__Label);
            if (!ol)
                return -ENOMEM;
            *ol = (Perftools__Profiles__Label)PERFTOOLS__PROFILES__LABEL__INIT;
            ol->key = lab[4 * j];
            ol->str = lab[4 * j + 1];
            ol->num = lab[4 * j + 2];
            ol->num_unit = lab[4 * j + 3];
            x->label[j] = ol;
        }
    }
    return vec_push(mg, &mg->sample, x);
}

static bool same_type(const pprof_profile *p, const Perftools__Profiles__ValueType *a,
                      const pprof_profile *q, const Perftools__Profiles__ValueType *b) {
    if (!a || !b)
        return !a && !b;
    return !strcmp(pprof_profile_str(p, a->type), pprof_profile_str(q, b->type)) &&
           !strcmp(pprof_profile_str(p, a->unit), pprof_profile_str(q, b->unit));
}

static int check_compatible(const pprof_profile *const *in, size_t n, pprof_error *err) {
    const pprof_pb_profile *m0 = pprof_profile_msg(in[0]);
    for (size_t i = 1; i < n; i++) {
        const pprof_pb_profile *m = pprof_profile_msg(in[i]);
        bool ok = m->n_sample_type == m0->n_sample_type;
        for (size_t k = 0; ok && k < m->n_sample_type; k++)
            ok = same_type(in[0], m0->sample_type[k], in[i], m->sample_type[k]);
        if (!ok)
            return pprof__err(err, -EINVAL,
                              "merge: profile %zu has other sample types than profile 0", i);
        if (!same_type(in[0], m0->period_type, in[i], m->period_type))
            return pprof__err(err, -EINVAL,
                              "merge: profile %zu has another period type than profile 0", i);
    }
    return 0;
}

/* Header strings taken from the first input that has one. */
static int first_str(merger *mg, const pprof_profile *const *in, size_t n, size_t off,
                     int64_t *out) {
    *out = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t idx;
        memcpy(&idx, (const char *)pprof_profile_msg(in[i]) + off, sizeof idx);
        if (*pprof_profile_str(in[i], idx))
            return xstr(mg, in[i], idx, out);
    }
    return 0;
}

static int merge_header(merger *mg, const pprof_profile *const *in, size_t n) {
    pprof_pb_profile *om = mg->out->msg;
    const pprof_pb_profile *m0 = pprof_profile_msg(in[0]);
    if (first_str(mg, in, n, offsetof(pprof_pb_profile, drop_frames), &om->drop_frames) < 0 ||
        first_str(mg, in, n, offsetof(pprof_pb_profile, keep_frames), &om->keep_frames) < 0 ||
        first_str(mg, in, n, offsetof(pprof_pb_profile, default_sample_type),
                  &om->default_sample_type) < 0 ||
        first_str(mg, in, n, offsetof(pprof_pb_profile, doc_url), &om->doc_url) < 0)
        return -ENOMEM;
    mg->ntypes = m0->n_sample_type;
    om->n_sample_type = m0->n_sample_type;
    om->sample_type = pprof__arena_alloc(&mg->out->ar, (mg->ntypes + 1) * sizeof(void *));
    if (!om->sample_type)
        return -ENOMEM;
    for (size_t k = 0; k <= mg->ntypes; k++) {
        const Perftools__Profiles__ValueType *src =
            k < mg->ntypes ? m0->sample_type[k] : m0->period_type;
        if (!src)
            break;
        Perftools__Profiles__ValueType *vt = NEW(mg, Perftools__Profiles__ValueType);
        if (!vt)
            return -ENOMEM;
        *vt = (Perftools__Profiles__ValueType)PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
        if (xstr(mg, in[0], src->type, &vt->type) < 0 || xstr(mg, in[0], src->unit, &vt->unit) < 0)
            return -ENOMEM;
        if (k < mg->ntypes)
            om->sample_type[k] = vt;
        else
            om->period_type = vt;
    }
    int64_t start = 0, end = 0, dsum = 0;
    bool all_timed = true;
    for (size_t i = 0; i < n; i++) {
        const pprof_pb_profile *m = pprof_profile_msg(in[i]);
        if (m->period > om->period)
            om->period = m->period;
        dsum += m->duration_nanos;
        if (!m->time_nanos) {
            all_timed = false;
            continue;
        }
        if (!start || m->time_nanos < start)
            start = m->time_nanos;
        if (m->time_nanos + m->duration_nanos > end)
            end = m->time_nanos + m->duration_nanos;
    }
    om->time_nanos = start;
    om->duration_nanos = all_timed ? end - start : dsum;
    for (size_t i = 0; i < n; i++) {
        const pprof_pb_profile *m = pprof_profile_msg(in[i]);
        for (size_t c = 0; c < m->n_comment; c++) {
            int64_t s;
            uint64_t idx;
            if (xstr(mg, in[i], m->comment[c], &s) < 0)
                return -ENOMEM;
            int rc = intern_bytes(mg, mg->comments, &s, sizeof s, 0, &idx);
            if (rc < 0 || (rc == 0 && vec_push(mg, &mg->comment, (void *)(intptr_t)s) < 0))
                return -ENOMEM;
        }
    }
    return 0;
}

/* A vector's items as an exact-size array of the output arena (NULL: out
 * of memory); *n receives the count. */
static void *settle(merger *mg, const vec *v, size_t *n) {
    void **arr = pprof__arena_alloc(&mg->out->ar, (v->n + 1) * sizeof *arr);
    if (arr && v->n)
        memcpy(arr, v->v, v->n * sizeof *arr);
    *n = v->n;
    return arr;
}

static int finish(merger *mg) {
    pprof_pb_profile *om = mg->out->msg;
    if (!(om->string_table = settle(mg, &mg->strtab, &om->n_string_table)) ||
        !(om->function = settle(mg, &mg->fn, &om->n_function)) ||
        !(om->mapping = settle(mg, &mg->mapping, &om->n_mapping)) ||
        !(om->location = settle(mg, &mg->loc, &om->n_location)) ||
        !(om->sample = settle(mg, &mg->sample, &om->n_sample)))
        return -ENOMEM;
    om->comment = pprof__arena_alloc(&mg->out->ar, (mg->comment.n + 1) * sizeof *om->comment);
    if (!om->comment)
        return -ENOMEM;
    for (size_t i = 0; i < mg->comment.n; i++)
        om->comment[i] = (int64_t)(intptr_t)mg->comment.v[i];
    om->n_comment = mg->comment.n;
    return 0;
}

int pprof_profile_merge(const pprof_profile *const *in, size_t n, const pprof_allocator *a,
                        pprof_profile **out, pprof_error *err) {
    *out = NULL;
    if (!in || n == 0)
        return pprof__err(err, -EINVAL, "merge: no profiles");
    int rc = check_compatible(in, n, err);
    if (rc < 0)
        return rc;
    merger mg = {.a = pprof__allocator(a)};
    pprof__gomap_alloc(&mg.ga, &mg.a);
    pprof__arena_init(&mg.keys, &mg.a);
    gomap *seen = NULL;
    int64_t empty;
    gomap **maps[] = {&mg.strs, &mg.fns, &mg.maps, &mg.locs, &mg.samples, &mg.comments};
    rc = pprof__profile_new(&mg.a, &mg.out, err);
    if (rc < 0)
        goto done;
    rc = -ENOMEM;
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++)
        if (pprof__gomap_new(&gomap_type_str_u64, 64, &mg.ga, maps[i]) < 0)
            goto done;
    if (!(mg.out->msg = NEW(&mg, pprof_pb_profile)))
        goto done;
    *mg.out->msg = (pprof_pb_profile)PERFTOOLS__PROFILES__PROFILE__INIT;
    if (out_str(&mg, "", &empty) < 0 || merge_header(&mg, in, n) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const pprof_pb_profile *m = pprof_profile_msg(in[i]);
        gomap_free(seen);
        seen = NULL;
        if (pprof__gomap_new(&gomap_type_u64_u64, m->n_location, &mg.ga, &seen) < 0) {
            rc = -ENOMEM;
            goto done;
        }
        /* Every mapping, used or not, in input order: the first input's main
         * binary stays mapping[0], which pprof shows as the profile's file. */
        for (size_t j = 0; j < m->n_mapping; j++) {
            pprof_pb_mapping *om;
            if ((rc = merge_mapping(&mg, in[i], m->mapping[j]->id, &om)) < 0)
                goto done;
        }
        for (size_t j = 0; j < m->n_sample; j++)
            if ((rc = merge_sample(&mg, in[i], seen, m->sample[j], err)) < 0)
                goto done;
    }
    rc = finish(&mg);
    if (rc == 0)
        rc = pprof__profile_index(mg.out, err);
done:
    if (rc == -ENOMEM)
        pprof__err(err, rc, "merge: out of memory");
    if (rc == -ENOENT) /* only unvalidated, hand-made inputs get here */
        rc = pprof__err(err, -EINVAL, "merge: an input references a missing location or function");
    gomap_free(seen);
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++)
        gomap_free(*maps[i]);
    vec *vecs[] = {&mg.strtab, &mg.fn, &mg.mapping, &mg.loc, &mg.sample, &mg.comment};
    for (size_t i = 0; i < sizeof vecs / sizeof *vecs; i++)
        vec_free(&mg, vecs[i]);
    pprof__release(&mg.a, mg.kb, mg.kcap * sizeof *mg.kb);
    pprof__arena_free(&mg.keys);
    if (rc < 0)
        pprof_profile_free(mg.out);
    else
        *out = mg.out;
    return rc;
}
