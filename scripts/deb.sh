#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
#   deb.sh OUTDIR VERSION      (make deb: build/deb and the tools' version)
#
# Two Debian packages, made with dpkg-deb from what make installs:
#   asm-tools_VERSION_ARCH.deb  make install PREFIX=/usr with the units in
#                               /lib/systemd/system (Debian 12's place):
#                               asmctl and its aliases, asmd, asm-gateway,
#                               man pages, completions, the units, the example
#                               spec (a conffile) and the docs
#   asm-dkms_VERSION_all.deb    make install-dkms: the module's source in
#                               /usr/src/asm-VERSION; its postinst registers it
#                               with dkms and builds it for the running kernel,
#                               its prerm removes it from dkms
# The tools are built already (make deb depends on make tools).
set -euo pipefail
# The packages' files are root's and read-only for others, whatever the
# builder's umask.
umask 022
. "$(dirname "$0")/env.sh"
cd "$ASM_TOP"

out=${1:?usage: deb.sh OUTDIR VERSION}
ver=${2:?usage: deb.sh OUTDIR VERSION}
arch=$(dpkg --print-architecture)
maintainer="ASM maintainers <maintainers@users.noreply.r-seed-dca932a0.example>"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$out"

# copyright PACKAGE ROOT: Debian's /usr/share/doc/PACKAGE/copyright.
copyright() {
	install -d "$2/usr/share/doc/$1"
	cat >"$2/usr/share/doc/$1/copyright" <<-EOF
	Upstream-Name: asm
	Comment: the Agent Supervision Module (asm.ko) and its tools

	Files: *
	License: GPL-2.0
	 On Debian systems, the complete text of the GNU General Public License
	 version 2 can be found in /usr/share/common-licenses/GPL-2.
	EOF
}

# control ROOT FIELDS...: DEBIAN/control with the common fields and the
# installed size.
control() {
	local root=$1
	shift
	install -d "$root/DEBIAN"
	{
		printf '%s\n' "$@"
		echo "Maintainer: $maintainer"
		echo "Section: admin"
		echo "Priority: optional"
		echo "Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)"
	} >"$root/DEBIAN/control"
}

# The libraries the binaries need, as package names: what they link
# (NEEDED) and the newest glibc symbol version they use.
depends() {
	local lib glibc deps=()
	for lib in $(readelf -d "$@" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u); do
		case $lib in
		libc.so.6 | libm.so.6 | libdl.so.2 | libpthread.so.0 | librt.so.1 | ld-linux-x86-64.so.2) ;;
		libgcc_s.so.1) deps+=("libgcc-s1") ;;
		*) echo "deb.sh: $lib: which package has it? (add it to depends())" >&2; return 1 ;;
		esac
	done
	glibc=$(objdump -T "$@" | sed -n 's/.*GLIBC_\([0-9.]*\).*/\1/p' | sort -uV | tail -n1)
	printf 'libc6 (>= %s)' "$glibc"
	for lib in "${deps[@]}"; do printf ', %s' "$lib"; done
}

# asm-tools
tools=$stage/asm-tools
make -s install DESTDIR="$tools" PREFIX=/usr UNITDIR=/lib/systemd/system SYSCONFDIR=/etc >/dev/null
bins=("$tools/usr/bin/asmctl" "$tools/usr/sbin/asmd" "$tools/usr/sbin/asm-gateway")
strip --strip-unneeded --remove-section=.comment "${bins[@]}"
find "$tools/usr/share/man" -type f -exec gzip -9n {} +
deps=$(depends "${bins[@]}")
copyright asm-tools "$tools"
control "$tools" \
	"Package: asm-tools" \
	"Version: $ver" \
	"Architecture: $arch" \
	"Depends: $deps" \
	"Suggests: asm-dkms (= $ver)" \
	"Description: Agent Supervision Module: asmctl, asmd and asm-gateway" \
	" The user-space side of ASM, a Linux kernel module (asm-dkms) that" \
	" supervises AI-agent processes: asmctl (with the aliases asmstatus," \
	" asmlist, asminfo, asmpolicy and compliance) shows and changes what the" \
	" module knows, asmd launches agents from /etc/asm/agents and restarts" \
	" them, asm-gateway answers the agents' LLM requests.  systemd units for" \
	" asmd and asm-gateway are included, not enabled."
find "$tools/etc" -type f | sed "s|^$tools||" >"$tools/DEBIAN/conffiles"
dpkg-deb --root-owner-group --build "$tools" "$out/asm-tools_${ver}_${arch}.deb" >/dev/null

# asm-dkms
dkms=$stage/asm-dkms
make -s install-dkms DESTDIR="$dkms" >/dev/null
copyright asm-dkms "$dkms"
control "$dkms" \
	"Package: asm-dkms" \
	"Version: $ver" \
	"Architecture: all" \
	"Depends: dkms (>= 3.0), make" \
	"Description: Agent Supervision Module: asm.ko source for DKMS" \
	" ASM supervises AI-agent processes from inside the kernel.  This package" \
	" has the source of its Rust module, asm.ko; DKMS builds it for every" \
	" installed kernel built with CONFIG_RUST=y, with the rustc and C compiler" \
	" that kernel was built with (no stock Debian kernel has CONFIG_RUST)."
cat >"$dkms/DEBIAN/postinst" <<EOF
#!/bin/sh
# Register asm/$ver with dkms and build and install it for the running
# kernel.  A kernel it cannot be built for (no CONFIG_RUST, no headers, not
# the kernel's rustc: dkms shows why) leaves the package installed: dkms
# builds asm.ko for each kernel installed later.
set -e
if [ "\$1" = configure ]; then
	dkms status -m asm -v $ver | grep -q . || dkms add -m asm -v $ver
	kver=\$(uname -r)
	if [ -e "/lib/modules/\$kver/build" ]; then
		dkms install -m asm -v $ver -k "\$kver" ||
			echo "asm-dkms: asm.ko was not built for kernel \$kver (see above); after fixing that: dkms install asm/$ver -k \$kver" >&2
	else
		echo "asm-dkms: no headers for the running kernel \$kver: asm.ko is built for each kernel whose headers are installed" >&2
	fi
fi
exit 0
EOF
cat >"$dkms/DEBIAN/prerm" <<EOF
#!/bin/sh
# Unregister asm/$ver from dkms, removing the modules it built.
set -e
case "\$1" in
remove | upgrade | deconfigure)
	if dkms status -m asm -v $ver | grep -q .; then
		dkms remove -m asm -v $ver --all
	fi
	;;
esac
exit 0
EOF
chmod 755 "$dkms/DEBIAN/postinst" "$dkms/DEBIAN/prerm"
dpkg-deb --root-owner-group --build "$dkms" "$out/asm-dkms_${ver}_all.deb" >/dev/null
echo "$out/asm-tools_${ver}_${arch}.deb"
echo "$out/asm-dkms_${ver}_all.deb"
