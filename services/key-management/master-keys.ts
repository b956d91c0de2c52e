import { status } from '@grpc/grpc-js';
import { ApiError, failedPrecondition, notFound } from '../runtime/errors.js';
import type { Logger } from '../runtime/logger.js';
import { dekContext, keyCheckValue, orgKeyContext, randomBytes, unwrapKey, wrapKey, zero, KEY_BYTES } from './envelope.js';
import { kekFor, keyringWritable, readKeyringFile, withKeyringLock, writeKeyringFile, type MasterKeyring } from './keyring.js';
import { adoptKeyring, type KeyringSync } from './keyring-sync.js';
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
 * The keyring object is shared with KeyManager and changed in place, so new wraps use a
 * new primary at once; other replicas pick the change up through their KeyringSync, and
 * every operator call syncs first, so it acts on what the replicas share.
 */
export class MasterKeys {
  constructor(
    private readonly keyring: MasterKeyring,
    private readonly file: string,
    private readonly store: MasterKeyStore & Pick<KmsStore, 'registerKeks'>,
    private readonly dataKeyCounts: DataKeyCounts,
    private readonly auditKeys: AuditKeys,
    private readonly audit: RecordPlatformEvent,
    private readonly sync: Pick<KeyringSync, 'sync' | 'primariesInUse'>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get primary(): number {
    return this.keyring.primary;
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
      primary: r.version === this.keyring.primary,
      wrappedOrgKeys: (orgCounts.get(r.version) ?? 0) + (auditCounts.get(r.version) ?? 0),
      wrappedDataKeys: dataCounts.get(r.version) ?? 0,
    }));
  }

  /** Adds version max+1 to the keyring file and makes it the primary. */
  async rotate(who: { actor: string; requestId: string }): Promise<MasterKeyView> {
    // Refused before anything is audited: a read-only keyring (a mounted Secret) changes only there.
    if (!(await keyringWritable(this.file))) {
      const next = Math.max(0, ...(await this.store.kekVersions()).map((k) => k.version)) + 1;
      throw failedPrecondition(
        `the master keyring ${this.file} is read-only (a mounted Secret?): add version ${next} to it there and make it the primary; ` +
          'every key-management replica picks the change up once the file changes (see deploy/README.md)',
        'KEYRING_READ_ONLY',
      );
    }
    const version = await withKeyringLock(this.file, async () => {
      const onDisk = (await readKeyringFile(this.file)) ?? this.keyring;
      const known = (await this.store.kekVersions()).map((k) => k.version);
      const next = Math.max(0, ...onDisk.keys.keys(), ...known) + 1;
      await this.audit({ action: 'master_key.rotated', ...who, details: { version: String(next), previous: String(this.keyring.primary) } });
      const key = randomBytes(KEY_BYTES);
      const updated: MasterKeyring = { primary: next, keys: new Map([...onDisk.keys, [next, key]]) };
      try {
        await writeKeyringFile(this.file, updated);
      } catch (err) {
        throw failedPrecondition(
          `cannot write the master keyring ${this.file} (${(err as NodeJS.ErrnoException).code ?? 'error'}): when it is mounted read-only, add version ${next} to it and restart`,
          'KEYRING_READ_ONLY',
        );
      }
      await this.store.registerKeks([{ version: next, keyCheck: keyCheckValue(key) }], this.now());
      adoptKeyring(this.keyring, updated);
      return next;
    });
    this.log.info({ audit: 'master_key.rotated', version }, 'master key rotated');
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
    const writable = await keyringWritable(this.file);
    await this.audit({ action: 'master_key.retired', ...who, details: { version: String(version) } });
    if (!writable) {
      // Destroyed in the database: every replica drops it from memory at its next sync and no
      // longer needs it at start; the operator removes it from the read-only file (the Secret).
      await this.store.destroyKek(version, this.now());
      const keys = new Map(this.keyring.keys);
      keys.delete(version);
      adoptKeyring(this.keyring, { primary: this.keyring.primary, keys });
      this.log.warn({ version, file: this.file }, 'master key version retired; the keyring file is read-only: remove the version from it (the Secret) and from its escrow');
      return { ...current, state: 'destroyed' };
    }
    await withKeyringLock(this.file, async () => {
      const onDisk = (await readKeyringFile(this.file)) ?? this.keyring;
      const keys = new Map(onDisk.keys);
      keys.delete(version);
      await writeKeyringFile(this.file, { primary: onDisk.primary, keys });
      await this.store.destroyKek(version, this.now());
      adoptKeyring(this.keyring, { primary: onDisk.primary, keys });
    });
    this.log.info({ audit: 'master_key.retired', version }, 'master key retired');
    return { ...current, state: 'destroyed' };
  }

  /** Re-wraps data keys under the primary; the DEKs exist unwrapped only inside this call. */
  rewrapDataKeys(keys: DataKeyToRewrap[]): { wrappedDeks: Uint8Array[]; kekVersion: number } {
    const primary = this.keyring.primary;
    const kek = kekFor(this.keyring);
    const wrappedDeks = keys.map((k) => {
      const aad = dekContext(k.org, k.secretUid, k.version);
      const dek = this.unwrap(k.wrappedDek, aad, `the data key of secret ${k.secretUid}`);
      try {
        return wrapKey(kek(primary), primary, dek, aad);
      } finally {
        zero(dek);
      }
    });
    return { wrappedDeks, kekVersion: primary };
  }

  /** Re-wraps every org key (private and audit keys) not yet under the primary. Safe to run concurrently. */
  async rewrapOrgKeys(): Promise<{ rewrapped: number; kekVersion: number }> {
    await this.sync.sync(); // a rewrap run starts here: move to the primary the replicas share
    const primary = this.keyring.primary;
    let rewrapped = (await this.auditKeys.rewrap()).rewrapped;
    for (const k of await this.store.orgKeysNotOn(primary)) {
      const aad = orgKeyContext(k.org, k.keyId);
      const secretKey = this.unwrap(k.wrappedPrivateKey, aad, `org key ${k.keyId}`);
      try {
        const wrapped = wrapKey(kekFor(this.keyring)(primary), primary, secretKey, aad);
        if (await this.store.replaceOrgKeyWrap(k.keyId, k.wrappedPrivateKey, wrapped, primary)) rewrapped++;
      } finally {
        zero(secretKey);
      }
    }
    return { rewrapped, kekVersion: primary };
  }

  private unwrap(blob: Uint8Array, aad: string, what: string): Uint8Array {
    try {
      return unwrapKey(kekFor(this.keyring), blob, aad);
    } catch (err) {
      const missing = (err as Error).name === 'KeyringError';
      throw new ApiError(missing ? status.FAILED_PRECONDITION : status.DATA_LOSS, `${what} cannot be unwrapped: ${(err as Error).message}`, {
        reason: missing ? 'MASTER_KEY_MISSING' : 'CIPHERTEXT_INVALID',
      });
    }
  }
}
