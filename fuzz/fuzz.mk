# fuzz/: libFuzzer targets (clang, -fsanitize=fuzzer,address).
#   make fuzz                 run each fuzzer for FUZZ_TIME seconds, one after the other
#   $(B)/fuzz/read_fuzz       the profile reader (the pprof tests run it for 20 s)
#   $(B)/fuzz/map_fuzz        libgomap against a reference model (tests/fuzzmap, 15 s)
# The reader's sources and the generated protobuf code are compiled again
# with the fuzzer's instrumentation into $(B)/fuzz/obj; the corpus starts
# from seeds written by the tests (or an empty directory) in $(B)/fuzz/corpus.
# map_fuzz's seeds are written by the same source built as a plain program
# (-DMAP_FUZZ_SEED_MAIN) into $(B)/fuzz/map_seeds; new inputs libFuzzer finds
# go to $(B)/fuzz/map_corpus. No corpus file is kept in the repository.
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 300
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=undefined -I$(ROOT) -I$(B)/gen
FUZZ_SRCS  := fuzz/read_fuzz.c pprof/alloc.c pprof/gzip.c pprof/profile.c pprof/read.c \
              $(B)/gen/pprof/profile.pb-c.c
FUZZ_GOMAP := $(filter-out %_check.c,$(sort $(wildcard map/*.c)))
# The map fuzzer checks invariants after every step: gomap_check.c included.
FUZZ_MAP_SRCS := fuzz/map_fuzz.c $(sort $(wildcard map/*.c))
FUZZ_MAP_SEEDS := $(B)/fuzz/map_seeds/.stamp

# Without clang the fuzz test skips (NEED_TOOL), or fails under CI=true:
# the build must not stop first.
ifneq ($(shell command -v $(FUZZ_CC) 2>/dev/null),)
TEST_DEPS_fuzzmap += $(B)/fuzz/map_fuzz $(FUZZ_MAP_SEEDS)
endif

.PHONY: fuzz
fuzz: $(B)/fuzz/read_fuzz $(B)/fuzz/map_fuzz $(FUZZ_MAP_SEEDS)
	@mkdir -p $(B)/fuzz/corpus $(B)/fuzz/map_corpus
	$(B)/fuzz/read_fuzz -max_total_time=$(FUZZ_TIME) -max_len=65536 \
	    -artifact_prefix=$(B)/fuzz/ $(B)/fuzz/corpus
	$(B)/fuzz/map_fuzz -max_total_time=$(FUZZ_TIME) -max_len=4096 -print_final_stats=1 \
	    -artifact_prefix=$(B)/fuzz/map- $(B)/fuzz/map_corpus $(dir $(FUZZ_MAP_SEEDS))

# alloc.c references libgomap (its map adapters), so the map is linked too.
$(B)/fuzz/read_fuzz: $(FUZZ_SRCS) $(FUZZ_GOMAP) $(wildcard pprof/*.h map/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_SRCS) $(FUZZ_GOMAP) -lprotobuf-c -lz -ldl

$(B)/fuzz/map_fuzz: $(FUZZ_MAP_SRCS) $(wildcard map/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(WARN) -o $@ $(FUZZ_MAP_SRCS) -lm -ldl

$(B)/fuzz/map_fuzz_seeds: $(FUZZ_MAP_SRCS) $(wildcard map/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out -fsanitize=fuzzer%,$(FUZZ_FLAGS)) -fsanitize=address,undefined \
	    $(WARN) -DMAP_FUZZ_SEED_MAIN -o $@ $(FUZZ_MAP_SRCS) -lm -ldl

$(FUZZ_MAP_SEEDS): $(B)/fuzz/map_fuzz_seeds
	@rm -rf $(dir $@) && mkdir -p $(dir $@)
	$(B)/fuzz/map_fuzz_seeds $(dir $@)
	@touch $@
