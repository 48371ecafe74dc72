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

. "$(dirname "$0")/lib.sh"

TRACING=/sys/kernel/tracing
EVENT=$TRACING/events/raw_syscalls/sys_enter/enable
BENCH=$ASM_BUILD/fork_bench

asm_test_cleanup() {
	[ -w "$EVENT" ] && echo 0 >"$EVENT"
	[ -w "$TRACING/set_event_pid" ] && echo >"$TRACING/set_event_pid"
	[ -n "${live:-}" ] && rm -f "$live"
}

# agent_syscalls ID: the agent's syscalls since it was first sampled.
agent_syscalls() {
	asmctl history "$1" 2>/dev/null | awk '$1 == "Syscalls:" { print $2; exit }'
}

# traced COMM: the number of sys_enter lines of COMM in the trace buffer.
traced() {
	grep -c "^ *$1-" "$TRACING/trace" 2>/dev/null
}

ktap_print_header
asm_require_root
ktap_set_plan 4
asm_reload
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

# 4: a tracer starts and asm.ko is unloaded before its sampler noticed: the
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
