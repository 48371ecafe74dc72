#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# asmd, the launcher: it starts agents from the spec files in
# selftests/asmd/*/, each in /sys/fs/cgroup/agentsys/<id>, and restarts them
# when the module's verdict (a "recovery" event over generic netlink) says
# so; the module counts the restarts and marks the agent Failed when the
# budget is spent.
#
#   crash/     710 crashy: exits 3 half a second after each start, budget 3:
#              exactly 3 restarts, then Failed, and it stays down.
#   watchdog/  711 heartbeat: three heartbeats then silence, watchdog 1.5 s,
#              budget 1: the unresponsive fault restarts it once.
#   reattach/  712 sleeper: `sleep 600`; asmd is killed and started again:
#              still one process, the new asmd attaches; a third asmd is
#              refused by the lock.
#   bad/       a spec with an unknown key: `asmd --check` fails naming it.
#
# None of the specs has a `user`: every agent runs as nobody
# (test_asmd_security.sh checks that).

# The VM is emulated: give every wait 30 s.
ASM_TIMEOUT=${ASM_TIMEOUT:-30}
. "$(dirname "$0")/lib.sh"

. "$ASM_SELFTESTS/asmd_lib.sh"

IDS="710 711 712"

asm_test_cleanup() {
	# (asm_on_exit has killed the asmd instances still running.)
	# shellcheck disable=SC2086
	asmd_cleanup_cgroups $IDS
}

ktap_print_header
asm_require_root
asmd_require
for id in $IDS; do
	cg_destroy "$id"
done

ktap_set_plan 8
asm_reload

# 1: crash loop: started, then restarted on each of the first 3 verdicts;
# the 4th crash leaves it Failed.
asm_case_start
asmd_start crash crash
asm_expect_wait "state restart_count nr_processes" "Failed 3 0" info_triple 710
asm_expect "asmd logs the failure" \
	asm_wait asmd_has crash "agent 710 (crashy): failed after 3 restarts"
asm_expect_eq "asmd 'restarting' lines" 3 "$(asmd_count crash "agent 710 (crashy): restarting")"
asm_expect "asmd logs restart 3 of 3" asmd_has crash "restarting (restart 3 of 3)"
asm_expect_eq "asmd 'started pid' lines" 4 "$(asmd_count crash "agent 710 (crashy): started pid")"
asm_expect_eq "crash_count" 4 "$(info_num 710 crash_count)"
asmd_case_end "crash loop: asmd restarts agent 710 exactly 3 times, then it is Failed" crash

# 2: no restart after Failed, with asmd still listening.
asm_case_start
sleep 3
asm_expect_eq "state restart_count nr_processes 3 s later" "Failed 3 0" "$(info_triple 710)"
asm_expect_eq "processes in the cgroup" 0 "$(cg_nr 710)"
asm_expect_eq "asmd 'started pid' lines" 4 "$(asmd_count crash "agent 710 (crashy): started pid")"
asm_expect "asmd still runs" kill -0 "$ASMD_PID"
asmd_case_end "a Failed agent stays down: 0 processes, no new start 3 s later" crash

# 3: SIGTERM: asmd exits 0 and leaves the agents to the kernel.
asm_case_start
asmd_stop "$ASMD_PID" TERM
asm_expect_eq "asmd exit status after SIGTERM" 0 "$ASMD_STATUS"
asm_expect "asmd logs its exit" asmd_has crash "SIGTERM: exiting"
asm_expect_eq "agent 710 still registered" Failed "$(info_state 710)"
asmd_case_end "SIGTERM: asmd exits 0, the agent stays registered" crash

# 4: watchdog: no heartbeat for 1.5 s is an unresponsive fault; its restart
# action kills the agent and the verdict has asmd start it again.
asm_case_start
asmd_start watchdog watchdog
watchdog_pid=$ASMD_PID
asm_expect_wait "restart_count state processes" "1 Restarted running" info_restarted 711
asm_expect "asmd logs the restart" \
	asmd_has watchdog "agent 711 (heartbeat): restarting (restart 1 of 1)"
asm_expect "asmd logs the restarted event" \
	asm_wait asmd_has watchdog "agent 711 (heartbeat): running again (restart 1 of 1)"
types=$(recent_fault_types 711)
asm_expect "recent_faults ($types) has unresponsive" \
	eval "case ',$types,' in *,Unresponsive,*) true ;; *) false ;; esac"
asm_expect "the agent's stdout is in its log" \
	grep -q "heartbeat: agent 711" "$LOGS/711.log"
asmd_stop "$watchdog_pid" TERM
asm_expect_eq "asmd exit status" 0 "$ASMD_STATUS"
if [ "$ASM_CASE_OK" != 1 ]; then
	# What the module and the agent did (this case has failed only under
	# load, once in a while): the agent's document, its log, its events.
	info_json 711 | sed 's/^/# info 711: /'
	sed 's/^/# 711.log: /' "$LOGS/711.log"
	grep ' agent 711 ' "$ASM_DEBUGFS/asm/events" 2>/dev/null | tail -20 | sed 's/^/# event: /'
fi
asmd_case_end "watchdog: agent 711 unresponsive after 1.5 s, restarted once by asmd" watchdog

# 5: a long-running agent is started once.
asm_case_start
asmd_start reattach1 reattach
first_asmd=$ASMD_PID
asm_expect "asmd starts it" asm_wait asmd_has reattach1 "agent 712 (sleeper): started pid"
asm_expect_wait "processes in the cgroup" 1 cg_nr 712
pids_before=$(cg_pids 712)
asm_expect_wait "nr_processes" 1 info_num 712 nr_processes
asmd_case_end "agent 712 started in its cgroup: one process ($pids_before)" reattach1

# 6: asmd killed and started again: it attaches, starts no second copy.
asm_case_start
asmd_stop "$first_asmd" KILL
asm_expect_eq "pids in the cgroup after SIGKILL of asmd" "$pids_before" "$(cg_pids 712)"
asmd_start reattach2 reattach
asm_expect "the new asmd attaches" \
	asm_wait asmd_has reattach2 "agent 712 (sleeper): attached (1 process running)"
asm_expect_eq "the new asmd's 'started' lines" 0 "$(asmd_count reattach2 "started pid")"
asm_expect_eq "pids in the cgroup" "$pids_before" "$(cg_pids 712)"
asm_expect_eq "nr_processes" 1 "$(info_num 712 nr_processes)"
asm_expect_eq "restart_count" 0 "$(info_num 712 restart_count)"
asmd_case_end "asmd killed (SIGKILL) and restarted: attaches to agent 712, one process" reattach2

# 7: a third asmd while the second runs: refused by the lock.
asm_case_start
timeout 60 asmd --spec "$SPECS/reattach" --log-dir "$LOGS" --lock "$LOCK" \
	>"$ASM_TMP/third.out" 2>&1
asm_expect_eq "third asmd exit status" 1 "$?"
asm_expect "third asmd names the lock" \
	grep -q "asmd: error: another asmd is running (lock $LOCK)" "$ASM_TMP/third.out"
asm_expect_eq "pids in the cgroup" "$pids_before" "$(cg_pids 712)"
asm_expect "the second asmd still runs" kill -0 "$ASMD_PID"
asmd_case_end "a second asmd running: a third one exits 1 (lock)" third

# 8: --check: a good spec passes, an unknown key fails and is named.
asm_case_start
asmd --check --spec "$SPECS/crash" >"$ASM_TMP/check.out" 2>&1
asm_expect_eq "asmd --check crash/ exit status" 0 "$?"
asm_expect "summary of agent 710" grep -q "agent 710 (crashy)" "$ASM_TMP/check.out"
asmd --check --spec "$SPECS/bad" >>"$ASM_TMP/check.out" 2>&1
asm_expect_eq "asmd --check bad/ exit status" 1 "$?"
asm_expect "the error names the file and the key" \
	grep -q "typo.toml:[0-9]*: unknown field \`restart_limit\`" "$ASM_TMP/check.out"
asmd_case_end "asmd --check: exit 1 naming the unknown key restart_limit" check

ktap_finished
