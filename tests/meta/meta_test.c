/*
 * meta_test.c — checks on the tree itself: formatting, a clean clang build,
 * no build outputs tracked by git. They keep the rules in the developers'
 * guide from depending on anyone's memory.
 */
#include "tests/harness/test.h"

#include <stdlib.h>
#include <unistd.h>

TEST(meta, clang_format_clean) {
    NEED_TOOL("clang-format");
    NEED_TOOL("git");
    char *out = NULL;
    int rc = th_sh(&out,
                   "cd '%s' && git ls-files -z '*.c' '*.h' | "
                   "xargs -0 -r clang-format --dry-run --Werror",
                   th_root());
    CHECK_MSG(rc == 0, "clang-format differences (run `make format`):\n%s", out);
    free(out);
}

/* gcc builds everything as part of `make test`; clang must agree. */
TEST_TIMEOUT(meta, clang_build_werror, 900) {
    NEED_TOOL("clang");
    char *out = NULL;
    int rc = th_sh(&out, "cd '%s' && make -s --no-print-directory CC=clang BUILD='%s/clang' all",
                   th_root(), th_tmpdir());
    CHECK_MSG(rc == 0, "clang -Werror build failed:\n%s", out);
    free(out);
}

TEST(meta, no_build_outputs_tracked) {
    NEED_TOOL("git");
    char *out = NULL;
    th_sh(&out,
          "cd '%s' && git ls-files | grep -E '(^build/|\\.(o|a|so|d|pb\\.gz)$|^mapprof$)' || true",
          th_root());
    CHECK_MSG(out[0] == 0, "build outputs tracked by git:\n%s", out);
    free(out);
}

/* scripts/deps.sh on a machine where only the base toolchain is installed
 * (a fake dpkg-query) and as a user (a fake id): the map module asks for
 * nothing more, the shim for what its tests run, everything for all. */
TEST(meta, deps_per_module) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s/meta.deps.%d", th_tmpdir(), (int)getpid());
    CHECK_EQ_I(th_sh(NULL,
                     "rm -rf '%s' && mkdir -p '%s' && cd '%s' && "
                     "printf '#!/bin/sh\\ncase \"$3\" in gcc|make|pkg-config|libc6-dev) "
                     "echo \"install ok installed\";; esac\\n' >dpkg-query && "
                     "printf '#!/bin/sh\\necho 1000\\n' >id && chmod +x dpkg-query id",
                     dir, dir, dir),
               0);
    char *out = NULL;
    int rc = th_sh(&out, "PATH='%s':$PATH '%s/scripts/deps.sh' map", dir, th_root());
    CHECK_MSG(rc == 0 && out[0] == 0, "map asked for more than the toolchain (rc %d):\n%s", rc,
              out);
    free(out);
    rc = th_sh(&out, "PATH='%s':$PATH '%s/scripts/deps.sh' shim", dir, th_root());
    CHECK_EQ_I(rc, 1);
    CHECK_CONTAINS(out, "apt-get update && apt-get install -y --no-install-recommends");
    CHECK_CONTAINS(out, " libunwind-dev");
    CHECK_CONTAINS(out, " strace");
    CHECK_MSG(!strstr(out, "clang-format"), "shim asked for clang-format:\n%s", out);
    free(out);
    rc = th_sh(&out, "PATH='%s':$PATH '%s/scripts/deps.sh'", dir, th_root());
    CHECK_EQ_I(rc, 1);
    CHECK_CONTAINS(out, " clang-format");
    CHECK_CONTAINS(out, " golang-github-google-pprof-dev");
    free(out);
    th_sh(NULL, "rm -rf '%s'", dir);
}
