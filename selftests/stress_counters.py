#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# The counters check of test_stress.sh, on documents read while nothing ran:
#
#   stress_counters.py LABEL STATUS1 LIST EVENTS STATUS2
#
# STATUS1 and STATUS2 are `asmctl status --json` (the telemetry document)
# read before and after LIST (`asmctl list --all --json`) and EVENTS
# (debugfs asm/events).  Exits 2 when the two status documents differ (the
# snapshot is not quiet: read again), 1 when a counter does not add up
# (each failure on a "# " line), 0 otherwise; prints one line:
#
#   LABEL: spawns S = exits E + live L; events T = ring R + dropped D
#
# What must hold, with no agent unregistered since the load (an
# unregistration forgets its live processes without counting an exit):
# every process that joined an agent (its registration, a fork, a move into
# its cgroup, a restart) is a spawn, every one that ended is an exit, so
# spawns = exits + the agents' live processes, system-wide and per agent,
# and the system totals are the sums of the agents'; the event ring holds
# every event not dropped, and the status document and debugfs agree.
import json
import sys

label, status1, listing, events, status2 = sys.argv[1:6]
with open(status1) as f:
    t1 = json.load(f)
with open(status2) as f:
    t2 = json.load(f)
if t1["system"] != t2["system"]:
    moved = [k for k in t1["system"] if t1["system"][k] != t2["system"].get(k)]
    print(f"{label}: still moving: " + ", ".join(
        f"{k} {t1['system'][k]} -> {t2['system'].get(k)}" for k in moved))
    sys.exit(2)
with open(listing) as f:
    agents = json.load(f)
with open(events) as f:
    lines = f.read().splitlines()

bad = []


def expect(what, want, got):
    if want != got:
        bad.append(f"{what}: {want} expected, {got} found")


s = t1["system"]
spawns, exits = s["total_agents_spawned"], s["total_agents_exited"]
live = sum(a["nr_processes"] for a in agents)
expect("system spawns = exits + live", spawns, exits + live)
for a in agents:
    i = a["agent_id"]
    expect(f"agent {i} spawns = exits + nr_processes", a["spawn_count"],
           a["exit_count"] + a["nr_processes"])
    t = t1["agents"].get(str(i))
    if t is None:
        bad.append(f"agent {i} listed but not in the status document")
        continue
    expect(f"agent {i} spawn_count in status and info", t["spawn_count"], a["spawn_count"])
    expect(f"agent {i} exit_count in status and info", t["exit_count"], a["exit_count"])
expect("agents in status and list", len(t1["agents"]), len(agents))
expect("Total Spawns = sum of the agents'", spawns, sum(a["spawn_count"] for a in agents))
expect("Total Exits = sum of the agents'", exits, sum(a["exit_count"] for a in agents))
expect("Total Crashes = sum of the agents'", s["total_crashes"],
       sum(a["crash_count"] for a in agents))
expect("Total Restarts = sum of the agents'", s["total_restarts"],
       sum(a["restart_count"] for a in agents))

# "events: total T dropped D capacity C join_failures J", then the ring.
head = lines[0].split() if lines else []
if len(head) != 9 or head[0] != "events:":
    bad.append(f"debugfs asm/events header: {lines[:1]}")
    total = dropped = capacity = 0
else:
    total, dropped, capacity, join_failures = (int(head[i]) for i in (2, 4, 6, 8))
    expect("join_failures", 0, join_failures)
ring = len(lines) - 1
expect("events total = ring + dropped", total, ring + dropped)
expect("ring entries", min(total, capacity), ring)
expect("events_total in status and debugfs", s["events_total"], total)
expect("events_dropped in status and debugfs", s["events_dropped"], dropped)

print(f"{label}: spawns {spawns} = exits {exits} + live {live}; "
      f"events {total} = ring {ring} + dropped {dropped}")
for b in bad:
    print(f"# {b}")
sys.exit(1 if bad else 0)
