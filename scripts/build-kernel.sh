#!/usr/bin/env bash
# Build the Rust-enabled debug test kernel from Debian's linux-source-6.12 with
# the fragment in selftests/config, cached in $ASM_CACHE keyed by source
# version, config and this script.  Prints the kernel tree on stdout.
set -euo pipefail
. "$(dirname "$0")/env.sh"

kdir=$(asm_kdir)
if [ -f "$kdir/.asm-built" ]; then
	echo "[kernel] cached: $kdir" >&2
	echo "$kdir"
	exit 0
fi

tarball=$(ls /usr/src/linux-source-6.12.tar.* | head -n1)
echo "[kernel] building $kdir from $tarball (about 21 minutes on 2 cores)" >&2
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
done < "$ASM_TOP/selftests/config"
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
done < "$ASM_TOP/selftests/config"
[ "$bad" = 0 ] || exit 1

make -s -j"$(nproc)" "${ASM_KMAKE_FLAGS[@]}" bzImage modules >&2
touch .asm-built
echo "[kernel] built: $kdir" >&2
echo "$kdir"
