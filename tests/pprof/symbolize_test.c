/*
 * symbolize_test.c — mappings of this process and in-process symbolization:
 * function, file, line and inline frames of this test binary (built -O2 -g),
 * ELF-symtab fallback and demangling for a library without debug info,
 * frames of a dlclose'd library still resolving, mapping flags.
 */
#include "tests/pprof/pprof_test.h"

#include <dlfcn.h>
#include <unistd.h>

/* Fixed call sites of this file, with their lines. pp_ra returns its own
 * return address (backtrace() would start inside ASan's interceptor). */
static int leaf_line, inl_line, outer_line;

__attribute__((noinline)) static uint64_t pp_ra(void) {
    uint64_t ra = (uint64_t)(uintptr_t)__builtin_return_address(0);
    __asm__ volatile("" ::: "memory");
    return ra;
}

/* out[0]: a return address in pp_leaf; out[1]: pp_leaf's return address. */
__attribute__((noinline)) static void pp_leaf(uint64_t *out) {
    out[0] = (leaf_line = __LINE__, pp_ra()); /* the line of the call */
    out[1] = (uint64_t)(uintptr_t)__builtin_return_address(0);
    __asm__ volatile("" ::: "memory");
}

static inline __attribute__((always_inline)) uint64_t pp_inlined(void) {
    return (inl_line = __LINE__, pp_ra());
}

__attribute__((noinline)) static uint64_t pp_outer(void) {
    uint64_t ra = (outer_line = __LINE__, pp_inlined());
    __asm__ volatile("" ::: "memory");
    return ra;
}

static pprof_mappings *self_maps(void) {
    pprof_mappings *m;
    pprof_error err;
    CHECK_EQ_I(pprof_mappings_new(NULL, &m, &err), 0);
    int rc = pprof_mappings_refresh(m, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    return m;
}

TEST(pprof, mappings_self) {
    pprof_mappings *m = self_maps();
    CHECK(pprof_mappings_count(m) >= 2);
    const pprof_mapping_info *main = pprof_mappings_get(m, 0);
    char exe[1024];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(k > 0);
    exe[k] = 0;
    CHECK(main->main);
    CHECK_EQ_S(main->path, exe);
    CHECK(main->loaded);
    /* The mapping holds this function, and its offset is the maps column. */
    uint64_t pc = (uint64_t)(uintptr_t)&pp_leaf;
    size_t idx = 99;
    const pprof_mapping_info *mi = pprof_mappings_find(m, pc, &idx);
    CHECK(mi == main && idx == 0);
    char *out = NULL;
    th_sh(&out, "grep -F ' %s' /proc/%d/maps | awk '$2 ~ /x/ {print $1, $3}'", exe, (int)getpid());
    char want[128];
    snprintf(want, sizeof want, "%lx-%lx %08lx", (unsigned long)main->start,
             (unsigned long)main->limit, (unsigned long)main->offset);
    CHECK_CONTAINS(out, want);
    free(out);
    /* build id: lowercase hex, as readelf shows it */
    CHECK(strlen(main->build_id) >= 16);
    for (const char *c = main->build_id; *c; c++)
        CHECK((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'));
    NEED_TOOL("readelf");
    th_sh(&out, "readelf -n '%s' | grep 'Build ID'", exe);
    CHECK_CONTAINS(out, main->build_id);
    free(out);
    /* libc is there too, executable segment with a nonzero offset */
    bool libc = false;
    for (size_t i = 1; i < pprof_mappings_count(m); i++) {
        const pprof_mapping_info *e = pprof_mappings_get(m, i);
        CHECK(!e->main);
        if (strstr(e->path, "/libc.so.6")) {
            libc = true;
            CHECK(e->offset > 0);
            CHECK(e->build_id[0]);
        }
    }
    CHECK(libc);
    /* a refresh with nothing new keeps everything */
    size_t n = pprof_mappings_count(m);
    CHECK_EQ_I(pprof_mappings_refresh(m, NULL), 0);
    CHECK_EQ_U(pprof_mappings_count(m), n);
    pprof_mappings_free(m);
}

TEST(pprof, symbolize_lines_and_inlines) {
    pprof_mappings *m = self_maps();
    pprof_symbolizer *s;
    CHECK_EQ_I(pprof_symbolizer_new(NULL, &s, NULL), 0);
    uint64_t ra[2];
    pp_leaf(ra);
    const pprof_frame *f;
    size_t n;
    unsigned flags;
    pprof_error err;
    CHECK_EQ_I(pprof_symbolize(s, m, ra[0] - 1, &f, &n, &flags, &err), 0);
    CHECK_EQ_U(n, 1);
    CHECK_EQ_S(f[0].name, "pp_leaf");
    CHECK_EQ_S(f[0].system_name, "pp_leaf");
    CHECK_CONTAINS(f[0].file, "tests/pprof/symbolize_test.c");
    CHECK_EQ_I(f[0].line, leaf_line);
    CHECK(f[0].start_line > 0 && f[0].start_line < leaf_line);
    CHECK(flags & PPROF_SYM_DWARF);
    /* the caller frame is this test function */
    CHECK_EQ_I(pprof_symbolize(s, m, ra[1] - 1, &f, &n, &flags, &err), 0);
    CHECK(n >= 1);
    CHECK_CONTAINS(f[n - 1].name, "symbolize_lines_and_inlines");

    uint64_t ro = pp_outer() - 1;
    CHECK_EQ_I(pprof_symbolize(s, m, ro, &f, &n, &flags, &err), 0);
    CHECK_EQ_U(n, 2);
    CHECK_EQ_S(f[0].name, "pp_inlined");
    CHECK_EQ_I(f[0].line, inl_line);
    CHECK_EQ_S(f[1].name, "pp_outer");
    CHECK_EQ_I(f[1].line, outer_line);
    CHECK_CONTAINS(f[1].file, "symbolize_test.c");
    /* cached: the same frames come back */
    const pprof_frame *f2;
    size_t n2;
    CHECK_EQ_I(pprof_symbolize(s, m, ro, &f2, &n2, NULL, &err), 0);
    CHECK(f2 == f && n2 == n);
    /* libc: no debug info here, names from the symbol table */
    uint64_t getpid_pc = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "getpid");
    CHECK_EQ_I(pprof_symbolize(s, m, getpid_pc, &f, &n, &flags, &err), 0);
    CHECK_EQ_U(n, 1);
    CHECK(strstr(f[0].name, "getpid") != NULL);
    /* an address in no mapping gives nothing */
    CHECK_EQ_I(pprof_symbolize(s, m, 0x10, &f, &n, &flags, &err), 0);
    CHECK_EQ_U(n, 0);
    pprof_symbolizer_free(s);
    pprof_mappings_free(m);
}

TEST(pprof, demangle) {
    CHECK(pprof_demangle("main") == NULL);
    CHECK(pprof_demangle("_Zfoo_not_valid(") == NULL || 1);
    /* __cxa_demangle comes from whatever C++ runtime the process has */
    void *cxx = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL);
    if (!cxx)
        SKIP("no libstdc++.so.6");
    char *d = pprof_demangle("_ZN7mapprof4test7mangledEi");
    CHECK_EQ_S(d, "mapprof::test::mangled(int)");
    free(d);
}

/* Builds a shared library without debug info in the test dir. */
static const char *build_nodebug_lib(void) {
    NEED_TOOL("cc");
    const char *src = tpath("nodebug.c");
    FILE *f = fopen(src, "w");
    CHECK(f != NULL);
    fputs("__attribute__((noinline)) int nodebug_plain(int x) { return x * 3 + 1; }\n"
          "int cxx_like(int x) __asm__(\"_ZN7mapprof4test7mangledEi\");\n"
          "__attribute__((noinline)) int cxx_like(int x) { return x ^ 0x55; }\n",
          f);
    fclose(f);
    const char *so = tpath("libnodebug.so");
    char *out = NULL;
    int rc = th_sh(&out, "cc -O2 -shared -fPIC -g0 -o '%s' '%s'", so, src);
    CHECK_MSG(rc == 0, "%s", out);
    free(out);
    return so;
}

TEST(pprof, symbolize_symtab_fallback_and_dlclose) {
    void *cxx = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL);
    const char *so = build_nodebug_lib();
    void *h = dlopen(so, RTLD_NOW);
    CHECK_MSG(h != NULL, "%s", dlerror());
    uint64_t plain = (uint64_t)(uintptr_t)dlsym(h, "nodebug_plain");
    uint64_t mangled = (uint64_t)(uintptr_t)dlsym(h, "_ZN7mapprof4test7mangledEi");
    CHECK(plain && mangled);

    pprof_mappings *m = self_maps();
    size_t idx;
    const pprof_mapping_info *mi = pprof_mappings_find(m, plain, &idx);
    CHECK(mi != NULL);
    CHECK_CONTAINS(mi->path, "libnodebug.so");
    CHECK(mi->build_id[0]);

    /* Samples in the library, profile built after it is gone. */
    pprof_builder_config cfg = {0};
    pprof_config_for(PPROF_KIND_MUTEX, 0, &cfg);
    pprof_builder *b;
    CHECK_EQ_I(pprof_builder_new(&cfg, &b, NULL), 0);
    int64_t v[2] = {1, 10};
    uint64_t st1[] = {plain + 2};
    uint64_t st2[] = {mangled + 2};
    CHECK_EQ_I(pprof_builder_add_sample(b, st1, 1, v, NULL, 0, 0, NULL), 0);
    CHECK_EQ_I(pprof_builder_add_sample(b, st2, 1, v, NULL, 0, 0, NULL), 0);

    CHECK_EQ_I(dlclose(h), 0);
    pprof_error err;
    CHECK_EQ_I(pprof_mappings_refresh(m, &err), 0);
    const pprof_mapping_info *gone = pprof_mappings_find(m, plain, &idx);
    CHECK(gone != NULL);
    CHECK(!gone->loaded);
    CHECK_CONTAINS(gone->path, "libnodebug.so");

    pprof_symbolizer *s;
    CHECK_EQ_I(pprof_symbolizer_new(NULL, &s, NULL), 0);
    pprof_profile *p;
    int rc = pprof_builder_finish(b, m, s, &p, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    const pprof_pb_profile *msg = pprof_profile_msg(p);
    const pprof_pb_location *l1 = pprof_profile_location(p, msg->sample[0]->location_id[0]);
    const pprof_pb_location *l2 = pprof_profile_location(p, msg->sample[1]->location_id[0]);
    CHECK_EQ_U(l1->mapping_id, idx + 1);
    CHECK_EQ_U(l1->n_line, 1);
    const pprof_pb_function *f1 = pprof_profile_function(p, l1->line[0]->function_id);
    CHECK_EQ_S(pprof_profile_str(p, f1->name), "nodebug_plain");
    CHECK_EQ_S(pprof_profile_str(p, f1->filename), "");
    CHECK_EQ_I(l1->line[0]->line, 0);
    const pprof_pb_function *f2 = pprof_profile_function(p, l2->line[0]->function_id);
    CHECK_EQ_S(pprof_profile_str(p, f2->system_name), "_ZN7mapprof4test7mangledEi");
    if (cxx)
        CHECK_EQ_S(pprof_profile_str(p, f2->name), "mapprof::test::mangled(int)");
    /* names but no files or lines: only has_functions */
    const pprof_pb_mapping *mp = pprof_profile_mapping(p, idx + 1);
    CHECK(mp->has_functions);
    CHECK(!mp->has_filenames);
    CHECK(!mp->has_line_numbers);
    CHECK(!mp->has_inline_frames);
    CHECK_EQ_S(pprof_profile_str(p, mp->build_id), gone->build_id);
    pprof_profile_free(p);
    pprof_symbolizer_free(s);
    pprof_builder_free(b);
    pprof_mappings_free(m);
}

TEST(pprof, mappings_from_file) {
    const char *maps = tpath("maps");
    FILE *f = fopen(maps, "w");
    fputs("00400000-00452000 r-xp 00001000 08:02 173521      /usr/bin/dbus-daemon\n"
          "00651000-00652000 r--p 00051000 08:02 173521      /usr/bin/dbus-daemon\n"
          "7f0000000000-7f0000001000 r-xp 00000000 00:00 0 \n"
          "7f0000002000-7f0000003000 r-xp 00002000 08:02 99   /lib/gone.so (deleted)\n"
          "7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0   [vdso]\n"
          "garbage line\n",
          f);
    fclose(f);
    pprof_mappings *m;
    CHECK_EQ_I(pprof_mappings_new(NULL, &m, NULL), 0);
    CHECK_EQ_I(pprof_mappings_refresh_from(m, maps, "/lib/gone.so", NULL), 0);
    CHECK_EQ_U(pprof_mappings_count(m), 3);
    CHECK_EQ_S(pprof_mappings_get(m, 0)->path, "/lib/gone.so"); /* main first */
    CHECK(pprof_mappings_get(m, 0)->main);
    CHECK_EQ_U(pprof_mappings_get(m, 0)->offset, 0x2000);
    CHECK_EQ_S(pprof_mappings_get(m, 1)->path, "/usr/bin/dbus-daemon");
    CHECK_EQ_U(pprof_mappings_get(m, 1)->offset, 0x1000);
    CHECK_EQ_S(pprof_mappings_get(m, 2)->path, "[vdso]");
    /* refresh from a maps file without the library: kept, unloaded */
    f = fopen(maps, "w");
    fputs("00400000-00452000 r-xp 00001000 08:02 173521      /usr/bin/dbus-daemon\n", f);
    fclose(f);
    CHECK_EQ_I(pprof_mappings_refresh_from(m, maps, NULL, NULL), 0);
    CHECK_EQ_U(pprof_mappings_count(m), 3);
    CHECK(!pprof_mappings_get(m, 0)->loaded);
    CHECK(pprof_mappings_get(m, 1)->loaded);
    CHECK(pprof_mappings_find(m, 0x7f0000002010, NULL) == pprof_mappings_get(m, 0));
    CHECK(pprof_mappings_find(m, 0x7f0000003000, NULL) == NULL);
    pprof_error err;
    CHECK(pprof_mappings_refresh_from(m, "/nonexistent/maps", NULL, &err) == -ENOENT);
    CHECK_CONTAINS(err.msg, "/nonexistent/maps");
    pprof_mappings_free(m);
}

/* A return address inside libc that no exported symbol names: qsort's
 * internal merge sort calls the comparator. */
static uint64_t libc_inner_ra;

static int cmp_capture(const void *a, const void *b) {
    libc_inner_ra = (uint64_t)(uintptr_t)__builtin_return_address(0);
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* Separate debug files (libc6-dbg) off: libc frames are named from the
 * symbol table, without lines or versions, and this binary's own DWARF
 * still gives lines; on: libc gets lines too when its debug file exists. */
TEST(pprof, symbolize_separate_debug_switch) {
    int v[8] = {5, 3, 7, 1, 8, 2, 6, 4};
    qsort(v, 8, sizeof v[0], cmp_capture);
    CHECK(libc_inner_ra != 0);
    pprof_mappings *m = self_maps();
    bool dbg_file = access("/usr/lib/debug/.build-id", F_OK) == 0;
    for (int on = 0; on < 2; on++) {
        pprof_symbolizer *s;
        CHECK_EQ_I(pprof_symbolizer_new(NULL, &s, NULL), 0);
        pprof_symbolizer_separate_debug(s, on);
        const pprof_frame *f;
        size_t n;
        unsigned flags;
        pprof_error err;
        CHECK_EQ_I(pprof_symbolize(s, m, libc_inner_ra - 1, &f, &n, &flags, &err), 0);
        CHECK(n >= 1);
        CHECK_MSG(f[n - 1].name[0] && !strchr(f[n - 1].name, '@'), "libc frame named \"%s\"",
                  f[n - 1].name);
        if (!on) {
            CHECK_EQ_U(n, 1);
            CHECK_EQ_I(f[0].line, 0);
            CHECK(!(flags & PPROF_SYM_DWARF));
        } else if (dbg_file) {
            CHECK_MSG(f[0].line > 0, "libc frame %s has no line with libc6-dbg", f[0].name);
        }
        uint64_t ra[2];
        pp_leaf(ra);
        CHECK_EQ_I(pprof_symbolize(s, m, ra[0] - 1, &f, &n, &flags, &err), 0);
        CHECK_EQ_S(f[0].name, "pp_leaf");
        CHECK_EQ_I(f[0].line, leaf_line);
        pprof_symbolizer_free(s);
    }
    pprof_mappings_free(m);
}

static void write_maps(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

/* Generations: A lives in generation 1, B at A's place from generation 2,
 * A again from 3. Addresses captured in a generation resolve to the life
 * that held them; only those that would be mistaken move to an alias. */
TEST(pprof, mappings_generations_and_aliases) {
    const char *maps = tpath("maps");
    const char *a = "7f0000000000-7f0000004000 r-xp 00000000 08:02 11   /lib/a.so\n";
    const char *b = "7f0000000000-7f0000004000 r-xp 00000000 08:02 12   /lib/b.so\n";
    pprof_mappings *m;
    CHECK_EQ_I(pprof_mappings_new(NULL, &m, NULL), 0);
    const char *lives[] = {a, "", b, "", a};
    for (uint64_t gen = 1; gen <= 5; gen++) {
        pprof_mappings_set_generation(m, gen);
        write_maps(maps, lives[gen - 1]);
        CHECK_EQ_I(pprof_mappings_refresh_from(m, maps, NULL, NULL), 0);
    }
    CHECK_EQ_U(pprof_mappings_count(m), 3); /* three lives */
    CHECK_EQ_U(pprof_mappings_last_death(m), 4);
    uint64_t pc = 0x7f0000001234;
    /* The current life (A, from 5) keeps its raw addresses. */
    CHECK_EQ_U(pprof_mappings_address_at(m, pc, 5), pc);
    /* B's (generation 3) and A's first life's (1) move to aliases. */
    uint64_t in_b = pprof_mappings_address_at(m, pc, 3);
    uint64_t in_a1 = pprof_mappings_address_at(m, pc, 1);
    CHECK(in_b >= (1ull << 48) && in_a1 >= (1ull << 48) && in_b != in_a1);
    CHECK_EQ_U(pprof_mappings_address_at(m, pc, 3), in_b); /* stable */
    const pprof_mapping_info *mb = pprof_mappings_find(m, in_b, NULL);
    CHECK(mb != NULL);
    CHECK_EQ_S(mb->path, "/lib/b.so");
    CHECK_EQ_U(in_b - mb->start, pc - 0x7f0000000000); /* same offset in its file */
    CHECK_EQ_S(pprof_mappings_find(m, in_a1, NULL)->path, "/lib/a.so");
    CHECK_EQ_S(pprof_mappings_find(m, pc, NULL)->path, "/lib/a.so");
    /* Nothing held the address in generation 2: it stays as it is. */
    CHECK_EQ_U(pprof_mappings_address_at(m, pc, 2), pc);
    pprof_mappings_free(m);
}

/* An address met before the mappings knew its library (a dump racing a
 * dlopen) must be resolved again once they do, not served from the cache:
 * a signal dump once left 4 of 1,200 blocks of a reloaded library without
 * names in every later dump (tests/stress/dlopen_test.c). */
TEST(pprof, symbolize_cache_follows_mappings) {
    const char *so = build_nodebug_lib();
    pprof_mappings *m = self_maps(); /* before the library is loaded */
    void *h = dlopen(so, RTLD_NOW);
    CHECK_MSG(h != NULL, "%s", dlerror());
    uint64_t plain = (uint64_t)(uintptr_t)dlsym(h, "nodebug_plain");
    CHECK(plain != 0);
    CHECK(pprof_mappings_find(m, plain, NULL) == NULL);
    pprof_symbolizer *s;
    CHECK_EQ_I(pprof_symbolizer_new(NULL, &s, NULL), 0);
    const pprof_frame *fr;
    size_t n = 9;
    pprof_error err;
    CHECK_EQ_I(pprof_symbolize(s, m, plain + 2, &fr, &n, NULL, &err), 0);
    CHECK_EQ_U(n, 0);
    CHECK_EQ_I(pprof_mappings_refresh(m, &err), 0);
    CHECK(pprof_mappings_find(m, plain, NULL) != NULL);
    CHECK_EQ_I(pprof_symbolize(s, m, plain + 2, &fr, &n, NULL, &err), 0);
    CHECK_EQ_U(n, 1);
    CHECK_EQ_S(fr[0].name, "nodebug_plain");
    pprof_symbolizer_free(s);
    pprof_mappings_free(m);
    dlclose(h);
}
