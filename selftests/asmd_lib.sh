# SPDX-License-Identifier: GPL-2.0
#
# Helpers of the asmd selftests (test_asmd.sh, test_asmd_security.sh,
# test_asmd_deps.sh), sourced after lib.sh: asmd instances in the
# background with their output in $ASM_TMP, the agents' cgroups, and
# asminfo's JSON.

SPECS=$ASM_SELFTESTS/asmd
CG_ROOT=/sys/fs/cgroup
CG_PARENT=$CG_ROOT/agentsys
LOGS=$ASM_TMP/logs
LOCK=$ASM_TMP/asmd.lock

# "STATE RESTART_COUNT NR_PROCESSES" of agent ID from one document.
info_triple() {
	local j
	j=$(info_json "$1")
	echo "$(asm_json_str state <<<"$j") $(asm_json_num restart_count <<<"$j")" \
		"$(asm_json_num nr_processes <<<"$j")"
}
# "RESTART_COUNT STATE running|stopped" of agent ID from one document, for
# catching an agent while it runs again after a restart.
info_restarted() {
	local j n
	j=$(info_json "$1")
	n=$(asm_json_num nr_processes <<<"$j")
	echo "$(asm_json_num restart_count <<<"$j") $(asm_json_str state <<<"$j")" \
		"$([ "${n:-0}" -ge 1 ] && echo running || echo stopped)"
}
# The fault types in agent ID's recent_faults, comma-separated.
recent_fault_types() {
	info_json "$1" | tr -d '[:space:]' | grep -oE '"recent_faults":\[[^]]*\]' |
		grep -oE '"type":"[A-Za-z]+"' | sed 's/.*:"//; s/"$//' | paste -sd, -
}

cg_dir() {
	echo "$CG_PARENT/$1"
}
# The pids in agent ID's cgroup, space-separated.
cg_pids() {
	tr '\n' ' ' <"$(cg_dir "$1")/cgroup.procs" 2>/dev/null | sed 's/ $//'
}
cg_nr() {
	wc -l <"$(cg_dir "$1")/cgroup.procs" 2>/dev/null
}
# Kill every process of agent ID's cgroup and remove the cgroup.
cg_destroy() {
	local cg pid
	cg=$(cg_dir "$1")
	[ -d "$cg" ] || return 0
	if [ -w "$cg/cgroup.kill" ]; then
		echo 1 >"$cg/cgroup.kill"
	else
		for pid in $(cat "$cg/cgroup.procs" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
	fi
	asm_wait eval "rmdir '$cg' 2>/dev/null || [ ! -d '$cg' ]"
}

# asmd_start NAME SPEC-DIR: run asmd in the background on selftests/asmd/
# SPEC-DIR, its output in $ASM_TMP/NAME.out; ASMD_PID is its pid.
asmd_start() {
	asmd --spec "$SPECS/$2" --log-dir "$LOGS" --lock "$LOCK" \
		>"$ASM_TMP/$1.out" 2>&1 &
	ASMD_PID=$!
	asm_bg_track "$ASMD_PID"
}
# asmd_stop PID SIGNAL: signal asmd and reap it; ASMD_STATUS is its status.
# An asmd still running 20 s later is shown (where it waits) and killed, so
# that the case fails instead of the test hanging.
asmd_stop() {
	local i state
	kill "-$2" "$1" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
		[ -z "$state" ] || [ "$state" = Z ] && break
		sleep 0.1
	done
	if [ -n "$state" ] && [ "$state" != Z ]; then
		ktap_print_msg "asmd $1 still runs 20 s after SIG$2 (state $state, wchan $(cat "/proc/$1/wchan" 2>/dev/null)): killed"
		sed 's/^/#   /' "/proc/$1/stack" 2>/dev/null | head -12
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1"
	ASMD_STATUS=$?
	asm_bg_reaped "$1"
}
# asmd_count NAME PATTERN: lines of asmd output NAME matching PATTERN.
asmd_count() {
	grep -c -- "$2" "$ASM_TMP/$1.out" 2>/dev/null
}
asmd_has() {
	grep -q -- "$2" "$ASM_TMP/$1.out" 2>/dev/null
}
# asmd_case_end DESCRIPTION NAME: asm_case_end, with asmd's output NAME
# shown when the case failed.
asmd_case_end() {
	if [ "$ASM_CASE_OK" != 1 ] && [ -f "$ASM_TMP/$2.out" ]; then
		ktap_print_msg "output of asmd ($2):"
		sed 's/^/#   /' "$ASM_TMP/$2.out"
	fi
	asm_case_end "$1"
}

# asmd_require: skip the whole test without asmd or a cgroup v2 hierarchy
# (mounting one if none is); sets created_parent when agentsys/ is not
# there yet, for asmd_cleanup_cgroups.
asmd_require() {
	if ! command -v asmd >/dev/null; then
		asm_bail "asmd is not on PATH (make tools)"
	fi
	if ! grep -q " $CG_ROOT cgroup2 " /proc/mounts; then
		mount -t cgroup2 none "$CG_ROOT" 2>/dev/null
	fi
	if [ "$(stat -f -c %T "$CG_ROOT" 2>/dev/null)" != cgroup2fs ]; then
		ktap_skip_all "no cgroup v2 hierarchy at $CG_ROOT"
		exit "$KSFT_SKIP"
	fi
	created_parent=0
	[ -d "$CG_PARENT" ] || created_parent=1
}

# asmd_cleanup_cgroups ID...: cg_destroy each, then agentsys/ if the test
# made it.
asmd_cleanup_cgroups() {
	local id
	for id in "$@"; do
		cg_destroy "$id"
	done
	if [ "${created_parent:-0}" = 1 ]; then
		rmdir "$CG_PARENT" 2>/dev/null
	fi
}
