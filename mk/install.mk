# mk/install.mk - tincan as an installed tool (issue 17): the shared
# library (PIC objects, SONAME, version script), the man pages from scdoc,
# the guest SDK archive, and `make install` / `make uninstall`. Included from
# the Makefile after LIB_OBJS, CLI and the guests are defined.
#
#   make install   [PREFIX=/usr/local] [DESTDIR=] [BINDIR=] [LIBDIR=]
#                  [INCLUDEDIR=] [MANDIR=] [SDKDIR=] [PKGCONFIGDIR=]
#                  [UNITDIR=] [COMPLETIONDIR=]
#   make uninstall (the same variables)

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# The guest SDK: freestanding headers and objects for another machine (the
# guest), so not in INCLUDEDIR, where host programs would find them.
SDKDIR ?= $(LIBDIR)/tincan/sdk
UNITDIR ?= $(PREFIX)/lib/systemd/system
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALL ?= install
# After a real install (no DESTDIR) as root, the dynamic linker's cache
# must learn of the new library, or programs cannot find it until the next
# ldconfig. LDCONFIG=: skips it (the tests install into temporary prefixes).
LDCONFIG ?= ldconfig
SCDOC ?= scdoc

# The version is the C API's: TINCAN_VERSION "MAJOR.MINOR.PATCH".
TINCAN_VERSION := $(shell sed -n 's/^\#define TINCAN_VERSION "\(.*\)"/\1/p' api/tincan.h)
ifeq ($(words $(subst ., ,$(TINCAN_VERSION))),3)
else
$(error mk/install.mk: TINCAN_VERSION "MAJOR.MINOR.PATCH" not found in api/tincan.h)
endif
SO_MAJOR := $(word 1,$(subst ., ,$(TINCAN_VERSION)))
SO_MINOR := $(word 2,$(subst ., ,$(TINCAN_VERSION)))
SONAME := libtincan.so.$(SO_MAJOR)
SHLIB_FILE := libtincan.so.$(SO_MAJOR).$(SO_MINOR)
SHLIB := $(BUILD)/$(SHLIB_FILE)

# The shared library carries every object of libtincan.a: those compiled
# from C again as position-independent code, in their own tree
# ($(BUILD)/pic), each after its static twin so that whatever that one
# needs first exists; the assembled ones (the zygote's .incbin'd bytes,
# the Linux guests' stubs) hold nothing to relocate and are linked as they
# are (tests/pkg/install.sh checks the library has no text relocations).
LIB_C_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter %.c,$(LIB_SRCS)))
PIC_OBJS := $(LIB_C_OBJS:$(BUILD)/obj/%=$(BUILD)/pic/%) \
	$(filter-out $(LIB_C_OBJS),$(LIB_OBJS))
$(BUILD)/pic/%.o: %.c Makefile mk/install.mk | $(BUILD)/obj/%.o
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -MMD -MP -c -o $@ $<

# -z now (with Debian's -z relro): every symbol bound at start-up, the GOT
# read-only after it; --no-undefined: the library names every library it
# needs.
$(SHLIB): $(PIC_OBJS) api/libtincan.map
	$(CC) -shared -Wl,-soname,$(SONAME) \
		-Wl,--version-script=api/libtincan.map -Wl,--no-undefined \
		$(LDFLAGS) -o $@ $(PIC_OBJS) $(LDLIBS)
	ln -sf $(SHLIB_FILE) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libtincan.so

# The guest SDK as users link it: crt0.o and an archive.
GUEST_LIB := $(BUILD)/guests/sdk/libtincan_guest.a
$(GUEST_LIB): $(BUILD)/guests/sdk/libtincan_guest.o
	@rm -f $@
	$(AR) rcs $@ $^

# Man pages: NAME.SECTION.scd beside the code they describe.
MAN_SRCS := $(wildcard api/*.scd guests/*.scd guests/sdk/*.scd)
MAN_PAGES := $(patsubst %.scd,$(BUILD)/man/%,$(notdir $(MAN_SRCS)))
vpath %.scd api guests guests/sdk
$(BUILD)/man/%: %.scd
	@mkdir -p $(@D)
	$(SCDOC) <$< >$@.tmp && mv $@.tmp $@

.PHONY: install uninstall man test-pkg test-deb
man: $(MAN_PAGES)
all: $(SHLIB) $(GUEST_LIB) $(SDK_NOTE) $(MAN_PAGES)

SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@SDKDIR@|$(SDKDIR)|g' \
	-e 's|@BINDIR@|$(BINDIR)|g' -e 's|@VERSION@|$(TINCAN_VERSION)|g' \
	-e 's|@ENTRY@|$(GUEST_ENTRY)|g'

# Units and completion come from dist/; the units, tincan-cc and tincan.pc
# name the installed paths, so they are written at install time.
UNITS := $(patsubst dist/%.in,%,$(wildcard dist/*.service.in dist/*.socket.in))
D := $(DESTDIR)
install: all
	$(INSTALL) -d $(D)$(BINDIR) $(D)$(LIBDIR) $(D)$(INCLUDEDIR) \
		$(D)$(PKGCONFIGDIR) $(D)$(SDKDIR)/include $(D)$(UNITDIR) \
		$(D)$(COMPLETIONDIR) $(D)$(MANDIR)/man1 $(D)$(MANDIR)/man3 \
		$(D)$(MANDIR)/man7
	$(INSTALL) -m 755 $(CLI) $(D)$(BINDIR)/tincan
	$(SUBST) guests/sdk/tincan-cc.in >$(D)$(BINDIR)/tincan-cc
	chmod 755 $(D)$(BINDIR)/tincan-cc
	$(INSTALL) -m 644 $(SHLIB) $(D)$(LIBDIR)/$(SHLIB_FILE)
	ln -sf $(SHLIB_FILE) $(D)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(D)$(LIBDIR)/libtincan.so
	$(INSTALL) -m 644 $(LIB) $(D)$(LIBDIR)/libtincan.a
	$(INSTALL) -m 644 api/tincan.h $(D)$(INCLUDEDIR)/tincan.h
	$(SUBST) api/tincan.pc.in >$(D)$(PKGCONFIGDIR)/tincan.pc
	chmod 644 $(D)$(PKGCONFIGDIR)/tincan.pc
	$(INSTALL) -m 644 $(SDK_HDRS) $(D)$(SDKDIR)/include/
	$(INSTALL) -m 644 $(BUILD)/guests/sdk/crt0.o $(SDK_NOTE) $(GUEST_LIB) \
		guests/sdk/guest.ld $(D)$(SDKDIR)/
	for u in $(UNITS); do \
		$(SUBST) dist/$$u.in >$(D)$(UNITDIR)/$$u && \
		chmod 644 $(D)$(UNITDIR)/$$u || exit 1; \
	done
	$(INSTALL) -m 644 dist/tincan.bash-completion \
		$(D)$(COMPLETIONDIR)/tincan
	for p in $(MAN_PAGES); do \
		s=$${p##*.}; \
		$(INSTALL) -m 644 $$p $(D)$(MANDIR)/man$$s/ || exit 1; \
	done
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then $(LDCONFIG); fi

# Removes exactly what install wrote, then the directories tincan owns.
uninstall:
	rm -f $(D)$(BINDIR)/tincan $(D)$(BINDIR)/tincan-cc \
		$(D)$(LIBDIR)/$(SHLIB_FILE) $(D)$(LIBDIR)/$(SONAME) \
		$(D)$(LIBDIR)/libtincan.so $(D)$(LIBDIR)/libtincan.a \
		$(D)$(INCLUDEDIR)/tincan.h $(D)$(PKGCONFIGDIR)/tincan.pc \
		$(addprefix $(D)$(SDKDIR)/include/,$(notdir $(SDK_HDRS))) \
		$(D)$(SDKDIR)/crt0.o $(D)$(SDKDIR)/note.o \
		$(D)$(SDKDIR)/libtincan_guest.a \
		$(D)$(SDKDIR)/guest.ld $(D)$(COMPLETIONDIR)/tincan \
		$(addprefix $(D)$(UNITDIR)/,$(UNITS))
	for p in $(notdir $(MAN_PAGES)); do \
		rm -f $(D)$(MANDIR)/man$${p##*.}/$$p; \
	done
	-rmdir $(D)$(SDKDIR)/include $(D)$(SDKDIR) $(D)$(LIBDIR)/tincan \
		2>/dev/null

# The packaging tests: man pages against --help, the installed layout and
# the library's interface, units, completion (tests/pkg/run); the Debian
# package in a clean chroot (tests/pkg/deb.sh, slower, needs root).
test-pkg: all
	@BUILD=$(BUILD) SAN=$(SAN) tests/pkg/run
test-deb: all
	@BUILD=$(BUILD) tests/pkg/deb.sh

-include $(shell find $(BUILD)/pic -name '*.d' 2>/dev/null)
