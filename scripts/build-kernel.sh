#!/usr/bin/env bash
# Build a Rust-enabled kernel from Debian's linux-source-6.12, cached in
# $ASM_CACHE keyed by variant, source version and configuration (see env.sh).
# Prints the kernel tree on stdout.
#
#   build-kernel.sh [debug]   the test kernel: selftests/config, with KASAN,
#                             lockdep, DEBUG_ATOMIC_SLEEP and kmemleak
#   build-kernel.sh bench     the benchmark kernel: the same without the debug set
#   build-kernel.sh stress    the stress kernel (make stress): the benchmark kernel
#                             with kmemleak and DEBUG_ATOMIC_SLEEP
set -euo pipefail
. "$(dirname "$0")/env.sh"

variant=${1:-debug}
fragment=$(asm_kernel_fragment "$variant")
kdir=$(asm_kdir "$variant")
if [ -f "$kdir/.asm-built" ]; then
	echo "[kernel] cached: $kdir" >&2
	echo "$kdir"
	exit 0
fi

tarball=$(ls /usr/src/linux-source-6.12.tar.* | head -n1)
echo "[kernel] building $kdir from $tarball (20 to 45 minutes on 2 cores)" >&2
# Kbuild records absolute paths: build in place; an unfinished tree (no
# marker) is thrown away and rebuilt.
rm -rf "$kdir"
mkdir -p "$kdir"
tar -xf "$tarball" -C "$kdir" --strip-components=1
cd "$kdir"

vng --kconfig >/dev/null
# Apply the fragment, then let Kconfig resolve dependencies with the same
# toolchain as the build (CONFIG_RUST depends on the detected toolchain).
while IFS= read -r line; do
	case "$line" in
	''|'#'*) continue ;;
	*=n) scripts/config -d "${line%%=*}" ;;
	*=y) scripts/config -e "${line%%=*}" ;;
	*=*) scripts/config --set-val "${line%%=*}" "${line#*=}" ;;
	esac
done <<< "$fragment"
make -s "${ASM_KMAKE_FLAGS[@]}" olddefconfig

# olddefconfig silently drops options whose dependencies are off: check.
bad=0
while IFS= read -r line; do
	case "$line" in ''|'#'*) continue ;; esac
	opt=${line%%=*} val=${line#*=}
	if [ "$val" = n ]; then
		if grep -q "^$opt=" .config; then echo "[kernel] $opt still set" >&2; bad=1; fi
	elif ! grep -qx "$opt=$val" .config; then
		echo "[kernel] $opt=$val was dropped by olddefconfig" >&2; bad=1
	fi
done <<< "$fragment"
[ "$bad" = 0 ] || exit 1

make -s -j"$(nproc)" "${ASM_KMAKE_FLAGS[@]}" bzImage modules >&2
touch .asm-built
echo "[kernel] built: $kdir" >&2
echo "$kdir"
