# pprof/: libmapprof_pprof.a — build, symbolize, write and read pprof profiles.
#
# profile.proto is compiled by protoc-c into $(B)/gen/pprof/ (on the include
# path). The generated .pb-c.c compiles cleanly with the project flags, so it
# uses them unchanged; it only needs its own rule because it lives under
# $(B)/gen rather than in the source tree.
PPROF_PROTO    := pprof/profile.proto
PPROF_GEN_C    := $(B)/gen/pprof/profile.pb-c.c
PPROF_GEN_H    := $(B)/gen/pprof/profile.pb-c.h
PPROF_SRCS     := $(sort $(wildcard pprof/*.c))
PPROF_OBJS     := $(patsubst %.c,$(B)/obj/%.o,$(PPROF_SRCS)) $(B)/obj/gen/pprof/profile.pb-c.o
PPROF_LIB      := $(B)/libmapprof_pprof.a
PPROF_LDLIBS   := -lprotobuf-c -lz -ldw -lelf -ldl -lm

$(PPROF_GEN_C) $(PPROF_GEN_H) &: $(PPROF_PROTO)
	@mkdir -p $(B)/gen
	protoc-c --proto_path=. --c_out=$(B)/gen $(PPROF_PROTO)

$(B)/obj/gen/pprof/profile.pb-c.o: $(PPROF_GEN_C) $(PPROF_GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# Every object that may include pprof/pprof.h needs the generated header
# first (other modules' fragments add the same order-only prerequisite).
$(patsubst %.c,$(B)/obj/%.o,$(PPROF_SRCS) $(wildcard tests/pprof/*.c)): | $(PPROF_GEN_H)

$(PPROF_LIB): $(PPROF_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

ALL_TARGETS      += $(PPROF_LIB)
TEST_LIBS_pprof  := $(PPROF_LIB) $(B)/libgomap.a $(PPROF_LDLIBS)
TEST_DEPS_pprof  := $(B)/mapprof

# Go helpers for the tests (GOPATH mode, env exported by the top Makefile):
# pprofcheck (google/pprof's Parse + CheckValid) and goprof (profiles
# written by Go's runtime/pprof). Built only when go is installed; the tests
# that need them use NEED_TOOL("go"), which fails under CI=true.
$(B)/pprofcheck: tests/pprof/go/pprofcheck/pprofcheck.go
	@mkdir -p $(dir $@)
	go build -o $@ ./tests/pprof/go/pprofcheck

$(B)/goprof: tests/pprof/go/goprof/goprof.go
	@mkdir -p $(dir $@)
	go build -o $@ ./tests/pprof/go/goprof

ifneq ($(shell command -v go 2>/dev/null),)
TEST_DEPS_pprof += $(B)/pprofcheck $(B)/goprof
endif

# The reader's fuzzer runs for 20 s in the tests (NEED_TOOL("clang")).
ifneq ($(shell command -v clang 2>/dev/null),)
TEST_DEPS_pprof += $(B)/fuzz/read_fuzz
endif
