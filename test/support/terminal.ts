import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** python3 with its standard library's pty module (Debian's /usr/bin/python3). */
const PYTHON = '/usr/bin/python3';
const PTY_RUN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pty-run.py');

/** A command running on its own pseudo-terminal, typed into as a person would. */
export interface TerminalSession {
  /** Everything the command wrote to the terminal so far (stdout and stderr, with echo). */
  output(): string;
  /** Resolves once the output matches `pattern`; rejects (with the output) if the command exits first or `timeoutMs` pass. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Types `text` (use '\r' for Enter, '\x03' for Ctrl-C). */
  type(text: string): void;
  /** Resizes the terminal, as a window being resized does (the command gets SIGWINCH). */
  resize(rows: number, cols: number): void;
  /** The exit status (128 + signal number when a signal ended the command). */
  exited: Promise<number>;
}

export interface TerminalOptions {
  /** The terminal's size from the start (else 0x0, which programs read as "unknown"). */
  size?: { rows: number; cols: number };
}

/** Starts `node bin args...` on a new pseudo-terminal (test/support/pty-run.py). */
export const startInTerminal = (bin: string, args: string[], env: NodeJS.ProcessEnv, options?: TerminalOptions): TerminalSession =>
  startOnTerminal([process.execPath, bin, ...args], env, options);

/** Starts `command` (a program and its arguments) on a new pseudo-terminal. */
export function startOnTerminal(command: string[], env: NodeJS.ProcessEnv, options: TerminalOptions = {}): TerminalSession {
  const size = options.size ? { PTY_SIZE: `${options.size.rows}x${options.size.cols}` } : {};
  const child = spawn(PYTHON, [PTY_RUN, ...command], { env: { TERM: 'xterm', ...env, ...size }, stdio: ['pipe', 'pipe', 'inherit', 'pipe'] });
  const control = child.stdio[3] as Writable;
  let output = '';
  let exitCode: number | undefined;
  const waiters: Array<{ pattern: RegExp; resolve: (text: string) => void; reject: (err: Error) => void }> = [];
  const settle = () => {
    for (const waiter of [...waiters]) {
      const match = waiter.pattern.exec(output);
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match[0]);
      }
    }
  };
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
    settle();
  });
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      exitCode = code ?? -1;
      for (const waiter of waiters.splice(0)) waiter.reject(new Error(`exited with ${code} before printing ${waiter.pattern}; output:\n${output}`));
      resolve(code ?? -1);
    });
  });
  return {
    output: () => output,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const match = pattern.exec(output);
        if (match) return resolve(match[0]);
        if (exitCode !== undefined) return reject(new Error(`exited with ${exitCode} without printing ${pattern}; output:\n${output}`));
        const waiter = {
          pattern,
          resolve: (text: string) => {
            clearTimeout(timer);
            resolve(text);
          },
          reject: (err: Error) => {
            clearTimeout(timer);
            reject(err);
          },
        };
        // A deadline that names what was printed instead of mocha's bare timeout.
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${JSON.stringify(output)}`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    type(text) {
      child.stdin!.write(text);
    },
    resize(rows, cols) {
      control.write(`resize ${rows} ${cols}\n`);
    },
    exited,
  };
}
