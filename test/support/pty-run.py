"""Runs a command on a new pseudo-terminal and relays it: what arrives on this process's stdin is
typed into the terminal, what the command writes to the terminal comes out on stdout. Exits with
the command's status (128 + the signal's number when a signal ended it), as a shell would.

The terminal is PTY_SIZE big ("ROWSxCOLS", from the environment; else the kernel's 0x0). When
file descriptor 3 is open, it carries control lines: "resize ROWS COLS" resizes the terminal
(the command's process group gets SIGWINCH, as from a window being resized).

Used by test/support/terminal.ts to drive vesslctl's prompts as a person at a terminal would,
without a native npm module: python3's pty module only.
usage: python3 pty-run.py COMMAND [ARG...]
"""
import fcntl
import os
import pty
import select
import struct
import sys
import termios


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def control_fd():
    try:
        os.fstat(3)
        return 3
    except OSError:
        return None


control = control_fd()
pid, master = pty.fork()
if pid == 0:
    if os.environ.get("PTY_SIZE"):
        rows, cols = (int(n) for n in os.environ["PTY_SIZE"].split("x"))
        set_size(0, rows, cols)  # before the command starts: it sees this size from its first look
    if control is not None:
        os.close(control)  # the control channel is this relay's, not the command's
    os.execvp(sys.argv[1], sys.argv[1:])

inputs = [master, sys.stdin.fileno()] + ([control] if control is not None else [])
pending_control = b""
while True:
    readable, _, _ = select.select(inputs, [], [])
    if master in readable:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the command and everything it started closed the terminal
            data = b""
        if not data:
            break
        os.write(sys.stdout.fileno(), data)
    if sys.stdin.fileno() in readable:
        data = os.read(sys.stdin.fileno(), 65536)
        if data:
            os.write(master, data)
        else:  # stdin closed: type nothing more, keep relaying the output
            inputs.remove(sys.stdin.fileno())
    if control is not None and control in readable:
        data = os.read(control, 4096)
        if not data:
            inputs.remove(control)
            continue
        pending_control += data
        while b"\n" in pending_control:
            line, pending_control = pending_control.split(b"\n", 1)
            words = line.decode().split()
            if len(words) == 3 and words[0] == "resize":
                set_size(master, int(words[1]), int(words[2]))

_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
sys.exit(128 - code if code < 0 else code)
