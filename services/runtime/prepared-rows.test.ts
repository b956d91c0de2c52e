import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import knexFactory from 'knex';
import { engines } from '../../test/support/postgres.js';
import { dialectOf, openDatabase, preparedRows, type Knex } from './db.js';

const READ = 'select id, label from items where label = ? and id >= ? order by id';

for (const engine of engines()) {
  describe(`preparedRows (${engine.name})`, () => {
    let dir: string;
    let url: string | undefined;
    let knex: Knex;

    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'vessl-prepared-'));
      url = await engine.freshUrl();
      const migrated = await openDatabase({ url, sqliteFile: path.join(dir, 'db.sqlite') }, 'prepared_test', [
        {
          name: '001_items',
          up: (k) => k.schema.createTable('items', (t) => {
            t.integer('id').primary();
            t.string('label');
          }),
          down: (k) => k.schema.dropTable('items'),
        },
      ]);
      await migrated('items').insert([{ id: 1, label: 'a' }, { id: 2, label: 'b' }, { id: 3, label: 'a' }]);
      knex = migrated;
      if (url) {
        // One connection: what it prepared can be read back from it, and a connection kept
        // after a failure would hang the next call. (SQLite has one already.)
        await migrated.destroy();
        knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 }, acquireConnectionTimeout: 2_000 });
      }
    });

    after(async () => {
      await knex.destroy();
      await engine.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it('answers each call with its own values, the same statement every time', async () => {
      const cases: [string, number, number[]][] = [
        ['a', 0, [1, 3]],
        ['b', 0, [2]],
        ['a', 2, [3]],
        ['c', 0, []],
        ['a', 0, [1, 3]],
      ];
      for (const [label, from, ids] of cases) {
        const rows = await preparedRows<{ id: number; label: string }>(knex, 'prepared_test_read', READ, [label, from]);
        expect(rows.map((r) => r.id), `${label} from ${from}`).to.deep.equal(ids);
      }
      if (dialectOf(knex) === 'postgres') {
        const prepared = await knex.raw<{ rows: { name: string; statement: string }[] }>('select name, statement from pg_prepared_statements');
        expect(prepared.rows).to.deep.equal([{ name: 'prepared_test_read', statement: READ.replace('?', '$1').replace('?', '$2') }]);
      }
    });

    it('rejects a failing statement and gives its connection back', async () => {
      const missing = preparedRows(knex, 'prepared_test_missing', 'select id from no_such_table where id = ?', [1]);
      await missing.then(
        () => expect.fail('a read of a missing table answered'),
        (err: Error) => expect(err.message).to.match(/no_such_table/),
      );
      expect(await preparedRows(knex, 'prepared_test_read', READ, ['b', 0])).to.have.length(1);
    });
  });
}
