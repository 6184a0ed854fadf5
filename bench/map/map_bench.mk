# bench/map: libgomap against Go 1.19's own map, side by side.
#
#   make bench-map                     build both programs, run every workload
#   make bench-map BENCH_REPS=9        repetitions per process (best is kept; default 5)
#   make bench-map BENCH_ROUNDS=3      run each C/Go pair 3 times, alternating order
#   make bench-map BENCH_CPU=1         pin both programs to CPU 1 (default: the last CPU)
#   make bench-map BENCH_CPU=none      do not pin
#   make bench-map BENCH_CLOCK=cpu     compare process CPU time instead of wall time
#   make bench-map BENCH_ONLY='lookup_u64_hit iterate_u64'
#   make bench-map BENCH_LOG2N=16      fewer keys (quick check; the spec figure is 20)
#   make bench-map-hooks               C alone, without and with no-op counting hooks
#   bench/map/compare.sh --raw $(B)/bench/map_bench.raw   re-summarise the last run (BENCH_CLOCK=cpu ...)
#
# It fails when a program fails or the two checksums of a workload differ;
# ratios above the 0.8 target are reported, not failed.
BENCH_MAP_C  := $(B)/bench/map_bench_c
BENCH_MAP_GO := $(B)/bench/map_bench_go
BENCH_REPS   ?= 5
BENCH_ROUNDS ?= 1
BENCH_LOG2N  ?= 20
BENCH_CPU    ?=
BENCH_ONLY   ?=
BENCH_CLOCK  ?= wall

# Compile (not link) the C side with `all`, so gcc and clang -Werror see it
# without `make all` depending on a complete libgomap.
ALL_TARGETS += $(B)/obj/bench/map/map_bench.o

$(BENCH_MAP_C): $(B)/obj/bench/map/map_bench.o $(B)/libgomap.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -ldl -lpthread

$(BENCH_MAP_GO): bench/map/go/map_bench.go
	@mkdir -p $(dir $@)
	go build -o $@ bench/map/go/map_bench.go

bench-map: $(BENCH_MAP_C) $(BENCH_MAP_GO)
	@BENCH_REPS='$(BENCH_REPS)' BENCH_ROUNDS='$(BENCH_ROUNDS)' BENCH_LOG2N='$(BENCH_LOG2N)' \
	  BENCH_CPU='$(BENCH_CPU)' BENCH_ONLY='$(BENCH_ONLY)' BENCH_CLOCK='$(BENCH_CLOCK)' BENCH_RAW='$(B)/bench/map_bench.raw' \
	  sh bench/map/compare.sh $(BENCH_MAP_C) $(BENCH_MAP_GO)

# The C side alone, without and with (no-op, counting) profiler hooks.
.PHONY: bench-map-hooks
bench-map-hooks: $(BENCH_MAP_C)
	@BENCH_REPS='$(BENCH_REPS)' BENCH_ROUNDS='$(BENCH_ROUNDS)' BENCH_LOG2N='$(BENCH_LOG2N)' \
	  BENCH_CPU='$(BENCH_CPU)' BENCH_ONLY='$(BENCH_ONLY)' BENCH_CLOCK='$(BENCH_CLOCK)' BENCH_RAW='$(B)/bench/map_bench_hooks.raw' \
	  sh bench/map/compare.sh --hooks $(BENCH_MAP_C)
