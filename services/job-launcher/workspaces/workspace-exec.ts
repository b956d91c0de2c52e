import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SandboxNetwork } from '../sandbox/bubblewrap.js';
import { processTree } from '../sandbox/pid-namespace.js';
import type { ExecExitStatus, ExecProcess, ExecRequest, TerminalSize } from './workspace-backend.js';
import { writeStdin } from './stdin-writes.js';
import { TTY_RELAY_SOURCE } from './tty-relay.js';

/**
 * Runs a command inside a running workspace sandbox (docs/isolation.md, "Workspaces"): nsenter
 * joins the namespaces of the sandbox's PID 1 (bwrap's reaper: the same user namespace as the
 * run's processes, also with --disable-userns) and drops to the run's uid and gid before it
 * executes anything; setpriv then sets no_new_privs, as bwrap does for the run's own processes.
 *
 * nsenter runs as root until it drops: it gets an EMPTY environment (a variable of the run,
 * LD_PRELOAD say, must never reach a root process), and the run's environment reaches the
 * command through a pipe on fd 3 (never a file, never a command line), read by a relay that
 * runs in the sandbox as the run's user: a shell line for a plain exec, the python relay of
 * tty-relay.ts for a terminal. Spawned with uid 0 and gid 0, libuv calls setgroups(0) and
 * nsenter's own setgid/setuid leave no supplementary group.
 */

export const NSENTER = '/usr/bin/nsenter';
export const SETPRIV = '/usr/bin/setpriv';
/** The host's python3 (the sandbox sees the host's /usr read-only): Debian's, for the tty relay. */
export const PYTHON = '/usr/bin/python3';
export const noPythonForTty = (python: string) =>
  `a terminal in a local workspace needs python3 on the server host (${python}, which the sandbox sees): install it (apt-get install python3-minimal), or exec without a terminal`;

/** How long output may still arrive once the command has exited (a process it left may hold the pipes). */
const OUTPUT_DRAIN_MS = 2000;
const ENV_FD = 3;
const CONTROL_FD = 4;

/** Where and as whom commands of a run are entered. */
export interface RunEntry {
  /** Host PID of the sandbox's PID 1. */
  targetPid: number;
  uid: number;
  gid: number;
  network: SandboxNetwork;
  /** The run's whole environment, as it started (kept in memory only). */
  env: Readonly<Record<string, string>>;
  /** The python3 that runs the tty relay: a path under /usr, which host and sandbox share (default PYTHON). */
  python?: string;
}

/** The shell used when a request names no program: bash when the host's /usr has it, else sh. */
export function defaultShell(): string[] {
  return [existsSync('/usr/bin/bash') ? '/bin/bash' : '/bin/sh'];
}

/**
 * A plain exec's relay: evaluates the `export` lines read from fd 3 (its own PWD dropped, the
 * run's restored), closes fd 3 and executes the command in its place (a missing program: 127).
 */
const PLAIN_RELAY = 'eval "$(/usr/bin/cat <&3)" || exit 126; exec 3<&-; exec "$@"';

/** `unset PWD`, then `export NAME='VALUE'` for each variable: what PLAIN_RELAY evaluates. */
export function shellEnvironment(env: Readonly<Record<string, string>>): Buffer {
  const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
  const lines = ['unset PWD', ...Object.entries(env).map(([name, value]) => `export ${name}=${quote(value)}`)];
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

/** NAME=VALUE entries each ended by a NUL: what the tty relay reads. */
export function nulEnvironment(env: Readonly<Record<string, string>>): Buffer {
  return Buffer.from(Object.entries(env).map(([name, value]) => `${name}=${value}\0`).join(''), 'utf8');
}

/** nsenter's arguments: every namespace of the sandbox (net only when it has one of its own), its cwd, the run's ids, no_new_privs. */
export function nsenterArguments(entry: RunEntry, request: ExecRequest): string[] {
  const namespaces = ['--user', '--mount', '--pid', '--ipc', '--uts', '--cgroup', ...(entry.network === 'isolated' ? ['--net'] : [])];
  const program = request.command.length > 0 ? request.command : defaultShell();
  const relay = request.tty
    ? [entry.python ?? PYTHON, '-I', '-S', '-c', TTY_RELAY_SOURCE, String(request.size?.rows ?? 0), String(request.size?.cols ?? 0), ...program]
    : ['/bin/sh', '-c', PLAIN_RELAY, 'sh', ...program];
  return ['--target', String(entry.targetPid), ...namespaces, '--wd', `--setuid=${entry.uid}`, `--setgid=${entry.gid}`, '--', SETPRIV, '--no-new-privs', '--', ...relay];
}

/** Starts `request` in the run. Resolves once the process runs. */
export async function startExec(entry: RunEntry, request: ExecRequest): Promise<ExecProcess> {
  const stdio: ('pipe' | 'ignore')[] = ['pipe', 'pipe', 'pipe', 'pipe', request.tty ? 'pipe' : 'ignore'];
  const asRoot = process.getuid?.() === 0;
  const child = spawn(NSENTER, nsenterArguments(entry, request), { env: {}, cwd: '/', stdio, detached: true, ...(asRoot && { uid: 0, gid: 0 }) });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const envPipe = child.stdio[ENV_FD] as Writable;
  envPipe.on('error', () => undefined);
  // A terminal says what it is, as `docker exec -t` does, unless the workspace set TERM itself.
  const env = request.tty && !Object.hasOwn(entry.env, 'TERM') ? { ...entry.env, TERM: 'xterm-256color' } : entry.env;
  envPipe.end(request.tty ? nulEnvironment(env) : shellEnvironment(env), () => envPipe.destroy());
  return new NsenterProcess(child, request.tty);
}

/** Runs a short command in the run (no terminal, no input) and returns its status and output. */
export async function runInside(entry: RunEntry, command: string[]): Promise<{ code: number; output: string }> {
  const exec = await startExec(entry, { command, tty: false });
  const chunks: Buffer[] = [];
  exec.onStdout((chunk) => chunks.push(chunk));
  exec.onStderr((chunk) => chunks.push(chunk));
  exec.closeStdin();
  const { code } = await exec.exit;
  return { code, output: Buffer.concat(chunks).toString('utf8') };
}

/** Output delivered to a listener, or kept until one is set. */
class OutputChannel {
  private listener?: (chunk: Buffer) => void;
  private early: Buffer[] = [];

  set(listener: (chunk: Buffer) => void): void {
    this.listener = listener;
    for (const chunk of this.early.splice(0)) listener(chunk);
  }

  push(chunk: Buffer): void {
    if (this.listener) this.listener(chunk);
    else this.early.push(chunk);
  }
}

class NsenterProcess implements ExecProcess {
  readonly exit: Promise<ExecExitStatus>;
  private readonly stdout = new OutputChannel();
  private readonly stderr: OutputChannel;
  private ended = false;

  constructor(
    private readonly child: ChildProcess,
    private readonly tty: boolean,
  ) {
    // A terminal joins stderr to stdout; what reaches the relay's own stderr (its errors) goes there too.
    this.stderr = tty ? this.stdout : new OutputChannel();
    child.stdin!.on('error', () => undefined);
    this.control?.on('error', () => undefined);
    const streams = [child.stdout!, child.stderr!];
    child.stdout!.on('data', (chunk: Buffer) => this.stdout.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => this.stderr.push(chunk));
    const drained = Promise.all(streams.map((stream) => new Promise<void>((resolve) => stream.once('close', () => resolve()))));
    this.exit = new Promise<ExecExitStatus>((resolve) => child.once('exit', (code, signal) => resolve(exitStatus(code, signal)))).then(async (status) => {
      this.ended = true;
      // What is left is what the pipes hold, and what a process it left prints within the drain time.
      for (const stream of streams) stream.resume();
      this.control?.destroy();
      child.stdin!.destroy();
      const closed = await Promise.race([drained.then(() => true), sleep(OUTPUT_DRAIN_MS, false)]);
      if (!closed) for (const stream of streams) (stream as Readable).destroy();
      return status;
    });
  }

  private get control(): Writable | undefined {
    return this.tty ? (this.child.stdio[CONTROL_FD] as Writable) : undefined;
  }

  write(data: Uint8Array): Promise<void> {
    return this.ended ? Promise.resolve() : writeStdin(this.child.stdin!, data);
  }

  closeStdin(): void {
    this.child.stdin!.end();
  }

  resize(size: TerminalSize): void {
    const control = this.control;
    if (!this.ended && control?.writable && size.rows > 0 && size.cols > 0) control.write(`${Math.floor(size.rows)} ${Math.floor(size.cols)}\n`);
  }

  pauseOutput(): void {
    if (this.ended) return;
    this.child.stdout!.pause();
    this.child.stderr!.pause();
  }

  resumeOutput(): void {
    this.child.stdout!.resume();
    this.child.stderr!.resume();
  }

  kill(): void {
    if (this.ended || this.child.pid === undefined) return;
    // The whole tree at once, nsenter included: the command's children (a terminal's programs
    // run in a session of their own) are found before any of them is reparented.
    for (const pid of processTree(this.child.pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }

  onStdout(listener: (chunk: Buffer) => void): void {
    this.stdout.set(listener);
  }

  onStderr(listener: (chunk: Buffer) => void): void {
    if (!this.tty) this.stderr.set(listener);
  }
}

/** nsenter passes on how its child ended: a signal by ending itself with it. */
function exitStatus(code: number | null, signal: NodeJS.Signals | null): ExecExitStatus {
  if (signal) return { code: 128 + (os.constants.signals[signal] ?? 0), signal };
  return { code: code ?? 1 };
}
