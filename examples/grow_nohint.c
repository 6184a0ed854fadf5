/*
 * grow_nohint — N distinct uint64 keys (default 1,000,000) inserted into a
 * map made without a size hint: the map starts with one bucket and doubles
 * about log2(N/6.5) times, each grow allocating a new bucket array while
 * the old one is still alive. Under mapprof the grow profile shows every
 * grow and the call path (load_users) that caused it. Compare grow_hint.
 */
#include "examples/grow_common.h"

int main(int argc, char **argv) {
    return example_grow_main(argc, argv, 0);
}
