# bench/pprof: the cost of one profile dump (not a timed test).
#
#   make bench-pprof                  10,000 distinct stacks of depth 32,
#                                     warm symbolizer cache, gzip, atomic
#                                     write; prints min/median/max over
#                                     BENCH_PPROF_REPS runs (target <= 50 ms)
BENCH_PPROF      := $(B)/bench/pprof_bench
BENCH_PPROF_REPS ?= 7
BENCH_PPROF_DIR  ?= $(B)/bench

.PHONY: bench-pprof
bench-pprof: $(BENCH_PPROF)
	@mkdir -p $(BENCH_PPROF_DIR)
	$(BENCH_PPROF) $(BENCH_PPROF_DIR) $(BENCH_PPROF_REPS)

$(BENCH_PPROF): $(B)/obj/bench/pprof/pprof_bench.o $(B)/libmapprof_pprof.a $(B)/libgomap.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(B)/libmapprof_pprof.a $(B)/libgomap.a \
	    -lprotobuf-c -lz -ldw -lelf -ldl -lm

$(B)/obj/bench/pprof/pprof_bench.o: | $(B)/gen/pprof/profile.pb-c.h
