import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../runtime/logger.js';

/**
 * Starts the local backend's job shells from a small, long-lived helper process instead of
 * from the server. Node 20's libuv forks to spawn, and a fork costs time in proportion to the
 * forking process's memory: from the all-in-one server (100-250 MB) a shell takes 10+ ms to
 * start, from this helper (about 50 MB) about 1.5 ms.
 *
 * The job's env travels over the helper's IPC channel (a socket pair: memory only, never a
 * file), and the helper relays the job's stdout and stderr back the same way, so masking
 * and the log file stay in the server. Signals to a job's process group are sent by the
 * server itself. If the helper dies, its jobs are reported lost (their pipes went with it)
 * and the next spawn starts a new helper. A shell the helper has not started within the
 * spawn timeout fails its launch; if it starts later after all, it is killed at once (its
 * launch was already refused, so nothing would watch it).
 */

/** How long a launch waits for the helper to start its shell (a fork takes milliseconds). */
export const DEFAULT_SPAWN_TIMEOUT_MS = 15_000;

/** What the spawner starts for a job (see ../sandbox/job-sandbox.ts): bwrap, or a bare shell. */
export interface SpawnCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  uid?: number;
  gid?: number;
  /** Written to fd 3 of the process, then closed (bwrap's `--args 3`): arguments that must not be on its command line. */
  argsData?: Uint8Array;
  /** An fd the process writes status lines to (bwrap's `--json-status-fd`); each line is relayed as a 'status' event. */
  statusFd?: number;
  /** Bytes written each to its own pipe at `fd`, then closed (bwrap's `--ro-bind-data FD`: secret files). */
  inputs?: { fd: number; data: Uint8Array }[];
}

export type SpawnerRequest =
  | { type: 'spawn'; id: number; command: SpawnCommand }
  | { type: 'pause' | 'resume' | 'abandon'; id: number };

export type SpawnerEvent =
  | { type: 'spawned'; id: number; pid: number }
  | { type: 'status'; id: number; line: string }
  | { type: 'failed'; id: number; code: string }
  | { type: 'output'; id: number; data: Uint8Array }
  | { type: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null }
  | { type: 'closed'; id: number };

export interface ShellExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The spawner died while the shell ran: its outcome is unknown. */
  lost: boolean;
}

export class SpawnError extends Error {
  constructor(readonly code: string) {
    super(`spawning a job failed: ${code}`);
    this.name = 'SpawnError';
  }
}

/** A job's shell, as seen from the server. */
export class SpawnedShell {
  pid = 0;
  readonly exited: Promise<ShellExit>;
  /** Settles once stdout and stderr are closed (all output has been delivered) or abandoned. */
  readonly outputClosed: Promise<void>;
  private resolveExit!: (exit: ShellExit) => void;
  private resolveClosed!: () => void;
  private listener?: (chunk: Buffer) => void;
  /** Output that arrived before a listener was set. */
  private early: Buffer[] = [];
  private statusListener?: (line: string) => void;
  private earlyStatus: string[] = [];

  constructor(
    private readonly id: number,
    private readonly request: (req: SpawnerRequest) => void,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
    this.outputClosed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  /** stdout and stderr chunks, in arrival order. */
  onOutput(listener: (chunk: Buffer) => void): void {
    this.listener = listener;
    for (const chunk of this.early.splice(0)) listener(chunk);
  }

  /** Status lines the process wrote to its status fd (SpawnCommand.statusFd), in order. */
  onStatus(listener: (line: string) => void): void {
    this.statusListener = listener;
    for (const line of this.earlyStatus.splice(0)) listener(line);
  }

  pause(): void {
    this.request({ type: 'pause', id: this.id });
  }

  resume(): void {
    this.request({ type: 'resume', id: this.id });
  }

  /** Stops reading the output (a process that left the group holds the pipes). */
  abandonOutput(): void {
    this.request({ type: 'abandon', id: this.id });
    this.resolveClosed();
  }

  /** @internal */
  deliver(event: SpawnerEvent): void {
    if (event.type === 'output') {
      const chunk = Buffer.from(event.data.buffer, event.data.byteOffset, event.data.byteLength);
      if (this.listener) this.listener(chunk);
      else this.early.push(chunk);
    } else if (event.type === 'status') {
      if (this.statusListener) this.statusListener(event.line);
      else this.earlyStatus.push(event.line);
    } else if (event.type === 'exit') {
      this.resolveExit({ code: event.code, signal: event.signal, lost: false });
    } else if (event.type === 'closed') {
      this.resolveClosed();
    }
  }

  /** @internal */
  lose(): void {
    this.resolveExit({ code: null, signal: null, lost: true });
    this.resolveClosed();
  }
}

interface Pending {
  resolve(shell: SpawnedShell): void;
  reject(err: Error): void;
  shell: SpawnedShell;
  timer: NodeJS.Timeout;
}

/**
 * The entry file beside this one: .js from dist, with no Node flags (the server's, such as a
 * profiler or debugger, do not apply); .ts when the server runs from source (tests), with the
 * server's flags, which load TypeScript.
 */
function entryFile(): { file: string; execArgv: string[] } {
  const self = fileURLToPath(import.meta.url);
  const ext = path.extname(self);
  const file = path.join(path.dirname(self), `job-spawner-main${ext}`);
  return { file, execArgv: ext === '.ts' ? process.execArgv : [] };
}

export class JobSpawner {
  private child?: ChildProcess;
  private nextId = 1;
  private readonly starting = new Map<number, Pending>();
  private readonly running = new Map<number, SpawnedShell>();
  /** Shells whose launch timed out: killed if the helper starts them after all. */
  private readonly timedOut = new Set<number>();
  private closed = false;

  constructor(
    private readonly log?: Logger,
    private readonly spawnTimeoutMs = DEFAULT_SPAWN_TIMEOUT_MS,
  ) {}

  /** Starts the helper now, so that the first job does not wait for it. */
  warmUp(): void {
    if (!this.closed) this.helper();
  }

  /** Resolves once the process runs, in a new process group; rejects with a SpawnError otherwise. */
  spawn(command: SpawnCommand): Promise<SpawnedShell> {
    if (this.closed) return Promise.reject(new SpawnError('ESHUTDOWN'));
    const child = this.helper();
    const id = this.nextId++;
    const shell = new SpawnedShell(id, (req) => this.send(child, req));
    const started = new Promise<SpawnedShell>((resolve, reject) => {
      const timer = setTimeout(() => this.giveUp(id), this.spawnTimeoutMs);
      this.starting.set(id, { resolve, reject, shell, timer });
    });
    this.updateRef();
    this.send(child, { type: 'spawn', id, command });
    return started;
  }

  /**
   * Refuses new shells, waits until those started (or starting) have closed their output, then
   * stops the helper. The caller ends the running jobs.
   */
  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.stopWhenIdle();
    await gone;
  }

  private helper(): ChildProcess {
    if (this.child) return this.child;
    const { file, execArgv } = entryFile();
    // Its own process group keeps a terminal's Ctrl-C from reaching it before the server; an
    // empty env keeps the server's settings and credentials out of it.
    const child = fork(file, [], { env: {}, execArgv, detached: true, serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.child = child;
    child.on('message', (event: SpawnerEvent) => this.receive(event));
    child.on('error', (err) => this.log?.error({ err: (err as NodeJS.ErrnoException).code ?? String(err) }, 'the job spawner failed'));
    child.once('exit', (code, signal) => this.helperExited(child, code, signal));
    this.updateRef();
    return child;
  }

  private send(child: ChildProcess, request: SpawnerRequest): void {
    if (child !== this.child || !child.connected) return;
    child.send(request, (err) => {
      // The helper's end is gone: its exit handler reports what it ran.
      if (err) this.log?.warn({ err: (err as NodeJS.ErrnoException).code ?? String(err) }, 'sending to the job spawner failed');
    });
  }

  /** The helper did not start shell `id` in time: its launch fails now. */
  private giveUp(id: number): void {
    const pending = this.starting.get(id);
    if (!pending) return;
    this.starting.delete(id);
    this.timedOut.add(id);
    this.log?.error({ timeoutMs: this.spawnTimeoutMs }, 'the job spawner did not start a shell in time; the launch failed');
    pending.reject(new SpawnError('ETIMEDOUT'));
    this.updateRef();
  }

  /** A shell whose launch was refused (timed out) started after all: nothing may watch it, so it ends now. */
  private killLate(id: number, pid: number): void {
    this.timedOut.delete(id);
    this.send(this.child!, { type: 'abandon', id });
    try {
      process.kill(-pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
    this.log?.warn({ pid }, 'killed a job shell that started after its launch had timed out');
  }

  private receive(event: SpawnerEvent): void {
    if (event.type === 'spawned' || event.type === 'failed') {
      const pending = this.starting.get(event.id);
      if (!pending) {
        if (event.type === 'spawned' && this.timedOut.has(event.id)) this.killLate(event.id, event.pid);
        else this.timedOut.delete(event.id);
        return;
      }
      clearTimeout(pending.timer);
      this.starting.delete(event.id);
      if (event.type === 'failed') pending.reject(new SpawnError(event.code));
      else {
        pending.shell.pid = event.pid;
        this.running.set(event.id, pending.shell);
        pending.resolve(pending.shell);
      }
      this.updateRef();
      return;
    }
    const shell = this.running.get(event.id);
    if (!shell) return;
    shell.deliver(event);
    if (event.type === 'closed') {
      this.running.delete(event.id);
      this.updateRef();
    }
  }

  private helperExited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    this.child = undefined;
    const lost = this.running.size + this.starting.size;
    if (lost > 0 || !this.closed) this.log?.error({ code, signal, jobs: lost }, 'the job spawner exited; its running jobs are lost');
    for (const pending of this.starting.values()) {
      clearTimeout(pending.timer);
      pending.reject(new SpawnError('ESPAWNERGONE'));
    }
    this.timedOut.clear();
    for (const shell of this.running.values()) shell.lose();
    this.starting.clear();
    this.running.clear();
  }

  private stopWhenIdle(): void {
    if (this.closed && this.starting.size + this.running.size === 0) this.child?.kill('SIGKILL');
  }

  /** The helper keeps the server alive only while it has jobs to report on. */
  private updateRef(): void {
    this.stopWhenIdle();
    const child = this.child;
    if (!child) return;
    const busy = this.starting.size + this.running.size > 0;
    if (busy) {
      child.ref();
      child.channel?.ref();
    } else {
      child.unref();
      child.channel?.unref();
    }
  }
}
