import { insertUnlessTaken, toNumber, type Knex } from '../runtime/db.js';
import type { RegisteredKek } from './keyring.js';

export type OrgKeyState = 'primary' | 'previous' | 'retired';

export interface OrgKeyRow {
  keyId: string;
  org: string;
  state: OrgKeyState;
  publicKey: Uint8Array;
  wrappedPrivateKey: Uint8Array;
  kekVersion: number;
  createdAt: number;
  /** Set once the key is retired. */
  retiredAt?: number;
}

/** key-management's storage. One knex implementation serves SQLite and PostgreSQL. */
export interface KmsStore {
  registeredKeks(): Promise<RegisteredKek[]>;
  registerKeks(keks: RegisteredKek[], now: number): Promise<void>;
  /** True when any key wrapped by a master key is stored (existing data). */
  holdsWrappedKeys(): Promise<boolean>;
  primaryOrgKey(org: string): Promise<OrgKeyRow | undefined>;
  orgKey(org: string, keyId: string): Promise<OrgKeyRow | undefined>;
  /** Inserts a primary key for the org; false when another primary won the race. */
  insertPrimaryOrgKey(row: OrgKeyRow): Promise<boolean>;
  ping(): Promise<void>;
}

export interface OrgKeyRecord {
  key_id: string;
  org: string;
  state: OrgKeyState;
  public_key: Buffer;
  wrapped_private_key: Buffer;
  kek_version: number;
  created_at: number | string;
  retired_at?: number | string | null;
}

export const toOrgKey = (r: OrgKeyRecord): OrgKeyRow => ({
  keyId: r.key_id,
  org: r.org,
  state: r.state,
  publicKey: new Uint8Array(r.public_key),
  wrappedPrivateKey: new Uint8Array(r.wrapped_private_key),
  kekVersion: r.kek_version,
  createdAt: toNumber(r.created_at),
  ...(r.retired_at === null || r.retired_at === undefined ? {} : { retiredAt: toNumber(r.retired_at) }),
});

/** The row written for a new org key (both stores insert them). */
export function orgKeyRecord(row: OrgKeyRow) {
  return {
    key_id: row.keyId,
    org: row.org,
    state: row.state,
    public_key: Buffer.from(row.publicKey),
    wrapped_private_key: Buffer.from(row.wrappedPrivateKey),
    kek_version: row.kekVersion,
    created_at: row.createdAt,
  };
}

export function createKmsStore(knex: Knex): KmsStore {
  return {
    async registeredKeks() {
      // Destroyed (retired) versions are gone from the keyring on purpose.
      const rows = await knex('kms_kek_versions').whereNot({ state: 'destroyed' }).select('version', 'key_check').orderBy('version');
      return rows.map((r: { version: number; key_check: Buffer }) => ({ version: r.version, keyCheck: new Uint8Array(r.key_check) }));
    },
    async registerKeks(keks, now) {
      if (keks.length === 0) return;
      await knex('kms_kek_versions')
        .insert(keks.map((k) => ({ version: k.version, key_check: Buffer.from(k.keyCheck), state: 'enabled', created_at: now })))
        .onConflict('version')
        .ignore();
    },
    async holdsWrappedKeys() {
      const row = await knex('kms_org_keys').first('key_id');
      const kek = await knex('kms_kek_versions').first('version');
      return Boolean(row || kek);
    },
    async primaryOrgKey(org) {
      const row = await knex<OrgKeyRecord>('kms_org_keys').where({ org, state: 'primary' }).first();
      return row ? toOrgKey(row) : undefined;
    },
    async orgKey(org, keyId) {
      const row = await knex<OrgKeyRecord>('kms_org_keys').where({ org, key_id: keyId }).first();
      return row ? toOrgKey(row) : undefined;
    },
    async insertPrimaryOrgKey(row) {
      return insertUnlessTaken(() => knex('kms_org_keys').insert(orgKeyRecord({ ...row, state: 'primary' })));
    },
    async ping() {
      await knex.raw('select 1');
    },
  };
}
