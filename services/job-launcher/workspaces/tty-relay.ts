/**
 * The program that gives an exec'd command a terminal INSIDE a workspace's sandbox (its own
 * devpts, from bwrap's --dev), as `kubectl exec -it` does in a pod. It runs in the sandbox as
 * the run's user (started by nsenter, see workspace-exec.ts) with Debian's python3 from the
 * host's read-only /usr, and is passed as `python3 -I -S -c SOURCE`: it is code, no secret,
 * and a string in this module is found the same way from dist/ and from tsx (no file to locate).
 *
 * argv: ROWS COLS PROGRAM ARGS...
 * fd 0: keystrokes (written to the terminal; its line discipline turns 0x03 into SIGINT for
 *       the foreground group); end of input is sent as the terminal's EOF character.
 * fd 1: everything the program writes to the terminal (stderr joined, as on a terminal).
 * fd 3: the environment, NAME=VALUE entries each ended by a NUL, until end of file: values
 *       never on a command line, and never in the environment of a process running as root.
 * fd 4: terminal sizes, one "ROWS COLS" line each (TIOCSWINSZ on the master: the kernel sends
 *       SIGWINCH to the foreground group).
 * Exit: the program's status; ended by signal N, the relay ends itself by signal N (nsenter
 * passes that on, so the server sees the signal and reports 128 + N).
 */
export const TTY_RELAY_SOURCE = String.raw`
import errno, fcntl, os, select, signal, struct, sys, termios

def read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b''.join(chunks)

def set_size(fd, rows, cols):
    if rows > 0 and cols > 0:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))

def write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]

rows, cols, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
env = {}
for entry in read_all(3).split(b'\0'):
    if entry:
        name, _, value = entry.partition(b'=')
        env[name.decode('utf-8', 'surrogateescape')] = value.decode('utf-8', 'surrogateescape')

master, slave = os.openpty()
set_size(master, rows, cols)
pid = os.fork()
if pid == 0:
    os.close(master)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.closerange(3, 65536)
    for sig in (signal.SIGPIPE, signal.SIGINT, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    try:
        os.chdir(env.get('HOME', '/'))
    except OSError:
        pass
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as err:
        missing = err.errno == errno.ENOENT
        os.write(2, ('%s: %s\r\n' % (argv[0], 'command not found' if missing else err.strerror)).encode('utf-8', 'replace'))
        os._exit(127 if missing else 126)
os.close(slave)

status = None
stdin_open, control_open, control = True, True, b''
while True:
    readable = [master] + ([0] if stdin_open else []) + ([4] if control_open else [])
    ready = select.select(readable, [], [], 0.2)[0]
    if master in ready:
        try:
            data = os.read(master, 65536)
        except OSError as err:
            if err.errno != errno.EIO:
                raise
            data = b''
        if not data:
            break
        write_all(1, data)
    if 0 in ready:
        data = os.read(0, 65536)
        if data:
            write_all(master, data)
        else:
            stdin_open = False
            write_all(master, termios.tcgetattr(master)[6][termios.VEOF])
    if 4 in ready:
        data = os.read(4, 4096)
        if not data:
            control_open = False
        control += data
        while b'\n' in control:
            line, control = control.split(b'\n', 1)
            size = line.split()
            if len(size) == 2:
                set_size(master, int(size[0]), int(size[1]))
    if status is None:
        done, status_now = os.waitpid(pid, os.WNOHANG)
        if done:
            status = status_now
            # What the program wrote before it ended is still in the terminal: read it out, then stop.
            fcntl.fcntl(master, fcntl.F_SETFL, fcntl.fcntl(master, fcntl.F_GETFL) | os.O_NONBLOCK)
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                write_all(1, data)
            break

if status is None:
    status = os.waitpid(pid, 0)[1]
if os.WIFSIGNALED(status):
    sig = os.WTERMSIG(status)
    try:
        signal.signal(sig, signal.SIG_DFL)
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), sig)
os._exit(os.WEXITSTATUS(status))
`;
