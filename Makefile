# mapprof — top-level build.
#
# One plain GNU Makefile. Each module keeps its rules in a fragment of its
# own (map/map.mk, pprof/pprof.mk, ...), included below, so that modules can
# grow without touching this file. Everything is built under $(BUILD).
#
#   make            libraries, tools, examples, test programs
#   make test       install missing packages, build, run every test
#   make check      the same tests under ASan+UBSan (build/san)
#   make demo       profile an example and show the result
#   make deps       install the Debian packages the project needs
#   make bench-map  C map vs Go map, side by side
#   make format     apply .clang-format;  make format-check verifies it

BUILD   ?= build
CC      ?= cc
SAN     ?=
OPT     ?= -O2
ROOT    := $(abspath .)
B       := $(abspath $(BUILD))

WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden $(WARN) $(CFLAGS) \
             -I$(ROOT) -I$(B)/gen
LDFLAGS ?=

ifeq ($(SAN),1)
  SANFLAGS   = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -fno-omit-frame-pointer
  ALL_CFLAGS += $(SANFLAGS) -DMAPPROF_SANITIZE=1
  LDFLAGS    += $(SANFLAGS)
endif

# Go from C builds: never depend on HOME, never reach the network.
export GOCACHE     := $(B)/go/cache
export GOPATH      := $(B)/go/path:/usr/share/gocode
export GO111MODULE := off
export GOFLAGS     :=
export GOTOOLCHAIN := local
export PPROF_TMPDIR := $(B)/go/pprof
export MAPPROF_ROOT := $(ROOT)
export MAPPROF_BUILD := $(B)

# The modules the user asked to test (empty: all), before tests/tests.mk
# fills in the default: `make deps` then installs only what they need.
DEPS_MODULES := $(TEST_MODULES)

# Filled in by the fragments.
ALL_TARGETS :=
TEST_SRCS   :=
CLEAN_EXTRA :=

.PHONY: all test check demo deps clean format format-check tidy bench-map
all:

# Keep object files that pattern rules build on the way to a program, so a
# second `make` rebuilds nothing.
.SECONDARY:

include $(sort $(wildcard */*.mk */*/*.mk))

all: $(ALL_TARGETS)

# Object files mirror the source tree under $(B)/obj.
$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

deps:
	@scripts/deps.sh $(DEPS_MODULES)

# TEST_ARGS passes a name filter and options to the runner, e.g.
#   make test TEST_ARGS='map.*'
# TEST_MODULES=map builds and links only tests/map/ (and what it needs).
test: deps
	@$(MAKE) --no-print-directory $(if $(TEST_MODULES),,all) $(B)/tests/runner $(TEST_DEPS_ALL)
	@$(B)/tests/runner $(if $(SAN),--timeout-scale 4) $(TEST_ARGS)

check:
	@$(MAKE) --no-print-directory test SAN=1 BUILD=$(BUILD)/san OPT=-O1

format:
	clang-format -i $(shell git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $(shell git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(CLEAN_EXTRA)
