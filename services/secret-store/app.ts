import type { InProcessChannel } from '../runtime/in-process-channel.js';
import { EncryptSealedValueResponse_EnvVarFit as Fit, KeyManagementServiceService, type EncryptSealedValueResponse } from '../gen/vessl/kms/v1/kms.js';
import type { ServiceTokenSource } from '../runtime/auth.js';
import { databaseSettings, peerChannel, type CommonConfig } from '../runtime/config.js';
import { openDatabase, type Knex } from '../runtime/db.js';
import { createServiceClient, type ServiceClient } from '../runtime/grpc-client.js';
import type { AuditLinker } from '../runtime/audit-link.js';
import { fromDownstream } from '../runtime/errors.js';
import type { Logger } from '../runtime/logger.js';
import { AuditChain } from './audit.js';
import { AuditCheckpointer } from './audit-checkpoints.js';
import { AuditLog } from './audit-log.js';
import { DenialAudit } from '../runtime/denial-audit.js';
import { createAuditStore } from './audit-store.js';
import { SecretManager } from './domain.js';
import { secretStoreMigrations } from './migrations.js';
import type { EnvVarFit } from '../runtime/env-var-fit.js';
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
  /** Appends audit events with keyed links (for the rewrap, which writes its own transactions). */
  auditChain: AuditChain;
  auditLog: AuditLog;
  /** Audits denied calls into the chains (the transport's error hook). */
  denials: DenialAudit;
  /** Anchors the chains in key-management (also flushed on close). */
  checkpoints: Pick<AuditCheckpointer, 'close'>;
  close(): Promise<void>;
}

/** Opens secret-store's database and its client to key-management (always through its gRPC client). */
export async function openSecretStore(
  config: CommonConfig,
  kms: { endpoint: string | (() => string); token: ServiceTokenSource; inProcess?: InProcessChannel },
  log: Logger,
): Promise<SecretStoreApp> {
  const knex = await openDatabase(databaseSettings(config, SECRET_STORE_SERVICE), SECRET_STORE_SERVICE, secretStoreMigrations);
  const client = createServiceClient(KeyManagementServiceService, kms.endpoint, {
    token: kms.token,
    ...peerChannel(config),
    inProcess: kms.inProcess,
    defaultTimeoutMs: KMS_TIMEOUT_MS,
  });
  // Links are computed by key-management (the audit key never comes here): one call per
  // append, whatever the number of events. Without key-management nothing is audited, so
  // nothing changes (audit fails closed).
  const link: AuditLinker = async (org, inputs) => {
    const { links } = await client
      .linkAuditEvents({ org, events: inputs.map((i) => ({ seq: i.seq, digest: Buffer.from(i.digest), prevLink: Buffer.from(i.prevLink ?? []) })) })
      .catch((err: unknown) => Promise.reject(fromDownstream(err, 'key-management (audit links)')));
    return links;
  };
  // Committed appends are anchored in key-management by the checkpointer (called only after
  // a commit, so after it exists).
  const auditChain = new AuditChain(link, (org, n) => anchors.appended(org, n));
  const auditStore = createAuditStore(knex, auditChain);
  const anchors = new AuditCheckpointer(client, auditStore, log);
  const auditLog = new AuditLog(auditStore, link, {
    anchor: (org) => anchors.anchor(org),
    latest: (org) => anchors.latest(org).catch((err: unknown) => Promise.reject(fromDownstream(err, 'key-management (audit checkpoints)'))),
  });
  const store = createSecretStore(knex, auditChain, {
    onScrubIncomplete: () => log.warn('destroyed values are still in the database\'s -wal file: a reader held off the checkpoint; the next delete or rotation retries'),
  });
  const denials = new DenialAudit(SECRET_STORE_SERVICE, async (events) => {
    await store.appendAudit(events.map((e) => ({ ...e, action: 'call.denied' as const })));
  }, log);
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
    auditChain,
    auditLog,
    denials,
    checkpoints: anchors,
    async close() {
      await denials.close();
      await anchors.close();
      client.close();
      await knex.destroy();
    },
  };
}
