import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { openDatabase, type Knex } from './db.js';
import { sqliteRows, sqliteTransaction, sqliteWriteTransaction, STATEMENT_CACHE_SIZE } from './sqlite-client.js';

/** A fresh SQLite database (in its own temporary dir) with one table, items(id, label), for each test. */
function itemsDatabase(): { knex: () => Knex } {
  let dir: string;
  let knex: Knex;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vessl-sqlite-client-'));
    knex = await openDatabase({ sqliteFile: path.join(dir, 'db.sqlite') }, 'items_test', [
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
  return { knex: () => knex };
}

describe('SQLite statement cache', () => {
  const db = itemsDatabase();
  let knex: Knex;
  beforeEach(() => (knex = db.knex()));

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

describe('SQLite transactions without knex (sqliteTransaction, sqliteWriteTransaction, sqliteRows)', () => {
  const db = itemsDatabase();
  let knex: Knex;
  beforeEach(() => (knex = db.knex()));
  const labels = async () => (await knex('items').orderBy('id')).map((r: { id: number; label: string }) => `${r.id}:${r.label}`);

  it('commits all of a synchronous body, or nothing when it throws (a unique violation included)', async () => {
    expect(await sqliteTransaction(knex, (run) => run('insert into items (id, label) values (?, ?)', [1, 'a']) + run('insert into items (id, label) values (?, ?)', [2, 'b']))).to.equal(2);
    const err = await sqliteTransaction(knex, (run) => {
      run('insert into items (id, label) values (?, ?)', [3, 'c']);
      run('insert into items (id, label) values (?, ?)', [1, 'taken']);
    }).catch((e: { code?: string }) => e);
    expect(err).to.have.property('code', 'SQLITE_CONSTRAINT_PRIMARYKEY');
    expect(await labels()).to.deep.equal(['1:a', '2:b']);
  });

  it('holds the connection across an await: a write transaction and knex queries queue behind it, and a throw rolls back', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const order: string[] = [];
    const first = sqliteWriteTransaction(knex, async (db) => {
      db.run('insert into items (id, label) values (?, ?)', [1, 'first']);
      await gate;
      order.push('first done');
      return db.all<{ n: number }>('select count(*) as n from items', [])[0].n;
    });
    const second = sqliteWriteTransaction(knex, async (db) => {
      order.push('second began');
      db.run('insert into items (id, label) values (?, ?)', [2, 'second']);
      throw new Error('abort the second');
    }).catch((e: Error) => e.message);
    const read = knex('items').count({ n: '*' }).then((r) => (order.push('knex read'), Number(r[0].n)));
    await new Promise((r) => setImmediate(r));
    expect(order).to.deep.equal([]);
    release();
    expect(await first).to.equal(1);
    expect(await second).to.equal('abort the second');
    expect(await read).to.equal(1);
    expect(order[0]).to.equal('first done');
    expect(await labels()).to.deep.equal(['1:first']);
  });

  it('settles `committed` after COMMIT, and rejects it on a rollback', async () => {
    let committed!: Promise<void>;
    await sqliteWriteTransaction(knex, async (db) => {
      committed = db.committed;
      db.run('insert into items (id, label) values (?, ?)', [1, 'x']);
    });
    await committed;
    let rolledBack!: Promise<void>;
    await sqliteWriteTransaction(knex, async (db) => {
      rolledBack = db.committed;
      throw new Error('no');
    }).catch(() => undefined);
    expect(await rolledBack.then(() => 'committed', () => 'rolled back')).to.equal('rolled back');
  });

  it('announces its statements to knex query listeners, as knex does its own', async () => {
    const seen: string[] = [];
    const listener = (q: { sql: string }) => seen.push(q.sql);
    knex.on('query', listener);
    try {
      await sqliteTransaction(knex, (run) => run('insert into items (id, label) values (?, ?)', [7, 'q']));
      expect(await sqliteRows<{ label: string }>(knex, 'select label from items where id = ?', [7])).to.deep.equal([{ label: 'q' }]);
    } finally {
      knex.off('query', listener);
    }
    expect(seen).to.deep.equal(['insert into items (id, label) values (?, ?)', 'select label from items where id = ?']);
  });
});
