# bench/live: the live endpoint (MAPPROF_HTTP) — figures, not a test.
#
#   make bench-live   the cost of an idle endpoint on bench-shim's workloads
#                     (CPU time, shim alone vs shim + MAPPROF_HTTP=0, medians of
#                     BENCH_LIVE_RUNS alternating runs; callgrind instructions
#                     when valgrind is installed), and the time to serve each
#                     profile of a program with 10,000 distinct stacks
BENCH_LIVE        := $(B)/bench/live_bench
BENCH_LIVE_STACKS := $(B)/bench/live_stacks
BENCH_LIVE_RUNS   ?= 11
BENCH_LIVE_DIR    ?= $(B)/bench/live-out

.PHONY: bench-live
bench-live: $(BENCH_LIVE) $(BENCH_LIVE_STACKS) $(B)/bench/shim_work $(SHIM_SO)
	@rm -rf $(BENCH_LIVE_DIR) && mkdir -p $(BENCH_LIVE_DIR)
	$(BENCH_LIVE) $(B) $(BENCH_LIVE_DIR) $(BENCH_LIVE_RUNS)

$(BENCH_LIVE): $(B)/obj/bench/live/live_bench.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $<

$(BENCH_LIVE_STACKS): bench/live/stacks.c $(B)/libgomap.a
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -fno-inline \
	    -Wall -Wextra -Werror -I$(ROOT) -o $@ $< $(B)/libgomap.a -lpthread -lm
