#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `asmctl deps` against the module, with agents 7601 -> 7602 (required)
# and 7602 -> 7603 (optional):
#
#   1  deps add, the list, the tree of 7601, 7602's dependents and cascade
#      set (text and --json), asminfo's Dependencies and Dependents lines.
#   2  each refusal's message and exit status: a cycle, a duplicate, a
#      missing edge, a self-edge; uid 65534 sees none of root's agents.
#   3  deps remove, audited with the removed edge's kind.
#   4  deps add --kind optional --signal: refused before the module for a
#      signal it does not take (KILL) and on a required edge; USR1 and 12
#      shown in the list, --json and asminfo.

ASM_TIMEOUT=${ASM_TIMEOUT:-30}
. "$(dirname "$0")/lib.sh"

AS_NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)

ktap_print_header
asm_require_root
ktap_set_plan 4
asm_reload

for id in 7601 7602 7603; do
	asmctl run --no-landlock --id "$id" --name "deps-$id" -- sleep 600 >/dev/null 2>&1 &
	asm_bg_track $!
done
for id in 7601 7602 7603; do
	asm_wait eval "asminfo $id >/dev/null 2>&1" || asm_bail "agent $id did not register"
done

asm_case_start
out=$(asmctl deps add 7601 7602 2>&1)
asm_expect_eq "add required: exit status" 0 "$?"
asm_expect "add required: report" grep -qE "^agent 7601: required dependency on agent 7602 added \(audit #[0-9]+\)$" <<<"$out"
asmctl deps add 7602 7603 --kind optional >/dev/null 2>&1
asm_expect_eq "add optional: exit status" 0 "$?"
asm_expect_eq "the list" "$(printf '7601 -> 7602 (required)\n7602 -> 7603 (optional)')" "$(asmctl deps)"
tree=$(asmctl deps 7601)
asm_expect_eq "the tree of 7601" "$(printf 'agent 7601\n└─ 7602 (required)\n   └─ 7603 (optional)\ndependents: none\nstops with: none')" "$tree"
mid=$(asmctl deps 7602)
asm_expect "7602's dependents" grep -qx "dependents: 7601 (required)" <<<"$mid"
asm_expect "7602's cascade set" grep -qx "stops with: 7601" <<<"$mid"
asm_expect "7603: optional edges do not cascade" grep -qx "stops with: none" <<<"$(asmctl deps 7603)"
json=$(asmctl deps 7603 --json)
asm_expect_eq "--json chain and dependents of 7603" "[] [7602]" \
	"$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["chain"], d["dependents"])' <<<"$json" | tr -d ' ' | sed 's/\]\[/] [/')"
info=$(asminfo 7602)
asm_expect "asminfo: Dependencies" grep -qE "^Dependencies: +7603 \(optional\)$" <<<"$info"
asm_expect "asminfo: Dependents" grep -qE "^Dependents: +7601 \(required\)$" <<<"$info"
asm_expect "/proc/agentsys/status" grep -qx "  7601 -> 7602 (required)" /proc/agentsys/status
[ "$ASM_CASE_OK" = 1 ] || ktap_print_msg "$tree / $mid / $json / $info"
asm_case_end "deps add, the list, the tree, dependents, cascade set, --json, asminfo, status"

asm_case_start
asmctl deps add 7603 7601 >"$ASM_TMP/err" 2>&1
asm_expect_eq "cycle: exit status" 1 "$?"
asm_expect "cycle: message" grep -q "adding 7603 -> 7601 would close a cycle" "$ASM_TMP/err"
asmctl deps add 7602 7601 >"$ASM_TMP/err" 2>&1
asm_expect_eq "reverse: exit status" 1 "$?"
asm_expect "reverse: message" grep -q "agents 7602 and 7601 already have an edge" "$ASM_TMP/err"
asmctl deps remove 7603 7602 >"$ASM_TMP/err" 2>&1
asm_expect_eq "missing edge: exit status" 1 "$?"
asm_expect "missing edge: message" grep -q "agent 7603 does not depend on agent 7602" "$ASM_TMP/err"
asmctl deps add 7601 7601 >"$ASM_TMP/err" 2>&1
asm_expect_eq "self-edge: exit status" 2 "$?"
"${AS_NOBODY[@]}" asmctl deps add 7603 7601 >"$ASM_TMP/err" 2>&1
asm_expect_eq "uid 65534: exit status" 1 "$?"
asm_expect "uid 65534: root's agents are not there" grep -q "no agent with id" "$ASM_TMP/err"
asm_expect_eq "uid 65534 lists none" "no dependencies" "$("${AS_NOBODY[@]}" asmctl deps 2>&1)"
asm_expect_eq "the graph after the refusals" "$(printf '7601 -> 7602 (required)\n7602 -> 7603 (optional)')" "$(asmctl deps)"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$ASM_TMP/err"
asm_case_end "refusals: a cycle, a duplicate, a missing edge, a self-edge, another user"

asm_case_start
out=$(asmctl deps remove 7602 7603 2>&1)
asm_expect_eq "remove: exit status" 0 "$?"
asm_expect "remove: report" grep -qE "^agent 7602: dependency on agent 7603 removed \(audit #[0-9]+\)$" <<<"$out"
asm_expect_eq "the list after" "7601 -> 7602 (required)" "$(asmctl deps)"
asm_expect "audited with its kind" eval "asmctl audit | grep -E ' dependency +' | grep -q 'on 7603 (optional)'"
[ "$ASM_CASE_OK" = 1 ] || { ktap_print_msg "$out"; asmctl audit | tail -5 | sed 's/^/# /'; }
asm_case_end "deps remove, audited with the removed edge's kind"

# The graph is 7601 -> 7602 (required) now.
asm_case_start
asmctl deps add 7603 7601 --kind optional --signal KILL >"$ASM_TMP/err" 2>&1
asm_expect_eq "--signal KILL: exit status" 2 "$?"
asm_expect "--signal KILL: message" \
	grep -qF "error: invalid value 'KILL' for '--signal <SIG>': a dependency's end sends one of SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGWINCH" "$ASM_TMP/err"
asmctl deps add 7603 7601 --signal USR1 >>"$ASM_TMP/err" 2>&1
asm_expect_eq "--signal on a required edge: exit status" 2 "$?"
asm_expect "--signal on a required edge: message" \
	grep -qF -- "--signal only applies to an optional dependency (--kind optional)" "$ASM_TMP/err"
asm_expect_eq "the refusals added nothing" "7601 -> 7602 (required)" "$(asmctl deps)"
out=$(asmctl deps add 7603 7601 --kind optional --signal USR1 2>&1)
asm_expect_eq "--signal USR1: exit status" 0 "$?"
asm_expect "--signal USR1: report" \
	grep -qE "^agent 7603: optional dependency on agent 7601 added, SIGUSR1 when it ends \(audit #[0-9]+\)$" <<<"$out"
asm_expect_eq "the list" "$(printf '7601 -> 7602 (required)\n7603 -> 7601 (optional, SIGUSR1)')" "$(asmctl deps)"
asm_expect_eq "--json: each edge's signal (SIGUSR1 is 10)" "7601 None,7603 10" \
	"$(asmctl deps --json | pyjson '",".join("%d %s" % (e["dependent"], e["signal"]) for e in d["edges"])')"
asm_expect "asminfo 7601: its dependent's signal" \
	eval "asminfo 7601 | grep -qE '^Dependents: +7603 \(optional, SIGUSR1\)$'"
asmctl deps remove 7603 7601 >/dev/null 2>&1
asm_expect_eq "remove: exit status" 0 "$?"
asmctl deps add 7603 7601 --kind optional --signal 12 >/dev/null 2>&1
asm_expect_eq "--signal 12: exit status" 0 "$?"
asm_expect_eq "--json: signal 12 (SIGUSR2)" 12 \
	"$(asmctl deps --json | pyjson '[e["signal"] for e in d["edges"] if e["dependent"] == 7603][0]')"
[ "$ASM_CASE_OK" = 1 ] || { sed 's/^/# /' "$ASM_TMP/err"; ktap_print_msg "$out"; asmctl deps | sed 's/^/# /'; }
asm_case_end "deps add --signal: refused for KILL and a required edge; shown in the list, --json and asminfo"

asm_unload
ktap_finished
