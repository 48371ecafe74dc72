#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole gateway: agents' requests go through the kernel to asm-gateway,
# which calls asm-mock-llm over HTTP in each provider's wire format.
# Checks the four wire formats, the cost policy's order, fallback on an
# HTTP 500, the circuit breaker, a provider that hangs (ETIMEDOUT), the
# user guide's C and Python examples, and the gateway's /proc figures.

. "$(dirname "$0")/lib.sh"

TOP=$(cd "$(dirname "$0")/.." && pwd)
PY_EXAMPLE=$TOP/tools/examples/llm_request.py
C_EXAMPLE=$ASM_BUILD/llm_request
PYTHON=/usr/bin/python3
GW=$ASM_TMP/gateway
ID=7100

ktap_print_header
asm_require_root
ktap_set_plan 8
asm_reload

gw_mock_start "$GW"
addr=$GW_MOCK_ADDR

# Every provider at the mock; the cloud ones with a key each format sends.
cat >"$GW/gateway.toml" <<TOML
policy = "cost"
[breaker]
failures = 3
retry_after_ms = 600000
[providers.claude]
enabled = true
base_url = "http://$addr"
model = "claude-test"
api_key = "test-claude-key"
timeout_ms = 5000
[providers.gpt4]
enabled = true
base_url = "http://$addr"
model = "gpt-test"
api_key = "test-openai-key"
timeout_ms = 5000
[providers.gemini]
enabled = true
base_url = "http://$addr"
model = "gemini-test"
api_key = "test-gemini-key"
timeout_ms = 5000
[providers.local]
enabled = true
base_url = "http://$addr/local"
model = "local-test"
timeout_ms = 1000
TOML
gw_helper_start "$GW"

# ask ID PROMPT [PROVIDER [TIMEOUT_MS]]: the user guide's C example as agent
# ID (LlmAccess; FsExtended so that asmctl run's Landlock lets it load), its
# output in $GW/ID.out; returns its status.
ask() {
	local id=$1
	shift
	asmctl run --id "$id" --name "gw-$id" --cap LlmAccess,FsExtended -- \
		"$C_EXAMPLE" "$@" >"$GW/$id.out" 2>&1
}

# json_of ID KEY: a member of agent ID's response document.
json_of() {
	sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p" "$GW/$1.out"
}

# mock_count PROVIDER: the requests the mock saw for PROVIDER.
mock_count() {
	"$PYTHON" -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen("http://" + sys.argv[1] + "/stats")).get(sys.argv[2], 0))' \
		"$addr" "$1"
}

# 1: each wire format, chosen by the preferred provider.
asm_case_start
n=0
# The request names the provider as the user guide does (claude), the
# response as every JSON document names an enum value (Claude).
for p in claude:Claude gpt4:Gpt4 gemini:Gemini local:Local; do
	json_name=${p#*:}
	p=${p%:*}
	n=$((n + 1))
	ask $((ID + n)) "hello from $p" "$p"
	asm_expect_eq "$p: provider" "$json_name" "$(json_of $((ID + n)) provider)"
	asm_expect_eq "$p: text" "$p says: hello from $p" "$(json_of $((ID + n)) text)"
	asm_expect_eq "$p: was_fallback" false "$(json_of $((ID + n)) was_fallback)"
	[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$GW/$((ID + n)).out"
done
asm_case_end "claude, gpt4, gemini and local wire formats answer through the kernel"

# 2: no preference: the cost policy tries local first.
asm_case_start
ask $((ID + 5)) "cheap please"
asm_expect_eq "provider" Local "$(json_of $((ID + 5)) provider)"
asm_case_end "cost policy: local first"

# 3: local answers HTTP 500: gpt4 (next in the cost order) answers.
asm_case_start
ask $((ID + 6)) "mock:fail=local hello"
asm_expect_eq "provider" Gpt4 "$(json_of $((ID + 6)) provider)"
asm_expect_eq "was_fallback" true "$(json_of $((ID + 6)) was_fallback)"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$GW/$((ID + 6)).out"
asm_case_end "a failing provider falls back, was_fallback true"

# 4: the user guide's C and Python examples.
asm_case_start
ask $((ID + 7)) "from C"
asm_expect_eq "C example status" 0 "$?"
asm_expect "C example prints the response" grep -q '^LLM Response:$' "$GW/$((ID + 7)).out"
asm_expect "C example: the provider's text" grep -q '"text":"local says: from C"' "$GW/$((ID + 7)).out"
asmctl run --id $((ID + 8)) --name gw-py --cap LlmAccess,FsExtended -- \
	"$PYTHON" "$PY_EXAMPLE" "from Python" >"$GW/py.out" 2>&1
asm_expect "Python example" grep -q '^Response: local says: from Python$' "$GW/py.out"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$GW/$((ID + 7)).out" "$GW/py.out"
asm_case_end "the user guide's C and Python examples, on the ioctl"

# 5: the circuit breaker: three failures of local in a row, then it is
# skipped: the mock sees no further local request.
asm_case_start
for i in 9 10 11; do
	ask $((ID + i)) "mock:fail=local again"
	asm_expect_eq "request $i: provider" Gpt4 "$(json_of $((ID + i)) provider)"
done
before=$(mock_count local)
ask $((ID + 12)) "skip local now"
asm_expect_eq "provider once local's breaker is open" Gpt4 "$(json_of $((ID + 12)) provider)"
asm_expect_eq "was_fallback (local was not tried)" false "$(json_of $((ID + 12)) was_fallback)"
asm_expect_eq "local requests at the mock" "$before" "$(mock_count local)"
asm_case_end "circuit breaker: a provider that failed 3 times in a row is skipped"

# 6: a hanging provider and a short request timeout: ETIMEDOUT.
asm_case_start
ask $((ID + 13)) "mock:hang please" claude 1500
asm_expect "ETIMEDOUT" grep -q "^Error: ETIMEDOUT" "$GW/$((ID + 13)).out"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$GW/$((ID + 13)).out"
asm_case_end "a request whose providers hang ends with ETIMEDOUT"

# 8 (before the figures): asmctl llm from a shell inside an agent.
asm_case_start
asmctl run --id $((ID + 14)) --name gw-sh --cap LlmAccess,FsExtended -- \
	asmctl llm --provider gemini "from the shell" >"$GW/sh.out" 2>"$GW/sh.err"
asm_expect_eq "asmctl llm status" 0 "$?"
asm_expect_eq "its answer" "gemini says: from the shell" "$(cat "$GW/sh.out")"
asm_expect "its summary names the provider" grep -q "provider gemini" "$GW/sh.err"
asmctl llm "outside any agent" >"$GW/out.out" 2>&1
asm_expect_eq "outside an agent: exit status" 1 "$?"
asm_expect "outside an agent: the reason" grep -q "not allowed" "$GW/out.out"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$GW/sh.out" "$GW/sh.err" "$GW/out.out"
asm_case_end "asmctl llm answers inside an agent and refuses outside one"

# 7: the gateway's figures.
asm_case_start
asm_expect_ge "Successful" 13 "$(awk '/^Successful:/ { print $2 }' /proc/agentsys/cloud_gateway)"
asm_expect_ge "Fallback Used" 4 "$(awk '/^Fallback Used:/ { print $3 }' /proc/agentsys/cloud_gateway)"
asm_expect "local's failures are attempts" grep -Eq '^  Local: +[0-9]+/[0-9]+ +\([0-9.]+%\)$' /proc/agentsys/cloud_gateway
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' /proc/agentsys/cloud_gateway "$GW/gateway.err"
asm_case_end "/proc/agentsys/cloud_gateway counts the answers, fallbacks and attempts"

asm_unload
ktap_finished
