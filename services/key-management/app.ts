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
import { keyCheckValue, sodiumReady } from './envelope.js';
import {
  checkKeyringAgainstDatabase,
  createKeyringFile,
  keyringFileIsPrivate,
  KeyringError,
  readKeyringFile,
  type MasterKeyring,
} from './keyring.js';
import { createMasterKeyStore } from './master-key-store.js';
import { KeyringSync } from './keyring-sync.js';
import { createReplicaStore } from './replica-store.js';
import { MasterKeys } from './master-keys.js';
import { kmsMigrations } from './migrations.js';
import { createKmsStore, type KmsStore } from './store.js';

export const KMS_SERVICE = 'key-management';

export interface KeyManagementApp {
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
}

export function keyringFileOf(config: CommonConfig, flags: Flags = {}): string {
  return path.resolve(setting(flags, 'master-keyring-file') ?? path.join(config.dataDir, 'master-keyring.json'));
}

/**
 * Opens the database and the master keyring. A keyring is generated only on a first start
 * over an empty database; a keyring that lacks (or differs in) a version the database
 * references stops the start with KeyringError.
 */
export async function openKeyManagement(config: CommonConfig, keyringFile: string, log: Logger, peers: KmsPeers): Promise<KeyManagementApp> {
  await sodiumReady();
  const knex = await openDatabase(databaseSettings(config, KMS_SERVICE), KMS_SERVICE, kmsMigrations);
  try {
    const store = createKmsStore(knex);
    const keyring = await loadKeyring(store, keyringFile, log);
    const secretStore = createServiceClient(SecretServiceService, peers.secretStoreEndpoint, { token: peers.token, ...peerChannel(config), defaultTimeoutMs: 10_000 });
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
    const keyringSync = new KeyringSync(keyring, keyringFile, { ...store, ...createReplicaStore(knex), kekVersions: masterKeyStore.kekVersions }, log);
    await keyringSync.sync();
    keyringSync.start();
    const masterKeys = new MasterKeys(keyring, keyringFile, { ...masterKeyStore, registerKeks: store.registerKeks }, dataKeyCounts, auditKeys, recordPlatformEvent, keyringSync, log);
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
        await knex.destroy();
      },
    };
  } catch (err) {
    await knex.destroy();
    throw err;
  }
}

async function loadKeyring(store: KmsStore, file: string, log: Logger): Promise<MasterKeyring> {
  let keyring = await readKeyringFile(file);
  if (!keyring) {
    if (await store.holdsWrappedKeys()) {
      const versions = (await store.registeredKeks()).map((k) => k.version);
      throw new KeyringError(
        `master keyring ${file} not found, but the database holds keys wrapped by master key version(s) ${versions.join(', ')}. ` +
          'Restore the keyring file; a new keyring is never generated over existing data.',
      );
    }
    keyring = await createKeyringFile(file);
    log.info({ file }, 'created a new master keyring (first start over an empty database)');
  } else if (!(await keyringFileIsPrivate(file))) {
    log.warn({ file }, 'the master keyring file is writable by its group or readable by others; chmod 600 it');
  }
  const unregistered = checkKeyringAgainstDatabase(keyring, await store.registeredKeks(), file);
  await store.registerKeks(
    unregistered.map((version) => ({ version, keyCheck: keyCheckValue(keyring.keys.get(version)!) })),
    Date.now(),
  );
  // Check again: a replica with another keyring may have registered a version meanwhile.
  checkKeyringAgainstDatabase(keyring, await store.registeredKeks(), file);
  return keyring;
}
