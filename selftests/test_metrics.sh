#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `asmctl metrics` scraped by a real Prometheus server:
#
#   1  the exposition, printed once, passes `promtool check metrics`, and
#      has the agents the test started, their faults by type (a crash) and
#      their state; as root, --listen without --every-agent is refused and
#      nothing listens.
#   2  `asmctl metrics --listen` serves it over HTTP; Prometheus scrapes it
#      every second, and its query API returns the number of agents the
#      test started, the crash, and the running agents' processes.
#   3  uid 65534's figures hold none of root's agents (the module filters
#      what a caller sees; the exporter adds nothing).

ASM_TIMEOUT=${ASM_TIMEOUT:-90}
. "$(dirname "$0")/lib.sh"

AS_NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)
PORT=9464
PROM_PORT=9091

ktap_print_header
asm_require_root
ktap_set_plan 3
command -v prometheus >/dev/null && command -v promtool >/dev/null ||
	asm_bail "prometheus and promtool are not installed (scripts/setup.sh installs them)"
asm_reload

for id in 7961 7962 7963; do
	asmctl run --no-landlock --id "$id" --name "metrics-$id" -- sleep 600 >/dev/null 2>&1 &
	asm_bg_track $!
done
for id in 7961 7962 7963; do
	asm_wait eval "asminfo $id >/dev/null 2>&1" || asm_bail "agent $id did not register"
done
# The fourth crashes (exit code 3): a crash fault.
asmctl run --quiet --no-landlock --id 7964 --name metrics-crash -- sh -c 'exit 3'

# query EXPR: the value of Prometheus' instant query EXPR, "" if none yet.
query() {
	python3 - "$1" "$PROM_PORT" <<'EOF'
import json, sys, urllib.parse, urllib.request
url = f"http://127.0.0.1:{sys.argv[2]}/api/v1/query?" + urllib.parse.urlencode({"query": sys.argv[1]})
try:
    d = json.load(urllib.request.urlopen(url, timeout=5))
except Exception:
    sys.exit(0)
r = d["data"]["result"]
print(r[0]["value"][1] if r else "")
EOF
}

asm_case_start
asmctl metrics >"$ASM_TMP/once.prom"
asm_expect_eq "asmctl metrics: exit status" 0 "$?"
promtool check metrics <"$ASM_TMP/once.prom" >"$ASM_TMP/promtool.out" 2>&1
asm_expect_eq "promtool check metrics" 0 "$?"
asm_expect_eq "asm_agents" "asm_agents 4" "$(grep '^asm_agents ' "$ASM_TMP/once.prom")"
asm_expect "the crash, by type" grep -qx 'asm_agent_faults_total{agent_id="7964",name="metrics-crash",type="crash"} 1' "$ASM_TMP/once.prom"
asm_expect "no memory fault" grep -qx 'asm_agent_faults_total{agent_id="7964",name="metrics-crash",type="memory"} 0' "$ASM_TMP/once.prom"
asm_expect "a running agent's info" grep -qx 'asm_agent_info{agent_id="7961",name="metrics-7961",state="Active",risk_level="Limited"} 1' "$ASM_TMP/once.prom"
asm_expect "its process" grep -qx 'asm_agent_processes{agent_id="7961",name="metrics-7961"} 1' "$ASM_TMP/once.prom"
asmctl metrics --openmetrics >"$ASM_TMP/once.om"
asm_expect "--openmetrics: the counters' families" grep -qx '# TYPE asm_faults counter' "$ASM_TMP/once.om"
asm_expect "--openmetrics: the end" test "$(tail -1 "$ASM_TMP/once.om")" = "# EOF"
asmctl metrics --listen "127.0.0.1:$PORT" >"$ASM_TMP/root.out" 2>&1
asm_expect_eq "root, --listen without --every-agent: exit status" 2 "$?"
asm_expect "root, --listen without --every-agent: the reason" \
	grep -q "would serve every agent's figures to whoever can connect" "$ASM_TMP/root.out"
asm_expect_not "root, --listen without --every-agent: nothing listens" \
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), timeout=2)"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$ASM_TMP/promtool.out" "$ASM_TMP/once.prom"
asm_case_end "asmctl metrics: the exposition passes promtool, with the agents, faults by type and state"

asm_case_start
asmctl metrics --listen "127.0.0.1:$PORT" --every-agent 2>"$ASM_TMP/exporter.err" &
exporter=$!
asm_bg_track "$exporter"
asm_wait grep -q "serving the metrics" "$ASM_TMP/exporter.err" || asm_fail "the exporter did not start"
# content_type [ACCEPT]: the Content-Type of a scrape that sends ACCEPT.
content_type() {
	python3 - "$PORT" "${1:-}" <<'EOF'
import sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/metrics")
if sys.argv[2]:
    req.add_header("Accept", sys.argv[2])
print(urllib.request.urlopen(req, timeout=10).headers["Content-Type"])
EOF
}
asm_expect_eq "Content-Type, no Accept" "text/plain; version=0.0.4; charset=utf-8" "$(content_type)"
asm_expect_eq "Content-Type, OpenMetrics asked for" \
	"application/openmetrics-text; version=1.0.0; charset=utf-8" \
	"$(content_type 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5')"
cat >"$ASM_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: asm
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOF
prometheus --config.file="$ASM_TMP/prometheus.yml" --storage.tsdb.path="$ASM_TMP/tsdb" \
	--web.listen-address="127.0.0.1:$PROM_PORT" >"$ASM_TMP/prometheus.log" 2>&1 &
asm_bg_track $!
asm_wait_eq 4 query 'asm_agents{job="asm"}' || asm_fail "Prometheus' asm_agents: '$ASM_GOT'"
asm_expect_eq "count(asm_agent_info)" 4 "$(query 'count(asm_agent_info{job="asm"})')"
asm_expect_eq "the running agents" 3 "$(query 'count(asm_agent_info{job="asm",state="Active"})')"
asm_expect_eq "the crash" 1 "$(query 'sum(asm_agent_faults_total{job="asm",type="crash"})')"
asm_expect_eq "their processes" 3 "$(query 'sum(asm_agent_processes{job="asm"})')"
asm_expect_eq "the target is up" 1 "$(query 'up{job="asm"}')"
[ "$ASM_CASE_OK" = 1 ] || { tail -20 "$ASM_TMP/prometheus.log" | sed 's/^/# /'; sed 's/^/# /' "$ASM_TMP/exporter.err"; }
asm_case_end "Prometheus scrapes asmctl metrics --listen and its query returns the 4 agents"

asm_case_start
"${AS_NOBODY[@]}" asmctl metrics >"$ASM_TMP/nobody.prom" 2>&1
asm_expect_eq "uid 65534: exit status" 0 "$?"
asm_expect_eq "uid 65534: asm_agents" "asm_agents 0" "$(grep '^asm_agents ' "$ASM_TMP/nobody.prom")"
asm_expect_eq "uid 65534: no agent of root's" 0 "$(grep -c 'agent_id=' "$ASM_TMP/nobody.prom")"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$ASM_TMP/nobody.prom"
asm_case_end "uid 65534's metrics show none of root's agents"

ktap_finished
