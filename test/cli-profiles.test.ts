// Profiles of the config file (--profile, VESSLCTL_PROFILE, `config use`) and `auth logout`,
// with vesslctl as a subprocess against vessl-secrets up.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { startCliWorld, type CliWorld } from './support/cli.js';
import type { RunResult } from './support/processes.js';

function ok(r: RunResult): RunResult {
  expect(r.code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(0);
  return r;
}

describe('vesslctl profiles and auth logout', function () {
  let world: CliWorld;
  const credentials = () => path.join(world.dataDir, 'credentials.json');
  const status = async (args: string[] = [], env?: NodeJS.ProcessEnv) =>
    JSON.parse(ok(await world.cli(['auth', 'status', '-o', 'json', ...args], { env })).stdout) as { profile: { value: string; source: string }; role: string };

  before(async () => {
    world = await startCliWorld({ logLevel: 'warn' });
    ok(await world.cli(['auth', 'login', '--credentials', credentials()]));
    ok(await world.cli(['auth', 'login', '--credentials', credentials(), '--role', 'member', '--profile', 'mem']));
  });
  after(async () => {
    await world?.stop();
    world?.remove();
  });

  it('keeps each profile\'s login apart: the default one unless --profile or VESSLCTL_PROFILE names another', async () => {
    expect(await status()).to.deep.include({ role: 'admin', profile: { value: 'default', source: 'default' } });
    expect(await status(['--profile', 'mem'])).to.deep.include({ role: 'member', profile: { value: 'mem', source: 'flag' } });
    expect(await status([], { VESSLCTL_PROFILE: 'mem' })).to.deep.include({ role: 'member', profile: { value: 'mem', source: 'env' } });
  });

  it('switches the profile in use with `config use`, and back to default', async () => {
    ok(await world.cli(['config', 'use', 'mem']));
    expect(await status()).to.deep.include({ role: 'member', profile: { value: 'mem', source: 'config' } });
    const shown = JSON.parse(ok(await world.cli(['config', 'show', '-o', 'json'])).stdout);
    expect(shown).to.include({ profile: 'mem', org: 'default', caCert: '' });
    expect(shown.profiles).to.deep.equal(['default', 'mem']);
    ok(await world.cli(['config', 'use', 'default']));
    expect((await status()).role).to.equal('admin');
  });

  it('refuses a profile that has no settings, naming the ones there are (exit 2)', async () => {
    const r = await world.cli(['config', 'use', 'staging']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal('error: no profile "staging" (profiles: default, mem): create it with `vesslctl auth login --profile staging`\n');
  });

  it('reads a config file written before profiles as the default profile', async () => {
    const file = path.join(world.configDir, 'config.json');
    const top = JSON.parse(readFileSync(file, 'utf8'));
    expect(top).to.have.property('token').that.is.a('string');
    expect(top).to.have.property('endpoint', world.server.endpoint);
  });

  it('logs out of one profile: its token goes, its endpoint stays, the other profiles are untouched', async () => {
    const out = JSON.parse(ok(await world.cli(['auth', 'logout', '--profile', 'mem', '-o', 'json'])).stdout);
    expect(out).to.include({ removed: true });
    const after = await world.cli(['secret', 'list', '--profile', 'mem']);
    expect(after.code).to.equal(4);
    expect(after.stderr).to.match(/^error: no token/);
    const shown = JSON.parse(ok(await world.cli(['config', 'show', '--profile', 'mem', '-o', 'json'])).stdout);
    expect(shown).to.include({ token: '', endpoint: world.server.endpoint });
    expect((await status()).role).to.equal('admin');
    const again = JSON.parse(ok(await world.cli(['auth', 'logout', '--profile', 'mem', '-o', 'json'])).stdout);
    expect(again).to.include({ removed: false });
  });

  it('warns that VESSLCTL_ACCESS_TOKEN still applies after a logout', async () => {
    const r = ok(await world.cli(['auth', 'logout'], { env: { VESSLCTL_ACCESS_TOKEN: 'from-env' } }));
    expect(r.stderr).to.equal('warning: VESSLCTL_ACCESS_TOKEN is set and still applies: unset it too\n');
    expect(r.stdout).to.match(/^Logged out: the token is removed from /);
  });
});
