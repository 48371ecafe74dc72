#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Policy through the tools: Landlock prevention by `asmctl run` (and what
# the module does without it), `asmctl patch` refusals, `asmpolicy`,
# `compliance`, `asmctl audit verify` detecting a tampered export, and the
# Landlock scopes attacked from an agent of `asmctl run`.
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
ktap_set_plan 6
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

# 6: the ABI 6 scopes.  A root agent (FsBasic without a scope: only the
# scopes and TCP are restricted) tries to connect to an abstract socket of
# a root process outside its sandbox and to SIGTERM it: EPERM both, and the
# process lives on; its own socket and child it reaches.  Without Landlock
# the same attacks succeed, so the refusals are the sandbox's.
asm_case_start
PROBE=$ASM_SELFTESTS/scope_probe.py
pidfile=$ASM_TMP/outside.pid
$PY -I -S "$PROBE" serve asm-scope-5503 >"$pidfile" &
outside=$!
asm_bg_track "$outside"
asm_expect "the process outside is up" asm_wait test -s "$pidfile"
asmctl run --id 5503 --name scoped --cap FsBasic -- \
	$PY -I -S "$PROBE" attack "$pidfile" asm-scope-5503 >"$ASM_TMP/scoped.out" 2>"$ASM_TMP/scoped.err"
asm_expect_eq "exit status" 0 "$?"
asm_expect "asmctl run says the scopes are on" grep -qE "^asmctl: Landlock ABI [0-9]+, fully enforced: \
filesystem not restricted, TCP connect denied, TCP bind denied, signals scoped, abstract unix sockets scoped$" \
	"$ASM_TMP/scoped.err"
asm_expect_eq "connect to @asm-scope-5503 outside" EPERM "$(asm_value "$ASM_TMP/scoped.out" connect-outside)"
asm_expect_eq "SIGTERM to pid $outside outside" EPERM "$(asm_value "$ASM_TMP/scoped.out" kill-outside)"
asm_expect "the process outside still runs" asm_alive "$outside"
asm_expect_eq "its child connects to its own socket" ok "$(asm_value "$ASM_TMP/scoped.out" child-connect-own)"
asm_expect_eq "SIGKILL to its own child" ok "$(asm_value "$ASM_TMP/scoped.out" kill-own-child)"
asm_expect_eq "its own child ended by" SIGKILL "$(asm_value "$ASM_TMP/scoped.out" own-child-ended-by)"
asmctl run --no-landlock --quiet --id 5504 --name unscoped --cap FsBasic -- \
	$PY -I -S "$PROBE" attack "$pidfile" asm-scope-5503 >"$ASM_TMP/unscoped.out" 2>&1
asm_expect_eq "--no-landlock: connect outside" ok "$(asm_value "$ASM_TMP/unscoped.out" connect-outside)"
control=$(asm_value "$ASM_TMP/unscoped.out" kill-outside)
asm_expect_eq "--no-landlock: SIGTERM outside" ok "$control"
if [ "$control" = ok ]; then
	wait "$outside"
	asm_expect_eq "--no-landlock: the process outside ended by SIGTERM" $((128 + 15)) "$?"
	asm_bg_reaped "$outside"
fi
if [ "$ASM_CASE_OK" != 1 ]; then
	sed 's/^/# asmctl run: /' "$ASM_TMP/scoped.err" "$ASM_TMP/scoped.out" "$ASM_TMP/unscoped.out"
fi
asm_case_end "asmctl run: an agent can neither signal nor connect to an abstract socket of a process outside its sandbox (EPERM)"

ktap_finished
