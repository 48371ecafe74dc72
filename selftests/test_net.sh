#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs selftests/build/asm_net_test (attacks on the network capabilities:
# io_uring connects and listens, TCP Fast Open, IPv6, compat calls, a new
# network namespace, and the UDP boundary) on a freshly loaded asm.ko.

. "$(dirname "$0")/lib.sh"

asm_run_ktap_program "$ASM_BUILD/asm_net_test"
