#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The asm-agent Rust library against the module: its example
# (tools/asm-agent/examples/agent_demo.rs, built by `make tools`) runs as
# agent 7801, times rust.work around a 50 ms sleep with the Operation
# guard, records rust.record as 3 ms, sends a heartbeat and the decision
# "rust demo done".
#
#   1  the example exits 0 and prints one line per step.
#   2  `asmctl profile 7801 rust.work`: 1 sample, succeeded, p50 >= 50 ms;
#      rust.record: 1 sample of exactly 3 ms.
#   3  the decision is in `asmctl audit`.
#
# The agent has FsBasic (the example lives outside the system set) and
# ProcessSpawn, as the agents of test_profile_tools.sh.

ASM_TIMEOUT=${ASM_TIMEOUT:-30}
. "$(dirname "$0")/lib.sh"

DEMO=$(cd "$ASM_SELFTESTS/.." && pwd)/tools/target/release/examples/agent_demo


ktap_print_header
asm_require_root
[ -x "$DEMO" ] || ktap_exit_fail_msg "$DEMO is missing: make tools"
ktap_set_plan 3
asm_reload

asm_case_start
asmctl run --no-landlock --id 7801 --name rustdemo --cap FsBasic,ProcessSpawn -- \
	"$DEMO" >"$ASM_TMP/demo.out" 2>&1
asm_expect_eq "agent_demo: exit status" 0 "$?"
asm_expect "opened" grep -qx "opened /dev/asm" "$ASM_TMP/demo.out"
asm_expect "rust.work line" grep -qE "^rust\.work: [0-9]+ ms$" "$ASM_TMP/demo.out"
asm_expect "rust.record line" grep -qx "rust.record: recorded 3 ms" "$ASM_TMP/demo.out"
asm_expect "heartbeat line" grep -qx "heartbeat: agent 7801" "$ASM_TMP/demo.out"
asm_expect "decision line" grep -qE "^decision: recorded \(audit #[0-9]+\)$" "$ASM_TMP/demo.out"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$ASM_TMP/demo.out"
asm_case_end "agent_demo runs as agent 7801 and exits 0"

asm_case_start
text=$(asmctl profile 7801 rust.work 2>&1)
asm_expect_eq "profile 7801 rust.work: exit status" 0 "$?"
asm_expect "profile 7801 rust.work: 1 sample" grep -qE "^Samples: +1$" <<<"$text"
json=$(asmctl profile 7801 rust.work --json 2>&1)
asm_expect_eq "rust.work: 1 sample, 1 success, p50 >= 50 ms" "1 1 True" \
	"$(pyjson '"%d %d %s" % (d["total"], d["successes"], d["p50_ns"] >= 50000000)' <<<"$json" 2>&1)"
rjson=$(asmctl profile 7801 rust.record --json 2>&1)
asm_expect_eq "rust.record: 1 sample, 1 success, p50 3 ms" "1 1 3000000" \
	"$(pyjson '"%d %d %d" % (d["total"], d["successes"], d["p50_ns"])' <<<"$rjson" 2>&1)"
[ "$ASM_CASE_OK" = 1 ] || ktap_print_msg "$text / $json / $rjson"
asm_case_end "profile 7801: rust.work >= 50 ms, rust.record 3 ms"

asm_case_start
asm_expect "the decision is audited" eval "asmctl audit | grep -q 'rust demo done'"
[ "$ASM_CASE_OK" = 1 ] || asmctl audit | tail -5 | sed 's/^/# /'
asm_case_end "the decision is in asmctl audit"

asm_unload
ktap_finished
