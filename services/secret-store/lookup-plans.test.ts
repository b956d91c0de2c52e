import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { testAuditChain } from '../../test/support/audit-chain.js';
import { engines } from '../../test/support/postgres.js';
import { dialectOf, openDatabase, type Knex } from '../runtime/db.js';
import { secretStoreMigrations } from './migrations.js';
import { createSecretStore, NameTakenError, type SecretRow, type SecretStore } from './store.js';

/**
 * The lookups by name (a launch's secrets, a create's taken names) and by uid (a job view's
 * version check) probe the index once per key whatever the planner's statistics say: none
 * (autovacuum off, or just after a bulk load), fresh, or older than an org's bulk load.
 * Without statistics PostgreSQL answered `org = ? AND name IN (...)` by reading every live
 * secret of the org through the index on org alone, filtering the names.
 */

const SEEDED = 20_000;
const BIG = 'org-big';
const LATE = 'org-late';
const nameOf = (i: number) => `SECRET_${String(i).padStart(6, '0')}`;
const uidOf = (org: string, i: number | string) => `s_${org}_${i}`;
/** Keys spread over the org, and one that does not exist. */
const asked = (count: number, key: (i: number) => string) => [...Array.from({ length: count }, (_, i) => key(1 + ((i * 7919) % SEEDED))), key(SEEDED + 1)];

/** `count` live secrets of `org` named nameOf(1..count), in one statement. */
async function seed(knex: Knex, org: string, count: number): Promise<void> {
  const postgres = dialectOf(knex) === 'postgres';
  const numbers = postgres
    ? 'select i from generate_series(1, ?) as g(i)'
    : 'with recursive g(i) as (select 1 union all select i + 1 from g where i < ?) select i from g';
  const name = postgres ? `'SECRET_' || lpad(i::text, 6, '0')` : `'SECRET_' || substr('00000' || i, -6, 6)`;
  const value = Buffer.from([1, 2, 3]);
  await knex.raw(
    `insert into secrets (uid, org, name, key, description, version, ciphertext, wrapped_dek, kek_version, created_at, created_by, updated_at, updated_by, value_updated_at)
     select ? || i, ?, ${name}, 'K', '', 1, ?, ?, 1, 1, 'seed', 1, 'seed', 1 from (${numbers}) as numbers`,
    [uidOf(org, ''), org, value, value, count],
  );
}

interface IssuedQuery {
  sql: string;
  bindings: unknown[];
}

/** The SELECTs on secrets that body issues, as sent to the database. */
async function selectsOf(knex: Knex, body: () => Promise<unknown>): Promise<IssuedQuery[]> {
  const issued: IssuedQuery[] = [];
  const listener = (q: IssuedQuery) => {
    if (/^select\b/i.test(q.sql) && /\bsecrets\b/.test(q.sql)) issued.push({ sql: q.sql, bindings: q.bindings });
  };
  knex.on('query', listener);
  try {
    await body();
  } finally {
    knex.off('query', listener);
  }
  expect(issued, 'the lookup ran no query on secrets').to.not.be.empty;
  return issued;
}

interface PgPlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Cond'?: string;
  Filter?: string;
  Plans?: PgPlanNode[];
}

/** How each scan of secrets finds its rows: `index: <condition>`, `filter: <condition>`, or `seq scan`. */
async function scansOf(knex: Knex, q: IssuedQuery): Promise<string[]> {
  // On the connection itself, with the exact text and bindings knex sent.
  const conn = await knex.client.acquireConnection();
  try {
    if (dialectOf(knex) === 'sqlite') {
      const rows = conn.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(q.bindings) as { detail: string }[];
      return rows.map((r) => r.detail).filter((d) => /\bsecrets\b/.test(d));
    }
    const result = await conn.query(`EXPLAIN (FORMAT JSON) ${q.sql}`, q.bindings);
    const scans: string[] = [];
    const walk = (node: PgPlanNode) => {
      // A bitmap scan's index condition sits on its Bitmap Index Scan child (no relation name).
      if (node['Relation Name'] === 'secrets' || node['Node Type'] === 'Bitmap Index Scan') {
        if (node['Node Type'] === 'Seq Scan') scans.push('seq scan');
        if (node['Index Cond']) scans.push(`index: ${node['Index Cond']}`);
        if (node.Filter) scans.push(`filter: ${node.Filter}`);
      }
      node.Plans?.forEach(walk);
    };
    walk(result.rows[0]['QUERY PLAN'][0].Plan);
    return scans;
  } finally {
    await knex.client.releaseConnection(conn);
  }
}

/** Every scan of secrets seeks the index by all of `columns`, and none filters rows by the last of them. */
function expectIndexSeeks(scans: string[], dialect: 'sqlite' | 'postgres', columns: string[]): void {
  const key = columns[columns.length - 1];
  if (dialect === 'sqlite') {
    const seek = new RegExp(`^SEARCH secrets USING (COVERING )?INDEX \\S+ \\(${columns.map((c) => `${c}=\\?`).join(' AND ')}\\)$`);
    for (const scan of scans) expect(scan, scans.join('\n')).to.match(seek);
    return;
  }
  // `(org)::text = ...` or `org = ...`, as PostgreSQL prints it.
  const on = (column: string) => new RegExp(`\\b${column}\\)?(::\\w+)? = `);
  expect(scans, scans.join('\n')).to.not.include('seq scan');
  expect(
    scans.some((s) => s.startsWith('index: ') && columns.every((c) => on(c).test(s))),
    `no index condition on ${columns.join(' and ')}:\n${scans.join('\n')}`,
  ).to.equal(true);
  for (const scan of scans) if (scan.startsWith('filter: ')) expect(scan, scans.join('\n')).to.not.match(on(key));
}

function newRow(org: string, name: string): SecretRow {
  const value = { ciphertext: Uint8Array.of(1), wrappedDek: Uint8Array.of(2), kekVersion: 1 };
  return { uid: `s_new_${name}`, org, name, key: 'K', description: '', version: 1, value, createdAt: 1, createdBy: 'u', updatedAt: 1, updatedBy: 'u', valueUpdatedAt: 1 };
}

const lookups = (org: string) => [
  { what: 'a launch resolving 20 names', columns: ['org', 'name'], run: (store: SecretStore) => store.getLiveMany(org, asked(20, nameOf)) },
  {
    what: "a batch create's taken-name check",
    columns: ['org', 'name'],
    run: async (store: SecretStore) => {
      const rows = asked(20, (i) => `NEW_${i}`).map((name) => newRow(org, name));
      rows.push(newRow(org, nameOf(1)));
      let caught: unknown;
      await store.insertMany(rows, []).catch((err: unknown) => (caught = err));
      expect(caught).to.be.instanceOf(NameTakenError).with.property('names').that.deep.equals([nameOf(1)]);
    },
  },
  { what: "a job view checking its 20 secrets' current versions", columns: ['uid'], run: (store: SecretStore) => store.versionsByUid(org, asked(20, (i) => uidOf(org, i))) },
];

for (const engine of engines()) {
  describe(`secret-store lookups by name and uid (${engine.name}): plans that do not depend on statistics`, function () {
    let dir: string;
    let knex: Knex;
    let store: SecretStore;

    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'vessl-lookup-plans-'));
      knex = await openDatabase({ url: await engine.freshUrl(), sqliteFile: path.join(dir, 'secret-store.sqlite') }, 'secret_store', secretStoreMigrations);
      // Statistics appear only when this test asks (a CI server may run autovacuum).
      if (engine.name === 'postgres') await knex.raw('alter table secrets set (autovacuum_enabled = false)');
      await seed(knex, BIG, SEEDED);
      for (const org of ['org-a', 'org-b', 'org-c']) await seed(knex, org, 1_000);
      store = createSecretStore(knex, await testAuditChain());
    });
    after(async () => {
      await knex?.destroy();
      await engine.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    const stages: { stage: string; org: string; prepare?: () => Promise<void> }[] = [
      { stage: 'without statistics, after a bulk load', org: BIG },
      { stage: 'with fresh statistics', org: BIG, prepare: async () => void (await knex.raw('analyze')) },
      { stage: "with statistics from before an org's bulk load", org: LATE, prepare: () => seed(knex, LATE, SEEDED) },
    ];
    for (const { stage, org, prepare } of stages) {
      describe(stage, () => {
        if (prepare) before(prepare);
        for (const lookup of lookups(org)) {
          it(`${lookup.what} seeks the index by ${lookup.columns.join(' and ')}`, async () => {
            for (const q of await selectsOf(knex, () => lookup.run(store))) expectIndexSeeks(await scansOf(knex, q), engine.name, lookup.columns);
          });
        }
      });
    }
  });
}
