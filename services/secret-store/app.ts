import { EncryptSealedValueResponse_EnvVarFit as Fit, KeyManagementServiceService, type EncryptSealedValueResponse } from '../gen/vessl/kms/v1/kms.js';
import type { ServiceTokenSource } from '../runtime/auth.js';
import { databaseSettings, peerChannel, type CommonConfig } from '../runtime/config.js';
import { openDatabase, type Knex } from '../runtime/db.js';
import { createServiceClient, type ServiceClient } from '../runtime/grpc-client.js';
import { SecretManager } from './domain.js';
import { secretStoreMigrations } from './migrations.js';
import type { EnvVarFit } from '../runtime/env-var-fit.js';
import type { Logger } from '../runtime/logger.js';
import { createSecretStore, type EncryptedValue, type SecretStore } from './store.js';

export const SECRET_STORE_SERVICE = 'secret-store';
const KMS_TIMEOUT_MS = 5_000;

/** key-management's word on whether a value can be a variable (unspecified: an older key-management). */
const ENV_VAR_FIT_FROM_PROTO = new Map<Fit, EnvVarFit>([
  [Fit.ENV_VAR_FIT_OK, 'ok'],
  [Fit.ENV_VAR_FIT_NUL_BYTE, 'nul_byte'],
  [Fit.ENV_VAR_FIT_NOT_UTF8, 'not_utf8'],
]);

export interface SecretStoreApp {
  secrets: SecretManager;
  store: SecretStore;
  knex: Knex;
  kms: ServiceClient<typeof KeyManagementServiceService>;
  close(): Promise<void>;
}

/** Opens secret-store's database and its client to key-management (always through gRPC). */
export async function openSecretStore(
  config: CommonConfig,
  kms: { endpoint: string | (() => string); token: ServiceTokenSource },
  log?: Logger,
): Promise<SecretStoreApp> {
  const knex = await openDatabase(databaseSettings(config, SECRET_STORE_SERVICE), SECRET_STORE_SERVICE, secretStoreMigrations);
  const store = createSecretStore(knex, {
    onScrubIncomplete: () => log?.warn('destroyed values are still in the database\'s -wal file: a reader held off the checkpoint; the next delete or rotation retries'),
  });
  const client = createServiceClient(KeyManagementServiceService, kms.endpoint, {
    token: kms.token,
    ...peerChannel(config),
    defaultTimeoutMs: KMS_TIMEOUT_MS,
  });
  // Fingerprints travel as bytes and are kept (and shown) as hex.
  const fromResponse = ({ fingerprint, envVarFit, ...encrypted }: EncryptSealedValueResponse): EncryptedValue => ({
    ...encrypted,
    ...(fingerprint.length > 0 && { fingerprint: fingerprint.toString('hex') }),
    ...(ENV_VAR_FIT_FROM_PROTO.has(envVarFit) && { envVarFit: ENV_VAR_FIT_FROM_PROTO.get(envVarFit) }),
  });
  // The caller's request id travels on, so one id ties both services' log lines together.
  const secrets = new SecretManager(store, {
    one: async (req, requestId) => fromResponse(await client.encryptSealedValue(req, { requestId })),
    many: async (requests, requestId) => (await client.encryptSealedValues({ requests }, { requestId })).values.map(fromResponse),
  });
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
