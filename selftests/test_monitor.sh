#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `asmctl monitor` against the module's events group:
#
#   1  --json: a scripted agent (register, its command's exec, a fork, the
#      child's exec and exit, the command's exit, unregister) shows as those
#      events, in that order, each a JSON line with the telemetry's fields;
#      the stream's event numbers follow each other with no gap, and no
#      loss was reported.
#   2  the filters (--agent, --type, --count) and the text lines.
#   3  lost events are reported from the numbers: a monitor stopped with
#      SIGSTOP while the agent makes hundreds of events, then continued,
#      reports the loss, and every event number is either printed or
#      counted as lost.
#   4  uid 65534 cannot join the group (CAP_NET_ADMIN): exit 1, the reason,
#      and no event printed.
#   5  uid 65534, and root, send a forged event straight to a monitor's
#      netlink port: the kernel refuses it (the socket is connected to the
#      kernel), and nothing forged is printed.
#   6  the module is unloaded under a monitor: it says so and exits 1,
#      instead of waiting for events that can no longer come.

ASM_TIMEOUT=${ASM_TIMEOUT:-30}
. "$(dirname "$0")/lib.sh"

AS_NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)

ktap_print_header
asm_require_root
ktap_set_plan 6
asm_reload

# monitor NAME ARGS...: starts `asmctl monitor ARGS` in the background, its
# stdout in $ASM_TMP/NAME.out, and waits until it has joined the group.
monitor() {
	local name=$1
	shift
	asmctl monitor "$@" >"$ASM_TMP/$name.out" 2>"$ASM_TMP/$name.err" &
	MON_PID=$!
	asm_bg_track "$MON_PID"
	asm_wait grep -q "monitoring the asm events" "$ASM_TMP/$name.err" ||
		asm_bail "monitor $name did not start: $(cat "$ASM_TMP/$name.err")"
}

# The scripted agent: asmctl's child registers itself and execs sh, which
# forks a child that execs true; both exit 0.  Then it is unregistered.
scripted_agent() {
	asmctl run --quiet --no-landlock --cap ProcessSpawn --id "$1" --name monitored -- \
		sh -c '/bin/true & wait' ||
		asm_fail "asmctl run: status $?"
	asmctl unregister "$1" || asm_fail "asmctl unregister $1: status $?"
}

asm_case_start
monitor all --json
all_pid=$MON_PID
monitor filtered --json --agent 7950 --type Exec --type exit
monitor text --agent 7950 --count 4
text_pid=$MON_PID
scripted_agent 7950
asm_wait grep -q '"type":"Unregister"' "$ASM_TMP/all.out" || asm_fail "no unregister event"
kill "$all_pid"
got=$(python3 - "$ASM_TMP/all.out" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
bad = [l for l in lines if "seq" not in l]
seqs = [l["seq"] for l in lines if "seq" in l]
gaps = [(a, b) for a, b in zip(seqs, seqs[1:]) if b != a + 1]
mine = [l for l in lines if l.get("agent_id") == 7950]
kinds = " ".join(l["type"] for l in mine)
keys = {"seq", "timestamp_ns", "type", "agent_id", "pid", "exit_code", "signal"}
missing = [l for l in mine if not keys <= l.keys()]
times = [l["timestamp_ns"] for l in mine]
# The forked child's spawn, exec and exit name one pid, not the command's.
spawn = [l["pid"] for l in mine if l["type"] == "Spawn"]
execs = [l["pid"] for l in mine if l["type"] == "Exec"]
exits = [(l["pid"], l["exit_code"]) for l in mine if l["type"] == "Exit"]
pids_ok = (len(spawn) == 1 and len(execs) == 2 and execs[1] == spawn[0]
           and exits == [(spawn[0], 0), (execs[0], 0)])
print(kinds)
print(f"other lines {len(bad)} gaps {gaps} missing fields {len(missing)} "
      f"ordered {times == sorted(times)} pids {pids_ok} events {len(seqs)}")
EOF
)
asm_expect_eq "agent 7950's events, in order" "Register Exec Spawn Exec Exit Exit Unregister" \
	"$(head -1 <<<"$got")"
asm_expect "no gap, no other line, every field, in time order, the pids" \
	grep -qE '^other lines 0 gaps \[\] missing fields 0 ordered True pids True events [0-9]+$' \
	<<<"$(tail -1 <<<"$got")"
[ "$ASM_CASE_OK" = 1 ] || { ktap_print_msg "$got"; sed 's/^/# /' "$ASM_TMP/all.out"; }
asm_case_end "monitor --json: the scripted agent's events in order, numbered with no gap"

asm_case_start
asm_expect_eq "--agent 7950 --type Exec --type exit" "Exec Exec Exit Exit" \
	"$(python3 -c 'import json, sys
print(" ".join(json.loads(l)["type"] for l in open(sys.argv[1]) if json.loads(l)["agent_id"] == 7950))' \
	"$ASM_TMP/filtered.out")"
asm_expect_eq "--type: no other agent or type" 0 \
	"$(grep -vcE '"agent_id":7950,.*"type":"(Exec|Exit)"' "$ASM_TMP/filtered.out")"
asm_wait_gone "$text_pid" || asm_fail "--count 4 did not exit"
wait "$text_pid"
asm_expect_eq "--count 4: exit status" 0 "$?"
asm_expect_eq "--count 4: lines" 4 "$(wc -l <"$ASM_TMP/text.out")"
asm_expect "text: register" grep -qE '^[0-9]+ \[[0-9]+\] Agent 7950 registered \(pid [0-9]+\)$' "$ASM_TMP/text.out"
asm_expect "text: the fork" grep -qE '^[0-9]+ \[[0-9]+\] Agent 7950 spawned \(pid [0-9]+\)$' "$ASM_TMP/text.out"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$ASM_TMP/text.out" "$ASM_TMP/filtered.out"
asm_case_end "monitor --agent, --type, --count and the text lines"

# 3: a reader that stops reading.  Each short-lived process of the agent
# makes a spawn, an exec and an exit; 250 of them overflow the socket's
# buffer (rmem_max caps it) of a monitor that is stopped meanwhile.  The
# unregister comes after it is continued: its number shows the gap.
asm_case_start
monitor stopped --json --agent 7951
stopped_pid=$MON_PID
kill -STOP "$stopped_pid"
asmctl run --quiet --no-landlock --cap ProcessSpawn --id 7951 --name flood -- \
	sh -c 'i=0; while [ $i -lt 250 ]; do /bin/true; i=$((i + 1)); done' ||
	asm_fail "the flood: status $?"
kill -CONT "$stopped_pid"
asmctl unregister 7951
asm_wait grep -q '"type":"Unregister"' "$ASM_TMP/stopped.out" || asm_fail "no unregister event after the loss"
kill "$stopped_pid"
got=$(python3 - "$ASM_TMP/stopped.out" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
events = [l["seq"] for l in lines if "seq" in l]
lost = [l["lost"] for l in lines if "lost" in l]
overrun = sum(1 for l in lines if "overrun" in l)
# Every number from the first event to the last is printed or lost, once.
covered = sorted(events + [s for r in lost for s in range(r["first_seq"], r["last_seq"] + 1)])
whole = covered == list(range(covered[0], covered[-1] + 1))
counts = all(r["count"] == r["last_seq"] - r["first_seq"] + 1 for r in lost)
print(f"lost {sum(r['count'] for r in lost)} reports {len(lost)} overruns {overrun} "
      f"whole {whole} counts {counts} printed {len(events)}")
EOF
)
asm_expect "the loss is reported and accounted for" \
	grep -qE '^lost [1-9][0-9]* reports [1-9][0-9]* overruns [0-9]+ whole True counts True printed [0-9]+$' <<<"$got"
ktap_print_msg "$got"
asm_case_end "monitor: a stopped reader's lost events are reported from the event numbers"

asm_case_start
"${AS_NOBODY[@]}" asmctl monitor >"$ASM_TMP/nobody.out" 2>"$ASM_TMP/nobody.err" &
nobody_pid=$!
asm_wait_gone "$nobody_pid" || { kill "$nobody_pid"; asm_fail "uid 65534's monitor kept running"; }
wait "$nobody_pid"
asm_expect_eq "uid 65534: exit status" 1 "$?"
asm_expect "uid 65534: the reason" grep -q "^Error: joining the asm events group needs CAP_NET_ADMIN" "$ASM_TMP/nobody.err"
asm_expect_eq "uid 65534: no event" "" "$(cat "$ASM_TMP/nobody.out")"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$ASM_TMP/nobody.err"
asm_case_end "uid 65534 cannot monitor the events (CAP_NET_ADMIN)"

asm_case_start
monitor forged --json
forged_pid=$MON_PID
# The monitor's netlink port, from its socket's inode.
port=$(python3 - "$forged_pid" <<'EOF'
import os, sys
inodes = set()
for fd in os.listdir(f"/proc/{sys.argv[1]}/fd"):
    link = os.readlink(f"/proc/{sys.argv[1]}/fd/{fd}")
    if link.startswith("socket:["):
        inodes.add(link[8:-1])
for line in list(open("/proc/net/netlink"))[1:]:
    f = line.split()
    # sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
    if f[1] == "16" and f[9] in inodes and f[2] != "0":
        print(f[2])
EOF
)
cat >"$ASM_TMP/forge.py" <<'EOF'
import socket, struct, sys
def attr(t, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, t) + payload + b"\0" * (-n % 4)
def msg(ty, flags, cmd, attrs):
    body = struct.pack("=BBH", cmd, 1, 0) + attrs
    return struct.pack("=IHHII", 16 + len(body), ty, flags, 1, 0) + body
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)
s.bind((0, 0))
# CTRL_CMD_GETFAMILY "asm": the family id the monitor expects.
s.sendto(msg(0x10, 1, 3, attr(2, b"asm\0")), (0, 0))
data, off, family = s.recv(65536), 20, None
while off + 4 <= len(data):
    n, t = struct.unpack_from("=HH", data, off)
    if t == 1:
        family = struct.unpack_from("=H", data, off + 4)[0]
    off += (n + 3) & ~3
# ASM_CMD_EVENT: seq, type spawn, agent 7999.
event = (attr(2, struct.pack("=Q", 1 << 40)) + attr(4, struct.pack("=I", 3))
         + attr(5, struct.pack("=I", 7999)))
s.sendto(msg(family, 0, 1, event), (int(sys.argv[1]), 0))
print("sent to port", sys.argv[1], "family", family)
EOF
# uid 65534's datagram: the kernel may refuse it outright; if it is sent,
# the monitor must ignore it.
"${AS_NOBODY[@]}" python3 - "$port" <"$ASM_TMP/forge.py" >"$ASM_TMP/forge.out" 2>&1
if grep -q '^sent' "$ASM_TMP/forge.out"; then
	asm_expect "uid 65534's: ignored" asm_wait grep -q "not the kernel) was ignored" "$ASM_TMP/forged.err"
else
	asm_expect "uid 65534's: refused by the kernel (EPERM)" grep -q "Operation not permitted" "$ASM_TMP/forge.out"
	ktap_print_msg "uid 65534's datagram was refused: $(tail -1 "$ASM_TMP/forge.out")"
fi
# Root's process is refused too: the socket takes unicast from the kernel
# only.
python3 - "$port" <"$ASM_TMP/forge.py" >"$ASM_TMP/forge-root.out" 2>&1
asm_expect "root's: refused (ECONNREFUSED)" grep -q "Connection refused" "$ASM_TMP/forge-root.out"
asm_expect_not "root's: not sent" grep -q '^sent' "$ASM_TMP/forge-root.out"
# A real event after it, so that the monitor has read past the forgery.
asmctl run --quiet --no-landlock --id 7952 --name after -- true
asm_wait grep -q '"agent_id":7952' "$ASM_TMP/forged.out" || asm_fail "no event after the forgery"
kill "$forged_pid"
asm_expect_eq "no forged event printed" 0 "$(grep -c '"agent_id":7999' "$ASM_TMP/forged.out")"
asm_expect_eq "no lost events reported for it" 0 "$(grep -c '"lost"' "$ASM_TMP/forged.out")"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$ASM_TMP/forge.out" "$ASM_TMP/forged.err" "$ASM_TMP/forged.out"
asm_case_end "a forged event sent to a monitor's netlink port is refused, not printed"

asm_case_start
monitor unload --json
unload_pid=$MON_PID
asm_unload || asm_fail "rmmod asm"
asm_wait_gone "$unload_pid" || { kill "$unload_pid"; asm_fail "the monitor kept waiting"; }
wait "$unload_pid"
asm_expect_eq "exit status" 1 "$?"
asm_expect "the line" grep -qx '{"unloaded":true}' "$ASM_TMP/unload.out"
# With --json the error is a document on stdout too.
asm_expect "the reason" grep -q '^{"error":"the asm module was unloaded' "$ASM_TMP/unload.out"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$ASM_TMP/unload.out" "$ASM_TMP/unload.err"
asm_case_end "the module unloaded under a monitor: it says so and exits 1"

ktap_finished
