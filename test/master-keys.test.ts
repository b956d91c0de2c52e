import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Job_State } from '../services/gen/vessl/jobs/v1/jobs.js';
import { MasterKey_State } from '../services/gen/vessl/kms/v1/kms.js';
import type { RewrapSecretsResponse } from '../services/gen/vessl/secrets/v1/secrets.js';
import { engines } from './support/postgres.js';
import { failure, startTestSystem, type SecretClient, type TestSystem } from './support/system.js';
import { expectAllDecrypt, seedSecrets } from './support/seed.js';

async function rewrap(sys: TestSystem, batchSize: number): Promise<RewrapSecretsResponse[]> {
  const progress: RewrapSecretsResponse[] = [];
  for await (const p of sys.secrets(await sys.token('operator')).rewrapSecrets({ batchSize })) progress.push(p);
  return progress;
}

const dataKeysOn = async (sys: TestSystem, version: number) =>
  Number((await sys.db('secret-store')('secrets').whereNotNull('wrapped_dek').where({ kek_version: version }).count({ n: '*' }).first())?.n);

for (const engine of engines()) {
  describe(`master key rotation, rewrap and retirement (${engine.name})`, function () {
    let sys: TestSystem;
    let admin: SecretClient;
    let values: Map<string, string>;
    before(async () => {
      sys = await startTestSystem({ databaseUrl: await engine.freshUrl() });
      admin = sys.secrets(await sys.token('admin'));
      values = await seedSecrets(sys, admin, 'pre', 300);
    });
    after(async () => {
      await sys?.stop();
      await engine.cleanup();
    });

    it('rotates to a new primary that new writes use at once', async () => {
      const operator = sys.kms(await sys.token('operator'));
      const rotated = await operator.rotateMasterKey({});
      expect(rotated).to.include({ version: 2, primary: true, state: MasterKey_State.STATE_ENABLED });
      const created = await admin.createSecret({ org: 'acme', secret: { name: 'AFTER_ROTATION' }, value: await sys.seal('after-rotation') });
      values.set('AFTER_ROTATION', 'after-rotation');
      const row = await sys.db('secret-store')('secrets').where({ uid: created.uid }).first();
      expect(row.kek_version).to.equal(2);
      const keyring = JSON.parse(readFileSync(path.join(sys.dataDir, 'master-keyring.json'), 'utf8'));
      expect(keyring.primary).to.equal(2);
      expect(keyring.keys.map((k: { version: number }) => k.version)).to.deep.equal([1, 2]);
    });

    it('lists versions with how many keys each still wraps, and refuses to retire one in use', async () => {
      const operator = sys.kms(await sys.token('operator'));
      const { keys } = await operator.listMasterKeys({});
      const v1 = keys.find((k) => k.version === 1)!;
      // The org's private key and its audit key, and the audit key of the platform chain (its
      // master_key.rotated event is linked under it).
      expect(v1).to.include({ primary: false, wrappedDataKeys: 300, wrappedOrgKeys: 3 });
      expect(keys.find((k) => k.version === 2)).to.include({ primary: true, wrappedDataKeys: 1 });
      const refused = await failure(operator.retireMasterKey({ version: 1 }));
      expect(refused.code).to.equal('FAILED_PRECONDITION');
      expect(refused.message).to.include('3 org key(s) and 300 data key(s)');
    });

    it('rewraps everything under the primary without losing a value, reporting progress', async () => {
      const progress = await rewrap(sys, 70);
      expect(progress[0]).to.include({ kekVersion: 2, orgKeysRewrapped: 3, dataKeysTotal: 300, done: false });
      expect(progress.at(-1)).to.include({ dataKeysRewrapped: 300, done: true });
      expect(progress.length).to.be.at.least(5); // 300 in batches of 70
      expect(await dataKeysOn(sys, 1)).to.equal(0);
      await expectAllDecrypt(sys, values);
      // One summary of the run, in the operators' chain; the orgs' own logs do not record rewraps.
      const rewrapped = () => sys.db('secret-store')('secret_audit_events').where({ action: 'master_key.rewrapped' }).orderBy('seq');
      const audited = (await rewrapped()) as { org: string; details: string }[];
      expect(audited.map((e) => e.org)).to.deep.equal(['_platform']);
      // orgKeys counts the platform chain's audit key too, as orgKeysRewrapped does.
      expect(JSON.parse(audited[0].details)).to.deep.equal({ kekVersion: 2, orgKeys: 3, dataKeys: 300, dataKeysTotal: 300, finished: true });
      // Running it again finds nothing left, and says so once.
      expect((await rewrap(sys, 70)).at(-1)).to.include({ dataKeysTotal: 0, dataKeysRewrapped: 0, done: true });
      const again = (await rewrapped()) as { org: string; details: string }[];
      expect(again).to.have.length(2);
      expect(JSON.parse(again[1].details)).to.include({ dataKeys: 0, finished: true });
    });

    it('rewraps safely when two runs race (as from two replicas)', async () => {
      const operator = sys.kms(await sys.token('operator'));
      await operator.rotateMasterKey({});
      const [a, b] = await Promise.all([rewrap(sys, 25), rewrap(sys, 40)]);
      expect(a.at(-1)!.done && b.at(-1)!.done).to.equal(true);
      // Every key moved exactly once between them: compare-and-swap lets no run overwrite the other.
      expect(a.at(-1)!.dataKeysRewrapped + b.at(-1)!.dataKeysRewrapped).to.equal(301);
      expect(await dataKeysOn(sys, 2)).to.equal(0);
      await expectAllDecrypt(sys, values);
    });

    it('refuses to retire a version that a live replica still reports as its primary, until that report ages out', async () => {
      // A replica that has not synced since the rotation to version 3 still wraps with 2.
      const replicas = sys.db('key-management')('kms_replicas');
      await replicas.clone().insert({ replica_id: 'lagging-replica', primary_version: 2, reported_at: Date.now() });
      const refused = await failure(sys.kms(await sys.token('operator')).retireMasterKey({ version: 2 }));
      expect(refused.code).to.equal('FAILED_PRECONDITION');
      expect(refused.message).to.match(/master key version 2 is still the primary of a running key-management replica/);
      expect((await sys.kms(await sys.token('operator')).listMasterKeys({})).keys.find((k) => k.version === 2)!.state).to.equal(MasterKey_State.STATE_ENABLED);
      await replicas.clone().where({ replica_id: 'lagging-replica' }).update({ reported_at: Date.now() - 60_000 });
    });

    it('retires the old versions once nothing references them, and values still decrypt', async () => {
      await sys.kms(await sys.token('operator')).retireMasterKey({ version: 2 });
      const operator = sys.kms(await sys.token('operator'));
      const retired = await operator.retireMasterKey({ version: 1 });
      expect(retired.state).to.equal(MasterKey_State.STATE_DESTROYED);
      const keyring = JSON.parse(readFileSync(path.join(sys.dataDir, 'master-keyring.json'), 'utf8'));
      expect(keyring.keys.map((k: { version: number }) => k.version)).to.deep.equal([3]);
      await expectAllDecrypt(sys, values);
      expect((await operator.listMasterKeys({})).keys.find((k) => k.version === 1)!.state).to.equal(MasterKey_State.STATE_DESTROYED);
    });

    it('records master key rotations and retirements in the platform audit chain, for operators only', async () => {
      const audit = sys.secrets(await sys.token('operator', { subject: 'otto' }));
      const { events: all } = await audit.listAuditEvents({ org: '_platform' });
      // Every rewrap run above left one summary here too (see the rewrap test).
      const summaries = all.filter((e) => e.action === 'master_key.rewrapped');
      expect(summaries.length).to.be.at.least(2);
      expect(summaries.every((e) => e.details.finished === 'true')).to.equal(true);
      const events = all.filter((e) => e.action !== 'master_key.rewrapped');
      expect(events.map((e) => [e.action, e.details.version])).to.deep.equal([
        ['master_key.rotated', '2'],
        ['master_key.rotated', '3'],
        ['master_key.retired', '2'],
        ['master_key.retired', '1'],
      ]);
      expect(events.every((e) => e.actor === 'test-operator')).to.equal(true);
      expect((await audit.verifyAuditLog({ org: '_platform' })).intact).to.equal(true);
      expect((await failure(sys.secrets(await sys.token('admin')).listAuditEvents({ org: '_platform' }))).code).to.equal('PERMISSION_DENIED');
    });

    const BAD: { what: string; call: () => Promise<unknown>; code: string; field?: string }[] = [
      { what: 'retire version 0', call: async () => sys.kms(await sys.token('operator')).retireMasterKey({ version: 0 }), code: 'INVALID_ARGUMENT', field: 'version' },
      { what: 'retire version -3', call: async () => sys.kms(await sys.token('operator')).retireMasterKey({ version: -3 }), code: 'INVALID_ARGUMENT', field: 'version' },
      { what: 'retire an unknown version', call: async () => sys.kms(await sys.token('operator')).retireMasterKey({ version: 99 }), code: 'NOT_FOUND' },
      { what: 'retire the primary', call: async () => sys.kms(await sys.token('operator')).retireMasterKey({ version: 3 }), code: 'FAILED_PRECONDITION' },
      { what: 'rotate as an org admin', call: async () => sys.kms(await sys.token('admin')).rotateMasterKey({}), code: 'PERMISSION_DENIED' },
      { what: 'list as a member', call: async () => sys.kms(await sys.token('member')).listMasterKeys({}), code: 'PERMISSION_DENIED' },
      { what: 'rewrap as an org admin', call: async () => rewrap(sys, 10).catch((err) => Promise.reject(err)), code: 'PERMISSION_DENIED' },
      {
        what: 'rewrap with a batch of 5000',
        call: async () => {
          for await (const _ of sys.secrets(await sys.token('operator')).rewrapSecrets({ batchSize: 5000 })) void _;
        },
        code: 'INVALID_ARGUMENT',
        field: 'batch_size',
      },
    ];
    for (const row of BAD) {
      it(`refuses to ${row.what} with ${row.code}, changing nothing`, async () => {
        const before = await sys.kms(await sys.token('operator')).listMasterKeys({});
        if (row.what === 'rewrap as an org admin') {
          const got = await failure((async () => {
            for await (const _ of sys.secrets(await sys.token('admin')).rewrapSecrets({ batchSize: 10 })) void _;
          })());
          expect(got.code).to.equal(row.code);
        } else {
          const got = await failure(row.call());
          expect(got.code, got.message).to.equal(row.code);
          if (row.field) expect(got.fields).to.include(row.field);
        }
        expect(await sys.kms(await sys.token('operator')).listMasterKeys({})).to.deep.equal(before);
      });
    }
  });

  describe(`rotation under load (${engine.name})`, function () {
    let sys: TestSystem;
    before(async () => {
      sys = await startTestSystem({ databaseUrl: await engine.freshUrl() });
    });
    after(async () => {
      await sys?.stop();
      await engine.cleanup();
    });

    it('keeps creates and job launches working while thousands of secrets are rewrapped; nothing is lost', async () => {
      const admin = sys.secrets(await sys.token('admin'));
      const values = await seedSecrets(sys, admin, 'load', 2000);
      await sys.kms(await sys.token('operator')).rotateMasterKey({});
      let rewrapDone = false;
      const rewrapping = rewrap(sys, 100).then((p) => {
        rewrapDone = true;
        return p;
      });
      const jobs = sys.jobs(await sys.token('member'));
      let creates = 0;
      let launches = 0;
      while (!rewrapDone) {
        const name = `during-${creates}`;
        await admin.createSecret({ org: 'acme', secret: { name, key: 'DURING' }, value: await sys.seal(`during-value-${creates}`) });
        values.set(name, `during-value-${creates}`);
        creates++;
        const { job } = await jobs.createJob({ org: 'acme', job: { name: 'under-load', image: 'x', command: 'test -n "$SEEDED"', secrets: [{ secretName: `load-${launches * 13 % 2000}` }] } });
        expect(job!.attempts[0].secrets).to.have.length(1);
        launches++;
      }
      const progress = await rewrapping;
      expect(progress.at(-1)).to.include({ done: true, dataKeysTotal: 2000 });
      expect(creates).to.be.greaterThan(0);
      expect(await dataKeysOn(sys, 1)).to.equal(0);
      await expectAllDecrypt(sys, values);
      const listed = await jobs.listJobs({ org: 'acme', pageSize: 1000 });
      expect(listed.jobs.every((j) => j.state !== Job_State.STATE_FAILED)).to.equal(true);
    });
  });
}
