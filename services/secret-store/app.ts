import { KeyManagementServiceService } from '../gen/vessl/kms/v1/kms.js';
import type { ServiceTokenSource } from '../runtime/auth.js';
import { databaseSettings, type CommonConfig } from '../runtime/config.js';
import { openDatabase, type Knex } from '../runtime/db.js';
import { createUnaryClient, type UnaryClient } from '../runtime/grpc-client.js';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { SecretManager } from './domain.js';
import { secretStoreMigrations } from './migrations.js';
import { createSecretStore, type SecretStore } from './store.js';

export const SECRET_STORE_SERVICE = 'secret-store';
const KMS_TIMEOUT_MS = 5_000;

export interface SecretStoreApp {
  secrets: SecretManager;
  store: SecretStore;
  knex: Knex;
  kms: UnaryClient<typeof KeyManagementServiceService>;
  close(): Promise<void>;
}

/** Opens secret-store's database and its client to key-management (always through gRPC). */
export async function openSecretStore(
  config: CommonConfig,
  kms: { endpoint: string | (() => string); token: ServiceTokenSource; credentials?: ChannelCredentials },
): Promise<SecretStoreApp> {
  const knex = await openDatabase(databaseSettings(config, SECRET_STORE_SERVICE), SECRET_STORE_SERVICE, secretStoreMigrations);
  const store = createSecretStore(knex);
  const client = createUnaryClient(KeyManagementServiceService, kms.endpoint, {
    token: kms.token,
    credentials: kms.credentials,
    defaultTimeoutMs: KMS_TIMEOUT_MS,
  });
  // The caller's request id travels on, so one id ties both services' log lines together.
  const secrets = new SecretManager(store, (req, requestId) => client.encryptSealedValue(req, { requestId }));
  return {
    secrets,
    store,
    knex,
    kms: client,
    async close() {
      client.close();
      await knex.destroy();
    },
  };
}
