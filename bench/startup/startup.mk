# bench/startup: what a process that does almost nothing pays for the shim
# (figures, not a test).
#
#   make bench-startup   /bin/true and a 1,000-process shell loop: plain,
#                        bare interposer, shim writing every profile and
#                        shim skipping empty ones (MAPPROF_EMPTY)
BENCH_START_RUNS      ?= 41
BENCH_START_LOOP_RUNS ?= 3
BENCH_START_DIR       ?= $(B)/bench/startup-out

.PHONY: bench-startup
bench-startup: $(B)/bench/startup $(B)/bench/shim_bare.so $(B)/libmapprof.so
	@rm -rf $(BENCH_START_DIR) && mkdir -p $(BENCH_START_DIR)
	$(B)/bench/startup $(B) $(BENCH_START_DIR) $(BENCH_START_RUNS) $(BENCH_START_LOOP_RUNS)

$(B)/bench/startup: $(B)/obj/bench/startup/startup.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $<
