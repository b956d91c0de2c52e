import type { KeyManagementServiceService } from '../gen/vessl/kms/v1/kms.js';
import type { SecretServiceService } from '../gen/vessl/secrets/v1/secrets.js';
import { requireRole, requireService } from '../runtime/auth.js';
import type { Knex } from '../runtime/db.js';
import type { ServiceClient } from '../runtime/grpc-client.js';
import type { ServiceHandlers } from '../runtime/grpc-server.js';
import type { Metrics } from '../runtime/metrics.js';
import { Violations } from '../runtime/validation.js';
import { countDataKeys, rewrapSecrets } from './rewrap.js';
import type { AuditChain } from './audit.js';

type Handlers = ServiceHandlers<typeof SecretServiceService>;

const DEFAULT_BATCH = 500;
const MAX_BATCH = 2000;

/** Rewrap (operators, with progress) and the data-key counts key-management asks for. */
export function rewrapHandlers(knex: Knex, kms: ServiceClient<typeof KeyManagementServiceService>, chain: AuditChain, metrics?: Metrics): Pick<Handlers, 'rewrapSecrets' | 'countDataKeys'> {
  // Progress as operators watch it: data keys per master key version (from the shared
  // database, so it is right on every replica) and data keys this process has moved.
  metrics?.gaugeFromSource({
    name: 'vessl_data_keys',
    help: 'Data keys by the master key version wrapping them; a finished rewrap leaves only the primary',
    label: 'kek_version',
    read: async () => new Map((await countDataKeys(knex)).map((c) => [String(c.kekVersion), c.dataKeys])),
  });
  const rewrapped = metrics?.counter('vessl_rewrap_data_keys_rewrapped_total', 'Data keys this process re-wrapped under the primary master key');
  const running = metrics?.gauge('vessl_rewrap_runs_in_progress', 'Rewrap runs this process is executing');
  return {
    async *rewrapSecrets(req, ctx) {
      requireRole(ctx.principal, ['operator'], 'run a rewrap');
      new Violations().check(req.batchSize >= 0 && req.batchSize <= MAX_BATCH, 'batch_size', `must be between 1 and ${MAX_BATCH} (0: ${DEFAULT_BATCH})`).throwIfAny();
      ctx.log.info({ audit: 'master_key.rewrap_started', subject: ctx.principal.subject }, 'rewrap started');
      let last;
      running?.inc();
      try {
        for await (const progress of rewrapSecrets(knex, kms, { batchSize: req.batchSize || DEFAULT_BATCH, requestId: ctx.requestId, actor: ctx.principal.subject, cancelled: ctx.cancelled, chain })) {
          rewrapped?.inc(progress.dataKeysRewrapped - (last?.dataKeysRewrapped ?? 0));
          last = progress;
          yield progress;
        }
      } finally {
        running?.dec();
      }
      ctx.log.info({ audit: 'master_key.rewrap_finished', subject: ctx.principal.subject, ...last }, 'rewrap finished');
    },
    async countDataKeys(_req, ctx) {
      requireService(ctx.principal, ['key-management'], 'count data keys');
      return { counts: await countDataKeys(knex, true) };
    },
  };
}
