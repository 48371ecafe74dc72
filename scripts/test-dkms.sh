#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
#   test-dkms.sh [KDIR]     (default: the debug test kernel's tree)
#
# dkms builds asm.ko against the test kernel's tree from the source that
# make install-dkms installs, in a scratch dkms tree (not /var/lib/dkms),
# and the module's vermagic is the kernel's.  A kernel without CONFIG_RUST
# and a rustc other than the kernel's are refused by make and by dkms with
# a message that names them.  Run as root (dkms is); about two minutes.
. "$(dirname "$0")/test-lib.sh"
kdir=${1:-$(scripts/build-kernel.sh debug)}
kver=$(cat "$kdir/include/config/kernel.release")
ver=$(asm_version)
# has FILE TEXT: FILE says TEXT, or the test fails showing FILE.
has() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "no '$2' in the output above"; }; }

# The source: what Kbuild needs (every tracked file of src/ and include/),
# the Makefile, the prerequisite check and dkms.conf; nothing else.
make -s install-dkms DESTDIR="$tmp/root"
src=$tmp/root/usr/src/asm-$ver
top=$(cd "$src" && echo *)
[ "$top" = "Kbuild Makefile asm_mod.rs dkms.conf include scripts src" ] || fail "$src holds: $top"
[ "$(cd "$src" && find src include scripts -type f | sort)" = \
	"$( (git ls-files src include && echo scripts/kernel-prereqs.sh) | sort)" ] ||
	fail "$src: src/, include/ or scripts/ differ from the tracked files"
has "$src/dkms.conf" "PACKAGE_VERSION=\"$ver\""
[ -x "$src/scripts/kernel-prereqs.sh" ] || fail "scripts/kernel-prereqs.sh is not executable"

# dkms_in NAME ARGS...: dkms with its own trees in $tmp/dkms-NAME.
dkms_in() {
	local tree=$tmp/dkms-$1
	shift
	mkdir -p "$tree/tree" "$tree/modules"
	dkms --dkmstree "$tree/tree" --sourcetree "$tmp/root/usr/src" --installtree "$tree/modules" "$@"
}

# A kernel without Rust: its configuration without CONFIG_RUST.
norust=$tmp/norust
mkdir -p "$norust/include/config"
sed '/^CONFIG_RUST=/d' "$kdir/.config" >"$norust/.config"
cp "$kdir/include/config/kernel.release" "$norust/include/config/"
if make -s module KDIR="$norust" >"$tmp/make.out" 2>&1; then
	fail "make module KDIR=<kernel without CONFIG_RUST> succeeded"
fi
has "$tmp/make.out" "needs a kernel built with CONFIG_RUST=y"
[ "$(wc -l <"$tmp/make.out")" -le 6 ] || { cat "$tmp/make.out" >&2; fail "make says more than the prerequisite"; }
rc=0
dkms_in norust build -m asm -v "$ver" -k "$kver" --kernelsourcedir "$norust" >"$tmp/dkms.out" 2>&1 || rc=$?
[ "$rc" = 77 ] || { cat "$tmp/dkms.out" >&2; fail "dkms build for a kernel without CONFIG_RUST: status $rc, not 77 (skipped)"; }
has "$tmp/dkms.out" "asm: kernel $kver was built without CONFIG_RUST=y"
echo "dkms, kernel without CONFIG_RUST (status $rc):"
sed 's/^/  /' "$tmp/dkms.out"

# The test kernel with another rustc than its own.
want=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"$/\1/p' "$kdir/.config")
mkdir "$tmp/bin"
printf '#!/bin/sh\necho "rustc 1.0.0 (not the kernel'"'"'s)"\n' >"$tmp/bin/rustc"
chmod +x "$tmp/bin/rustc"
if make -s module KDIR="$kdir" RUSTC="$tmp/bin/rustc" >"$tmp/make.out" 2>&1; then
	fail "make module with another rustc succeeded"
fi
has "$tmp/make.out" "but RUSTC=$tmp/bin/rustc is rustc 1.0.0"
if RUSTC=$tmp/bin/rustc dkms_in rustc build -m asm -v "$ver" -k "$kver" --kernelsourcedir "$kdir" >"$tmp/dkms.out" 2>&1; then
	fail "dkms build with another rustc succeeded"
fi
has "$tmp/dkms.out" "The kernel was built with $want,"

# The build.
start=$(date +%s)
if ! dkms_in ok build -m asm -v "$ver" -k "$kver" --kernelsourcedir "$kdir" >"$tmp/dkms.out" 2>&1; then
	cat "$tmp/dkms.out" "$tmp/dkms-ok/tree/asm/$ver/build/make.log" >&2 2>/dev/null || true
	fail "dkms build against $kdir failed"
fi
ko=$tmp/dkms-ok/tree/asm/$ver/$kver/$(uname -m)/module/asm.ko
[ -f "$ko" ] || { cat "$tmp/dkms.out" >&2; fail "dkms built no $ko"; }
[ "$(modinfo -F name "$ko")" = asm ] || fail "$ko: modinfo name '$(modinfo -F name "$ko")'"
# The kernel's vermagic: that of a module built with the kernel.
ref=$(find "$kdir/fs" -name '*.ko' -print -quit)
[ -n "$ref" ] || fail "$kdir has no module of its own to compare vermagic with"
magic=$(modinfo -F vermagic "$ko")
[ "$magic" = "$(modinfo -F vermagic "$ref")" ] || fail "vermagic '$magic', the kernel's is '$(modinfo -F vermagic "$ref")'"
echo "dkms build: asm/$ver for $kver in $(($(date +%s) - start)) s, vermagic '$magic'"
