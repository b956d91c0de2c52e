import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { Logger } from '../runtime/logger.js';
import { keyCheckValue, zero } from './envelope.js';
import { checkKeyringAgainstDatabase, KeyringError, readKeyringFile, type MasterKeyring } from './keyring.js';
import type { MasterKeyStore } from './master-key-store.js';
import type { ReplicaStore } from './replica-store.js';
import type { KmsStore } from './store.js';

/** How often a replica re-reads the keyring and reports its primary (and how stale a report may be). */
export const KEYRING_SYNC_INTERVAL_MS = 2_000;
export const REPLICA_REPORT_TTL_MS = 5 * KEYRING_SYNC_INTERVAL_MS;

/** Replaces a keyring's contents in place: every holder of the object sees the change at once. */
export function adoptKeyring(keyring: MasterKeyring, updated: MasterKeyring): void {
  // Every buffer being replaced is wiped: retired versions, and old copies of versions that stay.
  for (const [version, key] of keyring.keys) if (updated.keys.get(version) !== key) zero(key);
  keyring.keys.clear();
  for (const [v, k] of updated.keys) keyring.keys.set(v, k);
  keyring.primary = updated.primary;
}

/**
 * Keeps this replica's keyring in step with the others. Several key-management replicas
 * share one database and one keyring file (a shared volume, or a Kubernetes Secret the
 * operator updates): when the file changes or the database registers or destroys a
 * version, the keyring is re-read, checked against the database's key check values, and
 * adopted. Each replica reports the primary it wraps with, so a version is never retired
 * while a live replica may still wrap new keys with it.
 */
export class KeyringSync {
  readonly replicaId = randomUUID();
  private fileStamp = '';
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly keyring: MasterKeyring,
    private readonly file: string,
    private readonly store: Pick<KmsStore, 'registeredKeks' | 'registerKeks'> & Pick<MasterKeyStore, 'kekVersions'> & ReplicaStore,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Brings the keyring up to date now (one run at a time), then reports this replica's primary. */
  sync(): Promise<void> {
    this.running ??= this.syncOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async syncOnce(): Promise<void> {
    const stamp = await fileStampOf(this.file);
    const registered = await this.store.registeredKeks();
    const sameVersions = registered.length === this.keyring.keys.size && registered.every((r) => this.keyring.keys.has(r.version));
    if (stamp !== this.fileStamp || !sameVersions) {
      const onDisk = await readKeyringFile(this.file);
      if (!onDisk) throw new KeyringError(`master keyring ${this.file} disappeared; keeping the keys already loaded`);
      // A retired version still in a read-only file (until the operator removes it) is not loaded.
      const destroyed = (await this.store.kekVersions()).filter((k) => k.state === 'destroyed').map((k) => k.version);
      for (const version of destroyed.filter((v) => onDisk.keys.has(v))) {
        this.log.warn({ version, file: this.file }, 'the keyring file still holds a retired master key version: remove it');
        zero(onDisk.keys.get(version)!);
        onDisk.keys.delete(version);
      }
      if (!onDisk.keys.has(onDisk.primary)) throw new KeyringError(`master keyring ${this.file}: its primary version ${onDisk.primary} was retired; make another version the primary`);
      const unregistered = checkKeyringAgainstDatabase(onDisk, registered, this.file);
      await this.store.registerKeks(unregistered.map((version) => ({ version, keyCheck: keyCheckValue(onDisk.keys.get(version)!) })), this.now());
      const changed = onDisk.primary !== this.keyring.primary || onDisk.keys.size !== this.keyring.keys.size;
      adoptKeyring(this.keyring, onDisk);
      this.fileStamp = stamp;
      if (changed) this.log.info({ primary: onDisk.primary, versions: [...onDisk.keys.keys()] }, 'master keyring reloaded');
    }
    await this.store.reportReplica(this.replicaId, this.keyring.primary, this.now());
  }

  /** Syncs every interval until stopped; a failed sync is logged and retried next time. */
  start(intervalMs = KEYRING_SYNC_INTERVAL_MS): void {
    const tick = () => {
      this.sync().then(
        () => undefined,
        (err: unknown) => this.log.error({ err: err instanceof KeyringError ? err.message : err }, 'master keyring sync failed'),
      ).finally(() => {
        if (this.timer) this.timer = setTimeout(tick, intervalMs).unref();
      });
    };
    this.timer = setTimeout(tick, intervalMs).unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
    await this.store.forgetReplica(this.replicaId).catch(() => undefined);
  }

  /** Versions some live replica (this one included) still wraps new keys with. */
  async primariesInUse(): Promise<Set<number>> {
    const live = await this.store.livePrimaries(this.now() - REPLICA_REPORT_TTL_MS);
    return new Set([...live, this.keyring.primary]);
  }
}

/** Changes whenever the file is replaced or rewritten (atomic renames and Secret updates included). */
async function fileStampOf(file: string): Promise<string> {
  const s = await stat(file).catch(() => undefined);
  return s ? `${s.ino}:${s.size}:${s.mtimeMs}` : 'missing';
}
