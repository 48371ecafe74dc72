#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The in-kernel cost figures, read under the debug kernel's checks (KASAN,
# lockdep, kmemleak: the micro-benchmark calls every probe path in place):
# debugfs asm/probe_cost as a process with no agent registered, as a
# non-agent and as an agent, each with a figure for every path; the agent's
# counters add up afterwards (its fake children joined and left); debugfs
# asm/sampler counts ticks.  Figures are not judged here (make bench does
# that on the benchmark kernel).

. "$(dirname "$0")/lib.sh"

PROBE_COST=$ASM_DEBUGFS/asm/probe_cost
SAMPLER=$ASM_DEBUGFS/asm/sampler
PATHS="empty sys_enter fork exit exec open connect event"

# paths_ok FILE: every path has a line "NAME_ns N.NNN calls N".
paths_ok() {
	local p
	for p in $PATHS; do
		grep -qE "^${p}_ns [0-9]+\.[0-9]{3} calls [0-9]+$" "$1" || return 1
	done
}

# listed ID: agent ID has a row in the status view.
listed() {
	[ -n "$(asm_agent_row "$1")" ]
}

ktap_print_header
asm_require_root
ktap_set_plan 4
asm_reload
asm_mount_debugfs || asm_bail "cannot mount debugfs"

# 1: no agent registered.
asm_case_start
cat "$PROBE_COST" >"$ASM_TMP/none" 2>&1
asm_expect_eq "first line" "agents 0 agent_id 0" "$(head -n1 "$ASM_TMP/none")"
asm_expect "a figure for every path: $(tr '\n' ' ' <"$ASM_TMP/none")" paths_ok "$ASM_TMP/none"
asm_case_end "probe_cost with no agent registered"

# 2: a non-agent while agent 903 exists.
asm_case_start
asmctl run --quiet --no-landlock --name other --id 903 -- sleep 600 &
other=$!
asm_bg_track "$other"
asm_expect "agent 903 is listed" asm_wait listed 903
cat "$PROBE_COST" >"$ASM_TMP/other" 2>&1
asm_expect_eq "first line" "agents 1 agent_id 0" "$(head -n1 "$ASM_TMP/other")"
asm_expect "a figure for every path: $(tr '\n' ' ' <"$ASM_TMP/other")" paths_ok "$ASM_TMP/other"
asm_expect_eq "agent 903's spawns exits faults" "1 0 0" "$(asm_agent_counts 903)"
asm_case_end "probe_cost as a non-agent leaves the agent alone"

# 3: as agent 901, whose open of probe_cost is checked (scope /sys) and
# whose fake children join and leave: the counters add up, no fault.
asm_case_start
asmctl run --quiet --no-landlock --name probe --id 901 --cap FsBasic --cap NetClient \
	--cap ProcessSpawn --scope /sys -- cat "$PROBE_COST" >"$ASM_TMP/agent" 2>&1
asm_expect_eq "asmctl run status" 0 "$?"
asm_expect_eq "first line" "agents 2 agent_id 901" "$(head -n1 "$ASM_TMP/agent")"
asm_expect "a figure for every path: $(tr '\n' ' ' <"$ASM_TMP/agent")" paths_ok "$ASM_TMP/agent"
fork_calls=$(awk '$1 == "fork_ns" { print $4 }' "$ASM_TMP/agent")
asm_expect_eq "agent 901's spawns exits faults" "$((fork_calls + 1)) $((fork_calls + 1)) 0" \
	"$(asm_agent_counts 901)"
json=$(asmctl info 901 --json)
asm_expect_eq "agent 901's violations" 0 "$(asm_json_num violations <<<"$json")"
asm_expect_eq "agent 901's state" Exited "$(asm_json_str state <<<"$json")"
asm_expect_eq "Total Spawns = Total Exits + 1 (agent 903)" \
	"$(($(asm_sys_metric "Total Exits") + 1))" "$(asm_sys_metric "Total Spawns")"
asm_case_end "probe_cost as an agent: fake children join and leave, no violation"

# 4: the sampler's figures.
asm_case_start
line=$(cat "$SAMPLER")
ticks=$(awk '{ print $2 }' <<<"$line")
asm_expect "sampler line '$line'" grep -qE \
	'^ticks [0-9]+ total_ns [0-9]+ last_ns [0-9]+ max_ns [0-9]+ sweeps [0-9]+ last_sweep_ns [0-9]+ agents 2 processes 1$' \
	<<<"$line"
sleep 2.5
asm_expect "the sampler ticked ($ticks -> $(awk '{ print $2 }' "$SAMPLER"))" \
	test "$(awk '{ print $2 }' "$SAMPLER")" -gt "${ticks:-0}"
asm_case_end "debugfs asm/sampler counts the sampler's ticks and what they took"

kill "$other" 2>/dev/null
wait "$other" 2>/dev/null
ktap_finished
