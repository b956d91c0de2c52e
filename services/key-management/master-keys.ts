import { timingSafeEqual } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { ApiError, failedPrecondition, notFound } from '../runtime/errors.js';
import type { Logger } from '../runtime/logger.js';
import { dekContext, orgKeyContext, zero } from './envelope.js';
import type { KeyringSync } from './keyring-sync.js';
import { RotationRaceError, type MasterKeyProvider } from './providers/master-key-provider.js';
import type { KekRow, MasterKeyStore } from './master-key-store.js';
import type { KmsStore } from './store.js';

export interface MasterKeyView extends KekRow {
  primary: boolean;
  wrappedOrgKeys: number;
  wrappedDataKeys: number;
}

export interface DataKeyToRewrap {
  org: string;
  secretUid: string;
  version: number;
  wrappedDek: Uint8Array;
}

/** How many data keys each master key version wraps (the secret store knows). */
export type DataKeyCounts = () => Promise<Map<number, number>>;

/** Records a platform audit event before the change it describes (no audit, no change). */
export type RecordPlatformEvent = (event: { action: 'master_key.rotated' | 'master_key.retired'; actor: string; requestId: string; details: Record<string, string> }) => Promise<void>;

/** Org audit keys (for fingerprints): wrapped by master keys like org private keys. */
export interface AuditKeys {
  countsByKek(): Promise<Map<number, number>>;
  rewrap(): Promise<{ rewrapped: number }>;
}

/**
 * Master key lifecycle: rotate (new primary), rewrap (move wrapped keys to the primary
 * without ever decrypting a value), retire (destroy a version nothing references).
 * The provider is shared with KeyManager, so new wraps use a new primary at once; other
 * replicas pick the change up through their KeyringSync, and every operator call syncs
 * first, so it acts on what the replicas share.
 */
export class MasterKeys {
  constructor(
    private readonly keys: MasterKeyProvider,
    private readonly store: MasterKeyStore & Pick<KmsStore, 'registerKeks' | 'registeredKeks'>,
    private readonly dataKeyCounts: DataKeyCounts,
    private readonly auditKeys: AuditKeys,
    private readonly audit: RecordPlatformEvent,
    private readonly sync: Pick<KeyringSync, 'sync' | 'primariesInUse'>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get primary(): number {
    return this.keys.primary();
  }

  async list(): Promise<MasterKeyView[]> {
    await this.sync.sync();
    const [rows, orgCounts, auditCounts, dataCounts] = await Promise.all([
      this.store.kekVersions(),
      this.store.orgKeyCountsByKek(),
      this.auditKeys.countsByKek(),
      this.dataKeyCounts(),
    ]);
    return rows.map((r) => ({
      ...r,
      primary: r.version === this.keys.primary(),
      wrappedOrgKeys: (orgCounts.get(r.version) ?? 0) + (auditCounts.get(r.version) ?? 0),
      wrappedDataKeys: dataCounts.get(r.version) ?? 0,
    }));
  }

  /** Makes version max+1 where the keys live (the keyring file, the HSM) and the primary. */
  async rotate(who: { actor: string; requestId: string }): Promise<MasterKeyView> {
    const previous = this.keys.primary();
    const version = await this.keys
      .rotate({
        known: (await this.store.kekVersions()).map((k) => k.version),
        audit: (next) => this.audit({ action: 'master_key.rotated', ...who, details: { version: String(next), previous: String(previous) } }),
        register: async (next, keyCheck) => {
          await this.store.registerKeks([{ version: next, keyCheck }], this.now());
          // Two replicas sharing an HSM token may make the same version at once: one registration wins.
          const registered = (await this.store.registeredKeks()).find((k) => k.version === next);
          return registered !== undefined && registered.keyCheck.length === keyCheck.length && timingSafeEqual(registered.keyCheck, keyCheck);
        },
      })
      .catch((err: unknown) => {
        if (err instanceof RotationRaceError) throw new ApiError(status.ABORTED, err.message, { reason: 'MASTER_KEY_ROTATION_RACE' });
        throw err;
      });
    this.log.info({ audit: 'master_key.rotated', version, provider: this.keys.kind }, 'master key rotated');
    return (await this.list()).find((k) => k.version === version)!;
  }

  /** Destroys a version: only a non-primary one that no org key and no data key references. */
  async retire(version: number, who: { actor: string; requestId: string }): Promise<MasterKeyView> {
    const current = (await this.list()).find((k) => k.version === version);
    if (!current) throw notFound(`master key version ${version} does not exist`, 'MASTER_KEY_NOT_FOUND');
    if (current.state === 'destroyed') return current;
    if (current.primary) throw failedPrecondition(`master key version ${version} is the primary; rotate to a new version first`, 'MASTER_KEY_PRIMARY');
    if ((await this.sync.primariesInUse()).has(version)) {
      throw failedPrecondition(
        `master key version ${version} is still the primary of a running key-management replica that has not picked up the rotation yet; retry in a few seconds`,
        'MASTER_KEY_IN_USE_BY_REPLICA',
      );
    }
    if (current.wrappedOrgKeys + current.wrappedDataKeys > 0) {
      throw failedPrecondition(
        `master key version ${version} still wraps ${current.wrappedOrgKeys} org key(s) and ${current.wrappedDataKeys} data key(s); run a rewrap first`,
        'MASTER_KEY_IN_USE',
      );
    }
    await this.keys.retire(version, {
      audit: () => this.audit({ action: 'master_key.retired', ...who, details: { version: String(version) } }),
      forget: () => this.store.destroyKek(version, this.now()),
    });
    this.log.info({ audit: 'master_key.retired', version, provider: this.keys.kind }, 'master key retired');
    return { ...current, state: 'destroyed' };
  }

  /** Re-wraps data keys under the primary; the DEKs exist unwrapped only inside this call. */
  rewrapDataKeys(keys: DataKeyToRewrap[]): { wrappedDeks: Uint8Array[]; kekVersion: number } {
    const primary = this.keys.primary();
    const wrappedDeks = keys.map((k) => {
      const aad = dekContext(k.org, k.secretUid, k.version);
      const dek = this.unwrap(k.wrappedDek, aad, `the data key of secret ${k.secretUid}`);
      try {
        return this.keys.wrap(dek, aad, primary);
      } finally {
        zero(dek);
      }
    });
    return { wrappedDeks, kekVersion: primary };
  }

  /** Re-wraps every org key (private and audit keys) not yet under the primary. Safe to run concurrently. */
  async rewrapOrgKeys(): Promise<{ rewrapped: number; kekVersion: number }> {
    await this.sync.sync(); // a rewrap run starts here: move to the primary the replicas share
    const primary = this.keys.primary();
    let rewrapped = (await this.auditKeys.rewrap()).rewrapped;
    for (const k of await this.store.orgKeysNotOn(primary)) {
      const aad = orgKeyContext(k.org, k.keyId);
      const secretKey = this.unwrap(k.wrappedPrivateKey, aad, `org key ${k.keyId}`);
      try {
        const wrapped = this.keys.wrap(secretKey, aad, primary);
        if (await this.store.replaceOrgKeyWrap(k.keyId, k.wrappedPrivateKey, wrapped, primary)) rewrapped++;
      } finally {
        zero(secretKey);
      }
    }
    return { rewrapped, kekVersion: primary };
  }

  private unwrap(blob: Uint8Array, aad: string, what: string): Uint8Array {
    try {
      return this.keys.unwrap(blob, aad);
    } catch (err) {
      if (err instanceof ApiError) throw err; // the HSM did not answer: not a verdict on the key
      const missing = (err as Error).name === 'KeyringError';
      throw new ApiError(missing ? status.FAILED_PRECONDITION : status.DATA_LOSS, `${what} cannot be unwrapped: ${(err as Error).message}`, {
        reason: missing ? 'MASTER_KEY_MISSING' : 'CIPHERTEXT_INVALID',
      });
    }
  }
}
