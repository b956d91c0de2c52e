import { expect } from 'chai';
import { formatDuration, relativeTime } from '../cli/output.js';

describe('times and durations in vesslctl tables (on a terminal; JSON keeps RFC 3339)', () => {
  const now = Date.parse('2026-03-01T12:00:00.000Z');
  const times: Array<[iso: string, shown: string]> = [
    ['2026-03-01T12:00:00.400Z', 'just now'],
    ['2026-03-01T11:59:18.000Z', '42s ago'],
    ['2026-03-01T11:55:00.000Z', '5m ago'],
    ['2026-03-01T09:00:00.000Z', '3h ago'],
    ['2026-02-27T12:00:00.000Z', '2d ago'],
    ['2026-03-01T12:05:00.000Z', 'in 5m'],
    ['2026-01-01T00:00:00.000Z', '2026-01-01'],
  ];
  for (const [iso, shown] of times) it(`${iso} reads "${shown}"`, () => expect(relativeTime(iso, now)).to.equal(shown));

  const durations: Array<[ms: number, shown: string]> = [
    [0, '0s'],
    [999, '0s'],
    [42_000, '42s'],
    [65_000, '1m 5s'],
    [3_600_000 + 5_000, '1h'],
    [3_900_000, '1h 5m'],
    [2 * 86_400_000 + 3 * 3_600_000, '2d 3h'],
  ];
  for (const [ms, shown] of durations) it(`${ms} ms reads "${shown}"`, () => expect(formatDuration(ms)).to.equal(shown));
});
