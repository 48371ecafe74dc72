#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs selftests/build/asm_policy_test (capabilities and scope enforced in
# the kernel, hot patches, escalation refusals, the audit trail, sensitive
# paths, decisions and compliance scores) on a freshly loaded asm.ko.

. "$(dirname "$0")/lib.sh"

asm_run_ktap_program "$ASM_BUILD/asm_policy_test"
