import { expect } from 'chai';
import { LogMasker, MASK, maskPatterns } from './log-masker.js';

/** Job output is masked before it is written: every secret value and its base64 forms. */

const bytes = (text: string) => Buffer.from(text, 'latin1');

function maskAtOnce(values: Uint8Array[], input: Buffer): Buffer {
  const masker = new LogMasker(values);
  return Buffer.concat([masker.push(input), masker.end()]);
}

function maskInChunks(values: Uint8Array[], chunks: Buffer[]): Buffer {
  const masker = new LogMasker(values);
  return Buffer.concat([...chunks.map((chunk) => masker.push(chunk)), masker.end()]);
}

/** An independent reference: mark every byte any pattern covers, one `***` per marked run. */
function maskNaively(values: Uint8Array[], input: Buffer): Buffer {
  const marked = new Array<boolean>(input.length).fill(false);
  for (const pattern of values.flatMap((value) => maskPatterns(value))) {
    for (let at = 0; at + pattern.length <= input.length; at++) {
      if (input.subarray(at, at + pattern.length).equals(pattern)) marked.fill(true, at, at + pattern.length);
    }
  }
  const out: Buffer[] = [];
  for (let i = 0; i < input.length; i++) {
    if (!marked[i]) out.push(input.subarray(i, i + 1));
    else if (i === 0 || !marked[i - 1]) out.push(MASK);
  }
  return Buffer.concat(out);
}

// A value whose base64 forms use every alphabet-specific character: +/ versus -_, and padding.
const binaryValue = Buffer.from([0xfb, 0xff, 0xbf, 0xfe]);
const hunter = 'hunter22';

interface Case {
  name: string;
  values: Uint8Array[];
  input: Buffer;
  expected: Buffer;
}

const cases: Case[] = [
  { name: 'masks a value', values: [bytes(hunter)], input: bytes('password=hunter22\n'), expected: bytes('password=***\n') },
  { name: 'masks every repetition', values: [bytes(hunter)], input: bytes('hunter22 hunter22 x hunter22'), expected: bytes('*** *** x ***') },
  { name: 'makes one mask of touching occurrences', values: [bytes(hunter)], input: bytes('[hunter22hunter22]'), expected: bytes('[***]') },
  { name: 'masks overlapping occurrences of one value', values: [bytes('abab')], input: bytes('x abababab y'), expected: bytes('x *** y') },
  { name: 'masks overlapping occurrences of two values', values: [bytes('abcdef'), bytes('defghi')], input: bytes('-abcdefghi-'), expected: bytes('-***-') },
  { name: 'masks a value that is a prefix of another', values: [bytes('abcd'), bytes('abcdefgh')], input: bytes('abcdefgh abcdxyz'), expected: bytes('*** ***xyz') },
  { name: 'masks a value that is a suffix of another', values: [bytes('efgh'), bytes('abcdefgh')], input: bytes('abcdefgh zefgh'), expected: bytes('*** z***') },
  { name: 'masks the same value given twice', values: [bytes(hunter), bytes(hunter)], input: bytes('a hunter22 b'), expected: bytes('a *** b') },
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

describe('LogMasker', () => {
  describe('masks occurrences', () => {
    for (const c of cases) {
      it(c.name, () => {
        expect(maskAtOnce(c.values, c.input).toString('latin1')).to.equal(c.expected.toString('latin1'));
      });
    }
  });

  describe('gives the same output however the output is chunked', () => {
    for (const c of cases) {
      it(`${c.name}: split in two at every offset, in three at every pair, byte by byte`, () => {
        const expected = c.expected.toString('latin1');
        const { input } = c;
        for (let i = 0; i <= input.length; i++) {
          expect(maskInChunks(c.values, [input.subarray(0, i), input.subarray(i)]).toString('latin1'), `split at ${i}`).to.equal(expected);
          for (let j = i; j <= input.length; j++) {
            const chunks = [input.subarray(0, i), input.subarray(i, j), input.subarray(j)];
            expect(maskInChunks(c.values, chunks).toString('latin1'), `split at ${i}, ${j}`).to.equal(expected);
          }
        }
        const single = [...input].map((byte) => Buffer.from([byte]));
        expect(maskInChunks(c.values, single).toString('latin1'), 'byte by byte').to.equal(expected);
      });
    }
  });

  it('never returns a complete value from push, even when the rest arrives later', () => {
    const masker = new LogMasker([bytes(hunter)]);
    const written = [masker.push(bytes('token: hun')), masker.push(bytes('ter')), masker.push(bytes('22 and hunter2'))];
    expect(Buffer.concat(written).toString('latin1')).to.not.include('hunter22');
    written.push(masker.push(bytes('2!')), masker.end());
    expect(Buffer.concat(written).toString('latin1')).to.equal('token: *** and ***!');
  });

  it('holds back less than the longest pattern', () => {
    const masker = new LogMasker([bytes(hunter)]);
    const longest = Math.max(...maskPatterns(bytes(hunter)).map((pattern) => pattern.length));
    const out = masker.push(bytes('x'.repeat(100)));
    expect(out.length).to.equal(100 - (longest - 1));
    expect(masker.end().length).to.equal(longest - 1);
  });

  it('agrees with a naive reference on random output and random chunking', () => {
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    // A two-letter alphabet makes overlaps and near misses frequent.
    const valueSets = [[bytes('abab')], [bytes('aabba'), bytes('abba')], [bytes('bbbb'), bytes('babbab')], [bytes('YWJh'), bytes('abaab')]];
    for (let round = 0; round < 400; round++) {
      const values = valueSets[round % valueSets.length];
      const alphabet = round % 8 < 4 ? 'ab' : 'abYWJhU=';
      const input = bytes(Array.from({ length: random(60) }, () => alphabet[random(alphabet.length)]).join(''));
      const chunks: Buffer[] = [];
      for (let at = 0; at < input.length; ) {
        const size = random(8);
        chunks.push(input.subarray(at, at + size));
        at += size;
      }
      const context = `values ${values.map(String).join(',')}, input ${input.toString('latin1')}`;
      expect(maskInChunks(values, chunks).toString('latin1'), context).to.equal(maskNaively(values, input).toString('latin1'));
    }
  });

  it('forgets the values at end(): later pushes are refused', () => {
    const masker = new LogMasker([bytes(hunter)]);
    masker.push(bytes('hunter'));
    expect(masker.end().toString('latin1')).to.equal('hunter');
    expect(masker.end().length).to.equal(0);
    expect(() => masker.push(bytes('22'))).to.throw(/after end/);
  });

  it('does not modify the caller’s value', () => {
    const value = bytes(hunter);
    const masker = new LogMasker([value]);
    masker.end();
    expect(value.toString('latin1')).to.equal(hunter);
  });

  describe('maskPatterns', () => {
    it('derives the value and its base64 forms', () => {
      const patterns = maskPatterns(binaryValue).map((pattern) => pattern.toString('latin1'));
      expect(patterns[0]).to.equal(binaryValue.toString('latin1'));
      expect(patterns).to.include.members(['+/+//g==', '+/+//g', '-_-__g==', '-_-__g']);
    });

    for (const length of [0, 1, 2, 3]) {
      it(`derives nothing from a ${length}-byte value`, () => {
        expect(maskPatterns(Buffer.alloc(length, 0x61))).to.deep.equal([]);
      });
    }

    for (const length of [4, 5, 6, 7, 32]) {
      it(`derives patterns of at least 4 bytes from a ${length}-byte value`, () => {
        const patterns = maskPatterns(Buffer.alloc(length, 0x61));
        expect(patterns.length).to.be.greaterThan(1);
        for (const pattern of patterns) expect(pattern.length).to.be.at.least(4);
      });
    }
  });
});
