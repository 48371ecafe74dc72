#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `asmctl run` as the agent's supervising parent, against the module.
#
#   1  root: `asmctl run --auto-restart 2 -- sh -c 'exit 3'` runs the
#      command three times (two restarts, each said in one line), then
#      says the budget is used up and exits 3; the agent is Failed with 2
#      restarts and 3 crashes, counted by the module without asmd.
#   2  uid 65534 without ProcessSpawn: `sh -c 'sleep 0.2; true'` is killed
#      for exec'ing sleep in a forked child; asmctl names the operation,
#      the program and the capability in one line and exits 124.
#   3  a notice for an agent with no capabilities, none with --quiet or
#      with a capability; the command's own status passed on.
#   4  the attacks: uid 65534 cannot ask for restarts (--auto-restart is
#      refused, nothing runs), and a signal to asmctl ends the agent rather
#      than being taken for a crash to restart.
#   5  root's agent has no capability (an agent's powers are its ASM
#      capabilities): every capability set of its process is empty, and
#      the attacks, joining the events group or reading debugfs's event
#      ring to read every agent's events, are refused; a chosen id and a
#      restart budget still work (REGISTER comes before the capabilities
#      go).

. "$(dirname "$0")/lib.sh"

AS_NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)

ktap_print_header
asm_require_root
ktap_set_plan 5
asm_reload

# 1: restarts without asmd.
asm_case_start
asmctl run --no-landlock --cap FsBasic --name crashy --id 7800 --auto-restart 2 -- sh -c 'exit 3' \
	>"$ASM_TMP/1.out" 2>"$ASM_TMP/1.err"
asm_expect_eq "exit status: the command's" 3 "$?"
asm_expect_eq "stderr" "$(printf '%s\n' \
	'asmctl: agent 7800 crashed (exit code 3): restart 1 of 2' \
	'asmctl: agent 7800 crashed (exit code 3): restart 2 of 2' \
	'asmctl: agent 7800 failed: exit code 3 after restart 2 of 2 (the restart budget is used up)')" \
	"$(cat "$ASM_TMP/1.err")"
asm_expect_eq "state" Failed "$(info_state 7800)"
asm_expect_eq "restart_count" 2 "$(info_num 7800 restart_count)"
asm_expect_eq "crash_count" 3 "$(info_num 7800 crash_count)"
asm_expect_eq "spawn_count" 3 "$(info_num 7800 spawn_count)"
asm_unregister 7800
asm_case_end "asmctl run --auto-restart 2 -- sh -c 'exit 3': exactly 2 restarts, then Failed, exit 3"

# 2: killed for a violation, told why.
asm_case_start
"${AS_NOBODY[@]}" asmctl run --name spawner -- sh -c 'sleep 0.2; true' \
	>"$ASM_TMP/2.out" 2>"$ASM_TMP/2.err"
asm_expect_eq "exit status" 124 "$?"
line=$(grep 'stopped by ASM' "$ASM_TMP/2.err")
asm_expect "one verdict line: $(cat "$ASM_TMP/2.err")" \
	grep -qE '^asmctl: agent [0-9]+ stopped by ASM: capability violation: exec /(usr/)?bin/sleep \(a forked process needs ProcessSpawn to exec\)$' \
	<<<"$line"
id=$(sed -nE 's/^asmctl: agent ([0-9]+) stopped.*/\1/p' <<<"$line")
asm_expect_eq "its state" Failed "$(info_state "$id")"
asm_case_end "uid 65534's agent without ProcessSpawn: the violation named in one line, exit 124"

# 3: the no-capabilities notice.
asm_case_start
"${AS_NOBODY[@]}" asmctl run --name bare -- sh -c 'exit 5' 2>"$ASM_TMP/3.err"
asm_expect_eq "exit status: the command's" 5 "$?"
asm_expect "the notice: $(cat "$ASM_TMP/3.err")" \
	grep -qE '^asmctl: notice: agent [0-9]+ has no capabilities: .*ProcessSpawn.*NetClient.*NetServer.*LlmAccess' \
	"$ASM_TMP/3.err"
"${AS_NOBODY[@]}" asmctl run --quiet --name bare -- true 2>"$ASM_TMP/3q.err"
asm_expect_eq "--quiet: nothing on stderr" "" "$(cat "$ASM_TMP/3q.err")"
"${AS_NOBODY[@]}" asmctl run --cap FsBasic --name capped -- true 2>"$ASM_TMP/3c.err"
asm_expect_not "with a capability: no notice" grep -q notice "$ASM_TMP/3c.err"
asm_case_end "a one-line notice for an agent without capabilities; the command's status"

# 4: the attacks.
asm_case_start
rm -f "$ASM_TMP/ran"
"${AS_NOBODY[@]}" asmctl run --name greedy --auto-restart 5 -- touch "$ASM_TMP/ran" \
	2>"$ASM_TMP/4.err"
asm_expect_eq "uid 65534 --auto-restart: exit status" 1 "$?"
asm_expect "the refusal says why: $(cat "$ASM_TMP/4.err")" \
	grep -q 'restart budget (--auto-restart) .* needs CAP_SYS_ADMIN' "$ASM_TMP/4.err"
asm_expect_not "nothing ran" test -e "$ASM_TMP/ran"
asmctl run --no-landlock --name looper --id 7801 --auto-restart 5 --cap FsBasic -- \
	sh -c ": >$ASM_TMP/looper.\$\$; exec sleep 60" 2>"$ASM_TMP/4b.err" &
looper=$!
asm_bg_track "$looper"
asm_wait eval "ls $ASM_TMP/looper.* >/dev/null 2>&1"
kill -TERM "$looper"
wait "$looper"
asm_expect_eq "SIGTERM to asmctl: 128 + 15" 143 "$?"
asm_bg_reaped "$looper"
asm_expect_eq "no restart" 0 "$(info_num 7801 restart_count)"
asm_expect_eq "one run" 1 "$(ls "$ASM_TMP"/looper.* | wc -l)"
asm_unregister 7801
asm_case_end "uid 65534 gets no restart budget; a signal to asmctl ends the agent, not restarted"

# 5: root's agent, without root's powers.
asm_case_start
asmctl run --quiet --no-landlock --name capless --id 7802 --auto-restart 1 -- \
	grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/self/status >"$ASM_TMP/5.caps" 2>&1
asm_expect_eq "exit status" 0 "$?"
asm_expect_eq "every capability set empty" \
	"CapInh:0000000000000000 CapPrm:0000000000000000 CapEff:0000000000000000 CapBnd:0000000000000000 CapAmb:0000000000000000" \
	"$(tr -d '\t' <"$ASM_TMP/5.caps" | xargs)"
asmctl run --quiet --no-landlock --name watcher -- asmctl monitor --count 1 >"$ASM_TMP/5.mon" 2>&1
asm_expect_eq "monitor in root's agent: exit status" 1 "$?"
asm_expect "monitor in root's agent: refused" \
	grep -q "^Error: joining the asm events group needs CAP_NET_ADMIN" "$ASM_TMP/5.mon"
asmctl run --quiet --no-landlock --name ringreader -- cat "$ASM_EVENTS" >"$ASM_TMP/5.ring" 2>&1
asm_expect_eq "debugfs ring in root's agent: exit status" 1 "$?"
asm_expect "debugfs ring in root's agent: refused" grep -q "Operation not permitted" "$ASM_TMP/5.ring"
asm_expect_not "debugfs ring in root's agent: no event" grep -q "^events: total" "$ASM_TMP/5.ring"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$ASM_TMP/5.caps" "$ASM_TMP/5.mon" "$ASM_TMP/5.ring"
asm_case_end "root's agent has no capability, so it can read every agent's events neither on netlink nor in debugfs"

asm_unload
ktap_finished
