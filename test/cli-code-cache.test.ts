import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ROOT, run, type RunResult } from './support/processes.js';

/** Commands that need no server: an own command, a flag error, the version (plugins loaded), a mistyped command. */
const INVOCATIONS = [['config', 'show', '-o', 'json'], ['secret', 'list', '--limit', 'x'], ['--version'], ['secret', 'lst']];

/** A copy of the built CLI (bin, package.json, dist/vesslctl) sharing node_modules, with a home of its own. */
function copyOfCli(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'vesslctl-cache-'));
  cpSync(path.join(ROOT, 'bin'), path.join(root, 'bin'), { recursive: true });
  cpSync(path.join(ROOT, 'dist', 'vesslctl'), path.join(root, 'dist', 'vesslctl'), { recursive: true });
  copyFileSync(path.join(ROOT, 'package.json'), path.join(root, 'package.json'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
  mkdirSync(path.join(root, 'home'));
  return root;
}

const envOf = (root: string) => ({ PATH: process.env.PATH, HOME: path.join(root, 'home'), VESSLCTL_CONFIG_DIR: path.join(root, 'home', 'config') });

/** What the copy prints, its own paths replaced by <root>. */
async function outputsOf(root: string): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (const args of INVOCATIONS) {
    const r = await run(path.join(root, 'bin', 'vesslctl.js'), args, { env: envOf(root) });
    results.push(JSON.parse(JSON.stringify(r).replaceAll(root, '<root>')) as RunResult);
  }
  return results;
}

/** Whether the copy's loader gives V8 its cache and V8 takes it. */
async function usesCodeCache(root: string): Promise<boolean> {
  const loader = JSON.stringify(path.join(root, 'dist', 'vesslctl', 'loader.cjs'));
  const r = await run('-e', [`process.stdout.write(String(require(${loader}).loadBundle().usedCodeCache))`], { env: envOf(root) });
  expect(r.code, r.stderr).to.equal(0);
  return r.stdout === 'true';
}

/**
 * vesslctl runs its bundle with V8's code cache (cli/bundle/loader.ts; `make build` writes it).
 * Whatever state the cache file is in, the CLI behaves the same: a cache that does not belong to
 * the bundle, or is damaged, never reaches V8, and the bundle is compiled from source.
 */
describe('vesslctl with its code cache missing, damaged or from another build', function () {
  this.timeout(120_000);
  const roots: string[] = [];
  const copy = () => {
    roots.push(copyOfCli());
    return roots[roots.length - 1];
  };
  after(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

  let expected: RunResult[];
  before(async () => {
    const root = copy();
    expect(await usesCodeCache(root), 'the cache make build wrote').to.equal(true);
    expected = await outputsOf(root);
  });

  const damages: Array<[name: string, damage: (file: string) => void]> = [
    ['missing', (file) => unlinkSync(file)],
    ['empty', (file) => writeFileSync(file, '')],
    ['cut short', (file) => writeFileSync(file, readFileSync(file).subarray(0, 50_000))],
    [
      'changed in one byte of V8 data',
      (file) => {
        const data = readFileSync(file);
        data[data.length >> 1] ^= 0xff;
        writeFileSync(file, data);
      },
    ],
    [
      'written for another build of the bundle',
      (file) => {
        const data = readFileSync(file);
        const newline = data.indexOf(0x0a);
        const [magic, , digest] = data.subarray(0, newline).toString('latin1').split(' ');
        writeFileSync(file, Buffer.concat([Buffer.from(`${magic} ${'0'.repeat(64)} ${digest}`, 'latin1'), data.subarray(newline)]));
      },
    ],
    ['not a cache at all', (file) => writeFileSync(file, 'garbage\n'.repeat(1000))],
  ];
  for (const [name, damage] of damages) {
    it(`compiles from source, and behaves the same, when the cache is ${name}`, async () => {
      const root = copy();
      damage(path.join(root, 'dist', 'vesslctl', 'vesslctl.cjs.v8cache'));
      expect(await usesCodeCache(root)).to.equal(false);
      expect(await outputsOf(root)).to.deep.equal(expected);
    });
  }
});
