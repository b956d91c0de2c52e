import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { SpawnCommand, SpawnerEvent, SpawnerRequest } from './job-spawner.js';
import { closeInheritedFds } from './inherited-fds.js';
import { onStatusLines, spawnCommand, statusStream } from './spawn-command.js';

/**
 * The job spawner process (see job-spawner.ts): starts job shells for the local backend and
 * relays their output and exit over its IPC channel. It imports nothing heavy so that it stays
 * small: forking from a small process is what makes it fast. It never logs a request (a job's
 * env holds secret values) and never writes one anywhere.
 */

interface Job {
  child: ChildProcess;
  /** The launcher asked for a pause (its log file lags behind). */
  pausedByLauncher: boolean;
  /** Output messages not yet written to the channel. */
  unsent: number;
}

// Before any job starts: the IPC channel with the launcher is fd 3 (job-spawner.ts forks with it there).
closeInheritedFds([3]);

const jobs = new Map<number, Job>();
/** Past this many unsent output messages of a job, its pipes are not read (the job then blocks on them). */
const MAX_UNSENT = 8;

/** False when the launcher is gone (nothing was sent; `sent` is not called). */
function send(event: SpawnerEvent, sent?: () => void): boolean {
  if (!process.connected) return false;
  process.send!(event, undefined, undefined, sent);
  return true;
}

function setReading(job: Job): void {
  const paused = job.pausedByLauncher || job.unsent >= MAX_UNSENT;
  for (const stream of [job.child.stdout, job.child.stderr]) {
    if (paused) stream?.pause();
    else stream?.resume();
  }
}

/** Relays each complete line the process writes to its status fd. */
function relayStatus(id: number, stream: Readable): void {
  onStatusLines(stream, (line) => send({ type: 'status', id, line }));
}

function start(id: number, command: SpawnCommand): void {
  let child: ChildProcess;
  try {
    child = spawnCommand(command);
  } catch (err) {
    send({ type: 'failed', id, code: (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN' });
    return;
  }
  const job: Job = { child, pausedByLauncher: false, unsent: 0 };
  // `on`, not `once`: a later error event must not go unhandled and take every job down with this process.
  child.on('error', (err: NodeJS.ErrnoException) => {
    // Only a failed start is reported: this process signals nothing.
    if (child.pid === undefined) send({ type: 'failed', id, code: err.code ?? 'EUNKNOWN' });
  });
  const status = statusStream(child, command);
  if (status) relayStatus(id, status);
  child.once('spawn', () => {
    jobs.set(id, job);
    send({ type: 'spawned', id, pid: child.pid! });
  });
  const relay = (data: Buffer) => {
    job.unsent++;
    const sent = () => {
      job.unsent--;
      setReading(job);
    };
    if (send({ type: 'output', id, data }, sent)) setReading(job);
    else job.unsent--;
  };
  child.stdout!.on('data', relay);
  child.stderr!.on('data', relay);
  child.once('exit', (code, signal) => send({ type: 'exit', id, code, signal }));
  child.once('close', () => {
    jobs.delete(id);
    send({ type: 'closed', id });
  });
}

process.on('message', (request: SpawnerRequest) => {
  if (request.type === 'spawn') {
    start(request.id, request.command);
    return;
  }
  const job = jobs.get(request.id);
  if (!job) return;
  if (request.type === 'abandon') {
    job.child.stdout?.destroy();
    job.child.stderr?.destroy();
    return;
  }
  job.pausedByLauncher = request.type === 'pause';
  setReading(job);
});

// The launcher is gone: so is this process. Its jobs are left as a launcher's crash leaves them.
process.on('disconnect', () => process.exit(0));
