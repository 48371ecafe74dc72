#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What asm.ko costs a fork (bench_fork.sh, or bench_fork.sh fork), a
# system call (bench_fork.sh syscall) or an open+close (bench_fork.sh open,
# which an agent's policy checks): selftests/build/fork_bench run with
# the module unloaded, loaded with no agent, loaded while another process is
# an agent (so the syscall probe is on, and the benchmark is a non-agent),
# and with the benchmark itself registered as an agent (`asmctl run --name
# bench --id 900 --no-landlock -- fork_bench`: the module's cost, not
# Landlock's), in interleaved rounds in one boot (the
# order of the modes rotates every round).  Prints each round's figure, then
# per mode the median, and the median of the per-round ratios to the
# unloaded figure with their spread:
#
#	ratio loaded/unloaded median 1.004 (min 0.970 max 1.030)
#
# A benchmark, not a test: it exits non-zero only when it cannot run.  Run as
# root from the repository root (./asm.ko), asmctl on PATH.  It leaves the
# module unloaded.
#
# The per-probe figures are selftests/bench_probes.sh's.
#
# Environment: ASM_BENCH_ROUNDS (default 9), ASM_BENCH_ITER (forks per run,
# default 2000; syscalls per run, default 200000; opens per run, default
# 2000: an open of a file on the VM's 9p root takes about a millisecond),
# ASM_KO (default ./asm.ko).

set -u

OP=${1:-fork}
case "$OP" in
fork) ITER=${ASM_BENCH_ITER:-2000}; BENCH_ARGS=() ;;
syscall) ITER=${ASM_BENCH_ITER:-200000}; BENCH_ARGS=(-s) ;;
open) ITER=${ASM_BENCH_ITER:-2000}; BENCH_ARGS=(-o) ;;
*) echo "usage: bench_fork.sh [fork|syscall|open]" >&2; exit 2 ;;
esac
METRIC=ns_per_$OP
ROUNDS=${ASM_BENCH_ROUNDS:-9}
BENCH_NAME=bench_fork
. "$(dirname "$0")/bench_lib.sh"
BENCH=$(cd "$(dirname "$0")" && pwd)/build/fork_bench
AGENT_ID=900
MODES=(unloaded loaded other agent)

trap 'other_stop; unload' EXIT

# run_mode MODE: one fork_bench run in MODE; prints its ns_per_fork.
run_mode() {
	local out
	case "$1" in
	unloaded)
		unload || die "rmmod asm failed"
		out=$("$BENCH" "${BENCH_ARGS[@]}" -n "$ITER")
		;;
	loaded)
		load || die "insmod $ASM_KO failed"
		out=$("$BENCH" "${BENCH_ARGS[@]}" -n "$ITER")
		;;
	other)
		other_start
		out=$("$BENCH" "${BENCH_ARGS[@]}" -n "$ITER")
		other_stop
		;;
	agent)
		load || die "insmod $ASM_KO failed"
		out=$(asmctl run --no-landlock --name bench --id "$AGENT_ID" -- \
			"$BENCH" "${BENCH_ARGS[@]}" -n "$ITER")
		# Forget the exited agent: the next "loaded" run has no agent and
		# the next "agent" run can reuse the id.
		asmctl unregister "$AGENT_ID" >/dev/null || die "asmctl unregister $AGENT_ID failed"
		;;
	esac
	out=$(awk -v m="$METRIC" '$1 == m { print $2 }' <<<"$out")
	[ -n "$out" ] || die "no $METRIC from the $1 run"
	echo "$out"
}

[ "$(id -u)" = 0 ] || die "must run as root"
[ -x "$BENCH" ] || die "$BENCH is not built (make -C selftests)"
[ -r "$ASM_KO" ] || die "$ASM_KO not found"
command -v asmctl >/dev/null || die "asmctl is not on PATH"

echo "# fork_bench $OP: $ROUNDS rounds of $ITER per mode, kernel $(uname -r)"
declare -A ns
for ((r = 0; r < ROUNDS; r++)); do
	line="round $((r + 1)):"
	for ((k = 0; k < ${#MODES[@]}; k++)); do
		mode=${MODES[$(((r + k) % ${#MODES[@]}))]}
		ns[$mode,$r]=$(run_mode "$mode") || exit 1
	done
	for mode in "${MODES[@]}"; do
		line+=" $mode ${ns[$mode,$r]}"
	done
	echo "$line"
done
unload || die "rmmod asm failed"

for mode in "${MODES[@]}"; do
	read -r med min max < <(for ((r = 0; r < ROUNDS; r++)); do echo "${ns[$mode,$r]}"; done | stats)
	printf '%s %s median %.1f (min %.1f max %.1f)\n' "$METRIC" "$mode" "$med" "$min" "$max"
done
for mode in loaded other agent; do
	read -r med min max < <(for ((r = 0; r < ROUNDS; r++)); do
		awk -v a="${ns[$mode,$r]}" -v b="${ns[unloaded,$r]}" 'BEGIN { printf "%.6f\n", a / b }'
	done | stats)
	printf 'ratio %s/unloaded median %.3f (min %.3f max %.3f)\n' "$mode" "$med" "$min" "$max"
done

