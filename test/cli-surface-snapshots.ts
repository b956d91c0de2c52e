// Snapshots of vesslctl's surface: its commands, arguments and flags, and the shape of every
// command's JSON output. Both are checked in; a change to either must be deliberate.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { commandDocs, globalFlagDocs, type FlagDoc } from '../scripts/cli-reference.js';
import { ROOT } from './support/processes.js';

export const SNAPSHOT_DIR = path.join(ROOT, 'test', 'snapshots');
const UPDATE_COMMAND = 'UPDATE_SNAPSHOTS=1 npx mocha --no-config --node-option import=tsx --timeout 60000 --exit test/cli-surface.test.ts';

/**
 * Compares `actual` with test/snapshots/<name>, or rewrites the file with UPDATE_SNAPSHOTS=1.
 * The failure names the file and says how to accept the change.
 */
export function expectSnapshot(name: string, actual: unknown, what: string): void {
  const file = path.join(SNAPSHOT_DIR, name);
  const relative = path.relative(ROOT, file);
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (process.env.UPDATE_SNAPSHOTS === '1') {
    mkdirSync(SNAPSHOT_DIR, { recursive: true });
    writeFileSync(file, text);
    return;
  }
  const howToUpdate = `If the change is intended, run \`${UPDATE_COMMAND}\` and commit ${relative}.`;
  if (!existsSync(file)) expect.fail(`${relative} does not exist. ${howToUpdate}`);
  expect(JSON.parse(text), `${what} differs from ${relative}. ${howToUpdate}`).to.deep.equal(JSON.parse(readFileSync(file, 'utf8')));
}

/** What a script may rely on about a flag; descriptions (prose) are left out to keep churn low. */
function flagSurface(flag: FlagDoc): Record<string, unknown> {
  return {
    name: flag.name,
    ...(flag.char ? { char: flag.char } : {}),
    type: flag.type,
    multiple: flag.multiple,
    required: flag.required,
    ...(flag.options ? { options: [...flag.options] } : {}),
    ...(flag.default !== undefined ? { default: flag.default } : {}),
    ...(flag.min !== undefined ? { min: flag.min } : {}),
  };
}

/** The command surface: per command its id, summary, arguments and flags; the global flags once. */
export function commandSurface(): Record<string, unknown> {
  return {
    globalFlags: globalFlagDocs().map(flagSurface),
    commands: commandDocs().map((doc) => ({
      id: doc.id,
      summary: doc.summary,
      args: doc.args.map((arg) => ({ name: arg.name, required: arg.required, ...(arg.options ? { options: [...arg.options] } : {}) })),
      flags: doc.flags.map(flagSurface),
    })),
  };
}

/** A JSON value's shape: objects keep their keys, arrays one merged element, leaves their type. */
export type Shape = string | Shape[] | { [key: string]: Shape };

export function shapeOf(value: unknown): Shape {
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? [] : [value.map(shapeOf).reduce(mergeShapes)];
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b));
    return Object.fromEntries(entries.map(([key, v]) => [key, shapeOf(v)]));
  }
  return typeof value;
}

/**
 * The union of two shapes: an object has every key either has (a field default-valued in
 * one sample is simply absent there), an array the merged element, differing leaves "a|b".
 */
export function mergeShapes(a: Shape, b: Shape): Shape {
  if (Array.isArray(a) && Array.isArray(b)) {
    const elements = [...a, ...b];
    return elements.length === 0 ? [] : [elements.reduce(mergeShapes)];
  }
  if (isObjectShape(a) && isObjectShape(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort((x, y) => x.localeCompare(y));
    return Object.fromEntries(keys.map((key) => [key, key in a && key in b ? mergeShapes(a[key], b[key]) : (a[key] ?? b[key])]));
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return a;
  const leaves = new Set([...String(a).split('|'), ...String(b).split('|')]);
  return typeof a === 'string' && typeof b === 'string' ? [...leaves].sort().join('|') : `${JSON.stringify(a)}|${JSON.stringify(b)}`;
}

const isObjectShape = (shape: Shape): shape is { [key: string]: Shape } => typeof shape === 'object' && !Array.isArray(shape);

/** Where a shared type sits in a command's output: [] the whole output, '[]' the elements of an array. */
export type ShapePath = Array<string>;

function shapeAt(shape: Shape, at: ShapePath): Shape | undefined {
  let current: Shape | undefined = shape;
  for (const step of at) {
    if (current === undefined) return undefined;
    if (step === '[]') current = Array.isArray(current) ? current[0] : undefined;
    else current = isObjectShape(current) ? current[step] : undefined;
  }
  return current;
}

function withShapeAt(shape: Shape, at: ShapePath, replacement: Shape): Shape {
  if (at.length === 0) return replacement;
  const [step, ...rest] = at;
  if (step === '[]') return Array.isArray(shape) && shape.length > 0 ? [withShapeAt(shape[0], rest, replacement)] : shape;
  if (!isObjectShape(shape) || !(step in shape)) return shape;
  return { ...shape, [step]: withShapeAt(shape[step], rest, replacement) };
}

/**
 * Folds the samples of one result type (a JobJson in `job create`, `job show`, `job list`...)
 * into one shape under `types[name]`, and names it where it occurs. Which optional fields a
 * single output has depends on timing (an attempt's endTime); the union over all does not.
 */
export function foldSharedType(
  commands: Record<string, Shape>,
  types: Record<string, Shape>,
  name: string,
  places: Array<[command: string, at: ShapePath]>,
): void {
  const samples = places.map(([command, at]) => shapeAt(commands[command] ?? {}, at)).filter((shape): shape is Shape => shape !== undefined);
  types[name] = samples.reduce(mergeShapes);
  // The JSON contract: every field of a resource is present in every output (empty, zero or null).
  const fields = isObjectShape(types[name]) ? Object.keys(types[name]).sort() : [];
  places.forEach(([command, at], i) => {
    const sample = samples[i];
    const missing = isObjectShape(sample) ? fields.filter((field) => !(field in sample)) : [];
    if (missing.length > 0) throw new Error(`\`vesslctl ${command}\` -o json leaves out ${name} fields ${missing.join(', ')}${at.length ? ` (at ${at.join('.')})` : ''}`);
  });
  for (const [command, at] of places) if (command in commands) commands[command] = withShapeAt(commands[command], at, name);
}
