# SPDX-License-Identifier: GPL-2.0
# Sourced by the host test scripts (test-install.sh, test-deb.sh,
# test-dkms.sh): the environment, the top of the tree as the working
# directory, a scratch directory $tmp removed at exit, and fail MESSAGE.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ASM_TOP"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "${0##*/}: $*" >&2; exit 1; }
