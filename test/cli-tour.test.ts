import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { startCliWorld, type CliWorld } from './support/cli.js';
import type { RunResult } from './support/processes.js';
import { valuesAsLaunched } from './support/launch.js';

const PEM = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\r\n\tAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQ==\n-----END OPENSSH PRIVATE KEY-----\n\n';
const UTF8 = '{"пароль": "密码 🔑", "trailing": "  spaces  "}';

function ok(r: RunResult): RunResult {
  expect(r.code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(0);
  return r;
}

function oneLineError(r: RunResult, pattern: RegExp): void {
  expect(r.code).to.not.equal(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).to.have.length(1);
  expect(lines[0]).to.match(/^error: /).and.to.match(pattern);
}

/** Values as the job launcher gets them at a launch (the only way a value ever comes back). */
async function launchValues(world: CliWorld, names: string[]): Promise<Buffer[]> {
  const token = ok(await world.serverCommand(['token', 'mint', '--role', 'service', '--subject', 'svc:job-launcher'])).stdout.trim();
  return valuesAsLaunched(world.server.endpoint, token, 'default', names);
}

describe('the README tour, with vesslctl as a subprocess against vessl-secrets up', function () {
  let world: CliWorld;
  before(async () => {
    world = await startCliWorld();
  });
  after(async () => {
    await world?.stop();
    world?.remove();
  });

  it('logs in with the credentials that `up` wrote', async () => {
    const creds = JSON.parse(readFileSync(path.join(world.dataDir, 'credentials.json'), 'utf8'));
    expect(creds).to.include({ endpoint: world.server.endpoint, org: 'default' });
    expect(Object.keys(creds.tokens)).to.deep.equal(['admin', 'member', 'operator']);
    const login = ok(await world.cli(['auth', 'login', '--credentials', path.join(world.dataDir, 'credentials.json')]));
    expect(login.stdout).to.include('dev-admin');
    expect(ok(await world.cli(['auth', 'status'])).stdout).to.match(/role:\s+admin/);
  });

  it('creates secrets from stdin, from an env var and from a file', async () => {
    ok(await world.cli(['secret', 'create', 'HF_TOKEN', '--from-stdin', '--description', 'Hugging Face hub'], { input: 'hf_tour_value_1' }));
    ok(await world.cli(['secret', 'create', 'wandb', 'WANDB_API_KEY', '--from-env', 'MY_WANDB'], { env: { MY_WANDB: 'wandb_tour_value' } }));
    const file = path.join(world.configDir, '..', 'deploy-key.pem');
    writeFileSync(file, PEM);
    ok(await world.cli(['secret', 'create', 'deploy.key', 'DEPLOY_KEY', '--from-file', file]));
    ok(await world.cli(['secret', 'create', 'UTF8_JSON', '--from-stdin'], { input: Buffer.from(UTF8, 'utf8') }));
  });

  it('lists and shows them, as a table and as JSON, never with a value', async () => {
    const table = ok(await world.cli(['secret', 'list'])).stdout;
    expect(table).to.match(/NAME\s+KEY\s+VERSION/);
    expect(table).to.include('HF_TOKEN').and.include('WANDB_API_KEY').and.include('DEPLOY_KEY');
    const list = JSON.parse(ok(await world.cli(['secret', 'list', '-o', 'json'])).stdout);
    expect(list.map((s: { name: string }) => s.name)).to.deep.equal(['HF_TOKEN', 'UTF8_JSON', 'deploy.key', 'wandb']);
    const shown = JSON.parse(ok(await world.cli(['secret', 'show', 'HF_TOKEN', '--json'])).stdout);
    expect(shown).to.include({ name: 'HF_TOKEN', key: 'HF_TOKEN', description: 'Hugging Face hub', version: 1, state: 'active' });
    expect(shown).to.have.keys('org', 'name', 'uid', 'key', 'description', 'version', 'state', 'createTime', 'updateTime', 'valueUpdateTime', 'deleteTime', 'createBy', 'updateBy', 'deleteBy', 'valueFingerprint', 'envVarFit', 'usedBy', 'usedByWorkspaces');
    expect(shown).to.include({ deleteTime: null, deleteBy: '', envVarFit: 'ok' }); // every field, also when empty
    expect(shown.usedBy).to.deep.equal([]);
    expect(shown.usedByWorkspaces).to.deep.equal([]);
    expect(ok(await world.cli(['secret', 'show', 'HF_TOKEN', '-o', 'yaml'])).stdout).to.match(/^name: HF_TOKEN$/m);
  });

  it('stores every value byte for byte (multi-line PEM, UTF-8 JSON)', async () => {
    const [hf, wandb, pem, utf8] = await launchValues(world, ['HF_TOKEN', 'wandb', 'deploy.key', 'UTF8_JSON']);
    expect(hf.toString()).to.equal('hf_tour_value_1');
    expect(wandb.toString()).to.equal('wandb_tour_value');
    expect(pem.equals(Buffer.from(PEM))).to.equal(true);
    expect(utf8.equals(Buffer.from(UTF8, 'utf8'))).to.equal(true);
  });

  it('rotates a value and renames a key', async () => {
    const rotated = JSON.parse(ok(await world.cli(['secret', 'update', 'HF_TOKEN', '--from-stdin', '-o', 'json'], { input: 'hf_tour_value_2' })).stdout);
    expect(rotated).to.include({ version: 2 });
    const renamed = JSON.parse(ok(await world.cli(['secret', 'update', 'HF_TOKEN', '--key', 'HUGGING_FACE_HUB_TOKEN', '-o', 'json'])).stdout);
    expect(renamed).to.include({ version: 2, key: 'HUGGING_FACE_HUB_TOKEN' });
    expect((await launchValues(world, ['HF_TOKEN']))[0].toString()).to.equal('hf_tour_value_2');
  });

  it('deletes a secret, lists it only with --include-deleted, and frees its name at once', async () => {
    ok(await world.cli(['secret', 'delete', 'wandb', '--yes']));
    const live = JSON.parse(ok(await world.cli(['secret', 'list', '-o', 'json'])).stdout);
    expect(live.map((s: { name: string }) => s.name)).to.not.include('wandb');
    const all = JSON.parse(ok(await world.cli(['secret', 'list', '--include-deleted', '-o', 'json'])).stdout);
    const deleted = all.find((s: { name: string }) => s.name === 'wandb');
    expect(deleted).to.include({ state: 'deleted', deleteBy: 'dev-admin' });
    expect(deleted.deleteTime).to.be.a('string');
    ok(await world.cli(['secret', 'create', 'wandb', 'WANDB_API_KEY', '--from-stdin'], { input: 'wandb_tour_value_2' }));
    const again = JSON.parse(ok(await world.cli(['secret', 'list', '--include-deleted', '-o', 'json'])).stdout);
    expect(again.filter((s: { name: string }) => s.name === 'wandb')).to.have.length(2);
  });

  it('refetches a stale org key by itself and retries once', async () => {
    const cacheFile = path.join(world.configDir, 'keys.json');
    const cache = JSON.parse(readFileSync(cacheFile, 'utf8'));
    for (const entry of Object.values(cache) as { keyId: string }[]) entry.keyId = 'ok_retiredkey000';
    writeFileSync(cacheFile, JSON.stringify(cache));
    ok(await world.cli(['secret', 'create', 'AFTER_STALE', '--from-stdin'], { input: 'after-stale' }));
    const refreshed = JSON.parse(readFileSync(cacheFile, 'utf8'));
    expect(Object.values(refreshed).map((e) => (e as { keyId: string }).keyId)).to.not.include('ok_retiredkey000');
  });

  it('prints one clear error line and exits non-zero on bad input and denials', async () => {
    oneLineError(await world.cli(['secret', 'create', 'bad name', 'K', '--from-stdin'], { input: 'x' }), /secret\.name: must start with a letter or digit/);
    oneLineError(await world.cli(['secret', 'create', 'HF_TOKEN', '--from-stdin'], { input: 'x' }), /already exists.*ALREADY_EXISTS/);
    oneLineError(await world.cli(['secret', 'show', 'NOPE']), /not found.*NOT_FOUND/);
    oneLineError(await world.cli(['secret', 'create', 'EMPTY', '--from-stdin'], { input: '' }), /empty/i);
    oneLineError(await world.cli(['secret', 'update', 'HF_TOKEN']), /.+/);
    oneLineError(await world.cli(['secret', 'delete', 'HF_TOKEN']), /--yes/);
    const member = JSON.parse(readFileSync(path.join(world.dataDir, 'credentials.json'), 'utf8')).tokens.member;
    oneLineError(await world.cli(['secret', 'delete', 'HF_TOKEN', '--yes'], { env: { VESSLCTL_ACCESS_TOKEN: member } }), /PERMISSION_DENIED/);
    oneLineError(await world.cli(['secret', 'list'], { env: { VESSLCTL_ACCESS_TOKEN: 'not-a-token' } }), /UNAUTHENTICATED|token/);
    oneLineError(await world.cli(['secret', 'list'], { env: { VESSLCTL_ENDPOINT: '127.0.0.1:1' } }), /cannot reach/);
  });

  it('runs a job with --env and --secret as a member, warns about an override on stderr, and masks its log', async () => {
    const member = JSON.parse(readFileSync(path.join(world.dataDir, 'credentials.json'), 'utf8')).tokens.member;
    const env = { VESSLCTL_ACCESS_TOKEN: member };
    const created = ok(
      await world.cli(
        ['job', 'create', '-n', 'cli-job', '-i', 'python:3.12', '--cmd', 'echo "hf=$HUGGING_FACE_HUB_TOKEN key=$WANDB_API_KEY lr=$LR"', '--secret', 'HF_TOKEN', '--secret', 'wandb', '--env', 'WANDB_API_KEY=offline', '--env', 'LR=a=b', '-o', 'json'],
        { env },
      ),
    );
    expect(created.stderr).to.match(/^warning: --env WANDB_API_KEY overrides secret "wandb"/m);
    const job = JSON.parse(created.stdout); // the bare job, as every create prints
    expect(job.attempts[0].secrets.map((s: { envName: string }) => s.envName)).to.deep.equal(['HUGGING_FACE_HUB_TOKEN']);
    let shown = JSON.parse(ok(await world.cli(['job', 'show', job.id, '-o', 'json'], { env })).stdout);
    for (let i = 0; i < 100 && shown.state !== 'succeeded'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      shown = JSON.parse(ok(await world.cli(['job', 'show', job.id, '-o', 'json'], { env })).stdout);
    }
    expect(shown.state).to.equal('succeeded');
    expect(ok(await world.cli(['job', 'logs', job.id], { env })).stdout).to.equal('hf=*** key=offline lr=a=b\n');
    const listed = JSON.parse(ok(await world.cli(['job', 'list', '--secret', 'HF_TOKEN', '-o', 'json'], { env })).stdout);
    expect(listed.map((j: { id: string }) => j.id)).to.include(job.id);
    oneLineError(await world.cli(['job', 'create', '-n', 'x', '-i', 'y', '--cmd', 'true', '--secret', 'NOPE'], { env }), /secret "NOPE" not found.*NOT_FOUND/);
    oneLineError(await world.cli(['job', 'create', '-n', 'x', '-i', 'y', '--cmd', 'true', '--env', 'NOEQUALS'], { env }), /NOEQUALS/);
  });

  it('lets a member list and show but not change secrets', async () => {
    const member = JSON.parse(readFileSync(path.join(world.dataDir, 'credentials.json'), 'utf8')).tokens.member;
    const env = { VESSLCTL_ACCESS_TOKEN: member };
    expect(ok(await world.cli(['secret', 'list'], { env })).stdout).to.include('HF_TOKEN');
    oneLineError(await world.cli(['secret', 'create', 'M', '--from-stdin'], { input: 'x', env }), /PERMISSION_DENIED/);
  });
});
