#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Every --json document of asmctl, and the module's own, against its JSON
# Schema in Documentation/schemas/ (selftests/json_schemas.py, with
# python3-jsonschema), with the module in states where each document has
# its interesting parts:
#
#   7801 lives: profile samples, a decision and a sensitive open of its
#        own, own limits and actions set, risk High, under oversight;
#        7801 -> 7802 (required), 7802 -> 7803 (optional, SIGUSR1).
#   7804 crashes (exit 3) with a restart budget of 1: crash, fault, action,
#        recovery, restarted, failed.
#   7805 execs what it forked without ProcessSpawn: a capability
#        violation, killed (last_violation).
#   7806 spins over a CPU quota of 100 ms: throttled, then released once
#        it stops spinning.
#   7807 makes 90 events while a monitor with a small buffer is stopped:
#        lost events.
#   7808 -> 7809 (required), 7810 -> 7809 (optional): 7809 is killed,
#        7808 cascades, 7810 loses its dependency.
#   7811 asks the mock LLM provider through asm-gateway (asmctl llm --json).
#
#   1  status, list (--all), info of every agent
#   2  history, top --json --once and top --json's lines
#   3  limits, recovery (of an agent, of the defaults), policy
#   4  audit (both trails), its --export file
#   5  sensitive
#   6  deps (the list, a tree), deps add and remove
#   7  profile (every form)
#   8  compliance
#   9  llm
#   10 monitor --json's lines: every event type caused above, lost events
#   11 error documents of failed commands
#
# Each case also checks that the documents have the parts that make it
# more than a check of empty lists.

ASM_TIMEOUT=${ASM_TIMEOUT:-30}
. "$(dirname "$0")/lib.sh"

DOCS=$ASM_TMP/docs
CHECKS=$ASM_TMP/checks
RESULTS=$ASM_TMP/results
GW=$ASM_TMP/gateway
mkdir -p "$DOCS" "$ASM_TMP/secret"
echo key >"$ASM_TMP/secret/key"
: >"$CHECKS"

# The documents are all made first, then validated in one start of Python
# (a slow one in the emulated VM), then each case looks at its own.

# collect N: the documents that follow are case N's.
collect() {
	CASE=$1
	mkdir -p "$DOCS/$CASE"
}

# schema_is SCHEMA LABEL CMD...: CMD's stdout, kept as LABEL of the case,
# is a SCHEMA document (Documentation/schemas/SCHEMA.schema.json); CMD
# exits 0 (not 0 for an error document).
schema_is() {
	local schema=$1 label=$2 doc=$DOCS/$CASE/$2 rc
	shift 2
	"$@" >"$doc" 2>"$doc.err"
	rc=$?
	if [ "$schema" = error ]; then
		[ "$rc" != 0 ] || echo "$label: '$*' succeeded" >>"$DOCS/$CASE/failed"
	elif [ "$rc" != 0 ]; then
		echo "$label: '$*' exited $rc: $(head -c 300 "$doc.err")" >>"$DOCS/$CASE/failed"
	fi
	echo "$schema $doc" >>"$CHECKS"
}

# schema_lines SCHEMA FILE: each line of FILE, kept as its name in the
# case, is a SCHEMA document.
schema_lines() {
	local doc
	doc=$DOCS/$CASE/$(basename "$2")
	cp "$2" "$doc"
	echo "$1 $doc lines" >>"$CHECKS"
}

# schema_case N: starts case N, whose documents were made and match their
# schemas.
schema_case() {
	CASE=$1
	asm_case_start
	if ! grep -q '^checked [0-9]* documents' "$RESULTS"; then
		asm_fail "the documents were not validated:"
		sed 's/^/# /' "$RESULTS"
	fi
	if [ -s "$DOCS/$CASE/failed" ]; then
		while IFS= read -r l; do asm_fail "$l"; done <"$DOCS/$CASE/failed"
	fi
	if grep -qF "$DOCS/$CASE/" "$RESULTS"; then
		asm_fail "documents that do not match their schemas:"
		grep -F "$DOCS/$CASE/" "$RESULTS" | sed "s|$DOCS/$CASE/||; s/^/# /"
	fi
}

# doc LABEL EXPR: EXPR of the case's document LABEL (d), printed on one
# line.  One Python (DOC_PY, started before the cases, when no agent is
# left to start that would inherit its pipes) reads the requests: each
# start of Python takes seconds in the emulated VM.
doc() {
	local out
	printf '%s\t%s\n' "$DOCS/$CASE/$1" "$2" >&"${DOC_PY[1]}"
	IFS= read -r out <&"${DOC_PY[0]}"
	printf '%s\n' "$out"
}

# run_agent ID NAME CAPS CMD...: `asmctl run` of CMD as agent ID in the
# background; waits until it is registered.
run_agent() {
	local id=$1 name=$2 caps=$3
	shift 3
	asmctl run --quiet --no-landlock --id "$id" --name "$name" ${caps:+--cap "$caps"} -- "$@" \
		>"$ASM_TMP/$id.log" 2>&1 &
	asm_bg_track $!
	eval "PID_$id=$!"
	asm_wait eval "asminfo $id >/dev/null 2>&1" || asm_bail "agent $id did not register: $(cat "$ASM_TMP/$id.log")"
}

# agent_pid ID: the pid of agent ID's registered process.
agent_pid() {
	info_json "$1" | pyjson 'd["pid"]'
}

# seen LINE-REGEX FILE: a line of FILE matches (the monitor's output).
seen() {
	grep -qE "$1" "$2"
}

# monitor NAME ARGS...: starts `asmctl monitor --json ARGS` in the
# background, its stdout in $ASM_TMP/NAME.out, and waits until it has
# joined the group; MON_PID is its pid.
monitor() {
	local name=$1
	shift
	asmctl monitor --json "$@" >"$ASM_TMP/$name.out" 2>"$ASM_TMP/$name.err" &
	MON_PID=$!
	asm_bg_track "$MON_PID"
	asm_wait grep -q "monitoring the asm events" "$ASM_TMP/$name.err" ||
		asm_bail "monitor $name did not start: $(cat "$ASM_TMP/$name.err")"
}

ktap_print_header
asm_require_root
ktap_set_plan 12
asm_reload
monitor all
ALL_PID=$MON_PID

# --- The states ------------------------------------------------------------

asmctl sensitive add "$ASM_TMP/secret" >/dev/null || asm_bail "sensitive add failed"

run_agent 7801 schema-live FsBasic,ProcessSpawn sh -c '
asmctl profile record step 2ms || exit 1
asmctl profile record step 3ms --failed || exit 1
asmctl profile record fetch 950us || exit 1
asmctl decision "schemas: a decision" || exit 1
cat "$1/secret/key" >/dev/null || exit 1
touch "$1/ready.7801"
exec sleep 600
' sh "$ASM_TMP"
asm_wait test -e "$ASM_TMP/ready.7801" || asm_bail "agent 7801 did not record its samples: $(cat "$ASM_TMP/7801.log")"
for id in 7802 7803 7808 7809 7810; do
	run_agent "$id" "schema-$id" "" sleep 600
done
asmctl limits 7801 --cpu-quota-ms 5000 --mem none >/dev/null || asm_bail "limits 7801"
asmctl recovery 7801 --memory log >/dev/null || asm_bail "recovery 7801"
asmctl patch 7801 risk high >/dev/null || asm_bail "patch 7801 risk high"
asmctl oversight 7801 review --note "schemas" >/dev/null || asm_bail "oversight 7801"
asmctl deps add 7808 7809 >/dev/null || asm_bail "deps add 7808 7809"
asmctl deps add 7810 7809 --kind optional >/dev/null || asm_bail "deps add 7810 7809"

# 7804: exit 3, restarted once, exit 3 again.
asmctl run --quiet --no-landlock --auto-restart 1 --id 7804 --name schema-crash -- sh -c 'exit 3' \
	>"$ASM_TMP/7804.log" 2>&1
# 7805: its forked child's exec is a capability violation: killed.
asmctl run --quiet --no-landlock --id 7805 --name schema-violation -- sh -c '/bin/true; exit 0' \
	>"$ASM_TMP/7805.log" 2>&1

# 7806: spins over its CPU quota until told to stop, throttled; the
# throttle is lifted after a whole window under it, and then it is
# killed.
run_agent 7806 schema-spin "" sh -c 'while [ ! -e "$1/stop.7806" ]; do :; done; exec sleep 600' sh "$ASM_TMP"
asmctl limits 7806 --cpu-quota-ms 100 >/dev/null || asm_bail "limits 7806"
asm_wait seen '"agent_id":7806,.*"type":"Action"' "$ASM_TMP/all.out" ||
	ktap_print_msg "agent 7806 was not throttled"
touch "$ASM_TMP/stop.7806"
asm_wait seen '"agent_id":7806,.*"type":"Release"' "$ASM_TMP/all.out" ||
	ktap_print_msg "no release event for agent 7806's throttle"
pkill -KILL -P "$PID_7806"
wait "$PID_7806" 2>/dev/null
asm_bg_reaped "$PID_7806"

# 7809 ends: 7808 is stopped with it, 7810 told.
kill -TERM "$(agent_pid 7809)"
asm_wait seen '"agent_id":7810,.*"type":"DependencyLost"' "$ASM_TMP/all.out" ||
	ktap_print_msg "no dependency_lost event for agent 7810"
asm_wait seen '"agent_id":7808,.*"type":"Exit"' "$ASM_TMP/all.out" ||
	ktap_print_msg "agent 7808 was not stopped by the cascade"

# 7807: a stopped monitor loses events.  Its socket's buffer is made
# small (rmem_max caps what it asks for), so that a few dozen events
# overflow it.
rmem_max=$(sysctl -n net.core.rmem_max)
sysctl -qw net.core.rmem_max=4096
monitor stopped --agent 7807
sysctl -qw net.core.rmem_max="$rmem_max"
STOPPED_PID=$MON_PID
kill -STOP "$STOPPED_PID"
asmctl run --quiet --no-landlock --cap ProcessSpawn --id 7807 --name schema-flood -- \
	sh -c 'i=0; while [ $i -lt 30 ]; do /bin/true; i=$((i + 1)); done'
kill -CONT "$STOPPED_PID"
asmctl unregister 7807
asm_wait grep -q '"type":"Unregister"' "$ASM_TMP/stopped.out" || ktap_print_msg "no unregister event after the loss"
kill "$STOPPED_PID"

# 7811: one LLM request through the gateway helper and the mock.
gw_mock_start "$GW"
cat >"$GW/gateway.toml" <<TOML
policy = "local-only"
[providers.local]
enabled = true
base_url = "http://$GW_MOCK_ADDR/local"
model = "local-test"
timeout_ms = 5000
TOML
gw_helper_start "$GW"
asmctl run --quiet --no-landlock --id 7811 --name schema-llm --cap LlmAccess,FsExtended -- \
	asmctl llm "hello from 7811" --json >"$ASM_TMP/llm.json" 2>"$ASM_TMP/7811.log"
LLM_STATUS=$?

# --- The documents ---------------------------------------------------------

AGENTS="7801 7802 7803 7804 7805 7806 7808 7809 7810 7811"

collect 1
schema_is status status asmctl status --json
schema_is status asmstatus asmstatus --json
schema_is list list asmctl list --json
schema_is list list-all asmctl list --all --json
for id in $AGENTS; do
	schema_is info "info-$id" asminfo "$id" --json
done

collect 2
schema_is history history asmctl history 7801 --json
schema_is top top asmctl top --json --once
asmctl top --json --interval 0.5 2>/dev/null | head -n 2 >"$ASM_TMP/top.lines"
schema_lines top "$ASM_TMP/top.lines"

collect 3
schema_is limits limits-7801 asmctl limits 7801 --json
schema_is limits limits-default asmctl limits --default --json
schema_is recovery recovery-7801 asmctl recovery 7801 --json
schema_is recovery recovery-default asmctl recovery --default --json
schema_is policy policy asmctl policy 7801 --json
schema_is policy asmpolicy asmpolicy 7801 --json

collect 4
schema_is audit audit asmctl audit --json
schema_is audit audit-llm asmctl audit --trail llm --json
asmctl audit --export "$ASM_TMP/export.json" >/dev/null || echo "audit --export failed" >>"$DOCS/4/failed"
schema_is audit-export export cat "$ASM_TMP/export.json"

collect 5
schema_is sensitive sensitive asmctl sensitive --json

collect 6
schema_is deps-change deps-add-required asmctl deps add 7801 7802 --json
schema_is deps-change deps-add-optional asmctl deps add 7802 7803 --kind optional --signal USR1 --json
schema_is deps-change deps-add-peer asmctl deps add 7801 7803 --kind peer --json
schema_is deps deps asmctl deps --json
schema_is deps-change deps-remove asmctl deps remove 7801 7803 --json
schema_is deps deps-7801 asmctl deps 7801 --json
schema_is deps deps-7803 asmctl deps 7803 --json

collect 7
schema_is profile profile asmctl profile --json
schema_is profile profile-7801 asmctl profile 7801 --json
schema_is profile-op profile-7801-step asmctl profile 7801 step --json
schema_is profile-op profile-all-step asmctl profile --all step --json

collect 8
schema_is compliance compliance asmctl compliance --json
schema_is compliance compliance-alias compliance --json

collect 9
[ "$LLM_STATUS" = 0 ] || echo "asmctl llm: exit status $LLM_STATUS: $(cat "$ASM_TMP/7811.log")" >>"$DOCS/9/failed"
schema_is llm llm cat "$ASM_TMP/llm.json"

collect 10
# The last events: an agent that comes and goes.
asmctl run --quiet --no-landlock --id 7899 --name schema-last -- true
asmctl unregister 7899
asm_wait seen '"agent_id":7899,.*"type":"Unregister"' "$ASM_TMP/all.out" ||
	echo "no unregister event of 7899" >>"$DOCS/10/failed"
kill "$ALL_PID"
schema_lines monitor "$ASM_TMP/all.out"
schema_lines monitor "$ASM_TMP/stopped.out"

collect 12
# The results of changes, each a document of its own (the commands above
# made their changes without --json).
asmctl run --quiet --no-landlock --id 7812 --name schema-changes --cap FsBasic,ProcessSpawn -- sh -c '
asmctl heartbeat --json >"$1/heartbeat.json" &&
asmctl decision "schemas: a result" --json >"$1/decision.json" &&
asmctl profile record result 4ms --json >"$1/record.json" &&
asmctl profile record result 5ms --failed --json >"$1/record-failed.json"
' sh "$DOCS/12" >"$ASM_TMP/7812.log" 2>&1 || echo "agent 7812: $(cat "$ASM_TMP/7812.log")" >>"$DOCS/12/failed"
schema_is heartbeat heartbeat cat "$DOCS/12/heartbeat.json"
schema_is decision decision cat "$DOCS/12/decision.json"
schema_is profile-record record cat "$DOCS/12/record.json"
schema_is profile-record record-failed cat "$DOCS/12/record-failed.json"
mkdir -p "$ASM_TMP/secret2"
sleep 600 &
REG_PID=$!
asm_bg_track "$REG_PID"
schema_is register register asmctl register --id 7813 --name schema-reg --pid "$REG_PID" --json
schema_is patch patch-add-cap asmctl patch 7813 add-cap NetClient --json
schema_is patch patch-risk asmctl patch 7813 risk minimal --json
schema_is oversight oversight asmctl oversight 7813 approve --json
schema_is limits limits-change asmctl limits 7813 --syscall-rate 4000 --json
schema_is recovery recovery-change asmctl recovery 7813 --crash log --json
schema_is sensitive-change sensitive-add asmctl sensitive add "$ASM_TMP/secret2" --json
schema_is sensitive-change sensitive-remove asmctl sensitive remove "$ASM_TMP/secret2" --json
schema_is unregister unregister asmctl unregister 7813 --json
kill "$REG_PID"
wait "$REG_PID" 2>/dev/null
asm_bg_reaped "$REG_PID"

collect 11
schema_is error error-info asmctl info 7999 --json
schema_is error error-cycle asmctl deps add 7802 7801 --json
schema_is error error-history asmctl history 7999 --json
schema_is error error-llm asmctl llm hello --json

/usr/bin/python3 "$ASM_SELFTESTS/json_schemas.py" batch "$CHECKS" >"$RESULTS" 2>&1

# --- The cases -------------------------------------------------------------

coproc DOC_PY {
	/usr/bin/python3 -u -c 'import json, sys
for req in sys.stdin:
    path, expr = req.rstrip("\n").split("\t", 1)
    try:
        d = json.load(open(path))
        out = str(eval(expr))
    except Exception as e:
        out = "(%s: %s)" % (type(e).__name__, e)
    print(out.replace("\n", " "))'
}
DOC_PY_JOB=$DOC_PY_PID
asm_bg_track "$DOC_PY_JOB"

schema_case 1
asm_expect_eq "status: recent events" 10 "$(doc status 'len(d["recent_events"])')"
asm_expect_eq "list --all: every agent" "$AGENTS" "$(doc list-all '" ".join(str(a["agent_id"]) for a in d)')"
asm_expect_eq "7804: its crashes in recent_faults and faults_by_type" "Crash Crash 2" \
	"$(doc info-7804 '" ".join([f["type"] for f in d["recent_faults"]] + [str(d["faults_by_type"]["crash"])])')"
asm_expect_eq "7804: Failed after its restart" "Failed 1" "$(doc info-7804 '"%s %d" % (d["state"], d["restart_count"])')"
asm_expect_eq "7805: last_violation" Exec "$(doc info-7805 'd["last_violation"]["type"]')"
asm_expect_eq "7806: its CPU quota fault" "CpuQuota Milliseconds Throttle" \
	"$(doc info-7806 '" ".join(d["recent_faults"][0][k] for k in ("type", "unit", "action"))')"
asm_expect_eq "7801: risk, capabilities" "High FsBasic,ProcessSpawn" \
	"$(doc info-7801 'd["risk_level"] + " " + ",".join(d["capabilities"])')"
asm_case_end "status, list, info: the telemetry and agent documents"

schema_case 2
asm_expect_ge "history: windows" 1 "$(doc history 'len(d["windows"])')"
asm_expect_eq "top --json: two frames" 2 "$(wc -l <"$DOCS/2/top.lines")"
asm_expect_eq "top: 7811's LLM request" 1 "$(doc top '[r["llm_requests"] for r in d if r["agent_id"] == 7811][0]')"
asm_case_end "history, top --json --once, top --json's lines"

schema_case 3
asm_expect_eq "limits 7801: own, as set" "5000 None Default Default" \
	"$(doc limits-7801 '" ".join(str(v) for v in d["limits"].values())')"
asm_expect_eq "recovery 7801: own, as set" "Default Log" \
	"$(doc recovery-7801 'd["actions"]["cpu_quota"] + " " + d["actions"]["memory"]')"
asm_case_end "limits, recovery (an agent's, the defaults), policy"

schema_case 4
asm_expect_eq "audit: the kinds the states above record" "" \
	"$(doc audit '" ".join(sorted({"Cascade", "Decision", "Dependency", "FaultPolicy", "Oversight", "Patch", "Register", "Sensitive", "SensitiveSet", "Unregister", "Violation"} - {e["kind"] for e in d["entries"]}))')"
asm_expect_eq "audit --trail llm: 7811's request" 1 \
	"$(doc audit-llm 'sum(1 for e in d["entries"] if e["agent_id"] == 7811)')"
asm_case_end "audit --json of both trails, audit --export"

schema_case 5
asm_expect_eq "sensitive: the path" "$ASM_TMP/secret" "$(doc sensitive '" ".join(d["paths"])')"
asm_case_end "sensitive --json"

schema_case 6
asm_expect_eq "deps: every kind, a signal" "Optional:10 Optional:None Peer:None Required:None" \
	"$(doc deps '" ".join(sorted({"%s:%s" % (e["kind"], e["signal"]) for e in d["edges"]}))')"
asm_expect_eq "deps 7801: its chain" "[7803, 7802]" "$(doc deps-7801 'd["chain"]')"
asm_case_end "deps --json (the list, a tree), deps add and remove --json"

schema_case 7
asm_expect_eq "profile 7801: its operations" "step fetch" "$(doc profile-7801 '" ".join(r["op"] for r in d)')"
asm_expect_eq "profile 7801 step: 1 of 2 succeeded" "2 0.5" "$(doc profile-7801-step '"%d %s" % (d["total"], d["success_rate"])')"
asm_expect_eq "profile --all step: the aggregate" None "$(doc profile-all-step 'd["agent"]')"
asm_case_end "profile --json: every operation, an agent's, one, the aggregate"

schema_case 8
asm_expect_eq "compliance: risk levels" "1 9" "$(doc compliance '"%d %d" % (d["risk_levels"]["high"], d["risk_levels"]["limited"])')"
asm_case_end "compliance --json"

schema_case 9
asm_expect_eq "llm: the mock's answer" "Local local says: hello from 7811" "$(doc llm 'd["provider"] + " " + d["text"]')"
asm_case_end "llm --json: the response document"

schema_case 10
types=$(/usr/bin/python3 -c 'import json, sys
print(" ".join(sorted({json.loads(l).get("type", "") for l in open(sys.argv[1])} - {""})))' "$DOCS/10/all.out")
ktap_print_msg "event types seen: $types"
for t in Register Unregister Spawn Exec Exit Crash Fault Action Release Recovery Restarted Failed LlmRequest Cascade DependencyLost; do
	asm_expect "a $t event" grep -qw "$t" <<<"$types"
done
asm_expect "a lost events line" grep -q '^{"lost":' "$DOCS/10/stopped.out"
asm_case_end "monitor --json: event lines of every type caused, lost events"

schema_case 11
asm_expect "info 7999: the reason" grep -q 'no agent with id 7999' "$DOCS/11/error-info"
asm_expect_eq "errors: one line each on stdout" "1 1 1 1" \
	"$(for f in info cycle history llm; do wc -l <"$DOCS/11/error-$f"; done | xargs)"
asm_case_end "error documents of failed commands"

schema_case 12
asm_expect_eq "heartbeat, decision: the caller's agent" "7812 7812" \
	"$(doc heartbeat 'd["agent_id"]') $(doc decision 'd["agent_id"]')"
asm_expect_eq "profile record: op, success" "result True result False" \
	"$(doc record '"%s %s" % (d["op"], d["success"])') $(doc record-failed '"%s %s" % (d["op"], d["success"])')"
asm_expect_eq "register: the id" 7813 "$(doc register 'd["agent_id"]')"
asm_expect_eq "patch: the ops" "AddCapability SetRisk" \
	"$(doc patch-add-cap 'd["op"]') $(doc patch-risk 'd["op"]')"
asm_expect_eq "oversight: the action" Approve "$(doc oversight 'd["action"]')"
asm_expect_eq "limits, recovery: the settings after the change" "4000 Log" \
	"$(doc limits-change 'd["limits"]["syscall_rate"]') $(doc recovery-change 'd["actions"]["crash"]')"
asm_expect_eq "sensitive add, remove" "True 2 False 1" \
	"$(doc sensitive-add '"%s %d" % (d["sensitive"], d["count"])') $(doc sensitive-remove '"%s %d" % (d["sensitive"], d["count"])')"
asm_expect_eq "unregister" True "$(doc unregister 'd["unregistered"]')"
asm_case_end "the JSON results of changes: register, unregister, heartbeat, patch, oversight, decision, limits, recovery, sensitive, profile record"

# No more requests: DOC_PY ends.
fd=${DOC_PY[1]}
exec {fd}>&-
wait "$DOC_PY_JOB"
asm_bg_reaped "$DOC_PY_JOB"
asmctl sensitive remove "$ASM_TMP/secret" >/dev/null
asm_unload
ktap_finished
