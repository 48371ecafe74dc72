#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A cgroup agent: every process of /sys/fs/cgroup/agentsys/t1 is a member,
# whether it was there at registration, was moved in later, or was forked
# by a member.  Killing them all by SIGTERM gives three crashes.
#
# Members: P1, a shell that forks one `sleep` when told to through a FIFO;
# P2, moved in after registration: a spawner with 3 extra threads, so the
# move attaches 4 tasks but one process; P3, the `sleep` P1 forks.

. "$(dirname "$0")/lib.sh"

CG_ROOT=/sys/fs/cgroup
CG_PARENT=$CG_ROOT/agentsys
CG=$CG_PARENT/t1
created_parent=0

cg_procs() {
	tr '\n' ' ' <"$CG/cgroup.procs" | sed 's/ $//'
}
cg_nr_procs() {
	wc -l <"$CG/cgroup.procs"
}
cg_remove() {
	[ -d "$CG" ] && rmdir "$CG" 2>/dev/null
	[ ! -d "$CG" ]
}

asm_test_cleanup() {
	local pid
	if [ -d "$CG" ]; then
		for pid in $(cat "$CG/cgroup.procs" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		asm_wait cg_remove
	fi
	if [ "$created_parent" = 1 ]; then
		rmdir "$CG_PARENT" 2>/dev/null
	fi
}

ktap_print_header
asm_require_root

if ! grep -q " $CG_ROOT cgroup2 " /proc/mounts; then
	mount -t cgroup2 none "$CG_ROOT" 2>/dev/null
fi
if [ "$(stat -f -c %T "$CG_ROOT" 2>/dev/null)" != cgroup2fs ]; then
	ktap_skip_all "no cgroup v2 hierarchy at $CG_ROOT"
	exit "$KSFT_SKIP"
fi
if [ ! -d "$CG_PARENT" ]; then
	mkdir "$CG_PARENT" || asm_bail "mkdir $CG_PARENT"
	created_parent=1
fi
[ -d "$CG" ] && rmdir "$CG"
mkdir "$CG" || asm_bail "mkdir $CG"

ktap_set_plan 7
asm_reload

fifo=$ASM_TMP/fork.fifo
mkfifo "$fifo" || asm_bail "mkfifo"

# P1: blocks opening the FIFO, then forks one sleep and waits for it.
sh -c 'read x <"$1"; sleep 60 & wait' sh "$fifo" &
p1=$!
asm_bg_track "$p1"
echo "$p1" >"$CG/cgroup.procs" || asm_bail "cannot move $p1 into $CG"

# 1: registering the cgroup counts the process already in it.  P1's open of
# the FIFO returns after the registration (FsBasic) and the sleep it forks
# execs (ProcessSpawn).
asm_case_start
asmctl register --cgroup "$CG" --name cg --id 300 --cap FsBasic,ProcessSpawn >/dev/null
asm_expect_eq "asmctl register exit status" 0 "$?"
asm_expect_wait "row 300: spawns exits faults" "1 0 0" asm_agent_counts 300
asm_expect_wait "nr_processes" 1 info_num 300 nr_processes
asm_expect_eq "name" cg "$(info_json 300 | asm_json_str name)"
asm_case_end "register cgroup t1 with one process as 300: spawns 1"

# 1b: a cgroup is one agent: registering it again is refused.
asm_case_start
asmctl register --cgroup "$CG" --name cg2 --id 301 >/dev/null 2>"$ASM_TMP/dup.err"
asm_expect_eq "second asmctl register exit status" 1 "$?"
asm_expect "EEXIST message ($(head -c 200 "$ASM_TMP/dup.err"))" grep -q "Error:" "$ASM_TMP/dup.err"
asm_expect_eq "row 301" "" "$(asm_agent_row 301)"
asm_expect_wait "row 300 unchanged" "1 0 0" asm_agent_counts 300
asm_case_end "registering cgroup t1 a second time fails with EEXIST"

# 2: a process moved in joins the agent, once for all its threads.
asm_case_start
"$SPAWNER" -t 3 -w "$ASM_TMP/p2.ready" &
p2=$!
asm_bg_track "$p2"
asm_expect "P2 ready" asm_wait test -s "$ASM_TMP/p2.ready"
asm_expect_eq "P2 threads" 4 "$(ls "/proc/$p2/task" 2>/dev/null | wc -l)"
asm_expect "move $p2 into $CG" eval "echo $p2 >'$CG/cgroup.procs'"
asm_expect_wait "row 300: spawns exits faults" "2 0 0" asm_agent_counts 300
asm_expect_wait "nr_processes" 2 info_num 300 nr_processes
asm_case_end "a process with 4 threads moved into the cgroup: spawns 2"

# 3: a process forked by a member joins the agent (once, not also as an attach).
asm_case_start
# (Opening the FIFO blocks until P1 has it open: do not hang if P1 is gone.)
asm_expect "tell P1 to fork" timeout 10 sh -c 'echo go >"$1"' sh "$fifo"
asm_expect_wait "processes in $CG" 3 cg_nr_procs
asm_expect_wait "row 300: spawns exits faults" "3 0 0" asm_agent_counts 300
asm_expect_wait "nr_processes" 3 info_num 300 nr_processes
asm_expect_eq "Total Spawns" 3 "$(asm_sys_metric "Total Spawns")"
asm_case_end "a process forked by a member: spawns 3"

# 4: SIGTERM for all three: three exits (not one per thread), each a crash.
asm_case_start
procs=$(cg_procs)
asm_expect_eq "number of processes in $CG ($procs)" 3 "$(wc -w <<<"$procs")"
kill -TERM $procs
wait "$p1" "$p2" 2>/dev/null
asm_bg_reaped "$p1"
asm_bg_reaped "$p2"
asm_expect_wait "row 300: spawns exits faults" "3 3 3" asm_agent_counts 300
asm_expect_eq "crash_count" 3 "$(info_num 300 crash_count)"
asm_expect_eq "Total Exits" 3 "$(asm_sys_metric "Total Exits")"
asm_expect_eq "Total Crashes" 3 "$(asm_sys_metric "Total Crashes")"
asm_case_end "SIGTERM to the three members: exits 3, crashes 3"

# 5: all gone, the last by a signal, no restart allowed.
asm_case_start
asm_expect_wait "state" Failed info_state 300
asm_expect_eq "nr_processes" 0 "$(info_num 300 nr_processes)"
asm_expect_wait "Active Agents" 0 asm_sys_metric "Active Agents"
asm_case_end "cgroup agent 300 ends Failed with no live process"

# 6: unregister, then the cgroup can go.
asm_case_start
asm_expect "asmctl unregister 300" asm_quiet asm_unregister 300
asm_expect_wait "row 300" "" asm_agent_row 300
asm_expect_eq "Total Spawns after unregister" 3 "$(asm_sys_metric "Total Spawns")"
asm_expect "rmdir $CG" asm_wait cg_remove
asm_case_end "unregister 300 and remove the cgroup"

ktap_finished
