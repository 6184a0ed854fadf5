# tests/map/: fixtures for the map tests (see tests/map/dlsym_test.c).
#
# A stand-in profiler library that defines mapprof_gomap_hooks, and one small
# libgomap user linked both ways: statically (libgomap.a) and dynamically
# (libgomap.so, found through its rpath). The library is built without the
# sanitizers so that it can be LD_PRELOADed into sanitized programs too.
MAPTEST_FIX := $(B)/tests/map/fixtures

TEST_DEPS_map += $(MAPTEST_FIX)/libhooklib.so $(MAPTEST_FIX)/growprog_static \
                 $(MAPTEST_FIX)/growprog_dynamic

$(MAPTEST_FIX)/libhooklib.so: tests/map/fixtures/hooklib.c map/gomap.h
	@mkdir -p $(dir $@)
	$(CC) $(filter-out $(SANFLAGS) -DMAPPROF_SANITIZE=1,$(ALL_CFLAGS)) -shared -o $@ $<

$(MAPTEST_FIX)/growprog_static: $(B)/obj/tests/map/fixtures/growprog.o $(B)/libgomap.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(B)/libgomap.a -ldl -lpthread

$(MAPTEST_FIX)/growprog_dynamic: $(B)/obj/tests/map/fixtures/growprog.o $(B)/libgomap.so
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< -L$(B) -lgomap -Wl,-rpath,$(B) -ldl -lpthread
