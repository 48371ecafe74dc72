# Sourced by every script: the toolchain the kernel and the module are built
# with, and where the built kernels are cached.
export PATH="$HOME/.cargo/bin:$PATH"
export LIBCLANG_PATH=/usr/lib/llvm-19/lib
# The rustup rustc on PATH is another version than rust-web-src: E0514.
ASM_KMAKE_FLAGS=(LLVM=-19 RUSTC=/usr/bin/rustc BINDGEN=bindgen)
ASM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ASM_CACHE=${ASM_CACHE:-/var/cache/asm-kernel}
# The version of the tools and the module (the Makefile reads it likewise).
asm_version() { sed -n 's/^version = "\(.*\)"/\1/p' "$ASM_TOP/tools/Cargo.toml"; }
# Bump when scripts/build-kernel.sh changes how a kernel is built.
ASM_KERNEL_RECIPE=1

# asm_kernel_fragment VARIANT: the configuration fragment of the test kernel
# ("debug": selftests/config), of the benchmark kernel ("bench": the same
# without its debug set, which would dominate what is measured) or of the
# stress kernel ("stress", make stress: the benchmark kernel with kmemleak
# and the sleep-in-atomic checks, without KASAN and lockdep, under which a
# full-scale load/unload cycle takes minutes under TCG and 100 of them
# most of a day).
asm_kernel_fragment() {
	case "$1" in
	debug) cat "$ASM_TOP/selftests/config" ;;
	stress)
		sed '/^# Debug set/,$d' "$ASM_TOP/selftests/config"
		printf 'CONFIG_%s=n\n' KASAN PROVE_LOCKING DEBUG_KMEMLEAK_AUTO_SCAN
		printf 'CONFIG_%s=y\n' DEBUG_ATOMIC_SLEEP DEBUG_KMEMLEAK
		;;
	bench)
		sed '/^# Debug set/,$d' "$ASM_TOP/selftests/config"
		printf 'CONFIG_%s=n\n' KASAN PROVE_LOCKING DEBUG_ATOMIC_SLEEP DEBUG_KMEMLEAK
		# The peers ASM is compared with in make bench: the audit
		# subsystem's syscall rules (auditctl) and bpftrace on the same
		# tracepoints (BPF_SYSCALL and BPF_EVENTS are in vng's set).
		printf 'CONFIG_%s=y\n' AUDIT AUDITSYSCALL
		;;
	*) echo "unknown kernel variant '$1' (debug, bench or stress)" >&2; return 1 ;;
	esac
}

# Cache key: variant, source package version, fragment, recipe, compiler.
asm_kernel_key() {
	local ver sum
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || echo none)
	sum=$({ asm_kernel_fragment "$1" && echo "recipe $ASM_KERNEL_RECIPE" &&
		/usr/bin/rustc --version 2>/dev/null; } | sha256sum | cut -c1-12)
	printf '%s-%s-%s' "$1" "$ver" "$sum"
}
asm_kdir() { printf '%s/%s' "$ASM_CACHE" "$(asm_kernel_key "${1:-debug}")"; }
