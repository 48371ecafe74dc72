#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What the LLM gateway's kernel path adds to a request (p50, p99) over
# calling the provider directly, and the throughput of many agents asking
# at once: selftests/build/gw_bench against asm-mock-llm, through
# asm-gateway.  A benchmark, not a test: it exits non-zero only when it
# cannot run.  Run as root from the repository root; it leaves the module
# unloaded.
#
# Environment: ASM_KO (default ./asm.ko), ASM_GW_ROUNDS (default 200),
# ASM_GW_AGENTS (default 64).

set -u
ASM_KO=${ASM_KO:-./asm.ko}
TOP=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$TOP/selftests/build/gw_bench
dir=$(mktemp -d /tmp/gw-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	grep -q '^asm ' /proc/modules && rmmod asm
	rm -rf "$dir"
}
trap cleanup EXIT

grep -q '^asm ' /proc/modules && { rmmod asm || exit 1; }
insmod "$ASM_KO" || exit 1
: >"$dir/mock.out"
"$TOP/tools/bin/asm-mock-llm" --listen 127.0.0.1:0 >"$dir/mock.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening on ' "$dir/mock.out" && break; sleep 0.1; done
addr=$(sed -n 's/^listening on //p' "$dir/mock.out")
[ -n "$addr" ] || { echo "bench_gateway: the mock did not start" >&2; exit 1; }
printf 'policy = "local-only"\n[providers.local]\nbase_url = "http://%s/local"\nmodel = "local-test"\n' \
	"$addr" >"$dir/gateway.toml"
chmod 600 "$dir/gateway.toml"
"$TOP/tools/bin/asm-gateway" --config "$dir/gateway.toml" 2>"$dir/gateway.log" &
pids+=($!)
for _ in $(seq 100); do grep -q 'registered (netlink' /proc/agentsys/gateway_status && break; sleep 0.1; done
grep -q 'registered (netlink' /proc/agentsys/gateway_status ||
	{ echo "bench_gateway: asm-gateway did not register" >&2; cat "$dir/gateway.log" >&2; exit 1; }
echo "# gw_bench $addr ${ASM_GW_ROUNDS:-200} ${ASM_GW_AGENTS:-64}, kernel $(uname -r)"
"$BENCH" "$addr" "${ASM_GW_ROUNDS:-200}" "${ASM_GW_AGENTS:-64}" | tee "$dir/bench.out"
[ "${PIPESTATUS[0]}" = 0 ] || exit 1

# The same HTTP stack without the module: asm-gateway's own client straight
# to the mock, so that the difference is the kernel path alone (the queue,
# the notice, the pull, the completion, the wake-up).
echo "# asm-gateway --bench-direct ${ASM_GW_ROUNDS:-200}"
"$TOP/tools/bin/asm-gateway" --config "$dir/gateway.toml" --bench-direct "${ASM_GW_ROUNDS:-200}" |
	tee -a "$dir/bench.out"
awk '/^kernel: / { k50 = $5; k99 = $8 }
     /^direct, asm-gateway/ { d50 = $7; d99 = $10 }
     END { if (k50 && d50)
		printf "added over asm-gateway'"'"'s own client: p50 %.3f ms, p99 %.3f ms\n",
		       k50 - d50, k99 - d99 }' "$dir/bench.out"

# The module's own share: the same requests to a helper that answers at
# once, in place of asm-gateway.
kill "${pids[1]}"
for _ in $(seq 100); do grep -q 'not registered' /proc/agentsys/gateway_status && break; sleep 0.1; done
echo "# gw_bench --instant ${ASM_GW_ROUNDS:-200}"
"$BENCH" --instant "${ASM_GW_ROUNDS:-200}"
