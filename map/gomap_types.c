/*
 * gomap_types.c — the ready-made map types. U64 and STR kinds always use
 * the library's own hash and equality (the fast paths inline them), and the
 * types say so by pointing at those functions.
 */
#include "map/gomap_internal.h"

const gomap_type gomap_type_u64_u64 = {
    .name = "map[uint64]uint64",
    .key_size = 8,
    .elem_size = 8,
    .key_align = 8,
    .elem_align = 8,
    .kind = GOMAP_KEY_U64,
    .hash = gomap__hash_u64_key,
    .equal = gomap__equal_u64_key,
};

const gomap_type gomap_type_str_u64 = {
    .name = "map[string]uint64",
    .key_size = sizeof(gomap_str),
    .elem_size = 8,
    .key_align = 8,
    .elem_align = 8,
    .kind = GOMAP_KEY_STR,
    .hash = gomap__hash_str_key,
    .equal = gomap__equal_str_key,
};
