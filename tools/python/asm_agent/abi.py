# SPDX-License-Identifier: GPL-2.0
"""The parts of include/uapi/linux/asm.h that asm_agent uses.

Each struct is a :mod:`struct` format in native byte order with standard
sizes and no implicit padding ("="): the C structs have none either, so the
formats below list every field, reserved ones included, in order.  The
sizes are checked against the header's at import time.

The functions here only pack and unpack bytes; they never touch /dev/asm,
so they can be tested anywhere.
"""

import re
import struct
import unicodedata

ASM_DEVICE_PATH = "/dev/asm"
ASM_ABI_VERSION = 1

ASM_NOTE_LEN = 128              # struct asm_note.text, with its NUL
ASM_PROFILE_OP_LEN = 32         # struct asm_profile.op, with its NUL
ASM_PROFILE_DURATION_MAX = 3600000000000    # 1 hour, in ns

# enum asm_profile_cmd
ASM_PROFILE_BEGIN = 1
ASM_PROFILE_END = 2
ASM_PROFILE_RECORD = 3
ASM_PROFILE_STATS = 4

# struct asm_heartbeat: size, version, agent_id, flags, reserved[2].
HEARTBEAT = struct.Struct("=IIII2Q")
# struct asm_note: size, version, agent_id, kind, text[128], audit_seq,
# reserved[2].
NOTE = struct.Struct("=IIII128sQ2Q")
# struct asm_json: size, version, agent_id, len, buf, reserved[2].
JSON = struct.Struct("=IIIIQ2Q")
# struct asm_profile: size, version, cmd, agent_id, op[32], token,
# duration_ns, success, index, total, successes, kept, ops, min_ns, max_ns,
# avg_ns, p50_ns, p95_ns, p99_ns, reserved[2].
PROFILE = struct.Struct("=IIII32sQQIIQQII6Q2Q")

# sizeof() of each C struct, from the header.
assert HEARTBEAT.size == 32, HEARTBEAT.size
assert NOTE.size == 168, NOTE.size
assert JSON.size == 40, JSON.size
assert PROFILE.size == 160, PROFILE.size

ASM_IOC_MAGIC = 0xBA
_IOC_WRITE = 1
_IOC_READ = 2


def _ioc(direction, type_, nr, size):
    """The generic _IOC encoding (x86, arm64, riscv):
    dir << 30 | size << 16 | type << 8 | nr."""
    return (direction << 30) | (size << 16) | (type_ << 8) | nr


def _iowr(nr, size):
    return _ioc(_IOC_READ | _IOC_WRITE, ASM_IOC_MAGIC, nr, size)


ASM_IOC_GET_TELEMETRY_JSON = _iowr(0x05, JSON.size)
ASM_IOC_GET_AGENT_INFO_JSON = _iowr(0x06, JSON.size)
ASM_IOC_HEARTBEAT = _iowr(0x09, HEARTBEAT.size)
ASM_IOC_DECISION = _iowr(0x0F, NOTE.size)
ASM_IOC_PROFILE = _iowr(0x13, PROFILE.size)

_OP_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,31}")


def check_op_name(name):
    """Return *name* as ASCII bytes if it is a valid operation name (1 to 31
    characters of [A-Za-z0-9_.:-]); raise ValueError (TypeError for a
    non-str) otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"an operation name is a str, not {type(name).__name__}")
    if not _OP_NAME.fullmatch(name):
        raise ValueError(
            f"invalid operation name {name!r}: 1 to {ASM_PROFILE_OP_LEN - 1} "
            "characters of [A-Za-z0-9_.:-]")
    return name.encode("ascii")


def check_note_text(text):
    """Return *text* as UTF-8 bytes if the kernel takes it as a decision:
    1 to 127 bytes, no control characters; raise ValueError otherwise."""
    if not isinstance(text, str):
        raise TypeError(f"a decision is a str, not {type(text).__name__}")
    raw = text.encode("utf-8")
    if not raw:
        raise ValueError("a decision must not be empty")
    if len(raw) >= ASM_NOTE_LEN:
        raise ValueError(f"a decision is at most {ASM_NOTE_LEN - 1} bytes of "
                         f"UTF-8, not {len(raw)}")
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise ValueError("a decision must be printable text "
                         "(no newlines or control characters)")
    return raw


def pack_profile(cmd, op=b"", token=0, duration_ns=0, success=0):
    """A struct asm_profile for BEGIN, END or RECORD (agent_id 0)."""
    return PROFILE.pack(PROFILE.size, ASM_ABI_VERSION, cmd, 0, op, token,
                        duration_ns, success, 0, 0, 0, 0, 0,
                        0, 0, 0, 0, 0, 0, 0, 0)


_PROFILE_FIELDS = ("size", "version", "cmd", "agent_id", "op", "token",
                   "duration_ns", "success", "index", "total", "successes",
                   "kept", "ops", "min_ns", "max_ns", "avg_ns", "p50_ns",
                   "p95_ns", "p99_ns")


def unpack_profile(buf):
    """A dict of the fields of a struct asm_profile (op as str, without
    reserved)."""
    values = PROFILE.unpack(bytes(buf))
    out = dict(zip(_PROFILE_FIELDS, values))
    out["op"] = out["op"].rstrip(b"\0").decode("ascii", "replace")
    return out


def pack_heartbeat():
    """A struct asm_heartbeat (agent_id 0)."""
    return HEARTBEAT.pack(HEARTBEAT.size, ASM_ABI_VERSION, 0, 0, 0, 0)


def unpack_heartbeat(buf):
    """The agent_id of a struct asm_heartbeat the kernel filled in."""
    return HEARTBEAT.unpack(bytes(buf))[2]


def pack_decision(text):
    """A struct asm_note for ASM_IOC_DECISION (agent_id 0, kind 0)."""
    return NOTE.pack(NOTE.size, ASM_ABI_VERSION, 0, 0, check_note_text(text),
                     0, 0, 0)


def unpack_note(buf):
    """(agent_id, audit_seq) of a struct asm_note the kernel filled in."""
    values = NOTE.unpack(bytes(buf))
    return values[2], values[5]


def pack_json(agent_id, length, address):
    """A struct asm_json: room for *length* bytes at user address
    *address*."""
    return JSON.pack(JSON.size, ASM_ABI_VERSION, agent_id, length, address,
                     0, 0)


def unpack_json_len(buf):
    """The len field of a struct asm_json the kernel filled in."""
    return JSON.unpack(bytes(buf))[3]
