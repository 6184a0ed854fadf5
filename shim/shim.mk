# shim/: the preloaded profiler, libmapprof.so.
#
# The pure pieces (config, sampler, private memory, table) also go into
# libshim_core.a, which the unit tests link; the interposers must never be
# linked into the test runner (they would replace its malloc), so the
# archive excludes them.
# libmapprof.so links pprof/ and map/ statically; exports.map keeps every
# symbol local except the interposed functions, mapprof_gomap_hooks and the
# public API of shim/mapprof.h.
SHIM_SRCS      := $(sort $(wildcard shim/*.c))
SHIM_OBJS      := $(patsubst %.c,$(B)/obj/%.o,$(SHIM_SRCS))
SHIM_CORE_OBJS := $(patsubst %.c,$(B)/obj/%.o,shim/config.c shim/sample.c shim/mem.c shim/table.c \
                    shim/heapfilter.c \
                    shim/util.c)
SHIM_SO        := $(B)/libmapprof.so
SHIM_LDLIBS    := -lunwind -lprotobuf-c -lz -ldw -lelf -ldl -lpthread

# Objects that include pprof headers need the generated protobuf header.
$(SHIM_OBJS): | $(PPROF_GEN_H)

$(B)/libshim_core.a: $(SHIM_CORE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SHIM_SO): $(SHIM_OBJS) $(PPROF_LIB) $(B)/libgomap.a shim/exports.map
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -Wl,-soname,libmapprof.so -Wl,--version-script=shim/exports.map \
	    -Wl,-z,now -Wl,--no-undefined -o $@ $(SHIM_OBJS) $(PPROF_LIB) $(B)/libgomap.a \
	    $(LDFLAGS) $(SHIM_LDLIBS)

# Under SAN=1 the shim is not built: an instrumented preload library cannot
# run (ASan must come first and owns malloc); its end-to-end tests skip.
ifneq ($(SAN),1)
ALL_TARGETS += $(SHIM_SO)
endif

# Fixture programs for the end-to-end tests (tests/shim/fixtures/*.c).
# Built with frame pointers and debug info so stacks and lines are exact;
# gomap fixtures come twice: libgomap linked statically and dynamically.
SHIM_FIX_DIR  := $(B)/tests/shim
SHIM_FIX_SRCS := $(filter-out tests/shim/fixtures/lib%,$(sort $(wildcard tests/shim/fixtures/*.c)))
SHIM_FIX_LIBS := $(patsubst tests/shim/fixtures/%.c,$(SHIM_FIX_DIR)/%.so,\
                   $(wildcard tests/shim/fixtures/lib*.c))
SHIM_FIX_BINS := $(patsubst tests/shim/fixtures/%.c,$(SHIM_FIX_DIR)/%,$(SHIM_FIX_SRCS))
SHIM_FIX_CFLAGS = -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -fno-inline \
                  -Wall -Wextra -Werror -I$(ROOT)

$(SHIM_FIX_DIR)/%: tests/shim/fixtures/%.c $(B)/libgomap.a $(B)/libgomap.so
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_FIX_CFLAGS) -o $@ $< $(B)/libgomap.a -lpthread -lm
	$(CC) $(SHIM_FIX_CFLAGS) -o $@.dyn $< -L$(B) -Wl,-rpath,$(B) -lgomap -lpthread -lm

$(SHIM_FIX_DIR)/lib%.so: tests/shim/fixtures/lib%.c
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_FIX_CFLAGS) -shared -fPIC -o $@ $<

TEST_LIBS_shim += $(B)/libshim_core.a $(PPROF_LIB) $(B)/libgomap.a $(PPROF_LDLIBS)
ifneq ($(SAN),1)
TEST_DEPS_shim += $(SHIM_SO) $(SHIM_FIX_BINS) $(SHIM_FIX_LIBS) $(B)/pprofcheck
endif
