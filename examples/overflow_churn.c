/*
 * overflow_churn — a map that never gets bigger still grows: churn at a
 * constant size piles up overflow buckets until Go's map answers with a
 * same-size grow (golang/go#16070, fixed in Go 1.8).
 *
 * A session table keeps LIVE sessions (default 6,000). Session ids come
 * from a counter (1, 2, 3, ...: low-entropy keys), and sessions end in the
 * order they started: every step closes the oldest session and opens a new
 * one, so the entry count never changes. An insert that finds its bucket
 * full chains an overflow bucket; a delete empties slots but never frees
 * a bucket; the keys of later sessions hash elsewhere, so emptied chains
 * stay behind. Once the map holds 2^min(B,15) overflow buckets, the next
 * insert starts a same-size grow that copies the live entries into a
 * fresh array of the same size and drops the chains.
 *
 * The grow profile shows both kinds at their call sites: kind=double at
 * open_initial_sessions (the table filling up), kind=same_size at
 * open_session (the churn). The key pattern does not matter: libgomap's
 * seeded hash spreads sequential ids like random ones; the churn does it.
 */
#include "examples/example.h"
#include "map/gomap.h"

#include <inttypes.h>

#define CHURN_STEPS 1000000 /* sessions opened and closed after the fill */

typedef struct session {
    uint64_t started_at; /* the step that opened it */
} session;

static const gomap_type session_table_type = {
    .name = "map[session_id]session",
    .key_size = sizeof(uint64_t),
    .elem_size = sizeof(session),
    .kind = GOMAP_KEY_U64,
};

/* Opens session `id`; -ENOMEM when the map cannot take it. */
__attribute__((noinline)) static int open_session(gomap *table, uint64_t id, uint64_t step) {
    void *elem;
    int rc = gomap_assign_u64(table, id, &elem);
    if (rc < 0)
        return rc;
    ((session *)elem)->started_at = step;
    return 0;
}

__attribute__((noinline)) static int open_initial_sessions(gomap *table, size_t live) {
    for (uint64_t id = 1; id <= live; id++)
        if (open_session(table, id, 0) < 0)
            return -1;
    return 0;
}

__attribute__((noinline)) static void close_session(gomap *table, uint64_t id) {
    gomap_delete_u64(table, id);
}

int main(int argc, char **argv) {
    const char *name = example_name(argv);
    size_t live = example_count_arg(argc, argv, 6000, 1000000, "sessions alive at once");
    gomap *table = NULL;
    if (gomap_new(&session_table_type, 0, NULL, &table) < 0 ||
        open_initial_sessions(table, live) < 0) {
        fprintf(stderr, "%s: out of memory\n", name);
        return 1;
    }
    gomap_stats st;
    gomap_get_stats(table, &st);
    printf("%s: %zu sessions open: B=%u, %zu overflow buckets, %" PRIu64 " grows\n", name, st.count,
           st.B, st.overflow, st.grows);

    size_t peak_overflow = st.overflow;
    uint64_t next_id = live + 1;
    for (uint64_t step = 1; step <= CHURN_STEPS; step++, next_id++) {
        close_session(table, next_id - live); /* the oldest */
        if (open_session(table, next_id, step) < 0) {
            fprintf(stderr, "%s: out of memory at step %" PRIu64 "\n", name, step);
            return 1;
        }
        gomap_get_stats(table, &st); /* O(1): a few header fields */
        if (st.overflow > peak_overflow)
            peak_overflow = st.overflow;
    }
    printf("%s: %d steps later: %zu sessions, B=%u, %zu overflow buckets (peak %zu), "
           "%" PRIu64 " same-size grows, %.1f KiB held\n",
           name, CHURN_STEPS, st.count, st.B, st.overflow, peak_overflow, st.same_size_grows,
           (double)st.bytes / 1024.0);
    gomap_free(table);
    return 0;
}
