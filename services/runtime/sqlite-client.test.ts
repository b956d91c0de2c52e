import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { openDatabase, type Knex } from './db.js';
import { STATEMENT_CACHE_SIZE } from './sqlite-client.js';

describe('SQLite statement cache', () => {
  let dir: string;
  let knex: Knex;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vessl-sqlite-client-'));
    knex = await openDatabase({ sqliteFile: path.join(dir, 'db.sqlite') }, 'cache_test', [
      {
        name: '001_items',
        up: (k) => k.schema.createTable('items', (t) => {
          t.integer('id').primary();
          t.string('label');
        }),
        down: (k) => k.schema.dropTable('items'),
      },
    ]);
  });

  afterEach(async () => {
    await knex.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a repeated query with the bindings of each call', async () => {
    await knex('items').insert([{ id: 1, label: 'one' }, { id: 2, label: 'two' }]);
    for (const [id, label] of [[1, 'one'], [2, 'two'], [1, 'one'], [3, undefined]] as const) {
      expect((await knex('items').where({ id }).first())?.label).to.equal(label);
    }
  });

  it('reports changes and last ids of writes, inside and outside transactions', async () => {
    await knex('items').insert({ id: 5, label: 'x' });
    expect(await knex('items').where({ id: 5 }).update({ label: 'y' })).to.equal(1);
    expect(await knex('items').where({ id: 6 }).update({ label: 'y' })).to.equal(0);
    await knex.transaction(async (trx) => {
      expect(await trx('items').where({ id: 5 }).update({ label: 'z' })).to.equal(1);
    });
    await knex.transaction(async (trx) => {
      await trx('items').where({ id: 5 }).update({ label: 'rolled back' });
      throw new Error('abort');
    }).catch(() => undefined);
    expect((await knex('items').where({ id: 5 }).first())?.label).to.equal('z');
  });

  it(`stays correct past ${STATEMENT_CACHE_SIZE} distinct statements (IN-lists of every length, so the cache must evict)`, async () => {
    await knex('items').insert(Array.from({ length: 50 }, (_, i) => ({ id: i, label: `l${i}` })));
    for (let round = 0; round < 2; round++) {
      for (let n = 1; n <= STATEMENT_CACHE_SIZE + 20; n++) {
        const ids = Array.from({ length: n }, (_, i) => i % 60);
        const rows = await knex('items').whereIn('id', ids).count({ c: '*' });
        expect(Number(rows[0].c)).to.equal(Math.min(n, 50));
      }
    }
  });

  it('sees a schema change made after a statement was cached', async () => {
    await knex('items').insert({ id: 1, label: 'one' });
    expect(Object.keys((await knex('items').select('*'))[0])).to.deep.equal(['id', 'label']);
    await knex.schema.alterTable('items', (t) => t.string('extra').defaultTo('e'));
    expect((await knex('items').select('*'))[0]).to.deep.equal({ id: 1, label: 'one', extra: 'e' });
  });
});
