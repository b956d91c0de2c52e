import type { KeyManagementServiceService } from '../gen/vessl/kms/v1/kms.js';
import { toNumber, type Knex } from '../runtime/db.js';
import { destroyedDataOf } from '../runtime/destroyed-data.js';
import { fromDownstream } from '../runtime/errors.js';
import type { ServiceClient } from '../runtime/grpc-client.js';
import { PLATFORM_CHAIN, type AuditChain } from './audit.js';

export interface RewrapProgress {
  kekVersion: number;
  orgKeysRewrapped: number;
  dataKeysRewrapped: number;
  dataKeysTotal: number;
  done: boolean;
}

interface WrappedRow {
  uid: string;
  org: string;
  version: number | string;
  wrapped_dek: Buffer;
}

/**
 * Which master key versions wrap how many live data keys. A master key is retired only when
 * key-management's count (CountDataKeys) says it wraps none, and that count first makes
 * destroyed wrappings leave the files (`scrubFirst`): a run that stopped after its last batch
 * and before its own scrub left some there. A scrub a reader holds off is tried again by the
 * next destroying write (or `vessl-secrets maintenance purge-destroyed`), as after a delete.
 */
export async function countDataKeys(knex: Knex, scrubFirst = false): Promise<{ kekVersion: number; dataKeys: number }[]> {
  if (scrubFirst) await destroyedDataOf(knex).scrub();
  const rows = (await knex('secrets').whereNotNull('wrapped_dek').select('kek_version').count({ n: '*' }).groupBy('kek_version').orderBy('kek_version')) as unknown as {
    kek_version: number;
    n: number | string;
  }[];
  return rows.map((r) => ({ kekVersion: Number(r.kek_version), dataKeys: Number(r.n) }));
}

/**
 * Moves every data key to the primary master key, in batches, without a value ever being
 * decrypted (key-management unwraps and re-wraps DEKs only). Each batch is one transaction
 * of compare-and-swap updates, so a crash loses nothing, a second run finishes the rest, and
 * two runs at once (or a value rotation meanwhile) never overwrite a newer wrapping.
 * The data keys as the old master key wrapped them leave the files once per run, before its
 * last progress (docs/crypto.md, "Destroyed means gone from the files"): while a run goes on,
 * that master key still wraps the keys not yet moved, so scrubbing batch by batch would hide
 * nothing from whoever holds it; it cannot be retired before a scrub (countDataKeys).
 * (A checkpoint per 500-key batch cost most of a SQLite rewrap's time.)
 * A run is audited once, in the operators' `_platform` chain, as it ends (finished, cancelled
 * or failed): how many org keys and data keys it moved and whether it finished. A rewrap changes
 * no secret's value or metadata, so the orgs' own logs do not record it.
 */
export async function* rewrapSecrets(
  knex: Knex,
  kms: Pick<ServiceClient<typeof KeyManagementServiceService>, 'rewrapOrgKeys' | 'rewrapDataKeys'>,
  opts: { batchSize: number; requestId: string; actor: string; cancelled: () => boolean; chain: Pick<AuditChain, 'append'> },
): AsyncIterable<RewrapProgress> {
  const call = { requestId: opts.requestId, timeoutMs: 60_000 };
  const fail = (err: unknown) => Promise.reject(fromDownstream(err, 'key-management'));
  const org = await kms.rewrapOrgKeys({}, call).catch(fail);
  const primary = org.kekVersion;
  const remaining = () => knex('secrets').whereNotNull('wrapped_dek').whereNot({ kek_version: primary });
  const total = toNumber((await remaining().clone().count({ n: '*' }).first())?.n ?? 0);
  const progress: RewrapProgress = { kekVersion: primary, orgKeysRewrapped: org.rewrapped, dataKeysRewrapped: 0, dataKeysTotal: total, done: false };
  yield { ...progress };
  try {
    yield* rewrapBatches(knex, kms, opts, progress, remaining, call, fail);
  } finally {
    // Whatever the run moved (all, or up to a cancel or a failure) leaves the files. A scrub
    // that fails does not keep the run from its summary: the next destroying write (or the
    // count before a retirement) tries again.
    if (progress.dataKeysRewrapped > 0) await destroyedDataOf(knex).scrub().catch(() => false);
    await appendRunSummary(knex, opts, progress);
  }
  yield { ...progress, done: !opts.cancelled() };
}

/** The batches of one run, each yielding the progress so far (`progress` is updated in place). */
async function* rewrapBatches(
  knex: Knex,
  kms: Pick<ServiceClient<typeof KeyManagementServiceService>, 'rewrapDataKeys'>,
  opts: { batchSize: number; cancelled: () => boolean },
  progress: RewrapProgress,
  remaining: () => Knex.QueryBuilder,
  call: { requestId: string; timeoutMs: number },
  fail: (err: unknown) => Promise<never>,
): AsyncIterable<RewrapProgress> {
  let after = '';
  while (!opts.cancelled()) {
    const rows: WrappedRow[] = await remaining().clone().where('uid', '>', after).orderBy('uid').limit(opts.batchSize).select('uid', 'org', 'version', 'wrapped_dek');
    if (rows.length === 0) break;
    after = rows[rows.length - 1].uid;
    const res = await kms
      .rewrapDataKeys({ keys: rows.map((r) => ({ org: r.org, secretUid: r.uid, version: toNumber(r.version), wrappedDek: r.wrapped_dek })) }, call)
      .catch(fail);
    const swapped = await knex.transaction(async (trx) => {
      let n = 0;
      for (const [i, row] of rows.entries()) {
        n += await trx('secrets')
          .where({ uid: row.uid, wrapped_dek: row.wrapped_dek })
          .update({ wrapped_dek: res.wrappedDeks[i], kek_version: res.kekVersion });
      }
      return n;
    });
    progress.dataKeysRewrapped += swapped;
    yield { ...progress };
  }
  progress.done = !opts.cancelled();
}

/** The one `master_key.rewrapped` event of a run, in the `_platform` chain. */
async function appendRunSummary(
  knex: Knex,
  opts: { requestId: string; actor: string; chain: Pick<AuditChain, 'append'> },
  progress: RewrapProgress,
): Promise<void> {
  await knex.transaction((trx) =>
    opts.chain.append(trx, [
      {
        org: PLATFORM_CHAIN,
        time: Date.now(),
        actor: opts.actor,
        action: 'master_key.rewrapped',
        requestId: opts.requestId,
        details: {
          kekVersion: progress.kekVersion,
          orgKeys: progress.orgKeysRewrapped,
          dataKeys: progress.dataKeysRewrapped,
          dataKeysTotal: progress.dataKeysTotal,
          finished: progress.done,
        },
      },
    ]),
  );
}
