import { createRequire } from 'node:module';

/** The parts of better-sqlite3 used here (it ships no types). */
interface Statement {
  readonly reader: boolean;
  all(bindings: unknown[]): unknown[];
  run(bindings: unknown[]): { changes: number; lastInsertRowid: number | bigint };
}
interface Connection {
  prepare(sql: string): Statement;
  transaction<T>(fn: () => T): { immediate(): T };
  readonly inTransaction: boolean;
}

/** The part of knex's better-sqlite3 dialect (knex/lib/dialects/better-sqlite3) this file uses. */
interface KnexQueryObject {
  sql: string;
  bindings?: unknown[];
  options?: unknown;
  response?: unknown;
  context?: { lastID: number | bigint; changes: number };
}
interface BetterSqliteDialect {
  _optSafeIntegers(options: unknown): boolean | undefined;
  _formatBindings(bindings: unknown[] | undefined): unknown[];
  _query(connection: Connection, obj: KnexQueryObject): Promise<KnexQueryObject>;
}
type DialectClass = new (config: unknown) => BetterSqliteDialect;

// knex ships its dialects as CommonJS without types; this is the class `client: 'better-sqlite3'` names.
const BetterSqliteClient = createRequire(import.meta.url)('knex/lib/dialects/better-sqlite3/index.js') as DialectClass;

/** Prepared statements kept per connection; an LRU so queries with varying IN-lists cannot grow it without bound. */
export const STATEMENT_CACHE_SIZE = 500;

// By connection, not on the client: knex runs a transaction's queries on a copy of the client's prototype.
const statements = new WeakMap<Connection, Map<string, Statement>>();

/** The connection's prepared statement for this SQL (kept by SQL text, least recently used out). */
function preparedStatement(connection: Connection, sql: string): Statement {
  let cache = statements.get(connection);
  if (!cache) {
    cache = new Map();
    statements.set(connection, cache);
  }
  let statement = cache.get(sql);
  if (statement) {
    cache.delete(sql); // re-inserted below: the Map's order is the LRU order
  } else {
    statement = connection.prepare(sql);
    if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  }
  cache.set(sql, statement);
  return statement;
}

/**
 * knex's better-sqlite3 dialect prepares every statement again on every query, which costs
 * more than running most of ours. This one keeps each connection's prepared statements by
 * their SQL text (SQLite re-prepares them by itself after a schema change).
 */
export class CachedStatementsClient extends BetterSqliteClient {
  override async _query(connection: Connection, obj: KnexQueryObject): Promise<KnexQueryObject> {
    if (!obj.sql) throw new Error('The query is empty');
    if (!connection) throw new Error('No connection provided');
    // Per-query safeIntegers would change a shared statement for later callers: leave those to knex.
    if (this._optSafeIntegers(obj.options) !== undefined) return super._query(connection, obj);
    const statement = preparedStatement(connection, obj.sql);
    const bindings = this._formatBindings(obj.bindings);
    if (statement.reader) {
      obj.response = statement.all(bindings);
      return obj;
    }
    const response = statement.run(bindings);
    obj.response = response;
    obj.context = { lastID: response.lastInsertRowid, changes: response.changes };
    return obj;
  }
}

/** What a statement binds to its ? placeholders. */
export type SqlValue = string | number | null | Buffer;

/** Runs one write statement (SQL with ? placeholders) on the held connection; answers how many rows it changed. */
export type SqliteRun = (sql: string, values: readonly SqlValue[]) => number;

/** A row to insert: column name to value (columns come from code, never from a request). */
export type SqlRecord = Record<string, SqlValue>;

/**
 * Inserts `record` into `table` through `run`. The SQL comes from the record's own columns, so
 * each insert is written once, as the record a store builds for knex as well; records built by
 * one function share one SQL text, hence one prepared statement.
 */
export function insertRecord(run: SqliteRun, table: string, record: SqlRecord): number {
  const columns = Object.keys(record);
  return run(`insert into ${table} (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')})`, Object.values(record));
}

/** The pool's side of knex's client, to hold its one connection without knex. */
interface PooledClient {
  acquireConnection(): Promise<Connection>;
  releaseConnection(connection: Connection): Promise<unknown>;
  /** knex hands this on as its own 'query' event (what listeners of knex.on('query') hear). */
  emit(event: 'query', query: { sql: string; bindings: readonly SqlValue[]; method: string }): boolean;
}

/** What runs on a connection held by withConnection, each statement announced as knex announces its own. */
interface HeldConnection {
  connection: Connection;
  run: SqliteRun;
  all<R>(sql: string, values: readonly SqlValue[]): R[];
}

/**
 * SQLite only: `body` on the database's one connection (the pool holds one), held until `body`
 * settles: nothing else runs on it meanwhile, as in a knex transaction. Its statements use the
 * connection's prepared statements, without knex's query building (knex's transaction alone
 * cost about 100 µs of CPU: 110 µs for two updates, against 15 µs this way).
 */
async function withConnection<T>(knex: { client: unknown }, body: (held: HeldConnection) => T | Promise<T>): Promise<T> {
  const pool = knex.client as PooledClient;
  const connection = await pool.acquireConnection();
  const statement = (sql: string, values: readonly SqlValue[]) => {
    pool.emit('query', { sql, bindings: values, method: 'raw' });
    return preparedStatement(connection, sql);
  };
  try {
    return await body({
      connection,
      run: (sql, values) => statement(sql, values).run([...values]).changes,
      all: <R>(sql: string, values: readonly SqlValue[]) => statement(sql, values).all([...values]) as R[],
    });
  } finally {
    await pool.releaseConnection(connection);
  }
}

/** SQLite only: `body`'s writes as one synchronous BEGIN IMMEDIATE ... COMMIT; a throw rolls everything back. */
export function sqliteTransaction<T>(knex: { client: unknown }, body: (run: SqliteRun) => T): Promise<T> {
  return withConnection(knex, ({ connection, run }) => connection.transaction(() => body(run)).immediate());
}

/** What sqliteWriteTransaction's body may do on the held connection. */
export interface SqliteWrites {
  /** A write statement; answers how many rows it changed. */
  run: SqliteRun;
  /** A read statement's rows. */
  all<R>(sql: string, values: readonly SqlValue[]): R[];
  /** Resolves once the transaction has committed; rejects if it rolls back. */
  committed: Promise<void>;
}

/**
 * SQLite only: BEGIN IMMEDIATE, `body` (which may wait on other work between its statements:
 * the connection stays held, as a knex transaction holds it), COMMIT; ROLLBACK if it throws.
 * For writes whose transaction must span a call (an audit append asks key-management for its links).
 */
export function sqliteWriteTransaction<T>(knex: { client: unknown }, body: (db: SqliteWrites) => Promise<T>): Promise<T> {
  return withConnection(knex, async ({ connection, run, all }) => {
    let settle!: { commit(): void; rollback(err: unknown): void };
    const committed = new Promise<void>((commit, rollback) => (settle = { commit, rollback }));
    committed.catch(() => undefined); // heard of only by those who wait on it
    try {
      run('BEGIN IMMEDIATE', []);
      const result = await body({ run, all, committed });
      run('COMMIT', []);
      settle.commit();
      return result;
    } catch (err) {
      if (connection.inTransaction) run('ROLLBACK', []);
      settle.rollback(err);
      throw err;
    }
  });
}

/** SQLite only: the rows of one read, through the connection's prepared statement (no knex query building). */
export function sqliteRows<R>(knex: { client: unknown }, sql: string, values: readonly SqlValue[]): Promise<R[]> {
  return withConnection(knex, ({ all }) => all<R>(sql, values));
}
