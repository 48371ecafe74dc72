#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test VM (scripts/vm.sh): every selftests/test_*.sh (or
# those ASM_TESTS names, e.g. "test_policy ring") as a kselftest program
# with nested KTAP, then checks the guest's dmesg and kmemleak for kernel
# reports.  Exits non-zero on any "not ok", any skip and any report.  A
# kernel without kmemleak (the benchmark kernel) is said so on the dmesg
# line; with ASM_REQUIRE_KMEMLEAK=1 (make stress) that line fails instead.
#
# With ASM_CLAIMS set (a directory shared by several VMs, scripts/check.sh)
# each VM runs the tests it claims first, with mkdir, so that the VMs
# share the list; the plan is then printed last.
cd "$(dirname "$0")/.." || exit 1
claims=${ASM_CLAIMS:-}

tests=()
if [ -n "${ASM_TESTS:-}" ]; then
	for name in $ASM_TESTS; do
		name=${name%.sh}
		name=test_${name#test_}
		if [ ! -f "selftests/$name.sh" ]; then
			echo "run.sh: no selftest '$name' (selftests/test_*.sh)" >&2
			exit 2
		fi
		tests+=("selftests/$name.sh")
	done
else
	tests=(selftests/test_*.sh)
fi
nr=$(( ${#tests[@]} + 1 ))
passed=0 failed=0 skipped=0
kmemleak=/sys/kernel/debug/kmemleak
log=$(mktemp /tmp/asm-selftest.XXXXXX)
trap 'rm -f "$log"' EXIT

# Reports before the tests (boot) are not the module's.
dmesg --clear
[ -w "$kmemleak" ] && echo clear > "$kmemleak"

echo "TAP version 13"
[ -z "$claims" ] && echo "1..$nr"
n=0
for t in "${tests[@]}"; do
	name=$(basename "$t")
	if [ -n "$claims" ] && ! mkdir "$claims/$name" 2>/dev/null; then
		continue
	fi
	n=$((n + 1))
	start=$SECONDS
	# The test's lines go out as they come (a long run such as make
	# stress shows its progress), and into $log for the counts below.
	timeout "${ASM_TEST_TIMEOUT:-600}" bash "$t" 2>&1 | tee "$log" | sed -u 's/^/# /'
	rc=${PIPESTATUS[0]}
	out=$(cat "$log")
	echo "# $name: $((SECONDS - start)) s"
	p=$(printf '%s\n' "$out" | grep -cE '^ok [0-9]+' || true)
	f=$(printf '%s\n' "$out" | grep -cE '^not ok [0-9]+' || true)
	s=$(printf '%s\n' "$out" | grep -cE '^ok [0-9]+ .*# SKIP' || true)
	passed=$((passed + p - s)) failed=$((failed + f)) skipped=$((skipped + s))
	if [ "$rc" = 0 ] && [ "$f" = 0 ] && [ "$s" = 0 ]; then
		echo "ok $n selftests: asm: $name"
	else
		[ "$rc" != 0 ] && [ "$f" = 0 ] && failed=$((failed + 1))
		echo "not ok $n selftests: asm: $name # exit=$rc"
	fi
done

# Unload so that kmemleak sees everything the module freed (or did not).
if grep -q '^asm ' /proc/modules; then rmmod asm || failed=$((failed + 1)); fi
n=$((n + 1))
reports=$(dmesg | grep -E 'WARNING: CPU|BUG:|KASAN:|UBSAN:|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|sleeping function called from invalid context|general protection fault|Oops|Call Trace:|kernel BUG|refcount_t:' || true)
leaks="" scanned=""
if [ -w "$kmemleak" ]; then
	# kmemleak reports objects unreferenced for at least 5 seconds.
	sleep 6
	echo scan > "$kmemleak"
	leaks=$(cat "$kmemleak")
elif [ "${ASM_REQUIRE_KMEMLEAK:-0}" = 1 ]; then
	leaks="kmemleak is required (ASM_REQUIRE_KMEMLEAK=1), and $kmemleak is not there"
else
	scanned=" (this kernel has no kmemleak)"
fi
if [ -z "$reports" ] && [ -z "$leaks" ]; then
	echo "ok $n dmesg: no warning, BUG, KASAN, lockdep or kmemleak report$scanned"
	passed=$((passed + 1))
else
	printf '%s\n%s\n' "$reports" "$leaks" | sed 's/^/# /'
	dmesg | tail -n 200 | sed 's/^/# dmesg: /'
	echo "not ok $n dmesg: kernel reports found"
	failed=$((failed + 1))
fi

[ -n "$claims" ] && echo "1..$n"
echo "# selftests: $passed passed, $failed failed, $skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$skipped" = 0 ]
