#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The tools' side of the LLM gateway, against the module, asm-gateway and
# asm-mock-llm (local provider only):
#
#   1-2  `asmctl patch ID llm-rate BURST REFILL` by root sets the agent's
#        token bucket, seen in /proc/agentsys/gateway_status, in asminfo
#        --json's llm.bucket and in the audit trail; values out of range
#        never reach the kernel.
#   3    the agent's unprivileged owner cannot raise its bucket (EPERM,
#        audited) but can lower it.
#   4    after one request, asminfo (text and JSON), top, compliance and
#        asmstatus show the agent's LLM use.
#   5    `asmctl audit --trail llm` lists the request and `asmctl audit
#        verify --trail llm` passes; the policy trail still verifies.
#   6    tools/examples/llm_request.py --submit 5: five requests submitted
#        at once on one fd, five answers collected after poll().
#   7    an asmd spec with llm_burst = 3, llm_refill = 1: asmd sets the
#        bucket before the command runs, and the agent's fourth immediate
#        request is refused with EAGAIN.

# The VM is emulated: give every wait 30 s.
ASM_TIMEOUT=${ASM_TIMEOUT:-30}
. "$(dirname "$0")/lib.sh"
. "$ASM_SELFTESTS/asmd_lib.sh"

TOP=$(cd "$(dirname "$0")/.." && pwd)
PY_EXAMPLE=$TOP/tools/examples/llm_request.py
PYTHON=/usr/bin/python3
GW=$ASM_TMP/gateway
# The spec of case 7 is written at run time (it names this checkout's
# example): asmd_start reads it from here.
SPECS=$ASM_TMP/specs
AS_NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)
# 7400 rate (patched by root), 7402 one request, 7403 --submit 5, 7410
# asmd's; the unprivileged owner's agent gets an allocated id.
RATE=7400
ONE=7402
BATCH=7403
ASMD_ID=7410

asm_test_cleanup() {
	# (asm_on_exit has killed asmd, the gateway, the mock and the agents.)
	asmd_cleanup_cgroups "$ASMD_ID"
}

# proc_bucket ID: "BURST REFILL" of agent ID's row in gateway_status.
proc_bucket() {
	awk -v id="$1" '$1 == id { print $4, $5 }' /proc/agentsys/gateway_status
}


# json_bucket ID: "BURST REFILL" of agent ID's llm.bucket in asminfo --json.
json_bucket() {
	info_json "$1" | pyjson '"%d %d" % (d["llm"]["bucket"]["burst"], d["llm"]["bucket"]["refill_per_s"])'
}

# llm_field ID KEY: a member of agent ID's llm object in asminfo --json.
llm_field() {
	info_json "$1" | pyjson "d['llm']['$2']"
}

# audit_rows TRAIL AGENT KIND OP/RESULT: how many rows of `asmctl audit
# --trail TRAIL` are of AGENT, kind KIND, with OP/RESULT.  The columns are
# seq, date, time, kind, agent, uid/pid, op/result, ...
audit_rows() {
	asmctl audit --trail "$1" |
		awk -v id="$2" -v kind="$3" -v op="$4" \
			'$4 == kind && $5 == id && $7 == op { n++ } END { print n + 0 }'
}

ktap_print_header
asm_require_root
asmd_require
cg_destroy "$ASMD_ID"
ktap_set_plan 7
asm_reload

gw_mock_start "$GW"
addr=$GW_MOCK_ADDR
cat >"$GW/gateway.toml" <<TOML
policy = "local-only"
[providers.local]
enabled = true
base_url = "http://$addr/local"
model = "local-test"
timeout_ms = 5000
TOML
gw_helper_start "$GW"

# 1: root widens an agent's bucket.
asm_case_start
asmctl run --id "$RATE" --name llm-rate --cap LlmAccess -- sleep 600 >/dev/null 2>&1 &
asm_bg_track $!
asm_expect_wait "gateway_status bucket before" "30 10" proc_bucket "$RATE"
asm_expect_eq "asminfo --json bucket before" "30 10" "$(json_bucket "$RATE")"
out=$(asmctl patch "$RATE" llm-rate 60 20 2>&1)
asm_expect_eq "patch status" 0 "$?"
asm_expect "patch report" grep -qE "^agent $RATE: LLM rate set to burst 60, refill 20/s \(audit #[0-9]+\)$" <<<"$out"
asm_expect_eq "gateway_status bucket after" "60 20" "$(proc_bucket "$RATE")"
asm_expect_eq "asminfo --json bucket after" "60 20" "$(json_bucket "$RATE")"
asm_expect "asminfo shows the bucket" eval \
	"asminfo $RATE | grep -qE '^  Bucket: +[0-9]+ of 60 tokens, refill 20/s$'"
# The audit entry's values are burst << 32 | refill, before and after.
asm_expect "audited with the old and new bucket" eval \
	"asmctl audit | grep -E '^ *[0-9]+ .* patch +$RATE .* set_llm_rate/ok +burst 30, 10/s -> burst 60, 20/s'"
[ "$ASM_CASE_OK" = 1 ] || { ktap_print_msg "$out"; sed 's/^/# /' /proc/agentsys/gateway_status; }
asm_case_end "patch llm-rate by root sets the bucket: gateway_status, asminfo --json, audit"

# 2: out of range: a usage error naming the bound, nothing sent.
asm_case_start
asmctl patch "$RATE" llm-rate 0 5 >"$ASM_TMP/range.out" 2>&1
asm_expect_eq "burst 0: exit status" 2 "$?"
asm_expect "burst 0: the bound" grep -q "invalid value '0' for '<BURST>': 0 is not in 1..=10000" "$ASM_TMP/range.out"
asmctl patch "$RATE" llm-rate 10 10001 >"$ASM_TMP/range.out" 2>&1
asm_expect_eq "refill 10001: exit status" 2 "$?"
asm_expect "refill 10001: the bound" grep -q "invalid value '10001' for '<REFILL>': 10001 is not in 1..=10000" "$ASM_TMP/range.out"
asm_expect_eq "bucket unchanged" "60 20" "$(proc_bucket "$RATE")"
asm_case_end "patch llm-rate: a burst or refill out of 1..10000 is refused before the kernel"

# 3: the owner (nobody) of its own agent: narrowing only.
asm_case_start
"${AS_NOBODY[@]}" asmctl run --name llm-owned -- sleep 600 >/dev/null 2>"$ASM_TMP/owned.err" &
asm_bg_track $!
asm_wait grep -q '^asmctl: agent ' "$ASM_TMP/owned.err" || asm_bail "nobody's agent did not start: $(cat "$ASM_TMP/owned.err")"
owned=$(sed -n 's/^asmctl: agent //p' "$ASM_TMP/owned.err")
asm_expect_eq "owner uid" 65534 "$(info_num "$owned" owner_uid)"
asm_expect_eq "bucket before" "30 10" "$(json_bucket "$owned")"
"${AS_NOBODY[@]}" asmctl patch "$owned" llm-rate 31 10 >"$ASM_TMP/raise.out" 2>&1
asm_expect_eq "raising: exit status" 1 "$?"
asm_expect "raising: not permitted" grep -q "not permitted: widening a policy needs CAP_SYS_ADMIN" "$ASM_TMP/raise.out"
asm_expect_eq "bucket after the refusal" "30 10" "$(json_bucket "$owned")"
asm_expect_eq "the refusal is audited" 1 "$(audit_rows policy "$owned" patch set_llm_rate/EPERM)"
"${AS_NOBODY[@]}" asmctl patch "$owned" llm-rate 5 2 >"$ASM_TMP/lower.out" 2>&1
asm_expect_eq "lowering: exit status" 0 "$?"
asm_expect_eq "bucket after lowering" "5 2" "$(json_bucket "$owned")"
asm_expect_eq "the change is audited" 1 "$(audit_rows policy "$owned" patch set_llm_rate/ok)"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$ASM_TMP/raise.out" "$ASM_TMP/lower.out"
asm_case_end "the agent's unprivileged owner cannot raise its LLM bucket but can lower it"

# 4: one request, then every view shows it.
asm_case_start
asmctl run --id "$ONE" --name llm-one --cap LlmAccess,FsExtended -- \
	asmctl llm "hello from $ONE" >"$ASM_TMP/one.out" 2>"$ASM_TMP/one.err"
asm_expect_eq "asmctl llm status" 0 "$?"
asm_expect_eq "its answer" "local says: hello from $ONE" "$(cat "$ASM_TMP/one.out")"
asm_expect "asmstatus shows the llm_request event" eval \
	"asmstatus | grep -q 'Agent $ONE LLM request answered by local'"
asm_expect_eq "asminfo --json llm.requests" 1 "$(llm_field "$ONE" requests)"
asm_expect_ge "asminfo --json llm.tokens_used" 1 "$(llm_field "$ONE" tokens_used)"
asm_expect_eq "asminfo --json llm.failures" 0 "$(llm_field "$ONE" failures)"
asminfo "$ONE" >"$ASM_TMP/one.info"
asm_expect "asminfo: LLM section" grep -qx "LLM:" "$ASM_TMP/one.info"
asm_expect "asminfo: requests" grep -qx "  Requests:      1" "$ASM_TMP/one.info"
asm_expect "asminfo: tokens used" grep -qE "^  Tokens Used:   [1-9][0-9]*$" "$ASM_TMP/one.info"
asm_expect_eq "top --json llm_requests" 1 \
	"$(asmctl top --json --once | pyjson "[r['llm_requests'] for r in d if r['agent_id'] == $ONE][0]")"
asm_expect_eq "compliance --json llm_requests" 1 \
	"$(compliance --json | pyjson "[a['llm_requests'] for a in d['agents'] if a['agent_id'] == $ONE][0]")"
asm_expect "compliance shows it" eval \
	"compliance | grep -A7 -x 'Agent ID: $ONE' | grep -qx '  LLM Requests:     1'"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$ASM_TMP/one.out" "$ASM_TMP/one.err" "$ASM_TMP/one.info"
asm_case_end "after a request asminfo, top, compliance and asmstatus show the agent's LLM use"

# 5: the LLM trail, its own chain.
asm_case_start
asm_expect_eq "llm_request entries of agent $ONE" 1 "$(audit_rows llm "$ONE" llm_request local/ok)"
asm_expect_eq "--json names the trail" Llm "$(asmctl audit --trail llm --json | pyjson 'd["trail"]')"
asm_expect_eq "--json: the entry's provider (op)" 4 \
	"$(asmctl audit --trail llm --json | pyjson "[e['op'] for e in d['entries'] if e['agent_id'] == $ONE][0]")"
asmctl audit verify --trail llm >"$ASM_TMP/verify.out" 2>&1
asm_expect_eq "verify --trail llm: exit status" 0 "$?"
asm_expect "verify --trail llm: verdict" grep -qE "^LLM audit trail OK: [0-9]+ entr(y|ies), seq 0\.\." "$ASM_TMP/verify.out"
asm_expect "the policy trail still verifies" asm_quiet asmctl audit verify
asm_expect_eq "no llm_request in the policy trail" 0 "$(audit_rows policy "$ONE" llm_request local/ok)"
[ "$ASM_CASE_OK" = 1 ] || { sed 's/^/# /' "$ASM_TMP/verify.out"; asmctl audit --trail llm | sed 's/^/# /'; }
asm_case_end "audit --trail llm lists the request; audit verify --trail llm passes"

# 6: five at once on one fd, collected as they finish.
asm_case_start
asmctl run --id "$BATCH" --name llm-batch --cap LlmAccess,FsExtended -- \
	"$PYTHON" "$PY_EXAMPLE" --submit 5 "batch" >"$ASM_TMP/batch.out" 2>&1
asm_expect_eq "llm_request.py --submit 5: exit status" 0 "$?"
asm_expect_eq "answers collected" 5 "$(grep -cE '^request [0-9]+: provider Local, result ok$' "$ASM_TMP/batch.out")"
asm_expect_eq "distinct request ids" 5 \
	"$(sed -n 's/^request \([0-9]*\): .*/\1/p' "$ASM_TMP/batch.out" | sort -u | wc -l)"
asm_expect_eq "asminfo --json llm.requests" 5 "$(llm_field "$BATCH" requests)"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$ASM_TMP/batch.out"
asm_case_end "llm_request.py --submit 5 submits five requests on one fd and collects five answers"

# 7: asmd sets the spec's bucket; the fourth immediate request is refused.
asm_case_start
mkdir -p "$SPECS/llm"
cat >"$SPECS/llm/burst.toml" <<TOML
# Four requests at once with a bucket of 3 (and 1 more per second).
id = $ASMD_ID
name = "llm-burst"
command = ["$PYTHON", "$PY_EXAMPLE", "--submit", "4", "from asmd"]
# FsExtended: python reads the example from this checkout.
capabilities = ["LlmAccess", "FsExtended"]
user = "root"
llm_burst = 3
llm_refill = 1
TOML
asmd_start llm llm
asm_expect "asmd logs the bucket" \
	asm_wait asmd_has llm "agent $ASMD_ID (llm-burst): LLM token bucket: burst 3, refill 1/s"
asm_expect "the agent ran" asm_wait grep -q '^submit 4: ' "$LOGS/$ASMD_ID.log"
asm_wait eval "[ \"\$(grep -c '^request ' '$LOGS/$ASMD_ID.log')\" -ge 3 ]"
asm_expect_eq "the 4th request" "submit 4: EAGAIN, not queued" "$(grep '^submit ' "$LOGS/$ASMD_ID.log")"
asm_expect_eq "answers to the first 3" 3 "$(grep -cE '^request [0-9]+: provider Local, result ok$' "$LOGS/$ASMD_ID.log")"
asm_expect_eq "gateway_status bucket" "3 1" "$(proc_bucket "$ASMD_ID")"
asm_expect_ge "asminfo --json llm.rate_limited" 1 "$(llm_field "$ASMD_ID" rate_limited)"
asmd_stop "$ASMD_PID" TERM
asm_expect_eq "asmd exit status" 0 "$ASMD_STATUS"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$LOGS/$ASMD_ID.log" 2>/dev/null
asmd_case_end "asmd spec llm_burst = 3: the bucket is set before the start, the 4th request gets EAGAIN" llm

asm_unload
ktap_finished
