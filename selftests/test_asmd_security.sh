#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 9, "No way around supervision": the attacks on the launchers, each
# of which must fail.
#
#   1-3   asmctl run under a pseudo-terminal (selftests/pty_run.py), as an
#         unprivileged user: the agent has no controlling terminal
#         (/dev/tty: ENXIO), its TIOCSTI on the terminal it inherited as
#         stdin is refused and injects nothing, it has no_new_privs (also
#         with --no-landlock); with --keep-tty it keeps the terminal.
#   4-5   runas/: asmd runs an agent without `user` as nobody (uid 65534,
#         no supplementary groups, NoNewPrivs: 1); root only when the spec
#         says user = "root"; numeric ids.
#   6-7   foreign/: agents root registered with asmctl under a spec's id
#         (a process agent, another cgroup, the spec's cgroup under another
#         name) are neither adopted, started, nor killed by asmd, which logs
#         the refusal, also on the module's restart verdict.
#   8-10  unpriv/: an unprivileged user cannot register a spec's id or a
#         restart budget (EPERM from the kernel), cannot write anything asmd
#         reads or its agent's cgroup, and gets nothing started by asmd.
#   11    scopes/: an agent cannot signal, nor connect to an abstract socket
#         of, a process of its own user outside its sandbox (Landlock's
#         ABI 6 scopes, EPERM); its own child and socket it can.
#
# TIOCSTI needs no controlling terminal for CAP_SYS_ADMIN, so the terminal
# cases run as nobody, the attacker the checks are for.

# The VM is emulated: give every wait 30 s.
ASM_TIMEOUT=${ASM_TIMEOUT:-30}
. "$(dirname "$0")/lib.sh"
. "$ASM_SELFTESTS/asmd_lib.sh"

IDS="720 721 722 723 724 725 726 727 730"
FOREIGN_CG=$CG_ROOT/asm-foreign-724
PTY_RUN=$ASM_SELFTESTS/pty_run.py
PYTHON=/usr/bin/python3
# The unprivileged user.
AS_NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)
# Case 11's process outside the agent's sandbox prints its pid into this
# file, where the agent (scopes/scoped.toml) reads it.
SCOPE_PIDFILE=/tmp/asm-scope-727.pid

asm_test_cleanup() {
	local pid
	# (asm_on_exit has killed asmd and the background agents.)
	if [ -d "$FOREIGN_CG" ]; then
		for pid in $(cat "$FOREIGN_CG/cgroup.procs" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		asm_wait eval "rmdir '$FOREIGN_CG' 2>/dev/null || [ ! -d '$FOREIGN_CG' ]"
	fi
	# shellcheck disable=SC2086
	asmd_cleanup_cgroups $IDS
	rm -f "$SCOPE_PIDFILE"
}

# What the agent of cases 1-3 reports: whether it can open /dev/tty, what
# TIOCSTI on its stdin does, its NoNewPrivs, whether it leads its session.
PROBE='
import errno, fcntl, os, termios
def attempt(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
print("tty", attempt(lambda: os.close(os.open("/dev/tty", os.O_RDWR))))
print("tiocsti", attempt(lambda: fcntl.ioctl(0, termios.TIOCSTI, b"X")))
print("nnp", [l.split()[1] for l in open("/proc/self/status") if l.startswith("NoNewPrivs:")][0])
print("leader", os.getsid(0) == os.getpid())
'

# pty_case NAME CMD...: run CMD under a new terminal; its output (the
# probe's lines and "pending N") in $ASM_TMP/NAME.tty, the exit status in
# PTY_STATUS.
pty_case() {
	local name=$1
	shift
	timeout 120 "$PYTHON" "$PTY_RUN" "$@" >"$ASM_TMP/$name.tty" 2>&1
	PTY_STATUS=$?
}
# pty_value NAME KEY: the value of the "KEY VALUE" line of pty output NAME.
pty_value() {
	asm_value "$ASM_TMP/$1.tty" "$2"
}
# pty_case_end DESCRIPTION NAME: asm_case_end, with the output shown when
# the case failed.
pty_case_end() {
	if [ "$ASM_CASE_OK" != 1 ]; then
		ktap_print_msg "output under the terminal ($2):"
		sed 's/^/#   /' "$ASM_TMP/$2.tty"
	fi
	asm_case_end "$1"
}
# expect_no_tty NAME: the agent had no terminal to type into.
expect_no_tty() {
	asm_expect_eq "exit status" 0 "$PTY_STATUS"
	asm_expect_eq "open(/dev/tty)" ENXIO "$(pty_value "$1" tty)"
	local sti
	sti=$(pty_value "$1" tiocsti)
	asm_expect "TIOCSTI refused (EPERM or EIO), got '$sti'" \
		eval "[ '$sti' = EPERM ] || [ '$sti' = EIO ]"
	asm_expect_eq "bytes injected into the terminal" 0 "$(pty_value "$1" pending)"
	asm_expect_eq "NoNewPrivs" 1 "$(pty_value "$1" nnp)"
	asm_expect_eq "leads its own session" True "$(pty_value "$1" leader)"
}

# status_line FILE KEY: the value of /proc/self/status line KEY in FILE,
# tabs as spaces.
status_line() {
	awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$1"
}
# info_owner ID: owner_uid of agent ID.
info_owner() {
	info_num "$1" owner_uid
}

ktap_print_header
asm_require_root
asmd_require
if ! command -v setpriv >/dev/null || [ ! -x "$PYTHON" ]; then
	ktap_skip_all "needs setpriv (util-linux) and $PYTHON"
	exit "$KSFT_SKIP"
fi
for id in $IDS; do
	cg_destroy "$id"
done

ktap_set_plan 11
asm_reload

# 1: a job of an interactive shell leads its process group: asmctl forks,
# the child makes the session and becomes the agent.
asm_case_start
pty_case leader "${AS_NOBODY[@]}" asmctl run -q --name ttyprobe -- \
	"$PYTHON" -I -S -c "$PROBE"
expect_no_tty leader
pty_case_end "asmctl run under a terminal (group leader, forks): no /dev/tty, TIOCSTI refused, nothing injected" leader

# 2: run by a shell without job control, asmctl makes the session itself;
# no_new_privs also without Landlock.
asm_case_start
pty_case plain "${AS_NOBODY[@]}" sh -c \
	'asmctl run -q --no-landlock --name ttyprobe -- "$0" -I -S -c "$1"; :' \
	"$PYTHON" "$PROBE"
expect_no_tty plain
pty_case_end "asmctl run --no-landlock from a script under a terminal: no /dev/tty, TIOCSTI refused, no_new_privs" plain

# 3: --keep-tty: the terminal stays the agent's controlling terminal.
asm_case_start
pty_case keep "${AS_NOBODY[@]}" asmctl run -q --keep-tty --name ttyprobe -- \
	"$PYTHON" -I -S -c "$PROBE"
asm_expect_eq "exit status" 0 "$PTY_STATUS"
asm_expect_eq "open(/dev/tty)" ok "$(pty_value keep tty)"
asm_expect_eq "NoNewPrivs" 1 "$(pty_value keep nnp)"
ktap_print_msg "with --keep-tty: TIOCSTI $(pty_value keep tiocsti), $(pty_value keep pending) byte(s) injected"
pty_case_end "asmctl run --keep-tty: the agent keeps its controlling terminal" keep

# 4: no `user` in the spec: nobody, no groups, no_new_privs.
asm_case_start
asmd_start runas runas
for id in 720 721 722; do
	asm_expect "agent $id ran" asm_wait eval "grep -qs '^NoNewPrivs:' '$LOGS/$id.log'"
done
asm_expect "asmd logs the user" \
	asmd_has runas "agent 720 (whoami): started pid [0-9]* as uid 65534 gid 65534"
asm_expect_eq "Uid" "65534 65534 65534 65534" "$(status_line "$LOGS/720.log" Uid)"
asm_expect_eq "Gid" "65534 65534 65534 65534" "$(status_line "$LOGS/720.log" Gid)"
asm_expect_eq "Groups" "" "$(status_line "$LOGS/720.log" Groups)"
asm_expect_eq "NoNewPrivs" 1 "$(status_line "$LOGS/720.log" NoNewPrivs)"
asmd_case_end "asmd agent without user: uid and gid 65534, no groups, NoNewPrivs 1" runas

# 5: user = "root" written down; numeric user and group.
asm_case_start
asm_expect_eq "root: Uid" "0 0 0 0" "$(status_line "$LOGS/721.log" Uid)"
asm_expect_eq "root: Groups" "" "$(status_line "$LOGS/721.log" Groups)"
asm_expect_eq "root: NoNewPrivs" 1 "$(status_line "$LOGS/721.log" NoNewPrivs)"
for set in CapInh CapPrm CapEff CapBnd CapAmb; do
	asm_expect_eq "root: $set" 0000000000000000 "$(status_line "$LOGS/721.log" "$set")"
done
# The attack: a root agent joins the events group, which would show it
# every agent's events.
asm_expect "root agent 728 ran" asm_wait grep -qs . "$LOGS/728.log"
asm_expect "root agent 728: refused the events group" \
	grep -q "^Error: joining the asm events group needs CAP_NET_ADMIN" "$LOGS/728.log"
asm_expect "root agent 729 ran" asm_wait grep -qs . "$LOGS/729.log"
asm_expect "root agent 729: refused the debugfs event ring" \
	grep -q "asm/events: Operation not permitted" "$LOGS/729.log"
asm_expect_not "root agent 729: no event read" grep -q "^events: total" "$LOGS/729.log"
# A uid that is not root: its bounding set is empty too.
for set in CapPrm CapEff CapBnd CapAmb; do
	asm_expect_eq "4242: $set" 0000000000000000 "$(status_line "$LOGS/722.log" "$set")"
done
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$LOGS/721.log" "$LOGS/728.log" "$LOGS/729.log" "$LOGS/722.log"
asm_expect_eq "4242: Uid" "4242 4242 4242 4242" "$(status_line "$LOGS/722.log" Uid)"
asm_expect_eq "4243: Gid" "4243 4243 4243 4243" "$(status_line "$LOGS/722.log" Gid)"
asm_expect_eq "4242: NoNewPrivs" 1 "$(status_line "$LOGS/722.log" NoNewPrivs)"
asmd_stop "$ASMD_PID" TERM
asm_expect_eq "asmd exit status" 0 "$ASMD_STATUS"
asmd_case_end "asmd agent with user = \"root\" runs as root without capabilities (it cannot join the events group), user/group \"4242\"/\"4243\" as 4242/4243" runas

# 6: agents root registered under the specs' ids before asmd started.
asm_case_start
# 723: a process agent with a restart budget, one process that crashes when
# told to through a FIFO (case 7); FsBasic without a scope lets it open it.
# Registered by pid, so that no launcher restarts it (asmctl run would).
crash_fifo=$ASM_TMP/crash-723
mkfifo "$crash_fifo"
sh -c "read -r x < '$crash_fifo'; exit 3" &
squatter=$!
asm_bg_track "$squatter"
asm_expect "register the squatter as 723" asm_quiet \
	asmctl register --pid "$squatter" --id 723 --name squatter --auto-restart 1 --cap FsBasic
# 724: another cgroup, with a process in it.
mkdir -p "$FOREIGN_CG"
asm_expect "register $FOREIGN_CG as 724" asm_quiet \
	asmctl register --cgroup "$FOREIGN_CG" --id 724 --name elsewhere
sh -c "echo \$\$ > '$FOREIGN_CG/cgroup.procs' && exec sleep 600" &
elsewhere=$!
asm_bg_track "$elsewhere"
# 726: the spec's own cgroup, empty, under another name.
mkdir -p "$(cg_dir 726)"
asm_expect "register $(cg_dir 726) as 726" asm_quiet \
	asmctl register --cgroup "$(cg_dir 726)" --id 726 --name impostor
asm_expect_wait "723's processes" 1 info_num 723 nr_processes
asm_expect_wait "724's processes" 1 info_num 724 nr_processes
asmd_start foreign foreign
asm_expect "asmd starts its own agent 725" \
	asm_wait asmd_has foreign "agent 725 (own): started pid"
asm_expect "refusal of 723 (process agent)" asm_wait asmd_has foreign \
	"agent 723 (squatter): agent 723 is not one asmd registered: it is a process agent"
asm_expect "refusal of 724 (another cgroup)" asmd_has foreign \
	"agent 724 (elsewhere): agent 724 is not one asmd registered: its cgroup id [0-9]* is not"
asm_expect "refusal of 726 (another name)" asmd_has foreign \
	"agent 726 (named): agent 726 is not one asmd registered: its name \"impostor\" is not the spec's \"named\""
for id in 723 724 726; do
	asm_expect_eq "asmd 'started' lines for $id" 0 "$(asmd_count foreign "agent $id .*started pid")"
	asm_expect_eq "asmd 'attached' lines for $id" 0 "$(asmd_count foreign "agent $id .*attached")"
	asm_expect_eq "processes in $(cg_dir "$id")" 0 "$(cg_nr "$id")"
done
asm_expect "the squatter still runs" kill -0 "$squatter"
asm_expect "the process in $FOREIGN_CG still runs" kill -0 "$elsewhere"
asm_expect_eq "processes of 723" 1 "$(info_num 723 nr_processes)"
asm_expect_eq "processes of 724" 1 "$(info_num 724 nr_processes)"
asm_expect_eq "state of 726" Spawned "$(info_state 726)"
asm_expect_eq "processes of 726" 0 "$(info_num 726 nr_processes)"
asm_expect "asmd still runs" kill -0 "$ASMD_PID"
asmd_case_end "asmd leaves agents it did not register alone: process agent, other cgroup, other name" foreign

# 7: the squatter crashes; the module's verdict is to restart it, and asmd
# must not.
asm_case_start
echo crash >"$crash_fifo"
wait "$squatter"
asm_expect_eq "the squatter's exit status" 3 "$?"
asm_bg_reaped "$squatter"
asm_expect_wait "state of 723" Recovery info_state 723
asm_expect "asmd ignores the verdict" asm_wait asmd_has foreign \
	"agent 723 (squatter): restart verdict ignored: agent 723 is not one asmd registered"
sleep 2
asm_expect_eq "asmd 'started' lines for 723" 0 "$(asmd_count foreign "agent 723 .*started pid")"
asm_expect_eq "processes in $(cg_dir 723)" 0 "$(cg_nr 723)"
asm_expect_eq "state restart_count nr_processes of 723" "Recovery 0 0" "$(info_triple 723)"
asmd_stop "$ASMD_PID" TERM
asm_expect_eq "asmd exit status" 0 "$ASMD_STATUS"
asmd_case_end "asmd ignores the restart verdict for an agent it did not register" foreign

# 8: an unprivileged user cannot take a spec's id, nor a restart budget
# (needs the kernel side of issue 9).
asm_case_start
"${AS_NOBODY[@]}" asmctl run -q --id 730 --name target --auto-restart 1 -- \
	sh -c 'exit 3' >/dev/null 2>"$ASM_TMP/unpriv-id.err"
asm_expect_eq "exit status of run --id 730 as nobody" 1 "$?"
asm_expect "EPERM for the chosen id" \
	grep -q "permission denied: choosing agent id 730 needs CAP_SYS_ADMIN" "$ASM_TMP/unpriv-id.err"
"${AS_NOBODY[@]}" asmctl run -q --name budget --auto-restart 1 -- true \
	>/dev/null 2>"$ASM_TMP/unpriv-budget.err"
asm_expect_eq "exit status of run --auto-restart 1 as nobody" 1 "$?"
asm_expect "EPERM for the restart budget" \
	grep -q "permission denied: a restart budget" "$ASM_TMP/unpriv-budget.err"
if [ "$ASM_CASE_OK" != 1 ]; then
	sed 's/^/# run as nobody: /' "$ASM_TMP"/unpriv-*.err
	ktap_print_msg "agent 730 now: $(info_json 730 | tr -d '[:space:]' | head -c 200)"
fi
asm_case_end "an unprivileged user gets EPERM for a chosen id (730) and for a restart budget"

# 9: asmd on unpriv/; an unprivileged user cannot write what asmd reads,
# nor move processes into or out of the agent's cgroup, nor take the
# spec's cgroup or agent.
asm_case_start
# Whose 730 is before asmd looks: nobody's if the kernel let it take the id.
owner_before=$(info_owner 730)
asmd_start unpriv unpriv
asm_expect "asmd acted on 730" asm_wait eval \
	"asmd_has unpriv 'agent 730 (target): started pid' || asmd_has unpriv 'agent 730 (target): agent 730 is not one asmd registered'"
cg=$(cg_dir 730)
for path in "$SPECS/unpriv" "$SPECS/unpriv/target.toml" "$LOCK" "$LOGS" \
	"$LOGS/730.log" "$cg" "$cg/cgroup.procs" "$CG_PARENT" "$CG_PARENT/cgroup.procs" \
	"$CG_ROOT/cgroup.procs"; do
	[ -e "$path" ] || continue
	asm_expect_not "$path writable by nobody" "${AS_NOBODY[@]}" test -w "$path"
done
asm_expect_not "nobody moves itself into $cg" "${AS_NOBODY[@]}" \
	sh -c "echo \$\$ > '$cg/cgroup.procs'" 2>/dev/null
for pid in $(cg_pids 730); do
	asm_expect_not "nobody moves agent pid $pid out of $cg" "${AS_NOBODY[@]}" \
		sh -c "echo $pid > '$CG_ROOT/cgroup.procs'" 2>/dev/null
done
asm_expect_not "nobody registers $cg" asm_quiet "${AS_NOBODY[@]}" \
	asmctl register --cgroup "$cg" --name target
if [ "$(info_owner 730)" = 0 ]; then
	asm_expect_not "nobody unregisters asmd's 730" asm_quiet "${AS_NOBODY[@]}" \
		asmctl unregister 730
fi
asmd_case_end "an unprivileged user can write none of asmd's files or its agent's cgroup" unpriv

# 10: whatever the kernel allowed in case 8, asmd started nothing for an
# agent nobody registered: either 730 is asmd's own (owner 0, in its
# cgroup), or asmd refused it and started nothing.
asm_case_start
owner=${owner_before:-$(info_owner 730)}
if [ "$owner" = 0 ]; then
	asm_expect "asmd registered and started 730 itself" \
		asmd_has unpriv "agent 730 (target): started pid"
	asm_expect_wait "processes in $(cg_dir 730)" 1 cg_nr 730
else
	ktap_print_msg "agent 730 belongs to uid $owner (the kernel let nobody take the id)"
	asm_expect "asmd refuses nobody's agent 730" asmd_has unpriv \
		"agent 730 (target): agent 730 is not one asmd registered: owner uid $owner is not asmd's uid 0"
	asm_expect_eq "asmd 'started' lines for 730" 0 "$(asmd_count unpriv "started pid")"
	asm_expect_eq "processes in $(cg_dir 730)" 0 "$(cg_nr 730)"
fi
asmd_stop "$ASMD_PID" TERM
asmd_case_end "asmd starts nothing for an agent an unprivileged user registered" unpriv

# 11: an asmd agent (nobody) attacks a process of nobody outside its
# sandbox: it connects to its abstract socket and sends it SIGTERM.
asm_case_start
rm -f "$SCOPE_PIDFILE"
"${AS_NOBODY[@]}" "$PYTHON" -I -S "$ASM_SELFTESTS/scope_probe.py" serve asm-scope-727 \
	>"$SCOPE_PIDFILE" &
outside=$!
asm_bg_track "$outside"
asm_expect "the process outside is up" asm_wait test -s "$SCOPE_PIDFILE"
asmd_start scopes scopes
log=$LOGS/727.log
asm_expect "the agent ran" asm_wait grep -qs "^own-child-ended-by " "$log"
asm_expect "asmd logs the scopes" asmd_has scopes "agent 727 (scoped): Landlock ABI [0-9]*, fully enforced: \
filesystem not restricted, TCP connect denied, TCP bind denied, signals scoped, abstract unix sockets scoped$"
asm_expect_eq "connect to @asm-scope-727 outside" EPERM "$(asm_value "$log" connect-outside)"
asm_expect_eq "SIGTERM to pid $outside outside" EPERM "$(asm_value "$log" kill-outside)"
asm_expect "the process outside still runs" asm_alive "$outside"
asm_expect_eq "its child connects to its own socket" ok "$(asm_value "$log" child-connect-own)"
asm_expect_eq "SIGKILL to its own child" ok "$(asm_value "$log" kill-own-child)"
asm_expect_eq "its own child ended by" SIGKILL "$(asm_value "$log" own-child-ended-by)"
asmd_stop "$ASMD_PID" TERM
asm_expect_eq "asmd exit status" 0 "$ASMD_STATUS"
if [ "$ASM_CASE_OK" != 1 ]; then
	sed 's/^/# agent 727: /' "$log"
fi
asmd_case_end "asmd agent: no signal to, no connection to an abstract socket of, a process of its user outside its sandbox (EPERM)" scopes

ktap_finished
