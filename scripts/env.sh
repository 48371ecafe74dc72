# Sourced by every script: the toolchain the kernel and the module are built
# with, and where the built kernel is cached.
export PATH="$HOME/.cargo/bin:$PATH"
export LIBCLANG_PATH=/usr/lib/llvm-19/lib
# The rustup rustc on PATH is another version than rust-web-src: E0514.
ASM_KMAKE_FLAGS=(LLVM=-19 RUSTC=/usr/bin/rustc BINDGEN=bindgen)
ASM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ASM_CACHE=${ASM_CACHE:-/var/cache/asm-kernel}
# Cache key: source package version, the config fragment and the build script.
asm_kernel_key() {
	local ver
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || echo none)
	printf '%s-%s' "$ver" "$(cat "$ASM_TOP/selftests/config" "$ASM_TOP/scripts/build-kernel.sh" \
		/usr/bin/rustc | sha256sum | cut -c1-12)"
}
asm_kdir() { printf '%s/%s' "$ASM_CACHE" "$(asm_kernel_key)"; }
