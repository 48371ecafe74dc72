#!/usr/bin/env bash
# The demo, run inside the test VM by `make demo`: load asm.ko, run sample
# agents that spawn, exit and crash, then show what ASM saw; asmd's
# misbehaving agents, policies and the audit trail; LLM requests through
# the gateway.
set -u
cd "$(dirname "$0")/.."
spawner=selftests/build/spawner

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step insmod asm.ko
insmod asm.ko || exit 1
dmesg | grep '\[ASM\]'

ws=$(mktemp -d /tmp/agent_ws.XXXX)
live=$ws/fs_monitor.running
step "asmctl run --name fs_monitor --id 100 --cap FsBasic --cap FsExtended --scope $ws --auto-restart 3 -- spawner -c 3 -g 1 -w ... &"
asmctl run --name fs_monitor --id 100 --cap FsBasic --cap FsExtended \
	--scope "$ws" --auto-restart 3 -- $spawner -c 3 -g 1 -w "$live" &
step "asmctl run --name net_agent --id 101 --cap NetClient -- spawner -c 2 -x 1 -k 1"
asmctl run --name net_agent --id 101 --cap NetClient -- $spawner -c 2 -x 1 -k 1
step "asmctl run --name audio_ctrl --id 102 --cap AudioControl -- sh -c 'kill -SEGV \$\$'"
asmctl run --name audio_ctrl --id 102 --cap AudioControl -- sh -c 'kill -SEGV $$'
# (sh forks and execs ls: ProcessSpawn; ls reads /, which is outside the
# system set: FsExtended.)
step "asmctl run --name llm_worker --cap LlmAccess,FsExtended,ProcessSpawn -- sh -c 'ls / >/dev/null; exit 0'"
asmctl run --name llm_worker --cap LlmAccess,FsExtended,ProcessSpawn -- \
	sh -c 'ls / >/dev/null; exit 0'

for _ in $(seq 100); do [ -e "$live" ] && break; sleep 0.1; done

step asmstatus
asmstatus
step asmlist
asmlist
step "asmlist --all"
asmlist --all
step "asminfo 100"
asminfo 100
step "asminfo 101 --json"
asminfo 101 --json
step "cat /proc/agentsys/status"
cat /proc/agentsys/status
step "head -n 12 /sys/kernel/debug/asm/events"
head -n 12 /sys/kernel/debug/asm/events

step "agent 100 finishes"
rm -f "$live"
wait
grep -E '^  100 ' /proc/agentsys/status

# asmctl run restarts on the module's verdict, without asmd.
step "asmctl run --name crashy_run --id 103 --cap FsBasic --auto-restart 2 -- sh -c 'exit 3'"
asmctl run --name crashy_run --id 103 --cap FsBasic --auto-restart 2 -- sh -c 'exit 3'
echo "exit status $?"

# A team: the worker requires the db; when the db ends, the worker is stopped.
step "asmctl run --name db --id 104 -- sleep 3 &  asmctl run --name worker --id 105 -- sleep 60 &  asmctl deps add 105 104"
asmctl run --name db --id 104 --cap FsBasic -- sleep 3 &
asmctl run --name worker --id 105 --cap FsBasic -- sleep 60 &
for _ in $(seq 100); do asminfo 104 >/dev/null 2>&1 && asminfo 105 >/dev/null 2>&1 && break; sleep 0.1; done
asmctl deps add 105 104
step "asmctl deps 105"
asmctl deps 105
step "(the db exits after 3 s: the worker gets SIGTERM)"
wait
grep -E 'agent 10[45] .*(exit|cascade)' /sys/kernel/debug/asm/events

# Part two: asmd launches agents that misbehave; ASM catches them.
logs=$(mktemp -d /tmp/asmd_logs.XXXX)
grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts || mount -t cgroup2 none /sys/fs/cgroup
step "asmd --spec scripts/demo-agents &   (crashy: exits 3, 2 restarts; spinner: 200 ms CPU quota; hog: 32 MiB limit)"
asmd --spec scripts/demo-agents --log-dir "$logs" --lock "$logs/lock" &
asmd_pid=$!
sleep 8
step "asmctl top --once"
asmctl top --once
step "asmctl history 201 | tail -n 16"
asmctl history 201 | tail -n 16
step "asminfo 201"
asminfo 201
step "asminfo 200 --json"
asminfo 200 --json
step "asmstatus"
asmstatus
step "tail -n 12 /proc/agentsys/status"
tail -n 12 /proc/agentsys/status

# Part three: policy.  The same scoped agent with Landlock (the write outside
# its scope fails) and without (the module kills it at the open), patches,
# the audit trail and the compliance report.
pws=$(mktemp -d /tmp/policy_ws.XXXX)
step "asmctl run --name scoped --id 300 --cap FsBasic --scope $pws -- sh -c 'echo ok > $pws/a; echo x > /tmp/outside'"
asmctl run --name scoped --id 300 --cap FsBasic --scope "$pws" -- \
	sh -c "echo ok > '$pws/a'; echo x > /tmp/outside"
echo "exit status $?"
step "asmctl run --no-landlock --name detected --id 301 --cap FsBasic --scope $pws -- sh -c '...same...'"
asmctl run --no-landlock --name detected --id 301 --cap FsBasic --scope "$pws" -- \
	sh -c "echo ok > '$pws/b'; echo x > /tmp/outside"
echo "exit status $? (137: SIGKILL)"
step "asmctl patch 100 add-cap Admin"
asmctl patch 100 add-cap Admin
step "asmctl patch 100 remove-cap FsExtended"
asmctl patch 100 remove-cap FsExtended
step "asmpolicy 100"
asmpolicy 100
step "asmctl oversight 301 review --note 'violation checked'"
asmctl oversight 301 review --note 'violation checked'
step "asmctl audit | tail -n 8"
asmctl audit | tail -n 8
step "asmctl audit verify"
asmctl audit verify
step "compliance"
compliance
rm -rf "$pws" /tmp/outside

# Part four: the LLM gateway.  The helper (asm-gateway) calls a mock of the
# four providers; agents ask through the kernel, one falls back, one runs
# out of its token bucket.
gw=$(mktemp -d /tmp/gateway.XXXX)
asm-mock-llm --listen 127.0.0.1:0 >"$gw/mock.out" 2>/dev/null &
mock_pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$gw/mock.out" && break; sleep 0.1; done
addr=$(sed -n 's/^listening on //p' "$gw/mock.out")
{
	echo 'policy = "cost"'
	for p in claude gpt4 gemini; do
		printf '[providers.%s]\nbase_url = "http://%s"\nmodel = "mock"\napi_key = "demo-key"\n' "$p" "$addr"
	done
	printf '[providers.local]\nbase_url = "http://%s/local"\nmodel = "mock"\n' "$addr"
} >"$gw/gateway.toml"
chmod 600 "$gw/gateway.toml"
step "asm-gateway --config gateway.toml &   (every provider at asm-mock-llm on $addr)"
asm-gateway --config "$gw/gateway.toml" 2>"$gw/gateway.log" &
gw_pid=$!
for _ in $(seq 100); do grep -q 'registered (netlink' /proc/agentsys/gateway_status && break; sleep 0.1; done
step "asmctl run --name writer --id 400 --cap LlmAccess,FsExtended -- asmctl llm --provider claude 'Explain kernel memory management'"
asmctl run --name writer --id 400 --cap LlmAccess,FsExtended -- \
	asmctl llm --provider claude 'Explain kernel memory management'
step "asmctl run --name fallback --id 401 --cap LlmAccess,FsExtended -- asmctl llm 'mock:fail=local summarise the logs'   (local answers HTTP 500)"
asmctl run --name fallback --id 401 --cap LlmAccess,FsExtended -- \
	asmctl llm 'mock:fail=local summarise the logs'
step "asmctl run --name greedy --id 402 --cap LlmAccess,FsExtended -- tools/examples/llm_request.py --repeat 80 'question'   (burst 30, 10 per second)"
asmctl run --name greedy --id 402 --cap LlmAccess,FsExtended -- \
	/usr/bin/python3 tools/examples/llm_request.py --repeat 80 question
step "asmctl run --name parallel --id 403 --cap LlmAccess,FsExtended -- tools/examples/llm_request.py --submit 5 'question'   (five in flight on one fd, collected as poll() reports them)"
asmctl run --name parallel --id 403 --cap LlmAccess,FsExtended -- \
	/usr/bin/python3 tools/examples/llm_request.py --submit 5 question
step "asminfo 402   (the greedy agent's LLM use next to its faults)"
asminfo 402
step "asmctl audit --trail llm | tail -n 6   (one entry per request, a hash chain of its own)"
asmctl audit --trail llm | tail -n 6
step "cat /proc/agentsys/cloud_gateway"
cat /proc/agentsys/cloud_gateway
step "cat /proc/agentsys/gateway_status"
cat /proc/agentsys/gateway_status
step "asm-gateway's log"
cat "$gw/gateway.log"
kill "$gw_pid" "$mock_pid" 2>/dev/null
wait "$gw_pid" "$mock_pid" 2>/dev/null
rm -rf "$gw"

step "stop asmd, end the agents, rmmod asm"
kill "$asmd_pid"; wait "$asmd_pid"
for id in 200 201 202; do
	cg=/sys/fs/cgroup/agentsys/$id
	[ -d "$cg" ] || continue
	for p in $(cat "$cg/cgroup.procs"); do kill -KILL "$p" 2>/dev/null; done
	for _ in $(seq 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
done
rmdir /sys/fs/cgroup/agentsys 2>/dev/null
rmmod asm && dmesg | grep '\[ASM\]' | tail -n 1
rm -rf "$ws" "$logs"
