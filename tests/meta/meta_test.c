/*
 * meta_test.c — checks on the tree itself: formatting, a clean clang build,
 * no build outputs tracked by git. They keep the rules in the developers'
 * guide from depending on anyone's memory.
 */
#include "tests/harness/test.h"

#include <stdlib.h>

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
