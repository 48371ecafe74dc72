#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""asm_agent's demo, run as an agent:

    asmctl run --no-landlock --cap FsExtended,ProcessSpawn -- \\
        python3 tools/python/examples/agent_demo.py

(FsExtended because the script, and the package unless it is installed
under /usr, are read from the checkout: an agent without FsBasic or
FsExtended reads only the system set, /usr, /lib, /etc...)

Times py.work around a 50 ms sleep (context manager), records py.record as
3 ms, times one call of a decorated function (py.decorated), sends a
heartbeat and the decision "python demo done", printing a line per step.
Exits 1 with the error on a failure.  Uses the installed asm_agent, or the
one of this checkout.
"""

import os
import sys
import time

try:
    from asm_agent import Agent
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from asm_agent import Agent


def main():
    try:
        with Agent() as agent:
            with agent.operation("py.work") as op:
                time.sleep(0.05)
            print(f"py.work: {op.duration_ns} ns", flush=True)

            agent.record("py.record", 3_000_000)
            print("py.record: recorded 3000000 ns", flush=True)

            @agent.profiled("py.decorated")
            def add(a, b):
                return a + b

            print(f"py.decorated: add(2, 3) = {add(2, 3)}", flush=True)

            agent_id = agent.heartbeat()
            print(f"heartbeat: agent {agent_id}", flush=True)

            seq = agent.decision("python demo done")
            print(f"decision: audit #{seq}", flush=True)
    except (OSError, ValueError) as e:
        print(f"agent_demo: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
