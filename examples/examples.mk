# examples/: small programs on map/, one per diagnosis scenario,
# built to $(B)/examples/<name> and linked dynamically with libgomap.
EXAMPLE_SRCS  := $(sort $(wildcard examples/*.c))
EXAMPLE_BINS  := $(patsubst examples/%.c,$(B)/examples/%,$(EXAMPLE_SRCS))
ALL_TARGETS   += $(EXAMPLE_BINS)

$(B)/examples/%: $(B)/obj/examples/%.o $(B)/libgomap.so
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< -L$(B) -lgomap -Wl,-rpath,'$$ORIGIN/..' -lpthread

# The demo: the map example with and without a hint, side by side.
demo: deps
	@$(MAKE) --no-print-directory all
	@echo "== grow_nohint: 1,000,000 keys into a map made without a hint"
	@$(B)/examples/grow_nohint 1000000
	@echo "== grow_hint: the same keys into a map made with hint 1,000,000"
	@$(B)/examples/grow_hint 1000000
