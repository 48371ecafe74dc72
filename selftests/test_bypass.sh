#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs selftests/build/asm_bypass_test (attacks on supervision itself:
# agent ids, rearranged views of the file system, /proc of other
# processes, cgroup membership, who sees what, audit floods) on a freshly
# loaded asm.ko.

. "$(dirname "$0")/lib.sh"

# Case 16 waits for the sampler's sweep (debugfs asm/sampler).
asm_mount_debugfs || asm_bail "cannot mount debugfs"
asm_run_ktap_program "$ASM_BUILD/asm_bypass_test"
