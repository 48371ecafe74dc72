#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Every probe path's cost, next to what its operation costs without the
# module, in one boot (make bench; Documentation/benchmarks.rst).
#
# Each round measures, with asm.ko unloaded, the operations the probes sit
# on (selftests/build/fork_bench: a system call, a fork+exit+wait, a
# fork+exec+exit+wait, an open+close, a TCP connect+accept+close on
# loopback), then loads the module and reads debugfs asm/probe_cost, the
# in-kernel micro-benchmark that calls each probe path in place: with no
# agent registered, as a process that is no agent while an agent exists,
# and as an agent (capabilities FsBasic, NetClient and ProcessSpawn, scope
# /sys, so that its open of probe_cost is checked and allowed, its connect
# allowed and its exec not a violation).  Then it prints, per path, the
# median and spread over the rounds of each figure:
#
#	path       no-agents    non-agent       agent (min-max)   operation unloaded   agent/operation
#
# "empty" is the micro-benchmark's loop (a call with preemption disabled
# around it), included in every other figure but "event": one telemetry
# event alone (its timestamp, the ring's lock and slot, the netlink
# check), recorded into a ring of its own, the same for every reader.  A non-agent's system calls
# do not reach the sys_enter probe at all (the sampler clears their
# syscall tracepoint bit); its figure is what the probe's first test
# costs when another tracer keeps the tracepoint on for every task.
#
# A benchmark, not a test: it exits non-zero only when it cannot run.  Run
# as root from the repository root (./asm.ko), asmctl on PATH; it leaves the
# module unloaded.  Environment: ASM_BENCH_ROUNDS (default 5), ASM_KO.

set -u
BENCH_NAME=bench_probes
. "$(dirname "$0")/bench_lib.sh"
ROUNDS=${ASM_BENCH_ROUNDS:-5}
BENCH=$(cd "$(dirname "$0")" && pwd)/build/fork_bench
PROBE_COST=/sys/kernel/debug/asm/probe_cost
PATHS=(empty sys_enter fork exit exec open connect event)
# The operation each path sits on, and fork_bench's arguments for it.
declare -A OP=([sys_enter]=syscall [fork]=fork [exit]=fork [exec]=exec [open]=open
	[connect]=connect)
declare -A OP_ARGS=([syscall]="-s -n 200000" [fork]="-n 500" [exec]="-e -n 200"
	[open]="-o -n 1000" [connect]="-c -n 1000")
AGENT_ID=901
trap 'other_stop; unload' EXIT

# record MODE < probe_cost: stores each path's ns as fig[MODE,PATH,round].
# The file is read once, by cat: a reader that seeks back (bash's read
# does) makes the seq_file run the whole benchmark again.
record() {
	local name ns _
	while read -r name ns _; do
		case $name in *_ns) fig[$1,${name%_ns},$r]=$ns ;; esac
	done
}

[ "$(id -u)" = 0 ] || die "must run as root"
[ -x "$BENCH" ] || die "$BENCH is not built (make -C selftests)"
[ -r "$ASM_KO" ] || die "$ASM_KO not found"
command -v asmctl >/dev/null || die "asmctl is not on PATH"
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug ||
	die "cannot mount debugfs"

echo "# bench_probes: $ROUNDS rounds, kernel $(uname -r)"
declare -A fig
for ((r = 0; r < ROUNDS; r++)); do
	unload || die "rmmod asm failed"
	for op in syscall fork exec open connect; do
		# shellcheck disable=SC2086 # the arguments are words
		out=$("$BENCH" ${OP_ARGS[$op]}) || die "fork_bench ${OP_ARGS[$op]} failed"
		fig[unloaded,$op,$r]=$(awk -v m="ns_per_$op" '$1 == m { print $2 }' <<<"$out")
	done
	load || die "insmod $ASM_KO failed"
	record no-agents <<<"$(cat "$PROBE_COST")"
	other_start
	record non-agent <<<"$(cat "$PROBE_COST")"
	out=$(asmctl run --quiet --no-landlock --name probe --id "$AGENT_ID" --cap FsBasic \
		--cap NetClient --cap ProcessSpawn --scope /sys -- cat "$PROBE_COST") ||
		die "reading $PROBE_COST as an agent failed"
	record agent <<<"$out"
	grep -q "agent_id $AGENT_ID" <<<"$out" || die "the agent's read was not an agent's: $out"
	asmctl unregister "$AGENT_ID" >/dev/null || die "asmctl unregister $AGENT_ID failed"
	other_stop
	echo "round $((r + 1)): agent $(tr '\n' ' ' <<<"$out")"
done
unload || die "rmmod asm failed"

# fig_stats MODE KEY: "median min max" of the rounds.
fig_stats() {
	for ((r = 0; r < ROUNDS; r++)); do echo "${fig[$1,$2,$r]}"; done | stats
}

printf '%-10s %10s %10s %26s %24s %10s\n' path no-agents non-agent "agent (min-max) ns" \
	"operation unloaded ns" agent/op
for p in "${PATHS[@]}"; do
	read -r none _ < <(fig_stats no-agents "$p")
	read -r other _ < <(fig_stats non-agent "$p")
	read -r med min max < <(fig_stats agent "$p")
	opname=- opcost=- share=-
	if [ -n "${OP[$p]:-}" ]; then
		opname=${OP[$p]}
		read -r opcost _ < <(fig_stats unloaded "$opname")
		share=$(awk -v a="$med" -v b="$opcost" 'BEGIN { printf "%.4f", a / b }')
		opcost=$(printf '%.0f' "$opcost")
	fi
	printf '%-10s %10.1f %10.1f %26s %24s %10s\n' "$p" "$none" "$other" \
		"$(printf '%.1f (%.1f-%.1f)' "$med" "$min" "$max")" "$opname $opcost" "$share"
done
