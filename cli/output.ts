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

/** An RFC 3339 time without milliseconds, e.g. 2025-01-02T15:04:05Z; '' when unset. */
export const formatTime = (iso: string | null | undefined) => (iso ? iso.replace(/\.\d+Z$/, 'Z') : '');

/** One line, at most `max` characters, for table cells holding free text. */
export function truncateCell(text: string | undefined, max = 50): string {
  const flat = (text ?? '').replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
