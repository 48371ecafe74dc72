#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Agent lifecycle through asmctl: a known process tree gives exact counters
# in /proc/agentsys/status, asminfo, asmstatus and asmlist; a failing agent
# ends Failed; a live agent is Active with one process; bad requests register
# nothing; unregistering drops the row but not the system totals.
#
# The known tree, `spawner -c 3 -g 2 -x 1 -k 1 -t 2 -e 0`: the spawner, 3
# clean children with 2 grandchildren each, 1 child exiting 3, 1 child killed
# by SIGSEGV, 2 threads (not processes):
#	spawns = exits = 1 + 3 + 3*2 + 1 + 1 = 12, crashes = faults = 2.

. "$(dirname "$0")/lib.sh"

# JSON of `asminfo ID --json`, and fields of a JSON document held in a variable.
info_json() {
	asminfo "$1" --json 2>/dev/null
}
jnum() {
	printf '%s' "$1" | asm_json_num "$2"
}
jstr() {
	printf '%s' "$1" | asm_json_str "$2"
}
info_state() {
	info_json "$1" | asm_json_str state
}
# The `asmlist ARGS` row of agent ID (empty if not listed).
list_row() {
	local id=$1
	shift
	asmlist "$@" 2>/dev/null | awk -v id="$id" '$1 == id'
}
# "Total Spawns Total Exits Total Crashes Total Faults" in one line.
sys_totals() {
	echo "$(asm_sys_metric "Total Spawns") $(asm_sys_metric "Total Exits")" \
		"$(asm_sys_metric "Total Crashes") $(asm_sys_metric "Total Faults")"
}

ktap_print_header
asm_require_root
ktap_set_plan 14
asm_reload

# 1: the known tree as agent 100.
asm_case_start
asmctl run --name seq --id 100 -- "$SPAWNER" -c 3 -g 2 -x 1 -k 1 -t 2 -e 0 >/dev/null
asm_expect_eq "asmctl run exit status" 0 "$?"
asm_expect_wait "row 100: spawns exits faults" "12 12 2" asm_agent_counts 100
asm_case_end "agent 100: /proc row spawns 12, exits 12, faults 2 (threads not counted)"

# 2: the system totals are the sums over the one agent.
asm_case_start
asm_expect_eq "Total Spawns Exits Crashes Faults" "12 12 2 2" "$(sys_totals)"
asm_expect_eq "Total Restarts" 0 "$(asm_sys_metric "Total Restarts")"
asm_expect_wait "Active Agents" 0 asm_sys_metric "Active Agents"
asm_case_end "system totals: spawns 12, exits 12, crashes 2, faults 2, no active agent"

# 3: the agent's system calls were counted.
asm_case_start
asm_expect_ge "Total Syscalls" 1 "$(asm_sys_metric "Total Syscalls")"
asm_case_end "Total Syscalls counts the agent's system calls"

# 4: asminfo --json.
asm_case_start
asm_expect_wait "asminfo 100 state" Exited info_state 100
j=$(info_json 100)
asm_expect_eq "agent_id" 100 "$(jnum "$j" agent_id)"
asm_expect_eq "name" seq "$(jstr "$j" name)"
asm_expect_eq "spawn_count" 12 "$(jnum "$j" spawn_count)"
asm_expect_eq "exit_count" 12 "$(jnum "$j" exit_count)"
asm_expect_eq "crash_count" 2 "$(jnum "$j" crash_count)"
asm_expect_eq "fault_count" 2 "$(jnum "$j" fault_count)"
asm_expect_eq "exec_count" 1 "$(jnum "$j" exec_count)"
asm_expect_eq "nr_processes" 0 "$(jnum "$j" nr_processes)"
asm_expect_eq "last_exit_code" 0 "$(jnum "$j" last_exit_code)"
[ "$ASM_CASE_OK" = 1 ] || ktap_print_msg "asminfo 100 --json: $j"
asm_case_end "asminfo 100 --json: counts 12/12/2/2, exec_count 1, state Exited"

# 5: asmstatus --json, system totals and agents."100".
asm_case_start
j=$(asmstatus --json 2>/dev/null)
sys=$(printf '%s' "$j" | asm_json_obj system)
a100=$(printf '%s' "$j" | asm_json_obj 100)
asm_expect_eq "system.total_agents_spawned" 12 "$(jnum "$sys" total_agents_spawned)"
asm_expect_eq "system.total_agents_exited" 12 "$(jnum "$sys" total_agents_exited)"
asm_expect_eq "system.total_crashes" 2 "$(jnum "$sys" total_crashes)"
asm_expect_eq "system.total_faults" 2 "$(jnum "$sys" total_faults)"
asm_expect_eq "system.active_agents" 0 "$(jnum "$sys" active_agents)"
asm_expect_eq "system.registered_agents" 1 "$(jnum "$sys" registered_agents)"
asm_expect_eq "agents.100.spawn_count" 12 "$(jnum "$a100" spawn_count)"
asm_expect_eq "agents.100.exit_count" 12 "$(jnum "$a100" exit_count)"
asm_expect_eq "agents.100.crash_count" 2 "$(jnum "$a100" crash_count)"
asm_expect_eq "agents.100.fault_count" 2 "$(jnum "$a100" fault_count)"
[ "$ASM_CASE_OK" = 1 ] || ktap_print_msg "asmstatus --json: $j"
asm_case_end "asmstatus --json: system totals and agents.\"100\" match"

# 6: asmlist --all keeps the exited agent.
asm_case_start
row=$(list_row 100 --all)
asm_expect "asmlist --all has a row for 100" test -n "$row"
asm_expect "row 100 says Exited: '$row'" grep -qw Exited <<<"$row"
asm_case_end "asmlist --all lists agent 100 as Exited"

# 7: an agent whose last process exits 5 fails (no restart allowed).
asm_case_start
asmctl run --name fail --id 101 -- "$SPAWNER" -e 5 >/dev/null
asm_expect_eq "asmctl run exit status" 5 "$?"
asm_expect_wait "row 101: spawns exits faults" "1 1 1" asm_agent_counts 101
asm_expect_wait "asminfo 101 state" Failed info_state 101
j=$(info_json 101)
asm_expect_eq "crash_count" 1 "$(jnum "$j" crash_count)"
asm_expect_eq "last_exit_code (wait status of exit 5)" 1280 "$(jnum "$j" last_exit_code)"
asm_expect_eq "system totals" "13 13 3 3" "$(sys_totals)"
asm_case_end "agent 101 (spawner -e 5): state Failed, crashes 1"

# 8-11: a live agent.
live_file=$ASM_TMP/live
asm_case_start
if asm_start_live 102 live "$live_file"; then
	live_pid=$(cat "$live_file")
	asm_expect_wait "state" Active info_state 102
	j=$(info_json 102)
	asm_expect_eq "pid" "$live_pid" "$(jnum "$j" pid)"
	asm_expect_eq "nr_processes" 1 "$(jnum "$j" nr_processes)"
	asm_expect_eq "spawn_count" 1 "$(jnum "$j" spawn_count)"
	asm_expect_eq "exit_count" 0 "$(jnum "$j" exit_count)"
	asm_expect_eq "exec_count" 1 "$(jnum "$j" exec_count)"
	asm_expect_wait "Active Agents" 1 asm_sys_metric "Active Agents"
	asm_expect_eq "row 102: spawns exits faults" "1 0 0" "$(asm_agent_counts 102)"
	live_ok=1
else
	asm_fail "the live spawner did not start"
	live_ok=0
fi
asm_case_end "live agent 102: Active, nr_processes 1, its pid, Active Agents 1"

mem_nonzero() {
	local m
	m=$(asm_agent_field 102 mem)
	[ -n "$m" ] && [ "$m" != 0 ]
}
asm_case_start
if [ "$live_ok" = 1 ]; then
	asm_expect "row 102 Mem(B) becomes non-zero ($(asm_agent_row 102))" asm_wait mem_nonzero
else
	asm_fail "no live agent"
fi
asm_case_end "live agent 102: non-zero memory in its /proc row"

asm_case_start
if [ "$live_ok" = 1 ]; then
	asm_expect "asmlist lists 102" test -n "$(list_row 102)"
	asm_expect_eq "asmlist row for exited 100" "" "$(list_row 100)"
	asm_expect_eq "asmlist row for failed 101" "" "$(list_row 101)"
else
	asm_fail "no live agent"
fi
asm_case_end "asmlist lists the live agent only"

asm_case_start
if [ "$live_ok" = 1 ]; then
	asm_stop_live "$live_file" "$ASM_LIVE_PID"
	asm_expect_eq "spawner exit status" 0 "$ASM_LIVE_STATUS"
	asm_expect_wait "row 102 exits" 1 asm_agent_field 102 exits
	asm_expect_wait "asminfo 102 state" Exited info_state 102
	asm_expect_wait "Active Agents" 0 asm_sys_metric "Active Agents"
	asm_expect_eq "system totals" "14 14 3 3" "$(sys_totals)"
else
	asm_fail "no live agent"
fi
asm_case_end "released live agent: exits 0 -> 1, state Exited"

# 12: an unknown capability is a usage error (exit 2), refused before anything is registered.
asmctl run --name badcap --id 103 --cap NoSuchCapability -- "$SPAWNER" \
	>/dev/null 2>"$ASM_TMP/badcap.err"
asm_expect_eq "asmctl run exit status" 2 "$?"
asm_expect "error message on stderr" grep -q "^error: invalid value 'NoSuchCapability' for '--cap" "$ASM_TMP/badcap.err"
asm_expect_eq "row 103" "" "$(asm_agent_row 103)"
asm_expect_not "asminfo 103 succeeds" asm_quiet asminfo 103
asm_expect_eq "system totals" "14 14 3 3" "$(sys_totals)"
asm_case_end "asmctl run with an unknown capability exits 2 and registers nothing"

# 13: asminfo of an unknown agent.
asm_case_start
asminfo 999 >"$ASM_TMP/999.out" 2>"$ASM_TMP/999.err"
asm_expect_eq "asminfo 999 exit status" 1 "$?"
asm_expect "stderr starts with Error: ($(head -c 200 "$ASM_TMP/999.err"))" \
	grep -q "^Error:" "$ASM_TMP/999.err"
asm_case_end "asminfo 999 exits 1 with \"Error:\" on stderr"

# 14: unregistering drops the row, not the totals.
asm_case_start
asm_expect "asmctl unregister 100" asm_quiet asm_unregister 100
asm_expect_wait "row 100" "" asm_agent_row 100
asm_expect "row 101 still there" test -n "$(asm_agent_row 101)"
asm_expect_not "asminfo 100 after unregister" asm_quiet asminfo 100
asm_expect_eq "system totals" "14 14 3 3" "$(sys_totals)"
asm_case_end "unregister 100 removes its row; system totals stay"

ktap_finished
