# sealnet — see README.md. `sudo make demo` and `sudo make check` are the two entry points.

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
BENCHDIR ?= $(PREFIX)/lib/sealnet/bench
MANDIR ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
# bash-completion loads completions/sealnet from here on the first <Tab> after `sealnet`.
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# Runtimes look for CNI plugins in /opt/cni/bin unless told otherwise: CNIDIR=/opt/cni/bin.
CNIDIR ?= $(PREFIX)/lib/cni
DESTDIR ?=
BUILD ?= build

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := libsodium libb2 libmnl libevent inih libseccomp

# Debian packages the build, the tests and the demo need; `make deps` installs the missing ones.
# prometheus is there for promtool (tests/netns/21 checks the metrics page with it).
# socat talks to the control socket directly (tests/netns/10 sends raw and silent requests).
# ethtool turns segmentation offload off where tests/netns/4x capture the wire.
DEB_PKGS := gcc make pkg-config libsodium-dev libb2-dev libmnl-dev libevent-dev libinih-dev \
	libcmocka-dev iproute2 iputils-ping iperf3 wireguard-go wireguard-tools procps tcpdump \
	nftables curl prometheus socat ethtool

# clang with its sanitizer and libFuzzer runtimes builds the fuzz targets (tests/fuzz); llvm
# has llvm-symbolizer, for stacks with file:line.
DEB_PKGS += clang libclang-rt-dev llvm

# The CNI plugin (tools/cni, docs/cluster.md) reads and writes JSON with json-c, and hands
# addresses out through host-local from containernetworking-plugins; tests/netns/50 reads its
# results with jq.
DEB_PKGS += libjson-c-dev containernetworking-plugins jq

# sealnet registry (tools/registry/, docs/cluster.md) reaches etcd's JSON gateway with libcurl
# (and json-c, above); tests/netns/51 runs a real etcd, over TLS too (openssl makes its CA).
DEB_PKGS += libcurl4-openssl-dev etcd-server openssl

# gnuplot-nox draws the chart of `make bench` (tools/bench/bench.sh --plot).
DEB_PKGS += gnuplot-nox

# clang-format: make style and make style-check (.clang-format).
DEB_PKGS += clang-format

# valgrind: tests/netns/45 runs one sealnetd under memcheck.
DEB_PKGS += valgrind

# libseccomp: sealnetd's system call filter (daemon/privdrop.c, docs/privileges.md).
DEB_PKGS += libseccomp-dev

# android-libboringssl-dev: BoringSSL, as Debian ships it for the Android SDK, whose
# ChaCha20-Poly1305 seals and opens every data message (daemon/cipher_aead.c,
# docs/performance.md, make bench-crypto; handshakes go through libsodium). It sits beside OpenSSL under paths of its own
# (headers in /usr/include/android, libcrypto.so.0 in .../android/), and its symbols carry
# OpenSSL's names without OpenSSL's versions, so one process must not load both: only
# cipher_aead.c sees its headers, and it is linked by path and as needed, so the tool and
# the CNI plugin, which never seal and may load OpenSSL through libcurl, do not get it.
DEB_PKGS += android-libboringssl-dev
BSSL_CFLAGS := -I/usr/include/android
BSSL_LIBDIR = /usr/lib/$(shell $(CC) -print-multiarch)/android
BSSL_LIBS = -Wl,--push-state,--as-needed $(BSSL_LIBDIR)/libcrypto.so -Wl,--pop-state \
	-Wl,-rpath,$(BSSL_LIBDIR)
# private: a target's variables reach its prerequisites (libsealnet.a's objects) otherwise.
$(BUILD)/daemon/cipher_aead.o $(BUILD)/tests/test_cipher: private ALL_CFLAGS += $(BSSL_CFLAGS)

# libssl-dev: OpenSSL's headers, for make bench-crypto's OpenSSL column (the library itself is
# loaded there at run time, apart from BoringSSL).
DEB_PKGS += libssl-dev

# libgcrypt and Nettle: only for make bench-crypto's columns of their ChaCha20-Poly1305.
DEB_PKGS += nettle-dev libgcrypt20-dev

# tests/netns/46 boots Debian's cloud kernel in QEMU to meet the Linux WireGuard module:
# busybox-static is the guest's userland, kmod's depmod and modprobe find the modules the
# guest needs. The kernel package itself is fetched (never installed) by tests/qemu/prepare.sh.
DEB_PKGS += qemu-system-x86 busybox-static kmod

ifeq ($(V),1)
Q :=
else
Q := @
endif

OPT ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wvla -Wcast-qual -Wno-unused-parameter
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
SAN ?=
# Evaluated lazily so that `make deps` can run before pkg-config knows the libraries.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS)) $(BSSL_LIBS)
# What --version prints: the commit, or VERSION= for a release build without git.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
endif
ALL_CFLAGS = -std=gnu11 -pthread $(OPT) $(WARN) $(HARDEN) $(SAN) -MMD -MP -Idaemon $(PKG_CFLAGS) $(CFLAGS) \
	-DSEALNET_VERSION='"$(VERSION)"'
ALL_LDFLAGS = -pthread -pie -Wl,-z,relro,-z,now $(SAN) $(LDFLAGS)

DAEMON_SRCS := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/%.o)
TOOL_SRCS := $(wildcard tools/*.c tools/registry/*.c)
TOOL_OBJS := $(TOOL_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

SEALNETD := $(BUILD)/daemon/sealnetd
SEALNET := $(BUILD)/tools/sealnet
UDPFUZZ := $(BUILD)/tests/udpfuzz
UDPBURST := $(BUILD)/tests/udpburst
PRIVCHECK := $(BUILD)/tests/privcheck
NSS_SNTEST := $(BUILD)/tests/nss/libnss_sntest.so.2
SEALNET_CNI := $(BUILD)/tools/sealnet-cni
CNI_SRCS := $(wildcard tools/cni/*.c)
CNI_OBJS := $(CNI_SRCS:%.c=$(BUILD)/%.o)

.PHONY: all deps check unit netns demo clean install uninstall style asan qemu-guest interop-long

# The convenience links point at the default build only, so an ASan build does not move them.
all: $(SEALNETD) $(SEALNET) $(SEALNET_CNI) $(if $(filter build,$(BUILD)),daemon/sealnetd tools/sealnet)

daemon/sealnetd: $(SEALNETD)
	$(Q)ln -sf ../$(SEALNETD) $@
tools/sealnet: $(SEALNET)
	$(Q)ln -sf ../$(SEALNET) $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libsealnet.a: $(DAEMON_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(SEALNETD): $(BUILD)/daemon/main.o $(BUILD)/libsealnet.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The tool's own libraries: sealnet registry talks to etcd with libcurl and json-c.
TOOL_PKGS := libcurl json-c
$(TOOL_OBJS): ALL_CFLAGS += $(shell $(PKG_CONFIG) --cflags $(TOOL_PKGS))
$(SEALNET): $(TOOL_OBJS) $(BUILD)/libsealnet.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(shell $(PKG_CONFIG) --libs $(TOOL_PKGS))

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libsealnet.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST-CC $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libsealnet.a $(PKG_LIBS) $(UNIT_LIBS) \
		$(shell $(PKG_CONFIG) --cflags --libs cmocka) $(shell sed -n 's/^.*LINK-WRAP: *\([^*]*\).*/\1/p' $<)

# Every test may use the helpers of tests/unit/unit.h.
$(UNIT_BINS): tests/unit/unit.h tests/unit/nldump.h

# The registry's tests include the parts of tools/registry/ they test (entries read with
# json-c, the decision, the requests through tools/request.c, the keys as last read).
REGISTRY_UNIT_SRCS := tools/registry/entry.c tools/registry/decide.c tools/registry/request.c \
	tools/registry/entries.c \
	tools/request.c $(wildcard tools/registry/*.h) tools/request.h
$(BUILD)/tests/test_registry_entry $(BUILD)/tests/test_registry_decide: $(REGISTRY_UNIT_SRCS)
$(BUILD)/tests/test_registry_entry $(BUILD)/tests/test_registry_decide: \
	UNIT_LIBS = $(shell $(PKG_CONFIG) --libs json-c)

# test_counters includes tools/ipc.c, the tool's parser of the counters.
$(BUILD)/tests/test_counters: tools/ipc.c tools/ipc.h

# The CNI plugin: the daemon's netlink.c and addr.c, plus json-c.
$(CNI_OBJS): ALL_CFLAGS += $(shell $(PKG_CONFIG) --cflags json-c)
$(SEALNET_CNI): $(CNI_OBJS) $(BUILD)/libsealnet.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(shell $(PKG_CONFIG) --libs json-c)

# Test tool for tests/netns, one file per mode and a pcap reader of its own; its handshake
# flood computes mac1 with the daemon's cookie.c.
UDPFUZZ_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/tools/udpfuzz/*.c) tests/tools/pcap.c)
$(UDPFUZZ): $(UDPFUZZ_OBJS) $(BUILD)/libsealnet.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# make scale's client of the control socket (tools/bench/scale.sh); libc only.
SCALE := $(BUILD)/tests/scale
$(SCALE): tests/tools/scale.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $<

# Test tool for tests/netns: numbered UDP datagrams through a tunnel, checked on arrival; libc only.
$(UDPBURST): tests/tools/udpburst.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $<

# Test tool for tests/netns/40: the daemon's privilege drop and filter, then a forbidden call.
$(PRIVCHECK): tests/tools/privcheck.c $(BUILD)/libsealnet.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libsealnet.a $(PKG_LIBS)

# Test NSS module for tests/netns/40: a look-up that makes a system call no filter allows.
$(NSS_SNTEST): tests/tools/nss_sntest.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) -std=gnu11 $(OPT) $(WARN) -fPIC -shared -Wl,-soname,$(notdir $@) -o $@ $<

deps:
	@missing=""; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "deps: missing Debian packages:$$missing (run as root)"; exit 1; fi; \
		echo "deps: installing$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

unit: $(UNIT_BINS) $(SEALNET)
	$(Q)tests/run-unit.sh $(UNIT_BINS)
	$(Q)tests/tools.sh $(SEALNET)
	$(Q)tests/bench-report.sh

netns: all $(UDPFUZZ) $(UDPBURST) $(PRIVCHECK) $(NSS_SNTEST)
	$(Q)SEALNETD=$(CURDIR)/$(SEALNETD) SEALNET=$(CURDIR)/$(SEALNET) UDPFUZZ=$(CURDIR)/$(UDPFUZZ) \
		UDPBURST=$(CURDIR)/$(UDPBURST) SEALNET_CNI=$(CURDIR)/$(SEALNET_CNI) \
		PRIVCHECK=$(CURDIR)/$(PRIVCHECK) NSS_SNTEST=$(CURDIR)/$(NSS_SNTEST) tests/netns/run.sh

# The guest of tests/netns/46 (tests/qemu/README.md): Debian's kernel, fetched once into
# build/qemu, and an initramfs made again when its inputs change. The scenario does this
# itself; this target is for doing it ahead.
qemu-guest:
	$(Q)tests/qemu/prepare.sh $(CURDIR)/build/qemu

# tests/netns/46 with its long part: the 120 s rekey initiated by each side, with pings both
# ways throughout (about 6 minutes under TCG). `make check` runs the short form.
interop-long: all
	$(Q)SEALNETD=$(CURDIR)/$(SEALNETD) SEALNET=$(CURDIR)/$(SEALNET) SN_LONG=1 SN_TIMEOUT=900 \
		tests/netns/run.sh 46

check:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory style-check
	$(Q)$(MAKE) --no-print-directory all unit fuzz-smoke
	$(Q)$(MAKE) --no-print-directory netns

# `sealnet bench` with its defaults (docs/bench.md): figures, never pass or fail. Leaves the
# table, the JSON and the chart in bench-results/; BENCH_ARGS="-n 5 -t 10" for more.
BENCH_ARGS ?=
.PHONY: bench
bench:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)mkdir -p bench-results
	$(Q)SEALNETD=$(CURDIR)/$(SEALNETD) $(SEALNET) bench $(BENCH_ARGS) --txt bench-results/bench.txt \
		--json bench-results/bench.json --plot bench-results/bench.svg

# What a daemon holding 1,000 and 10,000 peers costs (issue 14): figures, never pass or fail.
# SCALE_SIZES="1000 2000" for others; root, as the netns scenarios.
SCALE_SIZES ?= 1000 10000
.PHONY: scale
scale: all $(SCALE) $(BUILD)/tests/test_peer_table
	$(Q)$(BUILD)/tests/test_peer_table | grep '^# lookup' || true
	$(Q)SEALNETD=$(CURDIR)/$(SEALNETD) SEALNET=$(CURDIR)/$(SEALNET) SCALE=$(CURDIR)/$(SCALE) \
		tools/bench/scale.sh $(SCALE_SIZES)

# ChaCha20-Poly1305 from libsodium, OpenSSL, BoringSSL, libgcrypt and Nettle, as the datapath
# calls them, for the sizes it sees (tools/bench/crypto.c, docs/performance.md): figures, never
# pass or fail. One thread; CRYPTO_BENCH_ARGS="-r 5 -t 0.5" for more rounds or longer cells.
# libgcrypt and Nettle are linked here only, never into the daemon. OpenSSL is not linked:
# crypto.c loads it with dlopen (in glibc's libc since 2.34, so no -ldl), apart from BoringSSL,
# which cipher_aead.o and crypto_bssl.c (the only file here built with BoringSSL's headers)
# bring in through PKG_LIBS.
BENCH_CRYPTO := $(BUILD)/tools/bench-crypto
BENCH_CRYPTO_BSSL := $(BUILD)/tools/bench/crypto_bssl.o
BENCH_CRYPTO_PKGS := libgcrypt nettle
CRYPTO_BENCH_ARGS ?=
$(BENCH_CRYPTO_BSSL): private ALL_CFLAGS += $(BSSL_CFLAGS)
-include $(BENCH_CRYPTO_BSSL:.o=.d)
# bench-crypto is built, not run, by make unit so that it keeps compiling (here, where the
# variable is set: a prerequisite is expanded when its line is read).
unit: $(BENCH_CRYPTO)
$(BENCH_CRYPTO): tools/bench/crypto.c $(BENCH_CRYPTO_BSSL) $(BUILD)/libsealnet.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(shell $(PKG_CONFIG) --cflags $(BENCH_CRYPTO_PKGS)) $(ALL_LDFLAGS) \
		-o $@ $< $(BENCH_CRYPTO_BSSL) $(BUILD)/libsealnet.a $(PKG_LIBS) \
		$(shell $(PKG_CONFIG) --libs $(BENCH_CRYPTO_PKGS))

.PHONY: bench-crypto
bench-crypto: $(BENCH_CRYPTO)
	$(Q)$(BENCH_CRYPTO) $(CRYPTO_BENCH_ARGS)

demo:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)SEALNETD=$(CURDIR)/$(SEALNETD) SEALNET=$(CURDIR)/$(SEALNET) tests/demo.sh

# Everything `check` runs, built with AddressSanitizer and UBSan in build-asan/. The default
# build is made too: tests/netns/45 runs its sealnetd under valgrind, which cannot run ASan's.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g" SAN="$(ASAN_FLAGS)" all unit netns

# The configuration directory holds private keys (0700), and only an example is installed:
# a real config is the admin's, never overwritten, never removed. The unit names the default
# paths; an install elsewhere gets its own. The sealnet user, which sealnetd switches to once
# set up (docs/privileges.md), is created when missing, but not for a DESTDIR (a package's
# scripts do that); uninstall leaves it, since files may still be its.
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDUNITDIR)
	install -d -m 0700 $(DESTDIR)$(SYSCONFDIR)/sealnet
	install -m 0755 $(SEALNETD) $(DESTDIR)$(SBINDIR)/sealnetd
	install -m 0755 $(SEALNET) $(DESTDIR)$(BINDIR)/sealnet
	install -d $(DESTDIR)$(CNIDIR)
	install -m 0755 $(SEALNET_CNI) $(DESTDIR)$(CNIDIR)/sealnet-cni
	install -d $(DESTDIR)$(BENCHDIR)/systems
	install -m 0755 tools/bench/bench.sh tools/bench/report.sh $(DESTDIR)$(BENCHDIR)/
	install -m 0644 tools/bench/procs.sh tools/bench/drivers.sh tools/bench/measure.sh $(DESTDIR)$(BENCHDIR)/
	install -m 0644 tools/bench/systems/*.sh $(DESTDIR)$(BENCHDIR)/systems/
	install -m 0644 docs/sealnetd.8 docs/sealnet.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 docs/sealnet.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 conf/completion/sealnet.bash $(DESTDIR)$(BASHCOMPDIR)/sealnet
	sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' -e 's|/etc/sealnet/|$(SYSCONFDIR)/sealnet/|g' \
		conf/sealnetd@.service >$(DESTDIR)$(SYSTEMDUNITDIR)/sealnetd@.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/sealnetd@.service
	install -m 0600 conf/sn0.conf.example $(DESTDIR)$(SYSCONFDIR)/sealnet/sn0.conf.example
	@if [ -z "$(DESTDIR)" ] && ! id sealnet >/dev/null 2>&1; then \
		echo "useradd --system sealnet"; \
		useradd --system --user-group --no-create-home --home-dir / \
			--shell /usr/sbin/nologin --comment "sealnet daemon" sealnet; \
	fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/sealnetd $(DESTDIR)$(BINDIR)/sealnet \
		$(DESTDIR)$(CNIDIR)/sealnet-cni \
		$(DESTDIR)$(MANDIR)/man8/sealnetd.8 $(DESTDIR)$(MANDIR)/man8/sealnet.8 \
		$(DESTDIR)$(MANDIR)/man5/sealnet.conf.5 \
		$(DESTDIR)$(BASHCOMPDIR)/sealnet \
		$(DESTDIR)$(SYSTEMDUNITDIR)/sealnetd@.service \
		$(DESTDIR)$(SYSCONFDIR)/sealnet/sn0.conf.example
	rmdir $(DESTDIR)$(SYSCONFDIR)/sealnet 2>/dev/null || true
	rm -rf $(DESTDIR)$(BENCHDIR)
	rmdir $(DESTDIR)$(BENCHDIR)/.. 2>/dev/null || true

# One style for the C of the tree, .clang-format's (clang-format 14). style formats in place;
# style-check changes nothing and fails, naming the files, if style would change any.
STYLE_SRCS = $(wildcard daemon/*.[ch] tools/*.[ch] tools/*/*.[ch] tests/unit/*.[ch] \
	tests/fuzz/*.[ch] tests/tools/*.[ch] tests/tools/*/*.[ch])
CLANG_FORMAT ?= clang-format
.PHONY: style-check
style:
	$(Q)$(CLANG_FORMAT) -i $(STYLE_SRCS)

style-check:
	$(Q)$(CLANG_FORMAT) --dry-run --Werror $(STYLE_SRCS) 2>&1 | \
		sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' | \
		sort -u | { n=0; while read -r f; do echo "style-check: $$f"; n=$$((n + 1)); done; \
		[ $$n = 0 ] || { echo "style-check: $$n files to format (make style)"; exit 1; }; }

clean:
	rm -rf build build-* daemon/sealnetd tools/sealnet

# libFuzzer targets (tests/fuzz/README.md), built with clang in build-fuzz/: the daemon's
# sources are compiled again with the sanitizers and coverage rather than taken from the gcc
# build. `make fuzz` runs each target for FUZZ_SECONDS on a scratch copy of its corpus and
# fails if any crashes; `make fuzz-smoke` is the short run `make check` does.
FUZZ_CC ?= clang
FUZZ_BUILD := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 3
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# The daemon's warnings are gcc's business (no -Werror here); clang's reading of libseccomp's
# SCMP_A0() as a struct missing a field is not worth a screenful in every `make check`.
FUZZ_CFLAGS = -std=gnu11 -pthread -O1 -g $(filter-out -Werror,$(WARN)) -Wno-missing-field-initializers \
	$(FUZZ_SAN) -MMD -MP -Idaemon $(PKG_CFLAGS)
FUZZ_TARGETS := $(filter-out fuzz,$(basename $(notdir $(wildcard tests/fuzz/*.c))))
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/bin/%)
FUZZ_OBJS := $(DAEMON_SRCS:%.c=$(FUZZ_BUILD)/%.o) $(FUZZ_BUILD)/tests/fuzz/fuzz.o
$(FUZZ_BUILD)/daemon/cipher_aead.o: FUZZ_CFLAGS += $(BSSL_CFLAGS)

# The cni target includes the plugin's files (but ipam.c) and links its IPAM code, and json-c.
FUZZ_CNI_OBJS := $(FUZZ_BUILD)/tools/cni/ipam.o
$(FUZZ_BUILD)/bin/cni: $(FUZZ_CNI_OBJS)
$(FUZZ_BUILD)/bin/cni: FUZZ_EXTRA = $(FUZZ_CNI_OBJS) $(shell $(PKG_CONFIG) --libs json-c)

.PHONY: fuzz fuzz-smoke fuzz-build

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ-CC $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(if $(filter tests/%,$<),-Werror) -fsanitize=fuzzer-no-link \
		-c -o $@ $<

$(FUZZ_BUILD)/bin/%: tests/fuzz/%.c $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ-LD $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(FUZZ_EXTRA) $(PKG_LIBS) \
		$(shell sed -n 's/^.*LINK-WRAP: *\([^*]*\).*/\1/p' $< tests/fuzz/fuzz.c)

# The objects are named here so that make does not take them for intermediate files.
fuzz-build: $(FUZZ_OBJS) $(FUZZ_CNI_OBJS) $(FUZZ_BINS)

fuzz: fuzz-build
	$(Q)tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

fuzz-smoke:
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

-include $(FUZZ_OBJS:.o=.d) $(FUZZ_CNI_OBJS:.o=.d) $(FUZZ_BINS:=.d)

-include $(DAEMON_OBJS:.o=.d) $(TOOL_OBJS:.o=.d) $(BENCH_CRYPTO).d $(CNI_OBJS:.o=.d) $(BUILD)/daemon/main.d $(UDPFUZZ_OBJS:.o=.d)
