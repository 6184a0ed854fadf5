# tests/install/: `make install` / `make uninstall` into temporary trees.
# Everything the install copies is built first, so the test's own make run
# only copies files.
ifneq ($(SAN),1)
TEST_DEPS_install += $(B)/mapprof $(SHIM_SO) $(B)/libgomap.a $(B)/pkg/$(GOMAP_SO_REAL)
endif
