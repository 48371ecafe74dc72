# SPDX-License-Identifier: GPL-2.0
#
#   make [KDIR=<Rust-enabled kernel build tree>]   build asm.ko (default: the
#                                                  running kernel's build dir)
#   make tools          build asmctl and its aliases, asmd, asm-gateway and
#                       asm-mock-llm into tools/bin, and the asm-agent
#                       example (tools/target/release/examples/agent_demo);
#                       their man pages and bash, zsh and fish completions
#                       into tools/target/share
#   make install [PREFIX=/usr/local] [DESTDIR=] [UNITDIR=] [SYSCONFDIR=/etc]
#                       install the tools, aliases, man pages and completions,
#                       the systemd units of asmd and asm-gateway (in
#                       UNITDIR, default PREFIX/lib/systemd/system), an
#                       example agent spec in SYSCONFDIR/asm/agents and the
#                       admin guide
#   make install-dkms [DESTDIR=]
#                       the module's source with its dkms.conf in
#                       DESTDIR/usr/src/asm-VERSION, for `dkms install asm/VERSION`
#   make deb            asm-tools_VERSION_ARCH.deb and asm-dkms_VERSION_all.deb
#                       in build/deb (scripts/deb.sh)
#   make kernel         build (or find cached) the test kernel, print its tree
#   make vm CMD='...'   run CMD in a freshly booted test VM, return its status
#   make demo           the demo: sample agents, then asmstatus and /proc
#   make check          every test: host cargo tests, then the VM selftests
#   make check T='test_policy ring'
#                       only those selftests, in one VM boot
#   make fuzz [OPS=N] [SEED=S]
#                       the ioctl fuzzer: 1 000 000 requests (make check
#                       runs 50 000) in the debug VM, with its dmesg gate
#   make stress [CYCLES=N] [AGENTS=N] [READERS=N]
#                       the stress test at full scale (make check runs it
#                       small, in the debug kernel): 100 load/unload cycles
#                       under 50 agents and 20 readers, 4096 agents at
#                       once, asm-gateway and asmd killed and restarted, in
#                       the stress kernel (the benchmark kernel with
#                       kmemleak); dmesg and kmemleak gate
#   make bench          every probe path's cost, ASM next to the audit
#                       subsystem and a BPF program, the views at 1 to 4096
#                       agents, then fork+exit, syscall, open, gateway and
#                       profiling benchmarks, in one VM boot of the
#                       benchmark kernel (the test kernel without its debug set)
#   make fmt            rustfmt the module's crate (make check checks it)
#   make clippy         clippy on the module's crate (make check runs it)
#   make clean

KDIR ?= /lib/modules/$(shell uname -r)/build
RUSTC ?= /usr/bin/rustc
# A module must be built with the compiler its kernel was built with: for a
# kernel built by clang N, LLVM=-N (scripts/kernel-prereqs.sh checks that
# it is installed).
KLLVM := $(shell sed -n 's/^CONFIG_CLANG_VERSION=\([1-9][0-9]*\)[0-9]\{4\}$$/LLVM=-\1/p' $(KDIR)/.config 2>/dev/null)
KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) $(KLLVM) RUSTC=$(RUSTC) BINDGEN=bindgen
# dkms adds CC=clang LD=ld.lld to its make command for a clang-built kernel;
# LLVM=-N above names the right ones, which those would override.
ifneq ($(KLLVM),)
MAKEOVERRIDES := $(filter-out CC=% LD=%,$(MAKEOVERRIDES))
endif

# rustup's cargo, where the tools are built from a checkout; not in the
# DKMS copy of this file (no tools/ there), which root runs.
ifneq ($(wildcard tools/Cargo.toml),)
export PATH := $(HOME)/.cargo/bin:$(PATH)
endif
export LIBCLANG_PATH := /usr/lib/llvm-19/lib

ALIASES := asmstatus asmlist asminfo asmpolicy compliance
REL := tools/target/release
SHARE := tools/target/share
PREFIX ?= /usr/local
# systemd reads units from /usr/local/lib/systemd/system too; Debian's
# packages put theirs in /lib/systemd/system (make deb does).
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
# One version for the tools and the module: the workspace's.
VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' tools/Cargo.toml)
# What dkms needs to build asm.ko, and nothing else (no build output).
DKMS_SRC = Kbuild Makefile asm_mod.rs scripts/kernel-prereqs.sh \
	$(shell find src include -name '*.rs' -o -name '*.c' -o -name '*.h' | sort)

.PHONY: all module tools install install-dkms deb kernel vm demo check fuzz stress bench fmt clippy clean setup

all: module

module:
	@scripts/kernel-prereqs.sh "$(KDIR)" "$(RUSTC)"
	+$(KMAKE) modules

tools:
	cargo build --quiet --release --manifest-path tools/Cargo.toml
	cargo build --quiet --release --manifest-path tools/Cargo.toml -p asm-agent --examples
	mkdir -p tools/bin
	ln -sf ../target/release/asmctl tools/bin/asmctl
	ln -sf ../target/release/asmd tools/bin/asmd
	ln -sf ../target/release/asm-gateway tools/bin/asm-gateway
	ln -sf ../target/release/asm-mock-llm tools/bin/asm-mock-llm
	for a in $(ALIASES); do ln -sf asmctl tools/bin/$$a; done
	rm -rf $(SHARE)
	mkdir -p $(SHARE)/man/man1 $(SHARE)/man/man8 $(SHARE)/bash-completion/completions \
		$(SHARE)/zsh/site-functions $(SHARE)/fish/vendor_completions.d
	$(REL)/asmctl manpages $(SHARE)/man/man1
	$(REL)/asmd --man-page $(SHARE)/man/man8
	for n in asmctl $(ALIASES); do \
		$(REL)/asmctl completions bash $$n >$(SHARE)/bash-completion/completions/$$n && \
		$(REL)/asmctl completions zsh $$n >$(SHARE)/zsh/site-functions/_$$n && \
		$(REL)/asmctl completions fish $$n >$(SHARE)/fish/vendor_completions.d/$$n.fish || exit 1; \
	done
	$(REL)/asmd --completions bash >$(SHARE)/bash-completion/completions/asmd
	$(REL)/asmd --completions zsh >$(SHARE)/zsh/site-functions/_asmd
	$(REL)/asmd --completions fish >$(SHARE)/fish/vendor_completions.d/asmd.fish

# The binaries in $(PREFIX)/bin (asmctl and its aliases) and sbin (the
# daemons), the man pages, completions and docs under $(PREFIX)/share, the
# units (written for /usr/sbin, /usr/share and /etc: moved to PREFIX and
# SYSCONFDIR) and an example spec that asmd does not read (not *.toml).
UNITSED = s|/usr/sbin/|$(PREFIX)/sbin/|g; s|/usr/share/|$(PREFIX)/share/|g; s|/etc/asm/|$(SYSCONFDIR)/asm/|g
install: tools
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/doc/asm \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/asm/agents
	install -m 755 $(REL)/asmctl $(DESTDIR)$(PREFIX)/bin/asmctl
	for a in $(ALIASES); do ln -sf asmctl $(DESTDIR)$(PREFIX)/bin/$$a; done
	install -m 755 $(REL)/asmd $(REL)/asm-gateway $(DESTDIR)$(PREFIX)/sbin/
	cp -R $(SHARE)/man $(SHARE)/bash-completion $(SHARE)/zsh $(SHARE)/fish $(DESTDIR)$(PREFIX)/share/
	for u in tools/asmd/asmd.service tools/asm-gateway/asm-gateway.service; do \
		sed '$(UNITSED)' $$u >$(DESTDIR)$(UNITDIR)/$${u##*/} && chmod 644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 644 tools/asmd/example.toml $(DESTDIR)$(SYSCONFDIR)/asm/agents/example.toml.sample
	install -m 644 Documentation/admin-guide.rst Documentation/gateway.rst \
		tools/asm-gateway/gateway.example.toml $(DESTDIR)$(PREFIX)/share/doc/asm/

# The source dkms builds from, in /usr/src/asm-VERSION as dkms expects.
install-dkms:
	@[ -n "$(VERSION)" ] || { echo "make install-dkms: no version in tools/Cargo.toml" >&2; exit 1; }
	rm -rf $(DESTDIR)/usr/src/asm-$(VERSION)
	install -d $(DESTDIR)/usr/src/asm-$(VERSION)
	tar -cf - $(DKMS_SRC) | tar --no-same-owner --no-same-permissions -xf - -C $(DESTDIR)/usr/src/asm-$(VERSION)
	sed 's/@VERSION@/$(VERSION)/' dkms.conf.in >$(DESTDIR)/usr/src/asm-$(VERSION)/dkms.conf

deb: tools
	scripts/deb.sh build/deb $(VERSION)

setup:
	scripts/setup.sh

kernel: setup
	@scripts/build-kernel.sh

vm:
	scripts/vm.sh "$$CMD"

demo:
	scripts/vm.sh scripts/demo.sh

check:
	T="$(T)" scripts/check.sh

OPS ?= 1000000
fuzz:
	ASM_FUZZ_OPS=$(OPS) ASM_FUZZ_SEED=$(SEED) ASM_TEST_TIMEOUT=7200 T=test_fuzz scripts/check.sh

CYCLES ?= 100
AGENTS ?= 50
READERS ?= 20
stress:
	ASM_KERNEL=stress ASM_REQUIRE_KMEMLEAK=1 ASM_STRESS_CYCLES=$(CYCLES) ASM_STRESS_AGENTS=$(AGENTS) ASM_STRESS_READERS=$(READERS) \
		ASM_STRESS_MANY=4096 ASM_STRESS_SECONDS=10 ASM_TEST_TIMEOUT=43200 \
		T=test_stress scripts/check.sh

bench:
	ASM_KERNEL=bench scripts/vm.sh "selftests/bench_probes.sh && selftests/bench_peers.sh && selftests/bench_views.sh && selftests/bench_fork.sh fork && selftests/bench_fork.sh syscall && selftests/bench_fork.sh open && selftests/bench_gateway.sh && selftests/bench_profile.sh"

# The module crate: asm_mod.rs and the files its `#[path]` modules name.
fmt:
	rustfmt --edition 2021 asm_mod.rs

# The kernel's CLIPPY=1 with the clippy of the compiler the kernel was built
# with (Debian's, not rustup's); the crate is rebuilt so that it is linted.
clippy:
	touch asm_mod.rs
	$(KMAKE) CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver modules

clean:
	-$(KMAKE) clean
	rm -rf tools/bin .asm-kdir build
	-[ ! -d selftests ] || $(MAKE) -C selftests clean
