import { expect } from 'chai';
import fc from 'fast-check';
import { seededRandom } from '../../../test/support/chaos.js';
import { LogMasker, MASK, maskForms, maskPatterns } from './log-masker.js';
import { LONG_VALUE_MIN_LINE, MAX_MASKED_LINES_PER_VALUE } from './mask-patterns.js';

/**
 * Job output is masked before it is written: every secret value, each line of it, and its base64
 * forms, wrapped or not; and only what could still begin such a form is held back.
 */

const bytes = (text: string) => Buffer.from(text, 'latin1');
const text = (buffer: Buffer) => buffer.toString('latin1');

function maskAtOnce(values: Uint8Array[], input: Buffer): Buffer {
  const masker = new LogMasker(values);
  return Buffer.concat([masker.push(input), masker.end()]);
}

function maskInChunks(values: Uint8Array[], chunks: Buffer[]): Buffer {
  const masker = new LogMasker(values);
  return Buffer.concat([...chunks.map((chunk) => masker.push(chunk)), masker.end()]);
}

/** What `base64` and `openssl base64` print: lines of `columns` characters, each ended by `eol`. */
function wrap(encoded: string, columns: number, eol = '\n'): string {
  const lines: string[] = [];
  for (let at = 0; at < encoded.length; at += columns) lines.push(encoded.slice(at, at + columns));
  return lines.map((line) => line + eol).join('');
}

/** `wrap(encoded)` with encoded characters [from, to) (and the line breaks among them) replaced by `***`. */
function wrapMasked(encoded: string, from: number, to: number, columns: number, eol = '\n'): string {
  const wrapped = wrap(encoded, columns, eol);
  const at = (index: number) => index + Math.floor(index / columns) * eol.length;
  return `${wrapped.slice(0, at(from))}***${wrapped.slice(at(to - 1) + 1)}`;
}

// A value whose base64 forms use every alphabet-specific character: +/ versus -_, and padding.
const binaryValue = Buffer.from([0xfb, 0xff, 0xbf, 0xfe]);
const hunter = 'hunter22';
/** 99 bytes: its base64 (132 characters) is wrapped by `base64` (76) and `openssl base64` (64). */
const token = `hf_${'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789'.repeat(3).slice(0, 96)}`;
/** 96 bytes whose base64 and base64url differ (+/ against -_). */
const binary96 = Buffer.from(Array.from({ length: 96 }, (_, i) => (i * 37 + 251) % 256));
/** 97 bytes: its base64 ends in `==`. */
const binary97 = Buffer.concat([binary96, Buffer.from([0xfa])]);
const pem = ['-----BEGIN PRIVATE KEY-----', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', 'BKcwggSjAgEAAoIBAQC7', '=ab', '-----END PRIVATE KEY-----', ''].join('\n');
const pemCrlf = pem.replace(/\n/g, '\r\n');

interface Case {
  name: string;
  values: Uint8Array[];
  input: Buffer;
  expected: Buffer;
}

const exactCases: Case[] = [
  { name: 'masks a value', values: [bytes(hunter)], input: bytes('password=hunter22\n'), expected: bytes('password=***\n') },
  { name: 'masks every repetition', values: [bytes(hunter)], input: bytes('hunter22 hunter22 x hunter22'), expected: bytes('*** *** x ***') },
  { name: 'makes one mask of touching occurrences', values: [bytes(hunter)], input: bytes('[hunter22hunter22]'), expected: bytes('[***]') },
  { name: 'masks overlapping occurrences of one value', values: [bytes('abab')], input: bytes('x abababab y'), expected: bytes('x *** y') },
  { name: 'masks overlapping occurrences of two values', values: [bytes('abcdef'), bytes('defghi')], input: bytes('-abcdefghi-'), expected: bytes('-***-') },
  { name: 'masks a value that is a prefix of another', values: [bytes('abcd'), bytes('abcdefgh')], input: bytes('abcdefgh abcdxyz'), expected: bytes('*** ***xyz') },
  { name: 'masks a value that is a suffix of another', values: [bytes('efgh'), bytes('abcdefgh')], input: bytes('abcdefgh zefgh'), expected: bytes('*** z***') },
  { name: 'masks the same value given twice', values: [bytes(hunter), bytes(hunter)], input: bytes('a hunter22 b'), expected: bytes('a *** b') },
  { name: 'leaves a 3-byte value alone', values: [bytes('abc')], input: bytes('abc abc YWJj'), expected: bytes('abc abc YWJj') },
  { name: 'leaves an empty value alone', values: [bytes('')], input: bytes('anything'), expected: bytes('anything') },
  { name: 'masks a 4-byte value', values: [bytes('abcd')], input: bytes('abc abcd'), expected: bytes('abc ***') },
  { name: 'passes output through when there are no values', values: [], input: bytes('plain output\n'), expected: bytes('plain output\n') },
  { name: 'passes empty output through', values: [bytes(hunter)], input: bytes(''), expected: bytes('') },
  {
    name: 'masks a binary value inside binary output',
    values: [Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f])],
    input: Buffer.from([0x00, 0x00, 0xff, 0x10, 0x80, 0x7f, 0xff, 0x00, 0xff, 0x10, 0x80]),
    expected: Buffer.concat([Buffer.from([0x00]), MASK, Buffer.from([0xff, 0x00, 0xff, 0x10, 0x80])]),
  },
  { name: 'masks a UTF-8 value', values: [Buffer.from('pässwörd', 'utf8')], input: Buffer.from('«pässwörd»', 'utf8'), expected: Buffer.from('«***»', 'utf8') },
  { name: 'leaves a near miss alone', values: [bytes(hunter)], input: bytes('hunter2 hunter23 hunter 22'), expected: bytes('hunter2 hunter23 hunter 22') },
];

const lineCases: Case[] = [
  // The value's final line break stays in the log: the next line is not joined to the mask.
  { name: 'masks a multi-line value printed whole (cat key.pem), keeping its final line break', values: [bytes(pem)], input: bytes(`key:\n${pem}done\n`), expected: bytes('key:\n***\ndone\n') },
  {
    name: 'masks a value that ends in a line break when printed without it (echo "$(cat f)"), and its base64 either way',
    values: [bytes('ghp_R2d2C3poLuke0Skywalker1Leia2Han3Solo4\n')],
    input: bytes(`raw: ghp_R2d2C3poLuke0Skywalker1Leia2Han3Solo4\nb64: ${Buffer.from('ghp_R2d2C3poLuke0Skywalker1Leia2Han3Solo4').toString('base64')}\nb64n: ${Buffer.from('ghp_R2d2C3poLuke0Skywalker1Leia2Han3Solo4\n').toString('base64')}\nauth: ${Buffer.from('oauth2accesstoken:ghp_R2d2C3poLuke0Skywalker1Leia2Han3Solo4').toString('base64')}\n`),
    expected: bytes('raw: ***\nb64: ***\nb64n: ***\nauth: b2F1dGgyYWNjZXNzdG9rZW46***\n'),
  },
  {
    name: 'masks each line of a multi-line value printed line by line, except lines under 4 bytes',
    values: [bytes(pem)],
    input: bytes(pem.split('\n').map((line) => `> ${line}\n`).join('')),
    expected: bytes('> ***\n> ***\n> ***\n> =ab\n> ***\n> \n'),
  },
  {
    name: 'masks each line of a multi-line value printed with \\r\\n',
    values: [bytes(pem)],
    input: bytes(pemCrlf),
    expected: bytes('***\r\n***\r\n***\r\n=ab\r\n***\r\n'),
  },
  { name: 'masks each line of a value given with \\r\\n line ends', values: [bytes(pemCrlf)], input: bytes(pem), expected: bytes('***\n***\n***\n=ab\n***\n') },
  { name: 'leaves the lines under 4 bytes of a multi-line value alone', values: [bytes('ab\ncd\r\nefgh')], input: bytes('ab cd\r\nefgh'), expected: bytes('ab cd\r\n***') },
];

const base64Cases: Case[] = [
  { name: 'masks standard base64 with padding', values: [binaryValue], input: bytes('b64: +/+//g==\n'), expected: bytes('b64: ***\n') },
  { name: 'masks standard base64 without padding', values: [binaryValue], input: bytes('b64: +/+//g.'), expected: bytes('b64: ***.') },
  { name: 'masks base64url with padding', values: [binaryValue], input: bytes('u=-_-__g=='), expected: bytes('u=***') },
  { name: 'masks base64url without padding', values: [binaryValue], input: bytes('u=-_-__g&x=1'), expected: bytes('u=***&x=1') },
  { name: 'masks base64 of a text value', values: [bytes(hunter)], input: bytes('aHVudGVyMjI=\n'), expected: bytes('***\n') },
  {
    name: 'masks base64 of the value inside a longer encoded text (offset 2)',
    values: [bytes(hunter)],
    input: bytes(`auth: ${bytes(`user:${hunter}`).toString('base64')}\n`), // dXNlcjpodW50ZXIyMg==
    expected: bytes('auth: dXNlcjp***g==\n'),
  },
  {
    name: 'masks base64 of the value inside a longer encoded text (offset 1)',
    values: [bytes(hunter)],
    input: bytes(bytes(`:${hunter}\n`).toString('base64')), // Omh1bnRlcjIyCg==
    expected: bytes('Om***Cg=='),
  },
  {
    name: 'masks base64 of the value followed by a newline (echo | base64)',
    values: [bytes(hunter)],
    input: bytes(bytes(`${hunter}\n`).toString('base64')), // aHVudGVyMjIK
    expected: bytes('***K'),
  },
  { name: 'masks base64 wrapped at 76 columns (base64)', values: [bytes(token)], input: bytes(wrap(bytes(token).toString('base64'), 76)), expected: bytes('***\n') },
  { name: 'masks base64 wrapped at 76 columns with \\r\\n', values: [bytes(token)], input: bytes(wrap(bytes(token).toString('base64'), 76, '\r\n')), expected: bytes('***\r\n') },
  { name: 'masks base64 wrapped at 64 columns (base64 -w 64, openssl base64)', values: [bytes(token)], input: bytes(`x\n${wrap(bytes(token).toString('base64'), 64)}y`), expected: bytes('x\n***\ny') },
  { name: 'masks base64 wrapped at 64 columns with \\r\\n', values: [bytes(token)], input: bytes(wrap(bytes(token).toString('base64'), 64, '\r\n')), expected: bytes('***\r\n') },
  { name: 'masks padded base64 wrapped at 76 columns', values: [binary97], input: bytes(wrap(binary97.toString('base64'), 76)), expected: bytes('***\n') },
  { name: 'masks base64url wrapped at 64 columns', values: [binary96], input: bytes(wrap(binary96.toString('base64url'), 64)), expected: bytes('***\n') },
  { name: 'masks base64 of a binary value wrapped at 76 columns', values: [binary96], input: bytes(wrap(binary96.toString('base64'), 76)), expected: bytes('***\n') },
];

/**
 * `base64 <<< "$PREFIX$TOKEN"`: the prefix puts the token at offset 0, 1 or 2 of a 3-byte group;
 * the characters all of whose bits are the token's are masked, the two it shares with its
 * neighbours are not. [from, to) are those characters in the encoded text.
 */
const embedded = [
  { prefix: 'me:', offset: 0, from: 4, to: 136 },
  { prefix: 'bob:', offset: 1, from: 6, to: 137 },
  { prefix: 'user:', offset: 2, from: 7, to: 138 },
];
const wraps = [
  { columns: 76, eol: '\n' },
  { columns: 64, eol: '\n' },
  { columns: 76, eol: '\r\n' },
  { columns: 64, eol: '\r\n' },
];
const embeddedCases: Case[] = embedded.flatMap(({ prefix, offset, from, to }) =>
  wraps.map(({ columns, eol }) => {
    const encoded = bytes(`${prefix}${token}\n`).toString('base64');
    return {
      name: `masks base64 of the value at offset ${offset} of a longer encoded text wrapped at ${columns} columns with ${JSON.stringify(eol)}`,
      values: [bytes(token)],
      input: bytes(wrap(encoded, columns, eol)),
      expected: bytes(wrapMasked(encoded, from, to, columns, eol)),
    };
  }),
);

/** What literal masking cannot catch: said here so that the documentation can say it too. */
const limitCases: Case[] = [
  { name: 'does not mask the value in hex', values: [bytes(hunter)], input: bytes('68756e7465723232'), expected: bytes('68756e7465723232') },
  { name: 'does not mask the value reversed', values: [bytes(hunter)], input: bytes('22retnuh'), expected: bytes('22retnuh') },
  { name: 'does not mask the value split by other characters', values: [bytes(hunter)], input: bytes('hunt-er22 h u n t e r 2 2'), expected: bytes('hunt-er22 h u n t e r 2 2') },
  {
    name: 'does not mask base64 wrapped narrower than 64 columns (fold -w 40)',
    values: [bytes(token)],
    input: bytes(wrap(bytes(token).toString('base64'), 40)),
    expected: bytes(wrap(bytes(token).toString('base64'), 40)),
  },
];

const cases = [...exactCases, ...lineCases, ...base64Cases, ...embeddedCases, ...limitCases];

/**
 * An independent reference for the whole contract, straight from its definition: mark every
 * byte an occurrence of a form covers, one `***` per marked run. Exact forms are searched in
 * the bytes; base64 forms in the base64 characters (base64url read as base64), where any other
 * byte interrupts the text except `\r` or `\n` after 64 base64 characters, or `\n` right after
 * such a `\r` (the line break of a wrapped encoding).
 */
function maskNaively(values: Uint8Array[], input: Buffer): Buffer {
  const marked = new Uint8Array(input.length);
  const view = base64View(input);
  for (const value of values) {
    const forms = maskForms(value);
    for (const form of forms.exact) {
      for (let at = input.indexOf(form); at !== -1; at = input.indexOf(form, at + 1)) marked.fill(1, at, at + form.length);
    }
    for (const form of forms.base64) {
      const folded = text(form).replace(/-/g, '+').replace(/_/g, '/');
      for (let at = view.text.indexOf(folded); at !== -1; at = view.text.indexOf(folded, at + 1)) {
        marked.fill(1, view.positions[at], view.positions[at + folded.length - 1] + 1);
      }
    }
  }
  const out: Buffer[] = [];
  for (let i = 0; i < input.length; i++) {
    if (!marked[i]) out.push(input.subarray(i, i + 1));
    else if (i === 0 || !marked[i - 1]) out.push(MASK);
  }
  return Buffer.concat(out);
}

const BASE64_CHARACTER = /[A-Za-z0-9+/=_-]/;

function base64View(input: Buffer): { text: string; positions: number[] } {
  const isBase64 = (i: number) => i >= 0 && BASE64_CHARACTER.test(String.fromCharCode(input[i]));
  const passed = new Uint8Array(input.length);
  let viewText = '';
  const positions: number[] = [];
  for (let i = 0; i < input.length; i++) {
    const char = String.fromCharCode(input[i]);
    if (isBase64(i)) {
      viewText += char === '-' ? '+' : char === '_' ? '/' : char;
      positions.push(i);
      continue;
    }
    const afterWrappedLine = i >= 64 && Array.from({ length: 64 }, (_, back) => isBase64(i - 1 - back)).every(Boolean);
    if ((char === '\r' || char === '\n') && afterWrappedLine) passed[i] = 1;
    else if (char === '\n' && i > 0 && input[i - 1] === 0x0d && passed[i - 1]) passed[i] = 1;
    else {
      viewText += ' ';
      positions.push(i);
    }
  }
  return { text: viewText, positions };
}

/** A deterministic one-line value of `length` bytes that does not begin with any end of `READY\n`. */
function valueOfLength(length: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const value = Buffer.from(Array.from({ length }, () => 0x0b + Math.floor(random() * 245)));
  value[0] = 0x53; // 'S'
  return value;
}

describe('LogMasker', () => {
  it(`masks each line of a value of over ${MAX_MASKED_LINES_PER_VALUE} lines from ${LONG_VALUE_MIN_LINE} bytes on, wherever it is, and always the whole value`, () => {
    const line = (i: number) => (i % 2 === 0 ? `l${String(i).padStart(5, '0')}` : `long-line-${String(i).padStart(8, '0')}`);
    const value = Buffer.from(Array.from({ length: 3 * MAX_MASKED_LINES_PER_VALUE }, (_, i) => line(i)).join('\n'));
    const { exact } = maskForms(value);
    expect(exact).to.have.length(1 + (3 * MAX_MASKED_LINES_PER_VALUE) / 2);
    expect(exact[0].equals(value)).to.equal(true);
    const masker = new LogMasker([value]);
    const printed = Buffer.from(`${line(2999)} ${line(2998)}\n`);
    expect(Buffer.concat([masker.push(Buffer.concat([value, Buffer.from('\n'), printed])), masker.end()]).toString()).to.equal(`***\n*** ${line(2998)}\n`);
  });

  describe('masks occurrences', () => {
    for (const c of cases) {
      it(c.name, () => {
        expect(text(maskAtOnce(c.values, c.input))).to.equal(text(c.expected));
        expect(text(maskNaively(c.values, c.input)), 'the reference agrees with the table').to.equal(text(c.expected));
      });
    }
  });

  describe('gives the same output however the output is chunked', () => {
    for (const c of cases) {
      const inThree = c.input.length <= 64;
      it(`${c.name}: split in two at every offset${inThree ? ', in three at every pair' : ''}, byte by byte`, () => {
        const expected = text(c.expected);
        const { input } = c;
        for (let i = 0; i <= input.length; i++) {
          expect(text(maskInChunks(c.values, [input.subarray(0, i), input.subarray(i)])), `split at ${i}`).to.equal(expected);
          for (let j = i; inThree && j <= input.length; j++) {
            const chunks = [input.subarray(0, i), input.subarray(i, j), input.subarray(j)];
            expect(text(maskInChunks(c.values, chunks)), `split at ${i}, ${j}`).to.equal(expected);
          }
        }
        const single = [...input].map((byte) => Buffer.from([byte]));
        expect(text(maskInChunks(c.values, single)), 'byte by byte').to.equal(expected);
      });
    }
  });

  describe('holds back only what could still begin a form', () => {
    for (const length of [20, 2048, 64 * 1024]) {
      it(`returns a pushed line at once, complete, with a ${length}-byte value injected`, () => {
        const value = valueOfLength(length, length);
        const masker = new LogMasker([value]);
        expect(text(masker.push(bytes('READY\n')))).to.equal('READY\n');
        expect(text(masker.push(bytes('step 1 loss 0.93\n')))).to.equal('step 1 loss 0.93\n');
        const rest = Buffer.concat([masker.push(Buffer.concat([bytes('key '), value, bytes('\n')])), masker.end()]);
        expect(text(rest)).to.equal('key ***\n');
      });
    }

    it('holds back a prefix of a value at the end of a push, and masks it when the rest arrives', () => {
      const masker = new LogMasker([bytes(hunter)]);
      expect(text(masker.push(bytes('token: hunt')))).to.equal('token: ');
      expect(text(masker.push(bytes('er')))).to.equal('');
      expect(text(masker.push(bytes('22\nnext\n')))).to.equal('***\nnext\n');
    });

    it('returns a held prefix once the following bytes show it begins no form', () => {
      const masker = new LogMasker([bytes(hunter)]);
      expect(text(masker.push(bytes('hunter2')))).to.equal('');
      expect(text(masker.push(bytes('3\n')))).to.equal('hunter23\n');
    });

    it('holds back the first line of a wrapped encoding, line break included, until the next shows it is the value', () => {
      const [first, second] = wrap(bytes(token).toString('base64'), 76).split('\n');
      const masker = new LogMasker([bytes(token)]);
      expect(text(masker.push(bytes(`${first}\n`)))).to.equal('');
      expect(text(masker.push(bytes(`${second}\n`)))).to.equal('***\n');
    });

    it('returns a masked value at once when nothing more could extend it', () => {
      const masker = new LogMasker([bytes(hunter)]);
      expect(text(masker.push(bytes('hunter22')))).to.equal('***');
      expect(text(masker.push(bytes('hunter22')))).to.equal('', 'a touching occurrence adds no mask');
      expect(text(masker.end())).to.equal('');
    });

    it('never returns a complete value from push, even when the rest arrives later', () => {
      const masker = new LogMasker([bytes(hunter)]);
      const written = [masker.push(bytes('token: hun')), masker.push(bytes('ter')), masker.push(bytes('22 and hunter2'))];
      expect(text(Buffer.concat(written))).to.not.include('hunter22');
      written.push(masker.push(bytes('2!')), masker.end());
      expect(text(Buffer.concat(written))).to.equal('token: *** and ***!');
    });
  });

  describe('stays linear and bounded with a 64 KiB value and 10 MB of output', () => {
    const value = valueOfLength(64 * 1024, 7);
    const longestForm = Math.max(...maskPatterns(value).map((form) => form.length));
    const breaks = 2 * Math.ceil(longestForm / 64);

    it('holds back no more than the longest form while output keeps beginning one', () => {
      // Each piece is most of the value: the masker must hold it, then let it go.
      const piece = value.subarray(0, 60 * 1024);
      const masker = new LogMasker([value]);
      let pushed = 0;
      let returned = 0;
      let mostHeld = 0;
      while (pushed < 10_000_000) {
        returned += masker.push(piece).length;
        pushed += piece.length;
        mostHeld = Math.max(mostHeld, pushed - returned);
      }
      returned += masker.end().length;
      expect(returned).to.equal(pushed);
      expect(mostHeld).to.be.at.least(piece.length - 1).and.at.most(longestForm + breaks);
    });

    it('masks every occurrence in 10 MB pushed in uneven chunks', () => {
      const random = seededRandom(11);
      const lines = Array.from({ length: 1000 }, (_, i) => bytes(`step ${i} loss ${(1 / (i + 1)).toFixed(6)} lr 3e-4\n`));
      const noise = Buffer.concat(lines);
      const shown = [value, bytes(wrap(value.toString('base64'), 76)), bytes(wrap(value.toString('base64url'), 64, '\r\n'))];
      const input: Buffer[] = [];
      const expected: Buffer[] = [];
      for (let i = 0, length = 0; length < 10_000_000; i++) {
        input.push(noise, bytes('[secret] '), shown[i % shown.length], bytes('\n'));
        length += noise.length + 10 + shown[i % shown.length].length;
        expected.push(noise, bytes('[secret] '), MASK, bytes(i % shown.length === 0 ? '\n' : i % shown.length === 1 ? '\n\n' : '\r\n\n'));
      }
      const whole = Buffer.concat(input);
      const chunks: Buffer[] = [];
      for (let at = 0; at < whole.length; ) {
        const size = 1 + Math.floor(random() * 96 * 1024);
        chunks.push(whole.subarray(at, at + size));
        at += size;
      }
      expect(whole.length).to.be.at.least(9_000_000);
      expect(maskInChunks([value], chunks).equals(Buffer.concat(expected))).to.equal(true);
    });
  });

  describe('matches its definition on random values, output and chunking', () => {
    const STAR = 0x2a;
    // Values never hold '*': then a form found in the output cannot have been made by a mask.
    const value = fc.oneof(
      fc.uint8Array({ maxLength: 120 }).map((raw) => Buffer.from(raw.map((byte) => (byte === STAR ? 0 : byte)))),
      fc.string({ unit: fc.constantFrom(...'ab+/-_=\n\r'.split('')), maxLength: 40 }).map(bytes),
      fc.string({ unit: fc.constantFrom(...'abcd0123 \n'.split('')), minLength: 40, maxLength: 140 }).map(bytes),
    );
    const display = fc.record({
      valueIndex: fc.nat(),
      form: fc.constantFrom('raw', 'line', 'base64', 'base64url'),
      lineIndex: fc.nat(),
      prefix: fc.uint8Array({ maxLength: 5 }),
      suffix: fc.uint8Array({ maxLength: 3 }),
      padded: fc.boolean(),
      columns: fc.constantFrom(0, 64, 76),
      eol: fc.constantFrom('\n', '\r\n'),
    });
    // No base64 character: forms cannot assemble across a separator.
    const separator = fc.string({ unit: fc.constantFrom(...' .;:#\t\n\r'.split('')), maxLength: 6 }).map((noise) => ` ${noise}`);
    const chunkSizes = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 });

    type Display = typeof display extends fc.Arbitrary<infer T> ? T : never;
    function show(values: Buffer[], d: Display): Buffer {
      const shown = values[d.valueIndex % values.length];
      if (d.form === 'raw') return shown;
      if (d.form === 'line') {
        const lines = text(shown).split('\n');
        const line = d.lineIndex % lines.length;
        // As printed by `while read -r line` on a \r\n text: the \r goes with the line break.
        return bytes(line < lines.length - 1 ? lines[line].replace(/\r$/, '') : lines[line]);
      }
      let encoded = Buffer.concat([d.prefix, shown, d.suffix]).toString(d.form);
      if (!d.padded) encoded = encoded.replace(/=+$/, '');
      return bytes(d.columns === 0 ? encoded : wrap(encoded, d.columns, d.eol));
    }

    function chunk(input: Buffer, sizes: number[]): Buffer[] {
      const chunks: Buffer[] = [];
      for (let at = 0, i = 0; at < input.length; i++) {
        const size = sizes[i % sizes.length];
        chunks.push(input.subarray(at, at + size));
        at += size;
      }
      return chunks;
    }

    it('the same output as one push, as the reference, and no form left', () => {
      fc.assert(
        fc.property(fc.array(value, { minLength: 1, maxLength: 3 }), fc.array(fc.tuple(display, separator), { maxLength: 6 }), chunkSizes, (values, shown, sizes) => {
          const input = Buffer.concat(shown.flatMap(([d, sep]) => [show(values, d), bytes(sep)]));
          const atOnce = maskAtOnce(values, input);
          expect(text(maskInChunks(values, chunk(input, sizes))), 'chunked').to.equal(text(atOnce));
          expect(text(atOnce), 'reference').to.equal(text(maskNaively(values, input)));
          const unwrapped = text(atOnce).replace(/[\r\n]/g, '');
          for (const v of values) {
            const forms = maskForms(v);
            for (const form of forms.exact) expect(atOnce.includes(form), `exact form ${JSON.stringify(text(form))}`).to.equal(false);
            for (const form of forms.base64) expect(unwrapped.includes(text(form)), `base64 form ${text(form)}`).to.equal(false);
          }
        }),
        { numRuns: 300 },
      );
    });

    it('agrees with the reference where values overlap and nearly match (two-letter alphabets)', () => {
      const valueSets = [[bytes('abab')], [bytes('aabba'), bytes('abba')], [bytes('bbbb'), bytes('babbab')], [bytes('YWJh'), bytes('abaab')]];
      fc.assert(
        fc.property(fc.constantFrom(...valueSets), fc.string({ unit: fc.constantFrom(...'abYWJhU=\n'.split('')), maxLength: 80 }), chunkSizes, (values, output, sizes) => {
          const input = bytes(output);
          expect(text(maskInChunks(values, chunk(input, sizes)))).to.equal(text(maskNaively(values, input)));
        }),
        { numRuns: 500 },
      );
    });
  });

  it('forgets the values at end(): later pushes are refused', () => {
    const masker = new LogMasker([bytes(hunter)]);
    masker.push(bytes('hunter'));
    expect(text(masker.end())).to.equal('hunter');
    expect(masker.end().length).to.equal(0);
    expect(() => masker.push(bytes('22'))).to.throw(/after end/);
  });

  it('does not modify the caller’s value', () => {
    const value = bytes(hunter);
    const masker = new LogMasker([value]);
    masker.end();
    expect(text(value)).to.equal(hunter);
  });

  it('does not depend on the caller’s buffer once push returns', () => {
    const masker = new LogMasker([bytes(hunter)]);
    const reused = bytes('hunter');
    masker.push(reused);
    reused.fill(0x78);
    expect(text(Buffer.concat([masker.push(bytes('22')), masker.end()]))).to.equal('***');
  });

  describe('maskForms', () => {
    it('derives the value, its lines, and its base64 forms', () => {
      const forms = maskForms(bytes('line one\r\nab\nline three'));
      expect(forms.exact.map(text)).to.deep.equal(['line one\r\nab\nline three', 'line one', 'line three']);
      expect(maskForms(binaryValue).base64.map(text)).to.include.members(['+/+//g==', '+/+//g', '-_-__g==', '-_-__g']);
    });

    for (const length of [0, 1, 2, 3]) {
      it(`derives nothing from a ${length}-byte value`, () => {
        expect(maskForms(Buffer.alloc(length, 0x61))).to.deep.equal({ exact: [], base64: [] });
        expect(maskPatterns(Buffer.alloc(length, 0x61))).to.deep.equal([]);
      });
    }

    for (const length of [4, 5, 6, 7, 32]) {
      it(`derives forms of at least 4 bytes from a ${length}-byte value`, () => {
        const patterns = maskPatterns(Buffer.alloc(length, 0x61));
        expect(patterns.length).to.be.greaterThan(1);
        for (const pattern of patterns) expect(pattern.length).to.be.at.least(4);
      });
    }
  });
});
