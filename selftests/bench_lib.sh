# SPDX-License-Identifier: GPL-2.0
#
# What the benchmark scripts share (sourced; BENCH_NAME names the script
# in messages): loading and unloading asm.ko, an idle agent that is not
# the benchmark, and the median and spread of a series.

ASM_KO=${ASM_KO:-./asm.ko}
OTHER_ID=903
other_pid=

die() {
	echo "$BENCH_NAME: $*" >&2
	exit 1
}
loaded() {
	grep -q '^asm ' /proc/modules
}
unload() {
	if loaded; then
		rmmod asm
	fi
}
load() {
	loaded || insmod "$ASM_KO"
}

# other_start / other_stop: an idle agent (not the benchmark) exists.
other_start() {
	load || die "insmod $ASM_KO failed"
	asmctl run --quiet --no-landlock --name other --id "$OTHER_ID" -- sleep 3600 &
	other_pid=$!
	for _ in $(seq 100); do
		grep -q "^  $OTHER_ID " /proc/agentsys/status && return
		sleep 0.1
	done
	die "the idle agent $OTHER_ID did not appear"
}
other_stop() {
	[ -n "$other_pid" ] || return 0
	kill "$other_pid" 2>/dev/null
	wait "$other_pid" 2>/dev/null
	other_pid=
	asmctl unregister "$OTHER_ID" >/dev/null 2>&1
}

# stats < numbers: "median min max".
stats() {
	sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.6f %.6f %.6f\n", m, v[1], v[NR]
		}'
}
