import { status } from '@grpc/grpc-js';
import sodium from 'libsodium-wrappers';
import { ApiError, failedPrecondition } from '../runtime/errors.js';
import type { KeyManager } from './domain.js';
import { DecryptionError, KEY_BYTES, randomBytes, zero } from './envelope.js';
import { KeyringError } from './keyring.js';
import type { KeyWrapping } from './providers/master-key-provider.js';
import type { AuditKeyRow, OrgKeyLifecycleStore } from './org-key-store.js';

/** BLAKE2b-256: fingerprints are 32 bytes. */
export const FINGERPRINT_BYTES = 32;

/** The AAD an org audit key is wrapped under (wrapKey appends "|kek-v<N>"). */
export const auditKeyContext = (org: string) => `audit-key|${org}`;

/**
 * Value fingerprints: BLAKE2b-256 of the plaintext keyed with the org's audit key. They tell
 * values apart (and let an admin check a candidate) without revealing them; being keyed,
 * equal values in two orgs get different fingerprints and a guess cannot be checked offline.
 */
export class ValueFingerprints {
  constructor(
    private readonly store: Pick<OrgKeyLifecycleStore, 'auditKey' | 'insertAuditKey' | 'auditKeysNotOn' | 'replaceAuditKeyWrap'>,
    private readonly keys: KeyWrapping,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The fingerprint of a plaintext value of the org (the caller keeps and zeroes the value). */
  async of(org: string, value: Uint8Array): Promise<Uint8Array> {
    return (await this.ofMany(org, [value]))[0];
  }

  /**
   * The fingerprints of several values of one org, under the audit key the chain's links use
   * (withAuditKey: unwrapped once, then kept in memory): a create group reads no key row.
   */
  async ofMany(org: string, values: Uint8Array[]): Promise<Uint8Array[]> {
    if (values.length === 0) return [];
    return this.withAuditKey(org, (key) => values.map((value) => sodium.crypto_generichash(FINGERPRINT_BYTES, value, key)));
  }

  /** Opens a sealed value (same checks as encrypting it) and fingerprints it; stores nothing. */
  async ofSealedValue(keys: Pick<KeyManager, 'openSealedValue'>, req: { org: string; sealedBox: Uint8Array; keyId: string }): Promise<Uint8Array> {
    const plaintext = await keys.openSealedValue(req);
    try {
      return await this.of(req.org, plaintext);
    } finally {
      zero(plaintext);
    }
  }

  /**
   * Re-wraps every audit key not yet under the primary master key (part of a master key
   * rewrap: a KEK version may be retired only once no audit key references it either).
   */
  async rewrapAuditKeys(): Promise<{ rewrapped: number; kekVersion: number }> {
    const primary = this.keys.primary();
    let rewrapped = 0;
    for (const row of await this.store.auditKeysNotOn(primary)) {
      const key = this.unwrap(row);
      try {
        const wrapped = this.keys.wrap(key, auditKeyContext(row.org), primary);
        if (await this.store.replaceAuditKeyWrap(row.org, row.wrappedKey, wrapped, primary)) rewrapped++;
      } finally {
        zero(key);
      }
    }
    return { rewrapped, kekVersion: primary };
  }

  /** Unwrapped audit keys for the audit chain, by org (key-management's memory only, like the keyring). */
  private readonly chainKeys = new Map<string, Uint8Array>();

  /**
   * Runs `use` with (a copy of) the org's audit key, created on first use: the audit chain's
   * links and checkpoint signatures are derived from it here, in key-management, so the key
   * never leaves the service. Audit keys never change (a rewrap changes only their wrapping),
   * so the unwrapped key is kept in memory after its first use: linking then reads nothing,
   * which also lets a change recorded from inside an org key transaction link its event on
   * SQLite, where that transaction holds the only connection.
   */
  async withAuditKey<T>(org: string, use: (key: Uint8Array) => T): Promise<T> {
    let cached = this.chainKeys.get(org);
    if (!cached) {
      cached = await this.auditKey(org);
      this.chainKeys.set(org, cached);
    }
    const key = Uint8Array.from(cached);
    try {
      return use(key);
    } finally {
      zero(key);
    }
  }

  /** The org's audit key, unwrapped; created on first use. The caller zeroes it. */
  private async auditKey(org: string): Promise<Uint8Array> {
    return this.unwrap((await this.store.auditKey(org)) ?? (await this.createAuditKey(org)));
  }

  private unwrap(row: AuditKeyRow): Uint8Array {
    const { org } = row;
    try {
      return this.keys.unwrap(row.wrappedKey, auditKeyContext(org));
    } catch (err) {
      if (err instanceof KeyringError) throw failedPrecondition(`${err.message}; the operator must restore it`, 'MASTER_KEY_MISSING');
      if (err instanceof DecryptionError) {
        throw new ApiError(status.DATA_LOSS, `the audit key of org "${org}" failed to authenticate; it was altered or does not belong to this org`, {
          reason: 'CIPHERTEXT_INVALID',
        });
      }
      throw err;
    }
  }

  /** Concurrent first uses (and replicas) agree on one key: the loser reads the winner's. */
  private async createAuditKey(org: string): Promise<AuditKeyRow> {
    const key = randomBytes(KEY_BYTES);
    const kekVersion = this.keys.primary();
    const row = { org, wrappedKey: this.keys.wrap(key, auditKeyContext(org), kekVersion), kekVersion, createdAt: this.now().getTime() };
    zero(key);
    if (await this.store.insertAuditKey(row)) return row;
    const winner = await this.store.auditKey(org);
    if (!winner) throw new Error(`audit key for ${org} vanished after a lost creation race`);
    return winner;
  }
}
