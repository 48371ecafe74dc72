#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs selftests/build/asm_fault_test (limits, the sampler's history, fault
# detection and the log, throttle and kill actions) on a freshly loaded
# asm.ko.

. "$(dirname "$0")/lib.sh"

asm_run_ktap_program "$ASM_BUILD/asm_fault_test"
