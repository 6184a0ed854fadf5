/*
 * grow_hint — the same N inserts as grow_nohint, into a map made with a
 * hint of N: Go's makemap rule sizes the bucket array once, so the map
 * never grows. The difference between the two grow profiles is the fix.
 */
#include "examples/grow_common.h"

int main(int argc, char **argv) {
    return example_grow_main(argc, argv, 1);
}
