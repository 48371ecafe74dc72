#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Policy through the tools: Landlock prevention by `asmctl run` (and what
# the module does without it), `asmctl patch` refusals, `asmpolicy`,
# `compliance`, and `asmctl audit verify` detecting a tampered export.
#
# Agent ids: 5500 to 5509.

. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
WS=$ASM_TMP/ws

# The agent's final state, from its JSON document.
state_of() {
	asminfo "$1" --json 2>/dev/null | asm_json_str state
}
# A compliance field of agent ID.
compliance_of() {
	asminfo "$1" --json 2>/dev/null | tr -d '[:space:]' |
		grep -oE "\"$2\":[0-9]+" | head -1 | cut -d: -f2
}

ktap_print_header
asm_require_root
ktap_set_plan 5
asm_reload
mkdir -p "$WS"

# 1: Landlock keeps a scoped agent inside its scope: the write outside
# fails with EACCES, no violation happens, the agent exits normally.
asm_case_start
asm_expect "Landlock is an active LSM" grep -qw landlock /sys/kernel/security/lsm
asmctl run --id 5500 --name ll --cap FsBasic --scope "$WS" -- \
	sh -c "echo in > '$WS/in'; echo out > '$ASM_TMP/out' || echo refused > '$WS/refused'" \
	>"$ASM_TMP/ll.out" 2>&1
asm_expect_eq "exit status" 0 "$?"
asm_expect "inside written" test -s "$WS/in"
asm_expect_not "outside written" test -e "$ASM_TMP/out"
asm_expect "the shell saw the refusal" test -e "$WS/refused"
asm_expect "Permission denied" grep -q "Permission denied" "$ASM_TMP/ll.out"
asm_expect_eq "violations" 0 "$(compliance_of 5500 violations)"
asm_expect_eq "state" Exited "$(state_of 5500)"
asm_case_end "asmctl run: Landlock refuses a write outside the scope (EACCES)"

# 2: without Landlock the module catches the same write and kills it.
asm_case_start
asmctl run --no-landlock --id 5501 --name det --cap FsBasic --scope "$WS" -- \
	sh -c "echo in > '$WS/in2'; echo out > '$ASM_TMP/out2'; echo after > '$WS/after'" \
	>/dev/null 2>&1
asm_expect_eq "exit status: the module's kill (124)" 124 "$?"
asm_expect "inside written" test -s "$WS/in2"
asm_expect_eq "bytes written outside" 0 "$(stat -c %s "$ASM_TMP/out2" 2>/dev/null)"
asm_expect_not "ran on after the violation" test -e "$WS/after"
asm_expect_eq "violations" 1 "$(compliance_of 5501 violations)"
asm_expect_eq "state" Failed "$(state_of 5501)"
asm_expect "violation in the audit trail" eval \
	"asmctl audit | grep -E 'violation.* 5501 ' | grep -q '$ASM_TMP/out2'"
asm_case_end "without Landlock the module kills the agent at the open, audited"

# 3: patches through asmctl: Admin refused, others' patches refused,
# asmpolicy shows the change.
asm_case_start
"$SPAWNER" -w "$ASM_TMP/p.pid" >/dev/null &
asm_bg_track $!
asm_wait test -s "$ASM_TMP/p.pid"
asm_expect "register" asm_quiet asmctl register --id 5502 --name pol --pid "$(cat "$ASM_TMP/p.pid")" \
	--cap FsBasic,NetClient --scope "$WS" --auto-restart 3
asm_expect_not "grant Admin" asm_quiet asmctl patch 5502 add-cap Admin
asmctl patch 5502 add-cap Admin 2>"$ASM_TMP/admin.err"
asm_expect "Admin message" grep -q "Admin can never be granted" "$ASM_TMP/admin.err"
asm_expect "escalation audited" eval "asmctl audit | grep -q 'escalation.* 5502 '"
asm_expect "nobody narrows" eval \
	"! setpriv --reuid 65534 --regid 65534 --clear-groups asmctl patch 5502 remove-cap NetClient 2>'$ASM_TMP/nobody.err'"
# Root's agent is not there for another user (ESRCH, as for an unknown id).
asm_expect "ESRCH message" grep -q "no agent with id 5502" "$ASM_TMP/nobody.err"
asm_expect "remove NetClient" asm_quiet asmctl patch 5502 remove-cap NetClient
asm_expect "narrow scope" asm_quiet asmctl patch 5502 scope "$WS/sub"
asmpolicy 5502 >"$ASM_TMP/policy.out"
asm_expect "title" grep -qx "Policy for Agent 5502:" "$ASM_TMP/policy.out"
asm_expect "FsBasic listed" grep -qx "  - FsBasic" "$ASM_TMP/policy.out"
asm_expect_not "NetClient gone" grep -q "NetClient" "$ASM_TMP/policy.out"
asm_expect "scope" grep -qx "  Path: $WS/sub" "$ASM_TMP/policy.out"
asm_expect "max restarts" grep -qx "Max Restarts: 3" "$ASM_TMP/policy.out"
asm_case_end "asmctl patch: Admin and unprivileged patches refused; asmpolicy shows the result"

# 4: an exported trail verifies; an edited or removed entry does not.
asm_case_start
asm_expect "live trail verifies" asm_quiet asmctl audit verify
asm_expect "export" asm_quiet asmctl audit --export "$ASM_TMP/trail.json"
asm_expect "export verifies" asm_quiet asmctl audit verify "$ASM_TMP/trail.json"
$PY - "$ASM_TMP/trail.json" "$ASM_TMP/edited.json" "$ASM_TMP/removed.json" <<'EOF'
import json, sys
entries = json.load(open(sys.argv[1]))
edited = json.loads(json.dumps(entries))
edited[1]["uid"] += 1
json.dump(edited, open(sys.argv[2], "w"), indent=2)
removed = entries[:1] + entries[2:]
json.dump(removed, open(sys.argv[3], "w"), indent=2)
EOF
seq1=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[1]["seq"])' "$ASM_TMP/trail.json")
asmctl audit verify "$ASM_TMP/edited.json" >"$ASM_TMP/edited.out" 2>&1
asm_expect_eq "edited: exit status" 3 "$?"
asm_expect "edited: names the entry" grep -q "BROKEN at seq $seq1" "$ASM_TMP/edited.out"
asmctl audit verify "$ASM_TMP/removed.json" >"$ASM_TMP/removed.out" 2>&1
asm_expect_eq "removed: exit status" 3 "$?"
asm_expect "removed: broken" grep -q "BROKEN" "$ASM_TMP/removed.out"
asm_case_end "asmctl audit verify: an edited or removed entry is detected"

# 5: the compliance report: /proc and the command agree; JSON parses.
asm_case_start
compliance >"$ASM_TMP/c.out"
asm_expect "title" grep -qx "EU AI Act Compliance Report" "$ASM_TMP/c.out"
asm_expect "agent 5501 listed" grep -qx "Agent ID: 5501" "$ASM_TMP/c.out"
asm_expect "5501 score" eval "grep -A6 -x 'Agent ID: 5501' '$ASM_TMP/c.out' | grep -qx '  Compliance Score: 85%'"
asm_expect "proc agrees" eval "grep -A6 -x 'Agent ID: 5501' /proc/agentsys/compliance | grep -qx '  Status:           REVIEW_NEEDED'"
asm_expect "JSON" asm_quiet eval "compliance --json | $PY -m json.tool"
asm_case_end "compliance: the guide's layout, the same scores as /proc, JSON export"

ktap_finished
