#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The user guide's Python example, on ASM_IOC_LLM_REQUEST instead of
syscall 503: an LLM completion for the calling process's agent.

    llm_request.py [--provider P] [--timeout-ms N] [--json]
                   [--repeat N | --submit N] [PROMPT]

Prints the provider, the text and the tokens used (--json: the response
document); exits 1 with the errno's name on an error.  --repeat N asks N
times in a row and prints how many were answered and how many were rate
limited (EAGAIN).

--submit N submits N requests at once on one open /dev/asm (ASM_LLM_SUBMIT,
which returns without waiting), then waits with poll() for the file to be
readable and collects each finished request (ASM_LLM_COLLECT), in the order
they finish.  It prints one line per collected request,

    request 17: provider Claude, result ok
    request 18: provider none, result ETIMEDOUT

and one per refused submission (e.g. "submit 4: EAGAIN, not queued"), and
exits 1 if any submission or request failed.
"""

import argparse
import ctypes
import errno
import fcntl
import json
import os
import select
import sys
import time

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
ASM_LLM_SUBMIT = 1 << 0
ASM_LLM_COLLECT = 1 << 1
# The errnos a collected request ends with (the collect itself worked).
LLM_OUTCOMES = (errno.EIO, errno.ETIMEDOUT, errno.ENOSPC)
# The kernel's timeout_ms when a request gives none.
LLM_DEFAULT_TIMEOUT_MS = 30000


def request_document(prompt, max_tokens=1000, temperature=0.7, agent_id=0,
                     provider=None, timeout_ms=None):
    """The request document, as bytes."""
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
    return json.dumps(req).encode()


def request_struct(req_buf=None, resp_buf=None, flags=0):
    """A struct asm_llm_request for the document in req_buf and a response
    in resp_buf (ctypes string buffers, either may be None)."""
    arg = AsmLlmRequest()
    arg.size = ctypes.sizeof(arg)
    arg.version = ASM_ABI_VERSION
    arg.flags = flags
    if req_buf is not None:
        arg.request = ctypes.addressof(req_buf)
        # The document without the buffer's terminating NUL.
        arg.request_len = len(req_buf) - 1
    if resp_buf is not None:
        arg.response = ctypes.addressof(resp_buf)
        arg.response_len = len(resp_buf)
    return arg


def llm_request(prompt, max_tokens=1000, temperature=0.7, agent_id=0,
                provider=None, timeout_ms=None):
    """Make an LLM request via the gateway; returns the response document."""
    req_json = request_document(prompt, max_tokens, temperature, agent_id,
                                provider, timeout_ms)
    req_buf = ctypes.create_string_buffer(req_json)
    resp_buf = ctypes.create_string_buffer(8192)
    arg = request_struct(req_buf, resp_buf)

    fd = os.open(ASM_DEVICE_PATH, os.O_RDWR | os.O_CLOEXEC)
    try:
        ret = fcntl.ioctl(fd, ASM_IOC_LLM_REQUEST, arg)
    finally:
        os.close(fd)
    return json.loads(resp_buf.raw[:ret].decode())


def errname(e):
    """The C name of errno e, e.g. EAGAIN."""
    return errno.errorcode.get(e, f"errno {e}")


def submit(fd, req_json):
    """ASM_LLM_SUBMIT of req_json on fd: returns the request's id at once."""
    # Kept alive across the ioctl: the struct holds only its address.
    req_buf = ctypes.create_string_buffer(req_json)
    arg = request_struct(req_buf, flags=ASM_LLM_SUBMIT)
    fcntl.ioctl(fd, ASM_IOC_LLM_REQUEST, arg)
    return arg.request_id


def collect(fd, request_id=0):
    """ASM_LLM_COLLECT on fd of request_id (0: any finished one).

    Returns (request id, response document or None, errno or 0).  Raises
    OSError when nothing was collected: EAGAIN while unfinished, ENOENT for
    an id this fd did not submit or that was collected already."""
    resp_buf = ctypes.create_string_buffer(65536)
    arg = request_struct(resp_buf=resp_buf, flags=ASM_LLM_COLLECT)
    arg.request_id = request_id
    try:
        ret = fcntl.ioctl(fd, ASM_IOC_LLM_REQUEST, arg)
    except OSError as e:
        # fcntl.ioctl copies the struct back before it raises: the kernel
        # set request_id to the failed request it collected.
        if e.errno in LLM_OUTCOMES:
            return arg.request_id, None, e.errno
        raise
    return arg.request_id, json.loads(resp_buf.raw[:ret].decode()), 0


def submit_and_collect(n, prompt, provider=None, timeout_ms=None):
    """--submit N: N requests queued at once on one fd, then collected as
    they finish; one line each.  Returns the exit status."""
    failed = 0
    pending = set()
    fd = os.open(ASM_DEVICE_PATH, os.O_RDWR | os.O_CLOEXEC)
    try:
        for i in range(n):
            doc = request_document(f"{prompt} ({i + 1})", provider=provider,
                                   timeout_ms=timeout_ms)
            try:
                pending.add(submit(fd, doc))
            except OSError as e:
                print(f"submit {i + 1}: {errname(e.errno)}, not queued", flush=True)
                failed += 1
        # The kernel ends every request by its timeout (checked every
        # second): wait that long and a little more.
        wait_s = (timeout_ms or LLM_DEFAULT_TIMEOUT_MS) / 1000 + 5
        deadline = time.monotonic() + wait_s
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while pending:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                break
            if not poller.poll(left_ms):
                continue
            try:
                request_id, response, err = collect(fd)
            except OSError as e:
                if e.errno == errno.EAGAIN:
                    continue
                raise
            pending.discard(request_id)
            if err:
                failed += 1
                print(f"request {request_id}: provider none, result {errname(err)}",
                      flush=True)
            else:
                print(f"request {request_id}: provider {response['provider']}, result ok",
                      flush=True)
        for request_id in sorted(pending):
            failed += 1
            print(f"request {request_id}: no answer within {wait_s:.0f} s")
    finally:
        os.close(fd)
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description="An LLM request through ASM's gateway.")
    parser.add_argument("prompt", nargs="?", default="What is an operating system kernel?")
    parser.add_argument("--provider", type=str.lower, choices=["claude", "gpt4", "gemini", "local"])
    parser.add_argument("--timeout-ms", type=int)
    parser.add_argument("--json", action="store_true", help="print the response document")
    parser.add_argument("--repeat", type=int, default=0, metavar="N",
                        help="ask N times in a row, print the outcome counts")
    parser.add_argument("--submit", type=int, default=0, metavar="N",
                        help="submit N requests at once, then poll and collect each")
    args = parser.parse_args()
    if args.repeat > 0 and args.submit > 0:
        parser.error("--repeat and --submit do not go together")
    if args.submit > 0:
        try:
            return submit_and_collect(args.submit, args.prompt, provider=args.provider,
                                      timeout_ms=args.timeout_ms)
        except OSError as e:
            print(f"Error: {os.strerror(e.errno)} (errno {e.errno})")
            return 1
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
