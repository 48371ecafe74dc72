#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Stress: load/unload cycles under fire, the maximum number of agents at
# once, and the helpers killed and restarted in the middle of traffic.  The
# VM's dmesg gate (run.sh) fails the run on any kernel report and scans
# kmemleak at the end; here every counter must add up afterwards.
#
#   1. ASM_STRESS_CYCLES cycles (make check: 2; make stress: 100) of: insmod;
#      (started once, held while the module is away, running on through
#      every rmmod:) ASM_STRESS_AGENTS agents (process agents under `asmctl run`, some
#      with a restart budget, some without ProcessSpawn so that their exec
#      is a violation, every fourth a cgroup agent) that fork, exec
#      /bin/true, and end by SIGSEGV, exit 3 or exit 0, over and over;
#      ASM_STRESS_READERS readers (half as uid 65534) of every file view
#      across the whole phase (insmod and rmmod included), as many of the
#      ioctl views and two of every asmctl view within each load; a
#      patcher changing the agents' policies;
#      a default CPU quota whose action, the throttle, stops and continues
#      the busy agents.  Then everything is frozen (cgroup v2 freezer), the
#      counters are checked (spawns = exits + live, system-wide and per
#      agent; events total = ring + dropped), everything thawed, asm.ko
#      unloaded under the running agents, and no agent process may be left
#      stopped (a throttle's SIGSTOP) or traced; then the agents' commands
#      still running are ended, so that each load starts its agents anew.
#   2. ASM_STRESS_MANY cgroup agents at once (make check: 64; make stress:
#      4096, the documented maximum: one more is ENOSPC) while readers read
#      every view and the sampler runs; every view answers, GET_INFO of
#      each agent works, and unregistering them all leaves none.
#   3. asm-gateway killed (SIGKILL) and started again while agents ask for
#      LLM completions: answers resume, and the gateway's counters match
#      what the agents saw; asmd killed (SIGKILL) and started again while
#      it supervises a busy agent and a crash loop: it attaches to the one
#      and carries the other's restarts to the budget; the counters add up.
#
# ASM_STRESS_SECONDS is how long the traffic of each cycle runs once most
# of its agents run.

# The VM is emulated and this test loads it: give every wait 60 s.
ASM_TIMEOUT=${ASM_TIMEOUT:-60}
. "$(dirname "$0")/lib.sh"

. "$ASM_SELFTESTS/asmd_lib.sh"

CYCLES=${ASM_STRESS_CYCLES:-2}
AGENTS=${ASM_STRESS_AGENTS:-4}
READERS=${ASM_STRESS_READERS:-2}
MANY=${ASM_STRESS_MANY:-64}
RUN_S=${ASM_STRESS_SECONDS:-4}
COUNTERS=$ASM_SELFTESTS/stress_counters.py
STRESS=$ASM_BUILD/asm_stress

# Everything the test starts runs in $CG, so that one write freezes it for
# the counters check and one write kills it: the tools' readers and the
# patcher in $CG/tools (held before rmmod: an open /dev/asm pins the
# module), the file readers in $CG/files (they read on through insmod and
# rmmod), the agents and what starts them in $CG/work.
CG=$CG_ROOT/asm-stress
# Allocated agent ids start at 1000 (Documentation/uapi.rst).
ID_ALLOC_MIN=1000
MANY_ID0=30000
# The readers write their round counts here, as uid 65534 too (each
# renames a file of its own over its count: sticky, as /tmp).
PROGRESS=$(mktemp -d /tmp/asm-stress-progress.XXXXXXXXXX)
chmod 1777 "$PROGRESS"
# While this file exists (from before each rmmod to after the next insmod)
# nothing new uses the module: no agent starts, no reader or patcher opens
# /dev/asm (an open file pins the module); what runs, runs on.  Where the
# readers of uid 65534 see it ($ASM_TMP is root's alone).
HOLD=$PROGRESS/hold
# The number of the current load, for the cgroup slots to register again.
LOADS=$ASM_TMP/loads

# pause SECONDS: waits without a process (a `sleep` is an exec, and some
# 70 shell loops sleeping that way kept a TCG guest busy): the read times
# out on a FIFO nobody writes.
PAUSE=$ASM_TMP/pause
mkfifo "$PAUSE"
pause() {
	read -r -t "$1" _ <>"$PAUSE"
	return 0
}

# held: true (after a pause) while $HOLD exists.
held() {
	[ -e "$HOLD" ] || return 1
	pause 0.5
}

asm_test_cleanup() {
	cg_kill_all "$CG"
	rm -rf "$PROGRESS"
	asmd_cleanup_cgroups 7801 7802
	[ "${CPU_ADDED:-0}" = 1 ] && echo -cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
}

# ---------------------------------------------------------------------------
# cgroups

# cg_kill_all DIR: kill every process under DIR and remove DIR and the
# cgroups under it.
cg_kill_all() {
	[ -d "$1" ] || return 0
	echo 0 >"$1/cgroup.freeze" 2>/dev/null
	echo 1 >"$1/cgroup.kill"
	asm_wait grep -qx "populated 0" "$1/cgroup.events"
	find "$1" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
	rmdir "$1" 2>/dev/null
}

# cg_make: $CG and its groups, for the tools' readers, the file readers and
# the workload.  With a cpu controller (CPU_ON), $CG weighs ten times this
# shell's processes (which get some 9% of the CPU when everything is
# busy, not 1 / 90), and the workload four times each kind of reader
# (readers in a loop would otherwise take what the agents need: with even
# shares no agent process ended in a 90 s cycle).  With $CG at the
# shell's weight, the shell's polling for the agents (an awk and a sleep
# every 0.1 s) starved the readers: in most small runs the ioctl reader
# of uid 65534 made no round in the first cycle.
cg_make() {
	mkdir -p "$CG" "$CG/tools" "$CG/files" "$CG/work" || return
	[ "$CPU_ON" = 1 ] || return 0
	{ grep -qw cpu "$CG/cgroup.subtree_control" || echo +cpu >"$CG/cgroup.subtree_control"; } &&
		echo 1000 >"$CG/cpu.weight" && echo 400 >"$CG/work/cpu.weight"
}

# cg_populated DIR: whether a process is in DIR or under it (no exec).
cg_populated() {
	local k v
	while read -r k v; do
		[ "$k" = populated ] && { [ "$v" = 1 ]; return; }
	done <"$1/cgroup.events"
	return 1
}

# cg_bg DIR CMD...: CMD in the background, in cgroup DIR.  The job is a
# subshell outside DIR that waits for it: killed with DIR, CMD is not this
# shell's child, which would report each such death on stderr.
cg_bg() {
	local dir=$1
	shift
	( (echo "$BASHPID" >"$dir/cgroup.procs" && "$@"); true) </dev/null >/dev/null 2>&1 &
	asm_bg_track $!
}

# cg_freeze DIR 1|0: freeze or thaw DIR and wait until it is.  A process
# stopped by SIGSTOP counts as frozen; one that is exiting has passed the
# module's exit probe before it leaves the cgroup, one being forked is
# counted by the module before it first runs: frozen, nothing is half-way.
cg_freeze() {
	echo "$2" >"$1/cgroup.freeze" &&
		asm_wait grep -qx "frozen $2" "$1/cgroup.events"
}

# cg_procs DIR: the processes in DIR and the cgroups under it.
cg_procs() {
	find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null
}

# reap_bg: wait for the background jobs (killed with their cgroups).
reap_bg() {
	local pid
	for pid in "${ASM_BG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
		asm_bg_reaped "$pid"
	done
}

# ---------------------------------------------------------------------------
# The workload

# An agent's command (sh -c WORKLOAD sh ROUNDS END PAUSE): ROUNDS rounds of
# a fork that execs /bin/true, a fork that does not and a pause of PAUSE
# seconds, then END: segv (a crash by a signal), fail (exit 3) or exit
# (exit 0).  Everything here is paced but every eighth agent (busy: the
# CPU quota's throttle is for them): under TCG the VM has about one host
# core, and 50 agents, 41 readers and a patcher in tight loops made one
# cycle take 7 minutes (most of it starting the agents).
# shellcheck disable=SC2016
WORKLOAD='n=0
while [ "$n" -lt "$1" ]; do
	n=$((n + 1))
	/bin/true
	( : ) &
	wait
	sleep "$3"
done
case $2 in
segv) kill -SEGV $$ ;;
fail) exit 3 ;;
esac
exit 0'

# slot_args I: ROUNDS, END and PAUSE of agent slot I, so that the slots
# end at different times and in every way.
slot_args() {
	local ends=(segv fail exit) pause=0.2
	[ $(($1 % 8)) = 0 ] && pause=0
	echo "$((10 + 3 * ($1 % 7))) ${ends[$(($1 % 3))]} $pause"
}

# slot_process I: process agents one after the other, each under `asmctl
# run` in cgroup $CG/work/pI (end_commands); odd slots with a restart
# budget of 2 (asmctl restarts the command on the module's Recovery
# verdict); every fifth without ProcessSpawn, so its first exec of a
# forked process is a violation and the module kills it.
slot_process() {
	local caps=ProcessSpawn restart=() args dir=$CG/work/p$1
	read -ra args <<<"$(slot_args "$1")"
	[ $(($1 % 2)) = 1 ] && restart=(--auto-restart 2)
	[ $(($1 % 5)) = 4 ] && caps=FsBasic
	ulimit -c 0
	mkdir -p "$dir"
	while :; do
		held && continue
		(echo "$BASHPID" >"$dir/cgroup.procs" &&
			exec asmctl run --quiet --name "s$1" --cap "$caps" "${restart[@]}" -- \
				sh -c "$WORKLOAD" sh "${args[@]}")
		# A killed agent ends at once: do not register in a tight loop.
		[ "$caps" = ProcessSpawn ] || pause 0.5
	done
}

# slot_cgroup I: a cgroup agent, registered on its cgroup at each load
# (what still runs in it from the last load joins it then); each command
# is a process moved into it.
slot_cgroup() {
	local dir=$CG/work/c$1 args load=0 now
	read -ra args <<<"$(slot_args "$1")"
	ulimit -c 0
	mkdir -p "$dir"
	while :; do
		held && continue
		read -r now <"$LOADS"
		if [ "$now" != "$load" ]; then
			asmctl register --cgroup "$dir" --name "c$1" --cap ProcessSpawn >/dev/null ||
				{ pause 0.5; continue; }
			load=$now
		fi
		(echo "$BASHPID" >"$dir/cgroup.procs" && exec sh -c "$WORKLOAD" sh "${args[@]}")
		pause 0.2
	done
}

# end_commands: kills what the slots run (each slot's commands are in a
# cgroup of their own, $CG/work/pI or cI; the slots' loops are in $CG/work)
# and waits until they are gone.  After an unload and its checks: a
# command that outlived the module would otherwise run on unregistered
# into the next load, and its slot start the next agent only when it
# ends (from the second cycle on, half the slots took minutes to
# register again).
end_commands() {
	local d end=$((SECONDS + ASM_TIMEOUT))
	for d in "$CG"/work/*/; do
		[ -d "$d" ] && echo 1 >"$d/cgroup.kill"
	done
	for d in "$CG"/work/*/; do
		while [ -d "$d" ] && cg_populated "$d"; do
			[ "$SECONDS" -lt "$end" ] || return 1
			pause 0.2
		done
	done
}

# stress_reader I FILE ARGS...: `asm_stress read FILE ARGS...`, as uid
# 65534 for odd I; FILE (its round count) starts empty.
stress_reader() {
	local as=() progress=$2
	: >"$progress"
	if [ $(($1 % 2)) = 1 ]; then
		chown 65534:65534 "$progress"
		as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	fi
	shift 2
	exec "${as[@]}" "$STRESS" read "$progress" "$@"
}

# file_reader I: reads every file of /proc/agentsys and debugfs asm (the
# events ring is root's) a round every half second (no exec per file) and
# counts its rounds in $PROGRESS/I.  Runs across insmod and rmmod: the
# files come and go.  While the rest is held, only reader 0 goes on
# reading debugfs (an open file there pins the module: ten readers at it
# kept rmmod EBUSY for minutes); the others read /proc only, whose
# removal waits for them.
file_reader() {
	local hold=$HOLD
	[ "$1" = 0 ] && hold=-
	stress_reader "$1" "$PROGRESS/$1" files "$hold" /proc/agentsys "$ASM_DEBUGFS/asm"
}

# ioctl_reader I: reads what the tools read through /dev/asm (the
# telemetry document, the list, each agent's info, JSON, history and
# limits) a round every half second, held with the rest, and counts its
# rounds in $PROGRESS/ioctl-I.
ioctl_reader() {
	stress_reader "$1" "$PROGRESS/ioctl-$1" ioctl "$HOLD"
}

# tool_reader I: every view of asmctl, as uid 65534 for odd I, for agents
# that exist and some that do not, a round every two seconds (an exec
# each: two of them).
tool_reader() {
	local as=() n=0 id
	[ $(($1 % 2)) = 1 ] && as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	local cmd args
	while :; do
		held && continue
		n=$((n + 1))
		id=$((ID_ALLOC_MIN + (n * 7 + $1) % (4 * AGENTS)))
		for cmd in "asmctl status --json" "asmctl list --all --json" "asmctl top --once" \
			"asmctl compliance --json" "asminfo $id --json" "asmctl history $id" \
			"asmctl policy $id --json" "asmctl limits $id" "asmctl recovery $id" \
			"asmctl profile" "asmctl deps" "asmctl audit --from $n"; do
			held && break
			read -ra args <<<"$cmd"
			"${as[@]}" "${args[@]}"
		done
		pause 2
	done
}

# patcher: one policy change after the other to the agents: capabilities,
# scope, risk, restart budget, LLM bucket, the CPU quota's action.
patcher() {
	local n=0 id
	while :; do
		held && continue
		n=$((n + 1))
		id=$((ID_ALLOC_MIN + n % (4 * AGENTS)))
		case $((n % 9)) in
		0) asmctl patch "$id" add-cap FsBasic ;;
		1) asmctl patch "$id" remove-cap FsBasic ;;
		2) asmctl patch "$id" risk high ;;
		3) asmctl patch "$id" scope /tmp/ ;;
		4) asmctl patch "$id" scope none ;;
		5) asmctl patch "$id" auto-restart 3 ;;
		6) asmctl patch "$id" llm-rate 5 1 ;;
		7) asmctl recovery "$id" --cpu-quota log ;;
		8) asmctl recovery "$id" --cpu-quota throttle ;;
		esac
		pause 0.2
	done
}

# ---------------------------------------------------------------------------
# Checks

# check_counters LABEL: the counters check of stress_counters.py on a
# quiet snapshot (two status documents alike around the rest; a kill
# action's SIGKILL still ends frozen processes, so it may take a few
# reads).  Prints its line as a diagnostic; fails the case if a counter
# does not add up.
check_counters() {
	local d=$ASM_TMP/counters end=$((SECONDS + ASM_TIMEOUT)) rc=2 out
	mkdir -p "$d"
	while [ "$rc" = 2 ] && [ "$SECONDS" -lt "$end" ]; do
		asmctl status --json >"$d/status1" &&
			asmctl list --all --json >"$d/list" &&
			cat "$ASM_EVENTS" >"$d/events" &&
			asmctl status --json >"$d/status2" || { rc=3; break; }
		out=$(/usr/bin/python3 "$COUNTERS" "$1" "$d/status1" "$d/list" \
			"$d/events" "$d/status2")
		rc=$?
	done
	case $rc in
	0) ktap_print_msg "$out" ;;
	1) asm_fail "$out" ;;
	2) asm_fail "$1: the counters did not stay still for $ASM_TIMEOUT s: $out" ;;
	*) asm_fail "$1: a view could not be read" ;;
	esac
}

# rounds FILE: n = a reader's round count in FILE (0 before its first),
# with no exec or fork: under full-scale load 80 `cat`s a cycle took minutes.
rounds() {
	n=
	read -r n 2>/dev/null <"$1"
	n=${n:-0}
}

# reader_state PROGRESS: what the reader writing PROGRESS is doing (its
# pid, state, wait channel and kernel stack), for a reader that made no
# round.
reader_state() {
	local p cmd
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
		case $cmd in
		*"asm_stress read $1 "*)
			ktap_print_msg "reader ${p#/proc/}: $(awk '{ print "state", $3 }' "$p/stat")," \
				"uid $(awk '/^Uid:/ { print $2 }' "$p/status"), wchan $(cat "$p/wchan")," \
				"progress '$(cat "$1" 2>/dev/null)'," \
				"$(ls -l "$1"* 2>&1 | tr '\n' ' ')"
			sed 's/^/# stack: /' "$p/stack" 2>/dev/null
			return
			;;
		esac
	done
	ktap_print_msg "no process writes $1"
}

# agent_rows: the agents registered now (rows of the status view).
agent_rows() {
	awk '/^Per-Agent Metrics:/ { s = 1; next } /^$/ { s = 0 }
		s && $1 ~ /^[0-9]+$/ { n++ } END { print n + 0 }' "$ASM_STATUS"
}

# stopped_or_traced DIR: the processes under DIR that are stopped or
# traced, as "PID:STATE:TRACERPID" (one awk for all: execs are dear here).
stopped_or_traced() {
	local pid files=()
	for pid in $(cg_procs "$1"); do
		files+=("/proc/$pid/stat" "/proc/$pid/status")
	done
	[ "${#files[@]}" = 0 ] && return
	awk '
		FNR == 1 && FILENAME ~ /\/stat$/ {
			split(FILENAME, p, "/"); pid = p[3]
			line = $0; sub(/.*\) /, "", line); split(line, f, " ")
			state[pid] = f[1]
		}
		/^TracerPid:/ { split(FILENAME, p, "/"); tracer[p[3]] = $2 }
		END {
			for (pid in state)
				if (state[pid] ~ /^[Tt]$/ || tracer[pid] + 0 != 0)
					print pid ":" state[pid] ":" tracer[pid]
		}' "${files[@]}" 2>/dev/null
}

# rmmod_retry: unloads asm, retrying every 20 ms for up to 120 s
# (`asm_stress unload`): an open file of the module (/dev/asm, a reader's
# debugfs file) makes a try EBUSY, and under TCG an exec of rmmod per try
# took seconds, so that the twenty readers hardly ever left it a moment
# (the unload "that never ended" of earlier full-scale runs).  If it has
# not ended after 150 s by the clock, it is stuck in the module's exit:
# its stack, the blocked tasks (sysrq w) and dmesg are printed.  If it
# stayed in use, whoever holds a file of the module is named.
rmmod_retry() {
	local pid t st rc
	"$STRESS" unload 120 &
	pid=$!
	asm_bg_track "$pid"
	t=$((SECONDS + 150))
	# Until it is a zombie (its state is the third field of stat).
	while read -r _ _ st _ 2>/dev/null <"/proc/$pid/stat" && [ "$st" != Z ] &&
		[ "$SECONDS" -lt "$t" ]; do
		pause 0.2
	done
	if [ "$SECONDS" -ge "$t" ]; then
		ktap_print_msg "unload stuck for 150 s: state $(awk '{ print $3 }' "/proc/$pid/stat")," \
			"wchan $(cat "/proc/$pid/wchan" 2>/dev/null)"
		sed 's/^/# unload stack: /' "/proc/$pid/stack" 2>/dev/null
		echo w >/proc/sysrq-trigger 2>/dev/null
		dmesg | tail -n 80 | sed 's/^/# dmesg: /'
		return 1
	fi
	wait "$pid"
	rc=$?
	asm_bg_reaped "$pid"
	[ "$rc" = 3 ] &&
		ktap_print_msg "asm still in use; its files are open in:" \
			"$(find /proc/[0-9]*/fd \( -lname /dev/asm -o -lname "$ASM_DEBUGFS/asm/*" \) \
				2>/dev/null | while IFS=/ read -r _ _ p _ fd; do
					printf '%s(%s):%s ' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)" \
						"$(readlink "/proc/$p/fd/$fd")"
				done)"
	return "$rc"
}

# ---------------------------------------------------------------------------

ktap_print_header
asm_require_root
asmd_require
[ -x "$STRESS" ] || asm_bail "$STRESS is not built (make -C selftests)"
for v in CYCLES AGENTS READERS MANY RUN_S; do
	case ${!v} in
	'' | *[!0-9]*) asm_bail "ASM_STRESS_$v='${!v}': a number" ;;
	esac
done
cg_kill_all "$CG"
# The cpu controller (weights: cg_make).  Without it, at full scale, a
# step of this shell took seconds, looking for stopped processes after an
# unload 75 s, and a reader's round so long that two readers kept the
# module pinned through 120 s of unload tries.
CPU_ON=0
if grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control; then
	CPU_ON=1
elif echo +cpu >/sys/fs/cgroup/cgroup.subtree_control; then
	CPU_ON=1 CPU_ADDED=1
else
	ktap_print_msg "no cpu controller: the test's shell competes with every process"
fi
cg_make || asm_bail "cannot make $CG"
asm_unload || asm_bail "rmmod asm failed"
asm_mount_debugfs || asm_bail "cannot mount debugfs"

ktap_set_plan 4

# 1: load/unload cycles under fire.
asm_case_start
start=$SECONDS
# Everything starts once, held, and runs through every cycle: under TCG
# starting 73 shell jobs took minutes.
touch "$HOLD"
echo 0 >"$LOADS"
for ((r = 0; r < READERS; r++)); do
	cg_bg "$CG/files" file_reader "$r"
	cg_bg "$CG/tools" ioctl_reader "$r"
done
for ((i = 0; i < AGENTS; i++)); do
	if [ $((i % 4)) = 3 ]; then
		cg_bg "$CG/work" slot_cgroup "$i"
	else
		cg_bg "$CG/work" slot_process "$i"
	fi
done
for r in 0 1; do
	cg_bg "$CG/tools" tool_reader "$r"
done
cg_bg "$CG/tools" patcher
ktap_print_msg "everything started at $((SECONDS - start)) s"
throttled=0
for ((c = 1; c <= CYCLES; c++)); do
	before=() ibefore=()
	for ((r = 0; r < READERS; r++)); do
		rounds "$PROGRESS/$r"
		before+=("$n")
		rounds "$PROGRESS/ioctl-$r"
		ibefore+=("$n")
	done
	t0=$((SECONDS - start))
	if ! insmod "$ASM_KO"; then
		asm_fail "cycle $c: insmod"
		break
	fi
	# A CPU quota of 100 ms per window for every agent, whose default
	# action is the throttle: under TCG a busy agent spends it in a
	# fraction of the window, so the sampler stops and continues it
	# (SIGSTOP, SIGCONT) all the time.
	asm_expect "cycle $c: default CPU quota" asm_quiet asmctl limits --default --cpu-quota-ms 100
	echo "$c" >"$LOADS"
	rm -f "$HOLD"
	# The traffic's time counts from when half as many agents as slots
	# registered (an `asmctl run` takes seconds to start under TCG, and
	# the agents come and go: how many are active at once is chance).
	asm_expect "cycle $c: agents registered" asm_wait eval \
		'[ "$(agent_rows)" -ge $(((AGENTS + 1) / 2)) ]'
	ktap_print_msg "cycle $c: loaded at $t0 s, $(agent_rows) agents at $((SECONDS - start)) s"
	sleep "$RUN_S"
	ktap_print_msg "cycle $c: traffic from $t0 s to $((SECONDS - start)) s"

	# Quiet: the counters of a frozen workload are final.
	if ! cg_freeze "$CG" 1; then
		asm_fail "cycle $c: $CG did not freeze"
	fi
	ktap_print_msg "cycle $c: frozen at $((SECONDS - start)) s"
	check_counters "cycle $c"
	# Counters that add up prove nothing of a cycle where nothing ran.
	n=$(pyjson 'd["system"]["total_agents_exited"]' <"$ASM_TMP/counters/status1")
	[ "${n:-0}" -gt 0 ] || asm_fail "cycle $c: no agent process ended: no traffic"
	# Agents a throttle held at some point of the cycle (their recent
	# faults keep the CPU quota fault).
	n=$(grep -o '"type": *"CpuQuota"' "$ASM_TMP/counters/list" | wc -l)
	throttled=$((throttled + n))
	cg_freeze "$CG" 0 || asm_fail "cycle $c: $CG did not thaw"

	# Unload under the running agents and the file readers reading on
	# (/proc; reader 0 debugfs too), the rest held.
	touch "$HOLD"
	pause 1
	ktap_print_msg "cycle $c: checked, thawed, unloading at $((SECONDS - start)) s"
	asm_expect "cycle $c: rmmod asm with agents running" rmmod_retry
	left=$(stopped_or_traced "$CG/work")
	asm_expect_eq "cycle $c: agent processes stopped or traced after rmmod" "" "$left"
	ktap_print_msg "cycle $c: unloaded, none stopped or traced at $((SECONDS - start)) s"
	asm_expect "cycle $c: the agents' commands end" end_commands
	for ((r = 0; r < READERS; r++)); do
		rounds "$PROGRESS/$r"
		[ "$n" != "${before[$r]}" ] ||
			asm_fail "cycle $c: file reader $r made no round (at $n)"
		rounds "$PROGRESS/ioctl-$r"
		[ "$n" != "${ibefore[$r]}" ] || {
			asm_fail "cycle $c: ioctl reader $r read no telemetry document (at $n)"
			reader_state "$PROGRESS/ioctl-$r"
		}
	done
	ktap_print_msg "cycle $c: readers checked at $((SECONDS - start)) s"
	[ "$ASM_CASE_OK" = 1 ] || break
done
cg_kill_all "$CG/work"
cg_kill_all "$CG/tools"
cg_kill_all "$CG/files"
reap_bg
rm -f "$HOLD"
cg_make
ktap_print_msg "$((c - 1)) cycles of $AGENTS agents and $READERS readers in $((SECONDS - start)) s;" \
	"$throttled CPU quota faults in the agents' last faults"
asm_expect "CPU quota faults (the throttle's)" test "$throttled" -gt 0
asm_case_end "$CYCLES load/unload cycles under $AGENTS agents, $READERS readers and a patcher: counters add up, nothing left stopped"
asm_unload 2>/dev/null

# 2: the documented maximum of agents at once, with readers and the
# sampler running.  Cgroup agents: an empty cgroup costs no process; four
# of them get a sleeping process each, for the sampler to sample.
asm_case_start
start=$SECONDS
asm_reload
many=$CG/many
# Here the readers are the load and this shell's steps (registering,
# GET_INFO of every agent, the views) are what is measured: $CG weighs as
# much as this shell, not ten times as much.  At 4096 agents with ten
# times the weight, the registration took 547 s in the debug kernel.
[ "$CPU_ON" = 1 ] && echo 100 >"$CG/cpu.weight"
# The file readers read while they are registered; the tools' readers
# (whose `asmctl list` costs a request per agent) once they all are.
for ((r = 0; r < READERS; r++)); do
	cg_bg "$CG/files" file_reader "$r"
done
out=$("$STRESS" register "$many" "$MANY_ID0" "$MANY")
asm_expect_eq "asm_stress register status" 0 "$?"
[ -n "$out" ] && printf '%s\n' "$out"
for ((r = 0; r < READERS; r++)); do
	cg_bg "$CG/tools" ioctl_reader "$r"
done
for r in 0 1; do
	cg_bg "$CG/tools" tool_reader "$r"
done
for ((i = 0; i < 4 && i < MANY; i++)); do
	cg_bg "$many/a$i" exec sleep 600
done
# A few sampler periods (1 s) with every agent registered.
sleep 3
out=$("$STRESS" check "$MANY_ID0" "$MANY")
asm_expect_eq "GET_INFO of every agent (asm_stress check)" 0 "$?"
[ -n "$out" ] && printf '%s\n' "$out"
ktap_print_msg "$MANY agents: registered and checked at $((SECONDS - start)) s"
asm_expect_eq "agents in the telemetry document" "$MANY" \
	"$(asmctl status --json | pyjson 'd["system"]["registered_agents"]')"
asm_expect_eq "agents in asmctl list --all --json" "$MANY" \
	"$(asmctl list --all --json | pyjson 'len(d)')"
asm_expect_eq "agent rows in $ASM_STATUS" "$MANY" "$(agent_rows)"
asm_expect_eq "agent $MANY_ID0's processes (asminfo --json)" 1 "$(info_num "$MANY_ID0" nr_processes)"
asm_expect "/proc/agentsys/compliance" asm_quiet cat /proc/agentsys/compliance
asm_expect "asmctl top --once" asm_quiet asmctl top --once
asm_expect "asmctl history $MANY_ID0" asm_quiet asmctl history "$MANY_ID0"
asm_expect "uid 65534 reads $ASM_STATUS" asm_quiet \
	setpriv --reuid=65534 --regid=65534 --clear-groups cat "$ASM_STATUS"
for ((r = 0; r < READERS; r++)); do
	asm_expect "ioctl reader $r read the telemetry document of $MANY agents" \
		asm_wait test -s "$PROGRESS/ioctl-$r"
done
cg_kill_all "$CG/tools"
ktap_print_msg "$MANY agents: every view read at $((SECONDS - start)) s"
check_counters "$MANY agents"
out=$("$STRESS" unregister "$many" "$MANY_ID0" "$MANY")
asm_expect_eq "asm_stress unregister status" 0 "$?"
[ -n "$out" ] && printf '%s\n' "$out"
asm_expect_eq "agents after unregistering them all" 0 \
	"$(asmctl status --json | pyjson 'd["system"]["registered_agents"]')"
asm_expect_eq "Active Agents" 0 "$(asm_sys_metric "Active Agents")"
cg_kill_all "$CG"
reap_bg
cg_make
ktap_print_msg "$MANY agents: $((SECONDS - start)) s"
if [ "$MANY" -ge 4096 ]; then more="one more: ENOSPC"; else more="one more accepted"; fi
asm_case_end "$MANY agents at once ($more) with readers and the sampler; all unregistered"

# 3a: asm-gateway killed and started again in the middle of LLM traffic.
GW=$ASM_TMP/gateway
GW_CLIENTS=$(( (AGENTS + 2) / 3 ))

# An agent asking for completions until $1 exists, one line per request on
# stdout: ok, limited (EAGAIN: the bucket) or fail.
# shellcheck disable=SC2016
LLM_LOOP='while [ ! -e "$1" ]; do
	if out=$(asmctl llm --provider local --timeout-ms 5000 stress 2>&1); then
		echo ok
	else
		case $out in
		*"rate limited"*) echo limited ;;
		*) echo fail ;;
		esac
	fi
done'

gw_start() {
	asm-gateway --config "$GW/gateway.toml" 2>>"$GW/gateway.err" &
	GW_PID=$!
	asm_bg_track "$GW_PID"
	asm_wait grep -q "registered (netlink port" /proc/agentsys/gateway_status
}
# client_count WORD: the requests all clients saw end so.
client_count() {
	cat "$GW"/client*.out 2>/dev/null | grep -cx "$1"
}
# cloud_figure LABEL: a figure of /proc/agentsys/cloud_gateway.
cloud_figure() {
	awk -v l="$1:" 'index($0, l) == 1 { print $NF; exit }' /proc/agentsys/cloud_gateway
}

asm_case_start
start=$SECONDS
asm_reload
gw_mock_start "$GW"
printf 'policy = "local-only"\n[providers.local]\nbase_url = "http://%s/local"\nmodel = "local-test"\ntimeout_ms = 5000\n' \
	"$GW_MOCK_ADDR" >"$GW/gateway.toml"
chmod 600 "$GW/gateway.toml"
gw_start || asm_fail "asm-gateway did not register: $(cat "$GW/gateway.err")"
clients=()
for ((i = 0; i < GW_CLIENTS; i++)); do
	asmctl run --quiet --name "llm$i" --cap LlmAccess,FsExtended,ProcessSpawn -- \
		sh -c "$LLM_LOOP" sh "$GW/stop" >"$GW/client$i.out" 2>&1 &
	clients+=($!)
	asm_bg_track $!
done
asm_expect "answers before the helper's SIGKILL" asm_wait eval '[ "$(client_count ok)" -ge 2 ]'
kill -KILL "$GW_PID"
wait "$GW_PID" 2>/dev/null
asm_bg_reaped "$GW_PID"
asm_expect "the module saw the helper go" \
	asm_wait eval '! grep -q "registered (netlink port" /proc/agentsys/gateway_status'
sleep 1
ok_down=$(client_count ok)
gw_start || asm_fail "asm-gateway did not register again: $(cat "$GW/gateway.err")"
asm_expect "answers after the helper's restart" \
	asm_wait eval '[ "$(client_count ok)" -ge $((ok_down + 2)) ]'
touch "$GW/stop"
for pid in "${clients[@]}"; do
	wait "$pid"
	asm_expect_eq "a client agent's exit status" 0 "$?"
	asm_bg_reaped "$pid"
done
ok=$(client_count ok) limited=$(client_count limited) failed=$(client_count fail)
ktap_print_msg "gateway: $ok answered, $failed failed, $limited rate limited (clients);" \
	"module: $(cloud_figure "Total Requests") requests, $(cloud_figure Successful) successful," \
	"$(cloud_figure Failed) failed, $(cloud_figure "Rate Limited") rate limited"
asm_expect_eq "Successful = the answers the clients got" "$ok" "$(cloud_figure Successful)"
asm_expect_eq "Failed = the failures the clients saw" "$failed" "$(cloud_figure Failed)"
asm_expect_eq "Rate Limited = the clients' EAGAINs" "$limited" "$(cloud_figure "Rate Limited")"
asm_expect_eq "Total Requests = Successful + Failed" "$((ok + failed))" "$(cloud_figure "Total Requests")"
asm_expect_eq "requests in flight" 0 \
	"$(awk '/^In Flight:/ { print $NF }' /proc/agentsys/gateway_status)"
check_counters "gateway"
ktap_print_msg "gateway restart: $((SECONDS - start)) s"
asm_case_end "asm-gateway SIGKILLed and restarted under traffic: answers resume, its counters match the agents'"

# 3b: asmd killed and started again while it supervises.  The module is
# kept: its counters cover the gateway's agents too.
asm_case_start
start=$SECONDS
asmd_cleanup_cgroups 7801 7802
asmd_start stress1 stress
first=$ASMD_PID
asm_expect "asmd starts the worker" asm_wait asmd_has stress1 "agent 7801 (stress-worker): started pid"
asm_expect "the crash loop's first restart" \
	asm_wait asmd_has stress1 "agent 7802 (stress-crashy): restarting (restart 1 of 3)"
# (Its death by SIGKILL is not news on stderr.)
asmd_stop "$first" KILL 2>/dev/null
# The crash loop may crash meanwhile: its verdict then waits for an asmd.
sleep 1.5
asmd_start stress2 stress
asm_expect "the new asmd attaches to the worker" \
	asm_wait asmd_has stress2 "agent 7801 (stress-worker): attached ("
asm_expect_eq "the new asmd's starts of the worker" 0 \
	"$(asmd_count stress2 "agent 7801 (stress-worker): started pid")"
asm_expect_wait "crash loop: state restart_count nr_processes" "Failed 3 0" info_triple 7802
asm_expect_eq "crash loop: crash_count" 4 "$(info_num 7802 crash_count)"
cg_freeze "$(cg_dir 7801)" 1 || asm_fail "the worker's cgroup did not freeze"
asm_expect_eq "worker: nr_processes = the processes in its cgroup" "$(cg_nr 7801)" \
	"$(info_num 7801 nr_processes)"
check_counters "asmd"
cg_freeze "$(cg_dir 7801)" 0 || asm_fail "the worker's cgroup did not thaw"
asmd_stop "$ASMD_PID" TERM
asm_expect_eq "asmd exit status after SIGTERM" 0 "$ASMD_STATUS"
asmd_cleanup_cgroups 7801 7802
ktap_print_msg "asmd restart: $((SECONDS - start)) s"
asmd_case_end "asmd SIGKILLed and restarted: attaches to the worker, the crash loop ends Failed after 3 restarts; counters add up" stress2

asm_unload
ktap_finished
