#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""pty_run.py CMD [ARGS...]

Runs CMD the way a login shell on a terminal would: in a new session whose
controlling terminal is a new pseudo-terminal, which is also CMD's stdin,
stdout and stderr.  Prints what CMD wrote to the terminal, then
"pending N": the bytes left unread in the terminal's input queue, which is
where a TIOCSTI puts what it injects (the terminal is in raw mode, so an
injected byte is readable at once).  Exits with CMD's exit status.

Used by test_asmd_security.sh to check that an agent started by
`asmctl run` cannot type into the terminal that started it.
"""

import fcntl
import os
import select
import struct
import sys
import termios
import tty


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__.strip().splitlines()[0])
    master, slave = os.openpty()
    tty.setraw(slave)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(master)
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            if slave > 2:
                os.close(slave)
            os.execvp(sys.argv[1], sys.argv[1:])
        finally:
            os._exit(127)

    # The slave stays open here, so reading the master never fails with
    # EIO, and the input queue can be looked at after CMD has exited.
    out = b""
    status = None
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            out += os.read(master, 4096)
            continue
        if status is not None:
            break
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st  # one more quiet round drains the output
    pending = struct.unpack(
        "i", fcntl.ioctl(slave, termios.FIONREAD, b"\0\0\0\0"))[0]
    sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
    print(f"pending {pending}")
    sys.exit(os.waitstatus_to_exitcode(status) & 0xff)


if __name__ == "__main__":
    main()
