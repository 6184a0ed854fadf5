# fuzz/: libFuzzer targets (clang, -fsanitize=fuzzer,address).
#   make fuzz                 run the reader fuzzer for FUZZ_TIME seconds
#   $(B)/fuzz/read_fuzz       the binary (the pprof tests run it for 20 s)
# The reader's sources and the generated protobuf code are compiled again
# with the fuzzer's instrumentation into $(B)/fuzz/obj; the corpus starts
# from seeds written by the tests (or an empty directory) in $(B)/fuzz/corpus.
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 300
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=undefined -I$(ROOT) -I$(B)/gen
FUZZ_SRCS  := fuzz/read_fuzz.c pprof/alloc.c pprof/gzip.c pprof/profile.c pprof/read.c \
              $(B)/gen/pprof/profile.pb-c.c
FUZZ_GOMAP := $(filter-out %_check.c,$(sort $(wildcard map/*.c)))

.PHONY: fuzz
fuzz: $(B)/fuzz/read_fuzz
	@mkdir -p $(B)/fuzz/corpus
	$(B)/fuzz/read_fuzz -max_total_time=$(FUZZ_TIME) -max_len=65536 \
	    -artifact_prefix=$(B)/fuzz/ $(B)/fuzz/corpus

# alloc.c references libgomap (its map adapters), so the map is linked too.
$(B)/fuzz/read_fuzz: $(FUZZ_SRCS) $(FUZZ_GOMAP) $(wildcard pprof/*.h map/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_SRCS) $(FUZZ_GOMAP) -lprotobuf-c -lz -ldl
