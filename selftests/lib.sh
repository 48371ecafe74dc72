# SPDX-License-Identifier: GPL-2.0
#
# Shared helpers of the ASM selftests.  Sourced by selftests/test_*.sh, which
# run as root in the test VM with the repository root as working directory,
# asm.ko built at ./asm.ko (not loaded) and the tools (asmctl, asmstatus,
# asmlist, asminfo) on PATH.
#
# A test script does:
#
#	. "$(dirname "$0")/lib.sh"
#	ktap_print_header
#	asm_require_root
#	ktap_set_plan N
#	asm_reload
#	asm_case_start; asm_expect_eq "spawns" 1 "$(asm_agent_field 100 spawns)"
#	asm_case_end "description"
#	...
#	ktap_finished

ASM_SELFTESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$ASM_SELFTESTS/ktap_helpers.sh"

ASM_KO=${ASM_KO:-./asm.ko}
ASM_STATUS=${ASM_STATUS:-/proc/agentsys/status}
ASM_DEV=${ASM_DEV:-/dev/asm}
ASM_DEBUGFS=${ASM_DEBUGFS:-/sys/kernel/debug}
ASM_EVENTS=$ASM_DEBUGFS/asm/events
ASM_BUILD=$ASM_SELFTESTS/build
SPAWNER=$ASM_BUILD/spawner
# (ASM_STATUS, ASM_DEV and ASM_DEBUGFS may be pointed elsewhere to dry-run the
# scripts' parsing without the module.)
# Seconds a wait helper polls before giving up: the test kernel runs under
# TCG with KASAN and lockdep, where a fork costs a millisecond or more.
ASM_TIMEOUT=${ASM_TIMEOUT:-20}

ASM_TMP=$(mktemp -d /tmp/asm-selftest.XXXXXX)
ASM_BG_PIDS=()

# Kill what the test started in the background and is still running, then
# let the script add its own cleanup (asm_test_cleanup, if defined).
asm_on_exit() {
	local pid
	for pid in "${ASM_BG_PIDS[@]}"; do
		# `asmctl run` is the agent's parent: the agent goes too.
		pkill -KILL -P "$pid" 2>/dev/null
		if kill -KILL "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null
		fi
	done
	if declare -F asm_test_cleanup >/dev/null; then
		asm_test_cleanup
	fi
	rm -rf "$ASM_TMP"
}
trap asm_on_exit EXIT

# asm_bg_track PID: kill PID at exit if it is still running then.
asm_bg_track() {
	ASM_BG_PIDS+=("$1")
}

# asm_bg_reaped PID: PID was waited for; forget it (its number may be reused).
asm_bg_reaped() {
	local i
	for i in "${!ASM_BG_PIDS[@]}"; do
		[ "${ASM_BG_PIDS[$i]}" = "$1" ] && unset 'ASM_BG_PIDS[i]'
	done
}

asm_bail() {
	ktap_exit_fail_msg "$@"
}

asm_require_root() {
	if [ "$(id -u)" != 0 ]; then
		ktap_skip_all "must run as root"
		exit "$KSFT_SKIP"
	fi
}

# ---------------------------------------------------------------------------
# Loading the module

asm_loaded() {
	grep -q '^asm ' /proc/modules
}

# asm_unload: rmmod asm if it is loaded.
asm_unload() {
	if asm_loaded; then
		rmmod asm
	fi
}

asm_mount_debugfs() {
	if ! grep -q " $ASM_DEBUGFS debugfs " /proc/mounts; then
		mount -t debugfs none "$ASM_DEBUGFS"
	fi
}

# asm_run_ktap_program PROG [ARGS...]: run a C test program that prints its
# own KTAP on a freshly loaded asm.ko; its exit status is the test's.
asm_run_ktap_program() {
	if [ "$(id -u)" != 0 ]; then
		ktap_print_header
		ktap_skip_all "must run as root"
		exit "$KSFT_SKIP"
	fi
	if [ ! -x "$1" ]; then
		ktap_print_header
		asm_bail "$1 is not built (make -C selftests)"
	fi
	asm_reload
	"$@"
}

# asm_reload: load a fresh asm.ko, so that every counter starts at zero.
# Bails out (the whole test fails) when it cannot.
asm_reload() {
	asm_unload || asm_bail "rmmod asm failed"
	insmod "$ASM_KO" || asm_bail "insmod $ASM_KO failed"
	asm_wait test -r "$ASM_STATUS" || asm_bail "$ASM_STATUS missing after insmod"
	asm_mount_debugfs 2>/dev/null || true
}

# ---------------------------------------------------------------------------
# Waiting

# The waits poll every 0.1 s, $ASM_TIMEOUT * 10 times: under load a poll
# that runs a command takes longer, and the wait with it.  They also end
# after 5 * $ASM_TIMEOUT seconds, so that a condition that never comes
# fails its case in minutes, with what was seen, instead of running the
# test into its timeout (a poll of asmctl took seconds with two VMs busy).
asm_wait_over() {
	[ "$1" -ge $((ASM_TIMEOUT * 10)) ] || [ "$SECONDS" -ge "$2" ]
}

# asm_wait CMD...: run CMD every 0.1 s until it succeeds; fails when it has
# not succeeded after $ASM_TIMEOUT seconds of polls.
asm_wait() {
	local i end=$((SECONDS + 5 * ASM_TIMEOUT))
	for ((i = 0; ; i++)); do
		"$@" && return 0
		asm_wait_over "$i" "$end" && break
		sleep 0.1
	done
	"$@"
}

# asm_wait_eq EXPECTED CMD...: run CMD every 0.1 s until it prints EXPECTED;
# fails after $ASM_TIMEOUT seconds of polls.  The last output is left in
# ASM_GOT.  Counters are final once they reach the expected value (nothing
# else runs in the agent), so waiting for them and then asserting them is
# exact.
asm_wait_eq() {
	local exp=$1 i end=$((SECONDS + 5 * ASM_TIMEOUT))
	shift
	for ((i = 0; ; i++)); do
		ASM_GOT=$("$@")
		[ "$ASM_GOT" = "$exp" ] && return 0
		asm_wait_over "$i" "$end" && return 1
		sleep 0.1
	done
}

# asm_alive PID: process PID runs (a zombie, which kill -0 still finds
# until its parent reaps it, does not).
asm_alive() {
	grep -q '^State:[[:space:]]*[^Z[:space:]]' "/proc/$1/status" 2>/dev/null
}

# asm_wait_gone PID: wait until process PID no longer exists.
asm_wait_gone() {
	asm_wait eval "! kill -0 $1 2>/dev/null"
}

# ---------------------------------------------------------------------------
# Test cases made of several expectations

asm_case_start() {
	ASM_CASE_OK=1
}

# asm_expect_eq WHAT EXPECTED GOT
asm_expect_eq() {
	if [ "$3" != "$2" ]; then
		ktap_print_msg "$1: expected '$2', got '$3'"
		ASM_CASE_OK=0
	fi
}

# asm_expect_ge WHAT MIN GOT: GOT is an integer >= MIN.
asm_expect_ge() {
	case "$3" in
	'' | *[!0-9]*)
		ktap_print_msg "$1: expected a number >= $2, got '$3'"
		ASM_CASE_OK=0
		return
		;;
	esac
	if [ "$3" -lt "$2" ]; then
		ktap_print_msg "$1: expected >= $2, got $3"
		ASM_CASE_OK=0
	fi
}

# asm_expect_wait WHAT EXPECTED CMD...: CMD prints EXPECTED within
# $ASM_TIMEOUT seconds (for counters the module may update asynchronously).
asm_expect_wait() {
	local what=$1 exp=$2
	shift 2
	asm_wait_eq "$exp" "$@"
	asm_expect_eq "$what" "$exp" "$ASM_GOT"
}

# asm_expect WHAT CMD...: CMD succeeds.
asm_expect() {
	local what=$1
	shift
	if ! "$@"; then
		ktap_print_msg "$what: failed"
		ASM_CASE_OK=0
	fi
}

# asm_expect_not WHAT CMD...: CMD fails.
asm_expect_not() {
	local what=$1
	shift
	if "$@"; then
		ktap_print_msg "$what: unexpectedly true"
		ASM_CASE_OK=0
	fi
}

# asm_value FILE KEY: the second word of the first line of FILE whose
# first word is KEY (a probe's "WHAT RESULT" lines).
asm_value() {
	awk -v k="$2" '$1 == k { print $2; exit }' "$1" 2>/dev/null
}

# asm_quiet CMD...: CMD with its output thrown away (keeps TAP output clean).
asm_quiet() {
	"$@" >/dev/null 2>&1
}

# asm_fail WHAT: record a failed expectation.
asm_fail() {
	ktap_print_msg "$1"
	ASM_CASE_OK=0
}

# asm_case_end DESCRIPTION: report the case as ok when every expectation
# since asm_case_start held.
asm_case_end() {
	if [ "$ASM_CASE_OK" = 1 ]; then
		ktap_test_pass "$1"
	else
		ktap_test_fail "$1"
	fi
}

# ---------------------------------------------------------------------------
# /proc/agentsys/status

# asm_sys_metric LABEL: the value of a "System Metrics" line, e.g.
# asm_sys_metric "Total Spawns".
asm_sys_metric() {
	awk -v l="$1:" '
		{ line = $0; sub(/^[ \t]+/, "", line) }
		index(line, l) == 1 {
			sub(/^[^:]*:[ \t]*/, "", line); sub(/[ \t]+$/, "", line)
			print line; exit
		}' "$ASM_STATUS"
}

# asm_agent_row ID: the "Per-Agent Metrics" row of agent ID (empty if none).
asm_agent_row() {
	awk -v id="$1" '
		/^Per-Agent Metrics:/ { s = 1; next }
		s && $1 == id { print; exit }' "$ASM_STATUS"
}

# asm_agent_field ID FIELD: one column of agent ID's row; FIELD is spawns,
# exits, faults, cpu or mem (the row is: id spawns exits faults cpu_us mem).
asm_agent_field() {
	local n
	case "$2" in
	spawns) n=2 ;;
	exits) n=3 ;;
	faults) n=4 ;;
	cpu) n=5 ;;
	mem) n=6 ;;
	*) echo "asm_agent_field: unknown field $2" >&2; return 1 ;;
	esac
	asm_agent_row "$1" | awk -v n="$n" '{ print $n }'
}

# asm_agent_counts ID: "spawns exits faults" of agent ID, for asm_wait_eq.
asm_agent_counts() {
	asm_agent_row "$1" | awk '{ print $2, $3, $4 }'
}

# ---------------------------------------------------------------------------
# JSON (the tools' --json output; compact or pretty-printed).  Whitespace is
# dropped first, so these only suit documents whose compared strings have no
# spaces (numbers, states, ids).

# asm_json_num KEY < JSON: the first number value of "KEY".
asm_json_num() {
	tr -d '[:space:]' | grep -oE "\"$1\":-?[0-9]+" | head -n1 | sed 's/^.*://'
}

# asm_json_str KEY < JSON: the first string value of "KEY".
asm_json_str() {
	tr -d '[:space:]' | grep -oE "\"$1\":\"[^\"]*\"" | head -n1 |
		sed 's/^[^:]*:"//; s/"$//'
}

# pyjson EXPR < JSON: EXPR, a Python expression of the document d, printed.
pyjson() {
	/usr/bin/python3 -c 'import json, sys
d = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1"
}

# info_json ID: asminfo's JSON document of agent ID; info_num ID KEY and
# info_state ID: one field of it.
info_json() {
	asminfo "$1" --json 2>/dev/null
}
info_num() {
	info_json "$1" | asm_json_num "$2"
}
info_state() {
	info_json "$1" | asm_json_str state
}

# asm_json_obj KEY < JSON: the first flat object value of "KEY" (an object
# holding no object), e.g. asm_json_obj system, asm_json_obj 100.
asm_json_obj() {
	tr -d '[:space:]' | grep -oE "\"$1\":\\{[^{}]*\\}" | head -n1 |
		sed 's/^"[^"]*"://'
}

# ---------------------------------------------------------------------------
# Tools.  The command lines of asmctl that the brief does not spell out are
# kept here, in one place.

# asm_unregister ID
asm_unregister() {
	asmctl unregister "$1"
}

# asm_start_live ID NAME FILE [SPAWNER-ARGS...]: run
# `asmctl run --name NAME --id ID --cap FsBasic -- spawner -w FILE ARGS` in
# the background and wait until the spawner has created FILE (it writes its
# pid there).  ASM_LIVE_PID is the background job (asmctl execs the spawner
# in place).  Writing FILE is an open outside the system set, hence FsBasic.
asm_start_live() {
	local id=$1 name=$2 file=$3
	shift 3
	rm -f "$file"
	asmctl run --name "$name" --id "$id" --cap FsBasic -- "$SPAWNER" -w "$file" "$@" \
		>/dev/null &
	ASM_LIVE_PID=$!
	asm_bg_track "$ASM_LIVE_PID"
	asm_wait test -s "$file"
}

# asm_stop_live FILE PID: let a live spawner exit and reap it; its exit
# status is left in ASM_LIVE_STATUS.
asm_stop_live() {
	rm -f "$1"
	wait "$2"
	ASM_LIVE_STATUS=$?
	asm_bg_reaped "$2"
}

# gw_mock_start DIR: starts asm-mock-llm on a free loopback port, its output
# in DIR; sets GW_MOCK_ADDR to its host:port.
gw_mock_start() {
	mkdir -p "$1"
	: >"$1/mock.out"
	asm-mock-llm --listen 127.0.0.1:0 >"$1/mock.out" 2>"$1/mock.err" &
	asm_bg_track $!
	asm_wait grep -q "^listening on " "$1/mock.out" || asm_bail "the mock did not start"
	GW_MOCK_ADDR=$(sed -n 's/^listening on //p' "$1/mock.out")
}

# gw_helper_start DIR: starts asm-gateway with DIR/gateway.toml (made
# root-only here) and waits until it has registered with the module.
gw_helper_start() {
	chmod 600 "$1/gateway.toml"
	asm-gateway --config "$1/gateway.toml" 2>"$1/gateway.err" &
	asm_bg_track $!
	asm_wait grep -q "registered (netlink port" /proc/agentsys/gateway_status ||
		asm_bail "asm-gateway did not register: $(cat "$1/gateway.err")"
}
