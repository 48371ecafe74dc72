#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
#   kernel-prereqs.sh KDIR [RUSTC]
#
# Whether asm.ko can be built against the kernel build tree KDIR with the
# Rust compiler RUSTC (default /usr/bin/rustc), checked before Kbuild runs:
# `make module` and dkms (its PRE_BUILD and its make) go through here, so
# that a kernel without Rust or a mismatched compiler is named in a few
# lines instead of a page of compiler errors.  Silent and 0 when the
# build can go ahead; otherwise every missing prerequisite on stderr, 1.
#
# It reads only the tree's configuration: a module must be built with the
# rustc its kernel was built with (rustc refuses crates of another version,
# E0514) against the kernel crate's metadata in rust/, and with the C
# compiler of the kernel (LLVM=-N for clang, as the Makefile passes).  The
# module build runs no bindgen (the kernel's bindings are in rust/ already).
set -u

kdir=${1:?usage: kernel-prereqs.sh KDIR [RUSTC]}
rustc=${2:-/usr/bin/rustc}

release=
problems=
# problem LINE...: one missing prerequisite, said in these lines.
problem() {
	problems="$problems- $1
"
	shift
	for line; do problems="$problems  $line
"; done
}
# report: the problems, if any, and exit 1.
report() {
	[ -n "$problems" ] || return 0
	{
		echo "asm.ko cannot be built against $kdir${release:+ (kernel $release)}:"
		printf '%s' "$problems"
		echo 'See "Installing on a distribution kernel" in Documentation/admin-guide.rst.'
	} >&2
	exit 1
}

if [ ! -d "$kdir" ]; then
	problem "There is no kernel build tree there: install the kernel's headers" \
		"(Debian: linux-headers-$(uname -r) for the running kernel) or pass KDIR=<tree>."
	report
fi
release=$(cat "$kdir/include/config/kernel.release" 2>/dev/null)
config=$kdir/.config
[ -f "$config" ] || config=$kdir/include/config/auto.conf
if [ ! -f "$config" ]; then
	problem "It has no .config: it is not a configured kernel build tree."
	report
fi

# conf NAME: the value of CONFIG_NAME, quotes removed ("" when unset).
conf() {
	sed -n "s/^CONFIG_$1=\"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p" "$config"
}

if [ "$(conf RUST)" != y ]; then
	problem "The kernel was built without Rust support: asm.ko is a Rust module and" \
		"needs a kernel built with CONFIG_RUST=y (no stock Debian kernel has it)."
	report
fi

for f in rust/libkernel.rmeta rust/libmacros.so; do
	if [ ! -e "$kdir/$f" ]; then
		problem "It has CONFIG_RUST=y but no $f: it lacks the Rust crates the kernel" \
			"was built with (6.12's headers packages do not carry them); use the" \
			"kernel's full build tree, or a headers package that ships rust/."
		break
	fi
done

want=$(conf RUSTC_VERSION_TEXT)
if ! have=$("$rustc" --version 2>/dev/null); then
	problem "The kernel was built with $want," \
		"and RUSTC=$rustc cannot be run: install that rustc and pass it as RUSTC=."
elif [ "$have" != "$want" ]; then
	problem "The kernel was built with $want," \
		"but RUSTC=$rustc is $have:" \
		"a Rust module must be built by its kernel's rustc (E0514 otherwise);" \
		"install that rustc and pass it as RUSTC=."
fi

# The Makefile builds with LLVM=-N where the kernel was built by clang N.
cc=$(conf CC_VERSION_TEXT)
if [ "$(conf CC_IS_CLANG)" = y ]; then
	clang=$(conf CLANG_VERSION)
	major=${clang%????}
	if ! command -v "clang-$major" >/dev/null 2>&1 || ! command -v "ld.lld-$major" >/dev/null 2>&1; then
		problem "The kernel was built with $cc: install clang-$major," \
			"lld-$major and llvm-$major (the Makefile builds with LLVM=-$major)."
	fi
elif ! command -v gcc >/dev/null 2>&1; then
	problem "The kernel was built with $cc: install gcc."
fi
report
