import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';

/**
 * PostgreSQL for tests: every run makes its own database and drops it afterwards, so runs
 * never see each other's state. VESSL_TEST_POSTGRES_URL points at the server's maintenance
 * database (default postgres://postgres@127.0.0.1:5432/postgres).
 */
export const POSTGRES_ADMIN_URL = process.env.VESSL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Set VESSL_TEST_POSTGRES=off to run the SQLite half only (never in CI). */
export const POSTGRES_ENABLED = process.env.VESSL_TEST_POSTGRES !== 'off';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `vessl_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: POSTGRES_ADMIN_URL, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`CREATE DATABASE ${name}`);
  } finally {
    await admin.destroy();
  }
  return {
    url: withDatabase(POSTGRES_ADMIN_URL, name),
    async drop() {
      const conn = knexFactory({ client: 'pg', connection: POSTGRES_ADMIN_URL, pool: { min: 0, max: 1 } });
      try {
        await conn.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await conn.destroy();
      }
    },
  };
}

export interface Engine {
  name: 'sqlite' | 'postgres';
  /** A fresh database URL for PostgreSQL, undefined for SQLite (files in the data dir). */
  freshUrl(): Promise<string | undefined>;
  cleanup(): Promise<void>;
}

/** The storage engines every storage test runs on. */
export function engines(): Engine[] {
  const list: Engine[] = [{ name: 'sqlite', freshUrl: async () => undefined, cleanup: async () => {} }];
  if (!POSTGRES_ENABLED) return list;
  const dbs: TestDatabase[] = [];
  list.push({
    name: 'postgres',
    async freshUrl() {
      const db = await createTestDatabase();
      dbs.push(db);
      return db.url;
    },
    async cleanup() {
      await Promise.all(dbs.splice(0).map((d) => d.drop()));
    },
  });
  return list;
}
