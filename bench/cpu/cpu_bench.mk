# bench/cpu: what the cpu profile costs, beside gperftools (figures, not a
# test).
#
#   make bench-cpu      CPU time of bench-shim's workloads: plain, mapprof
#                       cpu at 100 and 1000 Hz, gperftools' CPUPROFILE at
#                       the same rates (median of BENCH_CPU_RUNS rounds)
BENCH_CPU      := $(B)/bench/cpu_bench
BENCH_CPU_RUNS ?= 9
BENCH_CPU_DIR  ?= $(B)/bench/cpu-out

.PHONY: bench-cpu
bench-cpu: $(BENCH_CPU) $(BENCH_SHIM_WORK) $(SHIM_SO)
	@rm -rf $(BENCH_CPU_DIR) && mkdir -p $(BENCH_CPU_DIR)
	$(BENCH_CPU) $(B) $(BENCH_CPU_DIR) $(BENCH_CPU_RUNS)

$(B)/obj/bench/cpu/cpu_bench.o: | $(PPROF_GEN_H)

$(BENCH_CPU): $(B)/obj/bench/cpu/cpu_bench.o $(PPROF_LIB) $(B)/libgomap.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(PPROF_LIB) $(B)/libgomap.a $(PPROF_LDLIBS)
