import { expect } from 'chai';
import { engines } from './support/postgres.js';
import { describeFailure, failure, startTestSystem, type TestSystem } from './support/system.js';
import { valuesAsLaunched } from './support/launch.js';

/** Reads values back the only way the system allows: as the job launcher would, at launch. */
async function decryptedValues(sys: TestSystem, org: string, names: string[]): Promise<Buffer[]> {
  return valuesAsLaunched(sys.endpoint, await sys.token('service', { subject: 'svc:job-launcher' }), org, names);
}

for (const engine of engines()) {
  describe(`secrets over gRPC (${engine.name})`, function () {
    let sys: TestSystem;
    let admin: string;
    before(async () => {
      sys = await startTestSystem({ databaseUrl: await engine.freshUrl() });
      admin = await sys.token('admin');
    });
    after(async () => {
      await sys?.stop();
      await engine.cleanup();
    });

    it('creates a secret whose value decrypts to exactly what was sealed', async () => {
      const s = sys.secrets(admin);
      const created = await s.createSecret({ org: 'acme', secret: { name: 'HF_TOKEN', key: '', description: 'hub' }, value: await sys.seal('hf_abc123') });
      expect(created).to.include({ org: 'acme', name: 'HF_TOKEN', key: 'HF_TOKEN', version: 1, description: 'hub' });
      expect(created.uid).to.match(/^s_/);
      expect((await decryptedValues(sys, 'acme', ['HF_TOKEN']))[0].toString()).to.equal('hf_abc123');
    });

    it('keeps multi-line PEM and UTF-8 values byte for byte', async () => {
      const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\r\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n';
      const utf8 = 'пароль – 密码 – 🔑 – ä\u0000tail';
      const s = sys.secrets(admin);
      await s.createSecret({ org: 'acme', secret: { name: 'PEM', key: 'TLS_KEY' }, value: await sys.seal(pem) });
      await s.createSecret({ org: 'acme', secret: { name: 'UTF8' }, value: await sys.seal(utf8) });
      const [a, b] = await decryptedValues(sys, 'acme', ['PEM', 'UTF8']);
      expect(a.equals(Buffer.from(pem))).to.equal(true);
      expect(b.equals(Buffer.from(utf8, 'utf8'))).to.equal(true);
    });

    it('rotates the value (version + 1), renames the key and edits the description', async () => {
      const s = sys.secrets(admin);
      await s.createSecret({ org: 'acme', secret: { name: 'WANDB' }, value: await sys.seal('v1') });
      const rotated = await s.updateSecret({ org: 'acme', secret: { name: 'WANDB', key: 'WANDB_API_KEY', description: 'team key' }, value: await sys.seal('v2'), updateMask: ['value', 'key', 'description'] });
      expect(rotated).to.include({ version: 2, key: 'WANDB_API_KEY', description: 'team key' });
      expect((await decryptedValues(sys, 'acme', ['WANDB']))[0].toString()).to.equal('v2');
      const got = await s.getSecret({ org: 'acme', name: 'WANDB' });
      expect(got).to.include({ version: 2, key: 'WANDB_API_KEY' });
    });

    it('soft-deletes: value gone, name free at once, deleted row listed only with show_deleted', async () => {
      const s = sys.secrets(admin);
      await s.createSecret({ org: 'acme', secret: { name: 'DB_URL' }, value: await sys.seal('postgres://old') });
      const deleted = await s.deleteSecret({ org: 'acme', name: 'DB_URL' });
      expect(deleted.deleteTime).to.be.instanceOf(Date);
      expect((await failure(s.getSecret({ org: 'acme', name: 'DB_URL' }))).code).to.equal('NOT_FOUND');
      const row = await sys.db('secret-store')('secrets').where({ uid: deleted.uid }).first();
      expect(row.ciphertext).to.equal(null);
      expect(row.wrapped_dek).to.equal(null);
      const again = await s.createSecret({ org: 'acme', secret: { name: 'DB_URL' }, value: await sys.seal('postgres://new') });
      expect(again.uid).to.not.equal(deleted.uid);
      const live = (await s.listSecrets({ org: 'acme', pageSize: 0, pageToken: '', showDeleted: false })).secrets.filter((x) => x.name === 'DB_URL');
      const all = (await s.listSecrets({ org: 'acme', pageSize: 0, pageToken: '', showDeleted: true })).secrets.filter((x) => x.name === 'DB_URL');
      expect(live).to.have.length(1);
      expect(all).to.have.length(2);
      expect((await failure(decryptedValues(sys, 'acme', ['NOPE']))).code).to.equal('NOT_FOUND');
      expect((await decryptedValues(sys, 'acme', ['DB_URL']))[0].toString()).to.equal('postgres://new');
    });

    it('pages through a listing with page tokens', async () => {
      const s = sys.secrets(admin);
      const sealed = await sys.seal('x');
      for (let i = 0; i < 7; i++) await s.createSecret({ org: 'acme', secret: { name: `page-${i}`, key: 'K' }, value: sealed });
      const seen: string[] = [];
      let pageToken = '';
      do {
        const page = await s.listSecrets({ org: 'acme', pageSize: 3, pageToken, showDeleted: false });
        expect(page.secrets.length).to.be.at.most(3);
        seen.push(...page.secrets.map((x) => x.name));
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(seen.filter((n) => n.startsWith('page-'))).to.deep.equal([0, 1, 2, 3, 4, 5, 6].map((i) => `page-${i}`));
      expect(seen).to.deep.equal([...seen].sort());
    });

    it('answers a repeated listing (its pages kept encoded) exactly as the first, and shows a change at the next listing', async () => {
      const s = sys.secrets(admin);
      const sealed = await sys.seal('x');
      for (let i = 0; i < 5; i++) await s.createSecret({ org: 'acme', secret: { name: `again-${i}`, key: 'K' }, value: sealed });
      const walk = async (showDeleted: boolean) => {
        const pages = [];
        let pageToken = '';
        do {
          const page = await s.listSecrets({ org: 'acme', pageSize: 2, pageToken, showDeleted });
          pages.push(page);
          pageToken = page.nextPageToken;
        } while (pageToken);
        return pages;
      };
      const first = await walk(false);
      expect(await walk(false)).to.deep.equal(first);
      expect(await walk(false)).to.deep.equal(first);
      // Another filter is another listing: its tokens are not the first one's.
      const withDeleted = await walk(true);
      expect(withDeleted[0].nextPageToken).to.not.equal(first[0].nextPageToken);
      await s.updateSecret({ org: 'acme', secret: { name: 'again-3', key: 'RENAMED' }, updateMask: ['key'] });
      const after = (await walk(false)).flatMap((p) => p.secrets);
      expect(after.find((x) => x.name === 'again-3')?.key).to.equal('RENAMED');
      expect(after.map((x) => x.name)).to.deep.equal(first.flatMap((p) => p.secrets).map((x) => x.name));
    });

    it('creates a batch all or nothing, naming the item that failed', async () => {
      const s = sys.secrets(admin);
      const ok = await s.batchCreateSecrets({
        org: 'acme',
        requests: [
          { secret: { name: 'BATCH_A' }, value: await sys.seal('batch-a') },
          { secret: { name: 'batch.b', key: 'BATCH_B' }, value: await sys.seal('batch-b') },
        ],
      });
      expect(ok.secrets.map((x) => [x.name, x.key])).to.deep.equal([['BATCH_A', 'BATCH_A'], ['batch.b', 'BATCH_B']]);
      expect((await decryptedValues(sys, 'acme', ['BATCH_A', 'batch.b'])).map(String)).to.deep.equal(['batch-a', 'batch-b']);
      const count = async () => (await sys.db('secret-store')('secrets').where({ org: 'acme' }).count({ n: '*' }).first())?.n;
      const before = await count();
      const taken = await failure(s.batchCreateSecrets({ org: 'acme', requests: [{ secret: { name: 'BATCH_C' }, value: await sys.seal('c') }, { secret: { name: 'BATCH_A' }, value: await sys.seal('a') }] }));
      expect(taken.code).to.equal('ALREADY_EXISTS');
      expect(taken.message).to.include('"BATCH_A"');
      const garbage = await failure(
        s.batchCreateSecrets({ org: 'acme', requests: [{ secret: { name: 'BATCH_D' }, value: await sys.seal('d') }, { secret: { name: 'BATCH_E' }, value: { ...(await sys.seal('e')), sealedBox: Buffer.alloc(80, 1) } }] }),
      );
      expect(garbage).to.deep.include({ code: 'INVALID_ARGUMENT', fields: ['requests[1].value.sealed_box'] });
      const twice = await failure(s.batchCreateSecrets({ org: 'acme', requests: [{ secret: { name: 'DUP' }, value: await sys.seal('x') }, { secret: { name: 'DUP' }, value: await sys.seal('y') }] }));
      expect(twice.fields).to.deep.equal(['requests[1].secret.name']);
      expect(await count()).to.equal(before);
    });

    it('lets parallel creates (grouped into shared transactions) succeed or fail each on its own, audited once each', async () => {
      const s = sys.secrets(admin);
      await s.createSecret({ org: 'acme', secret: { name: 'GROUP_TAKEN' }, value: await sys.seal('first') });
      const auditCount = async () => Number((await sys.db('secret-store')('secret_audit_events').where({ org: 'acme', action: 'secret.created' }).count({ n: '*' }).first())?.n);
      const before = await auditCount();
      const good = Array.from({ length: 40 }, (_, i) => `GROUP_${i}`);
      // Sealed first, so the calls go out together.
      const sealed = await Promise.all(good.map((name) => sys.seal(`value-of-${name}`)));
      const [second, badBox, stale, repeat] = [await sys.seal('second'), await sys.seal('x'), await sys.seal('x'), await sys.seal('a repeat of a name in the same group')];
      const results = await Promise.allSettled([
        ...good.map((name, i) => s.createSecret({ org: 'acme', secret: { name }, value: sealed[i] })),
        s.createSecret({ org: 'acme', secret: { name: 'GROUP_TAKEN' }, value: second }),
        s.createSecret({ org: 'acme', secret: { name: 'GROUP_BAD_BOX' }, value: { ...badBox, sealedBox: Buffer.alloc(80, 1) } }),
        s.createSecret({ org: 'acme', secret: { name: 'GROUP_STALE' }, value: { ...stale, keyId: 'ok_nosuchkey0000' } }),
        s.createSecret({ org: 'acme', secret: { name: 'GROUP_0' }, value: repeat }),
      ]);
      const outcome = results.map((r) => (r.status === 'fulfilled' ? 'OK' : describeFailure(r.reason).code));
      expect(outcome.slice(40, 43)).to.deep.equal(['ALREADY_EXISTS', 'INVALID_ARGUMENT', 'FAILED_PRECONDITION']);
      // GROUP_0 twice: whichever ran first wins, the other is told the name exists.
      const group0 = [outcome[0], outcome[43]];
      expect(outcome.slice(1, 40)).to.deep.equal(Array(39).fill('OK'));
      expect([...group0].sort()).to.deep.equal(['ALREADY_EXISTS', 'OK']);
      expect(await auditCount()).to.equal(before + 40);
      const values = await decryptedValues(sys, 'acme', good);
      const winner0 = group0[0] === 'OK' ? 'value-of-GROUP_0' : 'a repeat of a name in the same group';
      expect(values.map(String)).to.deep.equal(good.map((n) => (n === 'GROUP_0' ? winner0 : `value-of-${n}`)));
      expect((await decryptedValues(sys, 'acme', ['GROUP_TAKEN']))[0].toString()).to.equal('first');
      const stray = await sys.db('secret-store')('secrets').whereIn('name', ['GROUP_BAD_BOX', 'GROUP_STALE']);
      expect(stray).to.have.length(0);
    });

    it('lets exactly one of 50 parallel creates of one name succeed', async () => {
      const s = sys.secrets(admin);
      const sealed = await sys.seal('race');
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, () => s.createSecret({ org: 'acme', secret: { name: 'RACE' }, value: sealed })),
      );
      const ok = results.filter((r) => r.status === 'fulfilled');
      const codes = results.filter((r) => r.status === 'rejected').map((r) => describeFailure((r as PromiseRejectedResult).reason));
      expect(ok).to.have.length(1);
      expect(codes.map((c) => c.code)).to.deep.equal(Array(49).fill('ALREADY_EXISTS'));
      const rows = await sys.db('secret-store')('secrets').where({ org: 'acme', name: 'RACE' });
      expect(rows).to.have.length(1);
    });
  });
}
