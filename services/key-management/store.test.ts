import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { engines, type Engine } from '../../test/support/postgres.js';
import { openDatabase, type Knex } from '../runtime/db.js';
import { kmsMigrations } from './migrations.js';
import { createKmsStore, type KmsStore, type OrgKeyRow } from './store.js';

/** The storage contract of key-management, run against every engine. */

const T0 = 1_790_000_000_000;

let counter = 0;
const freshOrg = () => `org-${process.pid}-${++counter}`;
const freshKeyId = () => `ok_${process.pid}_${++counter}`;

function orgKeyRow(org: string, overrides: Partial<OrgKeyRow> = {}): OrgKeyRow {
  const tag = ++counter % 256;
  return {
    keyId: freshKeyId(),
    org,
    state: 'primary',
    publicKey: new Uint8Array(32).fill(tag),
    wrappedPrivateKey: Uint8Array.from([1, 0, 0, 0, 1, tag, 0, 255]),
    kekVersion: 1,
    createdAt: T0,
    ...overrides,
  };
}

const kek = (version: number, fill: number) => ({ version, keyCheck: new Uint8Array(16).fill(fill) });

async function openKmsStore(engine: Engine, dir: string): Promise<{ knex: Knex; store: KmsStore }> {
  const url = await engine.freshUrl();
  const sqliteFile = path.join(mkdtempSync(path.join(dir, 'db-')), 'key-management.sqlite');
  const knex = await openDatabase({ url, sqliteFile }, 'key_management', kmsMigrations);
  return { knex, store: createKmsStore(knex) };
}

for (const engine of engines()) {
  describe(`key-management storage (${engine.name})`, function () {
    let dir: string;
    const opened: Knex[] = [];

    before(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'vessl-kms-store-'));
    });
    after(async () => {
      await Promise.all(opened.map((k) => k.destroy()));
      await engine.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    /** A database of its own: the KEK registry and holdsWrappedKeys are database-wide. */
    async function fresh(): Promise<{ knex: Knex; store: KmsStore }> {
      const db = await openKmsStore(engine, dir);
      opened.push(db.knex);
      return db;
    }

    describe('master key registry', () => {
      it('starts empty', async () => {
        const { store } = await fresh();
        expect(await store.registeredKeks()).to.deep.equal([]);
      });

      it('registers KEK versions with their key check values, listed by version', async () => {
        const { store } = await fresh();
        await store.registerKeks([kek(2, 0xb2), kek(1, 0xa1)], T0);
        expect(await store.registeredKeks()).to.deep.equal([kek(1, 0xa1), kek(2, 0xb2)]);
      });

      it('is idempotent: registering a version again keeps the first key check value', async () => {
        const { store } = await fresh();
        await store.registerKeks([kek(1, 0xa1)], T0);
        await store.registerKeks([kek(1, 0xa1)], T0 + 1);
        await store.registerKeks([kek(1, 0xee), kek(2, 0xb2)], T0 + 2);
        expect(await store.registeredKeks()).to.deep.equal([kek(1, 0xa1), kek(2, 0xb2)]);
      });

      it('accepts an empty registration', async () => {
        const { store } = await fresh();
        await store.registerKeks([], T0);
        expect(await store.registeredKeks()).to.deep.equal([]);
      });

      it('survives parallel registrations of the same versions (several replicas starting)', async () => {
        const { store } = await fresh();
        await Promise.all(Array.from({ length: 10 }, () => store.registerKeks([kek(1, 0xa1), kek(2, 0xb2)], T0)));
        expect(await store.registeredKeks()).to.deep.equal([kek(1, 0xa1), kek(2, 0xb2)]);
      });
    });

    describe('holdsWrappedKeys', () => {
      it('is false on an empty database', async () => {
        const { store } = await fresh();
        expect(await store.holdsWrappedKeys()).to.equal(false);
      });

      it('is true once a master key version is registered', async () => {
        const { store } = await fresh();
        await store.registerKeks([kek(1, 0xa1)], T0);
        expect(await store.holdsWrappedKeys()).to.equal(true);
      });

      it('is true once an org key is stored, even with no registered version', async () => {
        const { store } = await fresh();
        await store.insertPrimaryOrgKey(orgKeyRow(freshOrg()));
        expect(await store.holdsWrappedKeys()).to.equal(true);
      });
    });

    describe('org keys', () => {
      let store: KmsStore;
      let knex: Knex;
      before(async () => {
        ({ store, knex } = await fresh());
      });

      it('stores a primary org key and finds it by org and by key id', async () => {
        const org = freshOrg();
        const row = orgKeyRow(org, { kekVersion: 3 });
        expect(await store.insertPrimaryOrgKey(row)).to.equal(true);
        expect(await store.primaryOrgKey(org)).to.deep.equal(row);
        expect(await store.orgKey(org, row.keyId)).to.deep.equal(row);
      });

      it('finds nothing for an org without keys or an unknown key id', async () => {
        const org = freshOrg();
        expect(await store.primaryOrgKey(org)).to.equal(undefined);
        expect(await store.orgKey(org, 'ok_nope')).to.equal(undefined);
      });

      it("does not hand out another org's key, even by its key id", async () => {
        const [a, b] = [freshOrg(), freshOrg()];
        const inA = orgKeyRow(a);
        await store.insertPrimaryOrgKey(inA);
        expect(await store.orgKey(b, inA.keyId)).to.equal(undefined);
        expect(await store.primaryOrgKey(b)).to.equal(undefined);
      });

      it('returns false for a second primary key in the same org and keeps the first', async () => {
        const org = freshOrg();
        const first = orgKeyRow(org);
        const second = orgKeyRow(org);
        expect(await store.insertPrimaryOrgKey(first)).to.equal(true);
        expect(await store.insertPrimaryOrgKey(second)).to.equal(false);
        expect(await store.primaryOrgKey(org)).to.deep.equal(first);
        expect(await store.orgKey(org, second.keyId)).to.equal(undefined);
      });

      it('allows one primary key in each of several orgs', async () => {
        const rows = [freshOrg(), freshOrg(), freshOrg()].map((org) => orgKeyRow(org));
        for (const r of rows) expect(await store.insertPrimaryOrgKey(r)).to.equal(true);
        for (const r of rows) expect((await store.primaryOrgKey(r.org))!.keyId).to.equal(r.keyId);
      });

      it('lets exactly one of 10 parallel first inserts for an org win', async () => {
        const org = freshOrg();
        const rows = Array.from({ length: 10 }, () => orgKeyRow(org));
        const results = await Promise.all(rows.map((r) => store.insertPrimaryOrgKey(r)));
        expect(results.filter(Boolean)).to.have.length(1);
        const winner = rows[results.indexOf(true)];
        expect(await store.primaryOrgKey(org)).to.deep.equal(winner);
        expect(await knex('kms_org_keys').where({ org })).to.have.length(1);
      });

      it('lets a new primary in once the old one is no longer primary (previous keys stay findable)', async () => {
        const org = freshOrg();
        const old = orgKeyRow(org);
        await store.insertPrimaryOrgKey(old);
        await knex('kms_org_keys').where({ key_id: old.keyId }).update({ state: 'previous' });
        const next = orgKeyRow(org);
        expect(await store.insertPrimaryOrgKey(next)).to.equal(true);
        expect(await store.primaryOrgKey(org)).to.deep.equal(next);
        expect(await store.orgKey(org, old.keyId)).to.deep.equal({ ...old, state: 'previous' });
      });

      it('rethrows a failure that is not a lost race instead of reporting false', async () => {
        // PostgreSQL rejects a key id over 64 characters; SQLite does not, so a trigger fails the insert there.
        const row = orgKeyRow(freshOrg(), { keyId: 'k'.repeat(65) });
        if (engine.name === 'sqlite') {
          await knex.raw(`CREATE TRIGGER reject_org_keys BEFORE INSERT ON kms_org_keys BEGIN SELECT RAISE(ABORT, 'boom'); END`);
        }
        let caught: unknown;
        try {
          await store.insertPrimaryOrgKey(row);
        } catch (err) {
          caught = err;
        } finally {
          if (engine.name === 'sqlite') await knex.raw('DROP TRIGGER reject_org_keys');
        }
        expect(caught).to.be.instanceOf(Error);
        expect(await store.primaryOrgKey(row.org)).to.equal(undefined);
      });
    });

    it('answers ping', async () => {
      const { store } = await fresh();
      await store.ping();
    });
  });
}
