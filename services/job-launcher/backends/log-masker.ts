import { ExactFormScanner, WrappedBase64Scanner } from './form-scanners.js';
import { maskForms } from './mask-patterns.js';

export { MIN_MASKED_VALUE_LENGTH, maskForms, maskPatterns } from './mask-patterns.js';

/**
 * Masks secret values in a job's output before it is written anywhere (DESIGN §5).
 *
 * Every occurrence of a form of a value becomes `***`: the value itself, each line of a
 * multi-line value, and its base64 and base64url encodings, padded or not, alone or inside a
 * longer encoded text, wrapped at 64 columns or more or not (mask-patterns.ts and
 * form-scanners.ts say exactly). A value shorter than 4 bytes is not masked, nor is a shorter
 * line. Literal matching cannot catch a value transformed any other way (hex, reversed, split
 * by other characters, wrapped narrower than 64 columns).
 *
 * Matching runs on the byte stream with automata that keep their state from push to push, so a
 * form split across chunks is still caught. `push` holds back only the bytes that could still
 * begin a form (the longest suffix that is the beginning of one; for a base64 form, across a
 * wrap's line break) and returns the rest, so output flows: a line that cannot begin a form
 * comes out at once, whatever the length of the values. The output does not depend on how the
 * input was chunked: one `***` replaces each run of masked bytes (occurrences that overlap or
 * touch make one run). Memory is bounded by the forms: what is held back is never longer than
 * the longest form plus the line breaks inside it.
 */

/** What a masked run of bytes is replaced with. */
export const MASK = Buffer.from('***', 'latin1');

const NOTHING = Buffer.alloc(0);

export class LogMasker {
  /** Undefined when no value is long enough to mask: output then passes through. */
  private scanners: { exact: ExactFormScanner; base64: WrappedBase64Scanner } | undefined;
  /** Input not yet returned: it may be the start of a form. */
  private readonly held = new ByteQueue();
  /** Stream offsets: of the first byte not yet returned, and after the last byte pushed. */
  private returned = 0;
  private received = 0;
  private readonly runs = new MaskedRuns();
  /** Whether the last byte returned was masked (so a run continuing or touching it adds no `***`). */
  private lastReturnedMasked = false;
  private ended = false;

  constructor(values: readonly Uint8Array[]) {
    const exact: Buffer[] = [];
    const base64: Buffer[] = [];
    for (const value of values) {
      const forms = maskForms(value);
      exact.push(...forms.exact);
      base64.push(...forms.base64);
    }
    if (exact.length > 0) this.scanners = { exact: new ExactFormScanner(exact), base64: new WrappedBase64Scanner(base64) };
    // The automata hold copies: these need not linger on the heap.
    for (const form of [...exact, ...base64]) form.fill(0);
  }

  /** Masks what can be decided so far; returns the bytes that are safe to write. */
  push(chunk: Uint8Array): Buffer {
    if (this.ended) throw new Error('LogMasker.push after end()');
    if (chunk.length === 0) return NOTHING;
    // A copy: what is held back must not change if the caller reuses its buffer.
    const input = Buffer.from(chunk);
    if (!this.scanners) return input;
    const { exact, base64 } = this.scanners;
    const exactFound: number[] = [];
    const base64Found: number[] = [];
    exact.scan(input, this.received, exactFound);
    base64.scan(input, this.received, base64Found);
    this.addRuns(exactFound, base64Found);
    this.received += input.length;
    this.held.push(input);
    return this.returnUntil(Math.min(exact.heldFrom(this.received), base64.heldFrom(this.received)));
  }

  /**
   * Returns everything held back now, masking the runs already found, and keeps scanning: for
   * interactive output (a terminal), where a keystroke's echo cannot wait for the next byte. A
   * form split across a flush is masked from the flush on only.
   */
  flush(): Buffer {
    if (this.ended) return NOTHING;
    return this.returnUntil(this.received);
  }

  /** Masks and returns everything held back, then forgets the values. */
  end(): Buffer {
    if (this.ended) return NOTHING;
    const rest = this.returnUntil(this.received);
    this.ended = true;
    // The automata hold the values and their encodings: drop them with the attempt.
    this.scanners?.exact.clear();
    this.scanners?.base64.clear();
    this.scanners = undefined;
    return rest;
  }

  /** Adds two lists of (start, end) pairs, each in the order they end, in the order they end. */
  private addRuns(a: number[], b: number[]): void {
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      if (j === b.length || (i < a.length && a[i + 1] <= b[j + 1])) {
        this.runs.add(a[i], a[i + 1]);
        i += 2;
      } else {
        this.runs.add(b[j], b[j + 1]);
        j += 2;
      }
    }
  }

  /** Returns the input up to stream offset `cut`, each masked run in it as one `***`. */
  private returnUntil(cut: number): Buffer {
    const out: Buffer[] = [];
    while (this.returned < cut) {
      const run = this.runs.first();
      if (run && run.start <= this.returned) {
        const stop = Math.min(run.end, cut);
        if (!this.lastReturnedMasked) out.push(MASK);
        this.lastReturnedMasked = true;
        this.held.take(stop - this.returned);
        this.returned = stop;
        if (run.end <= cut) this.runs.dropFirst();
      } else {
        const stop = run ? Math.min(run.start, cut) : cut;
        this.held.take(stop - this.returned, out);
        this.lastReturnedMasked = false;
        this.returned = stop;
      }
    }
    return out.length === 0 ? NOTHING : Buffer.concat(out);
  }
}

interface Run {
  start: number;
  end: number;
}

/**
 * The masked runs not yet returned, sorted, merged when they overlap or touch. Occurrences are
 * added in the order they end, so only the last runs can merge with a new one.
 */
class MaskedRuns {
  private runs: Run[] = [];
  private head = 0;

  add(start: number, end: number): void {
    while (this.runs.length > this.head) {
      const last = this.runs[this.runs.length - 1];
      if (last.end < start) break;
      start = Math.min(start, last.start);
      this.runs.pop();
    }
    this.runs.push({ start, end });
  }

  first(): Run | undefined {
    return this.runs[this.head];
  }

  dropFirst(): void {
    this.head++;
    // Amortized: copying happens only once half the array is dead.
    if (this.head * 2 >= this.runs.length) {
      this.runs = this.runs.slice(this.head);
      this.head = 0;
    }
  }
}

/** Bytes in arrival order, taken from the front. */
class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0;
  /** Bytes already taken from chunks[head]. */
  private taken = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  /** Removes the first `count` bytes, appending them to `into` when given. */
  take(count: number, into?: Buffer[]): void {
    while (count > 0) {
      const chunk = this.chunks[this.head];
      const size = Math.min(count, chunk.length - this.taken);
      into?.push(chunk.subarray(this.taken, this.taken + size));
      count -= size;
      this.taken += size;
      if (this.taken === chunk.length) this.dropFirst();
    }
  }

  private dropFirst(): void {
    this.head++;
    this.taken = 0;
    if (this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
