# bench/overhead: mapprof next to heaptrack, gperftools' heap profiler and
# jemalloc's profiler on the same workloads (figures, not a test).
#
#   make bench-overhead   BENCH_OVH_RUNS (>= 5) alternating runs per cell;
#                         medians of wall, CPU and peak RSS, ratios to plain
#
# The peers are Debian packages; the runner skips a missing one and prints
# the apt-get line that installs it.
BENCH_OVH_DIR   := $(B)/bench/overhead
BENCH_OVH_RUNS  ?= 5
BENCH_OVH_SCALE ?= 1
BENCH_OVH_OUT   ?= $(B)/bench/overhead-out
BENCH_OVH_LIBDIR := /usr/lib/$(shell $(CC) -print-multiarch 2>/dev/null)
BENCH_OVH_TCMALLOC ?= $(BENCH_OVH_LIBDIR)/libtcmalloc.so.4
BENCH_OVH_JEMALLOC ?= $(BENCH_OVH_LIBDIR)/libjemalloc.so.2
BENCH_OVH_HEAPTRACK ?= $(or $(shell command -v heaptrack 2>/dev/null),/usr/bin/heaptrack)

.PHONY: bench-overhead
bench-overhead: $(BENCH_OVH_DIR)/overhead $(BENCH_OVH_DIR)/workload $(B)/libmapprof.so
	@rm -rf $(BENCH_OVH_OUT) && mkdir -p $(BENCH_OVH_OUT)
	$(BENCH_OVH_DIR)/overhead $(BENCH_OVH_DIR)/workload $(BENCH_OVH_OUT) $(BENCH_OVH_RUNS) \
	    $(BENCH_OVH_SCALE) $(B)/libmapprof.so $(BENCH_OVH_HEAPTRACK) $(BENCH_OVH_TCMALLOC) \
	    $(BENCH_OVH_JEMALLOC)

$(BENCH_OVH_DIR)/overhead: $(B)/obj/bench/overhead/overhead.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $<

# libgomap linked statically: the shim still finds it (dlsym of its hooks).
$(BENCH_OVH_DIR)/workload: $(B)/obj/bench/overhead/workload.o $(B)/libgomap.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(B)/libgomap.a -lpthread
