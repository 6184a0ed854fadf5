# bench/report: what `mapprof report` costs (figures, not a test).
#
#   make bench-report   clustering 10,000 stacks (target <= 1 s) and the
#                       command on 10 profiles x 10,000 stacks (<= 2 s)
BENCH_REPORT      := $(B)/bench/report_bench
BENCH_REPORT_REPS ?= 5
BENCH_REPORT_DIR  ?= $(B)/bench/report-out

.PHONY: bench-report
bench-report: $(BENCH_REPORT) $(B)/mapprof
	@rm -rf $(BENCH_REPORT_DIR) && mkdir -p $(BENCH_REPORT_DIR)
	$(BENCH_REPORT) $(B)/mapprof $(BENCH_REPORT_DIR) $(BENCH_REPORT_REPS)

$(BENCH_REPORT): $(B)/obj/bench/report/report_bench.o $(B)/libmapprof_pprof.a $(B)/libgomap.a \
                 $(B)/obj/cli/cluster.o $(B)/obj/cli/names.o $(B)/obj/cli/normalize.o \
                 $(B)/obj/cli/profsel.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libmapprof_pprof.a $(B)/libgomap.a \
	    -lprotobuf-c -lz -ldw -lelf -ldl -lm

$(B)/obj/bench/report/report_bench.o: | $(B)/gen/pprof/profile.pb-c.h
