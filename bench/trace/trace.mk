# bench/trace: the cost of the timeline (MAPPROF_TRACE=1) on the examples
# that grow maps and wait on locks, against the shim without it.
#
#   make bench-trace   BENCH_TRACE_RUNS interleaved pairs (default 11): medians
#                      of wall and CPU time, ratio on/off; callgrind counts
BENCH_TRACE_RUNS ?= 11

.PHONY: bench-trace
bench-trace: $(B)/libmapprof.so $(B)/examples/overflow_churn $(B)/examples/grow_nohint \
             $(B)/examples/rwlock_map
	bench/trace/trace_bench.sh $(B) $(BENCH_TRACE_RUNS)
