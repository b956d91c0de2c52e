import { CommandError } from './errors.js';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A time given on the command line: a duration back from now (30s, 15m, 2h, 7d) or an RFC 3339
 * time (2026-03-01T12:00:00Z, or a date, 2026-03-01, meaning its midnight UTC).
 */
export function parseTimeFlag(flag: string, text: string, now = Date.now()): Date {
  const ago = /^(\d+)([smhd])$/.exec(text);
  if (ago) return new Date(now - Number(ago[1]) * UNIT_MS[ago[2]]);
  if (/^\d{4}-\d\d-\d\d([T ][\d:.]+(Z|[+-]\d\d:\d\d))?$/.test(text)) {
    const time = Date.parse(text);
    if (!Number.isNaN(time)) return new Date(time);
  }
  throw new CommandError(`--${flag} "${text}" must be a duration back from now (30s, 15m, 2h, 7d) or an RFC 3339 time (2026-03-01T12:00:00Z)`);
}
