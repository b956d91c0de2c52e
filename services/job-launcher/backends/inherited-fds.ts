import { closeSync, readdirSync, readFileSync } from 'node:fs';

/** O_CLOEXEC in /proc/<pid>/fdinfo's octal `flags`: such an fd never reaches a child. */
const O_CLOEXEC = 0o2000000;

/**
 * Closes the file descriptors this process inherited open across exec (fd 3 and up, not
 * close-on-exec) except `keep`: whatever the server's own parent left open (a supervisor's
 * socket, a shell's pipe) would otherwise pass through every spawn, bwrap included, into each
 * job. Node and libuv open their own descriptors close-on-exec, so those are left alone.
 * Returns the descriptors it closed.
 */
export function closeInheritedFds(keep: number[]): number[] {
  const closed: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc/self/fd');
  } catch {
    return closed; // no /proc: nothing to learn, nothing closed
  }
  for (const entry of entries) {
    const fd = Number(entry);
    if (!Number.isInteger(fd) || fd < 3 || keep.includes(fd)) continue;
    let flags: number;
    try {
      const match = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      if (!match) continue;
      flags = parseInt(match[1], 8);
    } catch {
      continue; // the directory's own fd, gone by now
    }
    if (flags & O_CLOEXEC) continue;
    try {
      closeSync(fd);
      closed.push(fd);
    } catch {
      // closed meanwhile
    }
  }
  return closed;
}
