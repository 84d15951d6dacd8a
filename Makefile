# scratchfs - plain GNU make. See README.md for the two commands that matter.
#
#   make            build everything into build/
#   make check      install missing packages, unit + mount tests, then the
#                   same suite built with AddressSanitizer + UBSan
#   make run        build and mount an encrypted scratch with built-in defaults
#   make install    DESTDIR= PREFIX=/usr/local

PKGS      := fuse3 libsodium libconfig jansson libkeyutils liburing libcrypto
TEST_PKGS := criterion
CC        ?= cc
CFLAGS    ?= -O2 -g
STD       := -std=gnu11
WERROR    ?= -Werror
WARN      := -Wall -Wextra $(WERROR) -Wshadow -Wstrict-prototypes \
             -Wmissing-prototypes -Wformat=2 -Wwrite-strings -Wno-format-nonliteral
# Recursive (=) so pkg-config runs after `deps` has installed it.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) $(TOOL_PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
# Libraries only the tools (and their tests) link.
TOOL_PKGS  := libmicrohttpd jansson
TOOL_PKG_LIBS = $(if $(TOOL_PKGS),$(shell pkg-config --libs $(TOOL_PKGS)))
TEST_LIBS  = $(shell pkg-config --libs $(TEST_PKGS))
CPPFLAGS  += -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DFUSE_USE_VERSION=312 -Iinclude
PREFIX    ?= /usr/local
SBINDIR   ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
MANDIR    ?= $(PREFIX)/share/man
UNITDIR   ?= $(PREFIX)/lib/systemd/system
MAN_PAGES := $(wildcard doc/*.1 doc/*.5 doc/*.8)
UNITS     := $(wildcard conf/*.service)

BUILD     ?= build
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer

LIB_SRCS  := $(filter-out fs/main.c,$(wildcard fs/*.c))
# Tools: each tools/scratchfs-NAME.c is the main of build/scratchfs-NAME;
# code they share lives in tools/lib/ (build/libsfstools.a).
TOOL_LIB_SRCS := $(wildcard tools/lib/*.c)
TOOL_MAINS    := $(wildcard tools/scratchfs-*.c)
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_UTIL := $(filter-out $(TEST_SRCS),$(wildcard tests/*.c))
# The Slurm SPANK plugin: tools/slurm/*.c, its test tests/slurm/test_*.c.
SLURM_SRCS      := $(wildcard tools/slurm/*.c)
SLURM_TEST_SRCS := $(wildcard tests/slurm/test_*.c)
MULTIARCH       := $(shell $(CC) -print-multiarch 2>/dev/null)
SLURM_PLUGINDIR ?= $(if $(shell pkg-config --exists slurm 2>/dev/null && echo y),$(shell pkg-config --variable=libdir slurm)/slurm,/usr/lib/$(MULTIARCH)/slurm-wlm)

# $(call objs,BUILDDIR,SOURCES)
objs = $(patsubst %.c,$(1)/%.o,$(2))

LIB_OBJS   = $(call objs,$(BUILD),$(LIB_SRCS))
TOOL_LIB   = $(if $(TOOL_LIB_SRCS),$(BUILD)/libsfstools.a)
TOOL_BINS  = $(patsubst tools/%.c,$(BUILD)/%,$(TOOL_MAINS))
TEST_BINS  = $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS) $(SLURM_TEST_SRCS:tests/slurm/%=tests/%))
SLURM_PLUGIN = $(BUILD)/spank_scratchfs.so
BINS       = $(BUILD)/scratchfs $(TOOL_BINS)

.PHONY: all deps check check-plain check-asan test run install uninstall \
        clean format format-check sweep bench
.DEFAULT_GOAL := all
# Keep every object: make would delete the tools' and tests' objects as
# intermediates, so a second make running meanwhile (make check's
# install test, an editor's build) could find them gone at link time.
.SECONDARY:

all: $(BINS) $(SLURM_PLUGIN)

deps:
	@tools/install-deps.sh

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) $(CPPFLAGS) \
		-DSFS_BUILD_DIR='"$(abspath $(BUILD))"' $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libscratchfs.a: $(LIB_OBJS)
	$(AR) rcs $@ $^

$(BUILD)/libsfstools.a: $(call objs,$(BUILD),$(TOOL_LIB_SRCS))
	$(AR) rcs $@ $^

$(BUILD)/scratchfs: $(BUILD)/fs/main.o $(BUILD)/libscratchfs.a
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/scratchfs-%: $(BUILD)/tools/scratchfs-%.o $(TOOL_LIB) $(BUILD)/libscratchfs.a
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $^ $(PKG_LIBS) $(TOOL_PKG_LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(call objs,$(BUILD),$(TEST_UTIL)) $(TOOL_LIB) $(BUILD)/libscratchfs.a
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $^ $(PKG_LIBS) $(TOOL_PKG_LIBS) $(TEST_LIBS)

# slurmd and slurmstepd dlopen the plugin, so it and the libraries it links
# are built again as position-independent code into $(BUILD)/pic, without
# EXTRA_CFLAGS: a sanitized shared object cannot be loaded into an
# unsanitized slurmd. Only the plugin's own symbols are exported.
PIC_LIB_OBJS  = $(call objs,$(BUILD)/pic,$(LIB_SRCS) $(TOOL_LIB_SRCS))

$(BUILD)/pic/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) -fPIC $(CPPFLAGS) -Itools/slurm \
		-DSFS_SBINDIR='"$(SBINDIR)"' $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/pic/libsfs.a: $(PIC_LIB_OBJS)
	$(AR) rcs $@ $^

$(SLURM_PLUGIN): $(call objs,$(BUILD)/pic,$(SLURM_SRCS)) $(BUILD)/pic/libsfs.a tools/slurm/exports.map
	$(CC) $(CFLAGS) -shared -o $@ $(filter %.o %.a,$^) \
		-Wl,--version-script=tools/slurm/exports.map -Wl,--as-needed \
		$(PKG_LIBS) $(TOOL_PKG_LIBS)

# The test against a real slurmctld and slurmd also calls the plugin's
# code directly (tools/slurm/ without the SPANK glue).
SLURM_TEST_BINS = $(patsubst tests/slurm/%.c,$(BUILD)/tests/%,$(SLURM_TEST_SRCS))
SLURM_JOB_OBJS  = $(call objs,$(BUILD),$(filter-out %/spank_scratchfs.c,$(SLURM_SRCS)))

$(BUILD)/tests/slurm/%.o: CPPFLAGS += -Itools/slurm -Itests

$(SLURM_TEST_BINS): $(BUILD)/tests/%: $(BUILD)/tests/slurm/%.o $(SLURM_JOB_OBJS) $(call objs,$(BUILD),$(TEST_UTIL)) $(TOOL_LIB) $(BUILD)/libscratchfs.a | $(SLURM_PLUGIN)
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $^ $(PKG_LIBS) $(TOOL_PKG_LIBS) $(TEST_LIBS)

test: $(BINS) $(TEST_BINS)
	@tools/run-tests.sh $(BUILD)

# The whole suite over /dev/fuse, then again under ASan+UBSan in a separate
# build tree over FUSE's io_uring transport (where the kernel has it).
check: deps
	SFS_TEST_URING=N $(MAKE) test
	SFS_TEST_URING=Y $(MAKE) test BUILD=build/asan EXTRA_CFLAGS='$(SAN_FLAGS)' CFLAGS='-O1 -g'

run: deps $(BINS)
	@tools/demo.sh $(BUILD)

# scratchfs against the plain disk and gocryptfs (doc/PERFORMANCE.md);
# BENCH_QUICK=1 for a smoke run, BENCH_PROFILE=1 for perf profiles.
bench: deps $(BINS)
	bench/bench.sh $(BUILD)

# `mount -t fuse.scratchfs` and fstab go through Debian's mount.fuse
# (-> mount.fuse3), which runs `scratchfs` from root's PATH.
# install: binaries to SBINDIR, the config to SYSCONFDIR/scratchfs (never
# over an existing one), man pages (doc/*.[158]) to MANDIR, systemd units
# (conf/*.service, with @SBINDIR@ and @SYSCONFDIR@ filled in) to UNITDIR.
# The Slurm plugin goes to SLURM_PLUGINDIR (pkg-config's slurm libdir/slurm
# where there is one, else Debian's /usr/lib/<multiarch>/slurm-wlm).
# Run `systemctl daemon-reload` afterwards. uninstall removes what install
# put there: the config only while it is unchanged, the config directory
# only when empty (a node key file keeps it).
install: $(BINS) $(SLURM_PLUGIN)
	for b in $(notdir $(BINS)); do \
		install -Dm755 $(BUILD)/$$b $(DESTDIR)$(SBINDIR)/$$b || exit 1; \
	done
	install -Dm755 $(SLURM_PLUGIN) $(DESTDIR)$(SLURM_PLUGINDIR)/$(notdir $(SLURM_PLUGIN))
	install -d -m755 $(DESTDIR)$(SYSCONFDIR)/scratchfs
	test -e $(DESTDIR)$(SYSCONFDIR)/scratchfs/scratchfs.conf || \
		install -m644 conf/scratchfs.conf $(DESTDIR)$(SYSCONFDIR)/scratchfs/scratchfs.conf
	for m in $(MAN_PAGES); do \
		s=$${m##*.}; \
		install -Dm644 $$m $(DESTDIR)$(MANDIR)/man$$s/$${m##*/} || exit 1; \
	done
	for u in $(UNITS); do \
		install -d -m755 $(DESTDIR)$(UNITDIR) && \
		sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
			$$u >$(DESTDIR)$(UNITDIR)/$${u##*/} && \
		chmod 644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done

uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(notdir $(BINS)))
	rm -f $(DESTDIR)$(SLURM_PLUGINDIR)/$(notdir $(SLURM_PLUGIN))
	rm -f $(foreach m,$(MAN_PAGES),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(notdir $(UNITS)))
	if cmp -s conf/scratchfs.conf $(DESTDIR)$(SYSCONFDIR)/scratchfs/scratchfs.conf; then \
		rm -f $(DESTDIR)$(SYSCONFDIR)/scratchfs/scratchfs.conf; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/scratchfs/scratchfs.conf ]; then \
		echo "uninstall: keeping the modified $(DESTDIR)$(SYSCONFDIR)/scratchfs/scratchfs.conf"; \
	fi
	-rmdir $(DESTDIR)$(SYSCONFDIR)/scratchfs 2>/dev/null

clean:
	rm -rf build

FORMAT_SRCS = $(wildcard fs/*.c include/*.h tests/*.c tests/*.h tools/*.c \
                         tools/lib/*.c tools/slurm/*.[ch] tests/slurm/*.c)

format:
	clang-format -i $(FORMAT_SRCS)

format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
