import type { InProcessChannel } from '../runtime/in-process-channel.js';
import path from 'node:path';
import { SecretServiceService } from '../gen/vessl/secrets/v1/secrets.js';
import type { ServiceTokenSource } from '../runtime/auth.js';
import { databaseSettings, peerChannel, setting, type CommonConfig, type Flags } from '../runtime/config.js';
import { PLATFORM_CHAIN } from '../runtime/audit-chain.js';
import { fromDownstream } from '../runtime/errors.js';
import { createServiceClient, type ServiceClient } from '../runtime/grpc-client.js';
import { openDatabase, type Knex } from '../runtime/db.js';
import type { Logger } from '../runtime/logger.js';
import { KeyManager } from './domain.js';
import { ValueFingerprints } from './fingerprints.js';
import { DenialAudit, recordThroughSecretStore } from '../runtime/denial-audit.js';
import { AuditChainKeys } from './audit-chain.js';
import { createAuditCheckpointStore } from './audit-checkpoint-store.js';
import { createOrgKeyLifecycleStore } from './org-key-store.js';
import { OrgKeyLifecycle } from './org-keys.js';
import { sodiumReady } from './envelope.js';
import { openFileKeyringProvider, type KeyringStartup } from './providers/file-keyring-provider.js';
import type { MasterKeyProvider } from './providers/master-key-provider.js';
import { masterKeyProviderSettings, type MasterKeyProviderSettings } from './providers/provider-settings.js';
import { createMasterKeyStore } from './master-key-store.js';
import { KeyringSync } from './keyring-sync.js';
import { createReplicaStore } from './replica-store.js';
import { MasterKeys } from './master-keys.js';
import { kmsMigrations } from './migrations.js';
import { createKmsStore, type KmsStore } from './store.js';

export const KMS_SERVICE = 'key-management';

export interface KeyManagementApp {
  /** Where the master keys live (the keyring file, or an HSM token). */
  keyProvider: Pick<MasterKeyProvider, 'kind' | 'where'>;
  keys: KeyManager;
  masterKeys: MasterKeys;
  /** Org key rotation and retirement; value fingerprints under the org audit keys. */
  orgKeys: OrgKeyLifecycle;
  fingerprints: ValueFingerprints;
  /** The audit chain's links and signed checkpoints, under keys derived from the org audit keys. */
  auditChain: AuditChainKeys;
  /** Audits denied calls into a chain through the secret store (the transport's error hook). */
  denials: DenialAudit;
  store: KmsStore;
  knex: Knex;
  /** key-management's client to the secret store (data-key counts, audit events). */
  secretStore: ServiceClient<typeof SecretServiceService>;
  close(): Promise<void>;
}

/** Where key-management reaches the secret store, and how it proves it is key-management. */
export interface KmsPeers {
  secretStoreEndpoint: string | (() => string);
  token: ServiceTokenSource;
  /** The all-in-one server's own services, called in its process. */
  inProcess?: InProcessChannel;
}

export function keyringFileOf(config: CommonConfig, flags: Flags = {}): string {
  return path.resolve(setting(flags, 'master-keyring-file') ?? path.join(config.dataDir, 'master-keyring.json'));
}

/** The master-key provider the flags and env choose: the keyring file (default) or an HSM. */
export function masterKeysOf(config: CommonConfig, flags: Flags = {}): MasterKeyProviderSettings {
  return masterKeyProviderSettings(flags, keyringFileOf(config, flags));
}

/** The flags that choose and reach the master-key provider (the PIN is read from a file or env, never a flag). */
export const MASTER_KEY_FLAGS = ['master-keyring-file', 'master-key-provider', 'pkcs11-module', 'pkcs11-token-label', 'pkcs11-slot', 'pkcs11-pin-file'] as const;

/**
 * Opens the database and the master keys (a keyring file, or an HSM token over PKCS#11). A
 * first master key is generated only on a first start over an empty database; keys that lack
 * (or differ in) a version the database references stop the start with KeyringError.
 */
export async function openKeyManagement(config: CommonConfig, masterKeySettings: MasterKeyProviderSettings, log: Logger, peers: KmsPeers): Promise<KeyManagementApp> {
  await sodiumReady();
  const knex = await openDatabase(databaseSettings(config, KMS_SERVICE), KMS_SERVICE, kmsMigrations);
  let openedKeys: MasterKeyProvider | undefined;
  try {
    const store = createKmsStore(knex);
    const keyring = (openedKeys = await openMasterKeyProvider(masterKeySettings, store, log));
    const secretStore = createServiceClient(SecretServiceService, peers.secretStoreEndpoint, { token: peers.token, ...peerChannel(config), inProcess: peers.inProcess, defaultTimeoutMs: 10_000 });
    const dataKeyCounts = async () => {
      const { counts } = await secretStore.countDataKeys({}).catch((err: unknown) => Promise.reject(fromDownstream(err, 'secret-store')));
      return new Map(counts.map((c) => [c.kekVersion, c.dataKeys]));
    };
    const orgKeyStore = createOrgKeyLifecycleStore(knex);
    const fingerprints = new ValueFingerprints(orgKeyStore, keyring);
    const auditKeys = { countsByKek: () => orgKeyStore.auditKeyCountsByKek(), rewrap: () => fingerprints.rewrapAuditKeys() };
    const recordPlatformEvent = async (event: { action: string; actor: string; requestId: string; details: Record<string, string> }) => {
      await secretStore
        .recordAuditEvent({ org: PLATFORM_CHAIN, ...event }, { requestId: event.requestId })
        .catch((err: unknown) => Promise.reject(fromDownstream(err, 'secret-store (audit log)')));
    };
    const masterKeyStore = createMasterKeyStore(knex);
    const keyringSync = new KeyringSync(keyring, { ...store, ...createReplicaStore(knex), kekVersions: masterKeyStore.kekVersions }, log);
    await keyringSync.sync();
    keyringSync.start();
    const masterKeys = new MasterKeys(keyring, { ...masterKeyStore, registerKeks: store.registerKeks, registeredKeks: store.registeredKeks }, dataKeyCounts, auditKeys, recordPlatformEvent, keyringSync, log);
    const keys = new KeyManager(store, keyring, fingerprints);
    const denials = new DenialAudit(KMS_SERVICE, recordThroughSecretStore(secretStore), log);
    // Org key changes go into the org's audit log (secret-store) before they commit.
    // Recording asks key-management for the event's link while the org key transaction is
    // open: the chain key is loaded (into memory) before it opens.
    const orgKeys = new OrgKeyLifecycle(
      orgKeyStore,
      keys,
      async (event) => {
        await secretStore.recordAuditEvent(event, { requestId: event.requestId });
      },
      Date.now,
      (org) => fingerprints.withAuditKey(org, () => undefined),
    );
    return {
      keyProvider: { kind: keyring.kind, where: keyring.where },
      keys,
      masterKeys,
      orgKeys,
      fingerprints,
      auditChain: new AuditChainKeys(fingerprints, createAuditCheckpointStore(knex)),
      denials,
      store,
      knex,
      secretStore,
      async close() {
        await keyringSync.stop();
        await denials.close();
        secretStore.close();
        await keyring.close();
        await knex.destroy();
      },
    };
  } catch (err) {
    await openedKeys?.close();
    await knex.destroy();
    throw err;
  }
}

/** The configured provider; its keys are checked against the database by the first KeyringSync run. */
async function openMasterKeyProvider(settings: MasterKeyProviderSettings, store: KmsStore, log: Logger): Promise<MasterKeyProvider> {
  const startup: KeyringStartup = {
    holdsWrappedKeys: () => store.holdsWrappedKeys(),
    registeredVersions: async () => (await store.registeredKeks()).map((k) => k.version),
  };
  if (settings.kind === 'file') return openFileKeyringProvider(settings.keyringFile, startup, log);
  // Loaded only when chosen: pkcs11js is a native addon.
  const { openPkcs11Provider } = await import('./providers/pkcs11-provider.js');
  const provider = await openPkcs11Provider(settings, startup, log);
  log.info({ provider: provider.where }, 'master keys in an HSM over PKCS#11');
  return provider;
}
