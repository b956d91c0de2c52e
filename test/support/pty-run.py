"""Runs a command on a new pseudo-terminal and relays it: what arrives on this process's stdin is
typed into the terminal, what the command writes to the terminal comes out on stdout. Exits with
the command's status (128 + the signal's number when a signal ended it), as a shell would.

Used by test/support/terminal.ts to drive vesslctl's prompts as a person at a terminal would,
without a native npm module: python3's pty module only.
usage: python3 pty-run.py COMMAND [ARG...]
"""
import os
import pty
import select
import sys

pid, master = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])

inputs = [master, sys.stdin.fileno()]
while True:
    readable, _, _ = select.select(inputs, [], [])
    if master in readable:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the command and everything it started closed the terminal
            data = b''
        if not data:
            break
        os.write(sys.stdout.fileno(), data)
    if sys.stdin.fileno() in readable:
        data = os.read(sys.stdin.fileno(), 65536)
        if data:
            os.write(master, data)
        else:  # stdin closed: type nothing more, keep relaying the output
            inputs.remove(sys.stdin.fileno())

_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
sys.exit(128 - code if code < 0 else code)
