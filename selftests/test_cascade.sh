#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What the end of an agent does to its dependents: asm_cascade_test (a
# Required chain stopped dependents first with SIGTERM then SIGKILL, the
# hold while a dependency restarts, Optional signals, Peer untouched, and
# an unprivileged owner's cascade).

. "$(dirname "$0")/lib.sh"

asm_run_ktap_program "$ASM_BUILD/asm_cascade_test"
