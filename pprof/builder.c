/*
 * builder.c — the profile builder: samples in, a profile.proto message out.
 *
 * Data model (all interned with libgomap maps whose memory comes from the
 * caller's allocator, flagged GOMAP_UNPROFILED so the profiler never
 * profiles itself):
 *   strings    map[string]index  -> strtab[index]; strtab[0] == ""
 *   locations  map[addr]id       -> locs[id-1] = adjusted address
 *   functions  map[fnkey]id      -> fns[id-1]  (name, system name, file,
 *                                               start line as string ids)
 *   samples    map[*sample]*sample keyed by location ids + labels (custom
 *                                hash/equal over the pointed-to record);
 *                                samples[] keeps insertion order
 * Invariants: ids are dense 1..n in creation order; a sample record, its
 * location ids and labels never change after insertion (values are summed
 * in place); all records and strings live in the builder's arena, so a
 * failed insertion leaves at most unreachable arena bytes behind.
 *
 * Addresses: stack[0] is an exact PC unless PPROF_STACK_ALL_RETURN; every
 * return address is stored minus 1 (into the call instruction), which is
 * what pprof and Go expect: Go's own profiles hold call-site PCs, and pprof
 * symbolizes a location's address as it is (a return address would name
 * the line after the call, or the next function after a noreturn call).
 *
 * pprof_builder_finish resolves each location's mapping and frames (via
 * mappings.c and symbolize.c) and copies everything into a new profile's
 * arena, so the profile outlives the builder and the builder keeps
 * accepting samples. Non-goals: thread safety (callers serialize), sample
 * deletion, keep/drop evaluation (pprof applies the regexes itself).
 */
#include "pprof/internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

typedef struct blabel {
    int64_t key, str, num, unit; /* string indices, num raw */
} blabel;

typedef struct bsample {
    uint32_t nloc, nlabel;
    uint64_t *loc; /* location ids, leaf first */
    blabel *label;
    int64_t *value; /* n_sample_types values */
} bsample;

typedef struct fnkey {
    int64_t name, system_name, filename, start_line;
} fnkey;

struct pprof_builder {
    pprof_allocator a;
    gomap_alloc ga;
    pprof__arena ar;
    size_t ntypes;
    int64_t *types, *units; /* string ids of sample types, ntypes each */
    int64_t period_type, period_unit, period;
    int64_t default_type, drop, keep, doc_url;
    int64_t time_nanos, duration_nanos;
    bool skip_zero; /* finish leaves out samples whose values are all zero */

    gomap *strmap; /* string -> index into strtab */
    const char **strtab;
    size_t nstr, capstr;

    gomap *locmap; /* adjusted address -> location id */
    uint64_t *locs;
    size_t nloc, caploc;

    gomap *fnmap; /* fnkey -> function id */
    fnkey *fns;
    size_t nfn, capfn;

    gomap *smap; /* bsample* -> the same stored bsample* */
    bsample **samples;
    size_t nsample, capsample;

    int64_t *comments;
    size_t ncomment, capcomment;
};

/* Grow *arr (elements of size es, capacity *cap) to hold n+1. */
static int grow(const pprof_allocator *a, void *arr, size_t *cap, size_t n, size_t es) {
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 64;
    void *old;
    memcpy(&old, arr, sizeof old);
    void *nw = pprof__alloc(a, nc * es);
    if (!nw)
        return -ENOMEM;
    if (n)
        memcpy(nw, old, n * es);
    pprof__release(a, old, *cap * es);
    memcpy(arr, &nw, sizeof nw);
    *cap = nc;
    return 0;
}

/* The index of s in the string table, adding it when new; -ENOMEM. */
static int64_t intern(pprof_builder *b, const char *s) {
    if (!s || !*s)
        return 0;
    size_t len = strlen(s);
    uint64_t *v = gomap_lookup_str(b->strmap, s, len);
    if (v)
        return (int64_t)*v;
    if (grow(&b->a, &b->strtab, &b->capstr, b->nstr, sizeof *b->strtab) < 0)
        return -ENOMEM;
    char *copy = pprof__arena_strndup(&b->ar, s, len);
    if (!copy)
        return -ENOMEM;
    void *elem;
    if (gomap_assign_str(b->strmap, copy, len, &elem) < 0)
        return -ENOMEM;
    uint64_t idx = b->nstr;
    memcpy(elem, &idx, sizeof idx);
    b->strtab[b->nstr++] = copy;
    return (int64_t)idx;
}

/* Samples are keyed by a pointer to their record; hash and compare the
 * record's location ids and labels. */
static uint64_t sample_hash(const void *key, uint64_t seed) {
    const bsample *s;
    memcpy(&s, key, sizeof s);
    uint64_t h = seed ^ s->nloc;
    if (s->nloc)
        h = gomap_hash_bytes(s->loc, s->nloc * sizeof *s->loc, h);
    if (s->nlabel)
        h = gomap_hash_bytes(s->label, s->nlabel * sizeof *s->label, h);
    return h;
}

static bool sample_equal(const void *x, const void *y) {
    const bsample *a, *b;
    memcpy(&a, x, sizeof a);
    memcpy(&b, y, sizeof b);
    return a->nloc == b->nloc && a->nlabel == b->nlabel &&
           (a->nloc == 0 || memcmp(a->loc, b->loc, a->nloc * sizeof *a->loc) == 0) &&
           (a->nlabel == 0 || memcmp(a->label, b->label, a->nlabel * sizeof *a->label) == 0);
}

static const gomap_type sample_type = {
    .name = "map[*pprof.sample]struct{}",
    .key_size = sizeof(bsample *),
    .elem_size = sizeof(bsample *), /* the stored record, to sum into */
    .kind = GOMAP_KEY_GENERIC,
    .hash = sample_hash,
    .equal = sample_equal,
};

static const gomap_type fn_type = {
    .name = "map[pprof.fnkey]uint64",
    .key_size = sizeof(fnkey),
    .elem_size = sizeof(uint64_t),
    .kind = GOMAP_KEY_GENERIC,
};

int pprof_builder_new(const pprof_builder_config *cfg, pprof_builder **out, pprof_error *err) {
    *out = NULL;
    if (!cfg || cfg->n_sample_types == 0 || !cfg->sample_types)
        return pprof__err(err, -EINVAL, "builder: at least one sample type is required");
    for (size_t i = 0; i < cfg->n_sample_types; i++)
        if (!cfg->sample_types[i].type || !*cfg->sample_types[i].type)
            return pprof__err(err, -EINVAL, "builder: sample type %zu has no name", i);
    pprof_allocator al = pprof__allocator(cfg->alloc);
    pprof_builder *b = pprof__alloc(&al, sizeof *b);
    if (!b)
        return pprof__err(err, -ENOMEM, "builder: out of memory");
    b->a = al;
    pprof__gomap_alloc(&b->ga, &b->a);
    pprof__arena_init(&b->ar, &b->a);
    int rc = pprof__gomap_new(&gomap_type_str_u64, 256, &b->ga, &b->strmap);
    if (rc == 0)
        rc = pprof__gomap_new(&gomap_type_u64_u64, 1024, &b->ga, &b->locmap);
    if (rc == 0)
        rc = pprof__gomap_new(&fn_type, 256, &b->ga, &b->fnmap);
    if (rc == 0)
        rc = pprof__gomap_new(&sample_type, 1024, &b->ga, &b->smap);
    if (rc == 0)
        rc = grow(&b->a, &b->strtab, &b->capstr, 0, sizeof *b->strtab);
    if (rc < 0)
        goto fail;
    b->strtab[b->nstr++] = "";
    b->ntypes = cfg->n_sample_types;
    b->types = pprof__arena_alloc(&b->ar, b->ntypes * sizeof *b->types);
    b->units = pprof__arena_alloc(&b->ar, b->ntypes * sizeof *b->units);
    if (!b->types || !b->units) {
        rc = -ENOMEM;
        goto fail;
    }
    int64_t v[6];
    for (size_t i = 0; i < b->ntypes; i++) {
        if ((b->types[i] = intern(b, cfg->sample_types[i].type)) < 0 ||
            (b->units[i] = intern(b, cfg->sample_types[i].unit)) < 0) {
            rc = -ENOMEM;
            goto fail;
        }
    }
    v[0] = b->period_type = intern(b, cfg->period_type.type);
    v[1] = b->period_unit = intern(b, cfg->period_type.unit);
    v[2] = b->default_type = intern(b, cfg->default_sample_type);
    v[3] = b->drop = intern(b, cfg->drop_frames);
    v[4] = b->keep = intern(b, cfg->keep_frames);
    v[5] = b->doc_url = intern(b, cfg->doc_url);
    for (int i = 0; i < 6; i++)
        if (v[i] < 0) {
            rc = -ENOMEM;
            goto fail;
        }
    b->period = cfg->period;
    b->duration_nanos = cfg->duration_nanos;
    b->time_nanos = cfg->time_nanos;
    b->skip_zero = cfg->skip_zero_samples;
    if (!b->time_nanos) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        b->time_nanos = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    }
    *out = b;
    return 0;
fail:
    pprof_builder_free(b);
    return pprof__err(err, rc, "builder: out of memory");
}

void pprof_builder_free(pprof_builder *b) {
    if (!b)
        return;
    gomap_free(b->strmap);
    gomap_free(b->locmap);
    gomap_free(b->fnmap);
    gomap_free(b->smap);
    pprof__release(&b->a, b->strtab, b->capstr * sizeof *b->strtab);
    pprof__release(&b->a, b->locs, b->caploc * sizeof *b->locs);
    pprof__release(&b->a, b->fns, b->capfn * sizeof *b->fns);
    pprof__release(&b->a, b->samples, b->capsample * sizeof *b->samples);
    pprof__release(&b->a, b->comments, b->capcomment * sizeof *b->comments);
    pprof__arena_free(&b->ar);
    pprof_allocator a = b->a;
    pprof__release(&a, b, sizeof *b);
}

int pprof_builder_add_comment(pprof_builder *b, const char *text, pprof_error *err) {
    if (!text)
        return pprof__err(err, -EINVAL, "builder: NULL comment");
    int64_t idx = intern(b, text);
    if (idx < 0 || grow(&b->a, &b->comments, &b->capcomment, b->ncomment, sizeof(int64_t)) < 0)
        return pprof__err(err, -ENOMEM, "builder: out of memory");
    b->comments[b->ncomment++] = idx;
    return 0;
}

static bool all_zero(const int64_t *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (v[i])
            return false;
    return true;
}

void pprof_builder_set_duration(pprof_builder *b, int64_t duration_nanos) {
    b->duration_nanos = duration_nanos;
}

size_t pprof_builder_sample_count(const pprof_builder *b) {
    return b->nsample;
}

/* The location id of an adjusted address, adding it when new. */
static int location_id(pprof_builder *b, uint64_t addr, uint64_t *id) {
    uint64_t *v = gomap_lookup_u64(b->locmap, addr);
    if (v) {
        *id = *v;
        return 0;
    }
    if (grow(&b->a, &b->locs, &b->caploc, b->nloc, sizeof *b->locs) < 0)
        return -ENOMEM;
    void *elem;
    if (gomap_assign_u64(b->locmap, addr, &elem) < 0)
        return -ENOMEM;
    b->locs[b->nloc++] = addr;
    *id = b->nloc;
    memcpy(elem, id, sizeof *id);
    return 0;
}

enum { STACK_ON_STACK = 128, LABELS_ON_STACK = 16 };

int pprof_builder_add_sample(pprof_builder *b, const uint64_t *stack, size_t depth,
                             const int64_t *values, const pprof_label *labels, size_t n_labels,
                             unsigned flags, pprof_error *err) {
    if (!values || (depth && !stack) || (n_labels && !labels) || depth > UINT32_MAX ||
        n_labels > UINT32_MAX)
        return pprof__err(err, -EINVAL, "builder: bad sample arguments");
    for (size_t i = 0; i < n_labels; i++)
        if (!labels[i].key || !*labels[i].key)
            return pprof__err(err, -EINVAL, "builder: label %zu has no key", i);

    /* The candidate record lives on the stack (or in the arena when big)
     * until we know whether it is new. */
    uint64_t locbuf[STACK_ON_STACK];
    blabel labbuf[LABELS_ON_STACK];
    bsample probe = {(uint32_t)depth, (uint32_t)n_labels, locbuf, labbuf, NULL};
    if (depth > STACK_ON_STACK && !(probe.loc = pprof__arena_alloc(&b->ar, depth * 8)))
        goto nomem;
    if (n_labels > LABELS_ON_STACK &&
        !(probe.label = pprof__arena_alloc(&b->ar, n_labels * sizeof *probe.label)))
        goto nomem;
    for (size_t i = 0; i < depth; i++) {
        uint64_t pc = stack[i];
        if ((i > 0 || (flags & PPROF_STACK_ALL_RETURN)) && pc > 0)
            pc--;
        if (location_id(b, pc, &probe.loc[i]) < 0)
            goto nomem;
    }
    for (size_t i = 0; i < n_labels; i++) {
        blabel *l = &probe.label[i];
        memset(l, 0, sizeof *l);
        if ((l->key = intern(b, labels[i].key)) < 0)
            goto nomem;
        if (labels[i].str) {
            if ((l->str = intern(b, labels[i].str)) < 0)
                goto nomem;
        } else {
            l->num = labels[i].num;
            if ((l->unit = intern(b, labels[i].num_unit)) < 0)
                goto nomem;
        }
    }
    bsample *pp = &probe;
    void *found = gomap_lookup(b->smap, &pp);
    if (found) {
        bsample *rec;
        memcpy(&rec, found, sizeof rec);
        for (size_t i = 0; i < b->ntypes; i++)
            rec->value[i] += values[i];
        return 0;
    }
    /* New sample: copy the record into the arena, then index it. */
    bsample *rec = pprof__arena_alloc(&b->ar, sizeof *rec);
    if (!rec || grow(&b->a, &b->samples, &b->capsample, b->nsample, sizeof *b->samples) < 0)
        goto nomem;
    *rec = probe;
    rec->loc = depth ? pprof__arena_alloc(&b->ar, depth * sizeof *rec->loc) : NULL;
    rec->label = n_labels ? pprof__arena_alloc(&b->ar, n_labels * sizeof *rec->label) : NULL;
    rec->value = pprof__arena_alloc(&b->ar, b->ntypes * sizeof *rec->value);
    if ((depth && !rec->loc) || (n_labels && !rec->label) || !rec->value)
        goto nomem;
    if (depth)
        memcpy(rec->loc, probe.loc, depth * sizeof *rec->loc);
    if (n_labels)
        memcpy(rec->label, probe.label, n_labels * sizeof *rec->label);
    memcpy(rec->value, values, b->ntypes * sizeof *rec->value);
    void *elem;
    if (gomap_assign(b->smap, &rec, &elem) < 0)
        goto nomem;
    memcpy(elem, &rec, sizeof rec);
    b->samples[b->nsample++] = rec;
    return 0;
nomem:
    return pprof__err(err, -ENOMEM, "builder: out of memory");
}

/* The id of a symbolized frame's function, adding it when new. */
static int function_id(pprof_builder *b, const pprof_frame *f, uint64_t *id) {
    fnkey k;
    memset(&k, 0, sizeof k);
    if ((k.name = intern(b, f->name)) < 0 || (k.system_name = intern(b, f->system_name)) < 0 ||
        (k.filename = intern(b, f->file)) < 0)
        return -ENOMEM;
    k.start_line = f->start_line;
    uint64_t *v = gomap_lookup(b->fnmap, &k);
    if (v) {
        *id = *v;
        return 0;
    }
    if (grow(&b->a, &b->fns, &b->capfn, b->nfn, sizeof *b->fns) < 0)
        return -ENOMEM;
    void *elem;
    if (gomap_assign(b->fnmap, &k, &elem) < 0)
        return -ENOMEM;
    b->fns[b->nfn++] = k;
    *id = b->nfn;
    memcpy(elem, id, sizeof *id);
    return 0;
}

/* Per-mapping symbolization status: a flag stays true only while every
 * location of the mapping has the property. */
typedef struct mapstat {
    bool used, fn, file, line, inl;
} mapstat;

#define NEW(ar, T, n) ((T *)pprof__arena_alloc((ar), (n) * sizeof(T)))

static int finish_locations(pprof_builder *b, pprof_profile *p, const pprof_mappings *maps,
                            pprof_symbolizer *sym, mapstat *ms, pprof_error *err) {
    pprof__arena *ar = &p->ar;
    pprof_pb_profile *m = p->msg;
    m->n_location = b->nloc;
    m->location = NEW(ar, pprof_pb_location *, b->nloc + 1);
    pprof_pb_location *lv = NEW(ar, pprof_pb_location, b->nloc + 1);
    if (!m->location || !lv)
        return pprof__err(err, -ENOMEM, "builder: out of memory");
    for (size_t i = 0; i < b->nloc; i++) {
        pprof_pb_location *l = &lv[i];
        *l = (pprof_pb_location)PERFTOOLS__PROFILES__LOCATION__INIT;
        m->location[i] = l;
        l->id = i + 1;
        l->address = b->locs[i];
        size_t mi = 0;
        mapstat *st = NULL;
        if (maps && pprof_mappings_find(maps, l->address, &mi)) {
            l->mapping_id = mi + 1;
            st = &ms[mi];
            if (!st->used)
                *st = (mapstat){true, true, true, true, true};
        }
        const pprof_frame *fr = NULL;
        size_t nfr = 0;
        unsigned fl = 0;
        if (sym) {
            int rc = pprof_symbolize(sym, maps, l->address, &fr, &nfr, &fl, err);
            if (rc < 0)
                return rc;
        }
        if (st) {
            st->fn &= nfr > 0;
            st->inl &= (fl & PPROF_SYM_DWARF) != 0;
            st->file &= nfr > 0;
            st->line &= nfr > 0;
        }
        if (nfr == 0)
            continue;
        Perftools__Profiles__Line **lp = NEW(ar, Perftools__Profiles__Line *, nfr);
        Perftools__Profiles__Line *ln = NEW(ar, Perftools__Profiles__Line, nfr);
        if (!lp || !ln)
            return pprof__err(err, -ENOMEM, "builder: out of memory");
        for (size_t j = 0; j < nfr; j++) {
            ln[j] = (Perftools__Profiles__Line)PERFTOOLS__PROFILES__LINE__INIT;
            lp[j] = &ln[j];
            if (function_id(b, &fr[j], &ln[j].function_id) < 0)
                return pprof__err(err, -ENOMEM, "builder: out of memory");
            ln[j].line = fr[j].line;
            if (st) {
                st->fn &= fr[j].name[0] != 0;
                st->file &= fr[j].file[0] != 0;
                st->line &= fr[j].line > 0;
            }
        }
        l->n_line = nfr;
        l->line = lp;
    }
    return 0;
}

static int finish_mappings(pprof_builder *b, pprof_profile *p, const pprof_mappings *maps,
                           const mapstat *ms, pprof_error *err) {
    size_t n = pprof_mappings_count(maps);
    pprof_pb_profile *m = p->msg;
    m->n_mapping = n;
    m->mapping = NEW(&p->ar, pprof_pb_mapping *, n + 1);
    pprof_pb_mapping *mv = NEW(&p->ar, pprof_pb_mapping, n + 1);
    if (!m->mapping || !mv)
        return pprof__err(err, -ENOMEM, "builder: out of memory");
    for (size_t i = 0; i < n; i++) {
        const pprof_mapping_info *mi = pprof_mappings_get(maps, i);
        pprof_pb_mapping *x = &mv[i];
        *x = (pprof_pb_mapping)PERFTOOLS__PROFILES__MAPPING__INIT;
        m->mapping[i] = x;
        x->id = i + 1;
        x->memory_start = mi->start;
        x->memory_limit = mi->limit;
        x->file_offset = mi->offset;
        if ((x->filename = intern(b, mi->path)) < 0 || (x->build_id = intern(b, mi->build_id)) < 0)
            return pprof__err(err, -ENOMEM, "builder: out of memory");
        if (ms[i].used) {
            x->has_functions = ms[i].fn;
            x->has_filenames = ms[i].file;
            x->has_line_numbers = ms[i].line;
            x->has_inline_frames = ms[i].inl;
        }
    }
    return 0;
}

static int finish_rest(pprof_builder *b, pprof_profile *p, pprof_error *err) {
    pprof__arena *ar = &p->ar;
    pprof_pb_profile *m = p->msg;

    m->n_string_table = b->nstr;
    m->string_table = NEW(ar, char *, b->nstr);
    if (!m->string_table)
        goto nomem;
    m->string_table[0] = "";
    for (size_t i = 1; i < b->nstr; i++)
        if (!(m->string_table[i] = pprof__arena_strndup(ar, b->strtab[i], strlen(b->strtab[i]))))
            goto nomem;

    m->n_function = b->nfn;
    m->function = NEW(ar, pprof_pb_function *, b->nfn + 1);
    pprof_pb_function *fv = NEW(ar, pprof_pb_function, b->nfn + 1);
    if (!m->function || !fv)
        goto nomem;
    for (size_t i = 0; i < b->nfn; i++) {
        fv[i] = (pprof_pb_function)PERFTOOLS__PROFILES__FUNCTION__INIT;
        fv[i].id = i + 1;
        fv[i].name = b->fns[i].name;
        fv[i].system_name = b->fns[i].system_name;
        fv[i].filename = b->fns[i].filename;
        fv[i].start_line = b->fns[i].start_line;
        m->function[i] = &fv[i];
    }

    m->n_sample_type = b->ntypes;
    m->sample_type = NEW(ar, Perftools__Profiles__ValueType *, b->ntypes);
    Perftools__Profiles__ValueType *tv = NEW(ar, Perftools__Profiles__ValueType, b->ntypes + 1);
    if (!m->sample_type || !tv)
        goto nomem;
    for (size_t i = 0; i < b->ntypes; i++) {
        tv[i] = (Perftools__Profiles__ValueType)PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
        tv[i].type = b->types[i];
        tv[i].unit = b->units[i];
        m->sample_type[i] = &tv[i];
    }
    if (b->period_type || b->period_unit) {
        Perftools__Profiles__ValueType *pt = &tv[b->ntypes];
        *pt = (Perftools__Profiles__ValueType)PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
        pt->type = b->period_type;
        pt->unit = b->period_unit;
        m->period_type = pt;
    }

    m->n_sample = 0;
    m->sample = NEW(ar, pprof_pb_sample *, b->nsample + 1);
    pprof_pb_sample *sv = NEW(ar, pprof_pb_sample, b->nsample + 1);
    if (!m->sample || !sv)
        goto nomem;
    for (size_t i = 0; i < b->nsample; i++) {
        const bsample *s = b->samples[i];
        if (b->skip_zero && all_zero(s->value, b->ntypes))
            continue;
        pprof_pb_sample *x = &sv[m->n_sample];
        *x = (pprof_pb_sample)PERFTOOLS__PROFILES__SAMPLE__INIT;
        m->sample[m->n_sample++] = x;
        x->n_location_id = s->nloc;
        x->location_id = NEW(ar, uint64_t, s->nloc + 1);
        x->n_value = b->ntypes;
        x->value = NEW(ar, int64_t, b->ntypes);
        if (!x->location_id || !x->value)
            goto nomem;
        if (s->nloc) /* s->loc is NULL for an empty stack */
            memcpy(x->location_id, s->loc, s->nloc * sizeof *s->loc);
        memcpy(x->value, s->value, b->ntypes * sizeof *s->value);
        if (s->nlabel) {
            x->n_label = s->nlabel;
            x->label = NEW(ar, Perftools__Profiles__Label *, s->nlabel);
            Perftools__Profiles__Label *lv = NEW(ar, Perftools__Profiles__Label, s->nlabel);
            if (!x->label || !lv)
                goto nomem;
            for (size_t j = 0; j < s->nlabel; j++) {
                lv[j] = (Perftools__Profiles__Label)PERFTOOLS__PROFILES__LABEL__INIT;
                lv[j].key = s->label[j].key;
                lv[j].str = s->label[j].str;
                lv[j].num = s->label[j].num;
                lv[j].num_unit = s->label[j].unit;
                x->label[j] = &lv[j];
            }
        }
    }

    m->n_comment = b->ncomment;
    m->comment = NEW(ar, int64_t, b->ncomment + 1);
    if (!m->comment)
        goto nomem;
    if (b->ncomment)
        memcpy(m->comment, b->comments, b->ncomment * sizeof *m->comment);
    m->drop_frames = b->drop;
    m->keep_frames = b->keep;
    m->default_sample_type = b->default_type;
    m->doc_url = b->doc_url;
    m->time_nanos = b->time_nanos;
    m->duration_nanos = b->duration_nanos;
    m->period = b->period;
    return 0;
nomem:
    return pprof__err(err, -ENOMEM, "builder: out of memory");
}

int pprof_builder_finish(pprof_builder *b, const pprof_mappings *maps, pprof_symbolizer *sym,
                         pprof_profile **out, pprof_error *err) {
    *out = NULL;
    pprof_profile *p;
    int rc = pprof__profile_new(&b->a, &p, err);
    if (rc < 0)
        return rc;
    size_t nmaps = pprof_mappings_count(maps);
    mapstat *ms = NEW(&p->ar, mapstat, nmaps + 1);
    p->msg = NEW(&p->ar, pprof_pb_profile, 1);
    if (!ms || !p->msg) {
        rc = pprof__err(err, -ENOMEM, "builder: out of memory");
        goto fail;
    }
    *p->msg = (pprof_pb_profile)PERFTOOLS__PROFILES__PROFILE__INIT;
    if ((rc = finish_locations(b, p, maps, sym, ms, err)) < 0 ||
        (rc = finish_mappings(b, p, maps, ms, err)) < 0 || (rc = finish_rest(b, p, err)) < 0 ||
        (rc = pprof__profile_index(p, err)) < 0)
        goto fail;
    *out = p;
    return 0;
fail:
    pprof_profile_free(p);
    return rc;
}
