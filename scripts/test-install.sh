#!/usr/bin/env bash
# make install into a scratch DESTDIR, then use what it installed as a user
# would: the binaries and alias links, man (man -M), the bash completion
# files bash-completion would load for each name, the systemd units
# (systemd-analyze verify where systemd is installed) and the example spec
# (asmd --check).
. "$(dirname "$0")/test-lib.sh"
dest=$tmp
make -s install DESTDIR="$dest" PREFIX=/usr >/dev/null
root=$dest/usr
for f in bin/asmctl sbin/asmd sbin/asm-gateway share/man/man1/asmctl.1 \
	share/man/man1/asmctl-run.1 share/man/man1/asmstatus.1 share/man/man8/asmd.8 \
	share/bash-completion/completions/asmctl share/bash-completion/completions/asmd \
	share/zsh/site-functions/_asmctl share/fish/vendor_completions.d/asmctl.fish; do
	[ -s "$root/$f" ] || fail "$f: not installed"
done
for a in asmstatus asmlist asminfo asmpolicy compliance; do
	[ "$(readlink "$root/bin/$a")" = asmctl ] || fail "bin/$a: not a link to asmctl"
	[ -s "$root/share/bash-completion/completions/$a" ] || fail "$a: no bash completion"
	out=$("$root/bin/$a" --version) || fail "$a --version: status $?"
	[ "$out" = "$a $(asm_version)" ] || fail "$a --version: '$out'"
done
page=$(MANWIDTH=80 man -M "$root/share/man" -P cat asmctl-run 2>&1) || fail "man asmctl-run: $page"
grep -q -- '--no-landlock' <<<"$page" || fail "man asmctl-run: no --no-landlock in it"
page=$(MANWIDTH=80 man -M "$root/share/man" -P cat 8 asmd 2>&1) || fail "man 8 asmd: $page"
grep -q -- '--log-dir' <<<"$page" || fail "man 8 asmd: no --log-dir in it"
# What bash-completion does on the first TAB after asmlist: source the file
# named after the command, then call the function it registered.
words=$(bash -c '
	source "$1/share/bash-completion/completions/asmlist"
	COMP_WORDS=(asmlist --a) COMP_CWORD=1
	_asmlist asmlist --a asmlist
	echo "${COMPREPLY[*]}"' bash "$root")
[ "$words" = --all ] || fail "asmlist --a<TAB>: '$words'"
# The units name the installed daemons and man pages; systemd-analyze
# verify reads them with those paths moved into DESTDIR (it checks that
# they exist, and warns of what it does not understand).
units=$root/lib/systemd/system
mkdir "$dest/units"
for u in asmd.service asm-gateway.service; do
	[ -s "$units/$u" ] || fail "lib/systemd/system/$u: not installed"
	exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$units/$u")
	[ -x "$dest$exe" ] || fail "$u: ExecStart=$exe is not installed"
	sed "s|/usr/sbin/|$root/sbin/|g" "$units/$u" >"$dest/units/$u"
done
if command -v systemd-analyze >/dev/null; then
	out=$(MANPATH=$root/share/man systemd-analyze verify "$dest"/units/*.service 2>&1) || fail "systemd-analyze verify: $out"
	[ -z "$out" ] || fail "systemd-analyze verify: $out"
fi
mkdir "$dest/agents"
cp "$dest/etc/asm/agents/example.toml.sample" "$dest/agents/example.toml"
out=$("$root/sbin/asmd" --spec "$dest/agents" --check 2>&1) || fail "asmd --check of the example spec: $out"
echo "make install: $(find "$root" -type f | wc -l) files, $(find "$root" -type l | wc -l) links; the binaries, man pages, completions, units and example spec work"
