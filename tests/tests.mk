# Test runner: every module's tests (TEST_SRCS, added by the module
# fragments) linked into one program, each test forked on its own.
HARNESS_SRCS := tests/harness/runner.c tests/harness/harness.c
TEST_SRCS    += $(sort $(wildcard tests/*/*_test.c))
TEST_OBJS     = $(patsubst %.c,$(B)/obj/%.o,$(HARNESS_SRCS) $(sort $(TEST_SRCS)))

$(B)/tests/runner: $(TEST_OBJS) $(TEST_LINK_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJS) $(TEST_LIBS) -lpthread -lm
