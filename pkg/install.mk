# pkg/: `make install` and `make uninstall`, and libgomap's pkg-config file.
#
#   make install [PREFIX=/usr/local] [DESTDIR=/staging]
#   make uninstall (same PREFIX and DESTDIR)
#
# Layout under PREFIX:
#   bin/mapprof                         the command (links only system libraries)
#   lib/libmapprof.so                   the profiler, for LD_PRELOAD
#   lib/libgomap.so.$(GOMAP_VERSION)    libgomap, soname libgomap.so.$(GOMAP_SOVERSION),
#   lib/libgomap.so.$(GOMAP_SOVERSION), lib/libgomap.so     with the usual symlinks
#   lib/libgomap.a
#   lib/pkgconfig/gomap.pc              cc $$(pkg-config --cflags --libs gomap) x.c
#   include/mapprof/gomap.h             #include <mapprof/gomap.h>
#   include/mapprof/mapprof.h           the profiler's API, when shim/mapprof.h exists
#   share/man/man1/mapprof.1            when man/mapprof.1 exists
#
# Headers go into their own directory so the generic name gomap.h cannot
# clash with another package's. The installed libgomap is linked here from
# map/'s objects with a versioned soname (the in-tree build/libgomap.so
# keeps its plain one for the examples). DESTDIR stages a package: files go
# under $(DESTDIR)$(PREFIX) while gomap.pc names $(PREFIX). Installing into
# the live system as root refreshes the loader cache (LDCONFIG=true skips).
# Fragments after this one (shim/, ...) define their variables later, so
# prerequisites here name files literally.

PREFIX       ?= /usr/local
DESTDIR      ?=
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
LDCONFIG     ?= ldconfig

GOMAP_VERSION   := 0.1.0
GOMAP_SOVERSION := 0
GOMAP_SO_REAL   := libgomap.so.$(GOMAP_VERSION)
GOMAP_SO_NAME   := libgomap.so.$(GOMAP_SOVERSION)

INSTALL_HEADERS := map/gomap.h $(wildcard shim/mapprof.h)
INSTALL_MAN     := $(wildcard man/mapprof.1)

.PHONY: install uninstall

$(B)/pkg/$(GOMAP_SO_REAL): $(MAP_OBJS)
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,$(GOMAP_SO_NAME) -o $@ $^ $(LDFLAGS)

install: $(B)/mapprof $(B)/libmapprof.so $(B)/libgomap.a $(B)/pkg/$(GOMAP_SO_REAL) \
         pkg/gomap.pc.in $(INSTALL_HEADERS) $(INSTALL_MAN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	    $(DESTDIR)$(INCLUDEDIR)/mapprof
	install -m 755 $(B)/mapprof $(DESTDIR)$(BINDIR)/mapprof
	install -m 755 $(B)/libmapprof.so $(DESTDIR)$(LIBDIR)/libmapprof.so
	install -m 755 $(B)/pkg/$(GOMAP_SO_REAL) $(DESTDIR)$(LIBDIR)/$(GOMAP_SO_REAL)
	ln -sf $(GOMAP_SO_REAL) $(DESTDIR)$(LIBDIR)/$(GOMAP_SO_NAME)
	ln -sf $(GOMAP_SO_NAME) $(DESTDIR)$(LIBDIR)/libgomap.so
	install -m 644 $(B)/libgomap.a $(DESTDIR)$(LIBDIR)/libgomap.a
	install -m 644 $(INSTALL_HEADERS) $(DESTDIR)$(INCLUDEDIR)/mapprof/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(GOMAP_VERSION)|' \
	    -e 's|@SOVERSION@|$(GOMAP_SOVERSION)|' pkg/gomap.pc.in \
	    > $(DESTDIR)$(PKGCONFIGDIR)/gomap.pc
	$(if $(INSTALL_MAN),install -d $(DESTDIR)$(MANDIR)/man1 && \
	    install -m 644 $(INSTALL_MAN) $(DESTDIR)$(MANDIR)/man1/)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then $(LDCONFIG) || true; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/mapprof $(DESTDIR)$(LIBDIR)/libmapprof.so \
	    $(DESTDIR)$(LIBDIR)/$(GOMAP_SO_REAL) $(DESTDIR)$(LIBDIR)/$(GOMAP_SO_NAME) \
	    $(DESTDIR)$(LIBDIR)/libgomap.so $(DESTDIR)$(LIBDIR)/libgomap.a \
	    $(DESTDIR)$(PKGCONFIGDIR)/gomap.pc $(DESTDIR)$(INCLUDEDIR)/mapprof/gomap.h \
	    $(DESTDIR)$(INCLUDEDIR)/mapprof/mapprof.h $(DESTDIR)$(MANDIR)/man1/mapprof.1
	-rmdir $(DESTDIR)$(INCLUDEDIR)/mapprof 2>/dev/null
