#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# asmd's depends_on (Documentation/deps.rst, "Starting in order with asmd";
# the admin guide's asmd section), with the specs in selftests/asmd/*/:
#
#   deps/     740 deps-a <- 741 deps-b <- 742 deps-c, required edges (c
#             depends on b, b on a), in files that sort c, b, a: asmd
#             starts a, then b, then c, registering each once the one it
#             requires runs, and adds each edge right after registering its
#             dependent.  A restarted asmd attaches and adds nothing.
#   depfail/  745 broken (its command does not exist: Failed at the start);
#             746 needy requires it: not started, not registered, one line
#             saying why; 747 relaxed, optional on it: started, its edge
#             added.
#   cycle/    743 and 744 depend on each other: asmd and asmd --check exit
#             1 naming the cycle, and nothing is registered.
#   depsig/   749 sig-user is optional on 748 sig-base with signal "usr1":
#             asmd adds the edge with SIGUSR1, as asmctl deps --json shows.
#   depsigbad/ 751 names signal "KILL", 752 a signal on a required entry:
#             asmd --check exits 1 naming both.

# The VM is emulated: give every wait 30 s.
ASM_TIMEOUT=${ASM_TIMEOUT:-30}
. "$(dirname "$0")/lib.sh"

. "$ASM_SELFTESTS/asmd_lib.sh"

PYTHON=/usr/bin/python3
IDS="740 741 742 743 744 745 746 747 748 749 750 751 752"

asm_test_cleanup() {
	# (asm_on_exit has killed the asmd instances still running.)
	# shellcheck disable=SC2086
	asmd_cleanup_cgroups $IDS
}

# asmd_steps NAME: asmd output NAME's registrations, starts and added edges,
# in order, comma-separated: "740 registered,740 started,741 registered,
# 741 required -> 740,...".
asmd_steps() {
	sed -nE \
		-e 's/^asmd: agent ([0-9]+) \([^)]*\): registered cgroup .*/\1 registered/p' \
		-e 's/^asmd: agent ([0-9]+) \([^)]*\): started pid .*/\1 started/p' \
		-e 's/^asmd: agent ([0-9]+) \([^)]*\): ([a-z]+) dependency on agent ([0-9]+) .* added[ ,].*/\1 \2 -> \3/p' \
		"$ASM_TMP/$1.out" | paste -sd, -
}

# audit_steps FIRST LAST: "KIND ID" of each successful register and
# dependency entry of the audit trail for agents FIRST..LAST, in trail
# order, comma-separated (a dependency entry's id is its dependent's).
audit_steps() {
	asmctl audit --json | "$PYTHON" -c 'import json, sys
lo, hi = int(sys.argv[1]), int(sys.argv[2])
d = json.load(sys.stdin)
print(",".join("%s %d" % (e["kind"], e["agent_id"]) for e in d["entries"]
               if e["kind"] in ("Register", "Dependency")
               and lo <= e["agent_id"] <= hi and e["result"] == 0))' "$1" "$2"
}

# The edges `asmctl deps` lists, sorted, comma-separated.
edges() {
	asmctl deps 2>&1 | sort | paste -sd, -
}

ktap_print_header
asm_require_root
asmd_require
for id in $IDS; do
	cg_destroy "$id"
done

ktap_set_plan 6
asm_reload

# 1: the chain is brought up in dependency order, not in file order.
asm_case_start
asmd_start chain deps
chain_asmd=$ASMD_PID
asm_expect "asmd starts the top of the chain" \
	asm_wait asmd_has chain "agent 742 (deps-c): started pid"
asm_expect "asmd logs the start order" \
	asmd_has chain "asmd: start order: agent 740 (deps-a), agent 741 (deps-b), agent 742 (deps-c)"
asm_expect_eq "asmd's steps" \
	"740 registered,740 started,741 registered,741 required -> 740,741 started,742 registered,742 required -> 741,742 started" \
	"$(asmd_steps chain)"
asm_expect_eq "audit trail: registrations and edges" \
	"Register 740,Register 741,Dependency 741,Register 742,Dependency 742" \
	"$(audit_steps 740 742)"
for id in 740 741 742; do
	asm_expect_wait "agent $id: processes in the cgroup" 1 cg_nr "$id"
	asm_expect_eq "agent $id: state" Active "$(info_state "$id")"
done
asm_expect_eq "asmd's error lines" 0 "$(asmd_count chain "asmd: error:")"
asmd_case_end "a <- b <- c: registered and started in the order a, b, c" chain

# 2: the module has the specs' edges.
asm_case_start
asm_expect_eq "asmctl deps" "741 -> 740 (required),742 -> 741 (required)" "$(edges)"
asm_expect "the status view" grep -qx "  742 -> 741 (required)" /proc/agentsys/status
asm_expect "asminfo 741: its dependency" \
	eval "asminfo 741 | grep -qE '^Dependencies: +740 \(required\)$'"
asm_expect "asminfo 741: its dependent" \
	eval "asminfo 741 | grep -qE '^Dependents: +742 \(required\)$'"
[ "$ASM_CASE_OK" = 1 ] || { asmctl deps | sed 's/^/# /'; asminfo 741 | sed 's/^/# /'; }
asmd_case_end "the module has the edges 741 -> 740 and 742 -> 741, required" chain

# 3: a restarted asmd attaches to the three, registers nothing, adds no edge.
asm_case_start
asmd_stop "$chain_asmd" TERM
asm_expect_eq "asmd exit status after SIGTERM" 0 "$ASMD_STATUS"
asmd_start again deps
again_asmd=$ASMD_PID
asm_expect "the new asmd attaches to 742" \
	asm_wait asmd_has again "agent 742 (deps-c): attached (1 process running)"
asm_expect_eq "attached lines" 3 "$(asmd_count again ": attached (1 process running)")"
asm_expect_eq "steps of the new asmd" "" "$(asmd_steps again)"
asm_expect_eq "asmd's error lines" 0 "$(asmd_count again "asmd: error:")"
asm_expect_eq "asmctl deps" "741 -> 740 (required),742 -> 741 (required)" "$(edges)"
asmd_stop "$again_asmd" TERM
asm_expect_eq "asmd exit status after SIGTERM" 0 "$ASMD_STATUS"
asmd_case_end "asmd restarted: attaches to 740-742, the edges stay as they were" again

# 4: a required dependency that failed keeps its dependent from starting; an
# optional one does not.
asm_case_start
asmd_start depfail depfail
depfail_asmd=$ASMD_PID
asm_expect "the optional dependent starts" \
	asm_wait asmd_has depfail "agent 747 (relaxed): started pid"
asm_expect "asmd says why 746 is not started" \
	asm_wait asmd_has depfail "asmd: error: agent 746 (needy): not started: its required dependency agent 745 (broken) "
asm_expect "745's start failed" asmd_has depfail "asmd: error: agent 745 (broken): cannot start: exec"
asm_expect_eq "asmd's lines about 746" 1 "$(asmd_count depfail "agent 746 (needy):")"
asm_expect_not "746 is not registered" asm_quiet asminfo 746
asm_expect_eq "processes in 746's cgroup" 0 "$(cg_nr 746 || echo 0)"
asm_expect "747's optional edge" \
	asmd_has depfail "agent 747 (relaxed): optional dependency on agent 745 (broken) added"
asm_expect_eq "asmctl deps" \
	"741 -> 740 (required),742 -> 741 (required),747 -> 745 (optional)" "$(edges)"
asm_expect "asmd still runs" kill -0 "$depfail_asmd"
asmd_stop "$depfail_asmd" TERM
asmd_case_end "a failed required dependency: 746 not started, with one line why" depfail

# 5: a cycle among the specs: refused before anything is done.
asm_case_start
timeout 60 asmd --spec "$SPECS/cycle" --log-dir "$LOGS" --lock "$LOCK" \
	>"$ASM_TMP/cycle.out" 2>&1
asm_expect_eq "asmd exit status" 1 "$?"
cycle_msg="cycle/x.toml: depends_on forms a cycle: agent 743 (cycle-x) -> agent 744 (cycle-y) -> agent 743 (cycle-x)"
asm_expect "asmd names the cycle" grep -qF "asmd: error: $SPECS/$cycle_msg" "$ASM_TMP/cycle.out"
asm_expect_eq "asmd's other lines" 1 "$(wc -l <"$ASM_TMP/cycle.out")"
asm_expect_not "743 is not registered" asm_quiet asminfo 743
asm_expect_not "744 is not registered" asm_quiet asminfo 744
asmd --check --spec "$SPECS/cycle" >>"$ASM_TMP/cycle.out" 2>&1
asm_expect_eq "asmd --check exit status" 1 "$?"
asm_expect_eq "the message, twice" 2 "$(grep -cF "$cycle_msg" "$ASM_TMP/cycle.out")"
asmd_case_end "a dependency cycle: asmd exits 1 naming it, registers nothing" cycle

# 6: an optional entry's signal goes to the module with its edge; one the
# module would refuse is a spec error.
asm_case_start
asmd --check --spec "$SPECS/depsig" >"$ASM_TMP/depsig-check.out" 2>&1
asm_expect_eq "asmd --check depsig/: exit status" 0 "$?"
asm_expect "asmd --check shows the signal" \
	grep -qF 'depends_on "sig-base" optional (SIGUSR1)' "$ASM_TMP/depsig-check.out"
asmd_start depsig depsig
depsig_asmd=$ASMD_PID
asm_expect "749 starts" asm_wait asmd_has depsig "agent 749 (sig-user): started pid"
asm_expect "its edge, with the signal" \
	asmd_has depsig "agent 749 (sig-user): optional dependency on agent 748 (sig-base) added, SIGUSR1 when it ends (audit #"
asm_expect_eq "asmctl deps --json: the edge's signal (SIGUSR1)" 10 \
	"$(asmctl deps --json | pyjson '[e["signal"] for e in d["edges"] if e["dependent"] == 749][0]')"
asm_expect "asmctl deps" eval "asmctl deps | grep -qx '749 -> 748 (optional, SIGUSR1)'"
asm_expect_eq "asmd's error lines" 0 "$(asmd_count depsig "asmd: error:")"
asmd_stop "$depsig_asmd" TERM
asm_expect_eq "asmd exit status after SIGTERM" 0 "$ASMD_STATUS"
asmd --check --spec "$SPECS/depsigbad" >"$ASM_TMP/depsigbad.out" 2>&1
asm_expect_eq "asmd --check depsigbad/: exit status" 1 "$?"
asm_expect "a signal the module refuses" grep -qF \
	"asmd: error: $SPECS/depsigbad/kill.toml:6: depends_on signal \"KILL\" is not one a dependency's end sends" \
	"$ASM_TMP/depsigbad.out"
asm_expect "a signal on a required entry" grep -qF \
	"asmd: error: $SPECS/depsigbad/required.toml:6: a depends_on signal only applies to kind = \"optional\"" \
	"$ASM_TMP/depsigbad.out"
asm_expect_eq "asmd --check's lines" 2 "$(wc -l <"$ASM_TMP/depsigbad.out")"
[ "$ASM_CASE_OK" = 1 ] || sed 's/^/# /' "$ASM_TMP/depsig-check.out" "$ASM_TMP/depsigbad.out"
asmd_case_end "depends_on signal: the edge has it; KILL and a required entry's are spec errors" depsig

ktap_finished
