/*
 * builder_test.c — the builder without symbolization: round trip through a
 * file, merging, address adjustment, allocator routing and failure
 * injection, conventions.
 */
#include "tests/pprof/pprof_test.h"

#include <errno.h>

static const pprof_label labels_ab[] = {
    {.key = "kind", .str = "double"},
    {.key = "bytes", .num = 4096},
    {.key = "from_B", .num = 3, .num_unit = "B"},
};

static pprof_builder *heap_builder(const pprof_allocator *a) {
    pprof_builder_config cfg = {.alloc = a};
    pprof_config_for(PPROF_KIND_HEAP, 0, &cfg);
    cfg.drop_frames = "malloc|free";
    cfg.keep_frames = "keepme";
    cfg.doc_url = "https://example.com/heap";
    cfg.time_nanos = 1234567890123;
    cfg.duration_nanos = 42;
    pprof_builder *b;
    pprof_error err;
    int rc = pprof_builder_new(&cfg, &b, &err);
    CHECK_MSG(rc == 0, "builder_new: %s", err.msg);
    CHECK_EQ_I(pprof_builder_add_comment(b, "first comment", &err), 0);
    CHECK_EQ_I(pprof_builder_add_comment(b, "second comment", &err), 0);
    return b;
}

static void add(pprof_builder *b, const uint64_t *st, size_t n, int64_t v, const pprof_label *l,
                size_t nl) {
    int64_t vals[4] = {1, v, 1, v};
    pprof_error err;
    int rc = pprof_builder_add_sample(b, st, n, vals, l, nl, 0, &err);
    CHECK_MSG(rc == 0, "add_sample: %s", err.msg);
}

TEST(pprof, roundtrip_file) {
    pprof_builder *b = heap_builder(NULL);
    uint64_t s1[] = {0x401000, 0x402000, 0x403000};
    uint64_t s2[] = {0x401000, 0x404000};
    add(b, s1, 3, 100, labels_ab, 3);
    add(b, s2, 2, 200, NULL, 0);
    add(b, s1, 0, 7, NULL, 0); /* empty stack is legal */
    pprof_profile *p;
    pprof_error err;
    CHECK_EQ_I(pprof_builder_finish(b, NULL, NULL, &p, &err), 0);
    const char *path = tpath("rt.pb.gz");
    int rc = pprof_profile_write_file(p, path, &err);
    CHECK_MSG(rc == 0, "write: %s", err.msg);

    pprof_profile *q;
    rc = pprof_profile_read_file(path, NULL, &q, &err);
    CHECK_MSG(rc == 0, "read: %s", err.msg);
    const pprof_pb_profile *m = pprof_profile_msg(q);
    CHECK_EQ_U(m->n_sample_type, 4);
    CHECK_EQ_S(pprof_profile_str(q, m->sample_type[3]->type), "inuse_space");
    CHECK_EQ_S(pprof_profile_str(q, m->sample_type[3]->unit), "bytes");
    CHECK_EQ_S(pprof_profile_str(q, m->period_type->type), "space");
    CHECK_EQ_I(m->period, 524288);
    CHECK_EQ_S(pprof_profile_str(q, m->drop_frames), "malloc|free");
    CHECK_EQ_S(pprof_profile_str(q, m->keep_frames), "keepme");
    CHECK_EQ_S(pprof_profile_str(q, m->doc_url), "https://example.com/heap");
    CHECK_EQ_I(m->default_sample_type, 0);
    CHECK_EQ_I(m->time_nanos, 1234567890123);
    CHECK_EQ_I(m->duration_nanos, 42);
    CHECK_EQ_U(m->n_comment, 2);
    CHECK_EQ_S(pprof_profile_str(q, m->comment[1]), "second comment");
    CHECK_EQ_U(m->n_sample, 3);
    const pprof_pb_sample *s = m->sample[0];
    CHECK_EQ_U(s->n_location_id, 3);
    CHECK_EQ_U(s->n_value, 4);
    CHECK_EQ_I(s->value[1], 100);
    /* leaf exact, callers return address - 1 */
    CHECK_EQ_U(pprof_profile_location(q, s->location_id[0])->address, 0x401000);
    CHECK_EQ_U(pprof_profile_location(q, s->location_id[1])->address, 0x401fff);
    CHECK_EQ_U(pprof_profile_location(q, s->location_id[2])->address, 0x402fff);
    CHECK_EQ_U(s->n_label, 3);
    CHECK_EQ_S(pprof_profile_str(q, s->label[0]->key), "kind");
    CHECK_EQ_S(pprof_profile_str(q, s->label[0]->str), "double");
    CHECK_EQ_I(s->label[1]->num, 4096);
    CHECK_EQ_I(s->label[1]->num_unit, 0);
    CHECK_EQ_S(pprof_profile_str(q, s->label[2]->num_unit), "B");
    /* shared leaf location is interned once */
    CHECK_EQ_U(m->sample[1]->location_id[0], s->location_id[0]);
    CHECK_EQ_U(m->n_location, 4);
    CHECK_EQ_U(m->sample[2]->n_location_id, 0);

    /* Same content: both serialize to identical bytes. */
    uint8_t *d1, *d2;
    size_t n1, n2;
    CHECK_EQ_I(pprof_profile_encode(p, false, &d1, &n1, &err), 0);
    CHECK_EQ_I(pprof_profile_encode(q, false, &d2, &n2, &err), 0);
    CHECK_EQ_U(n1, n2);
    CHECK(memcmp(d1, d2, n1) == 0);
    pprof_profile_release_bytes(p, d1, n1);
    pprof_profile_release_bytes(q, d2, n2);
    /* Plain and gzip'd encodings parse to the same thing. */
    CHECK_EQ_I(pprof_profile_encode(p, true, &d1, &n1, &err), 0);
    CHECK(n1 > 2 && d1[0] == 0x1f && d1[1] == 0x8b);
    pprof_profile *r;
    CHECK_EQ_I(pprof_profile_parse(d1, n1, NULL, &r, &err), 0);
    CHECK_EQ_U(pprof_profile_msg(r)->n_sample, 3);
    pprof_profile_free(r);
    pprof_profile_release_bytes(p, d1, n1);

    pprof_profile_free(q);
    pprof_profile_free(p);
    pprof_builder_free(b);
}

TEST(pprof, merge_identical_samples) {
    pprof_builder *b = heap_builder(NULL);
    uint64_t st[] = {0x1000, 0x2000, 0x3000};
    uint64_t other[] = {0x1000, 0x2000, 0x3001};
    pprof_label l1[] = {{.key = "type", .str = "map[int]int"}, {.key = "B", .num = 3}};
    pprof_label l2[] = {{.key = "B", .num = 3}, {.key = "type", .str = "map[int]int"}};
    pprof_label l3[] = {{.key = "type", .str = "map[int]int"}, {.key = "B", .num = 4}};
    for (int i = 0; i < 10; i++)
        add(b, st, 3, 10, l1, 2);
    add(b, st, 3, 5, l2, 2);    /* other label order: another sample */
    add(b, st, 3, 5, l3, 2);    /* other value: another sample */
    add(b, other, 3, 5, l1, 2); /* other stack */
    add(b, st, 2, 5, l1, 2);    /* prefix of the stack */
    add(b, st, 3, 5, NULL, 0);  /* no labels */
    CHECK_EQ_U(pprof_builder_sample_count(b), 6);
    pprof_profile *p;
    pprof_error err;
    CHECK_EQ_I(pprof_builder_finish(b, NULL, NULL, &p, &err), 0);
    const pprof_pb_profile *m = pprof_profile_msg(p);
    CHECK_EQ_U(m->n_sample, 6);
    CHECK_EQ_I(m->sample[0]->value[0], 10);
    CHECK_EQ_I(m->sample[0]->value[1], 100);
    /* The builder keeps working after finish: later samples still merge. */
    add(b, st, 3, 1, l1, 2);
    pprof_profile *p2;
    CHECK_EQ_I(pprof_builder_finish(b, NULL, NULL, &p2, &err), 0);
    CHECK_EQ_I(pprof_profile_msg(p2)->sample[0]->value[1], 101);
    CHECK_EQ_I(pprof_profile_msg(p)->sample[0]->value[1], 100); /* p is a copy */
    pprof_profile_free(p2);
    pprof_builder_free(b); /* the profile outlives its builder */
    CHECK_EQ_S(pprof_profile_str(p, m->sample[0]->label[0]->str), "map[int]int");
    pprof_profile_free(p);
}

TEST(pprof, all_return_flag) {
    pprof_builder *b = heap_builder(NULL);
    uint64_t st[] = {0x1000, 0x2000};
    int64_t v[4] = {1, 1, 1, 1};
    CHECK_EQ_I(pprof_builder_add_sample(b, st, 2, v, NULL, 0, PPROF_STACK_ALL_RETURN, NULL), 0);
    pprof_profile *p;
    CHECK_EQ_I(pprof_builder_finish(b, NULL, NULL, &p, NULL), 0);
    const pprof_pb_profile *m = pprof_profile_msg(p);
    CHECK_EQ_U(pprof_profile_location(p, m->sample[0]->location_id[0])->address, 0xfff);
    CHECK_EQ_U(pprof_profile_location(p, m->sample[0]->location_id[1])->address, 0x1fff);
    pprof_profile_free(p);
    pprof_builder_free(b);
}

TEST(pprof, bad_arguments) {
    pprof_builder_config cfg = {0};
    pprof_builder *b;
    pprof_error err;
    CHECK_EQ_I(pprof_builder_new(&cfg, &b, &err), -EINVAL);
    CHECK_CONTAINS(err.msg, "sample type");
    b = heap_builder(NULL);
    uint64_t st[] = {1};
    pprof_label nokey[] = {{.key = NULL, .str = "x"}};
    int64_t v[4] = {0};
    CHECK_EQ_I(pprof_builder_add_sample(b, st, 1, NULL, NULL, 0, 0, &err), -EINVAL);
    CHECK_EQ_I(pprof_builder_add_sample(b, st, 1, v, nokey, 1, 0, &err), -EINVAL);
    CHECK_CONTAINS(err.msg, "no key");
    CHECK_EQ_I(pprof_builder_add_comment(b, NULL, &err), -EINVAL);
    pprof_builder_free(b);
}

/* Every byte comes from the caller's allocator and goes back to it, and a
 * failure at any allocation gives -ENOMEM without leaking or crashing. */
TEST(pprof, allocator_routing_and_failures) {
    count_alloc c = {0};
    pprof_allocator a = ca_allocator(&c);
    pprof_builder *b = heap_builder(&a);
    uint64_t st[40];
    for (int i = 0; i < 300; i++) {
        for (int d = 0; d < 40; d++)
            st[d] = 0x10000 + (uint64_t)(i * 7 + d * 13) % 997;
        add(b, st, 40, i, labels_ab, (size_t)(i % 4));
    }
    pprof_profile *p;
    CHECK_EQ_I(pprof_builder_finish(b, NULL, NULL, &p, NULL), 0);
    uint8_t *d;
    size_t n;
    CHECK_EQ_I(pprof_profile_encode(p, true, &d, &n, NULL), 0);
    CHECK(c.live_blocks > 0);
    pprof_profile *q;
    pprof_read_options ro = {.alloc = &a};
    CHECK_EQ_I(pprof_profile_parse(d, n, &ro, &q, NULL), 0);
    pprof_profile_free(q);
    pprof_profile_release_bytes(p, d, n);
    pprof_profile_free(p);
    pprof_builder_free(b);
    CHECK_EQ_U(c.live_blocks, 0);
    CHECK_EQ_U(c.live_bytes, 0);

    size_t total = c.total_blocks;
    for (size_t k = 1; k < total + 5; k += 1 + k / 16) {
        count_alloc f = {.fail_after = k};
        pprof_allocator fa = ca_allocator(&f);
        pprof_builder_config cfg = {.alloc = &fa};
        pprof_config_for(PPROF_KIND_MUTEX, 0, &cfg);
        pprof_builder *fb;
        pprof_error err;
        if (pprof_builder_new(&cfg, &fb, &err) == 0) {
            int64_t v[2] = {1, 2};
            for (int i = 0; i < 300; i++) {
                for (int dd = 0; dd < 40; dd++)
                    st[dd] = 0x10000 + (uint64_t)(i * 7 + dd * 13) % 997;
                int rc = pprof_builder_add_sample(fb, st, 40, v, labels_ab, 2, 0, &err);
                CHECK(rc == 0 || rc == -ENOMEM);
            }
            pprof_profile *fp;
            int rc = pprof_builder_finish(fb, NULL, NULL, &fp, &err);
            CHECK(rc == 0 || rc == -ENOMEM);
            if (rc == 0) {
                rc = pprof_profile_encode(fp, true, &d, &n, &err);
                CHECK(rc == 0 || rc == -ENOMEM);
                if (rc == 0)
                    pprof_profile_release_bytes(fp, d, n);
                pprof_profile_free(fp);
            }
            pprof_builder_free(fb);
        } else {
            CHECK_EQ_I(err.code, -ENOMEM);
        }
        CHECK_EQ_U(f.live_blocks, 0);
    }
}

TEST(pprof, scale_heap_sample) {
    int64_t c, s;
    pprof_scale_heap_sample(1, 1024, 524288, &c, &s);
    CHECK_EQ_I(c, 512);
    CHECK_EQ_I(s, 524800);
    pprof_scale_heap_sample(10, 1000000, 524288, &c, &s);
    CHECK_EQ_I(c, 57);
    CHECK_EQ_I(s, 5758764);
    pprof_scale_heap_sample(3, 3 * 1048576, 524288, &c, &s);
    CHECK_EQ_I(c, 3);
    CHECK_EQ_I(s, 3638089);
    pprof_scale_heap_sample(5, 500, 1, &c, &s);
    CHECK_EQ_I(c, 5);
    CHECK_EQ_I(s, 500);
    pprof_scale_heap_sample(0, 500, 524288, &c, &s);
    CHECK_EQ_I(c, 0);
    CHECK_EQ_I(s, 0);
}

TEST(pprof, conventions_configs) {
    pprof_builder_config cfg = {0};
    pprof_config_for(PPROF_KIND_ALLOCS, 4096, &cfg);
    CHECK_EQ_U(cfg.n_sample_types, 4);
    CHECK_EQ_S(cfg.sample_types[0].type, "alloc_objects");
    CHECK_EQ_S(cfg.default_sample_type, "alloc_space");
    CHECK_EQ_I(cfg.period, 4096);
    pprof_config_for(PPROF_KIND_BLOCK, 0, &cfg);
    CHECK_EQ_S(cfg.sample_types[1].unit, "nanoseconds");
    CHECK_EQ_S(cfg.period_type.type, "contentions");
    pprof_config_for(PPROF_KIND_GROW, 0, &cfg);
    CHECK_EQ_S(cfg.sample_types[2].type, "entries");
    pprof_config_for(PPROF_KIND_MAPS, 0, &cfg);
    CHECK_EQ_U(cfg.n_sample_types, 5);
    CHECK_EQ_S(cfg.sample_types[3].type, "overflow");
}
