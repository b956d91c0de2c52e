import { dialectOf, forUpdate, insertUnlessTaken, toNumber, type Knex } from '../runtime/db.js';
import { orgKeyRecord, toOrgKey, type OrgKeyRecord, type OrgKeyRow } from './store.js';

/** An org's audit key (fingerprints of its values), wrapped by a master key version. */
export interface AuditKeyRow {
  org: string;
  wrappedKey: Uint8Array;
  kekVersion: number;
  createdAt: number;
}

/**
 * Storage for the org key lifecycle (rotation, retirement) and the per-org audit keys.
 * Methods that change keys take the transaction of `inOrgKeyTransaction`.
 */
export interface OrgKeyLifecycleStore {
  /**
   * Runs `body` in one transaction that holds the org's key lock, so rotations and
   * retirements of one org run one at a time (and across replicas on PostgreSQL).
   */
  inOrgKeyTransaction<T>(org: string, body: (trx: Knex.Transaction) => Promise<T>): Promise<T>;
  /** The org's keys, newest first. */
  listOrgKeys(org: string): Promise<OrgKeyRow[]>;
  orgKey(org: string, keyId: string, trx: Knex.Transaction): Promise<OrgKeyRow | undefined>;
  /** Turns the org's primary key into a previous one: the demoted key, or undefined when there was none. */
  demotePrimaryOrgKey(org: string, trx: Knex.Transaction): Promise<OrgKeyRow | undefined>;
  /**
   * Inserts a key; false when the one-primary-per-org index refuses it (a concurrent first
   * use won). The transaction is then unusable on PostgreSQL: roll it back and retry.
   */
  insertOrgKey(row: OrgKeyRow, trx: Knex.Transaction): Promise<boolean>;
  retireOrgKey(org: string, keyId: string, at: number, trx: Knex.Transaction): Promise<void>;
  auditKey(org: string): Promise<AuditKeyRow | undefined>;
  /** Inserts the org's audit key; false when another caller created it first. */
  insertAuditKey(row: AuditKeyRow): Promise<boolean>;
  /** How many audit keys each master key version wraps (rewrap and KEK retirement count them). */
  auditKeyCountsByKek(): Promise<Map<number, number>>;
  auditKeysNotOn(kekVersion: number): Promise<AuditKeyRow[]>;
  /** Swaps an audit key's wrapping if it is still `expected`; false when it changed meanwhile. */
  replaceAuditKeyWrap(org: string, expected: Uint8Array, wrapped: Uint8Array, kekVersion: number): Promise<boolean>;
}

interface AuditKeyRecord {
  org: string;
  wrapped_key: Buffer;
  kek_version: number;
  created_at: number | string;
}

const ORG_KEYS = 'kms_org_keys';
const AUDIT_KEYS = 'kms_org_audit_keys';

const toAuditKey = (r: AuditKeyRecord): AuditKeyRow => ({
  org: r.org,
  wrappedKey: new Uint8Array(r.wrapped_key),
  kekVersion: r.kek_version,
  createdAt: toNumber(r.created_at),
});

export function createOrgKeyLifecycleStore(knex: Knex): OrgKeyLifecycleStore {
  const postgres = dialectOf(knex) === 'postgres';
  return {
    async inOrgKeyTransaction(org, body) {
      return knex.transaction(async (trx) => {
        // SQLite serialises writers by itself; PostgreSQL replicas queue on an advisory lock
        // per org, released at commit or rollback.
        if (postgres) await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`kms-org-key:${org}`]);
        return body(trx);
      });
    },
    async listOrgKeys(org) {
      const rows = await knex<OrgKeyRecord>(ORG_KEYS).where({ org }).orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'key_id', order: 'desc' },
      ]);
      return rows.map(toOrgKey);
    },
    async orgKey(org, keyId, trx) {
      const row = await trx<OrgKeyRecord>(ORG_KEYS).where({ org, key_id: keyId }).first();
      return row ? toOrgKey(row) : undefined;
    },
    async demotePrimaryOrgKey(org, trx) {
      const row = await forUpdate(trx<OrgKeyRecord>(ORG_KEYS).where({ org, state: 'primary' }).first(), trx);
      if (!row) return undefined;
      // The old primary changes first: the one-primary index then admits the new one.
      await trx(ORG_KEYS).where({ key_id: row.key_id, state: 'primary' }).update({ state: 'previous' });
      return { ...toOrgKey(row), state: 'previous' };
    },
    async insertOrgKey(row, trx) {
      return insertUnlessTaken(() => trx(ORG_KEYS).insert(orgKeyRecord(row)));
    },
    async retireOrgKey(org, keyId, at, trx) {
      await trx(ORG_KEYS).where({ org, key_id: keyId }).whereNot({ state: 'primary' }).update({ state: 'retired', retired_at: at });
    },
    async auditKey(org) {
      const row = await knex<AuditKeyRecord>(AUDIT_KEYS).where({ org }).first();
      return row ? toAuditKey(row) : undefined;
    },
    async insertAuditKey(row) {
      return insertUnlessTaken(() =>
        knex(AUDIT_KEYS).insert({
          org: row.org,
          wrapped_key: Buffer.from(row.wrappedKey),
          kek_version: row.kekVersion,
          created_at: row.createdAt,
        }),
      );
    },
    async auditKeyCountsByKek() {
      const rows: { kek_version: number; n: number | string }[] = await knex(AUDIT_KEYS).select('kek_version').count({ n: '*' }).groupBy('kek_version');
      return new Map(rows.map((r) => [Number(r.kek_version), toNumber(r.n)]));
    },
    async auditKeysNotOn(kekVersion) {
      const rows = await knex<AuditKeyRecord>(AUDIT_KEYS).whereNot({ kek_version: kekVersion });
      return rows.map(toAuditKey);
    },
    async replaceAuditKeyWrap(org, expected, wrapped, kekVersion) {
      const count = await knex(AUDIT_KEYS)
        .where({ org, wrapped_key: Buffer.from(expected) })
        .update({ wrapped_key: Buffer.from(wrapped), kek_version: kekVersion });
      return count === 1;
    },
  };
}
