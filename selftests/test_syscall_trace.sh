#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Syscall counting and other tracers.  While asm.ko is the only user of the
# syscall tracepoints it turns them off for tasks that are no agent's (so
# their system calls keep the fast path); when another tracer (here ftrace's
# raw_syscalls:sys_enter event) uses them too, the sampler gives every task
# its tracepoint bit back within a window, and takes it away again when the
# tracer leaves.  Through all of it the agent's syscalls are counted, and
# unloading the module leaves every task traced for the other tracer.
# The sampler's ticks walk only the agents' processes: it sweeps every task
# of the system only when a sweep is due (debugfs asm/sampler counts them).

. "$(dirname "$0")/lib.sh"

TRACING=/sys/kernel/tracing
EVENT=$TRACING/events/raw_syscalls/sys_enter/enable
BENCH=$ASM_BUILD/fork_bench

CG=/sys/fs/cgroup/asm-sweep-test

asm_test_cleanup() {
	[ -w "$EVENT" ] && echo 0 >"$EVENT"
	[ -w "$TRACING/set_event_pid" ] && echo >"$TRACING/set_event_pid"
	[ -n "${live:-}" ] && rm -f "$live"
	[ -n "${mover:-}" ] && kill "$mover" 2>/dev/null
	[ -d "$CG" ] && rmdir "$CG" 2>/dev/null
}

# sampler FIELD: a figure of debugfs asm/sampler ("ticks", "sweeps", ...).
sampler() {
	awk -v f="$1" '{ for (i = 1; i < NF; i++) if ($i == f) print $(i + 1) }' \
		"$ASM_DEBUGFS/asm/sampler" 2>/dev/null
}

# agent_syscalls ID: the agent's syscalls since it was first sampled.
agent_syscalls() {
	asmctl history "$1" 2>/dev/null | awk '$1 == "Syscalls:" { print $2; exit }'
}

# traced COMM: the number of sys_enter lines of COMM in the trace buffer.
traced() {
	grep -c "^ *$1-" "$TRACING/trace" 2>/dev/null
}

# swept_since N: the sampler made more than N sweeps.
swept_since() {
	[ "$(sampler sweeps)" -gt "$1" ]
}

ktap_print_header
asm_require_root
ktap_set_plan 5
asm_reload
asm_mount_debugfs || asm_bail "cannot mount debugfs"
if [ ! -e "$TRACING/trace" ]; then
	mount -t tracefs nodev "$TRACING" 2>/dev/null
fi
[ -w "$EVENT" ] || asm_bail "no raw_syscalls:sys_enter event in $TRACING"
echo 0 >"$EVENT"

live=$ASM_TMP/live
asm_start_live 400 tracee "$live"

# 1: asm alone: the agent's syscalls are counted.
asm_case_start
sleep 2.5
before=$(agent_syscalls 400)
sleep 2.5
after=$(agent_syscalls 400)
asm_expect "agent 400's syscalls grow ($before -> $after)" test "${after:-0}" -gt "${before:-0}"
asm_case_end "with asm.ko the syscall tracepoints' only user, agent 400's syscalls are counted"

# 2: ftrace joins: within a window every task is traced again.  The event
# records only this shell and its children (set_event_pid, event-fork),
# which are no agent's, so that the trace stays small.
asm_case_start
echo 1 >"$TRACING/options/event-fork"
echo $$ >"$TRACING/set_event_pid"
echo >"$TRACING/trace"
echo 1 >"$EVENT"
sleep 2.5
echo >"$TRACING/trace"
"$BENCH" -s -n 2000 >/dev/null
echo 0 >"$EVENT"
n=$(traced fork_bench)
asm_expect "ftrace saw the non-agent fork_bench's syscalls ($n lines)" test "${n:-0}" -ge 2000
asm_case_end "another tracer of sys_enter sees the system calls of tasks that are no agent's"

# 3: ftrace left: the agent is still counted.
asm_case_start
echo >"$TRACING/set_event_pid"
sleep 2.5
before=$(agent_syscalls 400)
sleep 2.5
after=$(agent_syscalls 400)
asm_expect "agent 400's syscalls grow ($before -> $after)" test "${after:-0}" -gt "${before:-0}"
asm_stop_live "$live" "$ASM_LIVE_PID"
asm_expect_eq "agent 400's exit status" 0 "$ASM_LIVE_STATUS"
asm_case_end "after the tracer left, agent 400's syscalls are still counted"

# 4: the sampler's ticks do not walk every task.  With agent 401 a cgroup
# agent and nothing changing, ticks go on and no sweep is made; a process
# that leaves the agent's cgroup alive keeps the tracepoint bit it had as a
# member: that makes one sweep due, made at the next window.
asm_case_start
mkdir -p "$CG" || asm_bail "mkdir $CG"
sleep 600 &
mover=$!
echo "$mover" >"$CG/cgroup.procs" || asm_bail "cannot move $mover into $CG"
asmctl register --cgroup "$CG" --name sweep --id 401 >/dev/null ||
	asm_bail "cannot register $CG"
sleep 2.5
ticks=$(sampler ticks) sweeps=$(sampler sweeps)
sleep 3
asm_expect "the sampler ticked ($ticks -> $(sampler ticks))" test "$(sampler ticks)" -gt "${ticks:-0}"
asm_expect_eq "sweeps while nothing changed" "$sweeps" "$(sampler sweeps)"
echo "$mover" >/sys/fs/cgroup/cgroup.procs || asm_bail "cannot move $mover out of $CG"
asm_expect "a sweep after $mover left agent 401 alive" asm_wait swept_since "$sweeps"
swept=$(sampler sweeps)
sleep 2.5
asm_expect_eq "sweeps after that one" "$swept" "$(sampler sweeps)"
asm_expect_eq "agent 401's processes" 0 "$(asmctl info 401 --json |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["nr_processes"])')"
kill "$mover"
wait "$mover" 2>/dev/null
mover=
asmctl unregister 401 >/dev/null
rmdir "$CG"
asm_case_end "the sampler sweeps every task only when a process left its agent alive"

# 5: a tracer starts and asm.ko is unloaded before its sampler noticed: the
# unload gives every task its tracepoint bit back.
asm_case_start
sleep 1.5
echo $$ >"$TRACING/set_event_pid"
echo 1 >"$EVENT"
asm_unload
asm_expect "asm.ko unloaded" test ! -e "$ASM_STATUS"
echo >"$TRACING/trace"
"$BENCH" -s -n 2000 >/dev/null
echo 0 >"$EVENT"
n=$(traced fork_bench)
asm_expect "ftrace saw the fork_bench's syscalls after the unload ($n lines)" test "${n:-0}" -ge 2000
asm_case_end "unloading asm.ko leaves every task traced for the other tracer"

ktap_finished
