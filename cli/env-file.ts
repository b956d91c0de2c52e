// Reads a .env file the way the `dotenv` package does, but keeps where each entry is.
// Loaded lazily by `secret import` (command modules load at start-up).
import dotenv from 'dotenv';
import { CommandError } from './errors.js';

/** One KEY=VALUE of a .env file. */
export interface EnvFileEntry {
  /** The 1-based line the KEY is on (a multi-line value continues on later lines). */
  line: number;
  key: string;
  /** The value exactly as dotenv.parse gives it (quotes removed, \n and \r expanded in "..."). */
  value: string;
  /** The line of a later entry with the same KEY: dotenv keeps that one, so this one is ignored. */
  overriddenBy?: number;
}

export interface EnvFile {
  /** Every entry in file order, overridden ones included. */
  entries: EnvFileEntry[];
  /** Lines that hold something but no entry (dotenv skips them silently). */
  ignoredLines: number[];
}

/**
 * dotenv's grammar: the LINE expression of its default (non-`fast`) parse, copied verbatim
 * but for the `d` flag, which gives the offset of the key (a match may begin with blank lines,
 * and `export\s+` may span a line break). `scanEnvFile` checks its result against
 * dotenv.parse of the whole file, so a change in dotenv cannot go unnoticed.
 */
const DOTENV_LINE =
  /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/dgm;

/** Blank lines and comments: nothing to import, nothing to warn about. */
const NOTHING = /^\s*(?:#.*)?$/;

/**
 * Finds every entry of a .env file with its line. Each entry's value comes from dotenv.parse
 * of that entry's own text (which dotenv reads exactly as it reads it within the file); the
 * entries, last one winning, must then equal dotenv.parse of the whole file.
 */
export function scanEnvFile(source: string): EnvFile {
  const text = source.replace(/\r\n?/g, '\n'); // as dotenv does, before matching
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const lineAt = (offset: number) => upperBound(lineStarts, offset);

  const entries: EnvFileEntry[] = [];
  const covered = new Set<number>();
  const lastLine = new Map<string, EnvFileEntry>();
  for (const match of text.matchAll(DOTENV_LINE)) {
    const key = match[1];
    const start = match.indices![1][0];
    const line = lineAt(start);
    const end = lineAt(Math.max(start, match.index + match[0].length - 1));
    for (let l = line; l <= end; l++) covered.add(l);
    const parsed: Record<string, string> = dotenv.parse(match[0]);
    const entry: EnvFileEntry = { line, key, value: Object.hasOwn(parsed, key) ? parsed[key] : '' };
    const previous = lastLine.get(key);
    if (previous) previous.overriddenBy = line;
    lastLine.set(key, entry);
    entries.push(entry);
  }
  checkAgainstDotenv(text, lastLine);

  const lines = text.split('\n');
  const ignoredLines = lines.flatMap((content, i) => (covered.has(i + 1) || NOTHING.test(content) ? [] : [i + 1]));
  return { entries, ignoredLines };
}

/** The scan must find what dotenv finds: the same keys, with the same values. */
function checkAgainstDotenv(text: string, last: Map<string, EnvFileEntry>): void {
  const expected: Record<string, string> = dotenv.parse(text);
  const keys = Object.keys(expected);
  // "__proto__" cannot be an own key of dotenv's result; it is not a valid secret name anyway.
  const scanned = [...last.keys()].filter((key) => key !== '__proto__');
  const same = keys.length === scanned.length && scanned.every((key) => Object.hasOwn(expected, key) && expected[key] === last.get(key)!.value);
  if (!same) {
    throw new CommandError('cannot tell which line each entry of the file is on: this version of dotenv reads .env files differently than vesslctl expects; please report it');
  }
}

/** The 1-based index of the last element <= offset (line starts are sorted). */
function upperBound(sorted: number[], offset: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
