#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The dependency graph between agents: asm_deps_test (edges, refusals,
# cycles, the attacks of an unprivileged user and of an agent, unregister).

. "$(dirname "$0")/lib.sh"

asm_run_ktap_program "$ASM_BUILD/asm_deps_test"
