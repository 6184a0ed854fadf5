# cli/: the `mapprof` command (one file per verb, main.c dispatches).
# (Included before pprof/pprof.mk, so prerequisites name files literally.)
CLI_SRCS := $(sort $(wildcard cli/*.c))
CLI_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(CLI_SRCS))

$(CLI_OBJS): | $(B)/gen/pprof/profile.pb-c.h

# `run` validates its flags with the shim's own parser (libshim_core.a:
# shim/config.c), so the command and the library accept the same values.
$(B)/mapprof: $(CLI_OBJS) $(B)/libmapprof_pprof.a $(B)/libgomap.a $(B)/libshim_core.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(B)/libshim_core.a $(B)/libmapprof_pprof.a \
	    $(B)/libgomap.a $(PPROF_LDLIBS) -ljson-c

ALL_TARGETS += $(B)/mapprof
