/*
 * read.c — parse and validate profile.proto files (gzip'd or plain).
 *
 * Input starting with the gzip magic (1f 8b) is inflated (gzip.c, bounded
 * by max_size); anything else is taken as an uncompressed proto, as
 * google/pprof does. protobuf-c unpacks the message; then every rule of
 * pprof's decoder and CheckValid that a profile can break is checked, each
 * with its own message:
 *   - empty input; string_table empty or string_table[0] != "";
 *   - every string index (profile header, value types, labels, mappings,
 *     functions, comments) within the table;
 *   - samples present without sample types; a sample whose value count
 *     differs from the number of sample types;
 *   - location/function/mapping id 0 or duplicated;
 *   - a sample naming an unknown location, a line naming an unknown
 *     function.
 * Like pprof, a location whose mapping_id names no mapping is accepted (it
 * just has no mapping). The result owns the unpacked message; all memory is
 * from the caller's allocator. Bad input never crashes: the fuzz target in
 * fuzz/ exercises exactly this file.
 */
#include "pprof/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GIB ((size_t)1 << 30)

static bool bad_str(const pprof_pb_profile *m, int64_t idx) {
    return idx < 0 || (uint64_t)idx >= m->n_string_table;
}

static int validate(pprof_profile *p, pprof_error *err) {
    const pprof_pb_profile *m = p->msg;
    if (m->n_string_table == 0)
        return pprof__err(err, -EINVAL,
                          "malformed profile: empty string table "
                          "(string_table[0] must be \"\")");
    if (m->string_table[0][0] != 0)
        return pprof__err(err, -EINVAL, "malformed profile: string_table[0] must be \"\"");
#define S(v) (long long)(v), m->n_string_table
    if (bad_str(m, m->drop_frames) || bad_str(m, m->keep_frames) ||
        bad_str(m, m->default_sample_type) || bad_str(m, m->doc_url))
        return pprof__err(err, -EINVAL,
                          "malformed profile: header string index out of range "
                          "(%zu strings)",
                          m->n_string_table);
    for (size_t i = 0; i < m->n_comment; i++)
        if (bad_str(m, m->comment[i]))
            return pprof__err(err, -EINVAL,
                              "malformed profile: comment[%zu] string index %lld "
                              "out of range (%zu strings)",
                              i, S(m->comment[i]));
    for (size_t i = 0; i < m->n_sample_type; i++) {
        const Perftools__Profiles__ValueType *vt = m->sample_type[i];
        if (bad_str(m, vt->type) || bad_str(m, vt->unit))
            return pprof__err(err, -EINVAL,
                              "malformed profile: sample_type[%zu] string index "
                              "out of range (%zu strings)",
                              i, m->n_string_table);
    }
    if (m->period_type && (bad_str(m, m->period_type->type) || bad_str(m, m->period_type->unit)))
        return pprof__err(err, -EINVAL,
                          "malformed profile: period_type string index out of "
                          "range (%zu strings)",
                          m->n_string_table);
    if (m->n_sample_type == 0 && m->n_sample > 0)
        return pprof__err(err, -EINVAL,
                          "malformed profile: missing sample type information "
                          "(%zu samples, 0 sample types)",
                          m->n_sample);

    int rc = pprof__profile_index(p, err);
    if (rc < 0) {
        char why[sizeof err->msg];
        if (err) {
            memcpy(why, err->msg, sizeof why);
            why[sizeof why - 1] = 0;
            pprof__err(err, rc, "malformed profile: %.200s", why);
        }
        return rc;
    }

    for (size_t i = 0; i < m->n_mapping; i++) {
        const pprof_pb_mapping *mp = m->mapping[i];
        if (bad_str(m, mp->filename) || bad_str(m, mp->build_id))
            return pprof__err(err, -EINVAL,
                              "malformed profile: mapping id %llu: string index "
                              "out of range (%zu strings)",
                              (unsigned long long)mp->id, m->n_string_table);
    }
    for (size_t i = 0; i < m->n_function; i++) {
        const pprof_pb_function *f = m->function[i];
        if (bad_str(m, f->name) || bad_str(m, f->system_name) || bad_str(m, f->filename))
            return pprof__err(err, -EINVAL,
                              "malformed profile: function id %llu: string index "
                              "out of range (%zu strings)",
                              (unsigned long long)f->id, m->n_string_table);
    }
    for (size_t i = 0; i < m->n_location; i++) {
        const pprof_pb_location *l = m->location[i];
        for (size_t j = 0; j < l->n_line; j++)
            if (!pprof_profile_function(p, l->line[j]->function_id))
                return pprof__err(err, -EINVAL,
                                  "malformed profile: location id %llu has a "
                                  "line with unknown function id %llu",
                                  (unsigned long long)l->id,
                                  (unsigned long long)l->line[j]->function_id);
    }
    for (size_t i = 0; i < m->n_sample; i++) {
        const pprof_pb_sample *s = m->sample[i];
        if (s->n_value != m->n_sample_type)
            return pprof__err(err, -EINVAL,
                              "malformed profile: sample %zu has %zu values but "
                              "there are %zu sample types",
                              i, s->n_value, m->n_sample_type);
        for (size_t j = 0; j < s->n_location_id; j++)
            if (!pprof_profile_location(p, s->location_id[j]))
                return pprof__err(err, -EINVAL,
                                  "malformed profile: sample %zu references "
                                  "unknown location id %llu",
                                  i, (unsigned long long)s->location_id[j]);
        for (size_t j = 0; j < s->n_label; j++) {
            const Perftools__Profiles__Label *l = s->label[j];
            if (bad_str(m, l->key) || bad_str(m, l->str) || bad_str(m, l->num_unit))
                return pprof__err(err, -EINVAL,
                                  "malformed profile: sample %zu label %zu: "
                                  "string index out of range (%zu strings)",
                                  i, j, m->n_string_table);
        }
    }
#undef S
    return 0;
}

int pprof_profile_parse(const void *data, size_t len, const pprof_read_options *opt,
                        pprof_profile **out, pprof_error *err) {
    *out = NULL;
    pprof_profile *p;
    int rc = pprof__profile_new(opt ? opt->alloc : NULL, &p, err);
    if (rc < 0)
        return rc;
    size_t max = opt && opt->max_size ? opt->max_size : GIB;
    if (len == 0) {
        rc = pprof__err(err, -EINVAL, "empty input: not a profile");
        goto fail;
    }
    const uint8_t *bytes = data;
    uint8_t *raw = NULL;
    size_t rawlen = 0, rawcap = 0;
    if (len >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
        rc = pprof__gunzip(&p->a, data, len, max, &raw, &rawlen, &rawcap, err);
        if (rc < 0)
            goto fail;
        bytes = raw;
        len = rawlen;
        if (len == 0) {
            pprof__release(&p->a, raw, rawcap);
            rc = pprof__err(err, -EINVAL, "empty profile inside the gzip stream");
            goto fail;
        }
    } else if (len > max) {
        rc = pprof__err(err, -EFBIG, "profile larger than the limit (%zu bytes)", max);
        goto fail;
    }
    ProtobufCAllocator pa = pprof__pbc_allocator(&p->a);
    p->msg = perftools__profiles__profile__unpack(&pa, len, bytes);
    if (raw)
        pprof__release(&p->a, raw, rawcap);
    if (!p->msg) {
        rc = pprof__err(err, -EINVAL,
                        "not a valid profile.proto message (protobuf decoding "
                        "failed: garbage, truncated or not a profile)");
        goto fail;
    }
    p->unpacked = true;
    rc = validate(p, err);
    if (rc < 0)
        goto fail;
    *out = p;
    return 0;
fail:
    pprof_profile_free(p);
    return rc;
}

int pprof_profile_read_file(const char *path, const pprof_read_options *opt, pprof_profile **out,
                            pprof_error *err) {
    *out = NULL;
    pprof_allocator a = pprof__allocator(opt ? opt->alloc : NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return pprof__err(err, -e, "%s: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return pprof__err(err, -e, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return pprof__err(err, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL, "%s: not a regular file",
                          path);
    }
    size_t cap = (size_t)st.st_size;
    uint8_t *buf = pprof__alloc(&a, cap ? cap : 1);
    if (!buf) {
        close(fd);
        return pprof__err(err, -ENOMEM, "%s: out of memory (%zu bytes)", path, cap);
    }
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            pprof__release(&a, buf, cap ? cap : 1);
            return pprof__err(err, -e, "%s: read: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    int rc = pprof_profile_parse(buf, n, opt, out, err);
    pprof__release(&a, buf, cap ? cap : 1);
    if (rc < 0 && err) {
        char why[sizeof err->msg];
        memcpy(why, err->msg, sizeof why);
        why[sizeof why - 1] = 0;
        int plen = (int)strlen(path);
        pprof__err(err, rc, "%.*s: %s", plen > 100 ? 100 : plen, path, why);
    }
    return rc;
}
