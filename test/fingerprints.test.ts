import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import sodium from 'libsodium-wrappers';
import { startCliWorld, type CliWorld } from './support/cli.js';
import { engines } from './support/postgres.js';
import type { RunResult } from './support/processes.js';
import { failure, startTestSystem, type SecretClient, type TestSystem } from './support/system.js';

// DESIGN §5: values are fingerprinted with keyed BLAKE2b under a per-org audit key held by
// key-management, so an admin can tell which value a secret (or a job) has without seeing it.

const ORG = 'acme';
const OTHER_ORG = 'globex';
const ADMIN = 'ada@acme';
const HEX_256 = /^[0-9a-f]{64}$/;

interface AuditRow {
  action: string;
  actor: string;
  secret_name: string | null;
  secret_version: number | string | null;
  details: string;
}

for (const engine of engines()) {
  describe(`value fingerprints (${engine.name})`, function () {
    let sys: TestSystem;
    let admin: SecretClient;
    let counter = 0;
    const uniqueName = (prefix = 'FP') => `${prefix}_${++counter}`;
    const create = async (value: string, org = ORG, client = admin) =>
      client.createSecret({ org, secret: { name: uniqueName() }, value: await sys.seal(value, org) });
    const rotate = async (name: string, value: string) =>
      admin.updateSecret({ org: ORG, secret: { name }, value: await sys.seal(value), updateMask: ['value'] });
    const auditOf = async (name: string, action: string): Promise<AuditRow[]> =>
      sys.db('secret-store')('secret_audit_events').where({ org: ORG, secret_name: name, action }).orderBy('seq');

    before(async () => {
      await sodium.ready;
      sys = await startTestSystem({ databaseUrl: await engine.freshUrl(), org: ORG });
      admin = sys.secrets(await sys.token('admin', { subject: ADMIN }));
    });
    after(async () => {
      await sys?.stop();
      await engine.cleanup();
    });

    it('gives a value the same fingerprint every time, also after rotating back to it', async () => {
      const first = await create('same-value');
      expect(first.valueFingerprint).to.match(HEX_256);
      expect((await create('same-value')).valueFingerprint).to.equal(first.valueFingerprint);

      const changed = await rotate(first.name, 'other-value');
      expect(changed.valueFingerprint).to.match(HEX_256).and.not.equal(first.valueFingerprint);
      const back = await rotate(first.name, 'same-value');
      expect(back).to.include({ version: 3, valueFingerprint: first.valueFingerprint });
      expect((await admin.getSecret({ org: ORG, name: first.name })).valueFingerprint).to.equal(first.valueFingerprint);
    });

    it('gives the same value different fingerprints in different orgs, and none a plain hash would', async () => {
      const value = 'shared-between-orgs';
      const other = sys.secrets(await sys.token('admin', { org: OTHER_ORG, subject: 'gus@globex' }));
      const here = await create(value);
      const there = await create(value, OTHER_ORG, other);
      expect(there.valueFingerprint).to.match(HEX_256).and.not.equal(here.valueFingerprint);
      // Keyed: without the org's audit key nobody can compute (or check a guess against) it.
      const unkeyed = [
        Buffer.from(sodium.crypto_generichash(32, Buffer.from(value), null)).toString('hex'),
        createHash('sha256').update(value).digest('hex'),
      ];
      expect(unkeyed).to.not.include(here.valueFingerprint).and.not.include(there.valueFingerprint);
      const audit = await sys.db('key-management')('kms_org_audit_keys').whereIn('org', [ORG, OTHER_ORG]);
      expect(audit).to.have.length(2);
      for (const row of audit) expect(Buffer.from(row.wrapped_key).includes(Buffer.from(value))).to.equal(false);
    });

    it('records fingerprints in the value_rotated and referenced audit events, and drops them on delete', async () => {
      const created = await create('audited-v1');
      const rotated = await rotate(created.name, 'audited-v2');
      const [event] = await auditOf(created.name, 'secret.value_rotated');
      expect(JSON.parse(event.details)).to.include({
        previousVersion: 1,
        fingerprint: rotated.valueFingerprint,
        previousFingerprint: created.valueFingerprint,
      });

      const launcher = sys.secrets(await sys.token('service', { subject: 'svc:job-launcher' }));
      await launcher.resolveSecrets({ org: ORG, names: [created.name], jobId: 'j_fingerprints1', attempt: 1, onBehalfOf: ADMIN });
      const [referenced] = await auditOf(created.name, 'secret.referenced');
      expect(Number(referenced.secret_version)).to.equal(2);
      expect(JSON.parse(referenced.details)).to.include({ job: 'j_fingerprints1', fingerprint: rotated.valueFingerprint });

      const deleted = await admin.deleteSecret({ org: ORG, name: created.name });
      expect(deleted.valueFingerprint).to.equal('');
      const row = await sys.db('secret-store')('secrets').where({ uid: created.uid }).first();
      expect(row.value_fingerprint).to.equal(null);
    });

    it('verifies a candidate value: matches, does not match, and audits each check', async () => {
      const secret = await create('verify-me');
      await rotate(secret.name, 'verify-me-v2');
      const verify = async (value: string, client = admin) => client.verifySecretValue({ org: ORG, name: secret.name, value: await sys.seal(value) });
      expect(await verify('verify-me-v2')).to.deep.equal({ matches: true, version: 2 });
      expect(await verify('verify-me')).to.deep.equal({ matches: false, version: 2 });
      expect(await verify('verify-me-v2\n')).to.deep.equal({ matches: false, version: 2 });
      const checks = await auditOf(secret.name, 'secret.verified');
      expect(checks.map((e) => [e.actor, Number(e.secret_version), JSON.parse(e.details).matches])).to.deep.equal([
        [ADMIN, 2, true],
        [ADMIN, 2, false],
        [ADMIN, 2, false],
      ]);
    });

    it('refuses verification to members, for unknown secrets, and for values that do not open', async () => {
      const secret = await create('refusals');
      const member = sys.secrets(await sys.token('member'));
      const sealed = await sys.seal('refusals');
      expect((await failure(member.verifySecretValue({ org: ORG, name: secret.name, value: sealed }))).code).to.equal('PERMISSION_DENIED');
      expect((await failure(admin.verifySecretValue({ org: ORG, name: 'NO_SUCH_SECRET', value: sealed }))).code).to.equal('NOT_FOUND');
      const garbage = { sealedBox: Buffer.alloc(80, 7), keyId: sealed.keyId };
      expect(await failure(admin.verifySecretValue({ org: ORG, name: secret.name, value: garbage }))).to.include({ code: 'INVALID_ARGUMENT' });
      expect((await failure(admin.verifySecretValue({ org: ORG, name: secret.name, value: garbage }))).fields).to.deep.equal(['value.sealed_box']);
      expect((await failure(admin.verifySecretValue({ org: ORG, name: secret.name }))).fields).to.deep.equal(['value']);
      expect(await auditOf(secret.name, 'secret.verified')).to.have.length(0);
    });

    it('fingerprints a sealed value for the secret store without storing anything', async () => {
      const secret = await create('fingerprint-only');
      const kms = sys.kms(await sys.token('service', { subject: 'svc:secret-store' }));
      const counts = async () => ({
        secrets: (await sys.db('secret-store')('secrets')).length,
        audit: (await sys.db('secret-store')('secret_audit_events')).length,
        orgKeys: (await sys.db('key-management')('kms_org_keys')).length,
        auditKeys: (await sys.db('key-management')('kms_org_audit_keys')).length,
      });
      const before = await counts();
      const { fingerprint } = await kms.fingerprintSealedValue({ org: ORG, ...(await sys.seal('fingerprint-only')) });
      expect(fingerprint.toString('hex')).to.equal(secret.valueFingerprint);
      expect(await counts()).to.deep.equal(before);
    });
  });
}

function ok(r: RunResult): RunResult {
  expect(r.code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(0);
  return r;
}

describe('vesslctl secret verify and the fingerprint in secret show', function () {
  let world: CliWorld;
  before(async () => {
    world = await startCliWorld();
    ok(await world.cli(['auth', 'login', '--credentials', path.join(world.dataDir, 'credentials.json')]));
    ok(await world.cli(['secret', 'create', 'WANDB_API_KEY', '--from-stdin'], { input: 'wandb-value\n' }));
  });
  after(async () => {
    await world?.stop();
    world?.remove();
  });

  it('exits 0 with "matches version N" for the current value, from every value source', async () => {
    const file = path.join(world.configDir, '..', 'candidate.txt');
    writeFileSync(file, 'wandb-value\n');
    for (const [args, opts] of [
      [['--from-stdin'], { input: 'wandb-value\n' }],
      [['--from-file', file], {}],
      [['--from-env', 'CANDIDATE'], { env: { CANDIDATE: 'wandb-value\n' } }],
    ] as const) {
      const r = ok(await world.cli(['secret', 'verify', 'WANDB_API_KEY', ...args], opts));
      expect(r.stdout).to.equal('matches version 1 of secret WANDB_API_KEY\n');
    }
  });

  it('exits 1 with "does not match version N" for another value (also as JSON)', async () => {
    const r = await world.cli(['secret', 'verify', 'WANDB_API_KEY', '--from-stdin'], { input: 'wandb-value' });
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal('does not match version 1 of secret WANDB_API_KEY\n');
    expect(r.stderr).to.equal('');
    const json = await world.cli(['secret', 'verify', 'WANDB_API_KEY', '--from-stdin', '-o', 'json'], { input: 'nope' });
    expect(json.code).to.equal(1);
    expect(JSON.parse(json.stdout)).to.deep.equal({ name: 'WANDB_API_KEY', matches: false, version: 1 });
  });

  it('reports an unknown secret in one line', async () => {
    const r = await world.cli(['secret', 'verify', 'NO_SUCH', '--from-stdin'], { input: 'x' });
    // 3: not found (1 is kept for "does not match": scripts can tell the two apart).
    expect(r.code).to.equal(3);
    expect(r.stderr).to.match(/^error: secret "NO_SUCH" not found .*\(NOT_FOUND\)\n$/);
  });

  it('shows the fingerprint in secret show, and it changes with the value', async () => {
    const shown = ok(await world.cli(['secret', 'show', 'WANDB_API_KEY'])).stdout;
    const fingerprint = /^fingerprint:\s+([0-9a-f]{64})$/m.exec(shown)?.[1];
    expect(fingerprint, shown).to.be.a('string');
    expect(JSON.parse(ok(await world.cli(['secret', 'show', 'WANDB_API_KEY', '-o', 'json'])).stdout).valueFingerprint).to.equal(fingerprint);
    ok(await world.cli(['secret', 'update', 'WANDB_API_KEY', '--from-stdin'], { input: 'wandb-value-2' }));
    const after = JSON.parse(ok(await world.cli(['secret', 'show', 'WANDB_API_KEY', '-o', 'json'])).stdout);
    expect(after.valueFingerprint).to.match(/^[0-9a-f]{64}$/).and.not.equal(fingerprint);
    ok(await world.cli(['secret', 'verify', 'WANDB_API_KEY', '--from-stdin'], { input: 'wandb-value-2' }));
    // The plaintext never shows up in any output of the tour.
    for (const r of world.outputs) expect(`${r.stdout}${r.stderr}`).to.not.include('wandb-value');
  });
});
