#!/usr/bin/env bash
# make install into a scratch DESTDIR, then use what it installed as a user
# would: the binaries and alias links, man (man -M), and the bash
# completion files bash-completion would load for each name.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$ASM_TOP"
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
fail() { echo "test-install.sh: $*" >&2; exit 1; }
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
	[ "$out" = "$a $(sed -n 's/^version = "\(.*\)"/\1/p' tools/Cargo.toml)" ] || fail "$a --version: '$out'"
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
echo "make install: $(find "$root" -type f | wc -l) files, $(find "$root" -type l | wc -l) links; the binaries, man pages and completions work"
