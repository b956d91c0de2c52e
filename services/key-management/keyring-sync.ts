import { randomUUID } from 'node:crypto';
import type { Logger } from '../runtime/logger.js';
import { checkKeyringAgainstDatabase } from './keyring.js';
import type { MasterKeyStore } from './master-key-store.js';
import type { MasterKeyProvider } from './providers/master-key-provider.js';
import type { ReplicaStore } from './replica-store.js';
import type { KmsStore } from './store.js';

/** How often a replica re-reads its master keys and reports its primary (and how stale a report may be). */
export const KEYRING_SYNC_INTERVAL_MS = 2_000;
export const REPLICA_REPORT_TTL_MS = 5 * KEYRING_SYNC_INTERVAL_MS;

/**
 * Keeps this replica's master keys in step with the others and with the database. Several
 * key-management replicas share one database and one set of keys (a keyring file on a shared
 * volume or in a Kubernetes Secret the operator updates; or an HSM token): when the keys change
 * where they live, or the database registers or destroys a version, they are re-read, checked
 * against the database's key check values, and adopted. The first sync is the startup check.
 * Each replica reports the primary it wraps with, so a version is never retired while a live
 * replica may still wrap new keys with it.
 */
export class KeyringSync {
  readonly replicaId = randomUUID();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly keys: MasterKeyProvider,
    private readonly store: Pick<KmsStore, 'registeredKeks' | 'registerKeks'> & Pick<MasterKeyStore, 'kekVersions'> & ReplicaStore,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Brings the keys up to date now (one run at a time), then reports this replica's primary. */
  sync(): Promise<void> {
    this.running ??= this.syncOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async syncOnce(): Promise<void> {
    const registered = await this.store.registeredKeks();
    const present = new Set(this.keys.versions());
    const sameVersions = registered.length === present.size && registered.every((r) => present.has(r.version));
    const destroyed = new Set((await this.store.kekVersions()).filter((k) => k.state === 'destroyed').map((k) => k.version));
    const changed = await this.keys.reload({
      force: !sameVersions,
      destroyed,
      accept: async (candidate) => {
        const unregistered = checkKeyringAgainstDatabase(candidate, registered, this.keys.where);
        await this.store.registerKeks(unregistered.map((version) => ({ version, keyCheck: candidate.keyCheck(version) })), this.now());
        // Check again: a replica with other keys may have registered a version meanwhile.
        checkKeyringAgainstDatabase(candidate, await this.store.registeredKeks(), this.keys.where);
      },
    });
    if (changed) this.log.info({ primary: this.keys.primary(), versions: this.keys.versions() }, 'master keys reloaded');
    await this.store.reportReplica(this.replicaId, this.keys.primary(), this.now());
  }

  /** Syncs every interval until stopped; a failed sync is logged and retried next time. */
  start(intervalMs = KEYRING_SYNC_INTERVAL_MS): void {
    const tick = () => {
      this.sync().then(
        () => undefined,
        (err: unknown) => this.log.error({ err: err instanceof Error && err.name === 'KeyringError' ? err.message : err }, 'master key sync failed'),
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
    return new Set([...live, this.keys.primary()]);
  }
}
