#!/bin/bash
cd /work/main
insmod asm.ko || exit 1
selftests/build/asm_bypass_test > /tmp/bypass.out 2>&1 &
sleep 45
cat /tmp/bypass.out
for p in $(pgrep -f asm_bypass_test); do
	echo "== $p $(grep State /proc/$p/status) wchan=$(cat /proc/$p/wchan)"
	cat /proc/$p/stack
	ls -l /proc/$p/fd | head -20
done
cat /proc/agentsys/status | head -30
cat /sys/module/asm/parameters/*
dmesg | grep -v "Warning:" | tail -40
