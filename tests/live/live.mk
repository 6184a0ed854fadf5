# tests/live/: the live endpoint (MAPPROF_HTTP) end to end: real clients
# (curl, python3, go tool pprof) against preloaded fixture programs.
# Fixtures are built like the shim's (frame pointers, debug info, no
# sanitizers: they run under the preloaded shim, not built under SAN=1).
LIVE_FIX      := $(B)/tests/live
LIVE_FIX_BINS := $(LIVE_FIX)/liveprog $(LIVE_FIX)/evhost $(LIVE_FIX)/lockhold
LIVE_CFLAGS    = -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -fno-inline \
                 -Wall -Wextra -Werror -I$(ROOT)

$(LIVE_FIX)/liveprog: tests/live/fixtures/liveprog.c $(B)/libgomap.a
	@mkdir -p $(dir $@)
	$(CC) $(LIVE_CFLAGS) -o $@ $< $(B)/libgomap.a -lpthread -lm

$(LIVE_FIX)/lockhold: tests/live/fixtures/lockhold.c
	@mkdir -p $(dir $@)
	$(CC) $(LIVE_CFLAGS) -o $@ $< -lpthread

$(LIVE_FIX)/evhost: tests/live/fixtures/evhost.c
	@mkdir -p $(dir $@)
	$(CC) $(LIVE_CFLAGS) -o $@ $< -levent_core -levent_extra

$(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/live/*_test.c)): | $(PPROF_GEN_H)

TEST_LIBS_live += $(PPROF_LIB) $(B)/libshim_core.a $(B)/libgomap.a $(PPROF_LDLIBS)
ifneq ($(SAN),1)
TEST_DEPS_live += $(B)/libmapprof.so $(LIVE_FIX_BINS)
ifneq ($(shell command -v go 2>/dev/null),)
TEST_DEPS_live += $(B)/pprofcheck
endif
endif
