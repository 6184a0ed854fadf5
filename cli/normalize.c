/*
 * normalize.c — the report's frame names, made comparable across builds
 * and call paths before stacks are aggregated and clustered.
 *
 * The rules, applied to each frame of a stack from the leaf up:
 *
 *   rule       | what                                            | example
 *   -----------+-------------------------------------------------+-------------------------------
 *   suffixes   | strip gcc's clone and split-function suffixes:  | parse.cold -> parse
 *              | .cold, .isra.N, .part.N, .constprop.N, .lto_priv.N, | hash.isra.0.constprop.1 ->
 * hash | .localalias, .plt, repeated in any order        |
 *   --ignore   | drop frames whose normalized name matches the   | --ignore
 * '^(__libc_start|_start)' | regex (POSIX extended, unanchored)              | collapse   |
 * consecutive equal frames become one (recursion  | f;f;f;g -> f;g | that differs only in depth
 * clusters together)   | depth      | keep the leaf-most --depth frames (default 8)   | 12 frames
 * -> the 8 nearest the leaf
 *
 * Invariants: normalizing is idempotent (a normalized name has no suffix
 * left) and never produces an empty name (a name that is all suffix stays
 * as it was). Non-goals: C++ template or argument simplification (pprof's
 * names are demangled already; the report keeps them whole).
 */
#include "cli/cli.h"

#include <ctype.h>
#include <string.h>

/* Length of name without one trailing clone suffix, or 0 when it has none. */
static size_t strip_one(const char *name, size_t len) {
    static const char *const numbered[] = {".isra.", ".part.", ".constprop.", ".lto_priv."};
    static const char *const plain[] = {".cold", ".localalias", ".plt"};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        size_t n = strlen(plain[i]);
        if (len > n && !memcmp(name + len - n, plain[i], n))
            return len - n;
    }
    /* .tag.N: digits at the end, then one of the tags. */
    size_t d = len;
    while (d > 0 && isdigit((unsigned char)name[d - 1]))
        d--;
    if (d == len)
        return 0;
    for (size_t i = 0; i < sizeof numbered / sizeof *numbered; i++) {
        size_t n = strlen(numbered[i]);
        if (d > n && !memcmp(name + d - n, numbered[i], n))
            return d - n;
    }
    return 0;
}

size_t cli_normalize_name(const char *name, char *out, size_t cap) {
    size_t len = strlen(name), cut;
    while ((cut = strip_one(name, len)) > 0)
        len = cut;
    if (cap == 0)
        return len;
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(out, name, n);
    out[n] = '\0';
    return len;
}
