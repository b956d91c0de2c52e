export const OUTPUT_FORMATS = ['table', 'json', 'yaml', 'name'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Columns separated by two spaces, padded to the widest cell; no trailing spaces. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export type FieldValue = string | number | string[] | null | undefined;

/**
 * "label  value" lines with aligned values; rows without a value (null, '' or an empty list) are
 * left out. A list value takes one line per item, later lines indented under the first.
 */
export function formatFields(fields: Array<[string, FieldValue]>): string {
  const shown = fields.filter(
    (field): field is [string, string | number | string[]] => field[1] !== undefined && field[1] !== null && field[1] !== '' && !(Array.isArray(field[1]) && field[1].length === 0),
  );
  const width = Math.max(0, ...shown.map(([label]) => label.length));
  const indent = ' '.repeat(width + 3);
  return shown
    .map(([label, value]) => {
      const [first, ...rest] = Array.isArray(value) ? value : [String(value)];
      return [`${`${label}:`.padEnd(width + 1)}  ${first}`, ...rest.map((line) => `${indent}${line}`)].join('\n');
    })
    .join('\n');
}

/**
 * A time for people: relative ("5m ago") when stdout is a terminal, else RFC 3339 without
 * milliseconds (2025-01-02T15:04:05Z), which scripts and pipes get; '' when unset. JSON always
 * carries the full RFC 3339 time.
 */
export const formatTime = (iso: string | null | undefined, now = Date.now()) =>
  !iso ? '' : process.stdout.isTTY ? relativeTime(iso, now) : iso.replace(/\.\d+Z$/, 'Z');

/** "just now", "42s ago", "5m ago", "3h ago", "2d ago"; a date after 30 days (in the future: "in 5m"). */
export function relativeTime(iso: string, now: number): string {
  const ms = now - Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  if (Math.abs(ms) >= 30 * DAY_MS) return iso.slice(0, 10);
  if (Math.abs(ms) < 1000) return 'just now';
  const text = formatDuration(Math.abs(ms), 1);
  return ms > 0 ? `${text} ago` : `in ${text}`;
}

const DAY_MS = 86_400_000;
const UNITS: Array<[string, number]> = [
  ['d', DAY_MS],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/** "1h 5m", "42s", "0s": the largest unit, then (with parts 2) the next one if it is not zero. */
export function formatDuration(ms: number, parts = 2): string {
  const first = UNITS.findIndex(([, size]) => ms >= size);
  if (first === -1) return '0s';
  return UNITS.slice(first, first + parts)
    .map(([unit, size], i) => [unit, Math.floor((i === 0 ? ms : ms % UNITS[first + i - 1][1]) / size)] as const)
    .filter(([, count], i) => i === 0 || count > 0)
    .map(([unit, count]) => `${count}${unit}`)
    .join(' ');
}

/** One line, at most `max` characters, for table cells holding free text. */
export function truncateCell(text: string | undefined, max = 50): string {
  const flat = (text ?? '').replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
