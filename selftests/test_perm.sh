#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs selftests/build/asm_perm_test (who may register and unregister what)
# on a freshly loaded asm.ko.  The program prints its own KTAP; its exit
# status is the test's.

. "$(dirname "$0")/lib.sh"

prog=$ASM_BUILD/asm_perm_test

if [ "$(id -u)" != 0 ]; then
	ktap_print_header
	ktap_skip_all "must run as root"
	exit "$KSFT_SKIP"
fi
if [ ! -x "$prog" ]; then
	ktap_print_header
	asm_bail "$prog is not built (make -C selftests)"
fi
asm_reload
"$prog"
