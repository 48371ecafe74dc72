#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Loading and unloading asm.ko: the init message, the three files it
# creates and removes, unloading under a live agent, repeated load cycles.

. "$(dirname "$0")/lib.sh"

INIT_MSG="[ASM] Agent Supervision Module initialized"

count_init_msgs() {
	dmesg | grep -cF "$INIT_MSG"
}

# The three interfaces, as "proc dev debugfs" presence flags.
interfaces() {
	local p=0 d=0 e=0
	[ -e "$ASM_STATUS" ] && p=1
	[ -e "$ASM_DEV" ] && d=1
	[ -e "$ASM_EVENTS" ] && e=1
	echo "$p $d $e"
}

ktap_print_header
asm_require_root
ktap_set_plan 7

asm_unload || asm_bail "rmmod asm failed"
asm_mount_debugfs || asm_bail "cannot mount debugfs"

# 1: insmod and its message (counted, so an old one from an earlier load
# does not pass for this one).
asm_case_start
before=$(count_init_msgs)
asm_expect "insmod $ASM_KO" insmod "$ASM_KO"
asm_expect_eq "init messages in dmesg" "$((before + 1))" "$(count_init_msgs)"
asm_case_end "insmod logs \"$INIT_MSG\""
asm_loaded || asm_bail "asm is not loaded"

# 2: /proc/agentsys/status, with no agent and zero counters.
asm_case_start
asm_expect "$ASM_STATUS readable" test -r "$ASM_STATUS"
asm_expect_eq "first line" "Agent Supervision Module - Telemetry Status" \
	"$(head -n1 "$ASM_STATUS" 2>/dev/null)"
for m in "Total Spawns" "Total Exits" "Total Crashes" "Total Faults" "Total Restarts" \
	"Active Agents" "Events Dropped"; do
	asm_expect_eq "$m" 0 "$(asm_sys_metric "$m")"
done
asm_case_end "/proc/agentsys/status exists with zero counters"

# 3: /dev/asm, a character device anyone may open.
asm_case_start
asm_expect "$ASM_DEV exists" asm_wait test -e "$ASM_DEV"
asm_expect "$ASM_DEV is a character device" test -c "$ASM_DEV"
asm_expect_eq "$ASM_DEV mode" 666 "$(stat -c %a "$ASM_DEV" 2>/dev/null)"
asm_case_end "/dev/asm is a character device of mode 0666"

# 4: the debugfs event ring, empty.
asm_case_start
asm_expect "$ASM_EVENTS exists" test -r "$ASM_EVENTS"
asm_expect_eq "$ASM_EVENTS" "events: total 0 dropped 0 capacity 1024 join_failures 0" \
	"$(cat "$ASM_EVENTS" 2>/dev/null)"
asm_case_end "debugfs asm/events exists and is empty"

# 5: rmmod removes all three.
asm_case_start
asm_expect "rmmod asm" rmmod asm
asm_expect_not "asm still in /proc/modules" asm_loaded
asm_expect_wait "interfaces present (proc dev debugfs)" "0 0 0" interfaces
asm_case_end "rmmod removes /proc/agentsys/status, /dev/asm and debugfs asm/events"

# 6: rmmod with a live agent: the module goes, the process carries on and
# exits normally, a new module knows nothing of it.
asm_case_start
live_file=$ASM_TMP/live
if ! insmod "$ASM_KO"; then
	asm_fail "insmod"
elif ! asm_start_live 110 load-live "$live_file"; then
	asm_fail "live agent did not start"
else
	asm_expect_wait "agent 110 spawns" 1 asm_agent_field 110 spawns
	asm_expect "rmmod asm with agent 110 running" rmmod asm
	asm_expect_not "asm still loaded" asm_loaded
	asm_expect "agent process $ASM_LIVE_PID survived" kill -0 "$ASM_LIVE_PID"
	asm_expect "insmod $ASM_KO again" insmod "$ASM_KO"
	asm_expect_eq "agent 110 after reload" "" "$(asm_agent_row 110)"
	asm_stop_live "$live_file" "$ASM_LIVE_PID"
	asm_expect_eq "exit status of the former agent" 0 "$ASM_LIVE_STATUS"
	sleep 0.5	# give a wrongly counted exit time to show
	asm_expect_eq "Total Spawns after reload" 0 "$(asm_sys_metric "Total Spawns")"
	asm_expect_eq "Total Exits after reload" 0 "$(asm_sys_metric "Total Exits")"
	asm_expect "rmmod asm" rmmod asm
fi
asm_case_end "rmmod with a live agent succeeds, the process survives, insmod again works"
rm -f "$live_file"
asm_unload 2>/dev/null

# 7: three load/unload cycles in a row.
asm_case_start
for i in 1 2 3; do
	asm_expect "cycle $i: insmod" insmod "$ASM_KO"
	asm_expect_wait "cycle $i: interfaces after insmod" "1 1 1" interfaces
	asm_expect "cycle $i: rmmod" rmmod asm
	asm_expect_wait "cycle $i: interfaces after rmmod" "0 0 0" interfaces
done
asm_case_end "insmod/rmmod three times in a row"

ktap_finished
