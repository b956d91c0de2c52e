import { toNumber, type Knex } from '../runtime/db.js';

export type KekState = 'enabled' | 'disabled' | 'destroyed';

export interface KekRow {
  version: number;
  state: KekState;
  createdAt: number;
}

export interface WrappedOrgKey {
  keyId: string;
  org: string;
  wrappedPrivateKey: Uint8Array;
  kekVersion: number;
}

/** Storage for master key versions and the org keys they wrap (SQLite and PostgreSQL). */
export interface MasterKeyStore {
  kekVersions(): Promise<KekRow[]>;
  destroyKek(version: number, at: number): Promise<void>;
  orgKeyCountsByKek(): Promise<Map<number, number>>;
  orgKeysNotOn(version: number): Promise<WrappedOrgKey[]>;
  /** Swaps an org key's wrapping if it is still `expected`; false when it changed meanwhile. */
  replaceOrgKeyWrap(keyId: string, expected: Uint8Array, wrapped: Uint8Array, kekVersion: number): Promise<boolean>;
}

export function createMasterKeyStore(knex: Knex): MasterKeyStore {
  return {
    async kekVersions() {
      const rows = await knex('kms_kek_versions').select('version', 'state', 'created_at').orderBy('version');
      return rows.map((r: { version: number; state: KekState; created_at: number | string }) => ({
        version: r.version,
        state: r.state,
        createdAt: toNumber(r.created_at),
      }));
    },
    async destroyKek(version) {
      await knex('kms_kek_versions').where({ version }).update({ state: 'destroyed' });
    },
    async orgKeyCountsByKek() {
      const rows: { kek_version: number; n: number | string }[] = await knex('kms_org_keys').select('kek_version').count({ n: '*' }).groupBy('kek_version');
      return new Map(rows.map((r) => [Number(r.kek_version), Number(r.n)]));
    },
    async orgKeysNotOn(version) {
      const rows = await knex('kms_org_keys').whereNot({ kek_version: version }).select('key_id', 'org', 'wrapped_private_key', 'kek_version');
      return rows.map((r: { key_id: string; org: string; wrapped_private_key: Buffer; kek_version: number }) => ({
        keyId: r.key_id,
        org: r.org,
        wrappedPrivateKey: new Uint8Array(r.wrapped_private_key),
        kekVersion: r.kek_version,
      }));
    },
    async replaceOrgKeyWrap(keyId, expected, wrapped, kekVersion) {
      const count = await knex('kms_org_keys')
        .where({ key_id: keyId, wrapped_private_key: Buffer.from(expected) })
        .update({ wrapped_private_key: Buffer.from(wrapped), kek_version: kekVersion });
      return count === 1;
    },
  };
}
