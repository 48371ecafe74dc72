#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs selftests/build/asm_restart_test (restart verdicts, restart counting
# and the generic netlink events) on a freshly loaded asm.ko.

. "$(dirname "$0")/lib.sh"

asm_run_ktap_program "$ASM_BUILD/asm_restart_test"
