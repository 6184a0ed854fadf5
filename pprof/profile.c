/*
 * profile.c — the pprof_profile object: a profile.proto message plus sorted
 * id indices, shared by the builder (which assembles the message in an
 * arena) and the reader (which gets it from protobuf_c_message_unpack).
 *
 * Invariants once a profile is handed out: string_table[0] == "", every id
 * is nonzero and unique per kind, and loc_idx/fn_idx/map_idx hold every
 * location/function/mapping sorted by id, so lookups are binary searches.
 * The object is immutable afterwards, hence safe for concurrent readers.
 * Serialization is protobuf-c's (pack) plus gzip.c; nothing here knows the
 * wire format.
 */
#include "pprof/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int pprof__profile_new(const pprof_allocator *a, pprof_profile **out, pprof_error *err) {
    pprof_allocator al = pprof__allocator(a);
    pprof_profile *p = pprof__alloc(&al, sizeof *p);
    if (!p)
        return pprof__err(err, -ENOMEM, "out of memory");
    p->a = al;
    pprof__arena_init(&p->ar, &al);
    *out = p;
    return 0;
}

void pprof_profile_free(pprof_profile *p) {
    if (!p)
        return;
    if (p->unpacked && p->msg) {
        ProtobufCAllocator pa = pprof__pbc_allocator(&p->a);
        protobuf_c_message_free_unpacked(&p->msg->base, &pa);
    }
    pprof__arena_free(&p->ar);
    pprof_allocator a = p->a;
    pprof__release(&a, p, sizeof *p);
}

static int cmp_idx(const void *x, const void *y) {
    uint64_t a = ((const pprof__idx *)x)->id, b = ((const pprof__idx *)y)->id;
    return a < b ? -1 : a > b;
}

/* Sort n objects by id into a new index; what names the kind in errors. */
static int build_index(pprof_profile *p, void *const *objs, size_t n, size_t id_off,
                       const char *what, pprof__idx **out, pprof_error *err) {
    pprof__idx *idx = pprof__arena_alloc(&p->ar, (n ? n : 1) * sizeof *idx);
    if (!idx)
        return pprof__err(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        memcpy(&id, (const char *)objs[i] + id_off, sizeof id);
        if (id == 0)
            return pprof__err(err, -EINVAL, "%s[%zu] has the reserved id 0", what, i);
        idx[i] = (pprof__idx){id, objs[i]};
    }
    qsort(idx, n, sizeof *idx, cmp_idx);
    for (size_t i = 1; i < n; i++)
        if (idx[i].id == idx[i - 1].id)
            return pprof__err(err, -EINVAL, "multiple %ss with the same id %llu", what,
                              (unsigned long long)idx[i].id);
    *out = idx;
    return 0;
}

int pprof__profile_index(pprof_profile *p, pprof_error *err) {
    const pprof_pb_profile *m = p->msg;
    int rc = build_index(p, (void *const *)m->location, m->n_location,
                         offsetof(pprof_pb_location, id), "location", &p->loc_idx, err);
    if (rc == 0)
        rc = build_index(p, (void *const *)m->function, m->n_function,
                         offsetof(pprof_pb_function, id), "function", &p->fn_idx, err);
    if (rc == 0)
        rc = build_index(p, (void *const *)m->mapping, m->n_mapping, offsetof(pprof_pb_mapping, id),
                         "mapping", &p->map_idx, err);
    return rc;
}

static const void *find(const pprof__idx *idx, size_t n, uint64_t id) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (idx[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && idx[lo].id == id ? idx[lo].obj : NULL;
}

const pprof_pb_profile *pprof_profile_msg(const pprof_profile *p) {
    return p->msg;
}

const char *pprof_profile_str(const pprof_profile *p, int64_t idx) {
    if (idx < 0 || (uint64_t)idx >= p->msg->n_string_table)
        return "";
    return p->msg->string_table[idx];
}

const pprof_pb_location *pprof_profile_location(const pprof_profile *p, uint64_t id) {
    return find(p->loc_idx, p->msg->n_location, id);
}

const pprof_pb_function *pprof_profile_function(const pprof_profile *p, uint64_t id) {
    return find(p->fn_idx, p->msg->n_function, id);
}

const pprof_pb_mapping *pprof_profile_mapping(const pprof_profile *p, uint64_t id) {
    return find(p->map_idx, p->msg->n_mapping, id);
}

int pprof_profile_sample_index(const pprof_profile *p, const char *name) {
    const pprof_pb_profile *m = p->msg;
    if (m->n_sample_type == 0)
        return -EINVAL;
    if (!name || !*name) {
        const char *def = pprof_profile_str(p, m->default_sample_type);
        if (*def)
            for (size_t i = 0; i < m->n_sample_type; i++)
                if (strcmp(pprof_profile_str(p, m->sample_type[i]->type), def) == 0)
                    return (int)i;
        return (int)m->n_sample_type - 1;
    }
    for (size_t i = 0; i < m->n_sample_type; i++)
        if (strcmp(pprof_profile_str(p, m->sample_type[i]->type), name) == 0)
            return (int)i;
    char *end;
    long v = strtol(name, &end, 10);
    if (*end == 0 && v >= 0 && (size_t)v < m->n_sample_type)
        return (int)v;
    return -EINVAL;
}

/* ---- encoding ---- */

typedef struct membuf {
    const pprof_allocator *a;
    uint8_t *data;
    size_t len, cap;
} membuf;

static int membuf_sink(void *ctx, const void *data, size_t len, pprof_error *err) {
    membuf *mb = ctx;
    if (mb->len + len > mb->cap) {
        size_t ncap = mb->cap ? mb->cap : 4096;
        while (ncap < mb->len + len)
            ncap *= 2;
        uint8_t *nd = pprof__alloc(mb->a, ncap);
        if (!nd)
            return pprof__err(err, -ENOMEM, "out of memory");
        if (mb->len)
            memcpy(nd, mb->data, mb->len);
        pprof__release(mb->a, mb->data, mb->cap);
        mb->data = nd;
        mb->cap = ncap;
    }
    memcpy(mb->data + mb->len, data, len);
    mb->len += len;
    return 0;
}

/* Allocations handed out by encode carry their capacity in a header. */
int pprof_profile_encode(const pprof_profile *p, bool gzip, uint8_t **data, size_t *len,
                         pprof_error *err) {
    size_t n = protobuf_c_message_get_packed_size(&p->msg->base);
    uint8_t *raw = pprof__halloc(&p->a, n ? n : 1);
    if (!raw)
        return pprof__err(err, -ENOMEM, "out of memory packing the profile (%zu bytes)", n);
    protobuf_c_message_pack(&p->msg->base, raw);
    if (!gzip) {
        *data = raw;
        *len = n;
        return 0;
    }
    membuf mb = {&p->a, NULL, 0, 0};
    int rc = pprof__gzip(&p->a, raw, n, 1, membuf_sink, &mb, err);
    pprof__hfree(&p->a, raw);
    if (rc < 0) {
        pprof__release(&p->a, mb.data, mb.cap);
        return rc;
    }
    uint8_t *outp = pprof__halloc(&p->a, mb.len ? mb.len : 1);
    if (!outp) {
        pprof__release(&p->a, mb.data, mb.cap);
        return pprof__err(err, -ENOMEM, "out of memory");
    }
    memcpy(outp, mb.data, mb.len);
    pprof__release(&p->a, mb.data, mb.cap);
    *data = outp;
    *len = mb.len;
    return 0;
}

void pprof_profile_release_bytes(const pprof_profile *p, uint8_t *data, size_t len) {
    (void)len;
    pprof__hfree(&p->a, data);
}
