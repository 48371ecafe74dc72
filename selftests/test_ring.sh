#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The event ring overflows: an agent that forks 1100 children that exit at
# once records a register, an exec, 1100 spawns and 1101 exits (over 2200
# events) in a ring of 1024.  debugfs asm/events shows the last 1024 and
# counts the overwritten ones as dropped, and so do asmstatus --json and
# /proc/agentsys/status.

. "$(dirname "$0")/lib.sh"

N=1100
CAPACITY=1024

ktap_print_header
asm_require_root
ktap_set_plan 7
asm_reload
asm_mount_debugfs || asm_bail "cannot mount debugfs"

# 1: the agent's counters.
asm_case_start
# The agent's process is asmctl's child: the shell tells its pid on fd 3
# (no open), then becomes the spawner (a launch, not a spawn; Landlock
# would allow only the first program, sh).
asmctl run --quiet --no-landlock --name ring --id 200 -- \
	sh -c 'echo $$ >&3; exec "$0" -n "$1"' "$SPAWNER" "$N" >/dev/null 3>"$ASM_TMP/agent.pid"
asm_expect_eq "asmctl run exit status" 0 "$?"
pid=$(cat "$ASM_TMP/agent.pid")
asm_expect_wait "row 200: spawns exits faults" "$((N + 1)) $((N + 1)) 0" asm_agent_counts 200
asm_case_end "agent 200 (spawner -n $N): spawns $((N + 1)), exits $((N + 1))"

events=$ASM_TMP/events
cat "$ASM_EVENTS" >"$events" 2>/dev/null
header=$(head -n1 "$events")
total='' dropped='' capacity=''
if [[ $header =~ ^events:\ total\ ([0-9]+)\ dropped\ ([0-9]+)\ capacity\ ([0-9]+)\ join_failures\ 0$ ]]; then
	total=${BASH_REMATCH[1]}
	dropped=${BASH_REMATCH[2]}
	capacity=${BASH_REMATCH[3]}
fi

# 2: the header.
asm_case_start
asm_expect "header 'events: total T dropped D capacity C': '$header'" test -n "$total"
asm_expect_eq "capacity" "$CAPACITY" "$capacity"
asm_expect_ge "total" $((2 * N)) "$total"
asm_case_end "asm/events header: capacity $CAPACITY, total >= $((2 * N))"

# 3: everything beyond the ring's capacity was dropped.
asm_case_start
if [ -n "$total" ]; then
	asm_expect_eq "dropped" "$((total - CAPACITY))" "$dropped"
else
	asm_fail "no header to read"
fi
asm_case_end "asm/events: dropped == total - $CAPACITY"

# 4: the ring holds exactly its capacity.
asm_case_start
asm_expect_eq "event lines" "$CAPACITY" "$(tail -n +2 "$events" | wc -l)"
asm_case_end "asm/events lists exactly $CAPACITY events"

# 5: they are the newest events: spawns and clean exits of agent 200, the
# last one the spawner's own exit.
asm_case_start
bad=$(tail -n +2 "$events" |
	grep -cvE '^\[ *[0-9]+\.[0-9]+\] agent 200 pid [0-9]+ (spawn|exit code 0)$')
asm_expect_eq "lines not matching '[ts] agent 200 pid P spawn|exit code 0'" 0 "$bad"
[ "$bad" = 0 ] || ktap_print_msg "first: $(tail -n +2 "$events" |
	grep -vE '^\[ *[0-9]+\.[0-9]+\] agent 200 pid [0-9]+ (spawn|exit code 0)$' | head -n1)"
last=$(tail -n1 "$events" | sed 's/^\[[^]]*\] //')
asm_expect_eq "last event" "agent 200 pid $pid exit code 0" "$last"
asm_case_end "asm/events lines are the newest: agent 200 spawns and exits, last the spawner's"

# 6: asmstatus --json agrees.
asm_case_start
asm_expect "asm/events header was read" test -n "$dropped"
sys=$(asmstatus --json 2>/dev/null | asm_json_obj system)
asm_expect_eq "asmstatus --json system.events_dropped" "$dropped" \
	"$(printf '%s' "$sys" | asm_json_num events_dropped)"
asm_expect_eq "asmstatus --json system.events_total" "$total" \
	"$(printf '%s' "$sys" | asm_json_num events_total)"
asm_case_end "asmstatus --json: events_dropped and events_total match asm/events"

# 7: so does /proc/agentsys/status.
asm_case_start
asm_expect "asm/events header was read" test -n "$dropped"
asm_expect_eq "Events Dropped" "$dropped" "$(asm_sys_metric "Events Dropped")"
asm_case_end "/proc/agentsys/status Events Dropped matches asm/events"

ktap_finished
