import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { openDatabase, type Knex } from './db.js';
import { destroyedDataOf } from './destroyed-data.js';

describe('destroyedDataOf (SQLite)', () => {
  let dir: string;
  let knex: Knex;
  let checkpoints: number;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vessl-scrub-'));
    knex = await openDatabase({ sqliteFile: path.join(dir, 'db.sqlite') }, 'scrub', [
      { name: 'one', up: (k) => k.schema.createTable('t', (t) => t.binary('v')), down: async () => {} },
    ]);
    checkpoints = 0;
    knex.on('query', (q: { sql: string }) => {
      if (q.sql.includes('wal_checkpoint')) checkpoints++;
    });
  });
  afterEach(async () => {
    await knex.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('truncates the -wal file to 0 bytes', async () => {
    await knex('t').insert({ v: Buffer.alloc(10_000, 7) });
    expect(statSync(path.join(dir, 'db.sqlite-wal')).size).to.be.greaterThan(0);
    expect(await destroyedDataOf(knex).scrub()).to.equal(true);
    expect(statSync(path.join(dir, 'db.sqlite-wal')).size).to.equal(0);
  });

  it('runs one checkpoint per scrub when they come one after another', async () => {
    for (let i = 0; i < 3; i++) await destroyedDataOf(knex).scrub();
    expect(checkpoints).to.equal(3);
  });

  it('batches scrubs that arrive together: 50 at once share at most two checkpoints', async () => {
    const scrubber = destroyedDataOf(knex);
    expect(await Promise.all(Array.from({ length: 50 }, () => scrubber.scrub()))).to.deep.equal(Array(50).fill(true));
    expect(checkpoints).to.be.within(1, 2);
  });

  it('makes a scrub asked for while one runs wait for a checkpoint that began after it', async () => {
    const scrubber = destroyedDataOf(knex);
    const first = scrubber.scrub();
    const second = scrubber.scrub();
    expect(second).to.not.equal(first);
    await second;
    expect(checkpoints).to.equal(2);
  });

  it('is one scrubber per database, so every writer of it shares the batching', () => {
    expect(destroyedDataOf(knex)).to.equal(destroyedDataOf(knex));
  });
});
