# tests/cli/: the `mapprof` command end to end.
#
# Fixtures: runfix (the program `mapprof run` runs) built dynamically and
# with -static (the refusal test), and libnoop.so (something to preload
# ahead of libmapprof.so). They are built without the sanitizers, like
# every program the shim is preloaded into. The tests build their input
# profiles with pprof/'s builder and validate merges with pprofcheck and
# `go tool pprof` when go is installed (NEED_TOOL("go")).
CLI_FIX := $(B)/tests/cli
CLI_FIX_CFLAGS = -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Werror

$(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/cli/*.c)): | $(PPROF_GEN_H)

$(CLI_FIX)/runfix: tests/cli/fixtures/runfix.c
	@mkdir -p $(dir $@)
	$(CC) $(CLI_FIX_CFLAGS) -o $@ $<

$(CLI_FIX)/runfix_static: tests/cli/fixtures/runfix.c
	@mkdir -p $(dir $@)
	$(CC) $(CLI_FIX_CFLAGS) -static -o $@ $<

$(CLI_FIX)/libnoop.so: tests/cli/fixtures/libnoop.c
	@mkdir -p $(dir $@)
	$(CC) $(CLI_FIX_CFLAGS) -shared -fPIC -o $@ $<

# The report's helpers are unit-tested directly (not main.c: the runner has its own).
TEST_LIBS_cli := $(patsubst %,$(B)/obj/cli/%.o,normalize cluster names) $(PPROF_LIB) \
                 $(B)/libgomap.a $(PPROF_LDLIBS)
TEST_DEPS_cli := $(B)/mapprof $(CLI_FIX)/runfix $(CLI_FIX)/runfix_static $(CLI_FIX)/libnoop.so
ifneq ($(SAN),1)
TEST_DEPS_cli += $(SHIM_SO)
# The timeline tests run a real example and a shim fixture under --trace.
TEST_DEPS_cli += $(B)/examples/rwlock_map $(B)/tests/shim/tracegrow
endif
ifneq ($(shell command -v go 2>/dev/null),)
TEST_DEPS_cli += $(B)/pprofcheck
endif
