// vesslctl installed like a real CLI: the packed tarball (scripts/pack-cli.ts) installed with
// `npm install --global` into a temporary prefix, run from outside the repository.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { packCli } from '../scripts/pack-cli.js';
import { startCliWorld, type CliWorld } from './support/cli.js';

const exec = promisify(execFile);

describe('vesslctl installed from its npm package (make install)', function () {
  let world: CliWorld;
  let prefix: string;
  /** PATH with the prefix's bin and node, nothing of the repository. */
  let env: NodeJS.ProcessEnv;
  const vesslctl = (args: string[], extra: NodeJS.ProcessEnv = {}) => exec('vesslctl', args, { env: { ...env, ...extra }, cwd: prefix });

  before(async () => {
    world = await startCliWorld({ logLevel: 'warn' });
    prefix = mkdtempSync(path.join(tmpdir(), 'vesslctl-prefix-'));
    const tarball = packCli();
    // --offline: the package has no dependencies, so nothing may be downloaded.
    await exec('npm', ['install', '--global', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, tarball], {
      env: { ...process.env, npm_config_cache: path.join(prefix, '.npm-cache') },
    });
    env = { PATH: `${path.join(prefix, 'bin')}:${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: path.join(prefix, 'home'), VESSLCTL_CONFIG_DIR: path.join(prefix, 'config') };
  });
  after(async () => {
    await world?.stop();
    world?.remove();
    if (prefix) rmSync(prefix, { recursive: true, force: true });
  });

  it('puts vesslctl on PATH, which says its own name and version', async () => {
    const { stdout } = await vesslctl(['--version']);
    expect(stdout).to.match(/^vesslctl\/\d+\.\d+\.\d+ /);
  });

  it('logs in and lists secrets against a live server', async () => {
    await vesslctl(['auth', 'login', '--credentials', path.join(world.dataDir, 'credentials.json')]);
    await vesslctl(['secret', 'create', 'INSTALLED', '--value', 'from-the-installed-cli']);
    const { stdout } = await vesslctl(['secret', 'list', '-o', 'name']);
    expect(stdout).to.equal('INSTALLED\n');
    const help = await vesslctl(['help', 'secret', 'list']);
    expect(help.stdout).to.include('USAGE');
  });

  it('starts from the V8 code cache it was packed with', async () => {
    const loader = path.join(prefix, 'lib', 'node_modules', 'vesslctl', 'dist', 'vesslctl', 'loader.cjs');
    const { stdout } = await exec(process.execPath, ['-e', `process.stdout.write(String(require(${JSON.stringify(loader)}).loadBundle().usedCodeCache))`], { env });
    expect(stdout).to.equal('true');
  });
});
