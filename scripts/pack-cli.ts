// Packs vesslctl as an npm package of its own, installable without this repository:
//   node --import tsx scripts/pack-cli.ts        (after `make build`; `make pack-cli` runs both)
// writes dist/vesslctl-package/ and packs it into dist/vesslctl-VERSION.tgz. The package is the
// bundle (dist/vesslctl/: one CommonJS file with oclif, grpc-js and the commands, its loader and
// V8 code cache), bin/vesslctl.js and a package.json with the oclif section: no dependencies, so
// `npm install -g dist/vesslctl-VERSION.tgz` (what `make install` runs) downloads nothing.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGE_DIR = path.join(ROOT, 'dist', 'vesslctl-package');

interface RootPackage {
  version: string;
  license: string;
  engines: Record<string, string>;
  oclif: Record<string, unknown>;
}

/** The CLI package's package.json: the root's oclif section, its own name, no dependencies. */
export function cliPackageJson(root: RootPackage): Record<string, unknown> {
  return {
    name: 'vesslctl',
    version: root.version,
    description: 'The vessl-secrets command line: org secrets sealed on your machine, injected into jobs.',
    license: root.license,
    // bin/vesslctl.js and the bundle are CommonJS.
    type: 'commonjs',
    engines: root.engines,
    bin: { vesslctl: 'bin/vesslctl.js' },
    files: ['bin/vesslctl.js', 'dist/vesslctl'],
    oclif: root.oclif,
  };
}

/** Writes dist/vesslctl-package/ and packs it; returns the tarball's path. */
export function packCli(): string {
  const root = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as RootPackage;
  rmSync(PACKAGE_DIR, { recursive: true, force: true });
  mkdirSync(path.join(PACKAGE_DIR, 'bin'), { recursive: true });
  writeFileSync(path.join(PACKAGE_DIR, 'package.json'), `${JSON.stringify(cliPackageJson(root), null, 2)}\n`);
  copyFileSync(path.join(ROOT, 'bin', 'vesslctl.js'), path.join(PACKAGE_DIR, 'bin', 'vesslctl.js'));
  cpSync(path.join(ROOT, 'dist', 'vesslctl'), path.join(PACKAGE_DIR, 'dist', 'vesslctl'), { recursive: true });
  const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', path.join(ROOT, 'dist')], { cwd: PACKAGE_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [{ filename }] = JSON.parse(packed) as [{ filename: string }];
  return path.join(ROOT, 'dist', filename);
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) process.stdout.write(`${packCli()}\n`);
