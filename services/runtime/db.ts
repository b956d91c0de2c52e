import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { CachedStatementsClient } from './sqlite-client.js';

export type { Knex };

/** One named, commented schema step. Migrations never change once released. */
export interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

export interface DatabaseSettings {
  /** postgres://... switches to PostgreSQL; otherwise SQLite in sqliteFile. */
  url?: string;
  sqliteFile: string;
}

export type Dialect = 'sqlite' | 'postgres';

export function dialectOf(knex: Knex): Dialect {
  return knex.client.config.client === 'pg' ? 'postgres' : 'sqlite';
}

/**
 * Opens the service's database and brings its schema up to date. Each service keeps its
 * own migrations table so the three services can share one PostgreSQL database.
 */
export async function openDatabase(settings: DatabaseSettings, service: string, migrations: Migration[]): Promise<Knex> {
  const knex = connectDatabase(settings);
  const migrate = () =>
    knex.migrate.latest({
      tableName: `${service}_migrations`,
      migrationSource: {
        getMigrations: async () => migrations,
        getMigrationName: (m: Migration) => m.name,
        getMigration: async (m: Migration) => m,
      },
    });
  try {
    if (settings.url) await withAdvisoryLock(knex, `migrate:${service}`, migrate);
    else await migrate();
  } catch (err) {
    await knex.destroy();
    throw err;
  }
  return knex;
}

/** A connection to the service's database as it is, without migrating it (maintenance commands). */
export function connectDatabase(settings: DatabaseSettings): Knex {
  return settings.url ? openPostgres(settings.url) : openSqlite(settings.sqliteFile);
}

/**
 * Replicas starting together on one PostgreSQL database take turns migrating: knex creates
 * its migrations table outside its own lock, so two first starts would otherwise collide.
 */
async function withAdvisoryLock<T>(knex: Knex, name: string, body: () => Promise<T>): Promise<T> {
  return knex.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [name]);
    return body();
  });
}

// Never copy bound values into error messages: they may be ciphertext or wrapped keys,
// and error messages end up in logs.
const NO_VALUES_IN_ERRORS = { compileSqlOnError: false } as const;

function openPostgres(url: string): Knex {
  return knexFactory({
    ...NO_VALUES_IN_ERRORS,
    client: 'pg',
    connection: url,
    pool: { min: 0, max: 10 },
    acquireConnectionTimeout: 10_000,
  });
}

function openSqlite(file: string): Knex {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // Create the file 0600 before SQLite does, so the database is never world-readable.
  closeSync(openSync(file, 'a', 0o600));
  return knexFactory({
    ...NO_VALUES_IN_ERRORS,
    // knex's own better-sqlite3 dialect, keeping prepared statements (sqlite-client.ts).
    client: CachedStatementsClient as unknown as typeof Knex.Client,
    connection: { filename: file },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: { pragma(s: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
        conn.pragma('journal_mode = WAL');
        conn.pragma('synchronous = NORMAL');
        conn.pragma('foreign_keys = ON');
        conn.pragma('busy_timeout = 5000');
        // Overwrite deleted content (destroyed ciphertext) instead of leaving it in free pages.
        conn.pragma('secure_delete = ON');
        done(null, conn);
      },
    },
  });
}

/** Runs an insert; false (instead of an error) when a unique constraint says it exists already. */
export async function insertUnlessTaken(insert: () => PromiseLike<unknown>): Promise<boolean> {
  try {
    await insert();
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

/** True when err is a unique-constraint violation, on either engine. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Integers from bigint columns: PostgreSQL returns them as strings. */
export function toNumber(value: unknown): number {
  return typeof value === 'string' ? Number(value) : (value as number);
}

/** A nullable bigint column as an optional number. */
export const optionalNumber = (v: number | string | null) => (v === null ? undefined : toNumber(v));

/** PostgreSQL row lock for a read-modify-write; SQLite serialises writers by itself. */
export function forUpdate<T extends Knex.QueryBuilder>(query: T, knex: Knex): T {
  return dialectOf(knex) === 'postgres' ? (query.forUpdate() as T) : query;
}

/**
 * The rows of `rows` whose `column` is one of `keys` (each key once, in no particular order),
 * as a table to select from; `rows` must hold at most one row per key. PostgreSQL plans
 * `column IN (...)` from statistics: without them (autovacuum off, or an org just bulk-loaded)
 * it read all of an org's 100,000 secrets through the index on org alone and filtered the
 * names, 13-143 ms instead of 0.1. One LATERAL lookup per key leaves it no such plan (LIMIT 1
 * keeps it from merging the lookups back into one scan). SQLite probes the index once per key
 * of an IN list by itself.
 */
export function rowsByKeys<R extends object>(db: Knex, rows: () => Knex.QueryBuilder<R>, column: string, keys: string[]): Knex.QueryBuilder<R, R[]> {
  const distinct = [...new Set(keys)];
  if (dialectOf(db) === 'sqlite') return rows().whereIn(column, distinct) as Knex.QueryBuilder<R, R[]>;
  const lookup = rows().where(column, db.ref('asked.key')).limit(1);
  const found = db.select('found.*').from(db.raw('unnest(?::text[]) as asked(key) cross join lateral ? as found', [distinct, lookup]));
  return db.from<R>(found.as('found')) as unknown as Knex.QueryBuilder<R, R[]>;
}

/** The part of a pg connection that preparedRows uses. */
interface PgConnection {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * Rows of a hot, fixed read through a named prepared statement: on PostgreSQL it skips
 * knex's query building and the server's parse and plan (each connection prepares `name`
 * once; ~95 -> ~64 µs per read on loopback). `sql` uses ? placeholders and must be one text
 * per name. SQLite runs it through knex, whose statements sqlite-client.ts keeps prepared.
 */
export async function preparedRows<R>(db: Knex, name: string, sql: string, values: readonly Knex.Value[]): Promise<R[]> {
  if (dialectOf(db) === 'sqlite') return (await db.raw(sql, [...values])) as R[];
  let n = 0;
  const text = sql.replace(/\?/g, () => `$${++n}`);
  const connection = (await db.client.acquireConnection()) as PgConnection;
  // Announced as knex announces its own statements (to knex.on('query') listeners): as sent.
  (db.client as { emit(event: 'query', query: { sql: string; bindings: readonly Knex.Value[]; method: string }): boolean }).emit('query', { sql: text, bindings: values, method: 'raw' });
  try {
    return (await connection.query({ name, text, values: [...values] })).rows as R[];
  } finally {
    await db.client.releaseConnection(connection);
  }
}
