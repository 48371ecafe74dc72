#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Operation profiling: asm_profile_test (exact statistics, BEGIN/END, the
# refusals and bounds, the aggregate, an unprivileged reader).

. "$(dirname "$0")/lib.sh"

asm_run_ktap_program "$ASM_BUILD/asm_profile_test"
