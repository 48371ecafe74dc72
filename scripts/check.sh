#!/usr/bin/env bash
# Every test: the JSON Schemas, the module's formatting, the tools'
# host-side cargo tests, make install and make deb read back, then (once the
# test kernel is built) clippy, a dkms build against it, and every selftest
# in freshly booted test VMs (scripts/vm.sh).
#
# The selftests are shared by ASM_VMS VMs (default 2) booted at once: each
# takes the next test nobody took yet, and checks its own dmesg and
# kmemleak at the end.  Their output follows one VM after the other.
#
# With CI=true (.ci/run) a host test that cannot run here fails instead of
# skipping (tools/asm-testutil); the tests that need Landlock run in the VM
# (selftests/test_tools_landlock.sh).
#
# T="test_policy ring" (make check T=...) runs only those selftests, in
# one boot, and skips the host checks; ASM_FUZZ_OPS, ASM_FUZZ_SEED, the
# ASM_STRESS_* sizes and ASM_TEST_TIMEOUT (seconds per selftest, default
# 600) reach them.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$ASM_TOP"

tests=${T:-}
case $tests in
*[!A-Za-z0-9_.\ -]*)
	echo "check.sh: T='$tests': selftest names are letters, digits, '_', '-' and '.'" >&2
	exit 2
	;;
esac
vms=${ASM_VMS:-2}
case $vms in
[1-4]) ;;
*) echo "check.sh: ASM_VMS=$vms: 1 to 4 VMs" >&2; exit 2 ;;
esac

# The tools' test programs that hold landlock_live tests, for
# selftests/test_tools_landlock.sh to run in the VM (whose kernel has
# Landlock): built by cargo test, listed here with how many each holds.
list_tool_tests() {
	local list=tools/target/test-programs.list
	mkdir -p tools/target
	cargo test --quiet --no-run --message-format=json --manifest-path tools/Cargo.toml |
		python3 -c '
import json, subprocess, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") != "compiler-artifact" or not m["profile"]["test"] or not m.get("executable"):
        continue
    prog = m["executable"]
    names = subprocess.run([prog, "--list"], check=True, capture_output=True, text=True).stdout
    n = sum(1 for l in names.splitlines() if "landlock_live" in l and l.endswith(": test"))
    if n:
        print(prog, n)' >"$list.new"
	mv "$list.new" "$list"
}

scripts/setup.sh
if [ -n "$tests" ]; then
	# Named as run.sh takes them: test_ and .sh may be left out.
	for name in $tests; do
		name=${name%.sh}
		[ "test_${name#test_}" = test_tools_landlock ] && list_tool_tests
	done
	echo "== VM: selftests $tests"
	# `make fuzz` and `make stress` set these (numbers only).
	env=
	for v in ASM_FUZZ_OPS ASM_FUZZ_SEED ASM_STRESS_CYCLES ASM_STRESS_AGENTS \
		ASM_STRESS_READERS ASM_STRESS_MANY ASM_STRESS_SECONDS ASM_TEST_TIMEOUT \
		ASM_REQUIRE_KMEMLEAK; do
		val=${!v:-}
		case $val in
		'') ;;
		*[!0-9]*) echo "check.sh: $v='$val': a number" >&2; exit 2 ;;
		*) env="$env $v=$val" ;;
		esac
	done
	exec scripts/vm.sh "$env ASM_TESTS='$tests' selftests/run.sh"
fi

echo "== host: the JSON Schemas (Documentation/schemas): valid, used by selftests/test_schemas.sh, the examples"
/usr/bin/python3 selftests/json_schemas.py check
echo "== host: rustfmt --check (module), cargo test (tools; those that need Landlock run in the VM)"
rustfmt --edition 2021 --check asm_mod.rs
cargo test --quiet --manifest-path tools/Cargo.toml -- --skip landlock_live
list_tool_tests
echo "== host: make install (tools, man pages, completions, units) into a scratch DESTDIR"
scripts/test-install.sh
echo "== host: make deb (asm-tools, asm-dkms)"
scripts/test-deb.sh

# Build once (the kernel, asm.ko, tools, selftest programs), then boot.
kdir=$(scripts/build.sh debug)
echo "== host: clippy (module), a build without warnings (objtool's too)"
if ! out=$(make -s clippy KDIR="$kdir" 2>&1) || printf '%s\n' "$out" | grep -q 'warning'; then
	printf '%s\n' "$out"
	echo "check.sh: the module's build is not clean" >&2
	exit 1
fi
echo "== host: dkms build of asm.ko against the test kernel (and the refusals)"
scripts/test-dkms.sh "$kdir"

if [ "$vms" = 1 ]; then
	echo "== VM: selftests"
	ASM_VM_BUILT=1 exec scripts/vm.sh "ASM_TESTS='' selftests/run.sh"
fi

claims="$ASM_TOP/.asm-claims"
rm -rf "$claims"
mkdir -p "$claims/taken"
echo "== VM: selftests in $vms VMs"
pids=()
for i in $(seq "$vms"); do
	ASM_VM_BUILT=1 ASM_VM_RWDIR="$claims" scripts/vm.sh \
		"ASM_CLAIMS='$claims/taken' selftests/run.sh" >"$claims/vm$i.out" 2>&1 &
	pids+=("$!")
	# The boots' first seconds are the busiest: stagger them.
	sleep 5
done
rc=0
for i in $(seq "$vms"); do
	wait "${pids[$((i - 1))]}" || rc=$?
	echo "== VM $i"
	cat "$claims/vm$i.out"
done
grep -h '^[0-9]* passed, [0-9]* failed$' "$claims"/vm*.out |
	awk '{ p += $1; f += $3 } END { printf "all VMs: %d passed, %d failed\n", p, f }'
# Every selftest must have reported, whichever VM ran it: a VM whose output
# went missing must not pass for one whose tests passed.
missing=()
for t in selftests/test_*.sh; do
	t=${t#selftests/}
	grep -qE "^(not )?ok [0-9]+ selftests: asm: $t\$" "$claims"/vm*.out || missing+=("$t")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "check.sh: no result from ${missing[*]}" >&2
	rc=1
fi
exit "$rc"
