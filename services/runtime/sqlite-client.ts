import { createRequire } from 'node:module';

/** The parts of better-sqlite3 used here (it ships no types). */
interface Statement {
  readonly reader: boolean;
  all(bindings: unknown[]): unknown[];
  run(bindings: unknown[]): { changes: number; lastInsertRowid: number | bigint };
}
interface Connection {
  prepare(sql: string): Statement;
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

/**
 * knex's better-sqlite3 dialect prepares every statement again on every query, which costs
 * more than running most of ours. This one keeps each connection's prepared statements by
 * their SQL text (SQLite re-prepares them by itself after a schema change).
 */
export class CachedStatementsClient extends BetterSqliteClient {
  private prepared(connection: Connection, sql: string): Statement {
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

  override async _query(connection: Connection, obj: KnexQueryObject): Promise<KnexQueryObject> {
    if (!obj.sql) throw new Error('The query is empty');
    if (!connection) throw new Error('No connection provided');
    // Per-query safeIntegers would change a shared statement for later callers: leave those to knex.
    if (this._optSafeIntegers(obj.options) !== undefined) return super._query(connection, obj);
    const statement = this.prepared(connection, obj.sql);
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
