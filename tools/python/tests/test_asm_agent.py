# SPDX-License-Identifier: GPL-2.0
"""Unit tests of asm_agent that need no asm.ko: the struct layouts and
ioctl numbers against include/uapi/linux/asm.h, name and text checks, and
the Agent's requests with fcntl.ioctl replaced by a fake kernel.

    python3 -m unittest discover tools/python/tests
"""

import ctypes
import errno
import os
import sys
import unittest
from unittest import mock

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from asm_agent import abi, agent as agent_mod  # noqa: E402
from asm_agent import Agent  # noqa: E402


class Layout(unittest.TestCase):
    def test_sizes(self):
        self.assertEqual(abi.PROFILE.size, 160)
        self.assertEqual(abi.HEARTBEAT.size, 32)
        self.assertEqual(abi.NOTE.size, 168)
        self.assertEqual(abi.JSON.size, 40)

    def test_ioctl_numbers(self):
        # _IOWR(0xBA, nr, size) = 3 << 30 | size << 16 | 0xBA << 8 | nr.
        self.assertEqual(abi.ASM_IOC_PROFILE, 0xC0A0BA13)
        self.assertEqual(abi.ASM_IOC_HEARTBEAT, 0xC020BA09)
        self.assertEqual(abi.ASM_IOC_DECISION, 0xC0A8BA0F)
        self.assertEqual(abi.ASM_IOC_GET_TELEMETRY_JSON, 0xC028BA05)
        self.assertEqual(abi.ASM_IOC_GET_AGENT_INFO_JSON, 0xC028BA06)

    def test_profile_offsets(self):
        # Offsets of struct asm_profile's fields, from the header.
        raw = abi.pack_profile(abi.ASM_PROFILE_END, b"py.work", token=0x1122,
                               duration_ns=0, success=1)
        self.assertEqual(len(raw), 160)
        self.assertEqual(raw[0:4], (160).to_bytes(4, sys.byteorder))
        self.assertEqual(raw[4:8], (1).to_bytes(4, sys.byteorder))
        self.assertEqual(raw[8:12], (2).to_bytes(4, sys.byteorder))
        self.assertEqual(raw[12:16], bytes(4))                  # agent_id
        self.assertEqual(raw[16:48], b"py.work".ljust(32, b"\0"))
        self.assertEqual(raw[48:56], (0x1122).to_bytes(8, sys.byteorder))
        self.assertEqual(raw[64:68], (1).to_bytes(4, sys.byteorder))
        self.assertEqual(raw[68:], bytes(160 - 68))

    def test_profile_unpack(self):
        raw = bytearray(abi.pack_profile(abi.ASM_PROFILE_STATS, b"x"))
        raw[120:128] = (3000000).to_bytes(8, sys.byteorder)     # p50_ns
        raw[56:64] = (42).to_bytes(8, sys.byteorder)            # duration_ns
        out = abi.unpack_profile(raw)
        self.assertEqual(out["op"], "x")
        self.assertEqual(out["p50_ns"], 3000000)
        self.assertEqual(out["duration_ns"], 42)

    def test_heartbeat(self):
        raw = bytearray(abi.pack_heartbeat())
        self.assertEqual(raw[:8], (32).to_bytes(4, sys.byteorder)
                         + (1).to_bytes(4, sys.byteorder))
        self.assertEqual(raw[8:], bytes(24))
        raw[8:12] = (7901).to_bytes(4, sys.byteorder)
        self.assertEqual(abi.unpack_heartbeat(raw), 7901)

    def test_decision(self):
        raw = bytearray(abi.pack_decision("python demo done"))
        self.assertEqual(len(raw), 168)
        self.assertEqual(raw[:4], (168).to_bytes(4, sys.byteorder))
        self.assertEqual(raw[8:16], bytes(8))                   # agent_id, kind
        self.assertEqual(raw[16:144], b"python demo done".ljust(128, b"\0"))
        raw[8:12] = (5).to_bytes(4, sys.byteorder)
        raw[144:152] = (99).to_bytes(8, sys.byteorder)
        self.assertEqual(abi.unpack_note(raw), (5, 99))

    def test_json(self):
        raw = bytearray(abi.pack_json(7, 4096, 0xDEADBEEF000))
        self.assertEqual(len(raw), 40)
        self.assertEqual(raw[8:12], (7).to_bytes(4, sys.byteorder))
        self.assertEqual(raw[12:16], (4096).to_bytes(4, sys.byteorder))
        self.assertEqual(raw[16:24], (0xDEADBEEF000).to_bytes(8, sys.byteorder))
        self.assertEqual(raw[24:], bytes(16))
        self.assertEqual(abi.unpack_json_len(raw), 4096)


class Names(unittest.TestCase):
    def test_valid(self):
        for name in ["a", "py.work", "A-Z_0.9:x", "x" * 31]:
            self.assertEqual(abi.check_op_name(name), name.encode())

    def test_invalid(self):
        for name in ["", "x" * 32, "a b", "a/b", "é", "a\0", "a\n", "ａ"]:
            with self.assertRaises(ValueError, msg=repr(name)):
                abi.check_op_name(name)
        with self.assertRaises(TypeError):
            abi.check_op_name(b"bytes")

    def test_note_text(self):
        self.assertEqual(abi.check_note_text("élan"), "élan".encode())
        self.assertEqual(len(abi.check_note_text("x" * 127)), 127)
        for text in ["", "x" * 128, "é" * 64, "a\nb", "a\tb", "\x7f"]:
            with self.assertRaises(ValueError, msg=repr(text)):
                abi.check_note_text(text)


class FakeKernel:
    """fcntl.ioctl's stand-in: answers like asm.ko would."""

    def __init__(self):
        self.calls = []
        self.now = 1000
        self.agent = 7901
        self.errno = {}            # request code -> errno to fail with
        self.doc = b'{"agents": []}'

    def __call__(self, fd, code, buf, mutate=True):
        self.calls.append((code, bytes(buf)))
        if code in self.errno:
            raise OSError(self.errno[code], os.strerror(self.errno[code]))
        if code == abi.ASM_IOC_PROFILE:
            req = abi.unpack_profile(buf)
            self.now += 500
            if req["cmd"] == abi.ASM_PROFILE_BEGIN:
                buf[48:56] = self.now.to_bytes(8, sys.byteorder)
            elif req["cmd"] == abi.ASM_PROFILE_END:
                buf[56:64] = (self.now - req["token"]).to_bytes(8, sys.byteorder)
        elif code == abi.ASM_IOC_HEARTBEAT:
            buf[8:12] = self.agent.to_bytes(4, sys.byteorder)
        elif code == abi.ASM_IOC_DECISION:
            buf[144:152] = (12).to_bytes(8, sys.byteorder)
        elif code in (abi.ASM_IOC_GET_TELEMETRY_JSON, abi.ASM_IOC_GET_AGENT_INFO_JSON):
            room = abi.unpack_json_len(buf)
            address = abi.JSON.unpack(bytes(buf))[4]
            buf[12:16] = len(self.doc).to_bytes(4, sys.byteorder)
            if room < len(self.doc):
                raise OSError(errno.ERANGE, os.strerror(errno.ERANGE))
            ctypes.memmove(address, self.doc, len(self.doc))
        return 0


class Requests(unittest.TestCase):
    def setUp(self):
        self.kernel = FakeKernel()
        patcher = mock.patch.object(agent_mod.fcntl, "ioctl", self.kernel)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.agent = Agent(os.devnull)
        self.addCleanup(self.agent.close)

    def profile_calls(self):
        return [abi.unpack_profile(raw) for code, raw in self.kernel.calls
                if code == abi.ASM_IOC_PROFILE]

    def test_operation_success(self):
        with self.agent.operation("py.work") as op:
            pass
        self.assertEqual(op.duration_ns, 500)
        begin, end = self.profile_calls()
        self.assertEqual((begin["cmd"], begin["op"], begin["token"]),
                         (abi.ASM_PROFILE_BEGIN, "", 0))
        self.assertEqual((end["cmd"], end["op"], end["token"], end["success"]),
                         (abi.ASM_PROFILE_END, "py.work", 1500, 1))

    def test_operation_failure_propagates(self):
        with self.assertRaises(KeyError):
            with self.agent.operation("py.fail"):
                raise KeyError("x")
        self.assertEqual(self.profile_calls()[-1]["success"], 0)

    def test_invalid_name_no_ioctl(self):
        with self.assertRaises(ValueError):
            self.agent.operation("bad name")
        with self.assertRaises(ValueError):
            self.agent.record("", 1)
        with self.assertRaises(ValueError):
            self.agent.profiled("x" * 32)
        self.assertEqual(self.kernel.calls, [])

    def test_profiled(self):
        @self.agent.profiled("py.decorated")
        def double(x):
            """Doubles."""
            return 2 * x
        self.assertEqual(double(21), 42)
        self.assertEqual(double.__doc__, "Doubles.")
        self.assertEqual([c["cmd"] for c in self.profile_calls()],
                         [abi.ASM_PROFILE_BEGIN, abi.ASM_PROFILE_END])

    def test_record(self):
        self.agent.record("py.record", 3000000)
        self.agent.record("py.record", 5, success=False)
        first, second = self.profile_calls()
        self.assertEqual((first["cmd"], first["op"], first["duration_ns"], first["success"]),
                         (abi.ASM_PROFILE_RECORD, "py.record", 3000000, 1))
        self.assertEqual(second["success"], 0)
        with self.assertRaises(ValueError):
            self.agent.record("x", abi.ASM_PROFILE_DURATION_MAX + 1)
        with self.assertRaises(TypeError):
            self.agent.record("x", 0.003)

    def test_heartbeat_decision(self):
        self.assertEqual(self.agent.heartbeat(), 7901)
        self.assertEqual(self.agent.decision("python demo done"), 12)
        with self.assertRaises(ValueError):
            self.agent.decision("two\nlines")

    def test_esrch_message(self):
        self.kernel.errno[abi.ASM_IOC_PROFILE] = errno.ESRCH
        with self.assertRaises(ProcessLookupError) as cm:
            self.agent.record("py.record", 1)
        self.assertEqual(cm.exception.errno, errno.ESRCH)
        self.assertIn("ASM_IOC_PROFILE RECORD of 'py.record': the caller is "
                      "not a process of an agent", str(cm.exception))
        self.kernel.errno[abi.ASM_IOC_HEARTBEAT] = errno.ESRCH
        with self.assertRaisesRegex(OSError, "ASM_IOC_HEARTBEAT: the caller is not"):
            self.agent.heartbeat()

    def test_end_error_does_not_hide_the_block_exception(self):
        with self.assertRaises(KeyError):
            with self.agent.operation("py.x"):
                self.kernel.errno[abi.ASM_IOC_PROFILE] = errno.ESRCH
                raise KeyError("x")

    def test_json_grows_on_erange(self):
        self.kernel.doc = b'{"agents": [%s]}' % b",".join([b'"%d"' % i for i in range(10000)])
        self.assertGreater(len(self.kernel.doc), 16384)
        doc = self.agent.telemetry()
        self.assertEqual(len(doc["agents"]), 10000)
        codes = [c for c, _ in self.kernel.calls]
        self.assertEqual(codes, [abi.ASM_IOC_GET_TELEMETRY_JSON] * 2)

    def test_info(self):
        self.kernel.doc = b'{"id": 7901}'
        self.assertEqual(self.agent.info(7901), {"id": 7901})
        code, raw = self.kernel.calls[-1]
        self.assertEqual(code, abi.ASM_IOC_GET_AGENT_INFO_JSON)
        self.assertEqual(raw[8:12], (7901).to_bytes(4, sys.byteorder))
        with self.assertRaises(ValueError):
            self.agent.info(0)

    def test_closed(self):
        self.agent.close()
        self.assertTrue(self.agent.closed)
        with self.assertRaises(ValueError):
            self.agent.heartbeat()


class Open(unittest.TestCase):
    def test_missing_device(self):
        with self.assertRaisesRegex(OSError, "is asm.ko loaded"):
            Agent("/nonexistent/asm")


if __name__ == "__main__":
    unittest.main()
