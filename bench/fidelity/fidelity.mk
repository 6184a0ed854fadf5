# bench/fidelity: the host's own madvise/munmap/brk calls and peak RSS,
# plain and under the shim (figures, not a test).
#
#   make bench-fidelity   BENCH_FID_RUNS runs per peak RSS median
BENCH_FID_RUNS ?= 5

.PHONY: bench-fidelity
bench-fidelity: $(B)/libmapprof.so $(B)/tests/shim/churn $(B)/bench/shim_work
	bench/fidelity/fidelity.sh $(B) $(BENCH_FID_RUNS)
