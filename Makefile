# scratchfs - plain GNU make. See README.md for the two commands that matter.
#
#   make            build everything into build/
#   make check      install missing packages, check the layering, unit +
#                   mount tests, then the same suite built with
#                   AddressSanitizer + UBSan
#   make fuzz       run every libFuzzer harness (tests/fuzz/) for
#                   FUZZ_SECONDS each (doc/FUZZING.md)
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
TOOL_PKGS  := libmicrohttpd
TOOL_PKG_LIBS = $(shell pkg-config --libs $(TOOL_PKGS))
TEST_LIBS  = $(shell pkg-config --libs $(TEST_PKGS))
# The library's headers, one folder a layer (include/LAYER/ beside fs/LAYER/).
LAYERS    := base format store volume fuse
CPPFLAGS  += -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DFUSE_USE_VERSION=312 \
             $(addprefix -Iinclude/,$(LAYERS))
PREFIX    ?= /usr/local
SBINDIR   ?= $(PREFIX)/sbin
BINDIR    ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
MANDIR    ?= $(PREFIX)/share/man
UNITDIR   ?= $(PREFIX)/lib/systemd/system
MAN_PAGES := $(wildcard doc/*.1 doc/*.5 doc/*.8)
UNITS     := $(wildcard conf/*.service)

BUILD     ?= build
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer

LIB_SRCS  := $(wildcard $(addsuffix /*.c,$(addprefix fs/,$(LAYERS))))
# Tools: each tools/NAME/ holds one program, build/scratchfs-NAME, whose main
# is tools/NAME/scratchfs-NAME.c. What several share is a tools/libNAME/
# (build/libsfstoolshared.a): the wipe engine (libwipe: wipe, run, volumed,
# the Slurm plugin) and one daemon per volume with its directories
# (libplugin: volumed and the Slurm plugin).
TOOL_MAINS    := $(wildcard tools/*/scratchfs-*.c)
TOOL_NAMES    := $(patsubst tools/%/,%,$(dir $(TOOL_MAINS)))
SHARED_DIRS   := $(wildcard tools/lib*)
SHARED_SRCS   := $(wildcard $(SHARED_DIRS:%=%/*.c))
# The tools' own code (not their mains), for the tests.
TOOL_OWN_SRCS := $(filter-out $(TOOL_MAINS),$(wildcard $(TOOL_NAMES:%=tools/%/*.c)))
# Tests: every tests/*/test_NAME.c is build/tests/test_NAME; tests/lib/ is
# what they share.
TEST_SRCS := $(sort $(shell find tests -name 'test_*.c' -type f))
TEST_UTIL := $(wildcard tests/lib/*.c)
# The Slurm SPANK plugin: tools/slurm/ (a plugin, not a scratchfs-NAME
# program), tested by tests/slurm/test_slurm.c.
SLURM_SRCS      := $(wildcard tools/slurm/*.c)
MULTIARCH       := $(shell $(CC) -print-multiarch 2>/dev/null)
SLURM_PLUGINDIR ?= $(if $(shell pkg-config --exists slurm 2>/dev/null && echo y),$(shell pkg-config --variable=libdir slurm)/slurm,/usr/lib/$(MULTIARCH)/slurm-wlm)

# $(call objs,BUILDDIR,SOURCES)
objs = $(patsubst %.c,$(1)/%.o,$(2))

LIB_OBJS   = $(call objs,$(BUILD),$(LIB_SRCS))
SHARED_LIB = $(BUILD)/libsfstoolshared.a
TOOL_BINS  = $(TOOL_NAMES:%=$(BUILD)/scratchfs-%)
TEST_BINS  = $(addprefix $(BUILD)/tests/,$(basename $(notdir $(TEST_SRCS))))
BINS       = $(BUILD)/scratchfs $(TOOL_BINS)
SLURM_PLUGIN = $(BUILD)/spank_scratchfs.so
# scratchfs-run is a user command (section 1), installed to BINDIR; the
# rest are for root, in SBINDIR.
USER_BINS  = $(BUILD)/scratchfs-run
ADMIN_BINS = $(filter-out $(USER_BINS),$(BINS))

.PHONY: all deps check check-layers test run install uninstall clean format \
        format-check bench fuzz fuzz-build fuzz-check fuzzers fuzz-corpus
.DEFAULT_GOAL := all
# Keep every object: make would delete the tools' and tests' objects as
# intermediates, so a second make running meanwhile (make check's
# install test, an editor's build) could find them gone at link time.
.SECONDARY:
.SECONDEXPANSION:

all: $(BINS) $(SLURM_PLUGIN)

deps:
	@tools/install-deps.sh

# A tool's private header sits beside its sources; the tools and the tests
# also see the wipe engine's, the tests every tool's and their own library.
$(BUILD)/tools/%.o: CPPFLAGS += $(SHARED_DIRS:%=-I%)
$(BUILD)/tests/%.o: CPPFLAGS += -Itests/lib $(SHARED_DIRS:%=-I%) \
                                $(TOOL_NAMES:%=-Itools/%)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) $(CPPFLAGS) \
		-DSFS_BUILD_DIR='"$(abspath $(BUILD))"' $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libscratchfs.a: $(LIB_OBJS)
	$(AR) rcs $@ $^

$(SHARED_LIB): $(call objs,$(BUILD),$(SHARED_SRCS))
	$(AR) rcs $@ $^

$(BUILD)/tests/libsfstools.a: $(call objs,$(BUILD),$(TOOL_OWN_SRCS))
	$(AR) rcs $@ $^

$(BUILD)/scratchfs: $(BUILD)/fs/main.o $(BUILD)/libscratchfs.a
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $^ $(PKG_LIBS)

$(TOOL_BINS): $(BUILD)/scratchfs-%: $$(call objs,$(BUILD),$$(wildcard tools/%/*.c)) \
              $(SHARED_LIB) $(BUILD)/libscratchfs.a
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $^ $(PKG_LIBS) $(TOOL_PKG_LIBS)

# build/tests/test_NAME from tests/*/test_NAME.c, whichever folder it is in.
$(foreach t,$(TEST_SRCS),$(eval TEST_SRC_$(basename $(notdir $(t))) := $(t)))
$(filter-out $(BUILD)/tests/test_slurm,$(TEST_BINS)): $(BUILD)/tests/%: $$(call objs,$(BUILD),$$(TEST_SRC_$$*)) \
              $(call objs,$(BUILD),$(TEST_UTIL)) $(BUILD)/tests/libsfstools.a \
              $(SHARED_LIB) $(BUILD)/libscratchfs.a
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $^ $(PKG_LIBS) $(TOOL_PKG_LIBS) $(TEST_LIBS)

# slurmd and slurmstepd dlopen the plugin, so it and the libraries it links
# are built again as position-independent code into $(BUILD)/pic, without
# EXTRA_CFLAGS: a sanitized shared object cannot be loaded into an
# unsanitized slurmd. Only the plugin's own symbols are exported.
PIC_LIB_OBJS = $(call objs,$(BUILD)/pic,$(LIB_SRCS) $(SHARED_SRCS))

$(BUILD)/pic/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) -fPIC $(CPPFLAGS) $(SHARED_DIRS:%=-I%) \
		-DSFS_SBINDIR='"$(SBINDIR)"' $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/pic/libsfs.a: $(PIC_LIB_OBJS)
	$(AR) rcs $@ $^

$(SLURM_PLUGIN): $(call objs,$(BUILD)/pic,$(SLURM_SRCS)) $(BUILD)/pic/libsfs.a tools/slurm/exports.map
	$(CC) $(CFLAGS) -shared -o $@ $(filter %.o %.a,$^) \
		-Wl,--version-script=tools/slurm/exports.map -Wl,--as-needed \
		$(PKG_LIBS) $(TOOL_PKG_LIBS)

# The test against a real slurmctld and slurmd also calls the plugin's
# code directly (tools/slurm/ without the SPANK glue).
$(BUILD)/tests/slurm/%.o: CPPFLAGS += -Itools/slurm
$(BUILD)/tests/test_slurm: $(BUILD)/tests/slurm/test_slurm.o \
              $(call objs,$(BUILD),$(filter-out %/spank_scratchfs.c,$(SLURM_SRCS))) \
              $(call objs,$(BUILD),$(TEST_UTIL)) $(BUILD)/tests/libsfstools.a \
              $(SHARED_LIB) $(BUILD)/libscratchfs.a | $(SLURM_PLUGIN)
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $^ $(PKG_LIBS) $(TOOL_PKG_LIBS) $(TEST_LIBS)

# An LD_PRELOAD library that breaks the real binaries on purpose
# (tests/shim/sfs_shim.c; test_selftest), built without sanitizers.
SHIM = $(BUILD)/tests/sfs_shim.so
$(SHIM): tests/shim/sfs_shim.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O2 -g -fPIC -shared $(CPPFLAGS) $(PKG_CFLAGS) \
		-o $@ $< $(PKG_LIBS) -ldl

test: $(BINS) $(TEST_BINS) $(SHIM)
	@tools/run-tests.sh $(BUILD)

# A folder includes only the headers of its own layer and those below.
check-layers:
	@tools/check-layers.sh

# The layering, the whole suite over /dev/fuse, then again under ASan+UBSan
# in a separate build tree over FUSE's io_uring transport (where the kernel
# has it). Targets that install packages first build in a sub-make.
check: deps check-layers
	SFS_TEST_URING=N $(MAKE) test
	SFS_TEST_URING=Y $(MAKE) test BUILD=build/asan EXTRA_CFLAGS='$(SAN_FLAGS)' CFLAGS='-O1 -g'
	$(MAKE) --no-print-directory fuzz-check

# Fuzzing (doc/FUZZING.md): every tests/fuzz/fuzz_NAME.c is a libFuzzer
# harness, built with clang, ASan and UBSan in its own tree as
# build/fuzz/fuzzers/fuzz_NAME. `make fuzz` runs each for FUZZ_SECONDS
# (one at a time, niced); `make fuzz-check` (part of `make check`) replays
# the committed corpora and crash reproducers and runs each for a few
# seconds; FUZZ_HARNESSES="fuzz_a fuzz_b" limits either to those.
# `make fuzz-corpus` writes the seed corpora again.
FUZZ_BUILD   := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_NAMES   := $(filter-out fuzz_util,$(basename $(notdir \
                  $(wildcard tests/fuzz/fuzz_*.c))))
FUZZ_SAN     := -fsanitize=fuzzer-no-link,address,undefined \
                -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_BINS     = $(FUZZ_NAMES:%=$(BUILD)/fuzzers/%)
FUZZ_OBJS     = $(call objs,$(BUILD),tests/fuzz/fuzz_util.c) \
                $(BUILD)/tests/libsfstools.a $(SHARED_LIB) $(BUILD)/libscratchfs.a

fuzzers: $(FUZZ_BINS)

$(FUZZ_BINS): $(BUILD)/fuzzers/%: $(BUILD)/tests/fuzz/%.o $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -fsanitize=fuzzer -o $@ $^ \
		$(PKG_LIBS) $(TOOL_PKG_LIBS)

$(BUILD)/tests/fuzz/gen_corpus: $(BUILD)/tests/fuzz/gen_corpus.o $(FUZZ_OBJS)
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $^ $(PKG_LIBS) $(TOOL_PKG_LIBS)

fuzz-build: deps
	@$(MAKE) --no-print-directory fuzzers BUILD=$(FUZZ_BUILD) CC=clang \
		CFLAGS='-O1 -g' EXTRA_CFLAGS='$(FUZZ_SAN)'

fuzz: fuzz-build
	@FUZZ_HARNESSES='$(FUZZ_HARNESSES)' tools/fuzz.sh run $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-check: fuzz-build
	@FUZZ_HARNESSES='$(FUZZ_HARNESSES)' tools/fuzz.sh check $(FUZZ_BUILD)

fuzz-corpus: deps
	@$(MAKE) --no-print-directory all $(BUILD)/tests/fuzz/gen_corpus
	tests/fuzz/make-corpus.sh $(BUILD)

run: deps
	@$(MAKE) --no-print-directory all
	@tools/demo.sh $(BUILD)

# scratchfs against the plain disk and gocryptfs (doc/PERFORMANCE.md);
# BENCH_QUICK=1 for a smoke run, BENCH_PROFILE=1 for perf profiles.
bench: deps
	@$(MAKE) --no-print-directory all
	bench/bench.sh $(BUILD)

# `mount -t fuse.scratchfs` and fstab go through Debian's mount.fuse
# (-> mount.fuse3), which runs `scratchfs` from root's PATH.
# install: binaries to SBINDIR, the config to SYSCONFDIR/scratchfs (never
# over an existing one), man pages (doc/*.[158]) to MANDIR, systemd units
# (conf/*.service, with @SBINDIR@ and @SYSCONFDIR@ filled in) to UNITDIR.
# Run `systemctl daemon-reload` afterwards. uninstall removes what install
# put there: the config only while it is unchanged, the config directory
# only when empty (a node key file keeps it).
install: $(BINS) $(SLURM_PLUGIN)
	install -Dm755 $(SLURM_PLUGIN) $(DESTDIR)$(SLURM_PLUGINDIR)/$(notdir $(SLURM_PLUGIN))
	for b in $(notdir $(ADMIN_BINS)); do \
		install -Dm755 $(BUILD)/$$b $(DESTDIR)$(SBINDIR)/$$b || exit 1; \
	done
	for b in $(notdir $(USER_BINS)); do \
		install -Dm755 $(BUILD)/$$b $(DESTDIR)$(BINDIR)/$$b || exit 1; \
	done
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
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(notdir $(ADMIN_BINS)))
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(USER_BINS)))
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

FORMAT_SRCS = $(sort $(shell find fs include tests tools -name '*.[ch]'))

format:
	clang-format -i $(FORMAT_SRCS)

format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
