/*
 * install_test.c — `make install` and `make uninstall` (pkg/install.mk)
 * into temporary trees, checked the way a user meets them: the installed
 * mapprof runs with an empty environment, a program built with
 * `pkg-config --cflags --libs gomap` compiles against the installed
 * header and runs without LD_LIBRARY_PATH, the installed libmapprof.so
 * profiles it (by hand and through the installed `mapprof run`), and
 * uninstall leaves no file behind. A DESTDIR install
 * stages the same tree under DESTDIR while naming the final PREFIX.
 *
 * The tests run make on the tree with the build directory of this run,
 * whose outputs TEST_DEPS_install already built, so make only copies.
 * Non-goal: installing into the live system (LDCONFIG=true keeps the
 * loader cache out of it).
 */
#include "tests/harness/test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* A program using the installed header, as a user would write it. */
static const char user_program[] =
    "#include <mapprof/gomap.h>\n"
    "#include <stdio.h>\n"
    "int main(void) {\n"
    "    gomap *m;\n"
    "    if (gomap_new(&gomap_type_u64_u64, 0, NULL, &m) < 0)\n"
    "        return 1;\n"
    "    for (uint64_t k = 0; k < 1000; k++) {\n"
    "        void *e;\n"
    "        if (gomap_assign_u64(m, k, &e) < 0)\n"
    "            return 1;\n"
    "        *(uint64_t *)e = k * k;\n"
    "    }\n"
    "    uint64_t *v = gomap_lookup_u64(m, 30);\n"
    "    gomap_stats st;\n"
    "    gomap_get_stats(m, &st);\n"
    "    printf(\"len=%zu m[30]=%llu grows=%llu\\n\", gomap_len(m),\n"
    "           v ? (unsigned long long)*v : 0ull, (unsigned long long)st.grows);\n"
    "    gomap_free(m);\n"
    "    return 0;\n"
    "}\n";

static void skip_under_sanitizers(void) {
#ifdef MAPPROF_SANITIZE
    SKIP("install: run by `make test` (the sanitizer build has no shim to install)");
#endif
}

/* A fresh directory for this test. */
static const char *fresh_dir(const char *name) {
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/%s.%d", th_tmpdir(), name, (int)getpid());
    CHECK_EQ_I(th_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir), 0);
    return dir;
}

/* make VARS TARGET on the tree, with this run's build directory; the
 * caller's make flags (jobserver) are not passed down. */
static void run_make(const char *target, const char *vars) {
    char *out = NULL;
    int rc = th_sh(&out,
                   "cd '%s' && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s "
                   "--no-print-directory BUILD='%s' %s %s",
                   th_root(), th_build(), vars, target);
    CHECK_MSG(rc == 0, "make %s %s failed:\n%s", target, vars, out);
    free(out);
}

static bool exists(const char *dir, const char *rel) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    struct stat st;
    return lstat(path, &st) == 0;
}

static bool in_tree(const char *rel) {
    return exists(th_root(), rel);
}

static void write_user_program(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/user.c", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    CHECK_EQ_U(fwrite(user_program, 1, sizeof user_program - 1, f), sizeof user_program - 1);
    CHECK_EQ_I(fclose(f), 0);
}

/* Every file and symlink left under dir (empty string: none). */
static char *files_under(const char *dir) {
    char *out = NULL;
    th_sh(&out, "find '%s' -type f -o -type l", dir);
    return out;
}

TEST_TIMEOUT(install, prefix_install_works_from_its_location, 60) {
    skip_under_sanitizers();
    NEED_TOOL("pkg-config");
    const char *dir = fresh_dir("install");
    char prefix[600], vars[800];
    snprintf(prefix, sizeof prefix, "%s/prefix", dir);
    snprintf(vars, sizeof vars, "PREFIX='%s' LDCONFIG=true", prefix);
    run_make("install", vars);

    static const char *const files[] = {
        "bin/mapprof",     "lib/libmapprof.so", "lib/libgomap.so.0.1.0",  "lib/libgomap.so.0",
        "lib/libgomap.so", "lib/libgomap.a",    "lib/pkgconfig/gomap.pc", "include/mapprof/gomap.h",
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        CHECK_MSG(exists(prefix, files[i]), "%s not installed", files[i]);
    CHECK_EQ_I(exists(prefix, "include/mapprof/mapprof.h"), in_tree("shim/mapprof.h"));
    CHECK_EQ_I(exists(prefix, "share/man/man1/mapprof.1"), in_tree("man/mapprof.1"));

    /* The command runs from the install location with nothing set up. */
    char *out = NULL;
    int rc = th_sh(&out, "env -i PATH=/usr/bin:/bin '%s/bin/mapprof' --help", prefix);
    CHECK_MSG(rc == 0, "installed mapprof --help: status %d:\n%s", rc, out);
    CHECK_CONTAINS(out, "usage: mapprof");
    bool has_run = strstr(out, "mapprof run") != NULL;
    free(out);

    /* A versioned soname, which the symlinks lead to. */
    NEED_TOOL("readelf");
    th_sh(&out, "readelf -d '%s/lib/libgomap.so'", prefix);
    CHECK_CONTAINS(out, "Library soname: [libgomap.so.0]");
    free(out);

    /* A user program: pkg-config flags first, as people type them; it runs
     * without LD_LIBRARY_PATH (the rpath from gomap.pc). */
    write_user_program(dir);
    rc = th_sh(&out,
               "cd '%s' && export PKG_CONFIG_PATH='%s/lib/pkgconfig' && "
               "cc -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags --libs gomap) user.c "
               "-o user",
               dir, prefix);
    CHECK_MSG(rc == 0, "building against the installed libgomap failed:\n%s", out);
    free(out);
    rc = th_sh(&out, "env -i '%s/user'", dir);
    CHECK_MSG(rc == 0, "user program: status %d:\n%s", rc, out);
    CHECK_CONTAINS(out, "len=1000 m[30]=900 grows=8");
    free(out);
    th_sh(&out, "readelf -d '%s/user'", dir);
    CHECK_CONTAINS(out, "Shared library: [libgomap.so.0]");
    free(out);

    /* The installed profiler profiles it. */
    rc = th_sh(&out,
               "cd '%s' && env -i LD_PRELOAD='%s/lib/libmapprof.so' MAPPROF_OUT='%s/p' "
               "MAPPROF_PROFILES=grow ./user && ls p.*.grow.pb.gz",
               dir, prefix, dir);
    CHECK_MSG(rc == 0, "user program under the installed libmapprof.so:\n%s", out);
    free(out);
    /* `mapprof run` finds the installed library next to itself (../lib). */
    if (has_run) {
        rc = th_sh(&out,
                   "cd '%s' && env -i PATH=/usr/bin:/bin '%s/bin/mapprof' run -o '%s/r' -- "
                   "./user && ls r.*.grow.pb.gz",
                   dir, prefix, dir);
        CHECK_MSG(rc == 0, "installed mapprof run:\n%s", out);
        CHECK_CONTAINS(out, "len=1000");
        free(out);
    }

    run_make("uninstall", vars);
    char *left = files_under(prefix);
    CHECK_MSG(left[0] == 0, "left after uninstall:\n%s", left);
    free(left);
}

TEST_TIMEOUT(install, destdir_stages_the_prefix, 60) {
    skip_under_sanitizers();
    NEED_TOOL("pkg-config");
    const char *dir = fresh_dir("install-destdir");
    char stage[600], vars[800];
    snprintf(stage, sizeof stage, "%s/stage", dir);
    snprintf(vars, sizeof vars, "DESTDIR='%s' PREFIX=/opt/mapprof", stage);
    run_make("install", vars);
    CHECK(exists(stage, "opt/mapprof/bin/mapprof"));
    CHECK(exists(stage, "opt/mapprof/lib/libgomap.so.0"));
    char pc[700];
    snprintf(pc, sizeof pc, "%s/opt/mapprof/lib/pkgconfig/gomap.pc", stage);
    char *text = th_read_file(pc, NULL);
    CHECK(text != NULL);
    CHECK_CONTAINS(text, "prefix=/opt/mapprof\n");
    CHECK_CONTAINS(text, "libdir=/opt/mapprof/lib\n");
    CHECK(!strstr(text, stage)); /* the staging directory is not baked in */
    free(text);

    /* Built against the staged tree (pkg-config's sysroot), run from it. */
    write_user_program(dir);
    char *out = NULL;
    int rc = th_sh(&out,
                   "cd '%s' && export PKG_CONFIG_SYSROOT_DIR='%s' "
                   "PKG_CONFIG_LIBDIR='%s/opt/mapprof/lib/pkgconfig' && "
                   "cc -std=c11 user.c -o user $(pkg-config --cflags --libs gomap) && "
                   "LD_LIBRARY_PATH='%s/opt/mapprof/lib' ./user",
                   dir, stage, stage, stage);
    CHECK_MSG(rc == 0, "building against the staged tree failed:\n%s", out);
    CHECK_CONTAINS(out, "len=1000");
    free(out);

    run_make("uninstall", vars);
    char *left = files_under(stage);
    CHECK_MSG(left[0] == 0, "left after uninstall:\n%s", left);
    free(left);
}
