#!/usr/bin/env bash
# Every test: the tools' host-side cargo tests, then every selftest inside a
# freshly booted test VM (scripts/vm.sh builds what is missing).
#
# T="test_policy ring" (make check T=...) runs only those selftests, in
# one boot, and skips the host tests.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$ASM_TOP"

tests=${T:-}
case $tests in
*[!A-Za-z0-9_.\ -]*)
	echo "check.sh: T='$tests': selftest names are letters, digits, '_', '-' and '.'" >&2
	exit 2
	;;
esac

scripts/setup.sh
if [ -z "$tests" ]; then
	echo "== host: rustfmt --check (module), cargo test (tools)"
	rustfmt --edition 2021 --check asm_mod.rs
	cargo test --quiet --manifest-path tools/Cargo.toml
fi
echo "== VM: selftests"
scripts/vm.sh "ASM_TESTS='$tests' selftests/run.sh"
