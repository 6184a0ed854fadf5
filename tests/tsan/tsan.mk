# tests/tsan/: libgomap under ThreadSanitizer (see tests/tsan/tsan_test.c).
#
# The map's sources and the racing programs (tests/tsan/progs/*.c) are
# compiled again with -fsanitize=thread into $(B)/tsan, independent of SAN:
# TSan cannot share a process with ASan, and these programs run on their own
# (the test runner only starts them). TSAN_CC may be gcc (libtsan2) or clang
# (libclang-rt-14-dev); both come with the packages `make deps` installs.
TSAN_CC    ?= $(if $(shell command -v clang 2>/dev/null),clang,gcc)
TSAN_FLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -fsanitize=thread \
              $(WARN) -I$(ROOT)
TSAN_MAP_OBJS := $(patsubst %.c,$(B)/tsan/obj/%.o,$(sort $(wildcard map/*.c)))
TSAN_PROGS := $(patsubst tests/tsan/progs/%.c,$(B)/tsan/%,$(wildcard tests/tsan/progs/*.c))

TEST_DEPS_tsan += $(TSAN_PROGS)

$(B)/tsan/obj/%.o: %.c $(wildcard map/*.h)
	@mkdir -p $(dir $@)
	$(TSAN_CC) $(TSAN_FLAGS) -c $< -o $@

$(B)/tsan/libgomap_tsan.a: $(TSAN_MAP_OBJS)
	rm -f $@ && ar rcs $@ $^

$(TSAN_PROGS): $(B)/tsan/%: $(B)/tsan/obj/tests/tsan/progs/%.o $(B)/tsan/libgomap_tsan.a
	$(TSAN_CC) -fsanitize=thread -o $@ $< $(B)/tsan/libgomap_tsan.a -lpthread
