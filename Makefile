# scratchfs - plain GNU make. See README.md for the two commands that matter.
#
#   make            build everything into build/
#   make check      install missing packages, unit + mount tests, then the
#                   same suite built with AddressSanitizer + UBSan
#   make run        build and mount an encrypted scratch with built-in defaults
#   make install    DESTDIR= PREFIX=/usr/local

PKGS      := fuse3 libsodium libconfig
TEST_PKGS := criterion
CC        ?= cc
CFLAGS    ?= -O2 -g
STD       := -std=gnu11
WERROR    ?= -Werror
WARN      := -Wall -Wextra $(WERROR) -Wshadow -Wstrict-prototypes \
             -Wmissing-prototypes -Wformat=2 -Wwrite-strings -Wno-format-nonliteral
# Recursive (=) so pkg-config runs after `deps` has installed it.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
TEST_LIBS  = $(shell pkg-config --libs $(TEST_PKGS))
CPPFLAGS  += -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DFUSE_USE_VERSION=312 -Iinclude
PREFIX    ?= /usr/local
SBINDIR   ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc

BUILD     ?= build
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer

LIB_SRCS  := $(filter-out fs/main.c,$(wildcard fs/*.c))
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_UTIL := $(filter-out $(TEST_SRCS),$(wildcard tests/*.c))

# $(call objs,BUILDDIR,SOURCES)
objs = $(patsubst %.c,$(1)/%.o,$(2))

LIB_OBJS   = $(call objs,$(BUILD),$(LIB_SRCS))
TEST_BINS  = $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
BINS       = $(BUILD)/scratchfs

.PHONY: all deps check check-plain check-asan test run install uninstall \
        clean format format-check sweep
.DEFAULT_GOAL := all

all: $(BINS)

deps:
	@tools/install-deps.sh

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) $(CPPFLAGS) \
		-DSFS_BUILD_DIR='"$(abspath $(BUILD))"' $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libscratchfs.a: $(LIB_OBJS)
	$(AR) rcs $@ $^

$(BUILD)/scratchfs: $(BUILD)/fs/main.o $(BUILD)/libscratchfs.a
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(call objs,$(BUILD),$(TEST_UTIL)) $(BUILD)/libscratchfs.a
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

test: $(BINS) $(TEST_BINS)
	@tools/run-tests.sh $(BUILD)

# The whole suite, then again under ASan+UBSan in a separate build tree.
check: deps
	$(MAKE) test
	$(MAKE) test BUILD=build/asan EXTRA_CFLAGS='$(SAN_FLAGS)' CFLAGS='-O1 -g'

run: deps $(BINS)
	@tools/demo.sh $(BUILD)

# `mount -t fuse.scratchfs` and fstab go through Debian's mount.fuse
# (-> mount.fuse3), which runs `scratchfs` from root's PATH.
install: $(BINS)
	install -Dm755 $(BUILD)/scratchfs $(DESTDIR)$(SBINDIR)/scratchfs
	install -d $(DESTDIR)$(SYSCONFDIR)/scratchfs
	test -e $(DESTDIR)$(SYSCONFDIR)/scratchfs/scratchfs.conf || \
		install -m644 conf/scratchfs.conf $(DESTDIR)$(SYSCONFDIR)/scratchfs/scratchfs.conf

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/scratchfs

clean:
	rm -rf build

format:
	clang-format -i fs/*.c include/*.h tests/*.c tests/*.h tools/*.c

format-check:
	clang-format --dry-run --Werror fs/*.c include/*.h tests/*.c tests/*.h

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
