#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make deb, then read the two packages as dpkg would: their control fields
# (dpkg-deb -I), their files (dpkg-deb -c), the tools' binaries unpacked and
# run, and the dkms package's maintainer scripts run against a dkms that
# records what it is asked to do.
. "$(dirname "$0")/test-lib.sh"
ver=$(asm_version)
arch=$(dpkg --print-architecture)
tools=build/deb/asm-tools_${ver}_${arch}.deb
dkms=build/deb/asm-dkms_${ver}_all.deb
rm -f "$tools" "$dkms"
make -s deb >/dev/null
# field DEB NAME: the control field NAME of DEB.
field() { dpkg-deb -f "$1" "$2"; }
# holds DEB PATH...: DEB's data has each PATH (as dpkg-deb -c lists it).
holds() {
	local deb=$1 p
	shift
	dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$tmp/list"
	for p; do grep -qx -- "$p" "$tmp/list" || fail "$deb: no $p"; done
}

for deb in "$tools" "$dkms"; do
	[ -s "$deb" ] || fail "make deb made no $deb"
	[ "$(field "$deb" Version)" = "$ver" ] || fail "$deb: Version $(field "$deb" Version)"
	[ -n "$(field "$deb" Maintainer)" ] && [ -n "$(field "$deb" Description)" ] ||
		fail "$deb: no Maintainer or Description"
	# Everything root's: dpkg-deb --root-owner-group.
	dpkg-deb -c "$deb" | awk '$2 != "root/root" { exit 1 }' || fail "$deb: files not owned by root"
done

[ "$(field "$tools" Package)" = asm-tools ] && [ "$(field "$tools" Architecture)" = "$arch" ] ||
	fail "$tools: Package or Architecture"
[[ "$(field "$tools" Depends)" =~ ^libc6\ \(\>=\ 2\.[0-9]+\) ]] || fail "$tools: Depends $(field "$tools" Depends)"
holds "$tools" /usr/bin/asmctl /usr/bin/asmstatus /usr/sbin/asmd /usr/sbin/asm-gateway \
	/usr/share/man/man1/asmctl.1.gz /usr/share/man/man8/asmd.8.gz \
	/usr/share/bash-completion/completions/asmctl /lib/systemd/system/asmd.service \
	/lib/systemd/system/asm-gateway.service /etc/asm/agents/example.toml.sample \
	/usr/share/doc/asm-tools/copyright /usr/share/doc/asm/admin-guide.rst
dpkg-deb -I "$tools" conffiles | grep -qx /etc/asm/agents/example.toml.sample ||
	fail "$tools: the example spec is no conffile"
dpkg-deb -x "$tools" "$tmp/tools"
[ "$("$tmp/tools/usr/bin/asmctl" --version)" = "asmctl $ver" ] || fail "$tools: asmctl --version"
grep -qx 'ExecStart=/usr/sbin/asmd --spec /etc/asm/agents --log-dir /var/log/asmd' \
	"$tmp/tools/lib/systemd/system/asmd.service" || fail "$tools: asmd.service's ExecStart"

[ "$(field "$dkms" Package)" = asm-dkms ] && [ "$(field "$dkms" Architecture)" = all ] ||
	fail "$dkms: Package or Architecture"
[[ "$(field "$dkms" Depends)" == *"dkms (>= 3.0)"* ]] || fail "$dkms: Depends $(field "$dkms" Depends)"
holds "$dkms" "/usr/src/asm-$ver/dkms.conf" "/usr/src/asm-$ver/Kbuild" "/usr/src/asm-$ver/Makefile" \
	"/usr/src/asm-$ver/asm_mod.rs" "/usr/src/asm-$ver/src/shim/shim.c" \
	"/usr/src/asm-$ver/include/uapi/linux/asm.h" "/usr/src/asm-$ver/scripts/kernel-prereqs.sh"
if grep -v -e "^/usr/src/asm-$ver/" -e '^/usr/share/doc/asm-dkms/' -e '^/usr/src/$' -e '^/$' \
	-e '^/usr/$' -e '^/usr/share/$' -e '^/usr/share/doc/$' "$tmp/list"; then
	fail "$dkms: files outside its source and doc (above)"
fi

# The maintainer scripts, with a dkms that logs its arguments and knows
# asm once added.
mkdir "$tmp/bin"
cat >"$tmp/bin/dkms" <<EOF
#!/bin/sh
echo "dkms \$*" >>"$tmp/dkms.log"
case "\$1" in
status) [ -e "$tmp/added" ] && echo "asm/$ver: added" ;;
add) touch "$tmp/added" ;;
esac
exit 0
EOF
chmod +x "$tmp/bin/dkms"
dpkg-deb -e "$dkms" "$tmp/ctl"
for s in postinst prerm; do
	[ -x "$tmp/ctl/$s" ] || fail "$dkms: no executable $s"
done
PATH=$tmp/bin:$PATH "$tmp/ctl/postinst" configure >/dev/null 2>&1 || fail "$dkms: postinst configure failed"
PATH=$tmp/bin:$PATH "$tmp/ctl/postinst" configure >/dev/null 2>&1 || fail "$dkms: postinst configure failed the second time"
PATH=$tmp/bin:$PATH "$tmp/ctl/prerm" remove || fail "$dkms: prerm remove failed"
grep -c "^dkms add -m asm -v $ver\$" "$tmp/dkms.log" | grep -qx 1 ||
	fail "$dkms: postinst did not add asm/$ver once: $(cat "$tmp/dkms.log")"
grep -qx "dkms remove -m asm -v $ver --all" "$tmp/dkms.log" ||
	fail "$dkms: prerm did not remove asm/$ver: $(cat "$tmp/dkms.log")"
echo "make deb: $(basename "$tools") and $(basename "$dkms"): their fields, files, binaries and maintainer scripts work"
