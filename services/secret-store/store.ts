import { dialectOf, isUniqueViolation, preparedRows, rowsByKeys, toNumber, type Knex } from '../runtime/db.js';
import { insertRecord, sqliteRows, sqliteWriteTransaction } from '../runtime/sqlite-client.js';
import { destroyedDataOf } from '../runtime/destroyed-data.js';
import type { EnvVarFit } from '../runtime/env-var-fit.js';
import { sqliteAuditWrites, type AuditChain, type AuditEvent } from './audit.js';
import { UnlockedAuditAppends } from './audit-unlocked-append.js';

export interface EncryptedValue {
  ciphertext: Uint8Array;
  wrappedDek: Uint8Array;
  kekVersion: number;
  /** Keyed BLAKE2b-256 of the value under the org audit key (hex); absent for values stored without one. */
  fingerprint?: string;
  /** Whether it can be a job's environment variable, as key-management saw it; absent for values stored before this was recorded. */
  envVarFit?: EnvVarFit;
}

/** A secret as stored. `value` is absent once the secret is deleted. */
export interface SecretRow {
  uid: string;
  org: string;
  name: string;
  key: string;
  description: string;
  version: number;
  value?: EncryptedValue;
  createdAt: number;
  createdBy: string;
  updatedAt: number;
  updatedBy: string;
  valueUpdatedAt: number;
  deletedAt?: number;
  deletedBy?: string;
}

/**
 * A secret as listed: everything but the ciphertext and the wrapped data key, which a
 * listing never needs. `value` holds only the fingerprint, and is absent once deleted.
 */
export type SecretMetadata = Omit<SecretRow, 'value'> & { value?: Pick<EncryptedValue, 'fingerprint' | 'envVarFit'> };

export interface ListQuery {
  org: string;
  showDeleted: boolean;
  limit: number;
  /** Keyset position: rows strictly after (name, uid). */
  after?: { name: string; uid: string };
}

export interface SecretChange {
  key?: string;
  description?: string;
  value?: EncryptedValue;
  version?: number;
  updatedAt: number;
  updatedBy: string;
}

/** What the row must still hold for an update to apply (optimistic concurrency). */
export interface ExpectedState {
  version: number;
  key?: string;
  description?: string;
}

/** Inserts retried when the name clash they met was gone by the time it was looked up. */
const NAME_CLASH_RETRIES = 5;

export class NameTakenError extends Error {
  constructor(readonly names: string[] = []) {
    super(`a live secret with this name exists: ${names.join(', ')}`);
  }
}

/**
 * secret-store's storage, one knex implementation for SQLite and PostgreSQL. Every write
 * appends its audit events in the same transaction.
 */
export interface SecretStore {
  /** Inserts a live secret; throws NameTakenError when the name is taken. */
  insert(row: SecretRow, audit: AuditEvent[]): Promise<void>;
  /** Inserts live secrets of one org in one transaction: all or none (NameTakenError names the taken). */
  insertMany(rows: SecretRow[], audit: AuditEvent[]): Promise<void>;
  getLive(org: string, name: string): Promise<SecretRow | undefined>;
  /** The live secrets among names, each once, ordered by name (bytewise). */
  getLiveMany(org: string, names: string[]): Promise<SecretRow[]>;
  list(query: ListQuery): Promise<SecretMetadata[]>;
  /**
   * Applies a change if the row is still live and still as the caller read it (value
   * version, and key/description when given); false when another write came first.
   */
  update(uid: string, expected: ExpectedState, change: SecretChange, audit: AuditEvent[]): Promise<boolean>;
  /** Soft-deletes and destroys the ciphertext; false when the row is no longer live. */
  softDelete(uid: string, at: number, by: string, audit: AuditEvent[]): Promise<boolean>;
  appendAudit(audit: AuditEvent[]): Promise<void>;
  /** The org's audit sequence number (0 before its first event): it moves with every change to its secrets. */
  auditSeq(org: string): Promise<number>;
  /** Current version and liveness of secrets by uid (unknown uids are left out). */
  versionsByUid(org: string, uids: string[]): Promise<{ uid: string; name: string; version: number; deleted: boolean }[]>;
  ping(): Promise<void>;
}

interface SecretRecord {
  uid: string;
  org: string;
  name: string;
  key: string;
  description: string;
  version: number | string;
  ciphertext: Buffer | null;
  wrapped_dek: Buffer | null;
  kek_version: number | null;
  value_fingerprint?: string | null;
  env_var_fit?: string | null;
  created_at: number | string;
  created_by: string;
  updated_at: number | string;
  updated_by: string;
  value_updated_at: number | string;
  deleted_at: number | string | null;
  deleted_by: string | null;
}

/** The columns of a listing: no ciphertext, no wrapped key (kek_version tells whether a value is held). */
const METADATA_COLUMNS = [
  'uid',
  'org',
  'name',
  'key',
  'description',
  'version',
  'kek_version',
  'value_fingerprint',
  'env_var_fit',
  'created_at',
  'created_by',
  'updated_at',
  'updated_by',
  'value_updated_at',
  'deleted_at',
  'deleted_by',
] as const;

type MetadataRecord = Pick<SecretRecord, (typeof METADATA_COLUMNS)[number]>;

const ENV_VAR_FITS: readonly string[] = ['ok', 'nul_byte', 'not_utf8'] satisfies EnvVarFit[];
const envVarFitOf = (r: Pick<SecretRecord, 'env_var_fit'>) => (r.env_var_fit && ENV_VAR_FITS.includes(r.env_var_fit) ? (r.env_var_fit as EnvVarFit) : undefined);

function metadataFromRecord(r: MetadataRecord): SecretMetadata {
  const row = baseFromRecord(r) as SecretMetadata;
  if (r.kek_version !== null) {
    row.value = {};
    if (r.value_fingerprint) row.value.fingerprint = r.value_fingerprint;
    const fit = envVarFitOf(r);
    if (fit) row.value.envVarFit = fit;
  }
  return row;
}

function fromRecord(r: SecretRecord): SecretRow {
  const row = baseFromRecord(r);
  if (r.ciphertext && r.wrapped_dek && r.kek_version !== null) {
    row.value = { ciphertext: new Uint8Array(r.ciphertext), wrappedDek: new Uint8Array(r.wrapped_dek), kekVersion: r.kek_version };
    if (r.value_fingerprint) row.value.fingerprint = r.value_fingerprint;
    const fit = envVarFitOf(r);
    if (fit) row.value.envVarFit = fit;
  }
  return row;
}

/** Every field but the value. */
function baseFromRecord(r: MetadataRecord): SecretRow {
  const row: SecretRow = {
    uid: r.uid,
    org: r.org,
    name: r.name,
    key: r.key,
    description: r.description,
    version: toNumber(r.version),
    createdAt: toNumber(r.created_at),
    createdBy: r.created_by,
    updatedAt: toNumber(r.updated_at),
    updatedBy: r.updated_by,
    valueUpdatedAt: toNumber(r.value_updated_at),
  };
  if (r.deleted_at !== null) {
    row.deletedAt = toNumber(r.deleted_at);
    row.deletedBy = r.deleted_by ?? '';
  }
  return row;
}

const valueColumns = (value: EncryptedValue) => ({
  ciphertext: Buffer.from(value.ciphertext),
  wrapped_dek: Buffer.from(value.wrappedDek),
  kek_version: value.kekVersion,
  value_fingerprint: value.fingerprint ?? null,
  env_var_fit: value.envVarFit ?? null,
});

/** A new secret as its row in `secrets`. */
function secretRecord(row: SecretRow) {
  if (!row.value) throw new Error('a new secret needs its encrypted value');
  return {
    uid: row.uid,
    org: row.org,
    name: row.name,
    key: row.key,
    description: row.description,
    version: row.version,
    ...valueColumns(row.value),
    created_at: row.createdAt,
    created_by: row.createdBy,
    updated_at: row.updatedAt,
    updated_by: row.updatedBy,
    value_updated_at: row.valueUpdatedAt,
  };
}

/** Secret rows per INSERT statement (14 columns each: well under every engine's bind limit). */
const SECRET_INSERT_CHUNK = 500;

/** PostgreSQL: live secrets by name, one LATERAL lookup per name (see rowsByKeys in runtime/db.ts). */
const LIVE_BY_NAME = `select found.* from unnest(?::text[]) as asked(key)
cross join lateral (select * from secrets where deleted_at is null and org = ? and name = asked.key limit 1) as found
order by found.name`;

/**
 * `chain` appends each change's audit events (keyed links) inside the change's transaction.
 * `onScrubIncomplete` hears when destroyed values could not be made to leave the files at
 * once (SQLite: a reader held the checkpoint off); the next destroying write tries again.
 */
export function createSecretStore(knex: Knex, chain: Pick<AuditChain, 'append'>, opts: { onScrubIncomplete?: () => void } = {}): SecretStore {
  const destroyed = destroyedDataOf(knex);
  // After the commit: the old ciphertext and wrapped key leave every file of the store.
  // The write has committed: a scrub that fails is retried by the next destroying write.
  const scrub = async () => {
    if (!(await destroyed.scrub().catch(() => false))) opts.onScrubIncomplete?.();
  };
  // SQLite: a launch's and a create's hot statements run as prepared statements, without knex
  // (sqlite-client.ts); PostgreSQL keeps knex, and appends audit events alone without a
  // transaction (audit-unlocked-append.ts).
  const sqlite = dialectOf(knex) === 'sqlite';
  const unlockedAppends = sqlite ? undefined : new UnlockedAuditAppends(knex, chain);
  const live = (db: Knex | Knex.Transaction) => db<SecretRecord>('secrets').whereNull('deleted_at');
  // At most one live secret per name (secrets_live_name_unique), looked up by (org, name).
  const liveByName = (org: string, names: string[]) => rowsByKeys(knex, () => live(knex).where({ org }), 'name', names);
  const store: SecretStore = {
    async insert(row, audit) {
      await store.insertMany([row], audit);
    },
    async insertMany(rows, audit) {
      for (let attempt = 1; ; attempt++) {
        try {
          if (sqlite) {
            await sqliteWriteTransaction(knex, async (db) => {
              for (const row of rows) insertRecord(db.run, 'secrets', secretRecord(row));
              await chain.append(sqliteAuditWrites(db), audit);
            });
            return;
          }
          await knex.transaction(async (trx) => {
            const records = rows.map(secretRecord);
            for (let i = 0; i < records.length; i += SECRET_INSERT_CHUNK) await trx('secrets').insert(records.slice(i, i + SECRET_INSERT_CHUNK));
            await chain.append(trx, audit);
          });
          return;
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
          // Only the live-name index means "name taken"; any other unique clash is a real error.
          const names = rows.map((r) => r.name);
          const taken: string[] = await liveByName(rows[0].org, names).orderBy('name').pluck('name');
          if (taken.length > 0) throw new NameTakenError(taken);
          // The secret that held the name was deleted between the clash and the lookup: the
          // name is free again, so the insert is tried anew (a serial order: delete, then create).
          if (attempt >= NAME_CLASH_RETRIES) throw err;
        }
      }
    },
    async getLive(org, name) {
      const r = await live(knex).where({ org, name }).first();
      return r ? fromRecord(r) : undefined;
    },
    async getLiveMany(org, names) {
      if (names.length === 0) return [];
      if (sqlite) {
        const distinct = [...new Set(names)];
        const sql = `select * from secrets where deleted_at is null and org = ? and name in (${distinct.map(() => '?').join(', ')}) order by name`;
        return (await sqliteRows<SecretRecord>(knex, sql, [org, ...distinct])).map(fromRecord);
      }
      // rowsByKeys's plan as one fixed text, prepared once per connection: a launch and a group of creates read this first.
      const rows = await preparedRows<SecretRecord>(knex, 'secret_store_live_by_name', LIVE_BY_NAME, [[...new Set(names)], org]);
      return rows.map(fromRecord);
    },
    async list(query) {
      const q = knex<SecretRecord>('secrets').select([...METADATA_COLUMNS]).where({ org: query.org });
      if (!query.showDeleted) q.whereNull('deleted_at');
      if (query.after) {
        const { name, uid } = query.after;
        q.andWhere((w) => w.where('name', '>', name).orWhere((w2) => w2.where('name', name).andWhere('uid', '>', uid)));
      }
      const rows: MetadataRecord[] = await q.orderBy([{ column: 'name' }, { column: 'uid' }]).limit(query.limit);
      return rows.map(metadataFromRecord);
    },
    async update(uid, expected, change, audit) {
      const applied = await knex.transaction(async (trx) => {
        const columns: Record<string, unknown> = { updated_at: change.updatedAt, updated_by: change.updatedBy };
        if (change.key !== undefined) columns.key = change.key;
        if (change.description !== undefined) columns.description = change.description;
        if (change.value) {
          Object.assign(columns, valueColumns(change.value), {
            version: change.version,
            value_updated_at: change.updatedAt,
          });
        }
        const match: Record<string, unknown> = { uid, version: expected.version };
        if (expected.key !== undefined) match.key = expected.key;
        if (expected.description !== undefined) match.description = expected.description;
        const count = await live(trx).where(match).update(columns);
        if (count === 0) return false;
        await chain.append(trx, audit);
        return true;
      });
      if (applied && change.value) await scrub();
      return applied;
    },
    async softDelete(uid, at, by, audit) {
      const deleted = await knex.transaction(async (trx) => {
        const count = await live(trx).where({ uid }).update({
          deleted_at: at,
          deleted_by: by,
          updated_at: at,
          updated_by: by,
          // Destroy the value at once: ciphertext and wrapped data key.
          ciphertext: null,
          wrapped_dek: null,
          kek_version: null,
          value_fingerprint: null,
          env_var_fit: null,
        });
        if (count === 0) return false;
        await chain.append(trx, audit);
        return true;
      });
      if (deleted) await scrub();
      return deleted;
    },
    async appendAudit(audit) {
      if (sqlite) await sqliteWriteTransaction(knex, (db) => chain.append(sqliteAuditWrites(db), audit));
      else await unlockedAppends!.append(audit);
    },
    async versionsByUid(org, uids) {
      if (uids.length === 0) return [];
      // By uid alone: with org in the WHERE too, both engines without statistics read every
      // secret of the org through (org, name, uid) and filtered the uids; the primary key
      // leaves nothing to choose. Another org's secrets are left out here.
      const rows = await knex<SecretRecord>('secrets').whereIn('uid', uids).select('uid', 'org', 'name', 'version', 'deleted_at');
      const byUid = new Map(rows.filter((r) => r.org === org).map((r) => [r.uid, r]));
      return uids.flatMap((uid) => {
        const r = byUid.get(uid);
        return r ? [{ uid, name: r.name, version: toNumber(r.version), deleted: r.deleted_at !== null }] : [];
      });
    },
    async auditSeq(org) {
      // Every listing asks this first (list-cache freshness): a prepared statement.
      const sql = 'select seq from secret_audit_heads where org = ?';
      const [head] = sqlite ? await sqliteRows<{ seq: number }>(knex, sql, [org]) : await preparedRows<{ seq: number | string }>(knex, 'secret_store_audit_seq', sql, [org]);
      return head ? toNumber(head.seq) : 0;
    },
    async ping() {
      await knex.raw('select 1');
    },
  };
  return store;
}
