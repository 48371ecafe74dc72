#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What reporting one profiled operation costs an agent: selftests/build/
# fork_bench -p (ASM_IOC_PROFILE RECORD, ITER times) next to the same
# agent's system call (fork_bench -s, getppid), both run as agent 900
# (`asmctl run --no-landlock`), in alternating rounds in one boot.  Prints
# each round, then the medians and the median ratio profile/syscall.
#
# A benchmark, not a test: it exits non-zero only when it cannot run.  Run
# as root from the repository root (./asm.ko), asmctl on PATH.  It leaves
# the module unloaded.
#
# Environment: ASM_BENCH_ROUNDS (default 7), ASM_BENCH_ITER (calls per run,
# default 100000), ASM_KO (default ./asm.ko).

set -u
ASM_KO=${ASM_KO:-./asm.ko}
ROUNDS=${ASM_BENCH_ROUNDS:-7}
ITER=${ASM_BENCH_ITER:-100000}
BENCH=$(cd "$(dirname "$0")" && pwd)/build/fork_bench

grep -q '^asm ' /proc/modules && { rmmod asm || exit 1; }
insmod "$ASM_KO" || exit 1
trap 'rmmod asm 2>/dev/null' EXIT

as_agent() {
	asmctl run --no-landlock --name bench --id 900 -- "$BENCH" "$@" -n "$ITER" &&
		asmctl unregister 900 >/dev/null
}

echo "# fork_bench -p and -s as agent 900, $ROUNDS rounds of $ITER calls, kernel $(uname -r)"
prof=() sys=()
for r in $(seq "$ROUNDS"); do
	p=$(as_agent -p | awk '/^ns_per_profile/ { print $2 }')
	s=$(as_agent -s | awk '/^ns_per_syscall/ { print $2 }')
	[ -n "$p" ] && [ -n "$s" ] || { echo "bench_profile: a run failed" >&2; exit 1; }
	echo "round $r: profile $p ns, syscall $s ns"
	prof+=("$p") sys+=("$s")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratios=()
for i in "${!prof[@]}"; do
	ratios+=("$(awk -v p="${prof[$i]}" -v s="${sys[$i]}" 'BEGIN { printf "%.2f", p / s }')")
done
echo "median: profile $(median "${prof[@]}") ns, syscall $(median "${sys[@]}") ns," \
	"ratio profile/syscall $(median "${ratios[@]}") (min $(printf '%s\n' "${ratios[@]}" | sort -g | head -1)" \
	"max $(printf '%s\n' "${ratios[@]}" | sort -g | tail -1))"
