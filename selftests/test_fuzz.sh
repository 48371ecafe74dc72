#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A short run of the fuzzer (asm_fuzz: 50 000 operations: structure-aware
# ioctl requests from 4 workers, two of them uid 65534, with agents
# registering, exiting and crashing meanwhile; netlink commands from root,
# the gateway helper with requesters asking, and from uid 65534; coherent
# sequences of valid requests from 3 workers, each step checked); the VM's
# dmesg gate fails the run on any kernel report.  ASM_FUZZ_OPS and
# ASM_FUZZ_SEED change the run: the seed is printed, so a failure can be
# replayed.

ASM_TIMEOUT=${ASM_TIMEOUT:-30}
. "$(dirname "$0")/lib.sh"

asm_run_ktap_program "$ASM_BUILD/asm_fuzz" -n "${ASM_FUZZ_OPS:-50000}" \
	-s "${ASM_FUZZ_SEED:-$(date +%s)}"
