# tests/faults/: the shim when its own work fails — output directory
# missing, not a directory, read-only or full, writes failing with EFBIG,
# garbage in every MAPPROF_* variable, no memory left at dump time.
#
# One fixture (tests/faults/fixtures/faulty.c), built like the stress
# fixtures (no sanitizers: it runs under the preloaded shim), and built a
# second time as faulty_big with a generated unit of 12,000 allocating
# functions and full debug info (compiled at -O0: a few seconds), so that
# symbolizing at dump time reads a large amount of DWARF. The tests use
# tests/stress/stress_util.h and build/pprofcheck (needs Go).
FAULTS_FIX    := $(B)/tests/faults
FAULTS_CFLAGS  = -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -fno-inline \
                 -Wall -Wextra -Werror

$(FAULTS_FIX)/faulty: tests/faults/fixtures/faulty.c
	@mkdir -p $(dir $@)
	$(CC) $(FAULTS_CFLAGS) -o $@ $< -lpthread

$(FAULTS_FIX)/bigdwarf.c: tests/faults/faults.mk
	@mkdir -p $(dir $@)
	awk 'BEGIN { n = 12000; print "#include <stdlib.h>"; \
	  for (i = 0; i < n; i++) \
	    printf "void *bigdwarf_f%d(size_t n);\nvoid *bigdwarf_f%d(size_t n) {\n    void *p = malloc(n + %d);\n    return p;\n}\n", i, i, i % 7; \
	  printf "void *(*const bigdwarf_fns[%d])(size_t) = {\n", n; \
	  for (i = 0; i < n; i++) printf "    bigdwarf_f%d,\n", i; \
	  print "};" }' >$@

$(FAULTS_FIX)/bigdwarf.o: $(FAULTS_FIX)/bigdwarf.c
	$(CC) -std=c11 -O0 -g -fno-omit-frame-pointer -Wall -Wextra -Werror -c -o $@ $<

$(FAULTS_FIX)/faulty_big: tests/faults/fixtures/faulty.c $(FAULTS_FIX)/bigdwarf.o
	$(CC) $(FAULTS_CFLAGS) -DFAULTY_BIG -o $@ $< $(FAULTS_FIX)/bigdwarf.o -lpthread

$(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/faults/*_test.c)): | $(PPROF_GEN_H)

TEST_LIBS_faults += $(PPROF_LIB) $(B)/libgomap.a $(PPROF_LDLIBS)
ifneq ($(SAN),1)
TEST_DEPS_faults += $(B)/libmapprof.so $(FAULTS_FIX)/faulty $(FAULTS_FIX)/faulty_big
ifneq ($(shell command -v go 2>/dev/null),)
TEST_DEPS_faults += $(B)/pprofcheck
endif
endif
