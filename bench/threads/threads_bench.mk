# bench/threads: how long a threads capture takes (figures, not a test).
#
#   make bench-threads   capture time for 10, 100 and 1000 threads (two
#                        running, the others on a mutex or in read()), median of
#                        BENCH_THREADS_RUNS runs, as the shim measures it
BENCH_THREADS      := $(B)/bench/threads_bench
BENCH_THREADS_WORK := $(B)/bench/threads_work
BENCH_THREADS_RUNS ?= 11
BENCH_THREADS_DIR  ?= $(B)/bench/threads-out

.PHONY: bench-threads
bench-threads: $(BENCH_THREADS) $(BENCH_THREADS_WORK) $(SHIM_SO)
	@rm -rf $(BENCH_THREADS_DIR) && mkdir -p $(BENCH_THREADS_DIR)
	$(BENCH_THREADS) $(B) $(BENCH_THREADS_DIR) $(BENCH_THREADS_RUNS)

$(B)/obj/bench/threads/threads_bench.o: | $(PPROF_GEN_H)

$(BENCH_THREADS): $(B)/obj/bench/threads/threads_bench.o $(PPROF_LIB) $(B)/libgomap.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(PPROF_LIB) $(B)/libgomap.a $(PPROF_LDLIBS)

$(BENCH_THREADS_WORK): bench/threads/threads_work.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -o $@ $< -lpthread
