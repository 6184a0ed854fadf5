# examples/: small programs on map/, one per diagnosis scenario,
# built to $(B)/examples/<name> and linked dynamically with libgomap.
EXAMPLE_SRCS  := $(sort $(wildcard examples/*.c))
EXAMPLE_BINS  := $(patsubst examples/%.c,$(B)/examples/%,$(EXAMPLE_SRCS))
ALL_TARGETS   += $(EXAMPLE_BINS)

$(B)/examples/%: $(B)/obj/examples/%.o $(B)/libgomap.so
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< -L$(B) -lgomap -Wl,-rpath,'$$ORIGIN/..' -lpthread -ldl

# The demo: grow_nohint under the profiler, where its grows came from, then
# grow_hint for comparison. Profiles go to $(BUILD)/demo/grow_nohint.<pid>.*.
#
# DEMO_RUN says how a program runs under the profiler: `mapprof` uses
# `mapprof run` (it lists the files it saw written), `preload` sets
# LD_PRELOAD and MAPPROF_OUT by hand and lists them with ls. The default is
# mapprof run when the tree has it.
DEMO_DIR    := $(BUILD)/demo
DEMO_PREFIX := $(DEMO_DIR)/grow_nohint
DEMO_RUN    ?= $(if $(wildcard cli/run.c),mapprof,preload)
ifeq ($(DEMO_RUN),mapprof)
  DEMO_UNDER_PROFILER = $(B)/mapprof run -o $(DEMO_PREFIX) --
  DEMO_LIST_PROFILES  = true
else
  DEMO_UNDER_PROFILER = env LD_PRELOAD=$(SHIM_SO) MAPPROF_OUT=$(DEMO_PREFIX)
  DEMO_LIST_PROFILES  = ls $(DEMO_PREFIX).*.pb.gz | sed 's/^/mapprof: wrote /'
endif

demo: deps
	@$(MAKE) --no-print-directory all
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	@echo "== grow_nohint: 1,000,000 keys into a map made without a hint, under mapprof"
	@$(DEMO_UNDER_PROFILER) $(B)/examples/grow_nohint 1000000
	@$(DEMO_LIST_PROFILES)
	@set -e; grow=$$(ls $(DEMO_PREFIX).*.grow.pb.gz); \
	if command -v go >/dev/null; then \
	    echo "== where the grows came from: go tool pprof -top -sample_index=grows $$grow"; \
	    go tool pprof -top -sample_index=grows $$grow 2>/dev/null | sed -n '/^Showing/,$$p'; \
	    echo "== and of which kind: go tool pprof -tags -tagshow=kind $$grow"; \
	    go tool pprof -tags -tagshow=kind -sample_index=grows $$grow 2>/dev/null | sed '/^ *$$/d'; \
	else \
	    echo "== where the grows came from: mapprof top --sample-index grows $$grow (no Go)"; \
	    $(B)/mapprof top --sample-index grows $$grow; \
	fi; \
	echo "== grow_hint: the same keys into a map made with hint 1,000,000"; \
	$(B)/examples/grow_hint 1000000; \
	echo "== explore in a browser:  go tool pprof -http=:8080 $$grow"
