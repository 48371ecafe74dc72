#!/bin/bash
cd /work/main
for t in test_bypass test_perm test_policy test_abi; do
	echo "=== $t"
	timeout 300 bash selftests/$t.sh 2>&1 | grep -E "^(not )?ok|^# |^1\.\.|Bail"
done
dmesg | grep -E "WARNING|BUG|KASAN|lockdep|circular|Call Trace|asm" | head -30
