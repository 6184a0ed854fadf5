# bench/shim: what libmapprof.so costs its host (figures, not a test).
#
#   make bench-shim        plain vs bare interposer vs shim: CPU time of a
#                          2-thread malloc-heavy workload (median of
#                          BENCH_SHIM_RUNS alternating runs), callgrind
#                          instruction counts, uncontended mutex ns,
#                          per-sample cost at depth 32, added peak RSS
BENCH_SHIM_WORK  := $(B)/bench/shim_work
BENCH_SHIM_BARE  := $(B)/bench/shim_bare.so
BENCH_SHIM       := $(B)/bench/shim_bench
BENCH_SHIM_RUNS  ?= 11
BENCH_SHIM_ITERS ?= 5000000
BENCH_SHIM_DIR   ?= $(B)/bench/shim-out

.PHONY: bench-shim
bench-shim: $(BENCH_SHIM) $(BENCH_SHIM_WORK) $(BENCH_SHIM_BARE) $(SHIM_SO)
	@rm -rf $(BENCH_SHIM_DIR) && mkdir -p $(BENCH_SHIM_DIR)
	$(BENCH_SHIM) $(B) $(BENCH_SHIM_DIR) $(BENCH_SHIM_RUNS) $(BENCH_SHIM_ITERS)

$(BENCH_SHIM): $(B)/obj/bench/shim/shim_bench.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $<

# The workload: frame pointers, no inlining, so "depth 32" is 32 frames.
$(BENCH_SHIM_WORK): bench/shim/work.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -fno-omit-frame-pointer -fno-inline \
	    -Wall -Wextra -Werror -o $@ $< -lpthread

$(BENCH_SHIM_BARE): $(B)/obj/bench/shim/bare.o
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC $(LDFLAGS) -o $@ $< -ldl
