# shim/: the preloaded profiler. Its pieces are collected into a static
# archive first, which the tests link; libmapprof.so is built from the same
# objects once the interposers exist.
SHIM_SRCS := $(sort $(wildcard shim/*.c))
SHIM_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(SHIM_SRCS))

TEST_LIBS_shim += $(B)/libshim_core.a -lm

$(B)/libshim_core.a: $(SHIM_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
