#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs selftests/build/asm_perm_test (who may register and unregister what)
# on a freshly loaded asm.ko.

. "$(dirname "$0")/lib.sh"

asm_run_ktap_program "$ASM_BUILD/asm_perm_test"
