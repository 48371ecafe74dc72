#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel's own YNL tool (tools/net/ynl/cli.py of the test kernel's
# source, copied by scripts/build.sh) drives the "asm" family with Documentation/netlink/specs/asm.yaml:
# the spec validates against the genetlink schema, lists the family's
# commands, subscribes to the events group and decodes a registration, and
# issues a gateway command (refused: the caller is not the helper).

. "$(dirname "$0")/lib.sh"

TOP=$(cd "$(dirname "$0")/.." && pwd)
SPEC=$TOP/Documentation/netlink/specs/asm.yaml
# Copied from the test kernel's source by scripts/build.sh.
YNL=$TOP/selftests/build/ynl
PYTHON=/usr/bin/python3

ktap_print_header
asm_require_root
ktap_set_plan 4
asm_reload

# Case 1 checks the spec against the schema; the others skip that (slow
# under TCG).
ynl() {
	"$PYTHON" "$YNL/cli.py" --spec "$SPEC" --no-schema "$@"
}

# subscribed PID: whether process PID has a generic netlink socket in a
# multicast group (/proc/net/netlink: Eth 16, Groups not 0).
subscribed() {
	awk -v pid="$1" '$2 == 16 && $3 == pid && $4 != "00000000" { found = 1 }
		END { exit !found }' /proc/net/netlink
}

# 1: the spec loads (schema-checked) and lists the messages.
asm_case_start
ops=$("$PYTHON" "$YNL/cli.py" --spec "$SPEC" --schema "$YNL/genetlink.yaml" --list-msgs 2>&1)
for op in event gw-register gw-notify gw-pull gw-complete; do
	asm_expect "message $op listed" grep -q "^$op " <<<"$ops"
done
[ "$ASM_CASE_OK" = 1 ] || printf '%s\n' "$ops" | sed 's/^/# /'
asm_case_end "cli.py --list-msgs: the spec validates and names the five messages"

# 2: subscribed to the events group, it decodes a registration.
asm_case_start
out=$ASM_TMP/ynl-events
# cli.py subscribes, sleeps, then prints what arrived; under TCG it takes
# seconds to start, so the agent runs once it is in the group.
"$PYTHON" "$YNL/cli.py" --spec "$SPEC" --no-schema \
	--subscribe events --sleep 8 --output-json >"$out" 2>&1 &
ynl_pid=$!
asm_wait subscribed "$ynl_pid"
asmctl run --id 700 --name ynl-agent -- true >/dev/null 2>&1
wait "$ynl_pid"
asm_expect "an event of agent 700 with type register" \
	grep -q '"event-type": "register".*"agent-id": 700\|"agent-id": 700.*"event-type": "register"' "$out"
asm_expect "an exit event of agent 700" grep -q '"event-type": "exit"' "$out"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$out"
asm_case_end "cli.py --subscribe events: decoded register and exit events"

# 3: a command: the family answers gw-pull from a socket that is not the
# helper with EPERM.
asm_case_start
pull=$(ynl --do gw-pull 2>&1)
asm_expect_eq "cli.py's exit status" 1 "$?"
asm_expect "gw-pull refused: $pull" grep -qi "error.*-1\b\|Operation not permitted\|EPERM" <<<"$pull"
asm_case_end "cli.py --do gw-pull: refused to a socket that is not the helper"

# 4: gw-register through cli.py makes its socket the helper for as long as
# it lives (the status view shows it), and its exit releases it.
asm_case_start
reg=$(ynl --do gw-register 2>&1)
asm_expect_eq "cli.py's exit status (output: $reg)" 0 "$?"
asm_expect_not "gw-register refused: $reg" grep -qi "error" <<<"$reg"
asm_expect "no helper left after cli.py exited" grep -q "not registered" /proc/agentsys/gateway_status
asm_case_end "cli.py --do gw-register: accepted, released when its socket closes"

asm_unload
ktap_finished
