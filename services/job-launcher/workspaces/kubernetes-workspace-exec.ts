/**
 * A command inside a workspace's pod, through the pods/exec subresource: @kubernetes/client-node's
 * Exec opens a WebSocket to the API server (channel.k8s.io subprotocols: 0 stdin, 1 stdout,
 * 2 stderr, 3 the status, 4 terminal resizes), which the API server proxies to the node's kubelet.
 *
 * What the protocol decides, and callers should know:
 * - With a terminal, stderr is not asked for (the kubelet refuses tty with stderr): the terminal
 *   joins it to stdout, as the contract says.
 * - End of input: with v5.channel.k8s.io (Kubernetes 1.30 and later) the client half-closes
 *   stdin; with older servers (v4) the client can only close the whole connection, so the
 *   command gets end of input together with a hang-up, and output it writes afterwards is lost.
 * - kill() closes the connection: the runtime hangs up the command's terminal (SIGHUP) or closes
 *   its pipes. Kubernetes has no call that signals an exec'd process.
 * - The exit status comes from the status channel: Success is 0, NonZeroExitCode carries the
 *   code. Kubernetes does not say whether a signal ended the command (a shell's 128 + N reads
 *   as a plain code), so `signal` is never set here.
 */
import { PassThrough } from 'node:stream';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
import { BackendError } from '../backend.js';
import type { ExecExitStatus, ExecProcess, ExecRequest, TerminalSize } from './workspace-backend.js';
import { writeStdin } from './stdin-writes.js';

/** No command: the user's shell, bash when the image has it. */
export const DEFAULT_SHELL = ['/bin/sh', '-c', 'if [ -x /bin/bash ]; then exec /bin/bash; fi; exec /bin/sh'];

const DEFAULT_SIZE: TerminalSize = { rows: 24, cols: 80 };

export interface ExecTarget {
  namespace: string;
  pod: string;
  container: string;
}

/** The parts of a WebSocket we use (client-node hands back isomorphic-ws's). */
interface Socket {
  close(): void;
  on(event: 'close', listener: () => void): void;
  /** Stops (and restarts) reading the connection: the kubelet's writes then wait (ws pause()). */
  pause(): void;
  resume(): void;
}

/** Output that arrives before its listener is set is kept until it is. */
class OutputChannel {
  private listener?: (chunk: Buffer) => void;
  private readonly pending: Buffer[] = [];
  readonly stream = new PassThrough();
  readonly ended: Promise<void>;

  constructor() {
    this.stream.on('data', (chunk: Buffer) => (this.listener ? this.listener(chunk) : this.pending.push(chunk)));
    this.ended = new Promise((resolve) => this.stream.on('end', resolve));
  }

  listen(listener: (chunk: Buffer) => void): void {
    this.listener = listener;
    for (const chunk of this.pending.splice(0)) listener(chunk);
  }
}

/**
 * What became of a finished command, from its V1Status; undefined when it did not run to an
 * exit (the runtime could not start it, say).
 */
export function exitOfStatus(status: V1Status): ExecExitStatus | undefined {
  if (status.status === 'Success') return { code: 0 };
  if (status.reason !== 'NonZeroExitCode') return undefined;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const code = Number(cause?.message);
  return Number.isInteger(code) && code >= 0 && code <= 255 ? { code } : undefined;
}

/** The HTTP status the API server answered a refused exec with, from the WebSocket's error. */
export function refusedExecCode(err: unknown): number | undefined {
  const message = typeof err === 'object' && err !== null && 'message' in err ? String(err.message) : '';
  const match = /^Unexpected server response: (\d{3})$/.exec(message);
  return match === null ? undefined : Number(match[1]);
}

/**
 * Starts the command. Rejects when the API server refuses or cannot reach the kubelet (the
 * caller turns that into a BackendError without the server's body); the returned process's
 * `exit` rejects when the connection ends without an exit status.
 */
export async function execInPod(kubeConfig: KubeConfig, target: ExecTarget, request: ExecRequest): Promise<ExecProcess> {
  const stdout = new OutputChannel();
  const stderr = new OutputChannel();
  const stdin = new PassThrough();
  if (request.tty) makeResizable(stdout.stream, request.size ?? DEFAULT_SIZE);
  let status: V1Status | undefined;
  const command = request.command.length > 0 ? request.command : DEFAULT_SHELL;
  const socket: Socket = await new Exec(kubeConfig).exec(
    target.namespace,
    target.pod,
    target.container,
    command,
    stdout.stream,
    request.tty ? null : stderr.stream,
    stdin,
    request.tty,
    (s) => (status = s),
  );
  if (request.tty) stderr.stream.end();
  const closed = new Promise<void>((resolve) => socket.on('close', resolve));
  const exit = closed.then(async () => {
    // The client ends stdout and stderr when the status arrives; without one they stay open.
    if (status === undefined) throw new BackendError('the exec connection closed without an exit status', 'the connection to the workspace ended before the command reported how it ended');
    await Promise.all([stdout.ended, stderr.ended]);
    const ended = exitOfStatus(status);
    if (ended === undefined) throw new BackendError(`the exec ended with ${status.reason ?? 'no reason'}`, `the command could not be run in the workspace (${safeStatusReason(status.reason)})`);
    return ended;
  });
  exit.catch(() => undefined); // the caller observes it; an unobserved rejection must not crash the server
  let killed = false;
  return {
    write: (data) => writeStdin(stdin, Buffer.from(data)),
    closeStdin: () => {
      if (!stdin.writableEnded) stdin.end();
    },
    resize: (size) => {
      if (request.tty) resizeTo(stdout.stream, size);
    },
    kill: () => {
      if (killed) return;
      killed = true;
      socket.resume(); // a paused connection would not read the close handshake's answer
      socket.close();
    },
    // client-node writes what it reads into stdout and stderr whatever they answer: the connection itself is paused.
    pauseOutput: () => socket.pause(),
    resumeOutput: () => socket.resume(),
    onStdout: (listener) => stdout.listen(listener),
    onStderr: (listener) => stderr.listen(listener),
    exit,
  };
}

function safeStatusReason(reason: string | undefined): string {
  return reason !== undefined && /^[A-Za-z]{1,64}$/.test(reason) ? reason : 'no reason given';
}

/**
 * client-node sends terminal sizes when stdout looks like a TTY stream (rows, columns and a
 * 'resize' event): the first at once, the next on each event.
 */
function makeResizable(stream: PassThrough, size: TerminalSize): void {
  Object.assign(stream, { rows: size.rows, columns: size.cols });
}

function resizeTo(stream: PassThrough, size: TerminalSize): void {
  Object.assign(stream, { rows: size.rows, columns: size.cols });
  stream.emit('resize');
}
