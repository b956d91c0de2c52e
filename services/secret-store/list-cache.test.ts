import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { testAuditChain } from '../../test/support/audit-chain.js';
import { engines } from '../../test/support/postgres.js';
import { openDatabase, type Knex } from '../runtime/db.js';
import { SecretManager, type ValueToEncrypt } from './domain.js';
import { ListPageCache, type ListPage } from './list-cache.js';
import { secretStoreMigrations } from './migrations.js';
import { createSecretStore, type SecretMetadata } from './store.js';

const page = (n: number): ListPage => ({ rows: Array.from({ length: n }, (_, i) => ({ name: `s${i}` }) as SecretMetadata) });

describe('ListPageCache', () => {
  it('gives a page back only under the sequence number it was filed under', () => {
    const cache = new ListPageCache();
    const p = page(3);
    cache.set('k', 7, p);
    expect(cache.get('k', 7)).to.equal(p);
    expect(cache.get('k', 8)).to.equal(undefined);
    // A miss on a moved sequence number drops the stale page.
    expect(cache.get('k', 7)).to.equal(undefined);
    expect(cache.size).to.deep.equal({ pages: 0, rows: 0 });
  });

  it('keeps at most maxRows rows, evicting the least recently used pages first', () => {
    const cache = new ListPageCache(10);
    cache.set('a', 1, page(4));
    cache.set('b', 1, page(4));
    cache.get('a', 1);
    cache.set('c', 1, page(4));
    expect(cache.get('b', 1)).to.equal(undefined);
    expect(cache.get('a', 1)?.rows).to.have.length(4);
    expect(cache.get('c', 1)?.rows).to.have.length(4);
    cache.set('huge', 1, page(11));
    expect(cache.get('huge', 1)).to.equal(undefined);
    expect(cache.size).to.deep.equal({ pages: 2, rows: 8 });
  });
});

/** Ciphertext stand-ins: listing never reads values, and these tests never decrypt. */
const FAKE_ENCRYPTOR = {
  one: async (req: ValueToEncrypt) => ({ ciphertext: Uint8Array.from([1, 2, 3]), wrappedDek: Uint8Array.from([4, 5, 6]), kekVersion: 1, fingerprint: `${req.secretUid}`.padEnd(64, '0').slice(0, 64) }),
  many: async (reqs: ValueToEncrypt[]) => Promise.all(reqs.map((r) => FAKE_ENCRYPTOR.one(r))),
};
const sealed = { sealedBox: Buffer.alloc(60), keyId: 'ok_test' };
const actor = { subject: 'user:alice', requestId: 'req-1' };

for (const engine of engines()) {
  describe(`listings reused between changes, on two replicas of one database (${engine.name})`, function () {
    let dir: string;
    let knexA: Knex;
    let knexB: Knex;
    let a: SecretManager;
    let b: SecretManager;

    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'vessl-list-cache-'));
      // Two managers (two replicas' worth of caches) over one database: PostgreSQL, or one SQLite file.
      const settings = { url: await engine.freshUrl(), sqliteFile: path.join(dir, 'secret-store.sqlite') };
      knexA = await openDatabase(settings, 'secret_store', secretStoreMigrations);
      knexB = await openDatabase(settings, 'secret_store', secretStoreMigrations);
      a = new SecretManager(createSecretStore(knexA, await testAuditChain()), FAKE_ENCRYPTOR);
      b = new SecretManager(createSecretStore(knexB, await testAuditChain()), FAKE_ENCRYPTOR);
    });
    after(async () => {
      await knexA?.destroy();
      await knexB?.destroy();
      await engine.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    const names = async (m: SecretManager, org: string, showDeleted = false) => (await m.list({ org, showDeleted, limit: 100 })).rows.map((r) => `${r.name}@${r.version}:${r.key}`);

    it("shows every change made through the other replica at the next listing", async () => {
      const org = 'acme';
      await a.create(org, { name: 'ONE', key: 'ONE', description: '' }, sealed, actor);
      expect(await names(a, org)).to.deep.equal(['ONE@1:ONE']);
      expect(await names(a, org)).to.deep.equal(['ONE@1:ONE']); // from the cache
      await b.create(org, { name: 'TWO', key: 'TWO', description: '' }, sealed, actor);
      expect(await names(a, org)).to.deep.equal(['ONE@1:ONE', 'TWO@1:TWO']);
      await b.update(org, 'ONE', { key: 'RENAMED', value: sealed }, actor);
      expect(await names(a, org)).to.deep.equal(['ONE@2:RENAMED', 'TWO@1:TWO']);
      await b.delete(org, 'TWO', actor);
      expect(await names(a, org)).to.deep.equal(['ONE@2:RENAMED']);
      expect(await names(a, org, true)).to.deep.equal(['ONE@2:RENAMED', 'TWO@1:TWO']);
    });

    it('keeps orgs and pages apart', async () => {
      await a.create('beta', { name: 'B1', key: 'B1', description: '' }, sealed, actor);
      await a.create('beta', { name: 'B2', key: 'B2', description: '' }, sealed, actor);
      expect(await names(a, 'gamma')).to.deep.equal([]);
      const first = await a.list({ org: 'beta', showDeleted: false, limit: 1 });
      expect(first.rows.map((r) => r.name)).to.deep.equal(['B1']);
      const second = await a.list({ org: 'beta', showDeleted: false, limit: 1, after: first.next });
      expect(second.rows.map((r) => r.name)).to.deep.equal(['B2']);
      await b.create('gamma', { name: 'G', key: 'G', description: '' }, sealed, actor);
      expect(await names(a, 'gamma')).to.deep.equal(['G@1:G']);
    });
  });
}
