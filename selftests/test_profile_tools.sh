#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `asmctl profile` against the module.  Agent 7701's shell records step
# 1 ms .. 10 ms (10 ms --failed) and io 950 µs with `asmctl profile
# record`, and times `sleep 0.2` (nap) and `sh -c "exit 3"` (exit3) with
# `asmctl profile time`; agent 7702's records step 20 ms.
#
#   1  `profile 7701` (slowest p95 first), `profile 7701 step` (the exact
#      figures), io in µs, nap's wall time, exit3 failed with status 3
#      passed on, --json in ns.
#   2  asminfo's Slowest Operations.
#   3  `profile --all step` (the exact aggregate over 7701 and 7702, text
#      and --json), `profile` (every agent's operations).
#   4  refusals: record and time outside an agent (ESRCH, exit 1, the
#      command not run), a bad name (exit 2), uid 65534 reads none of
#      agent 7701's figures.
#
# The agents have FsBasic (their shells write files in $ASM_TMP, asmctl
# lives outside the system set) and ProcessSpawn (their shells exec
# asmctl, which execs the timed commands): without them the module would
# kill them.

ASM_TIMEOUT=${ASM_TIMEOUT:-30}
. "$(dirname "$0")/lib.sh"

AS_NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)


# squeeze: every run of spaces as one (the tables' columns fit their
# content).
squeeze() {
	tr -s ' '
}

# Agent 7701's shell; $1 is the directory to report in.
AGENT_7701='
dir=$1
for i in 1 2 3 4 5 6 7 8 9; do
	asmctl profile record step "${i}ms" || exit 1
done
asmctl profile record step 10ms --failed || exit 1
asmctl profile record io 950us || exit 1
asmctl profile time nap -- sleep 0.2 || exit 1
asmctl profile time exit3 -- sh -c "exit 3"
echo "$?" >"$dir/exit3.status"
touch "$dir/ready.7701"
exec sleep 600
'
AGENT_7702='
asmctl profile record step 20ms || exit 1
touch "$1/ready.7702"
exec sleep 600
'

ktap_print_header
asm_require_root
ktap_set_plan 4
asm_reload

asmctl run --no-landlock --cap FsBasic,ProcessSpawn --id 7701 --name prof -- \
	sh -c "$AGENT_7701" sh "$ASM_TMP" >"$ASM_TMP/7701.log" 2>&1 &
asm_bg_track $!
asmctl run --no-landlock --cap FsBasic,ProcessSpawn --id 7702 --name prof2 -- \
	sh -c "$AGENT_7702" sh "$ASM_TMP" >"$ASM_TMP/7702.log" 2>&1 &
asm_bg_track $!
for id in 7701 7702; do
	asm_wait test -e "$ASM_TMP/ready.$id" ||
		asm_bail "agent $id did not record its samples: $(cat "$ASM_TMP/$id.log")"
done

# 1: one agent's operations.
asm_case_start
table=$(asmctl profile 7701 2>&1)
asm_expect_eq "profile 7701: exit status" 0 "$?"
asm_expect_eq "profile 7701: header" "OP SAMPLES OK% MIN AVG P50 P95 P99 MAX" \
	"$(head -n1 <<<"$table" | squeeze)"
asm_expect_eq "profile 7701: nap, step, io by p95" "nap step io" \
	"$(awk 'NR > 1 && $1 != "exit3" { printf "%s%s", sep, $1; sep = " " }' <<<"$table")"
asm_expect_eq "profile 7701: the step row" \
	"step 10 90.0 1.00ms 5.50ms 5.00ms 10.0ms 10.0ms 10.0ms" \
	"$(awk '$1 == "step"' <<<"$table" | squeeze)"
step=$(asmctl profile 7701 step 2>&1)
asm_expect_eq "profile 7701 step" "$(printf '%s\n' \
	'Agent:         7701' \
	'Operation:     step' \
	'Samples:       10' \
	'Kept:          10' \
	'Succeeded:     9 (90.0%)' \
	'Min:           1.00ms' \
	'Max:           10.0ms' \
	'Avg:           5.50ms' \
	'Median (p50):  5.00ms' \
	'p95:           10.0ms' \
	'p99:           10.0ms')" "$step"
asm_expect "profile 7701 io: 950µs" grep -qx 'Min:           950µs' <<<"$(asmctl profile 7701 io)"
json=$(asmctl profile 7701 step --json)
asm_expect_eq "profile 7701 step --json" \
	"7701 step 10 9 0.9 10 1000000 10000000 5500000 5000000 10000000 10000000" \
	"$(pyjson '" ".join(str(d[k]) for k in ["agent", "op", "total", "successes", "success_rate", "kept", "min_ns", "max_ns", "avg_ns", "p50_ns", "p95_ns", "p99_ns"])' <<<"$json")"
asm_expect_eq "nap: timed around sleep 0.2, succeeded" "True 1 1" \
	"$(asmctl profile 7701 nap --json | pyjson '" ".join(map(str, [200000000 <= d["min_ns"] < 30000000000, d["total"], d["successes"]]))')"
asm_expect_eq "exit3: failed" "1 0" \
	"$(asmctl profile 7701 exit3 --json | pyjson '"%d %d" % (d["total"], d["successes"])')"
asm_expect_eq "exit3: the command's status passed on" 3 "$(cat "$ASM_TMP/exit3.status")"
asm_expect_eq "profile 7701 --json: every operation, slowest first" "nap step io" \
	"$(asmctl profile 7701 --json | pyjson '" ".join(r["op"] for r in d if r["op"] != "exit3")')"
[ "$ASM_CASE_OK" = 1 ] || ktap_print_msg "$table / $step / $json"
asm_case_end "profile 7701, profile 7701 OP, --json, profile time's wall time and status"

# 2: asminfo.
asm_case_start
info=$(asminfo 7701)
slowest=$(sed -n '/^Slowest Operations:$/,$p' <<<"$info" | tail -n +2)
asm_expect_eq "Slowest Operations: three lines" 3 "$(grep -c . <<<"$slowest")"
# The two timed commands first (which of them is slower depends on the
# machine's load: sleep 0.2, or a shell's fork and exec under TCG), then
# step's 10 ms.
asm_expect_eq "Slowest Operations: the timed commands first" "exit3 nap" \
	"$(head -n2 <<<"$slowest" | awk '{ print $1 }' | sort | paste -sd' ')"
asm_expect "Slowest Operations: nap's line" \
	grep -qE '^  nap +p95 [0-9.]+(ms|s) +p99 [0-9.]+(ms|s) +\(1 sample\)$' <<<"$slowest"
asm_expect "Slowest Operations: step last" \
	grep -qE '^  step +p95 10\.0ms +p99 10\.0ms +\(10 samples\)$' <<<"$(tail -n1 <<<"$slowest")"
asm_expect_not "Slowest Operations: io (950µs) is not among them" grep -q '^  io ' <<<"$slowest"
asm_expect "the section comes last" grep -qE '^  [a-z0-9]+ +p95 ' <<<"$(tail -n1 <<<"$info")"
[ "$ASM_CASE_OK" = 1 ] || ktap_print_msg "$info"
asm_case_end "asminfo: Slowest Operations, by p95"

# 3: over every agent.
asm_case_start
all=$(asmctl profile --all step 2>&1)
asm_expect_eq "profile --all step" "$(printf '%s\n' \
	'Agents:        every agent you can see' \
	'Operation:     step' \
	'Samples:       11' \
	'Kept:          11' \
	'Succeeded:     10 (90.9%)' \
	'Min:           1.00ms' \
	'Max:           20.0ms' \
	'Avg:           6.82ms' \
	'Median (p50):  6.00ms' \
	'p95:           20.0ms' \
	'p99:           20.0ms')" "$all"
asm_expect_eq "profile --all step --json" "None 11 10 11 1000000 20000000 6818181 6000000 20000000 20000000" \
	"$(asmctl profile --all step --json | pyjson '" ".join(str(d[k]) for k in ["agent", "total", "successes", "kept", "min_ns", "max_ns", "avg_ns", "p50_ns", "p95_ns", "p99_ns"])')"
every=$(asmctl profile 2>&1)
asm_expect_eq "profile: header" "AGENT OP SAMPLES OK% MIN AVG P50 P95 P99 MAX" \
	"$(head -n1 <<<"$every" | squeeze)"
asm_expect_eq "profile: 7701's four operations" 4 "$(awk '$1 == "7701"' <<<"$every" | grep -c .)"
asm_expect_eq "profile: 7702's step" "7702 step 1 100.0 20.0ms 20.0ms 20.0ms 20.0ms 20.0ms 20.0ms" \
	"$(awk '$1 == "7702"' <<<"$every" | squeeze)"
asm_expect_eq "profile --json: five operations" 5 "$(asmctl profile --json | pyjson 'len(d)')"
[ "$ASM_CASE_OK" = 1 ] || ktap_print_msg "$all / $every"
asm_case_end "profile --all step (the aggregate over 7701 and 7702), profile"

# 4: refusals.
asm_case_start
asmctl profile record step 1ms >"$ASM_TMP/err" 2>&1
asm_expect_eq "record outside an agent: exit status" 1 "$?"
asm_expect "record outside an agent: message" \
	grep -q "^Error: the caller is not a process of an agent" "$ASM_TMP/err"
asmctl profile time step -- touch "$ASM_TMP/ran" >"$ASM_TMP/err" 2>&1
asm_expect_eq "time outside an agent: exit status" 1 "$?"
asm_expect "time outside an agent: message" \
	grep -q "^Error: the caller is not a process of an agent" "$ASM_TMP/err"
asm_expect_not "time outside an agent: the command did not run" test -e "$ASM_TMP/ran"
asmctl profile record 'a b' 1ms >"$ASM_TMP/err" 2>&1
asm_expect_eq "a bad name: exit status" 2 "$?"
asm_expect "a bad name: the rule" grep -q "1 to 31 characters of A-Z, a-z, 0-9" "$ASM_TMP/err"
"${AS_NOBODY[@]}" asmctl profile 7701 >"$ASM_TMP/err" 2>&1
asm_expect_eq "uid 65534, profile 7701: exit status" 1 "$?"
asm_expect_eq "uid 65534, profile 7701: message" "Error: no agent with id 7701" "$(cat "$ASM_TMP/err")"
"${AS_NOBODY[@]}" asmctl profile 7701 step >"$ASM_TMP/err" 2>&1
asm_expect_eq "uid 65534, profile 7701 step: exit status" 1 "$?"
asm_expect_eq "uid 65534, profile 7701 step: message" "Error: no agent with id 7701" "$(cat "$ASM_TMP/err")"
asm_expect_eq "uid 65534, profile: none" "no profiled operations" "$("${AS_NOBODY[@]}" asmctl profile 2>&1)"
"${AS_NOBODY[@]}" asmctl profile --all step >"$ASM_TMP/err" 2>&1
asm_expect_eq "uid 65534, profile --all step: exit status" 1 "$?"
asm_expect_eq "uid 65534, profile --all step: message" \
	"Error: no agent you can see has an operation step" "$(cat "$ASM_TMP/err")"
asm_expect_eq "root still reads 7701's step" 10 \
	"$(asmctl profile 7701 step --json | pyjson 'd["total"]')"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$ASM_TMP/err"
asm_case_end "refusals: outside an agent, a bad name, another user"

asm_unload
ktap_finished
