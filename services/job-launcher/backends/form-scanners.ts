import { PatternAutomaton } from './pattern-automaton.js';

/**
 * How the forms of mask-patterns.ts are found in a job's output, a chunk at a time, with the
 * state carried from chunk to chunk (so a form split across chunks is found):
 *
 * - exact forms byte for byte;
 * - base64 forms over the base64 characters, with base64url read as base64 (a form is found in
 *   either alphabet, or a mix of both), passing over the line break (`\n`, `\r\n`) that ends a
 *   line of MIN_WRAPPED_BASE64_COLUMNS base64 characters or more: a wrapped encoding, as printed
 *   by `base64` (76 columns), `base64 -w 64`, `openssl base64` or in a PEM body (64). A form
 *   found across line breaks spans them. Narrower wraps (`fold -w 40`) are not passed over: a
 *   break after a short line is ordinary output, and holding back across it would stall lines
 *   such as `READY\n` whenever their end could begin an encoding.
 */

/** A line break inside a base64 form is passed over only after a line this long. */
export const MIN_WRAPPED_BASE64_COLUMNS = 64;

export interface FormScanner {
  /**
   * Reads `input`, which starts at stream offset `offset`, and appends to `found` a pair
   * (start, end) of stream offsets for each position where a form ends, for the longest form
   * ending there; in the order they end.
   */
  scan(input: Uint8Array, offset: number, found: number[]): void;
  /** Where the bytes read so far that could still begin a form start (`end` when none could). */
  heldFrom(end: number): number;
  /** Zeroes the forms (the scanner finds nothing afterwards). */
  clear(): void;
}

/** Finds the exact forms, byte for byte. */
export class ExactFormScanner implements FormScanner {
  private readonly automaton: PatternAutomaton;
  private state = PatternAutomaton.START;

  constructor(forms: readonly Uint8Array[]) {
    this.automaton = new PatternAutomaton(forms);
  }

  scan(input: Uint8Array, offset: number, found: number[]): void {
    const automaton = this.automaton;
    let state = this.state;
    for (let i = 0; i < input.length; i++) {
      state = automaton.next(state, input[i]);
      const length = automaton.matchLength(state);
      if (length !== 0) found.push(offset + i + 1 - length, offset + i + 1);
    }
    this.state = state;
  }

  heldFrom(end: number): number {
    return end - this.automaton.openLength(this.state);
  }

  clear(): void {
    this.automaton.clear();
  }
}

const LF = 0x0a;
const CR = 0x0d;

/** Each byte as the base64 automaton reads it: base64url folded into base64, -1 for any other byte. */
const BASE64_FOLDED = (() => {
  const table = new Int16Array(256).fill(-1);
  for (const byte of Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=', 'latin1')) table[byte] = byte;
  table[0x2d] = 0x2b; // '-' reads as '+'
  table[0x5f] = 0x2f; // '_' reads as '/'
  return table;
})();

/** Finds the base64 forms, wrapped or not, in either alphabet. */
export class WrappedBase64Scanner implements FormScanner {
  private readonly automaton: PatternAutomaton;
  private state = PatternAutomaton.START;
  /** Base64 characters since the last other byte (capped): a line break inside a form needs enough. */
  private lineColumns = 0;
  /** The last byte was a passed-over `\r`: a `\n` after it belongs to the same line break. */
  private afterCarriageReturn = false;
  /**
   * Stream offsets of the characters the current state stands for (a ring as long as the
   * longest form, `last` the newest). A character read into the start state is not written:
   * the characters of any later state all come after it.
   */
  private readonly positions: Float64Array;
  private last = 0;

  constructor(forms: readonly Uint8Array[]) {
    const folded = forms.map((form) => form.map((byte) => BASE64_FOLDED[byte]));
    this.automaton = new PatternAutomaton(folded);
    for (const form of folded) form.fill(0);
    this.positions = new Float64Array(Math.max(1, this.automaton.longestPattern));
  }

  // One loop with the state in locals: this runs on every byte of every job's output.
  scan(input: Uint8Array, offset: number, found: number[]): void {
    const { automaton, positions } = this;
    let { state, lineColumns, afterCarriageReturn, last } = this;
    for (let i = 0; i < input.length; i++) {
      const byte = input[i];
      const character = BASE64_FOLDED[byte];
      if (character >= 0) {
        afterCarriageReturn = false;
        if (lineColumns < MIN_WRAPPED_BASE64_COLUMNS) lineColumns++;
        state = automaton.next(state, character);
        if (state === PatternAutomaton.START) continue;
        last = last + 1 === positions.length ? 0 : last + 1;
        positions[last] = offset + i;
        const length = automaton.matchLength(state);
        if (length !== 0) found.push(positions[ringIndex(last, length, positions.length)], offset + i + 1);
      } else if (byte === LF && (lineColumns >= MIN_WRAPPED_BASE64_COLUMNS || afterCarriageReturn)) {
        lineColumns = 0;
        afterCarriageReturn = false;
      } else if (byte === CR && lineColumns >= MIN_WRAPPED_BASE64_COLUMNS) {
        lineColumns = 0;
        afterCarriageReturn = true;
      } else {
        // No base64 form holds any other byte.
        state = PatternAutomaton.START;
        lineColumns = 0;
        afterCarriageReturn = false;
      }
    }
    this.state = state;
    this.lineColumns = lineColumns;
    this.afterCarriageReturn = afterCarriageReturn;
    this.last = last;
  }

  heldFrom(end: number): number {
    const open = this.automaton.openLength(this.state);
    return open === 0 ? end : this.positions[ringIndex(this.last, open, this.positions.length)];
  }

  clear(): void {
    this.automaton.clear();
  }
}

/** The index of the `count`-th newest entry of a ring whose newest is at `last`. */
function ringIndex(last: number, count: number, size: number): number {
  const index = last - count + 1;
  return index < 0 ? index + size : index;
}
