// The client side of `workspace exec` and `workspace shell`: the local terminal and standard
// streams wired to one ExecWorkspace call, as `kubectl exec` wires them to a pod. Loaded lazily
// with the API (it is only needed once a command runs).
import { once } from 'node:events';
import type { ReadStream } from 'node:tty';
import { constants } from 'node:os';
import type { ExecCall, ExecExitJson, TerminalSizeJson, WorkspacesApi } from './workspaces-api.js';

export interface ExecSessionOptions {
  name: string;
  /** Empty: the user's shell. */
  command: string[];
  /** Give the command a terminal: the local one, in raw mode (stdin must be a terminal). */
  tty: boolean;
  /** Stream the local stdin to the command (always with tty); without it the command reads end of file. */
  stdin: boolean;
}

/** How a session ended: the command's exit, a signal that stopped vesslctl, or stdout's reader going away. */
export type ExecSessionEnd = { exit: ExecExitJson } | { signal: NodeJS.Signals } | { pipeClosed: true };

/** The signals that end a session (the terminal is restored and the call cancelled first). */
const ENDING_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** The exit status vesslctl ends with after a signal: 128 + its number, as a shell reports it. */
export const signalExitCode = (signal: NodeJS.Signals) => 128 + (constants.signals[signal] ?? 0);

/** The local terminal's size: stdout's, else stderr's (stdout may be piped while stdin is not). */
function localTerminalSize(): TerminalSizeJson | undefined {
  const out = [process.stdout, process.stderr].find((stream) => stream.isTTY);
  return out && out.rows > 0 ? { rows: out.rows, cols: out.columns } : undefined;
}

/**
 * Puts the local terminal in raw mode (keystrokes, Ctrl-C included, go to the remote program as
 * bytes) and returns what restores it. The restore is idempotent, and also runs when the process
 * exits any other way, so no path leaves the person's terminal raw.
 */
function enterRawMode(stdin: ReadStream): () => void {
  stdin.setRawMode(true);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    process.off('exit', restore);
    stdin.setRawMode(false);
  };
  process.on('exit', restore);
  return restore;
}

const isBrokenPipe = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';

/**
 * Writes output, waiting while the reader is slower than the workspace. False once the reader
 * has gone away (e.g. `vesslctl workspace exec dev -- yes | head`).
 */
async function writeOut(stream: NodeJS.WriteStream, bytes: Buffer): Promise<boolean> {
  try {
    if (!stream.write(bytes)) await once(stream, 'drain');
    return true;
  } catch (err) {
    if (isBrokenPipe(err)) return false;
    throw err;
  }
}

/** Streams the local stdin to the call (pausing while its send buffer is full); EOF closes the remote stdin. */
function pumpStdin(call: ExecCall): () => void {
  const stdin = process.stdin;
  const onData = (chunk: Buffer) => {
    if (call.sendStdin(chunk)) return;
    stdin.pause();
    call.onDrain(() => stdin.resume());
  };
  const onEnd = () => call.closeStdin();
  stdin.on('data', onData);
  stdin.once('end', onEnd);
  stdin.resume();
  return () => {
    stdin.off('data', onData);
    stdin.off('end', onEnd);
    stdin.pause();
  };
}

/**
 * Runs a command in a workspace with the local streams attached, until it exits (or a signal
 * stops vesslctl, or stdout's reader goes away). Whatever happens, the terminal is restored and
 * every listener removed before this returns or throws; a server error (NOT_FOUND, "not running")
 * is thrown as the call's ServiceError.
 */
export async function runExecSession(api: WorkspacesApi, options: ExecSessionOptions): Promise<ExecSessionEnd> {
  const { tty } = options;
  const call = api.execWorkspace({ name: options.name, command: options.command, tty, size: tty ? localTerminalSize() : undefined });
  const cleanups: Array<() => void> = [];
  let ended: ExecSessionEnd | undefined;
  const stop = (end: ExecSessionEnd) => {
    ended ??= end;
    call.cancel();
  };
  try {
    if (tty) cleanups.push(enterRawMode(process.stdin as ReadStream));
    for (const signal of ENDING_SIGNALS) {
      const onSignal = () => stop({ signal });
      process.on(signal, onSignal);
      cleanups.push(() => process.off(signal, onSignal));
    }
    const onOutputError = (err: unknown) => {
      if (isBrokenPipe(err)) stop({ pipeClosed: true });
    };
    for (const stream of [process.stdout, process.stderr]) {
      stream.on('error', onOutputError);
      cleanups.push(() => stream.off('error', onOutputError));
    }
    if (tty) {
      // SIGWINCH reaches vesslctl: tell the remote terminal each new size.
      const out = [process.stdout, process.stderr].find((stream) => stream.isTTY);
      const onResize = () => {
        const size = localTerminalSize();
        if (size) call.resize(size);
      };
      out?.on('resize', onResize);
      cleanups.push(() => out?.off('resize', onResize));
    }
    if (options.stdin || tty) cleanups.push(pumpStdin(call));
    else call.closeStdin(); // as kubectl exec without -i: the command reads end of file

    for await (const output of call.output) {
      if ('exit' in output) ended ??= output;
      else if (!(await writeOut('stdout' in output || tty ? process.stdout : process.stderr, 'stdout' in output ? output.stdout : output.stderr))) {
        stop({ pipeClosed: true });
      }
    }
  } finally {
    // Last in, first out: stdin stops being read before the terminal goes back to cooked mode.
    for (const cleanup of cleanups.reverse()) cleanup();
  }
  if (!ended) throw new Error('the workspace answered without an exit status');
  return ended;
}
