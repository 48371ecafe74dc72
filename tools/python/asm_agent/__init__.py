# SPDX-License-Identifier: GPL-2.0
"""asm_agent: report to the Agent Supervision Module from an agent.

A process of an agent (started by ``asmctl run`` or asmd) opens /dev/asm
with :class:`Agent` and times its operations, sends heartbeats and records
decisions::

    from asm_agent import Agent

    with Agent() as agent:
        with agent.operation("fetch"):
            fetch()
        agent.record("parse", 3_000_000)      # 3 ms, in ns
        agent.heartbeat()
        agent.decision("chose plan B")

Only the Python standard library is used: ``fcntl.ioctl`` with the structs
of include/uapi/linux/asm.h packed by :mod:`struct` (see
:mod:`asm_agent.abi`).
"""

from .abi import ASM_ABI_VERSION, ASM_DEVICE_PATH, check_op_name
from .agent import Agent, Operation

__all__ = ["Agent", "Operation", "ASM_ABI_VERSION", "ASM_DEVICE_PATH",
           "check_op_name"]
__version__ = "0.1.0"
