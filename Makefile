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
UNITDIR	?= /usr/lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
TMPFILESDIR ?= /usr/lib/tmpfiles.d
MANDIR	?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
DESTDIR	?=
FUZZ_SECONDS ?= 20

VERSION	:= $(shell cat VERSION)
BUILD	:= build
PKGS	:= libsystemd jansson inih
# Only the reporter, agentctl and the portal load libcurl: it costs a process
# 6-8 MiB of RSS, which agentd's main process must not pay.
NET_PKGS := libcurl zlib
PORTAL_PKGS := libmicrohttpd sqlite3 gnutls libsodium
# Only the backup engine (backup/, build/libbackup.a) and what links it load
# libarchive and libsodium; agentd and the reporter never do. The portal
# links libsodium too, for Argon2id password hashes (portal/account.c).
BACKUP_PKGS := libarchive libsodium nettle libzstd
# libssh2 for SFTP targets: in agentd-backup and agentctl, whose network
# children alone call it (agentd-support links it through SUPPORT_LIBS).
SFTP_LIBS = $(shell pkg-config --libs libssh2)
# The support tunnel engine (support/, build/libsupport.a): libssh2 and
# nettle (host key fingerprints), only in what links the tunnel.
SUPPORT_LIBS = $(shell pkg-config --libs libssh2 nettle)

# Deferred (=) so that `make check` can install the packages before use.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) $(NET_PKGS) $(PORTAL_PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))
NET_LIBS = $(shell pkg-config --libs $(NET_PKGS))
PORTAL_LIBS = $(shell pkg-config --libs $(PORTAL_PKGS))
BACKUP_CFLAGS = $(shell pkg-config --cflags $(BACKUP_PKGS))
BACKUP_LIBS = $(shell pkg-config --libs $(BACKUP_PKGS))
# support/sshkey.c makes the agent's key with libsodium (agentctl only).
SODIUM_CFLAGS = $(shell pkg-config --cflags libsodium)

WARN	:= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
CFLAGS	?= -O2 -g
ALL_CFLAGS = -std=c17 -D_GNU_SOURCE -DAGENTD_VERSION='"$(VERSION)"' \
	-DAGENTD_LIBEXECDIR='"$(LIBEXECDIR)"' \
	$(WARN) $(PKG_CFLAGS) $(CFLAGS)
# The layers (docs/architecture.md): lib <- collectors <- agentd, and
# lib <- portal. Each directory sees only the headers it may use, so an
# include across the layers fails the build. Tests, bench and fuzz see all.
LIB_INC	:= -iquote lib
COLLECTORS_INC := -iquote collectors $(LIB_INC)
AGENTD_INC := -iquote agentd $(COLLECTORS_INC)
PORTAL_INC := -iquote portal $(LIB_INC)
BACKUP_INC := -iquote backup $(LIB_INC)
SUPPORT_INC := -iquote support $(LIB_INC)
ALL_INC	:= -iquote agentd -iquote collectors -iquote portal -iquote backup \
	-iquote support $(LIB_INC)
ifeq ($(SANITIZE),1)
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
LDFLAGS	+= -fsanitize=address,undefined
endif

MAINS	:= agentd/agentd.c agentd/agentctl.c agentd/reporter.c portal/portal.c \
	backup/agentd-backup.c support/agentd-support.c agentd/certcheck.c \
	agentd/agentd-check-smart.c
COMMON_SRCS := $(wildcard lib/*.c)
AGENT_SRCS := $(filter-out $(MAINS),$(wildcard agentd/*.c collectors/*.c))
PORTAL_SRCS := $(filter-out $(MAINS),$(wildcard portal/*.c))
BACKUP_SRCS := $(filter-out $(MAINS) backup/target_sftp.c backup/sftp_child.c,$(wildcard backup/*.c))
SUPPORT_SRCS := $(filter-out $(MAINS),$(wildcard support/*.c))
OBJ	:= $(BUILD)/obj
# The SFTP parts link libssh2: only the programs that start the network
# child (agentd-backup, agentctl) take them, never libbackup.a's users.
SFTP_OBJS := $(OBJ)/backup/sftp_child.o $(OBJ)/backup/target_sftp.o
COMMON_OBJS := $(COMMON_SRCS:%.c=$(OBJ)/%.o)
AGENT_OBJS := $(AGENT_SRCS:%.c=$(OBJ)/%.o)
PORTAL_OBJS := $(PORTAL_SRCS:%.c=$(OBJ)/%.o)
BACKUP_OBJS := $(BACKUP_SRCS:%.c=$(OBJ)/%.o)
SUPPORT_OBJS := $(SUPPORT_SRCS:%.c=$(OBJ)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPERS := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
BINS	:= $(BUILD)/agentd $(BUILD)/agentctl $(BUILD)/agentd-check-smart \
	$(if $(wildcard agentd/reporter.c),$(BUILD)/agentd-reporter) \
	$(if $(wildcard agentd/certcheck.c),$(BUILD)/agentd-certcheck) \
	$(if $(wildcard portal/portal.c),$(BUILD)/agentd-portal) \
	$(if $(wildcard backup/agentd-backup.c),$(BUILD)/agentd-backup) \
	$(if $(wildcard support/agentd-support.c),$(BUILD)/agentd-support)
LDFLAGS	+= -Wl,--as-needed

all: $(BINS) $(if $(BACKUP_OBJS),$(BUILD)/libbackup.a) \
	$(if $(SUPPORT_OBJS),$(BUILD)/libsupport.a)

# One pattern rule per layer, each with its own include paths; the most
# specific pattern wins, so the last rule is only for tests/ and bench/.
$(OBJ)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LIB_INC) -MMD -MP -c -o $@ $<

$(OBJ)/collectors/%.o: collectors/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(COLLECTORS_INC) -MMD -MP -c -o $@ $<

$(OBJ)/agentd/%.o: agentd/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(AGENTD_INC) -MMD -MP -c -o $@ $<

$(OBJ)/portal/%.o: portal/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PORTAL_INC) -MMD -MP -c -o $@ $<

$(OBJ)/backup/%.o: backup/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(BACKUP_CFLAGS) $(BACKUP_INC) -MMD -MP -c -o $@ $<

$(OBJ)/support/%.o: support/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SODIUM_CFLAGS) $(SUPPORT_INC) -MMD -MP -c -o $@ $<

# agentctl runs the engine itself as root (backup list, verify, forget):
# of the agent's programs it alone sees backup/ and links libbackup. It
# also makes the agent's support key (support/sshkey.c, libsodium), but
# never links the tunnel (libssh2 stays out: --as-needed and no tunnel
# symbol).
$(OBJ)/agentd/agentctl.o: agentd/agentctl.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(BACKUP_CFLAGS) $(AGENTD_INC) -iquote backup -iquote support -MMD -MP -c -o $@ $<

$(OBJ)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(BACKUP_CFLAGS) $(ALL_INC) -MMD -MP -c -o $@ $<

$(BUILD)/libcommon.a: $(COMMON_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libagentd.a: $(AGENT_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libbackup.a: $(BACKUP_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/agentd: $(OBJ)/agentd/agentd.o $(BUILD)/libagentd.a $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/agentctl: $(OBJ)/agentd/agentctl.o $(SFTP_OBJS) $(BUILD)/libagentd.a $(BUILD)/libbackup.a $(BUILD)/libsupport.a $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(NET_LIBS) $(BACKUP_LIBS) $(SFTP_LIBS) -lm

# The bundled SMART check (a Nagios plugin, installed in checks/): smartctl's
# JSON through collectors/smart.c; jansson and lib/ only.
$(BUILD)/agentd-check-smart: $(OBJ)/agentd/agentd-check-smart.o $(BUILD)/libagentd.a $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/agentd-reporter: $(OBJ)/agentd/reporter.o $(BUILD)/libagentd.a $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(NET_LIBS) -lm

# The certificates collector's probe: GnuTLS (already the portal's) loads
# here, in a child of agentd, and never in agentd itself.
$(BUILD)/agentd-certcheck: $(OBJ)/agentd/certcheck.o
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs jansson gnutls)

# The backup helper: the engine and lib/ only; libarchive and libsodium
# load here and never in agentd.
$(BUILD)/agentd-backup: $(OBJ)/backup/agentd-backup.o $(SFTP_OBJS) $(BUILD)/libbackup.a $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(BACKUP_LIBS) $(SFTP_LIBS) -lm

# The engine's test driver, for the backup integration tests and
# bench/backup; built with the same flags (and sanitizers) as the rest.
$(BUILD)/backuptool: $(OBJ)/tests/integration/backup/backuptool.o $(BUILD)/libbackup.a $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(BACKUP_LIBS) -lm

$(BUILD)/sftptool: $(OBJ)/tests/integration/backup/sftptool.o $(OBJ)/backup/target_sftp.o $(BUILD)/libbackup.a $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(BACKUP_LIBS) $(SFTP_LIBS) -lm

# The support tunnel engine: lib/ and itself only.
$(BUILD)/libsupport.a: $(SUPPORT_OBJS)
	rm -f $@
	ar rcs $@ $^

# Its test driver, for tests/integration/test_support_tunnel.sh and
# bench/tunnel.
$(BUILD)/tunneltool: $(OBJ)/tests/integration/support/tunneltool.o $(BUILD)/libsupport.a $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(SUPPORT_LIBS) -lm

# The support helper: the tunnel and lib/ only; libssh2 loads here and
# never in agentd (tests/integration/test_support_helper.sh checks).
$(BUILD)/agentd-support: $(OBJ)/support/agentd-support.o $(BUILD)/libsupport.a $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(SUPPORT_LIBS) -lpthread -lm

# The web app (portal/web/*) as C arrays: portal/web-embed.sh runs xxd -i
# over each file; portal/web.c serves them.
WEB_FILES := $(sort $(wildcard portal/web/*.html portal/web/*.js portal/web/*.css))
$(BUILD)/webassets.c: portal/web-embed.sh $(WEB_FILES)
	@mkdir -p $(@D)
	sh portal/web-embed.sh $@ $(WEB_FILES)

$(OBJ)/webassets.o: $(BUILD)/webassets.c portal/web.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PORTAL_INC) -c -o $@ $<

$(BUILD)/libportal.a: $(PORTAL_OBJS) $(OBJ)/webassets.o
	rm -f $@
	ar rcs $@ $^

# The portal links lib/ and itself only: no agent code. nettle (already
# under GnuTLS) for lib/hostkey.c, which checks an agent's ssh_key.
$(BUILD)/agentd-portal: $(OBJ)/portal/portal.o $(BUILD)/libportal.a $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(NET_LIBS) $(PORTAL_LIBS) $(shell pkg-config --libs nettle) -lm

# Unit tests link everything; --as-needed keeps what each one uses.
$(BUILD)/tests/%: $(OBJ)/tests/unit/%.o $(UNIT_HELPERS:%.c=$(OBJ)/%.o) $(if $(PORTAL_OBJS),$(BUILD)/libportal.a) $(if $(BACKUP_OBJS),$(BUILD)/libbackup.a) $(if $(SUPPORT_OBJS),$(BUILD)/libsupport.a) $(BUILD)/libagentd.a $(BUILD)/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(NET_LIBS) $(PORTAL_LIBS) $(BACKUP_LIBS) -lcmocka -lm

deps:
	@sh packaging/build-deps.sh

check: deps
	@$(MAKE) --no-print-directory lint test

# Every json_pack/json_unpack format checked against its arguments.
lint:
	@python3 tests/lint/jsonfmt.py $(wildcard lib/*.c agentd/*.c \
	    collectors/*.c portal/*.c backup/*.c support/*.c tests/*/*.c \
	    tests/*/*/*.c)

# Unit tests run under valgrind unless sanitizers are on (they do not mix).
test: all $(UNIT_BINS) $(BUILD)/backuptool $(BUILD)/sftptool $(BUILD)/tunneltool
	@SANITIZE=$(SANITIZE) sh tests/run-unit.sh $(UNIT_BINS)
	@BUILD=$(BUILD) sh tests/integration/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh tests/demo.sh

fuzz:
	@$(MAKE) --no-print-directory deps
	@BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh $(FUZZ_SRCS)

# Packages and the system test (issue 4): scripts under packaging/ and
# tests/system/ do the work.
deb:
	@sh packaging/build-deb.sh

rpm:
	@sh packaging/build-rpm.sh

check-system:
	@sh tests/system/run.sh

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/agentd/conf.d $(DESTDIR)$(LIBEXECDIR)/checks
	install -m 0755 $(BUILD)/agentd $(DESTDIR)$(SBINDIR)/agentd
	install -m 0755 $(BUILD)/agentctl $(DESTDIR)$(BINDIR)/agentctl
	install -m 0755 $(BUILD)/agentd-check-smart $(DESTDIR)$(LIBEXECDIR)/checks/agentd-check-smart
	$(if $(wildcard $(BUILD)/agentd-reporter),install -m 0755 $(BUILD)/agentd-reporter $(DESTDIR)$(LIBEXECDIR)/agentd-reporter)
	$(if $(wildcard $(BUILD)/agentd-certcheck),install -m 0755 $(BUILD)/agentd-certcheck $(DESTDIR)$(LIBEXECDIR)/agentd-certcheck)
	$(if $(wildcard $(BUILD)/agentd-backup),install -m 0755 $(BUILD)/agentd-backup $(DESTDIR)$(LIBEXECDIR)/agentd-backup)
	$(if $(wildcard $(BUILD)/agentd-support),install -m 0755 $(BUILD)/agentd-support $(DESTDIR)$(LIBEXECDIR)/agentd-support)
	$(if $(wildcard $(BUILD)/agentd-portal),install -m 0755 $(BUILD)/agentd-portal $(DESTDIR)$(SBINDIR)/agentd-portal)
	install -m 0644 docs/agentd.conf.example \
	    $(DESTDIR)$(SYSCONFDIR)/agentd/agentd.conf
# The units name /usr/sbin and /usr/lib/agentd (packages use PREFIX=/usr);
# follow SBINDIR and LIBEXECDIR.
	$(foreach f,$(wildcard systemd/*.service systemd/*.path systemd/*.timer),install -D -m 0644 $(f) $(DESTDIR)$(UNITDIR)/$(notdir $(f)) && \
	    sed -i -e 's|=/usr/sbin/|=$(SBINDIR)/|' -e 's|=/usr/lib/agentd/|=$(LIBEXECDIR)/|' $(DESTDIR)$(UNITDIR)/$(notdir $(f));)
	$(if $(wildcard systemd/agentd.sysusers),install -D -m 0644 systemd/agentd.sysusers $(DESTDIR)$(SYSUSERSDIR)/agentd.conf)
	$(if $(wildcard systemd/agentd.tmpfiles),install -D -m 0644 systemd/agentd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/agentd.conf)
	$(foreach f,$(wildcard docs/man/*.8),install -D -m 0644 $(f) $(DESTDIR)$(MANDIR)/man8/$(notdir $(f));)
	$(foreach f,$(wildcard docs/man/*.5),install -D -m 0644 $(f) $(DESTDIR)$(MANDIR)/man5/$(notdir $(f));)
	$(if $(wildcard packaging/bash-completion/agentctl),install -D -m 0644 packaging/bash-completion/agentctl $(DESTDIR)$(COMPLETIONDIR)/agentctl)

clean:
	rm -rf $(BUILD)

.PHONY: all deps check lint test demo fuzz install clean deb rpm check-system
.SECONDARY:

-include $(shell find $(OBJ) -name '*.d' -type f 2>/dev/null)
