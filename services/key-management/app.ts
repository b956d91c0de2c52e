import path from 'node:path';
import { databaseSettings, setting, type CommonConfig, type Flags } from '../runtime/config.js';
import { openDatabase, type Knex } from '../runtime/db.js';
import type { Logger } from '../runtime/logger.js';
import { KeyManager } from './domain.js';
import { keyCheckValue, sodiumReady } from './envelope.js';
import {
  checkKeyringAgainstDatabase,
  createKeyringFile,
  keyringFileIsPrivate,
  KeyringError,
  readKeyringFile,
  type MasterKeyring,
} from './keyring.js';
import { kmsMigrations } from './migrations.js';
import { createKmsStore, type KmsStore } from './store.js';

export const KMS_SERVICE = 'key-management';

export interface KeyManagementApp {
  keys: KeyManager;
  store: KmsStore;
  knex: Knex;
  close(): Promise<void>;
}

export function keyringFileOf(config: CommonConfig, flags: Flags = {}): string {
  return path.resolve(setting(flags, 'master-keyring-file') ?? path.join(config.dataDir, 'master-keyring.json'));
}

/**
 * Opens the database and the master keyring. A keyring is generated only on a first start
 * over an empty database; a keyring that lacks (or differs in) a version the database
 * references stops the start with KeyringError.
 */
export async function openKeyManagement(config: CommonConfig, keyringFile: string, log: Logger): Promise<KeyManagementApp> {
  await sodiumReady();
  const knex = await openDatabase(databaseSettings(config, KMS_SERVICE), KMS_SERVICE, kmsMigrations);
  try {
    const store = createKmsStore(knex);
    const keyring = await loadKeyring(store, keyringFile, log);
    return { keys: new KeyManager(store, keyring), store, knex, close: () => knex.destroy() };
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
    log.warn({ file }, 'the master keyring file is readable by group or others; chmod 600 it');
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
