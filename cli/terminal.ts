import { closeSync, openSync, writeSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { CommandError } from './errors.js';
import { EXIT } from './exit-codes.js';

/** What Ctrl-C at a prompt throws: the command ends with status 130, having done nothing. */
const cancelled = () => new CommandError('cancelled', { exitCode: EXIT.INTERRUPTED });

/** True when a person can answer a prompt: standard input is a terminal. */
export const isInteractive = () => process.stdin.isTTY === true;

const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CTRL_U = 0x15;
const BACKSPACE = 0x08;
const DELETE = 0x7f;
const CR = 0x0d;
const LF = 0x0a;

/**
 * Reads one line from the terminal (/dev/tty) in raw mode without echoing anything, and
 * returns its bytes. At most `maxBytes` are kept; the caller zeroes the result after use.
 * Ctrl-C cancels; Enter or Ctrl-D ends the input.
 */
export async function readHiddenLine(prompt: string, maxBytes: number): Promise<Buffer> {
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch (err) {
    throw new CommandError('cannot open the terminal to prompt', { cause: err });
  }
  const out = openSync('/dev/tty', 'w');
  const input = new ReadStream(fd);
  // One fixed buffer, so the typed value is never copied into growing intermediate buffers.
  const typed = Buffer.alloc(maxBytes + 1);
  let length = 0;
  try {
    // Echo goes off before the prompt shows: what is typed once it shows is never echoed.
    input.setRawMode(true);
    writeSync(out, prompt);
    await new Promise<void>((resolve, reject) => {
      input.on('error', reject);
      input.on('data', (chunk: Buffer) => {
        try {
          for (const byte of chunk) {
            if (byte === CTRL_C) return reject(cancelled());
            if (byte === CR || byte === LF || byte === CTRL_D) return resolve();
            if (byte === CTRL_U) length = 0;
            else if (byte === DELETE || byte === BACKSPACE) length = removeLastCharacter(typed, length);
            else if (length < typed.length) typed[length++] = byte;
          }
        } finally {
          chunk.fill(0);
        }
      });
    });
    if (length > maxBytes) throw new CommandError(`the input is longer than ${maxBytes} bytes`);
    return Buffer.from(typed.subarray(0, length));
  } finally {
    typed.fill(0);
    input.setRawMode(false);
    input.destroy();
    writeSync(out, '\n');
    closeSync(out);
  }
}

/** Length after removing the last UTF-8 character (its continuation bytes are 10xxxxxx). */
function removeLastCharacter(bytes: Buffer, length: number): number {
  let end = length;
  while (end > 0 && (bytes[end - 1] & 0xc0) === 0x80) end--;
  return Math.max(0, end - 1);
}

/** Asks a yes/no question on the terminal; only "y" or "yes" is a yes. */
export async function confirm(question: string): Promise<boolean> {
  // Imported here: every vesslctl start loads this module, few commands ask.
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve, reject) => {
      rl.on('SIGINT', () => reject(cancelled()));
      rl.on('close', () => resolve(''));
      rl.question(`${question} [y/N] `, resolve);
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/**
 * Goes on when --yes was given or the person at the terminal answers yes. Otherwise throws:
 * USAGE without a terminal to ask on, NEGATIVE for a "no", INTERRUPTED for Ctrl-C.
 * `action` completes "refusing to ...", `nothing` completes "cancelled: ...".
 */
export async function requireConfirmation(question: string, options: { yes: boolean | undefined; action: string; nothing: string }): Promise<void> {
  if (options.yes) return;
  if (!isInteractive()) throw new CommandError(`refusing to ${options.action} without confirmation when not on a terminal: pass --yes`);
  if (!(await confirm(question))) throw new CommandError(`cancelled: ${options.nothing}`, { exitCode: EXIT.NEGATIVE });
}

/** Reads a whole stream as bytes, failing once it exceeds `maxBytes`. Chunks are zeroed. */
export async function readAllBytes(stream: NodeJS.ReadableStream, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(bytes);
      total += bytes.length;
      if (total > maxBytes) throw new CommandError(`${what} is larger than ${maxBytes} bytes`);
    }
    return Buffer.concat(chunks, total);
  } finally {
    for (const chunk of chunks) chunk.fill(0);
  }
}
