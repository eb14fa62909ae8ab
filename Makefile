# agentd: the provider's agent. See README.md.
# make            build agentd and agentctl into build/
# make check      install missing build deps, build, run every test
# make demo       install missing build deps, build, run the demo
# make fuzz       build libFuzzer targets (clang) and run each FUZZ_SECONDS
# SANITIZE=1      build with ASan + UBSan      CC=clang  build with clang

CC	?= cc
PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
BINDIR	?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
LIBEXECDIR ?= $(PREFIX)/lib/agentd
DESTDIR	?=
FUZZ_SECONDS ?= 20

VERSION	:= $(shell cat VERSION)
BUILD	:= build
PKGS	:= libsystemd jansson inih

# Deferred (=) so that `make check` can install the packages before use.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))

WARN	:= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
CFLAGS	?= -O2 -g
ALL_CFLAGS = -std=c17 -D_GNU_SOURCE -DAGENTD_VERSION='"$(VERSION)"' \
	-iquote agentd -iquote collectors $(WARN) $(PKG_CFLAGS) $(CFLAGS)
ifeq ($(SANITIZE),1)
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
LDFLAGS	+= -fsanitize=address,undefined
endif

MAINS	:= agentd/agentd.c agentd/agentctl.c
LIB_SRCS := $(filter-out $(MAINS),$(wildcard agentd/*.c collectors/*.c))
OBJ	:= $(BUILD)/obj
LIB_OBJS := $(LIB_SRCS:%.c=$(OBJ)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)

all: $(BUILD)/agentd $(BUILD)/agentctl

$(OBJ)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libagentd.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/agentd: $(OBJ)/agentd/agentd.o $(BUILD)/libagentd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/agentctl: $(OBJ)/agentd/agentctl.o $(BUILD)/libagentd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/tests/%: $(OBJ)/tests/unit/%.o $(BUILD)/libagentd.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka -lm

deps:
	@sh packaging/build-deps.sh

check: deps
	@$(MAKE) --no-print-directory test

# Unit tests run under valgrind unless sanitizers are on (they do not mix).
test: all $(UNIT_BINS)
	@SANITIZE=$(SANITIZE) sh tests/run-unit.sh $(UNIT_BINS)
	@BUILD=$(BUILD) sh tests/integration/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh tests/demo.sh

fuzz:
	@$(MAKE) --no-print-directory deps
	@BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh $(FUZZ_SRCS)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/agentd/conf.d $(DESTDIR)$(LIBEXECDIR)/checks
	install -m 0755 $(BUILD)/agentd $(DESTDIR)$(SBINDIR)/agentd
	install -m 0755 $(BUILD)/agentctl $(DESTDIR)$(BINDIR)/agentctl
	install -m 0644 docs/agentd.conf.example \
	    $(DESTDIR)$(SYSCONFDIR)/agentd/agentd.conf

clean:
	rm -rf $(BUILD)

.PHONY: all deps check test demo fuzz install clean
.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
