#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs selftests/build/asm_gateway_test (the LLM gateway's kernel side: the
# request ioctl, token buckets, the helper's netlink channel) on a freshly
# loaded asm.ko.

. "$(dirname "$0")/lib.sh"

asm_run_ktap_program "$ASM_BUILD/asm_gateway_test"
