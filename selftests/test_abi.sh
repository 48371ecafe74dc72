#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs selftests/build/asm_abi_test (the ioctl ABI: every errno, "a failed call
# changes nothing", the valid path) on a freshly loaded asm.ko.

. "$(dirname "$0")/lib.sh"

asm_run_ktap_program "$ASM_BUILD/asm_abi_test"
