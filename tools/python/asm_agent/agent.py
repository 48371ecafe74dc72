# SPDX-License-Identifier: GPL-2.0
"""The Agent class: an agent's own view of /dev/asm."""

import ctypes
import errno
import fcntl
import functools
import json
import os

from . import abi

# What an errno means for a request, where it says more than strerror().
_NOT_AN_AGENT = "the caller is not a process of an agent"
_MEANINGS = {
    errno.ESRCH: {
        "ASM_IOC_HEARTBEAT": _NOT_AN_AGENT,
        "ASM_IOC_DECISION": _NOT_AN_AGENT,
        "ASM_IOC_PROFILE": _NOT_AN_AGENT,
        "ASM_IOC_GET_AGENT_INFO_JSON": "no such agent, or the caller does "
                                       "not see it",
    },
    errno.ENOSPC: {
        "ASM_IOC_PROFILE": "the agent has 32 operation names already",
    },
    errno.EAGAIN: {
        "ASM_IOC_DECISION": "the audit trail's rate limit was reached",
    },
    errno.EINVAL: {
        "": "the module refused the request as malformed",
    },
    errno.ENOTTY: {
        "": "the module does not know this request (an older asm.ko?)",
    },
}


def _error(err, request, what=""):
    """An OSError (of the errno's subclass, e.g. ProcessLookupError for
    ESRCH) whose message names the request."""
    name = request.split(" ")[0]
    by_request = _MEANINGS.get(err, {})
    meaning = by_request.get(name) or by_request.get("") or os.strerror(err)
    return OSError(err, f"{request}{what}: {meaning}")


class Operation:
    """A profiled operation: BEGIN when entered, END when left.

    Made by :meth:`Agent.operation`.  END records success unless an
    exception escaped the block; the exception then propagates.  After the
    block, :attr:`duration_ns` is what the kernel recorded.
    """

    def __init__(self, agent, name):
        self._agent = agent
        self.name = name
        self._raw = abi.check_op_name(name)
        self._token = None
        self.duration_ns = None

    def __enter__(self):
        self._token = self._agent._begin()
        return self

    def __exit__(self, exc_type, exc, tb):
        token, self._token = self._token, None
        try:
            self.duration_ns = self._agent._end(self._raw, token, exc_type is None)
        except OSError as end_error:
            if exc is None:
                raise
            # The block's own exception wins; say what else went wrong.
            if hasattr(exc, "add_note"):
                exc.add_note(f"also: {end_error}")
        return False


class Agent:
    """An open /dev/asm, for a process of an agent.

    Use it as a context manager, or call :meth:`close`.  Every request
    that fails raises OSError with the errno, and a message that names the
    request, e.g. "ASM_IOC_PROFILE END: the caller is not a process of an
    agent" (ESRCH, as ProcessLookupError).
    """

    def __init__(self, path=abi.ASM_DEVICE_PATH):
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as e:
            hint = " (is asm.ko loaded?)" if e.errno == errno.ENOENT else ""
            raise OSError(e.errno, f"cannot open {path}: "
                                   f"{os.strerror(e.errno)}{hint}") from None

    def fileno(self):
        """The file descriptor of /dev/asm."""
        if self._fd < 0:
            raise ValueError("the Agent is closed")
        return self._fd

    @property
    def closed(self):
        return self._fd < 0

    def close(self):
        """Close /dev/asm (again is fine)."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _ioctl(self, request, code, arg, what=""):
        """ioctl(code) on a copy of arg; returns the bytes the kernel wrote
        back."""
        buf = bytearray(arg)
        try:
            fcntl.ioctl(self.fileno(), code, buf, True)
        except OSError as e:
            raise _error(e.errno, request, what) from None
        return buf

    # -- profiling -------------------------------------------------------

    def _begin(self):
        buf = self._ioctl("ASM_IOC_PROFILE BEGIN", abi.ASM_IOC_PROFILE,
                          abi.pack_profile(abi.ASM_PROFILE_BEGIN))
        return abi.unpack_profile(buf)["token"]

    def _end(self, raw_name, token, success):
        buf = self._ioctl("ASM_IOC_PROFILE END", abi.ASM_IOC_PROFILE,
                          abi.pack_profile(abi.ASM_PROFILE_END, raw_name,
                                           token=token, success=int(success)),
                          f" of {raw_name.decode()!r}")
        return abi.unpack_profile(buf)["duration_ns"]

    def operation(self, name):
        """A context manager timing its block as operation *name*.

        ::

            with agent.operation("fetch") as op:
                fetch()
            print(op.duration_ns)

        The name is checked first (ValueError); BEGIN happens on entry,
        END on exit, with success unless an exception escaped.
        """
        return Operation(self, name)

    def profiled(self, name):
        """A decorator timing every call of the function as operation
        *name*, like :meth:`operation`."""
        abi.check_op_name(name)

        def decorate(func):
            @functools.wraps(func)
            def wrapper(*args, **kwargs):
                with self.operation(name):
                    return func(*args, **kwargs)
            return wrapper
        return decorate

    def record(self, name, duration_ns, success=True):
        """Record one sample of operation *name* that took *duration_ns*
        nanoseconds (an int, 0 to one hour) and succeeded or not."""
        raw = abi.check_op_name(name)
        if isinstance(duration_ns, bool) or not isinstance(duration_ns, int):
            raise TypeError("duration_ns is an int of nanoseconds")
        if not 0 <= duration_ns <= abi.ASM_PROFILE_DURATION_MAX:
            raise ValueError(f"duration_ns must be 0 to "
                             f"{abi.ASM_PROFILE_DURATION_MAX} (an hour)")
        self._ioctl("ASM_IOC_PROFILE RECORD", abi.ASM_IOC_PROFILE,
                    abi.pack_profile(abi.ASM_PROFILE_RECORD, raw,
                                     duration_ns=duration_ns,
                                     success=int(bool(success))),
                    f" of {name!r}")

    # -- liveness and audit ----------------------------------------------

    def heartbeat(self):
        """Tell the kernel the agent is alive (the first one arms its
        watchdog).  Returns the caller's agent id."""
        buf = self._ioctl("ASM_IOC_HEARTBEAT", abi.ASM_IOC_HEARTBEAT,
                          abi.pack_heartbeat())
        return abi.unpack_heartbeat(buf)

    def decision(self, text):
        """Record a decision of the agent in the audit trail (1 to 127
        bytes of printable UTF-8; ValueError otherwise).  Returns the
        audit entry's sequence number."""
        buf = self._ioctl("ASM_IOC_DECISION", abi.ASM_IOC_DECISION,
                          abi.pack_decision(text))
        return abi.unpack_note(buf)[1]

    # -- JSON documents --------------------------------------------------

    def _json(self, request, code, agent_id):
        room = 16384
        for _ in range(16):
            data = ctypes.create_string_buffer(room)
            arg = abi.pack_json(agent_id, room, ctypes.addressof(data))
            buf = bytearray(arg)
            try:
                fcntl.ioctl(self.fileno(), code, buf, True)
            except OSError as e:
                if e.errno != errno.ERANGE:
                    raise _error(e.errno, request) from None
                # The kernel set len to the size needed; the document may
                # grow before the next call, so leave some slack.
                needed = abi.unpack_json_len(buf)
                room = max(needed + needed // 4 + 1024, room * 2)
                continue
            length = abi.unpack_json_len(buf)
            return json.loads(data.raw[:length].decode("utf-8"))
        raise _error(errno.ERANGE, request)

    def telemetry(self):
        """The telemetry document of every agent the caller sees
        (ASM_IOC_GET_TELEMETRY_JSON), parsed."""
        return self._json("ASM_IOC_GET_TELEMETRY_JSON",
                          abi.ASM_IOC_GET_TELEMETRY_JSON, 0)

    def info(self, agent_id):
        """The info document of agent *agent_id*
        (ASM_IOC_GET_AGENT_INFO_JSON), parsed."""
        if isinstance(agent_id, bool) or not isinstance(agent_id, int) \
                or not 1 <= agent_id <= 0x7FFFFFFF:
            raise ValueError(f"invalid agent id {agent_id!r}")
        return self._json("ASM_IOC_GET_AGENT_INFO_JSON",
                          abi.ASM_IOC_GET_AGENT_INFO_JSON, agent_id)
