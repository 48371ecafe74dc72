#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The Landlock scopes attacked: test_policy_tools.sh runs the attacker as
an agent of `asmctl run`, test_asmd_security.sh as an agent of asmd.

  scope_probe.py serve NAME
      the process outside the agent's sandbox: listens on the abstract
      UNIX socket @NAME, then prints its pid (the test writes it to the
      file the agent reads), and waits to be killed.
  scope_probe.py attack PIDFILE NAME
      the agent: connects to @NAME and sends SIGTERM to the process of
      PIDFILE, then does the same to a socket it bound itself (from its
      own child) and to its own child (SIGKILL).  One line "WHAT RESULT"
      each, RESULT "ok" or the errno's name (EPERM where Landlock refuses).
"""

import errno
import os
import signal
import socket
import sys


def attempt(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def connect(name):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect("\0" + name)


def say(what, result):
    # Flushed: a forked child must not inherit (and print again) a buffer.
    print(what, result, flush=True)


def serve(name):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind("\0" + name)
    s.listen(16)
    print(os.getpid(), flush=True)
    while True:
        signal.pause()


def attack(pidfile, name):
    with open(pidfile) as f:
        outside = int(f.read())
    say("connect-outside", attempt(lambda: connect(name)))
    say("kill-outside", attempt(lambda: os.kill(outside, signal.SIGTERM)))

    own = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    own.bind("\0" + name + "-own")
    own.listen(1)
    kid = os.fork()
    if kid == 0:
        result = attempt(lambda: connect(name + "-own"))
        os._exit(0 if result == "ok" else 1)
    _, status = os.waitpid(kid, 0)
    ok = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    say("child-connect-own", "ok" if ok else "failed")

    kid = os.fork()
    if kid == 0:
        while True:
            signal.pause()
    say("kill-own-child", attempt(lambda: os.kill(kid, signal.SIGKILL)))
    _, status = os.waitpid(kid, 0)
    ended = signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else "exit"
    say("own-child-ended-by", ended)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "attack":
        attack(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
