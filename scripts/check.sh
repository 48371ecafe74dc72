#!/usr/bin/env bash
# Every test: the tools' host-side cargo tests, then every selftest inside a
# freshly booted test VM (scripts/vm.sh builds what is missing).
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$ASM_TOP"

scripts/setup.sh
echo "== host: cargo test (tools)"
cargo test --quiet --manifest-path tools/Cargo.toml
echo "== VM: selftests"
scripts/vm.sh selftests/run.sh
