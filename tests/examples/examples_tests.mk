# tests/examples/: run every example under libmapprof.so and check its
# profiles (pprof/ reader) and its output. Needs the examples, the shim and,
# for the outside checks, `go tool pprof`. Under SAN=1 there is no shim: the
# tests that need it skip, the others run the sanitized examples.
TEST_LIBS_examples += $(PPROF_LIB) $(B)/libgomap.a $(PPROF_LDLIBS)
TEST_DEPS_examples += $(EXAMPLE_BINS)
ifneq ($(SAN),1)
TEST_DEPS_examples += $(SHIM_SO)
endif

# The tests read profiles with pprof/, whose header includes generated code.
$(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/examples/*_test.c)): | $(PPROF_GEN_H)
