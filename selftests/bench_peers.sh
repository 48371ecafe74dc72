#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What ASM costs next to what an administrator would use instead to keep the
# same per-process accounting (system calls, forks, execs, exits): the
# kernel's audit subsystem (auditd and an auditctl rule) and a BPF program
# (bpftrace) on the tracepoints ASM counts with.  selftests/build/fork_bench
# -s (ns per getppid) and fork_bench (ns per fork+exit+wait) run, in
# interleaved rounds in one boot (the order of the modes rotates every
# round), in four modes:
#
#	none	no module, no audit rule, no BPF program;
#	asm	asm.ko loaded and the benchmark registered as agent 900
#		(`asmctl run --no-landlock`, as bench_fork.sh's agent mode:
#		the module's own cost, every per-call check included);
#	audit	no module; auditd running with Debian's rules
#		(/etc/audit/rules.d/audit.rules) and one more,
#		`-a always,exit -F arch=b64 -S all -F uid=UID`: every system
#		call of the benchmark's processes, forks, execs and exits
#		included, becomes a record in auditd's log;
#	bpf	no module; bpftrace counting per process, for the benchmark's
#		uid, raw_syscalls:sys_enter, sched_process_fork,
#		sched_process_exec and sched_process_exit into maps.
#
# The benchmark always runs as the same unprivileged uid (setpriv), so that
# the audit rule and the BPF program's filter select its processes only and
# every mode runs the same process.  Prints each round, then per mode the
# median, the cost each mode adds to none, and the per-round ratios of ASM's
# added cost to each peer's (median, min, max):
#
#	ratio syscall asm/bpf (added) median 0.800 (min 0.700 max 0.900)
#
# A peer whose added cost is not above none in every round is within the
# noise of the rounds: its figures are printed, and no ratio.
#
# A benchmark, not a test: it exits non-zero only when it cannot run (a mode
# whose kernel support is missing, audit without CONFIG_AUDITSYSCALL or BPF
# without BPF_EVENTS, is skipped with a note).  Run as root from the
# repository root (./asm.ko), asmctl on PATH.  It leaves the module
# unloaded, no audit rule but `-a never,task` (see audit_stop) and no
# auditd or bpftrace running.
#
# Environment: ASM_BENCH_ROUNDS (default 7), ASM_BENCH_ITER (calls and forks
# per run; default 50000 getppid calls and 2000 forks: under TCG an audited
# getppid costs about a quarter of a millisecond), ASM_BENCH_UID (default
# nobody's; it needs a name: auditd names the uids of every record, and its
# lookups of a uid that has none made it so slow under TCG that the kernel
# dropped records), ASM_KO (default ./asm.ko).

set -u
BENCH_NAME=bench_peers
. "$(dirname "$0")/bench_lib.sh"

ROUNDS=${ASM_BENCH_ROUNDS:-7}
SYS_ITER=${ASM_BENCH_ITER:-50000}
FORK_ITER=${ASM_BENCH_ITER:-2000}
BUID=${ASM_BENCH_UID:-$(id -u nobody)}
BENCH=$(cd "$(dirname "$0")" && pwd)/build/fork_bench
AGENT_ID=900
BGID=$(getent passwd "$BUID" | cut -d: -f4)
AS_BUID=(setpriv --reuid="$BUID" --regid="${BGID:-$BUID}" --clear-groups)
MODES=(none asm)
tmp=
auditd_pid=
bpf_pid=

# The BPF program: what ASM keeps per agent, kept per process.  The printf
# on exec tells bpf_start that the probes are live (bpftrace prints it only
# once every probe is attached); the benchmark execs once per run.
bpf_program() {
	cat <<EOF
tracepoint:raw_syscalls:sys_enter /uid == $BUID/ { @syscalls[pid] = count(); }
tracepoint:sched:sched_process_fork /uid == $BUID/ { @forks[pid] = count(); }
tracepoint:sched:sched_process_exec /uid == $BUID/ { @execs[pid] = count(); printf("exec %d %s\n", pid, comm); }
tracepoint:sched:sched_process_exit /uid == $BUID/ { @exits[pid] = count(); }
EOF
}

bpf_start() {
	# A map holds 4096 keys unless told otherwise; a fork run gives every
	# child a key in @syscalls and @exits.
	BPFTRACE_MAP_KEYS_MAX=$((FORK_ITER + 4096)) bpftrace -e "$(bpf_program)" \
		>"$tmp/bpftrace.out" 2>&1 &
	bpf_pid=$!
	# Starting bpftrace (LLVM compiles the program) takes seconds under
	# TCG; a uid's exec of true shows the probes are attached.
	for _ in $(seq 600); do
		"${AS_BUID[@]}" true
		grep -q '^exec [0-9]* true$' "$tmp/bpftrace.out" && return
		kill -0 "$bpf_pid" 2>/dev/null || break
		sleep 0.2
	done
	cat "$tmp/bpftrace.out" >&2
	die "bpftrace did not start"
}

# bpf_stop ROUND: stops bpftrace, which prints its maps, and checks that
# they counted the runs: the getppid run's process made SYS_ITER calls, the
# fork run's process forked FORK_ITER children, which exited.
bpf_stop() {
	local most_calls most_forks exits execs
	kill -INT "$bpf_pid"
	wait "$bpf_pid"
	bpf_pid=
	read -r most_calls most_forks exits execs < <(awk -F': ' '
		/^@syscalls\[/ && $2 > c { c = $2 }
		/^@forks\[/ && $2 > f { f = $2 }
		/^@exits\[/ { e++ }
		/^@execs\[/ { x++ }
		END { print c + 0, f + 0, e + 0, x + 0 }' "$tmp/bpftrace.out")
	echo "# round $1 bpf: most syscalls of a process $most_calls, most forks $most_forks," \
		"processes exited $exits, processes exec'd $execs"
	[ "$most_calls" -ge "$SYS_ITER" ] && [ "$most_forks" -ge "$FORK_ITER" ] &&
		[ "$exits" -ge "$FORK_ITER" ] ||
		die "bpftrace's maps missed the benchmark's calls or forks (see $tmp/bpftrace.out)"
}

# audit_start: auditd with Debian's auditd.conf but its log in $tmp (the
# VM's /var/log is no place for it), Debian's rules, and the rule for the
# benchmark's uid.
audit_start() {
	local dir=$tmp/audit
	mkdir -p "$dir"
	chmod 0750 "$dir"
	sed -e "s|^log_file = .*|log_file = $dir/audit.log|" \
		/etc/audit/auditd.conf >"$dir/auditd.conf"
	chmod 0640 "$dir/auditd.conf"
	# -n: no fork, so that the pid is auditd's; by default it enables
	# auditing on start and disables it when it ends.
	auditd -n -c "$dir" >"$tmp/auditd.out" 2>&1 &
	auditd_pid=$!
	for _ in $(seq 300); do
		auditctl -s 2>/dev/null | grep -qx "pid $auditd_pid" && break
		kill -0 "$auditd_pid" 2>/dev/null || break
		sleep 0.1
	done
	auditctl -s 2>/dev/null | grep -qx "pid $auditd_pid" || {
		cat "$tmp/auditd.out" >&2
		die "auditd did not start"
	}
	auditctl -D >/dev/null &&
		auditctl -b 8192 >/dev/null &&
		auditctl --backlog_wait_time 60000 >/dev/null &&
		auditctl -f 1 >/dev/null &&
		auditctl -a always,exit -F arch=b64 -S all -F uid="$BUID" -k asm-bench &&
		auditctl -e 1 >/dev/null ||
		die "auditctl could not set the rules"
	audit_lost=$(auditctl -s | awk '$1 == "lost" { print $2 }')
	audit_printk=$(kernel_dropped)
}

# kernel_dropped: the audit records the kernel printed so far for want of
# auditd.  kauditd gives auditd 100 ms to take a record; then, unless the
# kernel was booted with audit=1, it prints the record (rate-limited) and
# drops it without counting it as lost.
kernel_dropped() {
	dmesg | awk '
		/ audit: type=/ { n++ }
		/kauditd_printk_skb: [0-9]+ callbacks suppressed/ {
			for (i = 1; i < NF; i++) if ($i == "kauditd_printk_skb:") n += $(i + 1)
		}
		END { print n + 0 }'
}

# audit_stop ROUND: lets auditd take the records still queued, removes the
# rule, stops auditd, and checks that no record was lost or dropped and
# that its log holds the runs' records: getppid (110) and clone (56) calls
# of the uid.
audit_stop() {
	local lost dropped records getppid clone
	for _ in $(seq 600); do
		auditctl -s | grep -qx 'backlog 0' && break
		sleep 0.1
	done
	lost=$(auditctl -s | awk '$1 == "lost" { print $2 }')
	dropped=$(($(kernel_dropped) - audit_printk))
	# Once auditing was ever enabled, every new task gets an audit context
	# and the system-call slow path, even with auditing off, unless a task
	# rule says never: with it, the other modes' processes run as they
	# did before the first audit mode.
	auditctl -D >/dev/null
	auditctl -a never,task
	auditctl -e 0 >/dev/null
	kill -TERM "$auditd_pid"
	wait "$auditd_pid"
	auditd_pid=
	read -r records getppid clone < <(cat "$tmp"/audit/audit.log* |
		awk -v u="uid=$BUID" '
			/^type=SYSCALL/ && index($0, " " u " ") {
				n++
				if (index($0, " syscall=110 ")) g++
				if (index($0, " syscall=56 ")) c++
			}
			END { print n + 0, g + 0, c + 0 }')
	echo "# round $1 audit: $records system-call records of uid $BUID kept" \
		"($getppid getppid, $clone clone; $(ls "$tmp"/audit/audit.log* | wc -l) log files," \
		"$(du -sh "$tmp/audit" | cut -f1)), records lost $((lost - audit_lost)), dropped $dropped"
	[ "$getppid" -gt 0 ] && [ "$clone" -gt 0 ] ||
		die "auditd's log misses the benchmark's calls (see $tmp/audit)"
	[ "$((lost - audit_lost))" = 0 ] && [ "$dropped" = 0 ] ||
		die "the kernel lost or dropped records: auditd did not keep up, the audit figures would be too low"
	rm -rf "$tmp/audit"
}

cleanup() {
	if [ -n "$bpf_pid" ]; then
		kill -INT "$bpf_pid" 2>/dev/null
		wait "$bpf_pid" 2>/dev/null
	fi
	if [ -n "$auditd_pid" ]; then
		auditctl -D >/dev/null 2>&1
		auditctl -a never,task >/dev/null 2>&1
		auditctl -e 0 >/dev/null 2>&1
		kill -TERM "$auditd_pid" 2>/dev/null
		wait "$auditd_pid" 2>/dev/null
	fi
	unload
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT

# bench ARGS...: one fork_bench run as the benchmark's uid; prints its figure.
bench() {
	"${AS_BUID[@]}" "$BENCH" "$@" | awk '$1 ~ /^ns_per_/ { print $2 }'
}

# as_agent ARGS...: the same, registered as agent AGENT_ID; the agent is
# then forgotten, so that the next run can reuse the id.
as_agent() {
	asmctl run --quiet --no-landlock --name bench --id "$AGENT_ID" -- \
		"${AS_BUID[@]}" "$BENCH" "$@" | awk '$1 ~ /^ns_per_/ { print $2 }'
	asmctl unregister "$AGENT_ID" >/dev/null || die "asmctl unregister $AGENT_ID failed"
}

# run_mode MODE ROUND: both runs in MODE, into ns[syscall,MODE,ROUND] and
# ns[fork,MODE,ROUND].
run_mode() {
	local run=bench s f
	case "$1" in
	none) unload || die "rmmod asm failed" ;;
	asm)
		loaded || insmod "$ASM_KO" || die "insmod $ASM_KO failed"
		run=as_agent
		;;
	audit) unload && audit_start ;;
	bpf) unload && bpf_start ;;
	esac
	s=$($run -s -n "$SYS_ITER")
	f=$($run -n "$FORK_ITER")
	case "$1" in
	audit) audit_stop "$(($2 + 1))" ;;
	bpf) bpf_stop "$(($2 + 1))" ;;
	esac
	[ -n "$s" ] && [ -n "$f" ] || die "a $1 run gave no figure"
	ns[syscall,$1,$2]=$s
	ns[fork,$1,$2]=$f
}

# added OP MODE ROUND: what MODE added to none's figure in ROUND.
added() {
	awk -v a="${ns[$1,$2,$3]}" -v b="${ns[$1,none,$3]}" 'BEGIN { printf "%.1f\n", a - b }'
}

[ "$(id -u)" = 0 ] || die "must run as root"
[ -x "$BENCH" ] || die "$BENCH is not built (make -C selftests)"
[ -r "$ASM_KO" ] || die "$ASM_KO not found"
command -v asmctl >/dev/null || die "asmctl is not on PATH"
"${AS_BUID[@]}" "$BENCH" -s -n 1 >/dev/null || die "uid $BUID cannot run $BENCH"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_peers.XXXXXX") || die "mktemp failed"
chmod 0755 "$tmp"

# The peers, if this kernel and system have them.  auditctl -s fails when
# the kernel has no audit support; on x86 CONFIG_AUDITSYSCALL comes with
# CONFIG_AUDIT.  bpftrace needs BPF_SYSCALL and BPF_EVENTS, and no BTF:
# a tracepoint's arguments come from its format file in tracefs.
if ! command -v auditd >/dev/null || ! command -v auditctl >/dev/null; then
	echo "# audit: auditd is not installed (scripts/setup.sh installs it); the audit mode is skipped"
elif ! err=$(auditctl -s 2>&1); then
	echo "# audit: the kernel has no CONFIG_AUDITSYSCALL (auditctl -s: ${err//$'\n'/ }); the audit mode is skipped"
elif [ "$(auditctl -s | awk '$1 == "pid" { print $2 }')" != 0 ]; then
	die "an audit daemon is already running"
else
	MODES+=(audit)
	# See audit_stop.
	auditctl -a never,task >/dev/null || die "auditctl -a never,task failed"
fi
if ! command -v bpftrace >/dev/null; then
	echo "# bpf: bpftrace is not installed (scripts/setup.sh installs it); the bpf mode is skipped"
elif [ ! -e /sys/kernel/tracing/events/raw_syscalls/sys_enter/format ] ||
	[ ! -e /proc/sys/kernel/unprivileged_bpf_disabled ]; then
	echo "# bpf: the kernel has no BPF_SYSCALL or no syscall tracepoints; the bpf mode is skipped"
else
	MODES+=(bpf)
fi

echo "# bench_peers: $ROUNDS rounds; per run $SYS_ITER getppid, $FORK_ITER fork+exit+wait;" \
	"uid $BUID; modes ${MODES[*]}; kernel $(uname -r)"
declare -A ns
for ((r = 0; r < ROUNDS; r++)); do
	for ((k = 0; k < ${#MODES[@]}; k++)); do
		run_mode "${MODES[$(((r + k) % ${#MODES[@]}))]}" "$r"
	done
	for op in syscall fork; do
		line="round $((r + 1)) $op:"
		for mode in "${MODES[@]}"; do
			line+=" $mode ${ns[$op,$mode,$r]}"
		done
		echo "$line"
	done
done
unload || die "rmmod asm failed"

for op in syscall fork; do
	for mode in "${MODES[@]}"; do
		read -r med min max < <(for ((r = 0; r < ROUNDS; r++)); do echo "${ns[$op,$mode,$r]}"; done | stats)
		printf 'ns_per_%s %s median %.1f (min %.1f max %.1f)\n' "$op" "$mode" "$med" "$min" "$max"
	done
	for mode in "${MODES[@]:1}"; do
		read -r med min max < <(for ((r = 0; r < ROUNDS; r++)); do added "$op" "$mode" "$r"; done | stats)
		printf 'added ns_per_%s %s median %.1f (min %.1f max %.1f)\n' "$op" "$mode" "$med" "$min" "$max"
	done
	for peer in "${MODES[@]:2}"; do
		# A ratio to an added cost that is noise says nothing: only
		# when the peer was dearer than none in every round.
		if (for ((r = 0; r < ROUNDS; r++)); do added "$op" "$peer" "$r"; done) |
			awk '$1 <= 0 { bad = 1 } END { exit bad }'; then
			read -r med min max < <(for ((r = 0; r < ROUNDS; r++)); do
				awk -v a="$(added "$op" asm "$r")" -v p="$(added "$op" "$peer" "$r")" \
					'BEGIN { printf "%.6f\n", a / p }'
			done | stats)
			printf 'ratio %s asm/%s (added) median %.3f (min %.3f max %.3f)\n' \
				"$op" "$peer" "$med" "$min" "$max"
		else
			echo "ratio $op asm/$peer (added): none, $peer's added cost is within the noise" \
				"(not above none in every round:$(for ((r = 0; r < ROUNDS; r++)); do
					printf ' %s' "$(added "$op" "$peer" "$r")"; done))"
		fi
	done
done
