# Test runner: the tests of every module (tests/<module>/*_test.c) linked
# into one program that forks each test on its own.
#
# A module fragment declares what its tests link with and what must be
# built before they run:
#   TEST_LIBS_<module>  libraries and -l flags
#   TEST_DEPS_<module>  programs, fixtures and profiles the tests use
# TEST_MODULES (default: every folder with tests) narrows the build.
TEST_MODULES ?= $(patsubst tests/%/,%,$(sort $(dir $(wildcard tests/*/*_test.c))))
HARNESS_SRCS := tests/harness/runner.c tests/harness/harness.c
TEST_SRCS    += $(foreach m,$(TEST_MODULES),$(wildcard tests/$(m)/*_test.c))
TEST_OBJS     = $(patsubst %.c,$(B)/obj/%.o,$(HARNESS_SRCS) $(sort $(TEST_SRCS)))
TEST_LIBS_ALL = $(foreach m,$(TEST_MODULES),$(TEST_LIBS_$(m)))
TEST_DEPS_ALL = $(foreach m,$(TEST_MODULES),$(TEST_DEPS_$(m)))
TEST_LIB_FILES = $(filter $(B)/%,$(TEST_LIBS_ALL))

# The runner links the chosen modules' tests: a different TEST_MODULES must
# relink it even when every object is up to date.
$(B)/tests/modules.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(TEST_MODULES)' | cmp -s - $@ || echo '$(TEST_MODULES)' > $@

.PHONY: FORCE
FORCE:

$(B)/tests/runner: $(TEST_OBJS) $(TEST_LIB_FILES) $(B)/tests/modules.stamp
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJS) $(TEST_LIBS_ALL) -lpthread -lm -ldl

# Tests that read profiles include pprof/'s generated header, so it is
# built first; map's, meta's and fuzzmap's do not, and TEST_MODULES=map
# needs no protoc-c.
$(patsubst %.c,$(B)/obj/%.o,$(filter-out tests/map/% tests/meta/% tests/fuzzmap/%,$(TEST_SRCS))): \
    | $(PPROF_GEN_H)
