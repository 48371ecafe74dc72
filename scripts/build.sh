#!/usr/bin/env bash
# Build everything a VM boot needs and print the kernel tree: the cached
# test kernel of VARIANT (debug, bench or stress; built the first time), asm.ko
# against it (from clean when the kernel changed), the tools (unless
# ASM_VM_KEEP_TOOLS=1: boot with the tools as they are, for module work
# while the tools are being edited) and the selftest programs.
set -euo pipefail
. "$(dirname "$0")/env.sh"

kdir=$("$ASM_TOP/scripts/build-kernel.sh" "${1:-debug}")
# asm.ko is built for one kernel at a time: start clean when it changes.
if [ "$(cat "$ASM_TOP/.asm-kdir" 2>/dev/null)" != "$kdir" ]; then
	make -s -C "$ASM_TOP" clean KDIR="$kdir" >/dev/null 2>&1 || true
	echo "$kdir" > "$ASM_TOP/.asm-kdir"
fi
make -s -C "$ASM_TOP" module KDIR="$kdir" >&2
[ "${ASM_VM_KEEP_TOOLS:-0}" = 1 ] || make -s -C "$ASM_TOP" tools >&2
make -s -C "$ASM_TOP/selftests" >&2
# The kernel's YNL tool and the genetlink schema, for test_ynl.sh (the
# guest does not see $ASM_CACHE: virtme-ng mounts a tmpfs on /var/cache).
ynl=$ASM_TOP/selftests/build/ynl
rm -rf "$ynl"
mkdir -p "$ynl"
cp -r "$kdir/tools/net/ynl/cli.py" "$kdir/tools/net/ynl/lib" "$ynl/"
cp "$kdir/Documentation/netlink/genetlink.yaml" "$ynl/"
echo "$kdir"
