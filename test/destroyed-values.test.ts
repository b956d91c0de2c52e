import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { engines } from './support/postgres.js';
import { ROOT, run } from './support/processes.js';
import { startTestSystem, type SecretClient, type TestSystem } from './support/system.js';
import { until } from './support/until.js';

// Issue 17, item 4: after a delete, a value rotation or a rewrap commits, the old ciphertext
// and wrapped data key are in no file of the store (SQLite), or leave it when an operator
// runs `vessl-secrets maintenance purge-destroyed` (PostgreSQL, where they stay until VACUUM).

const ORG = 'acme';
const LARGE = 20_000; // over SQLite's page and PostgreSQL's TOAST threshold: overflow pages, TOAST chunks

interface Stored {
  ciphertext: Buffer;
  wrappedDek: Buffer;
}

/** Pieces of a stored value to look for: whole when small, three 64-byte slices of a large one. */
function needles(stored: Stored): Buffer[] {
  const c = stored.ciphertext;
  const pieces = c.length <= 256 ? [c] : [c.subarray(0, 64), c.subarray(8_000, 8_064), c.subarray(c.length - 64)];
  return [...pieces, stored.wrappedDek];
}

async function storedValue(sys: TestSystem, name: string): Promise<Stored> {
  const row = await sys.db('secret-store')('secrets').where({ org: ORG, name }).whereNull('deleted_at').first();
  return { ciphertext: Buffer.from(row.ciphertext), wrappedDek: Buffer.from(row.wrapped_dek) };
}

async function rewrapAll(sys: TestSystem): Promise<void> {
  const operator = sys.secrets(await sys.token('operator'));
  await sys.kms(await sys.token('operator')).rotateMasterKey({});
  for await (const progress of operator.rewrapSecrets({ batchSize: 100 })) void progress;
}

const SQLITE_FILES = ['secret-store.sqlite', 'secret-store.sqlite-wal', 'secret-store.sqlite-shm'];

describe('destroyed values leave every file of the store (sqlite)', function () {
  let sys: TestSystem;
  let admin: SecretClient;
  /** Which of the needles are found in the raw bytes of the main file, the -wal and the -shm. */
  const foundInFiles = (pieces: Buffer[]) => {
    const files = SQLITE_FILES.map((f) => path.join(sys.dataDir, f)).filter(existsSync).map((f) => readFileSync(f));
    return pieces.map((p) => files.some((bytes) => bytes.includes(p)));
  };

  before(async () => {
    sys = await startTestSystem();
    admin = sys.secrets(await sys.token('admin'));
  });
  after(() => sys?.stop());

  const cases: { what: string; size: number; destroy(name: string): Promise<unknown> }[] = [
    { what: 'a deleted small secret', size: 40, destroy: (name) => admin.deleteSecret({ org: ORG, name }) },
    { what: 'a deleted large secret', size: LARGE, destroy: (name) => admin.deleteSecret({ org: ORG, name }) },
    { what: 'the rotated-out version of a small secret', size: 40, destroy: async (name) => admin.updateSecret({ org: ORG, secret: { name }, updateMask: ['value'], value: await sys.seal(randomBytes(40)) }) },
    { what: 'the rotated-out version of a large secret', size: LARGE, destroy: async (name) => admin.updateSecret({ org: ORG, secret: { name }, updateMask: ['value'], value: await sys.seal(randomBytes(LARGE)) }) },
  ];
  for (const [i, c] of cases.entries()) {
    it(`${c.what}: its ciphertext and wrapped data key are in none of the main file, -wal and -shm`, async () => {
      const name = `DOOMED_${i}`;
      await admin.createSecret({ org: ORG, secret: { name }, value: await sys.seal(randomBytes(c.size)) });
      const old = needles(await storedValue(sys, name));
      // The scan sees stored bytes: before, every piece is there.
      expect(foundInFiles(old)).to.deep.equal(old.map(() => true));
      await c.destroy(name);
      expect(foundInFiles(old)).to.deep.equal(old.map(() => false));
    });
  }

  it('a live secret\'s ciphertext is still found (the scan would see a destroyed one)', async () => {
    await admin.createSecret({ org: ORG, secret: { name: 'KEPT' }, value: await sys.seal(randomBytes(LARGE)) });
    const kept = needles(await storedValue(sys, 'KEPT'));
    // Another secret's delete checkpoints the WAL: a live value survives it in the main file.
    await admin.createSecret({ org: ORG, secret: { name: 'GONE' }, value: await sys.seal(randomBytes(40)) });
    await admin.deleteSecret({ org: ORG, name: 'GONE' });
    expect(foundInFiles(kept)).to.deep.equal(kept.map(() => true));
  });

  it('after a master key rotation and rewrap, data keys as the old master key wrapped them are in no file', async () => {
    const before = await storedValue(sys, 'KEPT');
    await rewrapAll(sys);
    const after = await storedValue(sys, 'KEPT');
    expect(after.wrappedDek.equals(before.wrappedDek)).to.equal(false);
    expect(foundInFiles([before.wrappedDek, after.wrappedDek])).to.deep.equal([false, true]);
  });

  it('a rewrap cut off by its caller leaves none of the moved keys\' old wrappings in any file (one scrub as the run ends)', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `CUT_${i}`);
    await admin.batchCreateSecrets({ org: ORG, requests: await Promise.all(names.map(async (name) => ({ secret: { name }, value: await sys.seal(randomBytes(40)) }))) });
    const before = new Map(await Promise.all(names.map(async (n) => [n, (await storedValue(sys, n)).wrappedDek] as const)));
    const operatorToken = await sys.token('operator');
    const platformEvents = () => sys.db('secret-store')('secret_audit_events').where({ org: '_platform', action: 'master_key.rewrapped' }).count({ n: '*' }).first();
    const summariesBefore = Number((await platformEvents())!.n);
    await sys.kms(operatorToken).rotateMasterKey({});
    // One key per batch; the caller goes away once the first has moved.
    for await (const progress of sys.secrets(operatorToken).rewrapSecrets({ batchSize: 1 })) if (progress.dataKeysRewrapped > 0) break;
    // The run's summary goes into the _platform chain after its scrub, however it ended.
    await until('the cut-off rewrap to record its summary', async () => (Number((await platformEvents())!.n) > summariesBefore ? true : undefined));
    const moved: Buffer[] = [];
    const kept: Buffer[] = [];
    for (const name of names) {
      const now = (await storedValue(sys, name)).wrappedDek;
      (now.equals(before.get(name)!) ? kept : moved).push(before.get(name)!);
    }
    expect(moved.length, 'keys the run moved').to.be.greaterThan(0);
    expect(foundInFiles(moved)).to.deep.equal(moved.map(() => false));
    // Keys not moved yet are live: still there.
    expect(foundInFiles(kept)).to.deep.equal(kept.map(() => true));
  });

  it('the data key count a master key retirement asks first (CountDataKeys) makes destroyed wrappings leave the files', async () => {
    // As if a rewrap batch had committed and the server stopped before its scrub.
    await admin.createSecret({ org: ORG, secret: { name: 'UNSCRUBBED' }, value: await sys.seal(randomBytes(40)) });
    const old = (await storedValue(sys, 'UNSCRUBBED')).wrappedDek;
    await sys.db('secret-store')('secrets').where({ org: ORG, name: 'UNSCRUBBED' }).whereNull('deleted_at').update({ wrapped_dek: randomBytes(old.length) });
    expect(foundInFiles([old])).to.deep.equal([true]);
    // ListMasterKeys counts the data keys each version wraps, as RetireMasterKey does first.
    await sys.kms(await sys.token('operator')).listMasterKeys({});
    expect(foundInFiles([old])).to.deep.equal([false]);
  });

  it('vessl-secrets maintenance purge-destroyed checkpoints the WAL and truncates the -wal to 0 bytes, beside a running server', async () => {
    await admin.createSecret({ org: ORG, secret: { name: 'AFTER' }, value: await sys.seal(randomBytes(40)) });
    const wal = path.join(sys.dataDir, 'secret-store.sqlite-wal');
    expect(statSync(wal).size).to.be.greaterThan(0);
    const purged = await purgeCommand(['--data-dir', sys.dataDir]);
    expect(purged.code, purged.stderr).to.equal(0);
    expect(purged.stdout).to.match(/^SQLite: checkpointed the WAL into the database file and truncated secret-store.sqlite-wal to 0 bytes/);
    // Empty, or removed when the command's connection closed it (SQLite does when it may).
    expect(existsSync(wal) ? statSync(wal).size : 0).to.equal(0);
    // The running server carries on.
    await admin.createSecret({ org: ORG, secret: { name: 'AFTER_PURGE' }, value: await sys.seal(randomBytes(40)) });
    expect((await admin.getSecret({ org: ORG, name: 'AFTER_PURGE' })).version).to.equal(1);
  });
});

/** `vessl-secrets maintenance purge-destroyed ARGS`, run from source. */
const purgeCommand = (args: string[]) =>
  run(path.join(ROOT, 'test/support/vessl-secrets-source.ts'), ['maintenance', 'purge-destroyed', ...args], {
    env: { ...process.env, NODE_OPTIONS: '--import tsx' },
    timeoutMs: 60_000,
  });

const postgres = engines().find((e) => e.name === 'postgres');
if (postgres) {
  describe('vessl-secrets maintenance purge-destroyed (postgres)', function () {
    let sys: TestSystem;
    let url: string;
    let admin: SecretClient;

    /** Whether `piece` is in any raw page of `secrets` or its TOAST table, dead row versions included (pageinspect). */
    async function inRawPages(piece: Buffer): Promise<boolean> {
      const db = sys.db('secret-store');
      const { rows } = (await db.raw(
        `select exists (
           select 1 from (select 'secrets'::regclass as rel union all select reltoastrelid::regclass from pg_class where relname = 'secrets') r,
             lateral generate_series(0, (pg_relation_size(r.rel) / current_setting('block_size')::int)::int - 1) as b
           where position(?::bytea in get_raw_page(r.rel::text, b)) > 0) as found`,
        [piece],
      )) as { rows: { found: boolean }[] };
      return rows[0].found;
    }
    const scan = (pieces: Buffer[]) => Promise.all(pieces.map(inRawPages));

    before(async () => {
      url = (await postgres.freshUrl())!;
      sys = await startTestSystem({ databaseUrl: url });
      admin = sys.secrets(await sys.token('admin'));
      await sys.db('secret-store').raw('create extension if not exists pageinspect');
    });
    after(async () => {
      await sys?.stop();
      await postgres.cleanup();
    });

    it('deleted and rotated-out values stay in the table\'s files until it runs, and are gone after; live values stay', async () => {
      const seal = (size: number) => sys.seal(randomBytes(size));
      for (const [name, size] of [['SMALL', 40], ['BIG', LARGE], ['ROTATED', LARGE], ['KEPT', LARGE]] as const) {
        await admin.createSecret({ org: ORG, secret: { name }, value: await seal(size) });
      }
      const old = [...needles(await storedValue(sys, 'SMALL')), ...needles(await storedValue(sys, 'BIG')), ...needles(await storedValue(sys, 'ROTATED'))];
      await admin.deleteSecret({ org: ORG, name: 'SMALL' });
      await admin.deleteSecret({ org: ORG, name: 'BIG' });
      await admin.updateSecret({ org: ORG, secret: { name: 'ROTATED' }, updateMask: ['value'], value: await seal(LARGE) });
      const live = [...needles(await storedValue(sys, 'KEPT')), ...needles(await storedValue(sys, 'ROTATED'))];

      // What docs/crypto.md says remains until VACUUM: the old row versions, TOAST chunks included.
      expect(await scan(old)).to.deep.equal(old.map(() => true));

      const purged = await purgeCommand(['--database-url', url]);
      expect(purged.code, purged.stderr).to.equal(0);
      expect(purged.stdout).to.match(/^PostgreSQL: rewrote table secrets and its TOAST table into new files/);

      expect(await scan(old)).to.deep.equal(old.map(() => false));
      expect(await scan(live)).to.deep.equal(live.map(() => true));
      // Still every value there: nothing live was lost.
      expect((await admin.listSecrets({ org: ORG })).secrets.map((s) => s.name)).to.deep.equal(['KEPT', 'ROTATED']);
    });
  });
}
