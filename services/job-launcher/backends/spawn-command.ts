import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { SpawnCommand } from './job-spawner.js';

/**
 * Starts what the job spawner is asked to start (a SpawnCommand: bwrap, or a bare shell) in a
 * process group of its own, with output on pipes 1 and 2, its `--args` written to fd 3 (and its
 * inputs, secret files, each to its own fd) and its
 * status fd readable. The job spawner (job-spawner-main.ts) uses it, and so does the bench's
 * launch floor, so that both start exactly the same thing. Imports nothing heavy: the spawner
 * stays small, which is what makes its forks fast.
 */
export function spawnCommand(command: SpawnCommand): ChildProcess {
  const { file, args, cwd, env, uid, gid } = command;
  const child = spawn(file, args, { cwd, env, uid, gid, detached: true, stdio: stdioFor(command) });
  for (const { fd, data } of inputsOf(command)) {
    const pipe = child.stdio[fd] as Writable;
    pipe.on('error', () => undefined); // bwrap failed before reading it: its exit reports it
    // Destroyed once written: its other half (a socket's readable side) would otherwise keep the
    // child's stdio open, and 'close' (all output delivered) would wait for nothing.
    pipe.end(data, () => pipe.destroy());
  }
  return child;
}

/** What is written to the process's fds: its `--args` on fd 3, then the command's inputs. */
function inputsOf(command: SpawnCommand): { fd: number; data: Uint8Array }[] {
  return [...(command.argsData ? [{ fd: 3, data: command.argsData }] : []), ...(command.inputs ?? [])];
}

/** The process's status fd (SpawnCommand.statusFd), if it has one. */
export function statusStream(child: ChildProcess, command: SpawnCommand): Readable | undefined {
  return command.statusFd === undefined ? undefined : (child.stdio[command.statusFd] as Readable);
}

/**
 * Each complete line a status stream carries (bwrap's `--json-status-fd`: one JSON object a
 * line). A read may hold several lines, or part of one.
 */
export function onStatusLines(stream: Readable, line: (text: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    pending += text;
    for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n')) {
      line(pending.slice(0, end));
      pending = pending.slice(end + 1);
    }
  });
  stream.on('error', () => undefined);
}

/** stdio for the process: output on 1 and 2, and the extra fds the command asks for (args in, status out). */
function stdioFor(command: SpawnCommand): ('ignore' | 'pipe')[] {
  const stdio: ('ignore' | 'pipe')[] = ['ignore', 'pipe', 'pipe'];
  const extra = (fd: number | undefined) => {
    if (fd === undefined) return;
    while (stdio.length <= fd) stdio.push('ignore');
    stdio[fd] = 'pipe';
  };
  for (const { fd } of inputsOf(command)) extra(fd);
  extra(command.statusFd);
  return stdio;
}
