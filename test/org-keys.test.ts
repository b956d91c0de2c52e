import { readFileSync } from 'node:fs';
import path from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import sodium from 'libsodium-wrappers';
import { OrgKey_State, type OrgKey, type OrgPublicKey } from '../services/gen/vessl/kms/v1/kms.js';
import { decodeServiceError } from '../services/runtime/errors.js';
import { startCliWorld, type CliWorld } from './support/cli.js';
import { engines } from './support/postgres.js';
import type { RunResult } from './support/processes.js';
import { failure, startTestSystem, type KmsClient, type SecretClient, type TestSystem } from './support/system.js';

// DESIGN §2: org keypairs are rotated by an org admin; the previous private key keeps
// opening sealed values until it is retired. Every change is audited before it commits.

const ORG = 'acme';
const ADMIN = 'ada@acme';

const sealUnder = (key: Pick<OrgPublicKey, 'publicKey' | 'keyId'>, value: string) => ({
  sealedBox: Buffer.from(sodium.crypto_box_seal(Buffer.from(value), key.publicKey)),
  keyId: key.keyId,
});

const STATE_NAMES: Record<number, string> = {
  [OrgKey_State.STATE_PRIMARY]: 'primary',
  [OrgKey_State.STATE_PREVIOUS]: 'previous',
  [OrgKey_State.STATE_RETIRED]: 'retired',
};
const statesOf = (keys: OrgKey[]) => keys.map((k) => [k.keyId, STATE_NAMES[k.state]]);

/** The code name and ErrorInfo reason of a call that must fail. */
async function refusal(call: Promise<unknown>): Promise<{ code: string; reason?: string }> {
  try {
    await call;
  } catch (err) {
    const decoded = decodeServiceError(err as ServiceError);
    return { code: status[decoded.code], reason: decoded.reason };
  }
  throw new Error('expected the call to fail, but it succeeded');
}

for (const engine of engines()) {
  describe(`org key rotation and retirement (${engine.name})`, function () {
    let sys: TestSystem;
    let kms: KmsClient;
    let secrets: SecretClient;
    let counter = 0;
    const uniqueName = () => `ROTATION_${++counter}`;
    const create = (value: { sealedBox: Buffer; keyId: string }, org = ORG, client = secrets) =>
      client.createSecret({ org, secret: { name: uniqueName() }, value });
    const orgKeyRows = (org = ORG) => sys.db('key-management')('kms_org_keys').where({ org }).orderBy('key_id').select('key_id', 'state');

    before(async () => {
      await sodium.ready;
      sys = await startTestSystem({ databaseUrl: await engine.freshUrl(), org: ORG });
      const token = await sys.token('admin', { subject: ADMIN });
      kms = sys.kms(token);
      secrets = sys.secrets(token);
    });
    after(async () => {
      await sys?.stop();
      await engine.cleanup();
    });

    it('accepts values sealed under the old and the new key after a rotation, until the old key is retired', async () => {
      const oldKey = await kms.getOrgPublicKey({ org: ORG });
      const storedBefore = await create(sealUnder(oldKey, 'sealed before the rotation'));

      const rotated = await kms.rotateOrgKey({ org: ORG });
      expect(rotated).to.include({ org: ORG, state: OrgKey_State.STATE_PRIMARY });
      expect(rotated.keyId).to.not.equal(oldKey.keyId);
      const current = await kms.getOrgPublicKey({ org: ORG });
      expect(current.keyId).to.equal(rotated.keyId);
      expect(current.publicKey).to.deep.equal(rotated.publicKey);

      await create(sealUnder(oldKey, 'old key, after the rotation'));
      await create(sealUnder(current, 'new key'));

      const retired = await kms.retireOrgKey({ org: ORG, keyId: oldKey.keyId });
      expect(retired).to.include({ keyId: oldKey.keyId, state: OrgKey_State.STATE_RETIRED });
      expect(retired.retireTime).to.be.instanceOf(Date);

      expect(await refusal(create(sealUnder(oldKey, 'old key, after retirement')))).to.deep.equal({
        code: 'FAILED_PRECONDITION',
        reason: 'ORG_KEY_STALE',
      });
      await create(sealUnder(current, 'new key, after retirement'));

      // Stored secrets live under their own data keys: neither step touched them.
      const launcher = await sys.token('service', { subject: 'svc:job-launcher' });
      const resolved = await sys.secrets(launcher).resolveSecrets({ org: ORG, names: [storedBefore.name] });
      const stored = resolved.secrets.map((r) => ({ secretUid: r.uid, version: r.version, ciphertext: r.ciphertext, wrappedDek: r.wrappedDek, kekVersion: r.kekVersion }));
      const { values } = await sys.kms(launcher).decryptForInjection({ org: ORG, values: stored });
      expect(values.map((v) => v.toString())).to.deep.equal(['sealed before the rotation']);
    });

    it('lists the org keys newest first with their states', async () => {
      const before = (await kms.listOrgKeys({ org: ORG })).keys;
      const rotated = await kms.rotateOrgKey({ org: ORG });
      const { keys } = await kms.listOrgKeys({ org: ORG });
      expect(statesOf(keys)).to.deep.equal([
        [rotated.keyId, 'primary'],
        [before[0].keyId, 'previous'],
        ...statesOf(before.slice(1)),
      ]);
      const times = keys.map((k) => k.createTime!.getTime());
      expect(times).to.deep.equal([...times].sort((a, b) => b - a));
      expect(new Set(times).size).to.equal(times.length);
    });

    it('refuses to retire the primary key or an unknown key, and retiring twice changes nothing', async () => {
      const primary = await kms.getOrgPublicKey({ org: ORG });
      const refused = await failure(kms.retireOrgKey({ org: ORG, keyId: primary.keyId }));
      expect(refused.code).to.equal('FAILED_PRECONDITION');
      expect(refused.message).to.match(/rotate first/);
      expect((await failure(kms.retireOrgKey({ org: ORG, keyId: 'ok_no_such_key' }))).code).to.equal('NOT_FOUND');
      expect((await failure(kms.retireOrgKey({ org: ORG, keyId: '' }))).fields).to.deep.equal(['key_id']);

      const { keys } = await kms.listOrgKeys({ org: ORG });
      const previous = keys.find((k) => k.state === OrgKey_State.STATE_PREVIOUS)!;
      const first = await kms.retireOrgKey({ org: ORG, keyId: previous.keyId });
      const again = await kms.retireOrgKey({ org: ORG, keyId: previous.keyId });
      expect(again).to.deep.equal(first);
    });

    it('leaves exactly one primary key after 10 concurrent rotations', async () => {
      const org = 'rotors';
      const admin = sys.kms(await sys.token('admin', { org, subject: 'rita@rotors' }));
      const first = await admin.getOrgPublicKey({ org });
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => admin.rotateOrgKey({ org })));
      expect(results.map((r) => r.status)).to.deep.equal(Array(10).fill('fulfilled'));
      const rows = await orgKeyRows(org);
      expect(rows.filter((r: { state: string }) => r.state === 'primary')).to.have.length(1);
      expect(rows.filter((r: { state: string }) => r.state === 'previous')).to.have.length(10);
      const primary = await admin.getOrgPublicKey({ org });
      expect(primary.keyId).to.not.equal(first.keyId);
      const rotatedIds = results.map((r) => (r as PromiseFulfilledResult<OrgKey>).value.keyId);
      expect(rotatedIds).to.include(primary.keyId);
      // The rotations ran one after another: each demoted the key the one before made.
      const audit = await sys.db('secret-store')('secret_audit_events').where({ org, action: 'org_key.rotated' }).orderBy('seq');
      const chain = audit.map((e: { details: string }) => JSON.parse(e.details) as { key_id: string; previous_key_id: string });
      expect(chain[0].previous_key_id).to.equal(first.keyId);
      chain.slice(1).forEach((link, i) => expect(link.previous_key_id).to.equal(chain[i].key_id));
      expect(chain[chain.length - 1].key_id).to.equal(primary.keyId);
    });

    it('lets only the org\'s admins rotate, list and retire its keys', async () => {
      const kmsAs = async (role: 'member' | 'operator' | 'admin' | 'service', org: string, subject?: string) =>
        sys.kms(await sys.token(role, { org, subject }));
      await kms.rotateOrgKey({ org: ORG });
      const before = await orgKeyRows();
      const previous = (await kms.listOrgKeys({ org: ORG })).keys[1];
      const callers = [
        ['member', await kmsAs('member', ORG)],
        ['operator', await kmsAs('operator', ORG)],
        ['other-org admin', await kmsAs('admin', 'globex')],
        ['svc:secret-store', await kmsAs('service', '', 'svc:secret-store')],
      ] as const;
      for (const [who, client] of callers) {
        for (const call of [
          client.rotateOrgKey({ org: ORG }),
          client.listOrgKeys({ org: ORG }),
          client.retireOrgKey({ org: ORG, keyId: previous.keyId }),
        ]) {
          expect((await failure(call)).code, who).to.equal('PERMISSION_DENIED');
        }
      }
      expect(await orgKeyRows()).to.deep.equal(before);
    });

    it('records every rotation and retirement in the org audit log', async () => {
      const events = () => sys.db('secret-store')('secret_audit_events').where({ org: ORG }).whereIn('action', ['org_key.rotated', 'org_key.retired']);
      const seen = (await events()).length;
      const previous = await kms.getOrgPublicKey({ org: ORG });
      const rotated = await kms.rotateOrgKey({ org: ORG });
      await kms.retireOrgKey({ org: ORG, keyId: previous.keyId });
      const added = (await events()).slice(seen);
      expect(added.map((e: { action: string; actor: string; details: string }) => ({ action: e.action, actor: e.actor, details: JSON.parse(e.details) }))).to.deep.equal([
        { action: 'org_key.rotated', actor: ADMIN, details: { key_id: rotated.keyId, previous_key_id: previous.keyId } },
        { action: 'org_key.retired', actor: ADMIN, details: { key_id: previous.keyId } },
      ]);
    });

    it('changes nothing and answers UNAVAILABLE when the audit log cannot record the change', async () => {
      await kms.rotateOrgKey({ org: ORG });
      const { keys } = await kms.listOrgKeys({ org: ORG });
      const previous = keys[1];
      const before = await orgKeyRows();
      const auditDb = sys.db('secret-store');
      await auditDb.schema.renameTable('secret_audit_events', 'secret_audit_events_away');
      try {
        expect((await failure(kms.rotateOrgKey({ org: ORG }))).code).to.equal('UNAVAILABLE');
        expect((await failure(kms.retireOrgKey({ org: ORG, keyId: previous.keyId }))).code).to.equal('UNAVAILABLE');
        expect(await orgKeyRows()).to.deep.equal(before);
        expect((await kms.getOrgPublicKey({ org: ORG })).keyId).to.equal(keys[0].keyId);
      } finally {
        await auditDb.schema.renameTable('secret_audit_events_away', 'secret_audit_events');
      }
      expect((await kms.rotateOrgKey({ org: ORG })).state).to.equal(OrgKey_State.STATE_PRIMARY);
    });
  });
}

function ok(r: RunResult): RunResult {
  expect(r.code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(0);
  return r;
}

describe('vesslctl org rotate-key, keys and retire-key', function () {
  let world: CliWorld;
  let otherAdmin: NodeJS.ProcessEnv;
  const cachedKeyId = () => {
    const entries = JSON.parse(readFileSync(path.join(world.configDir, 'keys.json'), 'utf8')) as Record<string, { keyId: string }>;
    return Object.values(entries)[0].keyId;
  };
  const orgKeys = async (env?: NodeJS.ProcessEnv) => JSON.parse(ok(await world.cli(['org', 'keys', '-o', 'json'], { env })).stdout) as { keyId: string; state: string }[];

  before(async () => {
    world = await startCliWorld();
    const credentials = path.join(world.dataDir, 'credentials.json');
    ok(await world.cli(['auth', 'login', '--credentials', credentials]));
    const creds = JSON.parse(readFileSync(credentials, 'utf8')) as { endpoint: string; org: string; tokens: { admin: string } };
    // Another admin, on another machine: their own vesslctl config (and key cache).
    otherAdmin = {
      VESSLCTL_CONFIG_DIR: path.join(world.configDir, '..', 'other-admin'),
      VESSLCTL_ENDPOINT: creds.endpoint,
      VESSLCTL_ACCESS_TOKEN: creds.tokens.admin,
      VESSLCTL_ORG: creds.org,
    };
  });
  after(async () => {
    await world?.stop();
    world?.remove();
  });

  it('refetches the key and retries once when the key it cached was rotated away and retired', async () => {
    ok(await world.cli(['secret', 'create', 'BEFORE_ROTATION', '--from-stdin'], { input: 'before' }));
    const cached = cachedKeyId();

    const rotated = JSON.parse(ok(await world.cli(['org', 'rotate-key', '-o', 'json'], { env: otherAdmin })).stdout) as { keyId: string; state: string };
    expect(rotated.state).to.equal('primary');
    const listed = await orgKeys(otherAdmin);
    expect(listed.map((k) => [k.keyId, k.state])).to.deep.equal([
      [rotated.keyId, 'primary'],
      [cached, 'previous'],
    ]);
    const table = ok(await world.cli(['org', 'keys'], { env: otherAdmin })).stdout;
    expect(table).to.match(/KEY ID\s+STATE\s+CREATED\s+RETIRED/).and.match(new RegExp(`${cached}\\s+previous`));
    ok(await world.cli(['org', 'retire-key', cached, '--yes'], { env: otherAdmin }));

    expect(cachedKeyId()).to.equal(cached);
    ok(await world.cli(['secret', 'create', 'AFTER_RETIREMENT', '--from-stdin'], { input: 'after' }));
    expect(cachedKeyId()).to.equal(rotated.keyId);
  });

  it('switches its own key cache to the new key when it rotates', async () => {
    const rotate = ok(await world.cli(['org', 'rotate-key']));
    expect(rotate.stdout.trim().split('\n')).to.have.length(1);
    const [primary] = await orgKeys();
    expect(rotate.stdout).to.include(primary.keyId);
    expect(cachedKeyId()).to.equal(primary.keyId);
  });

  it('refuses to retire the primary key, or any key without --yes off a terminal, in one line', async () => {
    const [primary, previous] = await orgKeys();
    const refused = await world.cli(['org', 'retire-key', primary.keyId, '--yes']);
    expect(refused.code).to.equal(1);
    expect(refused.stderr.trim().split('\n')).to.have.length(1);
    expect(refused.stderr).to.match(/^error: .*rotate first.*\(FAILED_PRECONDITION\)/);
    const unconfirmed = await world.cli(['org', 'retire-key', previous.keyId]);
    // No terminal to ask on is a usage error (2); the server's refusal above is a "no" (1).
    expect(unconfirmed.code).to.equal(2);
    expect(unconfirmed.stderr).to.match(/^error: refusing to retire an org key without confirmation when not on a terminal: pass --yes\n$/);
    expect((await orgKeys())[1].state).to.equal('previous');
  });
});
