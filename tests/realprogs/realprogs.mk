# tests/realprogs/: runs scripts/realprogs.sh (real Debian programs under
# the shim) from the test suite. The script needs the shim, pprofcheck
# (Go) and the threaded fixture of tests/stress/.
ifneq ($(SAN),1)
TEST_DEPS_realprogs += $(B)/libmapprof.so $(B)/tests/stress/stress_load
ifneq ($(shell command -v go 2>/dev/null),)
TEST_DEPS_realprogs += $(B)/pprofcheck
endif
endif
