/**
 * Masks secret values in a job's output before it is written anywhere.
 *
 * Every occurrence of a value, and of its base64 forms, becomes `***`. Matching is done on
 * the byte stream, so a value split across chunks is still caught: `push` holds back a tail
 * shorter than the longest pattern until the following bytes show whether it starts a match.
 * The output does not depend on how the input was chunked: one `***` replaces each run of
 * masked bytes (occurrences that overlap or touch make one run).
 */

/** What a masked run of bytes is replaced with. */
export const MASK = Buffer.from('***', 'latin1');

/** Shorter values are not masked: masking them would garble ordinary output. */
export const MIN_MASKED_VALUE_LENGTH = 4;

const BASE64_ALPHABETS = ['base64', 'base64url'] as const;

/**
 * The byte strings that give `value` away: the value itself, its base64 encodings (standard
 * and URL-safe, with and without padding), and the characters that encode it whatever its
 * offset inside a longer base64-encoded text (e.g. `base64 <<< "user:$TOKEN"`).
 * Empty for a value shorter than MIN_MASKED_VALUE_LENGTH.
 */
export function maskPatterns(value: Uint8Array): Buffer[] {
  if (value.length < MIN_MASKED_VALUE_LENGTH) return [];
  const raw = Buffer.from(value);
  const encoded = new Set<string>();
  for (const alphabet of BASE64_ALPHABETS) {
    const unpadded = raw.toString(alphabet).replace(/=+$/, '');
    encoded.add(unpadded);
    encoded.add(unpadded.padEnd(Math.ceil(unpadded.length / 4) * 4, '='));
    for (const shift of [0, 1, 2]) encoded.add(embeddedBase64(raw, shift, alphabet));
  }
  return [raw, ...[...encoded].map((text) => Buffer.from(text, 'latin1'))];
}

/**
 * The base64 characters determined by `value` alone when it starts `shift` bytes after a
 * 3-byte boundary of a longer encoded text: those whose 6 bits all come from the value.
 */
function embeddedBase64(value: Buffer, shift: number, alphabet: (typeof BASE64_ALPHABETS)[number]): string {
  const firstBit = 8 * shift;
  const endBit = firstBit + 8 * value.length;
  const text = Buffer.concat([Buffer.alloc(shift), value]).toString(alphabet);
  return text.slice(Math.ceil(firstBit / 6), Math.floor(endBit / 6));
}

interface Interval {
  start: number;
  end: number;
}

export class LogMasker {
  private patterns: Buffer[];
  private longest: number;
  /** Input not yet emitted: it may be the start of an occurrence. */
  private held: Buffer = Buffer.alloc(0);
  /** How many leading bytes of `held` an occurrence already found covers. */
  private heldMaskedPrefix = 0;
  /** Whether the last byte emitted was masked (so a run continuing into this push adds no `***`). */
  private lastEmittedMasked = false;
  private ended = false;

  constructor(values: readonly Uint8Array[]) {
    const patterns: Buffer[] = [];
    for (const value of values) {
      for (const pattern of maskPatterns(value)) {
        if (!patterns.some((known) => known.equals(pattern))) patterns.push(pattern);
      }
    }
    this.patterns = patterns;
    this.longest = Math.max(0, ...this.patterns.map((pattern) => pattern.length));
  }

  /** Masks what can be decided so far; returns the bytes that are safe to write. */
  push(chunk: Uint8Array): Buffer {
    if (this.ended) throw new Error('LogMasker.push after end()');
    if (chunk.length === 0) return Buffer.alloc(0);
    const input = this.held.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.held, chunk]);
    // An occurrence not yet complete ends beyond the input, so it starts after this point.
    return this.emit(input, Math.max(0, input.length - (this.longest - 1)));
  }

  /** Masks and returns everything held back, then forgets the values. */
  end(): Buffer {
    if (this.ended) return Buffer.alloc(0);
    const rest = this.emit(this.held, this.held.length);
    this.ended = true;
    // The patterns are the values and their encodings: drop them with the attempt.
    for (const pattern of this.patterns) pattern.fill(0);
    this.patterns = [];
    this.held = Buffer.alloc(0);
    return rest;
  }

  /** Emits input[0, cut) masked and keeps the rest. */
  private emit(input: Buffer, cut: number): Buffer {
    const runs = this.maskedRuns(input);
    const out: Buffer[] = [];
    let position = 0;
    this.heldMaskedPrefix = 0;
    for (const run of runs) {
      if (run.start >= cut) break;
      if (run.start > position) {
        out.push(input.subarray(position, run.start));
        this.lastEmittedMasked = false;
      }
      if (!(run.start === 0 && this.lastEmittedMasked)) out.push(MASK);
      this.lastEmittedMasked = true;
      position = Math.min(run.end, cut);
      if (run.end > cut) this.heldMaskedPrefix = run.end - cut;
    }
    if (cut > position) {
      out.push(input.subarray(position, cut));
      this.lastEmittedMasked = false;
    }
    this.held = Buffer.from(input.subarray(cut));
    return Buffer.concat(out);
  }

  /** Every occurrence in `input` (plus the prefix already known masked), merged into sorted runs. */
  private maskedRuns(input: Buffer): Interval[] {
    const found: Interval[] = [];
    if (this.heldMaskedPrefix > 0) found.push({ start: 0, end: this.heldMaskedPrefix });
    for (const pattern of this.patterns) {
      for (let at = input.indexOf(pattern); at !== -1; at = input.indexOf(pattern, at + 1)) {
        found.push({ start: at, end: at + pattern.length });
      }
    }
    found.sort((a, b) => a.start - b.start);
    const runs: Interval[] = [];
    for (const next of found) {
      const last = runs[runs.length - 1];
      if (last && next.start <= last.end) last.end = Math.max(last.end, next.end);
      else runs.push({ ...next });
    }
    return runs;
  }
}
