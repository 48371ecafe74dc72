#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The user guide's Python example, on ASM_IOC_LLM_REQUEST instead of
syscall 503: an LLM completion for the calling process's agent.

    llm_request.py [--provider P] [--timeout-ms N] [--json] [--repeat N] [PROMPT]

Prints the provider, the text and the tokens used (--json: the response
document); exits 1 with the errno's name on an error.  --repeat N asks N
times in a row and prints how many were answered and how many were rate
limited (EAGAIN).
"""

import argparse
import ctypes
import errno
import fcntl
import json
import os
import sys

ASM_DEVICE_PATH = "/dev/asm"
ASM_ABI_VERSION = 1


class AsmLlmRequest(ctypes.Structure):
    """struct asm_llm_request of include/uapi/linux/asm.h."""

    _fields_ = [
        ("size", ctypes.c_uint32),
        ("version", ctypes.c_uint32),
        ("request", ctypes.c_uint64),
        ("response", ctypes.c_uint64),
        ("request_len", ctypes.c_uint32),
        ("response_len", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("written", ctypes.c_uint32),
        ("request_id", ctypes.c_uint64),
        ("reserved", ctypes.c_uint64 * 2),
    ]


def _iowr(type_, nr, size):
    # The generic _IOC encoding (x86-64): dir << 30 | size << 16 | type << 8 | nr.
    return (3 << 30) | (size << 16) | (type_ << 8) | nr


ASM_IOC_LLM_REQUEST = _iowr(0xBA, 0x11, ctypes.sizeof(AsmLlmRequest))


def llm_request(prompt, max_tokens=1000, temperature=0.7, agent_id=0,
                provider=None, timeout_ms=None):
    """Make an LLM request via the gateway; returns the response document."""
    req = {
        "agent_id": agent_id,
        "prompt": prompt,
        "max_tokens": max_tokens,
        "temperature": temperature,
    }
    if provider:
        req["preferred_provider"] = provider
    if timeout_ms:
        req["timeout_ms"] = timeout_ms
    req_json = json.dumps(req).encode()
    req_buf = ctypes.create_string_buffer(req_json)
    resp_buf = ctypes.create_string_buffer(8192)

    arg = AsmLlmRequest()
    arg.size = ctypes.sizeof(arg)
    arg.version = ASM_ABI_VERSION
    arg.request = ctypes.addressof(req_buf)
    arg.request_len = len(req_json)
    arg.response = ctypes.addressof(resp_buf)
    arg.response_len = len(resp_buf)

    fd = os.open(ASM_DEVICE_PATH, os.O_RDWR | os.O_CLOEXEC)
    try:
        ret = fcntl.ioctl(fd, ASM_IOC_LLM_REQUEST, arg)
    finally:
        os.close(fd)
    return json.loads(resp_buf.raw[:ret].decode())


def main():
    parser = argparse.ArgumentParser(description="An LLM request through ASM's gateway.")
    parser.add_argument("prompt", nargs="?", default="What is an operating system kernel?")
    parser.add_argument("--provider", choices=["claude", "gpt4", "gemini", "local"])
    parser.add_argument("--timeout-ms", type=int)
    parser.add_argument("--json", action="store_true", help="print the response document")
    parser.add_argument("--repeat", type=int, default=0, metavar="N",
                        help="ask N times in a row, print the outcome counts")
    args = parser.parse_args()
    if args.repeat > 0:
        outcomes = {}
        for i in range(args.repeat):
            try:
                llm_request(f"{args.prompt} ({i + 1})", provider=args.provider,
                            timeout_ms=args.timeout_ms)
                outcome = "answered"
            except OSError as e:
                outcome = "rate limited (EAGAIN)" if e.errno == errno.EAGAIN \
                    else os.strerror(e.errno)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        print(", ".join(f"{n} {what}" for what, n in outcomes.items()))
        return 0
    try:
        response = llm_request(args.prompt, provider=args.provider, timeout_ms=args.timeout_ms)
    except OSError as e:
        print(f"Error: {os.strerror(e.errno)} (errno {e.errno})")
        return 1
    if args.json:
        print(json.dumps(response))
        return 0
    print(f"Provider: {response['provider']}")
    print(f"Response: {response['text']}")
    print(f"Tokens used: {response['tokens_used']}")
    if response["was_fallback"]:
        print("Warning: the preferred providers were unavailable, a fallback answered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
