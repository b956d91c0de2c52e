import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { expectedLink, expectUnbrokenChain, testAuditChain } from '../../test/support/audit-chain.js';
import { engines, type Engine } from '../../test/support/postgres.js';
import { openDatabase, type Knex } from '../runtime/db.js';
import { GENESIS_HASH, listAuditEvents, type AuditEvent, type StoredAuditEvent } from './audit.js';
import { secretStoreMigrations } from './migrations.js';
import { createSecretStore, NameTakenError, type EncryptedValue, type SecretRow, type SecretStore } from './store.js';

/**
 * The storage contract of secret-store, run against every engine (DESIGN §1: both engines
 * run the same migrations and the same test suite). Each test works in its own org so the
 * tests share one database per engine without seeing each other's rows.
 */

// Times above 2^31 so bigint columns (strings on PostgreSQL) are exercised.
const T0 = 1_790_000_000_000;

let counter = 0;
const freshOrg = () => `org-${process.pid}-${++counter}`;
let uidCounter = 0;
const freshUid = () => `s_${String(++uidCounter).padStart(8, '0')}`;

function encrypted(tag: number, kekVersion = 1): EncryptedValue {
  return {
    ciphertext: Uint8Array.from([1, tag, tag + 1, tag + 2, 0, 255]),
    wrappedDek: Uint8Array.from([1, 0, 0, 0, kekVersion, tag, 7, 7]),
    kekVersion,
  };
}

function secretRow(org: string, name: string, overrides: Partial<SecretRow> = {}): SecretRow {
  return {
    uid: freshUid(),
    org,
    name,
    key: name.replace(/[^A-Za-z0-9_]/g, '_'),
    description: `about ${name}`,
    version: 1,
    value: encrypted(1),
    createdAt: T0,
    createdBy: 'user:alice',
    updatedAt: T0,
    updatedBy: 'user:alice',
    valueUpdatedAt: T0,
    ...overrides,
  };
}

function auditOf(row: Pick<SecretRow, 'org' | 'name' | 'uid' | 'version'>, action: AuditEvent['action'], extra: Partial<AuditEvent> = {}): AuditEvent {
  return {
    org: row.org,
    time: T0 + 1,
    actor: 'user:alice',
    action,
    secretName: row.name,
    secretUid: row.uid,
    secretVersion: row.version,
    requestId: `req-${action}`,
    details: {},
    ...extra,
  };
}

/** Strips the chain fields (and absent optionals) so stored events compare with the appended ones. */
const withoutChain = ({ seq: _s, prevHash: _p, hash: _h, ...event }: StoredAuditEvent): AuditEvent =>
  Object.fromEntries(Object.entries(event).filter(([, v]) => v !== undefined)) as unknown as AuditEvent;

async function openSecretDb(engine: Engine, dir: string): Promise<Knex> {
  const url = await engine.freshUrl();
  const sqliteFile = path.join(mkdtempSync(path.join(dir, 'db-')), 'secret-store.sqlite');
  return openDatabase({ url, sqliteFile }, 'secret_store', secretStoreMigrations);
}

for (const engine of engines()) {
  describe(`secret-store storage (${engine.name})`, function () {
    let dir: string;
    let knex: Knex;
    let store: SecretStore;

    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'vessl-secret-store-'));
      knex = await openSecretDb(engine, dir);
      store = createSecretStore(knex, await testAuditChain());
    });
    after(async () => {
      await knex?.destroy();
      await engine.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    const rawRow = (uid: string) => knex('secrets').where({ uid }).first();

    describe('insert and getLive', () => {
      it('stores a live secret and reads every field back', async () => {
        const org = freshOrg();
        const row = secretRow(org, 'HF_TOKEN', { description: 'hub token', value: encrypted(9, 3) });
        await store.insert(row, [auditOf(row, 'secret.created')]);
        const got = await store.getLive(org, 'HF_TOKEN');
        expect(got).to.deep.equal(row);
        expect(got!.value!.ciphertext).to.be.instanceOf(Uint8Array);
      });

      it('returns undefined for a name that was never stored', async () => {
        expect(await store.getLive(freshOrg(), 'NOPE')).to.equal(undefined);
      });

      it('refuses a new secret without an encrypted value', async () => {
        const org = freshOrg();
        const row = secretRow(org, 'EMPTY', { value: undefined });
        let caught: unknown;
        try {
          await store.insert(row, [auditOf(row, 'secret.created')]);
        } catch (err) {
          caught = err;
        }
        expect(caught).to.be.instanceOf(Error);
        expect(await store.getLive(org, 'EMPTY')).to.equal(undefined);
      });

      it('throws NameTakenError for a second live secret with the same name in the org, and writes nothing', async () => {
        const org = freshOrg();
        const first = secretRow(org, 'DB_URL');
        await store.insert(first, [auditOf(first, 'secret.created')]);
        const second = secretRow(org, 'DB_URL', { key: 'OTHER' });
        let caught: unknown;
        try {
          await store.insert(second, [auditOf(second, 'secret.created')]);
        } catch (err) {
          caught = err;
        }
        expect(caught).to.be.instanceOf(NameTakenError);
        expect((await store.getLive(org, 'DB_URL'))!.uid).to.equal(first.uid);
        expect(await rawRow(second.uid)).to.equal(undefined);
        expect(await listAuditEvents(knex, org)).to.have.length(1);
      });

      it('lets exactly one of 10 parallel inserts of one name win; the others get NameTakenError and audit nothing', async () => {
        const org = freshOrg();
        const rows = Array.from({ length: 10 }, () => secretRow(org, 'RACE'));
        const results = await Promise.allSettled(rows.map((r) => store.insert(r, [auditOf(r, 'secret.created')])));
        expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
        for (const r of results.filter((x) => x.status === 'rejected')) {
          expect((r as PromiseRejectedResult).reason).to.be.instanceOf(NameTakenError);
        }
        const winner = rows[results.findIndex((r) => r.status === 'fulfilled')];
        expect((await store.getLive(org, 'RACE'))!.uid).to.equal(winner.uid);
        const events = await listAuditEvents(knex, org);
        expect(events.map((e) => e.secretUid)).to.deep.equal([winner.uid]);
        await expectUnbrokenChain(events);
      });

      it('does not report a uid collision as a taken name', async () => {
        const org = freshOrg();
        const first = secretRow(org, 'FIRST');
        await store.insert(first, [auditOf(first, 'secret.created')]);
        const clash = secretRow(org, 'SECOND', { uid: first.uid });
        let caught: unknown;
        try {
          await store.insert(clash, [auditOf(clash, 'secret.created')]);
        } catch (err) {
          caught = err;
        }
        expect(caught, 'the insert must fail').to.be.instanceOf(Error);
        expect(caught, 'the name SECOND is free; only the uid clashes').to.not.be.instanceOf(NameTakenError);
        expect(await store.getLive(org, 'SECOND')).to.equal(undefined);
      });

      it('allows the same name in another org', async () => {
        const [a, b] = [freshOrg(), freshOrg()];
        const inA = secretRow(a, 'SHARED');
        const inB = secretRow(b, 'SHARED');
        await store.insert(inA, [auditOf(inA, 'secret.created')]);
        await store.insert(inB, [auditOf(inB, 'secret.created')]);
        expect((await store.getLive(a, 'SHARED'))!.uid).to.equal(inA.uid);
        expect((await store.getLive(b, 'SHARED'))!.uid).to.equal(inB.uid);
      });

      it('treats names case-sensitively', async () => {
        const org = freshOrg();
        const upper = secretRow(org, 'Token');
        const lower = secretRow(org, 'token');
        await store.insert(upper, [auditOf(upper, 'secret.created')]);
        await store.insert(lower, [auditOf(lower, 'secret.created')]);
        expect((await store.getLive(org, 'Token'))!.uid).to.equal(upper.uid);
        expect((await store.getLive(org, 'token'))!.uid).to.equal(lower.uid);
      });
    });

    describe('softDelete', () => {
      it('destroys ciphertext, wrapped DEK and KEK version and records who deleted it when', async () => {
        const org = freshOrg();
        const row = secretRow(org, 'GONE');
        await store.insert(row, [auditOf(row, 'secret.created')]);
        expect(await store.softDelete(row.uid, T0 + 50, 'user:bob', [auditOf(row, 'secret.deleted')])).to.equal(true);
        const raw = await rawRow(row.uid);
        expect(raw.ciphertext).to.equal(null);
        expect(raw.wrapped_dek).to.equal(null);
        expect(raw.kek_version).to.equal(null);
        expect(Number(raw.deleted_at)).to.equal(T0 + 50);
        expect(raw.deleted_by).to.equal('user:bob');
        expect(Number(raw.updated_at)).to.equal(T0 + 50);
        expect(raw.updated_by).to.equal('user:bob');
      });

      it('hides the row from getLive and shows it without a value in a show_deleted listing', async () => {
        const org = freshOrg();
        const row = secretRow(org, 'GONE');
        await store.insert(row, [auditOf(row, 'secret.created')]);
        await store.softDelete(row.uid, T0 + 50, 'user:bob', [auditOf(row, 'secret.deleted')]);
        expect(await store.getLive(org, 'GONE')).to.equal(undefined);
        const [listed] = await store.list({ org, showDeleted: true, limit: 10 });
        expect(listed).to.include({ uid: row.uid, name: 'GONE', deletedAt: T0 + 50, deletedBy: 'user:bob' });
        expect(listed.value).to.equal(undefined);
      });

      it('frees the name of a deleted secret at once', async () => {
        const org = freshOrg();
        const row = secretRow(org, 'REUSED');
        await store.insert(row, [auditOf(row, 'secret.created')]);
        await store.softDelete(row.uid, T0 + 50, 'user:bob', [auditOf(row, 'secret.deleted')]);
        const again = secretRow(org, 'REUSED');
        await store.insert(again, [auditOf(again, 'secret.created')]);
        expect((await store.getLive(org, 'REUSED'))!.uid).to.equal(again.uid);
        // Deleting the new one too leaves two deleted rows with one name: only live names are unique.
        expect(await store.softDelete(again.uid, T0 + 60, 'user:bob', [auditOf(again, 'secret.deleted')])).to.equal(true);
        expect(await store.list({ org, showDeleted: true, limit: 10 })).to.have.length(2);
      });

      it('returns false, and audits nothing, when the secret is already deleted', async () => {
        const org = freshOrg();
        const row = secretRow(org, 'TWICE');
        await store.insert(row, [auditOf(row, 'secret.created')]);
        expect(await store.softDelete(row.uid, T0 + 50, 'user:bob', [auditOf(row, 'secret.deleted')])).to.equal(true);
        expect(await store.softDelete(row.uid, T0 + 90, 'user:carol', [auditOf(row, 'secret.deleted')])).to.equal(false);
        const raw = await rawRow(row.uid);
        expect(Number(raw.deleted_at)).to.equal(T0 + 50);
        expect(raw.deleted_by).to.equal('user:bob');
        expect((await listAuditEvents(knex, org)).map((e) => e.action)).to.deep.equal(['secret.created', 'secret.deleted']);
      });

      it('returns false for an unknown uid', async () => {
        expect(await store.softDelete('s_unknown', T0, 'user:bob', [])).to.equal(false);
      });
    });

    describe('update', () => {
      async function stored(name = 'ROTATE'): Promise<SecretRow> {
        const row = secretRow(freshOrg(), name);
        await store.insert(row, [auditOf(row, 'secret.created')]);
        return row;
      }

      it('applies key, description, value and version at the expected version', async () => {
        const row = await stored();
        const change = { key: 'NEW_KEY', description: 'new words', value: encrypted(40, 2), version: 2, updatedAt: T0 + 100, updatedBy: 'user:bob' };
        const audit = [auditOf(row, 'secret.value_rotated', { secretVersion: 2 }), auditOf(row, 'secret.key_renamed'), auditOf(row, 'secret.description_edited')];
        expect(await store.update(row.uid, { version: 1 }, change, audit)).to.equal(true);
        const got = await store.getLive(row.org, row.name);
        expect(got).to.deep.equal({
          ...row,
          key: 'NEW_KEY',
          description: 'new words',
          value: encrypted(40, 2),
          version: 2,
          updatedAt: T0 + 100,
          updatedBy: 'user:bob',
          valueUpdatedAt: T0 + 100,
        });
      });

      it('edits metadata without touching the value, its version or value_updated_at', async () => {
        const row = await stored();
        const change = { description: 'only words', updatedAt: T0 + 100, updatedBy: 'user:bob' };
        expect(await store.update(row.uid, { version: 1 }, change, [auditOf(row, 'secret.description_edited')])).to.equal(true);
        const got = await store.getLive(row.org, row.name);
        expect(got).to.deep.equal({ ...row, description: 'only words', updatedAt: T0 + 100, updatedBy: 'user:bob' });
      });

      it('returns false and changes nothing, not even the audit log, at a stale version', async () => {
        const row = await stored();
        const rotate = { value: encrypted(50), version: 2, updatedAt: T0 + 100, updatedBy: 'user:bob' };
        expect(await store.update(row.uid, { version: 1 }, rotate, [auditOf(row, 'secret.value_rotated')])).to.equal(true);
        const before = await store.getLive(row.org, row.name);
        const stale = { key: 'LOST', description: 'lost', value: encrypted(60), version: 2, updatedAt: T0 + 200, updatedBy: 'user:carol' };
        expect(await store.update(row.uid, { version: 1 }, stale, [auditOf(row, 'secret.key_renamed')])).to.equal(false);
        expect(await store.getLive(row.org, row.name)).to.deep.equal(before);
        expect((await listAuditEvents(knex, row.org)).map((e) => e.action)).to.deep.equal(['secret.created', 'secret.value_rotated']);
      });

      it('returns false for a deleted secret', async () => {
        const row = await stored();
        await store.softDelete(row.uid, T0 + 50, 'user:bob', [auditOf(row, 'secret.deleted')]);
        const change = { value: encrypted(70), version: 2, updatedAt: T0 + 100, updatedBy: 'user:bob' };
        expect(await store.update(row.uid, { version: 1 }, change, [auditOf(row, 'secret.value_rotated')])).to.equal(false);
        const raw = await rawRow(row.uid);
        expect(raw.ciphertext).to.equal(null);
        expect(Number(raw.version)).to.equal(1);
        expect(await listAuditEvents(knex, row.org)).to.have.length(2);
      });

      it('returns false for an unknown uid', async () => {
        expect(await store.update('s_unknown', { version: 1 }, { updatedAt: T0, updatedBy: 'user:bob' }, [])).to.equal(false);
      });
    });

    describe('list', () => {
      // Bytewise order (C collation): digits < upper case < '_' < lower case; '-' and '.' sort before digits.
      const names = ['b', 'A', 'a.b', 'a-b', 'a_b', 'B', 'ab', '0x', 'z'];
      let org: string;
      let live: SecretRow[];
      let deleted: SecretRow;

      before(async () => {
        org = freshOrg();
        live = [];
        for (const [i, name] of names.entries()) {
          // Half of them with a fingerprint, half without (values stored before fingerprints).
          const row = secretRow(org, name, { value: { ...encrypted(i), ...(i % 2 ? { fingerprint: `${i}`.repeat(64) } : {}) } });
          await store.insert(row, [auditOf(row, 'secret.created')]);
          live.push(row);
        }
        // A deleted 'b' next to a live 'b' whose uid sorts first: (name, uid) ordering, not age.
        const oldB = live.find((r) => r.name === 'b')!;
        await store.softDelete(oldB.uid, T0 + 5, 'user:bob', []);
        deleted = { ...oldB, updatedAt: T0 + 5, updatedBy: 'user:bob', deletedAt: T0 + 5, deletedBy: 'user:bob', value: undefined };
        const newB = secretRow(org, 'b', { uid: 's_0' });
        await store.insert(newB, []);
        live = live.map((r) => (r.name === 'b' ? newB : r));
        // Another org's secrets never leak into this listing.
        const other = secretRow(freshOrg(), 'a');
        await store.insert(other, []);
      });

      const byNameThenUid = (a: { name: string; uid: string }, b: { name: string; uid: string }) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0;

      it('orders live secrets by name bytewise, then uid', async () => {
        const rows = await store.list({ org, showDeleted: false, limit: 100 });
        expect(rows.map((r) => r.uid)).to.deep.equal([...live].sort(byNameThenUid).map((r) => r.uid));
        expect(rows.map((r) => r.name)).to.deep.equal(['0x', 'A', 'B', 'a-b', 'a.b', 'a_b', 'ab', 'b', 'z']);
      });

      it('lists every field but the ciphertext and wrapped key: a live value is only its fingerprint', async () => {
        const rows = await store.list({ org, showDeleted: false, limit: 100 });
        for (const row of rows) {
          const stored = live.find((r) => r.uid === row.uid)!;
          const { value, ...metadata } = stored;
          expect(row).to.deep.equal({ ...metadata, value: value?.fingerprint ? { fingerprint: value.fingerprint } : {} });
        }
      });

      it('includes deleted secrets only with showDeleted, ordered by (name, uid)', async () => {
        const all = await store.list({ org, showDeleted: true, limit: 100 });
        const expected = [...live, deleted].sort(byNameThenUid);
        expect(all.map((r) => r.uid)).to.deep.equal(expected.map((r) => r.uid));
        const bs = all.filter((r) => r.name === 'b');
        expect(bs.map((r) => r.uid)).to.deep.equal(['s_0', deleted.uid]);
        const { value: _v, ...deletedWithoutValue } = deleted;
        expect(bs[1]).to.deep.equal(deletedWithoutValue);
        expect((await store.list({ org, showDeleted: false, limit: 100 })).some((r) => r.uid === deleted.uid)).to.equal(false);
      });

      it('returns at most limit rows', async () => {
        const rows = await store.list({ org, showDeleted: false, limit: 3 });
        expect(rows.map((r) => r.name)).to.deep.equal(['0x', 'A', 'B']);
      });

      const pagings = [
        { showDeleted: false, limit: 1 },
        { showDeleted: false, limit: 2 },
        { showDeleted: true, limit: 1 },
        { showDeleted: true, limit: 4 },
      ];
      for (const { showDeleted, limit } of pagings) {
        it(`walks every row exactly once with keyset 'after' (showDeleted=${showDeleted}, limit=${limit})`, async () => {
          const seen: string[] = [];
          let after: { name: string; uid: string } | undefined;
          for (let page = 0; page < 50; page++) {
            const rows = await store.list({ org, showDeleted, limit, after });
            expect(rows.length).to.be.at.most(limit);
            seen.push(...rows.map((r) => r.uid));
            if (rows.length < limit) break;
            after = { name: rows[rows.length - 1].name, uid: rows[rows.length - 1].uid };
          }
          const expected = (showDeleted ? [...live, deleted] : live).sort(byNameThenUid).map((r) => r.uid);
          expect(seen).to.deep.equal(expected);
        });
      }

      it("starts strictly after the (name, uid) position, also between rows of one name", async () => {
        const all = await store.list({ org, showDeleted: true, limit: 100 });
        const firstB = all.findIndex((r) => r.name === 'b');
        const rest = await store.list({ org, showDeleted: true, limit: 100, after: { name: 'b', uid: all[firstB].uid } });
        expect(rest.map((r) => r.uid)).to.deep.equal(all.slice(firstB + 1).map((r) => r.uid));
        const fromGap = await store.list({ org, showDeleted: false, limit: 100, after: { name: 'a', uid: '' } });
        expect(fromGap.map((r) => r.name)).to.deep.equal(['a-b', 'a.b', 'a_b', 'ab', 'b', 'z']);
      });

      it('returns nothing past the last row and for an org without secrets', async () => {
        expect(await store.list({ org, showDeleted: true, limit: 10, after: { name: 'z', uid: '\u007f' } })).to.deep.equal([]);
        expect(await store.list({ org: freshOrg(), showDeleted: true, limit: 10 })).to.deep.equal([]);
      });
    });

    describe('getLiveMany', () => {
      it('returns the live rows among the names and skips unknown, deleted and other-org names', async () => {
        const org = freshOrg();
        const rows = ['ONE', 'TWO', 'THREE'].map((n) => secretRow(org, n));
        for (const r of rows) await store.insert(r, [auditOf(r, 'secret.created')]);
        await store.softDelete(rows[2].uid, T0 + 1, 'user:bob', []);
        const elsewhere = secretRow(freshOrg(), 'FOUR');
        await store.insert(elsewhere, []);
        const got = await store.getLiveMany(org, ['TWO', 'ONE', 'THREE', 'FOUR', 'MISSING']);
        expect(got.map((r) => r.uid).sort()).to.deep.equal([rows[0].uid, rows[1].uid].sort());
        expect(got.find((r) => r.name === 'ONE')).to.deep.equal(rows[0]);
      });

      it('returns an empty list for no names', async () => {
        expect(await store.getLiveMany(freshOrg(), [])).to.deep.equal([]);
      });

      it('returns each row once, ordered by name bytewise, whatever the order and repetitions asked', async () => {
        const org = freshOrg();
        const rows = ['b.x', 'B_2', 'a-1', 'A', 'Z9'].map((n) => secretRow(org, n));
        for (const r of rows) await store.insert(r, []);
        const got = await store.getLiveMany(org, ['b.x', 'A', 'b.x', 'Z9', 'a-1', 'B_2', 'A', 'z9']);
        expect(got.map((r) => r.name)).to.deep.equal(['A', 'B_2', 'Z9', 'a-1', 'b.x']);
      });

      it('matches names case-sensitively', async () => {
        const org = freshOrg();
        const upper = secretRow(org, 'Token');
        await store.insert(upper, []);
        expect(await store.getLiveMany(org, ['token', 'TOKEN'])).to.deep.equal([]);
        expect(await store.getLiveMany(org, ['Token'])).to.deep.equal([upper]);
      });
    });

    describe('insertMany', () => {
      it('names every taken name, bytewise ordered, and writes nothing', async () => {
        const org = freshOrg();
        const taken = ['b', 'B', 'a'].map((n) => secretRow(org, n));
        for (const r of taken) await store.insert(r, []);
        const batch = ['NEW', 'b', 'a', 'B', 'NEW2'].map((n) => secretRow(org, n));
        let caught: unknown;
        await store.insertMany(batch, batch.map((r) => auditOf(r, 'secret.created'))).catch((err: unknown) => (caught = err));
        expect(caught).to.be.instanceOf(NameTakenError).with.property('names').that.deep.equals(['B', 'a', 'b']);
        expect(await store.getLive(org, 'NEW')).to.equal(undefined);
        expect(await listAuditEvents(knex, org)).to.deep.equal([]);
      });
    });

    describe('versionsByUid', () => {
      it('reports version and liveness in the order asked, leaving out unknown uids and other orgs\' secrets', async () => {
        const org = freshOrg();
        const [one, two, gone] = ['ONE', 'TWO', 'GONE'].map((n) => secretRow(org, n, { version: 3 }));
        for (const r of [one, two, gone]) await store.insert(r, []);
        await store.softDelete(gone.uid, T0 + 1, 'user:bob', []);
        const elsewhere = secretRow(freshOrg(), 'ONE');
        await store.insert(elsewhere, []);
        expect(await store.versionsByUid(org, [two.uid, elsewhere.uid, 's_unknown', gone.uid, one.uid])).to.deep.equal([
          { uid: two.uid, name: 'TWO', version: 3, deleted: false },
          { uid: gone.uid, name: 'GONE', version: 3, deleted: true },
          { uid: one.uid, name: 'ONE', version: 3, deleted: false },
        ]);
        expect(await store.versionsByUid(elsewhere.org, [one.uid])).to.deep.equal([]);
      });

      it('returns an empty list for no uids', async () => {
        expect(await store.versionsByUid(freshOrg(), [])).to.deep.equal([]);
      });
    });

    describe('audit log', () => {
      it('appends exactly the events of each write, in order, on one unbroken chain', async () => {
        const org = freshOrg();
        const row = secretRow(org, 'AUDITED');
        const created = auditOf(row, 'secret.created', { details: { key: row.key, kekVersion: 1, sealed: true } });
        await store.insert(row, [created]);
        const rotated = auditOf(row, 'secret.value_rotated', { secretVersion: 2, requestId: 'req-2' });
        const renamed = auditOf(row, 'secret.key_renamed', { secretVersion: 2, requestId: 'req-2', details: { from: row.key, to: 'NEW' } });
        await store.update(row.uid, { version: 1 }, { key: 'NEW', value: encrypted(3), version: 2, updatedAt: T0 + 2, updatedBy: 'user:alice' }, [rotated, renamed]);
        const deleted = auditOf(row, 'secret.deleted', { secretVersion: 2, requestId: 'req-3' });
        await store.softDelete(row.uid, T0 + 3, 'user:alice', [deleted]);
        const denied: AuditEvent = { org, time: T0 + 4, actor: 'user:mallory', action: 'call.denied', requestId: 'req-4', details: { method: 'DeleteSecret' } };
        await store.appendAudit([denied]);

        const events = await listAuditEvents(knex, org);
        expect(events.map(withoutChain)).to.deep.equal([created, rotated, renamed, deleted, denied]);
        expect(events[0].prevHash).to.equal(GENESIS_HASH);
        await expectUnbrokenChain(events);
      });

      it('appends a large batch of two orgs\' events in one call as each org\'s unbroken chain, in the order given', async () => {
        const [a, b] = [freshOrg(), freshOrg()];
        // More than one INSERT chunk per org, interleaved, as a launch's audited reads could be.
        const batch: AuditEvent[] = Array.from({ length: 1300 }, (_, i) => ({
          org: i % 3 === 0 ? b : a,
          time: T0 + i,
          actor: 'svc:job-launcher',
          action: 'secret.referenced',
          secretName: `S${i}`,
          requestId: `req-${i}`,
          details: { jobId: `job-${i}` },
        }));
        const chain = await testAuditChain();
        const stored = await knex.transaction((trx) => chain.append(trx, batch));
        for (const org of [a, b]) {
          const events = await listAuditEvents(knex, org);
          expect(events.map(withoutChain)).to.deep.equal(batch.filter((e) => e.org === org));
          await expectUnbrokenChain(events);
        }
        expect(stored.map(withoutChain)).to.deep.equal(batch);
      });

      it('keeps one chain per org', async () => {
        const [a, b] = [freshOrg(), freshOrg()];
        for (const org of [a, b, a]) {
          const row = secretRow(org, `N${counter}-${uidCounter}`);
          await store.insert(row, [auditOf(row, 'secret.created')]);
        }
        const inA = await listAuditEvents(knex, a);
        const inB = await listAuditEvents(knex, b);
        expect(inA.map((e) => e.seq)).to.deep.equal([1, 2]);
        expect(inB.map((e) => e.seq)).to.deep.equal([1]);
        await expectUnbrokenChain(inA);
        await expectUnbrokenChain(inB);
      });

      it('detects an altered event: its keyed link no longer matches', async () => {
        const org = freshOrg();
        const row = secretRow(org, 'TAMPER');
        await store.insert(row, [auditOf(row, 'secret.created')]);
        await knex('secret_audit_events').where({ org, seq: 1 }).update({ actor: 'user:someone-else' });
        const [event] = await listAuditEvents(knex, org);
        expect(event.hash).to.not.equal(await expectedLink(event));
      });

      it('gives 20 parallel inserts in one org seqs 1..20 on an unbroken chain', async () => {
        const org = freshOrg();
        const rows = Array.from({ length: 20 }, (_, i) => secretRow(org, `PAR_${i}`));
        await Promise.all(rows.map((r) => store.insert(r, [auditOf(r, 'secret.created')])));
        const events = await listAuditEvents(knex, org);
        expect(events).to.have.length(20);
        await expectUnbrokenChain(events);
        expect(events.map((e) => e.secretUid).sort()).to.deep.equal(rows.map((r) => r.uid).sort());
        const head = await knex('secret_audit_heads').where({ org }).first();
        expect(Number(head.seq)).to.equal(20);
        expect(head.hash).to.equal(events[19].hash);
      });

      it('keeps the chain unbroken under parallel inserts, updates and deletes', async () => {
        const org = freshOrg();
        const rows = Array.from({ length: 10 }, (_, i) => secretRow(org, `MIX_${i}`));
        for (const r of rows) await store.insert(r, [auditOf(r, 'secret.created')]);
        await Promise.all([
          ...rows.slice(0, 5).map((r) => store.update(r.uid, { version: 1 }, { value: encrypted(8), version: 2, updatedAt: T0 + 9, updatedBy: 'user:bob' }, [auditOf(r, 'secret.value_rotated')])),
          ...rows.slice(5).map((r) => store.softDelete(r.uid, T0 + 9, 'user:bob', [auditOf(r, 'secret.deleted')])),
          ...Array.from({ length: 5 }, (_, i) => {
            const r = secretRow(org, `MIX_NEW_${i}`);
            return store.insert(r, [auditOf(r, 'secret.created')]);
          }),
        ]);
        const events = await listAuditEvents(knex, org);
        expect(events).to.have.length(25);
        await expectUnbrokenChain(events);
      });
    });

    describe('no audit, no change: a failing audit append rolls back the write', () => {
      /** Makes every audit append fail until restore() is called. */
      interface AuditFailure {
        name: string;
        /** Events to append: the failure may be in the events themselves. */
        events(row: SecretRow, action: AuditEvent['action']): AuditEvent[];
        break(): Promise<void>;
        restore(): Promise<void>;
      }
      const failures: AuditFailure[] = [
        {
          name: 'the audit head table is gone',
          events: (row, action) => [auditOf(row, action)],
          break: () => knex.schema.renameTable('secret_audit_heads', 'secret_audit_heads_away'),
          restore: () => knex.schema.renameTable('secret_audit_heads_away', 'secret_audit_heads'),
        },
        {
          // PostgreSQL enforces varchar(64) itself; SQLite does not, so a trigger plays the column
          // limit there. Either way the first (valid) event of the batch must be rolled back too.
          name: 'the second of two events has an action longer than 64 characters',
          events: (row, action) => [auditOf(row, action), auditOf(row, 'x'.repeat(65) as AuditEvent['action'])],
          break: async () => {
            if (engine.name !== 'sqlite') return;
            await knex.raw(
              `CREATE TRIGGER audit_action_limit BEFORE INSERT ON secret_audit_events
               WHEN length(NEW.action) > 64 BEGIN SELECT RAISE(ABORT, 'action too long'); END`,
            );
          },
          restore: async () => {
            if (engine.name === 'sqlite') await knex.raw('DROP TRIGGER audit_action_limit');
          },
        },
      ];

      const writes = [
        {
          name: 'insert',
          async run(row: SecretRow, events: AuditEvent[]) {
            await store.insert(row, events);
          },
          action: 'secret.created' as const,
          async expectUnchanged(row: SecretRow) {
            expect(await store.getLive(row.org, row.name)).to.equal(undefined);
            expect(await rawRow(row.uid)).to.equal(undefined);
          },
          existing: false,
        },
        {
          name: 'update',
          async run(row: SecretRow, events: AuditEvent[]) {
            await store.update(row.uid, { version: 1 }, { key: 'CHANGED', value: encrypted(99), version: 2, updatedAt: T0 + 9, updatedBy: 'user:bob' }, events);
          },
          action: 'secret.value_rotated' as const,
          async expectUnchanged(row: SecretRow) {
            expect(await store.getLive(row.org, row.name)).to.deep.equal(row);
          },
          existing: true,
        },
        {
          name: 'softDelete',
          async run(row: SecretRow, events: AuditEvent[]) {
            await store.softDelete(row.uid, T0 + 9, 'user:bob', events);
          },
          action: 'secret.deleted' as const,
          async expectUnchanged(row: SecretRow) {
            expect(await store.getLive(row.org, row.name)).to.deep.equal(row);
          },
          existing: true,
        },
      ];

      for (const failure of failures) {
        for (const write of writes) {
          const title = `${write.name} changes nothing when ${failure.name}`;
          it(title, async () => {
            const org = freshOrg();
            const row = secretRow(org, 'ATOMIC');
            if (write.existing) await store.insert(row, [auditOf(row, 'secret.created')]);
            const auditBefore = await listAuditEvents(knex, org);
            const headBefore = await knex('secret_audit_heads').where({ org }).first();
            await failure.break();
            let caught: unknown;
            try {
              await write.run(row, failure.events(row, write.action));
            } catch (err) {
              caught = err;
            } finally {
              await failure.restore();
            }
            expect(caught, 'the write must fail').to.be.instanceOf(Error);
            expect(caught).to.not.be.instanceOf(NameTakenError);
            await write.expectUnchanged(row);
            expect(await listAuditEvents(knex, org)).to.deep.equal(auditBefore);
            expect(await knex('secret_audit_heads').where({ org }).first()).to.deep.equal(headBefore);
            // The chain continues where it stood before the failed write.
            await store.appendAudit([auditOf(row, 'call.denied')]);
            const after = await listAuditEvents(knex, org);
            expect(after).to.have.length(auditBefore.length + 1);
            await expectUnbrokenChain(after);
          });
        }
      }
    });

    it('answers ping', async () => {
      await store.ping();
    });
  });
}
