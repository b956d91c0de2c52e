import { expect } from 'chai';
import fc from 'fast-check';
import { PatternAutomaton } from './pattern-automaton.js';

/** The automaton the log masker finds secret forms with: what it knows after each byte, and its cost. */

const bytes = (text: string) => Buffer.from(text, 'latin1');

/** After each byte of `text`: [longest pattern ending there, longest suffix that is a proper prefix of a pattern]. */
function readAll(patterns: string[], text: string): [number, number][] {
  const automaton = new PatternAutomaton(patterns.map(bytes));
  let state = PatternAutomaton.START;
  return [...bytes(text)].map((byte) => {
    state = automaton.next(state, byte);
    return [automaton.matchLength(state), automaton.openLength(state)];
  });
}

/** The same, straight from the definitions. */
function readNaively(patterns: string[], text: string): [number, number][] {
  return [...text].map((_, i) => {
    const read = text.slice(0, i + 1);
    let match = 0;
    let open = 0;
    for (const pattern of patterns.filter((p) => p.length > 0)) {
      if (read.endsWith(pattern)) match = Math.max(match, pattern.length);
      for (let length = Math.min(pattern.length - 1, read.length); length > open; length--) {
        if (read.endsWith(pattern.slice(0, length))) open = length;
      }
    }
    return [match, open];
  });
}

interface Case {
  name: string;
  patterns: string[];
  text: string;
  /** After each byte: longest match, longest open suffix. */
  expected: [number, number][];
}

const cases: Case[] = [
  { name: 'finds a pattern and forgets it when nothing can follow', patterns: ['abc'], text: 'xabcx', expected: [[0, 0], [0, 1], [0, 2], [3, 0], [0, 0]] },
  { name: 'keeps a found pattern open while a longer one can follow', patterns: ['ab', 'abcd'], text: 'abcd', expected: [[0, 1], [2, 2], [0, 3], [4, 0]] },
  { name: 'finds a pattern that ends inside another', patterns: ['abcd', 'bc'], text: 'abcd', expected: [[0, 1], [0, 2], [2, 3], [4, 0]] },
  { name: 'falls back to the longest suffix that can still begin a pattern', patterns: ['aab'], text: 'aaab', expected: [[0, 1], [0, 2], [0, 2], [3, 0]] },
  { name: 'finds overlapping occurrences', patterns: ['aba'], text: 'ababa', expected: [[0, 1], [0, 2], [3, 1], [0, 2], [3, 1]] },
  { name: 'reports the longest of the patterns ending at a byte', patterns: ['cd', 'bcd', 'abcd'], text: 'abcd', expected: [[0, 1], [0, 2], [0, 3], [4, 0]] },
  { name: 'ignores an empty pattern', patterns: ['', 'ab'], text: 'ab', expected: [[0, 1], [2, 0]] },
  { name: 'knows nothing without patterns', patterns: [], text: 'ab', expected: [[0, 0], [0, 0]] },
];

describe('PatternAutomaton', () => {
  for (const c of cases) {
    it(c.name, () => {
      expect(readAll(c.patterns, c.text)).to.deep.equal(c.expected);
      expect(readNaively(c.patterns, c.text), 'the reference agrees with the table').to.deep.equal(c.expected);
    });
  }

  it('agrees with the definitions on random patterns and texts', () => {
    // Two letters make shared prefixes, overlaps and long fallback chains frequent.
    const word = (maxLength: number) => fc.string({ unit: fc.constantFrom('a', 'b'), maxLength });
    fc.assert(
      fc.property(fc.array(word(6), { maxLength: 5 }), word(40), (patterns, text) => {
        expect(readAll(patterns, text)).to.deep.equal(readNaively(patterns, text));
      }),
      { numRuns: 500 },
    );
  });

  it('reads binary patterns and text', () => {
    const automaton = new PatternAutomaton([Buffer.from([0x00, 0xff, 0x00]), Buffer.from([0xff])]);
    const states: number[] = [];
    let state = PatternAutomaton.START;
    for (const byte of [0x00, 0xff, 0x00]) states.push((state = automaton.next(state, byte)));
    expect(states.map((s) => automaton.matchLength(s))).to.deep.equal([0, 1, 3]);
  });

  describe('does work linear in the bytes read, whatever the patterns (10 MB against 64 KiB patterns)', () => {
    const size = 64 * 1024;
    const adversarial: { name: string; patterns: Buffer[]; text: () => Buffer }[] = [
      // Every byte extends the match, then one byte falls back the whole way.
      { name: 'a long run of one byte ending in another', patterns: [Buffer.concat([Buffer.alloc(size - 1, 'a'), bytes('b')])], text: () => Buffer.alloc(10_000_000, 'a') },
      {
        name: 'near misses of a periodic pattern',
        patterns: [bytes('ab'.repeat(size / 2)), bytes(`${'ab'.repeat(size / 4)}c`)],
        text: () => bytes(`${'ab'.repeat(3000)}a`.repeat(1600)),
      },
      {
        name: 'many patterns sharing prefixes',
        patterns: Array.from({ length: 64 }, (_, i) => Buffer.concat([Buffer.alloc(1024, 'x'), Buffer.from([i])])),
        text: () => Buffer.alloc(10_000_000, 'x'),
      },
    ];
    for (const c of adversarial) {
      it(c.name, () => {
        const automaton = new PatternAutomaton(c.patterns);
        const text = c.text();
        expect(text.length).to.be.at.least(9_000_000);
        let state = PatternAutomaton.START;
        for (const byte of text) state = automaton.next(state, byte);
        expect(automaton.lookups).to.be.at.most(2 * text.length);
      });
    }
  });

  it('zeroes every table on clear()', () => {
    const automaton = new PatternAutomaton([bytes('hunter22')]);
    automaton.clear();
    let state = PatternAutomaton.START;
    for (const byte of bytes('hunter22')) state = automaton.next(state, byte);
    expect(automaton.matchLength(state)).to.equal(0);
    const tables = Object.values(automaton).filter((field) => field instanceof Uint8Array || field instanceof Int32Array);
    expect(tables).to.not.be.empty;
    for (const table of tables) expect((table as Uint8Array).every((entry) => entry === 0)).to.equal(true);
  });
});
