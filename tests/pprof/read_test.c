/*
 * read_test.c — the reader on bad input: each kind of damage gives its own
 * clear error, never a crash. Bad profiles are made by packing hand-built
 * protobuf-c messages (the reader must not trust the writer).
 */
#include "tests/pprof/pprof_test.h"

#include <errno.h>
#include <zlib.h>

/* A small valid profile: 2 sample types, 1 sample, 1 location, 1 function,
 * 1 mapping; tests break one thing at a time. */
typedef struct fixture {
    Perftools__Profiles__Profile p;
    Perftools__Profiles__ValueType vt[2], *vtp[2];
    Perftools__Profiles__Sample s, *sp[1];
    uint64_t locids[1];
    int64_t vals[3];
    Perftools__Profiles__Label lab, *labp[1];
    Perftools__Profiles__Location loc, *locp[1];
    Perftools__Profiles__Line line, *linep[1];
    Perftools__Profiles__Function fn, *fnp[1];
    Perftools__Profiles__Mapping map, *mapp[1];
    char *strs[6];
} fixture;

static void fixture_init(fixture *f) {
    memset(f, 0, sizeof *f);
    perftools__profiles__profile__init(&f->p);
    static char s0[] = "", s1[] = "contentions", s2[] = "count", s3[] = "delay",
                s4[] = "nanoseconds", s5[] = "main";
    char *strs[] = {s0, s1, s2, s3, s4, s5};
    memcpy(f->strs, strs, sizeof strs);
    f->p.n_string_table = 6;
    f->p.string_table = f->strs;
    for (int i = 0; i < 2; i++) {
        perftools__profiles__value_type__init(&f->vt[i]);
        f->vt[i].type = 1 + 2 * i;
        f->vt[i].unit = 2 + 2 * i;
        f->vtp[i] = &f->vt[i];
    }
    f->p.n_sample_type = 2;
    f->p.sample_type = f->vtp;
    perftools__profiles__function__init(&f->fn);
    f->fn.id = 7;
    f->fn.name = 5;
    f->fnp[0] = &f->fn;
    f->p.n_function = 1;
    f->p.function = f->fnp;
    perftools__profiles__line__init(&f->line);
    f->line.function_id = 7;
    f->line.line = 10;
    f->linep[0] = &f->line;
    perftools__profiles__location__init(&f->loc);
    f->loc.id = 3;
    f->loc.mapping_id = 1;
    f->loc.address = 0x1234;
    f->loc.n_line = 1;
    f->loc.line = f->linep;
    f->locp[0] = &f->loc;
    f->p.n_location = 1;
    f->p.location = f->locp;
    perftools__profiles__mapping__init(&f->map);
    f->map.id = 1;
    f->map.memory_limit = 0x10000;
    f->mapp[0] = &f->map;
    f->p.n_mapping = 1;
    f->p.mapping = f->mapp;
    perftools__profiles__label__init(&f->lab);
    f->lab.key = 5;
    f->lab.num = 1;
    f->labp[0] = &f->lab;
    perftools__profiles__sample__init(&f->s);
    f->locids[0] = 3;
    f->s.n_location_id = 1;
    f->s.location_id = f->locids;
    f->vals[0] = 1;
    f->vals[1] = 100;
    f->s.n_value = 2;
    f->s.value = f->vals;
    f->s.n_label = 1;
    f->s.label = f->labp;
    f->sp[0] = &f->s;
    f->p.n_sample = 1;
    f->p.sample = f->sp;
}

/* Pack f and parse it: returns the reader's code, message in *err. */
static int parse_fixture(fixture *f, pprof_error *err) {
    size_t n = perftools__profiles__profile__get_packed_size(&f->p);
    uint8_t *buf = malloc(n + 1);
    perftools__profiles__profile__pack(&f->p, buf);
    pprof_profile *p = NULL;
    int rc = pprof_profile_parse(buf, n, NULL, &p, err);
    CHECK((rc == 0) == (p != NULL));
    pprof_profile_free(p);
    free(buf);
    return rc;
}

static void expect_error(fixture *f, const char *needle) {
    pprof_error err;
    int rc = parse_fixture(f, &err);
    CHECK_MSG(rc == -EINVAL, "expected -EINVAL (%s), got %d", needle, rc);
    CHECK_CONTAINS(err.msg, needle);
    CHECK(strchr(err.msg, '\n') == NULL);
}

TEST(pprof, read_valid_fixture) {
    fixture f;
    fixture_init(&f);
    pprof_error err;
    int rc = parse_fixture(&f, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    /* unknown mapping ids are accepted, like pprof */
    f.loc.mapping_id = 99;
    CHECK_EQ_I(parse_fixture(&f, &err), 0);
}

TEST(pprof, read_value_count_mismatch) {
    fixture f;
    fixture_init(&f);
    f.s.n_value = 3;
    expect_error(&f, "sample 0 has 3 values but there are 2 sample types");
    f.s.n_value = 1;
    expect_error(&f, "sample 0 has 1 values");
}

TEST(pprof, read_dangling_ids) {
    fixture f;
    fixture_init(&f);
    f.locids[0] = 4;
    expect_error(&f, "unknown location id 4");
    fixture_init(&f);
    f.line.function_id = 8;
    expect_error(&f, "location id 3 has a line with unknown function id 8");
    fixture_init(&f);
    f.fn.id = 0;
    f.line.function_id = 0;
    expect_error(&f, "function[0] has the reserved id 0");
    fixture_init(&f);
    f.loc.id = 0;
    expect_error(&f, "location[0] has the reserved id 0");
    fixture_init(&f);
    f.map.id = 0;
    expect_error(&f, "mapping[0] has the reserved id 0");
}

TEST(pprof, read_duplicate_ids) {
    fixture f;
    fixture_init(&f);
    Perftools__Profiles__Location *two[2] = {&f.loc, &f.loc};
    f.p.n_location = 2;
    f.p.location = two;
    expect_error(&f, "multiple locations with the same id 3");
}

TEST(pprof, read_bad_strings) {
    fixture f;
    fixture_init(&f);
    f.fn.name = 6;
    expect_error(&f, "function id 7: string index out of range (6 strings)");
    fixture_init(&f);
    f.lab.key = -1;
    expect_error(&f, "sample 0 label 0: string index out of range");
    fixture_init(&f);
    f.vt[1].unit = 100;
    expect_error(&f, "sample_type[1] string index out of range");
    fixture_init(&f);
    f.p.drop_frames = 6;
    expect_error(&f, "header string index out of range");
    fixture_init(&f);
    static char x[] = "x";
    f.strs[0] = x;
    expect_error(&f, "string_table[0] must be \"\"");
    fixture_init(&f);
    f.p.n_string_table = 0;
    f.p.n_sample = 0;
    f.p.n_location = 0;
    f.p.n_function = 0;
    f.p.n_mapping = 0;
    f.p.n_sample_type = 0;
    f.p.time_nanos = 1; /* not an empty message */
    expect_error(&f, "empty string table");
}

TEST(pprof, read_missing_sample_types) {
    fixture f;
    fixture_init(&f);
    f.p.n_sample_type = 0;
    f.s.n_value = 0;
    expect_error(&f, "missing sample type information");
}

TEST(pprof, read_not_a_profile) {
    pprof_profile *p;
    pprof_error err;
    static const char text[] = "this is not a profile at all, just some text\n";
    CHECK_EQ_I(pprof_profile_parse(text, sizeof text - 1, NULL, &p, &err), -EINVAL);
    CHECK_CONTAINS(err.msg, "not a valid profile.proto message");
    CHECK_EQ_I(pprof_profile_parse(text, 0, NULL, &p, &err), -EINVAL);
    CHECK_CONTAINS(err.msg, "empty input");
    /* garbage protobuf: a length-delimited field running past the end */
    static const uint8_t garbage[] = {0x12, 0x40, 0x08, 0x01};
    CHECK_EQ_I(pprof_profile_parse(garbage, sizeof garbage, NULL, &p, &err), -EINVAL);
    CHECK_CONTAINS(err.msg, "protobuf decoding failed");
    /* a group wire type (3) is not valid here */
    static const uint8_t group[] = {0x0b, 0x0c};
    CHECK_EQ_I(pprof_profile_parse(group, sizeof group, NULL, &p, &err), -EINVAL);
    CHECK_EQ_I(pprof_profile_read_file("/nonexistent/x.pb.gz", NULL, &p, &err), -ENOENT);
    CHECK_CONTAINS(err.msg, "/nonexistent/x.pb.gz: No such file");
    CHECK_EQ_I(pprof_profile_read_file(th_tmpdir(), NULL, &p, &err), -EISDIR);
}

static size_t gz(const void *in, size_t n, uint8_t *out, size_t cap) {
    z_stream zs = {0};
    CHECK(deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    size_t len = zs.total_out;
    deflateEnd(&zs);
    return len;
}

TEST(pprof, read_bad_gzip) {
    fixture f;
    fixture_init(&f);
    size_t n = perftools__profiles__profile__get_packed_size(&f.p);
    uint8_t raw[1024], z[2048];
    CHECK(n < sizeof raw);
    perftools__profiles__profile__pack(&f.p, raw);
    size_t zn = gz(raw, n, z, sizeof z);
    pprof_profile *p;
    pprof_error err;
    CHECK_EQ_I(pprof_profile_parse(z, zn, NULL, &p, &err), 0);
    pprof_profile_free(p);
    /* truncated at every length: a gzip error, never a crash */
    for (size_t k = 2; k < zn; k++) {
        int rc = pprof_profile_parse(z, k, NULL, &p, &err);
        CHECK_MSG(rc == -EINVAL, "truncated at %zu: rc %d", k, rc);
        CHECK_CONTAINS(err.msg, "gzip");
    }
    CHECK_EQ_I(pprof_profile_parse(z, zn - 4, NULL, &p, &err), -EINVAL);
    CHECK_CONTAINS(err.msg, "truncated");
    /* corrupt deflate data */
    uint8_t bad[2048];
    memcpy(bad, z, zn);
    for (size_t k = 10; k < zn - 8; k++)
        bad[k] ^= 0x5a;
    CHECK_EQ_I(pprof_profile_parse(bad, zn, NULL, &p, &err), -EINVAL);
    CHECK_CONTAINS(err.msg, "gzip");
    /* trailing garbage after the member */
    memcpy(bad, z, zn);
    memcpy(bad + zn, "junk", 4);
    CHECK_EQ_I(pprof_profile_parse(bad, zn + 4, NULL, &p, &err), -EINVAL);
    CHECK_CONTAINS(err.msg, "trailing garbage");
    /* gzip of garbage: gzip fine, protobuf not */
    static const uint8_t garbage[] = {0x12, 0x40, 0x08, 0x01};
    zn = gz(garbage, sizeof garbage, z, sizeof z);
    CHECK_EQ_I(pprof_profile_parse(z, zn, NULL, &p, &err), -EINVAL);
    CHECK_CONTAINS(err.msg, "protobuf decoding failed");
    /* a gzip bomb stops at the size limit */
    size_t big = 4 << 20;
    uint8_t *zeros = calloc(1, big), *zb = malloc(big);
    zn = gz(zeros, big, zb, big);
    pprof_read_options ro = {.max_size = 1 << 20};
    CHECK_EQ_I(pprof_profile_parse(zb, zn, &ro, &p, &err), -EFBIG);
    CHECK_CONTAINS(err.msg, "limit");
    free(zeros);
    free(zb);
}
