#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/python (the asm_agent package) against the module, run from this
# checkout (the VM's root is read-only: nothing is pip-installed):
#
#   1  the package's unit tests pass (they need no module).
#   2  tools/python/examples/agent_demo.py as agent 7901: py.work timed
#      around a 50 ms sleep, py.record recorded as 3 ms, one call of
#      py.decorated, a heartbeat, the decision "python demo done"; then
#      `asmctl profile 7901 OP --json` and `asmctl audit` show them.
#
# The agent has FsExtended (the script and the package live in the
# checkout, outside the system set) and ProcessSpawn.  Python writes no
# bytecode (PYTHONDONTWRITEBYTECODE) so the agent only reads there.

ASM_TIMEOUT=${ASM_TIMEOUT:-30}
. "$(dirname "$0")/lib.sh"

TOP=$(cd "$(dirname "$0")/.." && pwd)
PYDIR=$TOP/tools/python
DEMO=$PYDIR/examples/agent_demo.py
PYTHON=/usr/bin/python3
ID=7901
export PYTHONDONTWRITEBYTECODE=1


ktap_print_header
asm_require_root
ktap_set_plan 2
asm_reload

asm_case_start
"$PYTHON" -m unittest discover -s "$PYDIR/tests" >"$ASM_TMP/unit.out" 2>&1
asm_expect_eq "unittest discover: exit status" 0 "$?"
asm_expect "unittest discover: OK" grep -qx "OK" "$ASM_TMP/unit.out"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$ASM_TMP/unit.out"
asm_case_end "tools/python/tests pass"

asm_case_start
asmctl run --no-landlock --id "$ID" --name pydemo --cap FsExtended,ProcessSpawn -- \
	"$PYTHON" "$DEMO" >"$ASM_TMP/demo.out" 2>&1
asm_expect_eq "agent_demo.py: exit status" 0 "$?"
asm_expect "py.work line" grep -qE "^py\.work: [0-9]+ ns$" "$ASM_TMP/demo.out"
asm_expect "py.record line" grep -qx "py.record: recorded 3000000 ns" "$ASM_TMP/demo.out"
asm_expect "py.decorated line" grep -qx "py.decorated: add(2, 3) = 5" "$ASM_TMP/demo.out"
asm_expect "heartbeat line" grep -qx "heartbeat: agent $ID" "$ASM_TMP/demo.out"
asm_expect "decision line" grep -qE "^decision: audit #[0-9]+$" "$ASM_TMP/demo.out"
asm_expect_eq "py.work: total, successes, p50 >= 50 ms" "1 1 True" \
	"$(asmctl profile "$ID" py.work --json | pyjson '"%d %d %s" % (d["total"], d["successes"], d["p50_ns"] >= 50000000)')"
asm_expect_eq "py.record: total, successes, p50_ns" "1 1 3000000" \
	"$(asmctl profile "$ID" py.record --json | pyjson '"%d %d %d" % (d["total"], d["successes"], d["p50_ns"])')"
asm_expect_eq "py.decorated: total, successes" "1 1" \
	"$(asmctl profile "$ID" py.decorated --json | pyjson '"%d %d" % (d["total"], d["successes"])')"
asm_expect "the decision in the audit trail" eval \
	"asmctl audit | grep -q 'python demo done'"
[ "$ASM_CASE_OK" = 1 ] || { sed 's/^/# /' "$ASM_TMP/demo.out"; asmctl profile "$ID" 2>&1 | sed 's/^/# /'; }
asm_case_end "agent_demo.py as agent $ID: py.work, py.record, py.decorated, heartbeat, decision"

asm_unload
ktap_finished
