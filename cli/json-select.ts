// --jsonpath: pick values out of a command's JSON output with a JSONPath expression (Goessner's
// syntax, as jsonpath-plus reads it; filters run in its "safe" evaluator, never through eval).
// Loaded only when the flag is given.
import { JSONPath } from 'jsonpath-plus';
import { CommandError } from './errors.js';

/**
 * The lines --jsonpath prints: each match on its own line, a string as it is (so shell loops
 * need no quotes stripped), anything else as compact JSON.
 */
export function selectJson(result: unknown, path: string): string[] {
  // The printed JSON, not the objects: what is selected is exactly what -o json shows.
  const json = JSON.parse(JSON.stringify(result ?? null)) as unknown;
  let matches: unknown[];
  try {
    matches = JSONPath({ path, json: json as object, eval: 'safe', wrap: true }) as unknown[];
  } catch (err) {
    throw new CommandError(`--jsonpath ${path}: ${(err as Error).message}`);
  }
  return matches.map((value) => (typeof value === 'string' ? value : JSON.stringify(value)));
}
