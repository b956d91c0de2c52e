import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Signals the processes of a sandbox's PID namespace, found by the namespace's inode (which
 * bwrap reports), not by process group: a job can leave its group (setsid), never its PID
 * namespace. Matching the inode keeps a PID that was reused before the scan from being
 * signalled; one reused between the scan and the kill (microseconds) cannot be ruled out
 * without pidfds, which Node does not offer.
 */

const errorCode = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code;

function namespaceOf(pid: string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined; // gone, or not ours to look at
  }
}

/** The host PIDs of the processes in PID namespace `inode`. */
export function processesInNamespace(inode: number): number[] {
  const wanted = `pid:[${inode}]`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (namespaceOf(entry) === wanted) pids.push(Number(entry));
  }
  return pids;
}

/**
 * Whether the namespace whose PID 1 is `initPid` has ended. The kernel kills and reaps every
 * other process of a PID namespace before its PID 1 finishes exiting, so once PID 1 is gone or
 * a zombie the namespace is empty. (Its zombie keeps its namespace link until it is reaped: once
 * bwrap has exited, by the host's init, which may take a second or two.)
 */
export function namespaceEnded(inode: number, initPid: number): boolean {
  if (namespaceOf(String(initPid)) !== `pid:[${inode}]`) return true;
  try {
    const stat = readFileSync(`/proc/${initPid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state === 'Z' || state === 'X';
  } catch {
    return true; // gone meanwhile
  }
}

/**
 * Sends `signal` to every process of the namespace except `except` (the namespace's PID 1:
 * bwrap's reaper, which ends the namespace when the job's shell ends). Returns how many were
 * signalled.
 */
export function signalNamespace(inode: number, signal: NodeJS.Signals, except?: number): number {
  let signalled = 0;
  for (const pid of processesInNamespace(inode)) {
    if (pid === except) continue;
    try {
      process.kill(pid, signal);
      signalled++;
    } catch (err) {
      if (errorCode(err) !== 'ESRCH') throw err;
    }
  }
  return signalled;
}

/**
 * `pid` and every process descending from it (by /proc/<pid>/task/<tid>/children), children
 * before their parent is dropped: for ending a command and what it started, also the processes
 * that left its process group or session (a terminal's programs do). A process that has already
 * been reparented away (a daemon that double-forked) is not found.
 */
export function processTree(pid: number): number[] {
  const found: number[] = [];
  const pending = [pid];
  while (pending.length > 0) {
    const next = pending.pop()!;
    if (found.includes(next)) continue;
    found.push(next);
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${next}/task`);
    } catch {
      continue; // gone meanwhile
    }
    for (const task of tasks) {
      try {
        pending.push(...readFileSync(`/proc/${next}/task/${task}/children`, 'utf8').split(' ').filter((p) => p.trim() !== '').map(Number));
      } catch {
        // this thread ended meanwhile
      }
    }
  }
  return found;
}
