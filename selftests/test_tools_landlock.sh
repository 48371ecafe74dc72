#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The tools' host tests that need Landlock, run in the VM, whose kernel has
# it (the build hosts' may not): every test of the tools whose name holds
# "landlock_live" (asm-landlock's enforce.rs, asmd's spawn, asmctl's run
# against the stand-in module).  make check builds them with the host's
# cargo test and lists the test programs that hold such tests, with how
# many each holds, in tools/target/test-programs.list; here each runs with
# CI=true, so a test that would skip fails (tools/asm-testutil), and
# scratch files go to this VM's /tmp.
#
#   1  the kernel has Landlock and the list names the test programs.
#   2  every landlock_live test ran and passed, and there is at least one.

ASM_TIMEOUT=${ASM_TIMEOUT:-300}
. "$(dirname "$0")/lib.sh"

TOOLS=$(cd "$ASM_SELFTESTS/../tools" && pwd)
LIST=$TOOLS/target/test-programs.list
FILTER=landlock_live

ktap_print_header
asm_require_root
ktap_set_plan 2

asm_case_start
abi=$(python3 -c 'import ctypes; print(ctypes.CDLL(None, use_errno=True).syscall(444, None, 0, 1))' 2>&1)
asm_expect "the kernel has Landlock (ABI $abi)" test "${abi:-0}" -ge 1
asm_expect "$LIST exists (make check lists the test programs)" test -s "$LIST"
asm_case_end "Landlock ABI $abi; the test programs are listed"

asm_case_start
want=0
ran=0
scratch=$ASM_TMP/tools-tests
mkdir -p "$scratch"
while read -r prog n; do
	want=$((want + n))
	out=$(cd "$scratch" && CI=true ASM_TEST_TMPDIR="$scratch" \
		"$prog" "$FILTER" --test-threads=1 2>&1)
	rc=$?
	passed=$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' <<<"$out")
	ran=$((ran + ${passed:-0}))
	asm_expect_eq "$(basename "$prog"): exit status" 0 "$rc"
	asm_expect_eq "$(basename "$prog"): tests passed" "$n" "${passed:-0}"
	if [ "$rc" = 0 ] && [ "${passed:-0}" = "$n" ]; then
		ktap_print_msg "$(basename "$prog"): $n $FILTER test(s) passed"
	else
		sed 's/^/# /' <<<"$out" | tail -30
	fi
done <"$LIST"
# asm-landlock's enforce.rs (4, the scopes attacked included), asmd's
# spawn, asmctl's run.
asm_expect "6 or more $FILTER tests listed ($want)" test "$want" -ge 6
asm_expect_eq "$FILTER tests that ran and passed" "$want" "$ran"
asm_case_end "$ran $FILTER test(s) of the tools ran and passed with CI=true"

ktap_finished
