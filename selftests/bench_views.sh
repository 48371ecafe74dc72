#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What reading the views costs with 1, 100, 1000 and 4096 agents, and what
# an unprivileged reader of /proc/agentsys/status in a loop costs everyone
# else's forks: selftests/build/views_bench N on a freshly loaded asm.ko for
# each N.  A benchmark, not a test: it exits non-zero only when it cannot
# run.  Run as root from the repository root; it leaves the module unloaded.
#
# Each N runs twice: alone, and with ASM_VIEWS_TASKS (default 10000)
# processes that are no agent's, which neither the sampler's ticks nor the
# views may notice (only the sampler's sweeps, when one is due, walk them).
#
# Environment: ASM_KO (default ./asm.ko), ASM_VIEWS_AGENTS (default
# "1 100 1000 4096"), ASM_VIEWS_TASKS.

set -u
ASM_KO=${ASM_KO:-./asm.ko}
BENCH=$(cd "$(dirname "$0")" && pwd)/build/views_bench

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug || exit 1
for n in ${ASM_VIEWS_AGENTS:-1 100 1000 4096}; do
	for tasks in 0 "${ASM_VIEWS_TASKS:-10000}"; do
		if grep -q '^asm ' /proc/modules; then rmmod asm || exit 1; fi
		insmod "$ASM_KO" || exit 1
		echo "# views_bench $n $tasks"
		"$BENCH" "$n" "$tasks" || exit 1
	done
done
rmmod asm
