import path from 'node:path';
import { sealBox } from '../services/runtime/sealed-box.js';
import { dekContext, zero } from '../services/key-management/envelope.js';
import { keyringKeys, readKeyringFile } from '../services/key-management/keyring.js';
import type { KeyWrapping } from '../services/key-management/providers/master-key-provider.js';
import type { MasterKeyProviderSettings } from '../services/key-management/providers/provider-settings.js';
import type { TestSystem } from '../test/support/system.js';

const BATCH = 500;

/** Seeds `count` secrets through BatchCreateSecrets, 500 per call, sealed like a client does. */
export async function seedForRewrap(sys: TestSystem, count: number): Promise<void> {
  const admin = await sys.token('admin', { ttlSeconds: 3600 });
  const secrets = sys.secrets(admin);
  const key = await sys.kms(admin).getOrgPublicKey({ org: 'acme' });
  const batches: number[] = [];
  for (let start = 0; start < count; start += BATCH) batches.push(start);
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const start = batches[next++];
      const requests = [];
      for (let i = start; i < Math.min(count, start + BATCH); i++) {
        const sealedBox = Buffer.from(await sealBox(Buffer.from(`rewrap-bench-value-${i}`), key.publicKey));
        requests.push({ secret: { name: `rw-${i}`, key: 'RW' }, value: { sealedBox, keyId: key.keyId } });
      }
      await secrets.batchCreateSecrets({ org: 'acme', requests }, { timeoutMs: 120_000 });
    }
  };
  await Promise.all([worker(), worker(), worker()]);
}

/**
 * The master keys the system uses, opened again in this process for the baseline: the file
 * keyring's bytes, or a second session on the HSM token (wraps happen in the token).
 */
export async function baselineKeys(sys: TestSystem, settings?: MasterKeyProviderSettings): Promise<KeyWrapping & { close(): Promise<void> }> {
  if (settings?.kind === 'pkcs11') {
    const { openPkcs11Provider } = await import('../services/key-management/providers/pkcs11-provider.js');
    return openPkcs11Provider(settings);
  }
  const keyring = (await readKeyringFile(path.join(sys.dataDir, 'master-keyring.json')))!;
  return { ...keyringKeys(keyring), close: async () => {} };
}

/**
 * The same-run baseline: the raw in-process work a rewrap must do, unwrap + wrap with the
 * same master keys (libsodium, or the HSM) and a batched compare-and-swap update, on a copy
 * of the rows (keys/s).
 */
export async function rewrapBaseline(sys: TestSystem, keys: KeyWrapping): Promise<number> {
  const db = sys.db('secret-store');
  await db.schema.dropTableIfExists('bench_rewrap_copy');
  await db.schema.createTable('bench_rewrap_copy', (t) => {
    t.string('uid', 40).primary();
    t.string('org', 64);
    t.bigInteger('version');
    t.binary('wrapped_dek');
    t.integer('kek_version');
  });
  await db.raw('insert into bench_rewrap_copy (uid, org, version, wrapped_dek, kek_version) select uid, org, version, wrapped_dek, kek_version from secrets where wrapped_dek is not null');
  // The copy moves to a marker version; the wraps use the primary (what a rewrap wraps with).
  const target = 1000;
  const started = process.hrtime.bigint();
  let done = 0;
  let after = '';
  for (;;) {
    const rows: { uid: string; org: string; version: number | string; wrapped_dek: Buffer }[] = await db('bench_rewrap_copy').whereNot({ kek_version: target }).where('uid', '>', after).orderBy('uid').limit(BATCH);
    if (rows.length === 0) break;
    after = rows[rows.length - 1].uid;
    const rewrapped = rows.map((r) => {
      const aad = dekContext(r.org, r.uid, Number(r.version));
      const dek = keys.unwrap(r.wrapped_dek, aad);
      const out = keys.wrap(dek, aad);
      zero(dek);
      return out;
    });
    await db.transaction(async (trx) => {
      for (const [i, r] of rows.entries()) {
        await trx('bench_rewrap_copy').where({ uid: r.uid, wrapped_dek: r.wrapped_dek }).update({ wrapped_dek: Buffer.from(rewrapped[i]), kek_version: target });
      }
    });
    done += rows.length;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await db.schema.dropTable('bench_rewrap_copy');
  return done / seconds;
}

/** The real thing: rotate, then RewrapSecrets over gRPC (keys/s). */
export async function rewrapThroughput(sys: TestSystem): Promise<{ rate: number; keys: number }> {
  const operator = await sys.token('operator', { ttlSeconds: 3600 });
  await sys.kms(operator).rotateMasterKey({});
  const started = process.hrtime.bigint();
  let last = { dataKeysRewrapped: 0 };
  for await (const p of sys.secrets(operator).rewrapSecrets({ batchSize: BATCH })) last = p;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { rate: last.dataKeysRewrapped / seconds, keys: last.dataKeysRewrapped };
}
