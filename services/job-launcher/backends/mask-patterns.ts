/**
 * What gives a secret value away in a job's log (DESIGN §5), in two kinds of form:
 *
 * - exact: the value, and each line of a multi-line value, found byte for byte;
 * - base64: its base64 and base64url encodings (padded or not), and the characters that encode
 *   it at any offset inside a longer encoded text; found also when wrapped (form-scanners.ts).
 *
 * A value shorter than MIN_MASKED_VALUE_LENGTH yields no form, and so does a shorter line.
 *
 * A value that ends in a line break (a file written by an editor or `echo`, a PEM key) is
 * mostly printed without it (`$(cat f)` drops it): it is masked as the value without that
 * break, which also leaves the break in the log, and encoded both with and without it.
 */

/** Shorter values, and shorter lines of a value, are not masked: that would garble ordinary output. */
export const MIN_MASKED_VALUE_LENGTH = 4;
/**
 * A value of more lines than this has its lines masked one by one only from LONG_VALUE_MIN_LINE
 * bytes: 64 KiB could otherwise hold 13,000 lines of 4 bytes, and building and running the masker
 * of an attempt holding many such values stalls the server (seconds per attempt). Every line
 * that long is masked, and the whole value and its encodings always are.
 */
export const MAX_MASKED_LINES_PER_VALUE = 1000;
export const LONG_VALUE_MIN_LINE = 16;

export interface MaskForms {
  /** The value and each line of it (split on `\n` or `\r\n`) of MIN_MASKED_VALUE_LENGTH bytes or more. */
  exact: Buffer[];
  /** The base64 and base64url texts that encode the value, unwrapped. */
  base64: Buffer[];
}

const BASE64_ALPHABETS = ['base64', 'base64url'] as const;
const LF = 0x0a;
const CR = 0x0d;

export function maskForms(value: Uint8Array): MaskForms {
  if (value.length < MIN_MASKED_VALUE_LENGTH) return { exact: [], base64: [] };
  const raw = Buffer.from(value);
  const trimmed = withoutFinalLineBreak(raw);
  const whole = trimmed.length >= MIN_MASKED_VALUE_LENGTH ? trimmed : raw;
  const all = valueLines(trimmed).filter((line) => line.length >= MIN_MASKED_VALUE_LENGTH);
  const lines = all.length <= MAX_MASKED_LINES_PER_VALUE ? all : all.filter((line) => line.length >= LONG_VALUE_MIN_LINE);
  const encoded: string[] = [];
  for (const bytes of distinct([raw, whole])) {
    for (const alphabet of BASE64_ALPHABETS) {
      const unpadded = bytes.toString(alphabet).replace(/=+$/, '');
      encoded.push(unpadded, unpadded.padEnd(Math.ceil(unpadded.length / 4) * 4, '='));
      for (const shift of [0, 1, 2]) encoded.push(embeddedBase64(bytes, shift, alphabet));
    }
  }
  return { exact: distinct([whole, ...lines]), base64: distinct(encoded.map((text) => Buffer.from(text, 'latin1'))) };
}

/** Every form of `value`, exact ones first (the API the tests and callers have used so far). */
export function maskPatterns(value: Uint8Array): Buffer[] {
  const { exact, base64 } = maskForms(value);
  return [...exact, ...base64];
}

/** The value without one final `\n` or `\r\n`. */
function withoutFinalLineBreak(value: Buffer): Buffer {
  if (value[value.length - 1] !== LF) return value;
  return value.subarray(0, value.length >= 2 && value[value.length - 2] === CR ? -2 : -1);
}

/** The lines of a value: split on `\n`, a `\r` before the `\n` dropped. */
function valueLines(value: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let at = value.indexOf(LF); at !== -1; at = value.indexOf(LF, start)) {
    lines.push(value.subarray(start, at > start && value[at - 1] === CR ? at - 1 : at));
    start = at + 1;
  }
  lines.push(value.subarray(start));
  return lines;
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

function distinct(forms: Buffer[]): Buffer[] {
  const seen = new Set<string>();
  return forms.filter((form) => {
    const key = form.toString('latin1');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
