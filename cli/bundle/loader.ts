// Loads vesslctl's bundle (dist/vesslctl/vesslctl.cjs) the way Node's require() loads a CommonJS
// module, but compiled with V8's code cache (vesslctl.cjs.v8cache, written by
// scripts/build-cli.ts after a training run): compiling the bundle's JavaScript, up front and then
// function by function as a command runs, is most of what a cold start spends beyond Node's own
// start-up, and Node 20 has no module.enableCompileCache. Built to dist/vesslctl/loader.cjs
// (CommonJS, as bin/vesslctl.js is); it uses Node's built-ins only.
import { isAscii } from 'node:buffer';
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

/** What the bundle (cli/main.ts) exports. */
export interface VesslctlBundle {
  main(root: string, argv?: string[]): Promise<void>;
}

export interface LoadedBundle {
  exports: VesslctlBundle;
  /** The compiled bundle: its createCachedData() is the code cache. */
  script: Script;
  /** The bundle's build id (its last line, see BUILD_ID_LINE). */
  buildId: string;
  /** Whether a code cache was found for this build and V8 accepted it. */
  usedCodeCache: boolean;
}

const DIR = dirname(fileURLToPath(import.meta.url));
const BUNDLE_FILE = join(DIR, 'vesslctl.cjs');
const CODE_CACHE_FILE = join(DIR, 'vesslctl.cjs.v8cache');
/** The package root (package.json), from dist/vesslctl/. */
export const PACKAGE_ROOT = join(DIR, '..', '..');

/** The bundle's last line: `//# vesslctl-build-id=<SHA-256 of everything before it>`. */
const BUILD_ID_LINE = /\n\/\/# vesslctl-build-id=([0-9a-f]{64})\n?$/;

/** The bundle as build-cli.ts writes it: the source, then the build id line that ties a code cache to it. */
export function withBuildId(source: string): string {
  return `${source}\n//# vesslctl-build-id=${createHash('sha256').update(source).digest('hex')}\n`;
}
/**
 * A cache file is this header line, then V8's data:
 * `vesslctl-v8-code-cache <build id> <SHA-256 of the data>\n`.
 */
const CACHE_MAGIC = 'vesslctl-v8-code-cache';
const HEADER_LENGTH = CACHE_MAGIC.length + 1 + 64 + 1 + 64 + 1;

/** esbuild writes ASCII (build-cli.ts escapes what it leaves): latin1 decodes that fastest. */
function readSource(file: string): string {
  const bytes = readFileSync(file);
  return bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
}

/**
 * V8's data from a cache file, when the file belongs to this build of the bundle and is intact.
 * V8 itself only checks that the data fits its version, its flags and the source's length: a
 * cache of another build, or a damaged one, must never reach it.
 */
function readCodeCache(file: string, buildId: string): Buffer | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return undefined; // no cache: compile from source
  }
  const [magic, cachedBuildId, digest] = data.subarray(0, HEADER_LENGTH - 1).toString('latin1').split(' ');
  if (magic !== CACHE_MAGIC || cachedBuildId !== buildId || data[HEADER_LENGTH - 1] !== 0x0a) return undefined;
  const payload = data.subarray(HEADER_LENGTH);
  return createHash('sha256').update(payload).digest('hex') === digest ? payload : undefined;
}

/** Writes the code cache of a loaded bundle (atomically: a reader sees the old file or the new). */
export function writeCodeCache(bundle: LoadedBundle): void {
  const payload = bundle.script.createCachedData();
  const header = `${CACHE_MAGIC} ${bundle.buildId} ${createHash('sha256').update(payload).digest('hex')}\n`;
  const temporary = `${CODE_CACHE_FILE}.${process.pid}.tmp`;
  writeFileSync(temporary, Buffer.concat([Buffer.from(header, 'latin1'), payload]));
  renameSync(temporary, CODE_CACHE_FILE);
}

/**
 * Compiles and runs the bundle as a CommonJS module, registered in require's cache under its own
 * path so that oclif's require() of it (package.json: commands, hooks) returns this instance.
 * Without a usable code cache (none, another build's, damaged, or refused by V8 for another
 * Node version or flags) the bundle is compiled from source, as require() would.
 */
export function loadBundle(options: { codeCache?: boolean } = {}): LoadedBundle {
  const source = readSource(BUNDLE_FILE);
  const buildId = BUILD_ID_LINE.exec(source.slice(-100))?.[1] ?? '';
  const cachedData = options.codeCache === false || buildId === '' ? undefined : readCodeCache(CODE_CACHE_FILE, buildId);
  // The bundle is a function expression, Node's CommonJS wrapper included (build-cli.ts).
  const script = new Script(source, { filename: BUNDLE_FILE, cachedData });
  const require = createRequire(BUNDLE_FILE);
  const module = new Module(BUNDLE_FILE);
  module.filename = BUNDLE_FILE;
  module.paths = require.resolve.paths('@oclif/core') ?? [];
  require.cache[BUNDLE_FILE] = module;
  try {
    // The bundle's computed import()s (oclif loading its ESM plugins) go through importModule:
    // code compiled by vm.Script cannot import() in Node 20 (build-cli.ts).
    const importModule = (specifier: string) => import(specifier);
    (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, require, module, BUNDLE_FILE, DIR, importModule);
  } catch (err) {
    delete require.cache[BUNDLE_FILE];
    throw err;
  }
  module.loaded = true;
  return { exports: module.exports as VesslctlBundle, script, buildId, usedCodeCache: cachedData !== undefined && !script.cachedDataRejected };
}
