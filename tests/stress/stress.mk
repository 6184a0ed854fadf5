# tests/stress/: the shim under load — threads, thread churn during dumps,
# fork and fork+exec storms, dlopen/dlclose, every way of exiting.
#
# Fixtures (tests/stress/fixtures/*.c) are built like the shim's: frame
# pointers and debug info, no sanitizers (they run under the preloaded shim,
# which is not built under SAN=1, so neither are they). libstressplug.c is
# built twice with different function names (see stress_dl.c).
# The tests audit every profile with build/pprofcheck (needs Go).
STRESS_FIX      := $(B)/tests/stress
STRESS_FIX_SRCS := $(filter-out tests/stress/fixtures/lib%,$(sort $(wildcard tests/stress/fixtures/*.c)))
STRESS_FIX_BINS := $(patsubst tests/stress/fixtures/%.c,$(STRESS_FIX)/%,$(STRESS_FIX_SRCS))
STRESS_FIX_LIBS := $(STRESS_FIX)/libstressplug_a.so $(STRESS_FIX)/libstressplug_b.so
STRESS_CFLAGS    = -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -fno-inline \
                   -Wall -Wextra -Werror

$(STRESS_FIX)/%: tests/stress/fixtures/%.c
	@mkdir -p $(dir $@)
	$(CC) $(STRESS_CFLAGS) -o $@ $< -lpthread -ldl

$(STRESS_FIX)/libstressplug_%.so: tests/stress/fixtures/libstressplug.c
	@mkdir -p $(dir $@)
	$(CC) $(STRESS_CFLAGS) -shared -fPIC -DSTRESSPLUG_NAME=plug_$*_site -o $@ $<

$(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/stress/*_test.c)): | $(PPROF_GEN_H)

TEST_LIBS_stress += $(PPROF_LIB) $(B)/libgomap.a $(PPROF_LDLIBS)
ifneq ($(SAN),1)
TEST_DEPS_stress += $(B)/libmapprof.so $(STRESS_FIX_BINS) $(STRESS_FIX_LIBS)
ifneq ($(shell command -v go 2>/dev/null),)
TEST_DEPS_stress += $(B)/pprofcheck
endif
endif
