#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What reading the views costs with 1, 100, 1000 and 4096 agents, and what
# an unprivileged reader of /proc/agentsys/status in a loop costs everyone
# else's forks: selftests/build/views_bench N on a freshly loaded asm.ko for
# each N.  A benchmark, not a test: it exits non-zero only when it cannot
# run.  Run as root from the repository root; it leaves the module unloaded.
#
# Environment: ASM_KO (default ./asm.ko), ASM_VIEWS_AGENTS (default
# "1 100 1000 4096").

set -u
ASM_KO=${ASM_KO:-./asm.ko}
BENCH=$(cd "$(dirname "$0")" && pwd)/build/views_bench

for n in ${ASM_VIEWS_AGENTS:-1 100 1000 4096}; do
	if grep -q '^asm ' /proc/modules; then rmmod asm || exit 1; fi
	insmod "$ASM_KO" || exit 1
	echo "# views_bench $n"
	"$BENCH" "$n" || exit 1
done
rmmod asm
